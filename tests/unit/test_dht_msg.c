/* The DHT message codec (dht/dhtmsg): round trips of every type, the
 * canonical encoding, and every refusal. */
#include "testutil.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "dhtmsg.h"
#include "head.h"
#include "keys.h"

typedef struct {
    dht_msg_t m, d;
    uint8_t buf[DHT_LARGEST_PAYLOAD + 64];
    uint8_t again[DHT_LARGEST_PAYLOAD + 64];
    uint8_t head[HEAD_SIZE];
} fx_t;

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    keys_author_t k;
    uint8_t seed[32], id[32];
    memset(seed, 7, sizeof seed);
    memset(id, 9, sizeof id);
    keys_author_from_seed(&k, seed);
    head_t h;
    head_init(&h, 12, id, 1700000000000ull);
    size_t len = 0;
    assert_int_equal(head_sign(&h, &k, fx->head, sizeof fx->head, &len), HEAD_OK);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    free(*state);
    return 0;
}

static void
set_contact(dht_contact_t *c, uint8_t fill, const char *ep)
{
    memset(c->key, fill, sizeof c->key);
    memset(c->endpoint, 0, sizeof c->endpoint);
    memcpy(c->endpoint, ep, strlen(ep));
}

/* Encodes fx->m, decodes the bytes, requires the same message back and
 * the same bytes again. Returns the encoded length. */
static size_t
round_trip(fx_t *fx)
{
    size_t len = 0, len2 = 0;
    assert_int_equal(dht_msg_encode_payload(&fx->m, fx->buf, sizeof fx->buf, &len), DHT_MSG_OK);
    assert_int_equal(dht_msg_decode_payload(&fx->d, fx->m.type, fx->m.rid, fx->buf, len),
                     DHT_MSG_OK);
    assert_memory_equal(&fx->d, &fx->m, sizeof fx->m);
    assert_int_equal(dht_msg_encode_payload(&fx->d, fx->again, sizeof fx->again, &len2),
                     DHT_MSG_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(fx->again, fx->buf, len);
    /* Every strict prefix is truncated, one more byte is trailing. */
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(dht_msg_decode_payload(&fx->d, fx->m.type, 1, fx->buf, n),
                         DHT_MSG_ETRUNCATED);
    }
    fx->buf[len] = 0x41;
    assert_int_equal(dht_msg_decode_payload(&fx->d, fx->m.type, 1, fx->buf, len + 1),
                     DHT_MSG_ETRAILING);
    return len;
}

static void
fill_contacts(dht_contacts_t *cs, size_t n, size_t ep_len)
{
    char ep[DHT_ENDPOINT_MAX + 1];
    memset(ep, 'a', ep_len);
    ep[ep_len] = '\0';
    cs->n = (uint8_t)n;
    for (size_t i = 0; i < n; i++) {
        set_contact(&cs->c[i], (uint8_t)(i + 1), ep);
    }
}

static void
test_round_trips(void **state)
{
    fx_t *fx = *state;
    dht_msg_t *m = &fx->m;
    const uint8_t empty[] = {DHT_MSG_PING, DHT_MSG_PONG, DHT_MSG_ACK};
    for (size_t i = 0; i < sizeof empty; i++) {
        dht_msg_init(m, (dht_msg_type_t)empty[i], 77);
        assert_int_equal(round_trip(fx), 0);
    }
    dht_msg_init(m, DHT_MSG_FIND_NODE, 1);
    memset(m->u.target, 0xab, 32);
    assert_int_equal(round_trip(fx), 32);
    const uint8_t keyed[] = {DHT_MSG_ANNOUNCE, DHT_MSG_GET_PROVIDERS, DHT_MSG_GET_HEAD};
    for (size_t i = 0; i < sizeof keyed; i++) {
        dht_msg_init(m, (dht_msg_type_t)keyed[i], 2);
        memset(m->u.key, 0xcd, 32);
        assert_int_equal(round_trip(fx), 32);
    }
    for (size_t n = 0; n <= DHT_NODES_MAX; n++) {
        dht_msg_init(m, DHT_MSG_NODES, 3);
        fill_contacts(&m->u.nodes, n, 1 + n);
        round_trip(fx);
    }
    dht_msg_init(m, DHT_MSG_NODES, 3);
    set_contact(&m->u.nodes.c[0], 0xaa, "tcp://[2001:db8::1]:7470");
    m->u.nodes.n = 1;
    round_trip(fx);

    /* The largest message of all: every count and length at its cap. */
    dht_msg_init(m, DHT_MSG_PROVIDERS, 4);
    m->u.providers.n = DHT_PROVIDERS_MAX;
    for (size_t i = 0; i < DHT_PROVIDERS_MAX; i++) {
        char ep[DHT_ENDPOINT_MAX + 1];
        memset(ep, '~', DHT_ENDPOINT_MAX);
        ep[DHT_ENDPOINT_MAX] = '\0';
        set_contact(&m->u.providers.c[i], (uint8_t)i, ep);
    }
    fill_contacts(&m->u.providers.closer, DHT_NODES_MAX, DHT_ENDPOINT_MAX);
    assert_int_equal(round_trip(fx), DHT_LARGEST_PAYLOAD);
    assert_true(DHT_LARGEST_PAYLOAD <= 65536 - 6);

    dht_msg_init(m, DHT_MSG_PUT_HEAD, 5);
    m->u.put.len = HEAD_SIZE;
    memcpy(m->u.put.bytes, fx->head, HEAD_SIZE);
    assert_int_equal(round_trip(fx), 1 + HEAD_SIZE);

    dht_msg_init(m, DHT_MSG_HEAD, 6);
    fill_contacts(&m->u.head.closer, 2, 20);
    assert_int_equal(round_trip(fx), 1 + 1 + 2 * (32 + 1 + 20));
    m->u.head.rec.len = HEAD_SIZE;
    memcpy(m->u.head.rec.bytes, fx->head, HEAD_SIZE);
    round_trip(fx);

    dht_msg_init(m, DHT_MSG_ERROR, 7);
    m->u.error.code = 0xfffe; /* unknown codes are carried */
    memcpy(m->u.error.text, "full, try later", 15);
    assert_int_equal(round_trip(fx), 2 + 1 + 15);
    memset(m->u.error.text, ' ', DHT_ERROR_TEXT_MAX);
    round_trip(fx);
}

/* Decodes raw bytes of a type and expects err. */
static void
expect(fx_t *fx, uint8_t type, const uint8_t *p, size_t n, dht_msg_err_t err)
{
    dht_msg_err_t got = dht_msg_decode_payload(&fx->d, type, 9, p, n);
    if (got != err) {
        fail_msg("type 0x%02x, %zu bytes: got %d, want %d", type, n, got, err);
    }
}

static size_t
contact_bytes(uint8_t *p, uint8_t key_fill, uint8_t len, char ch)
{
    memset(p, key_fill, 32);
    p[32] = len;
    memset(p + 33, ch, len);
    return 33u + len;
}

static void
test_refusals(void **state)
{
    fx_t *fx = *state;
    uint8_t *b = fx->buf;

    /* Types outside 0x10..0x1b, whatever the payload. */
    expect(fx, 0x0f, NULL, 0, DHT_MSG_ETYPE);
    expect(fx, 0x1c, NULL, 0, DHT_MSG_ETYPE);
    expect(fx, 0x01, b, 10, DHT_MSG_ETYPE);
    assert_int_equal(fx->d.type, 0x01);
    assert_int_equal(fx->d.rid, 9);

    /* A payload over the frame, before anything is read. */
    expect(fx, DHT_MSG_PING, b, DHT_PAYLOAD_MAX + 1, DHT_MSG_ETOOLARGE);

    /* Counts over their cap, even when the bytes are not there. */
    b[0] = DHT_NODES_MAX + 1;
    expect(fx, DHT_MSG_NODES, b, 1, DHT_MSG_ETOOLARGE);
    b[0] = 255;
    expect(fx, DHT_MSG_NODES, b, 1, DHT_MSG_ETOOLARGE);
    b[0] = DHT_PROVIDERS_MAX + 1;
    expect(fx, DHT_MSG_PROVIDERS, b, 1, DHT_MSG_ETOOLARGE);
    b[0] = 0;
    b[1] = DHT_NODES_MAX + 1;
    expect(fx, DHT_MSG_PROVIDERS, b, 2, DHT_MSG_ETOOLARGE);
    b[0] = DHT_HEAD_MAX + 1;
    expect(fx, DHT_MSG_PUT_HEAD, b, 1, DHT_MSG_ETOOLARGE);
    expect(fx, DHT_MSG_HEAD, b, 1, DHT_MSG_ETOOLARGE);
    b[0] = 0;
    b[1] = DHT_NODES_MAX + 1;
    expect(fx, DHT_MSG_HEAD, b, 2, DHT_MSG_ETOOLARGE);
    b[0] = 0;
    b[1] = 1;
    b[2] = DHT_ERROR_TEXT_MAX + 1;
    expect(fx, DHT_MSG_ERROR, b, 3, DHT_MSG_ETOOLARGE);

    /* An endpoint length over its cap, and the cap winning over a truncation
     * and over trailing bytes that come later. */
    b[0] = 1;
    size_t n = 1 + contact_bytes(b + 1, 1, 10, 'x');
    b[33] = DHT_ENDPOINT_MAX + 1;
    expect(fx, DHT_MSG_NODES, b, 34, DHT_MSG_ETOOLARGE);
    expect(fx, DHT_MSG_NODES, b, n + 5, DHT_MSG_ETOOLARGE);

    /* A count claiming more contacts than the bytes hold. */
    b[0] = 2;
    n = 1 + contact_bytes(b + 1, 1, 10, 'x');
    expect(fx, DHT_MSG_NODES, b, n, DHT_MSG_ETRUNCATED);

    /* Bad endpoint bytes: empty, space, control, NUL, DEL, non-ASCII. */
    const char bad[] = {' ', '\n', '\0', 0x7f, (char)0x80, (char)0xff};
    for (size_t i = 0; i < sizeof bad; i++) {
        b[0] = 1;
        n = 1 + contact_bytes(b + 1, 1, 10, 'x');
        b[1 + 33 + 4] = (uint8_t)bad[i];
        expect(fx, DHT_MSG_NODES, b, n, DHT_MSG_EFIELD);
        /* Structure before rules: trailing bytes win over the bad byte. */
        expect(fx, DHT_MSG_NODES, b, n + 1, DHT_MSG_ETRAILING);
    }
    b[0] = 1;
    n = 1 + contact_bytes(b + 1, 1, 0, 'x');
    expect(fx, DHT_MSG_NODES, b, n, DHT_MSG_EFIELD);
    /* The same in PROVIDERS and in HEAD's closer list. */
    b[0] = 0;
    b[1] = 1;
    n = 2 + contact_bytes(b + 2, 1, 3, ' ');
    expect(fx, DHT_MSG_PROVIDERS, b, n, DHT_MSG_EFIELD);
    b[0] = 1;
    n = 1 + contact_bytes(b + 1, 1, 3, '\t');
    b[n] = 0;
    expect(fx, DHT_MSG_PROVIDERS, b, n + 1, DHT_MSG_EFIELD);
    b[0] = 0;
    b[1] = 1;
    n = 2 + contact_bytes(b + 2, 1, 3, '\r');
    expect(fx, DHT_MSG_HEAD, b, n, DHT_MSG_EFIELD);

    /* Heads: PUT_HEAD needs one; one that does not parse is a bad field;
     * its signature is not the codec's business. */
    b[0] = 0;
    expect(fx, DHT_MSG_PUT_HEAD, b, 1, DHT_MSG_EFIELD);
    b[0] = 10;
    memset(b + 1, 1, 10);
    expect(fx, DHT_MSG_PUT_HEAD, b, 11, DHT_MSG_EFIELD);
    b[0] = HEAD_SIZE;
    memcpy(b + 1, fx->head, HEAD_SIZE);
    b[1] = 2; /* version 2 */
    expect(fx, DHT_MSG_PUT_HEAD, b, 1 + HEAD_SIZE, DHT_MSG_EFIELD);
    b[1] = 1;
    b[1 + HEAD_SIZE - 1] ^= 1; /* a broken signature still parses */
    expect(fx, DHT_MSG_PUT_HEAD, b, 1 + HEAD_SIZE, DHT_MSG_OK);
    memset(b + 1 + 33, 0, 8); /* seq 0 */
    expect(fx, DHT_MSG_PUT_HEAD, b, 1 + HEAD_SIZE, DHT_MSG_EFIELD);
    b[1 + HEAD_SIZE] = 0;
    expect(fx, DHT_MSG_HEAD, b, 2 + HEAD_SIZE, DHT_MSG_EFIELD);

    /* ERROR text: printable ASCII only; empty is fine. */
    b[0] = 0;
    b[1] = 1;
    b[2] = 2;
    b[3] = 'o';
    b[4] = '\n';
    expect(fx, DHT_MSG_ERROR, b, 5, DHT_MSG_EFIELD);
    b[4] = '\0';
    expect(fx, DHT_MSG_ERROR, b, 5, DHT_MSG_EFIELD);
    b[4] = 'k';
    expect(fx, DHT_MSG_ERROR, b, 5, DHT_MSG_OK);
    b[2] = 0;
    expect(fx, DHT_MSG_ERROR, b, 3, DHT_MSG_OK);

    /* Fixed-size payloads: short and long. */
    expect(fx, DHT_MSG_FIND_NODE, b, 31, DHT_MSG_ETRUNCATED);
    expect(fx, DHT_MSG_GET_HEAD, b, 33, DHT_MSG_ETRAILING);
    expect(fx, DHT_MSG_PONG, b, 1, DHT_MSG_ETRAILING);
}

/* The encoder refuses what the decoder would refuse, with the same code,
 * and never writes past its buffer. */
static void
test_encoder_refusals(void **state)
{
    fx_t *fx = *state;
    dht_msg_t *m = &fx->m;
    size_t len = 0;

    dht_msg_init(m, DHT_MSG_PING, 0);
    m->type = 0x30;
    assert_int_equal(dht_msg_encode_payload(m, fx->buf, sizeof fx->buf, &len), DHT_MSG_ETYPE);

    dht_msg_init(m, DHT_MSG_NODES, 0);
    m->u.nodes.n = DHT_NODES_MAX + 1;
    assert_int_equal(dht_msg_encode_payload(m, fx->buf, sizeof fx->buf, &len), DHT_MSG_ETOOLARGE);
    fill_contacts(&m->u.nodes, 1, 5);
    memset(m->u.nodes.c[0].endpoint, 'a', sizeof m->u.nodes.c[0].endpoint); /* unterminated */
    assert_int_equal(dht_msg_encode_payload(m, fx->buf, sizeof fx->buf, &len), DHT_MSG_ETOOLARGE);
    fill_contacts(&m->u.nodes, 1, 0);
    assert_int_equal(dht_msg_encode_payload(m, fx->buf, sizeof fx->buf, &len), DHT_MSG_EFIELD);
    fill_contacts(&m->u.nodes, 1, 5);
    m->u.nodes.c[0].endpoint[2] = ' ';
    assert_int_equal(dht_msg_encode_payload(m, fx->buf, sizeof fx->buf, &len), DHT_MSG_EFIELD);

    dht_msg_init(m, DHT_MSG_PUT_HEAD, 0);
    assert_int_equal(dht_msg_encode_payload(m, fx->buf, sizeof fx->buf, &len), DHT_MSG_EFIELD);
    m->u.put.len = DHT_HEAD_MAX + 1;
    assert_int_equal(dht_msg_encode_payload(m, fx->buf, sizeof fx->buf, &len), DHT_MSG_ETOOLARGE);

    dht_msg_init(m, DHT_MSG_ERROR, 0);
    memset(m->u.error.text, 'a', sizeof m->u.error.text);
    assert_int_equal(dht_msg_encode_payload(m, fx->buf, sizeof fx->buf, &len), DHT_MSG_ETOOLARGE);
    assert_int_equal(len, 0); /* never set on error */

    /* Every too-small buffer: EBUFSZ, nothing written past the end. */
    dht_msg_init(m, DHT_MSG_NODES, 0);
    fill_contacts(&m->u.nodes, 3, 17);
    size_t need = 1 + 3 * (32 + 1 + 17);
    for (size_t cap = 0; cap < need; cap++) {
        memset(fx->buf, 0xee, need + 1);
        assert_int_equal(dht_msg_encode_payload(m, fx->buf, cap, &len), DHT_MSG_EBUFSZ);
        for (size_t i = cap; i <= need; i++) {
            assert_int_equal(fx->buf[i], 0xee);
        }
    }
    assert_int_equal(dht_msg_encode_payload(m, NULL, 0, &len), DHT_MSG_EBUFSZ);
    assert_int_equal(dht_msg_encode_payload(m, fx->buf, need, &len), DHT_MSG_OK);
    assert_int_equal(len, need);
}

static void
test_names(void **state)
{
    (void)state;
    for (int a = DHT_MSG_OK; a <= DHT_MSG_EBUFSZ; a++) {
        const char *s = dht_msg_strerror((dht_msg_err_t)a);
        assert_string_not_equal(s, "unknown dht message error");
        for (int b = DHT_MSG_OK; b < a; b++) {
            assert_string_not_equal(s, dht_msg_strerror((dht_msg_err_t)b));
        }
    }
    for (int t = DHT_MSG_TYPE_FIRST; t <= DHT_MSG_TYPE_LAST; t++) {
        assert_true(dht_msg_type_known((uint8_t)t));
        assert_string_not_equal(dht_msg_type_name((uint8_t)t), "unknown");
    }
    assert_string_equal(dht_msg_type_name(0x1c), "unknown");
    int requests = 0;
    for (int t = 0; t < 256; t++) {
        requests += dht_msg_is_request((uint8_t)t);
    }
    assert_int_equal(requests, 6);
    assert_true(dht_msg_endpoint_ok("tcp://192.0.2.1:7470"));
    assert_false(dht_msg_endpoint_ok(""));
    assert_false(dht_msg_endpoint_ok(NULL));
    assert_false(dht_msg_endpoint_ok("a b"));
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encoder_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
