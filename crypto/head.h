/* head: the signed HEAD record of an author's feed.
 *
 * A head says "the latest post of author A has seq S and id I". It is signed
 * by the author, so any node can store it in the DHT and hand it out, and
 * nobody but the author can make one. Version 1 layout, 145 bytes, all
 * integers big-endian (docs/PROTOCOL.md section 10 is normative):
 *
 *     u8   version (= 1)
 *     32   author public key (Ed25519)
 *     u64  seq of the author's latest post, >= 1
 *     32   id of that post, not all zeros
 *     u64  timestamp, milliseconds since the Unix epoch, when the head was signed
 *     64   Ed25519 signature over HEAD_SIG_TAG || every byte above
 *
 * Between two valid heads of one author the higher seq wins; a head with a
 * seq that is not higher than one already held is a replay or a fork and is
 * never taken in place of it (the DHT's rule, not this module's). */
#ifndef SAMIZDAT_HEAD_H
#define SAMIZDAT_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define HEAD_SIG_TAG "samizdat-head-v1"

enum {
    HEAD_VERSION = 1,
    HEAD_ID_SIZE = 32,
    HEAD_SIG_SIZE = 64,
    HEAD_SIG_TAG_LEN = 16,
    HEAD_SIGNED_SIZE = 1 + 32 + 8 + 32 + 8,       /* bytes before the signature: 81 */
    HEAD_SIZE = HEAD_SIGNED_SIZE + HEAD_SIG_SIZE, /* 145 */
};

typedef struct {
    uint8_t version;
    uint8_t author[KEYS_PUBLIC_SIZE];
    uint64_t seq;
    uint8_t post_id[HEAD_ID_SIZE];
    uint64_t timestamp_ms;
    uint8_t sig[HEAD_SIG_SIZE];
} head_t;

typedef enum {
    HEAD_OK = 0,
    HEAD_ETRUNCATED, /* fewer than HEAD_SIZE bytes */
    HEAD_ETRAILING,  /* more than HEAD_SIZE bytes */
    HEAD_EVERSION,   /* unknown version */
    HEAD_EFIELD,     /* seq 0, or an all-zero post id */
    HEAD_ESIG,       /* the signature does not verify */
    HEAD_EBUFSZ,     /* the output buffer is too small */
} head_err_t;

const char *head_strerror(head_err_t err);

/* Fills a head to sign: zeroes *h, sets version, seq, post id and timestamp.
 * post_id borrowed for the call. Cannot fail. */
void head_init(head_t *h, uint64_t seq, const uint8_t post_id[static HEAD_ID_SIZE],
               uint64_t timestamp_ms);

/* Sets h->author from k, checks the fields as the decoder would, signs, and
 * writes the HEAD_SIZE bytes into out (cap bytes). Sets h->sig. On error
 * nothing useful is in out and h->sig is unchanged; *out_len is set only on
 * success. k borrowed for the call. */
head_err_t head_sign(head_t *h, const keys_author_t *k, uint8_t *out, size_t cap, size_t *out_len);

/* The one decoder: reads the fields through bytes_reader_t, checks every rule
 * and the signature. buf borrowed for the call. On error *out is
 * unspecified. */
head_err_t head_decode(head_t *out, const uint8_t *buf, size_t len);

/* The same decoder without the signature check: only for bytes whose
 * signature was already checked (a record we stored after head_decode), and
 * for codecs that carry a head and leave the (costly) check to the one who
 * uses it. Never take a head from outside on this alone. */
head_err_t head_decode_unverified(head_t *out, const uint8_t *buf, size_t len);

/* Encodes a decoded (or signed) head, signature included. For a head from a
 * decoder this gives back exactly the bytes decoded. HEAD_EBUFSZ when cap <
 * HEAD_SIZE; field errors as head_sign. *out_len set only on success. */
head_err_t head_encode(const head_t *h, uint8_t *out, size_t cap, size_t *out_len);

#endif
