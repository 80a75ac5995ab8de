/* Forged posts and lasting consequences (docs/SECURITY.md section 2). A
 * peer that sends posts whose signatures do not verify is scored down and
 * dropped. Dropping it used to only forget it: the connection stayed open,
 * and a new HELLO, or a new key from the same host, started again with a
 * clean score, so one host could make the node check forged signatures
 * for ever. Now a dropped peer's connection is closed and its key and
 * address are banned for NODE_BAN_MS.
 *
 * The attack, from 127.0.0.2 (a second address on this machine): every
 * 100 ms or so a new connection with a fresh key says HELLO and pushes
 * BATCH posts in the name of an author the node follows, each with a
 * broken signature, then says HELLO again and goes on, HELLOS times; for
 * 10 s. The figures: how many forged signatures the node checked, and
 * how many of the genuine posts the real author makes meanwhile (one
 * every third round) reach the node within 1 s. With "bans" off every new
 * key starts from nothing.
 * SAMIZDAT_ATTACK_LONG=1 attacks for 60 s instead of 10. */
#include "testutil.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "gossipmsg.h"
#include "keys.h"
#include "keytext.h"
#include "nodes.h"
#include "post.h"
#include "wire.h"
#include "zclient.h"

enum { BATCH = 20, HELLOS = 8 };

typedef struct {
    char root[400];
    char boot[600];
    tn_node_t a, x;
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
    if (f->x.pid > 0) {
        tu_stop(f->x.pid, SIGKILL, 5);
    }
    tu_rmtree(f->root);
    free(f);
    return 0;
}

static double
seconds(void)
{
    return tu_attack_long() ? 60 : 10;
}

/* A post in the name of author x_pk with seq, signed by someone else: a
 * whole frame. */
static size_t
forged_post(uint8_t *out, size_t cap, const uint8_t x_pk[32], uint64_t seq)
{
    keys_author_t throwaway;
    keys_author_generate(&throwaway);
    const keys_author_t *x = &throwaway;
    post_t p;
    uint8_t prev[POST_ID_SIZE];
    memset(prev, 0x11, sizeof prev);
    post_init(&p, POST_KIND_POST, seq, seq > 1 ? prev : NULL, (uint64_t)time(NULL) * 1000);
    char body[64];
    int n = snprintf(body, sizeof body, "not really mine, #%llu", (unsigned long long)seq);
    assert_int_equal(post_set_body(&p, body, (size_t)n), POST_OK);
    uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    assert_int_equal(post_sign(&p, x, raw, sizeof raw, &len), POST_OK);
    memcpy(raw + 2, x_pk, 32); /* the author field (PROTOCOL.md 4.1) */
    keys_author_wipe(&throwaway);
    gossip_msg_t m;
    gossip_msg_init(&m, GOSSIP_POST, 0);
    m.u.post.p = raw;
    m.u.post.len = (uint16_t)len;
    size_t flen = 0;
    assert_int_equal(gossip_msg_encode(&m, out, cap, &flen), GOSSIP_MSG_OK);
    return flen;
}

/* One round: a fresh key from 127.0.0.2, HELLO, BATCH forged posts. */
static void
round_of(void *ctx, const tn_node_t *a, const char *from, const uint8_t x[32], uint64_t *seq)
{
    uint8_t pk[32];
    void *s = zc_dealer(ctx, a->node_pk, 200, pk);
    assert_int_equal(zmq_connect(s, from), 0);
    wire_msg_t m;
    wire_init(&m, WIRE_HELLO, 7);
    snprintf(m.u.hello.network, sizeof m.u.hello.network, "%s", "forge");
    memcpy(m.u.hello.node_key, pk, 32);
    m.u.hello.caps = WIRE_CAP_GOSSIP;
    uint8_t buf[2048];
    size_t len = 0;
    assert_int_equal(wire_encode(&m, buf, sizeof buf, &len), WIRE_OK);
    /* A dropped peer that says HELLO again on the same connection used to
     * start again with a clean score. */
    for (int again = 0; again < HELLOS; again++) {
        zmq_send(s, buf, len, ZMQ_DONTWAIT);
        usleep(10000); /* HELLO first, so the posts come from a gossip peer */
        for (int i = 0; i < BATCH; i++) {
            uint8_t post[2048];
            size_t plen = forged_post(post, sizeof post, x, ++*seq);
            zmq_send(s, post, plen, ZMQ_DONTWAIT);
        }
    }
    usleep(70000);
    zmq_close(s);
}

/* X posts; whether A has it within 1 s. */
static bool
genuine_arrives(fixture_t *f, int n)
{
    char text[64];
    snprintf(text, sizeof text, "genuine post %d", n);
    tu_run_t r;
    tn_cli(&r, &f->x, "post", text, NULL, NULL);
    bool posted = r.status == 0;
    tu_run_free(&r);
    double t0 = tu_now();
    while (posted && tu_now() - t0 < 1.0) {
        tn_cli(&r, &f->a, "timeline", "--limit", "5", NULL);
        bool there = r.status == 0 && strstr(r.out, text) != NULL;
        tu_run_free(&r);
        if (there) {
            return true;
        }
        usleep(20000);
    }
    return false;
}

typedef struct {
    long invalid;
    int genuine, genuine_on_time;
} outcome_t;

static outcome_t
attack(fixture_t *f, char *const env[], const char *label)
{
    outcome_t o = {0};
    tn_init(&f->a, f->root, f->runs++);
    tn_init(&f->x, f->root, f->runs++);
    tn_start_env(&f->a, "forge", "/dev/null", NULL, NULL, env);
    snprintf(f->boot, sizeof f->boot, "%s/boot%d.list", f->root, f->runs);
    tn_write_bootstrap(f->boot, &f->a, 1);
    tn_start(&f->x, "forge", f->boot, NULL, NULL);
    assert_true(tn_wait_peer(&f->a, &f->x, 20));
    tu_run_t r;
    tn_cli(&r, &f->a, "follow", f->x.author_text, NULL, NULL);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    uint8_t x[32];
    assert_int_equal(keytext_decode(x, KEYTEXT_AUTHOR, f->x.author_text), KEYTEXT_OK);
    assert_true(genuine_arrives(f, 0)); /* the link works before the attack */
    char from[160];
    zc_from_second_host(from, sizeof from, f->a.endpoint);
    void *ctx = zmq_ctx_new();
    uint64_t seq = 0;
    int rounds = 0;
    double t0 = tu_now();
    while (tu_now() - t0 < seconds()) {
        round_of(ctx, &f->a, from, x, &seq);
        if (++rounds % 3 == 0) {
            o.genuine++;
            o.genuine_on_time += genuine_arrives(f, o.genuine);
        }
    }
    zmq_ctx_term(ctx);
    usleep(300000);
    o.invalid = tn_status_count(&f->a, "invalid");
    long limited = tn_status_count(&f->a, "rate_limited");
    printf("attack_forge: %s: %d keys from 127.0.0.2 sent %llu posts forged in X's name in %.0f "
           "s; the node checked %ld forged signatures (%.0f a minute), %ld dropped unchecked by "
           "rate limits; %d of %d genuine posts of X reached the node within 1 s\n",
           label, rounds, (unsigned long long)seq, seconds(), o.invalid,
           (double)o.invalid * 60.0 / seconds(), limited, o.genuine_on_time, o.genuine);
    tu_stop(f->a.pid, SIGKILL, 5);
    tu_stop(f->x.pid, SIGKILL, 5);
    f->a.pid = f->x.pid = 0;
    return o;
}

static void
test_forgers_are_banned(void **state)
{
    fixture_t *f = *state;
    outcome_t on = attack(f, NULL, "defence on");
    char *env[] = {(char *)"SAMIZDAT_DEFENCE_OFF=bans", NULL};
    outcome_t off = attack(f, env, "bans OFF");
    /* One peer is dropped after a handful of bad signatures; the ban keeps
     * its address from trying again. */
    assert_true(on.invalid >= 1);
    assert_true((double)on.invalid * 60.0 / seconds() <= 200);
    assert_true(on.genuine_on_time * 100 >= on.genuine * 99);
    assert_true(off.invalid > 4 * on.invalid); /* the control: every new key starts afresh */
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_forgers_are_banned, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
