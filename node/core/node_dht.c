/* node_dht: the DHT wired to the node. Its messages go through the
 * transport (connecting to a node first when it is not a peer yet), its
 * clock is the node's clock, and its routing table is kept in the store
 * between runs. dht/ itself knows nothing of any of this. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defence.h"
#include "dhtid.h"
#include "head.h"
#include "node_int.h"
#include "wire.h"

static int
dht_send(void *ud, const dht_contact_t *to, const dht_msg_t *m)
{
    node_t *n = ud;
    size_t len = 0;
    /* Its own buffer: sending may first connect and send HELLO, which
     * encodes into the node's send buffer. */
    if (wire_encode_dht(m, n->dht_frame, WIRE_MAX_FRAME, &len) != WIRE_OK) {
        log_line(node_log(n), LOG_LEVEL_ERROR, "cannot encode a DHT %s",
                 dht_msg_type_name(m->type));
        return -1;
    }
    return node_send_frame(n, to->key, to->endpoint, n->dht_frame, len);
}

static void
dht_random(void *ud, void *buf, size_t len)
{
    (void)ud;
    randombytes_buf(buf, len);
}

/* A provider may be named by a relayed endpoint (PROTOCOL.md 10.6.1);
 * a contact for lookups only by a tcp one. */
static bool
dht_endpoint_ok(void *ud, const char *endpoint)
{
    (void)ud;
    return addr_dialable(endpoint);
}

static bool
dht_route_ok(void *ud, const char *endpoint)
{
    (void)ud;
    return addr_endpoint_valid(endpoint);
}

static void
contact_of(dht_contact_t *c, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint)
{
    memset(c, 0, sizeof *c);
    memcpy(c->key, key, KEYS_PUBLIC_SIZE);
    snprintf(c->endpoint, sizeof c->endpoint, "%s", endpoint);
}

static bool
on_saved_route(void *ud, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint,
               uint64_t last_seen_ms)
{
    (void)last_seen_ms;
    node_dht_offer(ud, key, endpoint);
    return true;
}

/* True for a loopback endpoint (127/8, ::1, localhost): a test network on one host,
 * where the per-subnet bound of the routing table would refuse every node
 * after the first two. */
static bool
loopback(const char *endpoint)
{
    addr_t a;
    return addr_parse(endpoint, &a) == ADDR_OK && addr_class(&a) == ADDR_LOOPBACK;
}

node_err_t
node_dht_start(node_t *n)
{
    n->dht_frame = malloc(WIRE_MAX_FRAME);
    if (n->dht_frame == NULL) {
        return NODE_ENOMEM;
    }
    dht_config_t cfg = {
        .endpoint = n->self_endpoint,
        .send = dht_send,
        .random = dht_random,
        .endpoint_ok = dht_endpoint_ok,
        .route_ok = dht_route_ok,
        .ud = n,
        .per_subnet = loopback(n->self_endpoint) ? -1 : 0,
        /* Test only: "provider-groups" off lets one group fill a key's list. */
        .key_providers_per_group =
            defence_off(n->cfg.defences_off, "provider-groups") ? DHT_KEY_PROVIDERS_MAX : 0,
        /* Test only: "lookup-groups" off lets ids of a few networks fill a
         * lookup (tests/sim/sim_dht.c --attack --defences-off). */
        .lookup_per_group = defence_off(n->cfg.defences_off, "lookup-groups") ? -1 : 0,
    };
    memcpy(cfg.key, n->cfg.node_key->pk, KEYS_PUBLIC_SIZE);
    dht_err_t err = dht_new(&n->dht, &cfg);
    if (err != DHT_OK) {
        log_line(node_log(n), LOG_LEVEL_ERROR, "cannot start the DHT: %s", dht_strerror(err));
        return err == DHT_ENOMEM ? NODE_ENOMEM : NODE_EINVAL;
    }
    size_t bad = 0;
    if (store_routes(n->cfg.store, on_saved_route, n, &bad) != STORE_OK) {
        log_line(node_log(n), LOG_LEVEL_WARN, "cannot read the saved routing table: %s",
                 store_last_error(n->cfg.store));
    }
    if (node_dialback_on(n)) {
        log_line(node_log(n), LOG_LEVEL_INFO,
                 "DHT: %zu contacts from the last run; endpoints announced once peers dial "
                 "them back",
                 dht_table_size(n->dht));
    } else {
        log_line(node_log(n), LOG_LEVEL_INFO,
                 "DHT: %zu contacts from the last run; reachable at %s", dht_table_size(n->dht),
                 n->self_endpoint[0] ? n->self_endpoint : "(nowhere)");
    }
    n->dht_saved_ms = node_mono_ms(n);
    return NODE_OK;
}

/* Writes the routing table to the store, replacing what was there. */
static void
save_table(node_t *n)
{
    size_t cap = dht_table_size(n->dht);
    store_contact_t *rows = cap > 0 ? calloc(cap, sizeof *rows) : NULL;
    if (cap > 0 && rows == NULL) {
        return;
    }
    size_t k = 0;
    dht_table_iter_t it = {0, 0};
    dht_table_entry_t e;
    while (k < cap && dht_table_next(n->dht, &it, &e)) {
        memcpy(rows[k].node_key, e.c.key, KEYS_PUBLIC_SIZE);
        snprintf(rows[k].endpoint, sizeof rows[k].endpoint, "%s", e.c.endpoint);
        /* The DHT keeps monotonic times; the store keeps wall times. */
        rows[k].last_seen_ms = node_wall_of(n, e.last_seen_ms);
        k++;
    }
    if (store_routes_replace(n->cfg.store, rows, k) != STORE_OK) {
        log_line(node_log(n), LOG_LEVEL_WARN, "cannot save the routing table: %s",
                 store_last_error(n->cfg.store));
    }
    free(rows);
}

void
node_dht_stop(node_t *n)
{
    if (n->dht != NULL) {
        save_table(n);
        dht_free(n->dht);
        n->dht = NULL;
    }
    free(n->dht_frame);
    n->dht_frame = NULL;
}

static void announce_all(node_t *n, bool again);

/* A node that started alone (no saved table, no bootstrap) announced to
 * nobody; the DHT would retry only a minute later. Its first contact is the
 * moment to announce again. And a table that has doubled since the last
 * announce (from 4 up to NODE_DHT_REANNOUNCE_UPTO contacts) means a young
 * network that grew: nodes closer to our keys than those we announced to
 * have joined, and lookups ask them, not the ones holding our records. */
static void
after_contact(node_t *n)
{
    size_t size = dht_table_size(n->dht);
    if (n->dht_was_empty && size > 0) {
        n->dht_was_empty = false;
        log_line(node_log(n), LOG_LEVEL_DEBUG, "DHT: first contact; announcing again");
        node_dht_announce_all(n);
    } else if (size >= 4 && size >= 2 * n->dht_announced_size &&
               n->dht_announced_size < NODE_DHT_REANNOUNCE_UPTO) {
        log_line(node_log(n), LOG_LEVEL_DEBUG, "DHT: %zu contacts now; announcing again", size);
        announce_all(n, true);
    }
}

/* may_hold: false once an ANNOUNCE was held NODE_HOLD_MS, so the
 * announcer hears "no endpoint" while it still waits for the answer
 * (DHT_STORE_TIMEOUT_MS), and tries again later (dht.c, store_missed). */
static void
receive(node_t *n, peer_t *p, const dht_msg_t *m, bool may_hold)
{
    if (n->dht == NULL) {
        return;
    }
    /* A provider record needs the endpoint that is being dialled now: the
     * ANNOUNCE waits for the result rather than be refused for want of it. */
    if (may_hold && m->type == DHT_MSG_ANNOUNCE && p->held < NODE_HELD_MAX &&
        (node_dialback_checking(n, p) || node_dialback_relay_checking(n, p))) {
        if (p->held == 0) {
            p->held_ms = node_mono_ms(n);
        }
        p->held_rid[p->held] = m->rid;
        memcpy(p->held_key[p->held], m->u.key, KEYS_PUBLIC_SIZE);
        p->held++;
        return;
    }
    /* An endpoint not known to reach the peer is not given: the DHT then
     * answers it and forgets it. A relayed one that reached it may name it
     * as a provider; the DHT keeps it out of its table (dht_route_ok). */
    dht_contact_t from;
    contact_of(&from, p->key, p->endpoint_verified ? p->endpoint : node_dialback_relayed(n, p));
    dht_err_t err = dht_receive(n->dht, &from, m, node_mono_ms(n));
    if (err != DHT_OK) {
        log_line(node_log(n), LOG_LEVEL_DEBUG, "DHT %s from a peer not taken: %s",
                 dht_msg_type_name(m->type), dht_strerror(err));
    }
    after_contact(n);
}

void
node_dht_receive(node_t *n, peer_t *p, const dht_msg_t *m)
{
    receive(n, p, m, true);
}

static void
replay_held(node_t *n, peer_t *p, bool may_hold)
{
    unsigned held = p->held;
    p->held = 0;
    for (unsigned i = 0; i < held && n->dht != NULL; i++) {
        dht_msg_t *m = &n->db.replay;
        dht_msg_init(m, DHT_MSG_ANNOUNCE, p->held_rid[i]);
        memcpy(m->u.key, p->held_key[i], KEYS_PUBLIC_SIZE);
        receive(n, p, m, may_hold);
    }
}

void
node_dht_release(node_t *n, peer_t *p)
{
    replay_held(n, p, true);
}

void
node_dht_release_late(node_t *n, peer_t *p)
{
    replay_held(n, p, false);
}

void
node_dht_peer_ready(node_t *n, peer_t *p)
{
    if (n->dht != NULL && p->endpoint[0] != '\0' && p->endpoint_verified) {
        node_dht_offer(n, p->key, p->endpoint);
    }
}

void
node_dht_peer_lost(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], bool failed)
{
    if (n->dht == NULL) {
        return;
    }
    if (failed) {
        (void)dht_unreachable(n->dht, key, node_mono_ms(n));
    } else {
        (void)dht_lost(n->dht, key, node_mono_ms(n));
    }
}

void
node_dht_offer(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint)
{
    if (n->dht == NULL || !addr_endpoint_valid(endpoint)) {
        return;
    }
    dht_contact_t c;
    contact_of(&c, key, endpoint);
    (void)dht_add_contact(n->dht, &c, node_mono_ms(n));
    after_contact(n);
}

uint64_t
node_dht_tick(node_t *n, uint64_t now)
{
    if (n->dht == NULL) {
        return 0;
    }
    uint64_t next = 0;
    dht_tick(n->dht, now, &next);
    if (now - n->dht_saved_ms >= NODE_DHT_SAVE_MS) {
        save_table(n);
        n->dht_saved_ms = now;
    }
    return next;
}

uint64_t
node_dht_next(node_t *n)
{
    return n->dht != NULL ? dht_next_ms(n->dht) : 0;
}

/* ---- what the node publishes ---- */

static void
announce(node_t *n, const uint8_t author[KEYS_PUBLIC_SIZE])
{
    dht_err_t err = dht_announce(n->dht, author, node_mono_ms(n));
    if (err != DHT_OK) {
        log_line(node_log(n), LOG_LEVEL_WARN, "DHT: cannot announce a feed: %s", dht_strerror(err));
    }
}

static bool
on_followed(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t since_ms)
{
    (void)since_ms;
    announce(ud, author);
    return true;
}

/* Signs "my latest post is seq S, id I" and keeps it in the DHT. again: a
 * put of this same head that reached nobody is started over (the DHT would
 * refuse the same seq as stale, and retry only a minute later). */
static void
put_head(node_t *n, uint64_t seq, const uint8_t id[POST_ID_SIZE], bool again)
{
    if (again) {
        (void)dht_unput_head(n->dht, n->cfg.author->pk);
    }
    head_t h;
    uint8_t rec[HEAD_SIZE];
    size_t len = 0;
    /* The head's timestamp is signed and shown to others: wall time. */
    head_init(&h, seq, id, node_wall_ms(n));
    head_err_t herr = head_sign(&h, n->cfg.author, rec, sizeof rec, &len);
    dht_err_t err = herr == HEAD_OK ? dht_put_head(n->dht, rec, len, node_mono_ms(n)) : DHT_EINVAL;
    if (err != DHT_OK && err != DHT_ESTALE) {
        log_line(node_log(n), LOG_LEVEL_WARN, "DHT: cannot publish the head of post #%llu: %s",
                 (unsigned long long)seq,
                 herr != HEAD_OK ? head_strerror(herr) : dht_strerror(err));
    }
}

/* Announces our own feed and every followed one, and puts our head; again:
 * the head is put anew even if the same one was put before (it reached too
 * few, or the wrong, nodes). */
static void
announce_all(node_t *n, bool again)
{
    n->dht_announced_size = dht_table_size(n->dht);
    n->dht_was_empty = n->dht_announced_size == 0;
    if (n->dht_endpoint[0] == '\0') {
        /* Before the dial-back check has said anything, not a warning: the
         * feeds are announced as soon as a peer has dialled us back. */
        bool checking = node_dialback_state(n) == NODE_REACH_CHECKING;
        log_line(node_log(n), checking ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN,
                 "DHT: no endpoint others can reach; this node will not announce its feeds%s",
                 checking ? " until a peer has dialled it back" : "");
    } else {
        announce(n, n->cfg.author->pk);
        if (store_following(n->cfg.store, on_followed, n) != STORE_OK) {
            log_line(node_log(n), LOG_LEVEL_WARN, "cannot read the follows: %s",
                     store_last_error(n->cfg.store));
        }
    }
    store_head_t head;
    if (store_get_head(n->cfg.store, n->cfg.author->pk, &head) == STORE_OK && head.seq > 0) {
        put_head(n, head.seq, head.id, again);
    }
    node_schedule(n);
}

void
node_dht_endpoint_changed(node_t *n)
{
    char want[sizeof n->dht_endpoint];
    snprintf(want, sizeof want, "%s", n->self_endpoint);
    if (want[0] == '\0') {
        char relayed[NODE_RELAYS_MAX][ADDR_ENDPOINT_MAX + 1];
        if (node_relay_endpoints(n, relayed, NODE_RELAYS_MAX) > 0) {
            snprintf(want, sizeof want, "%s", relayed[0]);
        }
    }
    bool had = n->dht_endpoint[0] != '\0';
    bool changed = strcmp(want, n->dht_endpoint) != 0;
    snprintf(n->dht_endpoint, sizeof n->dht_endpoint, "%s", want);
    if (changed && n->dht != NULL) {
        (void)dht_set_endpoint(n->dht, n->dht_endpoint);
    }
    if (!had && want[0] != '\0') {
        node_dht_announce_all(n);
    }
    /* Our HELLO names what the check found, or our relays. */
    size_t it = 0;
    for (peer_t *p; (p = peertab_next(n->peers, &it)) != NULL;) {
        if (p->dir == TRANSPORT_OUT && p->state == PEER_READY) {
            node_send_hello(n, p, ++n->next_request_id);
        }
    }
}

void
node_dht_announce_all(node_t *n)
{
    if (n->dht != NULL) {
        announce_all(n, n->dht_was_empty);
    }
}

void
node_follow_changed(node_t *n, const uint8_t author[KEYS_PUBLIC_SIZE], bool following)
{
    if (n->dht == NULL) {
        return;
    }
    if (following) {
        if (n->dht_endpoint[0] != '\0') {
            announce(n, author);
        }
        node_gossip_subscriptions_changed(n);
        node_gossip_follow(n, author);
        node_schedule(n);
        return;
    } else if (memcmp(author, n->cfg.author->pk, KEYS_PUBLIC_SIZE) != 0) {
        (void)dht_unannounce(n->dht, author);
    }
    node_gossip_subscriptions_changed(n);
    node_schedule(n);
}

void
node_published(node_t *n, const post_t *p)
{
    if (n->dht != NULL && memcmp(p->author, n->cfg.author->pk, KEYS_PUBLIC_SIZE) == 0) {
        put_head(n, p->seq, p->id, false);
    }
    node_gossip_published(n, p);
    node_emit(n, NODE_EVENT_POST, p, NULL);
    node_schedule(n);
}

/* ---- lookups for the CLI ---- */

static node_err_t
lookup_err(dht_err_t err)
{
    switch (err) {
    case DHT_OK:
        return NODE_OK;
    case DHT_EBUSY:
        return NODE_EBUSY;
    case DHT_ENOPEERS:
        return NODE_ENOPEERS;
    case DHT_ENOMEM:
        return NODE_ENOMEM;
    default:
        return NODE_EINVAL;
    }
}

node_err_t
node_find_node(node_t *n, const uint8_t target[KEYS_PUBLIC_SIZE], node_lookup_cb cb, void *ud)
{
    if (n->dht == NULL) {
        return NODE_ENOPEERS;
    }
    node_err_t err = lookup_err(dht_find_node(n->dht, target, cb, ud, node_mono_ms(n)));
    node_schedule(n);
    return err;
}

node_err_t
node_find_providers(node_t *n, const uint8_t author[KEYS_PUBLIC_SIZE], node_lookup_cb cb, void *ud)
{
    if (n->dht == NULL) {
        return NODE_ENOPEERS;
    }
    node_err_t err = lookup_err(dht_get_providers(n->dht, author, cb, ud, node_mono_ms(n)));
    node_schedule(n);
    return err;
}

node_err_t
node_find_head(node_t *n, const uint8_t author[KEYS_PUBLIC_SIZE], node_lookup_cb cb, void *ud)
{
    if (n->dht == NULL) {
        return NODE_ENOPEERS;
    }
    node_err_t err = lookup_err(dht_get_head(n->dht, author, cb, ud, node_mono_ms(n)));
    node_schedule(n);
    return err;
}

void
node_dht_status(node_t *n, node_dht_status_t *out)
{
    memset(out, 0, sizeof *out);
    if (n->dht == NULL) {
        return;
    }
    dht_stats_t st;
    dht_get_stats(n->dht, &st);
    out->table = st.table_size;
    out->records = st.records;
    out->announces = st.announces;
    out->lookups = st.lookups_active;
    out->lookups_done = st.lookups_done;
    out->timeouts = st.timeouts;
}
