/* The dial-back check against peers written by the test (docs/PROTOCOL.md
 * section 6, "Dial-back"): a real node, and a raw CurveZMQ client that
 * plays its only peer.
 *
 * - A peer that answers the node's DIAL_REQ "dialled" but never sends the
 *   nonce cannot make the node take its endpoint as reachable: it says
 *   "not reachable".
 * - A peer that does dial back (a second connection with the same key,
 *   HELLO, DIAL_BACK with the nonce) makes it reachable: the nonce is what
 *   counts.
 * - As the dialler, the node refuses an endpoint whose host is not the
 *   address the request came from (it never dials a third party), dials
 *   one that is, and answers BUSY past 8 DIAL_REQs of one peer a minute.
 * - A peer that names a relayed endpoint leading elsewhere (a third party,
 *   no relay) is not stored as a provider: its ANNOUNCE is refused; with
 *   the check off it is taken. */
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
#include <zmq.h>

#include "nodes.h"
#include "wire.h"

typedef struct {
    char root[400];
    tn_node_t n;
    void *ctx;
} fixture_t;

/* The raw peer: one key pair, a connection to the node, and how it
 * answers the node's DIAL_REQ. */
typedef struct {
    void *ctx;
    const tn_node_t *node;
    uint8_t pk[32], sk[32];
    void *s;
    bool honest;         /* dial back for real, with the nonce */
    int dial_reqs;       /* DIAL_REQs the node sent */
    uint8_t last_result; /* status of the last DIAL_RESULT the node sent */
    uint32_t last_rid;
    bool got_result;
} rawpeer_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tu_mkdtemp(f->root, sizeof f->root);
    f->ctx = zmq_ctx_new();
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
    zmq_ctx_term(f->ctx);
    tu_rmtree(f->root);
    free(f);
    return 0;
}

static void *
dealer(rawpeer_t *p)
{
    void *s = zmq_socket(p->ctx, ZMQ_DEALER);
    assert_non_null(s);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, p->node->node_pk, 32);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, p->pk, 32);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, p->sk, 32);
    assert_int_equal(zmq_connect(s, p->node->endpoint), 0);
    return s;
}

static void
send_msg(void *s, const wire_msg_t *m)
{
    uint8_t buf[2048];
    size_t len = 0;
    assert_int_equal(wire_encode(m, buf, sizeof buf, &len), WIRE_OK);
    assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
}

static void
send_hello(rawpeer_t *p, void *s, uint32_t caps)
{
    wire_msg_t m;
    wire_init(&m, WIRE_HELLO, 1);
    snprintf(m.u.hello.network, sizeof m.u.hello.network, "dialback");
    memcpy(m.u.hello.node_key, p->pk, 32);
    m.u.hello.caps = caps;
    send_msg(s, &m);
}

/* What an honest peer does for a DIAL_REQ from the node: a new connection
 * to the endpoint with the node's key, HELLO, and the nonce once the node
 * has answered the HELLO. */
static void
dial_back(rawpeer_t *p, uint64_t nonce)
{
    void *s = dealer(p);
    send_hello(p, s, WIRE_CAP_DHT);
    int timeout = 5000;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    uint8_t buf[WIRE_MAX_FRAME];
    wire_msg_t m;
    int n = zmq_recv(s, buf, sizeof buf, 0);
    assert_true(n > 0);
    assert_int_equal(wire_decode(&m, buf, (size_t)n), WIRE_OK);
    assert_int_equal(m.type, WIRE_HELLO);
    wire_init(&m, WIRE_DIAL_BACK, 0);
    m.u.dial.nonce = nonce;
    send_msg(s, &m);
    usleep(200000); /* the nonce on its way before the socket goes */
    zmq_close(s);
}

/* Answers what the node sends for up to ms. */
static void
pump(rawpeer_t *p, int ms)
{
    double end = tu_now() + ms / 1000.0;
    uint8_t buf[WIRE_MAX_FRAME];
    static wire_msg_t m;
    while (tu_now() < end) {
        zmq_pollitem_t it = {p->s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 20) <= 0) {
            continue;
        }
        int n = zmq_recv(p->s, buf, sizeof buf, ZMQ_DONTWAIT);
        if (n <= 0 || wire_decode(&m, buf, (size_t)n) != WIRE_OK) {
            continue; /* gossip and the like: not ours to answer */
        }
        uint32_t rid = m.request_id;
        if (m.type == WIRE_PING) {
            uint64_t nonce = m.u.ping_nonce;
            wire_init(&m, WIRE_PONG, rid);
            m.u.ping_nonce = nonce;
            send_msg(p->s, &m);
        } else if (m.type == WIRE_PEERS_REQ) {
            wire_init(&m, WIRE_PEERS, rid);
            send_msg(p->s, &m);
        } else if (m.type == WIRE_DIAL_REQ) {
            p->dial_reqs++;
            if (p->honest) {
                dial_back(p, m.u.dial.nonce);
            }
            /* The liar says it dialled, and sends no nonce. */
            wire_init(&m, WIRE_DIAL_RESULT, rid);
            m.u.dial.status = WIRE_DIAL_OK;
            send_msg(p->s, &m);
        } else if (m.type == WIRE_DIAL_RESULT) {
            p->got_result = true;
            p->last_rid = rid;
            p->last_result = m.u.dial.status;
        }
    }
}

static void
peer_open(rawpeer_t *p, void *ctx, const tn_node_t *node, bool honest)
{
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->node = node;
    p->honest = honest;
    crypto_box_keypair(p->pk, p->sk);
    p->s = dealer(p);
    send_hello(p, p->s, WIRE_CAP_DHT | WIRE_CAP_GOSSIP);
}

static void
peer_close(rawpeer_t *p)
{
    zmq_close(p->s);
    sodium_memzero(p->sk, sizeof p->sk);
}

/* The node's reachability state, as `status --json` says it. */
static bool
state_is(tn_node_t *t, const char *state)
{
    tu_run_t r;
    tn_cli(&r, t, "--json", "status", NULL, NULL);
    char want[80];
    snprintf(want, sizeof want, "\"reachability\":{\"state\":\"%s\"", state);
    bool ok = r.status == 0 && strstr(r.out, want) != NULL;
    tu_run_free(&r);
    return ok;
}

/* Pumps the peer until the node's state is `state`; seconds it took, or -1. */
static double
wait_state(rawpeer_t *p, tn_node_t *t, const char *state, int seconds)
{
    double t0 = tu_now();
    while (tu_now() - t0 < seconds) {
        pump(p, 200);
        if (state_is(t, state)) {
            return tu_now() - t0;
        }
    }
    return -1;
}

/* Sends the node a DIAL_REQ for endpoint; the status of its answer. */
static uint8_t
ask_node(rawpeer_t *p, const char *endpoint, uint32_t rid)
{
    wire_msg_t m;
    wire_init(&m, WIRE_DIAL_REQ, rid);
    m.u.dial.nonce = 0x5eed0000u + rid;
    snprintf(m.u.dial.endpoint.s, sizeof m.u.dial.endpoint.s, "%s", endpoint);
    p->got_result = false;
    send_msg(p->s, &m);
    double t0 = tu_now();
    while (!(p->got_result && p->last_rid == rid) && tu_now() - t0 < 10) {
        pump(p, 50);
    }
    assert_true(p->got_result && p->last_rid == rid);
    return p->last_result;
}

static void
test_nonce_counts_not_word(void **state)
{
    fixture_t *f = *state;
    tn_init(&f->n, f->root, 0);
    tn_start(&f->n, "dialback", "/dev/null", NULL, NULL);
    rawpeer_t liar;
    peer_open(&liar, f->ctx, &f->n, false);
    double t = wait_state(&liar, &f->n, "not reachable", 15);
    printf("test_dialback: a peer that says 'dialled' and sends no nonce: the node says not "
           "reachable after %.1f s (%d DIAL_REQ)\n",
           t, liar.dial_reqs);
    assert_true(t >= 0);
    assert_true(liar.dial_reqs >= 1);
    peer_close(&liar);
    tn_stop(&f->n);

    /* The same node, with a peer that dials back for real. */
    tn_start(&f->n, "dialback", "/dev/null", NULL, NULL);
    rawpeer_t honest;
    peer_open(&honest, f->ctx, &f->n, true);
    t = wait_state(&honest, &f->n, "reachable", 15);
    printf("test_dialback: a peer that dials back with the nonce: reachable after %.1f s\n", t);
    assert_true(t >= 0);
    tu_run_t r;
    tn_cli(&r, &f->n, "status", NULL, NULL, NULL);
    char want[200];
    snprintf(want, sizeof want, "reachable:  directly at %s\n", f->n.endpoint);
    assert_non_null(strstr(r.out, want));
    tu_run_free(&r);
    peer_close(&honest);
}

static void
test_dialler_rules(void **state)
{
    fixture_t *f = *state;
    tn_init(&f->n, f->root, 1);
    tn_start(&f->n, "dialback", "/dev/null", NULL, NULL);
    rawpeer_t p;
    peer_open(&p, f->ctx, &f->n, false);
    pump(&p, 300); /* HELLO answered */
    /* Another host than the one the request comes from: refused. */
    assert_int_equal(ask_node(&p, "tcp://10.9.9.9:7470", 101), WIRE_DIAL_REFUSED);
    assert_int_equal(ask_node(&p, "tcp://127.0.0.2:7470", 102), WIRE_DIAL_REFUSED);
    /* This host: dialled (nobody listens there: failed), 8 a minute. */
    int failed = 0, busy = 0;
    for (uint32_t i = 0; i < 9; i++) {
        char ep[64];
        snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", tu_closed_port());
        uint8_t st = ask_node(&p, ep, 200 + i);
        failed += st == WIRE_DIAL_FAILED;
        busy += st == WIRE_DIAL_BUSY;
    }
    printf("test_dialback: DIAL_REQ for another host: refused; 9 for closed ports of this host: "
           "%d dialled and failed, %d busy\n",
           failed, busy);
    assert_int_equal(failed, 8);
    assert_int_equal(busy, 1);
    peer_close(&p);
}

/* A TCP listener on 127.0.0.1 standing for a third party: it takes
 * connections, counts them and closes them. */
typedef struct {
    int fd;
    int port;
    int accepted;
} victim_t;

static void
victim_open(victim_t *v)
{
    memset(v, 0, sizeof *v);
    v->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(v->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(v->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(v->fd, 16), 0);
    assert_int_equal(getsockname(v->fd, (struct sockaddr *)&a, &len), 0);
    v->port = ntohs(a.sin_port);
}

static void
victim_poll(victim_t *v)
{
    for (int c; (c = accept(v->fd, NULL, NULL)) >= 0;) {
        v->accepted++;
        close(c);
    }
}

/* Sends the node ANNOUNCE for a random key; the DHT reply's type (ACK or
 * ERROR), its error code in *code. Pumps the peer meanwhile. */
static uint8_t
announce(rawpeer_t *p, victim_t *v, uint16_t *code)
{
    static wire_msg_t m;
    wire_init(&m, (wire_type_t)DHT_MSG_ANNOUNCE, 77);
    dht_msg_init(&m.u.dht, DHT_MSG_ANNOUNCE, 77);
    randombytes_buf(m.u.dht.u.key, sizeof m.u.dht.u.key);
    send_msg(p->s, &m);
    double t0 = tu_now();
    uint8_t buf[WIRE_MAX_FRAME];
    while (tu_now() - t0 < 20) {
        victim_poll(v);
        zmq_pollitem_t it = {p->s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 20) <= 0) {
            continue;
        }
        int n = zmq_recv(p->s, buf, sizeof buf, ZMQ_DONTWAIT);
        if (n <= 0 || wire_decode(&m, buf, (size_t)n) != WIRE_OK || m.request_id != 77) {
            continue;
        }
        if (m.type == DHT_MSG_ACK || m.type == DHT_MSG_ERROR) {
            *code = m.type == DHT_MSG_ERROR ? m.u.dht.u.error.code : 0;
            return m.type;
        }
    }
    return 0;
}

/* Issue 11: a node nobody can dial names relayed endpoints in its HELLO,
 * and a provider record may name one. A liar names a "relay" that is a
 * third party (here a listener that is no relay): with the check on, the
 * node dials it once through SOCKS5, finds no key there and refuses the
 * ANNOUNCE (no endpoint), so no lookup hands the third party out; with
 * "dialback" off the ANNOUNCE is taken and the record names it. */
static void
relayed_lie(fixture_t *f, bool check, uint8_t *type, uint16_t *code, int *dials)
{
    tn_init(&f->n, f->root, check ? 2 : 3);
    char *off[] = {(char *)"SAMIZDAT_DEFENCE_OFF=dialback", NULL};
    tn_start_env(&f->n, "dialback", "/dev/null", NULL, NULL, check ? NULL : off);
    victim_t v;
    victim_open(&v);
    rawpeer_t p;
    memset(&p, 0, sizeof p);
    p.ctx = f->ctx;
    p.node = &f->n;
    crypto_box_keypair(p.pk, p.sk);
    p.s = dealer(&p);
    wire_msg_t m;
    wire_init(&m, WIRE_HELLO, 1);
    snprintf(m.u.hello.network, sizeof m.u.hello.network, "dialback");
    memcpy(m.u.hello.node_key, p.pk, 32);
    m.u.hello.caps = WIRE_CAP_DHT;
    m.u.hello.n_endpoints = 1;
    snprintf(m.u.hello.endpoints[0].s, sizeof m.u.hello.endpoints[0].s, "relay://127.0.0.1:%d",
             v.port);
    send_msg(p.s, &m);
    pump(&p, 300);
    *type = announce(&p, &v, code);
    double t0 = tu_now();
    while (tu_now() - t0 < 5) { /* any later dials show up too */
        victim_poll(&v);
        pump(&p, 100);
    }
    *dials = v.accepted;
    close(v.fd);
    peer_close(&p);
    tn_stop(&f->n);
}

static void
test_relayed_lie(void **state)
{
    fixture_t *f = *state;
    uint8_t type = 0;
    uint16_t code = 0;
    int dials = 0;
    relayed_lie(f, true, &type, &code, &dials);
    printf("test_dialback: relayed endpoint that is no relay, check on: ANNOUNCE answered %s "
           "(code %u), the third party saw %d connection(s)\n",
           type == DHT_MSG_ACK ? "ACK" : type == DHT_MSG_ERROR ? "ERROR" : "nothing", code, dials);
    assert_int_equal(type, DHT_MSG_ERROR);
    assert_int_equal(code, DHT_ERR_NO_ENDPOINT);
    assert_true(dials <= 2);
    relayed_lie(f, false, &type, &code, &dials);
    printf("test_dialback: relayed endpoint that is no relay, check off: ANNOUNCE answered %s "
           "(the record names the third party)\n",
           type == DHT_MSG_ACK ? "ACK" : type == DHT_MSG_ERROR ? "ERROR" : "nothing");
    assert_int_equal(type, DHT_MSG_ACK);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nonce_counts_not_word, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dialler_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relayed_lie, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
