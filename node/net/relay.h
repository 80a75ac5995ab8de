/* relay: the data plane of circuit relays (docs/PROTOCOL.md 6, "Relays").
 *
 * One object plays both roles on the caller's loop, with libuv TCP only
 * (no threads, no ZeroMQ):
 *
 * - The relay R (relay_listen): a TCP listener on the relay port. A peer P
 *   asks for a node U there in SOCKS5 (a CONNECT to a domain name that
 *   names U's key); when U holds a reservation (relay_reserve), on_circuit
 *   is called so the caller sends U a CONNECT over its ZeroMQ connection;
 *   U claims the circuit on a new connection with the circuit id and
 *   nonce, and R copies bytes between the two connections.
 * - The relayed node U (relay_claim): on a CONNECT, opens the claim
 *   connection to R and, once R accepts it, a connection to its own
 *   listener on loopback, and copies bytes between them. So the node's
 *   ZeroMQ listener sees an ordinary inbound connection and the CURVE
 *   handshake runs end to end between P and U: R sees ciphertext only.
 *
 * Everything a stranger can grow has a cap (below); bytes from outside are
 * read through the bounds-checked reader of crypto/bytes.h. */
#ifndef SAMIZDAT_RELAY_H
#define SAMIZDAT_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "keys.h"
#include "log.h"
#include "wire.h"

/* The defaults of the caps; docs/PROTOCOL.md "Relays" shows the same. */
/* As the node's own connections (transport.h): keepalive probes after 2 s
 * idle, one a second, closed after 4 s without an answer. */
enum { RELAY_KEEPALIVE_IDLE_S = 2, RELAY_KEEPALIVE_INTVL_S = 1, RELAY_USER_TIMEOUT_MS = 4000 };

enum {
    RELAY_RESERVATIONS_MAX = 16,   /* reservations in all */
    RELAY_RESERVATIONS_PER_IP = 2, /* reservations from one source address */
    RELAY_CIRCUITS_PER_RESERVATION = 16,
    RELAY_CIRCUITS_MAX = 64,       /* circuits in all, pending or spliced */
    RELAY_CONNS_MAX = 256,         /* TCP connections of the relay port, every state */
    RELAY_RESERVATION_S = 3600,    /* a reservation lasts this long */
    RELAY_HANDSHAKE_MS = 10000,    /* SOCKS5, claim, and a circuit waiting for its claim */
    RELAY_BUFFER_MAX = 256 * 1024, /* bytes queued towards one side before reading stops */
    RELAY_SWEEP_MS = 1000,
    RELAY_CLAIM_SIZE = 24,     /* "SZRC", u32 circuit, 16-byte nonce */
    RELAY_SOCKS_NAME_LEN = 71, /* 32 hex, ".", 32 hex, ".relay" */
};
/* Bytes one circuit carries, both ways together. */
#define RELAY_CIRCUIT_BYTES (16ull * 1024 * 1024)

typedef struct relay relay_t;

/* R: a circuit to key waits; tell that node (CONNECT). key and nonce
 * borrowed for the call. */
typedef void (*relay_circuit_cb)(void *ud, const uint8_t key[KEYS_PUBLIC_SIZE], uint32_t circuit,
                                 const uint8_t nonce[WIRE_CIRCUIT_NONCE]);

typedef struct {
    relay_circuit_cb on_circuit;
    void *ud;
    const log_t *log;
    /* Test only (defence.h): "relaycaps" lifts the per-address and
     * per-reservation caps, so a test shows what they stop. */
    const char *defences_off;
    /* 0: the defaults above. */
    uint64_t circuit_bytes;
    uint32_t reservation_s;
} relay_config_t;

/* A probe's answer: ok when the relay accepted a circuit to key. */
typedef void (*relay_probe_cb)(void *ud, const uint8_t key[KEYS_PUBLIC_SIZE], bool ok);

typedef enum {
    RELAY_OK = 0,
    RELAY_ENOMEM,
    RELAY_EBIND,   /* the relay port could not be bound */
    RELAY_EBUSY,   /* at a cap */
    RELAY_EADDR,   /* an address that is not an IP address */
    RELAY_ECLOSED, /* relay_close was called */
} relay_err_t;

const char *relay_strerror(relay_err_t err);

/* cfg and what it points to borrowed until relay_close. */
relay_err_t relay_new(relay_t **out, uv_loop_t *loop, const relay_config_t *cfg);
/* Closes every connection and the listener, frees r once libuv has closed
 * its handles, then calls cb(ud). Accepts NULL (cb at once). */
void relay_close(relay_t *r, void (*cb)(void *ud), void *ud);

/* R: listens on host (a numeric IPv4 or IPv6 address) and port (0:
 * ephemeral). On error nothing changed. */
relay_err_t relay_listen(relay_t *r, const char *host, uint16_t port);
/* The bound port; 0 when not listening. */
uint16_t relay_port(const relay_t *r);

/* R: grants or renews key's reservation, asked from the IP address ip
 * (text, as the transport reports it). Fills *out (status, port, expiry,
 * byte cap). A renewal by the same key is always granted; a new one is
 * BUSY past RELAY_RESERVATIONS_MAX or RELAY_RESERVATIONS_PER_IP (no
 * per-address cap for ip "": the caller's choice for this host's own
 * addresses, which every local process shares), and
 * REFUSED when not listening. */
void relay_reserve(relay_t *r, const uint8_t key[KEYS_PUBLIC_SIZE], const char *ip, uint64_t now_ms,
                   wire_msg_t *out);
/* R: drops key's reservation (its node went away); open circuits stay. */
void relay_unreserve(relay_t *r, const uint8_t key[KEYS_PUBLIC_SIZE]);
/* R: reservations held now. */
size_t relay_reservations(const relay_t *r);

/* Anyone: asks the relay port at relay_addr (borrowed for the call), in
 * SOCKS5, for a circuit to key, and closes the connection at the answer.
 * cb(ud, key, true) when the relay accepted (it holds a reservation for
 * key, and that node claimed the circuit: the relayed endpoint reaches
 * it); false for a refusal, bytes that are not SOCKS5 (no relay there),
 * a closed connection or no answer in RELAY_HANDSHAKE_MS. One connection,
 * nothing retried. cb is called once, later, never after relay_close;
 * not at all when this returns an error. */
relay_err_t relay_probe(relay_t *r, const struct sockaddr *relay_addr,
                        const uint8_t key[KEYS_PUBLIC_SIZE], relay_probe_cb cb, void *ud);

/* U: claims a circuit at the relay port relay_addr and splices it to the
 * local listener at local_addr. Both borrowed for the call. */
relay_err_t relay_claim(relay_t *r, const struct sockaddr *relay_addr, uint32_t circuit,
                        const uint8_t nonce[WIRE_CIRCUIT_NONCE], const struct sockaddr *local_addr);

/* The SOCKS5 host name that asks a relay for key: RELAY_SOCKS_NAME_LEN
 * characters and a NUL into out. */
void relay_socks_name(const uint8_t key[KEYS_PUBLIC_SIZE], char out[RELAY_SOCKS_NAME_LEN + 1]);

typedef struct {
    uint64_t circuits; /* spliced, since the start */
    uint64_t refused;  /* SOCKS requests and reservations refused at a cap */
    uint64_t bad;      /* handshakes that broke the protocol, or timed out */
    uint64_t bytes;    /* relayed, both ways */
    size_t open;       /* circuits open now */
} relay_stats_t;
void relay_stats(const relay_t *r, relay_stats_t *out);

#endif
