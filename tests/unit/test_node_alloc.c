/* The allocation-failure pass for node_new, on a real libuv loop: every
 * allocation the node's own code makes while starting (the node, its peer
 * table and buffers, the transport, the DHT, gossip, the saved peers) fails
 * in turn. Each failure must make node_new return NODE_ENOMEM with *out
 * NULL, leave no handle open (after the loop runs, uv_loop_close returns 0)
 * and leak nothing (ASan). Then a node that did start closes cleanly too.
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

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_new),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
