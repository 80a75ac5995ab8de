/* node_relay: circuit relays in the node (docs/PROTOCOL.md 6, "Relays").
 *
 * As a relay: the relay port is bound at the start unless --no-relay, HELLO
 * offers the cap, and a RESERVE is granted only while the dial-back check
 * finds this node reachable directly (a relay nobody can dial is no use).
 * When a circuit to a reserving node waits, that node is sent CONNECT.
 *
 * As an unreachable node: while no endpoint of ours was dialled back, we
 * reserve at up to NODE_RELAYS_WANTED ready peers that offer the cap,
 * renew at half time, and replace a relay whose connection went away.
 * The relayed endpoints go into invites, into our HELLO (when no endpoint
 * of ours was dialled back) and so into our provider records; never into
 * a routing table: a relayed endpoint is no contact for lookups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "relay.h"

enum {
    RESERVE_WAIT_MS = 10000, /* a RESERVE unanswered this long is given up */
};

static void
on_circuit(void *ud, const uint8_t key[KEYS_PUBLIC_SIZE], uint32_t circuit,
           const uint8_t nonce[WIRE_CIRCUIT_NONCE])
{
    node_t *n = ud;
    peer_t *p = node_peer_ready(n, key);
    if (p == NULL) {
        return; /* the circuit times out at the relay */
    }
    wire_msg_t *m = n->tx;
    wire_init(m, WIRE_CONNECT, 0);
    m->u.connect.circuit = circuit;
    memcpy(m->u.connect.nonce, nonce, WIRE_CIRCUIT_NONCE);
    node_send_msg(n, p, m);
}

/* Where the relay port goes: --relay-listen, else the first listener's
 * host and a port the system picks. */
static void
relay_bind(node_t *n)
{
    char bound[TRANSPORT_LISTEN_MAX][TRANSPORT_ENDPOINT_MAX];
    size_t nb = 0;
    transport_bound(n->transport, bound, TRANSPORT_LISTEN_MAX, &nb);
    addr_t a;
    if (nb == 0 || addr_parse(bound[0], &a) != ADDR_OK) {
        return;
    }
    char host[ADDR_HOST_MAX + 1];
    if (a.kind == ADDR_WILDCARD) {
        snprintf(host, sizeof host, "%s", strchr(bound[0], '[') != NULL ? "::" : "0.0.0.0");
    } else {
        snprintf(host, sizeof host, "%s", a.host);
    }
    long port = -1;
    const char *rl = n->cfg.relay_listen;
    if (rl != NULL) {
        const char *colon = strrchr(rl, ':');
        char *end = NULL;
        port = strtol(colon != NULL ? colon + 1 : rl, &end, 10);
        if (end == NULL || *end != '\0' || port < 0 || port > 65535) {
            log_line(node_log(n), LOG_LEVEL_WARN, "relay: bad --relay-listen '%s'", rl);
            return;
        }
        if (colon != NULL && (size_t)(colon - rl) < sizeof host) {
            /* "[::]:7471": the address without its brackets. */
            bool br = rl[0] == '[' && colon > rl + 1 && colon[-1] == ']';
            snprintf(host, sizeof host, "%.*s", (int)(colon - rl) - (br ? 2 : 0), rl + br);
        }
    } else {
        /* A free port the system picks: the listen port + 1 would take the
         * port of a node started next to this one on consecutive ports
         * (tests/multi/test_partition.sh does). RESERVED says the port. */
        port = 0;
    }
    (void)relay_listen(n->rl.relay, host, (uint16_t)port);
    n->rl.offer = relay_port(n->rl.relay) != 0;
    if (n->rl.offer) {
        log_line(node_log(n), LOG_LEVEL_INFO, "relay: circuits for unreachable nodes on %s port %u",
                 host, (unsigned)relay_port(n->rl.relay));
    } else {
        log_line(node_log(n), LOG_LEVEL_WARN, "relay: cannot bind the relay port on %s", host);
    }
}

node_err_t
node_relay_start(node_t *n)
{
    relay_config_t rc = {
        .on_circuit = on_circuit,
        .ud = n,
        .log = node_log(n),
        .defences_off = n->cfg.defences_off,
    };
    if (relay_new(&n->rl.relay, n->loop, &rc) != RELAY_OK) {
        return NODE_ENOMEM;
    }
    if (!n->cfg.no_relay && n->cfg.socks5 == NULL) {
        relay_bind(n);
    }
    return NODE_OK;
}

void
node_relay_close(node_t *n, void (*cb)(void *ud), void *ud)
{
    relay_close(n->rl.relay, cb, ud);
    n->rl.relay = NULL;
}

bool
node_relay_offers(node_t *n)
{
    return n->rl.offer;
}

static bool
reachable_directly(node_t *n)
{
    node_reach_t st = node_dialback_state(n);
    return st == NODE_REACH_REACHABLE || st == NODE_REACH_UNCHECKED;
}

/* The IP address of the relay as we reach it: the address of the
 * connection, else the host of the endpoint we dialled. */
static bool
relay_host(const peer_t *p, const char *peer_addr, addr_t *out)
{
    if (peer_addr != NULL && peer_addr[0] != '\0' && addr_from_ip(peer_addr, 1, out) == ADDR_OK) {
        return true;
    }
    return addr_parse(p->endpoint, out) == ADDR_OK &&
           (out->kind == ADDR_IPV4 || out->kind == ADDR_IPV6);
}

/* A node that came from a public address reached us through the router's
 * forwarded port: it must dial the relay port the router forwards too,
 * which is not always the one we listen on. A node of our own network
 * reaches the relay port itself. */
static void
mapped_port(node_t *n, const addr_t *from, wire_msg_t *r)
{
    portmap_info_t pm;
    addr_t ext;
    if (r->u.reserved.status != WIRE_RESERVE_OK || n->relay_portmap == NULL ||
        addr_class(from) != ADDR_PUBLIC) {
        return;
    }
    portmap_info(n->relay_portmap, &pm);
    if (pm.state == PORTMAP_MAPPED && addr_parse(pm.external, &ext) == ADDR_OK && ext.port != 0) {
        r->u.reserved.port = ext.port;
    }
}

static void
on_reserve(node_t *n, peer_t *p, const wire_msg_t *m, const char *peer_addr)
{
    uint32_t rid = m->request_id;
    wire_msg_t *r = n->tx;
    wire_init(r, WIRE_RESERVED, rid);
    r->u.reserved.status = WIRE_RESERVE_REFUSED;
    if (n->rl.offer && reachable_directly(n)) {
        /* The host's own addresses are shared by every local process (a
         * test network): they get no per-address cap, as in the transport. */
        addr_t a;
        bool local = addr_from_ip(peer_addr, 1, &a) == ADDR_OK && addr_class(&a) == ADDR_LOOPBACK;
        char who[64];
        snprintf(who, sizeof who, "%s", local ? "" : peer_addr);
        relay_reserve(n->rl.relay, p->key, who, node_mono_ms(n), r);
        mapped_port(n, &a, r);
    }
    node_send_msg(n, p, r);
}

static int
held_find(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    for (int i = 0; i < NODE_RELAYS_MAX; i++) {
        if (n->rl.held[i].used && memcmp(n->rl.held[i].key, key, KEYS_PUBLIC_SIZE) == 0) {
            return i;
        }
    }
    return -1;
}

static void
refuse_for_a_while(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    size_t i = n->rl.refused_next++ % (sizeof n->rl.refused / sizeof n->rl.refused[0]);
    memcpy(n->rl.refused[i].key, key, KEYS_PUBLIC_SIZE);
    n->rl.refused[i].until_ms = node_mono_ms(n) + NODE_RELAY_RETRY_MS;
}

static void
on_reserved(node_t *n, peer_t *p, const wire_msg_t *m, const char *peer_addr)
{
    int i = held_find(n, p->key);
    if (i < 0) {
        return;
    }
    addr_t a;
    char ep[ADDR_ENDPOINT_MAX + 8];
    bool ok = m->u.reserved.status == WIRE_RESERVE_OK && m->u.reserved.port != 0 &&
              m->u.reserved.expires_s >= 10 && relay_host(p, peer_addr, &a);
    if (ok) {
        a.port = m->u.reserved.port;
        ok = addr_format(&a, ep + 2, sizeof ep - 2) == ADDR_OK;
        /* "tcp://" becomes "relay://". */
        memcpy(ep, "relay://", 8);
        memmove(ep + 8, ep + 2 + 6, strlen(ep + 2 + 6) + 1);
        ok = ok && addr_relay_valid(ep) && strlen(ep) <= WIRE_ENDPOINT_MAX;
    }
    if (!ok) {
        n->rl.held[i].used = false;
        refuse_for_a_while(n, p->key);
        return;
    }
    uint64_t now = node_mono_ms(n);
    bool fresh = !n->rl.held[i].granted;
    n->rl.held[i].granted = true;
    size_t len = strlen(ep); /* at most WIRE_ENDPOINT_MAX: checked above */
    if (len >= sizeof n->rl.held[i].endpoint) {
        n->rl.held[i].used = false;
        return;
    }
    memcpy(n->rl.held[i].endpoint, ep, len + 1);
    n->rl.held[i].until_ms = now + (uint64_t)m->u.reserved.expires_s * 1000u;
    n->rl.held[i].renew_ms = now + (uint64_t)m->u.reserved.expires_s * 500u;
    if (fresh) {
        log_line(node_log(n), LOG_LEVEL_INFO, "relay: reachable through relay %s", ep);
        node_dht_endpoint_changed(n);
    }
}

static void
on_connect(node_t *n, peer_t *p)
{
    int i = held_find(n, p->key);
    if (i < 0 || !n->rl.held[i].granted) {
        return;
    }
    const wire_msg_t *m = n->rx;
    addr_t ra;
    struct sockaddr_storage rs, ls;
    socklen_t rlen = 0, llen = 0;
    if (addr_relay_parse(n->rl.held[i].endpoint, &ra) != ADDR_OK ||
        addr_to_sockaddr(&ra, &rs, &rlen) != ADDR_OK) {
        return;
    }
    /* Our own listener, reached on loopback when it listens on every
     * address. */
    char bound[TRANSPORT_LISTEN_MAX][TRANSPORT_ENDPOINT_MAX];
    size_t nb = 0;
    transport_bound(n->transport, bound, TRANSPORT_LISTEN_MAX, &nb);
    addr_t la;
    if (nb == 0 || addr_parse(bound[0], &la) != ADDR_OK) {
        return;
    }
    if (la.kind == ADDR_WILDCARD) {
        uint16_t port = la.port;
        if (addr_from_ip(strchr(bound[0], '[') != NULL ? "::1" : "127.0.0.1", port, &la) !=
            ADDR_OK) {
            return;
        }
    }
    if (addr_to_sockaddr(&la, &ls, &llen) != ADDR_OK) {
        return;
    }
    relay_err_t err = relay_claim(n->rl.relay, (struct sockaddr *)&rs, m->u.connect.circuit,
                                  m->u.connect.nonce, (struct sockaddr *)&ls);
    if (err != RELAY_OK) {
        log_line(node_log(n), LOG_LEVEL_DEBUG, "relay: cannot claim a circuit: %s",
                 relay_strerror(err));
    }
}

void
node_relay_receive(node_t *n, peer_t *p, const wire_msg_t *m, const char *peer_addr)
{
    switch (m->type) {
    case WIRE_RESERVE:
        on_reserve(n, p, m, peer_addr);
        break;
    case WIRE_RESERVED:
        on_reserved(n, p, m, peer_addr);
        break;
    case WIRE_CONNECT:
        on_connect(n, p);
        break;
    default:
        break;
    }
}

static bool
refused_lately(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], uint64_t now)
{
    for (size_t i = 0; i < sizeof n->rl.refused / sizeof n->rl.refused[0]; i++) {
        if (n->rl.refused[i].until_ms > now &&
            memcmp(n->rl.refused[i].key, key, KEYS_PUBLIC_SIZE) == 0) {
            return true;
        }
    }
    return false;
}

static void
send_reserve(node_t *n, peer_t *p, int slot, uint64_t now)
{
    uint32_t rid = 0;
    if (!node_request_open(n, p, WIRE_RESERVE, now, &rid)) {
        return;
    }
    wire_msg_t *m = n->tx;
    wire_init(m, WIRE_RESERVE, rid);
    node_send_msg(n, p, m);
    n->rl.held[slot].used = true;
    n->rl.held[slot].asked_ms = now;
    memcpy(n->rl.held[slot].key, p->key, KEYS_PUBLIC_SIZE);
}

void
node_relay_tick(node_t *n, uint64_t now)
{
    bool want = !reachable_directly(n) && n->cfg.socks5 == NULL;
    size_t have = 0;
    bool lost = false;
    for (int i = 0; i < NODE_RELAYS_MAX; i++) {
        __typeof__(n->rl.held[0]) *h = &n->rl.held[i];
        if (!h->used) {
            continue;
        }
        peer_t *p = node_peer_ready(n, h->key);
        bool unanswered = !h->granted && now - h->asked_ms > RESERVE_WAIT_MS;
        if (!want || p == NULL || (h->granted && now >= h->until_ms) || unanswered) {
            if (h->granted && want) {
                log_line(node_log(n), LOG_LEVEL_INFO, "relay: lost relay %s", h->endpoint);
            }
            if (unanswered) {
                refuse_for_a_while(n, h->key);
            }
            lost = lost || h->granted;
            memset(h, 0, sizeof *h);
            continue;
        }
        have++;
        if (h->granted && now >= h->renew_ms && now - h->asked_ms > RESERVE_WAIT_MS) {
            h->renew_ms = now + RESERVE_WAIT_MS;
            send_reserve(n, p, i, now);
        }
    }
    if (lost) {
        node_dht_endpoint_changed(n); /* our HELLO and records name the rest */
    }
    if (!want || have >= NODE_RELAYS_WANTED) {
        return;
    }
    size_t it = 0;
    for (peer_t *p; have < NODE_RELAYS_WANTED && (p = peertab_next(n->peers, &it)) != NULL;) {
        if (p->state != PEER_READY || (p->caps & WIRE_CAP_RELAY) == 0 || p->dialback ||
            held_find(n, p->key) >= 0 || refused_lately(n, p->key, now)) {
            continue;
        }
        for (int i = 0; i < NODE_RELAYS_MAX; i++) {
            if (!n->rl.held[i].used) {
                send_reserve(n, p, i, now);
                have += n->rl.held[i].used;
                break;
            }
        }
    }
}

void
node_relay_forget(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    if (n->rl.relay != NULL && node_peer_ready(n, key) == NULL) {
        relay_unreserve(n->rl.relay, key);
    }
}

size_t
node_relay_endpoints(node_t *n, char (*out)[ADDR_ENDPOINT_MAX + 1], size_t max)
{
    size_t k = 0;
    for (int i = 0; i < NODE_RELAYS_MAX && k < max; i++) {
        if (n->rl.held[i].used && n->rl.held[i].granted) {
            snprintf(out[k++], ADDR_ENDPOINT_MAX + 1, "%s", n->rl.held[i].endpoint);
        }
    }
    return k;
}

void
node_relay_status(node_t *n, node_status_t *out)
{
    out->n_relays = node_relay_endpoints(n, out->relays, NODE_RELAYS_MAX);
    if (n->rl.relay != NULL && n->rl.offer) {
        out->relay_port = relay_port(n->rl.relay);
        portmap_info_t pm = {.state = PORTMAP_FAILED};
        if (n->relay_portmap != NULL) {
            portmap_info(n->relay_portmap, &pm);
        }
        if (pm.state == PORTMAP_MAPPED) {
            snprintf(out->relay_mapped, sizeof out->relay_mapped, "%s", pm.external);
        }
        out->relay_reservations = relay_reservations(n->rl.relay);
        relay_stats_t st;
        relay_stats(n->rl.relay, &st);
        out->relay_circuits = st.circuits;
    }
}
