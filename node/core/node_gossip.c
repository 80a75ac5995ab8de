/* node_gossip: gossip and feed sync wired to the node. Frames go to ready
 * peers through the transport, the store stands behind the state machine's
 * callbacks, and its clock is the node's. The node also looks up, through
 * the DHT, who replicates each followed author and connects to a few of
 * them, so every followed feed has peers to sync with. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip.h"
#include "keytext.h"
#include "node_int.h"

/* gossip/ repeats the frame layout so that it needs no transport header. */
_Static_assert((int)GOSSIP_FRAME_VERSION == (int)WIRE_VERSION, "gossip frame version");
_Static_assert((int)GOSSIP_FRAME_HEADER == (int)WIRE_HEADER_SIZE, "gossip frame header");
_Static_assert((int)GOSSIP_FRAME_MAX == (int)WIRE_MAX_FRAME, "gossip frame size");
_Static_assert((int)GOSSIP_TYPE_DEFINED_LAST == (int)GOSSIP_FORK, "the last gossip type defined");

/* ---- callbacks: the store behind the state machine ---- */

static int
g_send(void *ud, const uint8_t peer[static KEYS_PUBLIC_SIZE], const uint8_t *frame, size_t len)
{
    /* No endpoint: gossip only talks to peers already connected. */
    return node_send_frame(ud, peer, NULL, frame, len);
}

static void
g_random(void *ud, uint8_t *buf, size_t len)
{
    (void)ud;
    randombytes_buf(buf, len);
}

static int
g_head(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t *seq,
       uint8_t id[static POST_ID_SIZE], uint64_t *max_seq)
{
    node_t *n = ud;
    store_head_t h;
    store_err_t err = store_get_head(n->cfg.store, author, &h);
    if (err == STORE_ENOTFOUND) {
        *seq = *max_seq = 0;
        memset(id, 0, POST_ID_SIZE);
        return 0;
    }
    if (err != STORE_OK) {
        return 1;
    }
    *seq = h.seq;
    *max_seq = h.max_seq;
    memcpy(id, h.id, POST_ID_SIZE);
    return 0;
}

static bool
g_has_post(void *ud, const uint8_t id[static POST_ID_SIZE])
{
    node_t *n = ud;
    bool yes = false;
    return store_has_post(n->cfg.store, id, &yes) == STORE_OK && yes;
}

static gossip_ingest_t
from_store(store_ingest_t r)
{
    switch (r) {
    case STORE_INGEST_EXTENDED:
        return GOSSIP_INGEST_EXTENDED;
    case STORE_INGEST_AHEAD:
        return GOSSIP_INGEST_AHEAD;
    case STORE_INGEST_DUPLICATE:
        return GOSSIP_INGEST_DUPLICATE;
    case STORE_INGEST_FORK:
        return GOSSIP_INGEST_FORK;
    case STORE_INGEST_BLOCKED:
        return GOSSIP_INGEST_BLOCKED;
    case STORE_INGEST_FUTURE:
        return GOSSIP_INGEST_FUTURE;
    case STORE_INGEST_INVALID:
    default:
        return GOSSIP_INGEST_INVALID;
    }
}

static int
g_ingest(void *ud, const post_t *p, const uint8_t *raw, size_t len, gossip_ingest_t *result)
{
    node_t *n = ud;
    store_ingest_info_t info;
    /* The future-post check compares the signed timestamp: wall time. */
    store_err_t err = store_ingest_decoded(n->cfg.store, p, raw, len, node_wall_ms(n), &info);
    if (err != STORE_OK) {
        log_line(node_log(n), LOG_LEVEL_WARN, "cannot store a post: %s: %s", store_strerror(err),
                 store_last_error(n->cfg.store));
        return 1;
    }
    *result = from_store(info.result);
    if (info.result == STORE_INGEST_EXTENDED || info.result == STORE_INGEST_AHEAD) {
        char a[KEYTEXT_BUFSZ];
        keytext_encode(a, KEYTEXT_AUTHOR, p->author);
        log_line(node_log(n), LOG_LEVEL_DEBUG, "stored post #%llu of %s",
                 (unsigned long long)p->seq, a);
        node_emit(n, NODE_EVENT_POST, p, NULL);
    }
    if (info.result == STORE_INGEST_FORK) {
        char a[KEYTEXT_BUFSZ];
        keytext_encode(a, KEYTEXT_AUTHOR, p->author);
        log_line(node_log(n), LOG_LEVEL_WARN,
                 "fork: %s signed two posts that cannot both be in its "
                 "feed (seq %llu); kept as evidence",
                 a, (unsigned long long)p->seq);
    }
    return 0;
}

static bool
g_is_blocked(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE])
{
    node_t *n = ud;
    bool yes = false;
    return store_is_blocked(n->cfg.store, author, &yes) == STORE_OK && yes;
}

static bool
g_replicates(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE])
{
    node_t *n = ud;
    bool yes = false;
    return memcmp(author, n->cfg.author->pk, KEYS_PUBLIC_SIZE) == 0 ||
           (store_is_following(n->cfg.store, author, &yes) == STORE_OK && yes);
}

typedef struct {
    gossip_author_cb cb;
    void *cbud;
} subs_t;

static bool
each_follow(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t since_ms)
{
    (void)since_ms;
    subs_t *s = ud;
    s->cb(s->cbud, author);
    return true;
}

static void
g_subscriptions(void *ud, gossip_author_cb cb, void *cbud)
{
    node_t *n = ud;
    subs_t s = {cb, cbud};
    cb(cbud, n->cfg.author->pk);
    (void)store_following(n->cfg.store, each_follow, &s);
}

typedef struct {
    gossip_post_cb cb;
    void *cbud;
} range_t;

static bool
each_post(void *ud, const post_t *p, const uint8_t *raw, size_t raw_len)
{
    (void)p;
    range_t *r = ud;
    return r->cb(r->cbud, raw, raw_len);
}

static int
g_read_range(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t from_seq,
             size_t max_count, size_t max_bytes, gossip_post_cb cb, void *cbud)
{
    (void)max_bytes; /* gossip stops the walk itself once a page is full */
    node_t *n = ud;
    range_t r = {cb, cbud};
    return store_feed_forward(n->cfg.store, author, from_seq, max_count, each_post, &r) == STORE_OK
               ? 0
               : 1;
}

typedef struct {
    node_t *n;
    gossip_fork_cb cb;
    void *cbud;
    bool failed;
} forks_t;

/* One stored fork record: both posts read back, and handed on. */
static bool
each_fork(void *ud, const store_fork_t *f)
{
    forks_t *x = ud;
    uint8_t a[POST_MAX_SIZE], b[POST_MAX_SIZE];
    size_t a_len = 0, b_len = 0;
    post_t p;
    if (store_get_post(x->n->cfg.store, f->first, &p, a, &a_len) != STORE_OK ||
        store_get_post(x->n->cfg.store, f->second, &p, b, &b_len) != STORE_OK) {
        x->failed = true;
        return true;
    }
    return x->cb(x->cbud, a, a_len, b, b_len);
}

static int
g_forks(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE], gossip_fork_cb cb, void *cbud)
{
    forks_t x = {ud, cb, cbud, false};
    node_t *n = ud;
    return store_forks(n->cfg.store, author, each_fork, &x) == STORE_OK && !x.failed ? 0 : 1;
}

/* Called inside the state machine, which must not be re-entered: the peer
 * is only marked here and dropped once gossip has returned. */
static void
g_misbehaved(void *ud, const uint8_t peer[static KEYS_PUBLIC_SIZE], gossip_fault_t why)
{
    node_t *n = ud;
    char k[24];
    node_short_key(k, peer);
    if (node_peer_log_allowed(n)) {
        log_line(node_log(n), LOG_LEVEL_WARN, "peer %s misbehaved (%s): disconnecting", k,
                 gossip_fault_name(why));
    }
    size_t it = 0;
    for (peer_t *p; (p = peertab_next(n->peers, &it)) != NULL;) {
        if (memcmp(p->key, peer, KEYS_PUBLIC_SIZE) == 0) {
            p->doomed = true;
        }
    }
}

/* ---- the node's side ---- */

node_err_t
node_gossip_start(node_t *n)
{
    gossip_config_t cfg = {
        .ud = n,
        .send = g_send,
        .random = g_random,
        .head = g_head,
        .has_post = g_has_post,
        .ingest = g_ingest,
        .is_blocked = g_is_blocked,
        .replicates = g_replicates,
        .subscriptions = g_subscriptions,
        .read_range = g_read_range,
        .peer_misbehaved = g_misbehaved,
        .forks = g_forks,
    };
    gossip_err_t err = gossip_new(&n->gossip, &cfg);
    if (err != GOSSIP_OK) {
        log_line(node_log(n), LOG_LEVEL_ERROR, "cannot start gossip: %s", gossip_strerror(err));
        return err == GOSSIP_ENOMEM ? NODE_ENOMEM : NODE_EINVAL;
    }
    return NODE_OK;
}

void
node_gossip_stop(node_t *n)
{
    gossip_free(n->gossip);
    n->gossip = NULL;
}

/* Whether gossip runs on this connection: both HELLOs offered it. */
static bool
wants_gossip(const peer_t *p)
{
    return p->state == PEER_READY && (p->caps & WIRE_CAP_GOSSIP) && p->offered_gossip;
}

/* Another ready connection to the same node that gossips, other than p. */
static bool
other_gossip_link(node_t *n, const peer_t *p)
{
    size_t it = 0;
    for (const peer_t *q; (q = peertab_next(n->peers, &it)) != NULL;) {
        if (q != p && q->gossip_up && memcmp(q->key, p->key, KEYS_PUBLIC_SIZE) == 0) {
            return true;
        }
    }
    return false;
}

void
node_gossip_check(node_t *n, peer_t *p)
{
    if (n->gossip == NULL) {
        return;
    }
    bool want = p->used && wants_gossip(p);
    if (want == p->gossip_up) {
        return;
    }
    p->gossip_up = want;
    /* gossip knows nodes, not connections: one up/down per node. */
    if (other_gossip_link(n, p)) {
        return;
    }
    if (want) {
        if (gossip_peer_up(n->gossip, p->key, node_mono_ms(n)) != GOSSIP_OK) {
            p->gossip_up = false;
        }
    } else {
        gossip_peer_down(n->gossip, p->key, node_mono_ms(n));
    }
    uint64_t next = 0;
    gossip_tick(n->gossip, node_mono_ms(n), &next);
    n->gossip_next = next;
}

/* After any call into gossip: drops the peers it reported, now that it has
 * returned, and learns its next deadline (a call may have set one). */
static void
drop_doomed(node_t *n)
{
    size_t it = 0;
    for (peer_t *p; (p = peertab_next(n->peers, &it)) != NULL;) {
        if (p->doomed) {
            /* The ban outlasts the connection: a reconnect, a new HELLO
             * or a new key from the same address start from nothing. */
            (void)transport_ban(n->transport, p->key, NODE_BAN_MS);
            node_drop_peer(n, p, "misbehaved");
        }
    }
    if (n->gossip != NULL) {
        uint64_t next = 0;
        gossip_tick(n->gossip, node_mono_ms(n), &next);
        n->gossip_next = next;
    }
}

void
node_gossip_receive(node_t *n, peer_t *p, const uint8_t *frame, size_t len)
{
    if (n->gossip == NULL || !p->gossip_up) {
        n->unsolicited++;
        return;
    }
    p->used_ms = node_mono_ms(n);
    /* The posts of one frame (a page of a feed) go to disk in one write. */
    bool batched = store_batch_begin(n->cfg.store) == STORE_OK;
    (void)gossip_receive_frame(n->gossip, p->key, frame, len, node_mono_ms(n));
    if (batched) {
        store_err_t err = store_batch_end(n->cfg.store);
        if (err != STORE_OK) {
            /* Lost with the batch: the feed's head stays below them, so they
             * are asked for again. */
            log_line(node_log(n), LOG_LEVEL_WARN, "cannot store a page of posts: %s: %s",
                     store_strerror(err), store_last_error(n->cfg.store));
        }
    }
    drop_doomed(n);
}

uint64_t
node_gossip_tick(node_t *n, uint64_t now)
{
    if (n->gossip == NULL) {
        return 0;
    }
    (void)now;
    drop_doomed(n);
    return n->gossip_next;
}

void
node_gossip_published(node_t *n, const post_t *p)
{
    uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    if (n->gossip == NULL || post_encode(p, raw, sizeof raw, &len) != POST_OK) {
        return;
    }
    (void)gossip_publish(n->gossip, raw, len, node_mono_ms(n));
    drop_doomed(n);
}

void
node_gossip_subscriptions_changed(node_t *n)
{
    if (n->gossip != NULL) {
        gossip_subscriptions_changed(n->gossip, node_mono_ms(n));
        drop_doomed(n);
    }
}

void
node_gossip_status(node_t *n, node_gossip_status_t *out)
{
    memset(out, 0, sizeof *out);
    if (n->gossip == NULL) {
        return;
    }
    gossip_stats_t st;
    gossip_stats(n->gossip, &st);
    out->peers = st.peers;
    out->posts_received = st.posts_received;
    out->posts_stored = st.posts_stored;
    out->posts_duplicate = st.posts_duplicate;
    out->posts_invalid = st.posts_invalid;
    out->posts_forwarded = st.posts_forwarded;
    out->rate_limited = st.rate_limited;
    out->bytes_received = st.bytes_received;
    out->bytes_sent = st.bytes_sent;
    out->forks = st.forks_built + st.forks_received;
}

/* ---- replicas of followed feeds ---- */

static size_t
feed_peers(node_t *n)
{
    peertab_counts_t c;
    peertab_counts(n->peers, &c);
    return c.feed;
}

static void
on_replicas(void *ud, const dht_result_t *r)
{
    node_t *n = ud;
    n->feed_lookups--;
    size_t linked = 0;
    for (size_t i = 0; i < r->n_providers && linked < NODE_FEED_LINKS; i++) {
        const dht_contact_t *c = &r->providers[i];
        if (memcmp(c->key, n->cfg.node_key->pk, KEYS_PUBLIC_SIZE) == 0) {
            continue;
        }
        peer_t *p = node_peer_ready(n, c->key);
        if (p == NULL && feed_peers(n) < NODE_FEED_PEERS_MAX) {
            p = node_connect(n, c->key, c->endpoint);
        } else if (p != NULL && p->dir == TRANSPORT_OUT) {
            node_keep_peer(n, p);
        }
        if (p != NULL) {
            p->feed = p->feed || p->dir == TRANSPORT_OUT;
            linked++;
        }
    }
}

void
node_find_replicas(node_t *n, const uint8_t author[KEYS_PUBLIC_SIZE])
{
    if (node_find_providers(n, author, on_replicas, n) == NODE_OK) {
        n->feed_lookups++;
    }
}

/* Looks the replicas of author up, unless a gossip link for it exists. */
static void
find_replicas(node_t *n, const uint8_t author[KEYS_PUBLIC_SIZE], bool always)
{
    if (n->gossip == NULL || (!always && gossip_eager_count(n->gossip, author) > 0)) {
        return;
    }
    if (node_find_providers(n, author, on_replicas, n) == NODE_OK) {
        n->feed_lookups++;
    }
}

typedef struct {
    node_t *n;
    unsigned picked;
    bool wrapped;
    uint8_t start[KEYS_PUBLIC_SIZE]; /* the cursor when the round began */
} feeds_round_t;

/* A few authors per round, in key order after the last one checked; the
 * second pass wraps around and stops where the round began. */
static bool
each_feed(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t since_ms)
{
    (void)since_ms;
    feeds_round_t *r = ud;
    node_t *n = r->n;
    if (!r->wrapped && memcmp(author, r->start, KEYS_PUBLIC_SIZE) <= 0) {
        return true;
    }
    if (r->wrapped && memcmp(author, r->start, KEYS_PUBLIC_SIZE) > 0) {
        return false;
    }
    memcpy(n->feeds_cursor, author, KEYS_PUBLIC_SIZE);
    find_replicas(n, author, false);
    return ++r->picked < NODE_FEEDS_PER_ROUND;
}

void
node_gossip_feeds(node_t *n, uint64_t now)
{
    if (now < n->feeds_next || n->dht == NULL) {
        return;
    }
    n->feeds_next = now + NODE_FEEDS_EVERY_MS;
    feeds_round_t r = {.n = n};
    memcpy(r.start, n->feeds_cursor, KEYS_PUBLIC_SIZE);
    (void)store_following(n->cfg.store, each_feed, &r);
    if (r.picked < NODE_FEEDS_PER_ROUND) {
        r.wrapped = true;
        (void)store_following(n->cfg.store, each_feed, &r);
    }
}

void
node_gossip_follow(node_t *n, const uint8_t author[KEYS_PUBLIC_SIZE])
{
    find_replicas(n, author, true);
}

/* ---- progress of large feeds ---- */

void
node_feed_expected(node_t *n, const uint8_t author[KEYS_PUBLIC_SIZE], uint64_t seq)
{
    if (seq < NODE_PROGRESS_MIN) {
        return;
    }
    for (int i = 0; i < NODE_PROGRESS_MAX; i++) {
        if (n->progress[i].seq == 0 ||
            memcmp(n->progress[i].author, author, KEYS_PUBLIC_SIZE) == 0) {
            memcpy(n->progress[i].author, author, KEYS_PUBLIC_SIZE);
            n->progress[i].seq = seq;
            n->progress[i].started_ms = node_mono_ms(n);
            return;
        }
    }
}

void
node_gossip_progress(node_t *n, uint64_t now)
{
    if (now < n->progress_next) {
        return;
    }
    n->progress_next = now + NODE_PROGRESS_EVERY_MS;
    for (int i = 0; i < NODE_PROGRESS_MAX; i++) {
        if (n->progress[i].seq == 0) {
            continue;
        }
        store_head_t h;
        if (store_get_head(n->cfg.store, n->progress[i].author, &h) != STORE_OK) {
            memset(&h, 0, sizeof h);
        }
        char a[KEYTEXT_BUFSZ];
        keytext_encode(a, KEYTEXT_AUTHOR, n->progress[i].author);
        uint64_t want = n->progress[i].seq;
        if (h.seq >= want) {
            log_line(node_log(n), LOG_LEVEL_INFO,
                     "fetched the feed of %.20s...: all %llu posts in %llu s", a,
                     (unsigned long long)want,
                     (unsigned long long)((now - n->progress[i].started_ms) / 1000));
            n->progress[i].seq = 0;
            continue;
        }
        /* h.seq counts the posts held from 1 up; the newest page came first. */
        log_line(node_log(n), LOG_LEVEL_INFO,
                 "fetching the feed of %.20s...: %llu of %llu posts (%llu%%)", a,
                 (unsigned long long)h.seq, (unsigned long long)want,
                 (unsigned long long)(h.seq * 100 / want));
    }
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void
node_gossip_rtt_changed(node_t *n)
{
    if (n->gossip == NULL) {
        return;
    }
    int64_t rtt[GOSSIP_PEERS_MAX];
    size_t k = 0;
    size_t it = 0;
    for (peer_t *p; (p = peertab_next(n->peers, &it)) != NULL && k < GOSSIP_PEERS_MAX;) {
        if (p->gossip_up && p->rtt_us >= 0) {
            rtt[k++] = p->rtt_us;
        }
    }
    if (k == 0) {
        return;
    }
    qsort(rtt, k, sizeof rtt[0], cmp_i64);
    /* An eager copy on its way arrives about a round trip after the IHAVE
     * (both travel one hop, from different peers): twice the median round
     * trip, plus 10 ms for the time a hop spends in a node. */
    uint64_t median_ms = (uint64_t)rtt[k / 2] / 1000u;
    gossip_set_lazy_wait(n->gossip, (uint32_t)(2 * median_ms + 10));
}
