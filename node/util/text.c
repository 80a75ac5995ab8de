#include "text.h"

#include <string.h>

/* Where the safe form goes: a buffer (f NULL) or a FILE. */
typedef struct {
    char *out;
    size_t cap;
    size_t len;     /* the whole safe form so far, written or not */
    size_t written; /* bytes put in out */
    bool full;      /* a unit did not fit in out: nothing more is written */
    FILE *f;
    bool failed; /* f reported an error */
} sink_t;

static void
emit(sink_t *k, const char *p, size_t n)
{
    if (n == 0) {
        return;
    }
    if (k->f != NULL) {
        if (!k->failed && fwrite(p, 1, n, k->f) != n) {
            k->failed = true;
        }
    } else if (!k->full && k->cap > 0 && n < k->cap - k->written) {
        memcpy(k->out + k->written, p, n);
        k->written += n;
    } else {
        k->full = true;
    }
    k->len += n;
}

/* "<U+202E>" for a character, "<0xff>" for a byte that is not UTF-8. */
static void
emit_escape(sink_t *k, bool byte, unsigned long v)
{
    char e[16];
    int n = byte ? snprintf(e, sizeof e, "<0x%02lx>", v) : snprintf(e, sizeof e, "<U+%04lX>", v);
    emit(k, e, (size_t)n);
}

/* Decodes one well-formed UTF-8 character (RFC 3629) at p[0..n): its
 * length, or 0 when p[0] does not start one. */
static size_t
decode(const unsigned char *p, size_t n, unsigned long *cp)
{
    static const unsigned long MIN[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len;
    unsigned long v;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if ((p[0] & 0xe0) == 0xc0) {
        len = 2;
        v = p[0] & 0x1fu;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3;
        v = p[0] & 0x0fu;
    } else if ((p[0] & 0xf8) == 0xf0) {
        len = 4;
        v = p[0] & 0x07u;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        v = v << 6 | (p[i] & 0x3fu);
    }
    if (v < MIN[len] || (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff) {
        return 0;
    }
    *cp = v;
    return len;
}

bool
text_is_bidi_control(unsigned long cp, text_mode_t mode)
{
    if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
        return true;
    }
    return mode == TEXT_LINE && (cp == 0x200e || cp == 0x200f || cp == 0x061c);
}

static bool
must_escape(unsigned long cp, text_mode_t mode)
{
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
        return !(mode == TEXT_BODY && (cp == '\n' || cp == '\t'));
    }
    return cp == 0x2028 || cp == 0x2029 || text_is_bidi_control(cp, mode);
}

/* Characters that pass unchanged go to a FILE in runs, one fwrite each;
 * into a buffer one by one, so a cut falls between whole characters. */
static void
run(sink_t *k, const char *s, size_t n, text_mode_t mode)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, plain = 0; /* plain: start of the run not yet emitted */
    while (i < n) {
        unsigned long cp = 0;
        size_t len = decode(p + i, n - i, &cp);
        bool escape = len == 0 || must_escape(cp, mode);
        if (escape || k->f == NULL) {
            emit(k, s + plain, i - plain);
            if (len == 0) {
                emit_escape(k, true, p[i]);
            } else if (escape) {
                emit_escape(k, false, cp);
            } else {
                emit(k, s + i, len);
            }
            i += len == 0 ? 1 : len;
            plain = i;
        } else {
            i += len;
        }
    }
    emit(k, s + plain, n - plain);
}

size_t
text_safe(char *out, size_t cap, const char *s, size_t n, text_mode_t mode)
{
    sink_t k = {.out = out, .cap = cap};
    run(&k, s, n, mode);
    if (cap > 0) {
        out[k.written] = '\0';
    }
    return k.len;
}

int
text_fput(FILE *f, const char *s, size_t n, text_mode_t mode)
{
    sink_t k = {.f = f};
    run(&k, s, n, mode);
    return k.failed || ferror(f) ? -1 : 0;
}
