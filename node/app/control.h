/* control: the local socket through which front ends reach a running node.
 *
 * A Unix socket "control.sock" in the data directory, mode 0600 in a 0700
 * directory: only the owner can use it. One request per connection: the
 * client sends a u32 big-endian length and an encoded app request
 * (appmsg.h), the server answers with a u32 length and the encoded result,
 * then closes. The server runs each request with app_call() on the daemon's
 * local app. docs/INTERNALS.md section 2, "Control socket", is normative. */
#ifndef SAMIZDAT_CONTROL_H
#define SAMIZDAT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "app.h"

#define CONTROL_SOCKET_NAME "control.sock"
enum {
    CONTROL_CLIENTS_MAX = 16, /* connections at once; more are closed at once */
};

typedef struct control control_t;

typedef enum {
    CONTROL_OK = 0,
    CONTROL_ENOMEM,
    CONTROL_EBIND,    /* the socket could not be created */
    CONTROL_ETOOLONG, /* DIR/control.sock is longer than a Unix socket path may be */
} control_err_t;

const char *control_strerror(control_err_t err);

/* Listens on DIR/control.sock and serves requests with app (a local app,
 * borrowed until control_close is called: no request reaches the app after
 * that, though the callbacks of calls already made still answer). loop
 * borrowed until the close callback ran. */
control_err_t control_new(control_t **out, uv_loop_t *loop, app_t *app, const char *dir);

/* Stops listening, removes the socket file, waits for the requests being
 * served to be answered, then runs cb(ud) and frees c. Accepts NULL (cb runs
 * at once). */
void control_close(control_t *c, void (*cb)(void *ud), void *ud);

/* The path of DIR's control socket into out (cap bytes). False when it
 * does not fit a Unix socket address. */
bool control_socket_path(char *out, size_t cap, const char *dir);

#endif
