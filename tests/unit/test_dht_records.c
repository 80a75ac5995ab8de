/* What a node stores for others (dht/records): provider records with
 * renewal and expiry, the per-key, per-sender and global bounds with the
 * eviction rule, and the head rules (replays and forks refused). */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dhtid.h"
#include "records.h"

enum { MAX = 64, SENDER_MAX = 16, KEY_MAX = 4 };

typedef struct {
    uint8_t self[32];
    dht_records_t *r;
} fx_t;

static void
det(uint8_t out[static 32], const char *what, uint64_t i)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)what, strlen(what));
    crypto_generichash_update(&st, (const uint8_t *)&i, sizeof i);
    crypto_generichash_final(&st, out, 32);
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    det(fx->self, "self", 0);
    uint8_t seed[32];
    det(seed, "seed", 0);
    dht_rec_limits_t lim = {
        .max = MAX, .sender_max = SENDER_MAX, .key_providers_max = KEY_MAX, .evict_sample = 8};
    assert_int_equal(dht_rec_new(&fx->r, fx->self, seed, &lim), DHT_OK);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    dht_rec_free(fx->r);
    free(fx);
    return 0;
}

static dht_contact_t
provider(uint64_t i)
{
    dht_contact_t c;
    memset(&c, 0, sizeof c);
    det(c.key, "provider", i);
    snprintf(c.endpoint, sizeof c.endpoint, "tcp://198.51.100.%u:%u", (unsigned)(i % 250) + 1,
             (unsigned)(1000 + i));
    return c;
}

static void
test_providers_renew_expire(void **state)
{
    fx_t *fx = *state;
    uint8_t key[32], other[32];
    det(key, "key", 1);
    det(other, "key", 2);
    dht_contact_t a = provider(1), b = provider(2), out[DHT_PROVIDERS_MAX];
    assert_int_equal(dht_rec_add_provider(fx->r, key, &a, 100, 1000), DHT_OK);
    assert_int_equal(dht_rec_add_provider(fx->r, key, &b, 200, 1100), DHT_OK);
    assert_int_equal(dht_rec_providers(fx->r, other, 300, out, DHT_PROVIDERS_MAX), 0);
    assert_int_equal(dht_rec_providers(fx->r, key, 300, out, DHT_PROVIDERS_MAX), 2);
    /* The longest-standing first. */
    assert_memory_equal(out[0].key, a.key, 32);
    assert_string_equal(out[1].endpoint, b.endpoint);
    assert_int_equal(dht_rec_providers(fx->r, key, 300, out, 1), 1);
    assert_memory_equal(out[0].key, a.key, 32);

    /* A renewal is not a second record; the provider may have moved. */
    snprintf(a.endpoint, sizeof a.endpoint, "tcp://203.0.113.5:7470");
    assert_int_equal(dht_rec_add_provider(fx->r, key, &a, 500, 2000), DHT_OK);
    assert_int_equal(dht_rec_count(fx->r), 2);
    assert_int_equal(dht_rec_sender_count(fx->r, a.key), 1);
    assert_int_equal(dht_rec_providers(fx->r, key, 600, out, DHT_PROVIDERS_MAX), 2);
    assert_string_equal(out[0].endpoint, "tcp://203.0.113.5:7470");

    /* Expired records are never handed out, and the scan drops them. */
    assert_int_equal(dht_rec_providers(fx->r, key, 1100, out, DHT_PROVIDERS_MAX), 1);
    dht_rec_expire(fx->r, 1100);
    assert_int_equal(dht_rec_count(fx->r), 1);
    assert_int_equal(dht_rec_sender_count(fx->r, b.key), 0);
    dht_rec_expire(fx->r, 5000);
    assert_int_equal(dht_rec_count(fx->r), 0);
    assert_int_equal(dht_rec_sender_count(fx->r, a.key), 0);
}

/* Without a group bound, a full per-key list keeps the newest
 * announcements (plain Kademlia), and answers the longest-standing first. */
static void
test_key_providers_bound(void **state)
{
    fx_t *fx = *state;
    uint8_t key[32];
    det(key, "key", 1);
    for (uint64_t i = 0; i < 3 * KEY_MAX; i++) {
        dht_contact_t p = provider(i);
        assert_int_equal(dht_rec_add_provider(fx->r, key, &p, 100 + i, 1000000), DHT_OK);
    }
    dht_contact_t out[DHT_PROVIDERS_MAX];
    assert_int_equal(dht_rec_providers(fx->r, key, 200, out, DHT_PROVIDERS_MAX), KEY_MAX);
    assert_int_equal(dht_rec_count(fx->r), KEY_MAX);
    for (size_t i = 0; i < KEY_MAX; i++) {
        dht_contact_t want = provider(2 * KEY_MAX + i);
        assert_memory_equal(out[i].key, want.key, 32);
    }
    /* The displaced providers' shares were given back. */
    dht_contact_t first = provider(0);
    assert_int_equal(dht_rec_sender_count(fx->r, first.key), 0);
}

/* Provider takeover (docs/SECURITY.md section 3): 12 honest providers of
 * an author, each in its own /24, then 40 keys of one host (one /24), or
 * of 40 /24s, announce it, newer than all of them. The figure: honest
 * providers kept, and in an answer of 20. With the per-group bound off (a
 * share as large as the list: plain Kademlia, the provider renewed longest
 * ago goes), the newcomers replace every honest provider. */
static int
takeover(size_t per_group, bool spread, const char *label)
{
    uint8_t self[32], seed[32], key[32];
    det(self, "self", 9);
    det(seed, "seed", 9);
    det(key, "author", 9);
    dht_rec_limits_t lim = {.max = 1024,
                            .sender_max = 64,
                            .key_providers_max = DHT_KEY_PROVIDERS_MAX,
                            .key_providers_per_group = per_group,
                            .evict_sample = 8};
    dht_records_t *r = NULL;
    assert_int_equal(dht_rec_new(&r, self, seed, &lim), DHT_OK);
    enum { HONEST = 12, SYBILS = 40 };
    for (uint64_t i = 0; i < HONEST; i++) {
        dht_contact_t p;
        memset(&p, 0, sizeof p);
        det(p.key, "honest", i);
        snprintf(p.endpoint, sizeof p.endpoint, "tcp://203.0.%u.7:7470", (unsigned)(10 + i));
        assert_int_equal(dht_rec_add_provider(r, key, &p, 100 + i, 10000000), DHT_OK);
    }
    for (uint64_t i = 0; i < SYBILS; i++) {
        dht_contact_t p;
        memset(&p, 0, sizeof p);
        det(p.key, "sybil", i);
        if (spread) {
            snprintf(p.endpoint, sizeof p.endpoint, "tcp://192.%u.7.2:7470", (unsigned)(1 + i));
        } else {
            snprintf(p.endpoint, sizeof p.endpoint, "tcp://192.0.2.%u:7470", (unsigned)(1 + i));
        }
        assert_int_equal(dht_rec_add_provider(r, key, &p, 1000 + i, 10000000), DHT_OK);
    }
    dht_contact_t out[DHT_PROVIDERS_MAX];
    size_t n = dht_rec_providers(r, key, 2000, out, DHT_PROVIDERS_MAX);
    int honest_answered = 0;
    for (size_t i = 0; i < n; i++) {
        honest_answered += strncmp(out[i].endpoint, "tcp://203.0.", 12) == 0;
    }
    int kept = 0;
    for (uint64_t i = 0; i < HONEST; i++) {
        dht_contact_t p;
        det(p.key, "honest", i);
        kept += dht_rec_sender_count(r, p.key) > 0;
    }
    printf("test_dht_records: provider takeover, %s: %d of %d honest providers kept after %d "
           "announcements from %s; %d honest in an answer of %zu\n",
           label, kept, HONEST, SYBILS, spread ? "40 /24s" : "one /24", honest_answered, n);
    dht_rec_free(r);
    return kept * 100 + honest_answered;
}

static void
test_provider_takeover(void **state)
{
    (void)state;
    int on = takeover(0, false, "bound on");
    int off = takeover(DHT_KEY_PROVIDERS_MAX, false, "per-group bound OFF");
    assert_int_equal(on / 100, 12); /* every honest provider kept */
    assert_int_equal(on % 100, 12); /* and each in the answer */
    assert_int_equal(off / 100, 0); /* the control: all replaced */
    /* From many /24s the group bound does not bite; the newcomers take
     * only each other's places, and answers start with the long-standing. */
    on = takeover(0, true, "bound on");
    off = takeover(DHT_KEY_PROVIDERS_MAX, true, "per-group bound OFF");
    assert_int_equal(on / 100, 12);
    assert_int_equal(on % 100, 12);
    assert_int_equal(off / 100, 0);
}

/* One sender (one provider key) flooding announcements for many keys
 * holds at most SENDER_MAX records; others can still store. */
static void
test_sender_bound(void **state)
{
    fx_t *fx = *state;
    dht_contact_t flood = provider(99);
    int ok = 0;
    for (uint64_t i = 0; i < 10000; i++) {
        uint8_t key[32];
        det(key, "flood", i);
        dht_err_t err = dht_rec_add_provider(fx->r, key, &flood, 100, 1000000);
        assert_true(err == DHT_OK || err == DHT_EFULL);
        ok += err == DHT_OK;
    }
    assert_int_equal(ok, SENDER_MAX);
    assert_int_equal(dht_rec_count(fx->r), SENDER_MAX);
    assert_int_equal(dht_rec_sender_count(fx->r, flood.key), SENDER_MAX);
    dht_contact_t other = provider(100);
    uint8_t key[32];
    det(key, "other", 0);
    assert_int_equal(dht_rec_add_provider(fx->r, key, &other, 100, 1000000), DHT_OK);
}

/* Full store: a new record displaces a sampled record farther from us,
 * never one nearer; count and bytes stay bounded. */
static void
test_global_bound_and_eviction(void **state)
{
    fx_t *fx = *state;
    size_t bytes_max = 0;
    for (uint64_t i = 0; i < 5000; i++) {
        uint8_t key[32];
        det(key, "many", i);
        dht_contact_t p = provider(1000 + i);
        dht_err_t err = dht_rec_add_provider(fx->r, key, &p, 100, 1000000);
        assert_true(err == DHT_OK || err == DHT_EFULL);
        assert_true(dht_rec_count(fx->r) <= MAX);
        if (dht_rec_bytes(fx->r) > bytes_max) {
            bytes_max = dht_rec_bytes(fx->r);
        }
    }
    assert_int_equal(dht_rec_count(fx->r), MAX);
    /* The slot table never grows past twice the record cap. */
    assert_true(bytes_max < 2 * MAX * 300 + 4096);

    /* Now the records kept are much nearer to us than random keys: the
     * eviction rule keeps what this node is responsible for. A key equal
     * to our id is the nearest there is and always gets in. */
    dht_contact_t p = provider(1);
    assert_int_equal(dht_rec_add_provider(fx->r, fx->self, &p, 100, 1000000), DHT_OK);
    dht_contact_t out[1];
    assert_int_equal(dht_rec_providers(fx->r, fx->self, 200, out, 1), 1);
    /* A key far from us (our id with the top bit flipped) is refused. */
    uint8_t far[32];
    memcpy(far, fx->self, 32);
    far[0] ^= 0x80;
    p = provider(2);
    assert_int_equal(dht_rec_add_provider(fx->r, far, &p, 100, 1000000), DHT_EFULL);
}

static void
head_bytes(uint8_t out[static DHT_HEAD_MAX], uint8_t fill)
{
    memset(out, fill, DHT_HEAD_MAX);
}

/* The store's rules for heads; the dht verifies signatures before. */
static void
test_head_rules(void **state)
{
    fx_t *fx = *state;
    uint8_t key[32], s1[32], s2[32], h5[DHT_HEAD_MAX], h5b[DHT_HEAD_MAX], h7[DHT_HEAD_MAX];
    uint8_t out[DHT_HEAD_MAX];
    uint64_t seq = 0;
    det(key, "author", 1);
    det(s1, "sender", 1);
    det(s2, "sender", 2);
    head_bytes(h5, 5);
    head_bytes(h5b, 0x55);
    head_bytes(h7, 7);
    assert_false(dht_rec_head(fx->r, key, 0, out, &seq));
    assert_int_equal(dht_rec_put_head(fx->r, key, s1, h5, 5, 100, 1000), DHT_OK);
    assert_true(dht_rec_head(fx->r, key, 200, out, &seq));
    assert_int_equal(seq, 5);
    assert_memory_equal(out, h5, DHT_HEAD_MAX);

    /* The same head again renews it. */
    assert_int_equal(dht_rec_put_head(fx->r, key, s2, h5, 5, 900, 3000), DHT_OK);
    assert_true(dht_rec_head(fx->r, key, 2000, out, &seq));
    /* Another head with the same seq (a fork) and a lower seq (a replay)
     * are refused. */
    assert_int_equal(dht_rec_put_head(fx->r, key, s2, h5b, 5, 900, 3000), DHT_ESTALE);
    assert_int_equal(dht_rec_put_head(fx->r, key, s2, h5b, 4, 900, 3000), DHT_ESTALE);
    /* A higher seq replaces it, charged to whoever put it. */
    assert_int_equal(dht_rec_put_head(fx->r, key, s2, h7, 7, 1000, 3000), DHT_OK);
    assert_true(dht_rec_head(fx->r, key, 1000, out, &seq));
    assert_int_equal(seq, 7);
    assert_int_equal(dht_rec_sender_count(fx->r, s1), 0);
    assert_int_equal(dht_rec_sender_count(fx->r, s2), 1);
    assert_int_equal(dht_rec_put_head(fx->r, key, s1, h5, 5, 1000, 3000), DHT_ESTALE);
    assert_int_equal(dht_rec_count(fx->r), 1);

    /* Once it expired, any valid head may take its place. */
    assert_false(dht_rec_head(fx->r, key, 3000, out, &seq));
    assert_int_equal(dht_rec_put_head(fx->r, key, s1, h5, 5, 3000, 9000), DHT_OK);
    assert_true(dht_rec_head(fx->r, key, 3001, out, &seq));
    assert_int_equal(seq, 5);
    assert_int_equal(dht_rec_count(fx->r), 1);
}

/* Many inserts and expiries against a plain reference: every record stays
 * findable through the table's deletions (backward shifts). */
static void
test_table_churn(void **state)
{
    fx_t *fx = *state;
    enum { N = 60 };
    uint8_t keys[N][32];
    uint64_t expires[N];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < N; i++) {
            det(keys[i], "churn", (uint64_t)(round * N + i));
            expires[i] = 1000 + (uint64_t)((i * 7 + round) % 13);
            dht_contact_t q = provider((uint64_t)(round * N + i));
            assert_int_equal(dht_rec_add_provider(fx->r, keys[i], &q, 1, expires[i]), DHT_OK);
        }
        for (uint64_t now = 1000; now < 1014; now++) {
            dht_rec_expire(fx->r, now);
            size_t live = 0;
            for (int i = 0; i < N; i++) {
                dht_contact_t out[1];
                size_t n = dht_rec_providers(fx->r, keys[i], now, out, 1);
                assert_int_equal(n, expires[i] > now ? 1 : 0);
                live += n;
            }
            assert_int_equal(dht_rec_count(fx->r), live);
        }
        assert_int_equal(dht_rec_count(fx->r), 0);
    }
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_providers_renew_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_providers_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sender_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_global_bound_and_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_rules, setup, teardown),
        cmocka_unit_test(test_provider_takeover),
        cmocka_unit_test_setup_teardown(test_table_churn, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
