/* The store on real LevelDB databases in temporary directories: ingest rules,
 * heads and gaps, forks, feeds, timeline, profiles, deletes, follows, blocks,
 * publishing, corruption and the lock. */
#include "testutil.h"

#include <leveldb/c.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keys.h"
#include "post.h"
#include "store.h"

enum {
    NOW = 1700000000, /* seconds; times below are in ms around NOW * 1000 */
    MAX_SEEN = 64,
};

#define NOW_MS ((uint64_t)NOW * 1000)

/* One test's world: a fresh store in its own directory and three authors. */
typedef struct {
    char dir[512];
    store_t *s;
    keys_author_t a, b, c;
    const char *argv0;
} fx_t;

/* A signed post and its bytes. Heap-allocated: it is larger than a stack
 * buffer may be. */
typedef struct {
    post_t p;
    uint8_t b[POST_MAX_SIZE];
    size_t len;
} enc_t;

static void
author_from_byte(keys_author_t *k, uint8_t byte)
{
    uint8_t seed[KEYS_SEED];
    memset(seed, byte, sizeof seed);
    keys_author_from_seed(k, seed);
}

static void
open_store(fx_t *fx)
{
    char detail[256];
    store_err_t err = store_open(&fx->s, fx->dir, NULL, detail, sizeof detail);
    if (err != STORE_OK) {
        fail_msg("store_open: %s: %s", store_strerror(err), detail);
    }
}

static void
reopen(fx_t *fx)
{
    store_close(fx->s);
    fx->s = NULL;
    open_store(fx);
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->argv0 = *state;
    tu_mkdtemp(fx->dir, sizeof fx->dir);
    open_store(fx);
    author_from_byte(&fx->a, 0xa1);
    author_from_byte(&fx->b, 0xb2);
    author_from_byte(&fx->c, 0xc3);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    store_close(fx->s);
    tu_rmtree(fx->dir);
    free(fx);
    return 0;
}

static enc_t *
enc_new(size_t n)
{
    enc_t *e = calloc(n, sizeof *e);
    assert_non_null(e);
    return e;
}

/* Signs one post of any kind; ref and name only where the kind has them. */
static void
sign_post(enc_t *e, const keys_author_t *k, post_kind_t kind, uint64_t seq, const uint8_t *prev,
          uint64_t ts, const char *body, const uint8_t *ref, const char *name)
{
    post_init(&e->p, kind, seq, prev, ts);
    if (ref != NULL) {
        memcpy(e->p.ref, ref, POST_ID_SIZE);
    }
    if (name != NULL) {
        assert_int_equal(post_set_name(&e->p, name, strlen(name)), POST_OK);
    }
    assert_int_equal(post_set_body(&e->p, body, strlen(body)), POST_OK);
    assert_int_equal(post_sign(&e->p, k, e->b, sizeof e->b, &e->len), POST_OK);
}

static void
sign_text(enc_t *e, const keys_author_t *k, uint64_t seq, const uint8_t *prev, uint64_t ts,
          const char *body)
{
    sign_post(e, k, POST_KIND_POST, seq, prev, ts, body, NULL, NULL);
}

/* n linked posts, seq 1..n, one second apart from ts0. */
static enc_t *
chain(const keys_author_t *k, size_t n, uint64_t ts0)
{
    enc_t *e = enc_new(n);
    char body[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(body, sizeof body, "post %zu", i + 1);
        sign_text(&e[i], k, i + 1, i > 0 ? e[i - 1].p.id : NULL, ts0 + i * 1000, body);
    }
    return e;
}

static store_ingest_t
ingest_at(store_t *s, const uint8_t *b, size_t len, uint64_t now_ms, post_err_t *perr)
{
    store_ingest_info_t info;
    assert_int_equal(store_ingest(s, b, len, now_ms, &info), STORE_OK);
    if (perr != NULL) {
        *perr = info.post_err;
    }
    return info.result;
}

static store_ingest_t
ingest(store_t *s, const enc_t *e)
{
    return ingest_at(s, e->b, e->len, NOW_MS, NULL);
}

static void
assert_head(store_t *s, const keys_author_t *k, uint64_t seq, const uint8_t *id, uint64_t max)
{
    store_head_t h;
    assert_int_equal(store_get_head(s, k->pk, &h), STORE_OK);
    assert_int_equal(h.seq, seq);
    assert_int_equal(h.max_seq, max);
    if (id != NULL) {
        assert_memory_equal(h.id, id, POST_ID_SIZE);
    }
}

static store_stats_t
stats(store_t *s)
{
    store_stats_t st;
    assert_int_equal(store_stats(s, &st), STORE_OK);
    return st;
}

/* What a post callback saw, in order. */
typedef struct {
    size_t n;
    uint64_t seq[MAX_SEEN];
    uint64_t ts[MAX_SEEN];
    uint8_t id[MAX_SEEN][POST_ID_SIZE];
    uint8_t author[MAX_SEEN][32];
} seen_t;

static bool
collect(void *ud, const post_t *p, const uint8_t *raw, size_t raw_len)
{
    seen_t *sn = ud;
    uint8_t check[POST_ID_SIZE];
    post_id(check, raw, raw_len);
    assert_memory_equal(check, p->id, POST_ID_SIZE);
    assert_true(sn->n < MAX_SEEN);
    sn->seq[sn->n] = p->seq;
    sn->ts[sn->n] = p->timestamp_ms;
    memcpy(sn->id[sn->n], p->id, POST_ID_SIZE);
    memcpy(sn->author[sn->n], p->author, 32);
    sn->n++;
    return true;
}

static void
assert_seqs(const seen_t *sn, const uint64_t *want, size_t n)
{
    assert_int_equal(sn->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sn->seq[i], want[i]);
    }
}

typedef struct {
    size_t n;
    store_fork_t f[8];
} forks_t;

static bool
collect_fork(void *ud, const store_fork_t *f)
{
    forks_t *fk = ud;
    assert_true(fk->n < 8);
    fk->f[fk->n++] = *f;
    return true;
}

static forks_t
forks_of(store_t *s, const keys_author_t *k)
{
    forks_t fk = {0};
    assert_int_equal(store_forks(s, k->pk, collect_fork, &fk), STORE_OK);
    return fk;
}

/* ---- ingest ---------------------------------------------------------------------- */

static void
test_extend_in_order(void **state)
{
    fx_t *fx = *state;
    enc_t *e = chain(&fx->a, 10, NOW_MS);
    store_head_t h;
    assert_int_equal(store_get_head(fx->s, fx->a.pk, &h), STORE_ENOTFOUND);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(ingest(fx->s, &e[i]), STORE_INGEST_EXTENDED);
        assert_head(fx->s, &fx->a, i + 1, e[i].p.id, i + 1);
    }
    store_stats_t st = stats(fx->s);
    assert_int_equal(st.posts, 10);
    assert_int_equal(st.authors, 1);
    assert_int_equal(st.forks, 0);

    seen_t sn = {0};
    assert_int_equal(store_feed(fx->s, fx->a.pk, 0, 0, collect, &sn), STORE_OK);
    assert_seqs(&sn, (const uint64_t[]){10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 10);
    assert_memory_equal(sn.id[0], e[9].p.id, POST_ID_SIZE);
    memset(&sn, 0, sizeof sn);
    assert_int_equal(store_feed(fx->s, fx->a.pk, 5, 2, collect, &sn), STORE_OK);
    assert_seqs(&sn, (const uint64_t[]){4, 3}, 2);
    memset(&sn, 0, sizeof sn);
    assert_int_equal(store_feed_forward(fx->s, fx->a.pk, 8, 0, collect, &sn), STORE_OK);
    assert_seqs(&sn, (const uint64_t[]){8, 9, 10}, 3);
    memset(&sn, 0, sizeof sn);
    assert_int_equal(store_feed_forward(fx->s, fx->a.pk, 0, 4, collect, &sn), STORE_OK);
    assert_seqs(&sn, (const uint64_t[]){1, 2, 3, 4}, 4);
    /* Another author's feed is empty, not an error. */
    memset(&sn, 0, sizeof sn);
    assert_int_equal(store_feed(fx->s, fx->b.pk, 0, 0, collect, &sn), STORE_OK);
    assert_int_equal(sn.n, 0);

    post_t p;
    uint8_t raw[POST_MAX_SIZE];
    size_t raw_len = 0;
    assert_int_equal(store_get_post(fx->s, e[3].p.id, &p, raw, &raw_len), STORE_OK);
    assert_int_equal(raw_len, e[3].len);
    assert_memory_equal(raw, e[3].b, raw_len);
    assert_string_equal(p.body, "post 4");
    uint8_t missing[POST_ID_SIZE] = {1};
    assert_int_equal(store_get_post(fx->s, missing, &p, NULL, NULL), STORE_ENOTFOUND);
    free(e);
}

static void
test_duplicate_is_noop(void **state)
{
    fx_t *fx = *state;
    enc_t *e = chain(&fx->a, 2, NOW_MS);
    assert_int_equal(ingest(fx->s, &e[0]), STORE_INGEST_EXTENDED);
    assert_int_equal(ingest(fx->s, &e[1]), STORE_INGEST_EXTENDED);
    store_ingest_info_t info;
    assert_int_equal(store_ingest(fx->s, e[0].b, e[0].len, NOW_MS, &info), STORE_OK);
    assert_int_equal(info.result, STORE_INGEST_DUPLICATE);
    assert_memory_equal(info.id, e[0].p.id, POST_ID_SIZE);
    assert_int_equal(stats(fx->s).posts, 2);
    assert_head(fx->s, &fx->a, 2, e[1].p.id, 2);
    bool has = false;
    assert_int_equal(store_has_post(fx->s, e[1].p.id, &has), STORE_OK);
    assert_true(has);
    uint8_t other[POST_ID_SIZE];
    memcpy(other, e[1].p.id, sizeof other);
    other[0] ^= 1;
    assert_int_equal(store_has_post(fx->s, other, &has), STORE_OK);
    assert_false(has);
    free(e);
}

static void
test_gap_then_fill(void **state)
{
    fx_t *fx = *state;
    enc_t *e = chain(&fx->a, 5, NOW_MS);
    assert_int_equal(ingest(fx->s, &e[0]), STORE_INGEST_EXTENDED);
    assert_int_equal(ingest(fx->s, &e[1]), STORE_INGEST_EXTENDED);
    assert_int_equal(ingest(fx->s, &e[3]), STORE_INGEST_AHEAD);
    assert_head(fx->s, &fx->a, 2, e[1].p.id, 4);
    assert_int_equal(ingest(fx->s, &e[4]), STORE_INGEST_AHEAD);
    assert_head(fx->s, &fx->a, 2, e[1].p.id, 5);
    /* The feed shows what is there; the head shows the gap. */
    seen_t sn = {0};
    assert_int_equal(store_feed(fx->s, fx->a.pk, 0, 0, collect, &sn), STORE_OK);
    assert_seqs(&sn, (const uint64_t[]){5, 4, 2, 1}, 4);
    /* The missing post closes the gap and the head absorbs 4 and 5. */
    assert_int_equal(ingest(fx->s, &e[2]), STORE_INGEST_EXTENDED);
    assert_head(fx->s, &fx->a, 5, e[4].p.id, 5);
    assert_int_equal(stats(fx->s).posts, 5);
    assert_int_equal(stats(fx->s).authors, 1);
    free(e);
}

static void
test_first_post_arrives_last(void **state)
{
    fx_t *fx = *state;
    enc_t *e = chain(&fx->a, 3, NOW_MS);
    assert_int_equal(ingest(fx->s, &e[2]), STORE_INGEST_AHEAD);
    assert_head(fx->s, &fx->a, 0, (const uint8_t[POST_ID_SIZE]){0}, 3);
    assert_int_equal(stats(fx->s).authors, 1);
    assert_int_equal(ingest(fx->s, &e[1]), STORE_INGEST_AHEAD);
    assert_int_equal(ingest(fx->s, &e[0]), STORE_INGEST_EXTENDED);
    assert_head(fx->s, &fx->a, 3, e[2].p.id, 3);
    assert_int_equal(stats(fx->s).authors, 1);
    assert_int_equal(forks_of(fx->s, &fx->a).n, 0);
    free(e);
}

static void
test_fork_same_seq(void **state)
{
    fx_t *fx = *state;
    enc_t *e = chain(&fx->a, 3, NOW_MS);
    enc_t *alt = enc_new(1);
    sign_text(alt, &fx->a, 2, e[0].p.id, NOW_MS + 5, "the other post 2");
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ingest(fx->s, &e[i]), STORE_INGEST_EXTENDED);
    }
    assert_int_equal(ingest(fx->s, alt), STORE_INGEST_FORK);
    /* First seen stays in the feed; nothing moves. */
    assert_head(fx->s, &fx->a, 3, e[2].p.id, 3);
    seen_t sn = {0};
    assert_int_equal(store_feed(fx->s, fx->a.pk, 0, 0, collect, &sn), STORE_OK);
    assert_seqs(&sn, (const uint64_t[]){3, 2, 1}, 3);
    assert_memory_equal(sn.id[1], e[1].p.id, POST_ID_SIZE);

    forks_t fk = forks_of(fx->s, &fx->a);
    assert_int_equal(fk.n, 1);
    assert_int_equal(fk.f[0].kind, STORE_FORK_SAME_SEQ);
    assert_int_equal(fk.f[0].seq, 2);
    assert_memory_equal(fk.f[0].first, e[1].p.id, POST_ID_SIZE);
    assert_memory_equal(fk.f[0].second, alt->p.id, POST_ID_SIZE);
    post_t p;
    assert_int_equal(store_get_post(fx->s, alt->p.id, &p, NULL, NULL), STORE_OK);
    assert_string_equal(p.body, "the other post 2");
    assert_int_equal(store_get_post(fx->s, e[1].p.id, &p, NULL, NULL), STORE_OK);
    store_stats_t st = stats(fx->s);
    assert_int_equal(st.posts, 4);
    assert_int_equal(st.forks, 1);
    /* The evidence is a duplicate the second time. */
    assert_int_equal(ingest(fx->s, alt), STORE_INGEST_DUPLICATE);
    assert_int_equal(stats(fx->s).forks, 1);
    assert_int_equal(forks_of(fx->s, &fx->b).n, 0);
    free(alt);
    free(e);
}

/* Post 3 arrives after post 2 but names another post 2 as prev. */
static void
test_bad_link_to_stored_prev(void **state)
{
    fx_t *fx = *state;
    enc_t *e = chain(&fx->a, 2, NOW_MS);
    enc_t *bad = enc_new(1);
    uint8_t other[POST_ID_SIZE];
    memset(other, 0x5a, sizeof other);
    sign_text(bad, &fx->a, 3, other, NOW_MS + 9000, "after a post 2 we never saw");
    assert_int_equal(ingest(fx->s, &e[0]), STORE_INGEST_EXTENDED);
    assert_int_equal(ingest(fx->s, &e[1]), STORE_INGEST_EXTENDED);
    assert_int_equal(ingest(fx->s, bad), STORE_INGEST_FORK);
    assert_head(fx->s, &fx->a, 2, e[1].p.id, 2);
    forks_t fk = forks_of(fx->s, &fx->a);
    assert_int_equal(fk.n, 1);
    assert_int_equal(fk.f[0].kind, STORE_FORK_BAD_LINK);
    assert_int_equal(fk.f[0].seq, 2);
    assert_memory_equal(fk.f[0].first, e[1].p.id, POST_ID_SIZE);
    assert_memory_equal(fk.f[0].second, bad->p.id, POST_ID_SIZE);
    assert_int_equal(store_get_post(fx->s, bad->p.id, NULL, NULL, NULL), STORE_OK);
    /* A correct post 3 still extends the feed. */
    enc_t *good = enc_new(1);
    sign_text(good, &fx->a, 3, e[1].p.id, NOW_MS + 9000, "the real post 3");
    assert_int_equal(ingest(fx->s, good), STORE_INGEST_EXTENDED);
    assert_head(fx->s, &fx->a, 3, good->p.id, 3);
    free(good);
    free(bad);
    free(e);
}

/* Post 3 is stored first; a post 2 arrives that post 3 does not name. */
static void
test_bad_link_to_stored_next(void **state)
{
    fx_t *fx = *state;
    enc_t *e = chain(&fx->a, 3, NOW_MS);
    enc_t *alt = enc_new(1);
    sign_text(alt, &fx->a, 2, e[0].p.id, NOW_MS + 1, "a post 2 that 3 does not follow");
    assert_int_equal(ingest(fx->s, &e[2]), STORE_INGEST_AHEAD);
    assert_int_equal(ingest(fx->s, alt), STORE_INGEST_FORK);
    forks_t fk = forks_of(fx->s, &fx->a);
    assert_int_equal(fk.n, 1);
    assert_int_equal(fk.f[0].kind, STORE_FORK_BAD_LINK);
    assert_int_equal(fk.f[0].seq, 2);
    assert_memory_equal(fk.f[0].first, alt->p.id, POST_ID_SIZE);
    assert_memory_equal(fk.f[0].second, e[2].p.id, POST_ID_SIZE);
    assert_head(fx->s, &fx->a, 0, NULL, 3);
    /* The real 2 and then 1 complete the feed. */
    assert_int_equal(ingest(fx->s, &e[1]), STORE_INGEST_AHEAD);
    assert_int_equal(ingest(fx->s, &e[0]), STORE_INGEST_EXTENDED);
    assert_head(fx->s, &fx->a, 3, e[2].p.id, 3);
    seen_t sn = {0};
    assert_int_equal(store_feed_forward(fx->s, fx->a.pk, 1, 0, collect, &sn), STORE_OK);
    assert_seqs(&sn, (const uint64_t[]){1, 2, 3}, 3);
    assert_memory_equal(sn.id[1], e[1].p.id, POST_ID_SIZE);
    store_stats_t st = stats(fx->s);
    assert_int_equal(st.posts, 4);
    assert_int_equal(st.forks, 1);
    free(alt);
    free(e);
}

static void
test_future_refused(void **state)
{
    fx_t *fx = *state;
    enc_t *e = enc_new(2);
    sign_text(&e[0], &fx->a, 1, NULL, NOW_MS + STORE_FUTURE_SKEW_MS + 1, "too early");
    sign_text(&e[1], &fx->a, 1, NULL, NOW_MS + STORE_FUTURE_SKEW_MS, "just in time");
    assert_int_equal(ingest(fx->s, &e[0]), STORE_INGEST_FUTURE);
    assert_int_equal(stats(fx->s).posts, 0);
    assert_int_equal(ingest(fx->s, &e[1]), STORE_INGEST_EXTENDED);
    /* Later, when the clock has caught up, the first is a fork of seq 1. */
    assert_int_equal(ingest_at(fx->s, e[0].b, e[0].len, NOW_MS + 60000, NULL), STORE_INGEST_FORK);
    free(e);
}

static void
test_invalid_refused(void **state)
{
    fx_t *fx = *state;
    enc_t *e = enc_new(1);
    sign_text(e, &fx->a, 1, NULL, NOW_MS, "signed");
    uint8_t buf[POST_MAX_SIZE + 1];
    post_err_t perr = POST_OK;

    memcpy(buf, e->b, e->len);
    buf[e->len - 10] ^= 0x01; /* a bit of the signature */
    assert_int_equal(ingest_at(fx->s, buf, e->len, NOW_MS, &perr), STORE_INGEST_INVALID);
    assert_int_equal(perr, POST_ESIG);
    memcpy(buf, e->b, e->len);
    buf[e->len - 70] ^= 0x01; /* a byte of the body: the signature no longer covers it */
    assert_int_equal(ingest_at(fx->s, buf, e->len, NOW_MS, &perr), STORE_INGEST_INVALID);
    assert_int_equal(perr, POST_ESIG);
    assert_int_equal(ingest_at(fx->s, e->b, e->len - 1, NOW_MS, &perr), STORE_INGEST_INVALID);
    assert_int_equal(perr, POST_ETRUNCATED);
    memcpy(buf, e->b, e->len);
    buf[e->len] = 0;
    assert_int_equal(ingest_at(fx->s, buf, e->len + 1, NOW_MS, &perr), STORE_INGEST_INVALID);
    assert_int_equal(perr, POST_ETRAILING);
    assert_int_equal(ingest_at(fx->s, e->b, 0, NOW_MS, &perr), STORE_INGEST_INVALID);

    store_head_t h;
    assert_int_equal(store_get_head(fx->s, fx->a.pk, &h), STORE_ENOTFOUND);
    assert_int_equal(stats(fx->s).posts, 0);
    assert_int_equal(store_get_post(fx->s, e->p.id, NULL, NULL, NULL), STORE_ENOTFOUND);
    free(e);
}

/* ---- follows, timeline ---------------------------------------------------------- */

static bool
collect_author(void *ud, const uint8_t author[static 32], uint64_t since_ms)
{
    seen_t *sn = ud;
    assert_true(sn->n < MAX_SEEN);
    memcpy(sn->author[sn->n], author, 32);
    sn->ts[sn->n] = since_ms;
    sn->n++;
    return true;
}

static void
test_follows(void **state)
{
    fx_t *fx = *state;
    bool yes = true;
    assert_int_equal(store_is_following(fx->s, fx->a.pk, &yes), STORE_OK);
    assert_false(yes);
    assert_int_equal(store_follow(fx->s, fx->a.pk, 111), STORE_OK);
    assert_int_equal(store_follow(fx->s, fx->a.pk, 222), STORE_OK); /* idempotent */
    assert_int_equal(store_follow(fx->s, fx->b.pk, 333), STORE_OK);
    assert_int_equal(store_is_following(fx->s, fx->a.pk, &yes), STORE_OK);
    assert_true(yes);
    seen_t sn = {0};
    assert_int_equal(store_following(fx->s, collect_author, &sn), STORE_OK);
    assert_int_equal(sn.n, 2);
    for (size_t i = 0; i < 2; i++) {
        bool is_a = memcmp(sn.author[i], fx->a.pk, 32) == 0;
        assert_true(is_a || memcmp(sn.author[i], fx->b.pk, 32) == 0);
        assert_int_equal(sn.ts[i], is_a ? 111 : 333); /* the first follow's time stays */
    }
    assert_int_equal(stats(fx->s).follows, 2);
    assert_int_equal(store_unfollow(fx->s, fx->a.pk), STORE_OK);
    assert_int_equal(store_unfollow(fx->s, fx->a.pk), STORE_ENOTFOUND);
    assert_int_equal(store_is_following(fx->s, fx->a.pk, &yes), STORE_OK);
    assert_false(yes);
    assert_int_equal(stats(fx->s).follows, 1);
    reopen(fx);
    assert_int_equal(stats(fx->s).follows, 1);
}

/* Interleaves n posts of each author: timestamps NOW_MS + 10 * i + offset. */
static void
post_rounds(fx_t *fx, const keys_author_t *k, size_t n, uint64_t offset, enc_t *out)
{
    char body[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(body, sizeof body, "round %zu", i);
        sign_text(&out[i], k, i + 1, i > 0 ? out[i - 1].p.id : NULL, NOW_MS + 10 * i + offset,
                  body);
        assert_int_equal(ingest(fx->s, &out[i]), STORE_INGEST_EXTENDED);
    }
}

/* Reads the whole timeline in pages of `page`. */
static void
read_pages(store_t *s, const uint8_t *self, size_t page, seen_t *all)
{
    store_cursor_t cur = {0};
    memset(all, 0, sizeof *all);
    for (;;) {
        seen_t pg = {0};
        assert_int_equal(store_timeline(s, self, all->n > 0 ? &cur : NULL, page, collect, &pg),
                         STORE_OK);
        assert_true(pg.n <= page);
        for (size_t i = 0; i < pg.n; i++) {
            assert_true(all->n < MAX_SEEN);
            all->ts[all->n] = pg.ts[i];
            memcpy(all->id[all->n], pg.id[i], POST_ID_SIZE);
            memcpy(all->author[all->n], pg.author[i], 32);
            all->n++;
        }
        if (pg.n < page) {
            return;
        }
        cur.timestamp_ms = pg.ts[pg.n - 1];
        memcpy(cur.id, pg.id[pg.n - 1], POST_ID_SIZE);
    }
}

static size_t
count_author(const seen_t *sn, const uint8_t *pk)
{
    size_t n = 0;
    for (size_t i = 0; i < sn->n; i++) {
        n += memcmp(sn->author[i], pk, 32) == 0;
    }
    return n;
}

static void
test_timeline_paging(void **state)
{
    fx_t *fx = *state;
    keys_author_t self;
    author_from_byte(&self, 0x5e);
    enc_t *a = enc_new(4), *b = enc_new(4), *c = enc_new(4), *me = enc_new(4);
    post_rounds(fx, &fx->a, 4, 1, a);
    post_rounds(fx, &fx->b, 4, 2, b);
    post_rounds(fx, &fx->c, 4, 3, c);
    post_rounds(fx, &self, 4, 1, me); /* same timestamps as a: ties broken by id */
    assert_int_equal(store_follow(fx->s, fx->a.pk, NOW_MS), STORE_OK);
    assert_int_equal(store_follow(fx->s, fx->b.pk, NOW_MS), STORE_OK);

    seen_t all;
    read_pages(fx->s, self.pk, 3, &all);
    assert_int_equal(all.n, 12);
    assert_int_equal(count_author(&all, fx->c.pk), 0);
    assert_int_equal(count_author(&all, self.pk), 4);
    for (size_t i = 1; i < all.n; i++) {
        int order = all.ts[i - 1] > all.ts[i]   ? 1
                    : all.ts[i - 1] < all.ts[i] ? -1
                                                : memcmp(all.id[i - 1], all.id[i], POST_ID_SIZE);
        assert_true(order > 0); /* strictly newest first, no repeats */
    }
    assert_int_equal(all.ts[0], NOW_MS + 32);
    /* The same in one call. */
    seen_t one = {0};
    assert_int_equal(store_timeline(fx->s, self.pk, NULL, 0, collect, &one), STORE_OK);
    assert_int_equal(one.n, 12);
    assert_memory_equal(one.id, all.id, sizeof one.id[0] * 12);

    /* Without self, and after unfollowing b. */
    assert_int_equal(store_unfollow(fx->s, fx->b.pk), STORE_OK);
    read_pages(fx->s, NULL, 2, &all);
    assert_int_equal(all.n, 4);
    assert_int_equal(count_author(&all, fx->a.pk), 4);
    free(a);
    free(b);
    free(c);
    free(me);
}

static void
test_timeline_kinds(void **state)
{
    fx_t *fx = *state;
    enc_t *e = enc_new(4);
    sign_text(&e[0], &fx->a, 1, NULL, NOW_MS, "hello");
    sign_post(&e[1], &fx->a, POST_KIND_REPLY, 2, e[0].p.id, NOW_MS + 1, "re", e[0].p.id, NULL);
    sign_post(&e[2], &fx->a, POST_KIND_PROFILE, 3, e[1].p.id, NOW_MS + 2, "bio", NULL, "A");
    sign_post(&e[3], &fx->a, POST_KIND_DELETE, 4, e[2].p.id, NOW_MS + 3, "", e[1].p.id, NULL);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ingest(fx->s, &e[i]), STORE_INGEST_EXTENDED);
    }
    seen_t sn = {0};
    assert_int_equal(store_timeline(fx->s, fx->a.pk, NULL, 0, collect, &sn), STORE_OK);
    assert_seqs(&sn, (const uint64_t[]){2, 1}, 2);
    /* The feed holds every kind. */
    memset(&sn, 0, sizeof sn);
    assert_int_equal(store_feed(fx->s, fx->a.pk, 0, 0, collect, &sn), STORE_OK);
    assert_int_equal(sn.n, 4);
    free(e);
}

/* ---- profiles and deletes -------------------------------------------------------- */

static void
profile_chain(enc_t *e, const keys_author_t *k)
{
    sign_post(&e[0], k, POST_KIND_PROFILE, 1, NULL, NOW_MS, "first bio", NULL, "one");
    sign_text(&e[1], k, 2, e[0].p.id, NOW_MS + 1, "text");
    sign_post(&e[2], k, POST_KIND_PROFILE, 3, e[1].p.id, NOW_MS + 2, "", NULL, "three");
}

static void
test_profile_latest_wins(void **state)
{
    fx_t *fx = *state;
    enc_t *a = enc_new(3), *b = enc_new(3);
    profile_chain(a, &fx->a);
    profile_chain(b, &fx->b);
    post_t p;
    assert_int_equal(store_get_profile(fx->s, fx->a.pk, &p), STORE_ENOTFOUND);
    /* In order. */
    assert_int_equal(ingest(fx->s, &a[0]), STORE_INGEST_EXTENDED);
    assert_int_equal(store_get_profile(fx->s, fx->a.pk, &p), STORE_OK);
    assert_string_equal(p.name, "one");
    assert_int_equal(ingest(fx->s, &a[1]), STORE_INGEST_EXTENDED);
    assert_int_equal(ingest(fx->s, &a[2]), STORE_INGEST_EXTENDED);
    assert_int_equal(store_get_profile(fx->s, fx->a.pk, &p), STORE_OK);
    assert_string_equal(p.name, "three");
    /* Newest first: the older profile arriving later does not replace it. */
    assert_int_equal(ingest(fx->s, &b[2]), STORE_INGEST_AHEAD);
    assert_int_equal(ingest(fx->s, &b[0]), STORE_INGEST_EXTENDED);
    assert_int_equal(store_get_profile(fx->s, fx->b.pk, &p), STORE_OK);
    assert_string_equal(p.name, "three");
    assert_memory_equal(p.author, fx->b.pk, 32);
    assert_int_equal(ingest(fx->s, &b[1]), STORE_INGEST_EXTENDED);
    assert_head(fx->s, &fx->b, 3, b[2].p.id, 3);
    assert_int_equal(store_get_profile(fx->s, fx->b.pk, &p), STORE_OK);
    assert_string_equal(p.name, "three");
    free(a);
    free(b);
}

static void
test_delete_same_author_only(void **state)
{
    fx_t *fx = *state;
    enc_t *a = enc_new(2), *b = enc_new(2);
    sign_text(&a[0], &fx->a, 1, NULL, NOW_MS, "to be deleted");
    sign_post(&b[0], &fx->b, POST_KIND_DELETE, 1, NULL, NOW_MS + 1, "", a[0].p.id, NULL);
    sign_post(&a[1], &fx->a, POST_KIND_DELETE, 2, a[0].p.id, NOW_MS + 2, "", a[0].p.id, NULL);
    sign_text(&b[1], &fx->b, 2, b[0].p.id, NOW_MS + 3, "b's own");

    bool deleted = true;
    uint8_t by[POST_ID_SIZE];
    /* The target is not stored yet: whose it is cannot be known. */
    assert_int_equal(ingest(fx->s, &b[0]), STORE_INGEST_EXTENDED);
    assert_int_equal(store_is_deleted(fx->s, a[0].p.id, &deleted, NULL), STORE_OK);
    assert_false(deleted);
    /* b's delete names a's post: no effect. */
    assert_int_equal(ingest(fx->s, &a[0]), STORE_INGEST_EXTENDED);
    assert_int_equal(store_is_deleted(fx->s, a[0].p.id, &deleted, by), STORE_OK);
    assert_false(deleted);
    /* a's own delete does. */
    assert_int_equal(ingest(fx->s, &a[1]), STORE_INGEST_EXTENDED);
    assert_int_equal(store_is_deleted(fx->s, a[0].p.id, &deleted, by), STORE_OK);
    assert_true(deleted);
    assert_memory_equal(by, a[1].p.id, POST_ID_SIZE);
    /* The deleted post is still stored and served (the feed must verify). */
    assert_int_equal(store_get_post(fx->s, a[0].p.id, NULL, NULL, NULL), STORE_OK);
    assert_int_equal(ingest(fx->s, &b[1]), STORE_INGEST_EXTENDED);
    assert_int_equal(store_is_deleted(fx->s, b[1].p.id, &deleted, NULL), STORE_OK);
    assert_false(deleted);
    free(a);
    free(b);
}

/* ---- blocks ---------------------------------------------------------------------- */

static void
test_block_purges(void **state)
{
    fx_t *fx = *state;
    enc_t *a = chain(&fx->a, 4, NOW_MS);
    enc_t *x = enc_new(3);
    sign_post(&x[0], &fx->a, POST_KIND_DELETE, 5, a[3].p.id, NOW_MS + 9000, "", a[0].p.id, NULL);
    sign_post(&x[1], &fx->a, POST_KIND_PROFILE, 6, x[0].p.id, NOW_MS + 9001, "", NULL, "A");
    sign_text(&x[2], &fx->a, 2, a[0].p.id, NOW_MS + 7, "fork"); /* evidence */
    enc_t *b = chain(&fx->b, 3, NOW_MS + 5);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ingest(fx->s, &a[i]), STORE_INGEST_EXTENDED);
    }
    assert_int_equal(ingest(fx->s, &x[0]), STORE_INGEST_EXTENDED);
    assert_int_equal(ingest(fx->s, &x[1]), STORE_INGEST_EXTENDED);
    assert_int_equal(ingest(fx->s, &x[2]), STORE_INGEST_FORK);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ingest(fx->s, &b[i]), STORE_INGEST_EXTENDED);
    }
    assert_int_equal(store_follow(fx->s, fx->a.pk, NOW_MS), STORE_OK);
    assert_int_equal(store_follow(fx->s, fx->b.pk, NOW_MS), STORE_OK);
    bool yes = false;
    assert_int_equal(store_is_deleted(fx->s, a[0].p.id, &yes, NULL), STORE_OK);
    assert_true(yes);

    uint64_t purged = 0;
    assert_int_equal(store_block(fx->s, fx->a.pk, NOW_MS, &purged), STORE_OK);
    assert_int_equal(purged, 7);
    store_stats_t st = stats(fx->s);
    assert_int_equal(st.posts, 3);
    assert_int_equal(st.authors, 1);
    assert_int_equal(st.forks, 0);
    assert_int_equal(st.follows, 1);
    store_head_t h;
    assert_int_equal(store_get_head(fx->s, fx->a.pk, &h), STORE_ENOTFOUND);
    assert_int_equal(store_get_post(fx->s, a[2].p.id, NULL, NULL, NULL), STORE_ENOTFOUND);
    assert_int_equal(store_get_post(fx->s, x[2].p.id, NULL, NULL, NULL), STORE_ENOTFOUND);
    post_t p;
    assert_int_equal(store_get_profile(fx->s, fx->a.pk, &p), STORE_ENOTFOUND);
    assert_int_equal(forks_of(fx->s, &fx->a).n, 0);
    assert_int_equal(store_is_following(fx->s, fx->a.pk, &yes), STORE_OK);
    assert_false(yes);
    assert_int_equal(store_is_blocked(fx->s, fx->a.pk, &yes), STORE_OK);
    assert_true(yes);
    seen_t sn = {0};
    assert_int_equal(store_timeline(fx->s, fx->a.pk, NULL, 0, collect, &sn), STORE_OK);
    assert_int_equal(sn.n, 3); /* even as "self", a's timeline entries are gone */
    assert_int_equal(count_author(&sn, fx->b.pk), 3);
    memset(&sn, 0, sizeof sn);
    assert_int_equal(store_blocked(fx->s, collect_author, &sn), STORE_OK);
    assert_int_equal(sn.n, 1);
    assert_memory_equal(sn.author[0], fx->a.pk, 32);

    /* Refused while blocked; blocking again is harmless. */
    assert_int_equal(ingest(fx->s, &a[0]), STORE_INGEST_BLOCKED);
    assert_int_equal(store_block(fx->s, fx->a.pk, NOW_MS, &purged), STORE_OK);
    assert_int_equal(purged, 0);
    assert_int_equal(store_unblock(fx->s, fx->a.pk), STORE_OK);
    assert_int_equal(store_unblock(fx->s, fx->a.pk), STORE_ENOTFOUND);
    assert_int_equal(ingest(fx->s, &a[0]), STORE_INGEST_EXTENDED);
    assert_int_equal(stats(fx->s).authors, 2);
    free(a);
    free(b);
    free(x);
}

/* More records than one purge batch holds. */
static void
test_block_long_feed(void **state)
{
    fx_t *fx = *state;
    enum { N = 700 };
    enc_t *e = chain(&fx->a, N, NOW_MS - N * 1000);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(ingest(fx->s, &e[i]), STORE_INGEST_EXTENDED);
    }
    assert_int_equal(stats(fx->s).posts, N);
    uint64_t purged = 0;
    assert_int_equal(store_block(fx->s, fx->a.pk, NOW_MS, &purged), STORE_OK);
    assert_int_equal(purged, N);
    assert_int_equal(stats(fx->s).posts, 0);
    assert_int_equal(stats(fx->s).authors, 0);
    reopen(fx);
    assert_int_equal(stats(fx->s).posts, 0);
    seen_t sn = {0};
    assert_int_equal(store_feed(fx->s, fx->a.pk, 0, 0, collect, &sn), STORE_OK);
    assert_int_equal(store_timeline(fx->s, fx->a.pk, NULL, 0, collect, &sn), STORE_OK);
    assert_int_equal(sn.n, 0);
    free(e);
}

/* ---- publish --------------------------------------------------------------------- */

static void
publish_text(store_t *s, const keys_author_t *k, const char *text, post_t *out)
{
    post_init(out, POST_KIND_POST, 0, NULL, NOW_MS);
    assert_int_equal(post_set_body(out, text, strlen(text)), POST_OK);
    post_err_t perr = POST_EBUFSZ;
    assert_int_equal(store_publish(s, k, out, &perr), STORE_OK);
    assert_int_equal(perr, POST_OK);
}

static void
test_publish_and_reopen(void **state)
{
    fx_t *fx = *state;
    post_t *p = calloc(4, sizeof *p);
    assert_non_null(p);
    publish_text(fx->s, &fx->a, "one", &p[0]);
    publish_text(fx->s, &fx->a, "two", &p[1]);
    publish_text(fx->s, &fx->a, "three", &p[2]);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(p[i].seq, i + 1);
        if (i > 0) {
            assert_memory_equal(p[i].prev, p[i - 1].id, POST_ID_SIZE);
        }
    }
    assert_true(sodium_is_zero(p[0].prev, POST_ID_SIZE));
    assert_head(fx->s, &fx->a, 3, p[2].id, 3);
    reopen(fx);
    assert_head(fx->s, &fx->a, 3, p[2].id, 3);
    publish_text(fx->s, &fx->a, "four", &p[3]);
    assert_int_equal(p[3].seq, 4);
    assert_memory_equal(p[3].prev, p[2].id, POST_ID_SIZE);
    post_t got;
    uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    assert_int_equal(store_get_post(fx->s, p[3].id, &got, raw, &len), STORE_OK);
    assert_string_equal(got.body, "four");
    /* What publish stored verifies like anything from outside. */
    assert_int_equal(post_decode(&got, raw, len, POST_VERIFY), POST_OK);
    assert_int_equal(stats(fx->s).posts, 4);

    /* A draft the signer refuses changes nothing. */
    post_t bad;
    post_init(&bad, POST_KIND_DELETE, 0, NULL, NOW_MS); /* a delete with no target */
    post_err_t perr = POST_OK;
    assert_int_equal(store_publish(fx->s, &fx->a, &bad, &perr), STORE_EINVAL);
    assert_int_equal(perr, POST_EFIELD);
    assert_head(fx->s, &fx->a, 4, p[3].id, 4);
    free(p);
}

/* Our key signed a post we only hold as evidence (say, from a lost install):
 * the next post must take a seq above it too. */
static void
test_publish_above_evidence(void **state)
{
    fx_t *fx = *state;
    enc_t *e = chain(&fx->a, 4, NOW_MS);
    enc_t *ev = enc_new(1);
    uint8_t bogus[POST_ID_SIZE];
    memset(bogus, 0x77, sizeof bogus);
    sign_text(ev, &fx->a, 5, bogus, NOW_MS + 10000, "signed elsewhere");
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ingest(fx->s, &e[i]), STORE_INGEST_EXTENDED);
    }
    assert_int_equal(ingest(fx->s, ev), STORE_INGEST_FORK);
    assert_head(fx->s, &fx->a, 4, e[3].p.id, 4);
    post_t p;
    publish_text(fx->s, &fx->a, "after the fork", &p);
    assert_int_equal(p.seq, 6);
    assert_memory_equal(p.prev, ev->p.id, POST_ID_SIZE);
    assert_head(fx->s, &fx->a, 4, e[3].p.id, 6);
    /* And when the gap is in the feed index, above max_seq. */
    enc_t *g = enc_new(1);
    sign_text(g, &fx->b, 3, bogus, NOW_MS, "b's third");
    assert_int_equal(ingest(fx->s, g), STORE_INGEST_AHEAD);
    publish_text(fx->s, &fx->b, "b's fourth", &p);
    assert_int_equal(p.seq, 4);
    assert_memory_equal(p.prev, g->p.id, POST_ID_SIZE);
    free(g);
    free(ev);
    free(e);
}

static void
test_publish_blocked_self(void **state)
{
    fx_t *fx = *state;
    post_t p;
    publish_text(fx->s, &fx->a, "one", &p);
    assert_int_equal(store_block(fx->s, fx->a.pk, NOW_MS, NULL), STORE_OK);
    post_init(&p, POST_KIND_POST, 0, NULL, NOW_MS);
    assert_int_equal(store_publish(fx->s, &fx->a, &p, NULL), STORE_EINVAL);
}

/* ---- persistence, corruption, locks --------------------------------------------- */

static void
test_counters_persist(void **state)
{
    fx_t *fx = *state;
    enc_t *a = chain(&fx->a, 3, NOW_MS), *b = chain(&fx->b, 2, NOW_MS);
    enc_t *alt = enc_new(1);
    sign_text(alt, &fx->b, 2, b[0].p.id, NOW_MS, "b's other 2");
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ingest(fx->s, &a[i]), STORE_INGEST_EXTENDED);
    }
    assert_int_equal(ingest(fx->s, &b[0]), STORE_INGEST_EXTENDED);
    assert_int_equal(ingest(fx->s, &b[1]), STORE_INGEST_EXTENDED);
    assert_int_equal(ingest(fx->s, alt), STORE_INGEST_FORK);
    assert_int_equal(store_follow(fx->s, fx->c.pk, NOW_MS), STORE_OK);
    store_stats_t before = stats(fx->s);
    assert_int_equal(before.posts, 6);
    assert_int_equal(before.authors, 2);
    assert_int_equal(before.forks, 1);
    assert_int_equal(before.follows, 1);
    reopen(fx);
    store_stats_t after = stats(fx->s);
    assert_memory_equal(&before, &after, sizeof before);
    assert_head(fx->s, &fx->b, 2, b[1].p.id, 2);
    assert_int_equal(forks_of(fx->s, &fx->b).n, 1);
    free(a);
    free(b);
    free(alt);
}

/* Puts value under 'p'|id behind the store's back. */
static void
raw_put_post(const char *dir, const uint8_t id[static POST_ID_SIZE], const uint8_t *val, size_t len)
{
    leveldb_options_t *o = leveldb_options_create();
    char *err = NULL;
    leveldb_t *db = leveldb_open(o, dir, &err);
    assert_null(err);
    uint8_t key[1 + POST_ID_SIZE] = {'p'};
    memcpy(key + 1, id, POST_ID_SIZE);
    leveldb_writeoptions_t *w = leveldb_writeoptions_create();
    leveldb_put(db, w, (const char *)key, sizeof key, (const char *)val, len, &err);
    assert_null(err);
    leveldb_writeoptions_destroy(w);
    leveldb_close(db);
    leveldb_options_destroy(o);
}

static void
test_corruption_detected(void **state)
{
    fx_t *fx = *state;
    enc_t *e = chain(&fx->a, 3, NOW_MS);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ingest(fx->s, &e[i]), STORE_INGEST_EXTENDED);
    }
    store_close(fx->s);
    fx->s = NULL;
    uint8_t bad[POST_MAX_SIZE];
    memcpy(bad, e[1].b, e[1].len);
    bad[e[1].len - 70] ^= 0x20; /* a body byte: still decodes, but not this id */
    raw_put_post(fx->dir, e[1].p.id, bad, e[1].len);
    open_store(fx);

    post_t p;
    uint8_t raw[POST_MAX_SIZE];
    size_t len = 12345;
    assert_int_equal(store_get_post(fx->s, e[1].p.id, &p, raw, &len), STORE_ECORRUPT);
    assert_int_equal(len, 12345); /* nothing returned */
    assert_int_equal(store_get_post(fx->s, e[0].p.id, &p, NULL, NULL), STORE_OK);
    seen_t sn = {0};
    assert_int_equal(store_feed(fx->s, fx->a.pk, 0, 0, collect, &sn), STORE_ECORRUPT);
    assert_int_equal(sn.n, 1); /* post 3, then the corrupt post 2 stops the walk */
    assert_true(strlen(store_last_error(fx->s)) > 0);
    assert_int_equal(store_follow(fx->s, fx->a.pk, NOW_MS), STORE_OK);
    memset(&sn, 0, sizeof sn);
    assert_int_equal(store_timeline(fx->s, NULL, NULL, 0, collect, &sn), STORE_ECORRUPT);

    /* A value no post can be: too long. */
    store_close(fx->s);
    fx->s = NULL;
    uint8_t big[POST_MAX_SIZE + 1] = {0};
    raw_put_post(fx->dir, e[2].p.id, big, sizeof big);
    open_store(fx);
    assert_int_equal(store_get_post(fx->s, e[2].p.id, &p, NULL, NULL), STORE_ECORRUPT);
    /* A block still purges the author's corrupt records. */
    uint64_t purged = 0;
    assert_int_equal(store_block(fx->s, fx->a.pk, NOW_MS, &purged), STORE_OK);
    assert_int_equal(purged, 3);
    assert_int_equal(stats(fx->s).posts, 0);
    free(e);
}

static void
test_locked_same_process(void **state)
{
    fx_t *fx = *state;
    store_t *second = (store_t *)1;
    char detail[256];
    assert_int_equal(store_open(&second, fx->dir, NULL, detail, sizeof detail), STORE_ELOCKED);
    assert_null(second);
    assert_non_null(strstr(detail, "lock"));
    /* After closing, the directory opens again. */
    store_close(fx->s);
    fx->s = NULL;
    open_store(fx);
}

static void
test_open_missing_without_create(void **state)
{
    fx_t *fx = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/nothing-here", fx->dir);
    store_options_t o = {.create_if_missing = false};
    store_t *s = NULL;
    char detail[256];
    assert_int_equal(store_open(&s, path, &o, detail, sizeof detail), STORE_ENOTFOUND);
    assert_null(s);
    assert_true(strlen(detail) > 0);
    o.create_if_missing = true;
    o.cache_bytes = 1 << 20;
    assert_int_equal(store_open(&s, path, &o, detail, sizeof detail), STORE_OK);
    store_close(s);
    store_close(NULL);
}

/* The child side of test_locked_other_process: a separate program run (this
 * binary, exec'd), so no LevelDB thread state is inherited through fork. */
static int
hold_lock(const char *dir)
{
    store_t *s = NULL;
    char ok = store_open(&s, dir, NULL, NULL, 0) == STORE_OK ? '1' : '0';
    if (write(STDOUT_FILENO, &ok, 1) != 1) {
        ok = '0';
    }
    char c;
    while (read(STDIN_FILENO, &c, 1) > 0) {
    }
    store_close(s);
    return ok == '1' ? 0 : 1;
}

static void
test_locked_other_process(void **state)
{
    fx_t *fx = *state;
    store_close(fx->s);
    fx->s = NULL;
    int to_child[2], from_child[2];
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(from_child), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(to_child[0], STDIN_FILENO);
        dup2(from_child[1], STDOUT_FILENO);
        close(to_child[0]);
        close(to_child[1]);
        close(from_child[0]);
        close(from_child[1]);
        char *const argv[] = {(char *)fx->argv0, "--hold-lock", fx->dir, NULL};
        execv(fx->argv0, argv);
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    struct pollfd pfd = {.fd = from_child[0], .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 20000), 1);
    char c = 0;
    assert_int_equal(read(from_child[0], &c, 1), 1);
    assert_int_equal(c, '1');

    store_t *s = NULL;
    char detail[256];
    assert_int_equal(store_open(&s, fx->dir, NULL, detail, sizeof detail), STORE_ELOCKED);
    assert_null(s);
    assert_non_null(strstr(detail, "lock"));

    close(to_child[1]); /* EOF tells the child to close and exit */
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(from_child[0]);
    open_store(fx);
}

/* ---- batched ingest -------------------------------------------------------- */

/* Every key and value of the database in dir, in order, hashed: two stores
 * with the same hash hold the same records. */
static void
db_hash(const char *dir, uint8_t out[32])
{
    char *err = NULL;
    leveldb_options_t *o = leveldb_options_create();
    leveldb_t *db = leveldb_open(o, dir, &err);
    assert_null(err);
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    leveldb_iterator_t *it = leveldb_create_iterator(db, ro);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    for (leveldb_iter_seek_to_first(it); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t kl = 0, vl = 0;
        const char *k = leveldb_iter_key(it, &kl);
        const char *v = leveldb_iter_value(it, &vl);
        uint8_t lens[4] = {(uint8_t)(kl >> 8), (uint8_t)kl, (uint8_t)(vl >> 8), (uint8_t)vl};
        crypto_generichash_update(&st, lens, 4);
        crypto_generichash_update(&st, (const uint8_t *)k, kl);
        crypto_generichash_update(&st, (const uint8_t *)v, vl);
    }
    crypto_generichash_final(&st, out, 32);
    leveldb_iter_destroy(it);
    leveldb_readoptions_destroy(ro);
    leveldb_close(db);
    leveldb_options_destroy(o);
}

/* A hard arrival order: three authors' feeds shuffled (gaps that later
 * fill, posts ahead, first posts last), duplicates, forks of both kinds,
 * profiles, replies and deletes, and an invalid post. Taken one by one into
 * one store and in batches of varied sizes (crossing STORE_BATCH_POSTS)
 * into another: every result and every record on disk the same. */
static void
test_batch_same_as_one_by_one(void **state)
{
    fx_t *fx = *state;
    enum { N = 300, EXTRA = 40 };
    const keys_author_t *ks[3] = {&fx->a, &fx->b, &fx->c};
    enc_t *all = enc_new(3 * N + EXTRA);
    size_t n = 0;
    for (int a = 0; a < 3; a++) {
        enc_t *c = chain(ks[a], N, NOW_MS + (uint64_t)a);
        memcpy(&all[n], c, N * sizeof *c);
        n += N;
        free(c);
    }
    char body[64];
    for (int i = 0; i < EXTRA; i++) {
        const enc_t *base = &all[(size_t)i * 7 % (3 * N)];
        snprintf(body, sizeof body, "other %d", i);
        const keys_author_t *k = base->p.author[0] == fx->a.pk[0]   ? &fx->a
                                 : base->p.author[0] == fx->b.pk[0] ? &fx->b
                                                                    : &fx->c;
        /* Forks (another post at a taken seq), and extra kinds. */
        if (i % 4 == 0) {
            sign_text(&all[n], k, base->p.seq, base->p.seq > 1 ? all[n - 1].p.id : NULL,
                      base->p.timestamp_ms, body);
            if (base->p.seq == 1) {
                sign_text(&all[n], k, 1, NULL, base->p.timestamp_ms + 5, body);
            }
        } else if (i % 4 == 1) {
            sign_post(&all[n], k, POST_KIND_PROFILE, N + 1 + (uint64_t)i, base->p.id, NOW_MS,
                      "bio", NULL, "name");
        } else if (i % 4 == 2) {
            sign_post(&all[n], k, POST_KIND_REPLY, N + 1 + (uint64_t)i, base->p.id, NOW_MS,
                      body, base->p.id, NULL);
        } else {
            sign_post(&all[n], k, POST_KIND_DELETE, N + 1 + (uint64_t)i, base->p.id, NOW_MS,
                      "", base->p.id, NULL);
        }
        n++;
    }
    /* A deterministic shuffle, then some posts again. */
    size_t total = n + 60;
    const enc_t **order = calloc(total, sizeof *order);
    for (size_t i = 0; i < n; i++) {
        order[i] = &all[i];
    }
    uint32_t r = 12345;
    for (size_t i = n - 1; i > 0; i--) {
        r = r * 1103515245u + 12345u;
        size_t j = (r >> 8) % (i + 1);
        const enc_t *t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = n; i < total; i++) {
        order[i] = order[(i * 13) % n];
    }
    enc_t bad = all[0];
    bad.b[bad.len - 1] ^= 1; /* a broken signature */
    order[total / 2] = &bad;

    char dir2[512];
    tu_mkdtemp(dir2, sizeof dir2);
    store_t *s2 = NULL;
    char detail[256];
    assert_int_equal(store_open(&s2, dir2, NULL, detail, sizeof detail), STORE_OK);
    size_t i = 0, batches = 0;
    uint32_t sizes[] = {1, 7, 300, 2, 64, 513, 3};
    while (i < total) {
        size_t m = sizes[batches++ % (sizeof sizes / sizeof sizes[0])];
        assert_int_equal(store_batch_begin(s2), STORE_OK);
        assert_int_equal(store_batch_begin(s2), STORE_EINVAL);
        for (size_t j = 0; j < m && i < total; j++, i++) {
            store_ingest_info_t one, two;
            assert_int_equal(store_ingest(fx->s, order[i]->b, order[i]->len, NOW_MS, &one),
                             STORE_OK);
            assert_int_equal(store_ingest(s2, order[i]->b, order[i]->len, NOW_MS, &two),
                             STORE_OK);
            if (one.result != two.result) {
                fail_msg("post %zu: %s one by one, %s batched", i, store_ingest_name(one.result),
                         store_ingest_name(two.result));
            }
        }
        assert_int_equal(store_batch_end(s2), STORE_OK);
    }
    assert_int_equal(store_batch_end(s2), STORE_EINVAL);
    store_stats_t a = stats(fx->s), b = stats(s2);
    assert_int_equal(a.posts, b.posts);
    assert_int_equal(a.authors, b.authors);
    assert_int_equal(a.forks, b.forks);
    assert_true(a.forks > 0);
    store_close(fx->s);
    fx->s = NULL;
    store_close(s2);
    uint8_t h1[32], h2[32];
    db_hash(fx->dir, h1);
    db_hash(dir2, h2);
    assert_memory_equal(h1, h2, 32);
    open_store(fx);
    tu_rmtree(dir2);
    free(order);
    free(all);
}

int
main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        return 1;
    }
    if (argc == 3 && strcmp(argv[1], "--hold-lock") == 0) {
        return hold_lock(argv[2]);
    }
    void *argv0 = argv[0];
#define T(f) cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, argv0)
    const struct CMUnitTest tests[] = {
        T(test_extend_in_order),
        T(test_duplicate_is_noop),
        T(test_gap_then_fill),
        T(test_first_post_arrives_last),
        T(test_fork_same_seq),
        T(test_bad_link_to_stored_prev),
        T(test_bad_link_to_stored_next),
        T(test_future_refused),
        T(test_invalid_refused),
        T(test_follows),
        T(test_timeline_paging),
        T(test_timeline_kinds),
        T(test_profile_latest_wins),
        T(test_delete_same_author_only),
        T(test_block_purges),
        T(test_block_long_feed),
        T(test_publish_and_reopen),
        T(test_publish_above_evidence),
        T(test_publish_blocked_self),
        T(test_counters_persist),
        T(test_corruption_detected),
        T(test_locked_same_process),
        T(test_open_missing_without_create),
        T(test_locked_other_process),
        T(test_batch_same_as_one_by_one),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
