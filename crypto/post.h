/* post: the canonical encoding of a signed post, signing and verification.
 *
 * Version 1 layout (all integers big-endian; docs/PROTOCOL.md is normative):
 *
 *     u8   version (= 1)
 *     u8   kind
 *     32   author public key (Ed25519)
 *     u64  seq (1, 2, 3 ...)
 *     32   prev: id of the author's post seq - 1 (zeros when seq = 1)
 *     u64  timestamp, milliseconds since the Unix epoch
 *     32   ref       only for REPLY (parent id) and DELETE (target id)
 *     u8   name_len  only for PROFILE, 1..POST_NAME_MAX
 *     ..   name      only for PROFILE, UTF-8, no control characters
 *     u16  body_len  0..POST_BODY_MAX
 *     ..   body      UTF-8 (LF and TAB allowed; no other control character)
 *     64   Ed25519 signature over POST_SIG_TAG || every byte above
 *
 * The post id is BLAKE2b-256 (crypto_generichash, no key) of all the bytes,
 * signature included. */
#ifndef SAMIZDAT_POST_H
#define SAMIZDAT_POST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "utf8.h"

#define POST_SIG_TAG "samizdat-post-v1"

enum {
    POST_VERSION = 1,
    POST_ID_SIZE = 32,
    POST_SIG_SIZE = 64,
    POST_BODY_MAX = 1024, /* bytes of UTF-8 */
    POST_NAME_MAX = 64,   /* bytes of UTF-8 */
    POST_SIG_TAG_LEN = 16,
    POST_HEADER_SIZE = 1 + 1 + KEYS_PUBLIC_SIZE + 8 + POST_ID_SIZE + 8,
    POST_MIN_SIZE = POST_HEADER_SIZE + 2 + POST_SIG_SIZE,
    POST_MAX_SIZE = POST_HEADER_SIZE + 1 + POST_NAME_MAX + 2 + POST_BODY_MAX + POST_SIG_SIZE,
};

typedef enum {
    POST_KIND_POST = 1,    /* a plain post */
    POST_KIND_REPLY = 2,   /* ref = id of the post replied to */
    POST_KIND_DELETE = 3,  /* ref = id of one of the author's own posts; body empty */
    POST_KIND_PROFILE = 4, /* name = display name, body = bio */
} post_kind_t;

typedef struct {
    uint8_t version;
    uint8_t kind; /* post_kind_t */
    uint8_t author[KEYS_PUBLIC_SIZE];
    uint64_t seq;
    uint8_t prev[POST_ID_SIZE];
    uint64_t timestamp_ms;
    uint8_t ref[POST_ID_SIZE];    /* zeros unless REPLY or DELETE */
    uint8_t name_len;             /* PROFILE only */
    char name[POST_NAME_MAX + 1]; /* NUL-terminated */
    uint16_t body_len;
    char body[POST_BODY_MAX + 1]; /* NUL-terminated (a valid body holds no NUL) */
    uint8_t sig[POST_SIG_SIZE];
    uint8_t id[POST_ID_SIZE]; /* computed, not encoded */
} post_t;

typedef enum {
    POST_OK = 0,
    POST_ETRUNCATED, /* shorter than its fields say */
    POST_ETOOLARGE,  /* longer than POST_MAX_SIZE, or a field over its bound */
    POST_ETRAILING,  /* bytes after the signature */
    POST_EVERSION,   /* unknown version */
    POST_EKIND,      /* unknown kind */
    POST_EUTF8,      /* body or name not valid UTF-8, or holds a control character */
    POST_ESEQ,       /* seq 0, or prev not zero exactly when seq is 1 */
    POST_EFIELD,     /* a kind's fields are wrong: empty name, zero ref, body on a delete */
    POST_ESIG,       /* the signature does not verify */
    POST_EBUFSZ,     /* the output buffer is too small */
} post_err_t;

const char *post_strerror(post_err_t err);

/* Fills a post to sign: zeroes *p, sets version, kind, seq, prev (NULL means
 * zeros), timestamp. The caller then sets ref, name and body with the setters. */
void post_init(post_t *p, post_kind_t kind, uint64_t seq, const uint8_t *prev,
               uint64_t timestamp_ms);
/* Copy text into the post. POST_ETOOLARGE if it does not fit, POST_EUTF8 if
 * invalid; *p unchanged on error. text borrowed for the call. */
post_err_t post_set_body(post_t *p, const char *text, size_t len);
post_err_t post_set_name(post_t *p, const char *text, size_t len);

typedef enum {
    POST_TEXT_BODY = 0, /* a body (or a bio): at most POST_BODY_MAX, UTF8_TEXT */
    POST_TEXT_NAME = 1, /* a display name: at most POST_NAME_MAX, UTF8_LINE */
} post_text_t;

/* Checks text for a field as post_set_body / post_set_name do, and says
 * what is wrong so a front end can tell the user which byte: POST_OK,
 * POST_ETOOLARGE (over the field's size), or POST_EUTF8 with the first
 * problem in *detail (print it with utf8_problem_describe). detail may be
 * NULL; otherwise it is always written, kind UTF8_OK unless POST_EUTF8.
 * An empty text passes: whether a field may be empty is the kind's rule
 * (post_sign) or the front end's. text borrowed for the call. */
post_err_t post_text_check(const char *text, size_t len, post_text_t field, utf8_problem_t *detail);

/* Sets p->author from k, checks every field as the decoder would, signs,
 * writes the encoding into out (cap bytes, POST_MAX_SIZE always suffices),
 * and sets p->sig and p->id. On error nothing useful is in out and p->sig,
 * p->id are unchanged. */
post_err_t post_sign(post_t *p, const keys_author_t *k, uint8_t *out, size_t cap, size_t *out_len);

typedef enum {
    POST_VERIFY = 0,    /* check the signature (everything from outside) */
    POST_NO_VERIFY = 1, /* skip it: only for bytes already verified and checked
                           against their id, e.g. read back from our store */
} post_verify_t;

/* The one decoder: checks every length and rule listed in post_err_t, the
 * signature unless told not to, and sets out->id. buf borrowed for the call.
 * On error *out is unspecified. */
post_err_t post_decode(post_t *out, const uint8_t *buf, size_t len, post_verify_t verify);

/* Encodes a decoded (or signed) post, signature included, into out. For a
 * post from post_decode this gives back exactly the bytes decoded: the
 * encoding is canonical. POST_EBUFSZ when cap is too small; field errors as
 * post_sign. */
post_err_t post_encode(const post_t *p, uint8_t *out, size_t cap, size_t *out_len);

/* BLAKE2b-256 of buf. Cannot fail. */
void post_id(uint8_t out[static POST_ID_SIZE], const uint8_t *buf, size_t len);

/* True when kind is one this version knows. */
bool post_kind_valid(uint8_t kind);
/* "post", "reply", "delete", "profile", or "unknown". */
const char *post_kind_name(uint8_t kind);

#endif
