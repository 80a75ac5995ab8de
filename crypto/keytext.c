/* keytext: Bech32m (BIP 350) text forms of 32-byte keys and ids.
 *
 * Every text form has the same shape: a 3-letter prefix, the separator '1',
 * 52 data characters (256 bits in 5-bit groups, 4 zero bits of padding at the
 * end) and 6 checksum characters, 62 in all. Because the shape is fixed, the
 * decoder checks the length first and never has to search for the separator.
 * The long forms (invites) are the same code over more bytes.
 *
 * This file depends on the C library only, so the fuzz target can be built
 * from it alone. */
#include "keytext.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

enum {
    HRP_LEN = 3,
    SEP_POS = HRP_LEN,      /* index of the separator '1' */
    DATA_POS = HRP_LEN + 1, /* index of the first data character */
    VALUE_LEN = KEYTEXT_VALUE_SIZE,
    DATA_CHARS = (VALUE_LEN * 8 + 4) / 5,      /* 52: 256 bits rounded up to 5-bit groups */
    PAD_BITS = DATA_CHARS * 5 - VALUE_LEN * 8, /* 4 */
    CHECK_CHARS = 6,
    SYMBOLS = DATA_CHARS + CHECK_CHARS, /* 58 */
};

_Static_assert(DATA_POS + SYMBOLS == KEYTEXT_LEN, "text form length");

/* BIP 350: the checksum constant that tells Bech32m from Bech32. */
static const uint32_t BECH32M_CONST = 0x2bc830a3u;

/* The 32 symbols in value order; the terminating NUL is not one of them. */
static const char ALPHABET[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

_Static_assert(sizeof ALPHABET == 33, "32 symbols");

static const char *const PREFIXES[] = {"sza", "szn", "szp"};

static bool
kind_valid(keytext_kind_t kind)
{
    return (unsigned)kind < sizeof PREFIXES / sizeof PREFIXES[0];
}

/* One step of the BCH checksum over GF(32) of BIP 173: shift in one 5-bit
 * symbol and reduce by the generator. */
static uint32_t
polymod_step(uint32_t chk, uint8_t v)
{
    static const uint32_t GEN[5] = {0x3b6a57b2u, 0x26508e6du, 0x1ea119fau, 0x3d4233ddu,
                                    0x2a1462b3u};
    uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffffu) << 5) ^ v;
    for (int i = 0; i < 5; i++) {
        if ((top >> i) & 1u) {
            chk ^= GEN[i];
        }
    }
    return chk;
}

/* The checksum state after the expanded prefix: the high bits of each
 * character, a zero, then the low 5 bits of each character. */
static uint32_t
polymod_prefix(const char *hrp)
{
    uint32_t chk = 1;
    for (size_t i = 0; i < HRP_LEN; i++) {
        chk = polymod_step(chk, (uint8_t)((unsigned char)hrp[i] >> 5));
    }
    chk = polymod_step(chk, 0);
    for (size_t i = 0; i < HRP_LEN; i++) {
        chk = polymod_step(chk, (uint8_t)((unsigned char)hrp[i] & 31u));
    }
    return chk;
}

/* Writes prefix, '1', the n bytes in 5-bit groups (most significant bit
 * first, the last group filled up with zero bits) and the checksum into
 * out, which holds keytext_long_len(n) + 1 bytes. */
static void
encode_any(char *out, const char *hrp, const uint8_t *data, size_t n)
{
    uint32_t chk = polymod_prefix(hrp);
    memcpy(out, hrp, HRP_LEN);
    out[SEP_POS] = '1';
    char *w = out + DATA_POS;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = ((acc << 8) | data[i]) & 0xfffu;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            uint8_t v = (uint8_t)((acc >> bits) & 31u);
            chk = polymod_step(chk, v);
            *w++ = ALPHABET[v];
        }
    }
    if (bits > 0) {
        uint8_t v = (uint8_t)((acc << (5 - bits)) & 31u);
        chk = polymod_step(chk, v);
        *w++ = ALPHABET[v];
    }
    for (size_t i = 0; i < CHECK_CHARS; i++) {
        chk = polymod_step(chk, 0);
    }
    chk ^= BECH32M_CONST;
    for (size_t i = 0; i < CHECK_CHARS; i++) {
        *w++ = ALPHABET[(chk >> (5 * (CHECK_CHARS - 1 - i))) & 31u];
    }
    *w = '\0';
}

size_t
keytext_long_len(size_t n)
{
    return DATA_POS + (n * 8 + 4) / 5 + CHECK_CHARS;
}

void
keytext_encode(char out[static KEYTEXT_BUFSZ], keytext_kind_t kind,
               const uint8_t value[static KEYTEXT_VALUE_SIZE])
{
    assert(kind_valid(kind));
    encode_any(out, PREFIXES[kind], value, VALUE_LEN);
}

keytext_err_t
keytext_long_encode(char *out, size_t cap, const char *prefix, const uint8_t *data, size_t n)
{
    if (out == NULL || prefix == NULL || strlen(prefix) != HRP_LEN ||
        (data == NULL && n > 0) || n > KEYTEXT_LONG_BYTES_MAX || cap < keytext_long_len(n) + 1) {
        return KEYTEXT_ELENGTH;
    }
    encode_any(out, prefix, data, n);
    return KEYTEXT_OK;
}

/* Checks the first len characters: printable ASCII, letters all lower or
 * all upper case. */
static keytext_err_t
check_case(const char *text, size_t len)
{
    bool lower = false;
    bool upper = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 33 || c > 126) {
            return KEYTEXT_ECHARSET;
        }
        lower = lower || (c >= 'a' && c <= 'z');
        upper = upper || (c >= 'A' && c <= 'Z');
    }
    return (lower && upper) ? KEYTEXT_ECHARSET : KEYTEXT_OK;
}

static char
lower_of(char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

/* The 5-bit value of a data or checksum character, or -1. */
static int
symbol_of(char ch)
{
    const char *at = memchr(ALPHABET, lower_of(ch), sizeof ALPHABET - 1);
    return at == NULL ? -1 : (int)(at - ALPHABET);
}

/* Parses text (len characters, case already checked) with prefix hrp into
 * out (cap bytes; *n written). The padding bits must be zero and fewer than
 * five, so each value has exactly one text form. */
static keytext_err_t
decode_any(uint8_t *out, size_t cap, size_t *n, const char *hrp, const char *text, size_t len)
{
    for (size_t i = 0; i < HRP_LEN; i++) {
        if (lower_of(text[i]) != hrp[i]) {
            return KEYTEXT_EPREFIX;
        }
    }
    if (text[SEP_POS] != '1') {
        return KEYTEXT_EPREFIX;
    }
    size_t data_chars = len - DATA_POS - CHECK_CHARS;
    size_t bytes = data_chars * 5 / 8;
    if (bytes > cap || data_chars * 5 - bytes * 8 >= 5) {
        return KEYTEXT_ELENGTH;
    }
    uint32_t chk = polymod_prefix(hrp);
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t w = 0;
    for (size_t i = DATA_POS; i < len; i++) {
        int v = symbol_of(text[i]);
        if (v < 0) {
            return KEYTEXT_ECHARSET;
        }
        chk = polymod_step(chk, (uint8_t)v);
        if (i - DATA_POS >= data_chars) {
            continue;
        }
        acc = ((acc << 5) | (uint32_t)v) & 0xfffu;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[w++] = (uint8_t)((acc >> bits) & 0xffu);
        }
    }
    if (chk != BECH32M_CONST) {
        return KEYTEXT_ECHECKSUM;
    }
    *n = w;
    return (acc & ((1u << bits) - 1u)) == 0 ? KEYTEXT_OK : KEYTEXT_EPADDING;
}

/* The length of text, counting no further than cap: the input may be a long
 * line, and only whether it fits matters. (strnlen is POSIX, not C11.) */
static size_t
bounded_len(const char *text, size_t cap)
{
    size_t n = 0;
    while (n < cap && text[n] != '\0') {
        n++;
    }
    return n;
}

static keytext_err_t
parse(uint8_t out[static KEYTEXT_VALUE_SIZE], keytext_kind_t kind, const char *text)
{
    if (text == NULL || bounded_len(text, KEYTEXT_LEN + 1) != KEYTEXT_LEN) {
        return KEYTEXT_ELENGTH;
    }
    keytext_err_t err = check_case(text, KEYTEXT_LEN);
    if (err != KEYTEXT_OK) {
        return err;
    }
    size_t n = 0;
    err = decode_any(out, VALUE_LEN, &n, PREFIXES[kind], text, KEYTEXT_LEN);
    return (err == KEYTEXT_OK && n != VALUE_LEN) ? KEYTEXT_ELENGTH : err;
}

keytext_err_t
keytext_long_decode(uint8_t *out, size_t cap, size_t *n, const char *prefix, const char *text)
{
    if (n != NULL) {
        *n = 0;
    }
    if (out == NULL || n == NULL || prefix == NULL || strlen(prefix) != HRP_LEN) {
        return KEYTEXT_EPREFIX;
    }
    size_t max = keytext_long_len(KEYTEXT_LONG_BYTES_MAX);
    size_t len = text == NULL ? 0 : bounded_len(text, max + 1);
    if (len > max || len < DATA_POS + CHECK_CHARS) {
        return KEYTEXT_ELENGTH;
    }
    keytext_err_t err = check_case(text, len);
    if (err == KEYTEXT_OK) {
        err = decode_any(out, cap, n, prefix, text, len);
    }
    if (err != KEYTEXT_OK) {
        *n = 0;
    }
    return err;
}

keytext_err_t
keytext_decode(uint8_t out[static KEYTEXT_VALUE_SIZE], keytext_kind_t kind, const char *text)
{
    /* An unknown kind is our own bug, but it must not read past PREFIXES. */
    keytext_err_t err = kind_valid(kind) ? parse(out, kind, text) : KEYTEXT_EPREFIX;
    if (err != KEYTEXT_OK) {
        memset(out, 0, VALUE_LEN);
    }
    return err;
}

const char *
keytext_strerror(keytext_err_t err)
{
    switch (err) {
    case KEYTEXT_OK:
        return "no error";
    case KEYTEXT_ELENGTH:
        return "a character is missing or extra (wrong length: a key or id is 62 characters)";
    case KEYTEXT_ECHARSET:
        return "a character cannot appear in a key or id (after the prefix only the digits "
               "0 and 2-9 and the letters other than b, i and o are used, all in the same case)";
    case KEYTEXT_EPREFIX:
        return "it does not start with the expected prefix, or it is another kind of key or id "
               "(author keys start with sza1, node keys with szn1, post ids with szp1)";
    case KEYTEXT_ECHECKSUM:
        return "one or more characters are mistyped (checksum does not match)";
    case KEYTEXT_EPADDING:
        return "it has the right checksum but was not written by samizdat (non-zero padding bits)";
    }
    return "unknown keytext error";
}

const char *
keytext_prefix(keytext_kind_t kind)
{
    return kind_valid(kind) ? PREFIXES[kind] : "?";
}
