/* dhtmsg: the DHT messages and the one codec for their payloads.
 *
 * Each DHT message travels in the project's frame (docs/PROTOCOL.md section
 * 6): u8 version | u8 type | u32 request id | payload. The node reads the
 * header; this module encodes and decodes the payload of one type. The
 * layouts are in docs/PROTOCOL.md section 10, which is normative.
 *
 * Contacts in messages are a node key (32 bytes, the CurveZMQ key; the id is
 * derived from it) and an endpoint: a u8 length 1..DHT_ENDPOINT_MAX and that
 * many bytes of graphic ASCII (0x21..0x7e). The codec checks only that; the
 * node checks the endpoint syntax further (see dht_config_t.endpoint_ok). */
#ifndef SAMIZDAT_DHTMSG_H
#define SAMIZDAT_DHTMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dhtproto.h"

typedef struct {
    uint8_t key[DHT_KEY_SIZE];           /* X25519 node key */
    char endpoint[DHT_ENDPOINT_MAX + 1]; /* NUL-terminated; "" = none (only outside messages) */
} dht_contact_t;

typedef struct {
    uint8_t n;
    dht_contact_t c[DHT_NODES_MAX];
} dht_contacts_t;

/* A head record as carried in a message: len 0 (none) or the encoded record. */
typedef struct {
    uint8_t len;
    uint8_t bytes[DHT_HEAD_MAX];
} dht_head_rec_t;

typedef struct {
    uint8_t type; /* dht_msg_type_t */
    uint32_t rid; /* request id; a reply carries its request's */
    union {
        uint8_t target[DHT_KEY_SIZE]; /* FIND_NODE */
        uint8_t key[DHT_KEY_SIZE];    /* ANNOUNCE, GET_PROVIDERS, GET_HEAD */
        dht_contacts_t nodes;         /* NODES */
        struct {
            uint8_t n;
            dht_contact_t c[DHT_PROVIDERS_MAX];
            dht_contacts_t closer;
        } providers;        /* PROVIDERS */
        dht_head_rec_t put; /* PUT_HEAD: len is HEAD_SIZE */
        struct {
            dht_head_rec_t rec; /* len 0 when the node holds no head */
            dht_contacts_t closer;
        } head; /* HEAD */
        struct {
            uint16_t code;                     /* dht_error_code_t; any value */
            char text[DHT_ERROR_TEXT_MAX + 1]; /* printable ASCII, NUL-terminated */
        } error;                               /* ERROR */
    } u;
} dht_msg_t;

typedef enum {
    DHT_MSG_OK = 0,
    DHT_MSG_ETRUNCATED, /* the payload ends inside a field */
    DHT_MSG_ETOOLARGE,  /* payload over DHT_PAYLOAD_MAX, or a count or length over its cap */
    DHT_MSG_ETRAILING,  /* bytes after the payload's last field */
    DHT_MSG_ETYPE,      /* not a DHT message type */
    DHT_MSG_EFIELD,     /* a field breaks its rule: endpoint bytes, empty endpoint, bad head */
    DHT_MSG_EBUFSZ,     /* encoder: output buffer too small */
} dht_msg_err_t;

const char *dht_msg_strerror(dht_msg_err_t err);
/* "ping", "find_node", ... or "unknown". */
const char *dht_msg_type_name(uint8_t type);
/* True for DHT_MSG_TYPE_FIRST..DHT_MSG_TYPE_LAST. */
bool dht_msg_type_known(uint8_t type);
/* True for the types that ask for an answer. */
bool dht_msg_is_request(uint8_t type);

/* Zeroes *m and sets type and rid. Cannot fail. */
void dht_msg_init(dht_msg_t *m, dht_msg_type_t type, uint32_t rid);

/* True when s is an endpoint the codec carries: 1..DHT_ENDPOINT_MAX bytes of
 * graphic ASCII, NUL-terminated within DHT_ENDPOINT_MAX + 1 bytes. */
bool dht_msg_endpoint_ok(const char *s);

/* The one decoder. p borrowed for the call (may be NULL when len is 0).
 * Checks, in this order: the type; the payload length against
 * DHT_PAYLOAD_MAX; then in reading order each count or length against its
 * cap (ETOOLARGE) and against what is left (ETRUNCATED); trailing bytes;
 * then the field rules (EFIELD): endpoint bytes, a head that does not parse
 * (its signature is NOT checked here: the dht checks it before it trusts or
 * stores a head). On error *out is unspecified (but zeroed before
 * decoding). The encoding is canonical: what decodes re-encodes to the same
 * bytes. */
dht_msg_err_t dht_msg_decode_payload(dht_msg_t *out, uint8_t type, uint32_t rid, const uint8_t *p,
                                     size_t len);

/* Encodes the payload of m (not the frame header) into out (cap bytes).
 * Refuses with what the decoder would say about the result (ETYPE,
 * ETOOLARGE, EFIELD), and EBUFSZ when cap is too small;
 * DHT_LARGEST_PAYLOAD bytes always suffice. Never writes past cap; *len is
 * set only on success. m and out borrowed for the call. */
dht_msg_err_t dht_msg_encode_payload(const dht_msg_t *m, uint8_t *out, size_t cap, size_t *len);

#endif
