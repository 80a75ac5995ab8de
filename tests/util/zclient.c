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
