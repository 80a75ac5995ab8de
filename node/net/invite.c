#include "invite.h"

#include <string.h>

#include "bytes.h"

static bool
endpoint_ok(const char *ep, size_t len)
{
    return len > 0 && len <= ADDR_ENDPOINT_MAX && addr_dialable(ep);
}

invite_err_t
invite_encode(const invite_t *inv, char out[static INVITE_TEXT_MAX])
{
    out[0] = '\0';
    if (inv->n_endpoints == 0 || inv->n_endpoints > INVITE_ENDPOINTS_MAX) {
        return INVITE_ETOOMANY;
    }
    uint8_t buf[INVITE_BYTES_MAX];
    bytes_writer_t w;
    bytes_writer_init(&w, buf, sizeof buf);
    bytes_put_u8(&w, INVITE_VERSION);
    bytes_put_u8(&w, inv->has_author ? INVITE_FLAG_AUTHOR : 0);
    bytes_put(&w, inv->node_key, KEYS_PUBLIC_SIZE);
    if (inv->has_author) {
        bytes_put(&w, inv->author, KEYS_PUBLIC_SIZE);
    }
    bytes_put_u8(&w, (uint8_t)inv->n_endpoints);
    for (size_t i = 0; i < inv->n_endpoints; i++) {
        const char *ep = inv->endpoints[i];
        size_t len = strnlen(ep, ADDR_ENDPOINT_MAX + 1);
        if (!endpoint_ok(ep, len)) {
            return INVITE_EENDPOINT;
        }
        bytes_put_u8(&w, (uint8_t)len);
        bytes_put(&w, (const uint8_t *)ep, len);
    }
    if (!bytes_writer_ok(&w) ||
        keytext_long_encode(out, INVITE_TEXT_MAX, INVITE_PREFIX, buf, w.len) != KEYTEXT_OK) {
        out[0] = '\0';
        return INVITE_EFORMAT; /* cannot happen: the buffers are sized for the caps */
    }
    return INVITE_OK;
}

static invite_err_t
decode_endpoints(bytes_reader_t *r, invite_t *out)
{
    size_t n = bytes_get_u8(r);
    if (!bytes_reader_ok(r) || n == 0 || n > INVITE_ENDPOINTS_MAX) {
        return INVITE_EFORMAT;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = bytes_get_u8(r);
        const uint8_t *p = bytes_get_ref(r, len);
        if (!bytes_reader_ok(r) || len == 0 || len > ADDR_ENDPOINT_MAX) {
            return INVITE_EFORMAT;
        }
        memcpy(out->endpoints[i], p, len);
        out->endpoints[i][len] = '\0';
        /* A NUL inside would cut the endpoint short of its length. */
        if (memchr(p, '\0', len) != NULL || !endpoint_ok(out->endpoints[i], len)) {
            return INVITE_EENDPOINT;
        }
    }
    out->n_endpoints = n;
    return INVITE_OK;
}

static invite_err_t
decode_bytes(const uint8_t *buf, size_t len, invite_t *out)
{
    bytes_reader_t r;
    bytes_reader_init(&r, buf, len);
    uint8_t version = bytes_get_u8(&r);
    if (!bytes_reader_ok(&r)) {
        return INVITE_EFORMAT;
    }
    if (version != INVITE_VERSION) {
        return INVITE_EVERSION;
    }
    uint8_t flags = bytes_get_u8(&r);
    if ((flags & ~INVITE_FLAG_AUTHOR) != 0) {
        return INVITE_EFORMAT;
    }
    bytes_get(&r, out->node_key, KEYS_PUBLIC_SIZE);
    out->has_author = (flags & INVITE_FLAG_AUTHOR) != 0;
    if (out->has_author) {
        bytes_get(&r, out->author, KEYS_PUBLIC_SIZE);
    }
    invite_err_t err = decode_endpoints(&r, out);
    if (err != INVITE_OK) {
        return err;
    }
    return bytes_reader_done(&r) ? INVITE_OK : INVITE_EFORMAT;
}

invite_err_t
invite_decode(const char *text, invite_t *out, keytext_err_t *text_err)
{
    memset(out, 0, sizeof *out);
    uint8_t buf[INVITE_BYTES_MAX];
    size_t len = 0;
    keytext_err_t kerr = keytext_long_decode(buf, sizeof buf, &len, INVITE_PREFIX, text);
    if (text_err != NULL) {
        *text_err = kerr;
    }
    if (kerr != KEYTEXT_OK) {
        return INVITE_ETEXT;
    }
    invite_err_t err = decode_bytes(buf, len, out);
    if (err != INVITE_OK) {
        memset(out, 0, sizeof *out);
    }
    return err;
}

const char *
invite_strerror(invite_err_t err)
{
    switch (err) {
    case INVITE_OK:
        return "no error";
    case INVITE_ETEXT:
        return "not a valid invite text";
    case INVITE_EVERSION:
        return "an invite of a newer version than this program reads (update samizdat)";
    case INVITE_EFORMAT:
        return "the invite's checksum is right but its contents are not an invite";
    case INVITE_EENDPOINT:
        return "the invite names an endpoint nobody can dial";
    case INVITE_ETOOMANY:
        return "an invite holds one to four endpoints";
    }
    return "unknown invite error";
}

const char *
invite_text_strerror(keytext_err_t err)
{
    switch (err) {
    case KEYTEXT_ELENGTH:
        return "it is cut short or too long (copy the whole line)";
    case KEYTEXT_EPREFIX:
        return "it does not start with szi1 (is it a key rather than an invite?)";
    case KEYTEXT_ECHECKSUM:
        return "one or more characters are mistyped (checksum does not match)";
    default:
        return keytext_strerror(err);
    }
}
