/* keytext: the Bech32m text forms of keys and ids.
 *
 * The known-answer texts below were computed by a separate Python
 * implementation of BIP 350 (itself checked against the BIP's own valid and
 * invalid test strings), not by keytext.c. */
#include "testutil.h"

#include <sodium.h>
#include <string.h>

#include "keytext.h"

static const char ALPHABET[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/* The value 0x00, 0x01, ..., 0x1f in each text form. */
static const char SEQ_AUTHOR[] = "sza1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0sqvht25";
static const char SEQ_NODE[] = "szn1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0sp73346";
static const char SEQ_POST[] = "szp1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0srnavzx";
/* The same value with the lowest padding bit set and a valid checksum. */
static const char SEQ_PADDED[] = "sza1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc03a6r7hx";
static const char ZEROS_AUTHOR[] = "sza1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqfcuf2d";
static const char ONES_AUTHOR[] = "sza1lllllllllllllllllllllllllllllllllllllllllllllllllllstxlcr6";

/* docs/PROTOCOL.md test vector: the author and node public keys made from
 * the seed 0x00..0x1f (hex and text checked by test_keys as well). */
static const char VEC_AUTHOR_PK[] =
    "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
static const char VEC_AUTHOR_TEXT[] =
    "sza1qwss00lnecgtu8tsm5vwwj7qn9n7f43snwjs6hcamjrxgyj4xxuq0gn537";
static const char VEC_NODE_PK[] =
    "4701d08488451f545a409fb58ae3e58581ca40ac3f7f114698cd71deac73ca01";
static const char VEC_NODE_TEXT[] =
    "szn1guqappygg504gkjqn76c4cl9skqu5s9v8al3z35ce4caatrnegqspksukt";

static void
seq_value(uint8_t v[32])
{
    for (int i = 0; i < 32; i++) {
        v[i] = (uint8_t)i;
    }
}

static void
from_hex(uint8_t out[32], const char *hex)
{
    size_t len = 0;
    assert_int_equal(sodium_hex2bin(out, 32, hex, strlen(hex), NULL, &len, NULL), 0);
    assert_int_equal(len, 32);
}

/* Decodes text expecting err; on error the output must be all zeros. */
static void
expect(keytext_kind_t kind, const char *text, keytext_err_t want)
{
    uint8_t out[32];
    memset(out, 0xa5, sizeof out);
    keytext_err_t got = keytext_decode(out, kind, text);
    if (got != want) {
        /* One case decodes NULL on purpose; printf's %s must not see it. */
        fail_msg("decoding \"%s\": got %d (%s), want %d", text ? text : "(null)", got,
                 keytext_strerror(got), want);
    }
    if (want != KEYTEXT_OK) {
        uint8_t zero[32] = {0};
        assert_memory_equal(out, zero, 32);
    }
}

static void
test_known_answers(void **state)
{
    (void)state;
    uint8_t v[32], back[32];
    char t[KEYTEXT_BUFSZ];
    seq_value(v);
    keytext_encode(t, KEYTEXT_AUTHOR, v);
    assert_string_equal(t, SEQ_AUTHOR);
    keytext_encode(t, KEYTEXT_NODE, v);
    assert_string_equal(t, SEQ_NODE);
    keytext_encode(t, KEYTEXT_POST, v);
    assert_string_equal(t, SEQ_POST);
    memset(v, 0, sizeof v);
    keytext_encode(t, KEYTEXT_AUTHOR, v);
    assert_string_equal(t, ZEROS_AUTHOR);
    memset(v, 0xff, sizeof v);
    keytext_encode(t, KEYTEXT_AUTHOR, v);
    assert_string_equal(t, ONES_AUTHOR);
    assert_int_equal(keytext_decode(back, KEYTEXT_AUTHOR, ONES_AUTHOR), KEYTEXT_OK);
    assert_memory_equal(back, v, 32);
}

static void
test_doc_vector(void **state)
{
    (void)state;
    uint8_t pk[32], back[32];
    char t[KEYTEXT_BUFSZ];
    from_hex(pk, VEC_AUTHOR_PK);
    keytext_encode(t, KEYTEXT_AUTHOR, pk);
    assert_string_equal(t, VEC_AUTHOR_TEXT);
    assert_int_equal(keytext_decode(back, KEYTEXT_AUTHOR, VEC_AUTHOR_TEXT), KEYTEXT_OK);
    assert_memory_equal(back, pk, 32);
    from_hex(pk, VEC_NODE_PK);
    keytext_encode(t, KEYTEXT_NODE, pk);
    assert_string_equal(t, VEC_NODE_TEXT);
    assert_int_equal(keytext_decode(back, KEYTEXT_NODE, VEC_NODE_TEXT), KEYTEXT_OK);
    assert_memory_equal(back, pk, 32);
}

static void
test_round_trip(void **state)
{
    (void)state;
    static const keytext_kind_t kinds[] = {KEYTEXT_AUTHOR, KEYTEXT_NODE, KEYTEXT_POST};
    static const char *const prefixes[] = {"sza1", "szn1", "szp1"};
    for (int round = 0; round < 300; round++) {
        uint8_t v[32], back[32];
        char t[KEYTEXT_BUFSZ];
        randombytes_buf(v, sizeof v);
        for (size_t k = 0; k < 3; k++) {
            keytext_encode(t, kinds[k], v);
            assert_int_equal(strlen(t), KEYTEXT_LEN);
            assert_memory_equal(t, prefixes[k], 4);
            assert_int_equal(keytext_decode(back, kinds[k], t), KEYTEXT_OK);
            assert_memory_equal(back, v, 32);
        }
    }
}

static void
test_prefix(void **state)
{
    (void)state;
    assert_string_equal(keytext_prefix(KEYTEXT_AUTHOR), "sza");
    assert_string_equal(keytext_prefix(KEYTEXT_NODE), "szn");
    assert_string_equal(keytext_prefix(KEYTEXT_POST), "szp");
}

/* Every single-character substitution is refused: in the prefix as the
 * wrong prefix, in the data and checksum by the checksum. */
static void
test_every_substitution(void **state)
{
    (void)state;
    char t[KEYTEXT_BUFSZ];
    for (size_t pos = 0; pos < KEYTEXT_LEN; pos++) {
        for (size_t a = 0; a < 32; a++) {
            if (ALPHABET[a] == SEQ_AUTHOR[pos]) {
                continue;
            }
            memcpy(t, SEQ_AUTHOR, sizeof t);
            t[pos] = ALPHABET[a];
            expect(KEYTEXT_AUTHOR, t, pos < 4 ? KEYTEXT_EPREFIX : KEYTEXT_ECHECKSUM);
        }
    }
}

/* The same over random keys, with upper-case substitutes too. */
static void
test_substitution_random_keys(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        uint8_t v[32], out[32];
        char good[KEYTEXT_BUFSZ], t[KEYTEXT_BUFSZ];
        randombytes_buf(v, sizeof v);
        keytext_encode(good, KEYTEXT_POST, v);
        for (size_t pos = 4; pos < KEYTEXT_LEN; pos++) {
            for (size_t a = 0; a < 32; a++) {
                memcpy(t, good, sizeof t);
                t[pos] = ALPHABET[a];
                keytext_err_t want = (t[pos] == good[pos]) ? KEYTEXT_OK : KEYTEXT_ECHECKSUM;
                assert_int_equal(keytext_decode(out, KEYTEXT_POST, t), want);
            }
        }
    }
}

/* Two swapped neighbours (a common typing error) are refused too. */
static void
test_transpositions(void **state)
{
    (void)state;
    char t[KEYTEXT_BUFSZ];
    for (size_t pos = 4; pos + 1 < KEYTEXT_LEN; pos++) {
        if (SEQ_AUTHOR[pos] == SEQ_AUTHOR[pos + 1]) {
            continue;
        }
        memcpy(t, SEQ_AUTHOR, sizeof t);
        t[pos] = SEQ_AUTHOR[pos + 1];
        t[pos + 1] = SEQ_AUTHOR[pos];
        expect(KEYTEXT_AUTHOR, t, KEYTEXT_ECHECKSUM);
    }
}

static void
test_deletions_and_insertions(void **state)
{
    (void)state;
    char t[KEYTEXT_BUFSZ + 1];
    for (size_t pos = 0; pos < KEYTEXT_LEN; pos++) {
        memcpy(t, SEQ_AUTHOR, pos);
        memcpy(t + pos, SEQ_AUTHOR + pos + 1, KEYTEXT_LEN - pos);
        assert_int_equal(strlen(t), KEYTEXT_LEN - 1);
        expect(KEYTEXT_AUTHOR, t, KEYTEXT_ELENGTH);
    }
    for (size_t pos = 0; pos <= KEYTEXT_LEN; pos++) {
        for (size_t a = 0; a < 32; a++) {
            memcpy(t, SEQ_AUTHOR, pos);
            t[pos] = ALPHABET[a];
            memcpy(t + pos + 1, SEQ_AUTHOR + pos, KEYTEXT_LEN + 1 - pos);
            assert_int_equal(strlen(t), KEYTEXT_LEN + 1);
            expect(KEYTEXT_AUTHOR, t, KEYTEXT_ELENGTH);
        }
    }
}

static void
test_wrong_kind(void **state)
{
    (void)state;
    const char *texts[] = {SEQ_AUTHOR, SEQ_NODE, SEQ_POST};
    for (int have = 0; have < 3; have++) {
        for (int want = 0; want < 3; want++) {
            expect((keytext_kind_t)want, texts[have], have == want ? KEYTEXT_OK : KEYTEXT_EPREFIX);
        }
    }
    /* A Bitcoin address, and our prefix without its separator. */
    expect(KEYTEXT_AUTHOR, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
           KEYTEXT_EPREFIX);
    char t[KEYTEXT_BUFSZ];
    memcpy(t, SEQ_AUTHOR, sizeof t);
    t[3] = 'q';
    expect(KEYTEXT_AUTHOR, t, KEYTEXT_EPREFIX);
    /* An unknown kind is refused, never read past the prefix table. */
    expect((keytext_kind_t)7, SEQ_AUTHOR, KEYTEXT_EPREFIX);
}

static void
test_case(void **state)
{
    (void)state;
    char t[KEYTEXT_BUFSZ];
    uint8_t v[32], out[32];
    seq_value(v);
    for (size_t i = 0; i < sizeof t; i++) {
        char c = SEQ_NODE[i];
        t[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    assert_int_equal(keytext_decode(out, KEYTEXT_NODE, t), KEYTEXT_OK);
    assert_memory_equal(out, v, 32);
    /* Upper-case prefix with lower-case data, and one upper-case letter. */
    memcpy(t, SEQ_NODE, sizeof t);
    memcpy(t, "SZN1", 4);
    expect(KEYTEXT_NODE, t, KEYTEXT_ECHARSET);
    memcpy(t, SEQ_NODE, sizeof t);
    t[20] = (char)(t[20] - 'a' + 'A');
    assert_true(t[20] >= 'A' && t[20] <= 'Z');
    expect(KEYTEXT_NODE, t, KEYTEXT_ECHARSET);
    /* Encoding always writes lower case. */
    keytext_encode(t, KEYTEXT_NODE, v);
    assert_string_equal(t, SEQ_NODE);
}

static void
test_charset(void **state)
{
    (void)state;
    static const char bad[] = {'b', 'i',  'o',  '1',    'B',    ' ',    '-',
                               '.', '\t', '\n', '\x7f', '\x80', '\xc3', '\xff'};
    char t[KEYTEXT_BUFSZ];
    for (size_t i = 0; i < sizeof bad; i++) {
        for (size_t pos = 4; pos < KEYTEXT_LEN; pos += 19) {
            memcpy(t, SEQ_AUTHOR, sizeof t);
            t[pos] = bad[i];
            expect(KEYTEXT_AUTHOR, t, KEYTEXT_ECHARSET);
        }
        /* The prefix may hold any printable ASCII (as in Bech32), so there
         * only control, non-ASCII and mixed-case characters are ECHARSET. */
        memcpy(t, SEQ_AUTHOR, sizeof t);
        t[0] = bad[i];
        unsigned char c = (unsigned char)bad[i];
        keytext_err_t want = (c > ' ' && c < 0x7f && c != 'B') ? KEYTEXT_EPREFIX : KEYTEXT_ECHARSET;
        expect(KEYTEXT_AUTHOR, t, want);
    }
    /* An upper-case text whose data holds 'B' (not in the alphabet). */
    for (size_t i = 0; i < sizeof t; i++) {
        char c = SEQ_AUTHOR[i];
        t[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    t[30] = 'B';
    expect(KEYTEXT_AUTHOR, t, KEYTEXT_ECHARSET);
}

static void
test_lengths(void **state)
{
    (void)state;
    static char longtext[4096];
    expect(KEYTEXT_AUTHOR, "", KEYTEXT_ELENGTH);
    expect(KEYTEXT_AUTHOR, "sza1", KEYTEXT_ELENGTH);
    expect(KEYTEXT_AUTHOR, NULL, KEYTEXT_ELENGTH);
    memset(longtext, 'q', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    memcpy(longtext, SEQ_AUTHOR, KEYTEXT_LEN);
    expect(KEYTEXT_AUTHOR, longtext, KEYTEXT_ELENGTH);
    /* Surrounding spaces or a trailing newline are not trimmed. */
    char t[KEYTEXT_BUFSZ + 1];
    memcpy(t, SEQ_AUTHOR, KEYTEXT_LEN);
    t[KEYTEXT_LEN] = '\n';
    t[KEYTEXT_LEN + 1] = '\0';
    expect(KEYTEXT_AUTHOR, t, KEYTEXT_ELENGTH);
    t[0] = ' ';
    memcpy(t + 1, SEQ_AUTHOR, KEYTEXT_LEN - 1);
    t[KEYTEXT_LEN] = '\0';
    expect(KEYTEXT_AUTHOR, t, KEYTEXT_ECHARSET);
    /* A NUL inside shortens the string. */
    memcpy(t, SEQ_AUTHOR, sizeof SEQ_AUTHOR);
    t[40] = '\0';
    expect(KEYTEXT_AUTHOR, t, KEYTEXT_ELENGTH);
}

static void
test_padding(void **state)
{
    (void)state;
    expect(KEYTEXT_AUTHOR, SEQ_PADDED, KEYTEXT_EPADDING);
}

static void
test_strerror(void **state)
{
    (void)state;
    const char *seen[KEYTEXT_EPADDING + 1];
    for (int e = KEYTEXT_OK; e <= KEYTEXT_EPADDING; e++) {
        seen[e] = keytext_strerror((keytext_err_t)e);
        assert_non_null(seen[e]);
        assert_true(strlen(seen[e]) > 5);
        for (int f = 0; f < e; f++) {
            assert_string_not_equal(seen[e], seen[f]);
        }
    }
    assert_non_null(strstr(keytext_strerror(KEYTEXT_ECHECKSUM), "mistyped"));
    assert_non_null(strstr(keytext_strerror(KEYTEXT_ELENGTH), "missing or extra"));
    assert_non_null(keytext_strerror((keytext_err_t)99));
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_doc_vector),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_every_substitution),
        cmocka_unit_test(test_substitution_random_keys),
        cmocka_unit_test(test_transpositions),
        cmocka_unit_test(test_deletions_and_insertions),
        cmocka_unit_test(test_wrong_kind),
        cmocka_unit_test(test_case),
        cmocka_unit_test(test_charset),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_padding),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
