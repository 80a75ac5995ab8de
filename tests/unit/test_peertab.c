/* The node's peer table (node/core/peers.h): entries, lookups by key and
 * direction, the ready connection heard from last, iteration while
 * removing, counts, and the queue of frames kept for the handshake. */
#include "testutil.h"

#include <string.h>

#include "peers.h"

static void
key_of(uint8_t key[KEYS_PUBLIC_SIZE], uint8_t b)
{
    memset(key, b, KEYS_PUBLIC_SIZE);
}

static void
test_add_find_remove(void **state)
{
    (void)state;
    peertab_t *t = peertab_new(3);
    assert_non_null(t);
    uint8_t k1[KEYS_PUBLIC_SIZE], k2[KEYS_PUBLIC_SIZE], k3[KEYS_PUBLIC_SIZE];
    key_of(k1, 1);
    key_of(k2, 2);
    key_of(k3, 3);
    peer_t *a = peertab_add(t, k1, TRANSPORT_OUT, 100);
    peer_t *b = peertab_add(t, k1, TRANSPORT_IN, 200);
    peer_t *c = peertab_add(t, k2, TRANSPORT_IN, 300);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_null(peertab_add(t, k3, TRANSPORT_OUT, 400)); /* full */
    assert_int_equal(a->state, PEER_CONNECTING);
    assert_int_equal(a->rtt_us, -1);
    assert_int_equal(b->since_ms, 200);
    assert_int_equal(b->last_seen_ms, 200);

    assert_ptr_equal(peertab_find(t, k1, TRANSPORT_OUT), a);
    assert_ptr_equal(peertab_find(t, k1, TRANSPORT_IN), b);
    assert_ptr_equal(peertab_find(t, k2, PEERTAB_ANY_DIR), c);
    assert_null(peertab_find(t, k2, TRANSPORT_OUT));
    assert_null(peertab_find(t, k3, PEERTAB_ANY_DIR));

    /* Not ready yet; then the one of two heard from last. */
    assert_null(peertab_find_ready(t, k1));
    a->state = b->state = PEER_READY;
    a->last_seen_ms = 500;
    assert_ptr_equal(peertab_find_ready(t, k1), a);
    b->last_seen_ms = 600;
    assert_ptr_equal(peertab_find_ready(t, k1), b);

    peertab_remove(t, b);
    assert_false(b->used);
    assert_memory_equal(b->key, k1, KEYS_PUBLIC_SIZE); /* still readable */
    assert_ptr_equal(peertab_find_ready(t, k1), a);
    /* The freed entry is taken again. */
    peer_t *d = peertab_add(t, k3, TRANSPORT_OUT, 700);
    assert_ptr_equal(d, b);
    assert_ptr_equal(peertab_find(t, k3, TRANSPORT_OUT), d);
    peertab_free(t);
}

static void
test_iterate_and_count(void **state)
{
    (void)state;
    peertab_t *t = peertab_new(8);
    assert_non_null(t);
    uint8_t k[KEYS_PUBLIC_SIZE];
    peer_t *p[6];
    for (int i = 0; i < 6; i++) {
        key_of(k, (uint8_t)(i + 1));
        p[i] = peertab_add(t, k, i < 3 ? TRANSPORT_OUT : TRANSPORT_IN, 1);
        assert_non_null(p[i]);
    }
    p[0]->transient = true;
    p[1]->feed = true;
    p[3]->probation = true;
    p[1]->state = p[4]->state = p[5]->state = PEER_READY;

    peertab_counts_t c;
    peertab_counts(t, &c);
    assert_int_equal(c.all, 6);
    assert_int_equal(c.out, 3);
    assert_int_equal(c.in, 3);
    assert_int_equal(c.ready, 3);
    assert_int_equal(c.probation, 1);
    assert_int_equal(c.neighbours, 2); /* outbound, not transient */
    assert_int_equal(c.feed, 1);

    assert_ptr_equal(peertab_ready_at(t, 0), p[1]);
    assert_ptr_equal(peertab_ready_at(t, 2), p[5]);
    assert_null(peertab_ready_at(t, 3));

    /* Removing while iterating: every entry is visited once. */
    size_t it = 0, seen = 0;
    for (peer_t *q; (q = peertab_next(t, &it)) != NULL;) {
        seen++;
        if (q->dir == TRANSPORT_IN) {
            peertab_remove(t, q);
        }
    }
    assert_int_equal(seen, 6);
    peertab_counts(t, &c);
    assert_int_equal(c.all, 3);
    assert_int_equal(c.in, 0);
    peertab_free(t);
}

static void
test_queue(void **state)
{
    (void)state;
    peertab_t *t = peertab_new(1);
    assert_non_null(t);
    uint8_t k[KEYS_PUBLIC_SIZE];
    key_of(k, 9);
    peer_t *p = peertab_add(t, k, TRANSPORT_OUT, 1);
    assert_non_null(p);
    uint8_t frame[3] = {1, 2, 3};
    for (int i = 0; i < NODE_QUEUE_MAX; i++) {
        assert_int_equal(peertab_queue_push(p, frame, sizeof frame), 0);
    }
    assert_int_equal(peertab_queue_push(p, frame, sizeof frame), -1); /* full */
    assert_int_equal(p->queued, NODE_QUEUE_MAX);
    assert_memory_equal(p->queue[0], frame, sizeof frame);
    peertab_queue_clear(p);
    assert_int_equal(p->queued, 0);
    /* Frames still queued are freed with the table (ASan checks). */
    assert_int_equal(peertab_queue_push(p, frame, sizeof frame), 0);
    peertab_free(t);
    peertab_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_find_remove),
        cmocka_unit_test(test_iterate_and_count),
        cmocka_unit_test(test_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
