/* The signed head record (crypto/head): signing, the one decoder, and every
 * refusal. Replays (lower or equal seq) are the DHT's rule and are tested
 * in test_dht_records.c and test_dht_node.c. */
#include "testutil.h"

#include <sodium.h>
#include <string.h>

#include "head.h"
#include "keys.h"

static void
author(keys_author_t *k, uint8_t fill)
{
    uint8_t seed[32];
    memset(seed, fill, sizeof seed);
    keys_author_from_seed(k, seed);
}

static void
signed_head(uint8_t out[static HEAD_SIZE], const keys_author_t *k, uint64_t seq)
{
    uint8_t id[32];
    memset(id, 0x5a, sizeof id);
    head_t h;
    head_init(&h, seq, id, 1700000000000ull + seq);
    size_t len = 0;
    assert_int_equal(head_sign(&h, k, out, HEAD_SIZE, &len), HEAD_OK);
    assert_int_equal(len, HEAD_SIZE);
}

static void
test_sign_decode_encode(void **state)
{
    (void)state;
    keys_author_t k;
    author(&k, 1);
    uint8_t buf[HEAD_SIZE], again[HEAD_SIZE];
    signed_head(buf, &k, 7);
    head_t h;
    assert_int_equal(head_decode(&h, buf, sizeof buf), HEAD_OK);
    assert_int_equal(h.version, HEAD_VERSION);
    assert_memory_equal(h.author, k.pk, 32);
    assert_int_equal(h.seq, 7);
    assert_int_equal(h.timestamp_ms, 1700000000007ull);
    size_t len = 0;
    assert_int_equal(head_encode(&h, again, sizeof again, &len), HEAD_OK);
    assert_int_equal(len, HEAD_SIZE);
    assert_memory_equal(again, buf, HEAD_SIZE);
    /* The layout: version, author, seq big-endian, post id, timestamp. */
    assert_int_equal(buf[0], 1);
    assert_memory_equal(buf + 1, k.pk, 32);
    assert_int_equal(buf[40], 7);
    assert_int_equal(buf[41], 0x5a);
}

/* Every single-bit change anywhere is refused: in the signed part the
 * signature no longer verifies (or the version/fields break first), in the
 * signature it does not verify either. */
static void
test_bit_flips_refused(void **state)
{
    (void)state;
    keys_author_t k;
    author(&k, 2);
    uint8_t buf[HEAD_SIZE];
    signed_head(buf, &k, 3);
    head_t h;
    for (size_t i = 0; i < HEAD_SIZE; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            head_err_t err = head_decode(&h, buf, sizeof buf);
            assert_int_not_equal(err, HEAD_OK);
            if (i == 0) {
                assert_int_equal(err, HEAD_EVERSION);
            }
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(head_decode(&h, buf, sizeof buf), HEAD_OK);
}

static void
test_wrong_author_refused(void **state)
{
    (void)state;
    keys_author_t a, b;
    author(&a, 3);
    author(&b, 4);
    uint8_t buf[HEAD_SIZE];
    signed_head(buf, &a, 5);
    /* Claim b wrote what a signed. */
    memcpy(buf + 1, b.pk, 32);
    head_t h;
    assert_int_equal(head_decode(&h, buf, sizeof buf), HEAD_ESIG);
    /* The structure alone still parses: only the signature tells. */
    assert_int_equal(head_decode_unverified(&h, buf, sizeof buf), HEAD_OK);
}

static void
test_lengths_and_fields(void **state)
{
    (void)state;
    keys_author_t k;
    author(&k, 5);
    uint8_t buf[HEAD_SIZE + 1];
    signed_head(buf, &k, 9);
    head_t h;
    for (size_t n = 0; n < HEAD_SIZE; n++) {
        assert_int_equal(head_decode(&h, buf, n), HEAD_ETRUNCATED);
    }
    buf[HEAD_SIZE] = 0;
    assert_int_equal(head_decode(&h, buf, HEAD_SIZE + 1), HEAD_ETRAILING);
    assert_int_equal(head_decode(&h, NULL, 0), HEAD_ETRUNCATED);

    /* seq 0 and an all-zero post id are refused by the signer... */
    uint8_t zero[32] = {0}, id[32];
    memset(id, 1, sizeof id);
    size_t len = 0;
    head_init(&h, 0, id, 1);
    assert_int_equal(head_sign(&h, &k, buf, sizeof buf, &len), HEAD_EFIELD);
    head_init(&h, 1, zero, 1);
    assert_int_equal(head_sign(&h, &k, buf, sizeof buf, &len), HEAD_EFIELD);
    h.version = 2;
    assert_int_equal(head_sign(&h, &k, buf, sizeof buf, &len), HEAD_EVERSION);
    /* ... and by the decoder, even with a signature that verifies. */
    uint8_t raw[HEAD_SIZE];
    signed_head(raw, &k, 1);
    memset(raw + 33, 0, 8); /* seq = 0 */
    assert_int_equal(head_decode_unverified(&h, raw, sizeof raw), HEAD_EFIELD);
    signed_head(raw, &k, 1);
    memset(raw + 41, 0, 32); /* post id = 0 */
    assert_int_equal(head_decode_unverified(&h, raw, sizeof raw), HEAD_EFIELD);

    head_init(&h, 1, id, 1);
    assert_int_equal(head_sign(&h, &k, buf, HEAD_SIZE - 1, &len), HEAD_EBUFSZ);
    assert_int_equal(head_sign(&h, &k, buf, HEAD_SIZE, &len), HEAD_OK);
    assert_int_equal(head_encode(&h, buf, HEAD_SIZE - 1, &len), HEAD_EBUFSZ);
}

static void
test_strerror(void **state)
{
    (void)state;
    for (int a = HEAD_OK; a <= HEAD_EBUFSZ; a++) {
        const char *s = head_strerror((head_err_t)a);
        assert_string_not_equal(s, "unknown head error");
        for (int b = HEAD_OK; b < a; b++) {
            assert_string_not_equal(s, head_strerror((head_err_t)b));
        }
    }
    assert_string_equal(head_strerror((head_err_t)99), "unknown head error");
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_decode_encode),
        cmocka_unit_test(test_bit_flips_refused),
        cmocka_unit_test(test_wrong_author_refused),
        cmocka_unit_test(test_lengths_and_fields),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
