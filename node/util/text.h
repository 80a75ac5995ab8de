/* text: peer-written text made safe to show on a terminal.
 *
 * A name or a body comes from a stranger. Post validation already refuses
 * C0 and C1 control characters, but Unicode's bidirectional formatting
 * characters are valid text, and a terminal that implements the Unicode
 * bidi algorithm lets them reorder what is shown: a name ending in U+202E
 * (RIGHT-TO-LEFT OVERRIDE) shows the post number and id that follow it on
 * the same line backwards, so one author can pass for another or a post id
 * can be made to read as a different one ("Trojan Source" spoofing).
 *
 * What this module does, and why (escape rather than isolate):
 *
 * - Every explicit bidi formatting character is replaced by a visible
 *   escape, "<U+202E>": the embeddings and overrides U+202A..U+202E (LRE,
 *   RLE, PDF, LRO, RLO) and the isolates U+2066..U+2069 (LRI, RLI, FSI,
 *   PDI). Wrapping the text in FSI ... PDI (closing unbalanced controls)
 *   is the right tool where the renderer implements isolates, as browsers
 *   do: the web UI should use <bdi> or dir="auto" and leave the text as it
 *   is. A terminal is different: most terminal emulators implement no
 *   bidi at all, some only the implicit part, and what they do with an
 *   isolate varies (ignored, shown as a box, or honoured). An escape gives
 *   the same safe result on every terminal and also shows the reader that
 *   the text holds formatting characters, which in a name or a short post
 *   is itself a warning sign. Letters of right-to-left scripts (Arabic,
 *   Hebrew) are not touched: they need no control to be shown right.
 * - TEXT_LINE (a name, or any field printed inside a line of other
 *   output) also escapes the bidi marks U+200E (LRM), U+200F (RLM) and
 *   U+061C (ALM), which can move the punctuation and numbers next to the
 *   field, and LF and TAB, so a field stays on its line. TEXT_BODY (a post body or a bio, printed
 * on lines of its own) keeps LF, TAB and the three marks: writers of right-to-left scripts use the
 * marks to place punctuation, and each line of a body is a paragraph of its own, so a mark cannot
 * reach text outside the body.
 * - Both modes escape U+2028 and U+2029 (LINE and PARAGRAPH SEPARATOR):
 *   terminals do not break lines on them, yet a bidi renderer starts a new
 *   paragraph there, so they would split the text where the reader sees
 *   no split.
 * - In both modes other control characters (C0, DEL, C1, which valid posts
 *   never hold, but this module trusts nothing) become "<U+0007>", and a
 *   byte that is not part of well-formed UTF-8 becomes "<0xff>".
 *
 * The escapes are plain ASCII and not themselves escaped: a name that
 * holds the literal characters "<U+202E>" shows the same as one that holds
 * the control. That ambiguity is harmless (it reorders nothing).
 *
 * libc only, like the rest of node/util. */
#ifndef SAMIZDAT_TEXT_H
#define SAMIZDAT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    TEXT_LINE = 0, /* a field inside a line of other output: a display name */
    TEXT_BODY = 1, /* text shown on lines of its own: a post body, a bio */
} text_mode_t;

/* One input byte becomes at most this many output bytes ("<U+0007>"), so
 * TEXT_SAFE_SIZE(n) bytes always hold the safe form of n bytes. */
enum { TEXT_GROWTH_MAX = 8 };
#define TEXT_SAFE_SIZE(n) ((size_t)(n)*TEXT_GROWTH_MAX + 1)

/* True when the code point is one of the characters this module escapes
 * in mode because of its bidi effect. */
bool text_is_bidi_control(unsigned long cp, text_mode_t mode);

/* Writes the safe form of s[0..n) into out (cap bytes). Output stops
 * before the first character or escape that does not fit whole, so a short
 * buffer never ends in a broken character; out is NUL-terminated when
 * cap > 0. Returns the length of the whole safe form (not counting the
 * NUL): when it is >= cap, the output was cut. s borrowed for the call; it
 * may hold NUL bytes (they are escaped). */
size_t text_safe(char *out, size_t cap, const char *s, size_t n, text_mode_t mode);

/* Writes the safe form of s[0..n) to f. Returns 0, or -1 when f reports an
 * error. Needs no buffer, so it suits a body of any length. */
int text_fput(FILE *f, const char *s, size_t n, text_mode_t mode);

#endif
