/* A raw CurveZMQ client (RFC 23 ZMTP 3.0 framing, RFC 26 CurveZMQ), for
 * tests. Written from the specifications; see zraw.h for why it exists. */
#include "zraw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    F_MORE = 0x01,
    F_LONG = 0x02,
    F_COMMAND = 0x04,
    GREETING = 64,
    IO_TIMEOUT_MS = 5000,
};

static int
fail(char *why, size_t cap, const char *what)
{
    snprintf(why, cap, "%s", what);
    return -1;
}

static int
write_all(int fd, const uint8_t *p, size_t n, int timeout_ms)
{
    while (n > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int r = poll(&pfd, 1, timeout_ms);
        if (r <= 0 || (pfd.revents & (POLLERR | POLLHUP))) {
            return -1;
        }
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int
read_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, IO_TIMEOUT_MS) <= 0) {
            return -1;
        }
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void
put_be64(uint8_t *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

static int
write_frame(zraw_t *z, uint8_t flags, const uint8_t *body, size_t len, int timeout_ms)
{
    uint8_t head[9];
    size_t hlen;
    if (len > 255) {
        head[0] = flags | F_LONG;
        put_be64(head + 1, len);
        hlen = 9;
    } else {
        head[0] = flags;
        head[1] = (uint8_t)len;
        hlen = 2;
    }
    if (write_all(z->fd, head, hlen, timeout_ms) != 0) {
        return -1;
    }
    return write_all(z->fd, body, len, timeout_ms);
}

/* Reads one command frame of at most cap bytes. */
static int
read_command(zraw_t *z, uint8_t *out, size_t cap, size_t *len)
{
    uint8_t flags, b[8];
    if (read_all(z->fd, &flags, 1) != 0 || !(flags & F_COMMAND)) {
        return -1;
    }
    uint64_t n = 0;
    if (flags & F_LONG) {
        if (read_all(z->fd, b, 8) != 0) {
            return -1;
        }
        for (int i = 0; i < 8; i++) {
            n = n << 8 | b[i];
        }
    } else {
        if (read_all(z->fd, b, 1) != 0) {
            return -1;
        }
        n = b[0];
    }
    if (n > cap || read_all(z->fd, out, (size_t)n) != 0) {
        return -1;
    }
    *len = (size_t)n;
    return 0;
}

static void
short_nonce(uint8_t nonce[24], const char prefix[16], uint64_t n)
{
    memcpy(nonce, prefix, 16);
    put_be64(nonce + 16, n);
}

static int
greet(zraw_t *z)
{
    uint8_t g[GREETING];
    memset(g, 0, sizeof g);
    g[0] = 0xff;
    g[8] = 0x01;
    g[9] = 0x7f;
    g[10] = 3; /* ZMTP 3.0 */
    g[11] = 0;
    memcpy(g + 12, "CURVE", 5);
    /* g[32] = 0: we are the client. */
    if (write_all(z->fd, g, sizeof g, IO_TIMEOUT_MS) != 0 || read_all(z->fd, g, sizeof g) != 0) {
        return -1;
    }
    return g[0] == 0xff && g[10] == 3 && memcmp(g + 12, "CURVE", 5) == 0 ? 0 : -1;
}

static int
send_hello(zraw_t *z)
{
    uint8_t body[200], zeros[64], nonce[24];
    memset(body, 0, sizeof body);
    memset(zeros, 0, sizeof zeros);
    memcpy(body, "\x05HELLO", 6);
    body[6] = 1; /* version 1.0 */
    body[7] = 0;
    /* 72 bytes of padding (zero) keep HELLO at least as long as WELCOME. */
    memcpy(body + 80, z->tpk, 32);
    uint64_t n = ++z->nonce;
    put_be64(body + 112, n);
    short_nonce(nonce, "CurveZMQHELLO---", n);
    if (crypto_box_easy(body + 120, zeros, 64, nonce, z->server_pk, z->tsk) != 0) {
        return -1;
    }
    return write_frame(z, F_COMMAND, body, sizeof body, IO_TIMEOUT_MS);
}

/* WELCOME: "\7WELCOME", 16-byte nonce, Box[S' + cookie](S->C'). */
static int
read_welcome(zraw_t *z, uint8_t cookie[96])
{
    uint8_t body[256], plain[128], nonce[24];
    size_t len = 0;
    if (read_command(z, body, sizeof body, &len) != 0 || len != 168 ||
        memcmp(body, "\x07WELCOME", 8) != 0) {
        return -1;
    }
    memcpy(nonce, "WELCOME-", 8);
    memcpy(nonce + 8, body + 8, 16);
    if (crypto_box_open_easy(plain, body + 24, 144, nonce, z->server_pk, z->tsk) != 0) {
        return -1;
    }
    memcpy(z->server_tpk, plain, 32);
    memcpy(cookie, plain + 32, 96);
    return 0;
}

static size_t
add_property(uint8_t *p, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    p[0] = (uint8_t)nl;
    memcpy(p + 1, name, nl);
    p[1 + nl] = 0;
    p[2 + nl] = 0;
    p[3 + nl] = 0;
    p[4 + nl] = (uint8_t)vl;
    memcpy(p + 5 + nl, value, vl);
    return 5 + nl + vl;
}

/* INITIATE: "\10INITIATE", cookie, short nonce,
 * Box[C + vouch nonce + Box[C' + S](C->S') + metadata](C'->S'). */
static int
send_initiate(zraw_t *z, const uint8_t cookie[96])
{
    uint8_t plain[32 + 16 + 80 + 64], vouch_plain[64], nonce[24];
    memcpy(plain, z->client_pk, 32);
    memcpy(nonce, "VOUCH---", 8);
    randombytes_buf(nonce + 8, 16);
    memcpy(plain + 32, nonce + 8, 16);
    memcpy(vouch_plain, z->tpk, 32);
    memcpy(vouch_plain + 32, z->server_pk, 32);
    if (crypto_box_easy(plain + 48, vouch_plain, 64, nonce, z->server_tpk, z->client_sk) != 0) {
        return -1;
    }
    size_t plen = 128 + add_property(plain + 128, "Socket-Type", "DEALER");
    uint8_t body[9 + 96 + 8 + sizeof plain + 16];
    memcpy(body, "\x08INITIATE", 9);
    memcpy(body + 9, cookie, 96);
    uint64_t n = ++z->nonce;
    put_be64(body + 105, n);
    short_nonce(nonce, "CurveZMQINITIATE", n);
    if (crypto_box_easy(body + 113, plain, plen, nonce, z->server_tpk, z->tsk) != 0) {
        return -1;
    }
    return write_frame(z, F_COMMAND, body, 113 + plen + 16, IO_TIMEOUT_MS);
}

static int
read_ready(zraw_t *z)
{
    uint8_t body[512];
    size_t len = 0;
    if (read_command(z, body, sizeof body, &len) != 0 || len < 6 + 8 + 16 ||
        memcmp(body, "\x05READY", 6) != 0) {
        return -1;
    }
    return 0;
}

int
zraw_connect(zraw_t *z, const char *host, int port, const uint8_t server_pk[32],
             const uint8_t client_pk[32], const uint8_t client_sk[32], char *why, size_t cap)
{
    memset(z, 0, sizeof *z);
    memcpy(z->server_pk, server_pk, 32);
    memcpy(z->client_pk, client_pk, 32);
    memcpy(z->client_sk, client_sk, 32);
    crypto_box_keypair(z->tpk, z->tsk);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        return fail(why, cap, "bad host");
    }
    z->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (z->fd < 0 || connect(z->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        return fail(why, cap, "cannot connect");
    }
    uint8_t cookie[96];
    if (greet(z) != 0) {
        return fail(why, cap, "greeting failed");
    }
    if (send_hello(z) != 0 || read_welcome(z, cookie) != 0) {
        return fail(why, cap, "no WELCOME (wrong server key?)");
    }
    if (send_initiate(z, cookie) != 0 || read_ready(z) != 0) {
        return fail(why, cap, "no READY (refused by the server)");
    }
    if (crypto_box_beforenm(z->precomputed, z->server_tpk, z->tsk) != 0) {
        return fail(why, cap, "beforenm failed");
    }
    return 0;
}

int
zraw_send(zraw_t *z, const uint8_t *data, size_t len, bool more, int timeout_ms)
{
    size_t need = 16 + 1 + len + crypto_box_MACBYTES;
    if (need > z->cap) {
        uint8_t *nb = realloc(z->buf, need);
        if (nb == NULL) {
            return -1;
        }
        z->buf = nb;
        z->cap = need;
    }
    uint8_t *plain = malloc(1 + len);
    if (plain == NULL) {
        return -1;
    }
    plain[0] = more ? F_MORE : 0;
    memcpy(plain + 1, data, len);
    uint8_t nonce[24];
    uint64_t n = ++z->nonce;
    memcpy(z->buf, "\x07MESSAGE", 8);
    put_be64(z->buf + 8, n);
    short_nonce(nonce, "CurveZMQMESSAGEC", n);
    int rc = crypto_box_easy_afternm(z->buf + 16, plain, 1 + len, nonce, z->precomputed);
    free(plain);
    if (rc != 0) {
        return -1;
    }
    return write_frame(z, 0, z->buf, need, timeout_ms);
}

void
zraw_close(zraw_t *z)
{
    if (z->fd >= 0) {
        close(z->fd);
    }
    z->fd = -1;
    sodium_memzero(z->tsk, sizeof z->tsk);
    free(z->buf);
    z->buf = NULL;
}
