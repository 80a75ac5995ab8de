/* The allocation-failure pass for the store. store/store.c allocates in two
 * places of its own: the store_t in store_open, and the list of last-seen
 * times in store_peers_prune. Both are failed in turn here: store_open must
 * return STORE_ENOMEM with nothing open (the next open succeeds, so the
 * LevelDB lock was not left held), store_peers_prune STORE_ENOMEM with
 * nothing deleted. Taking in a post from a peer makes no allocation of
 * ours at all, which is checked too.
 *
 * What cannot be covered: LevelDB allocates with C++ `new` inside its shared
 * library, which the --wrap of tests/util/tu_alloc.h does not reach; an
 * allocation failure there throws std::bad_alloc through the C API and ends
 * the process. That is LevelDB's contract, not one the store can change. */
#include "testutil.h"
#include "tu_alloc.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "fakestore.h"
#include "keys.h"
#include "post.h"
#include "store.h"

typedef struct {
    char dir[512];
} fx_t;

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    tu_mkdtemp(fx->dir, sizeof fx->dir);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    tu_rmtree(fx->dir);
    free(fx);
    return 0;
}

static bool
open_round(void *ud, long n)
{
    const fx_t *fx = ud;
    store_t *s = NULL;
    char detail[256];
    tu_alloc_start(n);
    store_err_t err = store_open(&s, fx->dir, NULL, detail, sizeof detail);
    tu_alloc_stop();
    if (err != STORE_OK) {
        assert_int_equal(err, STORE_ENOMEM);
        assert_null(s);
        return false;
    }
    store_close(s);
    return true;
}

static void
test_open(void **state)
{
    fx_t *fx = *state;
    /* A new database, then the same one again (it exists now). */
    assert_true(tu_alloc_pass(open_round, fx, 100) > 0);
    assert_true(tu_alloc_pass(open_round, fx, 100) > 0);
}

static bool
count_peer(void *ud, const uint8_t key[32], const char *endpoint, uint64_t last_seen_ms)
{
    (void)key;
    (void)endpoint;
    (void)last_seen_ms;
    (*(size_t *)ud)++;
    return true;
}

static size_t
peers_in(store_t *s)
{
    size_t n = 0, bad = 0;
    assert_int_equal(store_peers(s, count_peer, &n, &bad), STORE_OK);
    return n;
}

typedef struct {
    store_t *s;
    size_t before;
} prune_t;

static bool
prune_round(void *ud, long n)
{
    prune_t *p = ud;
    uint64_t removed = 0;
    tu_alloc_start(n);
    store_err_t err = store_peers_prune(p->s, 10, &removed);
    tu_alloc_stop();
    if (err != STORE_OK) {
        assert_int_equal(err, STORE_ENOMEM);
        assert_int_equal(peers_in(p->s), p->before);
        return false;
    }
    assert_int_equal(peers_in(p->s), 10);
    return true;
}

static void
test_peers_prune(void **state)
{
    fx_t *fx = *state;
    store_t *s = NULL;
    assert_int_equal(store_open(&s, fx->dir, NULL, NULL, 0), STORE_OK);
    /* More than the first list capacity, so the list grows once. */
    enum { SAVED = 300 };
    for (unsigned i = 0; i < SAVED; i++) {
        uint8_t key[32];
        memset(key, 0, 32);
        memcpy(key, &i, sizeof i);
        char endpoint[64];
        snprintf(endpoint, sizeof endpoint, "tcp://10.0.%u.%u:7470", i / 256, i % 256);
        assert_int_equal(store_peer_save(s, key, endpoint, 1000 + i), STORE_OK);
    }
    prune_t p = {s, SAVED};
    assert_int_equal(tu_alloc_pass(prune_round, &p, 100), 2);
    store_close(s);
}

static void
test_ingest_allocates_nothing(void **state)
{
    fx_t *fx = *state;
    store_t *s = NULL;
    assert_int_equal(store_open(&s, fx->dir, NULL, NULL, 0), STORE_OK);
    keys_author_t k;
    uint8_t seed[32], raw[POST_MAX_SIZE], id[POST_ID_SIZE], prev[POST_ID_SIZE];
    memset(seed, 0x21, 32);
    keys_author_from_seed(&k, seed);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        size_t len = 0;
        fakestore_sign(&k, seq, seq > 1 ? prev : NULL, 1700000000000ull + seq, "from a peer", raw,
                       &len, id);
        memcpy(prev, id, sizeof prev);
        store_ingest_info_t info;
        tu_alloc_start(-1);
        assert_int_equal(store_ingest(s, raw, len, 1700000000000ull, &info), STORE_OK);
        assert_int_equal(tu_alloc_stop(), 0);
        assert_int_equal(info.result, STORE_INGEST_EXTENDED);
    }
    store_close(s);
    keys_author_wipe(&k);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peers_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_allocates_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
