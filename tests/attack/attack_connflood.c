/* A connection flood from one host (docs/SECURITY.md section 1): 1,000
 * CurveZMQ connections that complete the handshake and then say nothing,
 * kept alive by ZMTP heartbeats and re-made by libzmq whenever they are
 * closed. The node runs with the usual soft limit of 1,024 descriptors.
 * The attacker connects from 127.0.0.2, the honest client from 127.0.0.1
 * (two addresses on one machine, as two hosts would be). The figure: how
 * long an honest client's handshake takes during the flood, in TRIALS
 * tries. With "conn-caps" off, the attacker holds every slot of the
 * accounting table and honest handshakes fail. SAMIZDAT_ATTACK_LONG=1
 * makes 10 tries instead of 3. */
#include "testutil.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

#include "nodes.h"
#include "zclient.h"

enum { ATTACK_CONNS = 1000, FILES = 1024 };

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

static int
trials(void)
{
    return tu_attack_long() ? 10 : 3;
}

/* Starts the node with a soft limit of FILES descriptors (the test itself
 * needs more for its thousand sockets). */
static void
start_limited(fixture_t *f, char *const env[])
{
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = FILES;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    tn_start_env(&f->a, "connflood", "/dev/null", NULL, NULL, env);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

static int
attack(fixture_t *f, char *const env[], const char *label, double *slowest)
{
    tn_init(&f->a, f->root, f->runs++);
    start_limited(f, env);
    char from[160];
    zc_from_second_host(from, sizeof from, f->a.endpoint);
    void *ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, ATTACK_CONNS + 64);
    static void *socks[ATTACK_CONNS];
    for (int i = 0; i < ATTACK_CONNS; i++) {
        socks[i] = zc_dealer(ctx, f->a.node_pk, 0, NULL);
        int ivl = 1000;
        zmq_setsockopt(socks[i], ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
        assert_int_equal(zmq_connect(socks[i], from), 0);
    }
    sleep(2); /* the flood settles: every slot it can hold is held */
    int ok = 0;
    *slowest = 0;
    for (int i = 0; i < trials(); i++) {
        double took = zc_handshake_time(ctx, f->a.node_pk, f->a.endpoint, 2.0);
        ok += took >= 0;
        *slowest = took > *slowest ? took : *slowest;
        printf("attack_connflood: %s: honest handshake %d: %s", label, i + 1,
               took >= 0 ? "" : "none within 2 s\n");
        if (took >= 0) {
            printf("%.0f ms\n", took * 1000);
        }
    }
    long rss = tu_rss_kib(f->a.pid);
    for (int i = 0; i < ATTACK_CONNS; i++) {
        zmq_close(socks[i]);
    }
    zmq_ctx_term(ctx);
    printf("attack_connflood: %s: %d connections from 127.0.0.2, node at %d descriptors: "
           "%d of %d honest handshakes within 2 s (slowest %.0f ms); node RSS %ld KiB\n",
           label, ATTACK_CONNS, FILES, ok, trials(), *slowest * 1000, rss);
    tu_stop(f->a.pid, SIGKILL, 5);
    f->a.pid = 0;
    return ok;
}

static void
test_connection_flood(void **state)
{
    fixture_t *f = *state;
    double slow_on = 0, slow_off = 0;
    int on = attack(f, NULL, "defence on", &slow_on);
    char *env[] = {(char *)"SAMIZDAT_DEFENCE_OFF=conn-caps", NULL};
    int off = attack(f, env, "conn-caps OFF", &slow_off);
    assert_int_equal(on, trials());
    assert_true(off < trials()); /* the control: the flood holds every slot */
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connection_flood, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
