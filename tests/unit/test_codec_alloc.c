/* The allocation-failure pass for the decoders of what peers and files send
 * us: none of them allocates, so there is no failure to pass through. This
 * test holds them to it: each decoder, on every vector of docs/PROTOCOL.md
 * and on every truncation of it, makes no allocation at all (counted with
 * tests/util/tu_alloc.h). A decoder that starts allocating fails here and
 * needs an allocation-failure pass of its own.
 *
 * Covered: wire_decode (node/net), dht_msg_decode_payload (dht/, through
 * the wire frame), gossip_msg_decode (node/gossip), post_decode and
 * head_decode (signatures checked), keytext_decode, lan_beacon_decode and
 * bootstrap_parse_line and bootstrap_read (node/net). The key functions of
 * crypto/ (generating, saving and loading key files, signing a post) are
 * held to it too: crypto/ allocates nothing of its own (libsodium's
 * Argon2id, for a sealed key, allocates inside libsodium). */
#include "testutil.h"
#include "tu_alloc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap.h"
#include "bytes.h"
#include "dhtmsg.h"
#include "gossipmsg.h"
#include "head.h"
#include "keys.h"
#include "keytext.h"
#include "lan.h"
#include "post.h"
#include "wire.h"

enum { VECTORS_MAX = 32, VALUE_MAX = 2048 };

typedef struct {
    char name[VECTORS_MAX][32];
    uint8_t bytes[VECTORS_MAX][VALUE_MAX];
    size_t len[VECTORS_MAX];
    char text[VECTORS_MAX][128]; /* the value as text, for text forms */
    size_t n;
} vectors_t;

static void
add_cb(void *ud, const char *name, const char *value)
{
    vectors_t *v = ud;
    assert_true(v->n < VECTORS_MAX);
    size_t i = v->n++;
    snprintf(v->name[i], sizeof v->name[i], "%s", name);
    snprintf(v->text[i], sizeof v->text[i], "%s", value);
    size_t hex = strlen(value);
    v->len[i] = 0;
    if (hex % 2 == 0 && hex / 2 <= VALUE_MAX && bytes_from_hex(v->bytes[i], hex / 2, value)) {
        v->len[i] = hex / 2;
    }
}

static void
load(vectors_t *v, const char *tag)
{
    char *doc = tu_read_file(SAMIZDAT_SOURCE_DIR "/docs/PROTOCOL.md", NULL);
    assert_non_null(doc);
    memset(v, 0, sizeof *v);
    tu_doc_vectors(doc, tag, add_cb, v);
    free(doc);
    assert_true(v->n > 0);
}

/* Decodes every prefix of buf (the whole included) with decode, counting
 * allocations; returns how many decodes succeeded. */
typedef bool (*decode_fn)(const uint8_t *buf, size_t len);

static size_t
decode_prefixes(decode_fn decode, const uint8_t *buf, size_t len)
{
    size_t ok = 0;
    for (size_t l = 0; l <= len; l++) {
        tu_alloc_start(-1);
        ok += decode(buf, l);
        assert_int_equal(tu_alloc_stop(), 0);
    }
    return ok;
}

static bool
wire_ok(const uint8_t *buf, size_t len)
{
    static wire_msg_t m;
    return wire_decode(&m, buf, len) == WIRE_OK;
}

static bool
gossip_ok(const uint8_t *buf, size_t len)
{
    static gossip_msg_t m;
    return gossip_msg_decode(&m, buf, len) == GOSSIP_MSG_OK;
}

static bool
post_ok(const uint8_t *buf, size_t len)
{
    post_t p;
    return post_decode(&p, buf, len, POST_VERIFY) == POST_OK;
}

static bool
head_ok(const uint8_t *buf, size_t len)
{
    head_t h;
    return head_decode(&h, buf, len) == HEAD_OK;
}

static bool
lan_ok(const uint8_t *buf, size_t len)
{
    char network[33];
    uint8_t key[32];
    uint16_t port;
    return lan_beacon_decode(buf, len, network, key, &port);
}

static void
test_dht_and_wire_decoders(void **state)
{
    (void)state;
    vectors_t *v = malloc(sizeof *v);
    assert_non_null(v);
    load(v, "dht-vectors");
    size_t frames = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (strcmp(v->name[i], "head") == 0) {
            assert_int_equal(decode_prefixes(head_ok, v->bytes[i], v->len[i]), 1);
            continue;
        }
        /* A DHT frame: the wire decoder reads the header and hands the
         * payload to dht_msg_decode_payload. Exactly the whole decodes. */
        assert_int_equal(decode_prefixes(wire_ok, v->bytes[i], v->len[i]), 1);
        frames++;
    }
    assert_true(frames >= 12);
    free(v);
}

static void
test_gossip_decoder(void **state)
{
    (void)state;
    vectors_t *v = malloc(sizeof *v);
    assert_non_null(v);
    load(v, "gossip-vectors");
    for (size_t i = 0; i < v->n; i++) {
        assert_true(v->len[i] > 0);
        assert_int_equal(decode_prefixes(gossip_ok, v->bytes[i], v->len[i]), 1);
    }
    free(v);
}

static void
test_post_and_keytext_decoders(void **state)
{
    (void)state;
    vectors_t *v = malloc(sizeof *v);
    assert_non_null(v);
    load(v, "vectors");
    size_t posts = 0, texts = 0;
    for (size_t i = 0; i < v->n; i++) {
        const char *name = v->name[i];
        if (strncmp(name, "post", 4) == 0 && strchr(name, '_') == NULL) {
            assert_int_equal(decode_prefixes(post_ok, v->bytes[i], v->len[i]), 1);
            posts++;
        } else if (strstr(name, "_text") != NULL) {
            uint8_t out[32];
            keytext_kind_t kind = strncmp(v->text[i], "sza", 3) == 0   ? KEYTEXT_AUTHOR
                                  : strncmp(v->text[i], "szn", 3) == 0 ? KEYTEXT_NODE
                                                                       : KEYTEXT_POST;
            tu_alloc_start(-1);
            assert_int_equal(keytext_decode(out, kind, v->text[i]), KEYTEXT_OK);
            assert_int_not_equal(keytext_decode(out, kind, "sza1qqqq"), KEYTEXT_OK);
            assert_int_equal(tu_alloc_stop(), 0);
            texts++;
        }
    }
    assert_int_equal(posts, 4);
    assert_true(texts >= 6);
    free(v);
}

static void
on_entry(void *ud, const uint8_t key[32], const char *endpoint)
{
    (void)key;
    (void)endpoint;
    (*(size_t *)ud)++;
}

static void
test_lan_and_bootstrap(void **state)
{
    (void)state;
    uint8_t key[32], beacon[LAN_BEACON_MAX];
    for (int i = 0; i < 32; i++) {
        key[i] = (uint8_t)i;
    }
    size_t len = lan_beacon_encode(beacon, "samizdat", key, 7470);
    assert_true(len > 0);
    assert_int_equal(decode_prefixes(lan_ok, beacon, len), 1);

    /* bootstrap.list: one good line, bad ones, and the whole file read. */
    char node_text[KEYTEXT_BUFSZ];
    keytext_encode(node_text, KEYTEXT_NODE, key);
    char line[256], endpoint[WIRE_ENDPOINT_MAX + 1];
    snprintf(line, sizeof line, "tcp://127.0.0.1:7470 %s # a comment", node_text);
    uint8_t got[32];
    tu_alloc_start(-1);
    assert_int_equal(bootstrap_parse_line(line, got, endpoint), BOOTSTRAP_OK);
    assert_int_not_equal(bootstrap_parse_line("tcp://1.2.3.4 x", got, endpoint), BOOTSTRAP_OK);
    assert_int_equal(tu_alloc_stop(), 0);

    char dir[256], path[300];
    tu_mkdtemp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/bootstrap.list", dir);
    char file[1024];
    int n = snprintf(file, sizeof file, "# test\n%s\nnot a line\n\n%s\r\n", line, line);
    tu_write_file(path, file, (size_t)n);
    size_t good = 0, bad = 0;
    tu_alloc_start(-1);
    size_t seen = 0;
    bootstrap_read(path, on_entry, &seen, NULL, &good, &bad);
    assert_int_equal(tu_alloc_stop(), 0);
    assert_int_equal(good, 2);
    assert_int_equal(bad, 1);
    assert_int_equal(seen, 2);
    tu_rmtree(dir);
}

static void
test_keys_and_signing(void **state)
{
    (void)state;
    char dir[256], path[300];
    tu_mkdtemp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/author.key", dir);
    keys_author_t k, back;
    tu_alloc_start(-1);
    keys_author_generate(&k);
    assert_int_equal(keys_author_save(path, &k, NULL, NULL), KEYS_OK);
    assert_int_equal(keys_author_load(path, NULL, &back), KEYS_OK);
    post_t p;
    post_init(&p, POST_KIND_POST, 1, NULL, 1700000000000ull);
    assert_int_equal(post_set_body(&p, "hello", 5), POST_OK);
    uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    assert_int_equal(post_sign(&p, &back, raw, sizeof raw, &len), POST_OK);
    assert_int_equal(tu_alloc_stop(), 0);
    assert_memory_equal(k.pk, back.pk, 32);
    keys_author_wipe(&k);
    keys_author_wipe(&back);
    tu_rmtree(dir);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dht_and_wire_decoders),     cmocka_unit_test(test_gossip_decoder),
        cmocka_unit_test(test_post_and_keytext_decoders), cmocka_unit_test(test_lan_and_bootstrap),
        cmocka_unit_test(test_keys_and_signing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
