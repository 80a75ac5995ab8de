/* Gossip push: eager and lazy links, the fetch after an IHAVE and its wait,
 * PRUNE/GRAFT converging to a tree, and the seen-cache. Every node runs the
 * real state machine over tests/util/fakenet (zero latency, fake clock). */
#include "testutil.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "fakenet.h"
#include "gossip.h"
#include "gossipmsg.h"

enum { T0 = 1700000000000ull };

/* An author and n followers, all connected to the author only. */
static fakenet_t *
star(size_t n, fakenode_t **nodes)
{
    fakenet_t *net = fakenet_new(T0);
    assert_non_null(net);
    for (size_t i = 0; i <= n; i++) {
        nodes[i] = fakenet_add(net);
    }
    for (size_t i = 1; i <= n; i++) {
        fakenode_follow(nodes[i], nodes[0]);
        fakenet_connect(nodes[0], nodes[i]);
    }
    fakenet_deliver(net);
    return net;
}

static void
test_eager_and_lazy(void **state)
{
    (void)state;
    fakenode_t *n[6];
    fakenet_t *net = star(5, n);
    /* Five subscribers: the first GOSSIP_EAGER_TARGET get posts in full. */
    assert_int_equal(gossip_eager_count(n[0]->g, n[0]->author.pk), GOSSIP_EAGER_TARGET);

    static uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    fakenode_publish(n[0], "first", raw, &len);
    assert_int_equal(fakenet_queued(net, n[0], NULL, GOSSIP_POST), GOSSIP_EAGER_TARGET);
    /* The IHAVEs wait a moment, to be sent in batches. */
    assert_int_equal(fakenet_queued(net, n[0], NULL, GOSSIP_IHAVE), 0);
    fakenet_deliver(net);
    fakenet_run(net, GOSSIP_IHAVE_DELAY_MS, 1);
    assert_int_equal(fakenode_stats(n[0]).ihave_sent, 5 - GOSSIP_EAGER_TARGET);

    size_t have = 0;
    for (size_t i = 1; i <= 5; i++) {
        have += fakenode_head(n[i], n[0]) == 1;
    }
    assert_int_equal(have, GOSSIP_EAGER_TARGET);
    /* The lazy ones fetch after the wait, and then graft the link. */
    fakenet_run(net, GOSSIP_LAZY_WAIT_MS + 20, 5);
    for (size_t i = 1; i <= 5; i++) {
        assert_int_equal(fakenode_head(n[i], n[0]), 1);
    }
    gossip_stats_t s = fakenode_stats(n[0]);
    assert_int_equal(s.posts_forwarded, GOSSIP_EAGER_TARGET);
    assert_int_equal(s.grafts_received, 5 - GOSSIP_EAGER_TARGET);
    assert_int_equal(gossip_eager_count(n[0]->g, n[0]->author.pk), 5);
    /* A second post now goes eagerly to all five. */
    fakenode_publish(n[0], "second", raw, &len);
    assert_int_equal(fakenet_queued(net, n[0], NULL, GOSSIP_POST), 5);
    fakenet_deliver(net);
    for (size_t i = 1; i <= 5; i++) {
        assert_int_equal(fakenode_head(n[i], n[0]), 2);
        assert_int_equal(fakenode_stats(n[i]).posts_verified, 2);
    }
    fakenet_free(net);
}

/* Loses every POST frame to one node, so it only hears IHAVEs. */
typedef struct {
    const fakenode_t *victim;
} drop_posts_t;

static bool
drop_posts_to(void *ud, const fakeframe_t *f)
{
    const drop_posts_t *d = ud;
    return !(memcmp(f->to, d->victim->key, 32) == 0 && f->frame[1] == GOSSIP_POST);
}

/* Makes victim lazy for author's feed (a fetch grafts the link, so again
 * before each post) with the lazy wait set to `set`; author's next post
 * then comes to victim as an IHAVE and is fetched `expect` ms after it,
 * not before. */
static void
fetched_after(fakenet_t *net, fakenode_t *author, fakenode_t *victim, uint32_t set, uint64_t expect)
{
    static gossip_msg_t m;
    gossip_msg_init(&m, GOSSIP_PRUNE, 0);
    memcpy(m.u.author, author->author.pk, 32);
    assert_int_equal(gossip_receive(author->g, victim->key, &m, net->now), GOSSIP_OK);
    gossip_set_lazy_wait(victim->g, set);
    uint64_t before = fakenode_stats(victim).lazy_fetches;
    static uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    fakenode_publish(author, "lazy", raw, &len);
    fakenet_run(net, GOSSIP_IHAVE_DELAY_MS, 1);
    fakenet_run(net, expect - 1, 1);
    assert_int_equal(fakenode_stats(victim).lazy_fetches, before);
    fakenet_run(net, 1, 1);
    assert_int_equal(fakenode_stats(victim).lazy_fetches, before + 1);
}

/* The lazy wait set from measured round trips: 30 ms fetches at 30 ms,
 * and the setting is held to GOSSIP_LAZY_WAIT_MIN_MS..GOSSIP_LAZY_WAIT_MS. */
static void
test_lazy_wait_set(void **state)
{
    (void)state;
    fakenode_t *n[3];
    fakenet_t *net = star(2, n);
    drop_posts_t d = {.victim = n[2]};
    net->filter = drop_posts_to;
    net->filter_ud = &d;
    fetched_after(net, n[0], n[2], 30, 30);
    assert_int_equal(fakenode_stats(n[2]).ihave_received, 1);
    assert_int_equal(fakenode_head(n[2], n[0]), 1);
    /* Below the floor: the floor. Above the ceiling: the ceiling. */
    fetched_after(net, n[0], n[2], 1, GOSSIP_LAZY_WAIT_MIN_MS);
    fetched_after(net, n[0], n[2], 100000, GOSSIP_LAZY_WAIT_MS);
    assert_int_equal(fakenode_stats(n[2]).lazy_fetches, 3);
    fakenet_free(net);
}

static void
test_ihave_fetch_after_wait(void **state)
{
    (void)state;
    fakenode_t *n[3];
    fakenet_t *net = star(2, n);
    drop_posts_t d = {.victim = n[2]};
    net->filter = drop_posts_to;
    net->filter_ud = &d;
    /* Make the victim lazy for the author so it gets an IHAVE. */
    static gossip_msg_t m;
    gossip_msg_init(&m, GOSSIP_PRUNE, 0);
    memcpy(m.u.author, n[0]->author.pk, 32);
    assert_int_equal(gossip_receive(n[0]->g, n[2]->key, &m, net->now), GOSSIP_OK);

    static uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    fakenode_publish(n[0], "lazy", raw, &len);
    fakenet_run(net, GOSSIP_IHAVE_DELAY_MS, 1);
    assert_int_equal(fakenode_stats(n[2]).ihave_received, 1);
    /* Nothing asked before the wait is over ... */
    fakenet_run(net, GOSSIP_LAZY_WAIT_MS - 1, 1);
    assert_int_equal(fakenode_stats(n[2]).lazy_fetches, 0);
    assert_int_equal(fakenode_head(n[2], n[0]), 0);
    /* ... and then a GET_RANGE for exactly that post. */
    fakenet_run(net, 1, 1);
    assert_int_equal(fakenode_stats(n[2]).lazy_fetches, 1);
    assert_int_equal(fakenode_head(n[2], n[0]), 1);
    assert_int_equal(fakenode_stats(n[2]).grafts_sent, 1);
    assert_int_equal(fakenode_stats(n[0]).ranges_served, 1);

    /* An IHAVE for a post that arrives in full meanwhile is not fetched. */
    net->filter = NULL;
    fakenode_t *late = n[1];
    gossip_msg_init(&m, GOSSIP_PRUNE, 0);
    memcpy(m.u.author, n[0]->author.pk, 32);
    assert_int_equal(gossip_receive(n[0]->g, late->key, &m, net->now), GOSSIP_OK);
    fakenode_publish(n[0], "raced", raw, &len);
    fakenet_run(net, GOSSIP_IHAVE_DELAY_MS, 1);
    assert_int_equal(fakenode_stats(late).ihave_received, 1);
    static post_t p;
    assert_int_equal(post_decode(&p, raw, len, POST_VERIFY), POST_OK);
    gossip_msg_init(&m, GOSSIP_POST, 0);
    m.u.post.p = raw;
    m.u.post.len = (uint16_t)len;
    assert_int_equal(gossip_receive(late->g, n[0]->key, &m, net->now), GOSSIP_OK);
    uint64_t fetches = fakenode_stats(late).lazy_fetches;
    fakenet_run(net, 2 * GOSSIP_LAZY_WAIT_MS, 5);
    assert_int_equal(fakenode_stats(late).lazy_fetches, fetches);
    assert_int_equal(fakenode_head(late, n[0]), 2);
    fakenet_free(net);
}

/* The same post, eagerly from two peers: verified once, stored once, sent
 * on once, and the second sender is pruned. */
static void
test_seen_cache(void **state)
{
    (void)state;
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *author = fakenet_add(net);
    fakenode_t *x = fakenet_add(net);
    fakenode_t *y = fakenet_add(net);
    fakenode_t *z = fakenet_add(net);
    fakenode_follow(x, author);
    fakenode_follow(y, author);
    fakenode_follow(z, author);
    fakenet_connect(z, x);
    fakenet_connect(z, y);
    fakenet_deliver(net);
    static uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    fakestore_publish(author->store, &author->author, net->now, "once", raw, &len);
    static gossip_msg_t m;
    gossip_msg_init(&m, GOSSIP_POST, 0);
    m.u.post.p = raw;
    m.u.post.len = (uint16_t)len;
    for (int copy = 0; copy < 5; copy++) {
        assert_int_equal(gossip_receive(z->g, copy == 0 ? x->key : y->key, &m, net->now),
                         GOSSIP_OK);
    }
    gossip_stats_t s = fakenode_stats(z);
    assert_int_equal(s.posts_received, 5);
    assert_int_equal(s.posts_verified, 1);
    assert_int_equal(s.posts_stored, 1);
    assert_int_equal(s.posts_duplicate, 4);
    /* Sent on to y only (x sent it); each of y's eager copies answered by
     * a PRUNE (a copy that still comes means the last PRUNE was lost). */
    assert_int_equal(fakenet_queued(net, z, y, GOSSIP_POST), 1);
    assert_int_equal(fakenet_queued(net, z, x, GOSSIP_POST), 0);
    assert_int_equal(fakenet_queued(net, z, y, GOSSIP_PRUNE), 4);
    assert_int_equal(s.prunes_sent, 4);
    assert_int_equal(fakestore_posts(z->store), 1);
    fakenet_deliver(net);
    /* A copy long after the cache forgot it is still not verified again:
     * the store has it. */
    net->now += 2 * GOSSIP_SEEN_TTL_MS;
    assert_int_equal(gossip_receive(z->g, x->key, &m, net->now), GOSSIP_OK);
    s = fakenode_stats(z);
    assert_int_equal(s.posts_verified, 1);
    assert_int_equal(s.posts_duplicate, 5);
    fakenet_free(net);
}

static void
count_copies(fakenode_t **n, size_t count, uint64_t *copies)
{
    for (size_t i = 0; i < count; i++) {
        copies[i] = fakenode_stats(n[i]).posts_received;
    }
}

/* Eight followers, every one connected to every other and to the author:
 * flooding would cost seven copies per post per node. Duplicates prune the
 * links they came over; after a few posts each follower gets about one
 * copy per post, and every follower gets every post. */
static void
test_prune_graft_converge(void **state)
{
    (void)state;
    enum { N = 9, POSTS = 40 };
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *n[N];
    for (size_t i = 0; i < N; i++) {
        n[i] = fakenet_add(net);
    }
    for (size_t i = 1; i < N; i++) {
        fakenode_follow(n[i], n[0]);
    }
    for (size_t i = 0; i < N; i++) {
        for (size_t j = i + 1; j < N; j++) {
            fakenet_connect(n[i], n[j]);
        }
    }
    fakenet_deliver(net);
    uint64_t before[N];
    uint64_t after[N];
    uint64_t first_copies = 0;
    uint64_t last_copies = 0;
    for (int k = 0; k < POSTS; k++) {
        count_copies(n, N, before);
        uint8_t raw[POST_MAX_SIZE];
        size_t len = 0;
        fakenode_publish(n[0], "tree", raw, &len);
        fakenet_run(net, GOSSIP_LAZY_WAIT_MS + 100, 5);
        count_copies(n, N, after);
        uint64_t copies = 0;
        for (size_t i = 1; i < N; i++) {
            assert_int_equal(fakenode_head(n[i], n[0]), (uint64_t)k + 1);
            copies += after[i] - before[i];
        }
        if (k == 0) {
            first_copies = copies;
        }
        if (k >= POSTS - 10) {
            last_copies += copies;
        }
    }
    /* At first: several copies each; at the end: one each, a tree. */
    assert_true(first_copies > (N - 1));
    assert_int_equal(last_copies, 10 * (N - 1));
    uint64_t prunes = 0;
    uint64_t verified = 0;
    for (size_t i = 1; i < N; i++) {
        gossip_stats_t s = fakenode_stats(n[i]);
        prunes += s.prunes_sent;
        verified += s.posts_verified;
    }
    assert_true(prunes > 0);
    /* Each post verified once per follower, whatever the copies. */
    assert_int_equal(verified, POSTS * (N - 1));
    fakenet_free(net);
}

/* A GRAFT beyond GOSSIP_EAGER_MAX is refused with a PRUNE. */
static void
test_graft_bounded(void **state)
{
    (void)state;
    enum { N = GOSSIP_EAGER_MAX + 3 };
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *n[N];
    for (size_t i = 0; i < N; i++) {
        n[i] = fakenet_add(net);
    }
    for (size_t i = 1; i < N; i++) {
        fakenode_follow(n[i], n[0]);
        fakenet_connect(n[0], n[i]);
    }
    fakenet_deliver(net);
    static gossip_msg_t m;
    gossip_msg_init(&m, GOSSIP_GRAFT, 0);
    memcpy(m.u.author, n[0]->author.pk, 32);
    for (size_t i = 1; i < N; i++) {
        assert_int_equal(gossip_receive(n[0]->g, n[i]->key, &m, net->now), GOSSIP_OK);
    }
    assert_int_equal(gossip_eager_count(n[0]->g, n[0]->author.pk), GOSSIP_EAGER_MAX);
    assert_int_equal(fakenet_queued(net, n[0], NULL, GOSSIP_PRUNE), N - 1 - GOSSIP_EAGER_MAX);
    /* A GRAFT for an author the peer does not subscribe to changes nothing. */
    memset(m.u.author, 0x99, 32);
    assert_int_equal(gossip_receive(n[0]->g, n[1]->key, &m, net->now), GOSSIP_OK);
    assert_int_equal(gossip_eager_count(n[0]->g, m.u.author), 0);
    fakenet_free(net);
}

/* When the only eager link of an author goes, another peer is grafted. */
static void
test_regraft_on_peer_down(void **state)
{
    (void)state;
    fakenode_t *n[3];
    fakenet_t *net = star(2, n);
    static gossip_msg_t m;
    gossip_msg_init(&m, GOSSIP_PRUNE, 0);
    memcpy(m.u.author, n[0]->author.pk, 32);
    assert_int_equal(gossip_receive(n[0]->g, n[2]->key, &m, net->now), GOSSIP_OK);
    assert_int_equal(gossip_eager_count(n[0]->g, n[0]->author.pk), 1);
    fakenet_disconnect(n[0], n[1]);
    assert_int_equal(gossip_eager_count(n[0]->g, n[0]->author.pk), 1);
    assert_int_equal(fakenet_queued(net, n[0], n[2], GOSSIP_GRAFT), 1);
    fakenet_free(net);
}

/* Unknown peers, reconnects, a full peer table, the send callback failing. */
static void
test_peers_and_sends(void **state)
{
    (void)state;
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *a = fakenet_add(net);
    fakenode_t *b = fakenet_add(net);
    static gossip_msg_t m;
    gossip_msg_init(&m, GOSSIP_PRUNE, 0);
    assert_int_equal(gossip_receive(a->g, b->key, &m, net->now), GOSSIP_ENOPEER);
    uint8_t frame[] = {1, GOSSIP_PRUNE, 0, 0, 0, 0};
    assert_int_equal(gossip_receive_frame(a->g, b->key, frame, sizeof frame, net->now),
                     GOSSIP_ENOPEER);
    int32_t score = 1;
    assert_int_equal(gossip_peer_score(a->g, b->key, &score), GOSSIP_ENOPEER);
    gossip_peer_down(a->g, b->key, net->now); /* unknown: ignored */
    fakenet_connect(a, b);
    assert_int_equal(gossip_receive_frame(a->g, b->key, frame, sizeof frame, net->now),
                     GOSSIP_EMALFORMED);
    assert_int_equal(gossip_peer_score(a->g, b->key, &score), GOSSIP_OK);
    assert_int_equal(score, -GOSSIP_PENALTY_MALFORMED);
    /* Up again: a fresh start, SUBSCRIBE sent again. */
    size_t subs = fakenet_queued(net, a, b, GOSSIP_SUBSCRIBE);
    assert_int_equal(gossip_peer_up(a->g, b->key, net->now), GOSSIP_OK);
    assert_int_equal(fakenet_queued(net, a, b, GOSSIP_SUBSCRIBE), subs + 1);
    assert_int_equal(gossip_peer_score(a->g, b->key, &score), GOSSIP_OK);
    assert_int_equal(score, 0);
    uint8_t key[32];
    memset(key, 0x42, sizeof key);
    for (int i = 1; i < GOSSIP_PEERS_MAX; i++) {
        key[0] = (uint8_t)i;
        assert_int_equal(gossip_peer_up(a->g, key, net->now), GOSSIP_OK);
    }
    key[0] = 0xff;
    assert_int_equal(gossip_peer_up(a->g, key, net->now), GOSSIP_EFULL);
    a->send_fails = true;
    static uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    fakenode_follow(b, a);
    fakenet_deliver(net);
    fakenode_publish(a, "nowhere", raw, &len);
    assert_true(fakenode_stats(a).frames_dropped > 0);
    assert_int_equal(gossip_publish(a->g, raw, 10, net->now), GOSSIP_EINVAL);
    fakenet_free(net);
    for (int e = GOSSIP_OK; e <= GOSSIP_EMALFORMED; e++) {
        assert_string_not_equal(gossip_strerror((gossip_err_t)e), "unknown gossip error");
    }
}

static void
test_new_refuses_missing_callbacks(void **state)
{
    (void)state;
    gossip_t *g = (gossip_t *)1;
    gossip_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(gossip_new(&g, &cfg), GOSSIP_EINVAL);
    assert_null(g);
    assert_int_equal(gossip_new(&g, NULL), GOSSIP_EINVAL);
    gossip_free(NULL);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eager_and_lazy),
        cmocka_unit_test(test_ihave_fetch_after_wait),
        cmocka_unit_test(test_lazy_wait_set),
        cmocka_unit_test(test_seen_cache),
        cmocka_unit_test(test_prune_graft_converge),
        cmocka_unit_test(test_graft_bounded),
        cmocka_unit_test(test_regraft_on_peer_down),
        cmocka_unit_test(test_peers_and_sends),
        cmocka_unit_test(test_new_refuses_missing_callbacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
