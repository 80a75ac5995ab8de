/* The control-socket request body, built by hand with bytes_writer as
 * node/cli/control.h lays it out:
 *
 *     u8 version (1) | u8 argc | argc x (u16 length | bytes) | u32 length | stdin
 *
 * Decoding: no arguments, several, empty ones, spaces and UTF-8, the longest
 * argument, CONTROL_ARGS_MAX of them, standard input with any bytes; that the
 * strings come back NUL-terminated inside the buffer with argv[argc] NULL and
 * standard input untouched. Refusals: version, argc over the cap, a NUL in an
 * argument, lengths past the end, trailing bytes and every truncation. */
#include "testutil.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "control.h"

enum {
    BUF_MAX = 256 * 1024,
    U16_MAX = 65535,
};

/* One request in the making, on the heap: the buffers are far larger than a
 * stack buffer may be. */
typedef struct {
    uint8_t buf[BUF_MAX];  /* the body as built */
    uint8_t work[BUF_MAX]; /* the copy the decoder writes into */
    bytes_writer_t w;
    control_request_t req;
    char big[U16_MAX + 2];
} fx_t;

static int
fx_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL) {
        return -1;
    }
    *state = fx;
    return 0;
}

static int
fx_teardown(void **state)
{
    free(*state);
    return 0;
}

static void
begin(fx_t *fx, uint8_t version, uint8_t argc)
{
    bytes_writer_init(&fx->w, fx->buf, sizeof fx->buf);
    bytes_put_u8(&fx->w, version);
    bytes_put_u8(&fx->w, argc);
}

static void
put_arg_n(fx_t *fx, const char *s, size_t n)
{
    assert_true(n <= U16_MAX);
    bytes_put_u16(&fx->w, (uint16_t)n);
    bytes_put(&fx->w, (const uint8_t *)s, n);
}

static void
put_arg(fx_t *fx, const char *s)
{
    put_arg_n(fx, s, strlen(s));
}

static void
put_stdin(fx_t *fx, const void *p, size_t n)
{
    bytes_put_u32(&fx->w, (uint32_t)n);
    if (n > 0) {
        bytes_put(&fx->w, p, n);
    }
}

static size_t
built(const fx_t *fx)
{
    assert_true(bytes_writer_ok(&fx->w));
    return fx->w.len;
}

/* Decodes the first len bytes of what was built, from a fresh copy so the
 * original stays intact. Poisons req first so unset fields show. */
static bool
decode_len(fx_t *fx, size_t len)
{
    assert_true(len <= sizeof fx->work);
    memcpy(fx->work, fx->buf, len);
    memset(&fx->req, 0xa5, sizeof fx->req);
    return control_request_decode(fx->work, len, &fx->req);
}

static bool
decode(fx_t *fx)
{
    return decode_len(fx, built(fx));
}

/* Checks a decoded request: argc, each argument equal to want[i] (of
 * lengths lens[i]), NUL-terminated inside the buffer, argv[argc] NULL. */
static void
check_args(const fx_t *fx, size_t len, int argc, const char *const *want, const size_t *lens)
{
    const control_request_t *r = &fx->req;
    assert_int_equal(r->argc, argc);
    const char *lo = (const char *)fx->work;
    const char *hi = lo + len;
    for (int i = 0; i < argc; i++) {
        const char *a = r->argv[i];
        assert_non_null(a);
        assert_true(a >= lo && a < hi);
        const char *nul = memchr(a, '\0', (size_t)(hi - a));
        if (nul == NULL) {
            fail_msg("argv[%d] is not terminated inside the buffer", i);
        }
        assert_int_equal((size_t)(nul - a), lens[i]);
        assert_memory_equal(a, want[i], lens[i]);
    }
    assert_null(r->argv[argc]);
    /* No two arguments share bytes. */
    for (int i = 0; i < argc; i++) {
        for (int j = i + 1; j < argc; j++) {
            const char *a = r->argv[i], *b = r->argv[j];
            assert_true(a + lens[i] < b || b + lens[j] < a);
        }
    }
}

static void
check_stdin(const fx_t *fx, size_t len, const void *want, size_t n)
{
    const control_request_t *r = &fx->req;
    assert_int_equal(r->in_len, n);
    if (n > 0) {
        assert_non_null(r->in);
        assert_true(r->in >= fx->work && r->in + n <= fx->work + len);
        assert_memory_equal(r->in, want, n);
    }
}

static void
test_no_args(void **state)
{
    fx_t *fx = *state;
    begin(fx, CONTROL_VERSION, 0);
    put_stdin(fx, NULL, 0);
    size_t len = built(fx);
    assert_int_equal(len, 6);
    assert_true(decode(fx));
    check_args(fx, len, 0, NULL, NULL);
    check_stdin(fx, len, NULL, 0);
}

static void
test_several_args(void **state)
{
    fx_t *fx = *state;
    const char *args[] = {
        "post",
        "", /* an empty argument is an argument */
        "hello world, with  two spaces",
        "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x93\x9c", /* UTF-8: café ✓ 📜 */
        "--reply",
        "x",
        "tab\there\nnewline",
        "\xff\xfe not UTF-8 at all",
    };
    enum { N = sizeof args / sizeof args[0] };
    size_t lens[N];
    begin(fx, CONTROL_VERSION, N);
    for (size_t i = 0; i < N; i++) {
        lens[i] = strlen(args[i]);
        put_arg(fx, args[i]);
    }
    put_stdin(fx, NULL, 0);
    size_t len = built(fx);
    assert_true(decode(fx));
    check_args(fx, len, N, args, lens);
    assert_string_equal(fx->req.argv[0], "post");
    assert_string_equal(fx->req.argv[1], "");
    assert_string_equal(fx->req.argv[3], "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x93\x9c");
    check_stdin(fx, len, NULL, 0);
}

static void
test_stdin(void **state)
{
    fx_t *fx = *state;
    /* Standard input may hold anything, NULs included, and must come back
     * untouched by the terminating of the arguments before it. */
    uint8_t in[300];
    for (size_t i = 0; i < sizeof in; i++) {
        in[i] = (uint8_t)(i * 37 + 11);
    }
    in[0] = 0;
    in[sizeof in - 1] = 0;
    const char *args[] = {"post", "-", "a"};
    const size_t lens[] = {4, 1, 1};
    begin(fx, CONTROL_VERSION, 3);
    for (size_t i = 0; i < 3; i++) {
        put_arg(fx, args[i]);
    }
    put_stdin(fx, in, sizeof in);
    size_t len = built(fx);
    assert_true(decode(fx));
    check_args(fx, len, 3, args, lens);
    check_stdin(fx, len, in, sizeof in);
    /* Standard input is the last bytes of the body. */
    assert_ptr_equal(fx->req.in, fx->work + len - sizeof in);

    /* Without arguments too, and one byte of it. */
    begin(fx, CONTROL_VERSION, 0);
    put_stdin(fx, "\0", 1);
    len = built(fx);
    assert_true(decode(fx));
    check_args(fx, len, 0, NULL, NULL);
    check_stdin(fx, len, "\0", 1);
}

/* The longest argument the u16 length allows, and one of every length
 * around the points where a one-byte shift could go wrong. */
static void
test_long_args(void **state)
{
    fx_t *fx = *state;
    for (size_t i = 0; i < U16_MAX; i++) {
        fx->big[i] = (char)('a' + i % 26);
    }
    const char *args[] = {fx->big, "tail"};
    const size_t lens[] = {U16_MAX, 4};
    begin(fx, CONTROL_VERSION, 2);
    put_arg_n(fx, fx->big, U16_MAX);
    put_arg(fx, "tail");
    put_stdin(fx, "in", 2);
    size_t len = built(fx);
    assert_true(decode(fx));
    check_args(fx, len, 2, args, lens);
    check_stdin(fx, len, "in", 2);

    for (size_t n = 0; n < 8; n++) {
        const char *one[] = {fx->big, fx->big};
        const size_t one_lens[] = {n, n + 1};
        begin(fx, CONTROL_VERSION, 2);
        put_arg_n(fx, fx->big, n);
        put_arg_n(fx, fx->big, n + 1);
        put_stdin(fx, "z", 1);
        len = built(fx);
        assert_true(decode(fx));
        check_args(fx, len, 2, one, one_lens);
        check_stdin(fx, len, "z", 1);
    }
}

static void
test_args_cap(void **state)
{
    fx_t *fx = *state;
    static const char *const words[CONTROL_ARGS_MAX + 1] = {
        "w0",  "w1",  "w2",  "w3",  "w4",  "w5",  "w6",  "w7",  "w8",  "w9",  "w10", "w11", "w12",
        "w13", "w14", "w15", "w16", "w17", "w18", "w19", "w20", "w21", "w22", "w23", "w24", "w25",
        "w26", "w27", "w28", "w29", "w30", "w31", "w32", "w33", "w34", "w35", "w36", "w37", "w38",
        "w39", "w40", "w41", "w42", "w43", "w44", "w45", "w46", "w47", "w48", "w49", "w50", "w51",
        "w52", "w53", "w54", "w55", "w56", "w57", "w58", "w59", "w60", "w61", "w62", "w63", "w64",
    };
    size_t lens[CONTROL_ARGS_MAX + 1];
    for (size_t i = 0; i <= CONTROL_ARGS_MAX; i++) {
        assert_non_null(words[i]);
        lens[i] = strlen(words[i]);
    }
    /* Exactly the cap. */
    begin(fx, CONTROL_VERSION, CONTROL_ARGS_MAX);
    for (size_t i = 0; i < CONTROL_ARGS_MAX; i++) {
        put_arg(fx, words[i]);
    }
    put_stdin(fx, NULL, 0);
    size_t len = built(fx);
    assert_true(decode(fx));
    check_args(fx, len, CONTROL_ARGS_MAX, words, lens);

    /* One over, with every argument present. */
    begin(fx, CONTROL_VERSION, CONTROL_ARGS_MAX + 1);
    for (size_t i = 0; i <= CONTROL_ARGS_MAX; i++) {
        put_arg(fx, words[i]);
    }
    put_stdin(fx, NULL, 0);
    assert_false(decode(fx));

    /* Far over, with nothing behind the claim. */
    const uint8_t counts[] = {CONTROL_ARGS_MAX + 1, 128, 255};
    for (size_t i = 0; i < sizeof counts; i++) {
        begin(fx, CONTROL_VERSION, counts[i]);
        put_stdin(fx, NULL, 0);
        assert_false(decode(fx));
    }
}

static void
test_version(void **state)
{
    fx_t *fx = *state;
    const uint8_t versions[] = {0, 2, 3, 0x81, 255};
    for (size_t i = 0; i < sizeof versions; i++) {
        begin(fx, versions[i], 1);
        put_arg(fx, "status");
        put_stdin(fx, NULL, 0);
        assert_false(decode(fx));
    }
    /* The same request with the right version is fine. */
    begin(fx, CONTROL_VERSION, 1);
    put_arg(fx, "status");
    put_stdin(fx, NULL, 0);
    assert_true(decode(fx));
    assert_string_equal(fx->req.argv[0], "status");
}

static void
test_nul_in_arg(void **state)
{
    fx_t *fx = *state;
    static const struct {
        const char *s;
        size_t n;
    } cases[] = {
        {"sta\0tus", 7}, {"\0status", 7}, {"status\0", 7}, {"\0", 1}, {"\0\0", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* As the first argument, and after a good one. */
        for (int pos = 0; pos < 2; pos++) {
            begin(fx, CONTROL_VERSION, 2);
            if (pos == 1) {
                put_arg(fx, "peer");
            }
            put_arg_n(fx, cases[i].s, cases[i].n);
            if (pos == 0) {
                put_arg(fx, "peer");
            }
            put_stdin(fx, NULL, 0);
            if (decode(fx)) {
                fail_msg("an argument with a NUL (case %zu, position %d) was accepted", i, pos);
            }
        }
    }
    /* A NUL in standard input is fine: only arguments are strings. */
    begin(fx, CONTROL_VERSION, 1);
    put_arg(fx, "post");
    put_stdin(fx, "a\0b", 3);
    size_t len = built(fx);
    assert_true(decode(fx));
    check_stdin(fx, len, "a\0b", 3);
}

static void
test_lengths_past_end(void **state)
{
    fx_t *fx = *state;
    /* An argument length claims one byte more than is left. */
    begin(fx, CONTROL_VERSION, 1);
    bytes_put_u16(&fx->w, 11);
    bytes_put(&fx->w, (const uint8_t *)"status", 6);
    bytes_put_u32(&fx->w, 0);
    assert_int_equal(built(fx), 2 + 2 + 10);
    assert_false(decode(fx));
    /* The largest claim, with little behind it. */
    begin(fx, CONTROL_VERSION, 1);
    bytes_put_u16(&fx->w, 0xffff);
    bytes_put(&fx->w, (const uint8_t *)"status", 6);
    bytes_put_u32(&fx->w, 0);
    assert_false(decode(fx));
    /* An argument that swallows all or half of what would be the stdin
     * length (here printable bytes) leaves a truncated stdin length. */
    begin(fx, CONTROL_VERSION, 1);
    bytes_put_u16(&fx->w, 10);
    bytes_put(&fx->w, (const uint8_t *)"status", 6);
    bytes_put_u32(&fx->w, 0x41414141u);
    assert_false(decode(fx));
    begin(fx, CONTROL_VERSION, 1);
    bytes_put_u16(&fx->w, 8);
    bytes_put(&fx->w, (const uint8_t *)"status", 6);
    bytes_put_u32(&fx->w, 0x41414141u);
    assert_false(decode(fx));
    /* The same bytes read as intended are fine: the claim was the fault. */
    begin(fx, CONTROL_VERSION, 1);
    bytes_put_u16(&fx->w, 6);
    bytes_put(&fx->w, (const uint8_t *)"status", 6);
    bytes_put_u32(&fx->w, 0);
    assert_true(decode(fx));
    /* Stdin length cut after 0 to 3 of its 4 bytes. */
    for (size_t k = 0; k < 4; k++) {
        begin(fx, CONTROL_VERSION, 1);
        put_arg(fx, "status");
        bytes_put(&fx->w, (const uint8_t *)"\0\0\0", k);
        assert_false(decode(fx));
    }
    /* Fewer arguments present than argc claims. */
    begin(fx, CONTROL_VERSION, 3);
    put_arg(fx, "a");
    put_arg(fx, "b");
    put_stdin(fx, NULL, 0);
    assert_false(decode(fx));

    /* The stdin length claims more than is there, by one and by a lot. */
    const uint32_t claims[] = {4, 5, 1000, CONTROL_REQUEST_MAX, 0xffffffffu};
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        begin(fx, CONTROL_VERSION, 1);
        put_arg(fx, "post");
        bytes_put_u32(&fx->w, claims[i]);
        bytes_put(&fx->w, (const uint8_t *)"abc", 3);
        assert_false(decode(fx));
    }
}

static void
test_trailing(void **state)
{
    fx_t *fx = *state;
    const uint8_t extra[] = {0x00, 0x01, 0xff};
    for (size_t i = 0; i < sizeof extra; i++) {
        begin(fx, CONTROL_VERSION, 1);
        put_arg(fx, "post");
        put_stdin(fx, "hello", 5);
        bytes_put_u8(&fx->w, extra[i]);
        assert_false(decode(fx));
    }
    /* A stdin length that claims less than is there leaves trailing bytes. */
    begin(fx, CONTROL_VERSION, 1);
    put_arg(fx, "post");
    bytes_put_u32(&fx->w, 4);
    bytes_put(&fx->w, (const uint8_t *)"hello", 5);
    assert_false(decode(fx));
    /* Two requests in one body. */
    begin(fx, CONTROL_VERSION, 0);
    put_stdin(fx, NULL, 0);
    bytes_put_u8(&fx->w, CONTROL_VERSION);
    bytes_put_u8(&fx->w, 0);
    bytes_put_u32(&fx->w, 0);
    assert_int_equal(built(fx), 12);
    assert_false(decode(fx));
    assert_true(decode_len(fx, 6));
}

/* Every strict prefix of valid requests is refused; among them the ones that
 * end inside the stdin length. */
static void
test_every_truncation(void **state)
{
    fx_t *fx = *state;
    for (int which = 0; which < 3; which++) {
        begin(fx, CONTROL_VERSION, which == 0 ? 0 : 3);
        if (which > 0) {
            put_arg(fx, "post");
            put_arg(fx, "");
            put_arg(fx, "caf\xc3\xa9");
        }
        if (which == 2) {
            put_stdin(fx, "some text\n", 10);
        } else {
            put_stdin(fx, NULL, 0);
        }
        size_t len = built(fx);
        for (size_t k = 0; k < len; k++) {
            if (decode_len(fx, k)) {
                fail_msg("request %d cut to %zu of %zu bytes was accepted", which, k, len);
            }
        }
        assert_true(decode_len(fx, len));
    }
    /* Nothing at all. */
    memset(&fx->req, 0, sizeof fx->req);
    assert_false(control_request_decode(fx->work, 0, &fx->req));
}

#define CTL_TEST(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        CTL_TEST(test_no_args),          CTL_TEST(test_several_args),     CTL_TEST(test_stdin),
        CTL_TEST(test_long_args),        CTL_TEST(test_args_cap),         CTL_TEST(test_version),
        CTL_TEST(test_nul_in_arg),       CTL_TEST(test_lengths_past_end), CTL_TEST(test_trailing),
        CTL_TEST(test_every_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
