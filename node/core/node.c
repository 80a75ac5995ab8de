/* node: the daemon core. The clocks, the peer table's policy (slots,
 * eviction, forgetting a peer), the transport's messages and events routed
 * to their handlers, the one timer that drives every deadline, and start
 * and stop. HELLO/PING/PEERS are in node_hello.c, contacts and dialling in
 * node_contacts.c, the DHT in node_dht.c, gossip in node_gossip.c. */
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "defence.h"
#include "gossipcaps.h"
#include "keytext.h"
#include "node_int.h"
#include "torctl.h"

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

static uint64_t
clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t
clock_ms(clockid_t id)
{
    return clock_us(id) / 1000u;
}

uint64_t
node_mono_ms(node_t *n)
{
    const node_clock_t *c = &n->cfg.clock;
    return c->mono_ms != NULL ? c->mono_ms(c->ud) : clock_ms(CLOCK_MONOTONIC);
}

uint64_t
node_mono_us(node_t *n)
{
    const node_clock_t *c = &n->cfg.clock;
    return c->mono_ms != NULL ? c->mono_ms(c->ud) * 1000u : clock_us(CLOCK_MONOTONIC);
}

uint64_t
node_wall_ms(node_t *n)
{
    const node_clock_t *c = &n->cfg.clock;
    return c->wall_ms != NULL ? c->wall_ms(c->ud) : clock_ms(CLOCK_REALTIME);
}

uint64_t
node_wall_of(node_t *n, uint64_t mono_ms)
{
    if (mono_ms == 0) {
        return 0;
    }
    uint64_t now = node_mono_ms(n);
    uint64_t wall = node_wall_ms(n);
    uint64_t ago = now > mono_ms ? now - mono_ms : 0;
    return wall > ago ? wall - ago : 0;
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
node_short_key(char out[24], const uint8_t key[KEYS_PUBLIC_SIZE])
{
    char t[KEYTEXT_BUFSZ];
    keytext_encode(t, KEYTEXT_NODE, key);
    snprintf(out, 24, "%.14s...", t);
}

/* ---- the peer table ---- */

/* At least a third of the slots are for connections we open ourselves, so
 * inbound connections alone cannot surround the node. Peers on probation
 * (all inbound) hold no slot. */
bool
node_slot_free(node_t *n, transport_dir_t dir)
{
    peertab_counts_t c;
    peertab_counts(n->peers, &c);
    size_t reserved = (n->peers_max + 2) / 3;
    size_t aside = c.probation + c.visitors; /* inbound, holding no slot */
    if (c.all - aside - c.dialbacks >= n->peers_max) {
        return false;
    }
    return dir == TRANSPORT_OUT || c.in - aside < n->peers_max - reserved;
}

peer_t *
node_peer_add(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], transport_dir_t dir)
{
    return peertab_add(n->peers, key, dir, node_mono_ms(n));
}

void
node_peer_forget(node_t *n, peer_t *p, const char *why, bool failed)
{
    char k[24];
    node_short_key(k, p->key);
    uint8_t key[KEYS_PUBLIC_SIZE];
    memcpy(key, p->key, KEYS_PUBLIC_SIZE);
    /* A dial-back connection, or a visitor beside another connection to
     * the same node, carried no DHT request (node_send_frame prefers the
     * other): its end fails none. */
    peer_t *other =
        peertab_find(n->peers, key, p->dir == TRANSPORT_IN ? TRANSPORT_OUT : TRANSPORT_IN);
    bool carried_none = (p->dialback && p->state == PEER_READY) ||
                        (p->visitor && other != NULL && other->state == PEER_READY);
    /* Transient connections, ours and others' (visitors), come and go
     * with every lookup and dial-back: not news. */
    log_line(lg(n), p->transient || p->visitor ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
             "peer %s (%s%s) gone: %s", k, p->transient ? "transient " : "",
             p->dir == TRANSPORT_OUT ? "outbound" : "inbound", why);
    bool was_news = p->state == PEER_READY && !p->transient && !p->visitor && !p->dialback;
    if (p->dir == TRANSPORT_OUT) {
        transport_disconnect(n->transport, p->key);
    }
    peertab_remove(n->peers, p);
    node_relay_forget(n, key);
    if (was_news) {
        node_emit(n, NODE_EVENT_PEER_DOWN, NULL, key);
    }
    if (p->dir == TRANSPORT_OUT && p->state != PEER_READY) {
        node_dialback_failed(n, p); /* a dial that never met the key */
    }
    n->peers_dropped++;
    node_gossip_check(n, p);
    /* Whatever the reason, DHT requests on that connection will not be
     * answered: the DHT hears of it now rather than at a timeout, and
     * blames the peer only when it failed. */
    if (!carried_none) {
        node_dht_peer_lost(n, key, failed);
    }
}

void
node_set_events(node_t *n, node_event_cb cb, void *ud)
{
    n->event_cb = cb;
    n->event_ud = ud;
}

void
node_emit(node_t *n, node_event_kind_t kind, const post_t *post, const uint8_t *key)
{
    if (n->event_cb != NULL) {
        node_event_t e = {.kind = kind, .post = post, .key = key};
        n->event_cb(n->event_ud, &e);
    }
}

peer_t *
node_peer_ready(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    return peertab_find_ready(n->peers, key);
}

bool
node_evict_idle(node_t *n, transport_dir_t dir, uint64_t now)
{
    /* A connection without gossip goes first: gossip links carry posts
     * even while they are quiet. */
    peer_t *victim = NULL;
    size_t it = 0;
    for (peer_t *p; (p = peertab_next(n->peers, &it)) != NULL;) {
        bool candidate = !p->probation && !p->visitor && p->dir == dir &&
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
        node_send_error(n, TRANSPORT_IN, victim->key, 0, WIRE_ERR_BUSY,
                        "slot needed by another peer");
    }
    node_peer_forget(n, victim, "idle, and its slot was needed", false);
    return true;
}

/* ---- receiving ---- */

void
node_peer_log_flush(node_t *n)
{
    uint64_t second = node_mono_ms(n) / 1000;
    if (second == n->log_second) {
        return;
    }
    if (n->log_count > NODE_PEER_LOG_PER_S) {
        log_line(lg(n), LOG_LEVEL_WARN,
                 "%u more log lines about what peers did were left out in that second",
                 n->log_count - NODE_PEER_LOG_PER_S);
    }
    n->log_second = second;
    n->log_count = 0;
}

bool
node_peer_log_allowed(node_t *n)
{
    node_peer_log_flush(n);
    return n->log_count++ < NODE_PEER_LOG_PER_S;
}

bool
node_error_answer_allowed(node_t *n)
{
    if (n->errors_unlimited) {
        return true; /* test only: the "error-rate" defence is off */
    }
    uint64_t second = node_mono_ms(n) / 1000;
    if (second != n->error_second) {
        n->error_second = second;
        n->error_count = 0;
    }
    return n->error_count++ < NODE_ERROR_ANSWERS_PER_S;
}

void
node_refuse_key(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    /* A free or expired entry, else the one that expires first. */
    uint64_t now = node_mono_ms(n);
    size_t pick = 0;
    for (size_t i = 0; i < NODE_REFUSED_MAX; i++) {
        if (n->refused[i].until_ms <= now) {
            pick = i;
            break;
        }
        if (n->refused[i].until_ms < n->refused[pick].until_ms) {
            pick = i;
        }
    }
    memcpy(n->refused[pick].key, key, KEYS_PUBLIC_SIZE);
    n->refused[pick].until_ms = now + NODE_REFUSED_MS;
}

bool
node_key_refused(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    uint64_t now = node_mono_ms(n);
    for (size_t i = 0; i < NODE_REFUSED_MAX; i++) {
        if (n->refused[i].until_ms > now && memcmp(n->refused[i].key, key, KEYS_PUBLIC_SIZE) == 0) {
            return true;
        }
    }
    return false;
}

/* Only the gossip types defined (PROTOCOL.md 11.3) go to the gossip
 * decoder; the reserved rest of its range is an unknown type like any. */
static bool
is_gossip_frame(const uint8_t *data, size_t len)
{
    return len >= WIRE_HEADER_SIZE && data[0] == WIRE_VERSION && data[1] >= GOSSIP_TYPE_FIRST &&
           data[1] <= GOSSIP_TYPE_DEFINED_LAST;
}

/* ERROR 3 for a frame that does not decode, when its header can be read
 * (the request id is in it) and it is not itself an ERROR: an ERROR is
 * never answered. */
static void
answer_malformed(node_t *n, transport_dir_t dir, const uint8_t key[KEYS_PUBLIC_SIZE],
                 const uint8_t *data, size_t len, wire_err_t err)
{
    if (len < WIRE_HEADER_SIZE || data[1] == WIRE_ERROR || !node_error_answer_allowed(n)) {
        return;
    }
    uint32_t rid =
        ((uint32_t)data[2] << 24) | ((uint32_t)data[3] << 16) | ((uint32_t)data[4] << 8) | data[5];
    node_send_error(n, dir, key, rid, WIRE_ERR_MALFORMED, wire_strerror(err));
}

static void
handle_msg(node_t *n, transport_dir_t dir, const uint8_t key[KEYS_PUBLIC_SIZE],
           const char *peer_addr, const uint8_t *data, size_t len)
{
    /* Gossip frames have their own decoder (node/gossip/gossipmsg.c), run by the
     * state machine; only a ready peer's are taken. */
    if (is_gossip_frame(data, len) && len <= WIRE_MAX_FRAME) {
        peer_t *gp = peertab_find(n->peers, key, (int)dir);
        if (gp != NULL && gp->state == PEER_READY) {
            gp->last_seen_ms = node_mono_ms(n);
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
        if (m->type != WIRE_ERROR && node_error_answer_allowed(n)) {
            node_send_error(n, dir, key, m->request_id,
                            err == WIRE_EVERSION ? WIRE_ERR_VERSION : WIRE_ERR_TYPE,
                            wire_strerror(err));
        }
        return;
    }
    if (err != WIRE_OK) {
        bool oversized = len > WIRE_MAX_FRAME;
        n->malformed += !oversized;
        n->oversized += oversized;
        if (node_peer_log_allowed(n)) {
            log_line(lg(n), LOG_LEVEL_DEBUG, "refused a %s message of %zu bytes: %s",
                     oversized ? "too large" : "malformed", len, wire_strerror(err));
        }
        answer_malformed(n, dir, key, data, len, err);
        return;
    }
    node_hello_receive(n, dir, key, peer_addr, m);
}

static void
on_transport_msg(void *ud, transport_dir_t dir, const uint8_t key[KEYS_PUBLIC_SIZE],
                 const char *peer_addr, const uint8_t *data, size_t len)
{
    node_t *n = ud;
    if (dir == TRANSPORT_IN && node_key_refused(n, key)) {
        n->unsolicited++; /* refused with ERROR 4: nothing more on that connection */
        return;
    }
    if (!node_msg_allowed(n, key)) {
        return;
    }
    handle_msg(n, dir, key, peer_addr, data, len);
    node_dialback_reap(n);
    node_schedule(n);
}

static void
handle_event(node_t *n, transport_event_t ev, const uint8_t *key, const char *endpoint)
{
    peer_t *p = key ? peertab_find(n->peers, key, TRANSPORT_OUT) : NULL;
    if (ev == TRANSPORT_EV_CONNECTED && p != NULL && p->state != PEER_READY) {
        node_send_hello(n, p, ++n->next_request_id);
    } else if (ev == TRANSPORT_EV_AUTH_FAILED) {
        log_line(lg(n), p != NULL && p->transient ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN,
                 "handshake with %s failed: wrong node key, or not a samizdat node", endpoint);
        if (p != NULL && p->state != PEER_READY) {
            node_peer_forget(n, p, "handshake failed", true);
        }
    } else if (ev == TRANSPORT_EV_DISCONNECTED && p != NULL && p->state == PEER_READY) {
        /* ZeroMQ would reconnect, but to a node that may have restarted on
         * another port; dialling again later goes through HELLO anyway. */
        node_peer_forget(n, p, "connection lost", true);
    } else if (ev == TRANSPORT_EV_RETRYING && p != NULL && p->state != PEER_READY) {
        /* Refused or unreachable: ZeroMQ would keep trying; we back off. */
        node_contact_failed(n, p->key);
        node_peer_forget(n, p, "cannot connect", true);
    } else if (ev == TRANSPORT_EV_IN_LOST && key != NULL) {
        /* Its end went away (killed, a heartbeat unanswered) or we shut it:
         * whatever we send it now is lost. */
        peer_t *in = peertab_find(n->peers, key, TRANSPORT_IN);
        if (in != NULL) {
            node_peer_forget(n, in, "connection lost", in->state == PEER_READY);
        }
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

static void
node_tick(node_t *n, uint64_t now)
{
    transport_tick(n->transport);
    size_t it = 0;
    for (peer_t *p; (p = peertab_next(n->peers, &it)) != NULL;) {
        node_tend_peer(n, p, now);
    }
    node_dial_more(n, now);
    node_dialback_tick(n, now);
    node_relay_tick(n, now);
    node_alone_check(n, now);
    node_peer_log_flush(n);
    node_own_tick(n, now);
    node_gossip_feeds(n, now);
    node_gossip_progress(n, now);
    if (now - n->last_exchange_ms > 30000) {
        node_exchange(n, now);
    }
    if (now - n->last_save_ms > 30000) {
        node_save_peers(n, now);
    }
}

static void
on_clock(uv_timer_t *h)
{
    node_t *n = h->data;
    uint64_t now = node_mono_ms(n);
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
    uint64_t now = node_mono_ms(n);
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
        .defences_off = n->cfg.defences_off,
        .idle_ms = n->cfg.idle_close_ms,
        .ticked_by_caller = true, /* node_tick: one wake-up a second for both */
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
guess_address(uint16_t port, addr_t *out)
{
    uv_interface_address_t *ifs = NULL;
    int count = 0;
    (void)addr_from_ip("127.0.0.1", port, out);
    if (uv_interface_addresses(&ifs, &count) != 0) {
        return;
    }
    bool found6 = false;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < count; i++) {
            const uv_interface_address_t *ifa = &ifs[i];
            const struct sockaddr *sa = (const struct sockaddr *)&ifa->address;
            addr_t a;
            if (ifa->is_internal || addr_from_sockaddr(sa, port, &a) != ADDR_OK) {
                continue;
            }
            if (pass == 0 && a.kind == ADDR_IPV4) {
                *out = a;
                uv_free_interface_addresses(ifs, count);
                return;
            }
            if (pass == 1 && !found6 && a.kind == ADDR_IPV6 && addr_class(&a) != ADDR_LINK_LOCAL) {
                *out = a;
                found6 = true;
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
    if (n->cfg.announce != NULL && addr_endpoint_valid(n->cfg.announce)) {
        snprintf(out, cap, "%s", n->cfg.announce);
        return;
    }
    if (n->cfg.socks5 != NULL) {
        return; /* behind a proxy: no address of this host is told to anyone */
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
        size_t len = strnlen(bound[i], TRANSPORT_ENDPOINT_MAX);
        if (a.kind != ADDR_WILDCARD && len < cap) {
            memcpy(out, bound[i], len + 1);
            return;
        }
        wild_port = wild_port ? wild_port : a.port;
    }
    if (wild_port != 0) {
        addr_t a;
        guess_address(wild_port, &a);
        if (addr_format(&a, out, cap) != ADDR_OK || !addr_endpoint_valid(out)) {
            out[0] = '\0';
        }
    }
}

static node_err_t
start_lan(node_t *n)
{
    if (!n->cfg.lan) {
        return NODE_OK;
    }
    if (n->cfg.socks5 != NULL) {
        /* A beacon carries the node key to everyone on the network: a node
         * that hides behind a proxy (Tor) must not send one. */
        log_line(lg(n), LOG_LEVEL_INFO,
                 "local-network discovery is off: connections go "
                 "through the SOCKS5 proxy");
        return NODE_OK;
    }
    char bound[TRANSPORT_LISTEN_MAX][TRANSPORT_ENDPOINT_MAX];
    size_t nb = 0;
    transport_bound(n->transport, bound, TRANSPORT_LISTEN_MAX, &nb);
    addr_t first;
    uint16_t port =
        nb > 0 && addr_parse(bound[0], &first) == ADDR_OK ? first.port : NODE_DEFAULT_PORT;
    lan_config_t lc = {
        .network = n->network,
        .node_key = n->cfg.node_key->pk,
        .tcp_port = port,
        .udp_port = n->cfg.lan_port ? n->cfg.lan_port : NODE_LAN_PORT,
        .on_found = node_lan_found,
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
    peertab_t *peers = peertab_new(max + NODE_PROBATION_MAX + NODE_VISITORS_MAX);
    uint8_t *sendbuf = malloc(WIRE_MAX_FRAME);
    wire_msg_t *msgs = malloc(2 * sizeof *msgs);
    key_budget_t *budgets = calloc(NODE_BUDGET_KEYS, sizeof *budgets);
    if (n == NULL || peers == NULL || sendbuf == NULL || msgs == NULL || budgets == NULL) {
        free(n);
        peertab_free(peers);
        free(sendbuf);
        free(msgs);
        free(budgets);
        return NODE_ENOMEM;
    }
    n->sendbuf = sendbuf;
    n->budgets = budgets;
    n->rx = &msgs[0];
    n->tx = &msgs[1];
    n->loop = loop;
    n->cfg = *cfg;
    n->errors_unlimited = defence_off(cfg->defences_off, "error-rate");
    n->own.off = defence_off(cfg->defences_off, "own-seq");
    n->budget_off = defence_off(cfg->defences_off, "msg-budget");
    n->claims_trusted = defence_off(cfg->defences_off, "observed-address");
    n->db.off = defence_off(cfg->defences_off, "dialback");
    randombytes_buf(n->budget_salt, sizeof n->budget_salt);
    n->peers = peers;
    n->peers_max = max;
    n->started_ms = n->last_save_ms = n->last_exchange_ms = node_mono_ms(n);
    snprintf(n->network, sizeof n->network, "%s", network);
    node_err_t err = start_transport(n);
    if (err != NODE_OK) {
        *out = n;
        node_close(n, NULL, NULL);
        *out = NULL;
        return err;
    }
    choose_self_endpoint(n);
    snprintf(n->dht_endpoint, sizeof n->dht_endpoint, "%s", n->self_endpoint);
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
    err = node_relay_start(n);
    if (err != NODE_OK) {
        *out = n;
        node_close(n, NULL, NULL);
        *out = NULL;
        return err;
    }
    start_lan(n);
    node_portmap_start(n);
    node_proxy_probe(n);
    node_load_contacts(n);
    node_dialback_start(n);
    node_dht_announce_all(n);
    uv_timer_init(loop, &n->clock);
    n->clock.data = n;
    n->next_tick_ms = node_mono_ms(n) + 100;
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
    peertab_free(n->peers); /* and the frames still queued */
    free(n->sendbuf);
    free(n->rx); /* rx and tx are one allocation */
    free(n->budgets);
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
    node_save_peers(n, node_mono_ms(n));
    /* The peers are forgotten without telling gossip, which goes whole. */
    node_gossip_stop(n);
    /* One extra part held while closing starts, so no part can finish it early. */
    n->closing_parts = 1;
    if (n->clock.data == n) {
        n->closing_parts++;
        uv_close((uv_handle_t *)&n->clock, clock_closed);
    }
    n->closing_parts += 5;
    node_relay_close(n, part_closed, n);
    transport_close(n->transport, part_closed, n);
    lan_close(n->lan, part_closed, n);
    portmap_close(n->portmap, part_closed, n);
    portmap_close(n->relay_portmap, part_closed, n);
    node_proxy_forget(n);
    n->portmap = NULL;
    n->relay_portmap = NULL;
    part_closed(n);
}

void
node_peers(node_t *n, node_peer_cb cb, void *ud)
{
    size_t it = 0;
    for (peer_t *p; (p = peertab_next(n->peers, &it)) != NULL;) {
        node_peer_info_t info;
        memset(&info, 0, sizeof info);
        memcpy(info.key, p->key, KEYS_PUBLIC_SIZE);
        memcpy(info.endpoint, p->endpoint, sizeof info.endpoint);
        memcpy(info.software, p->software, sizeof info.software);
        info.dir = p->dir;
        info.ready = p->state == PEER_READY;
        info.last_seen_ms = node_wall_of(n, p->last_seen_ms);
        info.rtt_us = p->rtt_us;
        if (!cb(ud, &info)) {
            return;
        }
    }
}

void
node_status(node_t *n, node_status_t *out)
{
    memset(out, 0, sizeof *out);
    out->uptime_ms = node_mono_ms(n) - n->started_ms;
    peertab_counts_t c;
    peertab_counts(n->peers, &c);
    out->peers_ready = c.ready;
    out->peers_in = c.in;
    out->peers_out = c.out;
    out->contacts = node_contact_count(n);
    transport_bound(n->transport, out->listen, TRANSPORT_LISTEN_MAX, &out->n_listen);
    if (n->portmap != NULL) {
        out->has_portmap = true;
        portmap_info(n->portmap, &out->portmap);
    }
    out->malformed = n->malformed;
    out->unknown = n->unknown;
    out->unsolicited = n->unsolicited;
    out->timeouts = n->timeouts;
    out->oversized = n->oversized;
    out->pongs = n->pongs;
    out->peers_dropped = n->peers_dropped;
    transport_stats(n->transport, &out->transport);
    node_dialback_status(n, out);
    node_relay_status(n, out);
    if (n->cfg.socks5 != NULL && n->cfg.socks5[0] != '\0') {
        snprintf(out->socks5, sizeof out->socks5, "%s", n->cfg.socks5);
        out->circuit_per_peer = transport_circuit_per_peer(n->transport);
        if (!out->circuit_per_peer) {
            char version[32];
            torctl_zmq_version(version, sizeof version);
            snprintf(out->circuits_why, sizeof out->circuits_why,
                     "libzmq %s has no SOCKS username option (a draft option of 4.3.x)",
                     version);
        }
    }
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
