/* upnpd: a small UPnP-IGD router for the port-mapping test, written from
 * the UPnP IGD v1 specification: it answers SSDP M-SEARCH requests on
 * 239.255.255.250:1900 with the location of its description, serves the
 * description over HTTP, and answers the WANIPConnection:1 actions a
 * client needs (GetStatusInfo, GetExternalIPAddress, AddPortMapping,
 * DeletePortMapping), writing one line per mapping action to --log. It
 * forwards nothing.
 *
 * usage: upnpd --addr A.B.C.D --external A.B.C.D [--log FILE] */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum { HTTP_PORT = 5000 };

static const char *SERVICE = "urn:schemas-upnp-org:service:WANIPConnection:1";

typedef struct {
    char addr[INET_ADDRSTRLEN];
    char external[INET_ADDRSTRLEN];
    FILE *log;
} opts_t;

static void
ssdp_answer(const opts_t *o, int s)
{
    char buf[1500];
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(s, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &flen);
    if (n <= 0) {
        return;
    }
    buf[n] = '\0';
    if (strncmp(buf, "M-SEARCH", 8) != 0) {
        return;
    }
    /* Answer with the search target asked for (ssdp:all or an IGD type). */
    char st[200] = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";
    char *p = strcasestr(buf, "\nST:");
    if (p != NULL) {
        p += 4;
        p += strspn(p, " ");
        size_t len = strcspn(p, "\r\n");
        if (len > 0 && len < sizeof st) {
            memcpy(st, p, len);
            st[len] = '\0';
        }
    }
    char out[700];
    int len = snprintf(out, sizeof out,
                       "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: %s\r\n"
                       "USN: uuid:5a6d697a-6461-7474-6573-740000000001::%s\r\nEXT:\r\n"
                       "SERVER: Linux/6 UPnP/1.1 samizdat-test/1\r\n"
                       "LOCATION: http://%s:%d/rootDesc.xml\r\n\r\n",
                       st, st, o->addr, HTTP_PORT);
    (void)sendto(s, out, (size_t)len, 0, (struct sockaddr *)&from, flen);
    fprintf(o->log, "ssdp search from %s\n", inet_ntoa(from.sin_addr));
}

static const char ROOT_DESC[] =
    "<?xml version=\"1.0\"?>\r\n"
    "<root xmlns=\"urn:schemas-upnp-org:device-1-0\">"
    "<specVersion><major>1</major><minor>0</minor></specVersion>"
    "<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>"
    "<friendlyName>samizdat test router</friendlyName>"
    "<UDN>uuid:5a6d697a-6461-7474-6573-740000000001</UDN>"
    "<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>"
    "<UDN>uuid:5a6d697a-6461-7474-6573-740000000002</UDN>"
    "<serviceList><service>"
    "<serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType>"
    "<serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId>"
    "<controlURL>/cif</controlURL><eventSubURL>/evt</eventSubURL><SCPDURL>/cif.xml</SCPDURL>"
    "</service></serviceList>"
    "<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1"
    "</deviceType><UDN>uuid:5a6d697a-6461-7474-6573-740000000003</UDN>"
    "<serviceList><service>"
    "<serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>"
    "<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>"
    "<controlURL>/ctl</controlURL><eventSubURL>/evt</eventSubURL><SCPDURL>/ipc.xml</SCPDURL>"
    "</service></serviceList></device></deviceList>"
    "</device></deviceList></device></root>\r\n";

/* The text of <name>...</name> in body, or "". */
static void
arg(const char *body, const char *name, char *out, size_t cap)
{
    char open[64];
    snprintf(open, sizeof open, "<%s>", name);
    out[0] = '\0';
    const char *p = strstr(body, open);
    if (p == NULL) {
        return;
    }
    p += strlen(open);
    size_t len = strcspn(p, "<");
    if (len < cap) {
        memcpy(out, p, len);
        out[len] = '\0';
    }
}

static void
soap_reply(char *out, size_t cap, const char *action, const char *inner)
{
    char body[1024];
    int blen = snprintf(body, sizeof body,
                        "<?xml version=\"1.0\"?>\r\n<s:Envelope "
                        "xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
                        "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">"
                        "<s:Body><u:%sResponse xmlns:u=\"%s\">%s</u:%sResponse></s:Body>"
                        "</s:Envelope>\r\n",
                        action, SERVICE, inner, action);
    snprintf(out, cap,
             "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=\"utf-8\"\r\n"
             "Connection: close\r\nContent-Length: %d\r\n\r\n%s",
             blen, body);
}

static void
control(const opts_t *o, const char *head, const char *body, char *out, size_t cap)
{
    const char *sa = strcasestr(head, "SOAPAction:");
    const char *hash = sa ? strchr(sa, '#') : NULL;
    char action[64] = "";
    if (hash != NULL) {
        size_t len = strcspn(hash + 1, "\"\r\n");
        if (len < sizeof action) {
            memcpy(action, hash + 1, len);
            action[len] = '\0';
        }
    }
    char inner[300] = "";
    if (strcmp(action, "GetStatusInfo") == 0) {
        snprintf(inner, sizeof inner,
                 "<NewConnectionStatus>Connected</NewConnectionStatus>"
                 "<NewLastConnectionError>ERROR_NONE</NewLastConnectionError>"
                 "<NewUptime>100</NewUptime>");
    } else if (strcmp(action, "GetExternalIPAddress") == 0) {
        snprintf(inner, sizeof inner, "<NewExternalIPAddress>%s</NewExternalIPAddress>",
                 o->external);
    } else if (strcmp(action, "AddPortMapping") == 0 ||
               strcmp(action, "DeletePortMapping") == 0) {
        char ext[16], in[16], client[64], lease[16], proto[8];
        arg(body, "NewExternalPort", ext, sizeof ext);
        arg(body, "NewInternalPort", in, sizeof in);
        arg(body, "NewInternalClient", client, sizeof client);
        arg(body, "NewLeaseDuration", lease, sizeof lease);
        arg(body, "NewProtocol", proto, sizeof proto);
        if (action[0] == 'A') {
            fprintf(o->log, "add %s external=%s internal=%s client=%s lease=%s\n", proto, ext,
                    in, client, lease);
        } else {
            fprintf(o->log, "delete %s external=%s\n", proto, ext);
        }
    } else if (strcmp(action, "GetConnectionTypeInfo") == 0) {
        snprintf(inner, sizeof inner,
                 "<NewConnectionType>IP_Routed</NewConnectionType>"
                 "<NewPossibleConnectionTypes>IP_Routed</NewPossibleConnectionTypes>");
    } else {
        snprintf(out, cap, "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n"
                           "Content-Length: 0\r\n\r\n");
        fprintf(o->log, "unknown action '%s'\n", action);
        return;
    }
    soap_reply(out, cap, action, inner);
}

/* One HTTP request on a fresh connection: read the head and the body
 * (Content-Length), answer, close. */
static void
http_serve(const opts_t *o, int ls)
{
    int c = accept(ls, NULL, NULL);
    if (c < 0) {
        return;
    }
    static char req[16384];
    size_t n = 0;
    char *body = NULL;
    size_t want = 0;
    for (;;) {
        struct pollfd pf = {c, POLLIN, 0};
        if (poll(&pf, 1, 2000) <= 0) {
            break;
        }
        ssize_t r = read(c, req + n, sizeof req - 1 - n);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
        req[n] = '\0';
        if (body == NULL && (body = strstr(req, "\r\n\r\n")) != NULL) {
            body += 4;
            const char *cl = strcasestr(req, "Content-Length:");
            want = cl ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
        }
        if (body != NULL && (size_t)(req + n - body) >= want) {
            break;
        }
        if (n >= sizeof req - 1) {
            break;
        }
    }
    static char out[4096];
    fprintf(o->log, "http %.*s\n", (int)strcspn(req, "\r\n"), req);
    if (body == NULL) {
        close(c);
        return;
    }
    if (strncmp(req, "GET /rootDesc.xml", 17) == 0) {
        snprintf(out, sizeof out,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 strlen(ROOT_DESC), ROOT_DESC);
    } else if (strncmp(req, "POST /ctl", 9) == 0) {
        control(o, req, body, out, sizeof out);
    } else {
        snprintf(out, sizeof out,
                 "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    }
    size_t len = strlen(out);
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(c, out + done, len - done);
        if (w <= 0) {
            break;
        }
        done += (size_t)w;
    }
    close(c);
}

static int
open_sockets(const opts_t *o, int *ssdp, int *http)
{
    int one = 1;
    *ssdp = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(1900)};
    setsockopt(*ssdp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(*ssdp, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("upnpd: bind 1900");
        return 1;
    }
    struct ip_mreq m;
    inet_pton(AF_INET, "239.255.255.250", &m.imr_multiaddr);
    inet_pton(AF_INET, o->addr, &m.imr_interface);
    if (setsockopt(*ssdp, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0) {
        perror("upnpd: join 239.255.255.250");
        return 1;
    }
    *http = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(*http, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in ha = {.sin_family = AF_INET, .sin_port = htons(HTTP_PORT)};
    inet_pton(AF_INET, o->addr, &ha.sin_addr);
    if (bind(*http, (struct sockaddr *)&ha, sizeof ha) != 0 || listen(*http, 8) != 0) {
        perror("upnpd: http");
        return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    opts_t o = {.log = stdout};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--addr") == 0) {
            snprintf(o.addr, sizeof o.addr, "%s", argv[i + 1]);
        } else if (strcmp(argv[i], "--external") == 0) {
            snprintf(o.external, sizeof o.external, "%s", argv[i + 1]);
        } else if (strcmp(argv[i], "--log") == 0) {
            o.log = fopen(argv[i + 1], "a");
        }
    }
    if (o.addr[0] == '\0' || o.external[0] == '\0' || o.log == NULL) {
        fprintf(stderr, "usage: upnpd --addr A.B.C.D --external A.B.C.D [--log FILE]\n");
        return 2;
    }
    setvbuf(o.log, NULL, _IOLBF, 0);
    int ssdp = -1, http = -1;
    if (open_sockets(&o, &ssdp, &http) != 0) {
        return 1;
    }
    fprintf(o.log, "listening\n");
    for (;;) {
        struct pollfd pf[2] = {{ssdp, POLLIN, 0}, {http, POLLIN, 0}};
        if (poll(pf, 2, -1) < 0) {
            continue;
        }
        if (pf[0].revents & POLLIN) {
            ssdp_answer(&o, ssdp);
        }
        if (pf[1].revents & POLLIN) {
            http_serve(&o, http);
        }
    }
}
