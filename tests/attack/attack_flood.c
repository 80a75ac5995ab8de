/* Memory floods through the transport (docs/SECURITY.md section 1). libzmq
 * keeps every frame of a multipart message until its last one arrives, so
 * a peer that sends one message that never ends makes the node hold all of
 * it. The transport compares what each TCP connection received (TCP_INFO)
 * with what its complete messages account for, and cuts a connection that
 * is too far ahead. The attacks, each by raw CurveZMQ clients (zraw) that
 * stream frames marked "more" for ever:
 *
 *   one      one connection;
 *   eight    eight connections at once (the bound on all of them together);
 *   blinded  the accounting table first filled with idle TCP connections,
 *            so the flooding connection is not accounted unless refused.
 *
 * Each prints the node's RSS growth, the bytes sent before the cut and the
 * time to it, and checks that an honest peer still gets a new post. Run
 * with "flood-cut", "flood-budget" and "conn-table" off in turn, the same
 * floods grow the node past each bound. SAMIZDAT_ATTACK_LONG=1 sends up to
 * 1 GiB per attack instead of 256 MiB. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nodes.h"
#include "zraw.h"

enum { CONNS_MAX = 8, IDLE_CONNS = 300, FRAME_MAX = 4000, RSS_ENOUGH_KIB = 2 * 1024 * 1024 };

/* Under AddressSanitizer freed memory sits in its quarantine and every
 * allocation carries redzones, so resident memory says little about the
 * bounds: the figures are printed, the memory bounds checked only in a
 * plain build. */
#if defined(__SANITIZE_ADDRESS__)
#define MEMORY_CHECKED false
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMORY_CHECKED false
#endif
#endif
#ifndef MEMORY_CHECKED
#define MEMORY_CHECKED true
#endif

typedef struct {
    char root[400];
    char boot[600];
    tn_node_t a, b;
    int runs; /* node directories used so far */
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

static bool
long_run(void)
{
    return tu_attack_long();
}

/* Frame bytes sent before giving up on a cut, and seconds. */
static uint64_t
limit_bytes(void)
{
    return (long_run() ? 1024ull : 256ull) * 1024 * 1024;
}

static double
limit_seconds(void)
{
    return long_run() ? 30 : 4;
}

static int
port_of(const char *ep)
{
    const char *colon = strrchr(ep, ':');
    assert_non_null(colon);
    return (int)strtol(colon + 1, NULL, 10);
}

/* A and its follower B, B dialled by A. */
static void
start_pair(fixture_t *f, char *const env[])
{
    tn_init(&f->a, f->root, f->runs++);
    tn_init(&f->b, f->root, f->runs++);
    tn_start(&f->b, "flood", "/dev/null", NULL, NULL);
    snprintf(f->boot, sizeof f->boot, "%s/boot%d.list", f->root, f->runs);
    tn_write_bootstrap(f->boot, &f->b, 1);
    tn_start_env(&f->a, "flood", f->boot, NULL, NULL, env);
    assert_true(tn_wait_peer(&f->b, &f->a, 20));
    tu_run_t r;
    tn_cli(&r, &f->b, "follow", f->a.author_text, NULL, NULL);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
}

static void
stop_pair(fixture_t *f)
{
    tu_stop(f->a.pid, SIGKILL, 5);
    tu_stop(f->b.pid, SIGKILL, 5);
    f->a.pid = f->b.pid = 0;
}

/* Whether a post A makes now reaches B within seconds. */
static bool
honest_post_arrives(fixture_t *f, const char *text, double seconds, double *took)
{
    tu_run_t r;
    tn_cli(&r, &f->a, "post", text, NULL, NULL);
    bool posted = r.status == 0;
    tu_run_free(&r);
    double t0 = tu_now();
    while (posted && tu_now() - t0 < seconds) {
        tn_cli(&r, &f->b, "timeline", "--limit", "5", NULL);
        bool there = r.status == 0 && strstr(r.out, text) != NULL;
        tu_run_free(&r);
        if (there) {
            *took = tu_now() - t0;
            return true;
        }
        usleep(20000);
    }
    return false;
}

typedef struct {
    const char *name;
    int conns;
    bool blind;
    size_t frame; /* bytes in each frame: tiny frames cost libzmq the most memory */
} attack_t;

typedef struct {
    uint64_t sent; /* frame bytes written before every connection was cut */
    uint64_t frames;
    long grew_kib;  /* peak RSS over the start */
    int cut;        /* connections cut */
    double cut_s;   /* from the first frame to the last one a cut connection took */
    bool delivered; /* the honest post arrived */
    double post_s;
} outcome_t;

static int
open_idle(int *fds, int n, int port)
{
    int opened = 0;
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            fds[opened++] = fd;
        } else if (fd >= 0) {
            close(fd);
        }
    }
    return opened;
}

static outcome_t
run_attack(fixture_t *f, const attack_t *at, char *const env[])
{
    outcome_t o = {0};
    start_pair(f, env);
    int port = port_of(f->a.endpoint);
    long rss0 = tu_rss_kib(f->a.pid);
    long peak = rss0;
    static int idle[IDLE_CONNS];
    int n_idle = at->blind ? open_idle(idle, IDLE_CONNS, port) : 0;
    zraw_t z[CONNS_MAX];
    bool live[CONNS_MAX];
    for (int i = 0; i < at->conns; i++) {
        uint8_t pk[32], sk[32];
        crypto_box_keypair(pk, sk);
        char why[128];
        live[i] =
            zraw_connect(&z[i], "127.0.0.1", port, f->a.node_pk, pk, sk, why, sizeof why) == 0;
        if (!live[i]) {
            /* Refused at once: as good as a cut. */
            o.cut++;
        }
    }
    static uint8_t frame[FRAME_MAX];
    memset(frame, 0x5a, sizeof frame);
    size_t flen = at->frame;
    uint64_t limit = limit_bytes();
    double t0 = tu_now();
    double last_ok[CONNS_MAX];
    for (int i = 0; i < CONNS_MAX; i++) {
        last_ok[i] = t0;
    }
    int alive = at->conns - o.cut;
    uint64_t next_sample = 0;
    while (alive > 0 && o.sent < limit && tu_now() - t0 < limit_seconds()) {
        for (int i = 0; i < at->conns; i++) {
            if (!live[i]) {
                continue;
            }
            if (zraw_send(&z[i], frame, flen, true, 1000) != 0) {
                live[i] = false;
                alive--;
                o.cut++;
                o.cut_s = last_ok[i] - t0;
                continue;
            }
            last_ok[i] = tu_now();
            o.sent += flen;
            o.frames++;
        }
        if (o.frames >= next_sample) {
            long rss = tu_rss_kib(f->a.pid);
            peak = rss > peak ? rss : peak;
            next_sample = o.frames + 2000;
            if (peak - rss0 > RSS_ENOUGH_KIB) {
                break; /* the attack has plainly worked: spare the machine */
            }
        }
    }
    long rss = tu_rss_kib(f->a.pid);
    peak = rss > peak ? rss : peak;
    o.grew_kib = peak - rss0;
    o.delivered = honest_post_arrives(f, at->name, 5, &o.post_s);
    for (int i = 0; i < at->conns; i++) {
        zraw_close(&z[i]);
    }
    for (int i = 0; i < n_idle; i++) {
        close(idle[i]);
    }
    stop_pair(f);
    return o;
}

static void
report(const attack_t *at, const char *defence, const outcome_t *o)
{
    printf("attack_flood: %s (%d connection(s)%s, %zu-byte frames), defence %s: %d of %d cut; "
           "%llu frames (%.1f MiB) sent, the last a cut connection took %.2f s after the first; "
           "node RSS grew by %.1f MiB; honest post %s",
           at->name, at->conns, at->blind ? " after 300 idle TCP connections" : "", at->frame,
           defence, o->cut, at->conns, (unsigned long long)o->frames,
           (double)o->sent / (1024.0 * 1024.0), o->cut_s, o->grew_kib / 1024.0,
           o->delivered ? "arrived in" : "did NOT arrive");
    if (o->delivered) {
        printf(" %.0f ms", o->post_s * 1000);
    }
    printf("\n");
}

static void
attack_defended(fixture_t *f, const attack_t *at, long bound_mib)
{
    outcome_t on = run_attack(f, at, NULL);
    report(at, "on", &on);
    assert_int_equal(on.cut, at->conns);
    assert_true(!MEMORY_CHECKED || on.grew_kib <= bound_mib * 1024);
    assert_true(!MEMORY_CHECKED || on.cut_s < 1.0);
    assert_true(on.delivered);
}

static void
attack_both(fixture_t *f, const attack_t *at, const char *off, long bound_mib)
{
    outcome_t on = run_attack(f, at, NULL);
    report(at, "on", &on);
    char var[128];
    snprintf(var, sizeof var, "SAMIZDAT_DEFENCE_OFF=%s", off);
    char *env[] = {var, NULL};
    outcome_t without = run_attack(f, at, env);
    report(at, "OFF", &without);
    assert_int_equal(on.cut, at->conns);
    assert_true(!MEMORY_CHECKED || on.grew_kib <= bound_mib * 1024);
    assert_true(!MEMORY_CHECKED || on.cut_s < 1.0);
    assert_true(on.delivered);
    /* The control: without the defence the node grows past the bound. */
    assert_true(without.grew_kib > bound_mib * 1024);
}

static void
test_one_connection(void **state)
{
    attack_t big = {"one", 1, false, 4000};
    attack_both(*state, &big, "flood-cut", 64);
    attack_t tiny = {"one", 1, false, 1};
    attack_both(*state, &tiny, "flood-cut", 64);
}

static void
test_eight_connections(void **state)
{
    /* Large frames: each connection's own slack already holds them. */
    attack_t big = {"eight", 8, false, 4000};
    attack_defended(*state, &big, 128);
    attack_t tiny = {"eight", 8, false, 1};
    attack_both(*state, &tiny, "flood-budget", 128);
}

static void
test_blinded_table(void **state)
{
    attack_t at = {"blinded", 1, true, 4000};
    /* The idle connections come from one address: the cap on silent
     * connections per address would refuse them first, so it is off too. */
    attack_both(*state, &at, "conn-table,conn-caps", 64);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eight_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blinded_table, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
