/* utf8: validation of text that goes into signed posts. */
#ifndef SAMIZDAT_UTF8_H
#define SAMIZDAT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    UTF8_TEXT = 0,   /* a post body: LF and TAB allowed, no other control character */
    UTF8_LINE = 1,   /* a display name: no control character at all */
} utf8_mode_t;

/* True when p[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) and holds no control character (C0,
 * DEL, C1), except LF and TAB in UTF8_TEXT mode. Control characters are refused so
 * a post can never drive the terminal it is shown on. */
bool utf8_valid(const uint8_t *p, size_t n, utf8_mode_t mode);

#endif
