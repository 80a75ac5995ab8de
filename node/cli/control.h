/* control: the local socket through which the CLI talks to a running node.
 *
 * A Unix socket "control.sock" in the data directory, mode 0600 in a 0700
 * directory: only the owner can use it. One request per connection:
 *
 *     request:  u32 length, then  u8 version (1) | u8 argc |
 *               argc x (u16 length | bytes) | u32 length | standard input bytes
 *     response: u32 length, then  u8 exit code | u32 length | standard output |
 *               u32 length | standard error
 *
 * The node runs the command with its own open store and unlocked key, exactly
 * as the CLI would offline. docs/INTERNALS.md, "Control socket", is normative. */
#ifndef SAMIZDAT_CONTROL_H
#define SAMIZDAT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define CONTROL_SOCKET_NAME "control.sock"
enum {
    CONTROL_VERSION = 1,
    CONTROL_REQUEST_MAX = 1024 * 1024,
    CONTROL_RESPONSE_MAX = 64 * 1024 * 1024,
    CONTROL_ARGS_MAX = 64,
    CONTROL_CLIENTS_MAX = 16,
};

struct node;
typedef struct control control_t;

typedef enum {
    CONTROL_OK = 0,
    CONTROL_ENOMEM,
    CONTROL_EBIND,    /* the socket could not be created */
    CONTROL_ETOOLONG, /* DIR/control.sock is longer than a Unix socket path may be */
} control_err_t;

const char *control_strerror(control_err_t err);

control_err_t control_new(control_t **out, uv_loop_t *loop, struct node *node, const char *dir);
void control_close(control_t *c, void (*cb)(void *ud), void *ud);

/* A parsed request: argv points into the request buffer. */
typedef struct {
    int argc;
    char *argv[CONTROL_ARGS_MAX + 1];
    const uint8_t *in;
    size_t in_len;
} control_request_t;

/* Decodes a request body (after its u32 length). NUL-terminates the
 * arguments in place, so buf must be writable. False when malformed. */
bool control_request_decode(uint8_t *buf, size_t len, control_request_t *out);

#endif
