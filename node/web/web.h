/* web: the local web UI and the HTTP API, served from the running node.
 *
 * GNU libmicrohttpd in external-epoll mode on the node's libuv loop: its
 * epoll descriptor under a uv_poll, its timeouts on a uv_timer, no thread
 * of its own. Every request goes to the application layer (app.h) and
 * nothing below it. Event streams (server-sent events) suspend their
 * connection while there is nothing to send and are resumed by the app's
 * events, so an idle stream costs nothing.
 *
 * Who may use it (docs/API.md, "Security"):
 *   - it listens on loopback unless asked otherwise (allow_public);
 *   - every request's Host header must name the address it listens on, or
 *     localhost, with its port (DNS rebinding);
 *   - the UI needs the session cookie, which `samizdat open`'s link sets
 *     (HttpOnly, SameSite=Strict); every form carries a CSRF token;
 *   - the API needs a bearer token with the scope of the endpoint
 *     (webtok.h);
 *   - pages send a Content-Security-Policy that allows no inline script,
 *     and every text a peer wrote is escaped and its direction isolated. */
#ifndef SAMIZDAT_WEB_H
#define SAMIZDAT_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "app.h"
#include "log.h"

enum {
    WEB_DEFAULT_PORT = 7480,
    WEB_CONNECTIONS_MAX = 64,          /* HTTP connections at once */
    WEB_STREAMS_MAX = 32,              /* event streams at once */
    WEB_STREAM_QUEUE_MAX = 256 * 1024, /* bytes waiting for one slow stream: then it is ended */
    WEB_BODY_MAX = 64 * 1024,          /* bytes of a request body */
    WEB_PAGE_MAX = 4 * 1024 * 1024,    /* bytes of one response */
    WEB_KEEPALIVE_MS = 15000,          /* a comment line on idle streams this often */
    WEB_SECRET_SIZE = 32,
};

#define WEB_DEFAULT_LISTEN "127.0.0.1:7480"

typedef enum {
    WEB_OK = 0,
    WEB_ENOMEM,
    WEB_EINVAL,     /* not ADDR:PORT, or a non-loopback address without allow_public */
    WEB_EADDRINUSE, /* another program listens on that port */
    WEB_EBIND,      /* any other failure to listen (the message says why) */
    WEB_EIO,        /* the secret or the address file in the data directory */
    WEB_EHTTPD,     /* libmicrohttpd refused to start */
} web_err_t;

const char *web_strerror(web_err_t err);

typedef struct {
    app_t *app;           /* a local app on the running node; borrowed until web_close */
    const char *data_dir; /* the secret (DATA/web.secret), the URL file and the API tokens */
    const char *listen;   /* "ADDR:PORT" ("[::1]:7480" for IPv6); NULL: WEB_DEFAULT_LISTEN */
    bool allow_public;    /* may listen on an address other than loopback */
    const log_t *log;
    /* Wall clock for the times pages show; NULL: the system clock. */
    uint64_t (*wall_ms)(void *ud);
    void *wall_ud;
} web_config_t;

typedef struct web web_t;

/* Whether listen ("ADDR:PORT") is an address web_new would take: the
 * same words on error as web_new, before anything else is started. */
web_err_t web_listen_check(const char *listen, bool allow_public, char *msg, size_t cap);

/* Starts serving. On error msg (cap bytes) says why, in words. */
web_err_t web_new(web_t **out, uv_loop_t *loop, const web_config_t *cfg, char *msg, size_t cap);

/* The URL of the UI without the key, e.g. "http://127.0.0.1:7480/". */
const char *web_url(const web_t *w);

/* Stops: open streams end, calls in flight are let go; cb(ud) runs once
 * every handle is closed. Accepts NULL. */
void web_close(web_t *w, void (*cb)(void *ud), void *ud);

/* ---- the data directory's side (also used by `samizdat open`) ---- */

/* The secret the session cookie and the CSRF token derive from, created
 * on first need (DATA/web.secret, mode 0600). */
web_err_t web_secret_load(const char *data_dir, uint8_t out[static WEB_SECRET_SIZE]);

/* The login link of the running node's UI: its URL (from DATA/web.url,
 * written while the node serves it) with the key. ENOTFOUND-like EIO when
 * the node is not serving a UI. */
web_err_t web_login_url(const char *data_dir, char *out, size_t cap);

#endif
