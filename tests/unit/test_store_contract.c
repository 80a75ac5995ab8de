/* One contract for the ingest rules (docs/PROTOCOL.md section 4.4, and how
 * the store records them: docs/INTERNALS.md section 1, "Ingest rules"),
 * run against both the real store (store/, on LevelDB) and the test fake
 * that the gossip tests and the simulator use (tests/util/fakestore.c).
 * One table of cases; each case is a list of steps (ingest a post at a
 * time, block or unblock its author) with the result each step must give,
 * then the head and which posts are held. A small adapter per store maps
 * the calls and results; where the two disagree, this test fails.
 *
 * The fake trusts its caller to have decoded and verified the post (as
 * gossip does before calling it); its adapter decodes and verifies first,
 * as gossip does, so the "invalid" case checks that path. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakestore.h"
#include "keys.h"
#include "post.h"
#include "store.h"

/* The results both stores must give, in one enum. */
typedef enum {
    R_EXTENDED,
    R_AHEAD,
    R_DUPLICATE,
    R_FORK,
    R_BLOCKED,
    R_FUTURE,
    R_INVALID,
} result_t;

static const char *const result_names[] = {"extended", "ahead",  "duplicate", "fork",
                                           "blocked",  "future", "invalid"};

typedef struct {
    const char *name;
    void *(*open)(const char *dir, const uint8_t self[static 32]);
    void (*close)(void *impl);
    result_t (*ingest)(void *impl, const uint8_t *raw, size_t len, uint64_t now_ms);
    void (*block)(void *impl, const uint8_t author[static 32]);
    void (*unblock)(void *impl, const uint8_t author[static 32]);
    void (*head)(void *impl, const uint8_t author[static 32], uint64_t *seq,
                 uint8_t id[static POST_ID_SIZE], uint64_t *max_seq);
    bool (*has)(void *impl, const uint8_t id[static POST_ID_SIZE]);
    /* Publishes a post of k's (the store's own); returns its seq. */
    uint64_t (*publish)(void *impl, const keys_author_t *k, uint64_t now_ms);
} adapter_t;

/* ---- the real store ---- */

static void *
real_open(const char *dir, const uint8_t self[static 32])
{
    (void)self;
    store_t *s = NULL;
    assert_int_equal(store_open(&s, dir, NULL, NULL, 0), STORE_OK);
    return s;
}

static void
real_close(void *impl)
{
    store_close(impl);
}

static result_t
real_ingest(void *impl, const uint8_t *raw, size_t len, uint64_t now_ms)
{
    store_ingest_info_t info;
    assert_int_equal(store_ingest(impl, raw, len, now_ms, &info), STORE_OK);
    switch (info.result) {
    case STORE_INGEST_EXTENDED:
        return R_EXTENDED;
    case STORE_INGEST_AHEAD:
        return R_AHEAD;
    case STORE_INGEST_DUPLICATE:
        return R_DUPLICATE;
    case STORE_INGEST_FORK:
        return R_FORK;
    case STORE_INGEST_BLOCKED:
        return R_BLOCKED;
    case STORE_INGEST_FUTURE:
        return R_FUTURE;
    case STORE_INGEST_INVALID:
        return R_INVALID;
    }
    fail_msg("unknown store result %d", (int)info.result);
    return R_INVALID;
}

static void
real_block(void *impl, const uint8_t author[static 32])
{
    assert_int_equal(store_block(impl, author, 1, NULL), STORE_OK);
}

static void
real_unblock(void *impl, const uint8_t author[static 32])
{
    assert_int_equal(store_unblock(impl, author), STORE_OK);
}

static void
real_head(void *impl, const uint8_t author[static 32], uint64_t *seq,
          uint8_t id[static POST_ID_SIZE], uint64_t *max_seq)
{
    store_head_t h;
    store_err_t err = store_get_head(impl, author, &h);
    if (err == STORE_ENOTFOUND) {
        memset(&h, 0, sizeof h);
    } else {
        assert_int_equal(err, STORE_OK);
    }
    *seq = h.seq;
    *max_seq = h.max_seq;
    memcpy(id, h.id, POST_ID_SIZE);
}

static bool
real_has(void *impl, const uint8_t id[static POST_ID_SIZE])
{
    bool yes = false;
    assert_int_equal(store_has_post(impl, id, &yes), STORE_OK);
    return yes;
}

static uint64_t
real_publish(void *impl, const keys_author_t *k, uint64_t now_ms)
{
    post_t draft;
    post_init(&draft, POST_KIND_POST, 0, NULL, now_ms);
    assert_int_equal(post_set_body(&draft, "published", 9), POST_OK);
    assert_int_equal(store_publish(impl, k, &draft, NULL), STORE_OK);
    return draft.seq;
}

/* ---- the fake ---- */

static void *
fake_open(const char *dir, const uint8_t self[static 32])
{
    (void)dir;
    fakestore_t *s = fakestore_new(self);
    assert_non_null(s);
    return s;
}

static void
fake_close(void *impl)
{
    fakestore_free(impl);
}

static result_t
fake_ingest(void *impl, const uint8_t *raw, size_t len, uint64_t now_ms)
{
    post_t p;
    if (post_decode(&p, raw, len, POST_VERIFY) != POST_OK) {
        return R_INVALID;
    }
    gossip_ingest_t r;
    assert_int_equal(fakestore_ingest(impl, &p, raw, len, now_ms, &r), 0);
    switch (r) {
    case GOSSIP_INGEST_EXTENDED:
        return R_EXTENDED;
    case GOSSIP_INGEST_AHEAD:
        return R_AHEAD;
    case GOSSIP_INGEST_DUPLICATE:
        return R_DUPLICATE;
    case GOSSIP_INGEST_FORK:
        return R_FORK;
    case GOSSIP_INGEST_BLOCKED:
        return R_BLOCKED;
    case GOSSIP_INGEST_FUTURE:
        return R_FUTURE;
    case GOSSIP_INGEST_INVALID:
        return R_INVALID;
    }
    fail_msg("unknown fake result %d", (int)r);
    return R_INVALID;
}

static void
fake_block(void *impl, const uint8_t author[static 32])
{
    fakestore_block(impl, author);
}

static void
fake_unblock(void *impl, const uint8_t author[static 32])
{
    fakestore_unblock(impl, author);
}

static void
fake_head(void *impl, const uint8_t author[static 32], uint64_t *seq,
          uint8_t id[static POST_ID_SIZE], uint64_t *max_seq)
{
    assert_int_equal(fakestore_head(impl, author, seq, id, max_seq), 0);
}

static bool
fake_has(void *impl, const uint8_t id[static POST_ID_SIZE])
{
    return fakestore_has(impl, id);
}

static uint64_t
fake_publish(void *impl, const keys_author_t *k, uint64_t now_ms)
{
    uint8_t raw_post[POST_MAX_SIZE];
    size_t len = 0;
    fakestore_publish(impl, k, now_ms, "published", raw_post, &len);
    post_t p;
    assert_int_equal(post_decode(&p, raw_post, len, POST_VERIFY), POST_OK);
    return p.seq;
}

static const adapter_t adapters[] = {
    {"store", real_open, real_close, real_ingest, real_block, real_unblock, real_head, real_has,
     real_publish},
    {"fakestore", fake_open, fake_close, fake_ingest, fake_block, fake_unblock, fake_head, fake_has,
     fake_publish},
};

/* ---- the posts of the cases ---- */

/* Author A's feed p1..p4 and the posts that conflict with it. */
typedef enum {
    P1,
    P2,
    P3,
    P4,
    P1X,     /* another seq 1 */
    P2X,     /* another seq 2 with prev = p1: same seq as p2 */
    P2B,     /* seq 2 whose prev is not p1: a bad link to p1 */
    P3B,     /* seq 3 whose prev is p2x: a bad link to p2 */
    P1F,     /* seq 1 stamped an hour ahead of NOW */
    P1BAD,   /* p1 with one signature byte changed */
    PFAR,    /* seq 2^40: far ahead of anything held */
    PLAST,   /* the highest seq a post can have */
    N_POSTS, /* count */
} post_name_t;

static const uint64_t NOW = 1700000000000ull;
static const uint64_t HOUR = 3600000ull;

static keys_author_t self_k, a_k;
static uint8_t raw[N_POSTS][POST_MAX_SIZE];
static size_t raw_len[N_POSTS];
static uint8_t ids[N_POSTS][POST_ID_SIZE];

static void
sign(post_name_t n, uint64_t seq, const uint8_t *prev, uint64_t ts, const char *body)
{
    fakestore_sign(&a_k, seq, prev, ts, body, raw[n], &raw_len[n], ids[n]);
}

static void
make_posts(void)
{
    uint8_t seed[32];
    memset(seed, 0x01, 32);
    keys_author_from_seed(&self_k, seed);
    memset(seed, 0x0a, 32);
    keys_author_from_seed(&a_k, seed);
    uint8_t wrong[POST_ID_SIZE];
    memset(wrong, 0xee, sizeof wrong);
    sign(P1, 1, NULL, NOW - 4000, "one");
    sign(P2, 2, ids[P1], NOW - 3000, "two");
    sign(P3, 3, ids[P2], NOW - 2000, "three");
    sign(P4, 4, ids[P3], NOW - 1000, "four");
    sign(P1X, 1, NULL, NOW - 3999, "one, again");
    sign(P2X, 2, ids[P1], NOW - 2999, "two, again");
    sign(P2B, 2, wrong, NOW - 2998, "two, badly linked");
    sign(P3B, 3, ids[P2X], NOW - 1999, "three, after the other two");
    sign(P1F, 1, NULL, NOW + HOUR, "from the future");
    memcpy(raw[P1BAD], raw[P1], raw_len[P1]);
    raw_len[P1BAD] = raw_len[P1];
    raw[P1BAD][raw_len[P1] - 1] ^= 0x01;
    memcpy(ids[P1BAD], ids[P1], POST_ID_SIZE); /* never stored: checked via has */
    sign(PFAR, 1ull << 40, wrong, NOW - 500, "far ahead");
    sign(PLAST, UINT64_MAX, wrong, NOW - 400, "the last");
}

/* ---- the table ---- */

typedef enum { S_END = 0, S_INGEST, S_INGEST_LATER, S_BLOCK, S_UNBLOCK, S_PUBLISH } step_kind_t;

typedef struct {
    step_kind_t kind;
    post_name_t post;
    result_t want;
    uint64_t seq; /* S_PUBLISH: the seq the post must get */
} step_t;

enum { STEPS_MAX = 8 };

typedef struct {
    const char *name;
    step_t steps[STEPS_MAX];
    /* Then: A's contiguous head (seq and which post), its highest seq. */
    uint64_t head_seq;
    int head_post; /* -1: none (zeros); -2: a post published in the case */
    uint64_t max_seq;
    /* Which posts are held afterwards (bit per post_name_t). */
    unsigned held;
} case_t;

#define BIT(p) (1u << (p))
/* Steps: ingest post p now (or two hours later) and want result r; block or
 * unblock A; publish a post of A's and want seq s. */
#define IN(p, r)                                                                                   \
    {                                                                                              \
        S_INGEST, (p), (r), 0                                                                      \
    }
#define LATER(p, r)                                                                                \
    {                                                                                              \
        S_INGEST_LATER, (p), (r), 0                                                                \
    }
#define BLOCK                                                                                      \
    {                                                                                              \
        S_BLOCK, P1, R_EXTENDED, 0                                                                 \
    }
#define UNBLOCK                                                                                    \
    {                                                                                              \
        S_UNBLOCK, P1, R_EXTENDED, 0                                                               \
    }
#define PUBLISH(s)                                                                                 \
    {                                                                                              \
        S_PUBLISH, P1, R_EXTENDED, (s)                                                             \
    }

static const case_t cases[] = {
    {"extend",
     {IN(P1, R_EXTENDED), IN(P2, R_EXTENDED), IN(P3, R_EXTENDED)},
     3,
     P3,
     3,
     BIT(P1) | BIT(P2) | BIT(P3)},
    {"ahead, then the gap filled",
     {IN(P1, R_EXTENDED), IN(P3, R_AHEAD), IN(P4, R_AHEAD), IN(P2, R_EXTENDED)},
     4,
     P4,
     4,
     BIT(P1) | BIT(P2) | BIT(P3) | BIT(P4)},
    {"ahead with nothing before", {IN(P2, R_AHEAD)}, 0, -1, 2, BIT(P2)},
    {"ahead, far beyond the head",
     {IN(P1, R_EXTENDED), IN(PFAR, R_AHEAD), IN(P2, R_EXTENDED)},
     2,
     P2,
     1ull << 40,
     BIT(P1) | BIT(P2) | BIT(PFAR)},
    {"ahead, at the highest seq",
     {IN(PLAST, R_AHEAD), IN(P1, R_EXTENDED)},
     1,
     P1,
     UINT64_MAX,
     BIT(P1) | BIT(PLAST)},
    {"duplicate", {IN(P1, R_EXTENDED), IN(P1, R_DUPLICATE)}, 1, P1, 1, BIT(P1)},
    {"fork: same seq",
     {IN(P1, R_EXTENDED), IN(P2, R_EXTENDED), IN(P2X, R_FORK)},
     2,
     P2,
     2,
     BIT(P1) | BIT(P2) | BIT(P2X)},
    {"fork: same seq 1", {IN(P1, R_EXTENDED), IN(P1X, R_FORK)}, 1, P1, 1, BIT(P1) | BIT(P1X)},
    {"fork evidence again is a duplicate",
     {IN(P1, R_EXTENDED), IN(P1X, R_FORK), IN(P1X, R_DUPLICATE)},
     1,
     P1,
     1,
     BIT(P1) | BIT(P1X)},
    {"fork: bad link to the post before",
     {IN(P1, R_EXTENDED), IN(P2B, R_FORK)},
     1,
     P1,
     1,
     BIT(P1) | BIT(P2B)},
    {"fork: bad link from the post after",
     {IN(P1, R_EXTENDED), IN(P3, R_AHEAD), IN(P2X, R_FORK), IN(P2, R_EXTENDED)},
     3,
     P3,
     3,
     BIT(P1) | BIT(P2) | BIT(P3) | BIT(P2X)},
    {"fork: a later post linked to the evidence",
     {IN(P1, R_EXTENDED), IN(P2, R_EXTENDED), IN(P2X, R_FORK), IN(P3B, R_FORK)},
     2,
     P2,
     2,
     BIT(P1) | BIT(P2) | BIT(P2X) | BIT(P3B)},
    {"blocked: purged and refused",
     {IN(P1, R_EXTENDED), IN(P2, R_EXTENDED), BLOCK, IN(P3, R_BLOCKED), IN(P1, R_BLOCKED)},
     0,
     -1,
     0,
     0},
    {"unblocked: taken again from the start",
     {IN(P1, R_EXTENDED), BLOCK, UNBLOCK, IN(P1, R_EXTENDED), IN(P2, R_EXTENDED)},
     2,
     P2,
     2,
     BIT(P1) | BIT(P2)},
    {"future: refused, taken once the clock caught up",
     {IN(P1F, R_FUTURE), LATER(P1F, R_EXTENDED)},
     1,
     P1F,
     1,
     BIT(P1F)},
    {"publishing never reuses a seq held as evidence",
     {IN(P1, R_EXTENDED), IN(P2B, R_FORK), PUBLISH(3)},
     1,
     P1,
     3,
     BIT(P1) | BIT(P2B)},
    {"publishing extends the feed",
     {IN(P1, R_EXTENDED), IN(P2, R_EXTENDED), PUBLISH(3)},
     3,
     -2,
     3,
     BIT(P1) | BIT(P2)},
    {"invalid signature", {IN(P1BAD, R_INVALID), IN(P1, R_EXTENDED)}, 1, P1, 1, BIT(P1)},
};

static void
run_case(const adapter_t *ad, const case_t *c)
{
    char dir[512];
    tu_mkdtemp(dir, sizeof dir);
    void *impl = ad->open(dir, self_k.pk);
    for (size_t i = 0; i < STEPS_MAX && c->steps[i].kind != S_END; i++) {
        const step_t *st = &c->steps[i];
        if (st->kind == S_BLOCK) {
            ad->block(impl, a_k.pk);
            continue;
        }
        if (st->kind == S_UNBLOCK) {
            ad->unblock(impl, a_k.pk);
            continue;
        }
        if (st->kind == S_PUBLISH) {
            uint64_t seq = ad->publish(impl, &a_k, NOW);
            if (seq != st->seq) {
                fail_msg("%s, case \"%s\", step %zu: published seq %llu, want %llu", ad->name,
                         c->name, i + 1, (unsigned long long)seq, (unsigned long long)st->seq);
            }
            continue;
        }
        uint64_t now = st->kind == S_INGEST_LATER ? NOW + 2 * HOUR : NOW;
        result_t got = ad->ingest(impl, raw[st->post], raw_len[st->post], now);
        if (got != st->want) {
            fail_msg("%s, case \"%s\", step %zu: %s, want %s", ad->name, c->name, i + 1,
                     result_names[got], result_names[st->want]);
        }
    }
    uint64_t seq = 0, max = 0;
    uint8_t id[POST_ID_SIZE], want_id[POST_ID_SIZE];
    ad->head(impl, a_k.pk, &seq, id, &max);
    memset(want_id, 0, sizeof want_id);
    if (c->head_post >= 0) {
        memcpy(want_id, ids[c->head_post], POST_ID_SIZE);
    } else if (c->head_post == -2) {
        memcpy(want_id, id, POST_ID_SIZE); /* a published post: its id is not in the table */
    }
    if (seq != c->head_seq || max != c->max_seq || memcmp(id, want_id, POST_ID_SIZE) != 0) {
        fail_msg("%s, case \"%s\": head %llu (max %llu), want %llu (max %llu)%s", ad->name, c->name,
                 (unsigned long long)seq, (unsigned long long)max, (unsigned long long)c->head_seq,
                 (unsigned long long)c->max_seq,
                 memcmp(id, want_id, POST_ID_SIZE) != 0 ? ", other id" : "");
    }
    for (int p = 0; p < N_POSTS; p++) {
        if (p == P1BAD) {
            continue; /* shares p1's id */
        }
        bool want = (c->held & BIT(p)) != 0;
        if (ad->has(impl, ids[p]) != want) {
            fail_msg("%s, case \"%s\": post %d %s", ad->name, c->name, p,
                     want ? "missing" : "held but should not be");
        }
    }
    ad->close(impl);
    tu_rmtree(dir);
}

static void
test_real_store(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_case(&adapters[0], &cases[i]);
    }
}

static void
test_fake_store(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_case(&adapters[1], &cases[i]);
    }
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
        cmocka_unit_test(test_real_store),
        cmocka_unit_test(test_fake_store),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
