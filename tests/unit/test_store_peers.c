/* The peer table of the store, on a real LevelDB database in a temporary
 * directory: save and list, updates (last_seen never goes backwards, the
 * endpoint follows the latest save), forget, the endpoint rule, prune with
 * ties and keep = 0, a reopen, and that peers and other records do not mix. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

enum { SEEN_MAX = 64 };

typedef struct {
    uint8_t key[32];
    char endpoint[STORE_ENDPOINT_MAX + 1];
    uint64_t last_seen;
} peer_t;

/* One test's world: a fresh store in its own directory, and what the last
 * listing returned. */
typedef struct {
    char dir[512];
    store_t *s;
    size_t n;          /* peers listed */
    size_t stop_after; /* the callback returns false after this many; 0 = never */
    peer_t seen[SEEN_MAX];
} fx_t;

static void
open_store(fx_t *fx)
{
    char detail[256];
    store_err_t err = store_open(&fx->s, fx->dir, NULL, detail, sizeof detail);
    if (err != STORE_OK) {
        fail_msg("store_open: %s: %s", store_strerror(err), detail);
    }
}

static int
fx_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL) {
        return -1;
    }
    tu_mkdtemp(fx->dir, sizeof fx->dir);
    open_store(fx);
    *state = fx;
    return 0;
}

static int
fx_teardown(void **state)
{
    fx_t *fx = *state;
    store_close(fx->s);
    tu_rmtree(fx->dir);
    free(fx);
    return 0;
}

static void
key_of(uint8_t key[32], uint8_t byte)
{
    memset(key, byte, 32);
}

static bool
on_peer(void *ud, const uint8_t node_key[32], const char *endpoint, uint64_t last_seen_ms)
{
    fx_t *fx = ud;
    assert_true(fx->n < SEEN_MAX);
    peer_t *p = &fx->seen[fx->n++];
    size_t n = strlen(endpoint);
    assert_true(n >= 1 && n <= STORE_ENDPOINT_MAX);
    memcpy(p->key, node_key, 32);
    memcpy(p->endpoint, endpoint, n + 1);
    p->last_seen = last_seen_ms;
    return fx->stop_after == 0 || fx->n < fx->stop_after;
}

/* Lists every peer into fx->seen; a clean store has no malformed record. */
static size_t
list(fx_t *fx)
{
    fx->n = 0;
    memset(fx->seen, 0, sizeof fx->seen);
    size_t bad = 12345;
    assert_int_equal(store_peers(fx->s, on_peer, fx, &bad), STORE_OK);
    assert_int_equal(bad, 0);
    return fx->n;
}

static void
save(fx_t *fx, uint8_t byte, const char *endpoint, uint64_t last_seen)
{
    uint8_t key[32];
    key_of(key, byte);
    assert_int_equal(store_peer_save(fx->s, key, endpoint, last_seen), STORE_OK);
}

static void
check_peer(const fx_t *fx, size_t i, uint8_t byte, const char *endpoint, uint64_t last_seen)
{
    assert_true(i < fx->n);
    uint8_t key[32];
    key_of(key, byte);
    assert_memory_equal(fx->seen[i].key, key, 32);
    assert_string_equal(fx->seen[i].endpoint, endpoint);
    assert_int_equal(fx->seen[i].last_seen, last_seen);
}

/* The peer of key byte among those listed; NULL when absent. */
static const peer_t *
find(const fx_t *fx, uint8_t byte)
{
    uint8_t key[32];
    key_of(key, byte);
    for (size_t i = 0; i < fx->n; i++) {
        if (memcmp(fx->seen[i].key, key, 32) == 0) {
            return &fx->seen[i];
        }
    }
    return NULL;
}

static void
test_empty(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(list(fx), 0);
    /* bad is optional. */
    assert_int_equal(store_peers(fx->s, on_peer, fx, NULL), STORE_OK);
    assert_int_equal(fx->n, 0);
    uint64_t removed = 99;
    assert_int_equal(store_peers_prune(fx->s, 0, &removed), STORE_OK);
    assert_int_equal(removed, 0);
}

static void
test_save_and_list(void **state)
{
    fx_t *fx = *state;
    save(fx, 0x03, "tcp://192.0.2.3:7470", 3000);
    save(fx, 0x01, "tcp://[2001:db8::1]:7470", 1000);
    save(fx, 0x02, "tcp://node.example.org:7471", UINT64_MAX);
    save(fx, 0xff, "tcp://192.0.2.255:1", 0);
    /* Listed in key order, each with what was saved. */
    assert_int_equal(list(fx), 4);
    check_peer(fx, 0, 0x01, "tcp://[2001:db8::1]:7470", 1000);
    check_peer(fx, 1, 0x02, "tcp://node.example.org:7471", UINT64_MAX);
    check_peer(fx, 2, 0x03, "tcp://192.0.2.3:7470", 3000);
    check_peer(fx, 3, 0xff, "tcp://192.0.2.255:1", 0);

    /* Returning false stops the listing. */
    fx->n = 0;
    fx->stop_after = 2;
    assert_int_equal(store_peers(fx->s, on_peer, fx, NULL), STORE_OK);
    assert_int_equal(fx->n, 2);
    fx->stop_after = 0;
}

static void
test_update(void **state)
{
    fx_t *fx = *state;
    save(fx, 0x07, "tcp://192.0.2.1:7470", 5000);
    save(fx, 0x08, "tcp://192.0.2.8:7470", 100);

    /* An older sighting takes the new endpoint but keeps the newer time. */
    save(fx, 0x07, "tcp://192.0.2.2:7471", 4000);
    assert_int_equal(list(fx), 2);
    check_peer(fx, 0, 0x07, "tcp://192.0.2.2:7471", 5000);
    /* So does one added by hand, with 0. */
    save(fx, 0x07, "tcp://node.example.org:7472", 0);
    assert_int_equal(list(fx), 2);
    check_peer(fx, 0, 0x07, "tcp://node.example.org:7472", 5000);
    /* The same time keeps it. */
    save(fx, 0x07, "tcp://192.0.2.3:7473", 5000);
    assert_int_equal(list(fx), 2);
    check_peer(fx, 0, 0x07, "tcp://192.0.2.3:7473", 5000);
    /* A newer one moves it forward. */
    save(fx, 0x07, "tcp://192.0.2.4:7474", 5001);
    assert_int_equal(list(fx), 2);
    check_peer(fx, 0, 0x07, "tcp://192.0.2.4:7474", 5001);
    save(fx, 0x07, "tcp://192.0.2.4:7474", UINT64_MAX);
    save(fx, 0x07, "tcp://192.0.2.5:7475", 1);
    assert_int_equal(list(fx), 2);
    check_peer(fx, 0, 0x07, "tcp://192.0.2.5:7475", UINT64_MAX);
    /* The other peer was never touched. */
    check_peer(fx, 1, 0x08, "tcp://192.0.2.8:7470", 100);
}

static void
test_forget(void **state)
{
    fx_t *fx = *state;
    uint8_t key[32];
    save(fx, 0x01, "tcp://192.0.2.1:7470", 1);
    save(fx, 0x02, "tcp://192.0.2.2:7470", 2);
    save(fx, 0x03, "tcp://192.0.2.3:7470", 3);
    key_of(key, 0x02);
    assert_int_equal(store_peer_forget(fx->s, key), STORE_OK);
    assert_int_equal(list(fx), 2);
    check_peer(fx, 0, 0x01, "tcp://192.0.2.1:7470", 1);
    check_peer(fx, 1, 0x03, "tcp://192.0.2.3:7470", 3);
    /* Forgetting twice, or a peer never seen, is ENOTFOUND. */
    assert_int_equal(store_peer_forget(fx->s, key), STORE_ENOTFOUND);
    key_of(key, 0x04);
    assert_int_equal(store_peer_forget(fx->s, key), STORE_ENOTFOUND);
    assert_int_equal(list(fx), 2);

    /* A forgotten peer can come back, with no memory of its old time. */
    save(fx, 0x02, "tcp://192.0.2.22:7470", 0);
    assert_int_equal(list(fx), 3);
    check_peer(fx, 1, 0x02, "tcp://192.0.2.22:7470", 0);

    key_of(key, 0x01);
    assert_int_equal(store_peer_forget(fx->s, key), STORE_OK);
    key_of(key, 0x02);
    assert_int_equal(store_peer_forget(fx->s, key), STORE_OK);
    key_of(key, 0x03);
    assert_int_equal(store_peer_forget(fx->s, key), STORE_OK);
    assert_int_equal(list(fx), 0);
}

static void
test_endpoint_rule(void **state)
{
    fx_t *fx = *state;
    char longest[STORE_ENDPOINT_MAX + 2];
    memset(longest, 'e', sizeof longest);
    longest[STORE_ENDPOINT_MAX + 1] = '\0'; /* 129 bytes */
    const char *bad[] = {
        "",
        longest,
        "tcp://192.0.2.1 :7470",
        " tcp://192.0.2.1:7470",
        "tcp://192.0.2.1:7470 ",
        "tcp://192.0.2.1:7470\n",
        "tcp://192.0.2.1:\t7470",
        "tcp://192.0.2.1:7470\x01",
        "\x1f",
        "tcp://192.0.2.1:7470\x7f",
        "tcp://caf\xc3\xa9:7470",
        "\xff",
    };
    uint8_t key[32];
    key_of(key, 0x09);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (store_peer_save(fx->s, key, bad[i], 1) != STORE_EINVAL) {
            fail_msg("endpoint %zu was not refused", i);
        }
    }
    assert_int_equal(list(fx), 0);

    /* A refused save leaves the stored record alone. */
    save(fx, 0x09, "tcp://192.0.2.9:7470", 10);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(store_peer_save(fx->s, key, bad[i], 20), STORE_EINVAL);
    }
    assert_int_equal(list(fx), 1);
    check_peer(fx, 0, 0x09, "tcp://192.0.2.9:7470", 10);

    /* At the limits: 128 bytes, and one byte (the store checks only the
     * characters; node/ checks the syntax). */
    longest[STORE_ENDPOINT_MAX] = '\0';
    save(fx, 0x0a, longest, 1);
    save(fx, 0x0b, "x", 2);
    save(fx, 0x0c, "!~", 3);
    assert_int_equal(list(fx), 4);
    check_peer(fx, 1, 0x0a, longest, 1);
    check_peer(fx, 2, 0x0b, "x", 2);
    check_peer(fx, 3, 0x0c, "!~", 3);
}

/* Saves n peers with keys 1..n and the given times. */
static void
save_times(fx_t *fx, const uint64_t *times, size_t n)
{
    char endpoint[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(endpoint, sizeof endpoint, "tcp://192.0.2.%zu:7470", i + 1);
        save(fx, (uint8_t)(i + 1), endpoint, times[i]);
    }
}

static void
test_prune(void **state)
{
    fx_t *fx = *state;
    /* Ten peers, the times out of key order. */
    const uint64_t times[] = {50, 10, 100, 70, 20, 90, 30, 80, 60, 40};
    save_times(fx, times, 10);
    assert_int_equal(list(fx), 10);

    /* Keeping as many as there are, or more, removes nothing. */
    uint64_t removed = 99;
    assert_int_equal(store_peers_prune(fx->s, 10, &removed), STORE_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(store_peers_prune(fx->s, 1000, &removed), STORE_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(list(fx), 10);

    /* Keep the four most recently seen: 100, 90, 80, 70 (keys 3, 6, 8, 4). */
    assert_int_equal(store_peers_prune(fx->s, 4, &removed), STORE_OK);
    assert_int_equal(removed, 6);
    assert_int_equal(list(fx), 4);
    check_peer(fx, 0, 3, "tcp://192.0.2.3:7470", 100);
    check_peer(fx, 1, 4, "tcp://192.0.2.4:7470", 70);
    check_peer(fx, 2, 6, "tcp://192.0.2.6:7470", 90);
    check_peer(fx, 3, 8, "tcp://192.0.2.8:7470", 80);

    /* Again, keeping one, without asking how many went. */
    assert_int_equal(store_peers_prune(fx->s, 1, NULL), STORE_OK);
    assert_int_equal(list(fx), 1);
    check_peer(fx, 0, 3, "tcp://192.0.2.3:7470", 100);

    /* keep = 0 removes all, even one seen at the end of time. */
    save(fx, 0x40, "tcp://192.0.2.64:7470", UINT64_MAX);
    save(fx, 0x41, "tcp://192.0.2.65:7470", 0);
    assert_int_equal(store_peers_prune(fx->s, 0, &removed), STORE_OK);
    assert_int_equal(removed, 3);
    assert_int_equal(list(fx), 0);
}

/* Peers seen at the same time as the last one kept: exactly `keep` remain,
 * every one newer than the cut is kept, every one older goes. */
static void
test_prune_ties(void **state)
{
    fx_t *fx = *state;
    const uint64_t times[] = {200, 100, 300, 200, 200, 50, 200};
    enum { N = sizeof times / sizeof times[0] };
    for (size_t keep = 0; keep <= N + 1; keep++) {
        /* A fresh table for each keep. */
        uint64_t removed = 0;
        assert_int_equal(store_peers_prune(fx->s, 0, &removed), STORE_OK);
        save_times(fx, times, N);
        assert_int_equal(list(fx), N);

        assert_int_equal(store_peers_prune(fx->s, keep, &removed), STORE_OK);
        size_t want = keep < N ? keep : N;
        assert_int_equal(removed, N - want);
        assert_int_equal(list(fx), want);
        /* What remains is a most-recent set: sorted by time descending, the
         * times listed equal the first `want` of all times. */
        uint64_t kept[N] = {0};
        for (size_t i = 0; i < fx->n; i++) {
            kept[i] = fx->seen[i].last_seen;
            /* Each is exactly as saved. */
            uint8_t byte = fx->seen[i].key[0];
            assert_true(byte >= 1 && byte <= N);
            assert_int_equal(kept[i], times[byte - 1]);
        }
        /* The times kept, newest first, are the `want` newest of all. */
        for (size_t i = 1; i < want; i++) {
            for (size_t j = i; j > 0 && kept[j - 1] < kept[j]; j--) {
                uint64_t t = kept[j];
                kept[j] = kept[j - 1];
                kept[j - 1] = t;
            }
        }
        const uint64_t sorted[N] = {300, 200, 200, 200, 200, 100, 50};
        for (size_t i = 0; i < want; i++) {
            if (kept[i] != sorted[i]) {
                fail_msg("keep %zu: kept time %zu is %llu, want %llu", keep, i,
                         (unsigned long long)kept[i], (unsigned long long)sorted[i]);
            }
        }
        if (want >= 1) {
            assert_non_null(find(fx, 3)); /* 300 always stays */
        }
        if (want >= 6) {
            assert_non_null(find(fx, 2)); /* 100 stays once all 200s do */
        } else {
            assert_null(find(fx, 2));
        }
        if (want < N) {
            assert_null(find(fx, 6)); /* 50 goes first */
        }
    }
}

static void
test_reopen(void **state)
{
    fx_t *fx = *state;
    save(fx, 0x21, "tcp://192.0.2.21:7470", 21000);
    save(fx, 0x22, "tcp://[2001:db8::22]:7470", 22000);
    save(fx, 0x23, "tcp://node.example.org:7471", 23000);
    uint8_t key[32];
    key_of(key, 0x22);
    assert_int_equal(store_peer_forget(fx->s, key), STORE_OK);
    save(fx, 0x21, "tcp://192.0.2.121:7470", 1);

    store_close(fx->s);
    fx->s = NULL;
    open_store(fx);
    assert_int_equal(list(fx), 2);
    check_peer(fx, 0, 0x21, "tcp://192.0.2.121:7470", 21000);
    check_peer(fx, 1, 0x23, "tcp://node.example.org:7471", 23000);

    /* The rules hold across the reopen. */
    save(fx, 0x23, "tcp://192.0.2.23:7470", 5);
    assert_int_equal(list(fx), 2);
    check_peer(fx, 1, 0x23, "tcp://192.0.2.23:7470", 23000);
    assert_int_equal(store_peer_forget(fx->s, key), STORE_ENOTFOUND);
}

/* Follows and blocks live in the same database under other prefixes: the
 * peer calls neither list nor prune them, and they do not disturb peers. */
static void
test_other_records(void **state)
{
    fx_t *fx = *state;
    uint8_t author[32], blocked[32];
    memset(author, 0x01, sizeof author);
    memset(blocked, 0xfe, sizeof blocked);
    assert_int_equal(store_follow(fx->s, author, 1000), STORE_OK);
    assert_int_equal(store_block(fx->s, blocked, 1000, NULL), STORE_OK);
    assert_int_equal(list(fx), 0);

    save(fx, 0x01, "tcp://192.0.2.1:7470", 1);
    assert_int_equal(list(fx), 1);
    uint64_t removed = 0;
    assert_int_equal(store_peers_prune(fx->s, 0, &removed), STORE_OK);
    assert_int_equal(removed, 1);
    bool yes = false;
    assert_int_equal(store_is_following(fx->s, author, &yes), STORE_OK);
    assert_true(yes);
    yes = false;
    assert_int_equal(store_is_blocked(fx->s, blocked, &yes), STORE_OK);
    assert_true(yes);
    /* A node key that happens to equal a followed author is still a peer of
     * its own. */
    save(fx, 0x01, "tcp://192.0.2.1:7470", 2);
    assert_int_equal(store_unfollow(fx->s, author), STORE_OK);
    assert_int_equal(list(fx), 1);
    check_peer(fx, 0, 0x01, "tcp://192.0.2.1:7470", 2);
}

/* The saved routing table ('R'): replaced whole, apart from the peers. */
static void
test_routes(void **state)
{
    fx_t *fx = *state;
    save(fx, 0x01, "tcp://192.0.2.1:7470", 10);
    store_contact_t rows[3];
    memset(rows, 0, sizeof rows);
    for (int i = 0; i < 3; i++) {
        key_of(rows[i].node_key, (uint8_t)(0x20 + i));
        snprintf(rows[i].endpoint, sizeof rows[i].endpoint, "tcp://198.51.100.%d:7470", i + 1);
        rows[i].last_seen_ms = 100u + (uint64_t)i;
    }
    assert_int_equal(store_routes_replace(fx->s, rows, 3), STORE_OK);
    fx->n = 0;
    size_t bad = 9;
    assert_int_equal(store_routes(fx->s, on_peer, fx, &bad), STORE_OK);
    assert_int_equal(bad, 0);
    assert_int_equal(fx->n, 3);
    check_peer(fx, 0, 0x20, "tcp://198.51.100.1:7470", 100);
    check_peer(fx, 2, 0x22, "tcp://198.51.100.3:7470", 102);
    /* Replacing with one row leaves exactly that row. */
    assert_int_equal(store_routes_replace(fx->s, &rows[1], 1), STORE_OK);
    fx->n = 0;
    assert_int_equal(store_routes(fx->s, on_peer, fx, NULL), STORE_OK);
    assert_int_equal(fx->n, 1);
    check_peer(fx, 0, 0x21, "tcp://198.51.100.2:7470", 101);
    /* A bad endpoint refuses the whole batch and keeps what was there. */
    snprintf(rows[0].endpoint, sizeof rows[0].endpoint, "tcp://bad host:1");
    assert_int_equal(store_routes_replace(fx->s, rows, 3), STORE_EINVAL);
    fx->n = 0;
    assert_int_equal(store_routes(fx->s, on_peer, fx, NULL), STORE_OK);
    assert_int_equal(fx->n, 1);
    /* The peers are untouched by all of it, and the routes by the peers. */
    assert_int_equal(list(fx), 1);
    check_peer(fx, 0, 0x01, "tcp://192.0.2.1:7470", 10);
    assert_int_equal(store_routes_replace(fx->s, NULL, 0), STORE_OK);
    fx->n = 0;
    assert_int_equal(store_routes(fx->s, on_peer, fx, NULL), STORE_OK);
    assert_int_equal(fx->n, 0);
    assert_int_equal(list(fx), 1);
}

#define PEER_TEST(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        PEER_TEST(test_empty),      PEER_TEST(test_save_and_list), PEER_TEST(test_update),
        PEER_TEST(test_forget),     PEER_TEST(test_endpoint_rule), PEER_TEST(test_prune),
        PEER_TEST(test_prune_ties), PEER_TEST(test_reopen),        PEER_TEST(test_other_records),
        PEER_TEST(test_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
