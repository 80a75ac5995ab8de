/* zclient: libzmq clients that act as other nodes in attack tests. */
#ifndef SAMIZDAT_ZCLIENT_H
#define SAMIZDAT_ZCLIENT_H

#include <stddef.h>
#include <stdint.h>

/* A DEALER socket with a fresh CURVE key pair, for a server with key
 * server_pk, closing after linger_ms; not connected yet. Its public key
 * goes to pk_out unless NULL. Fails the test when libzmq has no socket. */
void *zc_dealer(void *ctx, const uint8_t server_pk[32], int linger_ms, uint8_t pk_out[32]);

/* Seconds until a fresh client's CURVE handshake with the server at
 * endpoint (key server_pk) succeeds, or -1 if it has not after wait_s. */
double zc_handshake_time(void *ctx, const uint8_t server_pk[32], const char *endpoint,
                         double wait_s);

/* For a node listening at tcp://127.0.0.1:PORT, the endpoint that
 * connects to it from 127.0.0.2 ("tcp://127.0.0.2:0;127.0.0.1:PORT"): a
 * second host on this machine, as far as addresses go. */
void zc_from_second_host(char *out, size_t cap, const char *endpoint);

#endif
