/* The wire codec: round trips at the caps, every refusal of the decoder and
 * the encoder, endpoint and network-name syntax, and the hex examples of the
 * protocol document. */
#include "testutil.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "wire.h"

/* The largest message the caps allow: PEERS with WIRE_PEERS_MAX contacts,
 * each with an endpoint of WIRE_ENDPOINT_MAX bytes. */
enum { PEERS_MAX_SIZE = WIRE_HEADER_SIZE + 1 + WIRE_PEERS_MAX * (32 + 1 + WIRE_ENDPOINT_MAX) };

/* Messages and frames are kept off the stack: a wire_msg_t alone is over
 * 5 KiB and a frame may be 64 KiB. */
typedef struct {
    wire_msg_t m; /* built by a test */
    wire_msg_t d; /* decoded */
    uint8_t buf[WIRE_MAX_FRAME + 1];
    uint8_t again[WIRE_MAX_FRAME];
    size_t len;
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
set_str(char *dst, size_t cap, const char *s)
{
    assert_true(strlen(s) < cap);
    memcpy(dst, s, strlen(s) + 1);
}

/* An endpoint of exactly WIRE_ENDPOINT_MAX bytes: "tcp://" + a 63-byte
 * label + "." + a 52-byte label + ":65535". Labels differ by tag. */
static void
max_endpoint(char out[static WIRE_ENDPOINT_MAX + 1], char tag)
{
    memcpy(out, "tcp://", 6);
    memset(out + 6, tag, 63);
    out[69] = '.';
    memset(out + 70, 'z', 52);
    memcpy(out + 122, ":65535", 7);
    assert_int_equal(strlen(out), WIRE_ENDPOINT_MAX);
}

static void
fill_printable(char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = (char)(0x20 + i % (0x7f - 0x20));
    }
    out[n] = '\0';
}

static void
small_hello(wire_msg_t *m)
{
    wire_init(m, WIRE_HELLO, 0);
    set_str(m->u.hello.network, sizeof m->u.hello.network, "samizdat");
    memset(m->u.hello.node_key, 0x42, 32);
    set_str(m->u.hello.software, sizeof m->u.hello.software, "samizdat/test");
    m->u.hello.n_endpoints = 1;
    set_str(m->u.hello.endpoints[0].s, sizeof m->u.hello.endpoints[0].s, "tcp://127.0.0.1:7470");
}

static void
max_hello(wire_msg_t *m)
{
    wire_init(m, WIRE_HELLO, 0xffffffffu);
    memset(m->u.hello.network, 'z', WIRE_NETWORK_MAX);
    memset(m->u.hello.node_key, 0xff, 32);
    fill_printable(m->u.hello.software, WIRE_SOFTWARE_MAX);
    m->u.hello.caps = 0xffffffffu;
    m->u.hello.listen_port = 0xffff;
    m->u.hello.n_endpoints = WIRE_ENDPOINTS_MAX;
    for (int i = 0; i < WIRE_ENDPOINTS_MAX; i++) {
        max_endpoint(m->u.hello.endpoints[i].s, (char)('a' + i));
    }
}

static void
max_peers(wire_msg_t *m)
{
    wire_init(m, WIRE_PEERS, 0xffffffffu);
    m->u.peers.n = WIRE_PEERS_MAX;
    for (int i = 0; i < WIRE_PEERS_MAX; i++) {
        memset(m->u.peers.contacts[i].node_key, i, 32);
        max_endpoint(m->u.peers.contacts[i].endpoint.s, (char)('a' + i % 26));
    }
}

/* Encodes fx->m into fx->buf, decodes it into fx->d, and requires the two
 * structs and a second encoding to be identical. */
static void
round_trip(fx_t *fx)
{
    assert_int_equal(wire_encode(&fx->m, fx->buf, WIRE_MAX_FRAME, &fx->len), WIRE_OK);
    assert_true(fx->len <= PEERS_MAX_SIZE);
    assert_int_equal(wire_decode(&fx->d, fx->buf, fx->len), WIRE_OK);
    assert_memory_equal(&fx->d, &fx->m, sizeof fx->m);
    size_t len = 0;
    assert_int_equal(wire_encode(&fx->d, fx->again, sizeof fx->again, &len), WIRE_OK);
    assert_int_equal(len, fx->len);
    assert_memory_equal(fx->again, fx->buf, len);
}

static void
test_round_trip_hello(void **state)
{
    fx_t *fx = *state;
    max_hello(&fx->m);
    round_trip(fx);
    assert_int_equal(fx->len, 6 + 1 + 32 + 32 + 1 + 32 + 4 + 2 + 1 + 8 * (1 + 128));
    assert_int_equal(fx->d.u.hello.n_endpoints, WIRE_ENDPOINTS_MAX);
    assert_int_equal(fx->d.request_id, 0xffffffffu);

    /* The smallest: one-byte network, empty software, no endpoints. */
    wire_init(&fx->m, WIRE_HELLO, 0);
    set_str(fx->m.u.hello.network, sizeof fx->m.u.hello.network, "a");
    round_trip(fx);
    assert_int_equal(fx->len, 6 + 2 + 32 + 1 + 4 + 2 + 1);
}

static void
test_round_trip_small_types(void **state)
{
    fx_t *fx = *state;
    const uint64_t nonces[] = {0, 1, 0x8000000000000000ull, UINT64_MAX};
    for (size_t i = 0; i < sizeof nonces / sizeof nonces[0]; i++) {
        wire_init(&fx->m, i % 2 ? WIRE_PONG : WIRE_PING, (uint32_t)i * 0x55555555u);
        fx->m.u.ping_nonce = nonces[i];
        round_trip(fx);
        assert_int_equal(fx->len, 14);
    }
    const uint8_t maxes[] = {1, WIRE_PEERS_MAX};
    for (size_t i = 0; i < 2; i++) {
        wire_init(&fx->m, WIRE_PEERS_REQ, 0xffffffffu);
        fx->m.u.peers_max = maxes[i];
        round_trip(fx);
        assert_int_equal(fx->len, 7);
    }
}

static void
test_round_trip_peers(void **state)
{
    fx_t *fx = *state;
    max_peers(&fx->m);
    round_trip(fx);
    assert_int_equal(fx->len, PEERS_MAX_SIZE);
    /* An empty reply is how a node with no contacts answers. */
    wire_init(&fx->m, WIRE_PEERS, 0xffffffffu);
    round_trip(fx);
    assert_int_equal(fx->len, 7);
    assert_int_equal(fx->d.u.peers.n, 0);
}

static void
test_round_trip_error(void **state)
{
    fx_t *fx = *state;
    wire_init(&fx->m, WIRE_ERROR, 0xffffffffu);
    fx->m.u.error.code = 0xffff;
    fill_printable(fx->m.u.error.text, WIRE_ERROR_TEXT_MAX);
    round_trip(fx);
    assert_int_equal(fx->len, 6 + 2 + 1 + WIRE_ERROR_TEXT_MAX);
    wire_init(&fx->m, WIRE_ERROR, 0);
    round_trip(fx);
    assert_int_equal(fx->len, 9);
}

static void
test_truncated_every_length(void **state)
{
    fx_t *fx = *state;
    for (int which = 0; which < 3; which++) {
        if (which == 0) {
            max_hello(&fx->m);
        } else if (which == 1) {
            max_peers(&fx->m);
        } else {
            small_hello(&fx->m);
        }
        assert_int_equal(wire_encode(&fx->m, fx->buf, WIRE_MAX_FRAME, &fx->len), WIRE_OK);
        for (size_t n = 0; n < fx->len; n++) {
            /* Every count in these is within its cap, so only the end of
             * the frame can be the problem. */
            assert_int_equal(wire_decode(&fx->d, fx->buf, n), WIRE_ETRUNCATED);
        }
        assert_int_equal(wire_decode(&fx->d, fx->buf, fx->len), WIRE_OK);
    }
    assert_int_equal(wire_decode(&fx->d, NULL, 0), WIRE_ETRUNCATED);
}

static void
test_trailing(void **state)
{
    fx_t *fx = *state;
    wire_init(&fx->m, WIRE_PEERS, 7);
    assert_int_equal(wire_encode(&fx->m, fx->buf, WIRE_MAX_FRAME, &fx->len), WIRE_OK);
    fx->buf[fx->len] = 0;
    assert_int_equal(wire_decode(&fx->d, fx->buf, fx->len + 1), WIRE_ETRAILING);
    max_hello(&fx->m);
    assert_int_equal(wire_encode(&fx->m, fx->buf, WIRE_MAX_FRAME, &fx->len), WIRE_OK);
    fx->buf[fx->len] = 0x55;
    assert_int_equal(wire_decode(&fx->d, fx->buf, fx->len + 1), WIRE_ETRAILING);
}

/* A PING from an unknown version or with an unknown type; the header must
 * survive so the node can echo the request id in its ERROR reply. */
static void
test_version_and_type(void **state)
{
    fx_t *fx = *state;
    const uint8_t versions[] = {0, 2, 255};
    for (size_t i = 0; i < sizeof versions; i++) {
        wire_init(&fx->m, WIRE_PING, 0xdeadbeefu);
        assert_int_equal(wire_encode(&fx->m, fx->buf, WIRE_MAX_FRAME, &fx->len), WIRE_OK);
        fx->buf[0] = versions[i];
        assert_int_equal(wire_decode(&fx->d, fx->buf, fx->len), WIRE_EVERSION);
        assert_int_equal(fx->d.version, versions[i]);
        assert_int_equal(fx->d.type, WIRE_PING);
        assert_int_equal(fx->d.request_id, 0xdeadbeefu);
        /* The payload of another version is none of our business. */
        assert_int_equal(wire_decode(&fx->d, fx->buf, WIRE_HEADER_SIZE), WIRE_EVERSION);
        fx->buf[1] = 200;
        assert_int_equal(wire_decode(&fx->d, fx->buf, fx->len + 3), WIRE_EVERSION);
        assert_int_equal(fx->d.type, 200);
    }
    const uint8_t types[] = {0, 13, 15, 200, 255};
    for (size_t i = 0; i < sizeof types; i++) {
        const uint8_t frame[] = {1, types[i], 0x12, 0x34, 0x56, 0x78, 0xff};
        for (size_t n = WIRE_HEADER_SIZE; n <= sizeof frame; n++) {
            assert_int_equal(wire_decode(&fx->d, frame, n), WIRE_ETYPE);
            assert_int_equal(fx->d.version, WIRE_VERSION);
            assert_int_equal(fx->d.type, types[i]);
            assert_int_equal(fx->d.request_id, 0x12345678u);
        }
    }
    /* Too short even for a header: nothing can be said about it. */
    const uint8_t tiny[] = {2, 200, 0, 0, 0};
    assert_int_equal(wire_decode(&fx->d, tiny, sizeof tiny), WIRE_ETRUNCATED);
}

/* ---- hand-built frames, for what the encoder will not produce ---- */

static void
raw_header(bytes_writer_t *w, fx_t *fx, uint8_t type)
{
    bytes_writer_init(w, fx->buf, sizeof fx->buf);
    bytes_put_u8(w, WIRE_VERSION);
    bytes_put_u8(w, type);
    bytes_put_u32(w, 9);
}

static void
raw_str(bytes_writer_t *w, const char *s, size_t n)
{
    bytes_put_u8(w, (uint8_t)n);
    bytes_put(w, (const uint8_t *)s, n);
}

typedef struct {
    const char *net;
    size_t net_len;
    const char *sw;
    size_t sw_len;
    size_t n_ep;         /* count written */
    size_t n_ep_present; /* endpoints actually written */
    const char *ep;
    size_t ep_len;
} raw_hello_t;

static wire_err_t
decode_raw_hello(fx_t *fx, const raw_hello_t *h)
{
    bytes_writer_t w;
    raw_header(&w, fx, WIRE_HELLO);
    raw_str(&w, h->net, h->net_len);
    uint8_t key[32] = {0};
    bytes_put(&w, key, 32);
    raw_str(&w, h->sw, h->sw_len);
    bytes_put_u32(&w, 3);
    bytes_put_u16(&w, 7470);
    bytes_put_u8(&w, (uint8_t)h->n_ep);
    for (size_t i = 0; i < h->n_ep_present; i++) {
        raw_str(&w, h->ep, h->ep_len);
    }
    assert_true(bytes_writer_ok(&w));
    return wire_decode(&fx->d, fx->buf, w.len);
}

static wire_err_t
decode_raw_peers(fx_t *fx, size_t n, size_t n_present, const char *ep, size_t ep_len)
{
    bytes_writer_t w;
    raw_header(&w, fx, WIRE_PEERS);
    bytes_put_u8(&w, (uint8_t)n);
    for (size_t i = 0; i < n_present; i++) {
        uint8_t key[32];
        memset(key, (int)i, sizeof key);
        bytes_put(&w, key, 32);
        raw_str(&w, ep, ep_len);
    }
    assert_true(bytes_writer_ok(&w));
    return wire_decode(&fx->d, fx->buf, w.len);
}

static wire_err_t
decode_raw_error(fx_t *fx, const char *text, size_t len)
{
    bytes_writer_t w;
    raw_header(&w, fx, WIRE_ERROR);
    bytes_put_u16(&w, WIRE_ERR_BUSY);
    raw_str(&w, text, len);
    assert_true(bytes_writer_ok(&w));
    return wire_decode(&fx->d, fx->buf, w.len);
}

static wire_err_t
decode_raw_peers_req(fx_t *fx, uint8_t max, size_t extra)
{
    bytes_writer_t w;
    raw_header(&w, fx, WIRE_PEERS_REQ);
    bytes_put_u8(&w, max);
    for (size_t i = 0; i < extra; i++) {
        bytes_put_u8(&w, 0);
    }
    return wire_decode(&fx->d, fx->buf, w.len);
}

static const char EP[] = "tcp://192.0.2.1:7470";
#define EP_LEN (sizeof EP - 1)

static void
test_raw_frames_accepted(void **state)
{
    fx_t *fx = *state;
    /* The builders themselves are right: valid input decodes. */
    raw_hello_t h = {"samizdat", 8, "v1", 2, 2, 2, EP, EP_LEN};
    assert_int_equal(decode_raw_hello(fx, &h), WIRE_OK);
    assert_string_equal(fx->d.u.hello.endpoints[1].s, EP);
    assert_int_equal(decode_raw_peers(fx, 3, 3, EP, EP_LEN), WIRE_OK);
    assert_int_equal(decode_raw_error(fx, "busy", 4), WIRE_OK);
    assert_int_equal(decode_raw_peers_req(fx, 5, 0), WIRE_OK);
}

static void
test_over_caps(void **state)
{
    fx_t *fx = *state;
    char big[256];
    memset(big, 'a', sizeof big);
    char ep_big[WIRE_ENDPOINT_MAX + 2];
    max_endpoint(ep_big, 'q');
    /* One byte over the cap, all of it present. */
    ep_big[WIRE_ENDPOINT_MAX] = '5';
    ep_big[WIRE_ENDPOINT_MAX + 1] = '\0';

    raw_hello_t net = {big, WIRE_NETWORK_MAX + 1, "v", 1, 0, 0, NULL, 0};
    assert_int_equal(decode_raw_hello(fx, &net), WIRE_ETOOLARGE);
    raw_hello_t sw = {"samizdat", 8, big, WIRE_SOFTWARE_MAX + 1, 0, 0, NULL, 0};
    assert_int_equal(decode_raw_hello(fx, &sw), WIRE_ETOOLARGE);
    const size_t nine = WIRE_ENDPOINTS_MAX + 1;
    raw_hello_t n_ep = {"samizdat", 8, "v", 1, nine, nine, EP, EP_LEN};
    assert_int_equal(decode_raw_hello(fx, &n_ep), WIRE_ETOOLARGE);
    raw_hello_t ep = {"samizdat", 8, "v", 1, 1, 1, ep_big, WIRE_ENDPOINT_MAX + 1};
    assert_int_equal(decode_raw_hello(fx, &ep), WIRE_ETOOLARGE);
    /* A claim over its cap is refused as such even when the bytes it
     * claims are not there. */
    raw_hello_t n_ep_only = {"samizdat", 8, "v", 1, 255, 0, NULL, 0};
    assert_int_equal(decode_raw_hello(fx, &n_ep_only), WIRE_ETOOLARGE);

    assert_int_equal(decode_raw_peers(fx, WIRE_PEERS_MAX + 1, WIRE_PEERS_MAX + 1, EP, EP_LEN),
                     WIRE_ETOOLARGE);
    assert_int_equal(decode_raw_peers(fx, 255, 0, NULL, 0), WIRE_ETOOLARGE);
    assert_int_equal(decode_raw_peers(fx, 1, 1, ep_big, WIRE_ENDPOINT_MAX + 1), WIRE_ETOOLARGE);
    assert_int_equal(decode_raw_error(fx, big, WIRE_ERROR_TEXT_MAX + 1), WIRE_ETOOLARGE);
    assert_int_equal(decode_raw_error(fx, big, 255), WIRE_ETOOLARGE);
    assert_int_equal(decode_raw_peers_req(fx, WIRE_PEERS_MAX + 1, 0), WIRE_ETOOLARGE);
    assert_int_equal(decode_raw_peers_req(fx, 255, 1), WIRE_ETOOLARGE);
    /* 0 is a value with no meaning rather than one too large. */
    assert_int_equal(decode_raw_peers_req(fx, 0, 0), WIRE_EFIELD);
    assert_int_equal(decode_raw_peers_req(fx, 5, 1), WIRE_ETRAILING);
}

static void
test_frame_size(void **state)
{
    fx_t *fx = *state;
    memset(fx->buf, 0, sizeof fx->buf);
    wire_init(&fx->m, WIRE_PING, 1);
    assert_int_equal(wire_encode(&fx->m, fx->buf, WIRE_MAX_FRAME, &fx->len), WIRE_OK);
    assert_int_equal(wire_decode(&fx->d, fx->buf, WIRE_MAX_FRAME + 1), WIRE_ETOOLARGE);
    assert_int_equal(wire_decode(&fx->d, fx->buf, SIZE_MAX), WIRE_ETOOLARGE);
    /* At the limit the frame is judged on its content. */
    assert_int_equal(wire_decode(&fx->d, fx->buf, WIRE_MAX_FRAME), WIRE_ETRAILING);
}

static void
test_network_names(void **state)
{
    fx_t *fx = *state;
    char long_name[WIRE_NETWORK_MAX + 2];
    memset(long_name, 'a', sizeof long_name);
    long_name[WIRE_NETWORK_MAX + 1] = '\0';
    const char *bad[] = {
        "", "UPPER", "has space", long_name, "tab\t", "slash/", "caf\xc3\xa9", "colon:", "Samizdat",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(wire_network_valid(bad[i]));
        size_t n = strlen(bad[i]);
        raw_hello_t h = {bad[i], n, "v", 1, 0, 0, NULL, 0};
        wire_err_t want = n > WIRE_NETWORK_MAX ? WIRE_ETOOLARGE : WIRE_EFIELD;
        assert_int_equal(decode_raw_hello(fx, &h), want);
    }
    assert_false(wire_network_valid(NULL));
    long_name[WIRE_NETWORK_MAX] = '\0';
    const char *good[] = {"samizdat", "a", "test-net_1.2", long_name, "0", "..."};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_true(wire_network_valid(good[i]));
        raw_hello_t h = {good[i], strlen(good[i]), "v", 1, 0, 0, NULL, 0};
        assert_int_equal(decode_raw_hello(fx, &h), WIRE_OK);
        assert_string_equal(fx->d.u.hello.network, good[i]);
    }
}

static const char *const bad_endpoints[] = {
    "",
    "tcp://",
    "tcp://1.2.3.4",
    "tcp://1.2.3.4:",
    "tcp://1.2.3.4:0",
    "tcp://1.2.3.4:65536",
    "tcp://1.2.3.4:99999",
    "tcp://1.2.3.4:123456",
    "tcp://1.2.3.4:07470",
    "tcp://1.2.3.4:+7470",
    "tcp://1.2.3.4:-1",
    "tcp://1.2.3.4:7470a",
    "tcp://1.2.3.4: 7470",
    "udp://1.2.3.4:1",
    "TCP://1.2.3.4:1",
    "tcp:/1.2.3.4:1",
    "ipc://sock:1",
    "tcp://256.1.1.1:1",
    "tcp://1.2.3:1",
    "tcp://1.2.3.4.5:1",
    "tcp://01.2.3.4:1",
    "tcp://1.2.3.004:1",
    "tcp://+1.2.3.4:1",
    "tcp://1.2.3.-4:1",
    "tcp://1234:1",
    "tcp://0x7f.1:1",
    "tcp://a.123:1",
    "tcp://0.0.0.0:1",
    "tcp://[zz::1]:1",
    "tcp://[::1]",
    "tcp://[::1]7470",
    "tcp://[]:1",
    "tcp://[:]:1",
    "tcp://[::]:1",
    "tcp://[0:0::0]:1",
    "tcp://[::1%eth0]:1",
    "tcp://[1:2:3:4:5:6:7:8:9]:1",
    "tcp://[::1:1",
    "tcp://::1]:1",
    "tcp://::1:1",
    "tcp://[0000:0000:0000:0000:0000:ffff:255.255.255.2551]:1",
    "tcp://*:1",
    "tcp://*.example.org:1",
    "tcp://host name:1",
    "tcp://-a.b:1",
    "tcp://a-.b:1",
    "tcp://a..b:1",
    "tcp://a.b.:1",
    "tcp://.a:1",
    "tcp://a_b:1",
    "tcp://a/b:1",
    "tcp://caf\xc3\xa9.example:1",
    "tcp://node\x01.org:1",
    "tcp://node.org:1\n",
    "tcp://\x7f:1",
    "\x1btcp://node.org:1",
    "tcp://node.org:1 ",
    " tcp://node.org:1",
    "tcp://user@node.org:1",
    "tcp://node.org:1/path",
    "tcp://node.org:1:2",
};

static const char *const good_endpoints[] = {
    "tcp://127.0.0.1:7470",
    "tcp://[::1]:7470",
    "tcp://node.example.org:1",
    "tcp://localhost:65535",
    "tcp://10.0.0.1:1",
    "tcp://0.0.0.1:1",
    "tcp://255.255.255.255:9",
    "tcp://[2001:db8::1]:7470",
    "tcp://[2001:DB8::A]:1",
    "tcp://[::ffff:192.0.2.1]:7470",
    "tcp://[0000:0000:0000:0000:0000:ffff:255.255.255.255]:1",
    "tcp://a-b.c0.d:7470",
    "tcp://1.2.3.example:1",
    "tcp://123.example:1",
    "tcp://xn--bcher-kva.example:1",
    "tcp://A:1",
};

static void
test_endpoint_table(void **state)
{
    fx_t *fx = *state;
    for (size_t i = 0; i < sizeof bad_endpoints / sizeof bad_endpoints[0]; i++) {
        const char *e = bad_endpoints[i];
        if (wire_endpoint_valid(e)) {
            fail_msg("accepted bad endpoint \"%s\"", e);
        }
        /* The decoder refuses it in both places an endpoint appears. */
        raw_hello_t h = {"samizdat", 8, "v", 1, 1, 1, e, strlen(e)};
        assert_int_equal(decode_raw_hello(fx, &h), WIRE_EFIELD);
        assert_int_equal(decode_raw_peers(fx, 1, 1, e, strlen(e)), WIRE_EFIELD);
    }
    for (size_t i = 0; i < sizeof good_endpoints / sizeof good_endpoints[0]; i++) {
        const char *e = good_endpoints[i];
        if (!wire_endpoint_valid(e)) {
            fail_msg("refused good endpoint \"%s\"", e);
        }
        wire_init(&fx->m, WIRE_PEERS, 1);
        fx->m.u.peers.n = 1;
        set_str(fx->m.u.peers.contacts[0].endpoint.s, WIRE_ENDPOINT_MAX + 1, e);
        round_trip(fx);
    }
    assert_false(wire_endpoint_valid(NULL));
}

static void
test_endpoint_lengths(void **state)
{
    (void)state;
    char e[WIRE_ENDPOINT_MAX + 64];
    max_endpoint(e, 'm');
    assert_true(wire_endpoint_valid(e));
    /* One byte more, still a well-formed name. */
    memcpy(e + 121, "zz:65535", 9);
    assert_int_equal(strlen(e), WIRE_ENDPOINT_MAX + 1);
    assert_false(wire_endpoint_valid(e));
    /* A label of 64 bytes. */
    memcpy(e, "tcp://", 6);
    memset(e + 6, 'x', 64);
    memcpy(e + 70, ":1", 3);
    assert_false(wire_endpoint_valid(e));
    e[38] = '.';
    assert_true(wire_endpoint_valid(e));
}

static void
test_embedded_nul(void **state)
{
    fx_t *fx = *state;
    raw_hello_t net = {"sam\0zdat", 8, "v", 1, 0, 0, NULL, 0};
    assert_int_equal(decode_raw_hello(fx, &net), WIRE_EFIELD);
    raw_hello_t net_end = {"samizdat\0", 9, "v", 1, 0, 0, NULL, 0};
    assert_int_equal(decode_raw_hello(fx, &net_end), WIRE_EFIELD);
    raw_hello_t sw = {"samizdat", 8, "v\0", 2, 0, 0, NULL, 0};
    assert_int_equal(decode_raw_hello(fx, &sw), WIRE_EFIELD);
    const char ep[] = "tcp://a:1\0:2";
    raw_hello_t hep = {"samizdat", 8, "v", 1, 1, 1, ep, sizeof ep - 1};
    assert_int_equal(decode_raw_hello(fx, &hep), WIRE_EFIELD);
    assert_int_equal(decode_raw_peers(fx, 1, 1, ep, sizeof ep - 1), WIRE_EFIELD);
    assert_int_equal(decode_raw_error(fx, "a\0b", 3), WIRE_EFIELD);
    assert_int_equal(decode_raw_error(fx, "\0", 1), WIRE_EFIELD);
}

static void
test_printable_text(void **state)
{
    fx_t *fx = *state;
    const char *bad[] = {"a\x7f", "line\n", "\x80", "\xff", "caf\xc3\xa9", "\x1b[31m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        raw_hello_t h = {"samizdat", 8, bad[i], strlen(bad[i]), 0, 0, NULL, 0};
        assert_int_equal(decode_raw_hello(fx, &h), WIRE_EFIELD);
        assert_int_equal(decode_raw_error(fx, bad[i], strlen(bad[i])), WIRE_EFIELD);
    }
    raw_hello_t edge = {"samizdat", 8, " ~", 2, 0, 0, NULL, 0};
    assert_int_equal(decode_raw_hello(fx, &edge), WIRE_OK);
    assert_int_equal(decode_raw_error(fx, "", 0), WIRE_OK);
}

/* The encoder refuses what the decoder refuses, with the same code. */
static void
test_encoder_refusals(void **state)
{
    fx_t *fx = *state;
    size_t len = 12345;
    wire_msg_t *m = &fx->m;

    small_hello(m);
    m->version = 2;
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_EVERSION);
    small_hello(m);
    m->type = 13;
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_ETYPE);
    small_hello(m);
    set_str(m->u.hello.network, sizeof m->u.hello.network, "UPPER");
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_EFIELD);
    small_hello(m);
    m->u.hello.network[0] = '\0';
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_EFIELD);
    small_hello(m);
    memset(m->u.hello.network, 'a', sizeof m->u.hello.network); /* no terminator */
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_ETOOLARGE);
    small_hello(m);
    memset(m->u.hello.software, 'a', sizeof m->u.hello.software);
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_ETOOLARGE);
    small_hello(m);
    m->u.hello.software[0] = '\n';
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_EFIELD);
    small_hello(m);
    m->u.hello.n_endpoints = WIRE_ENDPOINTS_MAX + 1;
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_ETOOLARGE);
    small_hello(m);
    set_str(m->u.hello.endpoints[0].s, WIRE_ENDPOINT_MAX + 1, "tcp://*:7470");
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_EFIELD);
    small_hello(m);
    memset(m->u.hello.endpoints[0].s, 'a', WIRE_ENDPOINT_MAX + 1);
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_ETOOLARGE);
    /* A field beyond the count is not part of the message. */
    small_hello(m);
    memset(m->u.hello.endpoints[1].s, 'a', WIRE_ENDPOINT_MAX + 1);
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_OK);
    len = 12345;

    wire_init(m, WIRE_PEERS_REQ, 1);
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_EFIELD);
    m->u.peers_max = WIRE_PEERS_MAX + 1;
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_ETOOLARGE);

    max_peers(m);
    m->u.peers.n = WIRE_PEERS_MAX + 1;
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_ETOOLARGE);
    max_peers(m);
    set_str(m->u.peers.contacts[31].endpoint.s, WIRE_ENDPOINT_MAX + 1, "tcp://0.0.0.0:1");
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_EFIELD);
    max_peers(m);
    memset(m->u.peers.contacts[3].endpoint.s, 'a', WIRE_ENDPOINT_MAX + 1);
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_ETOOLARGE);

    wire_init(m, WIRE_ERROR, 1);
    set_str(m->u.error.text, sizeof m->u.error.text, "bell\a");
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_EFIELD);
    memset(m->u.error.text, 'a', sizeof m->u.error.text);
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_ETOOLARGE);
    assert_int_equal(len, 12345);
}

/* Every capacity short of the message is refused, and nothing is written
 * past it. */
static void
test_encoder_buffer_size(void **state)
{
    fx_t *fx = *state;
    max_peers(&fx->m);
    size_t need = 0;
    assert_int_equal(wire_encode(&fx->m, fx->again, sizeof fx->again, &need), WIRE_OK);
    assert_int_equal(need, PEERS_MAX_SIZE);
    for (size_t cap = 0; cap < need; cap++) {
        memset(fx->buf, 0xee, need + 1);
        size_t len = 12345;
        assert_int_equal(wire_encode(&fx->m, fx->buf, cap, &len), WIRE_EBUFSZ);
        assert_int_equal(len, 12345);
        for (size_t i = cap; i <= need; i++) {
            assert_int_equal(fx->buf[i], 0xee);
        }
    }
    size_t len = 0;
    assert_int_equal(wire_encode(&fx->m, fx->buf, need, &len), WIRE_OK);
    assert_int_equal(len, need);
    assert_memory_equal(fx->buf, fx->again, need);
    assert_int_equal(wire_encode(&fx->m, NULL, 0, &len), WIRE_EBUFSZ);
}

/* ---- the examples of docs/PROTOCOL.md, "Wire", byte for byte ---- */

/* Parses hex with spaces between groups into out; returns the length. */
static size_t
parse_hex(uint8_t *out, size_t cap, const char *spaced)
{
    size_t n = strlen(spaced);
    char *hex = calloc(1, n + 1);
    assert_non_null(hex);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (spaced[i] != ' ') {
            hex[k++] = spaced[i];
        }
    }
    assert_int_equal(k % 2, 0);
    assert_true(k / 2 <= cap);
    assert_true(bytes_from_hex(out, k / 2, hex));
    free(hex);
    return k / 2;
}

/* Decodes the example, checks it against the expected message, and
 * requires the expected message to encode to exactly these bytes. */
static void
check_example(fx_t *fx, const char *hex)
{
    size_t n = parse_hex(fx->buf, sizeof fx->buf, hex);
    assert_int_equal(wire_decode(&fx->d, fx->buf, n), WIRE_OK);
    assert_memory_equal(&fx->d, &fx->m, sizeof fx->m);
    size_t len = 0;
    assert_int_equal(wire_encode(&fx->m, fx->again, sizeof fx->again, &len), WIRE_OK);
    assert_int_equal(len, n);
    assert_memory_equal(fx->again, fx->buf, n);
}

/* Kept as laid out in the document, one field per line. */
/* clang-format off */
static const char EX_HELLO[] =
    "01 01 00000000"
    " 08 73616d697a646174"
    " 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    " 0e 73616d697a6461742f302e312e30"
    " 00000003"
    " 1d2e"
    " 02"
    " 14 7463703a2f2f3139322e302e322e313a37343730"
    " 18 7463703a2f2f5b323030313a6462383a3a315d3a37343730";
static const char EX_PING[] = "01 02 0000002a 0123456789abcdef";
static const char EX_PONG[] = "01 03 0000002a 0123456789abcdef";
static const char EX_PEERS_REQ[] = "01 04 0000002b 10";
static const char EX_PEERS[] =
    "01 05 0000002b"
    " 02"
    " aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    " 17 7463703a2f2f3139382e35312e3130302e373a37343730"
    " bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    " 1b 7463703a2f2f6e6f64652e6578616d706c652e6f72673a37343731";
static const char EX_ERROR[] = "01 06 0000002c 0004 13 6e6574776f726b2069732073616d697a646174";
/* clang-format on */

static void
test_doc_examples(void **state)
{
    fx_t *fx = *state;
    wire_msg_t *m = &fx->m;

    wire_init(m, WIRE_HELLO, 0);
    set_str(m->u.hello.network, sizeof m->u.hello.network, "samizdat");
    for (int i = 0; i < 32; i++) {
        m->u.hello.node_key[i] = (uint8_t)i;
    }
    set_str(m->u.hello.software, sizeof m->u.hello.software, "samizdat/0.1.0");
    m->u.hello.caps = WIRE_CAP_DHT | WIRE_CAP_GOSSIP;
    m->u.hello.listen_port = 7470;
    m->u.hello.n_endpoints = 2;
    set_str(m->u.hello.endpoints[0].s, WIRE_ENDPOINT_MAX + 1, "tcp://192.0.2.1:7470");
    set_str(m->u.hello.endpoints[1].s, WIRE_ENDPOINT_MAX + 1, "tcp://[2001:db8::1]:7470");
    check_example(fx, EX_HELLO);

    wire_init(m, WIRE_PING, 42);
    m->u.ping_nonce = 0x0123456789abcdefull;
    check_example(fx, EX_PING);
    m->type = WIRE_PONG;
    check_example(fx, EX_PONG);

    wire_init(m, WIRE_PEERS_REQ, 43);
    m->u.peers_max = 16;
    check_example(fx, EX_PEERS_REQ);

    wire_init(m, WIRE_PEERS, 43);
    m->u.peers.n = 2;
    memset(m->u.peers.contacts[0].node_key, 0xaa, 32);
    set_str(m->u.peers.contacts[0].endpoint.s, WIRE_ENDPOINT_MAX + 1, "tcp://198.51.100.7:7470");
    memset(m->u.peers.contacts[1].node_key, 0xbb, 32);
    set_str(m->u.peers.contacts[1].endpoint.s, WIRE_ENDPOINT_MAX + 1,
            "tcp://node.example.org:7471");
    check_example(fx, EX_PEERS);

    wire_init(m, WIRE_ERROR, 44);
    m->u.error.code = WIRE_ERR_NETWORK;
    set_str(m->u.error.text, sizeof m->u.error.text, "network is samizdat");
    check_example(fx, EX_ERROR);
}

/* Every strict prefix and every one-byte extension of the examples is
 * refused. */
static void
test_doc_examples_damaged(void **state)
{
    fx_t *fx = *state;
    const char *all[] = {EX_HELLO, EX_PING, EX_PONG, EX_PEERS_REQ, EX_PEERS, EX_ERROR};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        size_t n = parse_hex(fx->buf, sizeof fx->buf, all[i]);
        for (size_t k = 0; k < n; k++) {
            assert_int_equal(wire_decode(&fx->d, fx->buf, k), WIRE_ETRUNCATED);
        }
        fx->buf[n] = 0;
        assert_int_equal(wire_decode(&fx->d, fx->buf, n + 1), WIRE_ETRAILING);
    }
}

/* ---- the dial-back messages, and their vectors in docs/PROTOCOL.md ---- */

typedef struct {
    fx_t *fx;
    int seen;
} dial_vectors_t;

/* Each line of the ```dialback-vectors block is one frame: the message the
 * test builds for that name must encode to exactly it, and it must decode
 * back to that message; every strict prefix is truncated, one byte more is
 * trailing. */
static void
on_dial_vector(void *ud, const char *name, const char *value)
{
    dial_vectors_t *v = ud;
    fx_t *fx = v->fx;
    wire_msg_t *m = &fx->m;
    if (strcmp(name, "dial_req") == 0) {
        wire_init(m, WIRE_DIAL_REQ, 45);
        m->u.dial.nonce = 0x0123456789abcdefull;
        set_str(m->u.dial.endpoint.s, WIRE_ENDPOINT_MAX + 1, "tcp://192.0.2.1:7470");
    } else if (strcmp(name, "dial_back") == 0) {
        wire_init(m, WIRE_DIAL_BACK, 0);
        m->u.dial.nonce = 0x0123456789abcdefull;
    } else if (strcmp(name, "dial_result") == 0) {
        wire_init(m, WIRE_DIAL_RESULT, 45);
        m->u.dial.status = WIRE_DIAL_OK;
    } else if (strcmp(name, "dial_result_refused") == 0) {
        wire_init(m, WIRE_DIAL_RESULT, 46);
        m->u.dial.status = WIRE_DIAL_REFUSED;
    } else {
        fail_msg("unknown vector %s", name);
    }
    check_example(fx, value);
    size_t n = parse_hex(fx->buf, sizeof fx->buf, value);
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(wire_decode(&fx->d, fx->buf, k), WIRE_ETRUNCATED);
    }
    fx->buf[n] = 0;
    assert_int_equal(wire_decode(&fx->d, fx->buf, n + 1), WIRE_ETRAILING);
    v->seen++;
}

static void
test_dial_vectors(void **state)
{
    dial_vectors_t v = {*state, 0};
    char *doc = tu_read_file(SAMIZDAT_SOURCE_DIR "/docs/PROTOCOL.md", NULL);
    assert_non_null(doc);
    tu_doc_vectors(doc, "dialback-vectors", on_dial_vector, &v);
    free(doc);
    assert_int_equal(v.seen, 4);
}

/* ---- the relay messages, and their vectors in docs/PROTOCOL.md ---- */

static void
on_relay_vector(void *ud, const char *name, const char *value)
{
    dial_vectors_t *v = ud;
    fx_t *fx = v->fx;
    wire_msg_t *m = &fx->m;
    if (strcmp(name, "reserve") == 0) {
        wire_init(m, WIRE_RESERVE, 7);
    } else if (strcmp(name, "reserved") == 0) {
        wire_init(m, WIRE_RESERVED, 7);
        m->u.reserved.status = WIRE_RESERVE_OK;
        m->u.reserved.port = 7471;
        m->u.reserved.expires_s = 3600;
        m->u.reserved.byte_cap = 16777216;
    } else if (strcmp(name, "reserved_busy") == 0) {
        wire_init(m, WIRE_RESERVED, 8);
        m->u.reserved.status = WIRE_RESERVE_BUSY;
    } else if (strcmp(name, "hello_relayed") == 0) {
        wire_init(m, WIRE_HELLO, 9);
        snprintf(m->u.hello.network, sizeof m->u.hello.network, "test");
        memset(m->u.hello.node_key, 0x11, sizeof m->u.hello.node_key);
        m->u.hello.caps = WIRE_CAP_DHT | WIRE_CAP_GOSSIP;
        m->u.hello.n_endpoints = 1;
        snprintf(m->u.hello.endpoints[0].s, sizeof m->u.hello.endpoints[0].s,
                 "relay://192.0.2.7:7471");
    } else if (strcmp(name, "connect") == 0) {
        wire_init(m, WIRE_CONNECT, 0);
        m->u.connect.circuit = 5;
        for (int i = 0; i < WIRE_CIRCUIT_NONCE; i++) {
            m->u.connect.nonce[i] = (uint8_t)i;
        }
    } else {
        fail_msg("unknown vector %s", name);
    }
    check_example(fx, value);
    size_t n = parse_hex(fx->buf, sizeof fx->buf, value);
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(wire_decode(&fx->d, fx->buf, k), WIRE_ETRUNCATED);
    }
    fx->buf[n] = 0;
    assert_int_equal(wire_decode(&fx->d, fx->buf, n + 1), WIRE_ETRAILING);
    v->seen++;
}

static void
test_relay_vectors(void **state)
{
    dial_vectors_t v = {*state, 0};
    char *doc = tu_read_file(SAMIZDAT_SOURCE_DIR "/docs/PROTOCOL.md", NULL);
    assert_non_null(doc);
    tu_doc_vectors(doc, "relay-vectors", on_relay_vector, &v);
    free(doc);
    assert_int_equal(v.seen, 5);
    /* A relayed endpoint goes in HELLO only: PEERS and DIAL_REQ refuse it,
     * and in HELLO it follows the endpoint rules (no wildcard). */
    wire_msg_t *m = &v.fx->m;
    wire_init(m, WIRE_PEERS, 1);
    m->u.peers.n = 1;
    snprintf(m->u.peers.contacts[0].endpoint.s, sizeof m->u.peers.contacts[0].endpoint.s,
             "relay://192.0.2.7:7471");
    size_t len = 0;
    assert_int_equal(wire_encode(m, v.fx->buf, sizeof v.fx->buf, &len), WIRE_EFIELD);
    wire_init(m, WIRE_DIAL_REQ, 1);
    snprintf(m->u.dial.endpoint.s, sizeof m->u.dial.endpoint.s, "relay://192.0.2.7:7471");
    assert_int_equal(wire_encode(m, v.fx->buf, sizeof v.fx->buf, &len), WIRE_EFIELD);
    wire_init(m, WIRE_HELLO, 1);
    snprintf(m->u.hello.network, sizeof m->u.hello.network, "test");
    m->u.hello.n_endpoints = 1;
    snprintf(m->u.hello.endpoints[0].s, sizeof m->u.hello.endpoints[0].s, "relay://0.0.0.0:1");
    assert_int_equal(wire_encode(m, v.fx->buf, sizeof v.fx->buf, &len), WIRE_EFIELD);
    /* Every status decodes: an unknown one means no reservation. */
    for (unsigned st = 0; st <= 255; st++) {
        const uint8_t frame[] = {
            1, WIRE_RESERVED, 0, 0, 0, 2, (uint8_t)st, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
        assert_int_equal(wire_decode(&v.fx->d, frame, sizeof frame), WIRE_OK);
        assert_int_equal(v.fx->d.u.reserved.status, st);
    }
}

/* DIAL_REQ's endpoint follows the endpoint rules; its length is a claim;
 * every status decodes (a newer node may add some). */
static void
test_dial_rules(void **state)
{
    fx_t *fx = *state;
    wire_msg_t *m = &fx->m;
    size_t len = 0;
    const char *bad[] = {"", "tcp://*:1", "tcp://0.0.0.0:1", "udp://1.2.3.4:1", "tcp://1.2.3.4"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wire_init(m, WIRE_DIAL_REQ, 1);
        set_str(m->u.dial.endpoint.s, WIRE_ENDPOINT_MAX + 1, bad[i]);
        assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_EFIELD);
        /* The same bytes written by hand are refused by the decoder. */
        uint8_t raw[64] = {1, WIRE_DIAL_REQ, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9};
        size_t el = strlen(bad[i]);
        raw[14] = (uint8_t)el;
        memcpy(raw + 15, bad[i], el);
        assert_int_equal(wire_decode(&fx->d, raw, 15 + el), WIRE_EFIELD);
    }
    /* A length over the cap is refused as too large before the bytes it claims. */
    uint8_t big[16] = {1, WIRE_DIAL_REQ, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, WIRE_ENDPOINT_MAX + 1};
    assert_int_equal(wire_decode(&fx->d, big, 15), WIRE_ETOOLARGE);
    wire_init(m, WIRE_DIAL_REQ, 1);
    max_endpoint(m->u.dial.endpoint.s, 'a');
    assert_int_equal(wire_encode(m, fx->buf, WIRE_MAX_FRAME, &len), WIRE_OK);
    assert_int_equal(len, WIRE_HEADER_SIZE + 8 + 1 + WIRE_ENDPOINT_MAX);
    assert_int_equal(wire_decode(&fx->d, fx->buf, len), WIRE_OK);
    assert_memory_equal(&fx->d, m, sizeof *m);
    for (unsigned st = 0; st <= 255; st++) {
        const uint8_t frame[] = {1, WIRE_DIAL_RESULT, 0, 0, 0, 2, (uint8_t)st};
        assert_int_equal(wire_decode(&fx->d, frame, sizeof frame), WIRE_OK);
        assert_int_equal(fx->d.u.dial.status, st);
    }
}

static void
test_names_and_init(void **state)
{
    fx_t *fx = *state;
    for (int a = WIRE_OK; a <= WIRE_EBUFSZ; a++) {
        const char *s = wire_strerror((wire_err_t)a);
        assert_string_not_equal(s, "unknown wire error");
        for (int b = WIRE_OK; b < a; b++) {
            assert_string_not_equal(s, wire_strerror((wire_err_t)b));
        }
    }
    assert_string_equal(wire_strerror((wire_err_t)99), "unknown wire error");
    assert_string_equal(wire_type_name(WIRE_HELLO), "hello");
    assert_string_equal(wire_type_name(WIRE_PEERS_REQ), "peers_req");
    assert_string_equal(wire_type_name(WIRE_ERROR), "error");
    assert_string_equal(wire_type_name(0), "unknown");
    assert_string_equal(wire_type_name(WIRE_DIAL_REQ), "dial_req");
    assert_string_equal(wire_type_name(WIRE_DIAL_BACK), "dial_back");
    assert_string_equal(wire_type_name(WIRE_DIAL_RESULT), "dial_result");
    assert_string_equal(wire_type_name(WIRE_RESERVE), "reserve");
    assert_string_equal(wire_type_name(WIRE_RESERVED), "reserved");
    assert_string_equal(wire_type_name(WIRE_CONNECT), "connect");
    assert_string_equal(wire_type_name(13), "unknown");

    memset(&fx->m, 0xa5, sizeof fx->m);
    wire_init(&fx->m, WIRE_PEERS, 77);
    assert_int_equal(fx->m.version, WIRE_VERSION);
    assert_int_equal(fx->m.type, WIRE_PEERS);
    assert_int_equal(fx->m.request_id, 77);
    assert_int_equal(fx->m.u.peers.n, 0);
    assert_int_equal(fx->m.u.peers.contacts[WIRE_PEERS_MAX - 1].endpoint.s[0], 0);
}

#define WIRE_TEST(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        WIRE_TEST(test_round_trip_hello),
        WIRE_TEST(test_round_trip_small_types),
        WIRE_TEST(test_round_trip_peers),
        WIRE_TEST(test_round_trip_error),
        WIRE_TEST(test_truncated_every_length),
        WIRE_TEST(test_trailing),
        WIRE_TEST(test_version_and_type),
        WIRE_TEST(test_raw_frames_accepted),
        WIRE_TEST(test_over_caps),
        WIRE_TEST(test_frame_size),
        WIRE_TEST(test_network_names),
        WIRE_TEST(test_endpoint_table),
        WIRE_TEST(test_endpoint_lengths),
        WIRE_TEST(test_embedded_nul),
        WIRE_TEST(test_printable_text),
        WIRE_TEST(test_encoder_refusals),
        WIRE_TEST(test_encoder_buffer_size),
        WIRE_TEST(test_doc_examples),
        WIRE_TEST(test_doc_examples_damaged),
        WIRE_TEST(test_dial_vectors),
        WIRE_TEST(test_relay_vectors),
        WIRE_TEST(test_dial_rules),
        WIRE_TEST(test_names_and_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
