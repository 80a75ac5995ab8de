#include "wire.h"

#include <string.h>

#include "bytes.h"

const char *
wire_strerror(wire_err_t err)
{
    switch (err) {
    case WIRE_OK:
        return "ok";
    case WIRE_ETRUNCATED:
        return "message is truncated";
    case WIRE_ETOOLARGE:
        return "message, or a count or length in it, is too large";
    case WIRE_ETRAILING:
        return "message has bytes after its payload";
    case WIRE_EVERSION:
        return "unknown protocol version";
    case WIRE_ETYPE:
        return "unknown message type";
    case WIRE_EFIELD:
        return "a field breaks its rule";
    case WIRE_EBUFSZ:
        return "output buffer too small";
    }
    return "unknown wire error";
}

const char *
wire_type_name(uint8_t type)
{
    switch (type) {
    case WIRE_HELLO:
        return "hello";
    case WIRE_PING:
        return "ping";
    case WIRE_PONG:
        return "pong";
    case WIRE_PEERS_REQ:
        return "peers_req";
    case WIRE_PEERS:
        return "peers";
    case WIRE_ERROR:
        return "error";
    case WIRE_DIAL_REQ:
        return "dial_req";
    case WIRE_DIAL_BACK:
        return "dial_back";
    case WIRE_DIAL_RESULT:
        return "dial_result";
    case WIRE_RESERVE:
        return "reserve";
    case WIRE_RESERVED:
        return "reserved";
    case WIRE_CONNECT:
        return "connect";
    default:
        return wire_is_dht(type) ? dht_msg_type_name(type) : "unknown";
    }
}

bool
wire_is_dht(uint8_t type)
{
    return dht_msg_type_known(type);
}

static bool
type_known(uint8_t type)
{
    return (type >= WIRE_HELLO && type <= WIRE_CONNECT) || wire_is_dht(type);
}

static wire_err_t
from_dht(dht_msg_err_t e)
{
    switch (e) {
    case DHT_MSG_OK:
        return WIRE_OK;
    case DHT_MSG_ETRUNCATED:
        return WIRE_ETRUNCATED;
    case DHT_MSG_ETOOLARGE:
        return WIRE_ETOOLARGE;
    case DHT_MSG_ETRAILING:
        return WIRE_ETRAILING;
    case DHT_MSG_ETYPE:
        return WIRE_ETYPE;
    case DHT_MSG_EBUFSZ:
        return WIRE_EBUFSZ;
    case DHT_MSG_EFIELD:
    default:
        return WIRE_EFIELD;
    }
}

void
wire_init(wire_msg_t *m, wire_type_t type, uint32_t request_id)
{
    memset(m, 0, sizeof *m);
    m->version = WIRE_VERSION;
    m->type = (uint8_t)type;
    m->request_id = request_id;
}

/* ---- text rules ---- */

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

bool
wire_network_valid(const char *name)
{
    if (name == NULL) {
        return false;
    }
    size_t n = strnlen(name, WIRE_NETWORK_MAX + 1);
    if (n == 0 || n > WIRE_NETWORK_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = is_digit(c) || (c >= 'a' && c <= 'z') || c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

bool
wire_endpoint_valid(const char *endpoint)
{
    /* One parser of endpoints in node/: addr.c. */
    return addr_endpoint_valid(endpoint);
}

bool
wire_hello_endpoint_valid(const char *endpoint)
{
    return addr_dialable(endpoint);
}

/* ---- rules shared by the encoder and the decoder ---- */

/* Length of a string field whose array holds max + 1 bytes; SIZE_MAX when
 * it is not terminated within max bytes. */
static size_t
field_len(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    return n > max ? SIZE_MAX : n;
}

static wire_err_t
hello_caps(const wire_hello_t *h)
{
    if (field_len(h->network, WIRE_NETWORK_MAX) == SIZE_MAX ||
        field_len(h->software, WIRE_SOFTWARE_MAX) == SIZE_MAX ||
        h->n_endpoints > WIRE_ENDPOINTS_MAX) {
        return WIRE_ETOOLARGE;
    }
    for (size_t i = 0; i < h->n_endpoints; i++) {
        if (field_len(h->endpoints[i].s, WIRE_ENDPOINT_MAX) == SIZE_MAX) {
            return WIRE_ETOOLARGE;
        }
    }
    return WIRE_OK;
}

static wire_err_t
peers_caps(const wire_peers_t *p)
{
    if (p->n > WIRE_PEERS_MAX) {
        return WIRE_ETOOLARGE;
    }
    for (size_t i = 0; i < p->n; i++) {
        if (field_len(p->contacts[i].endpoint.s, WIRE_ENDPOINT_MAX) == SIZE_MAX) {
            return WIRE_ETOOLARGE;
        }
    }
    return WIRE_OK;
}

/* Every count and length against its cap. Run before the field rules so
 * the encoder refuses with the code the decoder would give. */
static wire_err_t
check_caps(const wire_msg_t *m)
{
    switch (m->type) {
    case WIRE_HELLO:
        return hello_caps(&m->u.hello);
    case WIRE_PEERS_REQ:
        return m->u.peers_max > WIRE_PEERS_MAX ? WIRE_ETOOLARGE : WIRE_OK;
    case WIRE_PEERS:
        return peers_caps(&m->u.peers);
    case WIRE_ERROR:
        return field_len(m->u.error.text, WIRE_ERROR_TEXT_MAX) == SIZE_MAX ? WIRE_ETOOLARGE
                                                                           : WIRE_OK;
    case WIRE_DIAL_REQ:
        return field_len(m->u.dial.endpoint.s, WIRE_ENDPOINT_MAX) == SIZE_MAX ? WIRE_ETOOLARGE
                                                                              : WIRE_OK;
    default:
        return WIRE_OK;
    }
}

static bool
hello_rules(const wire_hello_t *h)
{
    if (!wire_network_valid(h->network) || !printable(h->software, strlen(h->software))) {
        return false;
    }
    /* HELLO alone may name relayed endpoints: a node nobody can dial says
     * where its relays are (PROTOCOL.md 6, "Endpoints"). */
    for (size_t i = 0; i < h->n_endpoints; i++) {
        if (!wire_hello_endpoint_valid(h->endpoints[i].s)) {
            return false;
        }
    }
    return true;
}

static bool
peers_rules(const wire_peers_t *p)
{
    for (size_t i = 0; i < p->n; i++) {
        if (!wire_endpoint_valid(p->contacts[i].endpoint.s)) {
            return false;
        }
    }
    return true;
}

/* The rules on field contents; assumes check_caps passed. */
static bool
check_rules(const wire_msg_t *m)
{
    switch (m->type) {
    case WIRE_HELLO:
        return hello_rules(&m->u.hello);
    case WIRE_PEERS_REQ:
        return m->u.peers_max >= 1;
    case WIRE_PEERS:
        return peers_rules(&m->u.peers);
    case WIRE_ERROR:
        return printable(m->u.error.text, strlen(m->u.error.text));
    case WIRE_DIAL_REQ:
        return wire_endpoint_valid(m->u.dial.endpoint.s);
    default:
        return true;
    }
}

static wire_err_t
check_msg(const wire_msg_t *m)
{
    if (m->version != WIRE_VERSION) {
        return WIRE_EVERSION;
    }
    if (!type_known(m->type)) {
        return WIRE_ETYPE;
    }
    wire_err_t err = check_caps(m);
    if (err != WIRE_OK) {
        return err;
    }
    return check_rules(m) ? WIRE_OK : WIRE_EFIELD;
}

/* ---- decoder ---- */

static void
decode_hello(bytes_fields_t *d, wire_hello_t *h)
{
    bytes_get_string(d, h->network, WIRE_NETWORK_MAX);
    bytes_get(&d->r, h->node_key, KEYS_PUBLIC_SIZE);
    bytes_get_string(d, h->software, WIRE_SOFTWARE_MAX);
    h->caps = bytes_get_u32(&d->r);
    h->listen_port = bytes_get_u16(&d->r);
    h->n_endpoints = (uint8_t)bytes_get_count(d, WIRE_ENDPOINTS_MAX);
    for (size_t i = 0; i < h->n_endpoints; i++) {
        bytes_get_string(d, h->endpoints[i].s, WIRE_ENDPOINT_MAX);
    }
}

static void
decode_peers(bytes_fields_t *d, wire_peers_t *p)
{
    p->n = (uint8_t)bytes_get_count(d, WIRE_PEERS_MAX);
    for (size_t i = 0; i < p->n; i++) {
        bytes_get(&d->r, p->contacts[i].node_key, KEYS_PUBLIC_SIZE);
        bytes_get_string(d, p->contacts[i].endpoint.s, WIRE_ENDPOINT_MAX);
    }
}

static void
decode_payload(bytes_fields_t *d, wire_msg_t *m)
{
    switch (m->type) {
    case WIRE_HELLO:
        decode_hello(d, &m->u.hello);
        break;
    case WIRE_PING:
    case WIRE_PONG:
        m->u.ping_nonce = bytes_get_u64(&d->r);
        break;
    case WIRE_PEERS_REQ:
        /* Checked here like every other claim, so a too-large value
         * outranks trailing bytes as it does in PEERS. */
        m->u.peers_max = bytes_get_u8(&d->r);
        d->too_large = m->u.peers_max > WIRE_PEERS_MAX;
        break;
    case WIRE_PEERS:
        decode_peers(d, &m->u.peers);
        break;
    case WIRE_ERROR:
        m->u.error.code = bytes_get_u16(&d->r);
        bytes_get_string(d, m->u.error.text, WIRE_ERROR_TEXT_MAX);
        break;
    case WIRE_DIAL_REQ:
        m->u.dial.nonce = bytes_get_u64(&d->r);
        bytes_get_string(d, m->u.dial.endpoint.s, WIRE_ENDPOINT_MAX);
        break;
    case WIRE_DIAL_BACK:
        m->u.dial.nonce = bytes_get_u64(&d->r);
        break;
    case WIRE_DIAL_RESULT:
        m->u.dial.status = bytes_get_u8(&d->r);
        break;
    case WIRE_RESERVED:
        m->u.reserved.status = bytes_get_u8(&d->r);
        m->u.reserved.port = bytes_get_u16(&d->r);
        m->u.reserved.expires_s = bytes_get_u32(&d->r);
        m->u.reserved.byte_cap = bytes_get_u64(&d->r);
        break;
    case WIRE_CONNECT:
        m->u.connect.circuit = bytes_get_u32(&d->r);
        bytes_get(&d->r, m->u.connect.nonce, WIRE_CIRCUIT_NONCE);
        break;
    default:
        break;
    }
}

wire_err_t
wire_decode(wire_msg_t *out, const uint8_t *buf, size_t len)
{
    memset(out, 0, sizeof *out);
    if (len > WIRE_MAX_FRAME) {
        return WIRE_ETOOLARGE;
    }
    if (len < WIRE_HEADER_SIZE) {
        return WIRE_ETRUNCATED;
    }
    bytes_fields_t d;
    bytes_fields_init(&d, buf, len);
    out->version = bytes_get_u8(&d.r);
    out->type = bytes_get_u8(&d.r);
    out->request_id = bytes_get_u32(&d.r);
    /* The payload's layout depends on both, so nothing after them can be
     * read when either is unknown. */
    if (out->version != WIRE_VERSION) {
        return WIRE_EVERSION;
    }
    if (!type_known(out->type)) {
        return WIRE_ETYPE;
    }
    if (wire_is_dht(out->type)) {
        return from_dht(dht_msg_decode_payload(&out->u.dht, out->type, out->request_id,
                                               buf + WIRE_HEADER_SIZE, len - WIRE_HEADER_SIZE));
    }
    decode_payload(&d, out);
    switch (bytes_fields_end(&d)) {
    case BYTES_FIELDS_TOO_LARGE:
        return WIRE_ETOOLARGE;
    case BYTES_FIELDS_TRUNCATED:
        return WIRE_ETRUNCATED;
    case BYTES_FIELDS_TRAILING:
        return WIRE_ETRAILING;
    case BYTES_FIELDS_NUL:
        return WIRE_EFIELD;
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
encode_hello(bytes_writer_t *w, const wire_hello_t *h)
{
    put_string(w, h->network);
    bytes_put(w, h->node_key, KEYS_PUBLIC_SIZE);
    put_string(w, h->software);
    bytes_put_u32(w, h->caps);
    bytes_put_u16(w, h->listen_port);
    bytes_put_u8(w, h->n_endpoints);
    for (size_t i = 0; i < h->n_endpoints; i++) {
        put_string(w, h->endpoints[i].s);
    }
}

static void
encode_peers(bytes_writer_t *w, const wire_peers_t *p)
{
    bytes_put_u8(w, p->n);
    for (size_t i = 0; i < p->n; i++) {
        bytes_put(w, p->contacts[i].node_key, KEYS_PUBLIC_SIZE);
        put_string(w, p->contacts[i].endpoint.s);
    }
}

static void
encode_payload(bytes_writer_t *w, const wire_msg_t *m)
{
    switch (m->type) {
    case WIRE_HELLO:
        encode_hello(w, &m->u.hello);
        break;
    case WIRE_PING:
    case WIRE_PONG:
        bytes_put_u64(w, m->u.ping_nonce);
        break;
    case WIRE_PEERS_REQ:
        bytes_put_u8(w, m->u.peers_max);
        break;
    case WIRE_PEERS:
        encode_peers(w, &m->u.peers);
        break;
    case WIRE_ERROR:
        bytes_put_u16(w, m->u.error.code);
        put_string(w, m->u.error.text);
        break;
    case WIRE_DIAL_REQ:
        bytes_put_u64(w, m->u.dial.nonce);
        put_string(w, m->u.dial.endpoint.s);
        break;
    case WIRE_DIAL_BACK:
        bytes_put_u64(w, m->u.dial.nonce);
        break;
    case WIRE_DIAL_RESULT:
        bytes_put_u8(w, m->u.dial.status);
        break;
    case WIRE_RESERVED:
        bytes_put_u8(w, m->u.reserved.status);
        bytes_put_u16(w, m->u.reserved.port);
        bytes_put_u32(w, m->u.reserved.expires_s);
        bytes_put_u64(w, m->u.reserved.byte_cap);
        break;
    case WIRE_CONNECT:
        bytes_put_u32(w, m->u.connect.circuit);
        bytes_put(w, m->u.connect.nonce, WIRE_CIRCUIT_NONCE);
        break;
    default:
        break;
    }
}

wire_err_t
wire_encode_dht(const dht_msg_t *m, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!wire_is_dht(m->type)) {
        return WIRE_ETYPE;
    }
    if (cap < WIRE_HEADER_SIZE) {
        return WIRE_EBUFSZ;
    }
    bytes_writer_t w;
    bytes_writer_init(&w, out, WIRE_HEADER_SIZE);
    bytes_put_u8(&w, WIRE_VERSION);
    bytes_put_u8(&w, m->type);
    bytes_put_u32(&w, m->rid);
    size_t len = 0;
    size_t room = cap - WIRE_HEADER_SIZE;
    if (room > WIRE_MAX_FRAME - WIRE_HEADER_SIZE) {
        room = WIRE_MAX_FRAME - WIRE_HEADER_SIZE;
    }
    wire_err_t err = from_dht(dht_msg_encode_payload(m, out + WIRE_HEADER_SIZE, room, &len));
    if (err == WIRE_OK) {
        *out_len = WIRE_HEADER_SIZE + len;
    }
    return err;
}

wire_err_t
wire_encode(const wire_msg_t *m, uint8_t *out, size_t cap, size_t *out_len)
{
    if (m->version == WIRE_VERSION && wire_is_dht(m->type)) {
        if (m->u.dht.type != m->type || m->u.dht.rid != m->request_id) {
            return WIRE_EFIELD;
        }
        return wire_encode_dht(&m->u.dht, out, cap, out_len);
    }
    /* Every string is known to be terminated within its array from here. */
    wire_err_t err = check_msg(m);
    if (err != WIRE_OK) {
        return err;
    }
    bytes_writer_t w;
    bytes_writer_init(&w, out, cap);
    bytes_put_u8(&w, m->version);
    bytes_put_u8(&w, m->type);
    bytes_put_u32(&w, m->request_id);
    encode_payload(&w, m);
    if (!bytes_writer_ok(&w)) {
        return WIRE_EBUFSZ;
    }
    *out_len = w.len;
    return WIRE_OK;
}
