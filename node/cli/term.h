/* term: reading a passphrase without echo. */
#ifndef SAMIZDAT_TERM_H
#define SAMIZDAT_TERM_H

#include <stddef.h>

typedef enum {
    TERM_OK = 0,
    TERM_ENOTTY,     /* no terminal to ask on, and SAMIZDAT_PASSPHRASE unset */
    TERM_EINTR,      /* interrupted (Ctrl-C); the terminal is restored */
    TERM_ETOOLONG,   /* longer than the buffer */
    TERM_EMISMATCH,  /* the two entries did not match (confirm mode) */
    TERM_EEMPTY,     /* an empty passphrase */
} term_err_t;

const char *term_strerror(term_err_t err);

/* Reads a passphrase into out (cap bytes, NUL-terminated): from
 * $SAMIZDAT_PASSPHRASE when set, else from /dev/tty with echo off, showing
 * prompt on the terminal. confirm: ask twice and require the same answer.
 * On error out is wiped. */
term_err_t term_read_passphrase(char *out, size_t cap, const char *prompt, int confirm);

#endif
