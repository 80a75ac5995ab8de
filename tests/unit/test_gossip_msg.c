/* The gossip message codec: round trips at every cap, every refusal of the
 * decoder and the encoder, and the hex examples of docs/PROTOCOL.md section 11.8,
 * recomputed byte for byte. Run with SAMIZDAT_PRINT_VECTORS=1 to print the
 * vector block. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "gossipmsg.h"
#include "keys.h"
#include "post.h"

/* Frames and lists are kept off the stack. */
typedef struct {
    gossip_msg_t m;
    gossip_msg_t d;
    uint8_t buf[GOSSIP_FRAME_MAX + 64];
    uint8_t again[GOSSIP_FRAME_MAX + 64];
    uint8_t list[GOSSIP_SUBSCRIBE_MAX * 32 + GOSSIP_HEADS_MAX * GOSSIP_REF_SIZE];
    uint8_t posts[GOSSIP_RANGE_MAX][POST_MAX_SIZE];
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

/* Bytes that pass for a post as far as the codec looks: a length in range
 * and a seq field (offset 34). */
static void
fake_post(uint8_t *p, size_t len, uint64_t seq, uint8_t fill)
{
    memset(p, fill, len);
    bytes_be64_put(p + 34, seq);
}

/* Encodes fx->m as a frame, decodes it, re-encodes the decoded message and
 * requires the same bytes; checks the frame cap. */
static void
round_trip(fx_t *fx)
{
    assert_int_equal(gossip_msg_encode(&fx->m, fx->buf, GOSSIP_FRAME_MAX, &fx->len), GOSSIP_MSG_OK);
    assert_true(fx->len <= GOSSIP_FRAME_MAX);
    assert_int_equal(gossip_msg_decode(&fx->d, fx->buf, fx->len), GOSSIP_MSG_OK);
    assert_int_equal(fx->d.type, fx->m.type);
    assert_int_equal(fx->d.request_id, fx->m.request_id);
    size_t len = 0;
    assert_int_equal(gossip_msg_encode(&fx->d, fx->again, sizeof fx->again, &len), GOSSIP_MSG_OK);
    assert_int_equal(len, fx->len);
    assert_memory_equal(fx->again, fx->buf, len);
    /* The payload codec alone agrees with the frame codec. */
    gossip_msg_t p;
    assert_int_equal(gossip_msg_decode_payload(&p, fx->buf[1], fx->d.request_id,
                                               fx->buf + GOSSIP_FRAME_HEADER,
                                               fx->len - GOSSIP_FRAME_HEADER),
                     GOSSIP_MSG_OK);
    assert_int_equal(gossip_msg_encode_payload(&p, fx->again, sizeof fx->again, &len),
                     GOSSIP_MSG_OK);
    assert_int_equal(len, fx->len - GOSSIP_FRAME_HEADER);
    assert_memory_equal(fx->again, fx->buf + GOSSIP_FRAME_HEADER, len);
}

static void
ascending_keys(uint8_t *out, size_t n, size_t stride)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t *k = out + i * stride;
        memset(k, 0x5a, 32);
        k[0] = (uint8_t)(i >> 8);
        k[1] = (uint8_t)i;
    }
}

static void
max_subscribe(fx_t *fx)
{
    gossip_msg_init(&fx->m, GOSSIP_SUBSCRIBE, 0);
    fx->m.u.subscribe.flags = GOSSIP_SUBSCRIBE_FIRST;
    fx->m.u.subscribe.n = GOSSIP_SUBSCRIBE_MAX;
    ascending_keys(fx->list, GOSSIP_SUBSCRIBE_MAX, 32);
    fx->m.u.subscribe.authors = fx->list;
}

static void
refs_msg(fx_t *fx, gossip_type_t type, size_t n)
{
    gossip_msg_init(&fx->m, type, 0);
    for (size_t i = 0; i < n; i++) {
        gossip_ref_t r;
        memset(r.author, 0x5a, 32);
        r.author[0] = (uint8_t)(i >> 8);
        r.author[1] = (uint8_t)i;
        r.seq = i + 1;
        memset(r.id, (int)i, 32);
        gossip_ref_put(fx->list + i * GOSSIP_REF_SIZE, &r);
    }
    fx->m.u.refs.n = (uint16_t)n;
    fx->m.u.refs.refs = fx->list;
}

/* A RANGE of n posts of len bytes each, seqs 1..n. */
static void
range_msg(fx_t *fx, size_t n, size_t len)
{
    gossip_msg_init(&fx->m, GOSSIP_RANGE, 0xfffffffeu);
    fx->m.u.range.n = (uint8_t)n;
    for (size_t i = 0; i < n; i++) {
        fake_post(fx->posts[i], len, i + 1, (uint8_t)i);
        fx->m.u.range.posts[i].p = fx->posts[i];
        fx->m.u.range.posts[i].len = (uint16_t)len;
    }
}

static void
fork_msg(fx_t *fx, size_t len_a, size_t len_b)
{
    gossip_msg_init(&fx->m, GOSSIP_FORK, 0);
    fake_post(fx->posts[0], len_a, 9, 0x01);
    fake_post(fx->posts[1], len_b, 9, 0x02);
    fx->m.u.fork.a.p = fx->posts[0];
    fx->m.u.fork.a.len = (uint16_t)len_a;
    fx->m.u.fork.b.p = fx->posts[1];
    fx->m.u.fork.b.len = (uint16_t)len_b;
}

static void
test_round_trips_at_caps(void **state)
{
    fx_t *fx = *state;
    max_subscribe(fx);
    round_trip(fx);
    assert_int_equal(fx->len, 6 + 1 + 2 + 32 * GOSSIP_SUBSCRIBE_MAX);
    assert_int_equal(fx->d.u.subscribe.n, GOSSIP_SUBSCRIBE_MAX);
    /* The empty set, as a replacement. */
    gossip_msg_init(&fx->m, GOSSIP_SUBSCRIBE, 0);
    fx->m.u.subscribe.flags = GOSSIP_SUBSCRIBE_FIRST;
    round_trip(fx);
    assert_int_equal(fx->len, 9);

    gossip_msg_init(&fx->m, GOSSIP_POST, 0);
    fake_post(fx->posts[0], POST_MAX_SIZE, 1, 0x33);
    fx->m.u.post.p = fx->posts[0];
    fx->m.u.post.len = POST_MAX_SIZE;
    round_trip(fx);
    assert_int_equal(fx->len, 6 + 2 + POST_MAX_SIZE);
    fx->m.u.post.len = POST_MIN_SIZE;
    round_trip(fx);

    refs_msg(fx, GOSSIP_IHAVE, GOSSIP_IHAVE_MAX);
    round_trip(fx);
    assert_int_equal(fx->len, 6 + 1 + GOSSIP_REF_SIZE * GOSSIP_IHAVE_MAX);
    gossip_ref_t r;
    gossip_ref_get(fx->d.u.refs.refs, 63, &r);
    assert_int_equal(r.seq, 64);
    assert_int_equal(r.id[0], 63);

    refs_msg(fx, GOSSIP_HEADS, GOSSIP_HEADS_MAX);
    round_trip(fx);
    assert_int_equal(fx->len, 6 + 2 + GOSSIP_REF_SIZE * GOSSIP_HEADS_MAX);

    gossip_msg_init(&fx->m, GOSSIP_GET_RANGE, 0xffffffffu);
    memset(fx->m.u.get_range.author, 0xee, 32);
    fx->m.u.get_range.from_seq = UINT64_MAX;
    fx->m.u.get_range.max_count = GOSSIP_RANGE_MAX;
    round_trip(fx);
    assert_int_equal(fx->len, 6 + 32 + 8 + 1);

    /* 64 posts of 768 bytes: exactly the byte cap. */
    range_msg(fx, GOSSIP_RANGE_MAX, GOSSIP_RANGE_BYTES_MAX / GOSSIP_RANGE_MAX);
    round_trip(fx);
    assert_int_equal(fx->len, 6 + 1 + GOSSIP_RANGE_MAX * 2 + GOSSIP_RANGE_BYTES_MAX);
    assert_int_equal(fx->d.u.range.n, GOSSIP_RANGE_MAX);
    /* The empty answer. */
    range_msg(fx, 0, 0);
    round_trip(fx);
    assert_int_equal(fx->len, 7);

    const gossip_type_t links[] = {GOSSIP_PRUNE, GOSSIP_GRAFT};
    for (size_t i = 0; i < 2; i++) {
        gossip_msg_init(&fx->m, links[i], 0);
        memset(fx->m.u.author, 0x77, 32);
        round_trip(fx);
        assert_int_equal(fx->len, 6 + 32);
    }

    fork_msg(fx, POST_MAX_SIZE, POST_MAX_SIZE);
    round_trip(fx);
    assert_int_equal(fx->len, 6 + 2 * (2 + POST_MAX_SIZE));
    /* Same bytes for as far as the shorter goes: the shorter first. */
    fork_msg(fx, POST_MIN_SIZE, POST_MIN_SIZE + 1);
    memcpy(fx->posts[1], fx->posts[0], POST_MIN_SIZE);
    round_trip(fx);
}

/* The largest message of each type fits the frame, with room to spare. */
static void
test_largest_fit(void **state)
{
    (void)state;
    assert_true(3 + 32 * GOSSIP_SUBSCRIBE_MAX <= GOSSIP_PAYLOAD_MAX);
    assert_true(1 + GOSSIP_REF_SIZE * GOSSIP_IHAVE_MAX <= GOSSIP_PAYLOAD_MAX);
    assert_true(2 + GOSSIP_REF_SIZE * GOSSIP_HEADS_MAX <= GOSSIP_PAYLOAD_MAX);
    assert_true(1 + 2 * GOSSIP_RANGE_MAX + GOSSIP_RANGE_BYTES_MAX <= GOSSIP_PAYLOAD_MAX);
    assert_true(2 * (2 + POST_MAX_SIZE) <= GOSSIP_PAYLOAD_MAX);
    assert_int_equal(GOSSIP_PAYLOAD_MAX, 65536 - 6);
}

static void
test_truncated_every_length(void **state)
{
    fx_t *fx = *state;
    for (int which = 0; which < 6; which++) {
        switch (which) {
        case 0:
            max_subscribe(fx);
            fx->m.u.subscribe.n = 40;
            break;
        case 1:
            refs_msg(fx, GOSSIP_IHAVE, 5);
            break;
        case 2:
            refs_msg(fx, GOSSIP_HEADS, 5);
            break;
        case 3:
            range_msg(fx, 3, POST_MIN_SIZE + 10);
            break;
        case 4:
            fork_msg(fx, POST_MIN_SIZE, POST_MIN_SIZE);
            break;
        default:
            gossip_msg_init(&fx->m, GOSSIP_GET_RANGE, 1);
            fx->m.u.get_range.from_seq = 1;
            fx->m.u.get_range.max_count = 1;
            break;
        }
        assert_int_equal(gossip_msg_encode(&fx->m, fx->buf, GOSSIP_FRAME_MAX, &fx->len),
                         GOSSIP_MSG_OK);
        for (size_t n = 0; n < fx->len; n++) {
            gossip_msg_err_t err = gossip_msg_decode(&fx->d, fx->buf, n);
            if (err != GOSSIP_MSG_ETRUNCATED) {
                fail_msg("type %d cut at %zu of %zu: %s", fx->m.type, n, fx->len,
                         gossip_msg_strerror(err));
            }
        }
        assert_int_equal(gossip_msg_decode(&fx->d, fx->buf, fx->len), GOSSIP_MSG_OK);
        fx->buf[fx->len] = 0;
        assert_int_equal(gossip_msg_decode(&fx->d, fx->buf, fx->len + 1), GOSSIP_MSG_ETRAILING);
    }
    assert_int_equal(gossip_msg_decode(&fx->d, NULL, 0), GOSSIP_MSG_ETRUNCATED);
}

/* ---- hand-built payloads, for what the encoder will not produce ---- */

static gossip_msg_err_t
decode_raw(fx_t *fx, uint8_t type, const bytes_writer_t *w)
{
    assert_true(bytes_writer_ok(w));
    return gossip_msg_decode_payload(&fx->d, type, 5, fx->buf, w->len);
}

static void
put_raw_post(bytes_writer_t *w, size_t len_claim, size_t len_present, uint64_t seq, uint8_t fill)
{
    uint8_t p[POST_MAX_SIZE + 8];
    fake_post(p, sizeof p, seq, fill);
    bytes_put_u16(w, (uint16_t)len_claim);
    bytes_put(w, p, len_present);
}

static void
test_over_caps(void **state)
{
    fx_t *fx = *state;
    bytes_writer_t w;
    uint8_t key[32] = {0};

    /* A count over its cap is refused as such even when the bytes it
     * claims are not there. */
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    bytes_put_u8(&w, GOSSIP_SUBSCRIBE_FIRST);
    bytes_put_u16(&w, GOSSIP_SUBSCRIBE_MAX + 1);
    assert_int_equal(decode_raw(fx, GOSSIP_SUBSCRIBE, &w), GOSSIP_MSG_ETOOLARGE);
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    bytes_put_u8(&w, 0);
    bytes_put_u16(&w, 0xffff);
    assert_int_equal(decode_raw(fx, GOSSIP_SUBSCRIBE, &w), GOSSIP_MSG_ETOOLARGE);

    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    put_raw_post(&w, POST_MAX_SIZE + 1, POST_MAX_SIZE + 1, 1, 0);
    assert_int_equal(decode_raw(fx, GOSSIP_POST, &w), GOSSIP_MSG_ETOOLARGE);
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    put_raw_post(&w, 0xffff, 10, 1, 0);
    assert_int_equal(decode_raw(fx, GOSSIP_POST, &w), GOSSIP_MSG_ETOOLARGE);

    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    bytes_put_u8(&w, GOSSIP_IHAVE_MAX + 1);
    assert_int_equal(decode_raw(fx, GOSSIP_IHAVE, &w), GOSSIP_MSG_ETOOLARGE);
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    bytes_put_u16(&w, GOSSIP_HEADS_MAX + 1);
    assert_int_equal(decode_raw(fx, GOSSIP_HEADS, &w), GOSSIP_MSG_ETOOLARGE);

    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    bytes_put(&w, key, 32);
    bytes_put_u64(&w, 1);
    bytes_put_u8(&w, GOSSIP_RANGE_MAX + 1);
    assert_int_equal(decode_raw(fx, GOSSIP_GET_RANGE, &w), GOSSIP_MSG_ETOOLARGE);

    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    bytes_put_u8(&w, GOSSIP_RANGE_MAX + 1);
    assert_int_equal(decode_raw(fx, GOSSIP_RANGE, &w), GOSSIP_MSG_ETOOLARGE);
    /* 40 posts of the largest size: each fine, together over the byte
     * cap, which is found on the post that passes it (the 40th), before
     * its bytes are read. */
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    bytes_put_u8(&w, 40);
    for (int i = 0; i < 39; i++) {
        put_raw_post(&w, POST_MAX_SIZE, POST_MAX_SIZE, (uint64_t)i + 1, 0);
    }
    bytes_put_u16(&w, POST_MAX_SIZE);
    assert_true(39 * POST_MAX_SIZE <= GOSSIP_RANGE_BYTES_MAX);
    assert_true(40 * POST_MAX_SIZE > GOSSIP_RANGE_BYTES_MAX);
    assert_int_equal(decode_raw(fx, GOSSIP_RANGE, &w), GOSSIP_MSG_ETOOLARGE);
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    bytes_put_u8(&w, 2);
    put_raw_post(&w, POST_MIN_SIZE, POST_MIN_SIZE, 1, 0);
    put_raw_post(&w, POST_MAX_SIZE + 1, 0, 2, 0);
    assert_int_equal(decode_raw(fx, GOSSIP_RANGE, &w), GOSSIP_MSG_ETOOLARGE);

    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    put_raw_post(&w, POST_MIN_SIZE, POST_MIN_SIZE, 1, 0);
    put_raw_post(&w, POST_MAX_SIZE + 1, 0, 1, 1);
    assert_int_equal(decode_raw(fx, GOSSIP_FORK, &w), GOSSIP_MSG_ETOOLARGE);

    /* A whole payload larger than a frame can carry. */
    assert_int_equal(
        gossip_msg_decode_payload(&fx->d, GOSSIP_POST, 0, fx->buf, GOSSIP_PAYLOAD_MAX + 1),
        GOSSIP_MSG_ETOOLARGE);
    memset(fx->buf, 0, GOSSIP_FRAME_MAX + 1);
    fx->buf[0] = GOSSIP_FRAME_VERSION;
    fx->buf[1] = GOSSIP_PRUNE;
    assert_int_equal(gossip_msg_decode(&fx->d, fx->buf, GOSSIP_FRAME_MAX + 1), GOSSIP_MSG_ETOOLARGE);
    /* At the limit the frame is judged on its content. */
    assert_int_equal(gossip_msg_decode(&fx->d, fx->buf, GOSSIP_FRAME_MAX), GOSSIP_MSG_ETRAILING);
}

static void
test_field_rules(void **state)
{
    fx_t *fx = *state;
    bytes_writer_t w;
    uint8_t a[32];
    uint8_t b[32];
    memset(a, 0x10, 32);
    memset(b, 0x20, 32);

    /* SUBSCRIBE: unknown flags, empty continuation, order and duplicates. */
    const uint8_t flags[] = {0x02, 0x80, 0x03};
    for (size_t i = 0; i < sizeof flags; i++) {
        bytes_writer_init(&w, fx->buf, sizeof fx->buf);
        bytes_put_u8(&w, flags[i]);
        bytes_put_u16(&w, 1);
        bytes_put(&w, a, 32);
        assert_int_equal(decode_raw(fx, GOSSIP_SUBSCRIBE, &w), GOSSIP_MSG_EFIELD);
    }
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    bytes_put_u8(&w, 0);
    bytes_put_u16(&w, 0);
    assert_int_equal(decode_raw(fx, GOSSIP_SUBSCRIBE, &w), GOSSIP_MSG_EFIELD);
    const uint8_t *orders[][2] = {{b, a}, {a, a}};
    for (size_t i = 0; i < 2; i++) {
        bytes_writer_init(&w, fx->buf, sizeof fx->buf);
        bytes_put_u8(&w, 0);
        bytes_put_u16(&w, 2);
        bytes_put(&w, orders[i][0], 32);
        bytes_put(&w, orders[i][1], 32);
        assert_int_equal(decode_raw(fx, GOSSIP_SUBSCRIBE, &w), GOSSIP_MSG_EFIELD);
    }
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    bytes_put_u8(&w, 0);
    bytes_put_u16(&w, 2);
    bytes_put(&w, a, 32);
    bytes_put(&w, b, 32);
    assert_int_equal(decode_raw(fx, GOSSIP_SUBSCRIBE, &w), GOSSIP_MSG_OK);

    /* A post shorter than the smallest post. */
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    put_raw_post(&w, POST_MIN_SIZE - 1, POST_MIN_SIZE - 1, 1, 0);
    assert_int_equal(decode_raw(fx, GOSSIP_POST, &w), GOSSIP_MSG_EFIELD);
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    put_raw_post(&w, 0, 0, 1, 0);
    assert_int_equal(decode_raw(fx, GOSSIP_POST, &w), GOSSIP_MSG_EFIELD);
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    bytes_put_u8(&w, 1);
    put_raw_post(&w, 100, 100, 1, 0);
    assert_int_equal(decode_raw(fx, GOSSIP_RANGE, &w), GOSSIP_MSG_EFIELD);

    /* IHAVE and HEADS: empty, seq 0; HEADS out of order. */
    gossip_ref_t r = {.seq = 1};
    memcpy(r.author, a, 32);
    uint8_t rec[GOSSIP_REF_SIZE];
    const uint8_t types[] = {GOSSIP_IHAVE, GOSSIP_HEADS};
    for (size_t t = 0; t < 2; t++) {
        bytes_writer_init(&w, fx->buf, sizeof fx->buf);
        t == 0 ? bytes_put_u8(&w, 0) : bytes_put_u16(&w, 0);
        assert_int_equal(decode_raw(fx, types[t], &w), GOSSIP_MSG_EFIELD);
        /* seq 0: no post, so never in an IHAVE; in HEADS "none held", with
         * an all-zero id and no other spelling. */
        for (int zero_id = 0; zero_id < 2; zero_id++) {
            bytes_writer_init(&w, fx->buf, sizeof fx->buf);
            t == 0 ? bytes_put_u8(&w, 1) : bytes_put_u16(&w, 1);
            r.seq = 0;
            memset(r.id, zero_id ? 0 : 0x01, 32);
            gossip_ref_put(rec, &r);
            bytes_put(&w, rec, sizeof rec);
            gossip_msg_err_t want = (t == 1 && zero_id) ? GOSSIP_MSG_OK : GOSSIP_MSG_EFIELD;
            assert_int_equal(decode_raw(fx, types[t], &w), want);
        }
        /* Two refs of one author: fine in an IHAVE (two posts), not in
         * HEADS (one head per author). */
        bytes_writer_init(&w, fx->buf, sizeof fx->buf);
        t == 0 ? bytes_put_u8(&w, 2) : bytes_put_u16(&w, 2);
        r.seq = 5;
        gossip_ref_put(rec, &r);
        bytes_put(&w, rec, sizeof rec);
        r.seq = 6;
        gossip_ref_put(rec, &r);
        bytes_put(&w, rec, sizeof rec);
        assert_int_equal(decode_raw(fx, types[t], &w), t == 0 ? GOSSIP_MSG_OK : GOSSIP_MSG_EFIELD);
    }

    /* GET_RANGE from seq 0, or for nothing. */
    for (int i = 0; i < 2; i++) {
        bytes_writer_init(&w, fx->buf, sizeof fx->buf);
        bytes_put(&w, a, 32);
        bytes_put_u64(&w, i == 0 ? 0 : 1);
        bytes_put_u8(&w, i == 0 ? 1 : 0);
        assert_int_equal(decode_raw(fx, GOSSIP_GET_RANGE, &w), GOSSIP_MSG_EFIELD);
    }

    /* FORK: the same post twice, the wrong order (by seq, then bytes). */
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    put_raw_post(&w, POST_MIN_SIZE, POST_MIN_SIZE, 3, 0x40);
    put_raw_post(&w, POST_MIN_SIZE, POST_MIN_SIZE, 3, 0x40);
    assert_int_equal(decode_raw(fx, GOSSIP_FORK, &w), GOSSIP_MSG_EFIELD);
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    put_raw_post(&w, POST_MIN_SIZE, POST_MIN_SIZE, 3, 0x41);
    put_raw_post(&w, POST_MIN_SIZE, POST_MIN_SIZE, 3, 0x40);
    assert_int_equal(decode_raw(fx, GOSSIP_FORK, &w), GOSSIP_MSG_EFIELD);
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    put_raw_post(&w, POST_MIN_SIZE, POST_MIN_SIZE, 4, 0x00);
    put_raw_post(&w, POST_MIN_SIZE, POST_MIN_SIZE, 3, 0xff);
    assert_int_equal(decode_raw(fx, GOSSIP_FORK, &w), GOSSIP_MSG_EFIELD);
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    put_raw_post(&w, POST_MIN_SIZE, POST_MIN_SIZE, 3, 0xff);
    put_raw_post(&w, POST_MIN_SIZE, POST_MIN_SIZE, 4, 0x00);
    assert_int_equal(decode_raw(fx, GOSSIP_FORK, &w), GOSSIP_MSG_OK);
    bytes_writer_init(&w, fx->buf, sizeof fx->buf);
    put_raw_post(&w, POST_MIN_SIZE, POST_MIN_SIZE, 3, 0x40);
    put_raw_post(&w, 20, 20, 3, 0x41);
    assert_int_equal(decode_raw(fx, GOSSIP_FORK, &w), GOSSIP_MSG_EFIELD);
}

static void
test_version_and_type(void **state)
{
    fx_t *fx = *state;
    gossip_msg_init(&fx->m, GOSSIP_PRUNE, 0xdeadbeefu);
    assert_int_equal(gossip_msg_encode(&fx->m, fx->buf, GOSSIP_FRAME_MAX, &fx->len), GOSSIP_MSG_OK);
    const uint8_t versions[] = {0, 2, 255};
    for (size_t i = 0; i < sizeof versions; i++) {
        fx->buf[0] = versions[i];
        assert_int_equal(gossip_msg_decode(&fx->d, fx->buf, fx->len), GOSSIP_MSG_EVERSION);
        assert_int_equal(fx->d.type, GOSSIP_PRUNE);
        assert_int_equal(fx->d.request_id, 0xdeadbeefu);
    }
    fx->buf[0] = GOSSIP_FRAME_VERSION;
    /* Wire types, the reserved rest of the gossip range, and beyond. */
    const uint8_t types[] = {0x00, 0x01, 0x06, 0x1f, 0x29, 0x2f, 0x30, 0xff};
    for (size_t i = 0; i < sizeof types; i++) {
        fx->buf[1] = types[i];
        assert_int_equal(gossip_msg_decode(&fx->d, fx->buf, fx->len), GOSSIP_MSG_ETYPE);
        assert_int_equal(fx->d.type, types[i]);
        assert_int_equal(fx->d.request_id, 0xdeadbeefu);
        assert_int_equal(gossip_msg_decode_payload(&fx->d, types[i], 0, fx->buf, 0),
                         GOSSIP_MSG_ETYPE);
        assert_false(gossip_msg_type_known(types[i]));
        assert_string_equal(gossip_msg_type_name(types[i]), "unknown");
    }
    for (uint8_t t = GOSSIP_SUBSCRIBE; t <= GOSSIP_FORK; t++) {
        assert_true(gossip_msg_type_known(t));
        assert_string_not_equal(gossip_msg_type_name(t), "unknown");
    }
    const uint8_t tiny[] = {1, GOSSIP_PRUNE, 0, 0, 0};
    assert_int_equal(gossip_msg_decode(&fx->d, tiny, sizeof tiny), GOSSIP_MSG_ETRUNCATED);
}

static void
test_encoder_refuses(void **state)
{
    fx_t *fx = *state;
    size_t len = 12345;
    /* Each refusal leaves *out_len alone. */
    max_subscribe(fx);
    fx->m.u.subscribe.n = GOSSIP_SUBSCRIBE_MAX + 1;
    assert_int_equal(gossip_msg_encode(&fx->m, fx->buf, GOSSIP_FRAME_MAX, &len),
                     GOSSIP_MSG_ETOOLARGE);
    max_subscribe(fx);
    memcpy(fx->list + 32, fx->list, 32);
    assert_int_equal(gossip_msg_encode(&fx->m, fx->buf, GOSSIP_FRAME_MAX, &len), GOSSIP_MSG_EFIELD);
    refs_msg(fx, GOSSIP_IHAVE, GOSSIP_IHAVE_MAX + 1);
    assert_int_equal(gossip_msg_encode(&fx->m, fx->buf, GOSSIP_FRAME_MAX, &len),
                     GOSSIP_MSG_ETOOLARGE);
    range_msg(fx, GOSSIP_RANGE_MAX, GOSSIP_RANGE_BYTES_MAX / GOSSIP_RANGE_MAX + 1);
    assert_int_equal(gossip_msg_encode(&fx->m, fx->buf, GOSSIP_FRAME_MAX, &len),
                     GOSSIP_MSG_ETOOLARGE);
    fork_msg(fx, POST_MIN_SIZE, POST_MIN_SIZE);
    fx->m.u.fork.b = fx->m.u.fork.a;
    assert_int_equal(gossip_msg_encode(&fx->m, fx->buf, GOSSIP_FRAME_MAX, &len), GOSSIP_MSG_EFIELD);
    gossip_msg_init(&fx->m, 0x29, 0);
    assert_int_equal(gossip_msg_encode(&fx->m, fx->buf, GOSSIP_FRAME_MAX, &len), GOSSIP_MSG_ETYPE);
    assert_int_equal(len, 12345);

    /* Too small a buffer: nothing is written past it. */
    refs_msg(fx, GOSSIP_HEADS, 3);
    size_t need = 6 + 2 + 3 * GOSSIP_REF_SIZE;
    for (size_t cap = 0; cap < need; cap++) {
        memset(fx->buf, 0xcc, need + 1);
        assert_int_equal(gossip_msg_encode(&fx->m, fx->buf, cap, &len), GOSSIP_MSG_EBUFSZ);
        for (size_t i = cap; i < need + 1; i++) {
            assert_int_equal(fx->buf[i], 0xcc);
        }
    }
    assert_int_equal(len, 12345);
    assert_int_equal(gossip_msg_encode(&fx->m, fx->buf, need, &len), GOSSIP_MSG_OK);
    assert_int_equal(len, need);
    for (int e = GOSSIP_MSG_OK; e <= GOSSIP_MSG_EBUFSZ; e++) {
        assert_string_not_equal(gossip_msg_strerror((gossip_msg_err_t)e),
                                "unknown gossip message error");
    }
}

/* ---- the examples of docs/PROTOCOL.md section 11.8 ---- */

enum { VEC_MAX = 16, VEC_HEX_MAX = 2 * 4096 + 1 };

typedef struct {
    char name[32];
    char hex[VEC_HEX_MAX];
} vec_t;

typedef struct {
    vec_t v[VEC_MAX];
    int n;
} vecs_t;

typedef struct {
    uint8_t post[5][POST_MAX_SIZE];
    size_t len[5];
    uint8_t id[5][32];
    keys_author_t k;
} inputs_t;

static void
sign_input(inputs_t *in, int i, post_kind_t kind, uint64_t seq, const uint8_t *prev, uint64_t ts,
           const char *name, const char *body)
{
    static post_t p;
    post_init(&p, kind, seq, prev, ts);
    if (kind == POST_KIND_REPLY) {
        memcpy(p.ref, in->id[0], 32);
    }
    if (name != NULL) {
        assert_int_equal(post_set_name(&p, name, strlen(name)), POST_OK);
    }
    assert_int_equal(post_set_body(&p, body, strlen(body)), POST_OK);
    assert_int_equal(post_sign(&p, &in->k, in->post[i], POST_MAX_SIZE, &in->len[i]), POST_OK);
    memcpy(in->id[i], p.id, 32);
}

/* post1..post3 of docs/PROTOCOL.md section 9, and post1b: another seq 1. */
static void
make_inputs(inputs_t *in)
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t)i;
    }
    keys_author_from_seed(&in->k, seed);
    sign_input(in, 0, POST_KIND_POST, 1, NULL, 1700000000000ull, NULL, "hello, samizdat");
    const char *b2 = "a reply \xe2\x80\x94 with UTF-8 \xe2\x9c\x93\nand a second line";
    sign_input(in, 1, POST_KIND_REPLY, 2, in->id[0], 1700000060000ull, NULL, b2);
    sign_input(in, 2, POST_KIND_PROFILE, 3, in->id[1], 1700000120000ull, "Alice",
               "writes about radios");
    sign_input(in, 3, POST_KIND_POST, 1, NULL, 1700000000001ull, NULL, "hello, samizdat!");
}

static void
add_vec(vecs_t *vs, const char *name, const gossip_msg_t *m)
{
    static uint8_t frame[GOSSIP_FRAME_MAX];
    size_t len = 0;
    assert_int_equal(gossip_msg_encode(m, frame, sizeof frame, &len), GOSSIP_MSG_OK);
    assert_true(vs->n < VEC_MAX && 2 * len < VEC_HEX_MAX);
    snprintf(vs->v[vs->n].name, sizeof vs->v[vs->n].name, "%s", name);
    bytes_to_hex(vs->v[vs->n].hex, frame, len);
    vs->n++;
}

static gossip_bytes_t
bytes_of(const inputs_t *in, int i)
{
    gossip_bytes_t b = {.p = in->post[i], .len = (uint16_t)in->len[i]};
    return b;
}

static void
compute_vectors(vecs_t *vs)
{
    static inputs_t in;
    make_inputs(&in);
    static gossip_msg_t m;
    uint8_t list[2 * GOSSIP_REF_SIZE];

    uint8_t authors[64];
    memcpy(authors, in.k.pk, 32);
    memset(authors + 32, 0xbb, 32);
    gossip_msg_init(&m, GOSSIP_SUBSCRIBE, 0);
    m.u.subscribe.flags = GOSSIP_SUBSCRIBE_FIRST;
    m.u.subscribe.n = 2;
    m.u.subscribe.authors = authors;
    add_vec(vs, "subscribe", &m);

    gossip_msg_init(&m, GOSSIP_POST, 0);
    m.u.post = bytes_of(&in, 0);
    add_vec(vs, "post", &m);

    gossip_ref_t r;
    memcpy(r.author, in.k.pk, 32);
    for (int i = 0; i < 2; i++) {
        r.seq = (uint64_t)i + 2;
        memcpy(r.id, in.id[i + 1], 32);
        gossip_ref_put(list + i * GOSSIP_REF_SIZE, &r);
    }
    gossip_msg_init(&m, GOSSIP_IHAVE, 0);
    m.u.refs.n = 2;
    m.u.refs.refs = list;
    add_vec(vs, "ihave", &m);

    gossip_msg_init(&m, GOSSIP_HEADS, 0);
    m.u.refs.n = 1;
    m.u.refs.refs = list + GOSSIP_REF_SIZE; /* (author, 3, post3's id) */
    add_vec(vs, "heads", &m);

    gossip_msg_init(&m, GOSSIP_GET_RANGE, 7);
    memcpy(m.u.get_range.author, in.k.pk, 32);
    m.u.get_range.from_seq = 2;
    m.u.get_range.max_count = 64;
    add_vec(vs, "get_range", &m);

    gossip_msg_init(&m, GOSSIP_RANGE, 7);
    m.u.range.n = 2;
    m.u.range.posts[0] = bytes_of(&in, 1);
    m.u.range.posts[1] = bytes_of(&in, 2);
    add_vec(vs, "range", &m);

    gossip_msg_init(&m, GOSSIP_PRUNE, 0);
    memcpy(m.u.author, in.k.pk, 32);
    add_vec(vs, "prune", &m);
    m.type = GOSSIP_GRAFT;
    add_vec(vs, "graft", &m);

    gossip_msg_init(&m, GOSSIP_FORK, 0);
    m.u.fork.a = bytes_of(&in, 0);
    m.u.fork.b = bytes_of(&in, 3);
    if (gossip_post_order(&m.u.fork.a, &m.u.fork.b) > 0) {
        m.u.fork.a = bytes_of(&in, 3);
        m.u.fork.b = bytes_of(&in, 0);
    }
    add_vec(vs, "fork", &m);
}

static void
add_cb(void *ud, const char *name, const char *hex)
{
    vecs_t *vs = ud;
    assert_true(vs->n < VEC_MAX);
    assert_true(strlen(name) < sizeof vs->v[0].name && strlen(hex) < VEC_HEX_MAX);
    snprintf(vs->v[vs->n].name, sizeof vs->v[vs->n].name, "%s", name);
    snprintf(vs->v[vs->n].hex, sizeof vs->v[vs->n].hex, "%s", hex);
    vs->n++;
}

/* Reads the ```gossip-vectors block: "name hex" lines, where a line that
 * starts with spaces continues the hex of the line before. */
static void
parse_doc(vecs_t *vs, const char *doc)
{
    tu_doc_vectors(doc, "gossip-vectors", add_cb, vs);
}

static void
load_doc(vecs_t *doc)
{
    char *text = tu_read_file(SAMIZDAT_SOURCE_DIR "/docs/PROTOCOL.md", NULL);
    assert_non_null(text);
    parse_doc(doc, text);
    free(text);
}

static void
test_doc_vectors(void **state)
{
    (void)state;
    static vecs_t want, doc;
    memset(&want, 0, sizeof want);
    memset(&doc, 0, sizeof doc);
    compute_vectors(&want);
    const char *print = getenv("SAMIZDAT_PRINT_VECTORS");
    if (print != NULL && print[0] == '1') {
        for (int i = 0; i < want.n; i++) {
            const char *h = want.v[i].hex;
            size_t n = strlen(h);
            printf("%-10s", want.v[i].name);
            for (size_t off = 0; off < n; off += 64) {
                printf("%s%.*s\n", off ? "          " : "", (int)(n - off < 64 ? n - off : 64),
                       h + off);
            }
        }
    }
    load_doc(&doc);
    assert_int_equal(doc.n, want.n);
    for (int i = 0; i < want.n; i++) {
        if (strcmp(doc.v[i].name, want.v[i].name) != 0 ||
            strcmp(doc.v[i].hex, want.v[i].hex) != 0) {
            fail_msg("vector %s: doc has %s %s, computed %s", want.v[i].name, doc.v[i].name,
                     doc.v[i].hex, want.v[i].hex);
        }
    }
}

/* Each example decodes on its own and re-encodes to the same bytes; the
 * ones with posts hold posts that verify. */
static void
test_doc_vectors_decode(void **state)
{
    fx_t *fx = *state;
    static vecs_t doc;
    memset(&doc, 0, sizeof doc);
    load_doc(&doc);
    assert_int_equal(doc.n, 9);
    for (int i = 0; i < doc.n; i++) {
        size_t len = strlen(doc.v[i].hex) / 2;
        assert_true(bytes_from_hex(fx->buf, len, doc.v[i].hex));
        assert_int_equal(gossip_msg_decode(&fx->d, fx->buf, len), GOSSIP_MSG_OK);
        assert_string_equal(gossip_msg_type_name(fx->d.type), doc.v[i].name);
        size_t n = 0;
        assert_int_equal(gossip_msg_encode(&fx->d, fx->again, sizeof fx->again, &n), GOSSIP_MSG_OK);
        assert_int_equal(n, len);
        assert_memory_equal(fx->again, fx->buf, len);
        static post_t p;
        if (fx->d.type == GOSSIP_POST) {
            assert_int_equal(post_decode(&p, fx->d.u.post.p, fx->d.u.post.len, POST_VERIFY),
                             POST_OK);
        }
        if (fx->d.type == GOSSIP_FORK) {
            static post_t q;
            assert_int_equal(post_decode(&p, fx->d.u.fork.a.p, fx->d.u.fork.a.len, POST_VERIFY),
                             POST_OK);
            assert_int_equal(post_decode(&q, fx->d.u.fork.b.p, fx->d.u.fork.b.len, POST_VERIFY),
                             POST_OK);
            assert_int_equal(p.seq, q.seq);
            assert_memory_not_equal(p.id, q.id, 32);
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
        cmocka_unit_test_setup_teardown(test_round_trips_at_caps, fx_setup, fx_teardown),
        cmocka_unit_test(test_largest_fit),
        cmocka_unit_test_setup_teardown(test_truncated_every_length, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_over_caps, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_field_rules, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_version_and_type, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_encoder_refuses, fx_setup, fx_teardown),
        cmocka_unit_test(test_doc_vectors),
        cmocka_unit_test_setup_teardown(test_doc_vectors_decode, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
