/* torctl: the node's client of a Tor daemon's control port (Tor's
 * control-spec): authenticates (cookie, or none when Tor asks none), asks
 * where Tor's SOCKS port is, and publishes an onion service that forwards
 * the node's port to its listener on 127.0.0.1 (ADD_ONION, with the key
 * the caller kept from the last start, so the onion address stays the
 * same). The onion service lives as long as the control connection, which
 * stays open. On the loop: a libuv TCP connection and a line reader capped
 * at TORCTL_LINE_MAX. */
#ifndef SAMIZDAT_TORCTL_H
#define SAMIZDAT_TORCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "log.h"

enum {
    TORCTL_LINE_MAX = 4096,  /* a longer reply line is an error */
    TORCTL_REPLY_MAX = 16384,
    TORCTL_KEY_MAX = 160,    /* "ED25519-V3:" and 88 base64 characters */
    TORCTL_ONION_MAX = 80,   /* 56 characters, ".onion" */
    TORCTL_WHY_MAX = 240,
    TORCTL_DEFAULT_PORT = 9051,
};

typedef struct {
    bool ok;
    char why[TORCTL_WHY_MAX];     /* !ok: what went wrong, in words */
    char onion[TORCTL_ONION_MAX]; /* "xxxx.onion" */
    char socks[64];               /* Tor's SOCKS port "127.0.0.1:9050", or "" */
    char new_key[TORCTL_KEY_MAX]; /* a key Tor made for us: keep it; else "" */
} torctl_info_t;

typedef struct torctl torctl_t;

typedef struct {
    const char *control;  /* "HOST:PORT", a numeric IPv4 or [IPv6] host; copied */
    uint16_t port;        /* the onion service's port, forwarded to 127.0.0.1:port */
    const char *key;      /* "ED25519-V3:..." from the last start, or NULL; copied */
    const log_t *log;     /* borrowed until closed */
    /* Once: the service is up (info->ok) or it cannot be (why). */
    void (*ready)(void *ud, const torctl_info_t *info);
    /* After ready: the control connection to Tor was lost (the onion
     * service with it). May be NULL. */
    void (*lost)(void *ud, const char *why);
    void *ud;
} torctl_config_t;

typedef enum {
    TORCTL_OK = 0,
    TORCTL_ENOMEM,
    TORCTL_EINVAL, /* control is not HOST:PORT with a numeric host */
} torctl_err_t;

/* Connects and starts the exchange; cfg->ready is called from the loop. */
torctl_err_t torctl_new(torctl_t **out, uv_loop_t *loop, const torctl_config_t *cfg);
/* Whether the libzmq in use can give each peer its own Tor circuit (a
 * SOCKS username per connection, ZMQ_SOCKS_USERNAME: a draft option of
 * libzmq 4.3.x, asked at run time); writes the version found into
 * version. */
bool torctl_isolation_available(char *version, size_t cap);
/* The version of the libzmq in use, "MAJOR.MINOR.PATCH". */
void torctl_zmq_version(char *version, size_t cap);

/* Closes the control connection (Tor removes the onion service), then cb. */
void torctl_close(torctl_t *t, void (*cb)(void *ud), void *ud);

#endif
