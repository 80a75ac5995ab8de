#include "webin.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *
webin_strerror(webin_err_t err)
{
    switch (err) {
    case WEBIN_OK:
        return "ok";
    case WEBIN_ENOMEM:
        return "out of memory";
    case WEBIN_ETOOBIG:
        return "too large, or too many fields";
    case WEBIN_EMALFORMED:
        return "malformed";
    case WEBIN_EDUP:
        return "a field is given twice";
    }
    return "?";
}

void
webin_free(webin_t *in)
{
    free(in->mem);
    memset(in, 0, sizeof *in);
}

const webin_field_t *
webin_get(const webin_t *in, const char *name)
{
    for (size_t i = 0; i < in->n; i++) {
        if (strcmp(in->f[i].name, name) == 0) {
            return &in->f[i];
        }
    }
    return NULL;
}

static bool
name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Adds a field whose name is n bytes at name; its value starts at *val in
 * the shared memory. */
static webin_err_t
add_field(webin_t *in, const char *name, size_t n, webin_type_t type, char *val, size_t len)
{
    if (n == 0 || n > WEBIN_NAME_MAX) {
        return WEBIN_EMALFORMED;
    }
    for (size_t i = 0; i < n; i++) {
        if (!name_char(name[i])) {
            return WEBIN_EMALFORMED;
        }
    }
    if (in->n == WEBIN_FIELDS_MAX) {
        return WEBIN_ETOOBIG;
    }
    webin_field_t *f = &in->f[in->n];
    memcpy(f->name, name, n);
    f->name[n] = '\0';
    if (webin_get(in, f->name) != NULL) {
        return WEBIN_EDUP;
    }
    f->type = type;
    f->value = val;
    f->len = len;
    in->n++;
    return WEBIN_OK;
}

static int
hexval(char c)
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

/* %-decodes s[0..n) into out (room for n + 1 bytes); returns the length or
 * -1 for a bad escape. */
static long
url_decode(char *out, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            if (i + 2 >= n) {
                return -1;
            }
            int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
            if (a < 0 || b < 0) {
                return -1;
            }
            out[o++] = (char)(a << 4 | b);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return (long)o;
}

/* An empty list for an input of len bytes, with the memory its values
 * need: decoded values are never longer than the input; one NUL each. */
static webin_err_t
begin(webin_t *out, size_t len)
{
    memset(out, 0, sizeof *out);
    if (len > WEBIN_INPUT_MAX) {
        return WEBIN_ETOOBIG;
    }
    out->mem = malloc(len + WEBIN_FIELDS_MAX + 1);
    return out->mem != NULL ? WEBIN_OK : WEBIN_ENOMEM;
}

static webin_err_t
form_pair(webin_t *in, const char *s, size_t n, char **mem)
{
    const char *eq = memchr(s, '=', n);
    size_t nlen = eq ? (size_t)(eq - s) : n;
    const char *v = eq ? eq + 1 : s + n;
    size_t vlen = eq ? n - nlen - 1 : 0;
    if (nlen > 3 * WEBIN_NAME_MAX) {
        return WEBIN_EMALFORMED;
    }
    char nbuf[3 * WEBIN_NAME_MAX + 1];
    long dn = url_decode(nbuf, s, nlen);
    if (dn < 0 || dn > WEBIN_NAME_MAX) {
        return WEBIN_EMALFORMED;
    }
    long dv = url_decode(*mem, v, vlen);
    if (dv < 0) {
        return WEBIN_EMALFORMED;
    }
    webin_err_t err = add_field(in, nbuf, (size_t)dn, WEBIN_STRING, *mem, (size_t)dv);
    *mem += dv + 1;
    return err;
}

webin_err_t
webin_form(webin_t *out, const char *s, size_t len)
{
    webin_err_t err0 = begin(out, len);
    if (err0 != WEBIN_OK) {
        return err0;
    }
    char *mem = out->mem;
    webin_err_t err = WEBIN_OK;
    size_t i = 0;
    while (err == WEBIN_OK && i < len) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t n = amp ? (size_t)(amp - (s + i)) : len - i;
        if (n > 0) {
            err = form_pair(out, s + i, n, &mem);
        }
        i += n + 1;
    }
    if (err != WEBIN_OK) {
        webin_free(out);
    }
    return err;
}

/* ---- JSON ---- */

typedef struct {
    const char *s;
    size_t len;
    size_t i;
    bool bad;
} jr_t;

static void
skip_ws(jr_t *r)
{
    while (r->i < r->len &&
           (r->s[r->i] == ' ' || r->s[r->i] == '\t' || r->s[r->i] == '\n' || r->s[r->i] == '\r')) {
        r->i++;
    }
}

static bool
take(jr_t *r, char c)
{
    skip_ws(r);
    if (r->i < r->len && r->s[r->i] == c) {
        r->i++;
        return true;
    }
    return false;
}

static int
hex4(jr_t *r)
{
    if (r->len - r->i < 4) {
        return -1;
    }
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(r->s[r->i + (size_t)k]);
        if (h < 0) {
            return -1;
        }
        v = v << 4 | h;
    }
    r->i += 4;
    return v;
}

static size_t
put_utf8(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xc0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | c >> 12);
        o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | c >> 18);
    o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* A \u escape (the "\u" already read), a surrogate pair included. */
static long
json_u(jr_t *r, char *o)
{
    int a = hex4(r);
    if (a < 0 || (a >= 0xdc00 && a <= 0xdfff)) {
        return -1;
    }
    uint32_t c = (uint32_t)a;
    if (a >= 0xd800 && a <= 0xdbff) {
        if (r->len - r->i < 2 || r->s[r->i] != '\\' || r->s[r->i + 1] != 'u') {
            return -1;
        }
        r->i += 2;
        int b = hex4(r);
        if (b < 0xdc00 || b > 0xdfff) {
            return -1;
        }
        c = 0x10000 + (((uint32_t)a - 0xd800) << 10 | ((uint32_t)b - 0xdc00));
    }
    return (long)put_utf8(o, c);
}

/* A string (the opening quote already read) decoded into out; its length,
 * or -1. A \u escape takes 6 input bytes and gives at most 3 (or 12 and
 * 4), so out needs no more room than the input. */
static long
json_string(jr_t *r, char *out)
{
    size_t o = 0;
    while (r->i < r->len) {
        unsigned char c = (unsigned char)r->s[r->i++];
        if (c == '"') {
            out[o] = '\0';
            return (long)o;
        }
        if (c < 0x20) {
            return -1;
        }
        if (c != '\\') {
            out[o++] = (char)c;
            continue;
        }
        if (r->i >= r->len) {
            return -1;
        }
        char e = r->s[r->i++];
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *at = e != '\0' ? strchr(from, e) : NULL;
        if (at != NULL) {
            out[o++] = to[at - from];
        } else if (e == 'u') {
            long n = json_u(r, out + o);
            if (n < 0) {
                return -1;
            }
            o += (size_t)n;
        } else {
            return -1;
        }
    }
    return -1;
}

/* A number, true, false or null: copied as written. */
static long
json_word(jr_t *r, char *out, webin_type_t *type)
{
    size_t start = r->i;
    while (r->i < r->len && strchr("0123456789+-.eEtruefalsn", r->s[r->i]) != NULL &&
           r->s[r->i] != '\0') {
        r->i++;
    }
    size_t n = r->i - start;
    const char *w = r->s + start;
    if ((n == 4 && memcmp(w, "true", 4) == 0) || (n == 5 && memcmp(w, "false", 5) == 0)) {
        *type = WEBIN_BOOL;
    } else if (n == 4 && memcmp(w, "null", 4) == 0) {
        *type = WEBIN_NULL;
    } else if (n > 0 && n <= 32 && (w[0] == '-' || (w[0] >= '0' && w[0] <= '9'))) {
        for (size_t k = 0; k < n; k++) {
            if (strchr("0123456789+-.eE", w[k]) == NULL) {
                return -1;
            }
        }
        *type = WEBIN_NUMBER;
    } else {
        return -1;
    }
    memcpy(out, w, n);
    out[n] = '\0';
    return (long)n;
}

static webin_err_t
json_member(jr_t *r, webin_t *in, char **mem)
{
    if (!take(r, '"')) {
        return WEBIN_EMALFORMED;
    }
    char name[WEBIN_NAME_MAX + 1];
    size_t start = r->i;
    const char *q = memchr(r->s + start, '"', r->len - start);
    if (q == NULL || (size_t)(q - (r->s + start)) >= sizeof name) {
        return WEBIN_EMALFORMED;
    }
    size_t nlen = (size_t)(q - (r->s + start));
    memcpy(name, r->s + start, nlen);
    r->i = start + nlen + 1;
    if (!take(r, ':')) {
        return WEBIN_EMALFORMED;
    }
    skip_ws(r);
    webin_type_t type = WEBIN_STRING;
    long n;
    if (r->i < r->len && r->s[r->i] == '"') {
        r->i++;
        n = json_string(r, *mem);
    } else {
        n = json_word(r, *mem, &type);
    }
    if (n < 0) {
        return WEBIN_EMALFORMED;
    }
    webin_err_t err = add_field(in, name, nlen, type, *mem, (size_t)n);
    *mem += n + 1;
    return err;
}

webin_err_t
webin_json(webin_t *out, const char *s, size_t len)
{
    webin_err_t err0 = begin(out, len);
    if (err0 != WEBIN_OK) {
        return err0;
    }
    char *mem = out->mem;
    jr_t r = {.s = s, .len = len};
    webin_err_t err = take(&r, '{') ? WEBIN_OK : WEBIN_EMALFORMED;
    if (err == WEBIN_OK && !take(&r, '}')) {
        do {
            err = json_member(&r, out, &mem);
        } while (err == WEBIN_OK && take(&r, ','));
        if (err == WEBIN_OK && !take(&r, '}')) {
            err = WEBIN_EMALFORMED;
        }
    }
    skip_ws(&r);
    if (err == WEBIN_OK && r.i != r.len) {
        err = WEBIN_EMALFORMED;
    }
    if (err != WEBIN_OK) {
        webin_free(out);
    }
    return err;
}
