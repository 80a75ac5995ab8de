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
    /* Connections at once. When all are taken, a new one takes the place
     * of the client that has waited longest without sending its request;
     * when every client has a request running, the new one is closed. */
    CONTROL_CLIENTS_MAX = 64,
    /* A client that has not sent its whole request this long after it
     * connected is closed: the CLI sends it at once. */
    CONTROL_IDLE_MS = 5000,
    /* The old limits, when the "control-idle" defence is off (a test). */
    CONTROL_CLIENTS_MAX_UNDEFENDED = 16,
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

/* Test only: defences (defence.h) to switch off; "control-idle" turns off
 * the idle timeout and the eviction, and caps clients at
 * CONTROL_CLIENTS_MAX_UNDEFENDED, as before the defence. list borrowed for
 * the call. */
void control_set_defences_off(control_t *c, const char *list);

/* Counters for the tests: clients closed for idling, new ones turned away. */
typedef struct {
    uint64_t idle_closed;
    uint64_t evicted;
    uint64_t refused;
    int clients;
} control_stats_t;
void control_stats(const control_t *c, control_stats_t *out);

/* Stops listening, removes the socket file, waits for the requests being
 * served to be answered, then runs cb(ud) and frees c. Accepts NULL (cb runs
 * at once). */
void control_close(control_t *c, void (*cb)(void *ud), void *ud);

/* The path of DIR's control socket into out (cap bytes). False when it
 * does not fit a Unix socket address. */
bool control_socket_path(char *out, size_t cap, const char *dir);

#endif
