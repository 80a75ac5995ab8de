#include "node.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bootstrap.h"
#include "gossipcaps.h"
#include "keytext.h"
#include "node_int.h"

const char *
node_strerror(node_err_t err)
{
    switch (err) {
    case NODE_OK:
        return "ok";
    case NODE_ENOMEM:
        return "out of memory";
    case NODE_ETRANSPORT:
        return "cannot open the network sockets";
    case NODE_EINVAL:
        return "invalid configuration or argument";
    case NODE_EBUSY:
        return "too many lookups at once; try again shortly";
    case NODE_ENOPEERS:
        return "no node known to ask (the routing table is empty)";
    }
    return "unknown node error";
}

uint64_t
node_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const log_t *
lg(node_t *n)
{
    return n->cfg.log;
}

const log_t *
node_log(node_t *n)
{
    return n->cfg.log;
}

void
node_short_key(char out[24], const uint8_t key[32])
{
    char t[KEYTEXT_BUFSZ];
    keytext_encode(t, KEYTEXT_NODE, key);
    snprintf(out, 24, "%.14s...", t);
}

/* ---- peers and contacts ---- */

static peer_t *
peer_find(node_t *n, const uint8_t key[32], int dir)
{
    for (size_t i = 0; i < n->peers_cap; i++) {
        peer_t *p = &n->peers[i];
        if (p->used && memcmp(p->key, key, 32) == 0 && (dir < 0 || (int)p->dir == dir)) {
            return p;
        }
    }
    return NULL;
}

/* Peers in a direction (-1: both), those on probation not counted. */
static size_t
peer_count(node_t *n, int dir)
{
    size_t c = 0;
    for (size_t i = 0; i < n->peers_cap; i++) {
        const peer_t *p = &n->peers[i];
        if (p->used && !p->probation && (dir < 0 || (int)p->dir == dir)) {
            c++;
        }
    }
    return c;
}

static size_t
probation_count(node_t *n)
{
    size_t c = 0;
    for (size_t i = 0; i < n->peers_cap; i++) {
        c += n->peers[i].used && n->peers[i].probation;
    }
    return c;
}

/* At least a third of the slots are for connections we open ourselves, so
 * inbound connections alone cannot surround the node. */
static bool
slot_free(node_t *n, transport_dir_t dir)
{
    size_t reserved = (n->peers_max + 2) / 3;
    if (peer_count(n, -1) >= n->peers_max) {
        return false;
    }
    return dir == TRANSPORT_OUT || peer_count(n, TRANSPORT_IN) < n->peers_max - reserved;
}

static peer_t *
peer_add(node_t *n, const uint8_t key[32], transport_dir_t dir)
{
    for (size_t i = 0; i < n->peers_cap; i++) {
        peer_t *p = &n->peers[i];
        if (!p->used) {
            memset(p, 0, sizeof *p);
            p->used = true;
            memcpy(p->key, key, 32);
            p->dir = dir;
            p->rtt_ms = -1;
            p->since_ms = p->last_seen_ms = p->used_ms = node_now_ms();
            return p;
        }
    }
    return NULL;
}

static void queue_flush(node_t *n, peer_t *p);
static void send_error(node_t *n, transport_dir_t dir, const uint8_t key[32], uint32_t rid,
                       wire_error_code_t code, const char *text);

static void
queue_clear(peer_t *p)
{
    for (unsigned i = 0; i < p->queued; i++) {
        free(p->queue[i]);
        p->queue[i] = NULL;
    }
    p->queued = 0;
}

/* Forgets a peer. failed: it broke (no answer, silence, refusal), which
 * the DHT is told so its requests to it fail now; an idle connection we
 * close is not a failure of the node at the other end. */
static void
peer_drop(node_t *n, peer_t *p, const char *why, bool failed)
{
    char k[24];
    node_short_key(k, p->key);
    /* Transient connections come and go with every lookup: not news. */
    log_line(lg(n), p->transient ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, "peer %s (%s%s) gone: %s", k,
             p->transient ? "transient " : "", p->dir == TRANSPORT_OUT ? "outbound" : "inbound",
             why);
    if (p->dir == TRANSPORT_OUT) {
        transport_disconnect(n->transport, p->key);
    }
    queue_clear(p);
    p->used = false;
    node_gossip_check(n, p);
    if (failed) {
        uint8_t key[32];
        memcpy(key, p->key, 32);
        node_dht_peer_lost(n, key);
    }
}

/* With two connections to one node (each side dialled the other), the one
 * heard from last: the other may be a connection the node has already left. */
peer_t *
node_peer_ready(node_t *n, const uint8_t key[32])
{
    peer_t *best = NULL;
    for (size_t i = 0; i < n->peers_cap; i++) {
        peer_t *p = &n->peers[i];
        if (p->used && p->state == PEER_READY && memcmp(p->key, key, 32) == 0 &&
            (best == NULL || p->last_seen_ms > best->last_seen_ms)) {
            best = p;
        }
    }
    return best;
}

/* Frees the slot of the transient peer (or, for inbound, any peer) idle
 * the longest, if it has been idle NODE_EVICT_IDLE_MS. */
static bool
evict_idle(node_t *n, transport_dir_t dir, uint64_t now)
{
    /* A connection without gossip goes first: gossip links carry posts
     * even while they are quiet. */
    peer_t *victim = NULL;
    for (size_t i = 0; i < n->peers_cap; i++) {
        peer_t *p = &n->peers[i];
        bool candidate = p->used && !p->probation && p->dir == dir &&
                         (p->transient || dir == TRANSPORT_IN) &&
                         now - p->used_ms >= NODE_EVICT_IDLE_MS;
        bool better = victim == NULL || (victim->gossip_up && !p->gossip_up) ||
                      (victim->gossip_up == p->gossip_up && p->used_ms < victim->used_ms);
        if (candidate && better) {
            victim = p;
        }
    }
    if (victim == NULL) {
        return false;
    }
    /* Told, so it does not go on sending into a connection we forgot. */
    if (victim->dir == TRANSPORT_IN) {
        send_error(n, TRANSPORT_IN, victim->key, 0, WIRE_ERR_BUSY, "slot needed by another peer");
    }
    peer_drop(n, victim, "idle, and its slot was needed", false);
    return true;
}

static contact_t *
contact_find(node_t *n, const uint8_t key[32])
{
    for (int i = 0; i < NODE_CONTACTS_MAX; i++) {
        if (n->contacts[i].used && memcmp(n->contacts[i].key, key, 32) == 0) {
            return &n->contacts[i];
        }
    }
    return NULL;
}

void
node_drop_peer(node_t *n, peer_t *p, const char *why)
{
    contact_t *c = contact_find(n, p->key);
    if (c != NULL) {
        c->failures++;
        c->next_try_ms = node_now_ms() + (5000u << (c->failures < 7 ? c->failures : 7));
    }
    peer_drop(n, p, why, true);
}

/* Learns of a node. The table is bounded: when full, a contact that failed
 * most is replaced. */
static void
contact_note(node_t *n, const uint8_t key[32], const char *endpoint)
{
    if (memcmp(key, n->cfg.node_key->pk, 32) == 0 || !wire_endpoint_valid(endpoint)) {
        return;
    }
    contact_t *c = contact_find(n, key);
    for (int i = 0; c == NULL && i < NODE_CONTACTS_MAX; i++) {
        if (!n->contacts[i].used) {
            c = &n->contacts[i];
            memset(c, 0, sizeof *c);
        }
    }
    for (int i = 0; c == NULL && i < NODE_CONTACTS_MAX; i++) {
        if (n->contacts[i].failures > 0) {
            c = &n->contacts[i];
            memset(c, 0, sizeof *c);
        }
    }
    if (c == NULL) {
        return;
    }
    c->used = true;
    memcpy(c->key, key, 32);
    snprintf(c->endpoint, sizeof c->endpoint, "%s", endpoint);
}

static size_t
contact_count(node_t *n)
{
    size_t c = 0;
    for (int i = 0; i < NODE_CONTACTS_MAX; i++) {
        c += n->contacts[i].used;
    }
    return c;
}

/* ---- requests ---- */

static uint8_t
answer_type(uint8_t request_type)
{
    return request_type == WIRE_PING ? WIRE_PONG : WIRE_PEERS;
}

/* Takes a request id and remembers it. False when the peer already has
 * NODE_PENDING_MAX requests out: the caller does not send. */
static bool
request_open(node_t *n, peer_t *p, uint8_t type, uint64_t now, uint32_t *id)
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
request_close(peer_t *p, const wire_msg_t *answer, uint64_t now, uint64_t *rtt_ms)
{
    for (int i = 0; i < NODE_PENDING_MAX; i++) {
        request_t *r = &p->pending[i];
        bool error_reply = answer->type == WIRE_ERROR;
        if (r->id != 0 && r->id == answer->request_id &&
            (error_reply || answer_type(r->type) == answer->type)) {
            *rtt_ms = now - r->sent_ms;
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
            log_line(lg(n), LOG_LEVEL_DEBUG, "%s request %u timed out", wire_type_name(r->type),
                     (unsigned)r->id);
            r->id = 0;
            n->timeouts++;
            expired++;
        }
    }
    return expired;
}

/* ---- sending ---- */

static void
send_msg(node_t *n, peer_t *p, const wire_msg_t *m)
{
    size_t len = 0;
    if (wire_encode(m, n->sendbuf, WIRE_MAX_FRAME, &len) != WIRE_OK) {
        log_line(lg(n), LOG_LEVEL_ERROR, "cannot encode a %s message", wire_type_name(m->type));
        return;
    }
    (void)transport_send(n->transport, p->dir, p->key, n->sendbuf, len);
}

static void
send_raw(node_t *n, transport_dir_t dir, const uint8_t key[32], const wire_msg_t *m)
{
    peer_t tmp = {.dir = dir};
    memcpy(tmp.key, key, 32);
    send_msg(n, &tmp, m);
}

static void
send_error(node_t *n, transport_dir_t dir, const uint8_t key[32], uint32_t rid,
           wire_error_code_t code, const char *text)
{
    wire_msg_t *m = n->tx;
    wire_init(m, WIRE_ERROR, rid);
    m->u.error.code = (uint16_t)code;
    snprintf(m->u.error.text, sizeof m->u.error.text, "%s", text);
    send_raw(n, dir, key, m);
}

/* Splits "tcp://HOST:PORT" into the host and the port; false if it is not
 * of that shape. */
static bool
split_endpoint(const char *ep, const char **host, size_t *host_len, uint16_t *port)
{
    if (strncmp(ep, "tcp://", 6) != 0) {
        return false;
    }
    const char *h = ep + 6;
    const char *colon = strrchr(h, ':');
    if (colon == NULL || colon == h) {
        return false;
    }
    char *end = NULL;
    unsigned long v = strtoul(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || v > 65535) {
        return false;
    }
    *host = h;
    *host_len = (size_t)(colon - h);
    *port = (uint16_t)v;
    return true;
}

static bool
wildcard_host(const char *host, size_t len)
{
    return (len == 7 && memcmp(host, "0.0.0.0", 7) == 0) ||
           (len == 4 && memcmp(host, "[::]", 4) == 0) || (len == 1 && host[0] == '*');
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
    memcpy(h->node_key, n->cfg.node_key->pk, 32);
    snprintf(h->software, sizeof h->software, "samizdat/%s", SAMIZDAT_VERSION);
    /* Caps are per connection: gossip is offered only where it may run. */
    h->caps = WIRE_CAP_DHT | (gossip ? WIRE_CAP_GOSSIP : 0);
    if (n->cfg.announce != NULL && wire_endpoint_valid(n->cfg.announce)) {
        memcpy(h->endpoints[h->n_endpoints++].s, n->cfg.announce, strlen(n->cfg.announce) + 1);
    }
    char bound[TRANSPORT_LISTEN_MAX][TRANSPORT_ENDPOINT_MAX];
    size_t nb = 0;
    transport_bound(n->transport, bound, TRANSPORT_LISTEN_MAX, &nb);
    for (size_t i = 0; i < nb; i++) {
        const char *host = NULL;
        size_t hlen = 0;
        uint16_t port = 0;
        if (!split_endpoint(bound[i], &host, &hlen, &port)) {
            continue;
        }
        if (wildcard_host(host, hlen)) {
            h->listen_port = h->listen_port ? h->listen_port : port;
        } else if (h->n_endpoints < WIRE_ENDPOINTS_MAX && wire_endpoint_valid(bound[i])) {
            memcpy(h->endpoints[h->n_endpoints++].s, bound[i], strlen(bound[i]) + 1);
        }
    }
}

static void
send_hello(node_t *n, peer_t *p, uint32_t rid)
{
    fill_hello(n, n->tx, rid, p->offered_gossip);
    send_msg(n, p, n->tx);
    p->hello_sent_ms = node_now_ms();
}

static void
send_peers_req(node_t *n, peer_t *p)
{
    uint32_t id = 0;
    if (request_pending(p, WIRE_PEERS_REQ) ||
        !request_open(n, p, WIRE_PEERS_REQ, node_now_ms(), &id)) {
        return;
    }
    wire_msg_t *m = n->tx;
    wire_init(m, WIRE_PEERS_REQ, id);
    m->u.peers_max = WIRE_PEERS_MAX;
    send_msg(n, p, m);
}

static void
send_ping(node_t *n, peer_t *p, uint64_t now)
{
    uint32_t id = 0;
    if (request_pending(p, WIRE_PING) || !request_open(n, p, WIRE_PING, now, &id)) {
        return;
    }
    wire_msg_t *m = n->tx;
    wire_init(m, WIRE_PING, id);
    randombytes_buf(&p->ping_nonce, sizeof p->ping_nonce);
    m->u.ping_nonce = p->ping_nonce;
    send_msg(n, p, m);
}

/* ---- receiving ---- */

/* Where an inbound peer accepts connections: its first explicit endpoint,
 * else the address its connection comes from with its listen port. */
static bool
inbound_endpoint(const wire_hello_t *h, const char *peer_addr, char *out, size_t cap)
{
    if (h->n_endpoints > 0) {
        snprintf(out, cap, "%s", h->endpoints[0].s);
        return true;
    }
    if (h->listen_port == 0 || peer_addr[0] == '\0') {
        return false;
    }
    const char *v4 = strncmp(peer_addr, "::ffff:", 7) == 0 ? peer_addr + 7 : NULL;
    if (v4 != NULL || strchr(peer_addr, ':') == NULL) {
        snprintf(out, cap, "tcp://%s:%u", v4 ? v4 : peer_addr, (unsigned)h->listen_port);
    } else {
        snprintf(out, cap, "tcp://[%s]:%u", peer_addr, (unsigned)h->listen_port);
    }
    if (!wire_endpoint_valid(out)) {
        out[0] = '\0';
        return false;
    }
    return true;
}

static void
take_hello(node_t *n, peer_t *p, const wire_hello_t *h, const char *peer_addr, bool again)
{
    p->state = PEER_READY;
    p->caps = h->caps;
    snprintf(p->software, sizeof p->software, "%s", h->software);
    if (p->dir == TRANSPORT_IN) {
        (void)inbound_endpoint(h, peer_addr, p->endpoint, sizeof p->endpoint);
    }
    if (p->endpoint[0] != '\0') {
        contact_note(n, p->key, p->endpoint);
        (void)store_peer_save(n->cfg.store, p->key, p->endpoint, node_now_ms());
    }
    queue_flush(n, p);
    node_dht_peer_ready(n, p);
    node_gossip_check(n, p);
    char k[24];
    node_short_key(k, p->key);
    log_line(lg(n), again || p->transient ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, "peer %s ready%s (%s, %s, %s)", k,
             again ? " again" : "", p->dir == TRANSPORT_OUT ? "outbound" : "inbound",
             p->endpoint[0] ? p->endpoint : "no listen address", p->software);
}

/* HELLO from a node with no slot yet: only inbound connections get here. */
static void
on_first_hello(node_t *n, const uint8_t key[32], const wire_msg_t *m, const char *peer_addr)
{
    /* When full, a newcomer is still let in for a while, without gossip, so
     * it can learn other contacts (PEERS, the DHT) instead of being turned
     * away knowing no one else. */
    bool probation = false;
    if (!slot_free(n, TRANSPORT_IN) && !evict_idle(n, TRANSPORT_IN, node_now_ms())) {
        if (probation_count(n) >= NODE_PROBATION_MAX) {
            send_error(n, TRANSPORT_IN, key, m->request_id, WIRE_ERR_BUSY, "no free slot");
            return;
        }
        probation = true;
    }
    peer_t *p = peer_add(n, key, TRANSPORT_IN);
    if (p == NULL) {
        return;
    }
    p->probation = probation;
    /* Our HELLO first: taking theirs may send DHT requests at once, and the
     * other side ignores everything until it has our HELLO. We gossip on
     * the connection when the side that opened it asked to. */
    p->offered_gossip = !probation && (m->u.hello.caps & WIRE_CAP_GOSSIP) != 0;
    send_hello(n, p, m->request_id);
    take_hello(n, p, &m->u.hello, peer_addr, false);
}

static bool
hello_ok(node_t *n, transport_dir_t dir, const uint8_t key[32], const wire_msg_t *m)
{
    if (strcmp(m->u.hello.network, n->network) != 0) {
        char why[WIRE_ERROR_TEXT_MAX];
        snprintf(why, sizeof why, "this node is on network '%s'", n->network);
        send_error(n, dir, key, m->request_id, WIRE_ERR_NETWORK, why);
        log_line(lg(n), LOG_LEVEL_INFO, "refused a node of network '%s'", m->u.hello.network);
        return false;
    }
    /* The key in HELLO must be the key that CURVE authenticated. */
    if (sodium_memcmp(m->u.hello.node_key, key, 32) != 0) {
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
    /* Answer first (see on_first_hello). */
    if (p->dir == TRANSPORT_IN) {
        p->offered_gossip = !p->probation && (m->u.hello.caps & WIRE_CAP_GOSSIP) != 0;
        send_hello(n, p, m->request_id);
    }
    if (!was_ready || p->dir == TRANSPORT_IN) {
        take_hello(n, p, &m->u.hello, peer_addr, was_ready);
    } else {
        /* The answer to a HELLO we sent again on a ready connection, after
         * it went from transient to kept: its caps may have changed. */
        p->caps = m->u.hello.caps;
        node_gossip_check(n, p);
    }
    if (!was_ready) {
        send_peers_req(n, p);
    }
}

static void
on_pong(node_t *n, peer_t *p, const wire_msg_t *m, uint64_t rtt)
{
    (void)n;
    if (m->u.ping_nonce == p->ping_nonce) {
        p->rtt_ms = (int64_t)rtt;
    }
}

static void
on_peers_req(node_t *n, peer_t *p, const wire_msg_t *m)
{
    wire_msg_t *r = n->tx;
    wire_init(r, WIRE_PEERS, m->request_id);
    for (size_t i = 0; i < n->peers_cap && r->u.peers.n < m->u.peers_max; i++) {
        peer_t *q = &n->peers[i];
        if (!q->used || q == p || q->state != PEER_READY || q->endpoint[0] == '\0' ||
            memcmp(q->key, p->key, 32) == 0) {
            continue;
        }
        wire_contact_t *c = &r->u.peers.contacts[r->u.peers.n++];
        memcpy(c->node_key, q->key, 32);
        snprintf(c->endpoint.s, sizeof c->endpoint.s, "%s", q->endpoint);
    }
    send_msg(n, p, r);
}

static void
on_peers(node_t *n, const wire_msg_t *m)
{
    for (uint8_t i = 0; i < m->u.peers.n; i++) {
        contact_note(n, m->u.peers.contacts[i].node_key, m->u.peers.contacts[i].endpoint.s);
    }
}

static void
on_error_msg(node_t *n, peer_t *p, const wire_msg_t *m)
{
    char k[24];
    node_short_key(k, p->key);
    log_line(lg(n), LOG_LEVEL_INFO, "peer %s says: error %u: %s", k, m->u.error.code, m->u.error.text);
    if (m->u.error.code == WIRE_ERR_NETWORK || m->u.error.code == WIRE_ERR_BUSY) {
        contact_t *c = contact_find(n, p->key);
        if (c != NULL) {
            c->failures++;
            c->next_try_ms = node_now_ms() + 60000u * c->failures;
        }
        peer_drop(n, p, "refused us", m->u.error.code == WIRE_ERR_NETWORK);
    } else if (m->u.error.code == WIRE_ERR_HELLO && p->state == PEER_READY) {
        /* It no longer knows this connection (it restarted, or let us go):
         * whatever we send on it is lost. */
        peer_drop(n, p, "it forgot this connection", false);
    }
}

/* PONG, PEERS and ERROR answer a request of ours, or are dropped. */
static bool
is_answer(uint8_t type)
{
    return type == WIRE_PONG || type == WIRE_PEERS || type == WIRE_ERROR;
}

static void
dispatch(node_t *n, peer_t *p, const wire_msg_t *m, const char *peer_addr)
{
    uint64_t now = node_now_ms();
    uint64_t rtt = 0;
    p->last_seen_ms = now;
    if (wire_is_dht(m->type)) {
        p->used_ms = now;
        node_dht_receive(n, p, &m->u.dht);
        return;
    }
    if (is_answer(m->type) && !request_close(p, m, now, &rtt)) {
        /* An ERROR that answers a HELLO (network, busy) has no request. */
        if (m->type != WIRE_ERROR || p->state == PEER_READY) {
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
        send_msg(n, p, r);
        break;
    }
    case WIRE_PONG:
        on_pong(n, p, m, rtt);
        break;
    case WIRE_PEERS_REQ:
        on_peers_req(n, p, m);
        break;
    case WIRE_PEERS:
        on_peers(n, m);
        break;
    case WIRE_ERROR:
        on_error_msg(n, p, m);
        break;
    default:
        break;
    }
}

/* What peers send wrong is logged at most NODE_PEER_LOG_PER_S times a
 * second, so a hostile peer cannot flood the log. */
static bool
peer_log_allowed(node_t *n)
{
    uint64_t second = node_now_ms() / 1000;
    if (second != n->log_second) {
        n->log_second = second;
        n->log_count = 0;
    }
    return n->log_count++ < NODE_PEER_LOG_PER_S;
}

static bool
is_gossip_frame(const uint8_t *data, size_t len)
{
    return len >= WIRE_HEADER_SIZE && data[0] == WIRE_VERSION && data[1] >= GOSSIP_TYPE_FIRST &&
           data[1] <= GOSSIP_TYPE_LAST;
}

static void
handle_msg(node_t *n, transport_dir_t dir, const uint8_t key[32], const char *peer_addr,
           const uint8_t *data, size_t len)
{
    /* Gossip frames have their own decoder (node/gossip/gossipmsg.c), run by the
     * state machine; only a ready peer's are taken. */
    if (is_gossip_frame(data, len) && len <= WIRE_MAX_FRAME) {
        peer_t *gp = peer_find(n, key, (int)dir);
        if (gp != NULL && gp->state == PEER_READY) {
            gp->last_seen_ms = node_now_ms();
            node_gossip_receive(n, gp, data, len);
        } else {
            n->unsolicited++;
        }
        return;
    }
    wire_msg_t *m = n->rx;
    wire_err_t err = wire_decode(m, data, len);
    if (err == WIRE_EVERSION || err == WIRE_ETYPE) {
        n->unknown++;
        send_error(n, dir, key, m->request_id,
                   err == WIRE_EVERSION ? WIRE_ERR_VERSION : WIRE_ERR_TYPE, wire_strerror(err));
        return;
    }
    if (err != WIRE_OK) {
        bool oversized = len > WIRE_MAX_FRAME;
        n->malformed += !oversized;
        n->oversized += oversized;
        if (peer_log_allowed(n)) {
            log_line(lg(n), LOG_LEVEL_DEBUG, "dropped a %s message of %zu bytes: %s",
                     oversized ? "too large" : "malformed", len, wire_strerror(err));
        }
        return;
    }
    peer_t *p = peer_find(n, key, (int)dir);
    if (p == NULL && dir == TRANSPORT_IN && m->type == WIRE_HELLO) {
        if (hello_ok(n, dir, key, m)) {
            on_first_hello(n, key, m, peer_addr);
        }
        return;
    }
    if (p == NULL) {
        if (dir == TRANSPORT_IN) {
            send_error(n, dir, key, m->request_id, WIRE_ERR_HELLO, "send HELLO first");
        }
        return;
    }
    if (p->state != PEER_READY && m->type != WIRE_HELLO && m->type != WIRE_ERROR) {
        return;
    }
    dispatch(n, p, m, peer_addr);
}

static void
on_transport_msg(void *ud, transport_dir_t dir, const uint8_t key[32], const char *peer_addr,
                 const uint8_t *data, size_t len)
{
    node_t *n = ud;
    handle_msg(n, dir, key, peer_addr, data, len);
    node_schedule(n);
}

static void
handle_event(node_t *n, transport_event_t ev, const uint8_t *key, const char *endpoint)
{
    peer_t *p = key ? peer_find(n, key, TRANSPORT_OUT) : NULL;
    if (ev == TRANSPORT_EV_CONNECTED && p != NULL && p->state != PEER_READY) {
        send_hello(n, p, ++n->next_request_id);
    } else if (ev == TRANSPORT_EV_AUTH_FAILED) {
        log_line(lg(n), p != NULL && p->transient ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN,
                 "handshake with %s failed: wrong node key, or not a samizdat node", endpoint);
        if (p != NULL && p->state != PEER_READY) {
            peer_drop(n, p, "handshake failed", true);
        }
    } else if (ev == TRANSPORT_EV_DISCONNECTED && p != NULL && p->state == PEER_READY) {
        /* ZeroMQ would reconnect, but to a node that may have restarted on
         * another port; dialling again later goes through HELLO anyway. */
        peer_drop(n, p, "connection lost", true);
    } else if (ev == TRANSPORT_EV_RETRYING && p != NULL && p->state != PEER_READY) {
        /* Refused or unreachable: ZeroMQ would keep trying; we back off. */
        contact_t *c = contact_find(n, p->key);
        if (c != NULL) {
            c->failures++;
        }
        peer_drop(n, p, "cannot connect", true);
    } else if (ev == TRANSPORT_EV_FLOOD_CUT) {
        log_line(lg(n), LOG_LEVEL_WARN, "cut off a connection that sent an endless message");
    }
}

static void
on_transport_event(void *ud, transport_event_t ev, const uint8_t *key, const char *endpoint)
{
    node_t *n = ud;
    handle_event(n, ev, key, endpoint);
    node_schedule(n);
}

/* ---- the clock ---- */

/* Opens an outbound connection and sends HELLO. NULL when there is no slot
 * or the connect fails. */
static peer_t *
connect_to(node_t *n, const uint8_t key[32], const char *endpoint, bool transient, uint64_t now)
{
    if (!slot_free(n, TRANSPORT_OUT) && !(transient && evict_idle(n, TRANSPORT_OUT, now))) {
        return NULL;
    }
    if (transport_connect(n->transport, key, endpoint) != TRANSPORT_OK) {
        return NULL;
    }
    peer_t *p = peer_add(n, key, TRANSPORT_OUT);
    if (p == NULL) {
        transport_disconnect(n->transport, key);
        return NULL;
    }
    p->transient = transient;
    p->offered_gossip = !transient;
    snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
    log_line(lg(n), transient ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, "connecting to %s", endpoint);
    send_hello(n, p, ++n->next_request_id);
    return p;
}

peer_t *
node_connect(node_t *n, const uint8_t key[32], const char *endpoint)
{
    if (memcmp(key, n->cfg.node_key->pk, 32) == 0 || !wire_endpoint_valid(endpoint)) {
        return NULL;
    }
    peer_t *p = peer_find(n, key, TRANSPORT_OUT);
    if (p != NULL) {
        node_keep_peer(n, p);
        return p;
    }
    return connect_to(n, key, endpoint, false, node_now_ms());
}

static void
dial(node_t *n, contact_t *c, uint64_t now)
{
    /* Back off on repeated failure: 5 s, 10 s, 20 s ... up to about ten
     * minutes, so a node back from a partition or a restart is found again
     * soon, and a dead one costs little. */
    uint32_t f = c->failures < 7 ? c->failures : 7;
    c->next_try_ms = now + (5000u << f);
    if (connect_to(n, c->key, c->endpoint, false, now) == NULL) {
        c->failures++;
    }
}

void
node_keep_peer(node_t *n, peer_t *p)
{
    if (!p->transient) {
        return;
    }
    p->transient = false;
    p->offered_gossip = true;
    /* A new HELLO offers gossip on the connection; the answer brings it up. */
    if (p->state == PEER_READY) {
        send_hello(n, p, ++n->next_request_id);
    }
}

/* Outbound peers kept as neighbours (not transient). */
static size_t
neighbours(node_t *n)
{
    size_t c = 0;
    for (size_t i = 0; i < n->peers_cap; i++) {
        c += n->peers[i].used && n->peers[i].dir == TRANSPORT_OUT && !n->peers[i].transient;
    }
    return c;
}

static void
dial_more(node_t *n, uint64_t now)
{
    size_t out = neighbours(n);
    for (int i = 0; i < NODE_CONTACTS_MAX && out < NODE_OUT_TARGET; i++) {
        contact_t *c = &n->contacts[i];
        if (!c->used || c->next_try_ms > now) {
            continue;
        }
        peer_t *p = peer_find(n, c->key, -1);
        if (p == NULL) {
            dial(n, c, now);
        } else if (p->dir == TRANSPORT_OUT && p->transient) {
            node_keep_peer(n, p); /* already connected: keep it as a neighbour */
        }
        out = neighbours(n);
    }
}

/* Sends what waited for the handshake. */
static void
queue_flush(node_t *n, peer_t *p)
{
    for (unsigned i = 0; i < p->queued; i++) {
        (void)transport_send(n->transport, p->dir, p->key, p->queue[i], p->queue_len[i]);
        free(p->queue[i]);
        p->queue[i] = NULL;
    }
    p->queued = 0;
}

static int
queue_push(peer_t *p, const uint8_t *frame, size_t len)
{
    uint8_t *copy = p->queued < NODE_QUEUE_MAX ? malloc(len) : NULL;
    if (copy == NULL) {
        return -1;
    }
    memcpy(copy, frame, len);
    p->queue[p->queued] = copy;
    p->queue_len[p->queued++] = len;
    return 0;
}

int
node_send_frame(node_t *n, const uint8_t key[32], const char *endpoint, const uint8_t *frame,
                size_t len)
{
    uint64_t now = node_now_ms();
    peer_t *p = node_peer_ready(n, key);
    if (p != NULL) {
        p->used_ms = now;
        return transport_send(n->transport, p->dir, p->key, frame, len) == TRANSPORT_OK ? 0 : -1;
    }
    p = peer_find(n, key, TRANSPORT_OUT);
    if (p == NULL) {
        if (endpoint == NULL || !wire_endpoint_valid(endpoint) ||
            memcmp(key, n->cfg.node_key->pk, 32) == 0) {
            return -1;
        }
        p = connect_to(n, key, endpoint, true, now);
        if (p == NULL) {
            return -1;
        }
    }
    return queue_push(p, frame, len);
}

static void
tend_peer(node_t *n, peer_t *p, uint64_t now)
{
    if (p->state != PEER_READY) {
        if (now - p->since_ms > NODE_CONNECT_TIMEOUT_MS) {
            contact_t *c = contact_find(n, p->key);
            if (c != NULL) {
                c->failures++;
            }
            peer_drop(n, p, "no answer to HELLO", true);
        } else if (p->dir == TRANSPORT_OUT && now - p->hello_sent_ms > 3000) {
            send_hello(n, p, ++n->next_request_id);
        }
        return;
    }
    requests_expire(n, p, now);
    if (p->probation && now - p->since_ms > NODE_PROBATION_MS) {
        send_error(n, TRANSPORT_IN, p->key, 0, WIRE_ERR_BUSY, "full; try the contacts given");
        peer_drop(n, p, "probation over", false);
        return;
    }
    if (now - p->last_seen_ms > NODE_PEER_TIMEOUT_MS) {
        peer_drop(n, p, "silent for a minute", true);
        return;
    }
    if (p->transient && p->dir == TRANSPORT_OUT && now - p->used_ms > NODE_IDLE_MS) {
        peer_drop(n, p, "idle", false);
        return;
    }
    if (now - p->last_seen_ms > NODE_PING_EVERY_MS) {
        send_ping(n, p, now);
    }
}

static void
save_peers(node_t *n, uint64_t now)
{
    for (size_t i = 0; i < n->peers_cap; i++) {
        peer_t *p = &n->peers[i];
        if (p->used && p->state == PEER_READY && p->endpoint[0] != '\0') {
            (void)store_peer_save(n->cfg.store, p->key, p->endpoint, now);
        }
    }
    n->last_save_ms = now;
}

/* Now and then ask a random ready peer for more contacts. */
static void
exchange(node_t *n, uint64_t now)
{
    size_t ready = 0;
    for (size_t i = 0; i < n->peers_cap; i++) {
        ready += n->peers[i].used && n->peers[i].state == PEER_READY;
    }
    if (ready == 0) {
        return;
    }
    uint32_t pick = randombytes_uniform((uint32_t)ready);
    for (size_t i = 0; i < n->peers_cap; i++) {
        peer_t *p = &n->peers[i];
        if (p->used && p->state == PEER_READY && pick-- == 0) {
            send_peers_req(n, p);
            break;
        }
    }
    n->last_exchange_ms = now;
}

static void
node_tick(node_t *n, uint64_t now)
{
    for (size_t i = 0; i < n->peers_cap; i++) {
        if (n->peers[i].used) {
            tend_peer(n, &n->peers[i], now);
        }
    }
    dial_more(n, now);
    node_gossip_feeds(n, now);
    node_gossip_progress(n, now);
    if (now - n->last_exchange_ms > 30000) {
        exchange(n, now);
    }
    if (now - n->last_save_ms > 30000) {
        save_peers(n, now);
    }
}

static void
on_clock(uv_timer_t *h)
{
    node_t *n = h->data;
    uint64_t now = node_now_ms();
    n->clock_due = 0;
    if (now >= n->next_tick_ms) {
        node_tick(n, now);
        n->next_tick_ms = now + NODE_TICK_MS;
    }
    (void)node_dht_tick(n, now);
    n->gossip_next = node_gossip_tick(n, now);
    node_schedule(n);
}

void
node_schedule(node_t *n)
{
    if (n->clock.data != n || uv_is_closing((uv_handle_t *)&n->clock)) {
        return;
    }
    uint64_t now = node_now_ms();
    uint64_t next = n->next_tick_ms;
    uint64_t dht_next = node_dht_next(n);
    if (dht_next != 0 && dht_next < next) {
        next = dht_next;
    }
    if (n->gossip_next != 0 && n->gossip_next < next) {
        next = n->gossip_next;
    }
    if (n->clock_due != 0 && n->clock_due <= next) {
        return; /* already armed early enough */
    }
    /* A few ms of slack gathers deadlines that fall close together. */
    uint64_t delay = next > now ? next - now + 2 : 1;
    n->clock_due = now + delay;
    uv_timer_start(&n->clock, on_clock, delay, 0);
}

/* ---- start and stop ---- */

static bool
on_saved_peer(void *ud, const uint8_t key[32], const char *endpoint, uint64_t last_seen_ms)
{
    (void)last_seen_ms;
    contact_note(ud, key, endpoint);
    node_dht_offer(ud, key, endpoint);
    return true;
}

static void
on_bootstrap_entry(void *ud, const uint8_t key[32], const char *endpoint)
{
    contact_note(ud, key, endpoint);
    node_dht_offer(ud, key, endpoint);
}

static void
on_lan_beacon(void *ud, const uint8_t key[32], const char *endpoint)
{
    node_t *n = ud;
    if (contact_find(n, key) == NULL && peer_find(n, key, -1) == NULL) {
        log_line(lg(n), LOG_LEVEL_INFO, "found %s on the local network", endpoint);
    }
    contact_note(n, key, endpoint);
    node_dht_offer(n, key, endpoint);
}

static node_err_t
start_transport(node_t *n)
{
    transport_config_t tc = {
        .key = n->cfg.node_key,
        .socks5 = n->cfg.socks5,
        /* Twice our own cap: a frame a little too large still reaches the
         * decoder and is counted; a larger one makes libzmq close the
         * connection before reading it. */
        .max_frame = 2 * WIRE_MAX_FRAME,
        .on_msg = on_transport_msg,
        .on_event = on_transport_event,
        .ud = n,
        .log = n->cfg.log,
    };
    static const char *const fallback = "tcp://*:7470";
    memcpy(tc.listen, n->cfg.listen, sizeof tc.listen);
    if (tc.listen[0] == NULL) {
        tc.listen[0] = fallback;
    }
    transport_err_t terr = transport_new(&n->transport, n->loop, &tc);
    if (terr != TRANSPORT_OK) {
        /* Out of memory is said as such, not as a socket failure. */
        return terr == TRANSPORT_ENOMEM ? NODE_ENOMEM : NODE_ETRANSPORT;
    }
    char bound[TRANSPORT_LISTEN_MAX][TRANSPORT_ENDPOINT_MAX];
    size_t nb = 0;
    transport_bound(n->transport, bound, TRANSPORT_LISTEN_MAX, &nb);
    for (size_t i = 0; i < nb; i++) {
        log_line(lg(n), LOG_LEVEL_INFO, "listening on %s", bound[i]);
    }
    return NODE_OK;
}

/* The first address of this host another host is likely to reach: a
 * non-loopback IPv4 address, else a global IPv6 one, else loopback. */
static void
guess_address(char *out, size_t cap, bool *v6)
{
    uv_interface_address_t *ifs = NULL;
    int count = 0;
    snprintf(out, cap, "127.0.0.1");
    *v6 = false;
    if (uv_interface_addresses(&ifs, &count) != 0) {
        return;
    }
    bool found6 = false;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < count; i++) {
            const uv_interface_address_t *a = &ifs[i];
            if (a->is_internal) {
                continue;
            }
            if (pass == 0 && a->address.address4.sin_family == AF_INET) {
                uv_ip4_name(&a->address.address4, out, cap);
                uv_free_interface_addresses(ifs, count);
                return;
            }
            const uint8_t *b = a->address.address6.sin6_addr.s6_addr;
            bool link_local = b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
            if (pass == 1 && !found6 && a->address.address6.sin6_family == AF_INET6 &&
                !link_local) {
                uv_ip6_name(&a->address.address6, out, cap);
                found6 = *v6 = true;
            }
        }
    }
    uv_free_interface_addresses(ifs, count);
}

/* Where other nodes reach this one, for the DHT's provider records: the
 * endpoint given with --announce, else the first listener on one address,
 * else a listener on every address at a guessed address. */
static void
choose_self_endpoint(node_t *n)
{
    char *out = n->self_endpoint;
    size_t cap = sizeof n->self_endpoint;
    out[0] = '\0';
    if (n->cfg.announce != NULL && wire_endpoint_valid(n->cfg.announce)) {
        snprintf(out, cap, "%s", n->cfg.announce);
        return;
    }
    char bound[TRANSPORT_LISTEN_MAX][TRANSPORT_ENDPOINT_MAX];
    size_t nb = 0;
    uint16_t wild_port = 0;
    transport_bound(n->transport, bound, TRANSPORT_LISTEN_MAX, &nb);
    for (size_t i = 0; i < nb; i++) {
        const char *host = NULL;
        size_t hlen = 0;
        uint16_t port = 0;
        if (!split_endpoint(bound[i], &host, &hlen, &port)) {
            continue;
        }
        size_t len = strnlen(bound[i], TRANSPORT_ENDPOINT_MAX);
        if (!wildcard_host(host, hlen) && len < cap && wire_endpoint_valid(bound[i])) {
            memcpy(out, bound[i], len + 1);
            return;
        }
        wild_port = wild_port ? wild_port : port;
    }
    if (wild_port != 0) {
        char addr[64];
        bool v6 = false;
        guess_address(addr, sizeof addr, &v6);
        snprintf(out, cap, v6 ? "tcp://[%s]:%u" : "tcp://%s:%u", addr, (unsigned)wild_port);
        if (!wire_endpoint_valid(out)) {
            out[0] = '\0';
        }
    }
}

static void
load_contacts(node_t *n)
{
    /* Peers from the last run come first: they were alive recently. The
     * table is pruned to the most recent ones so it cannot grow forever. */
    uint64_t pruned = 0;
    (void)store_peers_prune(n->cfg.store, NODE_SAVED_PEERS_MAX, &pruned);
    size_t malformed = 0;
    if (store_peers(n->cfg.store, on_saved_peer, n, &malformed) != STORE_OK) {
        log_line(lg(n), LOG_LEVEL_WARN, "cannot read the saved peers: %s",
                 store_last_error(n->cfg.store));
    }
    log_line(lg(n), LOG_LEVEL_INFO, "%zu peers known from the last run%s", contact_count(n),
             malformed > 0 ? " (malformed records skipped)" : "");
    if (n->cfg.bootstrap_path != NULL) {
        size_t good = 0, bad = 0;
        bootstrap_read(n->cfg.bootstrap_path, on_bootstrap_entry, n, lg(n), &good, &bad);
        log_line(lg(n), LOG_LEVEL_INFO, "bootstrap: %zu entries from %s%s", good, n->cfg.bootstrap_path,
                 bad ? " (some lines refused; see above)" : "");
    }
}

static node_err_t
start_lan(node_t *n)
{
    if (!n->cfg.lan) {
        return NODE_OK;
    }
    char bound[TRANSPORT_LISTEN_MAX][TRANSPORT_ENDPOINT_MAX];
    size_t nb = 0;
    transport_bound(n->transport, bound, TRANSPORT_LISTEN_MAX, &nb);
    const char *colon = nb > 0 ? strrchr(bound[0], ':') : NULL;
    uint16_t port = colon ? (uint16_t)strtoul(colon + 1, NULL, 10) : NODE_DEFAULT_PORT;
    lan_config_t lc = {
        .network = n->network,
        .node_key = n->cfg.node_key->pk,
        .tcp_port = port,
        .udp_port = n->cfg.lan_port ? n->cfg.lan_port : NODE_LAN_PORT,
        .on_found = on_lan_beacon,
        .ud = n,
        .log = n->cfg.log,
    };
    if (lan_new(&n->lan, n->loop, &lc) != LAN_OK) {
        /* Not fatal: the node still works from bootstrap and saved peers. */
        log_line(lg(n), LOG_LEVEL_WARN, "local-network discovery is off: cannot open UDP port %u",
                 lc.udp_port);
        n->lan = NULL;
    }
    return NODE_OK;
}

node_err_t
node_new(node_t **out, uv_loop_t *loop, const node_config_t *cfg)
{
    *out = NULL;
    const char *network = cfg->network ? cfg->network : NODE_DEFAULT_NETWORK;
    if (!wire_network_valid(network)) {
        return NODE_EINVAL;
    }
    node_t *n = calloc(1, sizeof *n);
    size_t max = cfg->peers_max ? cfg->peers_max : NODE_PEERS_MAX;
    peer_t *peers = calloc(max + NODE_PROBATION_MAX, sizeof *peers);
    uint8_t *sendbuf = malloc(WIRE_MAX_FRAME);
    wire_msg_t *msgs = malloc(2 * sizeof *msgs);
    if (n == NULL || peers == NULL || sendbuf == NULL || msgs == NULL) {
        free(n);
        free(peers);
        free(sendbuf);
        free(msgs);
        return NODE_ENOMEM;
    }
    n->sendbuf = sendbuf;
    n->rx = &msgs[0];
    n->tx = &msgs[1];
    n->loop = loop;
    n->cfg = *cfg;
    n->peers = peers;
    n->peers_max = max;
    n->peers_cap = max + NODE_PROBATION_MAX;
    n->started_ms = n->last_save_ms = n->last_exchange_ms = node_now_ms();
    snprintf(n->network, sizeof n->network, "%s", network);
    node_err_t err = start_transport(n);
    if (err != NODE_OK) {
        *out = n;
        node_close(n, NULL, NULL);
        *out = NULL;
        return err;
    }
    choose_self_endpoint(n);
    err = node_dht_start(n);
    if (err == NODE_OK) {
        err = node_gossip_start(n);
    }
    if (err != NODE_OK) {
        *out = n;
        node_close(n, NULL, NULL);
        *out = NULL;
        return err;
    }
    start_lan(n);
    load_contacts(n);
    node_dht_announce_all(n);
    uv_timer_init(loop, &n->clock);
    n->clock.data = n;
    n->next_tick_ms = node_now_ms() + 100;
    node_schedule(n);
    log_line(lg(n), LOG_LEVEL_INFO, "node started on network '%s'", n->network);
    *out = n;
    return NODE_OK;
}

static void
part_closed(void *ud)
{
    node_t *n = ud;
    if (--n->closing_parts > 0) {
        return;
    }
    void (*cb)(void *) = n->close_cb;
    void *cud = n->close_ud;
    free(n->peers);
    free(n->sendbuf);
    free(n->rx); /* rx and tx are one allocation */
    free(n);
    if (cb != NULL) {
        cb(cud);
    }
}

static void
clock_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

void
node_close(node_t *n, void (*cb)(void *ud), void *ud)
{
    if (n == NULL) {
        if (cb != NULL) {
            cb(ud);
        }
        return;
    }
    n->close_cb = cb;
    n->close_ud = ud;
    /* Unfinished lookups are cancelled (their callbacks run now) and the
     * routing table is saved before anything else goes. */
    node_dht_stop(n);
    save_peers(n, node_now_ms());
    /* The peers are forgotten without telling gossip, which goes whole. */
    node_gossip_stop(n);
    for (size_t i = 0; i < n->peers_cap; i++) {
        queue_clear(&n->peers[i]);
    }
    /* One extra part held while closing starts, so no part can finish it early. */
    n->closing_parts = 1;
    if (n->clock.data == n) {
        n->closing_parts++;
        uv_close((uv_handle_t *)&n->clock, clock_closed);
    }
    n->closing_parts += 2;
    transport_close(n->transport, part_closed, n);
    lan_close(n->lan, part_closed, n);
    part_closed(n);
}

node_err_t
node_add_peer(node_t *n, const uint8_t key[32], const char *endpoint)
{
    if (!wire_endpoint_valid(endpoint)) {
        return NODE_EINVAL;
    }
    contact_note(n, key, endpoint);
    contact_t *c = contact_find(n, key);
    if (c != NULL) {
        c->failures = 0;
        c->next_try_ms = 0;
    }
    (void)store_peer_save(n->cfg.store, key, endpoint, 0);
    dial_more(n, node_now_ms());
    return NODE_OK;
}

void
node_peers(node_t *n, node_peer_cb cb, void *ud)
{
    for (size_t i = 0; i < n->peers_cap; i++) {
        peer_t *p = &n->peers[i];
        if (!p->used) {
            continue;
        }
        node_peer_info_t info;
        memset(&info, 0, sizeof info);
        memcpy(info.key, p->key, 32);
        memcpy(info.endpoint, p->endpoint, sizeof info.endpoint);
        memcpy(info.software, p->software, sizeof info.software);
        info.dir = p->dir;
        info.ready = p->state == PEER_READY;
        info.last_seen_ms = p->last_seen_ms;
        info.rtt_ms = p->rtt_ms;
        if (!cb(ud, &info)) {
            return;
        }
    }
}

void
node_status(node_t *n, node_status_t *out)
{
    memset(out, 0, sizeof *out);
    out->uptime_ms = node_now_ms() - n->started_ms;
    for (size_t i = 0; i < n->peers_cap; i++) {
        peer_t *p = &n->peers[i];
        if (p->used) {
            out->peers_ready += p->state == PEER_READY;
            out->peers_in += p->dir == TRANSPORT_IN;
            out->peers_out += p->dir == TRANSPORT_OUT;
        }
    }
    out->contacts = contact_count(n);
    transport_bound(n->transport, out->listen, TRANSPORT_LISTEN_MAX, &out->n_listen);
    out->malformed = n->malformed;
    out->unknown = n->unknown;
    out->unsolicited = n->unsolicited;
    out->timeouts = n->timeouts;
    out->oversized = n->oversized;
    transport_stats(n->transport, &out->transport);
}

store_t *
node_store(node_t *n)
{
    return n->cfg.store;
}

const keys_author_t *
node_author(node_t *n)
{
    return n->cfg.author;
}

const uint8_t *
node_public_key(node_t *n)
{
    return n->cfg.node_key->pk;
}

const char *
node_network(node_t *n)
{
    return n->network;
}
