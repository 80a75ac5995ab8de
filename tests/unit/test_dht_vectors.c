/* The DHT test vectors of docs/PROTOCOL.md section 10.7, recomputed.
 *
 * The doc holds a ```dht-vectors block of "name hex" lines: the head record
 * and one complete frame (u8 version | u8 type | u32 request id | payload)
 * per DHT message type. This test builds each from the inputs the doc
 * lists, requires every line to match byte for byte, and decodes the doc's
 * own hex without our encoder. Run with SAMIZDAT_PRINT_VECTORS=1 to print
 * the block. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "dhtid.h"
#include "dhtmsg.h"
#include "head.h"
#include "keys.h"

enum {
    MAX_VECTORS = 24,
    FRAME_MAX = DHT_FRAME_HEADER + 1024,
    VALUE_MAX = 2 * FRAME_MAX + 1,
    FRAME_VERSION = 1,
};

typedef struct {
    char name[32];
    char value[VALUE_MAX];
} vector_t;

typedef struct {
    vector_t v[MAX_VECTORS];
    int n;
} vectors_t;

static void
add_hex(vectors_t *vs, const char *name, const uint8_t *p, size_t n)
{
    assert_true(vs->n < MAX_VECTORS);
    assert_true(2 * n + 1 <= VALUE_MAX);
    snprintf(vs->v[vs->n].name, sizeof vs->v[vs->n].name, "%s", name);
    bytes_to_hex(vs->v[vs->n].value, p, n);
    vs->n++;
}

/* The frame of docs/PROTOCOL.md section 6 around an encoded payload. */
static void
add_frame(vectors_t *vs, const char *name, const dht_msg_t *m)
{
    uint8_t frame[FRAME_MAX];
    size_t len = 0;
    frame[0] = FRAME_VERSION;
    frame[1] = m->type;
    frame[2] = (uint8_t)(m->rid >> 24);
    frame[3] = (uint8_t)(m->rid >> 16);
    frame[4] = (uint8_t)(m->rid >> 8);
    frame[5] = (uint8_t)m->rid;
    assert_int_equal(
        dht_msg_encode_payload(m, frame + DHT_FRAME_HEADER, sizeof frame - DHT_FRAME_HEADER, &len),
        DHT_MSG_OK);
    add_hex(vs, name, frame, DHT_FRAME_HEADER + len);
}

static void
contact(dht_contact_t *c, uint8_t fill, const uint8_t *key, const char *ep)
{
    memset(c, 0, sizeof *c);
    if (key != NULL) {
        memcpy(c->key, key, 32);
    } else {
        memset(c->key, fill, 32);
    }
    memcpy(c->endpoint, ep, strlen(ep));
}

/* The inputs are the ones docs/PROTOCOL.md section 10.7 lists beside the vectors. */
static void
compute(vectors_t *vs)
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t)i;
    }
    keys_author_t k;
    keys_node_t n;
    keys_author_from_seed(&k, seed);
    keys_node_from_seed(&n, seed);
    uint8_t node_id[32], author_key[32], post4_id[32];
    dhtid_from_node_key(node_id, n.pk);
    dhtid_from_author(author_key, k.pk);
    assert_true(bytes_from_hex(post4_id, 32,
                               "6aeeb7eaac81c85951e91efb54b9c3a535ea7020d6e1c2a024df7529ae56d626"));

    head_t h;
    uint8_t head[HEAD_SIZE];
    size_t len = 0;
    head_init(&h, 4, post4_id, 1700000180000ull);
    assert_int_equal(head_sign(&h, &k, head, sizeof head, &len), HEAD_OK);
    add_hex(vs, "head", head, len);

    static dht_msg_t m;
    dht_msg_init(&m, DHT_MSG_PING, 0x101);
    add_frame(vs, "dht_ping", &m);
    dht_msg_init(&m, DHT_MSG_PONG, 0x101);
    add_frame(vs, "dht_pong", &m);

    dht_msg_init(&m, DHT_MSG_FIND_NODE, 0x102);
    memcpy(m.u.target, node_id, 32);
    add_frame(vs, "dht_find_node", &m);
    dht_msg_init(&m, DHT_MSG_NODES, 0x102);
    m.u.nodes.n = 2;
    contact(&m.u.nodes.c[0], 0xaa, NULL, "tcp://198.51.100.7:7470");
    contact(&m.u.nodes.c[1], 0xbb, NULL, "tcp://[2001:db8::1]:7470");
    add_frame(vs, "dht_nodes", &m);

    dht_msg_init(&m, DHT_MSG_ANNOUNCE, 0x103);
    memcpy(m.u.key, author_key, 32);
    add_frame(vs, "dht_announce", &m);
    dht_msg_init(&m, DHT_MSG_ACK, 0x103);
    add_frame(vs, "dht_ack", &m);

    dht_msg_init(&m, DHT_MSG_GET_PROVIDERS, 0x104);
    memcpy(m.u.key, author_key, 32);
    add_frame(vs, "dht_get_providers", &m);
    dht_msg_init(&m, DHT_MSG_PROVIDERS, 0x104);
    m.u.providers.n = 1;
    contact(&m.u.providers.c[0], 0, n.pk, "tcp://192.0.2.1:7470");
    m.u.providers.closer.n = 1;
    contact(&m.u.providers.closer.c[0], 0xbb, NULL, "tcp://node.example.org:7471");
    add_frame(vs, "dht_providers", &m);

    dht_msg_init(&m, DHT_MSG_PUT_HEAD, 0x105);
    m.u.put.len = HEAD_SIZE;
    memcpy(m.u.put.bytes, head, HEAD_SIZE);
    add_frame(vs, "dht_put_head", &m);
    dht_msg_init(&m, DHT_MSG_ERROR, 0x105);
    m.u.error.code = DHT_ERR_STALE;
    const char *text = "a head with this seq or higher is stored";
    memcpy(m.u.error.text, text, strlen(text));
    add_frame(vs, "dht_error", &m);

    dht_msg_init(&m, DHT_MSG_GET_HEAD, 0x106);
    memcpy(m.u.key, author_key, 32);
    add_frame(vs, "dht_get_head", &m);
    dht_msg_init(&m, DHT_MSG_HEAD, 0x106);
    m.u.head.rec.len = HEAD_SIZE;
    memcpy(m.u.head.rec.bytes, head, HEAD_SIZE);
    m.u.head.closer.n = 1;
    contact(&m.u.head.closer.c[0], 0xaa, NULL, "tcp://198.51.100.7:7470");
    add_frame(vs, "dht_head", &m);
    dht_msg_init(&m, DHT_MSG_HEAD, 0x107);
    add_frame(vs, "dht_head_none", &m);
}

static char *
read_doc(void)
{
    char *text = tu_read_file(SAMIZDAT_SOURCE_DIR "/docs/PROTOCOL.md", NULL);
    assert_non_null(text);
    return text;
}

static void
add_cb(void *ud, const char *name, const char *value)
{
    vectors_t *vs = ud;
    assert_true(vs->n < MAX_VECTORS);
    assert_true(strlen(name) < sizeof vs->v[0].name && strlen(value) < VALUE_MAX);
    snprintf(vs->v[vs->n].name, sizeof vs->v[vs->n].name, "%s", name);
    snprintf(vs->v[vs->n].value, sizeof vs->v[vs->n].value, "%s", value);
    vs->n++;
}

/* Reads the "name value" lines of the ```dht-vectors block. */
static void
parse_doc(vectors_t *vs, const char *doc)
{
    tu_doc_vectors(doc, "dht-vectors", add_cb, vs);
}

static void
test_doc_vectors(void **state)
{
    (void)state;
    static vectors_t want, doc;
    memset(&want, 0, sizeof want);
    memset(&doc, 0, sizeof doc);
    compute(&want);
    const char *print = getenv("SAMIZDAT_PRINT_VECTORS");
    if (print != NULL && print[0] == '1') {
        for (int i = 0; i < want.n; i++) {
            printf("%-17s %s\n", want.v[i].name, want.v[i].value);
        }
    }
    char *text = read_doc();
    parse_doc(&doc, text);
    free(text);
    assert_int_equal(doc.n, want.n);
    for (int i = 0; i < want.n; i++) {
        int found = 0;
        for (int j = 0; j < doc.n; j++) {
            if (strcmp(doc.v[j].name, want.v[i].name) == 0) {
                found = 1;
                if (strcmp(doc.v[j].value, want.v[i].value) != 0) {
                    fail_msg("vector %s: doc has %s, computed %s", want.v[i].name, doc.v[j].value,
                             want.v[i].value);
                }
            }
        }
        if (!found) {
            fail_msg("vector %s missing from the doc", want.v[i].name);
        }
    }
}

/* The doc's hex decodes on its own: every frame through the payload
 * decoder, re-encoding to the same bytes; the head with its signature. */
static void
test_doc_frames_decode(void **state)
{
    (void)state;
    static vectors_t doc;
    memset(&doc, 0, sizeof doc);
    char *text = read_doc();
    parse_doc(&doc, text);
    free(text);
    bool seen[DHT_MSG_TYPE_LAST + 1] = {false};
    for (int i = 0; i < doc.n; i++) {
        uint8_t buf[FRAME_MAX], again[FRAME_MAX];
        size_t len = strlen(doc.v[i].value) / 2;
        assert_true(len <= sizeof buf);
        assert_true(bytes_from_hex(buf, len, doc.v[i].value));
        if (strcmp(doc.v[i].name, "head") == 0) {
            head_t h;
            assert_int_equal(head_decode(&h, buf, len), HEAD_OK);
            assert_int_equal(h.seq, 4);
            continue;
        }
        assert_true(len >= DHT_FRAME_HEADER);
        assert_int_equal(buf[0], FRAME_VERSION);
        uint32_t rid =
            (uint32_t)buf[2] << 24 | (uint32_t)buf[3] << 16 | (uint32_t)buf[4] << 8 | buf[5];
        static dht_msg_t m;
        assert_int_equal(
            dht_msg_decode_payload(&m, buf[1], rid, buf + DHT_FRAME_HEADER, len - DHT_FRAME_HEADER),
            DHT_MSG_OK);
        size_t n = 0;
        assert_int_equal(dht_msg_encode_payload(&m, again, sizeof again, &n), DHT_MSG_OK);
        assert_int_equal(n, len - DHT_FRAME_HEADER);
        assert_memory_equal(again, buf + DHT_FRAME_HEADER, n);
        seen[buf[1]] = true;
        if (m.type == DHT_MSG_PUT_HEAD) {
            head_t h;
            assert_int_equal(head_decode(&h, m.u.put.bytes, m.u.put.len), HEAD_OK);
        }
    }
    for (int t = DHT_MSG_TYPE_FIRST; t <= DHT_MSG_TYPE_LAST; t++) {
        if (!seen[t]) {
            fail_msg("no vector for message type 0x%02x", t);
        }
    }
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_vectors),
        cmocka_unit_test(test_doc_frames_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
