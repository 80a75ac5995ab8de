/* utf8: validation of text that goes into signed posts, and a precise
 * account of the first problem in text that fails it.
 *
 * Byte offsets count from 0 at the first byte of the text, as a hex dump
 * shows them. */
#ifndef SAMIZDAT_UTF8_H
#define SAMIZDAT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    UTF8_TEXT = 0, /* a post body: LF and TAB allowed, no other control character */
    UTF8_LINE = 1, /* a display name: no control character at all */
} utf8_mode_t;

/* What is wrong with a piece of text, the first fault in it. */
typedef enum {
    UTF8_OK = 0,
    UTF8_EINVALID,   /* a byte that cannot start a character (a stray continuation
                        byte, 0xf8..0xff), or a sequence broken by a byte that does
                        not continue it */
    UTF8_EOVERLONG,  /* a character encoded in more bytes than it needs (0xc0 0xaf) */
    UTF8_ESURROGATE, /* an encoded UTF-16 surrogate, U+D800..U+DFFF */
    UTF8_ETOOBIG,    /* a code point above U+10FFFF */
    UTF8_ETRUNCATED, /* the text ends in the middle of a character */
    UTF8_ECONTROL,   /* a control character (C0, DEL, C1) the mode does not allow */
} utf8_kind_t;

typedef struct {
    utf8_kind_t kind;
    size_t offset;      /* the first byte of the faulty character or sequence */
    uint32_t codepoint; /* UTF8_ECONTROL: the character, e.g. 0x07 */
} utf8_problem_t;

/* Checks p[0..n) as utf8_valid does and returns the first problem's kind
 * (UTF8_OK if none). When out is not NULL it gets the details; on UTF8_OK
 * it is {UTF8_OK, n, 0}. p borrowed for the call. */
utf8_kind_t utf8_check(const uint8_t *p, size_t n, utf8_mode_t mode, utf8_problem_t *out);

/* True when p[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) and holds no control character (C0,
 * DEL, C1), except LF and TAB in UTF8_TEXT mode. Control characters are refused so
 * a post can never drive the terminal it is shown on. */
bool utf8_valid(const uint8_t *p, size_t n, utf8_mode_t mode);

/* The message for a problem, as the command line and the web UI show it:
 *
 *   UTF8_EINVALID    "invalid UTF-8 at byte N"
 *   UTF8_EOVERLONG   "invalid UTF-8 at byte N (overlong encoding)"
 *   UTF8_ESURROGATE  "invalid UTF-8 at byte N (encoded surrogate)"
 *   UTF8_ETOOBIG     "invalid UTF-8 at byte N (code point above U+10FFFF)"
 *   UTF8_ETRUNCATED  "invalid UTF-8 at byte N (the text ends inside a character)"
 *   UTF8_ECONTROL    "control character U+0007 at byte N"
 *   UTF8_OK          "valid text"
 *
 * into out (cap bytes, always NUL-terminated when cap > 0; 80 suffice).
 * Returns what snprintf returns: the length of the whole message. */
int utf8_problem_describe(char *out, size_t cap, const utf8_problem_t *p);

#endif
