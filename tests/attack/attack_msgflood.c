/* Message floods from one peer (docs/SECURITY.md section 2): a peer that
 * sends as fast as it can, messages each cheap to send and each asking
 * for work: FIND_NODE (a routing-table walk and an answer) or HELLO (a
 * LevelDB write). Every message a key sends takes a token from its budget
 * before any work; a key that keeps sending far over it is banned. The
 * figure: the node's CPU time over the SECONDS seconds of the flood, as a
 * share of one core. With "msg-budget" off the node spends what the
 * attacker makes it spend. SAMIZDAT_ATTACK_LONG=1 floods for 20 s. */
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

static double
seconds(void)
{
    return tu_attack_long() ? 20 : 5;
}

/* CPU seconds (user + system) a process has used. */
static double
cpu_seconds(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    char *s = tu_read_file(path, NULL);
    assert_non_null(s);
    const char *p = strrchr(s, ')'); /* the name may hold spaces */
    assert_non_null(p);
    unsigned long long utime = 0, stime = 0;
    /* After ") ": state, then fields 4..13, then utime (14), stime (15). */
    int n = sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime);
    free(s);
    assert_int_equal(n, 2);
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

typedef enum { FIND_NODE, HELLO } kind_t;

static size_t
frame_of(kind_t kind, uint8_t *buf, size_t cap, const uint8_t pk[32], uint32_t i)
{
    size_t len = 0;
    if (kind == FIND_NODE) {
        dht_msg_t m;
        dht_msg_init(&m, DHT_MSG_FIND_NODE, i + 1);
        randombytes_buf(m.u.target, sizeof m.u.target);
        assert_int_equal(wire_encode_dht(&m, buf, cap, &len), WIRE_OK);
        return len;
    }
    wire_msg_t m;
    wire_init(&m, WIRE_HELLO, i + 1);
    snprintf(m.u.hello.network, sizeof m.u.hello.network, "%s", "msgflood");
    memcpy(m.u.hello.node_key, pk, 32);
    m.u.hello.caps = WIRE_CAP_GOSSIP;
    assert_int_equal(wire_encode(&m, buf, cap, &len), WIRE_OK);
    return len;
}

static double
attack(fixture_t *f, kind_t kind, char *const env[], const char *label)
{
    tn_init(&f->a, f->root, f->runs++);
    tn_start_env(&f->a, "msgflood", "/dev/null", NULL, NULL, env);
    char from[160];
    zc_from_second_host(from, sizeof from, f->a.endpoint);
    void *ctx = zmq_ctx_new();
    uint8_t pk[32];
    void *s = zc_dealer(ctx, f->a.node_pk, 0, pk);
    int hwm = 1000;
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    assert_int_equal(zmq_connect(s, from), 0);
    uint8_t buf[512];
    size_t len = frame_of(HELLO, buf, sizeof buf, pk, 0);
    zmq_send(s, buf, len, 0);
    usleep(200000);
    double cpu0 = cpu_seconds(f->a.pid), t0 = tu_now();
    uint64_t sent = 0;
    while (tu_now() - t0 < seconds()) {
        for (int i = 0; i < 100; i++) {
            len = frame_of(kind, buf, sizeof buf, pk, (uint32_t)sent);
            if (zmq_send(s, buf, len, ZMQ_DONTWAIT) == (int)len) {
                sent++;
            }
        }
    }
    double share = (cpu_seconds(f->a.pid) - cpu0) / (tu_now() - t0);
    zmq_close(s);
    zmq_ctx_term(ctx);
    printf("attack_msgflood: %s %s: %llu messages queued by the attacker in %.0f s; the node used "
           "%.1f%% of a core\n",
           kind == FIND_NODE ? "FIND_NODE" : "HELLO", label, (unsigned long long)sent, seconds(),
           share * 100);
    tu_stop(f->a.pid, SIGKILL, 5);
    f->a.pid = 0;
    return share;
}

static void
flood(void **state, kind_t kind)
{
    fixture_t *f = *state;
    double on = attack(f, kind, NULL, "defence on");
    char *env[] = {(char *)"SAMIZDAT_DEFENCE_OFF=msg-budget", NULL};
    double off = attack(f, kind, env, "msg-budget OFF");
    assert_true(on <= 0.10);
    assert_true(off > 2 * on && off > 0.10); /* the control */
}

static void
test_find_node_flood(void **state)
{
    flood(state, FIND_NODE);
}

static void
test_hello_flood(void **state)
{
    flood(state, HELLO);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_find_node_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hello_flood, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
