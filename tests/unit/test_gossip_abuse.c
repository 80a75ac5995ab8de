/* Gossip under attack: forged and altered posts, replays, forks and forged
 * fork proofs, rate limits that act before any signature is checked, every
 * table's cap under a flood from one peer, blocked authors, malformed and
 * unasked frames. */
#include "testutil.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "fakenet.h"
#include "gossip.h"
#include "gossipmsg.h"

enum { T0 = 1700000000000ull };

/* A node v that follows author a, with peers p and q that follow a too. */
typedef struct {
    fakenet_t *net;
    fakenode_t *a, *v, *p, *q;
} world_t;

static void
world(world_t *w)
{
    w->net = fakenet_new(T0);
    assert_non_null(w->net);
    w->a = fakenet_add(w->net);
    w->v = fakenet_add(w->net);
    w->p = fakenet_add(w->net);
    w->q = fakenet_add(w->net);
    fakenode_follow(w->v, w->a);
    fakenode_follow(w->p, w->a);
    fakenode_follow(w->q, w->a);
    fakenet_connect(w->v, w->p);
    fakenet_connect(w->v, w->q);
    fakenet_deliver(w->net);
}

static gossip_err_t
push(fakenode_t *to, const fakenode_t *from, const uint8_t *raw, size_t len)
{
    static gossip_msg_t m;
    gossip_msg_init(&m, GOSSIP_POST, 0);
    m.u.post.p = raw;
    m.u.post.len = (uint16_t)len;
    return gossip_receive(to->g, from->key, &m, to->net->now);
}

/* ---- forged and replayed posts ---- */

static void
test_forged_posts(void **state)
{
    (void)state;
    world_t w;
    world(&w);
    static uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    fakestore_sign(&w.a->author, 1, NULL, T0, "genuine", raw, &len, NULL);

    /* A flipped signature bit, then a changed body byte (which the
     * signature no longer covers). */
    static uint8_t bad[POST_MAX_SIZE];
    memcpy(bad, raw, len);
    bad[len - 1] ^= 0x01;
    assert_int_equal(push(w.v, w.p, bad, len), GOSSIP_OK);
    gossip_stats_t s = fakenode_stats(w.v);
    assert_int_equal(s.posts_verified, 1);
    assert_int_equal(s.posts_invalid, 1);
    assert_int_equal(s.posts_stored, 0);
    assert_int_equal(fakestore_posts(w.v->store), 0);
    /* One invalid post is enough to be reported. */
    assert_int_equal(w.v->reported, 1);
    assert_memory_equal(w.v->reported_key, w.p->key, 32);
    assert_int_equal(w.v->fault, GOSSIP_FAULT_INVALID_POST);
    /* The same bad bytes again, from another peer: refused without a
     * second signature check, and that peer is reported too. */
    assert_int_equal(push(w.v, w.q, bad, len), GOSSIP_OK);
    s = fakenode_stats(w.v);
    assert_int_equal(s.posts_verified, 1);
    assert_int_equal(s.posts_invalid, 2);
    assert_int_equal(w.v->reported, 2);

    memcpy(bad, raw, len);
    bad[len - 64 - 1] ^= 0x20; /* last body byte: 'e' -> 'E' */
    assert_int_equal(push(w.v, w.q, bad, len), GOSSIP_OK);
    s = fakenode_stats(w.v);
    assert_int_equal(s.posts_verified, 2);
    assert_int_equal(s.posts_invalid, 3);
    /* Nothing was sent on. */
    assert_int_equal(fakenet_queued(w.net, w.v, NULL, GOSSIP_POST), 0);
    assert_int_equal(fakenet_queued(w.net, w.v, NULL, GOSSIP_IHAVE), 0);
    fakenet_run(w.net, 100, 10);
    assert_int_equal(fakenode_stats(w.v).ihave_sent, 0);

    /* The genuine post is still taken. */
    assert_int_equal(push(w.v, w.q, raw, len), GOSSIP_OK);
    assert_int_equal(fakenode_head(w.v, w.a), 1);
    fakenet_free(w.net);
}

static void
test_replayed_posts(void **state)
{
    (void)state;
    world_t w;
    world(&w);
    static uint8_t raw[3][POST_MAX_SIZE];
    size_t len[3];
    uint8_t id[3][32];
    for (int i = 0; i < 3; i++) {
        fakestore_sign(&w.a->author, (uint64_t)i + 1, i ? id[i - 1] : NULL, T0 + (uint64_t)i, "old",
                       raw[i], &len[i], id[i]);
        assert_int_equal(push(w.v, w.p, raw[i], len[i]), GOSSIP_OK);
    }
    fakenet_deliver(w.net);
    gossip_stats_t before = fakenode_stats(w.v);
    assert_int_equal(before.posts_verified, 3);
    /* Replayed, again and again, from both peers and much later too. */
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 3; i++) {
            assert_int_equal(push(w.v, round % 2 ? w.p : w.q, raw[i], len[i]), GOSSIP_OK);
        }
        w.net->now += GOSSIP_SEEN_TTL_MS / 3;
    }
    gossip_stats_t s = fakenode_stats(w.v);
    assert_int_equal(s.posts_verified, 3);
    assert_int_equal(s.posts_stored, 3);
    assert_int_equal(s.posts_duplicate, 30);
    assert_int_equal(s.posts_forwarded, before.posts_forwarded);
    assert_int_equal(fakenet_queued(w.net, w.v, NULL, GOSSIP_POST), 0);
    assert_int_equal(w.v->reported, 0);
    fakenet_free(w.net);
}

/* ---- forks ---- */

static void
fork_msg(gossip_msg_t *m, const uint8_t *x, size_t xl, const uint8_t *y, size_t yl)
{
    gossip_msg_init(m, GOSSIP_FORK, 0);
    gossip_bytes_t a = {.p = x, .len = (uint16_t)xl};
    gossip_bytes_t b = {.p = y, .len = (uint16_t)yl};
    if (gossip_post_order(&a, &b) > 0) {
        gossip_bytes_t t = a;
        a = b;
        b = t;
    }
    m->u.fork.a = a;
    m->u.fork.b = b;
}

/* The author signs two posts with seq 1. v holds one and is pushed the
 * other: the store keeps it as evidence, v builds a proof and sends it once
 * to each subscribed peer but the sender; they check it and pass it on,
 * once; a proof seen again is dropped. */
static void
test_fork_proof(void **state)
{
    (void)state;
    world_t w;
    world(&w);
    fakenode_t *r = fakenet_add(w.net); /* a follower behind p */
    fakenode_follow(r, w.a);
    fakenet_connect(w.p, r);
    fakenet_deliver(w.net);
    static uint8_t x[POST_MAX_SIZE];
    static uint8_t y[POST_MAX_SIZE];
    size_t xl = 0;
    size_t yl = 0;
    fakestore_sign(&w.a->author, 1, NULL, T0, "one history", x, &xl, NULL);
    fakestore_sign(&w.a->author, 1, NULL, T0, "another history", y, &yl, NULL);
    /* p and then v get x (p from v, as far as p knows). */
    assert_int_equal(push(w.p, w.v, x, xl), GOSSIP_OK);
    assert_int_equal(push(w.v, w.q, x, xl), GOSSIP_OK);
    fakenet_run(w.net, GOSSIP_LAZY_WAIT_MS + 50, 5);
    assert_int_equal(fakenode_head(w.v, w.a), 1);
    assert_int_equal(fakenode_head(r, w.a), 1);

    assert_int_equal(push(w.v, w.q, y, yl), GOSSIP_OK);
    assert_int_equal(fakestore_evidence(w.v->store), 1);
    assert_int_equal(fakenode_stats(w.v).forks_built, 1);
    assert_int_equal(fakenet_queued(w.net, w.v, w.p, GOSSIP_FORK), 1);
    assert_int_equal(fakenet_queued(w.net, w.v, w.q, GOSSIP_FORK), 0);
    /* The forked post itself is not pushed as a post. */
    assert_int_equal(fakenet_queued(w.net, w.v, NULL, GOSSIP_POST), 0);
    fakenet_run(w.net, 100, 10);
    assert_int_equal(fakenode_stats(w.p).forks_received, 1);
    assert_int_equal(fakenode_stats(r).forks_received, 1);
    assert_int_equal(fakestore_evidence(w.p->store), 1);
    assert_int_equal(fakestore_evidence(r->store), 1);
    /* The same fork pushed again, or its proof sent back, builds and
     * sends no second proof. */
    assert_int_equal(push(w.v, w.q, y, yl), GOSSIP_OK);
    static gossip_msg_t m;
    fork_msg(&m, x, xl, y, yl);
    assert_int_equal(gossip_receive(w.v->g, w.q->key, &m, w.net->now), GOSSIP_OK);
    assert_int_equal(gossip_receive(w.v->g, w.p->key, &m, w.net->now), GOSSIP_OK);
    assert_int_equal(fakenet_queued(w.net, w.v, NULL, GOSSIP_FORK), 0);
    assert_int_equal(fakenode_stats(w.v).forks_built, 1);
    assert_int_equal(fakenode_stats(w.v).forks_received, 0);
    fakenet_free(w.net);
}

/* Proofs that prove nothing: refused, and the sender scored down. */
static void
test_forged_fork_proofs(void **state)
{
    (void)state;
    world_t w;
    world(&w);
    static uint8_t p1[POST_MAX_SIZE];
    static uint8_t p2[POST_MAX_SIZE];
    static uint8_t other[POST_MAX_SIZE];
    static uint8_t bad[POST_MAX_SIZE];
    size_t l1 = 0;
    size_t l2 = 0;
    size_t lo = 0;
    uint8_t id1[32];
    fakestore_sign(&w.a->author, 1, NULL, T0, "first", p1, &l1, id1);
    fakestore_sign(&w.a->author, 2, id1, T0 + 1, "second, linked", p2, &l2, NULL);
    fakestore_sign(&w.p->author, 1, NULL, T0, "someone else", other, &lo, NULL);
    static gossip_msg_t m;
    int32_t score = 0;

    /* Two posts of one feed that link properly: no conflict. Costs the
     * signature checks, then the points. */
    fork_msg(&m, p1, l1, p2, l2);
    assert_int_equal(gossip_receive(w.v->g, w.q->key, &m, w.net->now), GOSSIP_OK);
    assert_int_equal(fakenode_stats(w.v).forks_refused, 1);
    assert_int_equal(fakenode_stats(w.v).posts_verified, 2);
    assert_int_equal(gossip_peer_score(w.v->g, w.q->key, &score), GOSSIP_OK);
    assert_int_equal(score, -GOSSIP_PENALTY_BAD_FORK);

    /* Two authors: refused on the headers, before any signature check. */
    fork_msg(&m, p1, l1, other, lo);
    assert_int_equal(gossip_receive(w.v->g, w.p->key, &m, w.net->now), GOSSIP_OK);
    assert_int_equal(fakenode_stats(w.v).forks_refused, 2);
    assert_int_equal(fakenode_stats(w.v).posts_verified, 2);

    /* One half forged: same author and seq on the headers, bad signature. */
    fakenet_t *net2 = fakenet_new(T0);
    fakenode_t *a2 = fakenet_add(net2);
    fakenode_t *v2 = fakenet_add(net2);
    fakenode_t *p2n = fakenet_add(net2);
    fakenode_follow(v2, a2);
    fakenet_connect(v2, p2n);
    fakenet_deliver(net2);
    size_t lb = 0;
    static uint8_t good[POST_MAX_SIZE];
    size_t lg = 0;
    fakestore_sign(&a2->author, 1, NULL, T0, "real", good, &lg, NULL);
    fakestore_sign(&a2->author, 1, NULL, T0, "forged", bad, &lb, NULL);
    bad[lb - 5] ^= 0x40;
    fork_msg(&m, good, lg, bad, lb);
    assert_int_equal(gossip_receive(v2->g, p2n->key, &m, net2->now), GOSSIP_OK);
    assert_int_equal(fakenode_stats(v2).forks_refused, 1);
    assert_int_equal(fakenode_stats(v2).posts_invalid, 1);
    assert_int_equal(v2->reported, 1);
    assert_int_equal(fakestore_posts(v2->store), 0);
    assert_int_equal(fakenet_queued(net2, v2, NULL, GOSSIP_FORK), 0);
    fakenet_free(net2);

    /* A bad-link proof is a real one: post 2 naming another post 1. */
    static uint8_t p2x[POST_MAX_SIZE];
    size_t l2x = 0;
    uint8_t fake_prev[32];
    memset(fake_prev, 0x66, sizeof fake_prev);
    fakestore_sign(&w.a->author, 2, fake_prev, T0 + 1, "second, unlinked", p2x, &l2x, NULL);
    fork_msg(&m, p1, l1, p2x, l2x);
    assert_int_equal(gossip_receive(w.v->g, w.q->key, &m, w.net->now), GOSSIP_OK);
    assert_int_equal(fakenode_stats(w.v).forks_received, 1);
    assert_int_equal(fakestore_evidence(w.v->store), 1);
    /* Sent on to p, not back to q. */
    assert_int_equal(fakenet_queued(w.net, w.v, w.p, GOSSIP_FORK), 1);
    assert_int_equal(fakenet_queued(w.net, w.v, w.q, GOSSIP_FORK), 0);
    fakenet_free(w.net);
}

/* ---- rate limits, before verification ---- */

/* One peer pushes 1000 distinct, valid posts of an author at once: only a
 * burst's worth is verified; the rest are dropped unverified, and arrive
 * later by pull within the rate. */
static void
test_rate_limit_before_verify(void **state)
{
    (void)state;
    world_t w;
    world(&w);
    /* Under the message burst, so that only the verify buckets act. */
    enum { FLOOD = GOSSIP_PEER_MSG_BURST - 100 };
    static uint8_t raw[FLOOD][POST_MAX_SIZE];
    static size_t len[FLOOD];
    static uint8_t id[FLOOD][32];
    for (size_t i = 0; i < FLOOD; i++) {
        fakestore_sign(&w.a->author, i + 1, i ? id[i - 1] : NULL, T0, "flood", raw[i], &len[i],
                       id[i]);
    }
    for (size_t i = 0; i < FLOOD; i++) {
        assert_int_equal(push(w.v, w.p, raw[i], len[i]), GOSSIP_OK);
    }
    gossip_stats_t s = fakenode_stats(w.v);
    assert_int_equal(s.posts_verified, GOSSIP_PEER_VERIFY_BURST);
    assert_int_equal(s.rate_limited, FLOOD - GOSSIP_PEER_VERIFY_BURST);
    /* The author's bucket holds for every peer together: q gets nothing
     * verified for a while either. */
    assert_int_equal(push(w.v, w.q, raw[FLOOD - 1], len[FLOOD - 1]), GOSSIP_OK);
    assert_int_equal(fakenode_stats(w.v).posts_verified, GOSSIP_PEER_VERIFY_BURST);
    /* The message bucket held too: a peer may send a burst, no more. */
    assert_true(s.msgs_limited == 0);
    /* One second later, at most the rate more; and the message bucket,
     * now nearly empty, drops most of a second flood unread. */
    w.net->now += 1000;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < FLOOD; i++) {
            push(w.v, w.p, raw[i], len[i]);
        }
    }
    s = fakenode_stats(w.v);
    assert_true(s.posts_verified <= GOSSIP_PEER_VERIFY_BURST + GOSSIP_PEER_VERIFY_RATE);
    assert_true(s.msgs_limited > 0);
    fakenet_free(w.net);
}

/* ---- caps under a flood from one peer ---- */

static void
test_caps_hold_under_flood(void **state)
{
    (void)state;
    world_t w;
    world(&w);
    static gossip_msg_t m;
    static uint8_t refs[GOSSIP_HEADS_MAX * GOSSIP_REF_SIZE];
    /* IHAVE for 100 x 64 posts that do not exist: the missing table takes
     * the peer's share and no more. Spread over time, so the message rate
     * is not what stops it. */
    for (int f = 0; f < 100; f++) {
        for (int i = 0; i < GOSSIP_IHAVE_MAX; i++) {
            gossip_ref_t r;
            memcpy(r.author, w.a->author.pk, 32);
            r.seq = (uint64_t)(f * GOSSIP_IHAVE_MAX + i + 1);
            memset(r.id, 0, 32);
            memcpy(r.id, &r.seq, sizeof r.seq);
            gossip_ref_put(refs + (size_t)i * GOSSIP_REF_SIZE, &r);
        }
        gossip_msg_init(&m, GOSSIP_IHAVE, 0);
        m.u.refs.n = GOSSIP_IHAVE_MAX;
        m.u.refs.refs = refs;
        assert_int_equal(gossip_receive(w.v->g, w.p->key, &m, w.net->now), GOSSIP_OK);
        w.net->now += 5;
    }
    gossip_stats_t s = fakenode_stats(w.v);
    assert_int_equal(s.missing, GOSSIP_MISSING_PER_PEER);
    assert_true(s.table_full > 0);
    /* Their fetches are bounded per peer too, and fail: the empty
     * answers drain the table. */
    fakenet_run(w.net, 1000, 10);
    s = fakenode_stats(w.v);
    assert_true(s.requests <= GOSSIP_PEER_REQS_MAX);
    fakenet_run(w.net, 60 * 1000, 100);
    assert_int_equal(fakenode_stats(w.v).missing, 0);

    /* SUBSCRIBE with five full frames: kept to the cap. */
    static uint8_t authors[GOSSIP_SUBSCRIBE_MAX * 32];
    for (int f = 0; f < 5; f++) {
        for (int i = 0; i < GOSSIP_SUBSCRIBE_MAX; i++) {
            uint8_t *k = authors + i * 32;
            memset(k, 0x33, 32);
            k[0] = (uint8_t)f;
            k[1] = (uint8_t)(i >> 8);
            k[2] = (uint8_t)i;
        }
        gossip_msg_init(&m, GOSSIP_SUBSCRIBE, 0);
        m.u.subscribe.flags = f == 0 ? GOSSIP_SUBSCRIBE_FIRST : 0;
        m.u.subscribe.n = GOSSIP_SUBSCRIBE_MAX;
        m.u.subscribe.authors = authors;
        assert_int_equal(gossip_receive(w.v->g, w.q->key, &m, w.net->now), GOSSIP_OK);
    }
    assert_int_equal(fakenode_stats(w.v).peer_subs_max, GOSSIP_SUBSCRIPTIONS_MAX);
    /* A continuation out of order is refused. */
    authors[0] = 0;
    gossip_msg_init(&m, GOSSIP_SUBSCRIBE, 0);
    m.u.subscribe.n = 1;
    m.u.subscribe.authors = authors;
    uint64_t malformed = fakenode_stats(w.v).malformed;
    assert_int_equal(gossip_receive(w.v->g, w.q->key, &m, w.net->now), GOSSIP_OK);
    assert_int_equal(fakenode_stats(w.v).malformed, malformed + 1);

    /* GET_RANGE flood: answered within the serving rate only. */
    uint64_t served = fakenode_stats(w.v).ranges_served;
    for (int i = 0; i < 500; i++) {
        gossip_msg_init(&m, GOSSIP_GET_RANGE, (uint32_t)i + 1);
        memcpy(m.u.get_range.author, w.a->author.pk, 32);
        m.u.get_range.from_seq = 1;
        m.u.get_range.max_count = 64;
        gossip_receive(w.v->g, w.q->key, &m, w.net->now);
    }
    assert_int_equal(fakenode_stats(w.v).ranges_served - served, GOSSIP_PEER_SERVE_BURST);

    /* A plain message flood: dropped past the burst, and reported. */
    fakenode_t *x = fakenet_add(w.net);
    fakenet_connect(w.v, x);
    gossip_msg_init(&m, GOSSIP_PRUNE, 0);
    for (int i = 0; i < 3 * GOSSIP_PEER_MSG_BURST; i++) {
        gossip_receive(w.v->g, x->key, &m, w.net->now);
    }
    s = fakenode_stats(w.v);
    assert_true(s.msgs_limited >= 2 * GOSSIP_PEER_MSG_BURST);
    assert_int_equal(w.v->reported, 1);
    assert_memory_equal(w.v->reported_key, x->key, 32);
    assert_int_equal(w.v->fault, GOSSIP_FAULT_FLOOD);
    fakenet_free(w.net);
}

/* HEADS for more authors than the pull table holds. */
static void
test_sync_table_cap(void **state)
{
    (void)state;
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *v = fakenet_add(net);
    fakenode_t *p = fakenet_add(net);
    /* v follows GOSSIP_SYNC_MAX + 100 authors, p claims to be ahead on all. */
    enum { AUTHORS = GOSSIP_SYNC_MAX + 100 };
    static uint8_t keys[AUTHORS][32];
    for (int i = 0; i < AUTHORS; i++) {
        memset(keys[i], 0x44, 32);
        keys[i][0] = (uint8_t)(i >> 8);
        keys[i][1] = (uint8_t)i;
        fakestore_follow(v->store, keys[i]);
    }
    gossip_subscriptions_changed(v->g, net->now);
    fakenet_connect(v, p);
    fakenet_drop(net);
    static uint8_t refs[GOSSIP_HEADS_MAX * GOSSIP_REF_SIZE];
    static gossip_msg_t m;
    for (int base = 0; base < AUTHORS; base += GOSSIP_HEADS_MAX) {
        int n = AUTHORS - base < GOSSIP_HEADS_MAX ? AUTHORS - base : GOSSIP_HEADS_MAX;
        for (int i = 0; i < n; i++) {
            gossip_ref_t r;
            memcpy(r.author, keys[base + i], 32);
            r.seq = 1000;
            memset(r.id, 0x55, 32);
            gossip_ref_put(refs + (size_t)i * GOSSIP_REF_SIZE, &r);
        }
        gossip_msg_init(&m, GOSSIP_HEADS, 0);
        m.u.refs.n = (uint16_t)n;
        m.u.refs.refs = refs;
        assert_int_equal(gossip_receive(v->g, p->key, &m, net->now), GOSSIP_OK);
    }
    gossip_stats_t s = fakenode_stats(v);
    assert_int_equal(s.syncing, GOSSIP_SYNC_MAX);
    assert_true(s.table_full >= 100);
    /* Requests in flight are bounded per peer whatever the table holds. */
    uint64_t next = 0;
    gossip_tick(v->g, net->now, &next);
    s = fakenode_stats(v);
    assert_int_equal(s.requests, GOSSIP_PEER_REQS_MAX);
    /* p answers nothing it claimed: each pull drops p, the table drains. */
    fakenet_run(net, 60 * 1000, 100);
    s = fakenode_stats(v);
    assert_int_equal(s.syncing, 0);
    assert_int_equal(s.requests_timed_out, 0);
    assert_int_equal(s.pulls, AUTHORS - 100);
    fakenet_free(net);
}

/* ---- blocked authors ---- */

static void
test_blocked_author(void **state)
{
    (void)state;
    world_t w;
    world(&w);
    fakestore_block(w.v->store, w.a->author.pk);
    gossip_subscriptions_changed(w.v->g, w.net->now);
    fakenet_deliver(w.net);
    static uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    uint8_t id[32];
    fakestore_sign(&w.a->author, 1, NULL, T0, "blocked", raw, &len, id);
    assert_int_equal(push(w.v, w.p, raw, len), GOSSIP_OK);
    gossip_stats_t s = fakenode_stats(w.v);
    assert_int_equal(s.posts_verified, 0);
    assert_int_equal(s.posts_blocked, 1);
    assert_int_equal(fakestore_posts(w.v->store), 0);
    /* IHAVE and HEADS for it lead nowhere. */
    gossip_ref_t r;
    memcpy(r.author, w.a->author.pk, 32);
    r.seq = 1;
    memcpy(r.id, id, 32);
    uint8_t ref[GOSSIP_REF_SIZE];
    gossip_ref_put(ref, &r);
    static gossip_msg_t m;
    gossip_msg_init(&m, GOSSIP_IHAVE, 0);
    m.u.refs.n = 1;
    m.u.refs.refs = ref;
    assert_int_equal(gossip_receive(w.v->g, w.p->key, &m, w.net->now), GOSSIP_OK);
    m.type = GOSSIP_HEADS;
    assert_int_equal(gossip_receive(w.v->g, w.p->key, &m, w.net->now), GOSSIP_OK);
    fakenet_run(w.net, 2000, 10);
    s = fakenode_stats(w.v);
    assert_int_equal(s.missing, 0);
    assert_int_equal(s.syncing, 0);
    assert_int_equal(s.lazy_fetches + s.pulls, 0);
    assert_int_equal(fakenet_queued(w.net, w.v, NULL, GOSSIP_POST), 0);
    assert_int_equal(s.posts_forwarded, 0);
    /* Asked for it, v answers with nothing. Gossip of p is untouched. */
    gossip_stats_t ps = fakenode_stats(w.p);
    assert_int_equal(ps.posts_stored, 0);
    fakenet_free(w.net);
}

/* ---- malformed and unasked frames ---- */

static void
test_malformed_and_unasked(void **state)
{
    (void)state;
    world_t w;
    world(&w);
    const uint8_t junk[] = {1, GOSSIP_IHAVE, 0, 0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(gossip_receive_frame(w.v->g, w.p->key, junk, sizeof junk, w.net->now),
                         GOSSIP_EMALFORMED);
    }
    assert_int_equal(w.v->reported, 0);
    assert_int_equal(gossip_receive_frame(w.v->g, w.p->key, junk, sizeof junk, w.net->now),
                     GOSSIP_EMALFORMED);
    assert_int_equal(w.v->reported, 1);
    assert_int_equal(w.v->fault, GOSSIP_FAULT_MALFORMED);
    assert_int_equal(fakenode_stats(w.v).malformed, 5);
    /* Points come back with time. */
    int32_t score = 0;
    w.net->now += 50 * GOSSIP_SCORE_RECOVER_MS;
    assert_int_equal(gossip_receive_frame(w.v->g, w.p->key, junk, sizeof junk, w.net->now),
                     GOSSIP_EMALFORMED);
    assert_int_equal(gossip_peer_score(w.v->g, w.p->key, &score), GOSSIP_OK);
    assert_int_equal(score, -100 + 50 - GOSSIP_PENALTY_MALFORMED);

    /* A RANGE nobody asked for: not taken, scored. */
    static uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    fakestore_sign(&w.a->author, 1, NULL, T0, "unasked", raw, &len, NULL);
    static gossip_msg_t m;
    gossip_msg_init(&m, GOSSIP_RANGE, 12345);
    m.u.range.n = 1;
    m.u.range.posts[0].p = raw;
    m.u.range.posts[0].len = (uint16_t)len;
    assert_int_equal(gossip_receive(w.v->g, w.q->key, &m, w.net->now), GOSSIP_OK);
    assert_int_equal(fakenode_stats(w.v).posts_received, 0);
    assert_int_equal(gossip_peer_score(w.v->g, w.q->key, &score), GOSSIP_OK);
    assert_int_equal(score, -GOSSIP_PENALTY_UNASKED);
    fakenet_free(w.net);
}

/* A RANGE that answers a request with another author's posts. */
static void
test_range_not_as_asked(void **state)
{
    (void)state;
    world_t w;
    world(&w);
    /* p claims a head of 3 for a; v asks. */
    gossip_ref_t r;
    memcpy(r.author, w.a->author.pk, 32);
    r.seq = 3;
    memset(r.id, 0x12, 32);
    uint8_t ref[GOSSIP_REF_SIZE];
    gossip_ref_put(ref, &r);
    static gossip_msg_t m;
    gossip_msg_init(&m, GOSSIP_HEADS, 0);
    m.u.refs.n = 1;
    m.u.refs.refs = ref;
    fakenet_drop(w.net);
    assert_int_equal(gossip_receive(w.v->g, w.p->key, &m, w.net->now), GOSSIP_OK);
    uint64_t next = 0;
    gossip_tick(w.v->g, w.net->now, &next);
    assert_int_equal(fakenet_queued(w.net, w.v, w.p, GOSSIP_GET_RANGE), 1);
    const fakeframe_t *f = &w.net->q[w.net->q_head];
    static gossip_msg_t req;
    assert_int_equal(gossip_msg_decode(&req, f->frame, f->len), GOSSIP_MSG_OK);
    /* The answer holds q's posts instead. */
    static uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    fakestore_sign(&w.q->author, 1, NULL, T0, "wrong author", raw, &len, NULL);
    gossip_msg_init(&m, GOSSIP_RANGE, req.request_id);
    m.u.range.n = 1;
    m.u.range.posts[0].p = raw;
    m.u.range.posts[0].len = (uint16_t)len;
    assert_int_equal(gossip_receive(w.v->g, w.p->key, &m, w.net->now), GOSSIP_OK);
    gossip_stats_t s = fakenode_stats(w.v);
    assert_int_equal(s.posts_verified, 0);
    int32_t score = 0;
    assert_int_equal(gossip_peer_score(w.v->g, w.p->key, &score), GOSSIP_OK);
    assert_int_equal(score, -GOSSIP_PENALTY_BAD_RANGE);
    fakenet_free(w.net);
}

/* A post stamped far in the future is refused by the store and not
 * remembered, so it is taken once the clock gets there. */
static void
test_future_post(void **state)
{
    (void)state;
    world_t w;
    world(&w);
    static uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    fakestore_sign(&w.a->author, 1, NULL, T0 + 3600 * 1000, "from the future", raw, &len, NULL);
    assert_int_equal(push(w.v, w.p, raw, len), GOSSIP_OK);
    assert_int_equal(fakenode_stats(w.v).posts_future, 1);
    assert_int_equal(fakenode_head(w.v, w.a), 0);
    assert_int_equal(w.v->reported, 0);
    w.net->now += 3600 * 1000;
    assert_int_equal(push(w.v, w.p, raw, len), GOSSIP_OK);
    assert_int_equal(fakenode_head(w.v, w.a), 1);
    fakenet_free(w.net);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_posts),
        cmocka_unit_test(test_replayed_posts),
        cmocka_unit_test(test_fork_proof),
        cmocka_unit_test(test_forged_fork_proofs),
        cmocka_unit_test(test_rate_limit_before_verify),
        cmocka_unit_test(test_caps_hold_under_flood),
        cmocka_unit_test(test_sync_table_cap),
        cmocka_unit_test(test_blocked_author),
        cmocka_unit_test(test_malformed_and_unasked),
        cmocka_unit_test(test_range_not_as_asked),
        cmocka_unit_test(test_future_post),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
