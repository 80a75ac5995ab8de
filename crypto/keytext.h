/* keytext: the text forms people type and share.
 *
 * Author keys, node keys and post ids are 32 bytes. Their text form is
 * Bech32m (BIP 350) with a human-readable prefix naming what it is:
 *
 *     author key   sza1...   (62 characters)
 *     node key     szn1...
 *     post id      szp1...
 *
 * Bech32m's checksum detects every error of up to four characters, so one
 * mistyped character is always refused; a missing or extra character changes
 * the length and is refused too. Upper case input is accepted when it is all
 * upper case (as Bech32 specifies); output is lower case. */
#ifndef SAMIZDAT_KEYTEXT_H
#define SAMIZDAT_KEYTEXT_H

#include <stddef.h>
#include <stdint.h>

enum {
    KEYTEXT_LEN = 62, /* characters, without the terminating NUL */
    KEYTEXT_BUFSZ = KEYTEXT_LEN + 1,
    KEYTEXT_VALUE_SIZE = 32, /* bytes: a key or a post id */
};

typedef enum {
    KEYTEXT_AUTHOR = 0, /* "sza" */
    KEYTEXT_NODE = 1,   /* "szn" */
    KEYTEXT_POST = 2,   /* "szp" */
} keytext_kind_t;

typedef enum {
    KEYTEXT_OK = 0,
    KEYTEXT_ELENGTH,    /* too short or too long: a character missing or extra */
    KEYTEXT_ECHARSET,   /* a character that is not in the Bech32 alphabet, or mixed case */
    KEYTEXT_EPREFIX,    /* not the expected prefix (e.g. a post id where a key was asked) */
    KEYTEXT_ECHECKSUM,  /* the checksum does not match: a mistyped character */
    KEYTEXT_EPADDING,   /* non-zero padding bits: not a text form this program writes */
} keytext_err_t;

/* Writes the NUL-terminated text form of a 32-byte value into out. Cannot fail. */
void keytext_encode(char out[static KEYTEXT_BUFSZ], keytext_kind_t kind,
                    const uint8_t value[static KEYTEXT_VALUE_SIZE]);

/* Parses text (NUL-terminated; surrounding spaces are not allowed) of the given
 * kind into out. On error out is zeroed. */
keytext_err_t keytext_decode(uint8_t out[static KEYTEXT_VALUE_SIZE], keytext_kind_t kind,
                             const char *text);

/* A sentence for the user, e.g. "one character is mistyped (checksum mismatch)". */
const char *keytext_strerror(keytext_err_t err);

/* The prefix for a kind: "sza", "szn" or "szp". */
const char *keytext_prefix(keytext_kind_t kind);

/* Long text forms (invites): the same alphabet, case rule and Bech32m
 * checksum over any number of bytes up to KEYTEXT_LONG_BYTES_MAX, after a
 * 3-letter prefix and '1'. Bech32m guarantees to detect up to four wrong
 * characters only within 89 characters; beyond that a random error still
 * slips through about once in a billion (2^-30). */
enum { KEYTEXT_LONG_BYTES_MAX = 1024 };

/* Characters in the text form of n bytes, without the terminating NUL. */
size_t keytext_long_len(size_t n);

/* Writes the NUL-terminated text form of data (n bytes) with prefix (three
 * lower-case letters) into out (cap bytes). KEYTEXT_ELENGTH when n is over
 * the limit or out is too small (nothing written then). */
keytext_err_t keytext_long_encode(char *out, size_t cap, const char *prefix, const uint8_t *data,
                                  size_t n);

/* Parses text (NUL-terminated) with prefix into out (cap bytes), *n the
 * number of bytes. ELENGTH when it is too short, too long or holds more
 * than cap bytes; the other errors as keytext_decode. */
keytext_err_t keytext_long_decode(uint8_t *out, size_t cap, size_t *n, const char *prefix,
                                  const char *text);

#endif
