/* text: peer-written names and bodies made safe for a terminal. The
 * spoofing examples are the ones a reader would fall for: a name that
 * reverses the post id printed after it, a body that hides what it says. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* UTF-8 of the bidi characters, spelled out so the test does not depend on
 * how an editor shows them. */
#define LRE "\xe2\x80\xaa"
#define RLE "\xe2\x80\xab"
#define PDF "\xe2\x80\xac"
#define LRO "\xe2\x80\xad"
#define RLO "\xe2\x80\xae"
#define LRI "\xe2\x81\xa6"
#define RLI "\xe2\x81\xa7"
#define FSI "\xe2\x81\xa8"
#define PDI "\xe2\x81\xa9"
#define LRM "\xe2\x80\x8e"
#define RLM "\xe2\x80\x8f"
#define ALM "\xd8\x9c"
#define LSEP "\xe2\x80\xa8"
#define PSEP "\xe2\x80\xa9"

/* The safe form of s in mode, checked to be identical from both entry
 * points (buffer and FILE). Returns a string to free. */
static char *
safe(const char *s, size_t n, text_mode_t mode)
{
    size_t need = text_safe(NULL, 0, s, n, mode);
    char *out = malloc(need + 1);
    assert_non_null(out);
    assert_int_equal(text_safe(out, need + 1, s, n, mode), need);
    assert_int_equal(strlen(out), need);
    assert_true(need <= TEXT_SAFE_SIZE(n) - 1);

    char *mem = NULL;
    size_t mem_len = 0;
    FILE *f = open_memstream(&mem, &mem_len);
    assert_non_null(f);
    assert_int_equal(text_fput(f, s, n, mode), 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(mem_len, need);
    assert_memory_equal(mem, out, need);
    free(mem);
    return out;
}

static void
expect(const char *s, text_mode_t mode, const char *want)
{
    char *got = safe(s, strlen(s), mode);
    if (strcmp(got, want) != 0) {
        fail_msg("mode %d: got \"%s\", want \"%s\"", mode, got, want);
    }
    free(got);
}

/* No byte sequence of a bidi formatting character is left. */
static void
assert_no_bidi(const char *s, text_mode_t mode)
{
    static const char *const ALWAYS[] = {LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI};
    for (size_t i = 0; i < sizeof ALWAYS / sizeof ALWAYS[0]; i++) {
        assert_null(strstr(s, ALWAYS[i]));
    }
    if (mode == TEXT_LINE) {
        assert_null(strstr(s, LRM));
        assert_null(strstr(s, RLM));
        assert_null(strstr(s, ALM));
    }
}

/* A post header line as the CLI prints it, with a peer's name in it. */
static char *
header_line(const char *name)
{
    char *shown = safe(name, strlen(name), TEXT_LINE);
    size_t cap = strlen(shown) + 128;
    char *line = malloc(cap);
    assert_non_null(line);
    snprintf(line, cap, "2026-12-03 16:00  %s  #7  szp1abc", shown);
    free(shown);
    return line;
}

static void
test_rlo_in_name_cannot_reorder_the_line(void **state)
{
    (void)state;
    /* "alice" then RLO: in a bidi terminal, "#7  szp1abc" would be shown
     * reversed, as "cba1pzs  7#". */
    char *line = header_line("alice" RLO);
    assert_string_equal(line, "2026-12-03 16:00  alice<U+202E>  #7  szp1abc");
    assert_no_bidi(line, TEXT_LINE);
    free(line);

    /* An override that tries to be closed later, inside the name. */
    line = header_line("bob" RLO "ecila" PDF);
    assert_string_equal(line, "2026-12-03 16:00  bob<U+202E>ecila<U+202C>  #7  szp1abc");
    free(line);

    /* An isolate left open, and an RLI pretending to be balanced. */
    line = header_line(RLI "mallory");
    assert_string_equal(line, "2026-12-03 16:00  <U+2067>mallory  #7  szp1abc");
    free(line);
    line = header_line(FSI "x" PDI PDI);
    assert_string_equal(line, "2026-12-03 16:00  <U+2068>x<U+2069><U+2069>  #7  szp1abc");
    free(line);
}

static void
test_every_control_escaped(void **state)
{
    (void)state;
    expect(LRE RLE PDF LRO RLO, TEXT_LINE, "<U+202A><U+202B><U+202C><U+202D><U+202E>");
    expect(LRI RLI FSI PDI, TEXT_BODY, "<U+2066><U+2067><U+2068><U+2069>");
    expect(LRE RLE PDF LRO RLO, TEXT_BODY, "<U+202A><U+202B><U+202C><U+202D><U+202E>");
    /* Marks: escaped in a name, kept in a body. */
    expect("a" LRM "b" RLM "c" ALM, TEXT_LINE, "a<U+200E>b<U+200F>c<U+061C>");
    expect("a" LRM "b" RLM "c" ALM, TEXT_BODY, "a" LRM "b" RLM "c" ALM);
    /* Line breaks: a name stays on its line; a body keeps LF and TAB. */
    expect("a\nb\tc", TEXT_LINE, "a<U+000A>b<U+0009>c");
    expect("a\nb\tc", TEXT_BODY, "a\nb\tc");
    expect("a" LSEP "b" PSEP, TEXT_BODY, "a<U+2028>b<U+2029>");
    expect("a" LSEP "b" PSEP, TEXT_LINE, "a<U+2028>b<U+2029>");
    /* Terminal controls, which valid posts never hold. */
    expect("\x1b[2J\x07\x7f", TEXT_BODY, "<U+001B>[2J<U+0007><U+007F>");
    expect("\xc2\x9b"
           "31m",
           TEXT_BODY, "<U+009B>31m");
    /* Bytes that are not UTF-8, NUL included. */
    char nul[] = {'a', 0, 'b'};
    char *got = safe(nul, sizeof nul, TEXT_LINE);
    assert_string_equal(got, "a<U+0000>b");
    free(got);
    expect("\xff\xc0\xaf"
           "ok\xed\xa0\x80",
           TEXT_BODY, "<0xff><0xc0><0xaf>ok<0xed><0xa0><0x80>");
    expect("cut \xe2\x80", TEXT_BODY, "cut <0xe2><0x80>");
}

/* Right-to-left scripts are text, not controls: they pass unchanged, and
 * so do their digits, punctuation and combining marks. */
static void
test_rtl_scripts_unchanged(void **state)
{
    (void)state;
    static const char *const NAMES[] = {
        "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d",                  /* Hebrew: shalom */
        "\xd7\x93\xd7\x95\xd7\x93 \xd7\x9b\xd7\x94\xd7\x9f", /* Hebrew: two words */
        "\xd8\xb3\xd9\x84\xd8\xa7\xd9\x85",                  /* Arabic: salam */
        "\xd9\x85\xd8\xad\xd9\x85\xd9\x91\xd8\xaf",          /* Arabic with a shadda */
        "\xd9\xa1\xd9\xa2\xd9\xa3",                          /* Arabic-Indic digits */
        "\xdb\x8c\xd9\x88\xd8\xb3\xd9\x81",                  /* Persian: yusuf */
        "\xdc\x90\xdc\xa0\xdc\x97\xdc\x90",                  /* Syriac */
        "\xde\x8b\xde\xa8\xde\x88\xde\xac\xde\x80\xde\xa8",  /* Thaana (Dhivehi) */
        "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d, Alice (42)",      /* mixed */
        "\xef\xb7\xb2",                                      /* Arabic ligature U+FDF2 */
    };
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
        expect(NAMES[i], TEXT_LINE, NAMES[i]);
        expect(NAMES[i], TEXT_BODY, NAMES[i]);
    }
    /* An Arabic body with the ALM a writer uses to place a number. */
    expect("\xd8\xb3\xd8\xb9\xd8\xb1 " ALM "100\n\xd8\xb4\xd9\x83\xd8\xb1\xd8\xa7", TEXT_BODY,
           "\xd8\xb3\xd8\xb9\xd8\xb1 " ALM "100\n\xd8\xb4\xd9\x83\xd8\xb1\xd8\xa7");
    /* A Hebrew name that smuggles an RLO is still caught. */
    expect("\xd7\xa9\xd7\x9c" RLO "\xd7\x95\xd7\x9d", TEXT_LINE,
           "\xd7\xa9\xd7\x9c<U+202E>\xd7\x95\xd7\x9d");
}

/* A body that hides what it says: shown with the override escaped, the
 * bytes read in the order they are stored. */
/* More right-to-left scripts, and the joiners they need: ZWNJ (U+200C)
 * and ZWJ (U+200D) sit next to LRM (U+200E) and must not be taken for it. */
static void
test_more_scripts(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        const char *text;
    } SCRIPTS[] = {
        {"Hebrew with niqqud", "\xd7\xa9\xd6\xb8\xd7\x81\xd7\x9c\xd7\x95\xd6\xb9\xd7\x9d"},
        {"Yiddish", "\xd7\x99\xd7\x99\xd6\xb4\xd7\x93\xd7\x99\xd7\xa9"},
        {"Persian with ZWNJ",
         "\xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xae\xd9\x88\xd8\xa7\xd9\x87\xd9\x85"},
        {"Urdu", "\xd8\xa7\xd8\xb1\xd8\xaf\xd9\x88"},
        {"Arabic with tatweel and harakat",
         "\xd8\xb9\xd9\x8e\xd8\xb1\xd9\x8e\xd8\xa8\xd9\x90\xd9\x80\xd9\x8a\xd9\x91"},
        {"NKo", "\xdf\x92\xdf\x9e\xdf\x8f"},
        {"Adlam (four-byte)", "\xf0\x9e\xa4\x80\xf0\x9e\xa4\xa3\xf0\x9e\xa4\xa4\xf0\x9e\xa4\xa2"},
        {"emoji ZWJ sequence",
         "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7"},
        {"Samaritan", "\xe0\xa0\x80\xe0\xa0\x81\xe0\xa0\x82"},
        {"Mandaic", "\xe0\xa1\x80\xe0\xa1\x81\xe0\xa1\x82"},
    };
    for (size_t i = 0; i < sizeof SCRIPTS / sizeof SCRIPTS[0]; i++) {
        for (int mode = TEXT_LINE; mode <= TEXT_BODY; mode++) {
            const char *t = SCRIPTS[i].text;
            char *got = safe(t, strlen(t), (text_mode_t)mode);
            if (strcmp(got, t) != 0) {
                fail_msg("%s changed in mode %d: \"%s\"", SCRIPTS[i].what, mode, got);
            }
            free(got);
        }
    }
    /* An RTL name in a header line is left as it is; the line around it
     * is the same bytes as for a Latin name. */
    char *line = header_line("\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d");
    assert_string_equal(line, "2026-12-03 16:00  \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d  #7  szp1abc");
    free(line);
    /* A Hebrew name ending in RLM would pull the "#7" after it into its
     * run on a bidi terminal: the mark is shown. */
    line = header_line("\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d" RLM);
    assert_string_equal(line,
                        "2026-12-03 16:00  \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d<U+200F>  #7  szp1abc");
    free(line);
    /* An Arabic name that forces the Latin after it left-to-right by an
     * override, and one that opens an isolate it never closes. */
    expect("\xd8\xb3\xd9\x84\xd8\xa7\xd9\x85" LRO "abc", TEXT_LINE,
           "\xd8\xb3\xd9\x84\xd8\xa7\xd9\x85<U+202D>abc");
    expect(RLI "\xd8\xb3\xd9\x84\xd8\xa7\xd9\x85", TEXT_BODY,
           "<U+2067>\xd8\xb3\xd9\x84\xd8\xa7\xd9\x85");
}

static void
test_body_spoof(void **state)
{
    (void)state;
    const char *body = "send to sza1" RLO "evil" PDF "good\nthanks";
    char *got = safe(body, strlen(body), TEXT_BODY);
    assert_string_equal(got, "send to sza1<U+202E>evil<U+202C>good\nthanks");
    assert_no_bidi(got, TEXT_BODY);
    free(got);
}

static void
test_short_buffer(void **state)
{
    (void)state;
    const char *s = "ab" RLO "\xc3\xa9z";
    size_t need = strlen("ab<U+202E>\xc3\xa9z");
    char out[64];
    /* Every size: cut before a unit that does not fit, never inside one. */
    for (size_t cap = 0; cap <= need + 1; cap++) {
        memset(out, 'X', sizeof out);
        assert_int_equal(text_safe(out, cap, s, strlen(s), TEXT_LINE), need);
        if (cap == 0) {
            assert_int_equal(out[0], 'X');
            continue;
        }
        size_t len = strlen(out);
        assert_true(len < cap);
        const char *full = "ab<U+202E>\xc3\xa9z";
        assert_memory_equal(out, full, len);
        /* Whole units only ("a", "b", the escape, "é", "z"), as many as fit. */
        static const size_t ENDS[] = {0, 1, 2, 10, 12, 13};
        size_t want = 0;
        for (size_t e = 0; e < sizeof ENDS / sizeof ENDS[0]; e++) {
            if (ENDS[e] < cap) {
                want = ENDS[e];
            }
        }
        assert_int_equal(len, want);
    }
    assert_int_equal(text_safe(out, 1, "", 0, TEXT_BODY), 0);
    assert_string_equal(out, "");
}

static void
test_write_error(void **state)
{
    (void)state;
    FILE *f = fopen("/dev/full", "w");
    if (f == NULL) {
        skip();
    }
    setvbuf(f, NULL, _IONBF, 0);
    assert_int_equal(text_fput(f, "abc", 3, TEXT_BODY), -1);
    fclose(f);
}

static void
test_is_bidi_control(void **state)
{
    (void)state;
    for (unsigned long cp = 0; cp < 0x3000; cp++) {
        bool embed = (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
        bool mark = cp == 0x200e || cp == 0x200f || cp == 0x061c;
        assert_int_equal(text_is_bidi_control(cp, TEXT_BODY), embed);
        assert_int_equal(text_is_bidi_control(cp, TEXT_LINE), embed || mark);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rlo_in_name_cannot_reorder_the_line),
        cmocka_unit_test(test_every_control_escaped),
        cmocka_unit_test(test_rtl_scripts_unchanged),
        cmocka_unit_test(test_more_scripts),
        cmocka_unit_test(test_body_spoof),
        cmocka_unit_test(test_short_buffer),
        cmocka_unit_test(test_write_error),
        cmocka_unit_test(test_is_bidi_control),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
