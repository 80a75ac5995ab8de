/* Where this node can be dialled, for invites and as the candidates of the
 * dial-back check: what a person hands to another must name addresses the
 * other can reach. So it names, in order: the endpoints peers dialled back
 * (node_dialback.c), then the rest of: the --announce endpoint, the mapped
 * port, listeners on one address, then for a listener on every address
 * the host's own addresses, public before private, loopback and link-local
 * only when there is nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "relay.h"
#include "transport.h"

typedef struct {
    char (*out)[ADDR_ENDPOINT_MAX + 1];
    size_t max;
    size_t n;
} ep_list_t;

static void
add_text(ep_list_t *l, const char *ep)
{
    if (l->n >= l->max || !addr_endpoint_valid(ep)) {
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->out[i], ep) == 0) {
            return;
        }
    }
    size_t len = strlen(ep); /* a valid endpoint fits: checked, not assumed */
    if (len <= ADDR_ENDPOINT_MAX) {
        memcpy(l->out[l->n++], ep, len + 1);
    }
}

static void
add_addr(ep_list_t *l, const addr_t *a)
{
    char ep[ADDR_ENDPOINT_MAX + 1];
    if (addr_format(a, ep, sizeof ep) == ADDR_OK) {
        add_text(l, ep);
    }
}

/* One pass over the interfaces, adding those of class want. */
static void
add_interfaces(ep_list_t *l, uint16_t port, addr_class_t want)
{
    uv_interface_address_t *ifs = NULL;
    int count = 0;
    if (uv_interface_addresses(&ifs, &count) != 0) {
        return;
    }
    for (int i = 0; i < count; i++) {
        addr_t a;
        const struct sockaddr *sa = (const struct sockaddr *)&ifs[i].address;
        if (addr_from_sockaddr(sa, port, &a) == ADDR_OK && addr_class(&a) == want) {
            add_addr(l, &a);
        }
    }
    uv_free_interface_addresses(ifs, count);
}

size_t
node_dial_endpoints(node_t *n, char (*out)[ADDR_ENDPOINT_MAX + 1], size_t max)
{
    ep_list_t l = {out, max, 0};
    if (n->cfg.announce != NULL) {
        add_text(&l, n->cfg.announce);
    }
    if (n->cfg.socks5 != NULL) {
        return l.n; /* behind a proxy: no address of this host */
    }
    if (n->portmap != NULL) {
        portmap_info_t pm;
        portmap_info(n->portmap, &pm);
        if (pm.state == PORTMAP_MAPPED) {
            add_text(&l, pm.external);
        }
    }
    char bound[TRANSPORT_LISTEN_MAX][TRANSPORT_ENDPOINT_MAX];
    size_t nb = 0;
    uint16_t wild_port = 0;
    transport_bound(n->transport, bound, TRANSPORT_LISTEN_MAX, &nb);
    for (size_t i = 0; i < nb; i++) {
        addr_t a;
        if (addr_parse(bound[i], &a) != ADDR_OK) {
            continue;
        }
        if (a.kind == ADDR_WILDCARD) {
            wild_port = wild_port ? wild_port : a.port;
        } else {
            add_text(&l, bound[i]);
        }
    }
    if (wild_port != 0) {
        add_interfaces(&l, wild_port, ADDR_PUBLIC);
        add_interfaces(&l, wild_port, ADDR_PRIVATE);
        if (l.n == 0) {
            add_interfaces(&l, wild_port, ADDR_LINK_LOCAL);
            add_interfaces(&l, wild_port, ADDR_LOOPBACK);
        }
    }
    /* Those a peer dialled back first, the rest in the order above. */
    for (size_t i = 0, front = 0; i < l.n; i++) {
        if (node_dialback_reachable(n, out[i])) {
            char ep[ADDR_ENDPOINT_MAX + 1];
            memcpy(ep, out[i], sizeof ep);
            memmove(out[front + 1], out[front], (i - front) * sizeof out[0]);
            memcpy(out[front], ep, sizeof ep);
            front++;
        }
    }
    return l.n;
}

size_t
node_invite_endpoints(node_t *n, char (*out)[ADDR_ENDPOINT_MAX + 1], size_t max)
{
    /* Not reachable directly: the relays come first, since they are what
     * works (a joiner tries the endpoints in order). */
    size_t k = 0;
    if (node_dialback_state(n) != NODE_REACH_REACHABLE) {
        k = node_relay_endpoints(n, out, max);
    }
    return k + node_dial_endpoints(n, out + k, max - k);
}

void
node_alone_check(node_t *n, uint64_t now)
{
    peertab_counts_t c;
    peertab_counts(n->peers, &c);
    if (c.ready > 0) {
        if (n->alone_next_ms != 0) {
            log_line(node_log(n), LOG_LEVEL_INFO, "connected: no longer alone after %llu s",
                     (unsigned long long)((now - n->alone_since_ms) / 1000));
        }
        n->alone_next_ms = 0;
        n->alone_since_ms = 0;
        return;
    }
    if (n->alone_since_ms == 0) {
        /* Alone since the start, or since the last peer went. */
        n->alone_since_ms = n->alone_next_ms == 0 && now - n->started_ms < NODE_ALONE_FIRST_MS
                                ? n->started_ms
                                : now;
    }
    if (now - n->alone_since_ms < NODE_ALONE_FIRST_MS || now < n->alone_next_ms) {
        return;
    }
    node_proxy_probe(n); /* a proxy that went down is a likely reason */
    n->alone_next_ms = now + NODE_ALONE_AGAIN_MS;
    log_line(node_log(n), LOG_LEVEL_WARN,
             "no peers for %llu s: this node is alone. To join the network: ask someone "
             "who runs samizdat for an invite (they run `samizdat invite`) and run "
             "`samizdat join INVITE`; or `samizdat peer add ENDPOINT NODEKEY`; or start "
             "another node on this local network; or list nodes in %s",
             (unsigned long long)((now - n->alone_since_ms) / 1000),
             n->cfg.bootstrap_path ? n->cfg.bootstrap_path : "DATA/bootstrap.list");
}

/* The port to map: that of the first listener a router could forward to
 * (every address, or a private one). */
static uint16_t
mappable_port(node_t *n)
{
    char bound[TRANSPORT_LISTEN_MAX][TRANSPORT_ENDPOINT_MAX];
    size_t nb = 0;
    transport_bound(n->transport, bound, TRANSPORT_LISTEN_MAX, &nb);
    for (size_t i = 0; i < nb; i++) {
        addr_t a;
        if (addr_parse(bound[i], &a) != ADDR_OK) {
            continue;
        }
        addr_class_t c = addr_class(&a);
        if (c == ADDR_ANY || c == ADDR_PRIVATE || c == ADDR_LINK_LOCAL) {
            return a.port;
        }
    }
    return 0;
}

void
node_portmap_start(node_t *n)
{
    if (n->cfg.no_portmap || n->cfg.socks5 != NULL) {
        return; /* a node behind a proxy takes no connections from outside */
    }
    uint16_t port = mappable_port(n);
    if (port == 0) {
        log_line(node_log(n), LOG_LEVEL_DEBUG,
                 "port mapping: not needed (listening on loopback or public addresses only)");
        return;
    }
    portmap_config_t pc = {.port = port, .log = node_log(n)};
    if (portmap_new(&n->portmap, n->loop, &pc) != PORTMAP_OK) {
        log_line(node_log(n), LOG_LEVEL_WARN, "port mapping: out of memory; not asked");
        n->portmap = NULL;
    }
    /* A relay must be reachable on its relay port too (PROTOCOL.md 6,
     * "Relays"): the router is asked to forward it as well. */
    if (n->rl.offer) {
        pc.port = relay_port(n->rl.relay);
        if (portmap_new(&n->relay_portmap, n->loop, &pc) != PORTMAP_OK) {
            n->relay_portmap = NULL;
        }
    }
}

/* ---- is the proxy there? ---- */

struct proxy_probe {
    node_t *n; /* NULL once the node closed: the probe then only frees itself */
    uv_tcp_t tcp;
    uv_connect_t conn;
};

static void
probe_closed(uv_handle_t *h)
{
    free(h->data);
}

static void
on_probe(uv_connect_t *req, int status)
{
    struct proxy_probe *p = req->data;
    node_t *n = p->n;
    uv_close((uv_handle_t *)&p->tcp, probe_closed);
    if (n == NULL) {
        return;
    }
    n->probe = NULL;
    if (status != 0 && !n->proxy_down) {
        log_line(node_log(n), LOG_LEVEL_ERROR,
                 "the SOCKS5 proxy at %s does not answer (%s): this node cannot connect to "
                 "anyone until it does (is Tor running?)",
                 n->cfg.socks5, uv_strerror(status));
    } else if (status == 0 && n->proxy_down) {
        log_line(node_log(n), LOG_LEVEL_INFO, "the SOCKS5 proxy at %s answers again",
                 n->cfg.socks5);
    }
    n->proxy_down = status != 0;
}

void
node_proxy_probe(node_t *n)
{
    if (n->cfg.socks5 == NULL || n->probe != NULL) {
        return;
    }
    char ep[ADDR_ENDPOINT_MAX + 1];
    addr_t a;
    struct sockaddr_storage sa;
    socklen_t len = 0;
    if (snprintf(ep, sizeof ep, "tcp://%s", n->cfg.socks5) >= (int)sizeof ep ||
        addr_parse(ep, &a) != ADDR_OK || a.kind == ADDR_NAME ||
        addr_to_sockaddr(&a, &sa, &len) != ADDR_OK) {
        return; /* a proxy by name: libzmq resolves it; nothing to probe here */
    }
    struct proxy_probe *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return;
    }
    p->n = n;
    uv_tcp_init(n->loop, &p->tcp);
    p->tcp.data = p;
    p->conn.data = p;
    if (uv_tcp_connect(&p->conn, &p->tcp, (struct sockaddr *)&sa, on_probe) != 0) {
        uv_close((uv_handle_t *)&p->tcp, probe_closed);
        return;
    }
    n->probe = p;
}

/* At close: a probe still under way must not touch the node afterwards. */
void
node_proxy_forget(node_t *n)
{
    if (n->probe != NULL) {
        n->probe->n = NULL;
        n->probe = NULL;
    }
}
