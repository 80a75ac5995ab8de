#include "utf8.h"

static bool
control_allowed(uint8_t c, utf8_mode_t mode)
{
    return mode == UTF8_TEXT && (c == '\n' || c == '\t');
}

/* Length of the sequence led by c, or 0 for a byte that cannot lead one. */
static size_t
seq_len(uint8_t c)
{
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        return 2;
    }
    if (c >= 0xe0 && c <= 0xef) {
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        return 4;
    }
    return 0;
}

/* The allowed range of the second byte depends on the lead byte: this is
 * what rules out overlong forms, surrogates and code points past U+10FFFF
 * (RFC 3629, section 4). */
static bool
second_ok(uint8_t lead, uint8_t b)
{
    uint8_t lo = 0x80, hi = 0xbf;
    if (lead == 0xe0) {
        lo = 0xa0;
    } else if (lead == 0xed) {
        hi = 0x9f;
    } else if (lead == 0xf0) {
        lo = 0x90;
    } else if (lead == 0xf4) {
        hi = 0x8f;
    }
    return b >= lo && b <= hi;
}

bool
utf8_valid(const uint8_t *p, size_t n, utf8_mode_t mode)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x20 || c == 0x7f) {
            if (!control_allowed(c, mode)) {
                return false;
            }
            i++;
            continue;
        }
        size_t len = seq_len(c);
        if (len == 0 || len > n - i) {
            return false;
        }
        if (len > 1 && !second_ok(c, p[i + 1])) {
            return false;
        }
        /* C1 controls U+0080..U+009F: some terminals act on them (0x9b is CSI). */
        if (c == 0xc2 && p[i + 1] <= 0x9f) {
            return false;
        }
        for (size_t k = 2; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return false;
            }
        }
        i += len;
    }
    return true;
}
