/* Post encoding, signing and the decoder's refusals; RFC 8032 known answers. */
#include "testutil.h"

#include <sodium.h>
#include <string.h>

#include "bytes.h"
#include "keys.h"
#include "post.h"

static keys_author_t alice, bob;

static int
setup_keys(void **state)
{
    (void)state;
    uint8_t seed[32];
    memset(seed, 0xa1, sizeof seed);
    keys_author_from_seed(&alice, seed);
    memset(seed, 0xb0, sizeof seed);
    keys_author_from_seed(&bob, seed);
    return 0;
}

static size_t
make_post(post_t *p, uint8_t *buf, uint8_t kind, uint64_t seq, const char *body)
{
    uint8_t prev[32];
    memset(prev, 0x11, sizeof prev);
    post_init(p, kind, seq, seq > 1 ? prev : NULL, 1700000000000ull + seq);
    if (kind == POST_KIND_REPLY || kind == POST_KIND_DELETE) {
        memset(p->ref, 0x22, sizeof p->ref);
    }
    if (kind == POST_KIND_PROFILE) {
        assert_int_equal(post_set_name(p, "Alice", 5), POST_OK);
    }
    assert_int_equal(post_set_body(p, body, strlen(body)), POST_OK);
    size_t len = 0;
    assert_int_equal(post_sign(p, &alice, buf, POST_MAX_SIZE, &len), POST_OK);
    return len;
}

/* Builds arbitrary fields and signs them with alice, bypassing the encoder's
 * checks, so the decoder's own refusals can be tested on signed bytes. */
static size_t
raw_signed(uint8_t *out, uint8_t version, uint8_t kind, uint64_t seq, const uint8_t *prev,
           const uint8_t *ref, const uint8_t *name, size_t name_len, const uint8_t *body,
           size_t body_len)
{
    bytes_writer_t w;
    bytes_writer_init(&w, out, 4096);
    bytes_put_u8(&w, version);
    bytes_put_u8(&w, kind);
    bytes_put(&w, alice.pk, 32);
    bytes_put_u64(&w, seq);
    bytes_put(&w, prev, 32);
    bytes_put_u64(&w, 1700000000000ull);
    if (ref != NULL) {
        bytes_put(&w, ref, 32);
    }
    if (name != NULL) {
        bytes_put_u8(&w, (uint8_t)name_len);
        bytes_put(&w, name, name_len);
    }
    bytes_put_u16(&w, (uint16_t)body_len);
    bytes_put(&w, body, body_len);
    assert_true(bytes_writer_ok(&w));
    uint8_t msg[4096 + 16];
    memcpy(msg, POST_SIG_TAG, POST_SIG_TAG_LEN);
    memcpy(msg + POST_SIG_TAG_LEN, out, w.len);
    crypto_sign_detached(out + w.len, NULL, msg, POST_SIG_TAG_LEN + w.len, alice.sk);
    return w.len + POST_SIG_SIZE;
}

static const uint8_t zeros[32];

static void
test_round_trip_each_kind(void **state)
{
    (void)state;
    const char *bodies[] = {"hello", "a reply \xe2\x9c\x93", "", "my bio\nline two"};
    for (uint8_t kind = POST_KIND_POST; kind <= POST_KIND_PROFILE; kind++) {
        post_t p, q;
        uint8_t buf[POST_MAX_SIZE];
        size_t len = make_post(&p, buf, kind, kind, bodies[kind - 1]);
        assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_OK);
        assert_int_equal(q.kind, kind);
        assert_int_equal(q.seq, kind);
        assert_memory_equal(q.author, alice.pk, 32);
        assert_memory_equal(q.id, p.id, 32);
        assert_string_equal(q.body, bodies[kind - 1]);
        uint8_t id[32];
        crypto_generichash(id, 32, buf, len, NULL, 0);
        assert_memory_equal(id, q.id, 32);
        uint8_t again[POST_MAX_SIZE];
        size_t alen = 0;
        assert_int_equal(post_encode(&q, again, sizeof again, &alen), POST_OK);
        assert_int_equal(alen, len);
        assert_memory_equal(again, buf, len);
    }
}

static void
test_sizes(void **state)
{
    (void)state;
    post_t p;
    uint8_t buf[POST_MAX_SIZE];
    char body[POST_BODY_MAX + 2];
    memset(body, 'x', sizeof body);
    body[POST_BODY_MAX] = '\0';
    size_t len = make_post(&p, buf, POST_KIND_POST, 1, body);
    assert_int_equal(len, POST_HEADER_SIZE + 2 + POST_BODY_MAX + POST_SIG_SIZE);
    post_t q;
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_OK);
    assert_int_equal(post_set_body(&p, body, POST_BODY_MAX + 1), POST_ETOOLARGE);
    assert_int_equal(post_set_name(&p, body, POST_NAME_MAX + 1), POST_ETOOLARGE);
    /* A profile with the longest name and body is exactly POST_MAX_SIZE. */
    post_init(&p, POST_KIND_PROFILE, 1, NULL, 1);
    assert_int_equal(post_set_name(&p, body, POST_NAME_MAX), POST_OK);
    assert_int_equal(post_set_body(&p, body, POST_BODY_MAX), POST_OK);
    assert_int_equal(post_sign(&p, &alice, buf, sizeof buf, &len), POST_OK);
    assert_int_equal(len, POST_MAX_SIZE);
    assert_int_equal(post_sign(&p, &alice, buf, sizeof buf - 1, &len), POST_EBUFSZ);
}

static void
test_truncated_every_length(void **state)
{
    (void)state;
    post_t p, q;
    uint8_t buf[POST_MAX_SIZE];
    size_t len = make_post(&p, buf, POST_KIND_PROFILE, 3, "bio text");
    for (size_t n = 0; n < len; n++) {
        post_err_t err = post_decode(&q, buf, n, POST_VERIFY);
        assert_int_not_equal(err, POST_OK);
    }
    assert_int_equal(post_decode(&q, buf, len - 1, POST_NO_VERIFY), POST_ETRUNCATED);
    assert_int_equal(post_decode(&q, NULL, 0, POST_VERIFY), POST_ETRUNCATED);
}

static void
test_trailing_and_oversized(void **state)
{
    (void)state;
    post_t p, q;
    uint8_t buf[POST_MAX_SIZE + 8];
    size_t len = make_post(&p, buf, POST_KIND_POST, 1, "hi");
    buf[len] = 0;
    assert_int_equal(post_decode(&q, buf, len + 1, POST_VERIFY), POST_ETRAILING);
    assert_int_equal(post_decode(&q, buf, POST_MAX_SIZE + 1, POST_VERIFY), POST_ETOOLARGE);
    /* A body length claiming more than the limit. */
    uint8_t big[POST_MAX_SIZE + 64] = {0};
    uint8_t body[POST_BODY_MAX + 1];
    memset(body, 'a', sizeof body);
    size_t blen = raw_signed(big, 1, POST_KIND_POST, 1, zeros, NULL, NULL, 0, body, 40);
    big[POST_HEADER_SIZE] = (POST_BODY_MAX + 1) >> 8;
    big[POST_HEADER_SIZE + 1] = (POST_BODY_MAX + 1) & 0xff;
    assert_int_equal(post_decode(&q, big, blen, POST_VERIFY), POST_ETOOLARGE);
    /* A body length claiming more than is there. */
    big[POST_HEADER_SIZE] = 0;
    big[POST_HEADER_SIZE + 1] = 200;
    assert_int_equal(post_decode(&q, big, blen, POST_VERIFY), POST_ETRUNCATED);
}

static void
test_every_bit_flip_refused(void **state)
{
    (void)state;
    post_t p, q;
    uint8_t buf[POST_MAX_SIZE];
    size_t len = make_post(&p, buf, POST_KIND_REPLY, 2, "flip me");
    for (size_t i = 0; i < len; i++) {
        for (int b = 0; b < 8; b++) {
            buf[i] ^= (uint8_t)(1u << b);
            assert_int_not_equal(post_decode(&q, buf, len, POST_VERIFY), POST_OK);
            buf[i] ^= (uint8_t)(1u << b);
        }
    }
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_OK);
    buf[len - 1] ^= 1;
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_ESIG);
}

static void
test_wrong_author(void **state)
{
    (void)state;
    post_t p, q;
    uint8_t buf[POST_MAX_SIZE];
    size_t len = make_post(&p, buf, POST_KIND_POST, 1, "who wrote this");
    memcpy(buf + 2, bob.pk, 32);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_ESIG);
    /* A signature by bob over alice's claimed authorship. */
    post_init(&p, POST_KIND_POST, 1, NULL, 5);
    assert_int_equal(post_set_body(&p, "x", 1), POST_OK);
    len = 0;
    assert_int_equal(post_sign(&p, &bob, buf, sizeof buf, &len), POST_OK);
    uint8_t sig[64];
    memcpy(sig, buf + len - 64, 64);
    make_post(&p, buf, POST_KIND_POST, 1, "x");
    memcpy(buf + len - 64, sig, 64);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_ESIG);
}

static void
test_version_and_kind(void **state)
{
    (void)state;
    uint8_t buf[4096];
    post_t q;
    size_t len = raw_signed(buf, 2, POST_KIND_POST, 1, zeros, NULL, NULL, 0, (const uint8_t *)"a", 1);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_EVERSION);
    len = raw_signed(buf, 1, 9, 1, zeros, NULL, NULL, 0, (const uint8_t *)"a", 1);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_EKIND);
    len = raw_signed(buf, 1, 0, 1, zeros, NULL, NULL, 0, (const uint8_t *)"a", 1);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_EKIND);
}

static void
test_seq_rules(void **state)
{
    (void)state;
    uint8_t buf[4096], prev[32];
    memset(prev, 7, sizeof prev);
    post_t q;
    const uint8_t *b = (const uint8_t *)"a";
    size_t len = raw_signed(buf, 1, POST_KIND_POST, 0, zeros, NULL, NULL, 0, b, 1);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_ESEQ);
    len = raw_signed(buf, 1, POST_KIND_POST, 1, prev, NULL, NULL, 0, b, 1);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_ESEQ);
    len = raw_signed(buf, 1, POST_KIND_POST, 2, zeros, NULL, NULL, 0, b, 1);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_ESEQ);
    len = raw_signed(buf, 1, POST_KIND_POST, 2, prev, NULL, NULL, 0, b, 1);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_OK);
    len = raw_signed(buf, 1, POST_KIND_POST, UINT64_MAX, prev, NULL, NULL, 0, b, 1);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_OK);
    assert_int_equal(q.seq, UINT64_MAX);
}

static void
test_kind_fields(void **state)
{
    (void)state;
    uint8_t buf[4096], ref[32];
    memset(ref, 9, sizeof ref);
    post_t q;
    const uint8_t *b = (const uint8_t *)"body";
    size_t len = raw_signed(buf, 1, POST_KIND_REPLY, 1, zeros, zeros, NULL, 0, b, 4);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_EFIELD);
    len = raw_signed(buf, 1, POST_KIND_DELETE, 1, zeros, ref, NULL, 0, b, 4);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_EFIELD);
    len = raw_signed(buf, 1, POST_KIND_DELETE, 1, zeros, ref, NULL, 0, b, 0);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_OK);
    len = raw_signed(buf, 1, POST_KIND_PROFILE, 1, zeros, NULL, (const uint8_t *)"", 0, b, 4);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_EFIELD);
    len = raw_signed(buf, 1, POST_KIND_PROFILE, 1, zeros, NULL, (const uint8_t *)"N\n", 2, b, 4);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_EUTF8);
    /* A name length over POST_NAME_MAX. */
    uint8_t name[80];
    memset(name, 'n', sizeof name);
    len = raw_signed(buf, 1, POST_KIND_PROFILE, 1, zeros, NULL, name, 65, b, 4);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_ETOOLARGE);
    /* Encoder refuses the same things. */
    post_t p;
    size_t olen;
    post_init(&p, POST_KIND_REPLY, 1, NULL, 1);
    assert_int_equal(post_sign(&p, &alice, buf, sizeof buf, &olen), POST_EFIELD);
    post_init(&p, POST_KIND_POST, 0, NULL, 1);
    assert_int_equal(post_sign(&p, &alice, buf, sizeof buf, &olen), POST_ESEQ);
}

static void
test_invalid_utf8_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xe2\x82",         /* truncated sequence */
        "\x80",             /* lone continuation */
        "\xff",             /* never valid */
        "a\x1b[31mred",     /* ESC: terminal control */
        "\x7f",             /* DEL */
        "\xc2\x9b",         /* C1 CSI */
        "a\rb",             /* CR */
    };
    uint8_t buf[4096];
    post_t p, q;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = strlen(bad[i]);
        post_init(&p, POST_KIND_POST, 1, NULL, 1);
        assert_int_equal(post_set_body(&p, bad[i], n), POST_EUTF8);
        size_t len = raw_signed(buf, 1, POST_KIND_POST, 1, zeros, NULL, NULL, 0,
                                (const uint8_t *)bad[i], n);
        assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_EUTF8);
    }
    /* A NUL inside the body is a control character too. */
    size_t len = raw_signed(buf, 1, POST_KIND_POST, 1, zeros, NULL, NULL, 0,
                            (const uint8_t *)"a\0b", 3);
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_EUTF8);
    const char *good = "tab\there, newline\n, \xc2\xa0 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
    post_init(&p, POST_KIND_POST, 1, NULL, 1);
    assert_int_equal(post_set_body(&p, good, strlen(good)), POST_OK);
}

/* RFC 8032, section 7.1, tests 1 to 3: libsodium's Ed25519 is the real one. */
static void
test_rfc8032_known_answers(void **state)
{
    (void)state;
    static const struct {
        const char *sk, *pk, *msg, *sig;
    } kat[] = {
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
         "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
         "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
        {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
         "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
         "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
         "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint8_t seed[32], pk[32], want_pk[32], msg[8], want_sig[64], sig[64];
        assert_true(bytes_from_hex(seed, 32, kat[i].sk));
        assert_true(bytes_from_hex(want_pk, 32, kat[i].pk));
        assert_true(bytes_from_hex(want_sig, 64, kat[i].sig));
        size_t mlen = strlen(kat[i].msg) / 2;
        assert_true(bytes_from_hex(msg, mlen, kat[i].msg));
        keys_author_t k;
        keys_author_from_seed(&k, seed);
        memcpy(pk, k.pk, 32);
        assert_memory_equal(pk, want_pk, 32);
        crypto_sign_detached(sig, NULL, msg, mlen, k.sk);
        assert_memory_equal(sig, want_sig, 64);
        assert_int_equal(crypto_sign_verify_detached(sig, msg, mlen, pk), 0);
        sig[0] ^= 1;
        assert_int_not_equal(crypto_sign_verify_detached(sig, msg, mlen, pk), 0);
    }
}

/* Length-prefixed fields: each fault is reported, the first one first. */
static void
test_bytes_fields(void **state)
{
    (void)state;
    char str[4];
    bytes_fields_t f;
    const uint8_t ok[] = {0x02, 'h', 'i', 0x03};
    bytes_fields_init(&f, ok, sizeof ok);
    bytes_get_string(&f, str, 3);
    assert_string_equal(str, "hi");
    assert_int_equal(bytes_get_count(&f, 3), 3);
    assert_int_equal(bytes_fields_end(&f), BYTES_FIELDS_OK);

    /* A claim over its cap reads as 0 and wins over everything after it. */
    const uint8_t big[] = {0x04, 'a', 'b', 'c', 'd', 0x01};
    bytes_fields_init(&f, big, sizeof big);
    bytes_get_string(&f, str, 3);
    assert_string_equal(str, "");
    assert_int_equal(bytes_get_count(&f, 200), 0);
    assert_int_equal(bytes_fields_end(&f), BYTES_FIELDS_TOO_LARGE);

    const uint8_t shrt[] = {0x03, 'a'};
    bytes_fields_init(&f, shrt, sizeof shrt);
    bytes_get_string(&f, str, 3);
    assert_int_equal(bytes_fields_end(&f), BYTES_FIELDS_TRUNCATED);

    const uint8_t trail[] = {0x01, 'a', 0x00};
    bytes_fields_init(&f, trail, sizeof trail);
    bytes_get_string(&f, str, 3);
    assert_int_equal(bytes_fields_end(&f), BYTES_FIELDS_TRAILING);

    const uint8_t nul[] = {0x03, 'a', 0x00, 'b'};
    bytes_fields_init(&f, nul, sizeof nul);
    bytes_get_string(&f, str, 3);
    assert_int_equal(bytes_fields_end(&f), BYTES_FIELDS_NUL);
}

static void
test_bytes_reader_sticky(void **state)
{
    (void)state;
    const uint8_t data[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a};
    bytes_reader_t r;
    bytes_reader_init(&r, data, sizeof data);
    assert_int_equal(bytes_get_u16(&r), 0x0102);
    assert_int_equal(bytes_get_u64(&r), 0x030405060708090aull);
    assert_true(bytes_reader_done(&r));
    assert_int_equal(bytes_get_u8(&r), 0);
    assert_false(bytes_reader_ok(&r));
    bytes_reader_init(&r, data, sizeof data);
    assert_int_equal(bytes_get_u32(&r), 0x01020304u);
    assert_null(bytes_get_ref(&r, 7)); /* 6 left */
    assert_int_equal(bytes_get_u8(&r), 0); /* sticky: even though bytes remain */
    assert_int_equal(bytes_remaining(&r), 0);
    bytes_reader_init(&r, data, sizeof data);
    assert_null(bytes_get_ref(&r, SIZE_MAX)); /* a length claim near SIZE_MAX */
    assert_false(bytes_reader_ok(&r));

    uint8_t out[4];
    bytes_writer_t w;
    bytes_writer_init(&w, out, sizeof out);
    bytes_put_u16(&w, 0xabcd);
    bytes_put_u16(&w, 0x0102);
    assert_true(bytes_writer_ok(&w));
    bytes_put_u8(&w, 1);
    assert_false(bytes_writer_ok(&w));
    assert_int_equal(w.len, 4);
    assert_int_equal(out[0], 0xab);

    uint8_t be[8];
    bytes_be64_put(be, 0x0102030405060708ull);
    assert_int_equal(be[0], 1);
    assert_int_equal(bytes_be64_get(be), 0x0102030405060708ull);
    char hex[9];
    bytes_to_hex(hex, out, 4);
    assert_string_equal(hex, "abcd0102");
    uint8_t back[4];
    assert_true(bytes_from_hex(back, 4, "ABcd0102"));
    assert_false(bytes_from_hex(back, 4, "abcd010"));
    assert_false(bytes_from_hex(back, 4, "abcd01020"));
    assert_false(bytes_from_hex(back, 4, "abcd01g2"));
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_each_kind),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_trailing_and_oversized),
        cmocka_unit_test(test_every_bit_flip_refused),
        cmocka_unit_test(test_wrong_author),
        cmocka_unit_test(test_version_and_kind),
        cmocka_unit_test(test_seq_rules),
        cmocka_unit_test(test_kind_fields),
        cmocka_unit_test(test_invalid_utf8_refused),
        cmocka_unit_test(test_rfc8032_known_answers),
        cmocka_unit_test(test_bytes_reader_sticky),
        cmocka_unit_test(test_bytes_fields),
    };
    return cmocka_run_group_tests(tests, setup_keys, NULL);
}
