/* node_contacts: the nodes we know of and may dial (from the saved peers,
 * bootstrap.list, the local network, PEERS answers and peers added by
 * hand), dialling them with back-off to keep NODE_OUT_TARGET neighbours,
 * and the outbound connections other parts ask for: kept ones (gossip,
 * feeds) and transient ones that carry a DHT message. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap.h"
#include "node_int.h"

static contact_t *
contact_find(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    for (int i = 0; i < NODE_CONTACTS_MAX; i++) {
        if (n->contacts[i].used && memcmp(n->contacts[i].key, key, KEYS_PUBLIC_SIZE) == 0) {
            return &n->contacts[i];
        }
    }
    return NULL;
}

static void
alt_remove(contact_t *c, const char *ep)
{
    for (uint8_t i = 0; i < c->n_alt; i++) {
        if (strcmp(c->alt[i], ep) == 0) {
            memmove(c->alt[i], c->alt[i + 1], (size_t)(c->n_alt - i - 1) * sizeof c->alt[0]);
            c->n_alt--;
            return;
        }
    }
}

static void
alt_add(contact_t *c, const char *ep)
{
    if (!addr_relay_valid(ep) || strcmp(c->endpoint, ep) == 0) {
        return;
    }
    alt_remove(c, ep);
    /* Full: the newest replaces the last. */
    uint8_t i = c->n_alt < NODE_CONTACT_ALTS ? c->n_alt++ : NODE_CONTACT_ALTS - 1;
    snprintf(c->alt[i], sizeof c->alt[i], "%s", ep);
}

/* A dial of c's endpoint failed: its first alternate is dialled next, soon
 * (another relay, not the same one again); the failed one goes last. */
static void
contact_rotate(contact_t *c, uint64_t now)
{
    if (c->n_alt == 0) {
        return;
    }
    char failed[sizeof c->endpoint];
    memcpy(failed, c->endpoint, sizeof failed);
    memcpy(c->endpoint, c->alt[0], sizeof c->endpoint);
    alt_remove(c, c->endpoint);
    alt_add(c, failed);
    c->next_try_ms = now + NODE_ALT_RETRY_MS;
}

void
node_drop_peer(node_t *n, peer_t *p, const char *why)
{
    contact_t *c = contact_find(n, p->key);
    if (c != NULL) {
        c->failures++;
        c->next_try_ms = node_mono_ms(n) + (5000u << (c->failures < 7 ? c->failures : 7));
        contact_rotate(c, node_mono_ms(n));
    }
    node_peer_forget(n, p, why, true);
}

void
node_contact_failed(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    contact_t *c = contact_find(n, key);
    if (c != NULL) {
        c->failures++;
        contact_rotate(c, node_mono_ms(n));
    }
}

void
node_add_alternate(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint)
{
    contact_t *c = contact_find(n, key);
    if (c != NULL && endpoint != NULL) {
        alt_add(c, endpoint);
    }
}

void
node_contact_refused(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], bool busy)
{
    contact_t *c = contact_find(n, key);
    uint64_t now = node_mono_ms(n);
    if (c == NULL) {
        return;
    }
    c->failures++;
    if (!busy) {
        c->next_try_ms = now + 60000u * c->failures;
        return;
    }
    /* Full now is not full for long (newcomers on probation come and go
     * within seconds): soon again, then backing off, with jitter so a
     * crowd refused at once does not come back at once. */
    uint64_t wait = (uint64_t)NODE_BUSY_RETRY_MS << (c->failures < 6 ? c->failures - 1 : 5);
    wait = wait > 60000 ? 60000 : wait;
    c->next_try_ms = now + wait * 3 / 4 + randombytes_uniform((uint32_t)(wait / 2));
}

void
node_contact_note(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint)
{
    if (memcmp(key, n->cfg.node_key->pk, KEYS_PUBLIC_SIZE) == 0 || !addr_dialable(endpoint)) {
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
    if (c->used && strcmp(c->endpoint, endpoint) != 0) {
        alt_add(c, c->endpoint); /* a relay it had stays an alternate */
    }
    alt_remove(c, endpoint);
    c->used = true;
    memcpy(c->key, key, KEYS_PUBLIC_SIZE);
    snprintf(c->endpoint, sizeof c->endpoint, "%s", endpoint);
}

size_t
node_contact_count(node_t *n)
{
    size_t c = 0;
    for (int i = 0; i < NODE_CONTACTS_MAX; i++) {
        c += n->contacts[i].used;
    }
    return c;
}

bool
node_dialable(const node_t *n, const char *endpoint)
{
    if (addr_relay_valid(endpoint)) {
        return true; /* through a relay (the transport refuses it behind a proxy) */
    }
    addr_t a;
    if (addr_parse(endpoint, &a) != ADDR_OK) {
        return false;
    }
    return !addr_is_onion(&a) || (n->cfg.socks5 != NULL && n->cfg.socks5[0] != '\0');
}

/* Opens an outbound connection and sends HELLO. NULL when there is no slot
 * or the connect fails. */
static peer_t *
connect_to(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint, bool transient,
           bool dialback, uint64_t now)
{
    if (transport_banned(n->transport, key)) {
        return NULL; /* misbehaved: not dialled until the ban ends */
    }
    if (!node_dialable(n, endpoint)) {
        return NULL;
    }
    if (dialback) {
        peertab_counts_t c;
        peertab_counts(n->peers, &c);
        if (c.dialbacks >= NODE_DIALBACK_CONNS_MAX) {
            return NULL;
        }
    } else if (!node_slot_free(n, TRANSPORT_OUT) &&
               !(transient && node_evict_idle(n, TRANSPORT_OUT, now))) {
        return NULL;
    }
    if (transport_connect(n->transport, key, endpoint) != TRANSPORT_OK) {
        return NULL;
    }
    peer_t *p = node_peer_add(n, key, TRANSPORT_OUT);
    if (p == NULL) {
        transport_disconnect(n->transport, key);
        return NULL;
    }
    p->transient = transient;
    p->dialback = dialback;
    /* The handshake proves the key is there; but a relayed endpoint
     * reaches it only while its reservation lasts, and never goes to the
     * DHT as a contact for lookups. */
    p->endpoint_verified = !addr_relay_valid(endpoint);
    p->offered_gossip = !transient;
    snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
    log_line(node_log(n), transient ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, "connecting to %s",
             endpoint);
    node_send_hello(n, p, ++n->next_request_id);
    return p;
}

peer_t *
node_connect(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint)
{
    if (memcmp(key, n->cfg.node_key->pk, KEYS_PUBLIC_SIZE) == 0 || !addr_dialable(endpoint)) {
        return NULL;
    }
    peer_t *p = peertab_find(n->peers, key, TRANSPORT_OUT);
    if (p != NULL) {
        node_keep_peer(n, p);
        return p;
    }
    return connect_to(n, key, endpoint, false, false, node_mono_ms(n));
}

peer_t *
node_connect_transient(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint)
{
    if (memcmp(key, n->cfg.node_key->pk, KEYS_PUBLIC_SIZE) == 0 || !addr_endpoint_valid(endpoint) ||
        peertab_find(n->peers, key, TRANSPORT_OUT) != NULL) {
        return NULL;
    }
    return connect_to(n, key, endpoint, true, true, node_mono_ms(n));
}

static void
dial(node_t *n, contact_t *c, uint64_t now)
{
    /* Back off on repeated failure: 5 s, 10 s, 20 s ... up to about ten
     * minutes, so a node back from a partition or a restart is found again
     * soon, and a dead one costs little. */
    uint32_t f = c->failures < 7 ? c->failures : 7;
    c->next_try_ms = now + (5000u << f);
    if (connect_to(n, c->key, c->endpoint, false, false, now) == NULL) {
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
    p->dialback = false; /* a neighbour now: it holds a slot like any */
    p->offered_gossip = true;
    /* A new HELLO offers gossip on the connection; the answer brings it up. */
    if (p->state == PEER_READY) {
        char k[24];
        node_short_key(k, p->key);
        /* Its "ready" was a debug line, as for every DHT connection. */
        log_line(node_log(n), LOG_LEVEL_INFO, "peer %s kept (%s, %s)", k,
                 p->dir == TRANSPORT_OUT ? "outbound" : "inbound",
                 p->endpoint[0] ? p->endpoint : "no listen address");
        node_send_hello(n, p, ++n->next_request_id);
    }
}

/* Outbound peers kept as neighbours (not transient). */
static size_t
neighbours(node_t *n)
{
    peertab_counts_t c;
    peertab_counts(n->peers, &c);
    return c.neighbours;
}

void
node_dial_more(node_t *n, uint64_t now)
{
    size_t out = neighbours(n);
    for (int i = 0; i < NODE_CONTACTS_MAX && out < NODE_OUT_TARGET; i++) {
        contact_t *c = &n->contacts[i];
        if (!c->used || c->next_try_ms > now) {
            continue;
        }
        peer_t *p = peertab_find(n->peers, c->key, PEERTAB_ANY_DIR);
        if (p == NULL) {
            dial(n, c, now);
        } else if (p->dir == TRANSPORT_OUT && p->transient) {
            node_keep_peer(n, p); /* already connected: keep it as a neighbour */
        }
        out = neighbours(n);
    }
}

void
node_queue_flush(node_t *n, peer_t *p)
{
    for (unsigned i = 0; i < p->queued; i++) {
        (void)transport_send(n->transport, p->dir, p->key, p->queue[i], p->queue_len[i]);
        free(p->queue[i]);
        p->queue[i] = NULL;
    }
    p->queued = 0;
}

int
node_send_frame(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint,
                const uint8_t *frame, size_t len)
{
    uint64_t now = node_mono_ms(n);
    peer_t *p = node_peer_ready(n, key);
    if (p != NULL && (p->visitor || p->dialback)) {
        /* Those close soon: the other connection, if there is one. */
        peer_t *other =
            peertab_find(n->peers, key, p->dir == TRANSPORT_IN ? TRANSPORT_OUT : TRANSPORT_IN);
        if (other != NULL && other->state == PEER_READY && !other->visitor && !other->dialback) {
            p = other;
        }
    }
    if (p != NULL) {
        p->dialback = false; /* used: no longer closed when the dial-back is done */
        p->used_ms = now;
        return transport_send(n->transport, p->dir, p->key, frame, len) == TRANSPORT_OK ? 0 : -1;
    }
    p = peertab_find(n->peers, key, TRANSPORT_OUT);
    if (p != NULL) {
        p->dialback = false;
    }
    if (p == NULL) {
        if (endpoint == NULL || !addr_endpoint_valid(endpoint) ||
            memcmp(key, n->cfg.node_key->pk, KEYS_PUBLIC_SIZE) == 0) {
            return -1;
        }
        p = connect_to(n, key, endpoint, true, false, now);
        if (p == NULL) {
            return -1;
        }
    }
    return peertab_queue_push(p, frame, len);
}

void
node_save_peers(node_t *n, uint64_t now)
{
    size_t it = 0;
    for (peer_t *p; (p = peertab_next(n->peers, &it)) != NULL;) {
        if (p->state == PEER_READY && p->endpoint[0] != '\0') {
            (void)store_peer_save(n->cfg.store, p->key, p->endpoint, node_wall_ms(n));
        }
    }
    n->last_save_ms = now;
}

static bool
on_saved_peer(void *ud, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint,
              uint64_t last_seen_ms)
{
    (void)last_seen_ms;
    node_contact_note(ud, key, endpoint);
    node_dht_offer(ud, key, endpoint);
    return true;
}

static void
on_bootstrap_entry(void *ud, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint)
{
    node_contact_note(ud, key, endpoint);
    node_dht_offer(ud, key, endpoint);
}

void
node_lan_found(void *ud, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint)
{
    node_t *n = ud;
    if (contact_find(n, key) == NULL && peertab_find(n->peers, key, PEERTAB_ANY_DIR) == NULL) {
        log_line(node_log(n), LOG_LEVEL_INFO, "found %s on the local network", endpoint);
    }
    node_contact_note(n, key, endpoint);
    node_dht_offer(n, key, endpoint);
}

void
node_load_contacts(node_t *n)
{
    /* Peers from the last run come first: they were alive recently. The
     * table is pruned to the most recent ones so it cannot grow forever. */
    uint64_t pruned = 0;
    (void)store_peers_prune(n->cfg.store, NODE_SAVED_PEERS_MAX, &pruned);
    size_t malformed = 0;
    if (store_peers(n->cfg.store, on_saved_peer, n, &malformed) != STORE_OK) {
        log_line(node_log(n), LOG_LEVEL_WARN, "cannot read the saved peers: %s",
                 store_last_error(n->cfg.store));
    }
    log_line(node_log(n), LOG_LEVEL_INFO, "%zu peers known from the last run%s",
             node_contact_count(n), malformed > 0 ? " (malformed records skipped)" : "");
    if (n->cfg.bootstrap_path != NULL) {
        size_t good = 0, bad = 0;
        bootstrap_read(n->cfg.bootstrap_path, on_bootstrap_entry, n, node_log(n), &good, &bad);
        log_line(node_log(n), LOG_LEVEL_INFO, "bootstrap: %zu entries from %s%s", good,
                 n->cfg.bootstrap_path, bad ? " (some lines refused; see above)" : "");
    }
}

node_err_t
node_add_peer(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint)
{
    if (!addr_dialable(endpoint)) {
        return NODE_EINVAL;
    }
    node_contact_note(n, key, endpoint);
    contact_t *c = contact_find(n, key);
    if (c != NULL) {
        c->failures = 0;
        c->next_try_ms = 0;
    }
    (void)store_peer_save(n->cfg.store, key, endpoint, 0);
    node_dial_more(n, node_mono_ms(n));
    return NODE_OK;
}
