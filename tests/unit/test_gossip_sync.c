/* Gossip pull: HEADS compared, ranges fetched in pages with their prev
 * links, a week offline caught up from a node that is not the author,
 * timeouts failing over to another peer, gaps, periodic HEADS, and a
 * partition that heals. */
#include "testutil.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "fakenet.h"
#include "gossip.h"
#include "gossipmsg.h"

enum { T0 = 1700000000000ull };

static void
publish_n(fakenode_t *a, size_t n)
{
    static uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        fakenode_publish(a, "a post of some length, to fill the pages", raw, &len);
    }
}

/* Records the max_count of every GET_RANGE it sees, the first page asked,
 * and whether the pages after it went up in order. */
typedef struct {
    size_t pages;
    size_t largest;
    uint64_t first_from;
    uint64_t last_from;
    uint64_t highest_end; /* the last seq asked for after the first page */
    bool ascending;
} pages_t;

static bool
watch_pages(void *ud, const fakeframe_t *f)
{
    pages_t *pg = ud;
    static gossip_msg_t m;
    if (f->frame[1] == GOSSIP_GET_RANGE &&
        gossip_msg_decode(&m, f->frame, f->len) == GOSSIP_MSG_OK) {
        pg->pages++;
        if (m.u.get_range.max_count > pg->largest) {
            pg->largest = m.u.get_range.max_count;
        }
        uint64_t from = m.u.get_range.from_seq;
        if (pg->pages == 1) {
            pg->first_from = from;
        } else {
            if (pg->pages > 2 && from <= pg->last_from) {
                pg->ascending = false;
            }
            uint64_t end = from + m.u.get_range.max_count - 1;
            pg->highest_end = end > pg->highest_end ? end : pg->highest_end;
            pg->last_from = from;
        }
    }
    return true;
}

/* 300 posts written while the follower was away: the newest page first
 * (so they show at once), then the rest from seq 1 up in pages of at most
 * GOSSIP_RANGE_MAX, each from where the last ended, never asking again for
 * the newest page; every prev link checked by the store (a broken one would
 * be fork evidence). */
static void
test_pull_paging(void **state)
{
    (void)state;
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *a = fakenet_add(net);
    fakenode_t *b = fakenet_add(net);
    publish_n(a, 300);
    fakenode_follow(b, a);
    pages_t pg = {.ascending = true};
    net->filter = watch_pages;
    net->filter_ud = &pg;
    fakenet_connect(a, b);
    fakenet_run(net, 10000, 10);
    assert_int_equal(fakenode_head(b, a), 300);
    assert_int_equal(fakestore_evidence(b->store), 0);
    assert_true(pg.pages >= 300 / GOSSIP_RANGE_MAX + 1);
    assert_int_equal(pg.largest, GOSSIP_RANGE_MAX);
    assert_int_equal(pg.first_from, 300 - GOSSIP_RANGE_MAX + 1);
    assert_true(pg.ascending);
    assert_int_equal(pg.highest_end, 300 - GOSSIP_RANGE_MAX);
    gossip_stats_t s = fakenode_stats(b);
    assert_int_equal(s.posts_verified, 300);
    assert_int_equal(s.posts_stored, 300);
    /* Pulled posts are not pushed on as new ones. */
    assert_int_equal(s.posts_forwarded, 0);
    assert_int_equal(s.syncing, 0);
    assert_int_equal(s.requests, 0);
    /* The pages never asked for more than the rate limits allow: nothing
     * fetched was dropped unverified. */
    assert_int_equal(s.rate_limited, 0);
    fakenet_free(net);
}

/* Counts GET_RANGE frames and RANGE answers: the most pages ever in
 * flight at once. */
typedef struct {
    size_t asked, answered, most;
} flight_t;

static bool
watch_flight(void *ud, const fakeframe_t *f)
{
    flight_t *fl = ud;
    if (f->frame[1] == GOSSIP_GET_RANGE) {
        fl->asked++;
    } else if (f->frame[1] == GOSSIP_RANGE) {
        fl->answered++;
    }
    size_t out = fl->asked - fl->answered;
    fl->most = out > fl->most ? out : fl->most;
    return true;
}

/* A catch-up is pipelined and not held to the budgets of unsolicited
 * posts: 3000 posts asked for arrive within a second of simulated time (at
 * the unsolicited rate of 100 a second they took 27 s), with at most
 * GOSSIP_SYNC_PIPELINE pages in flight and none dropped by a rate limit. */
static void
test_pull_pipelined(void **state)
{
    (void)state;
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *a = fakenet_add(net);
    fakenode_t *b = fakenet_add(net);
    publish_n(a, 3000);
    fakenode_follow(b, a);
    flight_t fl = {0};
    net->filter = watch_flight;
    net->filter_ud = &fl;
    fakenet_connect(a, b);
    fakenet_run(net, 1000, 10);
    assert_int_equal(fakenode_head(b, a), 3000);
    assert_int_equal(fl.most, GOSSIP_SYNC_PIPELINE);
    gossip_stats_t s = fakenode_stats(b);
    assert_int_equal(s.posts_stored, 3000);
    assert_int_equal(s.rate_limited, 0);
    assert_int_equal(s.requests_timed_out, 0);
    fakenet_free(net);
}

/* The author posts while one follower is away, then goes offline itself.
 * A week later the follower comes back, meets only the other follower, and
 * gets everything from it. */
static void
test_catch_up_from_non_author(void **state)
{
    (void)state;
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *a = fakenet_add(net);
    fakenode_t *b = fakenet_add(net);
    fakenode_t *c = fakenet_add(net);
    fakenode_follow(b, a);
    fakenode_follow(c, a);
    fakenet_connect(a, b);
    fakenet_connect(a, c);
    fakenet_connect(b, c);
    fakenet_run(net, 100, 10);
    publish_n(a, 10);
    fakenet_run(net, 1000, 10);
    assert_int_equal(fakenode_head(c, a), 10);

    fakenet_disconnect(a, c);
    fakenet_disconnect(b, c);
    for (int i = 0; i < 50; i++) {
        publish_n(a, 1);
        fakenet_run(net, 1000, 50);
    }
    assert_int_equal(fakenode_head(b, a), 60);
    fakenet_disconnect(a, b);
    net->now += 7ull * 24 * 3600 * 1000;
    fakenet_connect(b, c);
    fakenet_run(net, 5000, 10);
    assert_int_equal(fakenode_head(c, a), 60);
    assert_int_equal(fakestore_evidence(c->store), 0);
    assert_int_equal(fakenode_stats(b).ranges_served, 1);
    fakenet_free(net);
}

/* Drops every RANGE one node sends. */
typedef struct {
    const fakenode_t *mute;
    size_t dropped;
} mute_t;

static bool
drop_ranges_from(void *ud, const fakeframe_t *f)
{
    mute_t *m = ud;
    if (memcmp(f->from, m->mute->key, 32) == 0 && f->frame[1] == GOSSIP_RANGE) {
        m->dropped++;
        return false;
    }
    return true;
}

/* Two peers hold the feed; the one asked first never answers. After the
 * timeout the other is asked. */
static void
test_timeout_fails_over(void **state)
{
    (void)state;
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *a = fakenet_add(net);
    fakenode_t *b = fakenet_add(net);
    fakenode_t *c = fakenet_add(net);
    fakenode_t *d = fakenet_add(net);
    fakenode_follow(b, a);
    fakenode_follow(c, a);
    fakenode_follow(d, a);
    fakenet_connect(a, b);
    fakenet_connect(a, c);
    fakenet_run(net, 100, 10);
    publish_n(a, 20);
    fakenet_run(net, 2000, 10);
    fakenet_disconnect(a, b);
    fakenet_disconnect(a, c);
    assert_int_equal(fakenode_head(b, a), 20);
    assert_int_equal(fakenode_head(c, a), 20);

    mute_t mute = {.mute = b};
    net->filter = drop_ranges_from;
    net->filter_ud = &mute;
    fakenet_connect(d, b);
    fakenet_run(net, 100, 10);
    fakenet_connect(d, c);
    fakenet_run(net, 1000, 10);
    assert_int_equal(fakenode_head(d, a), 0);
    assert_int_equal(mute.dropped, 1);
    fakenet_run(net, GOSSIP_REQ_TIMEOUT_MS, 50);
    assert_int_equal(fakenode_stats(d).requests_timed_out, 1);
    assert_int_equal(fakenode_head(d, a), 20);
    fakenet_free(net);
}

/* n linked posts by k, seqs 1..n, signed into feed[i] / lens[i]. */
typedef struct {
    uint8_t raw[8][POST_MAX_SIZE];
    size_t len[8];
    uint8_t id[8][32];
} feed8_t;

static void
make_feed(feed8_t *f, const keys_author_t *k, size_t n, uint64_t ts)
{
    for (size_t i = 0; i < n; i++) {
        fakestore_sign(k, i + 1, i ? f->id[i - 1] : NULL, ts + i, "linked", f->raw[i], &f->len[i],
                       f->id[i]);
    }
}

static void
store_direct(fakenode_t *n, const uint8_t *raw, size_t len)
{
    static post_t p;
    gossip_ingest_t res;
    assert_int_equal(post_decode(&p, raw, len, POST_VERIFY), POST_OK);
    assert_int_equal(fakestore_ingest(n->store, &p, raw, len, n->net->now, &res), 0);
}

static bool
drop_heads(void *ud, const fakeframe_t *f)
{
    (void)ud;
    return f->frame[1] != GOSSIP_HEADS;
}

static void
push(fakenode_t *to, const fakenode_t *from, const uint8_t *raw, size_t len)
{
    static gossip_msg_t m;
    gossip_msg_init(&m, GOSSIP_POST, 0);
    m.u.post.p = raw;
    m.u.post.len = (uint16_t)len;
    assert_int_equal(gossip_receive(to->g, from->key, &m, to->net->now), GOSSIP_OK);
}

/* A post far ahead of our head, pushed eagerly: kept, and the gap pulled
 * from the peer that sent it, with no HEADS at all. */
static void
test_gap_pulled(void **state)
{
    (void)state;
    static feed8_t f;
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *a = fakenet_add(net);
    fakenode_t *b = fakenet_add(net);
    fakenode_t *e = fakenet_add(net);
    make_feed(&f, &a->author, 5, T0);
    fakenode_follow(b, a);
    fakenode_follow(e, a);
    for (size_t i = 0; i < 5; i++) {
        store_direct(b, f.raw[i], f.len[i]);
    }
    store_direct(e, f.raw[0], f.len[0]);
    store_direct(e, f.raw[1], f.len[1]);
    net->filter = drop_heads;
    fakenet_connect(b, e);
    fakenet_run(net, 100, 10);
    assert_int_equal(fakenode_head(e, a), 2);
    push(e, b, f.raw[4], f.len[4]);
    fakenet_run(net, 100, 10);
    assert_int_equal(fakenode_head(e, a), 5);
    gossip_stats_t s = fakenode_stats(e);
    assert_int_equal(s.pulls, 1);
    assert_int_equal(s.posts_stored, 3);
    fakenet_free(net);
}

/* Two feeds that agree on seq but not on id: the head's id gives the fork
 * away, the one post is fetched, and the store keeps it as evidence. */
static void
test_heads_reveal_fork(void **state)
{
    (void)state;
    static feed8_t f;
    static feed8_t g;
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *a = fakenet_add(net);
    fakenode_t *b = fakenet_add(net);
    fakenode_t *c = fakenet_add(net);
    make_feed(&f, &a->author, 3, T0);
    make_feed(&g, &a->author, 3, T0 + 1000); /* another history, same seqs */
    fakenode_follow(b, a);
    fakenode_follow(c, a);
    for (size_t i = 0; i < 3; i++) {
        store_direct(b, f.raw[i], f.len[i]);
        store_direct(c, g.raw[i], g.len[i]);
    }
    fakenet_connect(b, c);
    fakenet_run(net, 1000, 10);
    /* Each fetched the other's head and kept it as evidence, and told the
     * other with a proof. */
    assert_int_equal(fakestore_evidence(b->store), 1);
    assert_int_equal(fakestore_evidence(c->store), 1);
    assert_int_equal(fakenode_stats(b).forks_built, 1);
    assert_int_equal(fakenode_head(b, a), 3);
    fakenet_free(net);
}

static size_t heads_seen;

static bool
count_heads(void *ud, const fakeframe_t *f)
{
    (void)ud;
    heads_seen += f->frame[1] == GOSSIP_HEADS;
    return true;
}

/* HEADS on SUBSCRIBE, then every 30 to 60 s. */
static void
test_periodic_heads(void **state)
{
    (void)state;
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *a = fakenet_add(net);
    fakenode_t *b = fakenet_add(net);
    fakenode_follow(b, a);
    publish_n(a, 1);
    heads_seen = 0;
    net->filter = count_heads;
    fakenet_connect(a, b);
    fakenet_run(net, 100, 10);
    /* Each side's answer to the other's SUBSCRIBE (b's says it holds none
     * of a's feed); a's answer to that, being ahead; and b's announcement
     * of its new head once it pulled. */
    assert_int_equal(heads_seen, 4);
    assert_int_equal(fakenode_head(b, a), 1);
    heads_seen = 0;
    fakenet_run(net, 600 * 1000, 1000);
    /* Ten minutes: 10 to 20 periods per side. */
    assert_true(heads_seen >= 20 && heads_seen <= 40);
    fakenet_free(net);
}

/* A chain of followers cut in the middle while the author posts. When the
 * cut heals, the far side catches up hop by hop within seconds: each node
 * that pulled announces its new head, without waiting for the periodic
 * HEADS. */
static void
test_partition_heals(void **state)
{
    (void)state;
    enum { N = 6 };
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *n[N];
    for (size_t i = 0; i < N; i++) {
        n[i] = fakenet_add(net);
    }
    for (size_t i = 1; i < N; i++) {
        fakenode_follow(n[i], n[0]);
        fakenet_connect(n[i - 1], n[i]);
    }
    fakenet_run(net, 100, 10);
    publish_n(n[0], 5);
    fakenet_run(net, 2000, 10);
    for (size_t i = 1; i < N; i++) {
        assert_int_equal(fakenode_head(n[i], n[0]), 5);
    }
    fakenet_disconnect(n[2], n[3]);
    for (int i = 0; i < 20; i++) {
        publish_n(n[0], 1);
        fakenet_run(net, 100, 10);
    }
    assert_int_equal(fakenode_head(n[2], n[0]), 25);
    assert_int_equal(fakenode_head(n[3], n[0]), 5);
    fakenet_connect(n[2], n[3]);
    fakenet_run(net, 2000, 10);
    for (size_t i = 1; i < N; i++) {
        assert_int_equal(fakenode_head(n[i], n[0]), 25);
    }
    fakenet_free(net);
}

/* Drops the first SUBSCRIBE one node sends. */
typedef struct {
    const fakenode_t *from;
    bool dropped;
} lose_sub_t;

static bool
lose_first_subscribe(void *ud, const fakeframe_t *f)
{
    lose_sub_t *l = ud;
    if (!l->dropped && memcmp(f->from, l->from->key, 32) == 0 && f->frame[1] == GOSSIP_SUBSCRIBE) {
        l->dropped = true;
        return false;
    }
    return true;
}

/* b's SUBSCRIBE to c is lost, so c believes b replicates nothing and never
 * sends it HEADS. b's own HEADS (a head of 0) shows c that b is behind; c
 * answers with its heads and b pulls. */
static void
test_lost_subscribe_heals(void **state)
{
    (void)state;
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *a = fakenet_add(net);
    fakenode_t *b = fakenet_add(net);
    fakenode_t *c = fakenet_add(net);
    fakenode_follow(b, a);
    fakenode_follow(c, a);
    fakenet_connect(a, c);
    fakenet_run(net, 100, 10);
    publish_n(a, 3);
    fakenet_run(net, 1000, 10);
    fakenet_disconnect(a, c);
    lose_sub_t l = {.from = b, .dropped = false};
    net->filter = lose_first_subscribe;
    net->filter_ud = &l;
    fakenet_connect(b, c);
    fakenet_run(net, 1000, 10);
    assert_true(l.dropped);
    assert_int_equal(fakenode_head(b, a), 3);
    fakenet_free(net);
}

/* A SUBSCRIBE the send callback refused goes again at the next tick. */
static void
test_subscribe_retried(void **state)
{
    (void)state;
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *a = fakenet_add(net);
    fakenode_t *b = fakenet_add(net);
    fakenode_follow(b, a);
    b->send_fails = true;
    assert_int_equal(gossip_peer_up(b->g, a->key, net->now), GOSSIP_OK);
    assert_int_equal(gossip_peer_up(a->g, b->key, net->now), GOSSIP_OK);
    assert_true(fakenode_stats(b).frames_dropped > 0);
    b->send_fails = false;
    uint64_t next = 0;
    gossip_tick(b->g, net->now, &next);
    assert_true(next <= net->now + GOSSIP_RETRY_MS);
    net->now = next;
    gossip_tick(b->g, net->now, &next);
    assert_int_equal(fakenet_queued(net, b, a, GOSSIP_SUBSCRIBE), 1);
    fakenet_free(net);
}

/* What peers said of an author's head, for a node about to sign its own
 * next post: a peer may still tell until it has answered our SUBSCRIBE, or,
 * when it started sharing the author later, until our HEADS has had time
 * to be answered; a pull under way reports the head it was promised. */
static void
test_head_news(void **state)
{
    (void)state;
    fakenet_t *net = fakenet_new(T0);
    fakenode_t *a = fakenet_add(net);
    fakenode_t *b = fakenet_add(net);
    fakenode_t *c = fakenet_add(net);
    const uint8_t *own = a->author.pk;
    size_t pending = 0;
    uint64_t claimed = 99;
    fakenode_follow(b, a);
    fakenet_connect(a, b);
    gossip_head_news(a->g, own, net->now, &pending, &claimed);
    assert_int_equal(pending, 1); /* b's SUBSCRIBE has not come */
    assert_int_equal(claimed, 0);
    fakenet_run(net, 100, 10);
    gossip_head_news(a->g, own, net->now, &pending, &claimed);
    assert_int_equal(pending, 0); /* b answered with its head of a */

    /* c shares nothing with a at first, then follows a: a answers c's new
     * SUBSCRIBE with its HEADS, which c would answer if it were ahead. */
    fakenet_connect(a, c);
    fakenet_run(net, 100, 10);
    gossip_head_news(a->g, own, net->now, &pending, &claimed);
    assert_int_equal(pending, 0);
    fakenode_follow(c, a);
    fakenet_run(net, 100, 10);
    gossip_head_news(a->g, own, net->now, &pending, &claimed);
    assert_int_equal(pending, 1);
    fakenet_run(net, GOSSIP_HEADS_ANSWER_MS, 10);
    gossip_head_news(a->g, own, net->now, &pending, &claimed);
    assert_int_equal(pending, 0);

    /* A node behind on a feed, while its pull is under way. */
    publish_n(a, 5);
    fakenet_run(net, 1000, 10);
    assert_int_equal(fakenode_head(b, a), 5);
    fakenode_t *d = fakenet_add(net);
    fakenode_follow(d, a);
    mute_t m = {.mute = b};
    net->filter = drop_ranges_from;
    net->filter_ud = &m;
    fakenet_connect(b, d);
    fakenet_run(net, 200, 10);
    gossip_head_news(d->g, own, net->now, &pending, &claimed);
    assert_int_equal(pending, 0);
    assert_int_equal(claimed, 5);
    assert_true(m.dropped > 0);
    fakenet_free(net);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pull_paging),        cmocka_unit_test(test_pull_pipelined),        cmocka_unit_test(test_catch_up_from_non_author),
        cmocka_unit_test(test_timeout_fails_over), cmocka_unit_test(test_gap_pulled),
        cmocka_unit_test(test_heads_reveal_fork),  cmocka_unit_test(test_periodic_heads),
        cmocka_unit_test(test_partition_heals),    cmocka_unit_test(test_lost_subscribe_heals),
        cmocka_unit_test(test_subscribe_retried),  cmocka_unit_test(test_head_news),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
