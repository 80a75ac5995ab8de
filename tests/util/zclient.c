#include "zclient.h"

#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

void *
zc_dealer(void *ctx, const uint8_t server_pk[32], int linger_ms, uint8_t pk_out[32])
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    assert_non_null(s);
    uint8_t pk[32], sk[32];
    crypto_box_keypair(pk, sk);
    if (pk_out != NULL) {
        memcpy(pk_out, pk, 32);
    }
    zmq_setsockopt(s, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pk, 32);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pk, 32);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sk, 32);
    sodium_memzero(sk, sizeof sk);
    return s;
}

void
zc_from_second_host(char *out, size_t cap, const char *endpoint)
{
    const char *colon = strrchr(endpoint, ':');
    assert_non_null(colon);
    int n = snprintf(out, cap, "tcp://127.0.0.2:0;127.0.0.1:%s", colon + 1);
    assert_true(n > 0 && (size_t)n < cap);
}

double
zc_handshake_time(void *ctx, const uint8_t server_pk[32], const char *endpoint, double wait_s)
{
    static int n; /* a monitor's inproc name may linger after it closed */
    char name[64];
    snprintf(name, sizeof name, "inproc://zc-handshake-%d", n++);
    void *s = zc_dealer(ctx, server_pk, 0, NULL);
    assert_int_equal(zmq_socket_monitor(s, name, ZMQ_EVENT_HANDSHAKE_SUCCEEDED), 0);
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_connect(mon, name), 0);
    int timeout = 50;
    zmq_setsockopt(mon, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    double t0 = tu_now(), took = -1;
    assert_int_equal(zmq_connect(s, endpoint), 0);
    while (took < 0 && tu_now() - t0 < wait_s) {
        uint8_t ev[64];
        uint16_t id = 0;
        if (zmq_recv(mon, ev, sizeof ev, 0) >= 2) {
            memcpy(&id, ev, 2);
        }
        if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            took = tu_now() - t0;
        }
    }
    zmq_socket_monitor(s, NULL, 0);
    zmq_close(mon);
    zmq_close(s);
    return took;
}
