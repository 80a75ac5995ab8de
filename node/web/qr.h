/* qr: a text (an author key, an invite) as a QR code for a terminal or a
 * web page (SVG); the terminal drawing is drawn with
 * libqrencode's module matrix. Light modules (and the quiet zone around the
 * code) are drawn, dark ones left blank, as `qrencode -t UTF8` does: on the
 * usual light-on-dark terminal the code shows dark on light, as scanners
 * expect. */
#ifndef SAMIZDAT_QR_H
#define SAMIZDAT_QR_H

#include <stdbool.h>

typedef enum {
    QR_OK = 0,
    QR_EINVAL,   /* empty text */
    QR_ETOOLONG, /* longer than QR_TEXT_MAX */
    QR_ENOMEM,   /* out of memory (here or in libqrencode) */
    QR_EENCODE,  /* libqrencode refused the text for another reason */
} qr_err_t;

typedef enum {
    QR_UTF8,  /* half blocks: one character per module across, two modules down */
    QR_ASCII, /* "##" per light module and "  " per dark one, one line per module */
} qr_style_t;

enum {
    QR_QUIET = 4,       /* light modules around the code, as the QR standard asks */
    QR_TEXT_MAX = 1024, /* longest text accepted; a key text is 62 characters, an
                           invite at most 943 */
};

typedef struct {
    int version; /* QR version chosen by libqrencode, 1 to 40 */
    int modules; /* modules per side, without the quiet zone (17 + 4 * version) */
    int lines;   /* lines of the drawing, each ending in '\n' */
    int columns; /* characters per line (not bytes: a half block is 3 bytes) */
} qr_info_t;

/* Encodes text (borrowed for the call) at error correction level M, byte
 * mode, the smallest version that fits, and draws it in style with the quiet
 * zone. On QR_OK *out is the drawing, NUL-terminated: returned; caller frees
 * with qr_free(). info (may be NULL) describes it. On error *out is NULL and
 * info is unchanged. */
qr_err_t qr_render(const char *text, qr_style_t style, char **out, qr_info_t *info);

/* The same code as an SVG image (one path of dark modules on a light
 * square, quiet zone included; viewBox in modules, so it scales). *out as
 * for qr_render; info's lines and columns are the side in modules. */
qr_err_t qr_svg(const char *text, char **out, qr_info_t *info);

/* Frees what qr_render or qr_svg returned. Accepts NULL. */
void qr_free(char *drawing);

/* Whether the locale's character set is UTF-8, from $LC_ALL, $LC_CTYPE and
 * $LANG in the order the C library reads them; false when none is set. */
bool qr_utf8_locale(void);

const char *qr_strerror(qr_err_t err);

#endif
