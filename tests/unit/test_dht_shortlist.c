/* The lookup shortlist's bound on network groups (dht/lookup.h): ids
 * ground next to a target from a few networks hold only part of the list,
 * a closer id of a full group takes the place of that group's farthest new
 * candidate, a failed candidate frees its group's place, and without the
 * bound every candidate is kept. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "dhtid.h"
#include "lookup.h"

enum { K = 4, QUERIES = 16, NEW_MAX = 10 };

/* A contact whose id is `id` away from the zero target (only the last
 * byte differs; smaller is closer), at endpoint ep. The key is made up:
 * the shortlist takes the id as given. */
static void
cand(uint8_t id[DHT_KEY_SIZE], dht_contact_t *c, uint8_t dist, const char *ep)
{
    memset(id, 0, DHT_KEY_SIZE);
    id[DHT_KEY_SIZE - 1] = dist;
    memset(c, 0, sizeof *c);
    c->key[0] = dist;
    snprintf(c->endpoint, sizeof c->endpoint, "%s", ep);
}

static bool
add(dht_shortlist_t *s, uint8_t dist, const char *ep)
{
    uint8_t id[DHT_KEY_SIZE];
    dht_contact_t c;
    cand(id, &c, dist, ep);
    return dht_sl_add(s, id, &c, 1);
}

static bool
has(dht_shortlist_t *s, uint8_t dist)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->c[i].id[DHT_KEY_SIZE - 1] == dist) {
            return true;
        }
    }
    return false;
}

static void
init(dht_shortlist_t *s, int per_group)
{
    uint8_t target[DHT_KEY_SIZE] = {0}, self[DHT_KEY_SIZE];
    memset(self, 0xff, sizeof self);
    assert_int_equal(dht_sl_init(s, target, self, K, QUERIES, NEW_MAX, per_group), DHT_OK);
}

static void
test_one_per_group(void **state)
{
    (void)state;
    dht_shortlist_t s;
    init(&s, 1);
    assert_true(add(&s, 10, "tcp://191.1.7.1:7470"));
    assert_false(add(&s, 11, "tcp://191.1.7.2:7470")); /* same /24, farther: left out */
    assert_true(add(&s, 12, "tcp://191.2.7.1:7470"));  /* another /24 */
    assert_true(add(&s, 5, "tcp://191.1.7.3:7470"));   /* closer: takes 10's place */
    assert_false(has(&s, 10));
    assert_true(has(&s, 5) && has(&s, 12));
    assert_int_equal(s.n, 2);
    /* Ports and IPv6 /64s: one host is one group, a /64 is one group. */
    assert_false(add(&s, 13, "tcp://191.2.7.1:7471"));
    assert_true(add(&s, 14, "tcp://[2001:db8:1:2::1]:7470"));
    assert_false(add(&s, 15, "tcp://[2001:db8:1:2::99]:7470"));
    /* Loopback: each endpoint its own group (a test network on one host). */
    assert_true(add(&s, 16, "tcp://127.0.0.1:7000"));
    assert_true(add(&s, 17, "tcp://127.0.0.1:7001"));
    dht_sl_free(&s);
}

static void
test_failed_frees_the_place(void **state)
{
    (void)state;
    dht_shortlist_t s;
    init(&s, 1);
    assert_true(add(&s, 10, "tcp://191.1.7.1:7470"));
    int i = dht_sl_next(&s);
    assert_true(i >= 0);
    s.c[i].state = DHT_CAND_INFLIGHT;
    assert_false(add(&s, 5, "tcp://191.1.7.2:7470")); /* asked: not replaced */
    s.c[i].state = DHT_CAND_FAILED;
    assert_true(add(&s, 5, "tcp://191.1.7.2:7470")); /* failed: its place is free */
    dht_sl_free(&s);
}

static void
test_sybils_hold_part_of_the_window(void **state)
{
    (void)state;
    /* 40 ids closer than any honest one, from 2 /24s, then 10 honest ones
     * from 10 /24s: the window of K holds 2 sybils and 2 honest nodes. */
    dht_shortlist_t s;
    init(&s, 1);
    char ep[64];
    for (int j = 0; j < 40; j++) {
        snprintf(ep, sizeof ep, "tcp://191.%d.7.%d:7470", 1 + j % 2, 1 + j);
        (void)add(&s, (uint8_t)(1 + j), ep);
    }
    for (int j = 0; j < 10; j++) {
        snprintf(ep, sizeof ep, "tcp://%d.1.1.1:7470", 20 + j);
        assert_true(add(&s, (uint8_t)(100 + j), ep));
    }
    int sybils = 0;
    for (size_t i = 0; i < K; i++) {
        sybils += s.c[i].id[DHT_KEY_SIZE - 1] < 100;
    }
    printf("shortlist: 40 sybil ids from 2 /24s hold %d of a window of %d\n", sybils, K);
    assert_int_equal(sybils, 2);
    dht_sl_free(&s);

    /* The control: without the bound they hold the whole window. */
    init(&s, -1);
    for (int j = 0; j < 40; j++) {
        snprintf(ep, sizeof ep, "tcp://191.%d.7.%d:7470", 1 + j % 2, 1 + j);
        (void)add(&s, (uint8_t)(1 + j), ep);
    }
    for (int j = 0; j < 10; j++) {
        snprintf(ep, sizeof ep, "tcp://%d.1.1.1:7470", 20 + j);
        (void)add(&s, (uint8_t)(100 + j), ep);
    }
    sybils = 0;
    for (size_t i = 0; i < K; i++) {
        sybils += s.c[i].id[DHT_KEY_SIZE - 1] < 100;
    }
    printf("shortlist: without the bound they hold %d of %d\n", sybils, K);
    assert_int_equal(sybils, K);
    dht_sl_free(&s);
}

static dht_cand_t *
at_dist(dht_shortlist_t *s, uint8_t dist)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->c[i].id[DHT_KEY_SIZE - 1] == dist) {
            return &s->c[i];
        }
    }
    fail_msg("no candidate at %u", dist);
    return NULL;
}

/* settled(n): the n closest in the window answered. A suspect leaves the
 * window, so a silent node does not hold it up. */
static void
test_settled(void **state)
{
    (void)state;
    dht_shortlist_t s;
    init(&s, -1);
    for (uint8_t d = 1; d <= 6; d++) {
        assert_true(add(&s, d, "tcp://10.0.0.1:7470"));
    }
    assert_false(dht_sl_settled(&s, 1));
    at_dist(&s, 1)->state = DHT_CAND_ANSWERED;
    assert_true(dht_sl_settled(&s, 1));
    assert_false(dht_sl_settled(&s, 3));
    at_dist(&s, 2)->state = DHT_CAND_SUSPECT;
    at_dist(&s, 3)->state = DHT_CAND_ANSWERED;
    assert_false(dht_sl_settled(&s, 3)); /* 4 is still new */
    at_dist(&s, 4)->state = DHT_CAND_ANSWERED;
    assert_true(dht_sl_settled(&s, 3));
    /* A closer newcomer unsettles it again. */
    assert_true(add(&s, 0, "tcp://10.0.0.1:7470"));
    assert_false(dht_sl_settled(&s, 1));
    dht_sl_free(&s);
}

/* The end waits for a suspect closer than every answer (it may be the
 * closest node) while a send of it is fresh; for one behind an answer,
 * most often a node gone offline, only until its give-up time. */
static void
test_done_passes_suspects_behind_an_answer(void **state)
{
    (void)state;
    dht_shortlist_t s;
    init(&s, -1);
    for (uint8_t d = 1; d <= K + 1; d++) {
        assert_true(add(&s, d, "tcp://10.0.0.1:7470"));
        at_dist(&s, d)->state = DHT_CAND_ANSWERED;
    }
    dht_cand_t *c = at_dist(&s, 2);
    c->state = DHT_CAND_SUSPECT;
    c->awaited = 1;
    assert_false(dht_sl_done(&s));
    c->awaited = 0; /* its give-up time passed */
    assert_true(dht_sl_done(&s));
    c->state = DHT_CAND_ANSWERED;
    c = at_dist(&s, 1);
    c->state = DHT_CAND_SUSPECT;
    c->fresh = 1;
    assert_false(dht_sl_done(&s));
    c->fresh = 0; /* its last send stalled too */
    assert_true(dht_sl_done(&s));
    dht_sl_free(&s);
}

/* Spares: next_beyond asks past the window's k, next does not. */
static void
test_next_beyond_the_window(void **state)
{
    (void)state;
    dht_shortlist_t s;
    init(&s, -1);
    for (uint8_t d = 1; d <= K + 2; d++) {
        assert_true(add(&s, d, "tcp://10.0.0.1:7470"));
    }
    for (uint8_t d = 1; d <= K; d++) {
        at_dist(&s, d)->state = DHT_CAND_INFLIGHT;
    }
    assert_int_equal(dht_sl_next(&s), -1);
    assert_int_equal(dht_sl_next_beyond(&s, 2), K);
    at_dist(&s, K + 1)->state = DHT_CAND_INFLIGHT;
    assert_int_equal(dht_sl_next_beyond(&s, 1), -1);
    assert_int_equal(dht_sl_next_beyond(&s, 2), K + 1);
    dht_sl_free(&s);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_per_group),
        cmocka_unit_test(test_failed_frees_the_place),
        cmocka_unit_test(test_sybils_hold_part_of_the_window),
        cmocka_unit_test(test_settled),
        cmocka_unit_test(test_done_passes_suspects_behind_an_answer),
        cmocka_unit_test(test_next_beyond_the_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
