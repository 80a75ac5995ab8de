/* keytext: Bech32m (BIP 350) text forms of 32-byte keys and ids.
 *
 * Every text form has the same shape: a 3-letter prefix, the separator '1',
 * 52 data characters (256 bits in 5-bit groups, 4 zero bits of padding at the
 * end) and 6 checksum characters, 62 in all. Because the shape is fixed, the
 * decoder checks the length first and never has to search for the separator.
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

/* Splits 32 bytes into 52 5-bit groups, most significant bit first; the last
 * group is filled up with zero bits. */
static void
bytes_to_groups(uint8_t groups[static DATA_CHARS], const uint8_t value[static VALUE_LEN])
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < VALUE_LEN; i++) {
        acc = ((acc << 8) | value[i]) & 0xfffu;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            groups[n++] = (uint8_t)((acc >> bits) & 31u);
        }
    }
    groups[n++] = (uint8_t)((acc << (5 - bits)) & 31u);
    assert(n == DATA_CHARS && bits == 5 - PAD_BITS);
}

/* The reverse of bytes_to_groups. Returns false when a padding bit is set:
 * such a text names the same bytes as another one, and we want exactly one
 * text per value. */
static bool
groups_to_bytes(uint8_t value[static VALUE_LEN], const uint8_t groups[static DATA_CHARS])
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < DATA_CHARS; i++) {
        acc = ((acc << 5) | groups[i]) & 0xfffu;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            value[n++] = (uint8_t)((acc >> bits) & 0xffu);
        }
    }
    assert(n == VALUE_LEN && bits == PAD_BITS);
    return (acc & ((1u << PAD_BITS) - 1u)) == 0;
}

void
keytext_encode(char out[static KEYTEXT_BUFSZ], keytext_kind_t kind,
               const uint8_t value[static KEYTEXT_VALUE_SIZE])
{
    assert(kind_valid(kind));
    const char *hrp = PREFIXES[kind];
    uint8_t sym[SYMBOLS];
    bytes_to_groups(sym, value);
    uint32_t chk = polymod_prefix(hrp);
    for (size_t i = 0; i < DATA_CHARS; i++) {
        chk = polymod_step(chk, sym[i]);
    }
    for (size_t i = 0; i < CHECK_CHARS; i++) {
        chk = polymod_step(chk, 0);
    }
    chk ^= BECH32M_CONST;
    for (size_t i = 0; i < CHECK_CHARS; i++) {
        sym[DATA_CHARS + i] = (uint8_t)((chk >> (5 * (CHECK_CHARS - 1 - i))) & 31u);
    }
    memcpy(out, hrp, HRP_LEN);
    out[SEP_POS] = '1';
    for (size_t i = 0; i < SYMBOLS; i++) {
        out[DATA_POS + i] = ALPHABET[sym[i]];
    }
    out[KEYTEXT_LEN] = '\0';
}

/* Checks that every character is printable ASCII and that letters are all
 * lower or all upper case, and writes the lower-case form into low. */
static keytext_err_t
fold_case(char low[static KEYTEXT_LEN], const char *text)
{
    bool lower = false;
    bool upper = false;
    for (size_t i = 0; i < KEYTEXT_LEN; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 33 || c > 126) {
            return KEYTEXT_ECHARSET;
        }
        if (c >= 'a' && c <= 'z') {
            lower = true;
        } else if (c >= 'A' && c <= 'Z') {
            upper = true;
            c = (unsigned char)(c - 'A' + 'a');
        }
        low[i] = (char)c;
    }
    return (lower && upper) ? KEYTEXT_ECHARSET : KEYTEXT_OK;
}

/* Maps the data and checksum characters to their 5-bit values. */
static keytext_err_t
to_symbols(uint8_t sym[static SYMBOLS], const char low[static KEYTEXT_LEN])
{
    for (size_t i = 0; i < SYMBOLS; i++) {
        const char *at = memchr(ALPHABET, low[DATA_POS + i], sizeof ALPHABET - 1);
        if (at == NULL) {
            return KEYTEXT_ECHARSET;
        }
        sym[i] = (uint8_t)(at - ALPHABET);
    }
    return KEYTEXT_OK;
}

/* The length of text, counting no further than cap: the input may be a long
 * line, and only "exactly KEYTEXT_LEN" matters. (strnlen is POSIX, not C11.) */
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
    char low[KEYTEXT_LEN];
    uint8_t sym[SYMBOLS];
    keytext_err_t err = fold_case(low, text);
    if (err != KEYTEXT_OK) {
        return err;
    }
    if (memcmp(low, PREFIXES[kind], HRP_LEN) != 0 || low[SEP_POS] != '1') {
        return KEYTEXT_EPREFIX;
    }
    err = to_symbols(sym, low);
    if (err != KEYTEXT_OK) {
        return err;
    }
    uint32_t chk = polymod_prefix(PREFIXES[kind]);
    for (size_t i = 0; i < SYMBOLS; i++) {
        chk = polymod_step(chk, sym[i]);
    }
    if (chk != BECH32M_CONST) {
        return KEYTEXT_ECHECKSUM;
    }
    return groups_to_bytes(out, sym) ? KEYTEXT_OK : KEYTEXT_EPADDING;
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
