/* bootstrap: the bootstrap.list format. One "ENDPOINT NODEKEY" per line;
 * '#' starts a comment; blank lines are ignored. */
#ifndef SAMIZDAT_BOOTSTRAP_H
#define SAMIZDAT_BOOTSTRAP_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "wire.h"

enum { BOOTSTRAP_LINE_MAX = 512, BOOTSTRAP_ENTRIES_MAX = 1024 };

typedef enum {
    BOOTSTRAP_OK = 0,
    BOOTSTRAP_EMPTY,     /* a blank or comment line: nothing to add */
    BOOTSTRAP_EFIELDS,   /* not exactly two fields */
    BOOTSTRAP_EENDPOINT, /* the endpoint is not tcp://HOST:PORT */
    BOOTSTRAP_EKEY,      /* the node key text is not valid */
    BOOTSTRAP_ETOOLONG,  /* the line is longer than BOOTSTRAP_LINE_MAX */
    BOOTSTRAP_EBYTE,     /* the line holds a 0x00 byte (files only) */
} bootstrap_err_t;

const char *bootstrap_strerror(bootstrap_err_t err);

/* Parses one line (without its newline). On BOOTSTRAP_OK key and endpoint
 * (WIRE_ENDPOINT_MAX + 1 bytes) are set. */
bootstrap_err_t bootstrap_parse_line(const char *line, uint8_t key[KEYS_PUBLIC_SIZE],
                                     char endpoint[WIRE_ENDPOINT_MAX + 1]);

typedef void (*bootstrap_entry_cb)(void *ud, const uint8_t key[KEYS_PUBLIC_SIZE],
                                   const char *endpoint);

/* Reads a whole file, calling cb for each good entry and logging each bad
 * line with its number. At most BOOTSTRAP_ENTRIES_MAX entries are taken. A
 * missing file is logged, not fatal. */
void bootstrap_read(const char *path, bootstrap_entry_cb cb, void *ud, const log_t *lg,
                    size_t *good, size_t *bad);

#endif
