/* The bootstrap.list format: every kind of good line and every refusal of
 * bootstrap_parse_line, and bootstrap_read on real files (a mix of good and
 * bad lines, overlong lines, the entry cap, a missing file and the list this
 * repository ships), with the log lines a bad line produces. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap.h"
#include "keytext.h"
#include "log.h"
#include "wire.h"

enum {
    REC_LINES = 16, /* log lines kept; more are only counted */
    REC_LINE_MAX = 1024,
    ENTRIES_KEPT = 16, /* entries kept by the callback; more are only counted */
    TEXT_MAX = 128 * 1024,
};

/* A log sink that records what it is given. */
typedef struct {
    size_t n;
    log_level_t level[REC_LINES];
    char line[REC_LINES][REC_LINE_MAX];
} rec_t;

typedef struct {
    uint8_t key[32];
    char endpoint[WIRE_ENDPOINT_MAX + 1];
} entry_t;

/* One test's world, on the heap: the recorded log lines alone are 16 KiB. */
typedef struct {
    char dir[512];
    char path[600];
    rec_t rec;
    log_t log;
    size_t n_entries;
    entry_t entries[ENTRIES_KEPT];
    char text[TEXT_MAX]; /* a file's contents, built by a test */
    size_t text_len;
} fx_t;

static void
rec_sink(void *ud, log_level_t level, const char *line)
{
    rec_t *r = ud;
    if (r->n < REC_LINES) {
        size_t n = strlen(line);
        assert_true(n < REC_LINE_MAX);
        memcpy(r->line[r->n], line, n + 1);
        r->level[r->n] = level;
    }
    r->n++;
}

static void
on_entry(void *ud, const uint8_t key[32], const char *endpoint)
{
    fx_t *fx = ud;
    if (fx->n_entries < ENTRIES_KEPT) {
        entry_t *e = &fx->entries[fx->n_entries];
        size_t n = strlen(endpoint);
        assert_true(n <= WIRE_ENDPOINT_MAX);
        memcpy(e->key, key, 32);
        memcpy(e->endpoint, endpoint, n + 1);
    }
    fx->n_entries++;
}

static int
fx_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL) {
        return -1;
    }
    tu_mkdtemp(fx->dir, sizeof fx->dir);
    int n = snprintf(fx->path, sizeof fx->path, "%s/bootstrap.list", fx->dir);
    assert_true(n > 0 && (size_t)n < sizeof fx->path);
    fx->log.level = LOG_LEVEL_DEBUG;
    fx->log.sink = rec_sink;
    fx->log.ud = &fx->rec;
    *state = fx;
    return 0;
}

static int
fx_teardown(void **state)
{
    fx_t *fx = *state;
    tu_rmtree(fx->dir);
    free(fx);
    return 0;
}

/* A node key made of one repeated byte, and its text form. */
static void
node_key(uint8_t byte, uint8_t key[32], char text[KEYTEXT_BUFSZ])
{
    memset(key, byte, 32);
    keytext_encode(text, KEYTEXT_NODE, key);
    assert_int_equal(strlen(text), KEYTEXT_LEN);
    assert_memory_equal(text, "szn1", 4);
}

/* Joins n pieces into out (BOOTSTRAP_LINE_MAX + 2 bytes). */
static void
line_of(char out[static BOOTSTRAP_LINE_MAX + 2], const char *const *parts, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(parts[i]);
        assert_true(k <= BOOTSTRAP_LINE_MAX - len);
        memcpy(out + len, parts[i], k);
        len += k;
    }
    out[len] = '\0';
}

#define PARTS(...) ((const char *const[]){__VA_ARGS__})
#define LINE(out, ...) line_of(out, PARTS(__VA_ARGS__), sizeof PARTS(__VA_ARGS__) / sizeof(char *))

static bootstrap_err_t
parse(const char *line, uint8_t key[32], char endpoint[WIRE_ENDPOINT_MAX + 1])
{
    /* Start from garbage so a field the parser forgets to set shows. */
    memset(key, 0xee, 32);
    memset(endpoint, 'x', WIRE_ENDPOINT_MAX);
    endpoint[WIRE_ENDPOINT_MAX] = '\0';
    return bootstrap_parse_line(line, key, endpoint);
}

static void
test_parse_good(void **state)
{
    (void)state;
    uint8_t want[32], key[32];
    char text[KEYTEXT_BUFSZ];
    node_key(0x5a, want, text);
    /* Each line is before + endpoint + between + key + after. */
    static const struct {
        const char *before, *endpoint, *between, *after;
    } cases[] = {
        {"", "tcp://192.0.2.10:7470", " ", ""},
        {"", "tcp://[2001:db8::1]:7470", " ", ""},
        {"", "tcp://node.example.org:7471", " ", ""},
        {"", "tcp://1.2.3.4:1", " ", ""},
        {"", "tcp://[2001:db8::1]:65535", " ", ""},
        {"", "tcp://192.0.2.10:7470", " ", " # a friend's node"},
        {"", "tcp://192.0.2.10:7470", " ", "#no space before the comment"},
        {"   ", "tcp://192.0.2.10:7470", "     ", "   "},
        {"\t", "tcp://node.example.org:7471", "\t", "\t"},
        {"", "tcp://node.example.org:7471", " \t ", ""},
        {"", "tcp://192.0.2.10:7470", " ", "\r"}, /* CRLF line end */
        {"", "tcp://[2001:db8::1]:7470", " ", " \t\r"},
    };
    char line[BOOTSTRAP_LINE_MAX + 2];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        LINE(line, cases[i].before, cases[i].endpoint, cases[i].between, text, cases[i].after);
        char endpoint[WIRE_ENDPOINT_MAX + 1];
        if (parse(line, key, endpoint) != BOOTSTRAP_OK) {
            fail_msg("line %zu refused: \"%s\"", i, line);
        }
        assert_memory_equal(key, want, 32);
        assert_string_equal(endpoint, cases[i].endpoint);
    }

    /* Bech32 allows a text form in all upper case. */
    char upper[KEYTEXT_BUFSZ];
    for (size_t i = 0; i < KEYTEXT_BUFSZ; i++) {
        char c = text[i];
        upper[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    LINE(line, "tcp://192.0.2.10:7470", " ", upper);
    char endpoint[WIRE_ENDPOINT_MAX + 1];
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_OK);
    assert_memory_equal(key, want, 32);

    /* Another key gives other bytes: the key is really decoded. */
    node_key(0x01, want, text);
    LINE(line, "tcp://192.0.2.10:7470", " ", text);
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_OK);
    assert_memory_equal(key, want, 32);
}

static void
test_parse_empty(void **state)
{
    (void)state;
    uint8_t key[32], want[32];
    char text[KEYTEXT_BUFSZ], endpoint[WIRE_ENDPOINT_MAX + 1];
    node_key(0x11, want, text);
    char commented[BOOTSTRAP_LINE_MAX + 2], indented[BOOTSTRAP_LINE_MAX + 2];
    LINE(commented, "#", "tcp://192.0.2.10:7470", " ", text);
    LINE(indented, "   # ", "tcp://192.0.2.10:7470", " ", text);
    const char *lines[] = {
        "",
        " ",
        "\t",
        "\r",
        " \t \r",
        "#",
        "# samizdat bootstrap list",
        "   # indented comment",
        "\t#",
        "##",
        commented,
        indented,
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (parse(lines[i], key, endpoint) != BOOTSTRAP_EMPTY) {
            fail_msg("line %zu is not empty: \"%s\"", i, lines[i]);
        }
    }
}

static void
test_parse_fields(void **state)
{
    (void)state;
    uint8_t key[32], want[32];
    char text[KEYTEXT_BUFSZ], endpoint[WIRE_ENDPOINT_MAX + 1];
    node_key(0x22, want, text);
    const char *ep = "tcp://192.0.2.10:7470";
    char line[BOOTSTRAP_LINE_MAX + 2];
    LINE(line, ep); /* the endpoint alone */
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EFIELDS);
    assert_int_equal(parse(text, key, endpoint), BOOTSTRAP_EFIELDS); /* the key alone */
    LINE(line, text, " # ", ep); /* the endpoint commented out */
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EFIELDS);
    LINE(line, ep, " ", text, " extra"); /* three fields */
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EFIELDS);
    LINE(line, ep, " ", text, " ", text);
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EFIELDS);
    LINE(line, ep, " ", text, " x # a comment after three fields");
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EFIELDS);
    LINE(line, ep, "\t", text, "\tx");
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EFIELDS);
    LINE(line, ep, " ", text, " ", ep, " ", text); /* four */
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EFIELDS);
    LINE(line, ep, ",", text); /* one field: a comma is not a separator */
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EFIELDS);
}

static void
test_parse_bad_endpoint(void **state)
{
    (void)state;
    uint8_t key[32], want[32];
    char text[KEYTEXT_BUFSZ], endpoint[WIRE_ENDPOINT_MAX + 1];
    node_key(0x33, want, text);
    char long_ep[WIRE_ENDPOINT_MAX + 16];
    memcpy(long_ep, "tcp://", 6);
    memset(long_ep + 6, 'a', WIRE_ENDPOINT_MAX);
    memcpy(long_ep + 6 + WIRE_ENDPOINT_MAX, ":7470", 6);
    const char *bad[] = {
        "tcp://0.0.0.0:7470", /* the wildcard names no peer */
        "tcp://[::]:7470",
        "tcp://*:7470",
        "tcp://192.0.2.10", /* no port */
        "tcp://192.0.2.10:",
        "tcp://192.0.2.10:0",
        "tcp://192.0.2.10:65536",
        "udp://192.0.2.10:7470",
        "TCP://192.0.2.10:7470",
        "192.0.2.10:7470",
        "tcp://256.1.1.1:7470",
        "tcp://[2001:db8::1:7470",
        "tcp://-bad-.example.org:7470",
        text, /* key and endpoint swapped */
        long_ep,
    };
    char line[BOOTSTRAP_LINE_MAX + 2];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* The swapped case puts an endpoint where the key goes. */
        const char *second = bad[i] == text ? "tcp://192.0.2.10:7470" : text;
        LINE(line, bad[i], " ", second);
        if (parse(line, key, endpoint) != BOOTSTRAP_EENDPOINT) {
            fail_msg("endpoint case %zu accepted or misjudged: \"%s\"", i, line);
        }
    }
}

static void
test_parse_bad_key(void **state)
{
    (void)state;
    static const char BECH32[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    uint8_t key[32], value[32];
    char text[KEYTEXT_BUFSZ], endpoint[WIRE_ENDPOINT_MAX + 1];
    char line[BOOTSTRAP_LINE_MAX + 2];
    node_key(0x44, value, text);
    LINE(line, "tcp://192.0.2.10:7470", " ", text);
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_OK);

    /* Every single mistyped character of the data and checksum part, each
     * replaced by another character of the alphabet, is refused. */
    for (size_t pos = 4; pos < KEYTEXT_LEN; pos++) {
        char typo[KEYTEXT_BUFSZ];
        memcpy(typo, text, sizeof typo);
        const char *at = strchr(BECH32, text[pos]);
        assert_non_null(at);
        typo[pos] = BECH32[((size_t)(at - BECH32) + 1 + pos % 31) % 32];
        assert_true(typo[pos] != text[pos]);
        LINE(line, "tcp://192.0.2.10:7470", " ", typo);
        if (parse(line, key, endpoint) != BOOTSTRAP_EKEY) {
            fail_msg("a typo at %zu was not refused: %s", pos, typo);
        }
    }

    /* An author key and a post id of the same bytes are not node keys. */
    char other[KEYTEXT_BUFSZ];
    const keytext_kind_t kinds[] = {KEYTEXT_AUTHOR, KEYTEXT_POST};
    for (size_t i = 0; i < 2; i++) {
        keytext_encode(other, kinds[i], value);
        LINE(line, "tcp://192.0.2.10:7470", " ", other);
        assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EKEY);
    }
    assert_memory_equal(other, "szp1", 4);

    /* A character missing, one extra, mixed case, junk. */
    char cut[KEYTEXT_BUFSZ];
    memcpy(cut, text, sizeof cut);
    cut[KEYTEXT_LEN - 1] = '\0';
    LINE(line, "tcp://192.0.2.10:7470", " ", cut);
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EKEY);
    LINE(line, "tcp://192.0.2.10:7470", " ", text, "q");
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EKEY);
    char mixed[KEYTEXT_BUFSZ];
    memcpy(mixed, text, sizeof mixed);
    mixed[0] = 'S';
    LINE(line, "tcp://192.0.2.10:7470", " ", mixed);
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EKEY);
    LINE(line, "tcp://192.0.2.10:7470", " ", "szn1");
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EKEY);
    LINE(line, "tcp://192.0.2.10:7470", " ", "0123456789abcdef");
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EKEY);
}

static void
test_parse_length(void **state)
{
    (void)state;
    uint8_t key[32], want[32];
    char text[KEYTEXT_BUFSZ], endpoint[WIRE_ENDPOINT_MAX + 1];
    node_key(0x55, want, text);
    char line[BOOTSTRAP_LINE_MAX + 2];

    /* A good entry padded with blanks to exactly the limit is taken... */
    LINE(line, "tcp://192.0.2.10:7470", " ", text);
    size_t n = strlen(line);
    memset(line + n, ' ', BOOTSTRAP_LINE_MAX - n);
    line[BOOTSTRAP_LINE_MAX] = '\0';
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_OK);
    assert_memory_equal(key, want, 32);
    assert_string_equal(endpoint, "tcp://192.0.2.10:7470");
    /* ...and one byte more is too long, whatever the rest says. */
    line[BOOTSTRAP_LINE_MAX] = ' ';
    line[BOOTSTRAP_LINE_MAX + 1] = '\0';
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_ETOOLONG);

    /* The limit counts comments too. */
    memset(line, '#', BOOTSTRAP_LINE_MAX);
    line[BOOTSTRAP_LINE_MAX] = '\0';
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EMPTY);
    line[BOOTSTRAP_LINE_MAX] = '#';
    line[BOOTSTRAP_LINE_MAX + 1] = '\0';
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_ETOOLONG);

    /* Far over the limit, from the heap. */
    char *huge = malloc(10000);
    assert_non_null(huge);
    memset(huge, 'a', 9999);
    huge[9999] = '\0';
    assert_int_equal(parse(huge, key, endpoint), BOOTSTRAP_ETOOLONG);
    free(huge);

    /* A single word as long as a line may be. */
    memset(line, 'a', BOOTSTRAP_LINE_MAX);
    line[BOOTSTRAP_LINE_MAX] = '\0';
    assert_int_equal(parse(line, key, endpoint), BOOTSTRAP_EFIELDS);
}

static void
test_strerror(void **state)
{
    (void)state;
    for (int a = BOOTSTRAP_OK; a <= BOOTSTRAP_ETOOLONG; a++) {
        const char *s = bootstrap_strerror((bootstrap_err_t)a);
        assert_non_null(s);
        assert_string_not_equal(s, "unknown bootstrap error");
        for (int b = BOOTSTRAP_OK; b < a; b++) {
            assert_string_not_equal(s, bootstrap_strerror((bootstrap_err_t)b));
        }
    }
    assert_string_equal(bootstrap_strerror((bootstrap_err_t)99), "unknown bootstrap error");
}

/* ---- files ---------------------------------------------------------------------- */

static void
text_add(fx_t *fx, const char *s, size_t n)
{
    assert_true(n <= TEXT_MAX - fx->text_len);
    memcpy(fx->text + fx->text_len, s, n);
    fx->text_len += n;
}

static void
text_str(fx_t *fx, const char *s)
{
    text_add(fx, s, strlen(s));
}

/* "ENDPOINT KEY" for the node key of one repeated byte, with no line end. */
static void
text_entry(fx_t *fx, const char *endpoint, uint8_t byte)
{
    uint8_t key[32];
    char text[KEYTEXT_BUFSZ];
    node_key(byte, key, text);
    text_str(fx, endpoint);
    text_str(fx, " ");
    text_str(fx, text);
}

static void
text_blanks(fx_t *fx, size_t n)
{
    assert_true(n <= TEXT_MAX - fx->text_len);
    memset(fx->text + fx->text_len, ' ', n);
    fx->text_len += n;
}

static void
read_file(fx_t *fx, size_t *good, size_t *bad)
{
    tu_write_file(fx->path, fx->text, fx->text_len);
    fx->n_entries = 0;
    fx->rec.n = 0;
    *good = 12345;
    *bad = 12345;
    bootstrap_read(fx->path, on_entry, fx, &fx->log, good, bad);
}

static void
check_entry(const fx_t *fx, size_t i, const char *endpoint, uint8_t byte)
{
    assert_true(i < fx->n_entries && i < ENTRIES_KEPT);
    uint8_t want[32];
    memset(want, byte, sizeof want);
    assert_string_equal(fx->entries[i].endpoint, endpoint);
    assert_memory_equal(fx->entries[i].key, want, 32);
}

/* True when s contains "line N" followed by something other than a digit. */
static bool
names_line(const char *s, unsigned lineno)
{
    char pat[32];
    snprintf(pat, sizeof pat, "line %u", lineno);
    size_t n = strlen(pat);
    for (const char *p = strstr(s, pat); p != NULL; p = strstr(p + 1, pat)) {
        if (p[n] < '0' || p[n] > '9') {
            return true;
        }
    }
    return false;
}

/* Log line i names line lineno and says err. */
static void
check_log(const fx_t *fx, size_t i, unsigned lineno, bootstrap_err_t err)
{
    assert_true(i < fx->rec.n && i < REC_LINES);
    const char *s = fx->rec.line[i];
    if (!names_line(s, lineno)) {
        fail_msg("log line %zu does not name line %u: \"%s\"", i, lineno, s);
    }
    if (strstr(s, bootstrap_strerror(err)) == NULL) {
        fail_msg("log line %zu does not say \"%s\": \"%s\"", i, bootstrap_strerror(err), s);
    }
    assert_true(fx->rec.level[i] <= LOG_LEVEL_WARN);
}

static void
test_read_mixed(void **state)
{
    fx_t *fx = *state;
    /* 1 */ text_str(fx, "# my bootstrap list\n");
    /* 2 */ text_entry(fx, "tcp://192.0.2.1:7470", 0x01);
    text_str(fx, "\n");
    /* 3 */ text_str(fx, "\n");
    /* 4 */ text_entry(fx, "tcp://0.0.0.0:7470", 0x02);
    text_str(fx, "\n");
    /* 5: a good entry made overlong by blanks: refused whole, and the
     * next line is read as a line of its own. */
    text_entry(fx, "tcp://192.0.2.5:7470", 0x05);
    text_blanks(fx, 1500);
    text_str(fx, "x\n");
    /* 6 */ text_entry(fx, "tcp://[2001:db8::2]:7470", 0x03);
    text_str(fx, "\r\n");
    /* 7 */ text_str(fx, "tcp://192.0.2.7:7470\n");
    /* 8 */ text_str(fx, "   \t  # indented comment\r\n");
    /* 9 */ text_entry(fx, "tcp://192.0.2.9:7470 szn1", 0x09);
    text_str(fx, "\n");
    /* 10: the last line has no line end. */
    text_entry(fx, "tcp://node.example.org:7471", 0x04);
    text_str(fx, " # last");

    size_t good = 0, bad = 0;
    read_file(fx, &good, &bad);
    assert_int_equal(good, 3);
    assert_int_equal(bad, 4);
    assert_int_equal(fx->n_entries, 3);
    check_entry(fx, 0, "tcp://192.0.2.1:7470", 0x01);
    check_entry(fx, 1, "tcp://[2001:db8::2]:7470", 0x03);
    check_entry(fx, 2, "tcp://node.example.org:7471", 0x04);
    assert_int_equal(fx->rec.n, 4);
    check_log(fx, 0, 4, BOOTSTRAP_EENDPOINT);
    check_log(fx, 1, 5, BOOTSTRAP_ETOOLONG);
    check_log(fx, 2, 7, BOOTSTRAP_EFIELDS);
    check_log(fx, 3, 9, BOOTSTRAP_EFIELDS);
}

/* Lines right at the limit, one over it, and several overlong lines in a
 * row, each followed by a good line that must survive. */
static void
test_read_limits(void **state)
{
    fx_t *fx = *state;
    uint8_t key[32];
    char text[KEYTEXT_BUFSZ];
    node_key(0x06, key, text);
    const size_t entry_len = strlen("tcp://192.0.2.6:7470 ") + KEYTEXT_LEN;

    /* 1: exactly BOOTSTRAP_LINE_MAX bytes before the newline: good. */
    text_entry(fx, "tcp://192.0.2.6:7470", 0x06);
    text_blanks(fx, BOOTSTRAP_LINE_MAX - entry_len);
    text_str(fx, "\n");
    /* 2 */ text_entry(fx, "tcp://192.0.2.6:7472", 0x07);
    text_str(fx, "\n");
    /* 3: one byte over the limit. */
    text_entry(fx, "tcp://192.0.2.6:7473", 0x06);
    text_blanks(fx, BOOTSTRAP_LINE_MAX + 1 - entry_len);
    text_str(fx, "\n");
    /* 4, 5: two overlong lines in a row, the second a comment. */
    text_blanks(fx, 2 * BOOTSTRAP_LINE_MAX + 1);
    text_entry(fx, "tcp://192.0.2.6:7474", 0x06);
    text_str(fx, "\n#");
    text_blanks(fx, 3 * BOOTSTRAP_LINE_MAX);
    text_str(fx, "\n");
    /* 6 */ text_entry(fx, "tcp://192.0.2.6:7475", 0x08);
    text_str(fx, "\n");
    /* 7: overlong and the last line, without a newline. */
    text_entry(fx, "tcp://192.0.2.6:7476", 0x06);
    text_blanks(fx, BOOTSTRAP_LINE_MAX);

    size_t good = 0, bad = 0;
    read_file(fx, &good, &bad);
    assert_int_equal(good, 3);
    assert_int_equal(bad, 4);
    check_entry(fx, 0, "tcp://192.0.2.6:7470", 0x06);
    check_entry(fx, 1, "tcp://192.0.2.6:7472", 0x07);
    check_entry(fx, 2, "tcp://192.0.2.6:7475", 0x08);
    assert_int_equal(fx->rec.n, 4);
    check_log(fx, 0, 3, BOOTSTRAP_ETOOLONG);
    check_log(fx, 1, 4, BOOTSTRAP_ETOOLONG);
    check_log(fx, 2, 5, BOOTSTRAP_ETOOLONG);
    check_log(fx, 3, 7, BOOTSTRAP_ETOOLONG);
}

/* At most BOOTSTRAP_ENTRIES_MAX entries are taken from one file. */
static void
test_read_cap(void **state)
{
    fx_t *fx = *state;
    char endpoint[64];
    for (unsigned i = 0; i < BOOTSTRAP_ENTRIES_MAX + 10; i++) {
        snprintf(endpoint, sizeof endpoint, "tcp://192.0.2.%u:%u", 1 + i % 250, 1000 + i);
        text_entry(fx, endpoint, (uint8_t)(i % 250 + 1));
        text_str(fx, "\n");
    }
    size_t good = 0, bad = 0;
    read_file(fx, &good, &bad);
    assert_int_equal(good, BOOTSTRAP_ENTRIES_MAX);
    assert_int_equal(fx->n_entries, BOOTSTRAP_ENTRIES_MAX);
    assert_int_equal(bad, 0);
    check_entry(fx, 0, "tcp://192.0.2.1:1000", 1);
    check_entry(fx, ENTRIES_KEPT - 1, "tcp://192.0.2.16:1015", 16);
}

static void
test_read_empty_and_missing(void **state)
{
    fx_t *fx = *state;
    size_t good = 0, bad = 0;
    read_file(fx, &good, &bad);
    assert_int_equal(good, 0);
    assert_int_equal(bad, 0);
    assert_int_equal(fx->n_entries, 0);
    assert_int_equal(fx->rec.n, 0);

    char missing[700];
    snprintf(missing, sizeof missing, "%s/no-such-file", fx->dir);
    fx->rec.n = 0;
    good = bad = 12345;
    bootstrap_read(missing, on_entry, fx, &fx->log, &good, &bad);
    assert_int_equal(good, 0);
    assert_int_equal(bad, 0);
    assert_int_equal(fx->n_entries, 0);
    /* Logged, naming the file. */
    assert_int_equal(fx->rec.n, 1);
    assert_non_null(strstr(fx->rec.line[0], "no-such-file"));

    /* A directory is not a list either, and a NULL log is allowed. */
    good = bad = 12345;
    bootstrap_read(fx->dir, on_entry, fx, NULL, &good, &bad);
    assert_int_equal(good, 0);
    assert_int_equal(bad, 0);
    assert_int_equal(fx->n_entries, 0);
}

static void
test_read_shipped(void **state)
{
    fx_t *fx = *state;
    const char *path = SAMIZDAT_SOURCE_DIR "/bootstrap.list";
    size_t len = 0;
    char *text = tu_read_file(path, &len);
    assert_non_null(text);
    /* Count the lines that are neither blank nor a comment. */
    size_t want = 0;
    for (char *line = text; line < text + len;) {
        char *end = strchr(line, '\n');
        if (end != NULL) {
            *end = '\0';
        }
        uint8_t key[32];
        char endpoint[WIRE_ENDPOINT_MAX + 1];
        if (bootstrap_parse_line(line, key, endpoint) != BOOTSTRAP_EMPTY) {
            want++;
        }
        line = end != NULL ? end + 1 : text + len;
    }
    free(text);

    size_t good = 12345, bad = 12345;
    bootstrap_read(path, on_entry, fx, &fx->log, &good, &bad);
    assert_int_equal(bad, 0);
    assert_int_equal(good, want);
    assert_int_equal(fx->n_entries, good);
    assert_int_equal(fx->rec.n, 0);
    for (size_t i = 0; i < fx->n_entries && i < ENTRIES_KEPT; i++) {
        assert_true(wire_endpoint_valid(fx->entries[i].endpoint));
    }
}

/* ---- the log the reader writes through -------------------------------------------- */

static void
test_log(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(log_level_parse("error"), LOG_LEVEL_ERROR);
    assert_int_equal(log_level_parse("warn"), LOG_LEVEL_WARN);
    assert_int_equal(log_level_parse("info"), LOG_LEVEL_INFO);
    assert_int_equal(log_level_parse("debug"), LOG_LEVEL_DEBUG);
    const char *bad[] = {"", "WARN", "warning", "debug ", " info", "trace", "3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(log_level_parse(bad[i]), -1);
    }
    for (int l = LOG_LEVEL_ERROR; l <= LOG_LEVEL_DEBUG; l++) {
        assert_int_equal(log_level_parse(log_level_name((log_level_t)l)), l);
    }

    /* Lines above the level are dropped; the rest arrive formatted. */
    fx->log.level = LOG_LEVEL_WARN;
    log_line(&fx->log, LOG_LEVEL_INFO, "dropped %d", 1);
    log_line(&fx->log, LOG_LEVEL_DEBUG, "dropped %d", 2);
    log_line(&fx->log, LOG_LEVEL_WARN, "kept %d %s", 3, "warn");
    log_line(&fx->log, LOG_LEVEL_ERROR, "kept %d", 4);
    assert_int_equal(fx->rec.n, 2);
    assert_string_equal(fx->rec.line[0], "kept 3 warn");
    assert_int_equal(fx->rec.level[0], LOG_LEVEL_WARN);
    assert_string_equal(fx->rec.line[1], "kept 4");
    assert_int_equal(fx->rec.level[1], LOG_LEVEL_ERROR);

    /* A NULL log or sink drops everything. */
    log_line(NULL, LOG_LEVEL_ERROR, "nowhere");
    log_t none = {LOG_LEVEL_DEBUG, NULL, NULL};
    log_line(&none, LOG_LEVEL_ERROR, "nowhere");
    assert_int_equal(fx->rec.n, 2);

    /* A long message is cut, not overrun. */
    char *big = malloc(5000);
    assert_non_null(big);
    memset(big, 'y', 4999);
    big[4999] = '\0';
    log_line(&fx->log, LOG_LEVEL_ERROR, "%s", big);
    free(big);
    assert_int_equal(fx->rec.n, 3);
    size_t n = strlen(fx->rec.line[2]);
    assert_true(n > 0 && n < REC_LINE_MAX);
    assert_int_equal(fx->rec.line[2][0], 'y');
}

/* A NUL byte inside a line: the line is bad, and the next line is still
 * read as a line of its own with its own number. */
static void
test_read_nul_byte(void **state)
{
    fx_t *fx = *state;
    /* 1 */ text_add(fx, "junk\0junk\n", 10);
    /* 2 */ text_entry(fx, "tcp://192.0.2.1:7470", 0x01);
    text_str(fx, "\n");
    /* 3 */ text_entry(fx, "tcp://0.0.0.0:7470", 0x02);
    text_str(fx, "\n");
    size_t good = 0, bad = 0;
    read_file(fx, &good, &bad);
    assert_int_equal(good, 1);
    check_entry(fx, 0, "tcp://192.0.2.1:7470", 0x01);
    assert_int_equal(bad, 2);
    assert_int_equal(fx->rec.n, 2);
    assert_true(names_line(fx->rec.line[0], 1));
    check_log(fx, 1, 3, BOOTSTRAP_EENDPOINT);
}

#define BS_TEST(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_empty),
        cmocka_unit_test(test_parse_fields),
        cmocka_unit_test(test_parse_bad_endpoint),
        cmocka_unit_test(test_parse_bad_key),
        cmocka_unit_test(test_parse_length),
        cmocka_unit_test(test_strerror),
        BS_TEST(test_read_mixed),
        BS_TEST(test_read_limits),
        BS_TEST(test_read_cap),
        BS_TEST(test_read_empty_and_missing),
        BS_TEST(test_read_shipped),
        BS_TEST(test_log),
        BS_TEST(test_read_nul_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
