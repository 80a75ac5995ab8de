#include "dhtmsg.h"

#include <string.h>

#include "bytes.h"
#include "head.h"

_Static_assert((int)DHT_HEAD_MAX == (int)HEAD_SIZE, "a message carries exactly one head record");
_Static_assert(DHT_LARGEST_PAYLOAD <= DHT_PAYLOAD_MAX, "every message fits in one frame");
_Static_assert(DHT_PROVIDERS_MAX <= 255 && DHT_NODES_MAX <= 255, "counts are one byte");
_Static_assert(DHT_ENDPOINT_MAX <= 255 && DHT_ERROR_TEXT_MAX <= 255, "lengths are one byte");

const char *
dht_msg_strerror(dht_msg_err_t err)
{
    switch (err) {
    case DHT_MSG_OK:
        return "ok";
    case DHT_MSG_ETRUNCATED:
        return "dht message is truncated";
    case DHT_MSG_ETOOLARGE:
        return "dht message, or a count or length in it, is too large";
    case DHT_MSG_ETRAILING:
        return "dht message has bytes after its payload";
    case DHT_MSG_ETYPE:
        return "not a dht message type";
    case DHT_MSG_EFIELD:
        return "a field of the dht message breaks its rule";
    case DHT_MSG_EBUFSZ:
        return "output buffer too small";
    }
    return "unknown dht message error";
}

const char *
dht_msg_type_name(uint8_t type)
{
    switch (type) {
    case DHT_MSG_PING:
        return "ping";
    case DHT_MSG_PONG:
        return "pong";
    case DHT_MSG_FIND_NODE:
        return "find_node";
    case DHT_MSG_NODES:
        return "nodes";
    case DHT_MSG_ANNOUNCE:
        return "announce";
    case DHT_MSG_ACK:
        return "ack";
    case DHT_MSG_GET_PROVIDERS:
        return "get_providers";
    case DHT_MSG_PROVIDERS:
        return "providers";
    case DHT_MSG_PUT_HEAD:
        return "put_head";
    case DHT_MSG_GET_HEAD:
        return "get_head";
    case DHT_MSG_HEAD:
        return "head";
    case DHT_MSG_ERROR:
        return "error";
    default:
        return "unknown";
    }
}

bool
dht_msg_type_known(uint8_t type)
{
    return type >= DHT_MSG_TYPE_FIRST && type <= DHT_MSG_TYPE_LAST;
}

bool
dht_msg_is_request(uint8_t type)
{
    switch (type) {
    case DHT_MSG_PING:
    case DHT_MSG_FIND_NODE:
    case DHT_MSG_ANNOUNCE:
    case DHT_MSG_GET_PROVIDERS:
    case DHT_MSG_PUT_HEAD:
    case DHT_MSG_GET_HEAD:
        return true;
    default:
        return false;
    }
}

void
dht_msg_init(dht_msg_t *m, dht_msg_type_t type, uint32_t rid)
{
    memset(m, 0, sizeof *m);
    m->type = (uint8_t)type;
    m->rid = rid;
}

/* ---- rules shared by the encoder and the decoder ---- */

static bool
chars_in(const char *s, size_t n, unsigned char lo, unsigned char hi)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < lo || c > hi) {
            return false;
        }
    }
    return true;
}

bool
dht_msg_endpoint_ok(const char *s)
{
    if (s == NULL) {
        return false;
    }
    size_t n = strnlen(s, DHT_ENDPOINT_MAX + 1);
    /* Graphic ASCII: no space, no control byte, no NUL inside. */
    return n >= 1 && n <= DHT_ENDPOINT_MAX && chars_in(s, n, 0x21, 0x7e);
}

static bool
head_rec_parses(const dht_head_rec_t *h)
{
    head_t parsed;
    return head_decode_unverified(&parsed, h->bytes, h->len) == HEAD_OK;
}

/* Counts and lengths against their caps; the encoder runs it first so it
 * refuses with the code the decoder would give. */
static dht_msg_err_t
contacts_caps(const dht_contact_t *c, size_t n, size_t max)
{
    if (n > max) {
        return DHT_MSG_ETOOLARGE;
    }
    for (size_t i = 0; i < n; i++) {
        if (strnlen(c[i].endpoint, DHT_ENDPOINT_MAX + 1) > DHT_ENDPOINT_MAX) {
            return DHT_MSG_ETOOLARGE;
        }
    }
    return DHT_MSG_OK;
}

static dht_msg_err_t
check_caps(const dht_msg_t *m)
{
    dht_msg_err_t err = DHT_MSG_OK;
    switch (m->type) {
    case DHT_MSG_NODES:
        return contacts_caps(m->u.nodes.c, m->u.nodes.n, DHT_NODES_MAX);
    case DHT_MSG_PROVIDERS:
        err = contacts_caps(m->u.providers.c, m->u.providers.n, DHT_PROVIDERS_MAX);
        if (err == DHT_MSG_OK) {
            err = contacts_caps(m->u.providers.closer.c, m->u.providers.closer.n, DHT_NODES_MAX);
        }
        return err;
    case DHT_MSG_PUT_HEAD:
        return m->u.put.len > DHT_HEAD_MAX ? DHT_MSG_ETOOLARGE : DHT_MSG_OK;
    case DHT_MSG_HEAD:
        if (m->u.head.rec.len > DHT_HEAD_MAX) {
            return DHT_MSG_ETOOLARGE;
        }
        return contacts_caps(m->u.head.closer.c, m->u.head.closer.n, DHT_NODES_MAX);
    case DHT_MSG_ERROR:
        return strnlen(m->u.error.text, DHT_ERROR_TEXT_MAX + 1) > DHT_ERROR_TEXT_MAX
                   ? DHT_MSG_ETOOLARGE
                   : DHT_MSG_OK;
    default:
        return DHT_MSG_OK;
    }
}

static bool
contacts_rules(const dht_contact_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!dht_msg_endpoint_ok(c[i].endpoint)) {
            return false;
        }
    }
    return true;
}

/* Field contents; assumes check_caps passed. */
static bool
check_rules(const dht_msg_t *m)
{
    switch (m->type) {
    case DHT_MSG_NODES:
        return contacts_rules(m->u.nodes.c, m->u.nodes.n);
    case DHT_MSG_PROVIDERS:
        return contacts_rules(m->u.providers.c, m->u.providers.n) &&
               contacts_rules(m->u.providers.closer.c, m->u.providers.closer.n);
    case DHT_MSG_PUT_HEAD:
        return m->u.put.len > 0 && head_rec_parses(&m->u.put);
    case DHT_MSG_HEAD:
        return (m->u.head.rec.len == 0 || head_rec_parses(&m->u.head.rec)) &&
               contacts_rules(m->u.head.closer.c, m->u.head.closer.n);
    case DHT_MSG_ERROR: {
        size_t n = strlen(m->u.error.text);
        return chars_in(m->u.error.text, n, 0x20, 0x7e);
    }
    default:
        return true;
    }
}

static dht_msg_err_t
check_msg(const dht_msg_t *m)
{
    if (!dht_msg_type_known(m->type)) {
        return DHT_MSG_ETYPE;
    }
    dht_msg_err_t err = check_caps(m);
    if (err != DHT_MSG_OK) {
        return err;
    }
    return check_rules(m) ? DHT_MSG_OK : DHT_MSG_EFIELD;
}

/* ---- decoder ---- */

static void
read_contacts(bytes_fields_t *d, dht_contact_t *c, uint8_t *n_out, size_t max)
{
    size_t n = bytes_get_count(d, max);
    for (size_t i = 0; i < n && !d->too_large; i++) {
        bytes_get(&d->r, c[i].key, DHT_KEY_SIZE);
        bytes_get_string(d, c[i].endpoint, DHT_ENDPOINT_MAX);
        /* An empty endpoint would also re-encode, but a contact nobody can
         * reach is no contact; refuse it with the other field rules. */
    }
    *n_out = (uint8_t)n;
}

static void
read_head_rec(bytes_fields_t *d, dht_head_rec_t *h)
{
    size_t n = bytes_get_count(d, DHT_HEAD_MAX);
    bytes_get(&d->r, h->bytes, n);
    h->len = (uint8_t)n;
}

static void
decode_payload(bytes_fields_t *d, dht_msg_t *m)
{
    switch (m->type) {
    case DHT_MSG_FIND_NODE:
        bytes_get(&d->r, m->u.target, DHT_KEY_SIZE);
        break;
    case DHT_MSG_ANNOUNCE:
    case DHT_MSG_GET_PROVIDERS:
    case DHT_MSG_GET_HEAD:
        bytes_get(&d->r, m->u.key, DHT_KEY_SIZE);
        break;
    case DHT_MSG_NODES:
        read_contacts(d, m->u.nodes.c, &m->u.nodes.n, DHT_NODES_MAX);
        break;
    case DHT_MSG_PROVIDERS:
        read_contacts(d, m->u.providers.c, &m->u.providers.n, DHT_PROVIDERS_MAX);
        read_contacts(d, m->u.providers.closer.c, &m->u.providers.closer.n, DHT_NODES_MAX);
        break;
    case DHT_MSG_PUT_HEAD:
        read_head_rec(d, &m->u.put);
        break;
    case DHT_MSG_HEAD:
        read_head_rec(d, &m->u.head.rec);
        read_contacts(d, m->u.head.closer.c, &m->u.head.closer.n, DHT_NODES_MAX);
        break;
    case DHT_MSG_ERROR:
        m->u.error.code = bytes_get_u16(&d->r);
        bytes_get_string(d, m->u.error.text, DHT_ERROR_TEXT_MAX);
        break;
    default: /* PING, PONG, ACK: empty */
        break;
    }
}

dht_msg_err_t
dht_msg_decode_payload(dht_msg_t *out, uint8_t type, uint32_t rid, const uint8_t *p, size_t len)
{
    memset(out, 0, sizeof *out);
    out->type = type;
    out->rid = rid;
    /* The layout depends on the type, so an unknown one stops here. */
    if (!dht_msg_type_known(type)) {
        return DHT_MSG_ETYPE;
    }
    if (len > DHT_PAYLOAD_MAX) {
        return DHT_MSG_ETOOLARGE;
    }
    bytes_fields_t d;
    bytes_fields_init(&d, p, len);
    decode_payload(&d, out);
    switch (bytes_fields_end(&d)) {
    case BYTES_FIELDS_TOO_LARGE:
        return DHT_MSG_ETOOLARGE;
    case BYTES_FIELDS_TRUNCATED:
        return DHT_MSG_ETRUNCATED;
    case BYTES_FIELDS_TRAILING:
        return DHT_MSG_ETRAILING;
    case BYTES_FIELDS_NUL:
        return DHT_MSG_EFIELD;
    case BYTES_FIELDS_OK:
        break;
    }
    return check_msg(out);
}

/* ---- encoder ---- */

static void
put_string(bytes_writer_t *w, const char *s)
{
    size_t n = strlen(s);
    bytes_put_u8(w, (uint8_t)n);
    bytes_put(w, (const uint8_t *)s, n);
}

static void
put_contacts(bytes_writer_t *w, const dht_contact_t *c, size_t n)
{
    bytes_put_u8(w, (uint8_t)n);
    for (size_t i = 0; i < n; i++) {
        bytes_put(w, c[i].key, DHT_KEY_SIZE);
        put_string(w, c[i].endpoint);
    }
}

static void
put_head_rec(bytes_writer_t *w, const dht_head_rec_t *h)
{
    bytes_put_u8(w, h->len);
    bytes_put(w, h->bytes, h->len);
}

static void
encode_payload(bytes_writer_t *w, const dht_msg_t *m)
{
    switch (m->type) {
    case DHT_MSG_FIND_NODE:
        bytes_put(w, m->u.target, DHT_KEY_SIZE);
        break;
    case DHT_MSG_ANNOUNCE:
    case DHT_MSG_GET_PROVIDERS:
    case DHT_MSG_GET_HEAD:
        bytes_put(w, m->u.key, DHT_KEY_SIZE);
        break;
    case DHT_MSG_NODES:
        put_contacts(w, m->u.nodes.c, m->u.nodes.n);
        break;
    case DHT_MSG_PROVIDERS:
        put_contacts(w, m->u.providers.c, m->u.providers.n);
        put_contacts(w, m->u.providers.closer.c, m->u.providers.closer.n);
        break;
    case DHT_MSG_PUT_HEAD:
        put_head_rec(w, &m->u.put);
        break;
    case DHT_MSG_HEAD:
        put_head_rec(w, &m->u.head.rec);
        put_contacts(w, m->u.head.closer.c, m->u.head.closer.n);
        break;
    case DHT_MSG_ERROR:
        bytes_put_u16(w, m->u.error.code);
        put_string(w, m->u.error.text);
        break;
    default:
        break;
    }
}

dht_msg_err_t
dht_msg_encode_payload(const dht_msg_t *m, uint8_t *out, size_t cap, size_t *len)
{
    dht_msg_err_t err = check_msg(m);
    if (err != DHT_MSG_OK) {
        return err;
    }
    bytes_writer_t w;
    bytes_writer_init(&w, out, cap);
    encode_payload(&w, m);
    if (!bytes_writer_ok(&w)) {
        return DHT_MSG_EBUFSZ;
    }
    *len = w.len;
    return DHT_MSG_OK;
}
