#include "bytes.h"

#include <string.h>

void
bytes_reader_init(bytes_reader_t *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = (p == NULL) ? 0 : len;
    r->off = 0;
    r->err = false;
}

/* The single place that decides whether n more bytes may be read. */
static const uint8_t *
take(bytes_reader_t *r, size_t n)
{
    if (r->err || n > r->len - r->off) {
        r->err = true;
        return NULL;
    }
    const uint8_t *at = r->p + r->off;
    r->off += n;
    return at;
}

static uint64_t
get_be(bytes_reader_t *r, size_t n)
{
    const uint8_t *at = take(r, n);
    uint64_t v = 0;
    if (at == NULL) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | at[i];
    }
    return v;
}

uint8_t
bytes_get_u8(bytes_reader_t *r)
{
    return (uint8_t)get_be(r, 1);
}

uint16_t
bytes_get_u16(bytes_reader_t *r)
{
    return (uint16_t)get_be(r, 2);
}

uint32_t
bytes_get_u32(bytes_reader_t *r)
{
    return (uint32_t)get_be(r, 4);
}

uint64_t
bytes_get_u64(bytes_reader_t *r)
{
    return get_be(r, 8);
}

void
bytes_get(bytes_reader_t *r, uint8_t *out, size_t n)
{
    const uint8_t *at = take(r, n);
    if (at == NULL) {
        memset(out, 0, n);
        return;
    }
    memcpy(out, at, n);
}

const uint8_t *
bytes_get_ref(bytes_reader_t *r, size_t n)
{
    return take(r, n);
}

size_t
bytes_remaining(const bytes_reader_t *r)
{
    return r->err ? 0 : r->len - r->off;
}

bool
bytes_reader_ok(const bytes_reader_t *r)
{
    return !r->err;
}

bool
bytes_reader_done(const bytes_reader_t *r)
{
    return !r->err && r->off == r->len;
}

void
bytes_fields_init(bytes_fields_t *f, const uint8_t *p, size_t len)
{
    bytes_reader_init(&f->r, p, len);
    f->too_large = false;
    f->nul = false;
}

size_t
bytes_get_count(bytes_fields_t *f, size_t max)
{
    if (f->too_large) {
        return 0;
    }
    size_t n = bytes_get_u8(&f->r);
    if (n > max) {
        f->too_large = true;
        return 0;
    }
    return n;
}

void
bytes_get_string(bytes_fields_t *f, char *dst, size_t max)
{
    size_t n = bytes_get_count(f, max);
    bytes_get(&f->r, (uint8_t *)dst, n);
    dst[n] = '\0';
    if (memchr(dst, '\0', n) != NULL) {
        f->nul = true;
    }
}

bytes_fields_end_t
bytes_fields_end(const bytes_fields_t *f)
{
    if (f->too_large) {
        return BYTES_FIELDS_TOO_LARGE;
    }
    if (!bytes_reader_ok(&f->r)) {
        return BYTES_FIELDS_TRUNCATED;
    }
    if (!bytes_reader_done(&f->r)) {
        return BYTES_FIELDS_TRAILING;
    }
    return f->nul ? BYTES_FIELDS_NUL : BYTES_FIELDS_OK;
}

void
bytes_writer_init(bytes_writer_t *w, uint8_t *p, size_t cap)
{
    w->p = p;
    w->cap = (p == NULL) ? 0 : cap;
    w->len = 0;
    w->err = false;
}

static uint8_t *
reserve(bytes_writer_t *w, size_t n)
{
    if (w->err || n > w->cap - w->len) {
        w->err = true;
        return NULL;
    }
    uint8_t *at = w->p + w->len;
    w->len += n;
    return at;
}

static void
put_be(bytes_writer_t *w, uint64_t v, size_t n)
{
    uint8_t *at = reserve(w, n);
    if (at == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        at[n - 1 - i] = (uint8_t)(v >> (8 * i));
    }
}

void
bytes_put_u8(bytes_writer_t *w, uint8_t v)
{
    put_be(w, v, 1);
}

void
bytes_put_u16(bytes_writer_t *w, uint16_t v)
{
    put_be(w, v, 2);
}

void
bytes_put_u32(bytes_writer_t *w, uint32_t v)
{
    put_be(w, v, 4);
}

void
bytes_put_u64(bytes_writer_t *w, uint64_t v)
{
    put_be(w, v, 8);
}

void
bytes_put(bytes_writer_t *w, const uint8_t *p, size_t n)
{
    uint8_t *at = reserve(w, n);
    if (at != NULL && n > 0) {
        memcpy(at, p, n);
    }
}

bool
bytes_writer_ok(const bytes_writer_t *w)
{
    return !w->err;
}

void
bytes_be64_put(uint8_t out[static 8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t
bytes_be64_get(const uint8_t in[static 8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | in[i];
    }
    return v;
}

void
bytes_to_hex(char *hex_out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex_out[2 * i] = digits[p[i] >> 4];
        hex_out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    hex_out[2 * n] = '\0';
}

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool
bytes_from_hex(uint8_t *out, size_t n, const char *hex)
{
    for (size_t i = 0; i < n; i++) {
        if (hex[2 * i] == '\0') {
            return false;
        }
        int hi = hex_digit(hex[2 * i]);
        int lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return hex[2 * n] == '\0';
}
