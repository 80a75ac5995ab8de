/* natpmpd: a small NAT-PMP responder (RFC 6886) for the port-mapping test,
 * run as the "router" in a network namespace. It answers the public
 * address request with --external, grants mapping requests with at most
 * --lifetime seconds (the external port is the suggested one, or the
 * internal one), treats lifetime 0 as a delete, and writes one line per
 * request to --log so the test can see requests, renewals and deletes. It
 * forwards nothing: the test is about the protocol between the node and
 * its router.
 *
 * usage: natpmpd --external A.B.C.D [--lifetime S] [--log FILE] [--port P]
 *        natpmpd --probe A.B.C.D     (one public-address request; exit 0 on
 *                                     an answer within 2 s: the test's marker
 *                                     that everything sent before it arrived) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint16_t
get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
    return ((uint32_t)get16(p) << 16) | get16(p + 2);
}

typedef struct {
    struct in_addr external;
    uint32_t max_lifetime;
    FILE *log;
    time_t start;
} opts_t;

/* Fills out with the answer to req (n bytes); returns its length, 0 for
 * none (RFC 6886: a request too short to read is dropped). */
static size_t
answer(const opts_t *o, const uint8_t *req, size_t n, uint8_t *out, const char *from)
{
    if (n < 2) {
        return 0;
    }
    uint8_t op = req[1];
    uint32_t epoch = (uint32_t)(time(NULL) - o->start);
    out[0] = 0;
    out[1] = (uint8_t)(128 + op);
    put32(out + 4, epoch);
    if (req[0] != 0) {
        put16(out + 2, 1); /* unsupported version */
        return 8;
    }
    if (op == 0) {
        put16(out + 2, 0);
        memcpy(out + 8, &o->external, 4);
        fprintf(o->log, "public-address from %s\n", from);
        return 12;
    }
    if ((op != 1 && op != 2) || n < 12) {
        put16(out + 2, 5); /* unsupported opcode */
        return 8;
    }
    uint16_t internal = get16(req + 4);
    uint16_t suggested = get16(req + 6);
    uint32_t lifetime = get32(req + 8);
    uint32_t granted = lifetime < o->max_lifetime ? lifetime : o->max_lifetime;
    uint16_t external = lifetime == 0 ? 0 : (suggested ? suggested : internal);
    fprintf(o->log, "map %s internal=%u external=%u lifetime=%u granted=%u from %s\n",
            op == 2 ? "tcp" : "udp", internal, suggested, lifetime, granted, from);
    put16(out + 2, 0);
    put16(out + 8, internal);
    put16(out + 10, external);
    put32(out + 12, granted);
    return 16;
}

static int
probe(const char *ip)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(5351)};
    struct timeval tv = {2, 0};
    if (s < 0 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1 ||
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
        return 2;
    }
    const uint8_t req[2] = {0, 0};
    uint8_t out[16];
    if (sendto(s, req, sizeof req, 0, (struct sockaddr *)&sa, sizeof sa) != 2 ||
        recv(s, out, sizeof out, 0) < 12) {
        return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--probe") == 0) {
        return probe(argv[2]);
    }
    opts_t o = {.max_lifetime = 7200, .log = stdout, .start = time(NULL)};
    int port = 5351;
    int have_external = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--external") == 0) {
            have_external = inet_pton(AF_INET, argv[i + 1], &o.external) == 1;
        } else if (strcmp(argv[i], "--lifetime") == 0) {
            o.max_lifetime = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--port") == 0) {
            port = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--log") == 0) {
            o.log = fopen(argv[i + 1], "a");
        }
    }
    if (!have_external || o.log == NULL) {
        fprintf(stderr, "usage: natpmpd --external A.B.C.D [--lifetime S] [--log FILE]\n");
        return 2;
    }
    setvbuf(o.log, NULL, _IOLBF, 0);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("natpmpd: bind");
        return 1;
    }
    fprintf(o.log, "listening\n");
    for (;;) {
        uint8_t req[64], out[16];
        struct sockaddr_in from;
        socklen_t flen = sizeof from;
        ssize_t n = recvfrom(s, req, sizeof req, 0, (struct sockaddr *)&from, &flen);
        if (n < 0) {
            continue;
        }
        char fromtext[INET_ADDRSTRLEN] = "?";
        inet_ntop(AF_INET, &from.sin_addr, fromtext, sizeof fromtext);
        size_t len = answer(&o, req, (size_t)n, out, fromtext);
        if (len > 0) {
            (void)sendto(s, out, len, 0, (struct sockaddr *)&from, flen);
        }
    }
}
