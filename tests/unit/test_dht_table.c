/* The routing table (dht/rtable): buckets by XOR distance, the closest-n
 * query against a brute-force sort, Kademlia's ping-before-replace rule,
 * stale contacts, the replacement cache bound and the network-group bound. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dhtid.h"
#include "rtable.h"

enum { K = 20, REPL = 5 };

static const uint64_t MIN = 60 * 1000;

typedef struct {
    uint8_t self_key[32];
    uint8_t self_id[32];
    dht_rtable_t *rt;
    uint64_t counter; /* makes fresh keys */
} fx_t;

static dht_rt_params_t
params(int per_subnet)
{
    dht_rt_params_t p = {.k = K,
                         .replacements = REPL,
                         .per_subnet = per_subnet,
                         .fails_max = 2,
                         .questionable_ms = 15 * MIN};
    return p;
}

static int
setup_bound(void **state, int per_subnet)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    memset(fx->self_key, 0x11, 32);
    dhtid_from_node_key(fx->self_id, fx->self_key);
    dht_rt_params_t p = params(per_subnet);
    assert_int_equal(dht_rt_new(&fx->rt, fx->self_id, &p), DHT_OK);
    *state = fx;
    return 0;
}

static int
setup(void **state)
{
    /* The group bound is tested on its own; elsewhere it stays out of
     * the way. */
    return setup_bound(state, -1);
}

static int
setup_subnet(void **state)
{
    return setup_bound(state, 2);
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    dht_rt_free(fx->rt);
    free(fx);
    return 0;
}

/* A fresh contact whose id falls in the given bucket (-1: any), with a
 * public IPv4 endpoint in its own /24. */
static void
make(fx_t *fx, int bucket, dht_contact_t *c, uint8_t id[static 32])
{
    for (;;) {
        uint64_t n = ++fx->counter;
        memset(c, 0, sizeof *c);
        crypto_generichash(c->key, 32, (const uint8_t *)&n, sizeof n, NULL, 0);
        dhtid_from_node_key(id, c->key);
        if (bucket < 0 || dhtid_common_prefix(fx->self_id, id) == bucket) {
            snprintf(c->endpoint, sizeof c->endpoint, "tcp://%u.%u.%u.7:7470",
                     (unsigned)(20 + (n >> 16) % 200), (unsigned)(n >> 8) & 0xff,
                     (unsigned)n & 0xff);
            return;
        }
    }
}

/* Deterministic "random" bytes, so every run is the same. */
static void
det_bytes(uint8_t out[static 32], uint64_t i)
{
    crypto_generichash(out, 32, (const uint8_t *)"rnd", 3, (const uint8_t *)&i, sizeof i);
}

static void
test_buckets_by_prefix(void **state)
{
    fx_t *fx = *state;
    dht_rt_entry_t ping;
    assert_int_equal(dht_rt_deepest(fx->rt), -1);
    for (int b = 0; b < 6; b++) {
        dht_contact_t c;
        uint8_t id[32];
        make(fx, b, &c, id);
        assert_int_equal(dht_rt_seen(fx->rt, id, &c, 1000, true, &ping), DHT_RT_ADDED);
        assert_int_equal(dht_rt_bucket_count(fx->rt, (unsigned)b), 1);
        const dht_rt_entry_t *e = dht_rt_find(fx->rt, id);
        assert_non_null(e);
        assert_string_equal(e->c.endpoint, c.endpoint);
        assert_int_equal(e->last_seen_ms, 1000);
        /* Seen again: updated, not added twice. */
        assert_int_equal(dht_rt_seen(fx->rt, id, &c, 2000, true, &ping), DHT_RT_UPDATED);
        assert_int_equal(dht_rt_find(fx->rt, id)->last_seen_ms, 2000);
    }
    assert_int_equal(dht_rt_count(fx->rt), 6);
    assert_int_equal(dht_rt_deepest(fx->rt), 5);
    /* Our own id is never a contact. */
    dht_contact_t self = {{0}, "tcp://20.0.0.1:1"};
    memcpy(self.key, fx->self_key, 32);
    assert_int_equal(dht_rt_seen(fx->rt, fx->self_id, &self, 1, true, &ping), DHT_RT_REFUSED);
    /* No endpoint: nothing to add. */
    dht_contact_t c;
    uint8_t id[32];
    make(fx, 0, &c, id);
    c.endpoint[0] = '\0';
    assert_int_equal(dht_rt_seen(fx->rt, id, &c, 1, true, &ping), DHT_RT_REFUSED);
}

/* A random id drawn for bucket i lies in bucket i. */
static void
test_random_id_in_bucket(void **state)
{
    fx_t *fx = *state;
    for (unsigned i = 0; i < DHT_RT_BUCKETS; i++) {
        uint8_t rnd[32], id[32];
        det_bytes(rnd, i);
        dht_rt_random_id(fx->rt, i, rnd, id);
        assert_int_equal(dhtid_common_prefix(fx->self_id, id), (int)i);
    }
}

static uint8_t sort_target[32];

static int
cmp_dist(const void *a, const void *b)
{
    return dhtid_closer(sort_target, ((const dht_rt_entry_t *)a)->id,
                        ((const dht_rt_entry_t *)b)->id);
}

/* dht_rt_closest walks the buckets in distance order; compare it with a
 * brute-force sort of the whole table for many targets. */
static void
test_closest_matches_sort(void **state)
{
    fx_t *fx = *state;
    dht_rt_entry_t ping;
    for (int i = 0; i < 2000; i++) {
        dht_contact_t c;
        uint8_t id[32];
        make(fx, -1, &c, id);
        (void)dht_rt_seen(fx->rt, id, &c, 1000 + (uint64_t)i, true, &ping);
    }
    size_t total = dht_rt_count(fx->rt);
    assert_true(total > 100);
    dht_rt_entry_t *all = calloc(total, sizeof *all);
    dht_rt_entry_t *got = calloc(K, sizeof *got);
    assert_non_null(all);
    assert_non_null(got);
    size_t n = 0;
    for (unsigned b = 0; b < DHT_RT_BUCKETS; b++) {
        for (size_t i = 0; i < dht_rt_bucket_count(fx->rt, b); i++) {
            all[n++] = *dht_rt_entry(fx->rt, b, i);
        }
    }
    assert_int_equal(n, total);
    for (int t = 0; t < 300; t++) {
        uint8_t target[32];
        if (t == 0) {
            memcpy(target, fx->self_id, 32); /* the self lookup's target */
        } else if (t < 100) {
            uint8_t rnd[32];
            det_bytes(rnd, 1000 + (uint64_t)t);
            dht_rt_random_id(fx->rt, (unsigned)(t % 12), rnd, target);
        } else {
            det_bytes(target, 2000 + (uint64_t)t);
        }
        memcpy(sort_target, target, 32);
        qsort(all, n, sizeof *all, cmp_dist);
        /* Excluding the closest one, as a reply to it would. */
        const uint8_t *ex = (t % 2 == 0) ? all[0].id : NULL;
        size_t m = dht_rt_closest(fx->rt, target, ex, got, K);
        assert_int_equal(m, K);
        size_t off = ex != NULL ? 1 : 0;
        for (size_t i = 0; i < m; i++) {
            assert_memory_equal(got[i].id, all[i + off].id, 32);
        }
    }
    free(all);
    free(got);
}

static void
fill_bucket0(fx_t *fx, uint8_t ids[K][32], uint64_t now)
{
    dht_rt_entry_t ping;
    for (int i = 0; i < K; i++) {
        dht_contact_t c;
        make(fx, 0, &c, ids[i]);
        assert_int_equal(dht_rt_seen(fx->rt, ids[i], &c, now + (uint64_t)i, true, &ping),
                         DHT_RT_ADDED);
    }
    assert_int_equal(dht_rt_bucket_count(fx->rt, 0), K);
}

/* Kademlia's rule: a full bucket keeps its old contacts while they answer;
 * a newcomer waits, and the least recently seen contact is pinged. */
static void
test_ping_before_replace(void **state)
{
    fx_t *fx = *state;
    uint8_t ids[K][32];
    fill_bucket0(fx, ids, 1000);
    dht_rt_entry_t ping;
    dht_contact_t c;
    uint8_t id[32];

    /* The LRS was seen a moment ago: the newcomer just waits. */
    make(fx, 0, &c, id);
    assert_int_equal(dht_rt_seen(fx->rt, id, &c, 2000, true, &ping), DHT_RT_CACHED);
    assert_null(dht_rt_find(fx->rt, id));
    assert_int_equal(dht_rt_cache_count(fx->rt, 0), 1);

    /* Later the LRS is questionable: it is pinged, once. */
    uint64_t later = 1000 + 20 * MIN;
    make(fx, 0, &c, id);
    assert_int_equal(dht_rt_seen(fx->rt, id, &c, later, true, &ping), DHT_RT_PING);
    assert_memory_equal(ping.id, ids[0], 32);
    uint8_t newest[32];
    make(fx, 0, &c, newest);
    assert_int_equal(dht_rt_seen(fx->rt, newest, &c, later, true, &ping), DHT_RT_CACHED);

    /* It answers: it stays, now the most recently seen; nobody moves in. */
    dht_contact_t lrs = dht_rt_entry(fx->rt, 0, 0)->c;
    assert_int_equal(dht_rt_seen(fx->rt, ids[0], &lrs, later + 1, true, &ping), DHT_RT_UPDATED);
    assert_memory_equal(dht_rt_entry(fx->rt, 0, K - 1)->id, ids[0], 32);
    assert_memory_equal(dht_rt_entry(fx->rt, 0, 0)->id, ids[1], 32);
    assert_null(dht_rt_find(fx->rt, newest));

    /* The next newcomer pings the new LRS, which fails: it is evicted and
     * the newest waiting contact takes its place. */
    uint8_t another[32];
    make(fx, 0, &c, another);
    assert_int_equal(dht_rt_seen(fx->rt, another, &c, later + 2, true, &ping), DHT_RT_PING);
    assert_memory_equal(ping.id, ids[1], 32);
    dht_rt_failed(fx->rt, ids[1], true);
    assert_null(dht_rt_find(fx->rt, ids[1]));
    assert_non_null(dht_rt_find(fx->rt, another));
    assert_int_equal(dht_rt_bucket_count(fx->rt, 0), K);
    assert_int_equal(dht_rt_count(fx->rt), K);
}

static void
test_replacement_cache_bounded(void **state)
{
    fx_t *fx = *state;
    uint8_t ids[K][32];
    fill_bucket0(fx, ids, 1000);
    dht_rt_entry_t ping;
    uint8_t last[32];
    for (int i = 0; i < 100; i++) {
        dht_contact_t c;
        make(fx, 0, &c, last);
        dht_rt_result_t r = dht_rt_seen(fx->rt, last, &c, 2000, true, &ping);
        assert_true(r == DHT_RT_CACHED || r == DHT_RT_PING);
        assert_true(dht_rt_cache_count(fx->rt, 0) <= REPL);
    }
    assert_int_equal(dht_rt_cache_count(fx->rt, 0), REPL);
    /* A waiting contact that fails a request leaves the cache. */
    dht_rt_failed(fx->rt, last, false);
    assert_int_equal(dht_rt_cache_count(fx->rt, 0), REPL - 1);
}

/* fails_max failures in a row make a contact stale: replaced by a waiting
 * contact at once, or by the next newcomer; without either it stays (our
 * own link may be what is down). */
static void
test_stale_contacts(void **state)
{
    fx_t *fx = *state;
    uint8_t ids[K][32];
    fill_bucket0(fx, ids, 1000);
    dht_rt_entry_t ping;

    dht_rt_failed(fx->rt, ids[5], false);
    dht_rt_failed(fx->rt, ids[5], false);
    assert_non_null(dht_rt_find(fx->rt, ids[5]));
    assert_int_equal(dht_rt_find(fx->rt, ids[5])->fails, 2);

    /* Stale contacts are handed out only when nothing else is known. */
    dht_rt_entry_t out[K];
    size_t n = dht_rt_closest(fx->rt, ids[5], NULL, out, K);
    assert_int_equal(n, K - 1);
    for (size_t i = 0; i < n; i++) {
        assert_memory_not_equal(out[i].id, ids[5], 32);
    }

    dht_contact_t c;
    uint8_t id[32];
    make(fx, 0, &c, id);
    assert_int_equal(dht_rt_seen(fx->rt, id, &c, 1100, true, &ping), DHT_RT_ADDED);
    assert_null(dht_rt_find(fx->rt, ids[5]));

    /* With a contact waiting, the second failure evicts at once. */
    make(fx, 0, &c, id);
    assert_int_equal(dht_rt_seen(fx->rt, id, &c, 1200, true, &ping), DHT_RT_CACHED);
    dht_rt_failed(fx->rt, ids[7], false);
    assert_non_null(dht_rt_find(fx->rt, ids[7]));
    dht_rt_failed(fx->rt, ids[7], false);
    assert_null(dht_rt_find(fx->rt, ids[7]));
    assert_non_null(dht_rt_find(fx->rt, id));
    assert_int_equal(dht_rt_count(fx->rt), K);

    /* Being heard from clears the failures. */
    dht_rt_failed(fx->rt, ids[8], false);
    dht_contact_t again = dht_rt_find(fx->rt, ids[8])->c;
    (void)dht_rt_seen(fx->rt, ids[8], &again, 1300, true, &ping);
    assert_int_equal(dht_rt_find(fx->rt, ids[8])->fails, 0);
}

static void
group_of(const char *ep, uint8_t g[static DHT_RT_GROUP_SIZE])
{
    assert_true(dht_rt_group(ep, g));
}

static void
test_groups(void **state)
{
    (void)state;
    uint8_t a[DHT_RT_GROUP_SIZE], b[DHT_RT_GROUP_SIZE];
    group_of("tcp://198.51.100.7:7470", a);
    group_of("tcp://198.51.100.200:1", b);
    assert_memory_equal(a, b, sizeof a); /* one /24 */
    group_of("tcp://198.51.101.7:7470", b);
    assert_memory_not_equal(a, b, sizeof a);
    group_of("tcp://[::ffff:198.51.100.9]:7470", b);
    assert_memory_equal(a, b, sizeof a); /* an IPv4-mapped address is IPv4 */

    group_of("tcp://[2001:db8:1:2::1]:7470", a);
    group_of("tcp://[2001:db8:1:2:ffff::5]:9", b);
    assert_memory_equal(a, b, sizeof a); /* one /64 */
    group_of("tcp://[2001:db8:1:3::1]:7470", b);
    assert_memory_not_equal(a, b, sizeof a);

    group_of("tcp://Node.Example.org:7470", a);
    group_of("tcp://node.example.ORG:7471", b);
    assert_memory_equal(a, b, sizeof a); /* names without case, any port */
    group_of("tcp://other.example.org:7470", b);
    assert_memory_not_equal(a, b, sizeof a);

    /* Loopback, private and link-local: each endpoint its own group. */
    const char *local[][2] = {
        {"tcp://127.0.0.1:7470", "tcp://127.0.0.1:7471"},
        {"tcp://10.1.2.3:1", "tcp://10.1.2.4:1"},
        {"tcp://192.168.1.10:7470", "tcp://192.168.1.11:7470"},
        {"tcp://172.16.0.1:1", "tcp://172.16.0.2:1"},
        {"tcp://[::1]:1", "tcp://[::1]:2"},
        {"tcp://[fe80::1]:1", "tcp://[fe80::2]:1"},
        {"tcp://[fd00::1]:1", "tcp://[fd00::2]:1"},
        {"tcp://localhost:1", "tcp://localhost:2"},
    };
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
        group_of(local[i][0], a);
        group_of(local[i][1], b);
        assert_memory_not_equal(a, b, sizeof a);
    }
    group_of("tcp://172.32.0.1:1", a); /* outside 172.16/12: public */
    group_of("tcp://172.32.0.2:1", b);
    assert_memory_equal(a, b, sizeof a);

    assert_false(dht_rt_group("", a));
    assert_false(dht_rt_group(NULL, a));
    assert_false(dht_rt_group("tcp://:7470", a));
    assert_false(dht_rt_group("tcp://[::1:7470", a));
}

static bool
seen_ep(fx_t *fx, int bucket, const char *ep, dht_rt_result_t want)
{
    dht_contact_t c;
    uint8_t id[32];
    dht_rt_entry_t ping;
    make(fx, bucket, &c, id);
    snprintf(c.endpoint, sizeof c.endpoint, "%s", ep);
    return dht_rt_seen(fx->rt, id, &c, 1000, true, &ping) == want;
}

/* At most two contacts per /24, /64 or name in one bucket. */
static void
test_subnet_bound(void **state)
{
    fx_t *fx = *state;
    assert_true(seen_ep(fx, 0, "tcp://198.51.100.1:7470", DHT_RT_ADDED));
    assert_true(seen_ep(fx, 0, "tcp://198.51.100.2:7470", DHT_RT_ADDED));
    assert_true(seen_ep(fx, 0, "tcp://198.51.100.3:7470", DHT_RT_REFUSED));
    assert_true(seen_ep(fx, 0, "tcp://[::ffff:198.51.100.4]:7470", DHT_RT_REFUSED));
    assert_true(seen_ep(fx, 0, "tcp://198.51.101.3:7470", DHT_RT_ADDED));
    /* Another bucket has its own count. */
    assert_true(seen_ep(fx, 1, "tcp://198.51.100.3:7470", DHT_RT_ADDED));
    assert_true(seen_ep(fx, 1, "tcp://198.51.100.4:7470", DHT_RT_ADDED));
    assert_true(seen_ep(fx, 1, "tcp://198.51.100.5:7470", DHT_RT_REFUSED));

    assert_true(seen_ep(fx, 0, "tcp://[2001:db8::1]:7470", DHT_RT_ADDED));
    assert_true(seen_ep(fx, 0, "tcp://[2001:db8::2]:7470", DHT_RT_ADDED));
    assert_true(seen_ep(fx, 0, "tcp://[2001:db8::3]:7470", DHT_RT_REFUSED));
    assert_true(seen_ep(fx, 0, "tcp://[2001:db8:0:1::3]:7470", DHT_RT_ADDED));

    assert_true(seen_ep(fx, 0, "tcp://a.example.org:1", DHT_RT_ADDED));
    assert_true(seen_ep(fx, 0, "tcp://A.example.org:2", DHT_RT_ADDED));
    assert_true(seen_ep(fx, 0, "tcp://a.EXAMPLE.org:3", DHT_RT_REFUSED));
    assert_true(seen_ep(fx, 0, "tcp://b.example.org:3", DHT_RT_ADDED));

    /* A test network on one host is not cut apart. */
    for (int i = 0; i < 10; i++) {
        char ep[64];
        snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", 7000 + i);
        assert_true(seen_ep(fx, 0, ep, DHT_RT_ADDED));
    }

    /* A known contact moving into a full group keeps its old endpoint. */
    dht_contact_t c;
    uint8_t id[32];
    dht_rt_entry_t ping;
    make(fx, 0, &c, id);
    snprintf(c.endpoint, sizeof c.endpoint, "tcp://203.0.113.1:1");
    assert_int_equal(dht_rt_seen(fx->rt, id, &c, 1000, true, &ping), DHT_RT_ADDED);
    snprintf(c.endpoint, sizeof c.endpoint, "tcp://198.51.100.99:1");
    assert_int_equal(dht_rt_seen(fx->rt, id, &c, 1001, true, &ping), DHT_RT_UPDATED);
    assert_string_equal(dht_rt_find(fx->rt, id)->c.endpoint, "tcp://203.0.113.1:1");
    snprintf(c.endpoint, sizeof c.endpoint, "tcp://203.0.114.1:2");
    assert_int_equal(dht_rt_seen(fx->rt, id, &c, 1002, true, &ping), DHT_RT_UPDATED);
    assert_string_equal(dht_rt_find(fx->rt, id)->c.endpoint, "tcp://203.0.114.1:2");
}

static void
test_touch(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(dht_rt_touched(fx->rt, 3), 0);
    uint8_t rnd[32] = {0}, target[32];
    dht_rt_random_id(fx->rt, 3, rnd, target);
    dht_rt_touch(fx->rt, target, 4242);
    assert_int_equal(dht_rt_touched(fx->rt, 3), 4242);
    dht_rt_touch(fx->rt, fx->self_id, 5); /* no bucket */
    dht_rt_touch_bucket(fx->rt, 7, 99);
    assert_int_equal(dht_rt_touched(fx->rt, 7), 99);
    assert_int_equal(dht_rt_touched(fx->rt, 300), 0);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_buckets_by_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_id_in_bucket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closest_matches_sort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_before_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replacement_cache_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_contacts, setup, teardown),
        cmocka_unit_test(test_groups),
        cmocka_unit_test_setup_teardown(test_subnet_bound, setup_subnet, teardown),
        cmocka_unit_test_setup_teardown(test_touch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
