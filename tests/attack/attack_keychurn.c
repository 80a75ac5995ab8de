/* Key churn against the inbound key table (docs/SECURITY.md section 1). The
 * transport remembers, for each key that connected to it, the routing id
 * that reaches it; the table holds TRANSPORT_CONN_MAX keys. It used to
 * overwrite a random slot when full, so a stream of fresh keys, each
 * sending one message, erased the routes of ready inbound peers: a push to
 * an honest follower then failed, and the post came 30 s later by pull.
 *
 * The attack: B follows A and dialled A (so B is inbound at A). Fresh keys
 * connect to A, send one frame each and go, ROUNDS times CHURN of them;
 * after each round A posts and the test waits up to 1 s for B to have it.
 * With "in-keys" off (random overwrite) posts go missing. SAMIZDAT_ATTACK_LONG=1
 * runs 10 rounds instead of 5. */
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

enum { CHURN = 400 };

typedef struct {
    char root[400];
    char boot[600];
    tn_node_t a, b;
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
    if (f->b.pid > 0) {
        tu_stop(f->b.pid, SIGKILL, 5);
    }
    tu_rmtree(f->root);
    free(f);
    return 0;
}

static int
rounds(void)
{
    return tu_attack_long() ? 10 : 5;
}

/* One fresh key: connects, sends one frame, and goes. */
static void
one_key(void *ctx, const tn_node_t *a)
{
    void *s = zc_dealer(ctx, a->node_pk, 2000, NULL);
    assert_int_equal(zmq_connect(s, a->endpoint), 0);
    /* A PING frame: version 1, type 2, request id, and nothing else. */
    uint8_t frame[6] = {1, 2, 0, 0, 0, 1};
    zmq_send(s, frame, sizeof frame, 0);
    zmq_close(s);
}

static bool
b_has(fixture_t *f, const char *text)
{
    tu_run_t r;
    tn_cli(&r, &f->b, "timeline", "--limit", "5", NULL);
    bool there = r.status == 0 && strstr(r.out, text) != NULL;
    tu_run_free(&r);
    return there;
}

/* Posts that reached B within 1 s, of rounds(). */
static int
attack(fixture_t *f, char *const env[], const char *label)
{
    tn_init(&f->a, f->root, f->runs++);
    tn_init(&f->b, f->root, f->runs++);
    tn_start_env(&f->a, "keychurn", "/dev/null", NULL, NULL, env);
    snprintf(f->boot, sizeof f->boot, "%s/boot%d.list", f->root, f->runs);
    tn_write_bootstrap(f->boot, &f->a, 1);
    tn_start(&f->b, "keychurn", f->boot, NULL, NULL);
    assert_true(tn_wait_peer(&f->a, &f->b, 20));
    tu_run_t r;
    tn_cli(&r, &f->b, "follow", f->a.author_text, NULL, NULL);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    void *ctx = zmq_ctx_new();
    /* Closed sockets linger until their frame is out: on a loaded machine
     * more than libzmq's default of 1,023 may be open at once. */
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, 8192);
    int on_time = 0, n = rounds();
    double slowest = 0;
    for (int round = 0; round < n; round++) {
        for (int i = 0; i < CHURN; i++) {
            one_key(ctx, &f->a);
        }
        usleep(300000); /* let A take in the last of them */
        char text[64];
        snprintf(text, sizeof text, "after round %d of key churn", round + 1);
        tn_cli(&r, &f->a, "post", text, NULL, NULL);
        assert_int_equal(r.status, 0);
        tu_run_free(&r);
        double t0 = tu_now();
        bool arrived = false;
        while (!arrived && tu_now() - t0 < 1.0) {
            arrived = b_has(f, text);
            if (!arrived) {
                usleep(20000);
            }
        }
        if (arrived) {
            on_time++;
            slowest = tu_now() - t0 > slowest ? tu_now() - t0 : slowest;
        }
    }
    zmq_ctx_term(ctx);
    printf("attack_keychurn: %s: %d fresh keys in %d rounds; %d of %d pushes to the inbound "
           "follower arrived within 1 s (slowest %.0f ms)\n",
           label, CHURN * n, n, on_time, n, slowest * 1000);
    tu_stop(f->a.pid, SIGKILL, 5);
    tu_stop(f->b.pid, SIGKILL, 5);
    f->a.pid = f->b.pid = 0;
    return on_time;
}

static void
test_key_churn_keeps_routes(void **state)
{
    fixture_t *f = *state;
    int on = attack(f, NULL, "defence on");
    char *env[] = {(char *)"SAMIZDAT_DEFENCE_OFF=in-keys", NULL};
    int off = attack(f, env, "in-keys OFF");
    assert_int_equal(on, rounds());
    assert_true(off < rounds()); /* the control: random overwrites lose the route */
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_churn_keeps_routes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
