/* wire: the messages nodes exchange, and the one decoder for them.
 *
 * Every message is one ZeroMQ frame:
 *
 *     u8   version      WIRE_VERSION
 *     u8   type         wire_type_t
 *     u32  request id   chosen by the sender of a request, echoed in the reply;
 *                       0 in messages that are not part of an exchange
 *     ..   payload      by type, to the end of the frame
 *
 * Types 0x10..0x1f carry DHT messages, whose payloads dht/dhtmsg.c decodes;
 * this is still the one entry point for every frame from a peer.
 *
 * All integers big-endian; docs/PROTOCOL.md, "Wire", is normative. Strings are
 * a u8 length and that many bytes. Every length is checked against what is
 * left and against the named caps below; any byte left over is an error. */
#ifndef SAMIZDAT_WIRE_H
#define SAMIZDAT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "dhtmsg.h"
#include "keys.h"

enum {
    WIRE_VERSION = 1,
    WIRE_HEADER_SIZE = 6,
    WIRE_MAX_FRAME = 64 * 1024,            /* also ZMQ_MAXMSGSIZE */
    WIRE_NETWORK_MAX = 32,                 /* bytes of network name: [a-z0-9._-], 1..32 */
    WIRE_SOFTWARE_MAX = 32,                /* bytes of software version, printable ASCII */
    WIRE_ENDPOINT_MAX = ADDR_ENDPOINT_MAX, /* bytes of one endpoint, e.g. "tcp://192.0.2.1:7470" */
    WIRE_ENDPOINTS_MAX = 8,                /* listen endpoints in a HELLO */
    WIRE_PEERS_MAX = 32,                   /* contacts in one PEERS reply */
    WIRE_ERROR_TEXT_MAX = 200,
};

typedef enum {
    WIRE_HELLO = 1, /* first message on every connection, both ways */
    WIRE_PING = 2,
    WIRE_PONG = 3,
    WIRE_PEERS_REQ = 4, /* "send me some contacts" */
    WIRE_PEERS = 5,
    WIRE_ERROR = 6, /* a reply saying why a request was refused */
    /* The dial-back check (PROTOCOL.md 6, "Dial-back"): "dial me back at
     * this endpoint and say this nonce there"; the nonce, on the new
     * connection; and the answer to the request. */
    WIRE_DIAL_REQ = 7,
    WIRE_DIAL_BACK = 8,
    WIRE_DIAL_RESULT = 9,
    /* Circuit relays (PROTOCOL.md 6, "Relays"): an unreachable node asks a
     * relay for a reservation; the relay answers; and the relay tells the
     * holder of a reservation that a circuit waits for it on the relay port. */
    WIRE_RESERVE = 10,
    WIRE_RESERVED = 11,
    WIRE_CONNECT = 12,
} wire_type_t;

/* Outcomes in WIRE_RESERVED. Every value decodes; an unknown one means
 * "no reservation". */
typedef enum {
    WIRE_RESERVE_OK = 0,
    WIRE_RESERVE_REFUSED = 1, /* this node does not relay, or not for this key */
    WIRE_RESERVE_BUSY = 2,    /* at a cap now (reservations in all or per address): ask later */
} wire_reserve_status_t;

enum { WIRE_CIRCUIT_NONCE = 16 };

/* Outcomes in WIRE_DIAL_RESULT. Every value decodes: a newer node may add
 * some, and an unknown one means "not dialled". */
typedef enum {
    WIRE_DIAL_OK = 0,      /* connected to the endpoint, with the requester's key, and sent
                              DIAL_BACK there */
    WIRE_DIAL_FAILED = 1,  /* could not connect, or the handshake failed */
    WIRE_DIAL_REFUSED = 2, /* the endpoint is not at the address the request came from */
    WIRE_DIAL_BUSY = 3,    /* too many dial-backs now, or asked too often: ask later */
} wire_dial_status_t;

/* Capability bits in HELLO. Unknown bits are ignored. */
enum {
    WIRE_CAP_DHT = 1u << 0,
    WIRE_CAP_GOSSIP = 1u << 1,
    /* The sender relays circuits for unreachable nodes (RESERVE). */
    WIRE_CAP_RELAY = 1u << 2,
};

/* Codes in WIRE_ERROR. */
typedef enum {
    WIRE_ERR_VERSION = 1,   /* unknown protocol version */
    WIRE_ERR_TYPE = 2,      /* unknown message type */
    WIRE_ERR_MALFORMED = 3, /* could not be decoded */
    WIRE_ERR_NETWORK = 4,   /* HELLO from another network */
    WIRE_ERR_BUSY = 5,      /* no slot for this peer */
    WIRE_ERR_HELLO = 6,     /* a message before HELLO */
} wire_error_code_t;

typedef struct {
    char s[WIRE_ENDPOINT_MAX + 1]; /* NUL-terminated */
} wire_endpoint_t;

typedef struct {
    char network[WIRE_NETWORK_MAX + 1];
    uint8_t node_key[KEYS_PUBLIC_SIZE];
    char software[WIRE_SOFTWARE_MAX + 1];
    uint32_t caps;
    uint16_t listen_port; /* 0: none; else the TCP port of a listener on every address */
    uint8_t n_endpoints;
    wire_endpoint_t endpoints[WIRE_ENDPOINTS_MAX];
} wire_hello_t;

typedef struct {
    uint8_t node_key[KEYS_PUBLIC_SIZE];
    wire_endpoint_t endpoint;
} wire_contact_t;

typedef struct {
    uint8_t n;
    wire_contact_t contacts[WIRE_PEERS_MAX];
} wire_peers_t;

typedef struct {
    uint8_t version;
    uint8_t type;
    uint32_t request_id;
    union {
        wire_hello_t hello;
        uint64_t ping_nonce; /* PING and PONG: echoed unchanged */
        uint8_t peers_max;   /* PEERS_REQ: at most this many, 1..WIRE_PEERS_MAX */
        wire_peers_t peers;
        /* DIAL_REQ: nonce and endpoint; DIAL_BACK: nonce; DIAL_RESULT:
         * status (wire_dial_status_t). */
        struct {
            uint64_t nonce;
            uint8_t status;
            wire_endpoint_t endpoint;
        } dial;
        /* RESERVED: status (wire_reserve_status_t), the relay's TCP port
         * for circuits, seconds the reservation lasts, and the bytes one
         * circuit may carry (both ways together). RESERVE has no payload. */
        struct {
            uint8_t status;
            uint16_t port;
            uint32_t expires_s;
            uint64_t byte_cap;
        } reserved;
        /* CONNECT: which circuit waits, and the nonce that claims it. */
        struct {
            uint32_t circuit;
            uint8_t nonce[WIRE_CIRCUIT_NONCE];
        } connect;
        struct {
            uint16_t code; /* wire_error_code_t */
            char text[WIRE_ERROR_TEXT_MAX + 1];
        } error;
        /* Types 0x10..0x1f: a DHT message; its payload is dht/dhtmsg.h's,
         * and u.dht.type and u.dht.rid equal type and request_id. */
        dht_msg_t dht;
    } u;
} wire_msg_t;

typedef enum {
    WIRE_OK = 0,
    WIRE_ETRUNCATED, /* shorter than the header or than a field claims */
    WIRE_ETOOLARGE,  /* larger than WIRE_MAX_FRAME, or a count/length over its cap */
    WIRE_ETRAILING,  /* bytes after the payload */
    WIRE_EVERSION,   /* version is not WIRE_VERSION (header fields are still set) */
    WIRE_ETYPE,      /* unknown type (header fields are still set) */
    WIRE_EFIELD,     /* a field breaks its rule: bad network name, endpoint syntax ... */
    WIRE_EBUFSZ,     /* encoder: output buffer too small */
} wire_err_t;

const char *wire_strerror(wire_err_t err);
const char *wire_type_name(uint8_t type);

/* The one decoder. buf borrowed for the call. On WIRE_EVERSION and WIRE_ETYPE
 * out->version, out->type and out->request_id are set (so an error reply can
 * echo the request id); on other errors *out is unspecified. */
wire_err_t wire_decode(wire_msg_t *out, const uint8_t *buf, size_t len);

/* Encodes m into out (cap bytes). Checks the same rules as the decoder, so
 * what we send always decodes. */
wire_err_t wire_encode(const wire_msg_t *m, uint8_t *out, size_t cap, size_t *out_len);

/* Encodes a DHT message as one whole frame: the header (version, m->type,
 * m->rid) then its payload. Same errors as wire_encode. */
wire_err_t wire_encode_dht(const dht_msg_t *m, uint8_t *out, size_t cap, size_t *out_len);

/* True for the types of the DHT (0x10..0x1f ranges of dhtproto.h). */
bool wire_is_dht(uint8_t type);

/* Fills the header of m and zeroes the payload. */
void wire_init(wire_msg_t *m, wire_type_t type, uint32_t request_id);

/* True for a network name we accept: 1..WIRE_NETWORK_MAX of [a-z0-9._-]. */
bool wire_network_valid(const char *name);
/* True for an endpoint we accept: "tcp://HOST:PORT" where HOST is an IPv4
 * address, a bracketed IPv6 address or a DNS name, PORT 1..65535, at most
 * WIRE_ENDPOINT_MAX bytes, printable ASCII only. The same as
 * addr_endpoint_valid (addr.h), which holds the rules. */
bool wire_endpoint_valid(const char *endpoint);
/* An endpoint HELLO may name: a tcp endpoint, or a relayed one
 * ("relay://HOST:PORT", PROTOCOL.md 6, "Endpoints"). */
bool wire_hello_endpoint_valid(const char *endpoint);

#endif
