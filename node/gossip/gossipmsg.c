#include "gossipmsg.h"

#include <string.h>

#include "bytes.h"

enum {
    KEY_SIZE = 32,
    /* Offset of the seq field in an encoded post (post.h). */
    POST_SEQ_OFFSET = 1 + 1 + 32,
};

const char *
gossip_msg_strerror(gossip_msg_err_t err)
{
    switch (err) {
    case GOSSIP_MSG_OK:
        return "ok";
    case GOSSIP_MSG_ETRUNCATED:
        return "gossip message is truncated";
    case GOSSIP_MSG_ETOOLARGE:
        return "gossip message, or a count or length in it, is too large";
    case GOSSIP_MSG_ETRAILING:
        return "gossip message has bytes after its payload";
    case GOSSIP_MSG_EVERSION:
        return "unknown protocol version";
    case GOSSIP_MSG_ETYPE:
        return "not a gossip message type";
    case GOSSIP_MSG_EFIELD:
        return "a gossip message field breaks its rule";
    case GOSSIP_MSG_EBUFSZ:
        return "output buffer too small";
    }
    return "unknown gossip message error";
}

const char *
gossip_msg_type_name(uint8_t type)
{
    switch (type) {
    case GOSSIP_SUBSCRIBE:
        return "subscribe";
    case GOSSIP_POST:
        return "post";
    case GOSSIP_IHAVE:
        return "ihave";
    case GOSSIP_HEADS:
        return "heads";
    case GOSSIP_GET_RANGE:
        return "get_range";
    case GOSSIP_RANGE:
        return "range";
    case GOSSIP_PRUNE:
        return "prune";
    case GOSSIP_GRAFT:
        return "graft";
    case GOSSIP_FORK:
        return "fork";
    default:
        return "unknown";
    }
}

bool
gossip_msg_type_known(uint8_t type)
{
    return type >= GOSSIP_SUBSCRIBE && type <= GOSSIP_FORK;
}

void
gossip_msg_init(gossip_msg_t *m, gossip_type_t type, uint32_t request_id)
{
    memset(m, 0, sizeof *m);
    m->type = (uint8_t)type;
    m->request_id = request_id;
}

void
gossip_ref_get(const uint8_t *refs, size_t i, gossip_ref_t *out)
{
    const uint8_t *r = refs + i * GOSSIP_REF_SIZE;
    memcpy(out->author, r, KEY_SIZE);
    out->seq = bytes_be64_get(r + KEY_SIZE);
    memcpy(out->id, r + KEY_SIZE + 8, POST_ID_SIZE);
}

void
gossip_ref_put(uint8_t out[static GOSSIP_REF_SIZE], const gossip_ref_t *r)
{
    memcpy(out, r->author, KEY_SIZE);
    bytes_be64_put(out + KEY_SIZE, r->seq);
    memcpy(out + KEY_SIZE + 8, r->id, POST_ID_SIZE);
}

int
gossip_post_order(const gossip_bytes_t *a, const gossip_bytes_t *b)
{
    uint64_t sa = bytes_be64_get(a->p + POST_SEQ_OFFSET);
    uint64_t sb = bytes_be64_get(b->p + POST_SEQ_OFFSET);
    if (sa != sb) {
        return sa < sb ? -1 : 1;
    }
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->p, b->p, n);
    if (c != 0) {
        return c;
    }
    return (a->len > b->len) - (a->len < b->len);
}

/* ---- rules shared by the encoder and the decoder ---- */

/* Every count and length against its cap. Run before the field rules so the
 * encoder refuses with the code the decoder would give. */
static bool
post_len_over(const gossip_bytes_t *b)
{
    return b->len > POST_MAX_SIZE;
}

static bool
caps_ok(const gossip_msg_t *m)
{
    switch (m->type) {
    case GOSSIP_SUBSCRIBE:
        return m->u.subscribe.n <= GOSSIP_SUBSCRIBE_MAX;
    case GOSSIP_POST:
        return !post_len_over(&m->u.post);
    case GOSSIP_IHAVE:
        return m->u.refs.n <= GOSSIP_IHAVE_MAX;
    case GOSSIP_HEADS:
        return m->u.refs.n <= GOSSIP_HEADS_MAX;
    case GOSSIP_GET_RANGE:
        return m->u.get_range.max_count <= GOSSIP_RANGE_MAX;
    case GOSSIP_RANGE: {
        if (m->u.range.n > GOSSIP_RANGE_MAX) {
            return false;
        }
        size_t total = 0;
        for (size_t i = 0; i < m->u.range.n; i++) {
            if (post_len_over(&m->u.range.posts[i])) {
                return false;
            }
            total += m->u.range.posts[i].len;
        }
        return total <= GOSSIP_RANGE_BYTES_MAX;
    }
    case GOSSIP_FORK:
        return !post_len_over(&m->u.fork.a) && !post_len_over(&m->u.fork.b);
    default:
        return true;
    }
}

static bool
post_ok(const gossip_bytes_t *b)
{
    return b->len >= POST_MIN_SIZE && b->p != NULL;
}

/* True when each of the n 32-byte keys at p sorts strictly after the one
 * before, at the given stride: so a list has no duplicates and exactly one
 * order. */
static bool
strictly_ascending(const uint8_t *p, size_t n, size_t stride)
{
    for (size_t i = 1; i < n; i++) {
        if (memcmp(p + (i - 1) * stride, p + i * stride, KEY_SIZE) >= 0) {
            return false;
        }
    }
    return true;
}

static bool
all_zero(const uint8_t *p, size_t n)
{
    uint8_t any = 0;
    for (size_t i = 0; i < n; i++) {
        any |= p[i];
    }
    return any == 0;
}

/* IHAVE names posts, so every seq is at least 1. HEADS names heads, and a
 * head of 0 ("I replicate this author and hold none of it") is a head too;
 * it has no post, so its id must be all zeros (one spelling). HEADS lists
 * each author once, in ascending order. */
static bool
refs_ok(const uint8_t *refs, size_t n, bool heads)
{
    if (n == 0 || refs == NULL) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = refs + i * GOSSIP_REF_SIZE;
        uint64_t seq = bytes_be64_get(r + KEY_SIZE);
        if (seq == 0 && (!heads || !all_zero(r + KEY_SIZE + 8, POST_ID_SIZE))) {
            return false;
        }
    }
    return !heads || strictly_ascending(refs, n, GOSSIP_REF_SIZE);
}

/* The rules on field contents; assumes caps_ok. */
static bool
rules_ok(const gossip_msg_t *m)
{
    switch (m->type) {
    case GOSSIP_SUBSCRIBE: {
        uint8_t f = m->u.subscribe.flags;
        size_t n = m->u.subscribe.n;
        /* An empty frame only makes sense as "my set is now empty". */
        if ((f & ~GOSSIP_SUBSCRIBE_FIRST) != 0 || (n == 0 && f == 0)) {
            return false;
        }
        return n == 0 || (m->u.subscribe.authors != NULL &&
                          strictly_ascending(m->u.subscribe.authors, n, KEY_SIZE));
    }
    case GOSSIP_POST:
        return post_ok(&m->u.post);
    case GOSSIP_IHAVE:
        return refs_ok(m->u.refs.refs, m->u.refs.n, false);
    case GOSSIP_HEADS:
        return refs_ok(m->u.refs.refs, m->u.refs.n, true);
    case GOSSIP_GET_RANGE:
        return m->u.get_range.from_seq >= 1 && m->u.get_range.max_count >= 1;
    case GOSSIP_RANGE:
        for (size_t i = 0; i < m->u.range.n; i++) {
            if (!post_ok(&m->u.range.posts[i])) {
                return false;
            }
        }
        return true;
    case GOSSIP_FORK:
        return post_ok(&m->u.fork.a) && post_ok(&m->u.fork.b) &&
               gossip_post_order(&m->u.fork.a, &m->u.fork.b) < 0;
    default:
        return true;
    }
}

static gossip_msg_err_t
check_msg(const gossip_msg_t *m)
{
    if (!gossip_msg_type_known(m->type)) {
        return GOSSIP_MSG_ETYPE;
    }
    if (!caps_ok(m)) {
        return GOSSIP_MSG_ETOOLARGE;
    }
    return rules_ok(m) ? GOSSIP_MSG_OK : GOSSIP_MSG_EFIELD;
}

/* ---- decoder ---- */

/* The reader plus the one fault it cannot see: a claim over its cap, found
 * as soon as the claim is read. Once set, nothing more is read, so a loop
 * over a refused count does nothing. */
typedef struct {
    bytes_reader_t r;
    bool too_large;
    size_t range_bytes; /* post bytes read so far in a RANGE */
} decoder_t;

/* Reads a count of width 1 or 2 bytes and refuses it over max; 0 instead. */
static size_t
read_count(decoder_t *d, size_t width, size_t max)
{
    if (d->too_large) {
        return 0;
    }
    size_t n = width == 1 ? bytes_get_u8(&d->r) : bytes_get_u16(&d->r);
    if (n > max) {
        d->too_large = true;
        return 0;
    }
    return n;
}

/* A post field: u16 length, checked against POST_MAX_SIZE (and, in a RANGE,
 * the running byte total) before its bytes are taken. A length under
 * POST_MIN_SIZE is read through and left for the field rules. */
static void
read_post(decoder_t *d, gossip_bytes_t *out, bool in_range)
{
    size_t n = read_count(d, 2, POST_MAX_SIZE);
    if (d->too_large) {
        return;
    }
    if (in_range) {
        d->range_bytes += n;
        if (d->range_bytes > GOSSIP_RANGE_BYTES_MAX) {
            d->too_large = true;
            return;
        }
    }
    out->len = (uint16_t)n;
    out->p = bytes_get_ref(&d->r, n);
}

static void
decode_fields(decoder_t *d, gossip_msg_t *m)
{
    switch (m->type) {
    case GOSSIP_SUBSCRIBE:
        m->u.subscribe.flags = bytes_get_u8(&d->r);
        m->u.subscribe.n = (uint16_t)read_count(d, 2, GOSSIP_SUBSCRIBE_MAX);
        m->u.subscribe.authors = bytes_get_ref(&d->r, (size_t)m->u.subscribe.n * KEY_SIZE);
        break;
    case GOSSIP_POST:
        read_post(d, &m->u.post, false);
        break;
    case GOSSIP_IHAVE:
        m->u.refs.n = (uint16_t)read_count(d, 1, GOSSIP_IHAVE_MAX);
        m->u.refs.refs = bytes_get_ref(&d->r, (size_t)m->u.refs.n * GOSSIP_REF_SIZE);
        break;
    case GOSSIP_HEADS:
        m->u.refs.n = (uint16_t)read_count(d, 2, GOSSIP_HEADS_MAX);
        m->u.refs.refs = bytes_get_ref(&d->r, (size_t)m->u.refs.n * GOSSIP_REF_SIZE);
        break;
    case GOSSIP_GET_RANGE:
        bytes_get(&d->r, m->u.get_range.author, KEY_SIZE);
        m->u.get_range.from_seq = bytes_get_u64(&d->r);
        m->u.get_range.max_count = (uint8_t)read_count(d, 1, GOSSIP_RANGE_MAX);
        break;
    case GOSSIP_RANGE:
        m->u.range.n = (uint8_t)read_count(d, 1, GOSSIP_RANGE_MAX);
        for (size_t i = 0; i < m->u.range.n && !d->too_large; i++) {
            read_post(d, &m->u.range.posts[i], true);
        }
        break;
    case GOSSIP_PRUNE:
    case GOSSIP_GRAFT:
        bytes_get(&d->r, m->u.author, KEY_SIZE);
        break;
    case GOSSIP_FORK:
        read_post(d, &m->u.fork.a, false);
        read_post(d, &m->u.fork.b, false);
        break;
    default:
        break;
    }
}

gossip_msg_err_t
gossip_msg_decode_payload(gossip_msg_t *out, uint8_t type, uint32_t request_id, const uint8_t *p,
                          size_t len)
{
    gossip_msg_init(out, (gossip_type_t)type, request_id);
    if (!gossip_msg_type_known(type)) {
        return GOSSIP_MSG_ETYPE;
    }
    if (len > GOSSIP_PAYLOAD_MAX) {
        return GOSSIP_MSG_ETOOLARGE;
    }
    decoder_t d = {.too_large = false, .range_bytes = 0};
    bytes_reader_init(&d.r, p, len);
    decode_fields(&d, out);
    if (d.too_large) {
        return GOSSIP_MSG_ETOOLARGE;
    }
    if (!bytes_reader_ok(&d.r)) {
        return GOSSIP_MSG_ETRUNCATED;
    }
    if (!bytes_reader_done(&d.r)) {
        return GOSSIP_MSG_ETRAILING;
    }
    return check_msg(out);
}

gossip_msg_err_t
gossip_msg_decode(gossip_msg_t *out, const uint8_t *buf, size_t len)
{
    gossip_msg_init(out, 0, 0);
    if (len > GOSSIP_FRAME_MAX) {
        return GOSSIP_MSG_ETOOLARGE;
    }
    if (buf == NULL || len < GOSSIP_FRAME_HEADER) {
        return GOSSIP_MSG_ETRUNCATED;
    }
    bytes_reader_t r;
    bytes_reader_init(&r, buf, len);
    uint8_t version = bytes_get_u8(&r);
    out->type = bytes_get_u8(&r);
    out->request_id = bytes_get_u32(&r);
    if (version != GOSSIP_FRAME_VERSION) {
        return GOSSIP_MSG_EVERSION;
    }
    if (!gossip_msg_type_known(out->type)) {
        return GOSSIP_MSG_ETYPE;
    }
    return gossip_msg_decode_payload(out, out->type, out->request_id, buf + GOSSIP_FRAME_HEADER,
                                     len - GOSSIP_FRAME_HEADER);
}

/* ---- encoder ---- */

static void
put_post(bytes_writer_t *w, const gossip_bytes_t *b)
{
    bytes_put_u16(w, b->len);
    bytes_put(w, b->p, b->len);
}

static void
encode_fields(bytes_writer_t *w, const gossip_msg_t *m)
{
    switch (m->type) {
    case GOSSIP_SUBSCRIBE:
        bytes_put_u8(w, m->u.subscribe.flags);
        bytes_put_u16(w, m->u.subscribe.n);
        bytes_put(w, m->u.subscribe.authors, (size_t)m->u.subscribe.n * KEY_SIZE);
        break;
    case GOSSIP_POST:
        put_post(w, &m->u.post);
        break;
    case GOSSIP_IHAVE:
        bytes_put_u8(w, (uint8_t)m->u.refs.n);
        bytes_put(w, m->u.refs.refs, (size_t)m->u.refs.n * GOSSIP_REF_SIZE);
        break;
    case GOSSIP_HEADS:
        bytes_put_u16(w, m->u.refs.n);
        bytes_put(w, m->u.refs.refs, (size_t)m->u.refs.n * GOSSIP_REF_SIZE);
        break;
    case GOSSIP_GET_RANGE:
        bytes_put(w, m->u.get_range.author, KEY_SIZE);
        bytes_put_u64(w, m->u.get_range.from_seq);
        bytes_put_u8(w, m->u.get_range.max_count);
        break;
    case GOSSIP_RANGE:
        bytes_put_u8(w, m->u.range.n);
        for (size_t i = 0; i < m->u.range.n; i++) {
            put_post(w, &m->u.range.posts[i]);
        }
        break;
    case GOSSIP_PRUNE:
    case GOSSIP_GRAFT:
        bytes_put(w, m->u.author, KEY_SIZE);
        break;
    case GOSSIP_FORK:
        put_post(w, &m->u.fork.a);
        put_post(w, &m->u.fork.b);
        break;
    default:
        break;
    }
}

static gossip_msg_err_t
encode(const gossip_msg_t *m, bool header, uint8_t *out, size_t cap, size_t *out_len)
{
    gossip_msg_err_t err = check_msg(m);
    if (err != GOSSIP_MSG_OK) {
        return err;
    }
    bytes_writer_t w;
    bytes_writer_init(&w, out, cap);
    if (header) {
        bytes_put_u8(&w, GOSSIP_FRAME_VERSION);
        bytes_put_u8(&w, m->type);
        bytes_put_u32(&w, m->request_id);
    }
    encode_fields(&w, m);
    if (!bytes_writer_ok(&w)) {
        return GOSSIP_MSG_EBUFSZ;
    }
    *out_len = w.len;
    return GOSSIP_MSG_OK;
}

gossip_msg_err_t
gossip_msg_encode_payload(const gossip_msg_t *m, uint8_t *out, size_t cap, size_t *out_len)
{
    return encode(m, false, out, cap, out_len);
}

gossip_msg_err_t
gossip_msg_encode(const gossip_msg_t *m, uint8_t *out, size_t cap, size_t *out_len)
{
    return encode(m, true, out, cap, out_len);
}
