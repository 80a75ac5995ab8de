/* qr: an author key drawn as a QR code is libqrencode's module matrix,
 * module for module, with the quiet zone, in both styles; the sizes are
 * those of the version a 62-character key needs. */
#include "testutil.h"

#include <qrencode.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "keytext.h"
#include "qr.h"

static void
key_text(char t[KEYTEXT_BUFSZ])
{
    uint8_t pk[32];
    for (int i = 0; i < 32; i++) {
        pk[i] = (uint8_t)(i * 37 + 11);
    }
    keytext_encode(t, KEYTEXT_AUTHOR, pk);
}

/* Whether module (x, y) of the drawing, quiet zone included, is light,
 * from libqrencode's matrix. */
static bool
want_light(const QRcode *q, int x, int y)
{
    x -= QR_QUIET;
    y -= QR_QUIET;
    if (x < 0 || y < 0 || x >= q->width || y >= q->width) {
        return true;
    }
    return (q->data[y * q->width + x] & 1) == 0;
}

/* The lines of s, split in place; returns how many. */
static int
split_lines(char *s, char **lines, int max)
{
    int n = 0;
    for (char *p = s; *p != '\0';) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl); /* every line ends in a newline */
        *nl = '\0';
        assert_true(n < max);
        lines[n++] = p;
        p = nl + 1;
    }
    return n;
}

static void
test_key_utf8(void **state)
{
    (void)state;
    char t[KEYTEXT_BUFSZ];
    key_text(t);
    assert_int_equal(strlen(t), 62);
    char *d = NULL;
    qr_info_t info;
    assert_int_equal(qr_render(t, QR_UTF8, &d, &info), QR_OK);
    /* 62 bytes in byte mode at level M need version 4: 33 modules a side. */
    QRcode *q = QRcode_encodeString8bit(t, 0, QR_ECLEVEL_M);
    assert_non_null(q);
    assert_int_equal(q->version, 4);
    assert_int_equal(info.version, q->version);
    assert_int_equal(info.modules, q->width);
    assert_int_equal(info.modules, 17 + 4 * info.version);
    int side = q->width + 2 * QR_QUIET;
    assert_int_equal(info.columns, side);
    assert_int_equal(info.lines, (side + 1) / 2);

    char *lines[64];
    int n = split_lines(d, lines, 64);
    assert_int_equal(n, info.lines);
    /* Read the modules back from the half blocks. */
    static const char *chars[4] = {" ", "\xe2\x96\x84", "\xe2\x96\x80", "\xe2\x96\x88"};
    for (int line = 0; line < n; line++) {
        const char *p = lines[line];
        for (int x = 0; x < side; x++) {
            bool top = want_light(q, x, 2 * line);
            bool bottom = 2 * line + 1 < side && want_light(q, x, 2 * line + 1);
            const char *want = chars[(top ? 2 : 0) + (bottom ? 1 : 0)];
            size_t len = strlen(want);
            if (strncmp(p, want, len) != 0) {
                fail_msg("line %d column %d: not the module pair of the matrix", line, x);
            }
            p += len;
        }
        assert_int_equal(*p, '\0'); /* exactly side characters */
    }
    QRcode_free(q);
    qr_free(d);
}

static void
test_key_ascii(void **state)
{
    (void)state;
    char t[KEYTEXT_BUFSZ];
    key_text(t);
    char *d = NULL;
    qr_info_t info;
    assert_int_equal(qr_render(t, QR_ASCII, &d, &info), QR_OK);
    QRcode *q = QRcode_encodeString8bit(t, 0, QR_ECLEVEL_M);
    assert_non_null(q);
    int side = q->width + 2 * QR_QUIET;
    assert_int_equal(info.lines, side);
    assert_int_equal(info.columns, 2 * side);
    char *lines[64];
    int n = split_lines(d, lines, 64);
    assert_int_equal(n, side);
    for (int y = 0; y < side; y++) {
        assert_int_equal(strlen(lines[y]), (size_t)(2 * side));
        for (int x = 0; x < side; x++) {
            const char *want = want_light(q, x, y) ? "##" : "  ";
            if (strncmp(lines[y] + 2 * x, want, 2) != 0) {
                fail_msg("module (%d, %d) is not the matrix's", x, y);
            }
        }
    }
    /* The finder pattern's corner is dark, the quiet zone light. */
    assert_memory_equal(lines[QR_QUIET] + 2 * QR_QUIET, "  ", 2);
    assert_memory_equal(lines[0], "##", 2);
    QRcode_free(q);
    qr_free(d);
}

static void
test_limits(void **state)
{
    (void)state;
    char *d = (char *)"untouched";
    assert_int_equal(qr_render("", QR_UTF8, &d, NULL), QR_EINVAL);
    assert_null(d);
    assert_int_equal(qr_render(NULL, QR_UTF8, &d, NULL), QR_EINVAL);
    char big[QR_TEXT_MAX + 2];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(qr_render(big, QR_ASCII, &d, NULL), QR_ETOOLONG);
    assert_null(d);
    big[QR_TEXT_MAX] = '\0'; /* the longest accepted: a larger version */
    qr_info_t info;
    assert_int_equal(qr_render(big, QR_ASCII, &d, &info), QR_OK);
    assert_true(info.version > 4);
    assert_int_equal(info.modules, 17 + 4 * info.version);
    qr_free(d);
    qr_free(NULL);
    for (int e = QR_OK; e <= QR_EENCODE; e++) {
        assert_string_not_equal(qr_strerror((qr_err_t)e), "unknown QR error");
    }
}

static void
test_locale(void **state)
{
    (void)state;
    unsetenv("LC_ALL");
    unsetenv("LC_CTYPE");
    unsetenv("LANG");
    assert_false(qr_utf8_locale());
    setenv("LANG", "en_US.UTF-8", 1);
    assert_true(qr_utf8_locale());
    setenv("LANG", "de_DE.utf8@euro", 1);
    assert_true(qr_utf8_locale());
    setenv("LANG", "de_DE.ISO-8859-1", 1);
    assert_false(qr_utf8_locale());
    setenv("LC_CTYPE", "C.UTF-8", 1); /* LC_CTYPE before LANG */
    assert_true(qr_utf8_locale());
    setenv("LC_ALL", "C", 1); /* LC_ALL before both */
    assert_false(qr_utf8_locale());
    setenv("LC_ALL", "", 1); /* empty: not set */
    assert_true(qr_utf8_locale());
    unsetenv("LC_ALL");
    unsetenv("LC_CTYPE");
    unsetenv("LANG");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_utf8),
        cmocka_unit_test(test_key_ascii),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_locale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
