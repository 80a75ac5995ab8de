/* Connections that speak once and then hold their slot (docs/SECURITY.md
 * section 1): 300 CurveZMQ connections from one host, each sending one
 * message and then nothing but ZMTP heartbeats, which are not messages.
 * The silent-connection timer does not touch them (they spoke), so without
 * a cap per address they hold the accounting table and honest handshakes
 * fail, and without the idle timer they stay for ever. The node runs with
 * a 10 s idle time ($SAMIZDAT_IDLE_CLOSE_MS; 90 s as shipped) so the test
 * need not wait. The figures: connections from the attacking host the
 * node holds, honest handshakes within 2 s, and the connections still
 * held after the idle time. */
#include "testutil.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "nodes.h"
#include "zclient.h"

/* TRANSPORT_IN_PER_ADDRESS: the test sees the node from outside. */
enum { ATTACK_CONNS = 300, IDLE_MS = 10000, TRIALS = 3, BATCH = 8, IN_PER_ADDRESS = 32 };

typedef struct {
    char root[400];
    tn_node_t a;
    int runs;
} fixture_t;

typedef struct {
    int held;       /* attacker connections the node holds after the flood settled */
    int honest;     /* honest handshakes within 2 s */
    int held_later; /* attacker connections still held after the idle time */
} result_t;

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

/* Established TCP connections to the node's port from 127.0.0.2, as the
 * kernel lists them (the node's side of each; libzmq's sockets are dual
 * stack, so they are in tcp6 as IPv4-mapped addresses). */
static int
held_from_second_host(const tn_node_t *a)
{
    const char *colon = strrchr(a->endpoint, ':');
    unsigned port = colon != NULL ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
    static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    static const char *const second[] = {"0200007F", "0000000000000000FFFF00000200007F"};
    int n = 0;
    for (int i = 0; i < 2; i++) {
        FILE *fp = fopen(files[i], "r");
        assert_non_null(fp);
        char line[512], local[40], remote[40];
        unsigned lp, rp, st;
        while (fgets(line, sizeof line, fp) != NULL) {
            if (sscanf(line, " %*u: %39[0-9A-F]:%4X %39[0-9A-F]:%4X %2X", local, &lp, remote, &rp,
                       &st) == 5 &&
                lp == port && st == 1 && strcmp(remote, second[i]) == 0) {
                n++;
            }
        }
        fclose(fp);
    }
    return n;
}

static void
attack(fixture_t *f, const char *off, const char *label, result_t *r)
{
    char idle[64], defences[128];
    snprintf(idle, sizeof idle, "SAMIZDAT_IDLE_CLOSE_MS=%d", IDLE_MS);
    snprintf(defences, sizeof defences, "SAMIZDAT_DEFENCE_OFF=%s", off != NULL ? off : "");
    char *env[] = {idle, defences, NULL};
    tn_init(&f->a, f->root, f->runs++);
    tn_start_env(&f->a, "idleconn", "/dev/null", NULL, NULL, env);
    char from[160];
    zc_from_second_host(from, sizeof from, f->a.endpoint);
    void *ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, ATTACK_CONNS + 64);
    static void *socks[ATTACK_CONNS];
    /* A PING before HELLO: one complete message, answered with an ERROR. */
    static const uint8_t frame[6] = {1, 2, 0, 0, 0, 1};
    for (int i = 0; i < ATTACK_CONNS; i++) {
        socks[i] = zc_dealer(ctx, f->a.node_pk, 0, NULL);
        int ivl = 1000, never = -1;
        zmq_setsockopt(socks[i], ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
        zmq_setsockopt(socks[i], ZMQ_RECONNECT_IVL, &never, sizeof never);
        assert_int_equal(zmq_connect(socks[i], from), 0);
        zmq_send(socks[i], frame, sizeof frame, ZMQ_DONTWAIT);
        if (i % BATCH == BATCH - 1) {
            /* A few at a time, each speaking before the next come: the
             * cap on silent connections does not stop them. */
            usleep(60000);
        }
    }
    usleep(500000); /* the last have spoken */
    r->held = held_from_second_host(&f->a);
    r->honest = 0;
    for (int i = 0; i < TRIALS; i++) {
        r->honest += zc_handshake_time(ctx, f->a.node_pk, f->a.endpoint, 2.0) >= 0;
    }
    usleep((IDLE_MS + 2000) * 1000); /* from here: more than that since the last spoke */
    r->held_later = held_from_second_host(&f->a);
    for (int i = 0; i < ATTACK_CONNS; i++) {
        zmq_close(socks[i]);
    }
    zmq_ctx_term(ctx);
    printf("attack_idleconn: %s: %d connections from 127.0.0.2 that spoke once: the node held "
           "%d; %d of %d honest handshakes within 2 s; %d still held %.0f s after they went "
           "quiet (idle time %.0f s)\n",
           label, ATTACK_CONNS, r->held, r->honest, TRIALS, r->held_later,
           (IDLE_MS + 2000) / 1000.0, IDLE_MS / 1000.0);
    tu_stop(f->a.pid, SIGKILL, 5);
    f->a.pid = 0;
}

static void
test_idle_connections(void **state)
{
    fixture_t *f = *state;
    result_t on, caps_off, idle_off;
    attack(f, NULL, "defence on", &on);
    attack(f, "conn-caps", "conn-caps OFF", &caps_off);
    attack(f, "idle-close", "idle-close OFF", &idle_off);
    assert_true(on.held <= IN_PER_ADDRESS);
    assert_int_equal(on.honest, TRIALS);
    assert_int_equal(on.held_later, 0);
    /* The controls: without the cap the attacker holds the table and
     * honest handshakes fail; without the timer its connections stay. */
    assert_true(caps_off.held > IN_PER_ADDRESS);
    assert_true(caps_off.honest < TRIALS);
    assert_true(idle_off.held_later > 0);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_idle_connections, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
