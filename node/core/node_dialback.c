/* node_dialback: which endpoints reach which node (issue 11 section 3;
 * PROTOCOL.md 6, "Dial-back").
 *
 * Two sides of one question. As the asker, this node lists where it thinks
 * it can be dialled (node_dial_endpoints: --announce, the mapped port,
 * its listeners) and asks ready peers, one endpoint at a time, to dial it
 * back there with a nonce; an endpoint is reachable only when that nonce
 * came in on our listener, never on a peer's word alone. Only reachable
 * endpoints go into our HELLO and our provider records.
 *
 * As the checker, it never takes an inbound peer's endpoint for the DHT
 * (routing table, provider records, PEERS answers) before a connection it
 * opened itself to that endpoint met that peer's key: a node that lies
 * about its endpoint stays out of every table. The same dial serves a
 * DIAL_REQ: the nonce goes out on it. Only endpoints at the address the
 * peer's connection comes from are ever dialled, so nobody can aim our
 * dials at a third party. The dials under way, the results remembered and
 * the DIAL_REQs a peer may send are all capped (node.h). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "relay.h"

bool
node_dialback_on(node_t *n)
{
    return !n->db.off;
}

static bool
is_onion(const char *endpoint)
{
    addr_t a;
    return addr_parse(endpoint, &a) == ADDR_OK && addr_is_onion(&a);
}

/* Whether endpoint names an IP address, the one the connection comes from
 * (peer_addr; for a connection we opened, the host we dialled when the
 * transport does not say). Names are never compared: never looked up. */
static bool
at_address(const char *endpoint, const char *peer_addr, const char *dialled)
{
    addr_t want, seen;
    if (addr_parse(endpoint, &want) != ADDR_OK ||
        (want.kind != ADDR_IPV4 && want.kind != ADDR_IPV6)) {
        return false;
    }
    addr_unmap(&want);
    if (peer_addr != NULL && peer_addr[0] != '\0') {
        if (addr_from_ip(peer_addr, want.port, &seen) != ADDR_OK) {
            return false;
        }
    } else if (dialled == NULL || addr_parse(dialled, &seen) != ADDR_OK) {
        return false;
    }
    addr_unmap(&seen);
    seen.port = want.port;
    return addr_equal(&want, &seen);
}

/* ---- the checker's table: (key, endpoint) dialled, or being dialled ---- */

static verify_t *
verify_find(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint)
{
    for (size_t i = 0; i < NODE_VERIFIED_MAX; i++) {
        verify_t *v = &n->db.verified[i];
        if (v->state != VERIFY_FREE && memcmp(v->key, key, KEYS_PUBLIC_SIZE) == 0 &&
            strcmp(v->endpoint, endpoint) == 0) {
            return v;
        }
    }
    return NULL;
}

static size_t
pending_count(node_t *n)
{
    size_t c = 0;
    for (size_t i = 0; i < NODE_VERIFIED_MAX; i++) {
        c += n->db.verified[i].state == VERIFY_PENDING;
    }
    return c;
}

/* A free entry, else the result that ends soonest (never a pending one:
 * at most NODE_DIALS_PENDING_MAX of them, far fewer than entries). */
static verify_t *
verify_take(node_t *n, uint64_t now)
{
    verify_t *pick = NULL;
    for (size_t i = 0; i < NODE_VERIFIED_MAX; i++) {
        verify_t *v = &n->db.verified[i];
        if (v->state == VERIFY_FREE || (v->state != VERIFY_PENDING && v->until_ms <= now)) {
            pick = v;
            break;
        }
        if (v->state != VERIFY_PENDING && (pick == NULL || v->until_ms < pick->until_ms)) {
            pick = v;
        }
    }
    if (pick != NULL) {
        memset(pick, 0, sizeof *pick);
    }
    return pick;
}

/* Records (key, endpoint) in v, or in a fresh entry when v is NULL; NULL
 * when the table has no room. */
static verify_t *
verify_set(node_t *n, verify_t *v, verify_state_t state, const uint8_t key[KEYS_PUBLIC_SIZE],
           const char *endpoint, uint64_t until_ms)
{
    if (v == NULL) {
        v = verify_take(n, node_mono_ms(n));
    }
    if (v != NULL) {
        v->state = state;
        memcpy(v->key, key, KEYS_PUBLIC_SIZE);
        snprintf(v->endpoint, sizeof v->endpoint, "%s", endpoint);
        v->until_ms = until_ms;
    }
    return v;
}

static void
send_result(node_t *n, verify_t *v, wire_dial_status_t status)
{
    if (!v->asked) {
        return;
    }
    v->asked = false;
    peer_t tmp = {.dir = v->asker_dir};
    memcpy(tmp.key, v->key, KEYS_PUBLIC_SIZE);
    if (peertab_find(n->peers, v->key, (int)v->asker_dir) == NULL) {
        return; /* the asker went away meanwhile */
    }
    wire_msg_t *m = n->tx;
    wire_init(m, WIRE_DIAL_RESULT, v->rid);
    m->u.dial.status = (uint8_t)status;
    node_send_msg(n, &tmp, m);
}

/* The nonce, on the outbound connection p that reached the asker. */
static void
send_nonce(node_t *n, peer_t *p, verify_t *v)
{
    wire_msg_t *m = n->tx;
    wire_init(m, WIRE_DIAL_BACK, 0);
    m->u.dial.nonce = v->nonce;
    node_send_msg(n, p, m);
    p->used_ms = node_mono_ms(n);
}

/* The index of endpoint among an inbound peer's relayed ones, or -1. */
static int
relayed_index(const peer_t *in, const char *endpoint)
{
    for (int i = 0; i < in->n_relayed; i++) {
        if (strcmp(in->relayed[i], endpoint) == 0) {
            return i;
        }
    }
    return -1;
}

static void
mark_inbound(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint)
{
    peer_t *in = peertab_find(n->peers, key, TRANSPORT_IN);
    if (in == NULL || in->state != PEER_READY) {
        return;
    }
    if (!in->endpoint_verified && strcmp(in->endpoint, endpoint) == 0) {
        in->endpoint_verified = true;
        in->verify_wanted = false;
        node_dht_peer_ready(n, in);
        node_dht_release(n, in);
        return;
    }
    /* A relayed endpoint: a provider record may name it; no routing
     * table takes it (node_dht.c, dht_route_ok). */
    int i = relayed_index(in, endpoint);
    if (i >= 0 && in->relayed_ok < 0) {
        in->relayed_ok = (int8_t)i;
        node_dht_release(n, in);
    }
}

static void
verify_done(node_t *n, verify_t *v, bool ok, uint64_t now)
{
    char k[24];
    node_short_key(k, v->key);
    log_line(node_log(n), LOG_LEVEL_DEBUG, "dial-back: %s at %s: %s", k, v->endpoint,
             ok ? "reached its key" : "not reached");
    v->state = ok ? VERIFY_OK : VERIFY_FAILED;
    v->until_ms = now + (ok ? NODE_VERIFIED_OK_MS : NODE_VERIFIED_FAILED_MS);
    /* One dial that timed out on a busy host must not keep an honest node
     * out of our table for minutes; a liar costs a dial at 5 s, 10 s, 20 s
     * ... at most one per NODE_VERIFIED_FAILED_MS. */
    v->fails = ok ? 0 : v->fails + 1;
    v->retry_ms = 0;
    if (!ok) {
        uint64_t wait = (uint64_t)NODE_VERIFY_RETRY_MS << (v->fails < 6 ? v->fails - 1 : 5);
        v->retry_ms = now + (wait < NODE_VERIFIED_FAILED_MS ? wait : NODE_VERIFIED_FAILED_MS);
    }
    if (ok) {
        mark_inbound(n, v->key, v->endpoint);
    } else {
        peer_t *in = peertab_find(n->peers, v->key, TRANSPORT_IN);
        if (in != NULL && strcmp(in->endpoint, v->endpoint) == 0) {
            /* Its held DHT messages go on without an endpoint; the tick
             * dials again when the back-off ends, while it stays. */
            in->verify_wanted = true;
            node_dht_release(n, in);
        } else if (in != NULL && relayed_index(in, v->endpoint) >= 0) {
            node_dht_release(n, in); /* its next relay is tried, if any */
        }
    }
    send_result(n, v, ok ? WIRE_DIAL_OK : WIRE_DIAL_FAILED);
}

/* Starts a dial of (key, endpoint), or joins one under way; v gets the
 * entry. Returns the status a DIAL_REQ would be told now: OK when the
 * dial is under way or done (v->state says which), BUSY at the cap or
 * when a connection of ours to key at another endpoint is in the way,
 * FAILED when the connect cannot even start. */
/* A probe's answer (relay_probe): the pending check of key at a relayed
 * endpoint ends. */
static void
on_probe(void *ud, const uint8_t key[KEYS_PUBLIC_SIZE], bool ok)
{
    node_t *n = ud;
    for (size_t i = 0; i < NODE_VERIFIED_MAX; i++) {
        verify_t *v = &n->db.verified[i];
        if (v->state == VERIFY_PENDING && memcmp(v->key, key, KEYS_PUBLIC_SIZE) == 0 &&
            addr_relay_valid(v->endpoint)) {
            verify_done(n, v, ok, node_mono_ms(n));
            return;
        }
    }
}

/* A relayed endpoint is checked by a SOCKS5 probe of its relay, not by a
 * ZeroMQ connection: one TCP connection that ends at the answer, so a
 * "relay" that is somebody else's server sees one connection and no
 * retries (libzmq's connecter, once through a proxy, would keep trying;
 * transport.c). The relay answers success only when the node holding the
 * reservation for the key claimed the circuit. */
static wire_dial_status_t
verify_start_relayed(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint,
                     verify_t **vout)
{
    uint64_t now = node_mono_ms(n);
    verify_t *v = verify_find(n, key, endpoint);
    if (v != NULL && v->state == VERIFY_PENDING) {
        *vout = v;
        return WIRE_DIAL_OK;
    }
    addr_t ra;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    if (addr_relay_parse(endpoint, &ra) != ADDR_OK || (ra.kind != ADDR_IPV4 && ra.kind != ADDR_IPV6) ||
        addr_to_sockaddr(&ra, &ss, &sl) != ADDR_OK) {
        return WIRE_DIAL_FAILED; /* a relay is named by its IP address */
    }
    if (n->cfg.socks5 != NULL) {
        return WIRE_DIAL_FAILED; /* behind a proxy: no direct connection, ever */
    }
    if (pending_count(n) >= NODE_DIALS_PENDING_MAX || n->rl.relay == NULL) {
        return WIRE_DIAL_BUSY;
    }
    v = verify_set(n, v, VERIFY_PENDING, key, endpoint, now + NODE_DIAL_TIMEOUT_MS);
    if (v == NULL) {
        return WIRE_DIAL_BUSY;
    }
    if (relay_probe(n->rl.relay, (const struct sockaddr *)&ss, key, on_probe, n) != RELAY_OK) {
        v->state = VERIFY_FREE;
        return WIRE_DIAL_BUSY;
    }
    *vout = v;
    return WIRE_DIAL_OK;
}

static wire_dial_status_t
verify_start(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint, verify_t **vout)
{
    uint64_t now = node_mono_ms(n);
    *vout = NULL;
    if (addr_relay_valid(endpoint)) {
        return verify_start_relayed(n, key, endpoint, vout);
    }
    peer_t *out = peertab_find(n->peers, key, TRANSPORT_OUT);
    if (out != NULL && strcmp(out->endpoint, endpoint) != 0) {
        /* One outbound connection per key: an earlier dial-back's, done
         * with, makes room; any other is in the way for now. */
        verify_t *old = verify_find(n, key, out->endpoint);
        if (!out->dialback || (old != NULL && old->state == VERIFY_PENDING)) {
            return WIRE_DIAL_BUSY;
        }
        node_peer_forget(n, out, "another endpoint of it to dial back", false);
        out = NULL;
    }
    verify_t *v = verify_find(n, key, endpoint);
    if (v != NULL && v->state == VERIFY_PENDING) {
        *vout = v;
        return WIRE_DIAL_OK;
    }
    if (out != NULL && out->state == PEER_READY) {
        /* A connection of ours already reached the key there. */
        *vout = verify_set(n, v, VERIFY_OK, key, endpoint, now + NODE_VERIFIED_OK_MS);
        return *vout != NULL ? WIRE_DIAL_OK : WIRE_DIAL_BUSY;
    }
    if (pending_count(n) >= NODE_DIALS_PENDING_MAX) {
        return WIRE_DIAL_BUSY;
    }
    if (out == NULL && node_connect_transient(n, key, endpoint) == NULL) {
        return WIRE_DIAL_BUSY; /* no outbound slot now */
    }
    *vout = verify_set(n, v, VERIFY_PENDING, key, endpoint, now + NODE_DIAL_TIMEOUT_MS);
    return *vout != NULL ? WIRE_DIAL_OK : WIRE_DIAL_BUSY;
}

bool
node_dialback_verified(node_t *n, peer_t *p)
{
    p->verify_wanted = false;
    if (n->db.off) {
        return true;
    }
    if (!node_dialable(n, p->endpoint)) {
        return false; /* an onion without Tor: never checked, not wanted again */
    }
    uint64_t now = node_mono_ms(n);
    verify_t *v = verify_find(n, p->key, p->endpoint);
    if (v != NULL && v->state == VERIFY_OK && v->until_ms > now) {
        return true;
    }
    if (v != NULL && v->state == VERIFY_FAILED && v->retry_ms > now) {
        /* Tried lately: not again until the back-off ends, and then again
         * (a dial that timed out on a busy host may reach it next time). */
        p->verify_wanted = true;
        return false;
    }
    if (verify_start(n, p->key, p->endpoint, &v) != WIRE_DIAL_OK || v == NULL) {
        p->verify_wanted = true; /* the tick tries again */
        return false;
    }
    return v->state == VERIFY_OK;
}

void
node_dialback_connected(node_t *n, peer_t *p)
{
    verify_t *v = verify_find(n, p->key, p->endpoint);
    uint64_t now = node_mono_ms(n);
    if (v == NULL) {
        /* Dialled for another reason: remember it, it costs nothing. */
        if (verify_set(n, NULL, VERIFY_OK, p->key, p->endpoint, now + NODE_VERIFIED_OK_MS) !=
            NULL) {
            mark_inbound(n, p->key, p->endpoint);
        }
        return;
    }
    if (v->asked) {
        send_nonce(n, p, v);
    }
    if (p->dialback) {
        /* With a nonce sent, a PING behind it: its PONG says the nonce has
         * arrived, and the connection is closed then. Without one, it is
         * closed at once (after the handler: node_dialback_reap). */
        if (v->asked) {
            node_send_ping(n, p);
        } else {
            p->dialback_done = true;
        }
    }
    verify_done(n, v, true, now);
}

void
node_dialback_failed(node_t *n, const peer_t *p)
{
    verify_t *v = verify_find(n, p->key, p->endpoint);
    if (v != NULL && v->state == VERIFY_PENDING) {
        verify_done(n, v, false, node_mono_ms(n));
    }
}

/* ---- the dialler: DIAL_REQ ---- */

static const char *
status_word(uint8_t status)
{
    switch (status) {
    case WIRE_DIAL_OK:
        return "dialled";
    case WIRE_DIAL_FAILED:
        return "failed";
    case WIRE_DIAL_REFUSED:
        return "refused";
    case WIRE_DIAL_BUSY:
        return "busy";
    default:
        return "unknown status";
    }
}

static void
answer(node_t *n, peer_t *p, uint32_t rid, wire_dial_status_t status)
{
    char k[24];
    node_short_key(k, p->key);
    log_line(node_log(n), LOG_LEVEL_DEBUG, "dial-back: %s asked; answered %s", k,
             status_word(status));
    wire_msg_t *m = n->tx;
    wire_init(m, WIRE_DIAL_RESULT, rid);
    m->u.dial.status = (uint8_t)status;
    node_send_msg(n, p, m);
}

static bool
dial_req_allowed(node_t *n, peer_t *p, uint64_t now)
{
    if (p->dial_window_ms == 0 || now - p->dial_window_ms >= 60000) {
        p->dial_window_ms = now;
        p->dial_reqs = 0;
    }
    return p->dial_reqs++ < NODE_DIAL_REQS_PER_MIN;
}

static void
on_dial_req(node_t *n, peer_t *p, const wire_msg_t *m, const char *peer_addr)
{
    uint64_t now = node_mono_ms(n);
    const char *ep = m->u.dial.endpoint.s;
    const char *dialled = p->dir == TRANSPORT_OUT ? p->endpoint : NULL;
    if (!at_address(ep, peer_addr, dialled)) {
        answer(n, p, m->request_id, WIRE_DIAL_REFUSED);
        return;
    }
    if (!dial_req_allowed(n, p, now)) {
        answer(n, p, m->request_id, WIRE_DIAL_BUSY);
        return;
    }
    verify_t *v = NULL;
    wire_dial_status_t st = verify_start(n, p->key, ep, &v);
    if (st != WIRE_DIAL_OK || v == NULL) {
        answer(n, p, m->request_id, st == WIRE_DIAL_OK ? WIRE_DIAL_BUSY : st);
        return;
    }
    if (v->asked) {
        /* One DIAL_REQ at a time per endpoint: the earlier one is told. */
        send_result(n, v, WIRE_DIAL_BUSY);
    }
    v->asked = true;
    v->asker_dir = p->dir;
    v->rid = m->request_id;
    v->nonce = m->u.dial.nonce;
    if (v->state == VERIFY_OK) {
        /* Our own connection already reaches it there: the nonce goes on it. */
        peer_t *out = peertab_find(n->peers, p->key, TRANSPORT_OUT);
        if (out == NULL || out->state != PEER_READY) {
            v->asked = false;
            answer(n, p, m->request_id, WIRE_DIAL_BUSY);
            return;
        }
        /* Not closed under it: an ordinary transient connection now. */
        out->dialback = false;
        out->dialback_done = false;
        send_nonce(n, out, v);
        send_result(n, v, WIRE_DIAL_OK);
    }
}

/* ---- the asker: our own candidates ---- */

static reach_cand_t *
cand_by_nonce(node_t *n, uint64_t nonce)
{
    for (size_t i = 0; i < n->db.n_cands; i++) {
        reach_cand_t *c = &n->db.cands[i];
        if (c->checking && c->nonce == nonce) {
            return c;
        }
    }
    return NULL;
}

static reach_cand_t *
cand_by_rid(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], uint32_t rid)
{
    for (size_t i = 0; i < n->db.n_cands; i++) {
        reach_cand_t *c = &n->db.cands[i];
        if (c->checking && c->rid == rid && memcmp(c->asked, key, KEYS_PUBLIC_SIZE) == 0) {
            return c;
        }
    }
    return NULL;
}

/* Our endpoints said in HELLO and provider records follow the verdicts:
 * when the reachable set changes, the DHT gets the first reachable one,
 * our feeds are announced when there was none before, and the nodes we
 * connected to get a new HELLO. Said in the log when it changes, and once
 * when every candidate failed. */
static void
reach_changed(node_t *n)
{
    char first[WIRE_ENDPOINT_MAX + 1] = "";
    char all[sizeof n->db.said] = "";
    size_t used = 0;
    bool open = false;
    for (size_t i = 0; i < n->db.n_cands; i++) {
        const reach_cand_t *c = &n->db.cands[i];
        open = open || c->verdict == NODE_EP_UNKNOWN;
        if (c->verdict != NODE_EP_REACHABLE) {
            continue;
        }
        if (first[0] == '\0') {
            snprintf(first, sizeof first, "%s", c->endpoint);
        }
        int w = snprintf(all + used, sizeof all - used, "%s%s", used ? ", " : "", c->endpoint);
        if (w > 0 && (size_t)w < sizeof all - used) {
            used += (size_t)w;
        }
    }
    /* "-": said that no endpoint is reachable. */
    const char *now = all[0] != '\0' ? all : open ? "" : "-";
    if (strcmp(now, n->db.said) == 0) {
        return;
    }
    bool same_set = strcmp(all, strcmp(n->db.said, "-") == 0 ? "" : n->db.said) == 0;
    snprintf(n->db.said, sizeof n->db.said, "%s", now);
    if (all[0] != '\0') {
        log_line(node_log(n), LOG_LEVEL_INFO, "reachable at %s (dialled back by peers)", all);
    } else if (!open) {
        log_line(node_log(n), n->db.n_cands > 0 ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
                 "not reachable: %s",
                 n->db.n_cands > 0 ? "no peer could dial this node back at any of its endpoints"
                                   : "this node has no endpoint to offer");
    }
    if (same_set) {
        return;
    }
    snprintf(n->self_endpoint, sizeof n->self_endpoint, "%s", first);
    node_dht_endpoint_changed(n);
}

static void
set_verdict(node_t *n, reach_cand_t *c, node_ep_verdict_t v, uint64_t now)
{
    c->checking = false;
    c->said_ok_ms = 0;
    c->refusals = 0;
    c->rounds = 0;
    c->verdict = v;
    c->next_ms = now + (v == NODE_EP_REACHABLE ? NODE_REACH_RECHECK_MS : NODE_REACH_RETRY_MS);
    c->cursor++;
    reach_changed(n);
}

/* Whether p may be asked to dial us back: ready, neither another node's
 * lookup (a visitor) nor a dial-back connection of ours (closed soon). */
static bool
may_ask(const peer_t *p)
{
    return p->state == PEER_READY && !p->visitor && !p->dialback;
}

/* The index-th peer that may be asked. */
static peer_t *
askable(node_t *n, uint32_t index, size_t *count)
{
    size_t c = 0, it = 0;
    for (peer_t *p; (p = peertab_next(n->peers, &it)) != NULL;) {
        c += may_ask(p);
    }
    *count = c;
    if (c == 0) {
        return NULL;
    }
    size_t want = index % c, k = 0;
    it = 0;
    for (peer_t *p; (p = peertab_next(n->peers, &it)) != NULL;) {
        if (may_ask(p) && k++ == want) {
            return p;
        }
    }
    return NULL;
}

/* Not an answer about the endpoint. Busy: asked again soon, of the next
 * peer. Refused (it cannot check this endpoint) or no answer: the next
 * peer on the next tick, or after a while when all have been asked. */
static void
give_up(node_t *n, reach_cand_t *c, bool busy, uint64_t now)
{
    size_t askable_count = 0;
    (void)askable(n, 0, &askable_count);
    c->checking = false;
    c->said_ok_ms = 0;
    c->cursor++;
    if (busy) {
        c->next_ms = now + NODE_REACH_BUSY_MS;
    } else if (++c->refusals >= askable_count) {
        /* No peer we know can check it (none is where its connections
         * come from, or none answers): nobody we know reaches it. Asked
         * again later, less often each round, in case a peer that can
         * check it comes. */
        c->refusals = 0;
        unsigned shift = c->rounds < 6 ? c->rounds : 6;
        uint64_t wait = (uint64_t)NODE_REACH_IDLE_MS << shift;
        c->next_ms = now + (wait < NODE_REACH_RECHECK_MS ? wait : NODE_REACH_RECHECK_MS);
        c->rounds++;
        if (c->verdict == NODE_EP_UNKNOWN) {
            c->verdict = NODE_EP_UNREACHABLE;
            reach_changed(n);
        }
    } else {
        c->next_ms = now;
    }
}

static void
on_dial_back(node_t *n, peer_t *p, const wire_msg_t *m)
{
    reach_cand_t *c = cand_by_nonce(n, m->u.dial.nonce);
    /* Only on our listener, and from the peer we asked. */
    if (c == NULL || p->dir != TRANSPORT_IN || memcmp(c->asked, p->key, KEYS_PUBLIC_SIZE) != 0) {
        n->unsolicited++;
        return;
    }
    set_verdict(n, c, NODE_EP_REACHABLE, node_mono_ms(n));
}

static void
on_dial_result(node_t *n, peer_t *p, const wire_msg_t *m)
{
    reach_cand_t *c = cand_by_rid(n, p->key, m->request_id);
    uint64_t now = node_mono_ms(n);
    if (c == NULL) {
        return; /* the nonce came first, or the check was given up */
    }
    char k[24];
    node_short_key(k, p->key);
    log_line(node_log(n), LOG_LEVEL_DEBUG, "dial-back: %s says %s for %s", k,
             status_word(m->u.dial.status), c->endpoint);
    switch (m->u.dial.status) {
    case WIRE_DIAL_OK:
        c->said_ok_ms = now; /* the nonce is still to come */
        break;
    case WIRE_DIAL_FAILED:
        set_verdict(n, c, NODE_EP_UNREACHABLE, now);
        break;
    default:
        give_up(n, c, m->u.dial.status == WIRE_DIAL_BUSY, now);
        break;
    }
}

void
node_dialback_receive(node_t *n, peer_t *p, const wire_msg_t *m, const char *peer_addr)
{
    switch (m->type) {
    case WIRE_DIAL_REQ:
        on_dial_req(n, p, m, peer_addr);
        break;
    case WIRE_DIAL_BACK:
        on_dial_back(n, p, m);
        break;
    case WIRE_DIAL_RESULT:
        on_dial_result(n, p, m);
        break;
    default:
        break;
    }
}

/* Lists the candidates again, keeping what is known of each. */
static void
rescan(node_t *n, uint64_t now)
{
    char eps[NODE_REACH_CANDIDATES][ADDR_ENDPOINT_MAX + 1];
    size_t ne = node_dial_endpoints(n, eps, NODE_REACH_CANDIDATES);
    reach_cand_t *fresh = n->db.scratch;
    bool lost = false;
    for (size_t i = 0; i < n->db.n_cands; i++) {
        bool kept = false;
        for (size_t j = 0; j < ne; j++) {
            kept = kept || strcmp(n->db.cands[i].endpoint, eps[j]) == 0;
        }
        lost = lost || (!kept && n->db.cands[i].verdict == NODE_EP_REACHABLE);
    }
    for (size_t j = 0; j < ne; j++) {
        reach_cand_t *c = &fresh[j];
        memset(c, 0, sizeof *c);
        for (size_t i = 0; i < n->db.n_cands; i++) {
            if (strcmp(n->db.cands[i].endpoint, eps[j]) == 0) {
                *c = n->db.cands[i];
            }
        }
        if (c->endpoint[0] == '\0') {
            size_t len = strnlen(eps[j], ADDR_ENDPOINT_MAX);
            memcpy(c->endpoint, eps[j], len);
            c->endpoint[len] = '\0';
            c->next_ms = now;
            randombytes_buf(&c->cursor, sizeof c->cursor);
        }
        /* Our own onion service: Tor publishes it, and no peer could dial
         * it back without Tor; it is taken as reachable. */
        c->onion = is_onion(c->endpoint);
        if (c->onion && c->verdict != NODE_EP_REACHABLE) {
            c->verdict = NODE_EP_REACHABLE;
            lost = true; /* a change all the same */
        }
    }
    memcpy(n->db.cands, fresh, ne * sizeof fresh[0]);
    n->db.n_cands = ne;
    n->db.scanned_ms = now;
    if (lost) {
        reach_changed(n);
    }
}

void
node_dialback_start(node_t *n)
{
    if (n->db.off) {
        return;
    }
    /* Nothing is said to others before a peer has dialled it back. */
    n->self_endpoint[0] = '\0';
    n->dht_endpoint[0] = '\0';
    if (n->dht != NULL) {
        (void)dht_set_endpoint(n->dht, "");
    }
    rescan(n, node_mono_ms(n));
    reach_changed(n);
}

/* Whether a DIAL_REQ of ours to key is out: one at a time per peer, so
 * that its dials of our endpoints do not stand in each other's way. */
static bool
asking(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    for (size_t i = 0; i < n->db.n_cands; i++) {
        const reach_cand_t *c = &n->db.cands[i];
        if (c->checking && memcmp(c->asked, key, KEYS_PUBLIC_SIZE) == 0) {
            return true;
        }
    }
    return false;
}

static void
ask(node_t *n, reach_cand_t *c, uint64_t now)
{
    size_t count = 0;
    peer_t *p = askable(n, c->cursor, &count);
    uint32_t rid = 0;
    if (p == NULL || asking(n, p->key)) {
        return; /* asked again as soon as there is a peer, or it is free */
    }
    if (!node_request_open(n, p, WIRE_DIAL_REQ, now, &rid)) {
        c->cursor++;
        return;
    }
    c->checking = true;
    c->rid = rid;
    c->asked_ms = now;
    c->said_ok_ms = 0;
    memcpy(c->asked, p->key, KEYS_PUBLIC_SIZE);
    /* A nonce no other candidate waits for. */
    do {
        randombytes_buf(&c->nonce, sizeof c->nonce);
    } while (cand_by_nonce(n, c->nonce) != c);
    wire_msg_t *m = n->tx;
    wire_init(m, WIRE_DIAL_REQ, rid);
    m->u.dial.nonce = c->nonce;
    snprintf(m->u.dial.endpoint.s, sizeof m->u.dial.endpoint.s, "%s", c->endpoint);
    node_send_msg(n, p, m);
    char k[24];
    node_short_key(k, p->key);
    log_line(node_log(n), LOG_LEVEL_DEBUG, "dial-back: asking %s to dial %s", k, c->endpoint);
}

static void
asker_tick(node_t *n, uint64_t now)
{
    if (n->db.scanned_ms == 0 || now - n->db.scanned_ms >= NODE_REACH_RESCAN_MS) {
        rescan(n, now);
    }
    for (size_t i = 0; i < n->db.n_cands; i++) {
        reach_cand_t *c = &n->db.cands[i];
        if (c->onion) {
            continue;
        }
        if (c->checking) {
            if (c->said_ok_ms != 0 && now - c->said_ok_ms >= NODE_REACH_NONCE_WAIT_MS) {
                /* It said it dialled; nothing came: it did not, or not here. */
                set_verdict(n, c, NODE_EP_UNREACHABLE, now);
            } else if (c->said_ok_ms == 0 && now - c->asked_ms > NODE_REQUEST_TIMEOUT_MS) {
                log_line(node_log(n), LOG_LEVEL_DEBUG, "dial-back: no answer about %s",
                         c->endpoint);
                give_up(n, c, false, now);
            }
            continue;
        }
        if (now >= c->next_ms) {
            ask(n, c, now);
        }
    }
}

/* Dials past their time fail; inbound endpoints that waited for a free
 * place get one. */
static void
checker_tick(node_t *n, uint64_t now)
{
    for (size_t i = 0; i < NODE_VERIFIED_MAX; i++) {
        verify_t *v = &n->db.verified[i];
        if (v->state == VERIFY_PENDING && now >= v->until_ms) {
            peer_t *out = peertab_find(n->peers, v->key, TRANSPORT_OUT);
            verify_done(n, v, false, now);
            if (out != NULL && out->transient && out->state != PEER_READY &&
                strcmp(out->endpoint, v->endpoint) == 0) {
                node_peer_forget(n, out, "no handshake in time for a dial-back", true);
            }
        } else if (v->state != VERIFY_FREE && v->state != VERIFY_PENDING && now >= v->until_ms) {
            v->state = VERIFY_FREE;
        }
    }
    size_t it = 0;
    for (peer_t *p; (p = peertab_next(n->peers, &it)) != NULL;) {
        if (p->verify_wanted && p->state == PEER_READY && !p->endpoint_verified &&
            p->dir == TRANSPORT_IN && pending_count(n) < NODE_DIALS_PENDING_MAX) {
            p->endpoint_verified = node_dialback_verified(n, p);
            if (p->endpoint_verified) {
                node_dht_peer_ready(n, p);
                node_dht_release(n, p);
            }
        }
        if (p->held > 0 && now - p->held_ms >= NODE_HOLD_MS) {
            node_dht_release_late(n, p); /* answered before the announcer gives up */
        }
    }
}

void
node_dialback_tick(node_t *n, uint64_t now)
{
    if (n->db.off) {
        return;
    }
    checker_tick(n, now);
    asker_tick(n, now);
}

void
node_dialback_hello(node_t *n, wire_hello_t *h)
{
    char bound[TRANSPORT_LISTEN_MAX][TRANSPORT_ENDPOINT_MAX];
    size_t nb = 0;
    uint16_t wild = 0;
    transport_bound(n->transport, bound, TRANSPORT_LISTEN_MAX, &nb);
    for (size_t i = 0; i < nb; i++) {
        addr_t a;
        if (addr_parse(bound[i], &a) == ADDR_OK && a.kind == ADDR_WILDCARD) {
            wild = wild ? wild : a.port;
        }
    }
    for (size_t i = 0; i < n->db.n_cands && h->n_endpoints < WIRE_ENDPOINTS_MAX; i++) {
        const reach_cand_t *c = &n->db.cands[i];
        if (c->verdict != NODE_EP_REACHABLE) {
            continue;
        }
        memcpy(h->endpoints[h->n_endpoints++].s, c->endpoint, strlen(c->endpoint) + 1);
        addr_t a;
        if (wild != 0 && n->cfg.socks5 == NULL && addr_parse(c->endpoint, &a) == ADDR_OK &&
            a.port == wild) {
            h->listen_port = wild;
        }
    }
    if (h->n_endpoints > 0) {
        return;
    }
    /* Nobody can dial us: say where our relays are, so that a node that
     * knows only our key (a provider record) can reach us. */
    char relayed[NODE_RELAYS_MAX][ADDR_ENDPOINT_MAX + 1];
    size_t nr = node_relay_endpoints(n, relayed, NODE_RELAYS_MAX);
    for (size_t i = 0; i < nr && h->n_endpoints < WIRE_ENDPOINTS_MAX; i++) {
        if (strlen(relayed[i]) <= WIRE_ENDPOINT_MAX) {
            memcpy(h->endpoints[h->n_endpoints++].s, relayed[i], strlen(relayed[i]) + 1);
        }
    }
}

const char *
node_dialback_relayed(node_t *n, const peer_t *p)
{
    (void)n;
    if (p->dir != TRANSPORT_IN || p->relayed_ok < 0 || p->relayed_ok >= p->n_relayed) {
        return "";
    }
    return p->relayed[p->relayed_ok];
}

/* A relayed endpoint names a relay, a third party: it is dialled only when
 * the peer asks for something that needs it (an ANNOUNCE from a node with
 * no endpoint of its own), one relay at a time, and a failure is
 * remembered with the same back-off as any dial-back. */
bool
node_dialback_relay_checking(node_t *n, peer_t *p)
{
    if (p->dir != TRANSPORT_IN || p->endpoint_verified || p->relayed_ok >= 0 ||
        p->n_relayed == 0) {
        return false;
    }
    if (n->db.off) {
        p->relayed_ok = 0; /* claims trusted: a test network */
        return false;
    }
    uint64_t now = node_mono_ms(n);
    for (int i = 0; i < p->n_relayed; i++) {
        verify_t *v = verify_find(n, p->key, p->relayed[i]);
        if (v != NULL && v->state == VERIFY_OK && v->until_ms > now) {
            p->relayed_ok = (int8_t)i;
            return false;
        }
        if (v != NULL && v->state == VERIFY_PENDING) {
            return true;
        }
        if (v != NULL && v->state == VERIFY_FAILED && v->retry_ms > now) {
            continue; /* tried lately: the next relay */
        }
        if (verify_start(n, p->key, p->relayed[i], &v) != WIRE_DIAL_OK || v == NULL) {
            return false; /* no dial now: answered without an endpoint */
        }
        if (v->state == VERIFY_OK) {
            p->relayed_ok = (int8_t)i;
            return false;
        }
        return true;
    }
    return false;
}

bool
node_dialback_checking(node_t *n, const peer_t *p)
{
    if (n->db.off || p->dir != TRANSPORT_IN || p->endpoint[0] == '\0' || p->endpoint_verified) {
        return false;
    }
    if (p->verify_wanted) {
        return true;
    }
    const verify_t *v = verify_find(n, p->key, p->endpoint);
    return v != NULL && v->state == VERIFY_PENDING;
}

void
node_dialback_reap(node_t *n)
{
    size_t it = 0;
    for (peer_t *p; (p = peertab_next(n->peers, &it)) != NULL;) {
        if (p->dialback && p->dialback_done) {
            node_peer_forget(n, p, "dial-back done", false);
        }
    }
}

bool
node_dialback_reachable(node_t *n, const char *endpoint)
{
    for (size_t i = 0; i < n->db.n_cands; i++) {
        if (n->db.cands[i].verdict == NODE_EP_REACHABLE &&
            strcmp(n->db.cands[i].endpoint, endpoint) == 0) {
            return true;
        }
    }
    return false;
}

node_reach_t
node_dialback_state(node_t *n)
{
    if (n->db.off) {
        return NODE_REACH_UNCHECKED;
    }
    bool open = false;
    for (size_t i = 0; i < n->db.n_cands; i++) {
        if (n->db.cands[i].verdict == NODE_EP_REACHABLE) {
            return NODE_REACH_REACHABLE;
        }
        open = open || n->db.cands[i].verdict == NODE_EP_UNKNOWN;
    }
    return open ? NODE_REACH_CHECKING : NODE_REACH_UNREACHABLE;
}

void
node_dialback_status(node_t *n, node_status_t *out)
{
    out->reach = node_dialback_state(n);
    out->n_reach = 0;
    for (size_t i = 0; i < n->db.n_cands && !n->db.off; i++) {
        const reach_cand_t *c = &n->db.cands[i];
        node_reach_ep_t *e = &out->reach_eps[out->n_reach++];
        memcpy(e->endpoint, c->endpoint, sizeof e->endpoint);
        e->verdict = c->verdict;
        e->onion = c->onion;
    }
}
