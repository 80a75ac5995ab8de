/* wbuf: a growable byte buffer with a cap, for building responses, and the
 * one HTML escaper: every text a peer wrote goes into a page through
 * wbuf_html. Appends after a failure (out of memory, the cap reached) do
 * nothing; the caller checks `failed` once at the end. */
#ifndef SAMIZDAT_WBUF_H
#define SAMIZDAT_WBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *p; /* NUL-terminated while not failed */
    size_t len;
    size_t cap;
    size_t max; /* bytes at most */
    bool failed;
} wbuf_t;

void wbuf_init(wbuf_t *b, size_t max);
void wbuf_free(wbuf_t *b);
void wbuf_add(wbuf_t *b, const void *s, size_t n);
void wbuf_puts(wbuf_t *b, const char *s);
void wbuf_printf(wbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends n bytes of text as HTML text or attribute value: & < > " ' are
 * escaped, a byte that is not well-formed UTF-8 becomes U+FFFD, control
 * characters other than LF and TAB are dropped. Bidi controls pass: the
 * page isolates every peer-written text (<bdi>, dir="auto"), so they
 * cannot reorder anything outside it. */
void wbuf_html(wbuf_t *b, const char *s, size_t n);
void wbuf_html_str(wbuf_t *b, const char *s);

/* Appends s %-encoded for a URL query value. */
void wbuf_url(wbuf_t *b, const char *s);

/* Hands the bytes over: returned; caller frees with free(). NULL when the
 * buffer failed (it is freed then). The buffer is empty afterwards. */
char *wbuf_take(wbuf_t *b, size_t *len);

#endif
