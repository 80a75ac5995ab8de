#include "wbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
wbuf_init(wbuf_t *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void
wbuf_free(wbuf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static bool
reserve(wbuf_t *b, size_t n)
{
    if (b->failed) {
        return false;
    }
    if (n > b->max || b->len + n + 1 > b->max) {
        b->failed = true;
        return false;
    }
    if (b->len + n + 1 <= b->cap) {
        return true;
    }
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1) {
        cap *= 2;
    }
    if (cap > b->max) {
        cap = b->max;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void
wbuf_add(wbuf_t *b, const void *s, size_t n)
{
    if (!reserve(b, n)) {
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void
wbuf_puts(wbuf_t *b, const char *s)
{
    wbuf_add(b, s, strlen(s));
}

void
wbuf_printf(wbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        wbuf_add(b, tmp, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* The length of the well-formed UTF-8 sequence at s (at most n bytes), or
 * 0 when it is not one: overlong forms, surrogates and values above
 * U+10FFFF are not. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t v;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        v = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        v = v << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
        (len == 4 && (v < 0x10000 || v > 0x10ffff))) {
        return 0;
    }
    /* C1 controls (U+0080..U+009F) are controls too. */
    return len == 2 && v < 0xa0 ? 0 : len;
}

void
wbuf_html(wbuf_t *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n && !b->failed) {
        unsigned c = u[i];
        const char *esc = NULL;
        switch (c) {
        case '&':
            esc = "&amp;";
            break;
        case '<':
            esc = "&lt;";
            break;
        case '>':
            esc = "&gt;";
            break;
        case '"':
            esc = "&quot;";
            break;
        case '\'':
            esc = "&#39;";
            break;
        default:
            break;
        }
        if (esc != NULL) {
            wbuf_puts(b, esc);
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            if (c == '\n' || c == '\t') {
                wbuf_add(b, s + i, 1);
            }
            i++;
            continue;
        }
        size_t len = utf8_len(u + i, n - i);
        if (len == 0) {
            wbuf_puts(b, "\xef\xbf\xbd");
            i++;
            continue;
        }
        wbuf_add(b, s + i, len);
        i += len;
    }
}

void
wbuf_html_str(wbuf_t *b, const char *s)
{
    wbuf_html(b, s, strlen(s));
}

void
wbuf_url(wbuf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *u = (const unsigned char *)s; *u != '\0'; u++) {
        bool plain = (*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') ||
                     (*u >= '0' && *u <= '9') || *u == '-' || *u == '_' || *u == '.' || *u == '~';
        if (plain) {
            wbuf_add(b, u, 1);
        } else {
            char e[3] = {'%', hex[*u >> 4], hex[*u & 15]};
            wbuf_add(b, e, 3);
        }
    }
}

char *
wbuf_take(wbuf_t *b, size_t *len)
{
    if (b->failed) {
        wbuf_free(b);
        *len = 0;
        return NULL;
    }
    if (b->p == NULL) {
        wbuf_add(b, "", 0);
        if (b->failed) {
            wbuf_free(b);
            *len = 0;
            return NULL;
        }
    }
    char *p = b->p;
    *len = b->len;
    size_t max = b->max;
    memset(b, 0, sizeof *b);
    b->max = max;
    return p;
}
