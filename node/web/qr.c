#include "qr.h"

#include <errno.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *
qr_strerror(qr_err_t err)
{
    switch (err) {
    case QR_OK:
        return "ok";
    case QR_EINVAL:
        return "nothing to encode";
    case QR_ETOOLONG:
        return "text too long for a QR code here";
    case QR_ENOMEM:
        return "out of memory";
    case QR_EENCODE:
        return "the QR encoder refused the text";
    }
    return "unknown QR error";
}

/* U+2588 FULL BLOCK, U+2580 UPPER HALF BLOCK, U+2584 LOWER HALF BLOCK. */
static const char FULL[] = "\xe2\x96\x88";
static const char UPPER[] = "\xe2\x96\x80";
static const char LOWER[] = "\xe2\x96\x84";

/* Whether module (x, y) of the drawing, quiet zone included, is light.
 * Outside the drawing counts as dark: nothing is drawn there. */
static bool
light(const QRcode *q, int x, int y)
{
    int side = q->width + 2 * QR_QUIET;
    if (x < 0 || y < 0 || x >= side || y >= side) {
        return false;
    }
    x -= QR_QUIET;
    y -= QR_QUIET;
    if (x < 0 || y < 0 || x >= q->width || y >= q->width) {
        return true; /* the quiet zone */
    }
    /* Bit 0 of each module byte is its colour: 1 is dark. */
    return (q->data[y * q->width + x] & 1) == 0;
}

static void
put(char **p, const char *s)
{
    size_t n = strlen(s);
    memcpy(*p, s, n);
    *p += n;
}

/* text at error correction level M, byte mode, the smallest version. */
static qr_err_t
encode(const char *text, QRcode **out)
{
    size_t len = text != NULL ? strlen(text) : 0;
    if (len == 0) {
        return QR_EINVAL;
    }
    if (len > QR_TEXT_MAX) {
        return QR_ETOOLONG;
    }
    errno = 0;
    *out = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
    if (*out == NULL) {
        return errno == ENOMEM ? QR_ENOMEM : errno == ERANGE ? QR_ETOOLONG : QR_EENCODE;
    }
    return QR_OK;
}

qr_err_t
qr_render(const char *text, qr_style_t style, char **out, qr_info_t *info)
{
    *out = NULL;
    QRcode *q = NULL;
    qr_err_t err = encode(text, &q);
    if (err != QR_OK) {
        return err;
    }
    int side = q->width + 2 * QR_QUIET;
    int lines = style == QR_UTF8 ? (side + 1) / 2 : side;
    int columns = style == QR_UTF8 ? side : 2 * side;
    /* At most 3 bytes a column (a half block), and a newline a line. Side is
     * at most 177 + 8 modules (version 40), so this cannot overflow. */
    size_t cap = (size_t)lines * ((size_t)side * 3 + 1) + 1;
    char *s = malloc(cap);
    if (s == NULL) {
        QRcode_free(q);
        return QR_ENOMEM;
    }
    char *p = s;
    for (int line = 0; line < lines; line++) {
        for (int x = 0; x < side; x++) {
            if (style == QR_ASCII) {
                put(&p, light(q, x, line) ? "##" : "  ");
                continue;
            }
            bool top = light(q, x, 2 * line), bottom = light(q, x, 2 * line + 1);
            put(&p, top && bottom ? FULL : top ? UPPER : bottom ? LOWER : " ");
        }
        *p++ = '\n';
    }
    *p = '\0';
    if (info != NULL) {
        info->version = q->version;
        info->modules = q->width;
        info->lines = lines;
        info->columns = columns;
    }
    QRcode_free(q);
    *out = s;
    return QR_OK;
}

qr_err_t
qr_svg(const char *text, char **out, qr_info_t *info)
{
    *out = NULL;
    QRcode *q = NULL;
    qr_err_t err = encode(text, &q);
    if (err != QR_OK) {
        return err;
    }
    int side = q->width + 2 * QR_QUIET;
    /* A run of dark modules is "M x y hN v1 h-N z": at most 32 bytes, and
     * there are at most side * side / 2 runs. */
    size_t cap = 512 + (size_t)side * (size_t)side * 16;
    char *s = malloc(cap);
    if (s == NULL) {
        QRcode_free(q);
        return QR_ENOMEM;
    }
    size_t o = (size_t)snprintf(s, cap,
                                "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                                "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
                                "fill=\"#fff\"/><path fill=\"#000\" d=\"",
                                side, side, side, side);
    for (int y = 0; y < side; y++) {
        for (int x = 0; x < side;) {
            if (light(q, x, y)) {
                x++;
                continue;
            }
            int run = 1;
            while (x + run < side && !light(q, x + run, y)) {
                run++;
            }
            o += (size_t)snprintf(s + o, cap - o, "M%d %dh%dv1h-%dz", x, y, run, run);
            x += run;
        }
    }
    snprintf(s + o, cap - o, "\"/></svg>");
    if (info != NULL) {
        info->version = q->version;
        info->modules = q->width;
        info->lines = side;
        info->columns = side;
    }
    QRcode_free(q);
    *out = s;
    return QR_OK;
}

void
qr_free(char *drawing)
{
    free(drawing);
}

static bool
names_utf8(const char *v)
{
    if (v == NULL) {
        return false;
    }
    const char *dot = strchr(v, '.');
    if (dot == NULL) {
        return false;
    }
    dot++;
    size_t n = strcspn(dot, "@");
    return (n == 5 && strncasecmp(dot, "utf-8", 5) == 0) ||
           (n == 4 && strncasecmp(dot, "utf8", 4) == 0);
}

bool
qr_utf8_locale(void)
{
    /* The first of these that is set and not empty decides, as in setlocale. */
    const char *names[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v != NULL && v[0] != '\0') {
            return names_utf8(v);
        }
    }
    return false;
}
