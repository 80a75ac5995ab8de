/* Garbage that asks for answers (docs/SECURITY.md section 8). Every frame
 * that does not decode is answered with an ERROR (PROTOCOL.md section 6),
 * so a peer that sends garbage as fast as it can would have the node spend
 * as much on answering as it spends on sending. The node answers at most
 * NODE_ERROR_ANSWERS_PER_S such frames a second in all. The attack: a
 * CURVE client sends FRAMES malformed frames at once and counts the ERRORs
 * that come back within 2 s. With "error-rate" off, every one is answered.
 * SAMIZDAT_ATTACK_LONG=1 sends 100,000 instead of 5,000. */
#include "testutil.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "node.h"
#include "nodes.h"
#include "wire.h"

typedef struct {
    char root[400];
    tn_node_t n;
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tu_mkdtemp(f->root, sizeof f->root);
    tn_init(&f->n, f->root, 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    if (f->n.pid > 0) {
        tu_stop(f->n.pid, SIGKILL, 5);
    }
    tu_rmtree(f->root);
    free(f);
    return 0;
}

static int
frames(void)
{
    return tu_attack_long() ? 100000 : 5000;
}

/* Sends the garbage and counts the ERROR answers within 2 s of the last. */
static int
attack(fixture_t *f, char *const env[], const char *label)
{
    tn_start_env(&f->n, "garbage-attack", "/dev/null", NULL, NULL, env);
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    uint8_t pk[32], sk[32];
    crypto_box_keypair(pk, sk);
    int zero = 0, hwm = 0, timeout = 2000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, f->n.node_pk, 32);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pk, 32);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sk, 32);
    assert_int_equal(zmq_connect(s, f->n.endpoint), 0);
    int count = frames();
    double t0 = tu_now();
    for (int i = 0; i < count; i++) {
        /* A HELLO whose payload is garbage: malformed, answerable. */
        uint8_t frame[13] = {1, 1, 0, 0, 0, 0, 'g', 'a', 'r', 'b', 'a', 'g', 'e'};
        frame[5] = (uint8_t)i;
        assert_int_equal(zmq_send(s, frame, sizeof frame, 0), (int)sizeof frame);
    }
    int answers = 0;
    char buf[512];
    while (zmq_recv(s, buf, sizeof buf, 0) > 0) {
        answers++;
    }
    double secs = tu_now() - t0 - timeout / 1000.0;
    zmq_close(s);
    zmq_ctx_term(ctx);
    printf("attack_garbage: %s: %d malformed frames sent in a burst, %d ERRORs answered "
           "(burst and answers took %.2f s)\n",
           label, count, answers, secs);
    assert_int_equal(tn_stop(&f->n), 0);
    /* The log stays readable: a few lines a second about the garbage, and
     * a count of those left out. */
    char *log = tu_read_file(f->n.log, NULL);
    assert_non_null(log);
    long lines = 0, left_out = 0;
    for (const char *p = log; (p = strstr(p, "refused a malformed message")) != NULL; p++) {
        lines++;
    }
    for (const char *p = log; (p = strstr(p, " more log lines about what peers did")) != NULL;
         p++) {
        const char *start = p;
        while (start > log && start[-1] >= '0' && start[-1] <= '9') {
            start--;
        }
        left_out += strtol(start, NULL, 10);
    }
    free(log);
    printf("attack_garbage: %s: %ld log lines about the garbage, %ld more counted as left out\n",
           label, lines, left_out);
    assert_true(lines <= 10 * 30); /* NODE_PEER_LOG_PER_S over at most 30 s */
    assert_true(left_out > 0);
    return answers;
}

static void
test_answers_to_garbage_are_bounded(void **state)
{
    fixture_t *f = *state;
    int answers = attack(f, NULL, "defence on");
    assert_true(answers >= 1);
    /* 50 a second over the few seconds the burst lasts, with a margin for
     * a slow machine: never one answer per frame. */
    assert_true(answers <= frames() / 10);
}

static void
test_garbage_without_the_defence(void **state)
{
    fixture_t *f = *state;
    char *env[] = {(char *)"SAMIZDAT_DEFENCE_OFF=error-rate,msg-budget", NULL};
    int answers = attack(f, env, "defence off");
    assert_true(answers > frames() / 2);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_answers_to_garbage_are_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_without_the_defence, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
