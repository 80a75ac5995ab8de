/* The relay's data plane on loopback, in one process on one loop: a relay
 * R, a relayed node U whose only listener is a CurveZMQ ROUTER on loopback,
 * and a peer P, a CurveZMQ DEALER that reaches U through R with libzmq's
 * own SOCKS5 client (ZMQ_SOCKS_PROXY), as a node does for a relay://
 * endpoint. R grants U a reservation, tells it of P's circuit (what the
 * node sends as CONNECT), U claims it and splices it to its listener, and
 * messages go both ways, CURVE end to end. Prints the round trip through
 * the relay against a direct connection in the same run. Also: a wrong
 * nonce, a key with no reservation, and a reservation that ended, are all
 * refused; and the loop closes with no handle left. */
#include "testutil.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#include "relay.h"
#include "socks5.h"

enum { WAIT_MS = 10000, ROUNDS = 50 };

typedef struct {
    relay_t *r;
    relay_t *u;
    struct sockaddr_in relay_addr;
    struct sockaddr_in local_addr;
    bool wrong_nonce;
    int circuits;
} fx_t;

/* What the node does on a CONNECT: claims the circuit at the relay. */
static void
on_circuit(void *ud, const uint8_t key[KEYS_PUBLIC_SIZE], uint32_t circuit,
           const uint8_t nonce[WIRE_CIRCUIT_NONCE])
{
    (void)key;
    fx_t *fx = ud;
    fx->circuits++;
    uint8_t n[WIRE_CIRCUIT_NONCE];
    memcpy(n, nonce, sizeof n);
    if (fx->wrong_nonce) {
        n[0] ^= 1;
    }
    assert_int_equal(relay_claim(fx->u, (const struct sockaddr *)&fx->relay_addr, circuit, n,
                                 (const struct sockaddr *)&fx->local_addr),
                     RELAY_OK);
}

static void
pump(uv_loop_t *loop, int ms)
{
    double end = tu_now() + ms / 1000.0;
    while (tu_now() < end) {
        uv_run(loop, UV_RUN_NOWAIT);
        zmq_poll(NULL, 0, 1);
    }
}

/* Sends msg from P and waits for it at the server, answers, waits for the
 * answer: the round trip in ms, or -1 when it did not come in time. */
static double
round_trip(uv_loop_t *loop, void *server, void *client)
{
    double t0 = tu_now();
    assert_int_equal(zmq_send(client, "ping", 4, ZMQ_DONTWAIT), 4);
    char rid[256];
    char buf[16];
    int got = 0;
    int rid_len = -1;
    while (tu_now() - t0 < WAIT_MS / 1000.0) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (got == 0) {
            rid_len = zmq_recv(server, rid, sizeof rid, ZMQ_DONTWAIT);
            if (rid_len > 0) {
                assert_int_equal(zmq_recv(server, buf, sizeof buf, 0), 4);
                assert_memory_equal(buf, "ping", 4);
                assert_int_equal(zmq_send(server, rid, (size_t)rid_len, ZMQ_SNDMORE), rid_len);
                assert_int_equal(zmq_send(server, "pong", 4, 0), 4);
                got = 1;
            }
        } else if (zmq_recv(client, buf, sizeof buf, ZMQ_DONTWAIT) == 4) {
            assert_memory_equal(buf, "pong", 4);
            return (tu_now() - t0) * 1000.0;
        }
        zmq_poll(NULL, 0, 0);
    }
    return -1;
}

/* A SOCKS5 client by hand: asks the relay at port for name and waits up
 * to ms for the reply. Returns the reply code (0: the circuit is spliced),
 * or -1 when no reply came (the circuit waits for its claim). *fd_out gets
 * the connection, open. */
static int
socks_ask(uv_loop_t *loop, uint16_t port, const char *name, int ms, int *fd_out)
{
    uint8_t reply[4];
    if (tu_socks5_ask(loop, port, name, ms, reply, fd_out) < 4) {
        return -1;
    }
    assert_int_equal(reply[0], 5);
    assert_int_equal(reply[1], 0);
    return reply[3];
}

static void *
curve_client(void *ctx, const uint8_t server_pk[32], const char *proxy, const char *endpoint)
{
    uint8_t pk[32], sk[32];
    crypto_box_keypair(pk, sk);
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    assert_non_null(s);
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pk, 32), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pk, 32), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sk, 32), 0);
    if (proxy != NULL) {
        assert_int_equal(zmq_setsockopt(s, ZMQ_SOCKS_PROXY, proxy, strlen(proxy)), 0);
    }
    assert_int_equal(zmq_connect(s, endpoint), 0);
    return s;
}

static void
on_closed(void *ud)
{
    (*(int *)ud)++;
}

static void
test_relay_splice(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    fx_t fx;
    memset(&fx, 0, sizeof fx);
    relay_config_t rc = {.on_circuit = on_circuit, .ud = &fx};
    assert_int_equal(relay_new(&fx.r, &loop, &rc), RELAY_OK);
    relay_config_t uc = {0};
    assert_int_equal(relay_new(&fx.u, &loop, &uc), RELAY_OK);
    assert_int_equal(relay_listen(fx.r, "127.0.0.1", 0), RELAY_OK);
    assert_true(relay_port(fx.r) > 0);
    assert_int_equal(relay_port(fx.u), 0);
    uv_ip4_addr("127.0.0.1", relay_port(fx.r), &fx.relay_addr);

    /* U's listener: a CURVE server on loopback, like the node's. */
    void *ctx = zmq_ctx_new();
    uint8_t upk[32], usk[32];
    crypto_box_keypair(upk, usk);
    void *server = zmq_socket(ctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    assert_int_equal(zmq_setsockopt(server, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_setsockopt(server, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
    assert_int_equal(zmq_setsockopt(server, ZMQ_CURVE_SECRETKEY, usk, 32), 0);
    assert_int_equal(zmq_bind(server, "tcp://127.0.0.1:*"), 0);
    char bound[64];
    size_t blen = sizeof bound;
    assert_int_equal(zmq_getsockopt(server, ZMQ_LAST_ENDPOINT, bound, &blen), 0);
    int lport = atoi(strrchr(bound, ':') + 1); /* NOLINT: a number libzmq wrote */
    uv_ip4_addr("127.0.0.1", lport, &fx.local_addr);

    /* No reservation yet: the circuit is refused, nothing reaches U. */
    char proxy[64];
    snprintf(proxy, sizeof proxy, "127.0.0.1:%u", relay_port(fx.r));
    char name[RELAY_SOCKS_NAME_LEN + 1];
    relay_socks_name(upk, name);
    char via[128];
    snprintf(via, sizeof via, "tcp://%s:1", name);
    int fd = -1;
    assert_int_equal(socks_ask(&loop, relay_port(fx.r), name, WAIT_MS, &fd), 4);
    close(fd);
    assert_int_equal(fx.circuits, 0);

    wire_msg_t m;
    wire_init(&m, WIRE_RESERVED, 1);
    relay_reserve(fx.r, upk, "127.0.0.1", uv_now(&loop), &m);
    assert_int_equal(m.u.reserved.status, WIRE_RESERVE_OK);
    assert_int_equal(m.u.reserved.port, relay_port(fx.r));
    assert_int_equal(m.u.reserved.expires_s, RELAY_RESERVATION_S);
    assert_int_equal(relay_reservations(fx.r), 1);

    /* A wrong nonce in the claim: refused, no circuit spliced. */
    fx.wrong_nonce = true;
    assert_int_equal(socks_ask(&loop, relay_port(fx.r), name, 300, &fd), -1);
    relay_stats_t st;
    double t0 = tu_now();
    do {
        pump(&loop, 20);
        relay_stats(fx.r, &st);
    } while (st.bad == 0 && tu_now() - t0 < WAIT_MS / 1000.0);
    assert_true(fx.circuits >= 1);
    assert_int_equal(st.circuits, 0);
    assert_true(st.bad >= 1);
    close(fd);
    fx.wrong_nonce = false;

    void *direct = curve_client(ctx, upk, NULL, bound);
    void *relayed = curve_client(ctx, upk, proxy, via);
    double d_first = round_trip(&loop, server, direct);
    double r_first = round_trip(&loop, server, relayed);
    assert_true(d_first >= 0);
    assert_true(r_first >= 0);
    double d_sum = 0, r_sum = 0;
    for (int i = 0; i < ROUNDS; i++) {
        double d = round_trip(&loop, server, direct);
        double r = round_trip(&loop, server, relayed);
        assert_true(d >= 0 && r >= 0);
        d_sum += d;
        r_sum += r;
    }
    relay_stats(fx.r, &st);
    assert_int_equal(st.circuits, 1);
    assert_int_equal(st.open, 1);
    assert_true(st.bytes > 0);
    printf("relay: first message (connect, SOCKS5, claim, CURVE handshake): relayed %.1f ms, "
           "direct %.1f ms\n",
           r_first, d_first);
    printf("relay: round trip over %d messages: relayed %.3f ms, direct %.3f ms; "
           "%llu bytes relayed\n",
           ROUNDS, r_sum / ROUNDS, d_sum / ROUNDS, (unsigned long long)st.bytes);

    /* P goes away: the circuit closes at R. */
    zmq_close(relayed);
    t0 = tu_now();
    do {
        pump(&loop, 20);
        relay_stats(fx.r, &st);
    } while (st.open != 0 && tu_now() - t0 < WAIT_MS / 1000.0);
    assert_int_equal(st.open, 0);

    zmq_close(direct);
    zmq_close(server);
    int closed = 0;
    relay_close(fx.r, on_closed, &closed);
    relay_close(fx.u, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    zmq_ctx_term(ctx);
    assert_int_equal(closed, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
    assert_int_equal(sodium_init() >= 0, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_splice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
