/* zraw: a minimal ZMTP 3.0 + CurveZMQ client written straight onto a TCP
 * socket, for tests that must send what libzmq itself never sends.
 *
 * libzmq's own pipes publish a multipart message only once its last frame
 * is written (ypipe's "incomplete" writes), so a libzmq sender cannot stream
 * one endless multipart message: the frames pile up in the sender. A hostile
 * peer is not bound by that; this client writes each frame to the socket at
 * once, as such a peer would. Test code only: blocking I/O, no reconnects. */
#ifndef SAMIZDAT_ZRAW_H
#define SAMIZDAT_ZRAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int fd;
    uint8_t server_pk[32];
    uint8_t client_pk[32];
    uint8_t client_sk[32];
    uint8_t tpk[32];         /* our transient key pair, C' */
    uint8_t tsk[32];
    uint8_t server_tpk[32];  /* the server's transient key, S' */
    uint8_t precomputed[32]; /* crypto_box_beforenm(S', C') */
    uint64_t nonce;          /* our short nonce counter */
    uint8_t *buf;            /* one encrypted frame */
    size_t cap;
} zraw_t;

/* Connects to host:port (IPv4 text), runs the greeting and the CURVE
 * handshake as a DEALER with the long-term key pair client_pk/client_sk
 * against server_pk. Returns 0, or -1 with a reason in why (cap bytes). */
int zraw_connect(zraw_t *z, const char *host, int port, const uint8_t server_pk[32],
                 const uint8_t client_pk[32], const uint8_t client_sk[32], char *why,
                 size_t cap);

/* Encrypts one frame (MESSAGE command) and writes it whole. more: the
 * frame's MORE flag. Returns 0, or -1 when the socket failed (the peer
 * closed it, reset it, or stopped reading for timeout_ms). */
int zraw_send(zraw_t *z, const uint8_t *data, size_t len, bool more, int timeout_ms);

void zraw_close(zraw_t *z);

#endif
