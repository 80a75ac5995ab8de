/* Real samizdat processes on loopback: peering from one bootstrap entry,
 * restart from the saved peers, one node stopping, the CLI through the
 * control socket, and hostile clients: wrong key, no encryption, malformed,
 * oversized and endless frames. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "bytes.h"
#include "gossipmsg.h"
#include "head.h"
#include "keytext.h"
#include "node.h"
#include "nodes.h"
#include "post.h"
#include "socks5.h"
#include "wire.h"
#include "zraw.h"

enum { NODES_MAX = 4 };

typedef struct {
    char root[400];
    char network[WIRE_NETWORK_MAX + 1];
    tn_node_t n[NODES_MAX];
} fixture_t;

static void
start_node_with(fixture_t *f, int i, const char *bootstrap, const char *opt, const char *val)
{
    tn_start(&f->n[i], f->network, bootstrap, opt, val);
}

static void
start_node(fixture_t *f, int i, const char *bootstrap)
{
    start_node_with(f, i, bootstrap, NULL, NULL);
}

/* Writes root/empty.list and root/one.list (naming node 0) into the two
 * buffers (600 bytes each) and starts node 0 from the empty one. */
static void
start_first(fixture_t *f, char *empty, char *list)
{
    snprintf(empty, 600, "%s/empty.list", f->root);
    snprintf(list, 600, "%s/one.list", f->root);
    tu_write_file(empty, "# nothing\n", 10);
    start_node(f, 0, empty);
    tn_write_bootstrap(list, &f->n[0], 1);
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tu_mkdtemp(f->root, sizeof f->root);
    uint32_t r = randombytes_random();
    snprintf(f->network, sizeof f->network, "test-%08x", r);
    for (int i = 0; i < NODES_MAX; i++) {
        tn_init(&f->n[i], f->root, i);
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < NODES_MAX; i++) {
        if (f->n[i].pid > 0) {
            tu_stop(f->n[i].pid, SIGKILL, 5);
        }
    }
    if (getenv("SAMIZDAT_KEEP_TEST_DIRS") == NULL) {
        tu_rmtree(f->root);
    } else {
        fprintf(stderr, "kept %s\n", f->root);
    }
    free(f);
    return 0;
}

static void
test_three_nodes_restart_and_stop(void **state)
{
    fixture_t *f = *state;
    char empty[600], list[600];
    start_first(f, empty, list);
    start_node(f, 1, list);
    start_node(f, 2, list);
    /* Node 1 and 2 know only node 0, and meet through its PEERS answer. */
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            if (i != j && !tn_wait_peer(&f->n[i], &f->n[j], 30)) {
                fail_msg("node %d never became a peer of node %d", j, i);
            }
        }
    }
    /* Stop node 2 cleanly: exit code 0, no control socket left behind. */
    assert_int_equal(tu_stop(f->n[2].pid, SIGINT, 15), 0);
    f->n[2].pid = 0;
    char sock[sizeof f->root + 64];
    snprintf(sock, sizeof sock, "%.400s/control.sock", f->n[2].dir);
    assert_int_not_equal(access(sock, F_OK), 0);
    /* Restarted with an empty list, it finds both again from its store. */
    start_node(f, 2, empty);
    assert_true(tn_wait_peer(&f->n[2], &f->n[0], 30));
    assert_true(tn_wait_peer(&f->n[2], &f->n[1], 30));
    /* Stopping node 0 does not disturb the other two: once each has heard
     * from the other again, after node 0 is gone, they are still peers. */
    assert_int_equal(tu_stop(f->n[0].pid, SIGTERM, 15), 0);
    f->n[0].pid = 0;
    assert_true(tn_wait_heard_again(&f->n[1], &f->n[2], 60));
    assert_true(tn_wait_heard_again(&f->n[2], &f->n[1], 60));
    assert_true(tn_has_peer(&f->n[1], &f->n[2]));
    assert_true(tn_has_peer(&f->n[2], &f->n[1]));
    tu_run_t r;
    tn_cli(&r, &f->n[1], "post", "still here", NULL, NULL);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
}

static void
test_cli_through_control_socket(void **state)
{
    fixture_t *f = *state;
    char empty[600];
    snprintf(empty, sizeof empty, "%s/empty.list", f->root);
    tu_write_file(empty, "", 0);
    start_node(f, 0, empty);
    tn_node_t *t = &f->n[0];
    /* The node holds the store's lock, so these can only work through it. */
    tu_run_t r;
    tn_cli(&r, t, "post", "through the node", NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "published post #1"));
    tu_run_free(&r);
    char *argv[] = {(char *)SAMIZDAT_BINARY, (char *)"--data", t->dir,
                    (char *)"post",          (char *)"-",      NULL};
    tu_run(&r, argv, NULL, "from stdin via the node\n", 30);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    tn_cli(&r, t, "timeline", NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "through the node"));
    assert_non_null(strstr(r.out, "from stdin via the node"));
    tu_run_free(&r);
    tn_cli(&r, t, "status", NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "uptime:"));
    assert_non_null(strstr(r.out, "posts:      2"));
    tu_run_free(&r);
    /* A feed file comes back through the socket to standard output. */
    tn_cli(&r, t, "export", t->author_text, "-", NULL);
    assert_int_equal(r.status, 0);
    assert_true(r.out_len > 8);
    assert_memory_equal(r.out, "SZFEED\0\1", 8);
    tu_run_free(&r);
    /* Errors keep their exit codes through the socket. */
    tn_cli(&r, t, "follow", "sza1notakey", NULL, NULL);
    assert_int_equal(r.status, 3);
    tu_run_free(&r);
    tn_cli(&r, t, "peer", "add", "tcp://127.0.0.1:1", NULL);
    assert_int_equal(r.status, 2);
    tu_run_free(&r);
    /* The control socket is the owner's alone. */
    char sock[sizeof t->dir + 64];
    snprintf(sock, sizeof sock, "%s/control.sock", t->dir);
    struct stat st;
    assert_int_equal(stat(sock, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(tu_stop(t->pid, SIGINT, 15), 0);
    t->pid = 0;
    /* With the node gone the CLI opens the store itself again. */
    tn_cli(&r, t, "feed", NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "through the node"));
    tu_run_free(&r);
    tn_cli(&r, t, "peers", NULL, NULL, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "not running"));
    tu_run_free(&r);
}

/* `peer add` through a running node waits for the handshake and says how it
 * ended, with an exit code. */
static void
test_peer_add_reports(void **state)
{
    fixture_t *f = *state;
    char empty[600];
    snprintf(empty, sizeof empty, "%s/empty.list", f->root);
    tu_write_file(empty, "", 0);
    start_node(f, 0, empty);
    start_node(f, 1, empty);
    tu_run_t r;
    /* The right key: connected. */
    char *ok[] = {(char *)"peer", (char *)"add", f->n[1].endpoint, f->n[1].node_text, NULL};
    tn_cli_argv(&r, &f->n[0], ok);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "connected to"));
    tu_run_free(&r);
    assert_true(tn_has_peer(&f->n[0], &f->n[1]));
    /* Another node's key at that endpoint: the handshake never completes. */
    char *wrong[] = {
        (char *)"peer", (char *)"add", f->n[1].endpoint, f->n[2].node_text, (char *)"--timeout",
        (char *)"2",    NULL};
    tn_cli_argv(&r, &f->n[0], wrong);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "wrong node key"));
    tu_run_free(&r);
    /* Nobody listening. */
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", tu_closed_port());
    char *refused[] = {(char *)"peer", (char *)"add", ep, f->n[2].node_text, NULL};
    tn_cli_argv(&r, &f->n[0], refused);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "unreachable: connection refused"));
    tu_run_free(&r);
    /* JSON: the same result record. */
    char *json[] = {(char *)"--json", (char *)"peer",    (char *)"add",
                    f->n[1].endpoint, f->n[1].node_text, NULL};
    tn_cli_argv(&r, &f->n[0], json);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "{\"connected\":true,\"rtt_ms\":"));
    tu_run_free(&r);
    /* The round trip is measured from a PING right after the handshake,
     * in microseconds, not after 15 s of silence. */
    tn_cli(&r, &f->n[0], "--json", "peers", NULL, NULL);
    assert_int_equal(r.status, 0);
    const char *us = strstr(r.out, "\"rtt_us\":");
    assert_non_null(us);
    assert_true(us[9] >= '0' && us[9] <= '9');
    tu_run_free(&r);
    tn_cli(&r, &f->n[0], "peers", NULL, NULL, NULL);
    assert_non_null(strstr(r.out, " ms"));
    printf("peers: %s", r.out);
    tu_run_free(&r);
    /* Status says running, with the node key in its own field. */
    tn_cli(&r, &f->n[0], "--json", "status", NULL, NULL);
    assert_int_equal(r.status, 0);
    char want[160];
    snprintf(want, sizeof want, "\"node_key\":\"%s\"", f->n[0].node_text);
    assert_non_null(strstr(r.out, "{\"running\":true,"));
    assert_non_null(strstr(r.out, want));
    tu_run_free(&r);
}

/* ---- hostile clients, straight ZeroMQ ---- */

/* A libzmq CURVE client with a fresh key pair; its public key goes to
 * pk_out when that is not NULL. */
static void *
curve_client_key(void *ctx, const uint8_t server_pk[32], const char *endpoint, uint8_t *pk_out)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    uint8_t pk[32], sk[32];
    crypto_box_keypair(pk, sk);
    if (pk_out != NULL) {
        memcpy(pk_out, pk, 32);
    }
    int zero = 0, timeout = 3000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pk, 32);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pk, 32);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sk, 32);
    assert_int_equal(zmq_connect(s, endpoint), 0);
    return s;
}

static void *
curve_client(void *ctx, const uint8_t server_pk[32], const char *endpoint)
{
    return curve_client_key(ctx, server_pk, endpoint, NULL);
}

static size_t
hello_bytes(uint8_t *buf, size_t cap, const char *network, const uint8_t key[32])
{
    wire_msg_t m;
    wire_init(&m, WIRE_HELLO, 7);
    snprintf(m.u.hello.network, sizeof m.u.hello.network, "%s", network);
    memcpy(m.u.hello.node_key, key, 32);
    snprintf(m.u.hello.software, sizeof m.u.hello.software, "test");
    size_t len = 0;
    assert_int_equal(wire_encode(&m, buf, cap, &len), WIRE_OK);
    return len;
}

static void
test_hostile_clients(void **state)
{
    fixture_t *f = *state;
    char empty[600], list[600];
    start_first(f, empty, list);
    start_node(f, 1, list);
    assert_true(tn_wait_peer(&f->n[1], &f->n[0], 30));
    void *ctx = zmq_ctx_new();
    uint8_t buf[256];
    char reply[512];

    /* A client that expects another server key never completes the handshake. */
    uint8_t wrong[32];
    randombytes_buf(wrong, sizeof wrong);
    void *s = curve_client(ctx, wrong, f->n[0].endpoint);
    size_t len = hello_bytes(buf, sizeof buf, f->network, wrong);
    zmq_send(s, buf, len, ZMQ_DONTWAIT);
    assert_int_equal(zmq_recv(s, reply, sizeof reply, 0), -1);
    zmq_close(s);

    /* A plain client, no CURVE: nothing comes back. */
    s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, timeout = 2000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_connect(s, f->n[0].endpoint);
    zmq_send(s, buf, len, 0);
    assert_int_equal(zmq_recv(s, reply, sizeof reply, 0), -1);
    zmq_close(s);

    /* The right key, as PROTOCOL.md section 6 says: a frame shorter than
     * the header is dropped (it has no request id); one that does not
     * decode is answered with ERROR 3, an unknown type and a reserved
     * gossip type with ERROR 2, an ERROR with nothing; an oversized frame
     * ends the connection. */
    int malformed0 = tn_status_count(&f->n[0], "malformed");
    s = curve_client(ctx, f->n[0].node_pk, f->n[0].endpoint);
    zmq_send(s, "\x01", 1, 0);
    zmq_send(s, "\x01\x06\x00\x00\x00\x02garbage", 13, 0); /* a malformed ERROR */
    zmq_send(s, "\x01\x06\x00\x00\x00\x03\x00\x01\x00", 9, 0); /* an ERROR first */
    zmq_send(s, "\x01\x01\x00\x00\x00\x01garbage", 13, 0);
    zmq_send(s, "\x01\x63\x00\x00\x00\x05", 6, 0);
    zmq_send(s, "\x01\x2a\x00\x00\x00\x06", 6, 0); /* reserved gossip type */
    const uint8_t want[][2] = {{WIRE_ERR_MALFORMED, 1}, {WIRE_ERR_TYPE, 5}, {WIRE_ERR_TYPE, 6}};
    int n = 0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        n = zmq_recv(s, reply, sizeof reply, 0);
        assert_true(n >= 8);
        wire_msg_t e;
        assert_int_equal(wire_decode(&e, (const uint8_t *)reply, (size_t)n), WIRE_OK);
        assert_int_equal(e.type, WIRE_ERROR);
        assert_int_equal(e.u.error.code, want[i][0]);
        assert_int_equal(e.request_id, want[i][1]); /* request id echoed */
    }
    int malformed1 = tn_status_count(&f->n[0], "malformed");
    assert_true(malformed1 >= malformed0 + 2);
    assert_true(tn_status_count(&f->n[0], "unknown") >= 1);
    /* A frame a little over the cap reaches the decoder and is counted; a
     * far larger one makes libzmq close the connection unread. */
    static uint8_t big[1024 * 1024];
    memset(big, 1, sizeof big);
    zmq_send(s, big, WIRE_MAX_FRAME + 100, 0);
    double deadline = tu_now() + 10;
    while (tn_status_count(&f->n[0], "oversized") < 1 && tu_now() < deadline) {
        usleep(100000);
    }
    assert_int_equal(tn_status_count(&f->n[0], "oversized"), 1);
    zmq_send(s, big, sizeof big, 0);
    zmq_close(s);

    /* A HELLO from another network is refused with ERROR 4. */
    s = curve_client(ctx, f->n[0].node_pk, f->n[0].endpoint);
    uint8_t other_key[32];
    randombytes_buf(other_key, sizeof other_key);
    len = hello_bytes(buf, sizeof buf, "another-network", other_key);
    zmq_send(s, buf, len, 0);
    n = zmq_recv(s, reply, sizeof reply, 0);
    assert_true(n >= 8);
    wire_msg_t m;
    assert_int_equal(wire_decode(&m, (const uint8_t *)reply, (size_t)n), WIRE_OK);
    assert_int_equal(m.type, WIRE_ERROR);
    assert_int_equal(m.u.error.code, WIRE_ERR_NETWORK);
    assert_int_equal(m.request_id, 7);
    /* Nothing more on that connection: a PING gets no answer, not even
     * ERROR 6 (the node has heard it: "unsolicited" counts it). */
    long unsolicited0 = tn_status_count(&f->n[0], "unsolicited");
    zmq_send(s, "\x01\x02\x00\x00\x00\x09", 6, 0);
    double until = tu_now() + 10;
    while (tn_status_count(&f->n[0], "unsolicited") <= unsolicited0 && tu_now() < until) {
        usleep(50000);
    }
    assert_true(tn_status_count(&f->n[0], "unsolicited") > unsolicited0);
    int zero_wait = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &zero_wait, sizeof zero_wait);
    assert_int_equal(zmq_recv(s, reply, sizeof reply, 0), -1);
    zmq_close(s);

    /* The node still serves its real peer: the refusal was handled (its
     * ERROR came back above), and once the two have heard from each other
     * again they are still peers. */
    assert_true(tn_wait_heard_again(&f->n[0], &f->n[1], 60));
    assert_true(tn_wait_heard_again(&f->n[1], &f->n[0], 60));
    assert_true(tn_has_peer(&f->n[1], &f->n[0]));
    assert_true(tn_has_peer(&f->n[0], &f->n[1]));
    zmq_ctx_term(ctx);
}

/* Port of an endpoint "tcp://127.0.0.1:PORT". */
static int
endpoint_port(const char *ep)
{
    const char *colon = strrchr(ep, ':');
    assert_non_null(colon);
    return (int)strtol(colon + 1, NULL, 10);
}

/* One message whose frames all say "more", streamed by a raw CurveZMQ
 * client (libzmq itself cannot send one: see tests/util/zraw.h). libzmq in
 * the node keeps every frame until the last arrives; the node must notice
 * and cut the connection, its memory must stay bounded, and it must go on
 * serving its peer. */
static void
test_endless_multipart_is_cut(void **state)
{
    fixture_t *f = *state;
    char empty[600], list[600];
    start_first(f, empty, list);
    start_node(f, 1, list);
    assert_true(tn_wait_peer(&f->n[0], &f->n[1], 30));
    long rss0 = tu_rss_kib(f->n[0].pid);
    uint8_t pk[32], sk[32];
    crypto_box_keypair(pk, sk);
    zraw_t z;
    char why[128];
    int rc = zraw_connect(&z, "127.0.0.1", endpoint_port(f->n[0].endpoint), f->n[0].node_pk, pk, sk,
                          why, sizeof why);
    if (rc != 0) {
        fail_msg("raw CURVE client: %s", why);
    }
    static uint8_t frame[60000];
    memset(frame, 0x5a, sizeof frame);
    uint64_t sent = 0;
    long peak = rss0;
    /* Up to 400 MB; the node should cut us off long before. */
    while (sent < 400ull * 1024 * 1024) {
        if (zraw_send(&z, frame, sizeof frame, true, 3000) != 0) {
            break;
        }
        sent += sizeof frame;
        if (sent % (4 * 1024 * 1024) < sizeof frame) {
            long rss = tu_rss_kib(f->n[0].pid);
            peak = rss > peak ? rss : peak;
        }
    }
    zraw_close(&z);
    int cuts = tn_status_count(&f->n[0], "flood_cuts");
    long rss1 = tu_rss_kib(f->n[0].pid);
    peak = rss1 > peak ? rss1 : peak;
    printf("flood: cut off after %llu MB; node RSS %ld KiB before, peak %ld KiB; cuts %d\n",
           (unsigned long long)(sent >> 20), rss0, peak, cuts);
    assert_int_equal(cuts, 1);
    assert_true(sent < 64ull * 1024 * 1024);
    /* Without the cut, libzmq would hold all 400 MB. */
    assert_true(peak - rss0 < 64 * 1024);
    /* The node still serves its real peer and the control socket. */
    assert_true(tn_has_peer(&f->n[0], &f->n[1]));
    assert_true(tn_has_peer(&f->n[1], &f->n[0]));
    tu_run_t r;
    tn_cli(&r, &f->n[0], "post", "after the flood", NULL, NULL);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
}

/* --socks5: the node's outbound connections go through the proxy (as they
 * would through Tor), and still authenticate the peer by its key. */
static void
test_outbound_through_socks5(void **state)
{
    fixture_t *f = *state;
    char empty[600], list[600], proxy[32];
    tu_socks5_t socks;
    tu_socks5_start(&socks);
    snprintf(proxy, sizeof proxy, "127.0.0.1:%d", socks.port);
    start_first(f, empty, list);
    start_node_with(f, 1, list, "--socks5", proxy);
    bool ok = tn_wait_peer(&f->n[1], &f->n[0], 30) && tn_wait_peer(&f->n[0], &f->n[1], 30);
    int relayed = atomic_load(&socks.connections);
    tu_stop(f->n[1].pid, SIGINT, 15);
    f->n[1].pid = 0;
    tu_socks5_stop(&socks);
    printf("socks5: %d connection(s) relayed\n", relayed);
    assert_true(ok);
    assert_true(relayed >= 1);
}

/* With 3 slots, one is kept for connections the node opens itself: two
 * nodes that connect in get full slots (and gossip, which they asked for).
 * The node is then full, but lets NODE_PROBATION_MAX more in on probation,
 * without gossip, so they can learn other contacts, and tells them it is
 * busy once the probation is over. One more is refused at once. */
static void
test_inbound_slots_are_bounded(void **state)
{
    fixture_t *f = *state;
    char empty[600];
    snprintf(empty, sizeof empty, "%s/empty.list", f->root);
    tu_write_file(empty, "", 0);
    start_node_with(f, 0, empty, "--peers-max", "3");
    void *ctx = zmq_ctx_new();
    enum { CLIENTS = 2 + NODE_PROBATION_MAX + 1 };
    void *s[CLIENTS];
    int full = 0, probation = 0, busy = 0;
    for (int i = 0; i < CLIENTS; i++) {
        uint8_t pk[32], buf[256];
        char reply[512];
        s[i] = curve_client_key(ctx, f->n[0].node_pk, f->n[0].endpoint, pk);
        wire_msg_t m;
        wire_init(&m, WIRE_HELLO, 7);
        snprintf(m.u.hello.network, sizeof m.u.hello.network, "%s", f->network);
        memcpy(m.u.hello.node_key, pk, 32);
        m.u.hello.caps = WIRE_CAP_GOSSIP;
        size_t len = 0;
        assert_int_equal(wire_encode(&m, buf, sizeof buf, &len), WIRE_OK);
        zmq_send(s[i], buf, len, 0);
        int n = zmq_recv(s[i], reply, sizeof reply, 0);
        assert_true(n > 0);
        assert_int_equal(wire_decode(&m, (const uint8_t *)reply, (size_t)n), WIRE_OK);
        if (m.type == WIRE_HELLO && (m.u.hello.caps & WIRE_CAP_GOSSIP)) {
            full++;
        } else if (m.type == WIRE_HELLO) {
            probation++;
        } else if (m.type == WIRE_ERROR && m.u.error.code == WIRE_ERR_BUSY) {
            busy++;
        }
    }
    assert_int_equal(full, 2);
    assert_int_equal(probation, NODE_PROBATION_MAX);
    assert_int_equal(busy, 1);
    /* A probation peer is told to go once its time is up. */
    int timeout = (NODE_PROBATION_MS + 5000);
    zmq_setsockopt(s[2], ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    bool told = false;
    char reply[8192];
    int n;
    while (!told && (n = zmq_recv(s[2], reply, sizeof reply, 0)) > 0) {
        wire_msg_t m;
        told = wire_decode(&m, (const uint8_t *)reply, (size_t)n) == WIRE_OK &&
               m.type == WIRE_ERROR && m.u.error.code == WIRE_ERR_BUSY;
    }
    assert_true(told);
    for (int i = 0; i < CLIENTS; i++) {
        zmq_close(s[i]);
    }
    zmq_ctx_term(ctx);
}

/* Sends frame on s and returns the decoded answer (fails the test if
 * none). Requests the node sends meanwhile (its PEERS_REQ after HELLO, a
 * PING, DHT requests) are not answers and are skipped. */
static void
ask(void *s, const uint8_t *frame, size_t len, wire_msg_t *answer)
{
    char reply[8192];
    assert_int_equal(zmq_send(s, frame, len, 0), (int)len);
    for (int i = 0; i < 16; i++) {
        int n = zmq_recv(s, reply, sizeof reply, 0);
        assert_true(n > 0);
        assert_int_equal(wire_decode(answer, (const uint8_t *)reply, (size_t)n), WIRE_OK);
        bool request = answer->type == WIRE_PEERS_REQ || answer->type == WIRE_PING ||
                       answer->type == DHT_MSG_FIND_NODE || answer->type == DHT_MSG_PING;
        if (!request) {
            return;
        }
    }
    fail_msg("no answer among 16 messages");
}

static size_t
put_head_frame(uint8_t *buf, size_t cap, uint32_t rid, const uint8_t *rec, size_t len)
{
    dht_msg_t m;
    dht_msg_init(&m, DHT_MSG_PUT_HEAD, rid);
    m.u.put.len = (uint8_t)len;
    memcpy(m.u.put.bytes, rec, len);
    size_t out = 0;
    assert_int_equal(wire_encode_dht(&m, buf, cap, &out), WIRE_OK);
    return out;
}

/* The listening side asks for contacts too once HELLO is through
 * (PROTOCOL.md section 6, conversation step 4). */
static void
test_listener_asks_for_peers(void **state)
{
    fixture_t *f = *state;
    char empty[600], list[600];
    start_first(f, empty, list);
    void *ctx = zmq_ctx_new();
    uint8_t pk[32], buf[512];
    char reply[8192];
    void *s = curve_client_key(ctx, f->n[0].node_pk, f->n[0].endpoint, pk);
    size_t len = hello_bytes(buf, sizeof buf, f->network, pk);
    assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
    bool hello = false, peers_req = false;
    for (int i = 0; i < 8 && !(hello && peers_req); i++) {
        int n = zmq_recv(s, reply, sizeof reply, 0);
        assert_true(n > 0);
        wire_msg_t m;
        assert_int_equal(wire_decode(&m, (const uint8_t *)reply, (size_t)n), WIRE_OK);
        hello = hello || m.type == WIRE_HELLO;
        peers_req = peers_req || m.type == WIRE_PEERS_REQ;
    }
    assert_true(hello);
    assert_true(peers_req);
    zmq_close(s);
    zmq_ctx_term(ctx);
}

/* A damaged node.key is bad input: exit 3, as for the author key. */
static void
test_damaged_node_key_exits_3(void **state)
{
    fixture_t *f = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/node.key", f->n[0].dir);
    tu_write_file(path, "not a key file", 14);
    char *argv[] = {(char *)SAMIZDAT_BINARY, (char *)"--data", f->n[0].dir, (char *)"run",
                    (char *)"--listen", (char *)"tcp://127.0.0.1:0", (char *)"--no-lan", NULL};
    tu_run_t r;
    tu_run(&r, argv, NULL, NULL, 30);
    printf("damaged node.key: exit %d: %s", r.status, r.err);
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "node.key"));
    tu_run_free(&r);
}

/* Heads in the DHT of a real node: a forged one (one bit changed) and a
 * replay of an older one are refused; a good one is acknowledged. */
static void
test_forged_and_replayed_heads(void **state)
{
    fixture_t *f = *state;
    char empty[600], list[600];
    start_first(f, empty, list);
    void *ctx = zmq_ctx_new();
    uint8_t pk[32], buf[512];
    void *s = curve_client_key(ctx, f->n[0].node_pk, f->n[0].endpoint, pk);
    wire_msg_t m;
    size_t len = hello_bytes(buf, sizeof buf, f->network, pk);
    ask(s, buf, len, &m);
    assert_int_equal(m.type, WIRE_HELLO);

    keys_author_t author;
    keys_author_generate(&author);
    uint8_t rec1[HEAD_SIZE], rec2[HEAD_SIZE], id[32];
    size_t l1 = 0, l2 = 0;
    head_t h;
    randombytes_buf(id, sizeof id);
    head_init(&h, 1, id, 1700000000000ull);
    assert_int_equal(head_sign(&h, &author, rec1, sizeof rec1, &l1), HEAD_OK);
    head_init(&h, 2, id, 1700000060000ull);
    assert_int_equal(head_sign(&h, &author, rec2, sizeof rec2, &l2), HEAD_OK);

    uint8_t forged[HEAD_SIZE];
    memcpy(forged, rec2, sizeof forged);
    forged[1 + 32 + 7] ^= 0x04; /* seq 2 -> 6, signature unchanged */
    ask(s, buf, put_head_frame(buf, sizeof buf, 11, forged, l2), &m);
    assert_int_equal(m.type, DHT_MSG_ERROR);
    assert_int_equal(m.u.dht.u.error.code, DHT_ERR_BAD_SIG);
    assert_int_equal(m.request_id, 11);

    ask(s, buf, put_head_frame(buf, sizeof buf, 12, rec2, l2), &m);
    assert_int_equal(m.type, DHT_MSG_ACK);

    ask(s, buf, put_head_frame(buf, sizeof buf, 13, rec1, l1), &m);
    assert_int_equal(m.type, DHT_MSG_ERROR);
    assert_int_equal(m.u.dht.u.error.code, DHT_ERR_STALE);

    /* Node 0 hands out the good head: node 1 looks it up and gets seq 2. */
    char at[KEYTEXT_BUFSZ];
    keytext_encode(at, KEYTEXT_AUTHOR, author.pk);
    keys_author_wipe(&author);
    start_node(f, 1, list);
    assert_true(tn_wait_peer(&f->n[1], &f->n[0], 30));
    tu_run_t r;
    tn_cli(&r, &f->n[1], "--json", "dht", "lookup", at);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"head\":{\"seq\":2,"));
    tu_run_free(&r);
    zmq_close(s);
    zmq_ctx_term(ctx);
}

/* A signed post by author: seq, prev (NULL for none), body. */
static size_t
make_post(uint8_t *out, const keys_author_t *author, uint64_t seq, const uint8_t *prev,
          const char *body, post_t *p)
{
    post_init(p, POST_KIND_POST, seq, prev, 1700000000000ull + seq * 1000u);
    assert_int_equal(post_set_body(p, body, strlen(body)), POST_OK);
    size_t len = 0;
    assert_int_equal(post_sign(p, author, out, POST_MAX_SIZE, &len), POST_OK);
    return len;
}

static void
send_gossip(void *s, const gossip_msg_t *m)
{
    static uint8_t frame[WIRE_MAX_FRAME];
    size_t len = 0;
    assert_int_equal(gossip_msg_encode(m, frame, sizeof frame, &len), GOSSIP_MSG_OK);
    assert_int_equal(zmq_send(s, frame, len, 0), (int)len);
}

static void
send_post(void *s, const uint8_t *raw, size_t len)
{
    gossip_msg_t m;
    gossip_msg_init(&m, GOSSIP_POST, 0);
    m.u.post.p = raw;
    m.u.post.len = (uint16_t)len;
    send_gossip(s, &m);
}

/* The node's head of author's feed ("seq" of `feed --json --limit 1`). */
static long
head_seq(tn_node_t *t, const char *author)
{
    char *args[] = {(char *)"--json",  (char *)"feed", (char *)author,
                    (char *)"--limit", (char *)"1",    NULL};
    tu_run_t r;
    tn_cli_argv(&r, t, args);
    /* The fork records come first in the object: read the posts. */
    const char *posts = strstr(r.out, "\"posts\":[");
    const char *p = posts ? strstr(posts, "\"seq\":") : NULL;
    long seq = p ? strtol(p + 6, NULL, 10) : 0;
    tu_run_free(&r);
    return seq;
}

static long
gossip_count(tn_node_t *t, const char *field)
{
    tu_run_t r;
    tn_cli(&r, t, "--json", "status", NULL, NULL);
    const char *g = strstr(r.out, "\"gossip\":{");
    char key[40];
    snprintf(key, sizeof key, "\"%s\":", field);
    const char *p = g ? strstr(g, key) : NULL;
    long v = p ? strtol(p + strlen(key), NULL, 10) : -1;
    tu_run_free(&r);
    return v;
}

static bool
wait_count(tn_node_t *t, const char *field, long at_least)
{
    double deadline = tu_now() + 10;
    while (gossip_count(t, field) < at_least) {
        if (tu_now() > deadline) {
            return false;
        }
        usleep(100000);
    }
    return true;
}

/* A raw CurveZMQ client that says HELLO with gossip to node t and
 * subscribes to author; its key goes to pk. */
static void *
gossip_client(void *ctx, fixture_t *f, tn_node_t *t, const uint8_t author[32], uint8_t pk[32])
{
    uint8_t buf[512];
    void *s = curve_client_key(ctx, t->node_pk, t->endpoint, pk);
    wire_msg_t hello;
    wire_init(&hello, WIRE_HELLO, 7);
    snprintf(hello.u.hello.network, sizeof hello.u.hello.network, "%s", f->network);
    memcpy(hello.u.hello.node_key, pk, 32);
    hello.u.hello.caps = WIRE_CAP_GOSSIP;
    size_t len = 0;
    assert_int_equal(wire_encode(&hello, buf, sizeof buf, &len), WIRE_OK);
    wire_msg_t m;
    ask(s, buf, len, &m);
    assert_int_equal(m.type, WIRE_HELLO);
    assert_true(m.u.hello.caps & WIRE_CAP_GOSSIP);
    gossip_msg_t sub;
    gossip_msg_init(&sub, GOSSIP_SUBSCRIBE, 0);
    sub.u.subscribe.flags = GOSSIP_SUBSCRIBE_FIRST;
    sub.u.subscribe.n = 1;
    sub.u.subscribe.authors = author;
    send_gossip(s, &sub);
    return s;
}

/* Reads frames until a FORK holding the posts a and b (in either order)
 * arrives, or 10 s pass. */
static bool
wait_fork(void *s, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    static uint8_t frame[WIRE_MAX_FRAME];
    double deadline = tu_now() + 10;
    while (tu_now() < deadline) {
        int n = zmq_recv(s, frame, sizeof frame, 0);
        gossip_msg_t m;
        if (n <= 0 || (size_t)n > sizeof frame ||
            gossip_msg_decode(&m, frame, (size_t)n) != GOSSIP_MSG_OK || m.type != GOSSIP_FORK) {
            continue;
        }
        const gossip_bytes_t *x = &m.u.fork.a, *y = &m.u.fork.b;
        if (x->len == b_len && memcmp(x->p, b, b_len) == 0) {
            const gossip_bytes_t *t = x;
            x = y;
            y = t;
        }
        return x->len == a_len && memcmp(x->p, a, a_len) == 0 && y->len == b_len &&
               memcmp(y->p, b, b_len) == 0;
    }
    return false;
}

/* A peer that gossips with a real node: a forged post is refused, a
 * replayed one changes nothing, a second post with the same seq is kept as
 * fork evidence and shown by `feed`, and sent as a proof to a peer that
 * subscribes to the author later, and a peer that keeps sending forged
 * posts is cut off. */
static void
test_forged_replayed_forked_posts(void **state)
{
    fixture_t *f = *state;
    char empty[600], list[600];
    start_first(f, empty, list);
    keys_author_t x;
    keys_author_generate(&x);
    char xt[KEYTEXT_BUFSZ];
    keytext_encode(xt, KEYTEXT_AUTHOR, x.pk);
    tu_run_t r;
    tn_cli(&r, &f->n[0], "follow", xt, NULL, NULL);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);

    void *ctx = zmq_ctx_new();
    uint8_t pk[32];
    void *s = gossip_client(ctx, f, &f->n[0], x.pk, pk);

    static uint8_t p1[POST_MAX_SIZE], p1b[POST_MAX_SIZE], p2[POST_MAX_SIZE];
    post_t d1, d1b, d2;
    size_t l1 = make_post(p1, &x, 1, NULL, "the first post", &d1);
    size_t l1b = make_post(p1b, &x, 1, NULL, "another first post", &d1b);
    size_t l2 = make_post(p2, &x, 2, d1.id, "the second post", &d2);

    send_post(s, p1, l1);
    assert_true(wait_count(&f->n[0], "stored", 1));
    assert_int_equal(head_seq(&f->n[0], xt), 1);

    /* Replayed: nothing changes. */
    long dup0 = gossip_count(&f->n[0], "duplicates");
    send_post(s, p1, l1);
    assert_true(wait_count(&f->n[0], "duplicates", dup0 + 1));
    assert_int_equal(gossip_count(&f->n[0], "stored"), 1);

    /* Forked: a second post 1, kept as evidence, shown by feed. */
    send_post(s, p1b, l1b);
    assert_true(wait_count(&f->n[0], "forks", 1));
    tn_cli(&r, &f->n[0], "feed", xt, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "FORK: two different posts with seq 1"));
    tu_run_free(&r);
    /* A peer that subscribes to the author now is sent the proof. */
    uint8_t later_pk[32];
    void *later = gossip_client(ctx, f, &f->n[0], x.pk, later_pk);
    assert_true(wait_fork(later, p1, l1, p1b, l1b));
    zmq_close(later);

    /* The true second post is taken. */
    send_post(s, p2, l2);
    assert_true(wait_count(&f->n[0], "stored", 2));
    assert_int_equal(head_seq(&f->n[0], xt), 2);

    /* Forged: one byte of a post changed, the signature kept. It is refused,
     * and the peer that sent it is cut off. */
    char ct[KEYTEXT_BUFSZ];
    keytext_encode(ct, KEYTEXT_NODE, pk);
    tn_cli(&r, &f->n[0], "--json", "peers", NULL, NULL);
    assert_non_null(strstr(r.out, ct));
    tu_run_free(&r);
    static uint8_t forged[POST_MAX_SIZE];
    post_t d3;
    size_t l3 = make_post(forged, &x, 3, d2.id, "the third post", &d3);
    forged[l3 - 64 - 3] ^= 0x01;
    send_post(s, forged, l3);
    assert_true(wait_count(&f->n[0], "invalid", 1));
    assert_int_equal(head_seq(&f->n[0], xt), 2);
    double deadline = tu_now() + 10;
    bool gone = false;
    while (!gone && tu_now() < deadline) {
        tn_cli(&r, &f->n[0], "--json", "peers", NULL, NULL);
        gone = strstr(r.out, ct) == NULL;
        tu_run_free(&r);
        usleep(100000);
    }
    assert_true(gone);
    keys_author_wipe(&x);
    zmq_close(s);
    zmq_ctx_term(ctx);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    unsetenv("SAMIZDAT_PASSPHRASE");
    unsetenv("SAMIZDAT_DATA");
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_three_nodes_restart_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_through_control_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_add_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endless_multipart_is_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbound_through_socks5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_asks_for_peers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_node_key_exits_3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbound_slots_are_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_and_replayed_heads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_replayed_forked_posts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
