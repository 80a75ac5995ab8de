#include "post.h"

#include <sodium.h>
#include <string.h>

#include "bytes.h"
#include "utf8.h"

/* The signed message is the tag followed by every byte before the signature. */
enum { SIGNED_MAX = POST_SIG_TAG_LEN + POST_MAX_SIZE - POST_SIG_SIZE };

const char *
post_strerror(post_err_t err)
{
    switch (err) {
    case POST_OK:
        return "ok";
    case POST_ETRUNCATED:
        return "post is truncated";
    case POST_ETOOLARGE:
        return "post or one of its fields is too large";
    case POST_ETRAILING:
        return "post has bytes after its signature";
    case POST_EVERSION:
        return "unknown post version";
    case POST_EKIND:
        return "unknown post kind";
    case POST_EUTF8:
        return "text is not valid UTF-8 or holds a control character";
    case POST_ESEQ:
        return "bad sequence number or previous-post link";
    case POST_EFIELD:
        return "a field does not fit the post kind";
    case POST_ESIG:
        return "signature does not verify";
    case POST_EBUFSZ:
        return "output buffer too small";
    }
    return "unknown post error";
}

bool
post_kind_valid(uint8_t kind)
{
    return kind >= POST_KIND_POST && kind <= POST_KIND_PROFILE;
}

const char *
post_kind_name(uint8_t kind)
{
    switch (kind) {
    case POST_KIND_POST:
        return "post";
    case POST_KIND_REPLY:
        return "reply";
    case POST_KIND_DELETE:
        return "delete";
    case POST_KIND_PROFILE:
        return "profile";
    default:
        return "unknown";
    }
}

static bool
has_ref(uint8_t kind)
{
    return kind == POST_KIND_REPLY || kind == POST_KIND_DELETE;
}

static bool
is_zero(const uint8_t *p, size_t n)
{
    return sodium_is_zero(p, n) == 1;
}

void
post_init(post_t *p, post_kind_t kind, uint64_t seq, const uint8_t *prev, uint64_t timestamp_ms)
{
    memset(p, 0, sizeof *p);
    p->version = POST_VERSION;
    p->kind = (uint8_t)kind;
    p->seq = seq;
    if (prev != NULL) {
        memcpy(p->prev, prev, POST_ID_SIZE);
    }
    p->timestamp_ms = timestamp_ms;
}

post_err_t
post_text_check(const char *text, size_t len, post_text_t field, utf8_problem_t *detail)
{
    bool name = field == POST_TEXT_NAME;
    utf8_problem_t pr = {.kind = UTF8_OK, .offset = len};
    post_err_t err = POST_OK;
    if (len > (name ? POST_NAME_MAX : POST_BODY_MAX)) {
        err = POST_ETOOLARGE;
    } else if (utf8_check((const uint8_t *)text, len, name ? UTF8_LINE : UTF8_TEXT, &pr) !=
               UTF8_OK) {
        err = POST_EUTF8;
    }
    if (detail != NULL) {
        *detail = pr;
    }
    return err;
}

/* Validates and copies text for a field into dst (max + 1 bytes). */
static post_err_t
set_text(char *dst, const char *text, size_t len, post_text_t field)
{
    post_err_t err = post_text_check(text, len, field, NULL);
    if (err != POST_OK) {
        return err;
    }
    memcpy(dst, text, len);
    dst[len] = '\0';
    return POST_OK;
}

post_err_t
post_set_body(post_t *p, const char *text, size_t len)
{
    post_err_t err = set_text(p->body, text, len, POST_TEXT_BODY);
    if (err == POST_OK) {
        p->body_len = (uint16_t)len;
    }
    return err;
}

post_err_t
post_set_name(post_t *p, const char *text, size_t len)
{
    post_err_t err = set_text(p->name, text, len, POST_TEXT_NAME);
    if (err == POST_OK) {
        p->name_len = (uint8_t)len;
    }
    return err;
}

/* The rules shared by the encoder and the decoder, on a filled-in post_t. */
static post_err_t
check_fields(const post_t *p)
{
    if (p->version != POST_VERSION) {
        return POST_EVERSION;
    }
    if (!post_kind_valid(p->kind)) {
        return POST_EKIND;
    }
    if (p->seq == 0 || (p->seq == 1) != is_zero(p->prev, POST_ID_SIZE)) {
        return POST_ESEQ;
    }
    if (p->name_len > POST_NAME_MAX || p->body_len > POST_BODY_MAX) {
        return POST_ETOOLARGE;
    }
    if (has_ref(p->kind) && is_zero(p->ref, POST_ID_SIZE)) {
        return POST_EFIELD;
    }
    if (p->kind == POST_KIND_DELETE && p->body_len != 0) {
        return POST_EFIELD;
    }
    if (p->kind == POST_KIND_PROFILE && p->name_len == 0) {
        return POST_EFIELD;
    }
    if (!utf8_valid((const uint8_t *)p->body, p->body_len, UTF8_TEXT) ||
        !utf8_valid((const uint8_t *)p->name, p->name_len, UTF8_LINE)) {
        return POST_EUTF8;
    }
    return POST_OK;
}

/* Writes every field before the signature. */
static void
encode_unsigned(const post_t *p, bytes_writer_t *w)
{
    bytes_put_u8(w, p->version);
    bytes_put_u8(w, p->kind);
    bytes_put(w, p->author, KEYS_PUBLIC_SIZE);
    bytes_put_u64(w, p->seq);
    bytes_put(w, p->prev, POST_ID_SIZE);
    bytes_put_u64(w, p->timestamp_ms);
    if (has_ref(p->kind)) {
        bytes_put(w, p->ref, POST_ID_SIZE);
    }
    if (p->kind == POST_KIND_PROFILE) {
        bytes_put_u8(w, p->name_len);
        bytes_put(w, (const uint8_t *)p->name, p->name_len);
    }
    bytes_put_u16(w, p->body_len);
    bytes_put(w, (const uint8_t *)p->body, p->body_len);
}

static size_t
signed_message(uint8_t out[static SIGNED_MAX], const uint8_t *unsigned_bytes, size_t n)
{
    memcpy(out, POST_SIG_TAG, POST_SIG_TAG_LEN);
    memcpy(out + POST_SIG_TAG_LEN, unsigned_bytes, n);
    return POST_SIG_TAG_LEN + n;
}

post_err_t
post_sign(post_t *p, const keys_author_t *k, uint8_t *out, size_t cap, size_t *out_len)
{
    memcpy(p->author, k->pk, KEYS_PUBLIC_SIZE);
    post_err_t err = check_fields(p);
    if (err != POST_OK) {
        return err;
    }
    bytes_writer_t w;
    bytes_writer_init(&w, out, cap);
    encode_unsigned(p, &w);
    if (!bytes_writer_ok(&w) || cap - w.len < POST_SIG_SIZE) {
        return POST_EBUFSZ;
    }
    uint8_t msg[SIGNED_MAX];
    size_t mlen = signed_message(msg, out, w.len);
    uint8_t sig[POST_SIG_SIZE];
    crypto_sign_detached(sig, NULL, msg, mlen, k->sk);
    bytes_put(&w, sig, POST_SIG_SIZE);
    memcpy(p->sig, sig, POST_SIG_SIZE);
    post_id(p->id, out, w.len);
    *out_len = w.len;
    return POST_OK;
}

/* Reads a length-prefixed text field into dst (capacity max + 1). */
static void
read_text(bytes_reader_t *r, size_t len, size_t max, char *dst, bool *too_long)
{
    if (len > max) {
        *too_long = true;
        return;
    }
    bytes_get(r, (uint8_t *)dst, len);
    dst[len] = '\0';
}

static post_err_t
decode_fields(post_t *out, bytes_reader_t *r)
{
    bool too_long = false;
    out->version = bytes_get_u8(r);
    out->kind = bytes_get_u8(r);
    if (!bytes_reader_ok(r)) {
        return POST_ETRUNCATED;
    }
    /* Later fields depend on these two, so an unknown one stops here. */
    if (out->version != POST_VERSION) {
        return POST_EVERSION;
    }
    if (!post_kind_valid(out->kind)) {
        return POST_EKIND;
    }
    bytes_get(r, out->author, KEYS_PUBLIC_SIZE);
    out->seq = bytes_get_u64(r);
    bytes_get(r, out->prev, POST_ID_SIZE);
    out->timestamp_ms = bytes_get_u64(r);
    if (has_ref(out->kind)) {
        bytes_get(r, out->ref, POST_ID_SIZE);
    }
    if (out->kind == POST_KIND_PROFILE) {
        out->name_len = bytes_get_u8(r);
        read_text(r, out->name_len, POST_NAME_MAX, out->name, &too_long);
    }
    out->body_len = bytes_get_u16(r);
    read_text(r, out->body_len, POST_BODY_MAX, out->body, &too_long);
    if (too_long) {
        return POST_ETOOLARGE;
    }
    bytes_get(r, out->sig, POST_SIG_SIZE);
    if (!bytes_reader_ok(r)) {
        return POST_ETRUNCATED;
    }
    if (bytes_remaining(r) != 0) {
        return POST_ETRAILING;
    }
    return check_fields(out);
}

post_err_t
post_decode(post_t *out, const uint8_t *buf, size_t len, post_verify_t verify)
{
    memset(out, 0, sizeof *out);
    if (len > POST_MAX_SIZE) {
        return POST_ETOOLARGE;
    }
    bytes_reader_t r;
    bytes_reader_init(&r, buf, len);
    post_err_t err = decode_fields(out, &r);
    if (err != POST_OK) {
        return err;
    }
    if (verify == POST_VERIFY) {
        uint8_t msg[SIGNED_MAX];
        size_t mlen = signed_message(msg, buf, len - POST_SIG_SIZE);
        if (crypto_sign_verify_detached(out->sig, msg, mlen, out->author) != 0) {
            return POST_ESIG;
        }
    }
    post_id(out->id, buf, len);
    return POST_OK;
}

post_err_t
post_encode(const post_t *p, uint8_t *out, size_t cap, size_t *out_len)
{
    post_err_t err = check_fields(p);
    if (err != POST_OK) {
        return err;
    }
    bytes_writer_t w;
    bytes_writer_init(&w, out, cap);
    encode_unsigned(p, &w);
    bytes_put(&w, p->sig, POST_SIG_SIZE);
    if (!bytes_writer_ok(&w)) {
        return POST_EBUFSZ;
    }
    *out_len = w.len;
    return POST_OK;
}

void
post_id(uint8_t out[static POST_ID_SIZE], const uint8_t *buf, size_t len)
{
    crypto_generichash(out, POST_ID_SIZE, buf, len, NULL, 0);
}
