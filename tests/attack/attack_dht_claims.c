/* Claimed endpoints in the routing table (docs/SECURITY.md section 3). A
 * peer says in HELLO where it can be reached; the routing table bounds
 * contacts per /24 by that endpoint, so one host that claims endpoints in
 * many /24s used to fill the table. Now an inbound peer's endpoint goes to
 * the DHT (routing table, provider records, PEERS answers) only when its
 * connection comes from that address; dialled peers are verified by the
 * dial itself.
 *
 * The attack: from 127.0.0.2, KEYS fresh keys each say HELLO claiming
 * tcp://10.I.0.1:7470, one /24 each, and send a DHT PING. The figure:
 * contacts in the node's routing table afterwards. With "observed-address"
 * off, the claims go in. */
#include "testutil.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "dhtmsg.h"
#include "nodes.h"
#include "wire.h"
#include "zclient.h"

enum { KEYS = 60 };

typedef struct {
    char root[400];
    tn_node_t a;
    int runs;
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tu_mkdtemp(f->root, sizeof f->root);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    if (f->a.pid > 0) {
        tu_stop(f->a.pid, SIGKILL, 5);
    }
    tu_rmtree(f->root);
    free(f);
    return 0;
}

static void *
claimer(void *ctx, const tn_node_t *a, const char *from, int i)
{
    uint8_t pk[32];
    void *s = zc_dealer(ctx, a->node_pk, 0, pk);
    assert_int_equal(zmq_connect(s, from), 0);
    wire_msg_t m;
    wire_init(&m, WIRE_HELLO, 7);
    snprintf(m.u.hello.network, sizeof m.u.hello.network, "%s", "claims");
    memcpy(m.u.hello.node_key, pk, 32);
    m.u.hello.n_endpoints = 1;
    snprintf(m.u.hello.endpoints[0].s, sizeof m.u.hello.endpoints[0].s, "tcp://10.%d.0.1:7470",
             i + 1);
    uint8_t buf[1024];
    size_t len = 0;
    assert_int_equal(wire_encode(&m, buf, sizeof buf, &len), WIRE_OK);
    zmq_send(s, buf, len, 0);
    dht_msg_t d;
    dht_msg_init(&d, DHT_MSG_PING, 9);
    assert_int_equal(wire_encode_dht(&d, buf, sizeof buf, &len), WIRE_OK);
    zmq_send(s, buf, len, 0);
    usleep(30000); /* one at a time: a real host's connections come and speak */
    return s;
}

static long
attack(fixture_t *f, char *const env[], const char *label)
{
    tn_init(&f->a, f->root, f->runs++);
    tn_start_env(&f->a, "claims", "/dev/null", NULL, NULL, env);
    char from[160];
    zc_from_second_host(from, sizeof from, f->a.endpoint);
    void *ctx = zmq_ctx_new();
    static void *socks[KEYS];
    for (int i = 0; i < KEYS; i++) {
        socks[i] = claimer(ctx, &f->a, from, i);
    }
    usleep(500000);
    long table = tn_status_count(&f->a, "table");
    long peers = tn_status_count(&f->a, "peers_in");
    for (int i = 0; i < KEYS; i++) {
        zmq_close(socks[i]);
    }
    zmq_ctx_term(ctx);
    printf("attack_dht_claims: %s: %d keys from 127.0.0.2 claimed endpoints in %d /24s; %ld "
           "became inbound peers; the routing table holds %ld contacts\n",
           label, KEYS, KEYS, peers, table);
    tu_stop(f->a.pid, SIGKILL, 5);
    f->a.pid = 0;
    return table;
}

static void
test_claimed_endpoints_stay_out(void **state)
{
    fixture_t *f = *state;
    long on = attack(f, NULL, "defence on");
    char *env[] = {(char *)"SAMIZDAT_DEFENCE_OFF=observed-address", NULL};
    long off = attack(f, env, "observed-address OFF");
    assert_int_equal(on, 0);
    assert_true(off >= 10); /* the control: the claims fill the table */
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_claimed_endpoints_stay_out, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
