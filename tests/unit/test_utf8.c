/* utf8: the first problem in a text, its kind, offset and message; and
 * utf8_valid against a reference decoder written here from RFC 3629 by
 * code-point arithmetic (not by the lead-byte tables utf8.c uses), over
 * every sequence of up to three bytes and every four-byte lead. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "post.h"
#include "utf8.h"

typedef struct {
    const char *bytes;
    size_t len;
    utf8_mode_t mode;
    utf8_kind_t kind;
    size_t offset;
    uint32_t cp;
    const char *message;
} case_t;

#define CASE(s, mode, kind, off, cp, msg)                                                          \
    {                                                                                              \
        s, sizeof s - 1, mode, kind, off, cp, msg                                                  \
    }

static const case_t CASES[] = {
    CASE("plain text", UTF8_LINE, UTF8_OK, 10, 0, "valid text"),
    CASE("a\tb\nc", UTF8_TEXT, UTF8_OK, 5, 0, "valid text"),
    CASE("caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80", UTF8_LINE, UTF8_OK, 14, 0, "valid text"),
    /* Control characters, with the code point named. */
    CASE("ding\x07", UTF8_TEXT, UTF8_ECONTROL, 4, 0x07, "control character U+0007 at byte 4"),
    CASE("a\tb", UTF8_LINE, UTF8_ECONTROL, 1, 0x09, "control character U+0009 at byte 1"),
    CASE("two\nlines", UTF8_LINE, UTF8_ECONTROL, 3, 0x0a, "control character U+000A at byte 3"),
    CASE("\x1b[31mred", UTF8_TEXT, UTF8_ECONTROL, 0, 0x1b, "control character U+001B at byte 0"),
    CASE("del\x7f", UTF8_TEXT, UTF8_ECONTROL, 3, 0x7f, "control character U+007F at byte 3"),
    CASE("\xc3\xa9\xc2\x9b", UTF8_TEXT, UTF8_ECONTROL, 2, 0x9b,
         "control character U+009B at byte 2"),
    CASE("nul\0x", UTF8_TEXT, UTF8_ECONTROL, 3, 0x00, "control character U+0000 at byte 3"),
    /* Bytes that start nothing, and broken sequences. */
    CASE("ab\x80", UTF8_TEXT, UTF8_EINVALID, 2, 0, "invalid UTF-8 at byte 2"),
    CASE("\xff", UTF8_TEXT, UTF8_EINVALID, 0, 0, "invalid UTF-8 at byte 0"),
    CASE("x\xf8\x88\x80\x80\x80", UTF8_TEXT, UTF8_EINVALID, 1, 0, "invalid UTF-8 at byte 1"),
    CASE("\xc3(", UTF8_TEXT, UTF8_EINVALID, 0, 0, "invalid UTF-8 at byte 0"),
    CASE("ok \xe2\x9c(", UTF8_TEXT, UTF8_EINVALID, 3, 0, "invalid UTF-8 at byte 3"),
    /* Overlong forms. */
    CASE("\xc0\xaf", UTF8_TEXT, UTF8_EOVERLONG, 0, 0,
         "invalid UTF-8 at byte 0 (overlong encoding)"),
    CASE("a\xc1\xbf", UTF8_TEXT, UTF8_EOVERLONG, 1, 0,
         "invalid UTF-8 at byte 1 (overlong encoding)"),
    CASE("\xe0\x80\xaf", UTF8_TEXT, UTF8_EOVERLONG, 0, 0,
         "invalid UTF-8 at byte 0 (overlong encoding)"),
    CASE("\xf0\x8f\xbf\xbf", UTF8_TEXT, UTF8_EOVERLONG, 0, 0,
         "invalid UTF-8 at byte 0 (overlong encoding)"),
    /* Surrogates. */
    CASE("hi \xed\xa0\x80", UTF8_TEXT, UTF8_ESURROGATE, 3, 0,
         "invalid UTF-8 at byte 3 (encoded surrogate)"),
    CASE("\xed\xbf\xbf", UTF8_TEXT, UTF8_ESURROGATE, 0, 0,
         "invalid UTF-8 at byte 0 (encoded surrogate)"),
    /* Past U+10FFFF. */
    CASE("\xf4\x90\x80\x80", UTF8_TEXT, UTF8_ETOOBIG, 0, 0,
         "invalid UTF-8 at byte 0 (code point above U+10FFFF)"),
    CASE("z\xf5\x80\x80\x80", UTF8_TEXT, UTF8_ETOOBIG, 1, 0,
         "invalid UTF-8 at byte 1 (code point above U+10FFFF)"),
    /* Cut by the end of the text. */
    CASE("end \xe2\x9c", UTF8_TEXT, UTF8_ETRUNCATED, 4, 0,
         "invalid UTF-8 at byte 4 (the text ends inside a character)"),
    CASE("\xf0\x9f\x98", UTF8_TEXT, UTF8_ETRUNCATED, 0, 0,
         "invalid UTF-8 at byte 0 (the text ends inside a character)"),
    CASE("\xc3", UTF8_TEXT, UTF8_ETRUNCATED, 0, 0,
         "invalid UTF-8 at byte 0 (the text ends inside a character)"),
    /* The first problem wins. */
    CASE("\x07\xff", UTF8_TEXT, UTF8_ECONTROL, 0, 0x07, "control character U+0007 at byte 0"),
    CASE("\xff\x07", UTF8_TEXT, UTF8_EINVALID, 0, 0, "invalid UTF-8 at byte 0"),
};

static void
test_each_kind(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const case_t *c = &CASES[i];
        utf8_problem_t pr;
        memset(&pr, 0xa5, sizeof pr);
        utf8_kind_t k = utf8_check((const uint8_t *)c->bytes, c->len, c->mode, &pr);
        char msg[80];
        utf8_problem_describe(msg, sizeof msg, &pr);
        if (k != c->kind || pr.kind != c->kind || pr.offset != c->offset ||
            (c->kind == UTF8_ECONTROL && pr.codepoint != c->cp) || strcmp(msg, c->message) != 0) {
            fail_msg("case %zu: got kind %d offset %zu cp %x \"%s\", want kind %d offset %zu "
                     "\"%s\"",
                     i, k, pr.offset, (unsigned)pr.codepoint, msg, c->kind, c->offset, c->message);
        }
        assert_int_equal(utf8_valid((const uint8_t *)c->bytes, c->len, c->mode),
                         c->kind == UTF8_OK);
        assert_int_equal(utf8_check((const uint8_t *)c->bytes, c->len, c->mode, NULL), k);
    }
}

/* RFC 3629 by arithmetic: decode by the bit pattern of the lead, compute the
 * code point, then apply the rules. Returns the bytes taken, or 0. */
static size_t
ref_decode(const uint8_t *p, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t v;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    } else if ((p[0] & 0xe0) == 0xc0) {
        len = 2;
        v = p[0] & 0x1f;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3;
        v = p[0] & 0x0f;
    } else if ((p[0] & 0xf8) == 0xf0) {
        len = 4;
        v = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80) {
            return 0;
        }
        v = v << 6 | (p[k] & 0x3f);
    }
    static const uint32_t MIN[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < MIN[len] || (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff) {
        return 0;
    }
    *cp = v;
    return len;
}

static bool
ref_valid(const uint8_t *p, size_t n, utf8_mode_t mode)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp = 0;
        size_t len = ref_decode(p + i, n - i, &cp);
        if (len == 0) {
            return false;
        }
        bool control = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
        if (control && !(mode == UTF8_TEXT && (cp == '\n' || cp == '\t'))) {
            return false;
        }
        i += len;
    }
    return true;
}

static void
check_same(const uint8_t *p, size_t n)
{
    for (int mode = UTF8_TEXT; mode <= UTF8_LINE; mode++) {
        bool want = ref_valid(p, n, (utf8_mode_t)mode);
        utf8_problem_t pr;
        bool got = utf8_check(p, n, (utf8_mode_t)mode, &pr) == UTF8_OK;
        if (got != want) {
            char hex[16] = "";
            for (size_t i = 0; i < n && i < 4; i++) {
                snprintf(hex + 3 * i, sizeof hex - 3 * i, "%02x ", p[i]);
            }
            fail_msg("%s (mode %d): utf8_check says %d, the reference %d", hex, mode, got, want);
        }
        if (!got) {
            assert_true(pr.offset < n);
        }
    }
}

static void
test_against_reference(void **state)
{
    (void)state;
    uint8_t b[4];
    for (unsigned x = 0; x < 256; x++) {
        b[0] = (uint8_t)x;
        check_same(b, 1);
        for (unsigned y = 0; y < 256; y++) {
            b[1] = (uint8_t)y;
            check_same(b, 2);
            if (x < 0xe0 || x > 0xf7) {
                continue;
            }
            for (unsigned z = 0; z < 256; z++) {
                b[2] = (uint8_t)z;
                check_same(b, 3);
                if (x >= 0xf0) {
                    b[3] = 0x80 | (uint8_t)(z & 0x3f);
                    check_same(b, 4);
                    b[3] = (uint8_t)z;
                    check_same(b, 4);
                }
            }
        }
    }
}

/* post_text_check: the post layer's way to the same detail. */
static void
test_post_text_check(void **state)
{
    (void)state;
    utf8_problem_t d;
    assert_int_equal(post_text_check("fine", 4, POST_TEXT_NAME, &d), POST_OK);
    assert_int_equal(d.kind, UTF8_OK);
    assert_int_equal(post_text_check("a\nb", 3, POST_TEXT_BODY, &d), POST_OK);
    assert_int_equal(post_text_check("a\nb", 3, POST_TEXT_NAME, &d), POST_EUTF8);
    assert_int_equal(d.kind, UTF8_ECONTROL);
    assert_int_equal(d.offset, 1);
    assert_int_equal(d.codepoint, '\n');
    assert_int_equal(post_text_check("ab\xc0\xaf", 4, POST_TEXT_BODY, &d), POST_EUTF8);
    assert_int_equal(d.kind, UTF8_EOVERLONG);
    assert_int_equal(d.offset, 2);
    char big[POST_BODY_MAX + 1];
    memset(big, 'x', sizeof big);
    assert_int_equal(post_text_check(big, POST_NAME_MAX + 1, POST_TEXT_NAME, &d), POST_ETOOLARGE);
    assert_int_equal(d.kind, UTF8_OK);
    assert_int_equal(post_text_check(big, POST_NAME_MAX, POST_TEXT_NAME, NULL), POST_OK);
    assert_int_equal(post_text_check(big, POST_BODY_MAX, POST_TEXT_BODY, NULL), POST_OK);
    assert_int_equal(post_text_check(big, POST_BODY_MAX + 1, POST_TEXT_BODY, NULL), POST_ETOOLARGE);
    /* The setters agree with it. */
    post_t p;
    post_init(&p, POST_KIND_POST, 1, NULL, 1);
    assert_int_equal(post_set_body(&p, "x\x07", 2), POST_EUTF8);
    assert_int_equal(post_set_body(&p, "x\ty", 3), POST_OK);
    assert_int_equal(post_set_name(&p, "x\ty", 3), POST_EUTF8);
}

static void
test_describe_cut(void **state)
{
    (void)state;
    utf8_problem_t p = {.kind = UTF8_ECONTROL, .offset = 12345, .codepoint = 0x9b};
    char small[10];
    int n = utf8_problem_describe(small, sizeof small, &p);
    assert_int_equal(n, (int)strlen("control character U+009B at byte 12345"));
    assert_string_equal(small, "control c");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_kind),
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_post_text_check),
        cmocka_unit_test(test_describe_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
