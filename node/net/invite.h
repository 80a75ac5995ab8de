/* invite: the one-line text a person hands to another so that the other's
 * node can join theirs: the node key, the endpoints where the node can be
 * dialled, and optionally the author key to follow. Format: docs/PROTOCOL.md
 * section 12 (Invites). The text is a long key text (keytext.h) with the
 * prefix "szi", so a mistyped invite fails its checksum. Pure: no I/O. */
#ifndef SAMIZDAT_INVITE_H
#define SAMIZDAT_INVITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "keys.h"
#include "keytext.h"

#define INVITE_PREFIX "szi"

enum {
    INVITE_VERSION = 1,
    INVITE_ENDPOINTS_MAX = 4,
    INVITE_FLAG_AUTHOR = 0x01,
    /* version, flags, node key, author key, count, endpoints with lengths */
    INVITE_BYTES_MAX =
        1 + 1 + KEYS_PUBLIC_SIZE * 2 + 1 + INVITE_ENDPOINTS_MAX * (1 + ADDR_ENDPOINT_MAX),
    /* prefix, '1', the bytes in 5-bit characters, the checksum, NUL */
    INVITE_TEXT_MAX = 4 + (INVITE_BYTES_MAX * 8 + 4) / 5 + 6 + 1,
};

typedef enum {
    INVITE_OK = 0,
    INVITE_ETEXT,     /* not a valid invite text: see the keytext error */
    INVITE_EVERSION,  /* a version this program does not know */
    INVITE_EFORMAT,   /* the bytes do not make an invite (count, length, flags, trailing) */
    INVITE_EENDPOINT, /* an endpoint nobody can dial (syntax, wildcard) */
    INVITE_ETOOMANY,  /* encoding: more than INVITE_ENDPOINTS_MAX endpoints, or none */
} invite_err_t;

typedef struct {
    uint8_t node_key[KEYS_PUBLIC_SIZE];
    bool has_author;
    uint8_t author[KEYS_PUBLIC_SIZE];
    size_t n_endpoints; /* 1..INVITE_ENDPOINTS_MAX */
    char endpoints[INVITE_ENDPOINTS_MAX][ADDR_ENDPOINT_MAX + 1];
} invite_t;

/* Writes the text form of inv into out. INVITE_ETOOMANY or INVITE_EENDPOINT
 * when inv is not a valid invite (out is then ""). */
invite_err_t invite_encode(const invite_t *inv, char out[static INVITE_TEXT_MAX]);

/* Parses text into *out (zeroed on error). On INVITE_ETEXT, *text_err (when
 * not NULL) says what is wrong with the characters. */
invite_err_t invite_decode(const char *text, invite_t *out, keytext_err_t *text_err);

/* A sentence for the user. For INVITE_ETEXT, invite_text_strerror says more. */
const char *invite_strerror(invite_err_t err);
/* What is wrong with the characters of an invite, in words. */
const char *invite_text_strerror(keytext_err_t err);

#endif
