/* The LAN beacon codec: the exact layout, round trips at the limits, and
 * every refusal of the decoder (truncation, trailing bytes, magic, version,
 * network name, port, embedded NUL), built by hand so the decoder is judged
 * on bytes the encoder would never write. */
#include "testutil.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "lan.h"
#include "wire.h"

enum {
    RAW_MAX = 512, /* room for hand-built beacons longer than any valid one */
    GUARD = 0x5c,  /* fills the bytes around the decoder's outputs */
};

/* The decoder's outputs with guard bytes on either side of the network
 * name, so a write past its 33 bytes shows. */
typedef struct {
    uint8_t before[16];
    char network[33];
    uint8_t after[16];
    uint8_t key[32];
    uint16_t port;
} out_t;

static void
out_reset(out_t *o)
{
    memset(o, GUARD, sizeof *o);
}

static void
out_check_guards(const out_t *o)
{
    for (size_t i = 0; i < sizeof o->before; i++) {
        assert_int_equal(o->before[i], GUARD);
        assert_int_equal(o->after[i], GUARD);
    }
}

static bool
decode(const uint8_t *buf, size_t len, out_t *o)
{
    out_reset(o);
    bool ok = lan_beacon_decode(buf, len, o->network, o->key, &o->port);
    out_check_guards(o);
    return ok;
}

static void
key_pattern(uint8_t key[32], uint8_t seed)
{
    for (int i = 0; i < 32; i++) {
        key[i] = (uint8_t)(seed + i * 7);
    }
}

/* A beacon built by hand: magic (5 bytes), version, the length byte nlen,
 * name_len bytes of name, the key and the port. */
typedef struct {
    const char *magic;
    uint8_t version;
    uint8_t nlen;
    const char *name;
    size_t name_len;
    uint16_t port;
} raw_t;

static size_t
raw_beacon(uint8_t out[static RAW_MAX], const raw_t *b, const uint8_t key[32])
{
    bytes_writer_t w;
    bytes_writer_init(&w, out, RAW_MAX);
    bytes_put(&w, (const uint8_t *)b->magic, 5);
    bytes_put_u8(&w, b->version);
    bytes_put_u8(&w, b->nlen);
    bytes_put(&w, (const uint8_t *)b->name, b->name_len);
    bytes_put(&w, key, 32);
    bytes_put_u16(&w, b->port);
    assert_true(bytes_writer_ok(&w));
    return w.len;
}

static raw_t
raw_good(const char *name)
{
    raw_t b = {LAN_MAGIC, LAN_VERSION, (uint8_t)strlen(name), name, strlen(name), 7470};
    return b;
}

static void
test_layout(void **state)
{
    (void)state;
    uint8_t key[32], buf[LAN_BEACON_MAX];
    key_pattern(key, 3);
    size_t n = lan_beacon_encode(buf, "samizdat", key, 0x1d2e);
    assert_int_equal(n, 5 + 1 + 1 + 8 + 32 + 2);
    assert_memory_equal(buf, "SZLAN", 5);
    assert_int_equal(buf[5], LAN_VERSION);
    assert_int_equal(buf[6], 8);
    assert_memory_equal(buf + 7, "samizdat", 8);
    assert_memory_equal(buf + 15, key, 32);
    assert_int_equal(buf[47], 0x1d);
    assert_int_equal(buf[48], 0x2e);

    /* The hand builder writes the same bytes. */
    uint8_t raw[RAW_MAX];
    raw_t b = raw_good("samizdat");
    b.port = 0x1d2e;
    assert_int_equal(raw_beacon(raw, &b, key), n);
    assert_memory_equal(raw, buf, n);
}

static void
test_round_trip(void **state)
{
    (void)state;
    char longest[WIRE_NETWORK_MAX + 1];
    memset(longest, 'z', WIRE_NETWORK_MAX);
    longest[WIRE_NETWORK_MAX] = '\0';
    const char *names[] = {"samizdat", "a", "0", "test-net_1.2", "...", "-", longest};
    const uint16_t ports[] = {1, 7470, 0x8000, 65535};
    uint8_t buf[LAN_BEACON_MAX];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        for (size_t j = 0; j < sizeof ports / sizeof ports[0]; j++) {
            uint8_t key[32];
            key_pattern(key, (uint8_t)(i * 16 + j));
            size_t n = lan_beacon_encode(buf, names[i], key, ports[j]);
            assert_int_equal(n, 5 + 1 + 1 + strlen(names[i]) + 32 + 2);
            out_t o;
            assert_true(decode(buf, n, &o));
            assert_string_equal(o.network, names[i]);
            assert_memory_equal(o.key, key, 32);
            assert_int_equal(o.port, ports[j]);
            /* Encoding what was decoded gives the same bytes. */
            uint8_t again[LAN_BEACON_MAX];
            assert_int_equal(lan_beacon_encode(again, o.network, o.key, o.port), n);
            assert_memory_equal(again, buf, n);
        }
    }
    /* The longest name makes the largest beacon. */
    uint8_t key[32] = {0};
    assert_int_equal(lan_beacon_encode(buf, longest, key, 1), LAN_BEACON_MAX);
}

static void
test_truncated(void **state)
{
    (void)state;
    const char *names[] = {"samizdat", "a"};
    uint8_t key[32], buf[LAN_BEACON_MAX];
    key_pattern(key, 9);
    for (size_t i = 0; i < 2; i++) {
        size_t n = lan_beacon_encode(buf, names[i], key, 7470);
        assert_true(n > 0);
        out_t o;
        for (size_t k = 0; k < n; k++) {
            if (decode(buf, k, &o)) {
                fail_msg("a beacon cut to %zu of %zu bytes was accepted", k, n);
            }
        }
        assert_true(decode(buf, n, &o));
    }
    out_t o;
    assert_false(decode(NULL, 0, &o));
}

static void
test_trailing(void **state)
{
    (void)state;
    uint8_t key[32], raw[RAW_MAX];
    key_pattern(key, 1);
    raw_t b = raw_good("samizdat");
    size_t n = raw_beacon(raw, &b, key);
    out_t o;
    assert_true(decode(raw, n, &o));
    const uint8_t extra[] = {0x00, 0x01, 0xff};
    for (size_t i = 0; i < sizeof extra; i++) {
        raw[n] = extra[i];
        assert_false(decode(raw, n + 1, &o));
    }
    memset(raw + n, 0, 40);
    assert_false(decode(raw, n + 40, &o));
    /* A second beacon glued on is trailing bytes too. */
    memcpy(raw + n, raw, n);
    assert_false(decode(raw, 2 * n, &o));
}

static void
test_magic_and_version(void **state)
{
    (void)state;
    uint8_t key[32], raw[RAW_MAX];
    key_pattern(key, 2);
    out_t o;
    const char *magics[] = {"szlan", "SZLAM", "XZLAN", "SZLA\0", "\0\0\0\0\0", "SZDHT"};
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++) {
        raw_t b = raw_good("samizdat");
        b.magic = magics[i];
        size_t n = raw_beacon(raw, &b, key);
        assert_false(decode(raw, n, &o));
    }
    /* Every single flipped bit of the magic. */
    raw_t b = raw_good("samizdat");
    size_t n = raw_beacon(raw, &b, key);
    for (size_t bit = 0; bit < 5 * 8; bit++) {
        raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_false(decode(raw, n, &o));
        raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_true(decode(raw, n, &o));

    const uint8_t versions[] = {0, 2, 3, 0x81, 255};
    for (size_t i = 0; i < sizeof versions; i++) {
        b = raw_good("samizdat");
        b.version = versions[i];
        n = raw_beacon(raw, &b, key);
        assert_false(decode(raw, n, &o));
    }
}

static void
test_network_name(void **state)
{
    (void)state;
    uint8_t key[32], raw[RAW_MAX];
    key_pattern(key, 4);
    out_t o;
    char name[300];
    memset(name, 'a', sizeof name);

    /* Empty. */
    raw_t b = {LAN_MAGIC, LAN_VERSION, 0, "", 0, 7470};
    size_t n = raw_beacon(raw, &b, key);
    assert_false(decode(raw, n, &o));
    uint8_t buf[LAN_BEACON_MAX];
    n = lan_beacon_encode(buf, "", key, 7470);
    assert_false(decode(buf, n, &o));

    /* At the limit, and over it with every byte present. */
    b = (raw_t){LAN_MAGIC, LAN_VERSION, WIRE_NETWORK_MAX, name, WIRE_NETWORK_MAX, 7470};
    n = raw_beacon(raw, &b, key);
    assert_true(decode(raw, n, &o));
    assert_int_equal(strlen(o.network), WIRE_NETWORK_MAX);
    const size_t over[] = {WIRE_NETWORK_MAX + 1, 64, 128, 255};
    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
        b = (raw_t){LAN_MAGIC, LAN_VERSION, (uint8_t)over[i], name, over[i], 7470};
        n = raw_beacon(raw, &b, key);
        if (decode(raw, n, &o)) {
            fail_msg("a network name of %zu bytes was accepted", over[i]);
        }
    }

    /* Bytes outside [a-z0-9._-]. */
    const char *bad[] = {
        "Samizdat", "SAMIZDAT",    "sami zdat", " samizdat", "samizdat ", "tab\t", "slash/",
        "colon:",   "caf\xc3\xa9", "nl\n",      "del\x7f",   "plus+",     "\xff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b = raw_good(bad[i]);
        n = raw_beacon(raw, &b, key);
        if (decode(raw, n, &o)) {
            fail_msg("network name %zu accepted: \"%s\"", i, bad[i]);
        }
    }

    /* The length byte disagrees with the name: claiming fewer bytes leaves
     * the rest as part of the key and port, so the beacon is too long;
     * claiming more eats into the key and leaves it short. */
    b = raw_good("samizdat");
    b.nlen = 7;
    n = raw_beacon(raw, &b, key);
    assert_false(decode(raw, n, &o));
    b.nlen = 9;
    n = raw_beacon(raw, &b, key);
    assert_false(decode(raw, n, &o));
}

static void
test_embedded_nul(void **state)
{
    (void)state;
    uint8_t key[32], raw[RAW_MAX];
    key_pattern(key, 5);
    out_t o;
    static const struct {
        const char *name;
        size_t len;
    } cases[] = {
        {"sami\0zdat", 9}, {"samizdat\0", 9}, {"\0samizdat", 9}, {"\0", 1}, {"a\0\0\0", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        raw_t b = {LAN_MAGIC,     LAN_VERSION,  (uint8_t)cases[i].len,
                   cases[i].name, cases[i].len, 7470};
        size_t n = raw_beacon(raw, &b, key);
        if (decode(raw, n, &o)) {
            fail_msg("a network name with a NUL (case %zu) was accepted as \"%s\"", i, o.network);
        }
    }
}

static void
test_port(void **state)
{
    (void)state;
    uint8_t key[32], raw[RAW_MAX];
    key_pattern(key, 6);
    out_t o;
    raw_t b = raw_good("samizdat");
    b.port = 0;
    size_t n = raw_beacon(raw, &b, key);
    assert_false(decode(raw, n, &o));
    uint8_t buf[LAN_BEACON_MAX];
    n = lan_beacon_encode(buf, "samizdat", key, 0);
    assert_false(decode(buf, n, &o));
    /* Big-endian: 0x0100 is port 256, not 1. */
    b.port = 0x0100;
    n = raw_beacon(raw, &b, key);
    assert_true(decode(raw, n, &o));
    assert_int_equal(o.port, 256);
}

/* The example of docs/PROTOCOL.md, "Local-network beacon": the indented hex
 * lines after the line that introduces it, byte for byte. */
static void
test_doc_example(void **state)
{
    (void)state;
    size_t len = 0;
    char *doc = tu_read_file(SAMIZDAT_SOURCE_DIR "/docs/PROTOCOL.md", &len);
    assert_non_null(doc);
    const char *intro = strstr(doc, "Example: network `samizdat`, node key `00 01 .. 1f`, port 7470");
    assert_non_null(intro);
    const char *p = strstr(intro, "\n\n");
    assert_non_null(p);
    p += 2;
    char hex[256];
    size_t n = 0;
    /* Indented lines, spaces between groups, until a blank line. */
    while (strncmp(p, "    ", 4) == 0) {
        for (p += 4; *p != '\n' && *p != '\0'; p++) {
            if (*p != ' ') {
                assert_true(n + 1 < sizeof hex);
                hex[n++] = *p;
            }
        }
        p += *p == '\n';
    }
    hex[n] = '\0';
    uint8_t want[LAN_BEACON_MAX], got[LAN_BEACON_MAX], key[32];
    assert_true(n % 2 == 0 && n / 2 <= sizeof want);
    assert_true(bytes_from_hex(want, n / 2, hex));
    for (int i = 0; i < 32; i++) {
        key[i] = (uint8_t)i;
    }
    size_t glen = lan_beacon_encode(got, "samizdat", key, 7470);
    assert_int_equal(glen, n / 2);
    assert_memory_equal(got, want, glen);
    free(doc);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_trailing),
        cmocka_unit_test(test_magic_and_version),
        cmocka_unit_test(test_network_name),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_port),
        cmocka_unit_test(test_doc_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
