/* node_hello: the node's own messages. HELLO opens every connection and
 * tells what each side offers (network, caps, where it listens); PING
 * keeps a quiet connection alive and measures it; PEERS trades contacts;
 * ERROR refuses. Also the requests a peer owes us an answer to, and the
 * sending helpers every part of the node uses. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

static uint8_t
answer_type(uint8_t request_type)
{
    switch (request_type) {
    case WIRE_PING:
        return WIRE_PONG;
    case WIRE_DIAL_REQ:
        return WIRE_DIAL_RESULT;
    case WIRE_RESERVE:
        return WIRE_RESERVED;
    default:
        return WIRE_PEERS;
    }
}

/* Takes a request id and remembers it. False when the peer already has
 * NODE_PENDING_MAX requests out: the caller does not send. */
bool
node_request_open(node_t *n, peer_t *p, uint8_t type, uint64_t now, uint32_t *id)
{
    for (int i = 0; i < NODE_PENDING_MAX; i++) {
        if (p->pending[i].id == 0) {
            if (++n->next_request_id == 0) {
                n->next_request_id = 1;
            }
            p->pending[i] = (request_t){n->next_request_id, type, now};
            *id = n->next_request_id;
            return true;
        }
    }
    return false;
}

/* Closes the request an answer belongs to; false when there is none. */
static bool
request_close(peer_t *p, const wire_msg_t *answer)
{
    for (int i = 0; i < NODE_PENDING_MAX; i++) {
        request_t *r = &p->pending[i];
        bool error_reply = answer->type == WIRE_ERROR;
        if (r->id != 0 && r->id == answer->request_id &&
            (error_reply || answer_type(r->type) == answer->type)) {
            r->id = 0;
            return true;
        }
    }
    return false;
}

static bool
request_pending(const peer_t *p, uint8_t type)
{
    for (int i = 0; i < NODE_PENDING_MAX; i++) {
        if (p->pending[i].id != 0 && p->pending[i].type == type) {
            return true;
        }
    }
    return false;
}

/* Expires requests older than NODE_REQUEST_TIMEOUT_MS; returns how many. */
static int
requests_expire(node_t *n, peer_t *p, uint64_t now)
{
    int expired = 0;
    for (int i = 0; i < NODE_PENDING_MAX; i++) {
        request_t *r = &p->pending[i];
        if (r->id != 0 && now - r->sent_ms > NODE_REQUEST_TIMEOUT_MS) {
            log_line(node_log(n), LOG_LEVEL_DEBUG, "%s request %u timed out",
                     wire_type_name(r->type), (unsigned)r->id);
            r->id = 0;
            n->timeouts++;
            expired++;
        }
    }
    return expired;
}

void
node_send_msg(node_t *n, peer_t *p, const wire_msg_t *m)
{
    size_t len = 0;
    if (wire_encode(m, n->sendbuf, WIRE_MAX_FRAME, &len) != WIRE_OK) {
        log_line(node_log(n), LOG_LEVEL_ERROR, "cannot encode a %s message",
                 wire_type_name(m->type));
        return;
    }
    (void)transport_send(n->transport, p->dir, p->key, n->sendbuf, len);
}

static void
send_raw(node_t *n, transport_dir_t dir, const uint8_t key[KEYS_PUBLIC_SIZE], const wire_msg_t *m)
{
    peer_t tmp = {.dir = dir};
    memcpy(tmp.key, key, KEYS_PUBLIC_SIZE);
    node_send_msg(n, &tmp, m);
}

void
node_send_error(node_t *n, transport_dir_t dir, const uint8_t key[KEYS_PUBLIC_SIZE], uint32_t rid,
                wire_error_code_t code, const char *text)
{
    wire_msg_t *m = n->tx;
    wire_init(m, WIRE_ERROR, rid);
    m->u.error.code = (uint16_t)code;
    snprintf(m->u.error.text, sizeof m->u.error.text, "%s", text);
    send_raw(n, dir, key, m);
}

/* A listener on every address (the default) is announced by its port
 * alone, since this node cannot know which of its addresses the other side
 * reaches; a listener on one address by its endpoint. */
static void
fill_hello(node_t *n, wire_msg_t *m, uint32_t rid, bool gossip)
{
    wire_init(m, WIRE_HELLO, rid);
    wire_hello_t *h = &m->u.hello;
    snprintf(h->network, sizeof h->network, "%s", n->network);
    memcpy(h->node_key, n->cfg.node_key->pk, KEYS_PUBLIC_SIZE);
    snprintf(h->software, sizeof h->software, "samizdat/%s", SAMIZDAT_VERSION);
    /* Caps are per connection: gossip is offered only where it may run. */
    h->caps = WIRE_CAP_DHT | (gossip ? WIRE_CAP_GOSSIP : 0) |
              (node_relay_offers(n) ? WIRE_CAP_RELAY : 0);
    if (node_dialback_on(n)) {
        node_dialback_hello(n, h); /* only what peers dialled back */
        return;
    }
    if (n->cfg.announce != NULL && addr_endpoint_valid(n->cfg.announce)) {
        memcpy(h->endpoints[h->n_endpoints++].s, n->cfg.announce, strlen(n->cfg.announce) + 1);
    }
    if (n->cfg.socks5 != NULL) {
        return; /* behind a proxy: only the announced endpoint (an onion) */
    }
    char bound[TRANSPORT_LISTEN_MAX][TRANSPORT_ENDPOINT_MAX];
    size_t nb = 0;
    transport_bound(n->transport, bound, TRANSPORT_LISTEN_MAX, &nb);
    for (size_t i = 0; i < nb; i++) {
        addr_t a;
        if (addr_parse(bound[i], &a) != ADDR_OK) {
            continue;
        }
        if (a.kind == ADDR_WILDCARD) {
            h->listen_port = h->listen_port ? h->listen_port : a.port;
        } else if (h->n_endpoints < WIRE_ENDPOINTS_MAX) {
            memcpy(h->endpoints[h->n_endpoints++].s, bound[i], strlen(bound[i]) + 1);
        }
    }
}

void
node_send_hello(node_t *n, peer_t *p, uint32_t rid)
{
    fill_hello(n, n->tx, rid, p->offered_gossip);
    node_send_msg(n, p, n->tx);
    p->hello_sent_ms = node_mono_ms(n);
}

static void
send_peers_req(node_t *n, peer_t *p)
{
    uint32_t id = 0;
    if (request_pending(p, WIRE_PEERS_REQ) ||
        !node_request_open(n, p, WIRE_PEERS_REQ, node_mono_ms(n), &id)) {
        return;
    }
    wire_msg_t *m = n->tx;
    wire_init(m, WIRE_PEERS_REQ, id);
    m->u.peers_max = WIRE_PEERS_MAX;
    node_send_msg(n, p, m);
}

static void
send_ping(node_t *n, peer_t *p, uint64_t now)
{
    uint32_t id = 0;
    if (request_pending(p, WIRE_PING) || !node_request_open(n, p, WIRE_PING, now, &id)) {
        return;
    }
    wire_msg_t *m = n->tx;
    wire_init(m, WIRE_PING, id);
    randombytes_buf(&p->ping_nonce, sizeof p->ping_nonce);
    m->u.ping_nonce = p->ping_nonce;
    p->ping_sent_us = node_mono_us(n);
    node_send_msg(n, p, m);
}

/* A kept peer's round trip is measured as soon as it is ready, not only
 * after the first quiet spell. */
static void
first_ping(node_t *n, peer_t *p)
{
    if (!p->transient && !p->visitor && p->state == PEER_READY) {
        send_ping(n, p, node_mono_ms(n));
    }
}

static bool endpoint_observed(const char *endpoint, const char *peer_addr);

/* The first tcp endpoint a HELLO names (relayed ones are kept apart). */
static bool
first_tcp(const wire_hello_t *h, char *out, size_t cap)
{
    for (size_t i = 0; i < h->n_endpoints; i++) {
        if (addr_endpoint_valid(h->endpoints[i].s)) {
            snprintf(out, cap, "%s", h->endpoints[i].s);
            return true;
        }
    }
    return false;
}

/* Where an inbound peer accepts connections: its first explicit endpoint
 * at the address its connection comes from, else that address with its
 * listen port, else its first explicit tcp endpoint (a node behind a NAT
 * may name its mapped address, which its connections do not come from). */
static bool
inbound_endpoint(const wire_hello_t *h, const char *peer_addr, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < h->n_endpoints; i++) {
        if (endpoint_observed(h->endpoints[i].s, peer_addr)) {
            snprintf(out, cap, "%s", h->endpoints[i].s);
            return true;
        }
    }
    if (h->listen_port == 0 || peer_addr[0] == '\0') {
        return first_tcp(h, out, cap);
    }
    addr_t a;
    if (addr_from_ip(peer_addr, h->listen_port, &a) != ADDR_OK ||
        addr_format(&a, out, cap) != ADDR_OK || !addr_endpoint_valid(out)) {
        out[0] = '\0';
        return first_tcp(h, out, cap);
    }
    return true;
}

/* The relayed endpoints of an inbound peer's HELLO; a change of them
 * forgets which one was found to reach it. */
static void
inbound_relayed(peer_t *p, const wire_hello_t *h)
{
    char was[PEER_RELAYED_MAX][WIRE_ENDPOINT_MAX + 1];
    memcpy(was, p->relayed, sizeof was);
    uint8_t n_was = p->n_relayed;
    memset(p->relayed, 0, sizeof p->relayed);
    p->n_relayed = 0;
    for (size_t i = 0; i < h->n_endpoints && p->n_relayed < PEER_RELAYED_MAX; i++) {
        if (addr_relay_valid(h->endpoints[i].s)) {
            snprintf(p->relayed[p->n_relayed++], WIRE_ENDPOINT_MAX + 1, "%s", h->endpoints[i].s);
        }
    }
    if (n_was != p->n_relayed || memcmp(was, p->relayed, sizeof was) != 0) {
        p->relayed_ok = -1;
    }
}

/* Whether an inbound peer's endpoint is at the address its connection
 * comes from. An onion name cannot be compared: it is taken from a
 * connection Tor hands over on this host. */
static bool
endpoint_observed(const char *endpoint, const char *peer_addr)
{
    addr_t claimed, seen;
    if (addr_parse(endpoint, &claimed) != ADDR_OK) {
        return false;
    }
    addr_unmap(&claimed);
    if (claimed.kind == ADDR_NAME) {
        return addr_is_onion(&claimed) && addr_from_ip(peer_addr, 1, &seen) == ADDR_OK &&
               addr_class(&seen) == ADDR_LOOPBACK;
    }
    if (addr_from_ip(peer_addr, claimed.port, &seen) != ADDR_OK) {
        return false;
    }
    addr_unmap(&seen);
    return addr_equal(&claimed, &seen);
}

static void
take_hello(node_t *n, peer_t *p, const wire_hello_t *h, const char *peer_addr, bool again)
{
    if (p->state != PEER_READY) {
        p->ready_ms = node_mono_ms(n);
    }
    p->state = PEER_READY;
    p->caps = h->caps;
    snprintf(p->software, sizeof p->software, "%s", h->software);
    if (p->dir == TRANSPORT_IN) {
        (void)inbound_endpoint(h, peer_addr, p->endpoint, sizeof p->endpoint);
        inbound_relayed(p, h);
        /* At the address its connection comes from (never a dial to a
         * third party on a stranger's word), and then dialled by us. */
        p->endpoint_verified = p->endpoint[0] != '\0' &&
                               (n->claims_trusted || (endpoint_observed(p->endpoint, peer_addr) &&
                                                      node_dialback_verified(n, p)));
    } else {
        node_dialback_connected(n, p); /* the dial reached its key */
    }
    if (p->endpoint[0] != '\0') {
        node_contact_note(n, p->key, p->endpoint);
        (void)store_peer_save(n->cfg.store, p->key, p->endpoint, node_wall_ms(n));
    }
    node_queue_flush(n, p);
    node_dht_peer_ready(n, p);
    node_gossip_check(n, p);
    if (!again && !p->transient && !p->visitor && !p->dialback) {
        node_emit(n, NODE_EVENT_PEER_UP, NULL, p->key);
    }
    node_dialback_tick(n, node_mono_ms(n)); /* a peer to ask, maybe */
    char k[24];
    node_short_key(k, p->key);
    log_line(node_log(n), again || p->transient || p->visitor ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
             "peer %s ready%s (%s, %s, %s)", k, again ? " again" : "",
             p->dir == TRANSPORT_OUT ? "outbound" : "inbound",
             p->endpoint[0] ? p->endpoint : "no listen address", p->software);
}

/* Whether another visitor may come in: below the cap, or the one used
 * longest ago, if idle for a second, is let go (told, so it does not send
 * into a connection we forgot). */
static bool
visitor_room(node_t *n)
{
    peertab_counts_t c;
    peertab_counts(n->peers, &c);
    if (c.visitors < NODE_VISITORS_MAX) {
        return true;
    }
    uint64_t now = node_mono_ms(n);
    peer_t *oldest = NULL;
    size_t it = 0;
    for (peer_t *p; (p = peertab_next(n->peers, &it)) != NULL;) {
        if (p->visitor && (oldest == NULL || p->used_ms < oldest->used_ms)) {
            oldest = p;
        }
    }
    if (oldest == NULL || now - oldest->used_ms < NODE_EVICT_VISITOR_MS) {
        return false;
    }
    node_send_error(n, TRANSPORT_IN, oldest->key, 0, WIRE_ERR_BUSY, "visitors full");
    node_peer_forget(n, oldest, "idle visitor, and its place was needed", false);
    return true;
}

/* HELLO from a node with no slot yet: only inbound connections get here. */
static void
on_first_hello(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const wire_msg_t *m,
               const char *peer_addr)
{
    /* A connection that does not ask for gossip only carries DHT
     * requests: served beside the peer slots, so a full node still answers
     * lookups. */
    bool visitor = (m->u.hello.caps & WIRE_CAP_GOSSIP) == 0;
    if (visitor && !visitor_room(n)) {
        node_send_error(n, TRANSPORT_IN, key, m->request_id, WIRE_ERR_BUSY, "no free slot");
        return;
    }
    /* When full, a newcomer is still let in for a while, without gossip, so
     * it can learn other contacts (PEERS, the DHT) instead of being turned
     * away knowing no one else. */
    bool probation = false;
    if (!visitor && !node_slot_free(n, TRANSPORT_IN) &&
        !node_evict_idle(n, TRANSPORT_IN, node_mono_ms(n))) {
        peertab_counts_t counts;
        peertab_counts(n->peers, &counts);
        if (counts.probation >= NODE_PROBATION_MAX) {
            node_send_error(n, TRANSPORT_IN, key, m->request_id, WIRE_ERR_BUSY, "no free slot");
            return;
        }
        probation = true;
    }
    peer_t *p = node_peer_add(n, key, TRANSPORT_IN);
    if (p == NULL) {
        /* Out of memory, or the table is full: said, not left to time out. */
        node_send_error(n, TRANSPORT_IN, key, m->request_id, WIRE_ERR_BUSY, "no free slot");
        return;
    }
    p->probation = probation;
    p->visitor = visitor;
    /* Our HELLO first: taking theirs may send DHT requests at once, and the
     * other side ignores everything until it has our HELLO. We gossip on
     * the connection when the side that opened it asked to. */
    p->offered_gossip = !probation && (m->u.hello.caps & WIRE_CAP_GOSSIP) != 0;
    node_send_hello(n, p, m->request_id);
    take_hello(n, p, &m->u.hello, peer_addr, false);
    /* Each side asks the other for contacts once HELLO is through. */
    send_peers_req(n, p);
    first_ping(n, p);
}

static bool
hello_ok(node_t *n, transport_dir_t dir, const uint8_t key[KEYS_PUBLIC_SIZE], const wire_msg_t *m)
{
    if (strcmp(m->u.hello.network, n->network) != 0) {
        char why[WIRE_ERROR_TEXT_MAX];
        snprintf(why, sizeof why, "this node is on network '%s'", n->network);
        node_send_error(n, dir, key, m->request_id, WIRE_ERR_NETWORK, why);
        log_line(node_log(n), LOG_LEVEL_INFO, "refused a node of network '%s'", m->u.hello.network);
        if (dir == TRANSPORT_IN) {
            node_refuse_key(n, key);
        }
        return false;
    }
    /* The key in HELLO must be the key that CURVE authenticated. */
    if (sodium_memcmp(m->u.hello.node_key, key, KEYS_PUBLIC_SIZE) != 0) {
        n->malformed++;
        return false;
    }
    return true;
}

/* HELLO opens every connection. On an inbound peer we already have, it
 * means the peer connected again (after a restart, say) or did not get our
 * answer: either way it is answered. On an outbound peer it is the answer. */
static void
on_hello(node_t *n, peer_t *p, const wire_msg_t *m, const char *peer_addr)
{
    if (!hello_ok(n, p->dir, p->key, m)) {
        return;
    }
    bool was_ready = p->state == PEER_READY;
    bool kept_now = false;
    /* Answer first (see on_first_hello). */
    if (p->dir == TRANSPORT_IN) {
        bool wants = (m->u.hello.caps & WIRE_CAP_GOSSIP) != 0;
        if (p->visitor && wants && node_slot_free(n, TRANSPORT_IN)) {
            /* Its side now keeps the connection (a dial-back or a lookup's
             * connection it made a neighbour): it takes a slot. */
            p->visitor = false;
            kept_now = true;
        }
        p->offered_gossip = !p->probation && !p->visitor && wants;
        node_send_hello(n, p, m->request_id);
    }
    if (!was_ready || p->dir == TRANSPORT_IN) {
        take_hello(n, p, &m->u.hello, peer_addr, was_ready);
    } else {
        /* The answer to a HELLO we sent again on a ready connection, after
         * it went from transient to kept: its caps may have changed. */
        p->caps = m->u.hello.caps;
        node_gossip_check(n, p);
        if (p->rtt_us < 0) {
            first_ping(n, p);
        }
    }
    if (!was_ready) {
        if (!p->dialback) { /* a dial-back connection closes at once */
            send_peers_req(n, p);
        }
        first_ping(n, p);
    } else if (kept_now) {
        char k[24];
        node_short_key(k, p->key);
        log_line(node_log(n), LOG_LEVEL_INFO, "peer %s kept (inbound, %s)", k,
                 p->endpoint[0] ? p->endpoint : "no listen address");
        if (p->rtt_us < 0) {
            first_ping(n, p); /* measured as for any kept peer */
        }
    }
}

static void
on_pong(node_t *n, peer_t *p, const wire_msg_t *m)
{
    if (m->u.ping_nonce == p->ping_nonce) {
        uint64_t now = node_mono_us(n);
        p->rtt_us = now > p->ping_sent_us ? (int64_t)(now - p->ping_sent_us) : 0;
        n->pongs++;
        node_gossip_rtt_changed(n);
        /* On a dial-back connection: what went before the PING (DIAL_BACK)
         * has arrived, so it can close now. */
        p->dialback_done = p->dialback;
    }
}

void
node_send_ping(node_t *n, peer_t *p)
{
    send_ping(n, p, node_mono_ms(n));
}

/* Answers with a random choice of ready peers with verified endpoints: a
 * crowd of newcomers asking one bootstrap node spreads over all it knows
 * instead of piling onto the same few. */
static void
on_peers_req(node_t *n, peer_t *p, const wire_msg_t *m)
{
    peer_t *pick[NODE_PEERS_MAX + NODE_PROBATION_MAX];
    size_t np = 0, it = 0;
    for (peer_t *q;
         np < sizeof pick / sizeof pick[0] && (q = peertab_next(n->peers, &it)) != NULL;) {
        if (q != p && q->state == PEER_READY && q->endpoint[0] != '\0' && q->endpoint_verified &&
            memcmp(q->key, p->key, KEYS_PUBLIC_SIZE) != 0) {
            pick[np++] = q;
        }
    }
    wire_msg_t *r = n->tx;
    wire_init(r, WIRE_PEERS, m->request_id);
    for (size_t i = 0; i < np && r->u.peers.n < m->u.peers_max; i++) {
        size_t j = i + randombytes_uniform((uint32_t)(np - i));
        peer_t *q = pick[j];
        pick[j] = pick[i];
        wire_contact_t *c = &r->u.peers.contacts[r->u.peers.n++];
        memcpy(c->node_key, q->key, KEYS_PUBLIC_SIZE);
        snprintf(c->endpoint.s, sizeof c->endpoint.s, "%s", q->endpoint);
    }
    node_send_msg(n, p, r);
    if (p->probation && p->answered_ms == 0) {
        p->answered_ms = node_mono_ms(n);
    }
}

static void
on_peers(node_t *n, peer_t *p, const wire_msg_t *m)
{
    p->peers_given = m->u.peers.n;
    for (uint8_t i = 0; i < m->u.peers.n; i++) {
        node_contact_note(n, m->u.peers.contacts[i].node_key, m->u.peers.contacts[i].endpoint.s);
    }
}

static void
on_error_msg(node_t *n, peer_t *p, const wire_msg_t *m)
{
    char k[24];
    node_short_key(k, p->key);
    log_line(node_log(n), LOG_LEVEL_INFO, "peer %s says: error %u: %s", k, m->u.error.code,
             m->u.error.text);
    if (m->u.error.code == WIRE_ERR_NETWORK || m->u.error.code == WIRE_ERR_BUSY) {
        /* Refused at HELLO for want of a slot: soon again. Let go after
         * probation, or evicted, we have its contacts: not soon, unless it
         * gave none (in a crowd, a full node may know no peer it has
         * dialled back yet). The DHT's transient connections hear the
         * same refusals; they do not move the schedule of the connection
         * the node keeps. */
        bool busy = m->u.error.code == WIRE_ERR_BUSY;
        if (!(busy && p->transient)) {
            node_contact_refused(n, p->key,
                                 busy && (p->state != PEER_READY || p->peers_given == 0));
        }
        node_peer_forget(n, p, "refused us", m->u.error.code == WIRE_ERR_NETWORK);
    } else if (m->u.error.code == WIRE_ERR_HELLO && p->state == PEER_READY) {
        /* It no longer knows this connection (it restarted, or let us go):
         * whatever we send on it is lost. */
        node_peer_forget(n, p, "it forgot this connection", false);
    }
}

/* PONG, PEERS, DIAL_RESULT and ERROR answer a request of ours, or are
 * dropped. */
static bool
is_answer(uint8_t type)
{
    return type == WIRE_PONG || type == WIRE_PEERS || type == WIRE_ERROR ||
           type == WIRE_DIAL_RESULT || type == WIRE_RESERVED;
}

static void
dispatch(node_t *n, peer_t *p, const wire_msg_t *m, const char *peer_addr)
{
    uint64_t now = node_mono_ms(n);
    p->last_seen_ms = now;
    if (wire_is_dht(m->type)) {
        p->used_ms = now;
        node_dht_receive(n, p, &m->u.dht);
        return;
    }
    if (is_answer(m->type) && !request_close(p, m)) {
        /* An ERROR that answers a HELLO (network, busy) has no request, nor
         * one with request id 0 on a ready connection: the other side let
         * us go (evicted, probation over), and says so. */
        bool notice = m->type == WIRE_ERROR && (p->state != PEER_READY || m->request_id == 0);
        if (!notice) {
            n->unsolicited++;
            return;
        }
    }
    switch (m->type) {
    case WIRE_HELLO:
        on_hello(n, p, m, peer_addr);
        break;
    case WIRE_PING: {
        uint64_t nonce = m->u.ping_nonce;
        wire_msg_t *r = n->tx;
        wire_init(r, WIRE_PONG, m->request_id);
        r->u.ping_nonce = nonce;
        node_send_msg(n, p, r);
        break;
    }
    case WIRE_PONG:
        on_pong(n, p, m);
        break;
    case WIRE_PEERS_REQ:
        on_peers_req(n, p, m);
        break;
    case WIRE_PEERS:
        on_peers(n, p, m);
        break;
    case WIRE_ERROR:
        on_error_msg(n, p, m);
        break;
    case WIRE_DIAL_REQ:
    case WIRE_DIAL_BACK:
    case WIRE_DIAL_RESULT:
        node_dialback_receive(n, p, m, peer_addr);
        break;
    case WIRE_RESERVE:
    case WIRE_RESERVED:
    case WIRE_CONNECT:
        node_relay_receive(n, p, m, peer_addr);
        break;
    default:
        break;
    }
}

void
node_tend_peer(node_t *n, peer_t *p, uint64_t now)
{
    if (p->state != PEER_READY) {
        if (now - p->since_ms > NODE_CONNECT_TIMEOUT_MS) {
            node_contact_failed(n, p->key);
            node_peer_forget(n, p, "no answer to HELLO", true);
        } else if (p->dir == TRANSPORT_OUT && now - p->hello_sent_ms > 3000) {
            node_send_hello(n, p, ++n->next_request_id);
        }
        return;
    }
    requests_expire(n, p, now);
    if (p->probation && (now - p->since_ms > NODE_PROBATION_MS ||
                         (p->answered_ms != 0 && now - p->answered_ms > NODE_PROBATION_GRACE_MS))) {
        node_send_error(n, TRANSPORT_IN, p->key, 0, WIRE_ERR_BUSY, "full; try the contacts given");
        node_peer_forget(n, p, "probation over", false);
        return;
    }
    if (now - p->last_seen_ms > NODE_PEER_TIMEOUT_MS) {
        node_peer_forget(n, p, "silent for a minute", true);
        return;
    }
    if (p->dialback && now - p->ready_ms > NODE_DIALBACK_LINGER_MS) {
        node_peer_forget(n, p, "dial-back done", false);
        return;
    }
    if (p->transient && p->dir == TRANSPORT_OUT && now - p->used_ms > NODE_IDLE_MS) {
        node_peer_forget(n, p, "idle", false);
        return;
    }
    if (p->visitor && now - p->used_ms > NODE_VISITOR_IDLE_MS) {
        node_peer_forget(n, p, "idle visitor", false);
        return;
    }
    /* A visitor is the other side's connection: it pings, and may close it
     * at any moment (a dial-back's within seconds), so nothing goes on it
     * unasked. */
    if (now - p->last_seen_ms > NODE_PING_EVERY_MS && !p->visitor) {
        send_ping(n, p, now);
    }
}

void
node_exchange(node_t *n, uint64_t now)
{
    peertab_counts_t c;
    peertab_counts(n->peers, &c);
    if (c.ready == 0) {
        return;
    }
    peer_t *p = peertab_ready_at(n->peers, randombytes_uniform((uint32_t)c.ready));
    if (p != NULL) {
        send_peers_req(n, p);
    }
    n->last_exchange_ms = now;
}

void
node_hello_receive(node_t *n, transport_dir_t dir, const uint8_t key[KEYS_PUBLIC_SIZE],
                   const char *peer_addr, const wire_msg_t *m)
{
    peer_t *p = peertab_find(n->peers, key, (int)dir);
    if (p == NULL && dir == TRANSPORT_IN && m->type == WIRE_HELLO) {
        if (hello_ok(n, dir, key, m)) {
            on_first_hello(n, key, m, peer_addr);
        }
        return;
    }
    if (p == NULL) {
        /* An ERROR is never answered, not even one that came first. */
        if (dir == TRANSPORT_IN && m->type != WIRE_ERROR && node_error_answer_allowed(n)) {
            node_send_error(n, dir, key, m->request_id, WIRE_ERR_HELLO, "send HELLO first");
        }
        return;
    }
    if (p->state != PEER_READY && m->type != WIRE_HELLO && m->type != WIRE_ERROR) {
        return;
    }
    dispatch(n, p, m, peer_addr);
}
