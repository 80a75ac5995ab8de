#include "bootstrap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "keytext.h"

const char *
bootstrap_strerror(bootstrap_err_t err)
{
    switch (err) {
    case BOOTSTRAP_OK:
        return "ok";
    case BOOTSTRAP_EMPTY:
        return "empty line";
    case BOOTSTRAP_EFIELDS:
        return "expected two fields: ENDPOINT NODEKEY";
    case BOOTSTRAP_EENDPOINT:
        return "the endpoint is not tcp://HOST:PORT";
    case BOOTSTRAP_EKEY:
        return "the node key is not valid (mistyped, or not a node key)";
    case BOOTSTRAP_ETOOLONG:
        return "the line is too long";
    case BOOTSTRAP_EBYTE:
        return "the line holds a 0x00 byte";
    }
    return "unknown bootstrap error";
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Copies the next space-separated word of *p into out; false if none or too long. */
static bool
next_word(const char **p, char *out, size_t cap)
{
    while (is_space(**p)) {
        (*p)++;
    }
    size_t n = 0;
    while (**p != '\0' && !is_space(**p)) {
        if (n + 1 >= cap) {
            return false;
        }
        out[n++] = *(*p)++;
    }
    out[n] = '\0';
    return n > 0;
}

bootstrap_err_t
bootstrap_parse_line(const char *line, uint8_t key[KEYS_PUBLIC_SIZE],
                     char endpoint[WIRE_ENDPOINT_MAX + 1])
{
    char buf[BOOTSTRAP_LINE_MAX + 1];
    size_t len = strlen(line);
    if (len > BOOTSTRAP_LINE_MAX) {
        return BOOTSTRAP_ETOOLONG;
    }
    memcpy(buf, line, len + 1);
    char *hash = strchr(buf, '#');
    if (hash != NULL) {
        *hash = '\0';
    }
    const char *p = buf;
    char words[3][BOOTSTRAP_LINE_MAX + 1];
    int n = 0;
    while (n < 3 && next_word(&p, words[n], sizeof words[n])) {
        n++;
    }
    if (n == 0) {
        return BOOTSTRAP_EMPTY;
    }
    if (n != 2) {
        return BOOTSTRAP_EFIELDS;
    }
    if (!wire_endpoint_valid(words[0])) {
        return BOOTSTRAP_EENDPOINT;
    }
    if (keytext_decode(key, KEYTEXT_NODE, words[1]) != KEYTEXT_OK) {
        return BOOTSTRAP_EKEY;
    }
    /* A valid endpoint is at most WIRE_ENDPOINT_MAX bytes. */
    memcpy(endpoint, words[0], strlen(words[0]) + 1);
    return BOOTSTRAP_OK;
}

/* Reads one line (without its newline) into buf, cap bytes with room for a
 * NUL. fgets cannot be used: it cannot say where a line holding a 0x00 byte
 * ends. Returns false at the end of the file. A line too long for buf is
 * read to its end and reported with *too_long; a 0x00 byte with *has_nul. */
static bool
read_line(FILE *f, char *buf, size_t cap, bool *too_long, bool *has_nul)
{
    size_t n = 0;
    int c;
    *too_long = *has_nul = false;
    while ((c = fgetc(f)) != EOF && c != '\n') {
        *has_nul |= c == 0;
        if (n + 1 < cap) {
            buf[n++] = (char)c;
        } else {
            *too_long = true;
        }
    }
    buf[n] = '\0';
    return c != EOF || n > 0 || *too_long || *has_nul;
}

void
bootstrap_read(const char *path, bootstrap_entry_cb cb, void *ud, const log_t *lg, size_t *good,
               size_t *bad)
{
    *good = *bad = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        log_line(lg, LOG_LEVEL_WARN, "bootstrap: cannot read %s: %s", path, strerror(errno));
        return;
    }
    char line[BOOTSTRAP_LINE_MAX + 2];
    unsigned lineno = 0;
    bool too_long = false, has_nul = false;
    while (*good < BOOTSTRAP_ENTRIES_MAX && read_line(f, line, sizeof line, &too_long, &has_nul)) {
        lineno++;
        uint8_t key[KEYS_PUBLIC_SIZE];
        char endpoint[WIRE_ENDPOINT_MAX + 1];
        bootstrap_err_t err = too_long  ? BOOTSTRAP_ETOOLONG
                              : has_nul ? BOOTSTRAP_EBYTE
                                        : bootstrap_parse_line(line, key, endpoint);
        if (err == BOOTSTRAP_OK) {
            cb(ud, key, endpoint);
            (*good)++;
        } else if (err != BOOTSTRAP_EMPTY) {
            log_line(lg, LOG_LEVEL_WARN, "bootstrap: %s line %u: %s", path, lineno,
                     bootstrap_strerror(err));
            (*bad)++;
        }
    }
    if (ferror(f)) {
        log_line(lg, LOG_LEVEL_WARN, "bootstrap: error reading %s: %s", path, strerror(errno));
    }
    fclose(f);
}
