/* gossipmsg: the gossip and feed-sync messages, and the one decoder for them.
 *
 * Each message travels in the frame of node/net/wire.h:
 *
 *     u8 version (GOSSIP_FRAME_VERSION) | u8 type (0x20..0x28) | u32 request id | payload
 *
 * docs/PROTOCOL.md section 11 is normative for every payload. In short (all
 * integers big-endian; a "ref" is author (32) | seq (u64) | post id (32);
 * a "post" is u16 length | that many bytes of an encoded post):
 *
 *     SUBSCRIBE  u8 flags | u16 n | n x author        authors strictly ascending
 *     POST       post                                 one post, pushed eagerly
 *     IHAVE      u8 n | n x ref                       "I have these", lazy push
 *     HEADS      u16 n | n x ref                      contiguous heads (0 = none), authors
 * ascending GET_RANGE  author | u64 from_seq | u8 max_count pull request RANGE      u8 n | n x post
 * answer to GET_RANGE (same request id) PRUNE      author                               "stop
 * pushing this author to me eagerly" GRAFT      author                               "push this
 * author to me eagerly" FORK       post | post                          two conflicting posts of
 * one author
 *
 * The codec checks structure only: counts and lengths against the caps of
 * gossipcaps.h (before anything they claim is read), orderings, and the
 * fixed-field rules. It never checks a signature: verification costs far
 * more than decoding, so the state machine (gossip.h) decides, after its rate
 * limits, which posts are worth verifying.
 *
 * Decoding does not copy lists or posts: a decoded message points into the
 * buffer it was decoded from (borrowed; valid as long as that buffer is), so
 * the message struct stays small (about 1 KiB) whatever the frame holds. */
#ifndef SAMIZDAT_GOSSIPMSG_H
#define SAMIZDAT_GOSSIPMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossipcaps.h"

typedef enum {
    GOSSIP_SUBSCRIBE = 0x20,
    GOSSIP_POST = 0x21,
    GOSSIP_IHAVE = 0x22,
    GOSSIP_HEADS = 0x23,
    GOSSIP_GET_RANGE = 0x24,
    GOSSIP_RANGE = 0x25,
    GOSSIP_PRUNE = 0x26,
    GOSSIP_GRAFT = 0x27,
    GOSSIP_FORK = 0x28,
} gossip_type_t;

/* SUBSCRIBE flags. */
enum {
    /* This frame starts a new set: it replaces everything the peer said
     * before. Frames without it add to the set begun by the last one with
     * it, and continue its ascending order. */
    GOSSIP_SUBSCRIBE_FIRST = 0x01,
};

typedef enum {
    GOSSIP_MSG_OK = 0,
    GOSSIP_MSG_ETRUNCATED, /* shorter than the header or than a field claims */
    GOSSIP_MSG_ETOOLARGE,  /* over GOSSIP_FRAME_MAX, or a count/length over its cap */
    GOSSIP_MSG_ETRAILING,  /* bytes after the payload */
    GOSSIP_MSG_EVERSION,   /* frame version is not GOSSIP_FRAME_VERSION */
    GOSSIP_MSG_ETYPE,      /* not a gossip type */
    GOSSIP_MSG_EFIELD,     /* a field breaks its rule: order, zero seq, short post ... */
    GOSSIP_MSG_EBUFSZ,     /* encoder: output buffer too small */
} gossip_msg_err_t;

const char *gossip_msg_strerror(gossip_msg_err_t err);
/* "subscribe", "post", ... or "unknown". */
const char *gossip_msg_type_name(uint8_t type);
/* True for the types above (not for the reserved rest of 0x20..0x2f). */
bool gossip_msg_type_known(uint8_t type);

/* Bytes inside some buffer: borrowed, never owned by the message. */
typedef struct {
    const uint8_t *p;
    uint16_t len;
} gossip_bytes_t;

/* A feed reference, unpacked. */
typedef struct {
    uint8_t author[KEYS_PUBLIC_SIZE];
    uint64_t seq;
    uint8_t id[POST_ID_SIZE];
} gossip_ref_t;

typedef struct {
    uint8_t type; /* gossip_type_t */
    uint32_t request_id;
    union {
        struct {
            uint8_t flags;
            uint16_t n;
            const uint8_t *authors; /* n x 32 bytes, strictly ascending; borrowed */
        } subscribe;
        gossip_bytes_t post; /* POST */
        struct {
            uint16_t n;
            const uint8_t *refs; /* n x GOSSIP_REF_SIZE bytes; borrowed */
        } refs;                  /* IHAVE and HEADS */
        struct {
            uint8_t author[KEYS_PUBLIC_SIZE];
            uint64_t from_seq;
            uint8_t max_count;
        } get_range;
        struct {
            uint8_t n;
            gossip_bytes_t posts[GOSSIP_RANGE_MAX];
        } range;
        uint8_t author[KEYS_PUBLIC_SIZE]; /* PRUNE and GRAFT */
        struct {
            gossip_bytes_t a; /* sorts before b: see docs/PROTOCOL.md section 11 */
            gossip_bytes_t b;
        } fork;
    } u;
} gossip_msg_t;

/* Zeroes m and sets its type and request id. */
void gossip_msg_init(gossip_msg_t *m, gossip_type_t type, uint32_t request_id);

/* Decodes the payload of a frame whose header said (type, request_id).
 * p borrowed: on success out points into p[0 .. len) and is valid as long as
 * that buffer is. On error *out is unspecified. GOSSIP_MSG_ETYPE for a type
 * that is not a gossip message. */
gossip_msg_err_t gossip_msg_decode_payload(gossip_msg_t *out, uint8_t type, uint32_t request_id,
                                           const uint8_t *p, size_t len);

/* Decodes a whole frame: header, then payload. buf borrowed as above. On
 * GOSSIP_MSG_EVERSION and GOSSIP_MSG_ETYPE out->type and out->request_id are
 * set (so an error reply can echo the request id). */
gossip_msg_err_t gossip_msg_decode(gossip_msg_t *out, const uint8_t *buf, size_t len);

/* Encodes the payload of m into out (cap bytes) and sets *out_len. Applies
 * every rule of the decoder and refuses with the code it would give, so what
 * we send always decodes; GOSSIP_MSG_EBUFSZ when cap is too small. Nothing
 * past cap is written; *out_len is set only on success. m and what it points
 * to borrowed for the call. */
gossip_msg_err_t gossip_msg_encode_payload(const gossip_msg_t *m, uint8_t *out, size_t cap,
                                           size_t *out_len);

/* The same with the frame header in front: a whole frame. */
gossip_msg_err_t gossip_msg_encode(const gossip_msg_t *m, uint8_t *out, size_t cap,
                                   size_t *out_len);

/* Reads reference i of a decoded (or built) IHAVE or HEADS list. refs holds
 * at least (i + 1) * GOSSIP_REF_SIZE bytes. Cannot fail. */
void gossip_ref_get(const uint8_t *refs, size_t i, gossip_ref_t *out);
/* Writes r in its wire form into out (GOSSIP_REF_SIZE bytes). Cannot fail. */
void gossip_ref_put(uint8_t out[static GOSSIP_REF_SIZE], const gossip_ref_t *r);

/* The order FORK requires of its two posts: by seq (the u64 at offset 34 of
 * an encoded post), then byte by byte, then the shorter first. Negative, 0
 * or positive like memcmp. Both must be at least POST_MIN_SIZE bytes. */
int gossip_post_order(const gossip_bytes_t *a, const gossip_bytes_t *b);

#endif
