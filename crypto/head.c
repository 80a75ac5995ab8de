#include "head.h"

#include <sodium.h>
#include <string.h>

#include "bytes.h"

/* The signed message is the tag followed by every byte before the signature. */
enum { SIGNED_MAX = HEAD_SIG_TAG_LEN + HEAD_SIGNED_SIZE };

const char *
head_strerror(head_err_t err)
{
    switch (err) {
    case HEAD_OK:
        return "ok";
    case HEAD_ETRUNCATED:
        return "head record is truncated";
    case HEAD_ETRAILING:
        return "head record has bytes after its signature";
    case HEAD_EVERSION:
        return "unknown head record version";
    case HEAD_EFIELD:
        return "head record has seq 0 or an empty post id";
    case HEAD_ESIG:
        return "head record signature does not verify";
    case HEAD_EBUFSZ:
        return "output buffer too small";
    }
    return "unknown head error";
}

void
head_init(head_t *h, uint64_t seq, const uint8_t post_id[static HEAD_ID_SIZE],
          uint64_t timestamp_ms)
{
    memset(h, 0, sizeof *h);
    h->version = HEAD_VERSION;
    h->seq = seq;
    memcpy(h->post_id, post_id, HEAD_ID_SIZE);
    h->timestamp_ms = timestamp_ms;
}

/* The rules shared by the encoder and the decoder. */
static head_err_t
check_fields(const head_t *h)
{
    if (h->version != HEAD_VERSION) {
        return HEAD_EVERSION;
    }
    /* A feed's first post has seq 1, so seq 0 names no post; an all-zero
     * id is what the post encoding uses for "no post". */
    if (h->seq == 0 || sodium_is_zero(h->post_id, HEAD_ID_SIZE) == 1) {
        return HEAD_EFIELD;
    }
    return HEAD_OK;
}

static void
encode_unsigned(const head_t *h, bytes_writer_t *w)
{
    bytes_put_u8(w, h->version);
    bytes_put(w, h->author, KEYS_PUBLIC_SIZE);
    bytes_put_u64(w, h->seq);
    bytes_put(w, h->post_id, HEAD_ID_SIZE);
    bytes_put_u64(w, h->timestamp_ms);
}

static void
signed_message(uint8_t out[static SIGNED_MAX],
               const uint8_t unsigned_bytes[static HEAD_SIGNED_SIZE])
{
    memcpy(out, HEAD_SIG_TAG, HEAD_SIG_TAG_LEN);
    memcpy(out + HEAD_SIG_TAG_LEN, unsigned_bytes, HEAD_SIGNED_SIZE);
}

head_err_t
head_sign(head_t *h, const keys_author_t *k, uint8_t *out, size_t cap, size_t *out_len)
{
    memcpy(h->author, k->pk, KEYS_PUBLIC_SIZE);
    head_err_t err = check_fields(h);
    if (err != HEAD_OK) {
        return err;
    }
    if (out == NULL || cap < HEAD_SIZE) {
        return HEAD_EBUFSZ;
    }
    bytes_writer_t w;
    bytes_writer_init(&w, out, cap);
    encode_unsigned(h, &w);
    uint8_t msg[SIGNED_MAX];
    signed_message(msg, out);
    uint8_t sig[HEAD_SIG_SIZE];
    crypto_sign_detached(sig, NULL, msg, sizeof msg, k->sk);
    bytes_put(&w, sig, HEAD_SIG_SIZE);
    memcpy(h->sig, sig, HEAD_SIG_SIZE);
    *out_len = w.len;
    return HEAD_OK;
}

static head_err_t
decode(head_t *out, const uint8_t *buf, size_t len)
{
    memset(out, 0, sizeof *out);
    bytes_reader_t r;
    bytes_reader_init(&r, buf, len);
    out->version = bytes_get_u8(&r);
    if (!bytes_reader_ok(&r)) {
        return HEAD_ETRUNCATED;
    }
    /* A later version may lay out its fields differently. */
    if (out->version != HEAD_VERSION) {
        return HEAD_EVERSION;
    }
    bytes_get(&r, out->author, KEYS_PUBLIC_SIZE);
    out->seq = bytes_get_u64(&r);
    bytes_get(&r, out->post_id, HEAD_ID_SIZE);
    out->timestamp_ms = bytes_get_u64(&r);
    bytes_get(&r, out->sig, HEAD_SIG_SIZE);
    if (!bytes_reader_ok(&r)) {
        return HEAD_ETRUNCATED;
    }
    if (!bytes_reader_done(&r)) {
        return HEAD_ETRAILING;
    }
    return check_fields(out);
}

head_err_t
head_decode_unverified(head_t *out, const uint8_t *buf, size_t len)
{
    return decode(out, buf, len);
}

head_err_t
head_decode(head_t *out, const uint8_t *buf, size_t len)
{
    head_err_t err = decode(out, buf, len);
    if (err != HEAD_OK) {
        return err;
    }
    uint8_t msg[SIGNED_MAX];
    signed_message(msg, buf);
    if (crypto_sign_verify_detached(out->sig, msg, sizeof msg, out->author) != 0) {
        return HEAD_ESIG;
    }
    return HEAD_OK;
}

head_err_t
head_encode(const head_t *h, uint8_t *out, size_t cap, size_t *out_len)
{
    head_err_t err = check_fields(h);
    if (err != HEAD_OK) {
        return err;
    }
    bytes_writer_t w;
    bytes_writer_init(&w, out, cap);
    encode_unsigned(h, &w);
    bytes_put(&w, h->sig, HEAD_SIG_SIZE);
    if (!bytes_writer_ok(&w)) {
        return HEAD_EBUFSZ;
    }
    *out_len = w.len;
    return HEAD_OK;
}
