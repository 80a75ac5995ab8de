/* The allocation-failure pass for node/net's constructors on a real libuv
 * loop: lan_new and transport_new, failing each allocation in turn. Each
 * failure must return its ENOMEM error, leave no handle open (the loop
 * closes: uv_loop_close returns 0) and leak nothing (ASan). What libzmq and
 * libuv allocate inside themselves is not counted (tests/util/tu_alloc.h).
 *
 * Only loopback is used: the LAN beacon listens on a UDP port but is closed
 * before its first beacon is due, and the transport listens on 127.0.0.1. */
#include "testutil.h"
#include "tu_alloc.h"

#include <sodium.h>
#include <string.h>
#include <uv.h>

#include "keys.h"
#include "lan.h"
#include "transport.h"
#include "wire.h"

static void
closed(void *ud)
{
    (*(int *)ud)++;
}

/* Runs the loop until nothing is left, then closes it: fails the test when
 * a handle is still open. */
static void
finish_loop(uv_loop_t *loop)
{
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void
on_found(void *ud, const uint8_t key[32], const char *endpoint)
{
    (void)ud;
    (void)key;
    (void)endpoint;
}

static bool
lan_round(void *ud, long n)
{
    (void)ud;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    uint8_t key[32];
    memset(key, 0x33, 32);
    lan_config_t cfg = {
        .network = "alloc-test",
        .node_key = key,
        .tcp_port = 7470,
        .udp_port = 0, /* any free port */
        .on_found = on_found,
    };
    lan_t *l = NULL;
    tu_alloc_start(n);
    lan_err_t err = lan_new(&l, &loop, &cfg);
    tu_alloc_stop();
    int done = 0;
    if (err != LAN_OK) {
        assert_int_equal(err, LAN_ENOMEM);
        assert_null(l);
    } else {
        lan_close(l, closed, &done);
    }
    finish_loop(&loop);
    assert_int_equal(done, err == LAN_OK);
    return err == LAN_OK;
}

static void
test_lan_new(void **state)
{
    (void)state;
    assert_true(tu_alloc_pass(lan_round, NULL, 100) > 0);
}

static void
on_msg(void *ud, transport_dir_t dir, const uint8_t key[32], const char *peer_addr,
       const uint8_t *data, size_t len)
{
    (void)ud;
    (void)dir;
    (void)key;
    (void)peer_addr;
    (void)data;
    (void)len;
}

static void
on_event(void *ud, transport_event_t ev, const uint8_t *key, const char *endpoint)
{
    (void)ud;
    (void)ev;
    (void)key;
    (void)endpoint;
}

static bool
transport_round(void *ud, long n)
{
    const keys_node_t *k = ud;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    transport_config_t cfg = {
        .key = k,
        .listen = {"tcp://127.0.0.1:0"},
        .max_frame = WIRE_MAX_FRAME,
        .on_msg = on_msg,
        .on_event = on_event,
    };
    transport_t *t = NULL;
    tu_alloc_start(n);
    transport_err_t err = transport_new(&t, &loop, &cfg);
    tu_alloc_stop();
    int done = 0;
    if (err != TRANSPORT_OK) {
        assert_int_equal(err, TRANSPORT_ENOMEM);
        assert_null(t);
    } else {
        transport_close(t, closed, &done);
    }
    finish_loop(&loop);
    assert_int_equal(done, err == TRANSPORT_OK);
    return err == TRANSPORT_OK;
}

static void
test_transport_new(void **state)
{
    (void)state;
    keys_node_t k;
    uint8_t seed[32];
    memset(seed, 0x44, 32);
    keys_node_from_seed(&k, seed);
    assert_true(tu_alloc_pass(transport_round, &k, 100) > 0);
    keys_node_wipe(&k);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lan_new),
        cmocka_unit_test(test_transport_new),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
