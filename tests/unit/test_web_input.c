/* The web front end's readers and writers, without a server: the form and
 * JSON readers (webin), the HTML escaper (wbuf), the token file (webtok)
 * and the QR code as SVG. */
#include "testutil.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "qr.h"
#include "wbuf.h"
#include "webin.h"
#include "webtok.h"

static void
test_form(void **state)
{
    (void)state;
    webin_t in;
    const char *body = "text=Hello+w%C3%B6rld%21&csrf=ab12&empty=&flag";
    assert_int_equal(webin_form(&in, body, strlen(body)), WEBIN_OK);
    assert_int_equal(in.n, 4);
    assert_string_equal(webin_get(&in, "text")->value, "Hello wörld!");
    assert_string_equal(webin_get(&in, "csrf")->value, "ab12");
    assert_int_equal(webin_get(&in, "empty")->len, 0);
    assert_non_null(webin_get(&in, "flag"));
    assert_null(webin_get(&in, "nope"));
    webin_free(&in);
    /* A NUL inside a value is kept with its length: the caller decides. */
    assert_int_equal(webin_form(&in, "a=x%00y", 7), WEBIN_OK);
    assert_int_equal(webin_get(&in, "a")->len, 3);
    webin_free(&in);
    /* Refused as a whole. */
    const char *bad[] = {"a=%zz", "a=%4", "a=1&a=2", "b%20c=1", "=x", "a=%"};
    webin_err_t want[] = {WEBIN_EMALFORMED, WEBIN_EMALFORMED, WEBIN_EDUP,
                          WEBIN_EMALFORMED, WEBIN_EMALFORMED, WEBIN_EMALFORMED};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(webin_form(&in, bad[i], strlen(bad[i])), want[i]);
        assert_int_equal(in.n, 0);
        assert_null(in.mem);
    }
    /* Too many fields. */
    char many[512] = "";
    for (int i = 0; i <= WEBIN_FIELDS_MAX; i++) {
        char f[16];
        snprintf(f, sizeof f, "%sf%d=1", i ? "&" : "", i);
        strcat(many, f);
    }
    assert_int_equal(webin_form(&in, many, strlen(many)), WEBIN_ETOOBIG);
}

static void
test_json(void **state)
{
    (void)state;
    webin_t in;
    const char *body = " {\"text\":\"a\\\"b\\n\\u00e9\\ud83d\\ude00\",\"n\":-12.5e3,"
                       "\"yes\":true,\"none\":null,\"reply_to\":\"szp1\"} ";
    assert_int_equal(webin_json(&in, body, strlen(body)), WEBIN_OK);
    assert_int_equal(in.n, 5);
    assert_string_equal(webin_get(&in, "text")->value, "a\"b\n\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(webin_get(&in, "n")->type, WEBIN_NUMBER);
    assert_string_equal(webin_get(&in, "n")->value, "-12.5e3");
    assert_int_equal(webin_get(&in, "yes")->type, WEBIN_BOOL);
    assert_int_equal(webin_get(&in, "none")->type, WEBIN_NULL);
    webin_free(&in);
    assert_int_equal(webin_json(&in, "{}", 2), WEBIN_OK);
    assert_int_equal(in.n, 0);
    webin_free(&in);
    const char *bad[] = {
        "",
        "[]",
        "{\"a\":{}}",
        "{\"a\":[1]}",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{\"a\":\"x}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\q\"}",
        "{\"a\":tru}",
        "{} x",
        "{\"a\":1,\"a\":2}",
        "{\"a\":\"\x01\"}",
        "{\"a b\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_not_equal(webin_json(&in, bad[i], strlen(bad[i])), WEBIN_OK);
        assert_int_equal(in.n, 0);
    }
}

static void
test_html_escape(void **state)
{
    (void)state;
    wbuf_t b;
    wbuf_init(&b, 4096);
    const char *evil = "\"><img src=x onerror=alert(1)> & 'q' <script>\x01\x7f\n\t";
    wbuf_html_str(&b, evil);
    assert_string_equal(b.p, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &#39;q&#39; "
                             "&lt;script&gt;\n\t");
    b.len = 0;
    /* Not UTF-8, an overlong form, a surrogate, a C1 control: replaced or dropped. */
    const char bytes[] = "a\xff"
                         "b\xc0\xaf"
                         "c\xed\xa0\x80"
                         "d\xc2\x85"
                         "e\xe2\x80\xae"
                         "f";
    wbuf_html(&b, bytes, sizeof bytes - 1);
    /* The bidi override U+202E passes: the page isolates it (<bdi>, dir=auto). */
    assert_string_equal(b.p, "a\xef\xbf\xbd"
                             "b\xef\xbf\xbd\xef\xbf\xbd"
                             "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                             "d\xef\xbf\xbd\xef\xbf\xbd"
                             "e\xe2\x80\xae"
                             "f");
    wbuf_free(&b);
    /* The cap: appends after it fail, and the buffer says so. */
    wbuf_init(&b, 8);
    wbuf_puts(&b, "1234567");
    assert_false(b.failed);
    wbuf_puts(&b, "8");
    assert_true(b.failed);
    size_t len = 0;
    assert_null(wbuf_take(&b, &len));
}

static void
test_tokens(void **state)
{
    (void)state;
    char dir[256];
    tu_mkdtemp(dir, sizeof dir);
    char t1[WEBTOK_TEXT_SIZE], t2[WEBTOK_TEXT_SIZE], t3[WEBTOK_TEXT_SIZE];
    assert_int_equal(webtok_create(dir, "reader app", WEBTOK_SCOPE_READ, 1000, t1), WEBTOK_OK);
    assert_int_equal(strlen(t1), WEBTOK_TEXT_LEN);
    assert_int_equal(webtok_create(dir, "bot", WEBTOK_SCOPE_POST | WEBTOK_SCOPE_READ, 2000, t2),
                     WEBTOK_OK);
    assert_int_equal(webtok_create(dir, "bot", WEBTOK_SCOPE_READ, 3000, t3), WEBTOK_EEXISTS);
    assert_int_equal(webtok_create(dir, " bad", WEBTOK_SCOPE_READ, 3000, t3), WEBTOK_EINVAL);
    webtok_info_t info;
    assert_int_equal(webtok_check(dir, t1, &info), WEBTOK_OK);
    assert_string_equal(info.name, "reader app");
    assert_int_equal(info.scopes, WEBTOK_SCOPE_READ);
    /* The file holds hashes, not tokens. */
    char path[512];
    snprintf(path, sizeof path, "%s/api-tokens", dir);
    size_t len = 0;
    char *file = tu_read_file(path, &len);
    assert_non_null(file);
    assert_null(strstr(file, t1 + 4));
    free(file);
    /* One character changed is not a token. */
    t1[10] = t1[10] == 'a' ? 'b' : 'a';
    assert_int_equal(webtok_check(dir, t1, &info), WEBTOK_ENOTFOUND);
    assert_int_equal(webtok_check(dir, "szt_short", &info), WEBTOK_ENOTFOUND);
    webtok_info_t list[WEBTOK_MAX];
    size_t n = 0;
    assert_int_equal(webtok_list(dir, list, WEBTOK_MAX, &n), WEBTOK_OK);
    assert_int_equal(n, 2);
    assert_int_equal(webtok_revoke(dir, "reader app"), WEBTOK_OK);
    assert_int_equal(webtok_revoke(dir, "reader app"), WEBTOK_ENOTFOUND);
    assert_int_equal(webtok_check(dir, t2, &info), WEBTOK_OK);
    assert_int_equal(webtok_list(dir, list, WEBTOK_MAX, &n), WEBTOK_OK);
    assert_int_equal(n, 1);
    /* A damaged file is said to be damaged, not read as no tokens. */
    tu_write_file(path, "1 zz read 0 x\n", 14);
    assert_int_equal(webtok_check(dir, t2, &info), WEBTOK_ECORRUPT);
    unsigned s = 0;
    assert_true(webtok_scopes_parse("read,admin", &s));
    assert_int_equal(s, WEBTOK_SCOPE_READ | WEBTOK_SCOPE_ADMIN);
    assert_false(webtok_scopes_parse("read,root", &s));
    assert_false(webtok_scopes_parse("", &s));
    tu_rmtree(dir);
}

static void
test_qr_svg(void **state)
{
    (void)state;
    char *svg = NULL;
    qr_info_t info;
    const char *key = "sza1v007j2wavcs62temtnzmdvvw5606dz32z8x27escs4t5h06f7xvqzr6qh3";
    assert_int_equal(qr_svg(key, &svg, &info), QR_OK);
    char view[64];
    snprintf(view, sizeof view, "viewBox=\"0 0 %d %d\"", info.modules + 2 * QR_QUIET,
             info.modules + 2 * QR_QUIET);
    assert_non_null(strstr(svg, view));
    assert_true(strncmp(svg, "<svg ", 5) == 0);
    assert_non_null(strstr(svg, "</svg>"));
    /* The three finder patterns start at the quiet zone's corner. */
    assert_non_null(strstr(svg, "M4 4h7v1h-7z"));
    qr_free(svg);
    assert_int_equal(qr_svg("", &svg, NULL), QR_EINVAL);
    assert_null(svg);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form),        cmocka_unit_test(test_json),
        cmocka_unit_test(test_html_escape), cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_qr_svg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
