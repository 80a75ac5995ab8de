/* The allocation-failure pass for gossip: fail the Nth allocation, for every
 * N, in gossip_new (it must return GOSSIP_ENOMEM and leave nothing behind)
 * and in a session in which peers send us every message type (SUBSCRIBE,
 * POST, IHAVE, HEADS, GET_RANGE, RANGE, PRUNE, GRAFT, FORK) while we
 * publish, change our follows and let time pass. Every call must survive a
 * failure: refuse, drop or carry on, never crash or leak (ASan finds leaks).
 *
 * The store behind gossip is the test fake; its own allocations are not
 * under test, so the callback that allocates pauses the count
 * (tests/util/tu_alloc.h). */
#include "testutil.h"
#include "tu_alloc.h"

#include <sodium.h>
#include <string.h>

#include "fakestore.h"
#include "gossip.h"
#include "gossipmsg.h"
#include "keys.h"

enum { PEERS = 3, BPOSTS = 4, ASKS_MAX = 8 };

static const uint64_t T0 = 1700000000000ull;

/* Everything one session needs; rebuilt for each round. */
typedef struct {
    fakestore_t *store;
    uint64_t rng;
    /* The GET_RANGEs we sent to each peer and it has not answered yet. */
    struct {
        uint32_t rid;
        uint64_t from;
        uint8_t max;
    } asked[PEERS][ASKS_MAX];
    size_t n_asked[PEERS];
    uint64_t sent;
    uint64_t subscribes;       /* SUBSCRIBE frames sent */
    uint16_t last_subscribe_n; /* authors in the last one */
} env_t;

/* Posts of author B, built once: seq 1..4, and a second seq 1 (a fork). */
static keys_author_t self_k, b_k;
static uint8_t bpost[BPOSTS][POST_MAX_SIZE], bpost_id[BPOSTS][POST_ID_SIZE];
static size_t bpost_len[BPOSTS];
static uint8_t bfork[POST_MAX_SIZE];
static size_t bfork_len;
static uint8_t peer_key[PEERS][32];

static int
peer_index(const uint8_t key[static 32])
{
    for (int i = 0; i < PEERS; i++) {
        if (memcmp(peer_key[i], key, 32) == 0) {
            return i;
        }
    }
    return -1;
}

static int
cb_send(void *ud, const uint8_t peer[static 32], const uint8_t *frame, size_t len)
{
    env_t *e = ud;
    e->sent++;
    gossip_msg_t m;
    int i = peer_index(peer);
    if (gossip_msg_decode(&m, frame, len) == GOSSIP_MSG_OK && m.type == GOSSIP_SUBSCRIBE) {
        e->subscribes++;
        e->last_subscribe_n = m.u.subscribe.n;
    }
    if (i >= 0 && gossip_msg_decode(&m, frame, len) == GOSSIP_MSG_OK &&
        m.type == GOSSIP_GET_RANGE && e->n_asked[i] < ASKS_MAX) {
        size_t k = e->n_asked[i]++;
        e->asked[i][k].rid = m.request_id;
        e->asked[i][k].from = m.u.get_range.from_seq;
        e->asked[i][k].max = m.u.get_range.max_count;
    }
    return 0;
}

static void
cb_random(void *ud, uint8_t *buf, size_t n)
{
    env_t *e = ud;
    for (size_t i = 0; i < n; i++) {
        e->rng = e->rng * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(e->rng >> 56);
    }
}

/* The fake store's callbacks. Only ingest allocates in the fake (it keeps
 * the post), so only ingest pauses the count; the others call back into
 * gossip (subscriptions, read_range), whose allocations are under test. */
static int
cb_head(void *ud, const uint8_t author[static 32], uint64_t *seq, uint8_t id[static POST_ID_SIZE],
        uint64_t *max_seq)
{
    env_t *e = ud;
    return fakestore_head(e->store, author, seq, id, max_seq);
}

static bool
cb_has_post(void *ud, const uint8_t id[static POST_ID_SIZE])
{
    env_t *e = ud;
    return fakestore_has(e->store, id);
}

static int
cb_ingest(void *ud, const post_t *p, const uint8_t *raw, size_t len, gossip_ingest_t *result)
{
    env_t *e = ud;
    tu_alloc_pause();
    /* The wall clock, for the future-post check: the session's start. */
    int rc = fakestore_ingest(e->store, p, raw, len, T0, result);
    tu_alloc_resume();
    return rc;
}

static bool
cb_is_blocked(void *ud, const uint8_t author[static 32])
{
    env_t *e = ud;
    return fakestore_is_blocked(e->store, author);
}

static bool
cb_replicates(void *ud, const uint8_t author[static 32])
{
    env_t *e = ud;
    return fakestore_replicates(e->store, author);
}

static void
cb_subscriptions(void *ud, gossip_author_cb cb, void *cbud)
{
    env_t *e = ud;
    fakestore_subscriptions(e->store, cb, cbud);
}

static int
cb_read_range(void *ud, const uint8_t author[static 32], uint64_t from_seq, size_t max_count,
              size_t max_bytes, gossip_post_cb cb, void *cbud)
{
    env_t *e = ud;
    return fakestore_read_range(e->store, author, from_seq, max_count, max_bytes, cb, cbud);
}

static void
config(gossip_config_t *cfg, env_t *e)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->ud = e;
    cfg->send = cb_send;
    cfg->random = cb_random;
    cfg->head = cb_head;
    cfg->has_post = cb_has_post;
    cfg->ingest = cb_ingest;
    cfg->is_blocked = cb_is_blocked;
    cfg->replicates = cb_replicates;
    cfg->subscriptions = cb_subscriptions;
    cfg->read_range = cb_read_range;
}

static void
make_posts(void)
{
    uint8_t seed[32];
    memset(seed, 0x51, 32);
    keys_author_from_seed(&self_k, seed);
    memset(seed, 0x62, 32);
    keys_author_from_seed(&b_k, seed);
    for (int i = 0; i < BPOSTS; i++) {
        fakestore_sign(&b_k, (uint64_t)i + 1, i > 0 ? bpost_id[i - 1] : NULL, T0 + (uint64_t)i,
                       "a post of B", bpost[i], &bpost_len[i], bpost_id[i]);
    }
    fakestore_sign(&b_k, 1, NULL, T0 + 99, "another first post of B", bfork, &bfork_len, NULL);
    for (int i = 0; i < PEERS; i++) {
        memset(peer_key[i], 0xa0 + i, 32);
    }
}

/* Encodes m and hands it to gossip as a frame from peer i. */
static void
deliver(gossip_t *g, int i, const gossip_msg_t *m, uint64_t now)
{
    static uint8_t frame[GOSSIP_FRAME_MAX];
    size_t len = 0;
    assert_int_equal(gossip_msg_encode(m, frame, sizeof frame, &len), GOSSIP_MSG_OK);
    (void)gossip_receive_frame(g, peer_key[i], frame, len, now);
    uint64_t next = 0;
    gossip_tick(g, now, &next);
}

static void
ref_of(uint8_t out[static GOSSIP_REF_SIZE], int post)
{
    gossip_ref_t r;
    memcpy(r.author, b_k.pk, 32);
    r.seq = (uint64_t)post + 1;
    memcpy(r.id, bpost_id[post], POST_ID_SIZE);
    gossip_ref_put(out, &r);
}

/* A RANGE of B's posts from seq from, at most max, from peer i. */
static void
range_from(gossip_t *g, int i, uint32_t rid, uint64_t from, size_t max, uint64_t now)
{
    gossip_msg_t m;
    gossip_msg_init(&m, GOSSIP_RANGE, rid);
    for (uint64_t s = from; s <= BPOSTS && m.u.range.n < max; s++) {
        m.u.range.posts[m.u.range.n].p = bpost[s - 1];
        m.u.range.posts[m.u.range.n].len = (uint16_t)bpost_len[s - 1];
        m.u.range.n++;
    }
    deliver(g, i, &m, now);
}

/* Peer i answers every GET_RANGE we sent it, in order, as asked (a page
 * may make us ask again: those are answered too). */
static void
answer_ranges(gossip_t *g, env_t *e, int i, uint64_t now)
{
    for (size_t k = 0; k < e->n_asked[i]; k++) {
        range_from(g, i, e->asked[i][k].rid, e->asked[i][k].from, e->asked[i][k].max, now);
    }
    e->n_asked[i] = 0;
}

/* One session with allocation n failing (-1: none). Returns how many
 * allocations it made. */
static long
session(long n, size_t *stored)
{
    env_t e;
    memset(&e, 0, sizeof e);
    e.rng = 7;
    e.store = fakestore_new(self_k.pk);
    assert_non_null(e.store);
    fakestore_follow(e.store, b_k.pk);
    gossip_config_t cfg;
    config(&cfg, &e);
    gossip_t *g = NULL;
    assert_int_equal(gossip_new(&g, &cfg), GOSSIP_OK);

    uint64_t now = T0 + 1000;
    tu_alloc_start(n);
    for (int i = 0; i < PEERS; i++) {
        (void)gossip_peer_up(g, peer_key[i], now);
    }
    /* SUBSCRIBE: each peer replicates us and B (sorted, one FIRST frame). */
    uint8_t authors[64];
    bool self_first = memcmp(self_k.pk, b_k.pk, 32) < 0;
    memcpy(authors, self_first ? self_k.pk : b_k.pk, 32);
    memcpy(authors + 32, self_first ? b_k.pk : self_k.pk, 32);
    gossip_msg_t m;
    for (int i = 0; i < PEERS; i++) {
        gossip_msg_init(&m, GOSSIP_SUBSCRIBE, 0);
        m.u.subscribe.flags = GOSSIP_SUBSCRIBE_FIRST;
        m.u.subscribe.n = 2;
        m.u.subscribe.authors = authors;
        deliver(g, i, &m, now);
    }
    /* HEADS from peer 0: B is at seq 2 there, so we pull from it (and it
     * answers with all it has, asked). */
    uint8_t refs[2 * GOSSIP_REF_SIZE];
    ref_of(refs, 1);
    gossip_msg_init(&m, GOSSIP_HEADS, 0);
    m.u.refs.n = 1;
    m.u.refs.refs = refs;
    deliver(g, 0, &m, now);
    answer_ranges(g, &e, 0, now);
    /* POST of seq 3 from peer 1 (eager), then the same again (a duplicate:
     * we PRUNE). */
    gossip_msg_init(&m, GOSSIP_POST, 0);
    m.u.post.p = bpost[2];
    m.u.post.len = (uint16_t)bpost_len[2];
    deliver(g, 1, &m, now);
    deliver(g, 1, &m, now);
    /* IHAVE of seq 4 from peer 2: after the lazy wait we fetch it. */
    ref_of(refs, 3);
    gossip_msg_init(&m, GOSSIP_IHAVE, 0);
    m.u.refs.n = 1;
    m.u.refs.refs = refs;
    deliver(g, 2, &m, now);
    now += GOSSIP_LAZY_WAIT_MS + 1;
    uint64_t next = 0;
    gossip_tick(g, now, &next);
    answer_ranges(g, &e, 2, now);
    /* PRUNE and GRAFT of B. */
    gossip_msg_init(&m, GOSSIP_PRUNE, 0);
    memcpy(m.u.author, b_k.pk, 32);
    deliver(g, 0, &m, now);
    gossip_msg_init(&m, GOSSIP_GRAFT, 0);
    memcpy(m.u.author, b_k.pk, 32);
    deliver(g, 2, &m, now);
    /* FORK: B's seq 1 and another seq 1. */
    gossip_msg_init(&m, GOSSIP_FORK, 0);
    gossip_bytes_t x = {bpost[0], (uint16_t)bpost_len[0]};
    gossip_bytes_t y = {bfork, (uint16_t)bfork_len};
    bool x_first = gossip_post_order(&x, &y) < 0;
    m.u.fork.a = x_first ? x : y;
    m.u.fork.b = x_first ? y : x;
    deliver(g, 1, &m, now);
    /* GET_RANGE from peer 1: we serve B's feed. */
    gossip_msg_init(&m, GOSSIP_GET_RANGE, 77);
    memcpy(m.u.get_range.author, b_k.pk, 32);
    m.u.get_range.from_seq = 1;
    m.u.get_range.max_count = GOSSIP_RANGE_MAX;
    deliver(g, 1, &m, now);
    /* An unasked RANGE from peer 1. */
    range_from(g, 1, 12345, 1, BPOSTS, now);
    /* Our own post, then a change of follows. */
    uint8_t own[POST_MAX_SIZE];
    size_t own_len = 0;
    tu_alloc_pause();
    fakestore_publish(e.store, &self_k, now, "our own post", own, &own_len);
    tu_alloc_resume();
    (void)gossip_publish(g, own, own_len, now);
    tu_alloc_pause();
    fakestore_unfollow(e.store, b_k.pk);
    tu_alloc_resume();
    gossip_subscriptions_changed(g, now);
    /* Two minutes pass: periodic HEADS, request timeouts, the seen-cache. */
    for (int s = 0; s < 120; s++) {
        now += 1000;
        gossip_tick(g, now, &next);
    }
    gossip_peer_down(g, peer_key[2], now);
    gossip_tick(g, now, &next);
    long used = tu_alloc_stop();

    gossip_stats_t st;
    gossip_stats(g, &st);
    assert_true(st.peers <= PEERS);
    *stored = fakestore_posts(e.store);
    gossip_free(g);
    fakestore_free(e.store);
    return used;
}

static bool
new_round(void *ud, long n)
{
    env_t *e = ud;
    gossip_config_t cfg;
    config(&cfg, e);
    gossip_t *g = NULL;
    tu_alloc_start(n);
    gossip_err_t err = gossip_new(&g, &cfg);
    tu_alloc_stop();
    if (err != GOSSIP_OK) {
        assert_int_equal(err, GOSSIP_ENOMEM);
        assert_null(g);
        return false;
    }
    gossip_free(g);
    return true;
}

static void
test_new_fails_cleanly(void **state)
{
    (void)state;
    env_t e;
    memset(&e, 0, sizeof e);
    e.store = fakestore_new(self_k.pk);
    assert_non_null(e.store);
    assert_true(tu_alloc_pass(new_round, &e, 1000) > 0);
    fakestore_free(e.store);
}

static void
test_session_survives(void **state)
{
    (void)state;
    size_t stored = 0;
    long total = session(-1, &stored);
    /* Without failures the session takes in all of B's posts, the fork
     * evidence and our own post: it does reach every path it means to. */
    assert_int_equal(stored, BPOSTS + 2);
    assert_true(total > 10);
    print_message("session: %ld allocations, each failed in turn\n", total);
    for (long n = 0; n < total; n++) {
        size_t s = 0;
        (void)session(n, &s);
        assert_true(s <= BPOSTS + 2);
    }
}

/* A follow whose new set cannot be read (the allocation fails) is not lost:
 * gossip keeps the old set, and a tick GOSSIP_RETRY_MS later reads it again
 * and tells the peers. */
static void
test_subscriptions_retried(void **state)
{
    (void)state;
    env_t e;
    memset(&e, 0, sizeof e);
    e.store = fakestore_new(self_k.pk);
    assert_non_null(e.store);
    gossip_config_t cfg;
    config(&cfg, &e);
    gossip_t *g = NULL;
    assert_int_equal(gossip_new(&g, &cfg), GOSSIP_OK);
    uint64_t now = T0, next = 0;
    assert_int_equal(gossip_peer_up(g, peer_key[0], now), GOSSIP_OK);
    gossip_tick(g, now, &next);
    assert_int_equal(e.last_subscribe_n, 1); /* ourselves */
    uint64_t before = e.subscribes;

    fakestore_follow(e.store, b_k.pk);
    tu_alloc_start(0);
    gossip_subscriptions_changed(g, now);
    tu_alloc_stop();
    assert_true(tu_alloc_failed());
    assert_int_equal(e.subscribes, before); /* nothing could be said yet */
    gossip_tick(g, now, &next);
    assert_true(next <= now + GOSSIP_RETRY_MS);
    now += GOSSIP_RETRY_MS;
    gossip_tick(g, now, &next);
    assert_true(e.subscribes > before);
    assert_int_equal(e.last_subscribe_n, 2); /* ourselves and B */

    gossip_free(g);
    fakestore_free(e.store);
}

static int
setup(void **state)
{
    (void)state;
    make_posts();
    return 0;
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_fails_cleanly),
        cmocka_unit_test(test_session_survives),
        cmocka_unit_test(test_subscriptions_retried),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
