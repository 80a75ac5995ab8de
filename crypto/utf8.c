#include "utf8.h"

#include <stdio.h>

static bool
control_allowed(uint8_t c, utf8_mode_t mode)
{
    return mode == UTF8_TEXT && (c == '\n' || c == '\t');
}

static bool
is_cont(uint8_t b)
{
    return (b & 0xc0) == 0x80;
}

/* Length of the sequence a lead byte announces, counting the forms RFC 3629
 * forbids (0xc0, 0xc1, 0xf5..0xf7) so their fault can be named; 0 for a
 * byte that announces nothing. */
static size_t
seq_len(uint8_t c)
{
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc0 && c <= 0xdf) {
        return 2;
    }
    if (c >= 0xe0 && c <= 0xef) {
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf7) {
        return 4;
    }
    return 0;
}

/* The fault a lead byte and a continuation byte b after it already show:
 * the allowed range of the second byte depends on the lead, and this is
 * what rules out overlong forms, surrogates and code points past U+10FFFF
 * (RFC 3629, section 4). */
static utf8_kind_t
second_fault(uint8_t lead, uint8_t b)
{
    if ((lead == 0xe0 && b < 0xa0) || (lead == 0xf0 && b < 0x90)) {
        return UTF8_EOVERLONG;
    }
    if (lead == 0xed && b > 0x9f) {
        return UTF8_ESURROGATE;
    }
    if (lead == 0xf4 && b > 0x8f) {
        return UTF8_ETOOBIG;
    }
    return UTF8_OK;
}

static utf8_kind_t
found(utf8_problem_t *out, utf8_kind_t kind, size_t offset, uint32_t cp)
{
    if (out != NULL) {
        out->kind = kind;
        out->offset = offset;
        out->codepoint = cp;
    }
    return kind;
}

utf8_kind_t
utf8_check(const uint8_t *p, size_t n, utf8_mode_t mode, utf8_problem_t *out)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x20 || c == 0x7f) {
            if (!control_allowed(c, mode)) {
                return found(out, UTF8_ECONTROL, i, c);
            }
            i++;
            continue;
        }
        size_t len = seq_len(c);
        if (len == 0) {
            return found(out, UTF8_EINVALID, i, 0);
        }
        if (len == 1) {
            i++;
            continue;
        }
        /* Leads that no well-formed text holds: 0xc0 and 0xc1 can only
         * start an overlong form of ASCII, 0xf5..0xf7 only a code point
         * past U+10FFFF. */
        if (c == 0xc0 || c == 0xc1) {
            return found(out, UTF8_EOVERLONG, i, 0);
        }
        if (c >= 0xf5) {
            return found(out, UTF8_ETOOBIG, i, 0);
        }
        /* Every continuation byte present must be one; a sequence cut by
         * the end of the text is truncated, unless what is there already
         * shows a worse fault. */
        for (size_t k = 1; k < len && i + k < n; k++) {
            if (!is_cont(p[i + k])) {
                return found(out, UTF8_EINVALID, i, 0);
            }
        }
        if (i + 1 < n) {
            utf8_kind_t f = second_fault(c, p[i + 1]);
            if (f != UTF8_OK) {
                return found(out, f, i, 0);
            }
        }
        if (len > n - i) {
            return found(out, UTF8_ETRUNCATED, i, 0);
        }
        /* C1 controls U+0080..U+009F: some terminals act on them (0x9b is CSI). */
        if (c == 0xc2 && p[i + 1] <= 0x9f) {
            return found(out, UTF8_ECONTROL, i, p[i + 1]);
        }
        i += len;
    }
    return found(out, UTF8_OK, n, 0);
}

bool
utf8_valid(const uint8_t *p, size_t n, utf8_mode_t mode)
{
    return utf8_check(p, n, mode, NULL) == UTF8_OK;
}

int
utf8_problem_describe(char *out, size_t cap, const utf8_problem_t *p)
{
    const char *why = NULL;
    switch (p->kind) {
    case UTF8_OK:
        return snprintf(out, cap, "valid text");
    case UTF8_ECONTROL:
        return snprintf(out, cap, "control character U+%04X at byte %zu", (unsigned)p->codepoint,
                        p->offset);
    case UTF8_EINVALID:
        return snprintf(out, cap, "invalid UTF-8 at byte %zu", p->offset);
    case UTF8_EOVERLONG:
        why = "overlong encoding";
        break;
    case UTF8_ESURROGATE:
        why = "encoded surrogate";
        break;
    case UTF8_ETOOBIG:
        why = "code point above U+10FFFF";
        break;
    case UTF8_ETRUNCATED:
        why = "the text ends inside a character";
        break;
    }
    if (why == NULL) {
        return snprintf(out, cap, "invalid UTF-8 at byte %zu", p->offset);
    }
    return snprintf(out, cap, "invalid UTF-8 at byte %zu (%s)", p->offset, why);
}
