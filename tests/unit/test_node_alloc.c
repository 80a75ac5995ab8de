/* The allocation-failure pass for node_new, on a real libuv loop: every
 * allocation the node's own code makes while starting (the node, its peer
 * table and buffers, the transport, the DHT, gossip, the saved peers) fails
 * in turn. Each failure must make node_new return NODE_ENOMEM with *out
 * NULL, leave no handle open (after the loop runs, uv_loop_close returns 0)
 * and leak nothing (ASan). Then a node that did start closes cleanly too.
 *
 * Then a session of two nodes on one loop: B follows A, they connect, A
 * publishes, the post reaches B. Every allocation the nodes' own code makes
 * in that session (peers, gossip and DHT state for the other node, frames
 * queued for it) fails in turn. The order of allocations depends on the
 * timing of real sockets, so a round is not exactly repeatable; what each
 * round must show is the same: no crash, both nodes close, the loop closes
 * with no handle open, and ASan finds no leak.
 *
 * Only loopback: the node listens on 127.0.0.1 (an ephemeral port), with
 * no LAN discovery and no bootstrap list. What libzmq, libuv and LevelDB
 * allocate inside themselves is not counted (tests/util/tu_alloc.h). */
#include "testutil.h"
#include "tu_alloc.h"

#include <sodium.h>
#include <string.h>
#include <uv.h>

#include "keys.h"
#include "node.h"
#include "post.h"
#include "store.h"

typedef struct {
    char dir[512];
    store_t *store;
    keys_author_t author;
    keys_node_t node_key;
} fx_t;

static void
closed(void *ud)
{
    (*(int *)ud)++;
}

static bool
new_round(void *ud, long n)
{
    fx_t *fx = ud;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    node_config_t cfg = {
        .data_dir = fx->dir,
        .store = fx->store,
        .author = &fx->author,
        .node_key = &fx->node_key,
        .network = "alloc-test",
        .listen = {"tcp://127.0.0.1:0"},
        .lan = false,
    };
    node_t *node = NULL;
    tu_alloc_start(n);
    node_err_t err = node_new(&node, &loop, &cfg);
    tu_alloc_stop();
    int done = 0;
    if (err != NODE_OK) {
        assert_int_equal(err, NODE_ENOMEM);
        assert_null(node);
    } else {
        node_close(node, closed, &done);
    }
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(done, err == NODE_OK);
    return err == NODE_OK;
}

static void
test_node_new(void **state)
{
    (void)state;
    fx_t fx;
    memset(&fx, 0, sizeof fx);
    tu_mkdtemp(fx.dir, sizeof fx.dir);
    char path[600];
    snprintf(path, sizeof path, "%s/store", fx.dir);
    assert_int_equal(store_open(&fx.store, path, NULL, NULL, 0), STORE_OK);
    uint8_t seed[32];
    memset(seed, 0x61, 32);
    keys_author_from_seed(&fx.author, seed);
    memset(seed, 0x62, 32);
    keys_node_from_seed(&fx.node_key, seed);
    /* A saved peer, so starting reads (and prunes) the saved peers too. */
    uint8_t peer[32];
    memset(peer, 0x70, 32);
    assert_int_equal(store_peer_save(fx.store, peer, "tcp://127.0.0.1:9", 1), STORE_OK);

    long failed = tu_alloc_pass(new_round, &fx, 1000);
    print_message("node_new: %ld allocations failed in turn\n", failed);
    assert_true(failed > 5);

    store_close(fx.store);
    keys_author_wipe(&fx.author);
    keys_node_wipe(&fx.node_key);
    tu_rmtree(fx.dir);
}

/* One node of the session, with its own data directory and store. */
typedef struct {
    char dir[512];
    store_t *store;
    keys_author_t author;
    keys_node_t node_key;
    node_t *node;
} member_t;

static void
member_open(member_t *m, uv_loop_t *loop, uint8_t seed_byte)
{
    memset(m, 0, sizeof *m);
    tu_mkdtemp(m->dir, sizeof m->dir);
    char path[600];
    snprintf(path, sizeof path, "%s/store", m->dir);
    assert_int_equal(store_open(&m->store, path, NULL, NULL, 0), STORE_OK);
    uint8_t seed[32];
    memset(seed, seed_byte, 32);
    keys_author_from_seed(&m->author, seed);
    seed[0] ^= 0xff;
    keys_node_from_seed(&m->node_key, seed);
    node_config_t cfg = {
        .data_dir = m->dir,
        .store = m->store,
        .author = &m->author,
        .node_key = &m->node_key,
        .network = "alloc-test",
        .listen = {"tcp://127.0.0.1:0"},
        .lan = false,
    };
    assert_int_equal(node_new(&m->node, loop, &cfg), NODE_OK);
}

static void
member_free(member_t *m)
{
    store_close(m->store);
    keys_author_wipe(&m->author);
    keys_node_wipe(&m->node_key);
    tu_rmtree(m->dir);
}

typedef struct {
    member_t *b;
    uint8_t id[POST_ID_SIZE];
    uint64_t deadline;
    bool arrived;
} watch_t;

/* Stops the loop once B holds A's post, or at the deadline. */
static void
on_watch(uv_timer_t *h)
{
    watch_t *w = h->data;
    bool yes = false;
    tu_alloc_pause();
    (void)store_has_post(w->b->store, w->id, &yes);
    tu_alloc_resume();
    if (yes || uv_now(h->loop) >= w->deadline) {
        w->arrived = yes;
        uv_stop(h->loop);
    }
}

static void
watch_closed(uv_handle_t *h)
{
    (void)h;
}

/* One session with allocation n failing (-1: none); returns how many
 * allocations the nodes made during it, and whether the post arrived. */
static long
session(long n, bool *arrived)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    member_t a, b;
    member_open(&a, &loop, 0x11);
    member_open(&b, &loop, 0x22);
    node_status_t st;
    node_status(b.node, &st);
    assert_true(st.n_listen > 0);

    tu_alloc_start(n);
    assert_int_equal(store_follow(b.store, a.author.pk, 1), STORE_OK);
    node_follow_changed(b.node, a.author.pk, true);
    assert_int_equal(node_add_peer(a.node, b.node_key.pk, st.listen[0]), NODE_OK);
    post_t draft;
    post_init(&draft, POST_KIND_POST, 0, NULL, 1700000000000ull);
    assert_int_equal(post_set_body(&draft, "through the session", 19), POST_OK);
    tu_alloc_pause();
    assert_int_equal(store_publish(a.store, &a.author, &draft, NULL), STORE_OK);
    tu_alloc_resume();
    node_published(a.node, &draft);

    watch_t w = {.b = &b, .deadline = uv_now(&loop) + 5000};
    memcpy(w.id, draft.id, POST_ID_SIZE);
    uv_timer_t timer;
    uv_timer_init(&loop, &timer);
    timer.data = &w;
    uv_timer_start(&timer, on_watch, 5, 5);
    uv_run(&loop, UV_RUN_DEFAULT);
    long used = tu_alloc_stop();

    uv_close((uv_handle_t *)&timer, watch_closed);
    int done = 0;
    node_close(a.node, closed, &done);
    node_close(b.node, closed, &done);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(done, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
    member_free(&a);
    member_free(&b);
    *arrived = w.arrived;
    return used;
}

static void
test_two_nodes_session(void **state)
{
    (void)state;
    bool arrived = false;
    long total = session(-1, &arrived);
    assert_true(arrived);
    assert_true(total > 10);
    long delivered = 0;
    for (long n = 0; n < total; n++) {
        bool ok = false;
        (void)session(n, &ok);
        delivered += ok;
        if (!ok)
            print_message("round %ld: no delivery\n", n);
    }
    print_message("session: %ld allocations, each failed in turn; the post arrived in %ld of "
                  "those rounds\n",
                  total, delivered);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_new),
        cmocka_unit_test(test_two_nodes_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
