/* Nodes in one process on one loop: node_new twice with real LevelDB
 * stores, real keys and loopback ports; they connect, one publishes, the
 * other (following the author) receives the post through gossip; both
 * close and the loop closes with no handle left open.
 *
 * The clock test runs the same pair with injected clocks: the wall clock
 * jumps an hour back and then an hour forward while the nodes run. Since
 * every deadline runs on the monotonic clock, the nodes keep their peers,
 * keep pinging (the monotonic clock is stepped past the ping interval so a
 * ping is due at once) and keep gossiping. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "keys.h"
#include "node.h"
#include "post.h"
#include "store.h"

enum {
    WAIT_S = 20, /* any one condition, at most */
    HOUR_MS = 3600 * 1000,
};

/* The clocks both nodes run on: the system's, each moved by a step. */
typedef struct {
    uint64_t mono_step;
    int64_t wall_step;
} fake_clock_t;

static uint64_t
system_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t
fake_mono(void *ud)
{
    const fake_clock_t *c = ud;
    return system_ms(CLOCK_MONOTONIC) + c->mono_step;
}

static uint64_t
fake_wall(void *ud)
{
    const fake_clock_t *c = ud;
    return (uint64_t)((int64_t)system_ms(CLOCK_REALTIME) + c->wall_step);
}

typedef struct {
    char dir[512];
    store_t *store;
    keys_author_t author;
    keys_node_t nk;
    node_t *node;
    log_t log;
    char name[8];
    char endpoint[TRANSPORT_ENDPOINT_MAX];
    int alone_lines;  /* "this node is alone" said */
    int joined_lines; /* "no longer alone" said */
} tnode_t;

typedef struct {
    uv_loop_t loop;
    uv_timer_t poke; /* wakes the loop often, so waits check their condition */
    fake_clock_t clock;
    tnode_t a, b;
    int closed;
} world_t;

static void
sink(void *ud, log_level_t level, const char *line)
{
    tnode_t *t = ud;
    t->alone_lines += strstr(line, "this node is alone") != NULL;
    t->joined_lines += strstr(line, "no longer alone") != NULL;
    fprintf(stderr, "[%s] %s %s\n", t->name, log_level_name(level), line);
}

static void
on_poke(uv_timer_t *h)
{
    (void)h;
}

/* Runs the loop until cond(w) holds; false after seconds. */
static bool
run_until_s(world_t *w, bool (*cond)(world_t *w), int seconds)
{
    double deadline = tu_now() + seconds;
    while (!cond(w)) {
        if (tu_now() > deadline) {
            return false;
        }
        uv_run(&w->loop, UV_RUN_ONCE);
    }
    return true;
}

static bool
run_until(world_t *w, bool (*cond)(world_t *w))
{
    return run_until_s(w, cond, WAIT_S);
}

static void
node_start(world_t *w, tnode_t *t, const char *name, bool injected_clock)
{
    snprintf(t->name, sizeof t->name, "%s", name);
    tu_mkdtemp(t->dir, sizeof t->dir);
    char detail[256] = "";
    assert_int_equal(store_open(&t->store, t->dir, NULL, detail, sizeof detail), STORE_OK);
    keys_author_generate(&t->author);
    keys_node_generate(&t->nk);
    const char *level = getenv("SAMIZDAT_TEST_LOG");
    t->log = (log_t){level != NULL ? (log_level_t)log_level_parse(level) : LOG_LEVEL_WARN, sink, t};
    node_config_t cfg = {
        .data_dir = t->dir,
        .store = t->store,
        .author = &t->author,
        .node_key = &t->nk,
        .network = "inproc-test",
        .listen = {"tcp://127.0.0.1:0"},
        .log = &t->log,
    };
    if (injected_clock) {
        cfg.clock = (node_clock_t){fake_mono, fake_wall, &w->clock};
    }
    assert_int_equal(node_new(&t->node, &w->loop, &cfg), NODE_OK);
    node_status_t st;
    node_status(t->node, &st);
    assert_int_equal(st.n_listen, 1);
    snprintf(t->endpoint, sizeof t->endpoint, "%s", st.listen[0]);
}

static bool
both_ready(world_t *w)
{
    node_status_t a, b;
    node_status(w->a.node, &a);
    node_status(w->b.node, &b);
    return a.peers_ready > 0 && b.peers_ready > 0;
}

static void
world_start(world_t *w, bool injected_clock)
{
    memset(w, 0, sizeof *w);
    w->clock.mono_step = 0;
    assert_int_equal(uv_loop_init(&w->loop), 0);
    assert_int_equal(uv_timer_init(&w->loop, &w->poke), 0);
    assert_int_equal(uv_timer_start(&w->poke, on_poke, 10, 10), 0);
    node_start(w, &w->a, "a", injected_clock);
    node_start(w, &w->b, "b", injected_clock);
    assert_int_equal(node_add_peer(w->a.node, w->b.nk.pk, w->b.endpoint), NODE_OK);
    assert_true(run_until(w, both_ready));
    /* b replicates a's feed from now on. */
    assert_int_equal(store_follow(w->b.store, w->a.author.pk, fake_wall(&w->clock)), STORE_OK);
    node_follow_changed(w->b.node, w->a.author.pk, true);
}

static void
on_closed(void *ud)
{
    world_t *w = ud;
    w->closed++;
}

static bool
both_closed(world_t *w)
{
    return w->closed == 2;
}

static void
world_stop(world_t *w)
{
    node_close(w->a.node, on_closed, w);
    node_close(w->b.node, on_closed, w);
    assert_true(run_until(w, both_closed));
    uv_close((uv_handle_t *)&w->poke, NULL);
    assert_int_equal(uv_run(&w->loop, UV_RUN_DEFAULT), 0);
    /* Every handle the nodes opened is closed: nothing left on the loop. */
    assert_int_equal(uv_loop_close(&w->loop), 0);
    tnode_t *ts[2] = {&w->a, &w->b};
    for (int i = 0; i < 2; i++) {
        store_close(ts[i]->store);
        keys_author_wipe(&ts[i]->author);
        keys_node_wipe(&ts[i]->nk);
        tu_rmtree(ts[i]->dir);
    }
}

/* a publishes a post stamped with the (fake) wall clock. */
static void
publish(world_t *w, const char *text)
{
    post_t draft;
    post_err_t perr = POST_OK;
    post_init(&draft, POST_KIND_POST, 0, NULL, fake_wall(&w->clock));
    assert_int_equal(post_set_body(&draft, text, strlen(text)), POST_OK);
    assert_int_equal(store_publish(w->a.store, &w->a.author, &draft, &perr), STORE_OK);
    node_published(w->a.node, &draft);
}

static uint64_t want_seq;

static bool
b_has_want(world_t *w)
{
    store_head_t h;
    return store_get_head(w->b.store, w->a.author.pk, &h) == STORE_OK && h.seq >= want_seq;
}

/* a publishes, and b, which follows a, receives the post through gossip. */
static void
post_reaches_b(world_t *w, uint64_t seq, const char *text)
{
    publish(w, text);
    want_seq = seq;
    assert_true(run_until(w, b_has_want));
    node_gossip_status_t g;
    node_gossip_status(w->b.node, &g);
    assert_true(g.posts_stored >= seq);
}

static void
test_two_nodes_exchange_a_post(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    world_start(w, false);
    post_reaches_b(w, 1, "hello from a node in the same process");
    world_stop(w);
    free(w);
}

static uint64_t pongs_before;

/* PONGs either node received. Only a peer silent for NODE_PING_EVERY_MS
 * is pinged, and whichever node ticks first after a step may send
 * something that makes the other side hear from it: so one of the two,
 * not both, is sure to ping. */
static uint64_t
pongs_now(world_t *w)
{
    node_status_t a, b;
    node_status(w->a.node, &a);
    node_status(w->b.node, &b);
    return a.pongs + b.pongs;
}

static bool
ponged(world_t *w)
{
    return pongs_now(w) > pongs_before;
}

/* Every message either node sent has arrived. Only the two nodes talk,
 * over connections that stay up, so this becomes true between bursts. */
static bool
quiet(world_t *w)
{
    node_status_t a, b;
    node_status(w->a.node, &a);
    node_status(w->b.node, &b);
    return a.transport.msgs_out == b.transport.msgs_in &&
           b.transport.msgs_out == a.transport.msgs_in;
}

/* Steps the wall clock, then shows the nodes still ping (each gets a
 * PONG) and still gossip (a new post of a reaches b). */
static void
jump_and_check(world_t *w, int64_t wall_step, uint64_t seq)
{
    /* The step comes when nothing is in flight: a message arriving just
     * after it would count as hearing from the peer, and hide the drop
     * that a peer timeout on the wall clock would cause. */
    assert_true(run_until(w, quiet));
    w->clock.wall_step += wall_step;
    /* The monotonic clock steps past the ping interval, never past the
     * peer timeout: a peer is pinged at the next tick unless it was heard
     * from meanwhile, as when a message sent before the step arrives just
     * after it. So the step is repeated (each well inside the timeout,
     * since hearing from a peer restarts it) until a PING was answered. */
    pongs_before = pongs_now(w);
    for (int i = 0; i < 4 && !ponged(w); i++) {
        w->clock.mono_step += NODE_PING_EVERY_MS + 1000;
        (void)run_until_s(w, ponged, 3);
    }
    assert_true(ponged(w));
    char text[64];
    snprintf(text, sizeof text, "post %llu, wall clock moved %lld s", (unsigned long long)seq,
             (long long)(w->clock.wall_step / 1000));
    post_reaches_b(w, seq, text);
}

typedef struct {
    uint64_t wall_now;
    size_t count;
} seen_t;

static bool
check_seen(void *ud, const node_peer_info_t *p)
{
    seen_t *s = ud;
    assert_true(p->last_seen_ms <= s->wall_now + 1000);
    assert_true(p->last_seen_ms + NODE_PEER_TIMEOUT_MS >= s->wall_now);
    s->count++;
    return true;
}

/* The dial-back check is over: each node has one connection left, the
 * one a opened to b (b's dial back to a closes 2 s after its handshake). */
static bool
settled(world_t *w)
{
    node_status_t a, b;
    node_status(w->a.node, &a);
    node_status(w->b.node, &b);
    return a.peers_in + a.peers_out == 1 && b.peers_in + b.peers_out == 1 &&
           a.reach == NODE_REACH_REACHABLE && b.reach == NODE_REACH_REACHABLE;
}

static void
test_wall_clock_jumps(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    world_start(w, true);
    post_reaches_b(w, 1, "before the jumps");
    assert_true(run_until(w, settled));
    node_status_t a, b;
    node_status(w->a.node, &a);
    node_status(w->b.node, &b);
    uint64_t dropped_a = a.peers_dropped, dropped_b = b.peers_dropped;
    jump_and_check(w, -HOUR_MS, 2);    /* an hour back */
    jump_and_check(w, 2 * HOUR_MS, 3); /* an hour forward of the true time */
    node_status(w->a.node, &a);
    node_status(w->b.node, &b);
    /* The peers were kept throughout the jumps: no connection was dropped
     * and made again. */
    assert_int_equal(a.peers_dropped, dropped_a);
    assert_int_equal(b.peers_dropped, dropped_b);
    assert_true(a.peers_ready > 0 && b.peers_ready > 0);
    /* What is shown is wall time: b's peers were seen within the last
     * minute of b's (moved) wall clock. */
    seen_t seen = {fake_wall(&w->clock), 0};
    node_peers(w->b.node, check_seen, &seen);
    assert_true(seen.count > 0);
    world_stop(w);
    free(w);
}

static int alone_want;

static bool
a_alone_said(world_t *w)
{
    return w->a.alone_lines >= alone_want;
}

static bool
a_joined_said(world_t *w)
{
    return w->a.joined_lines >= 1;
}

/* A node with no peer says so in its log once it has been alone for a
 * while, again later while it stays alone, and says when a peer came. */
static void
test_alone_node_says_so(void **state)
{
    (void)state;
    world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    assert_int_equal(uv_loop_init(&w->loop), 0);
    assert_int_equal(uv_timer_init(&w->loop, &w->poke), 0);
    assert_int_equal(uv_timer_start(&w->poke, on_poke, 10, 10), 0);
    node_start(w, &w->a, "a", true);
    w->a.log.level = LOG_LEVEL_INFO;
    assert_int_equal(w->a.alone_lines, 0);
    w->clock.mono_step += NODE_ALONE_FIRST_MS;
    alone_want = 1;
    assert_true(run_until(w, a_alone_said));
    w->clock.mono_step += NODE_ALONE_AGAIN_MS;
    alone_want = 2;
    assert_true(run_until(w, a_alone_said));
    assert_int_equal(w->a.joined_lines, 0);
    node_start(w, &w->b, "b", true);
    assert_int_equal(node_add_peer(w->a.node, w->b.nk.pk, w->b.endpoint), NODE_OK);
    assert_true(run_until(w, a_joined_said));
    world_stop(w);
    free(w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_nodes_exchange_a_post),
        cmocka_unit_test(test_alone_node_says_so),
        cmocka_unit_test(test_wall_clock_jumps),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
