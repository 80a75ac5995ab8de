/* The allocation-failure pass for the DHT: fail the Nth allocation, for
 * every N, in dht_new (it must return DHT_ENOMEM and leak nothing) and in a
 * busy session of a node (every call must survive it: refuse, drop or
 * carry on, never crash or leak). ASan finds the leaks; tests/util/tu_alloc.h
 * says what the wrapper covers. */
#include "testutil.h"
#include "tu_alloc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht.h"
#include "dhtid.h"
#include "head.h"
#include "keys.h"

static uint64_t rng_state;

static void
rand_cb(void *ud, void *buf, size_t n)
{
    (void)ud;
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) {
        rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(rng_state >> 56);
    }
}

static int
send_cb(void *ud, const dht_contact_t *to, const dht_msg_t *m)
{
    (void)ud;
    (void)to;
    (void)m;
    return 0;
}

static void
result_cb(void *ud, const dht_result_t *r)
{
    int *n = ud;
    (*n)++;
    (void)r;
}

static void
config(dht_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    memset(cfg->key, 0x77, 32);
    cfg->endpoint = "tcp://203.0.113.7:7470";
    cfg->send = send_cb;
    cfg->random = rand_cb;
}

static dht_contact_t
peer(uint64_t i)
{
    dht_contact_t c;
    memset(&c, 0, sizeof c);
    crypto_generichash(c.key, 32, (const uint8_t *)&i, sizeof i, NULL, 0);
    snprintf(c.endpoint, sizeof c.endpoint, "tcp://198.%u.%u.1:7470", (unsigned)(i / 256) % 256,
             (unsigned)i % 256);
    return c;
}

static bool
new_round(void *ud, long n)
{
    const dht_config_t *cfg = ud;
    dht_t *d = NULL;
    tu_alloc_start(n);
    dht_err_t err = dht_new(&d, cfg);
    tu_alloc_stop();
    if (err != DHT_OK) {
        assert_int_equal(err, DHT_ENOMEM);
        assert_null(d);
        return false;
    }
    dht_free(d);
    return true;
}

static void
test_new_fails_cleanly(void **state)
{
    (void)state;
    dht_config_t cfg;
    config(&cfg);
    assert_true(tu_alloc_pass(new_round, &cfg, 1000) > 0);
}

/* A session touching every allocating path: table, replacement caches,
 * pending requests, lookups, records (both tables), announce and put lists. */
static long
session(const uint8_t head[static HEAD_SIZE], const uint8_t author[static 32], long n)
{
    dht_config_t cfg;
    config(&cfg);
    dht_t *d = NULL;
    assert_int_equal(dht_new(&d, &cfg), DHT_OK);
    int results = 0;
    tu_alloc_start(n);
    uint64_t now = 1000;
    for (uint64_t i = 0; i < 60; i++) {
        dht_contact_t p = peer(i);
        dht_msg_t m;
        dht_msg_init(&m, i % 2 ? DHT_MSG_PING : DHT_MSG_ANNOUNCE, (uint32_t)i);
        crypto_generichash(m.u.key, 32, (const uint8_t *)&i, sizeof i, NULL, 0);
        (void)dht_receive(d, &p, &m, now);
    }
    dht_msg_t put;
    dht_msg_init(&put, DHT_MSG_PUT_HEAD, 99);
    put.u.put.len = HEAD_SIZE;
    memcpy(put.u.put.bytes, head, HEAD_SIZE);
    dht_contact_t p = peer(1);
    (void)dht_receive(d, &p, &put, now);
    uint8_t target[32];
    memset(target, 0x42, 32);
    (void)dht_find_node(d, target, result_cb, &results, now);
    (void)dht_get_providers(d, author, result_cb, &results, now);
    (void)dht_get_head(d, author, result_cb, &results, now);
    (void)dht_announce(d, author, now);
    (void)dht_put_head(d, head, HEAD_SIZE, now);
    for (int t = 0; t < 5; t++) {
        now += DHT_RPC_STALL_MS;
        dht_tick(d, now, NULL);
    }
    long used = tu_alloc_stop();
    dht_stats_t st;
    dht_get_stats(d, &st);
    assert_true(st.records <= 60);
    dht_free(d);
    return used;
}

static void
test_session_survives(void **state)
{
    (void)state;
    keys_author_t k;
    uint8_t seed[32], id[32], head[HEAD_SIZE];
    memset(seed, 9, 32);
    memset(id, 3, 32);
    keys_author_from_seed(&k, seed);
    head_t h;
    head_init(&h, 5, id, 1);
    size_t len;
    assert_int_equal(head_sign(&h, &k, head, sizeof head, &len), HEAD_OK);
    /* Count the allocations of a session without failures, then fail
     * each of them in turn. */
    long total = session(head, k.pk, -1);
    assert_true(total > 20);
    print_message("session: %ld allocations, each failed in turn\n", total);
    for (long n = 0; n < total; n++) {
        (void)session(head, k.pk, n);
    }
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
