/* A long import through a running node does not stop it answering peers:
 * while `samizdat import` feeds a large feed file to the node, a raw peer
 * pings it and the slowest round trip must stay bounded.
 *
 * make test imports 10,000 posts with a generous bound (300 ms; before the
 * import ran in slices the node went silent for the whole import, about
 * 0.7 s for 10,000 posts and 3.6 s for 50,000). The figure for the issue:
 *
 *     SAMIZDAT_RTT_POSTS=50000 SAMIZDAT_RTT_BOUND_MS=50 build/tests/test_import_rtt
 *
 * It prints, for the import, an export and a feed page of that many posts,
 * the number of pings and the slowest and median round trips. */
#include "testutil.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "keys.h"
#include "keytext.h"
#include "nodes.h"
#include "post.h"
#include "wire.h"

enum { PING_EVERY_MS = 10, SAMPLES_MAX = 100000 };

typedef struct {
    char root[400];
    char network[WIRE_NETWORK_MAX + 1];
    tn_node_t node;
} fixture_t;

static long
env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? strtol(v, NULL, 10) : dflt;
}

/* Writes a feed file of n posts by a fresh author. */
static void
write_feed(const char *path, long n)
{
    keys_author_t k;
    keys_author_generate(&k);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    static const uint8_t magic[8] = {'S', 'Z', 'F', 'E', 'E', 'D', 0x00, 0x01};
    assert_int_equal(fwrite(magic, 1, 8, f), 8);
    uint8_t prev[POST_ID_SIZE];
    uint8_t raw[POST_MAX_SIZE];
    for (long i = 1; i <= n; i++) {
        post_t p;
        post_init(&p, POST_KIND_POST, (uint64_t)i, i > 1 ? prev : NULL,
                  1700000000000ull + (uint64_t)i * 1000u);
        char body[64];
        int len = snprintf(body, sizeof body, "post %ld of a long feed", i);
        assert_int_equal(post_set_body(&p, body, (size_t)len), POST_OK);
        size_t rl = 0;
        assert_int_equal(post_sign(&p, &k, raw, sizeof raw, &rl), POST_OK);
        uint8_t hdr[2] = {(uint8_t)(rl >> 8), (uint8_t)rl};
        assert_int_equal(fwrite(hdr, 1, 2, f), 2);
        assert_int_equal(fwrite(raw, 1, rl, f), rl);
        memcpy(prev, p.id, POST_ID_SIZE);
    }
    assert_int_equal(fclose(f), 0);
    keys_author_wipe(&k);
}

/* A CurveZMQ peer that has said HELLO to the node. */
static void *
peer(void *ctx, fixture_t *f)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    uint8_t pk[32], sk[32];
    crypto_box_keypair(pk, sk);
    int zero = 0, timeout = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, f->node.node_pk, 32);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pk, 32);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sk, 32);
    assert_int_equal(zmq_connect(s, f->node.endpoint), 0);
    wire_msg_t m;
    wire_init(&m, WIRE_HELLO, 1);
    snprintf(m.u.hello.network, sizeof m.u.hello.network, "%s", f->network);
    memcpy(m.u.hello.node_key, pk, 32);
    snprintf(m.u.hello.software, sizeof m.u.hello.software, "test");
    uint8_t buf[512];
    size_t len = 0;
    assert_int_equal(wire_encode(&m, buf, sizeof buf, &len), WIRE_OK);
    assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
    char reply[8192];
    int n = zmq_recv(s, reply, sizeof reply, 0);
    assert_true(n > 0);
    assert_int_equal(wire_decode(&m, (const uint8_t *)reply, (size_t)n), WIRE_OK);
    assert_int_equal(m.type, WIRE_HELLO);
    return s;
}

/* One PING and its PONG: the round trip in ms (other messages the node
 * sends meanwhile are skipped). */
static double
ping(void *s, uint32_t rid)
{
    wire_msg_t m;
    wire_init(&m, WIRE_PING, rid);
    m.u.ping_nonce = rid * 7919u;
    uint8_t buf[64];
    size_t len = 0;
    assert_int_equal(wire_encode(&m, buf, sizeof buf, &len), WIRE_OK);
    double t0 = tu_now();
    assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
    for (;;) {
        char reply[8192];
        int n = zmq_recv(s, reply, sizeof reply, 0);
        if (n < 0) {
            fail_msg("no PONG within 5 s");
        }
        if (wire_decode(&m, (const uint8_t *)reply, (size_t)n) == WIRE_OK && m.type == WIRE_PONG &&
            m.request_id == rid) {
            return (tu_now() - t0) * 1000.0;
        }
    }
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs argv (the CLI against the node) in the background while pinging
 * the node every PING_EVERY_MS; fails unless it exits 0. Prints and returns
 * the slowest round trip; *pings counts them. The output goes to log. */
static double
run_pinging(void *s, uint32_t *rid, char *const argv[], const char *log, const char *what,
            size_t *pings)
{
    static double rtt[SAMPLES_MAX];
    size_t n = 0;
    int status = -1;
    double t0 = tu_now();
    int pid = tu_spawn(argv, NULL, log);
    while (n < SAMPLES_MAX) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            break;
        }
        rtt[n++] = ping(s, (*rid)++);
        usleep(PING_EVERY_MS * 1000);
    }
    double took = tu_now() - t0;
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0) {
        size_t len = 0;
        char *out = tu_read_file(log, &len);
        fail_msg("%s failed: %s", what, out ? out : "");
    }
    *pings = n;
    if (n == 0) {
        printf("%s: %.2f s, too quick for a ping\n", what, took);
        return 0;
    }
    qsort(rtt, n, sizeof rtt[0], cmp_double);
    printf("%s: %.2f s; %zu pings during it: median %.1f ms, slowest %.1f ms\n", what, took, n,
           rtt[n / 2], rtt[n - 1]);
    return rtt[n - 1];
}

static void
test_ping_during_import(void **state)
{
    fixture_t *f = *state;
    long posts = env_long("SAMIZDAT_RTT_POSTS", 10000);
    long bound = env_long("SAMIZDAT_RTT_BOUND_MS", 300);
    char feed[600], out_feed[600], empty[600], log[600], what[128];
    snprintf(feed, sizeof feed, "%s/long.feed", f->root);
    snprintf(out_feed, sizeof out_feed, "%s/again.feed", f->root);
    snprintf(empty, sizeof empty, "%s/empty.list", f->root);
    snprintf(log, sizeof log, "%s/import.log", f->root);
    write_feed(feed, posts);
    tu_write_file(empty, "", 0);
    tn_start(&f->node, f->network, empty, NULL, NULL);

    void *ctx = zmq_ctx_new();
    void *s = peer(ctx, f);
    uint32_t rid = 100;
    printf("idle round trip %.1f ms; bound %ld ms\n", ping(s, rid++), bound);

    char *import[] = {
        (char *)SAMIZDAT_BINARY, (char *)"--data", f->node.dir, (char *)"import", feed, NULL};
    snprintf(what, sizeof what, "import of %ld posts through the node", posts);
    size_t pings = 0;
    double worst = run_pinging(s, &rid, import, log, what, &pings);
    size_t len = 0;
    char *out = tu_read_file(log, &len);
    assert_non_null(out);
    char want[64];
    snprintf(want, sizeof want, "%ld added", posts);
    assert_non_null(strstr(out, want));
    free(out);
    /* The pings must have run during the import, not only around it. */
    assert_true(pings >= 3);
    assert_true(worst < (double)bound);

    /* Export and a long feed page are sliced too. The author is the one in
     * the file: read it back from the feed's first post. */
    uint8_t *data = (uint8_t *)tu_read_file(feed, &len);
    assert_non_null(data);
    post_t first;
    assert_int_equal(post_decode(&first, data + 10, (size_t)data[8] << 8 | data[9], POST_NO_VERIFY),
                     POST_OK);
    free(data);
    char at[KEYTEXT_BUFSZ], limit[32];
    keytext_encode(at, KEYTEXT_AUTHOR, first.author);
    char *export[] = {(char *)SAMIZDAT_BINARY,
                      (char *)"--data",
                      f->node.dir,
                      (char *)"export",
                      at,
                      out_feed,
                      NULL};
    snprintf(what, sizeof what, "export of %ld posts through the node", posts);
    worst = run_pinging(s, &rid, export, log, what, &pings);
    assert_true(worst < (double)bound);
    size_t len2 = 0;
    char *a = tu_read_file(feed, &len);
    char *b = tu_read_file(out_feed, &len2);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(len, len2); /* the same feed, byte for byte */
    assert_memory_equal(a, b, len);
    free(a);
    free(b);
    snprintf(limit, sizeof limit, "%ld", posts);
    char *feed_page[] = {(char *)SAMIZDAT_BINARY,
                         (char *)"--data",
                         f->node.dir,
                         (char *)"--json",
                         (char *)"feed",
                         at,
                         (char *)"--limit",
                         limit,
                         NULL};
    snprintf(what, sizeof what, "feed page of %ld posts through the node", posts);
    worst = run_pinging(s, &rid, feed_page, log, what, &pings);
    assert_true(worst < (double)bound);

    zmq_close(s);
    zmq_ctx_term(ctx);
    assert_int_equal(tn_stop(&f->node), 0);
}

/* Stopping the node during an import: the import is cancelled at its next
 * slice and says so, and the node exits cleanly at once. */
static void
test_stop_during_import(void **state)
{
    fixture_t *f = *state;
    char feed[600], empty[600], log[600];
    snprintf(feed, sizeof feed, "%s/long.feed", f->root);
    snprintf(empty, sizeof empty, "%s/empty.list", f->root);
    snprintf(log, sizeof log, "%s/import.log", f->root);
    write_feed(feed, 20000);
    tu_write_file(empty, "", 0);
    tn_start(&f->node, f->network, empty, NULL, NULL);
    char *argv[] = {
        (char *)SAMIZDAT_BINARY, (char *)"--data", f->node.dir, (char *)"import", feed, NULL};
    int pid = tu_spawn(argv, NULL, log);
    /* The node answers while it imports: wait until posts arrive. */
    double deadline = tu_now() + 30;
    long posts = 0;
    while ((posts = tn_status_count(&f->node, "posts")) <= 0 && tu_now() < deadline) {
        usleep(20000);
    }
    assert_true(posts > 0);
    double t0 = tu_now();
    assert_int_equal(tn_stop(&f->node), 0);
    printf("node stopped %.2f s after the signal, %ld posts in\n", tu_now() - t0, posts);
    int status = -1;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    size_t len = 0;
    char *out = tu_read_file(log, &len);
    assert_non_null(out);
    if (WEXITSTATUS(status) == 0 || strstr(out, "cancelled") == NULL) {
        fail_msg("import was not cancelled (exit %d): %s", WEXITSTATUS(status), out);
    }
    free(out);
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tu_mkdtemp(f->root, sizeof f->root);
    snprintf(f->network, sizeof f->network, "test-%08x", randombytes_random());
    tn_init(&f->node, f->root, 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    if (f->node.pid > 0) {
        tu_stop(f->node.pid, SIGKILL, 5);
    }
    tu_rmtree(f->root);
    free(f);
    return 0;
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ping_during_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_during_import, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
