#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum {
    PORT_DIGITS_MAX = 5,
    DNS_LABEL_MAX = 63,
    IPV6_TEXT_MIN = 2,  /* "::" */
    IPV6_TEXT_MAX = 45, /* INET6_ADDRSTRLEN - 1: the IPv4-mapped form */
};

static const char TCP_PREFIX[] = "tcp://";
enum { TCP_PREFIX_LEN = sizeof TCP_PREFIX - 1 };

static const uint8_t V4_MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

const char *
addr_strerror(addr_err_t err)
{
    switch (err) {
    case ADDR_OK:
        return "ok";
    case ADDR_ESYNTAX:
        return "not an endpoint of the form tcp://HOST:PORT";
    case ADDR_ETOOLONG:
        return "endpoint too long";
    case ADDR_EHOST:
        return "not a host name, an IPv4 address or a bracketed IPv6 address";
    case ADDR_EPORT:
        return "port not 1..65535";
    }
    return "unknown address error";
}

/* ---- text rules ---- */

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

/* Parses 1..max_digits decimal digits with no leading zero (a lone "0" is
 * allowed), so every number has exactly one spelling. Returns -1 on error. */
static long
parse_decimal(const char *s, size_t n, size_t max_digits)
{
    if (n == 0 || n > max_digits || (n > 1 && s[0] == '0')) {
        return -1;
    }
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Exactly four decimal octets. Leading zeros are refused because the C
 * library's resolver would read "010" as octal 8. */
static bool
ipv4_parse(const char *s, size_t n, uint8_t out[static 4])
{
    size_t start = 0;
    int parts = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            continue;
        }
        long v = parse_decimal(s + start, i - start, 3);
        if (v < 0 || v > 255 || parts == 4) {
            return false;
        }
        out[parts++] = (uint8_t)v;
        start = i + 1;
    }
    return parts == 4;
}

static bool
ipv6_parse(const char *s, size_t n, uint8_t out[static 16])
{
    if (n < IPV6_TEXT_MIN || n > IPV6_TEXT_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        bool hex = is_digit(s[i]) || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F');
        if (!hex && s[i] != ':' && s[i] != '.') {
            return false;
        }
    }
    char text[IPV6_TEXT_MAX + 1];
    memcpy(text, s, n);
    text[n] = '\0';
    struct in6_addr a;
    if (inet_pton(AF_INET6, text, &a) != 1) {
        return false;
    }
    memcpy(out, a.s6_addr, 16);
    return true;
}

static bool
dns_label_valid(const char *s, size_t n)
{
    if (n == 0 || n > DNS_LABEL_MAX || s[0] == '-' || s[n - 1] == '-') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum(s[i]) && s[i] != '-') {
            return false;
        }
    }
    return true;
}

static bool
dns_name_valid(const char *s, size_t n)
{
    if (n > ADDR_HOST_MAX) {
        return false;
    }
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            continue;
        }
        if (!dns_label_valid(s + start, i - start)) {
            return false;
        }
        start = i + 1;
    }
    return true;
}

/* A name whose last label is all digits can only be meant as an IPv4
 * address (RFC 3696, section 2: no top-level domain is all-numeric), so
 * "256.1.1.1" is a bad address rather than a host name. */
static bool
last_label_numeric(const char *s, size_t n)
{
    size_t i = n;
    while (i > 0 && s[i - 1] != '.') {
        i--;
    }
    if (i == n) {
        return false;
    }
    for (; i < n; i++) {
        if (!is_digit(s[i])) {
            return false;
        }
    }
    return true;
}

static bool
all_zero(const uint8_t *b, size_t n)
{
    uint8_t any = 0;
    for (size_t i = 0; i < n; i++) {
        any |= b[i];
    }
    return any == 0;
}

/* Sets a's kind, ip and host from the host part s[0 .. n). */
static addr_err_t
parse_host(const char *s, size_t n, addr_t *a)
{
    if (n == 0) {
        return ADDR_EHOST;
    }
    const char *text = s;
    size_t len = n;
    if (n == 1 && s[0] == '*') {
        a->kind = ADDR_WILDCARD;
    } else if (s[0] == '[') {
        if (n < 2 || s[n - 1] != ']' || !ipv6_parse(s + 1, n - 2, a->ip)) {
            return ADDR_EHOST;
        }
        text = s + 1;
        len = n - 2;
        /* "::" names no peer: the IPv6 wildcard, like 0.0.0.0. */
        a->kind = all_zero(a->ip, 16) ? ADDR_WILDCARD : ADDR_IPV6;
    } else if (last_label_numeric(s, n)) {
        if (!ipv4_parse(s, n, a->ip)) {
            return ADDR_EHOST;
        }
        a->kind = all_zero(a->ip, 4) ? ADDR_WILDCARD : ADDR_IPV4;
    } else if (dns_name_valid(s, n)) {
        a->kind = ADDR_NAME;
    } else {
        return ADDR_EHOST;
    }
    memcpy(a->host, text, len);
    a->host[len] = '\0';
    return ADDR_OK;
}

addr_err_t
addr_parse(const char *endpoint, addr_t *out)
{
    memset(out, 0, sizeof *out);
    if (endpoint == NULL) {
        return ADDR_ESYNTAX;
    }
    size_t n = strnlen(endpoint, ADDR_ENDPOINT_MAX + 1);
    if (n > ADDR_ENDPOINT_MAX) {
        return ADDR_ETOOLONG;
    }
    if (!printable(endpoint, n) || n < TCP_PREFIX_LEN ||
        memcmp(endpoint, TCP_PREFIX, TCP_PREFIX_LEN) != 0) {
        return ADDR_ESYNTAX;
    }
    const char *host = endpoint + TCP_PREFIX_LEN;
    size_t rest = n - TCP_PREFIX_LEN;
    /* The port follows the last colon: an IPv6 address keeps its own
     * colons inside the brackets. */
    size_t colon = rest;
    while (colon > 0 && host[colon - 1] != ':') {
        colon--;
    }
    if (colon == 0) {
        return ADDR_ESYNTAX;
    }
    long port = parse_decimal(host + colon, rest - colon, PORT_DIGITS_MAX);
    addr_err_t err = parse_host(host, colon - 1, out);
    if (err == ADDR_OK && (port < 1 || port > 65535)) {
        err = ADDR_EPORT;
    }
    if (err != ADDR_OK) {
        memset(out, 0, sizeof *out);
        return err;
    }
    out->port = (uint16_t)port;
    return ADDR_OK;
}

bool
addr_endpoint_valid(const char *endpoint)
{
    addr_t a;
    return addr_parse(endpoint, &a) == ADDR_OK && a.kind != ADDR_WILDCARD;
}

addr_err_t
addr_relay_parse(const char *endpoint, addr_t *out)
{
    memset(out, 0, sizeof *out);
    static const char prefix[] = "relay://";
    if (endpoint == NULL || strncmp(endpoint, prefix, sizeof prefix - 1) != 0) {
        return ADDR_ESYNTAX;
    }
    /* The same HOST:PORT rules as a tcp endpoint, and the same length cap
     * for the whole text. */
    size_t n = strnlen(endpoint, ADDR_ENDPOINT_MAX + 1);
    if (n > ADDR_ENDPOINT_MAX) {
        return ADDR_ETOOLONG;
    }
    char tcp[ADDR_ENDPOINT_MAX + 1];
    int k = snprintf(tcp, sizeof tcp, "%s%s", TCP_PREFIX, endpoint + sizeof prefix - 1);
    if (k < 0 || (size_t)k >= sizeof tcp) {
        return ADDR_ETOOLONG;
    }
    addr_err_t err = addr_parse(tcp, out);
    if (err == ADDR_OK && out->kind == ADDR_WILDCARD) {
        memset(out, 0, sizeof *out);
        return ADDR_EHOST;
    }
    return err;
}

bool
addr_relay_valid(const char *endpoint)
{
    addr_t a;
    return addr_relay_parse(endpoint, &a) == ADDR_OK;
}

bool
addr_dialable(const char *endpoint)
{
    return addr_endpoint_valid(endpoint) || addr_relay_valid(endpoint);
}

/* ---- classification ---- */

static addr_class_t
class_v4(const uint8_t b[static 4])
{
    if (b[0] == 127) {
        return ADDR_LOOPBACK;
    }
    if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168)) {
        return ADDR_PRIVATE;
    }
    if (b[0] == 169 && b[1] == 254) {
        return ADDR_LINK_LOCAL;
    }
    return ADDR_PUBLIC;
}

addr_class_t
addr_class(const addr_t *a)
{
    static const uint8_t loopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    switch (a->kind) {
    case ADDR_WILDCARD:
        return ADDR_ANY;
    case ADDR_IPV4:
        return class_v4(a->ip);
    case ADDR_IPV6:
        if (memcmp(a->ip, V4_MAPPED, sizeof V4_MAPPED) == 0) {
            return class_v4(a->ip + 12);
        }
        if (memcmp(a->ip, loopback6, 16) == 0) {
            return ADDR_LOOPBACK;
        }
        if (a->ip[0] == 0xfe && (a->ip[1] & 0xc0) == 0x80) {
            return ADDR_LINK_LOCAL;
        }
        return (a->ip[0] & 0xfe) == 0xfc ? ADDR_PRIVATE : ADDR_PUBLIC;
    case ADDR_NAME:
    default:
        return strcasecmp(a->host, "localhost") == 0 ? ADDR_LOOPBACK : ADDR_PUBLIC;
    }
}

bool
addr_is_onion(const addr_t *a)
{
    size_t len = strnlen(a->host, sizeof a->host);
    return a->kind == ADDR_NAME && len > 6 && strcasecmp(a->host + len - 6, ".onion") == 0;
}

void
addr_unmap(addr_t *a)
{
    if (a->kind != ADDR_IPV6 || memcmp(a->ip, V4_MAPPED, sizeof V4_MAPPED) != 0) {
        return;
    }
    uint8_t v4[4];
    memcpy(v4, a->ip + 12, 4);
    memset(a->ip, 0, sizeof a->ip);
    memcpy(a->ip, v4, 4);
    a->kind = ADDR_IPV4;
    inet_ntop(AF_INET, v4, a->host, sizeof a->host);
}

bool
addr_equal(const addr_t *a, const addr_t *b)
{
    addr_t x = *a, y = *b;
    addr_unmap(&x);
    addr_unmap(&y);
    if (x.kind != y.kind || x.port != y.port) {
        return false;
    }
    switch (x.kind) {
    case ADDR_IPV4:
        return memcmp(x.ip, y.ip, 4) == 0;
    case ADDR_IPV6:
        return memcmp(x.ip, y.ip, 16) == 0;
    case ADDR_WILDCARD:
        return true;
    case ADDR_NAME:
    default:
        return strcasecmp(x.host, y.host) == 0;
    }
}

/* ---- other forms ---- */

addr_err_t
addr_format(const addr_t *a, char *out, size_t cap)
{
    char host[ADDR_HOST_MAX + 1];
    const char *h = a->host;
    if (a->kind == ADDR_IPV4 || a->kind == ADDR_IPV6) {
        /* From the bytes: one spelling per address. */
        int af = a->kind == ADDR_IPV4 ? AF_INET : AF_INET6;
        if (inet_ntop(af, a->ip, host, sizeof host) == NULL) {
            return ADDR_EHOST;
        }
        h = host;
    }
    bool brackets = strchr(h, ':') != NULL;
    int n = snprintf(out, cap, brackets ? "tcp://[%s]:%u" : "tcp://%s:%u", h, (unsigned)a->port);
    if (n < 0 || (size_t)n >= cap || n > ADDR_ENDPOINT_MAX) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return ADDR_ETOOLONG;
    }
    return ADDR_OK;
}

/* Sets a from raw address bytes of family af; a's port is set by the caller. */
static void
from_bytes(addr_t *a, int af, const void *bytes)
{
    memset(a, 0, sizeof *a);
    size_t len = af == AF_INET ? 4 : 16;
    memcpy(a->ip, bytes, len);
    a->kind = all_zero(a->ip, len) ? ADDR_WILDCARD : (af == AF_INET ? ADDR_IPV4 : ADDR_IPV6);
    inet_ntop(af, bytes, a->host, sizeof a->host);
    addr_unmap(a);
}

addr_err_t
addr_from_ip(const char *ip, uint16_t port, addr_t *out)
{
    memset(out, 0, sizeof *out);
    uint8_t b[16];
    if (ip == NULL || strnlen(ip, IPV6_TEXT_MAX + 1) > IPV6_TEXT_MAX) {
        return ADDR_EHOST;
    }
    if (inet_pton(AF_INET, ip, b) == 1) {
        from_bytes(out, AF_INET, b);
    } else if (inet_pton(AF_INET6, ip, b) == 1) {
        from_bytes(out, AF_INET6, b);
    } else {
        return ADDR_EHOST;
    }
    if (port == 0) {
        memset(out, 0, sizeof *out);
        return ADDR_EPORT;
    }
    out->port = port;
    return ADDR_OK;
}

addr_err_t
addr_from_sockaddr(const struct sockaddr *sa, uint16_t port, addr_t *out)
{
    memset(out, 0, sizeof *out);
    uint16_t p = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        from_bytes(out, AF_INET, &s4->sin_addr);
        p = ntohs(s4->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        from_bytes(out, AF_INET6, &s6->sin6_addr);
        p = ntohs(s6->sin6_port);
    } else {
        return ADDR_EHOST;
    }
    out->port = port != 0 ? port : p;
    if (out->port == 0) {
        memset(out, 0, sizeof *out);
        return ADDR_EPORT;
    }
    return ADDR_OK;
}

addr_err_t
addr_to_sockaddr(const addr_t *a, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (a->kind == ADDR_IPV4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(a->port);
        memcpy(&s4->sin_addr, a->ip, 4);
        *len = sizeof *s4;
        return ADDR_OK;
    }
    if (a->kind == ADDR_IPV6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a->port);
        memcpy(&s6->sin6_addr, a->ip, 16);
        *len = sizeof *s6;
        return ADDR_OK;
    }
    return ADDR_EHOST;
}
