/* addr: the one parser of network endpoints in node/. An endpoint is
 * "tcp://HOST:PORT": HOST a DNS name, a dotted IPv4 address or a
 * bracketed IPv6 address, PORT 1..65535 in decimal with no leading zero;
 * at most ADDR_ENDPOINT_MAX bytes of printable ASCII. addr_parse also
 * takes the wildcard hosts a listener is bound to ("*", 0.0.0.0, [::]);
 * addr_endpoint_valid refuses them, since they name no peer (and
 * connecting to one reaches our own host). Classification (loopback,
 * private, link-local, public), equality, text and sockaddr forms.
 *
 * dht/ may not include node/net/, and keeps its own network-group rule
 * for the per-subnet bound of its routing table (dht/rtable.c): that rule
 * is routing policy that must run in the DHT simulator without the
 * network layer. Everything in node/ parses endpoints here. Pure: no
 * allocation, no I/O, no resolver. */
#ifndef SAMIZDAT_ADDR_H
#define SAMIZDAT_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
    ADDR_ENDPOINT_MAX = 128, /* bytes of an endpoint, e.g. "tcp://192.0.2.1:7470" */
    ADDR_HOST_MAX = 253,     /* bytes of a host as written, brackets excluded */
};

typedef enum {
    ADDR_OK = 0,
    ADDR_ESYNTAX, /* not "tcp://HOST:PORT", or not printable ASCII */
    ADDR_ETOOLONG,
    ADDR_EHOST, /* HOST is not a name, an IPv4 or an IPv6 address */
    ADDR_EPORT, /* PORT is not 1..65535 written in one way */
} addr_err_t;

const char *addr_strerror(addr_err_t err);

typedef enum {
    ADDR_NAME = 0,
    ADDR_IPV4,
    ADDR_IPV6,
    ADDR_WILDCARD, /* "*", 0.0.0.0 or [::]: every address of this host */
} addr_kind_t;

typedef enum {
    ADDR_PUBLIC = 0,
    ADDR_LOOPBACK,   /* 127/8, ::1, the name "localhost" */
    ADDR_PRIVATE,    /* 10/8, 172.16/12, 192.168/16, fc00::/7 */
    ADDR_LINK_LOCAL, /* 169.254/16, fe80::/10 */
    ADDR_ANY,        /* a wildcard */
} addr_class_t;

typedef struct {
    addr_kind_t kind;
    char host[ADDR_HOST_MAX + 1]; /* as written (names keep their case), no brackets */
    uint8_t ip[16];               /* ADDR_IPV4: the first 4 bytes; ADDR_IPV6: all 16 */
    uint16_t port;
} addr_t;

/* Parses endpoint (NUL-terminated; NULL refused). On error *out is zeroed. */
addr_err_t addr_parse(const char *endpoint, addr_t *out);
/* True for an endpoint a peer can be dialled at: addr_parse accepts it and
 * its host is not a wildcard. */
bool addr_endpoint_valid(const char *endpoint);

/* A relayed endpoint, "relay://HOST:PORT": the node is reached through
 * the relay at HOST:PORT (its relay port), asking in SOCKS5 for the node's
 * key (docs/PROTOCOL.md, "Endpoints" and "Relays"). HOST and PORT follow
 * the tcp rules, wildcards refused. *out gets the relay's address. Such
 * an endpoint is for dialling one known node (invites, peer add) and never
 * goes where a tcp endpoint is required (HELLO, PEERS, the DHT). */
addr_err_t addr_relay_parse(const char *endpoint, addr_t *out);
bool addr_relay_valid(const char *endpoint);
/* addr_endpoint_valid or addr_relay_valid: what a node can dial. */
bool addr_dialable(const char *endpoint);

addr_class_t addr_class(const addr_t *a);
/* A name ending in ".onion" (any case): a Tor onion service, reachable
 * only through Tor, and never to be looked up in the DNS. */
bool addr_is_onion(const addr_t *a);
/* An IPv4 address written as IPv6 ([::ffff:a.b.c.d]) becomes ADDR_IPV4. */
void addr_unmap(addr_t *a);
/* Same host and port: addresses by their bytes (an IPv4-mapped IPv6
 * address equals its IPv4 address), names without case. */
bool addr_equal(const addr_t *a, const addr_t *b);

/* Writes "tcp://HOST:PORT" (IPv6 in brackets, a wildcard as "*") into out
 * (cap bytes). ADDR_ETOOLONG if it does not fit; out is then "". */
addr_err_t addr_format(const addr_t *a, char *out, size_t cap);

/* From a numeric address in text ("192.0.2.1", "::ffff:192.0.2.1",
 * "2001:db8::1", no brackets), as the transport reports a peer's, and a
 * port. IPv4-mapped addresses are unmapped. */
addr_err_t addr_from_ip(const char *ip, uint16_t port, addr_t *out);
/* From an AF_INET or AF_INET6 socket address (its port, unless port is
 * not 0). ADDR_EHOST for another family. */
addr_err_t addr_from_sockaddr(const struct sockaddr *sa, uint16_t port, addr_t *out);
/* The socket address of an IPv4 or IPv6 address (not a name, not a
 * wildcard: ADDR_EHOST). *len is set to the size used. */
addr_err_t addr_to_sockaddr(const addr_t *a, struct sockaddr_storage *ss, socklen_t *len);

#endif
