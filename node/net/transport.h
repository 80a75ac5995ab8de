/* transport: ZeroMQ over TCP, always CurveZMQ, driven by a libuv loop.
 *
 * Two ROUTER sockets: `listen` is a CURVE server bound on the node's
 * endpoints; `out` is a CURVE client that connects to peers, each connect
 * authenticated by that peer's node key (ZMQ_CURVE_SERVERKEY is set just
 * before each zmq_connect) and addressed by it (ZMQ_CONNECT_ROUTING_ID).
 * An in-process ZAP handler learns each inbound client's key, which comes
 * back on every message as its User-Id: that key, never a routing id the
 * peer chose, is the peer's identity.
 *
 * libzmq 4.3 bounds each frame (ZMQ_MAXMSGSIZE) but not the number of frames
 * in one unfinished multipart message. Our protocol is single-frame, so the
 * transport accounts per TCP connection: bytes the kernel received
 * (TCP_INFO) against bytes of complete messages delivered. A connection
 * whose excess passes transport_flood_slack() is shut down. */
#ifndef SAMIZDAT_TRANSPORT_H
#define SAMIZDAT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "keys.h"
#include "log.h"

enum {
    TRANSPORT_LISTEN_MAX = 4,
    TRANSPORT_ENDPOINT_MAX = 160,
    TRANSPORT_CONN_MAX = 256,      /* connections tracked for accounting; past it refused */
    TRANSPORT_RCVHWM = 16,         /* complete messages queued per connection */
    TRANSPORT_RCVBUF = 256 * 1024, /* kernel receive buffer per connection */
    TRANSPORT_FLOOD_CHECK_MS = 20, /* a connection receiving data is checked this often */
    TRANSPORT_SWEEP_MS = 1000,     /* every connection, and the timers, this often */
    TRANSPORT_BACKLOG = 1024,      /* pending TCP connections the kernel queues */
    TRANSPORT_BANS_MAX = 256,
    TRANSPORT_DRAIN_BUDGET = 256,    /* messages per socket per loop turn */
    TRANSPORT_CLOSE_LINGER_MS = 200, /* at close, time given to queued messages */
};

/* The most all connections together may have received beyond what their
 * complete messages account for; past it the one furthest ahead is cut.
 * libzmq holds an unfinished message in 2 to 8 times its size on the wire
 * (small frames cost the most), so this keeps eight flooding connections
 * at once near 100 MiB of memory (tests/attack/attack_flood.c). */
enum { TRANSPORT_UNACCOUNTED_MAX = 12 * 1024 * 1024 };

/* Tiny frames cost libzmq far more memory than wire bytes (hundreds of
 * bytes for a one-byte frame), so bytes alone cannot bound memory: while
 * connections hold unfinished messages, the process's resident memory is
 * also compared with what it was when none did (sampled every second), and
 * past this much more, every connection holding at least
 * TRANSPORT_SUSPECT_EXCESS unfinished is cut. */
/* Inbound connections that have not yet delivered a complete message
 * (an honest peer sends HELLO at once): at most this many from one IP
 * address at a time, and each is closed after TRANSPORT_SILENT_MS. So one
 * host cannot hold the accounting table, and with it every slot, by
 * opening connections and keeping them alive with ZMTP heartbeats. */
/* A connection whose other host stopped answering (a host gone, a cable
 * pulled) is closed by TCP keepalives: the first probe after 2 s without
 * traffic, then one a second, closed once 4 s passed without an answer
 * (TCP_USER_TIMEOUT, which also closes it when data sent to it stays
 * unacknowledged that long, when keepalives do not run).
 * Through a SOCKS5 proxy (Tor), where a keepalive reaches only the proxy,
 * ZMTP heartbeats instead: a PING every 2 s, closed when nothing came
 * 10 s after one. */
enum {
    TRANSPORT_KEEPALIVE_IDLE_S = 2,
    TRANSPORT_KEEPALIVE_INTVL_S = 1,
    TRANSPORT_KEEPALIVE_CNT = 2,
    TRANSPORT_USER_TIMEOUT_MS = 4000,
    TRANSPORT_HEARTBEAT_IVL_MS = 2000,
    TRANSPORT_HEARTBEAT_TIMEOUT_PROXIED_MS = 10000,
};

enum {
    TRANSPORT_SILENT_PER_ADDRESS = 8,
    TRANSPORT_SILENT_MS = 10000,
};

/* Inbound connections that spoke once and then went quiet hold a slot as
 * well as silent ones: at most TRANSPORT_IN_PER_ADDRESS inbound
 * connections from one address in all, and one with no
 * complete message for TRANSPORT_IDLE_MS is closed. A node pings a ready
 * peer after 15 s of silence and forgets it after 60 s, so an honest
 * connection is never that quiet. Both caps per address exempt the
 * host's own loopback address: a test network or a local Tor runs there. */
enum {
    TRANSPORT_IN_PER_ADDRESS = 32,
    TRANSPORT_IDLE_MS = 90000,
};

enum {
    TRANSPORT_MEMORY_BUDGET = 40 * 1024 * 1024,
    TRANSPORT_SUSPECT_EXCESS = 64 * 1024,
    TRANSPORT_CALM_EXCESS = 256 * 1024, /* all connections together: calm */
};

/* The most one connection may have received beyond what its complete
 * messages account for: every message libzmq may queue at the frame cap
 * (its high-water mark is not exact, hence twice), the kernel buffer,
 * handshakes and heartbeats, with room to spare. With a 128 KiB cap that
 * is 5 MiB. */
static inline uint64_t
transport_flood_slack(size_t max_frame)
{
    return (uint64_t)TRANSPORT_RCVHWM * max_frame * 2u + 1024u * 1024u;
}

typedef struct transport transport_t;

typedef enum {
    TRANSPORT_IN = 0,  /* the peer connected to us */
    TRANSPORT_OUT = 1, /* we connected to the peer */
} transport_dir_t;

typedef enum {
    TRANSPORT_EV_CONNECTED = 0, /* outbound handshake done: the peer proved its key */
    TRANSPORT_EV_DISCONNECTED,  /* an outbound connection dropped (zmq will retry) */
    TRANSPORT_EV_AUTH_FAILED,   /* outbound handshake failed: wrong key, or not samizdat */
    TRANSPORT_EV_FLOOD_CUT,     /* a connection was shut down for flooding */
    TRANSPORT_EV_RETRYING,      /* an outbound connect failed (refused, unreachable): zmq retries */
    TRANSPORT_EV_IN_LOST,       /* the inbound connection of key closed (its end went away,
                                   a heartbeat timed out, or we shut it) */
} transport_event_t;

/* A complete single-frame message. key: the peer's node key; peer_addr: the
 * IP address the connection comes from ("" if unknown); both and data
 * borrowed for the call. */
typedef void (*transport_msg_cb)(void *ud, transport_dir_t dir, const uint8_t key[KEYS_PUBLIC_SIZE],
                                 const char *peer_addr, const uint8_t *data, size_t len);
/* key is NULL when not known (an inbound connection cut before its first
 * message). endpoint may be "". */
typedef void (*transport_event_cb)(void *ud, transport_event_t ev, const uint8_t *key,
                                   const char *endpoint);

typedef struct {
    const keys_node_t *key;                   /* borrowed until transport_free */
    const char *listen[TRANSPORT_LISTEN_MAX]; /* e.g. "tcp://0.0.0.0:7470"; NULL-padded */
    const char *socks5;                       /* "host:port" or NULL */
    size_t max_frame; /* ZMQ_MAXMSGSIZE: larger frames close the connection */
    transport_msg_cb on_msg;
    transport_event_cb on_event;
    void *ud;
    const log_t *log;
    /* Test only: defences switched off (defence.h): "conn-table" (a
     * connection the accounting table has no room for is served anyway),
     * "flood-budget" (no bound on all connections together) and
     * "flood-cut" (no connection is cut for what it holds unfinished),
     * "conn-caps" (no cap on connections per address, no silent timer),
     * "idle-close" (no timer on connections that went quiet),
     * "bans" (transport_ban does nothing). */
    const char *defences_off;
    /* Test only: TRANSPORT_IDLE_MS when 0. */
    uint64_t idle_ms;
    /* The caller runs transport_tick about every TRANSPORT_SWEEP_MS from a
     * timer of its own, so an idle process wakes once a second, not once
     * per module. false: the transport keeps its own timer. */
    bool ticked_by_caller;
} transport_config_t;

typedef enum {
    TRANSPORT_OK = 0,
    TRANSPORT_EZMQ,  /* a libzmq call failed; see the log */
    TRANSPORT_EBIND, /* could not bind a listen endpoint (in use?) */
    TRANSPORT_ENOMEM,
    TRANSPORT_EUNKNOWN, /* no connection to that peer */
    TRANSPORT_EAGAIN,   /* the peer's queue is full: message dropped */
    TRANSPORT_EEXIST,   /* already connected to that peer */
    TRANSPORT_EFULL,    /* too many connections */
} transport_err_t;

const char *transport_strerror(transport_err_t err);

transport_err_t transport_new(transport_t **out, uv_loop_t *loop, const transport_config_t *cfg);
/* Stops everything and frees t once libuv has closed its handles; then calls
 * cb(ud). Accepts NULL (cb is then called at once). */
void transport_close(transport_t *t, void (*cb)(void *ud), void *ud);

/* The endpoints actually bound (a port 0 resolved). n_out gets the count. */
void transport_bound(const transport_t *t, char out[][TRANSPORT_ENDPOINT_MAX], size_t cap,
                     size_t *n_out);

transport_err_t transport_connect(transport_t *t, const uint8_t key[KEYS_PUBLIC_SIZE],
                                  const char *endpoint);
/* Bans a peer that misbehaved, for ms milliseconds: its connections are
 * shut down (inbound ones too), and until the ban ends every connection
 * from its IP address is refused when it opens and every message from its
 * key dropped. The host's own addresses (127.0.0.1, ::1), which every
 * local process shares, are not banned, only the key. TRANSPORT_BANS_MAX
 * bans at once; past it the one ending soonest goes. */
transport_err_t transport_ban(transport_t *t, const uint8_t key[KEYS_PUBLIC_SIZE], uint64_t ms);
/* Whether key is banned now. */
bool transport_banned(const transport_t *t, const uint8_t key[KEYS_PUBLIC_SIZE]);

/* Drops an outbound connection so zmq stops reconnecting. */
transport_err_t transport_disconnect(transport_t *t, const uint8_t key[KEYS_PUBLIC_SIZE]);
/* Through a proxy: whether each peer's connection gets a SOCKS5 username
 * of its own (a Tor circuit of its own); false when the libzmq in use has
 * no ZMQ_SOCKS_USERNAME, and when connecting directly. */
bool transport_circuit_per_peer(const transport_t *t);
/* The once-a-second sweep (timers, budgets, every connection), for a
 * caller that set ticked_by_caller. */
void transport_tick(transport_t *t);
/* Sends one frame to a peer on the given direction's socket. */
transport_err_t transport_send(transport_t *t, transport_dir_t dir,
                               const uint8_t key[KEYS_PUBLIC_SIZE], const uint8_t *data,
                               size_t len);

typedef struct {
    uint64_t msgs_in;
    uint64_t msgs_out; /* messages handed to ZeroMQ */
    uint64_t bytes_in;
    uint64_t dropped_multipart; /* messages of more than one frame */
    uint64_t dropped_unknown;   /* inbound messages without a ZAP identity */
    uint64_t flood_cuts;        /* connections cut: one too far ahead, or the total over budget */
    uint64_t refused_full;      /* connections refused: no room in the accounting table */
    uint64_t refused_address;   /* refused: too many (silent) ones from that address */
    uint64_t closed_silent;     /* closed: no complete message within TRANSPORT_SILENT_MS */
    uint64_t closed_idle;       /* closed: no complete message for the idle time */
    uint64_t refused_banned;    /* connections and messages refused: a banned key or address */
    uint64_t send_failures;
} transport_stats_t;

void transport_stats(const transport_t *t, transport_stats_t *out);
/* The peer of key's inbound connection said (HELLO) it sends ZMTP PINGs:
 * its connection is closed after the TTL without a byte. A peer that did
 * not say so is never taken for dead for its silence alone. */
void transport_expect_pings(transport_t *t, const uint8_t key[KEYS_PUBLIC_SIZE]);

#endif
