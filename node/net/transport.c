#include "transport.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "addr.h"
#include "bytes.h"
#include "defence.h"
#include "relay.h"
#include "zmqdraft.h"

enum { Z_LISTEN, Z_OUT, Z_ZAP, Z_MON_LISTEN, Z_MON_OUT, Z_COUNT };
enum { RID_MAX = 255, ZAP_FRAMES = 7, PER_MSG_OVERHEAD = 64, HANDSHAKE_ALLOWANCE = 8192 };

/* glibc's struct tcp_info stops before the byte counters Linux 4.1 added;
 * the kernel's layout goes on with these (<linux/tcp.h> has them but clashes
 * with <netinet/tcp.h>, which uv.h includes). */
typedef struct {
    struct tcp_info base;
    uint64_t pacing_rate;
    uint64_t max_pacing_rate;
    uint64_t bytes_acked;
    uint64_t bytes_received;
} tcp_info_ext_t;

typedef struct zsock {
    struct transport *t;
    void *s;
    uv_poll_t poll;
    int kind;
} zsock_t;

/* A TCP connection seen by a monitor, for flood accounting. */
typedef struct {
    bool used;
    int fd;
    uint32_t id; /* tells this connection from earlier ones on the same fd */
    transport_dir_t dir;
    uint64_t accounted;
    uint64_t excess;   /* received beyond accounted, at the last check */
    uint64_t received; /* the kernel's count at the last check */
    bool busy;         /* data came since it was last found still: checked every 20 ms */
    bool heard;        /* a complete message came on it */
    uint64_t opened_ms;
    uint64_t heard_ms; /* the last complete message */
    struct sockaddr_storage peer;
    socklen_t peer_len;
} conn_t;

/* An inbound peer: its key and the routing id the ROUTER gave its connection. */
typedef struct {
    bool used;
    uint8_t key[KEYS_PUBLIC_SIZE];
    uint8_t rid[RID_MAX];
    size_t rid_len;
    uint32_t conn_id; /* the accounted connection it came on; 0: not known */
    uint64_t heard_ms;
} inpeer_t;

/* An outbound peer. Its routing id is its key and a generation number: a
 * new connect to the same key must not reuse the routing id of a pipe that
 * zmq_disconnect has not finished tearing down, or libzmq 4.3.4 aborts
 * (router.cpp: "!has_out_pipe (routing_id)"). */
enum { OUT_RID_LEN = KEYS_PUBLIC_SIZE + 4 };
/* Through a SOCKS5 proxy, a refused CONNECT leaves libzmq's socks_connecter
 * (4.3.4, and 4.3.5's is the same) with a poll handle it has already
 * removed, until its reconnect timer starts the next try; zmq_disconnect
 * then removes it again and the process aborts ("Bad file descriptor
 * (src/epoll.cpp:113)": a node over Tor with an onion contact that is
 * gone died within a minute, at a disconnect that fell in that window).
 * The monitor cannot tell which connection is in it: its events name the
 * proxy, not the peer. So through a proxy, a connection that never
 * delivered a message (heard) is not disconnected: the entry is doomed,
 * its connecter left to try on (through the proxy, at most every
 * ZMQ_RECONNECT_IVL_MAX), taken up again if the same key is dialled at
 * the same endpoint, and ended with the process. */
typedef struct {
    bool used;
    bool heard;   /* a message came on it */
    bool doomed;  /* no longer the key's, but never disconnected (above) */
    bool relayed; /* through a relay: a connect through a proxy too */
    uint8_t key[KEYS_PUBLIC_SIZE];
    uint8_t rid[OUT_RID_LEN];
    char endpoint[TRANSPORT_ENDPOINT_MAX];
    /* What libzmq's monitor names its events by: the endpoint, or for a
     * relayed connection the relay's address (libzmq reports the proxy's).
     * Two relayed connections through one relay share it: an event then
     * goes to the first (a disconnect seen by the wrong one only costs a
     * reconnect). */
    char event_ep[TRANSPORT_ENDPOINT_MAX];
} outpeer_t;

/* A banned peer: its key, and the address it came from (0 bytes: the key
 * only). */
typedef struct {
    uint8_t key[KEYS_PUBLIC_SIZE];
    uint8_t ip[16];
    size_t ip_len;
    uint64_t until_ms; /* 0: free */
} ban_t;

struct transport {
    uv_loop_t *loop;
    transport_config_t cfg;
    /* Through a proxy, each peer's connection carries a SOCKS5 username of
     * its own (RFC 1929), so Tor (IsolateSOCKSAuth, on by default) gives it
     * a circuit of its own: false when this libzmq has no such option. */
    bool socks_auth;
    void *ctx;
    zsock_t z[Z_COUNT];
    uv_idle_t idle;
    uv_timer_t flood_timer; /* every second: timers, budgets, a sweep of all */
    uv_timer_t busy_timer;  /* every 20 ms while a connection receives */
    int ep;                 /* epoll of the connections' fds: which received data */
    uv_poll_t ep_poll;
    conn_t conns[TRANSPORT_CONN_MAX];
    inpeer_t ins[TRANSPORT_CONN_MAX];
    outpeer_t outs[TRANSPORT_CONN_MAX];
    char bound[TRANSPORT_LISTEN_MAX][TRANSPORT_ENDPOINT_MAX];
    size_t n_bound;
    transport_stats_t stats;
    uint32_t out_generation;
    bool serve_unaccounted; /* test only: "conn-table" off */
    bool no_total_budget;   /* test only: "flood-budget" off */
    bool no_flood_cut;      /* test only: "flood-cut" off: no accounting at all */
    bool in_keys_random;    /* test only: "in-keys" off: a full key table overwrites at random */
    bool no_conn_caps;      /* test only: "conn-caps" off */
    bool no_bans;           /* test only: "bans" off */
    bool no_idle_close;     /* test only: "idle-close" off */
    uint64_t idle_ms;
    ban_t bans[TRANSPORT_BANS_MAX];
    uint64_t caps_logged_ms;
    uint32_t next_conn_id;
    uint64_t full_logged_ms;
    uint64_t rss_base;    /* resident bytes when no connection held much unfinished; 0: unknown */
    uint64_t rss_base_ms; /* when it was sampled */
    int open_handles;
    void (*close_cb)(void *ud);
    void *close_ud;
};

const char *
transport_strerror(transport_err_t err)
{
    switch (err) {
    case TRANSPORT_OK:
        return "ok";
    case TRANSPORT_EZMQ:
        return "ZeroMQ call failed";
    case TRANSPORT_EBIND:
        return "cannot listen on the endpoint (address in use or not available)";
    case TRANSPORT_ENOMEM:
        return "out of memory";
    case TRANSPORT_EUNKNOWN:
        return "not connected to that peer";
    case TRANSPORT_EAGAIN:
        return "the peer's queue is full";
    case TRANSPORT_EEXIST:
        return "already connected to that peer";
    case TRANSPORT_EFULL:
        return "too many connections";
    }
    return "unknown transport error";
}

/* ---- small tables ---- */

static conn_t *
conn_find(transport_t *t, int fd)
{
    for (int i = 0; i < TRANSPORT_CONN_MAX; i++) {
        if (t->conns[i].used && t->conns[i].fd == fd) {
            return &t->conns[i];
        }
    }
    return NULL;
}

/* A connection the table has no room for cannot be checked for floods, so
 * it is not served: shut down at once (libzmq then closes it). Only a
 * socket that is still a TCP connection is touched, since the number came
 * through the monitor and could in theory have been reused meanwhile. */
static void
refuse_unaccounted(transport_t *t, int fd)
{
    uint64_t now = uv_now(t->loop);
    bool say = now - t->full_logged_ms >= 10000 || t->full_logged_ms == 0;
    if (t->serve_unaccounted) {
        if (say) {
            log_line(t->cfg.log, LOG_LEVEL_WARN,
                     "transport: connection table full; fd %d not accounted", fd);
            t->full_logged_ms = now;
        }
        return;
    }
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (getpeername(fd, (struct sockaddr *)&sa, &len) != 0) {
        return;
    }
    shutdown(fd, SHUT_RDWR);
    t->stats.refused_full++;
    if (say) {
        log_line(t->cfg.log, LOG_LEVEL_WARN,
                 "transport: %d connections open, the most this node accounts for: refusing "
                 "new ones (%llu refused so far)",
                 TRANSPORT_CONN_MAX, (unsigned long long)t->stats.refused_full);
        t->full_logged_ms = now;
    }
}

/* The IP address of a connection's peer, without the port: the bytes
 * compared for per-address caps. 0 bytes when unknown. */
static size_t
ip_of(const conn_t *c, const uint8_t **out)
{
    if (c->peer_len >= sizeof(struct sockaddr_in) && c->peer.ss_family == AF_INET) {
        *out = (const uint8_t *)&((const struct sockaddr_in *)&c->peer)->sin_addr;
        return 4;
    }
    if (c->peer_len >= sizeof(struct sockaddr_in6) && c->peer.ss_family == AF_INET6) {
        *out = (const uint8_t *)&((const struct sockaddr_in6 *)&c->peer)->sin6_addr;
        return 16;
    }
    return 0;
}

/* Inbound connections from c's address, c included: all of them, or
 * those that have not said anything yet. */
static int
inbound_from(const transport_t *t, const conn_t *c, bool silent_only)
{
    const uint8_t *ip = NULL;
    size_t len = ip_of(c, &ip);
    int n = 0;
    for (int i = 0; len > 0 && i < TRANSPORT_CONN_MAX; i++) {
        const conn_t *o = &t->conns[i];
        const uint8_t *oip = NULL;
        if (o->used && o->dir == TRANSPORT_IN && !(silent_only && o->heard) &&
            ip_of(o, &oip) == len && memcmp(oip, ip, len) == 0) {
            n++;
        }
    }
    return n;
}

/* The host's own addresses, shared by every local process. */
static bool
own_host(const uint8_t *ip, size_t len)
{
    static const uint8_t v4[4] = {127, 0, 0, 1};
    static const uint8_t v6[16] = {[15] = 1};
    /* libzmq's sockets are dual stack: IPv4 peers come as ::ffff:a.b.c.d. */
    static const uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff, 127, 0, 0, 1};
    return (len == 4 && memcmp(ip, v4, 4) == 0) ||
           (len == 16 && (memcmp(ip, v6, 16) == 0 || memcmp(ip, mapped, 16) == 0));
}

static bool
over_address_cap(const transport_t *t, const conn_t *c)
{
    const uint8_t *ip = NULL;
    size_t len = ip_of(c, &ip);
    if (own_host(ip, len)) {
        return false; /* local processes: a test network, a local Tor */
    }
    return inbound_from(t, c, true) > TRANSPORT_SILENT_PER_ADDRESS ||
           inbound_from(t, c, false) > TRANSPORT_IN_PER_ADDRESS;
}

static bool
address_banned(const transport_t *t, const conn_t *c)
{
    const uint8_t *ip = NULL;
    size_t len = ip_of(c, &ip);
    uint64_t now = uv_now(t->loop);
    for (int i = 0; len > 0 && i < TRANSPORT_BANS_MAX; i++) {
        const ban_t *b = &t->bans[i];
        if (b->until_ms > now && b->ip_len == len && memcmp(b->ip, ip, len) == 0) {
            return true;
        }
    }
    return false;
}

/* Arms the one-shot edge on c's fd: the next data that arrives wakes the
 * transport (ep_poll), which then checks c every 20 ms until it is still.
 * libzmq reads the same fd; the kernel tells both. A closed fd leaves the
 * epoll set by itself. */
static void
watch_conn(transport_t *t, conn_t *c, int op)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    /* Edge-triggered, never re-armed: every arrival of data wakes us once,
     * and data libzmq has not read yet does not wake us again. */
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u32 = (uint32_t)(c - t->conns);
    if (t->ep >= 0 && epoll_ctl(t->ep, op, c->fd, &ev) != 0 && op == EPOLL_CTL_ADD &&
        errno == EEXIST) {
        (void)epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev);
    }
}

static bool
proxied(const transport_t *t)
{
    return t->cfg.socks5 != NULL && t->cfg.socks5[0] != '\0';
}

static void
conn_add(transport_t *t, int fd, transport_dir_t dir)
{
    conn_t *c = conn_find(t, fd);
    for (int i = 0; c == NULL && i < TRANSPORT_CONN_MAX; i++) {
        if (!t->conns[i].used) {
            c = &t->conns[i];
        }
    }
    if (c == NULL) {
        refuse_unaccounted(t, fd);
        return;
    }
    memset(c, 0, sizeof *c);
    c->used = true;
    c->fd = fd;
    c->opened_ms = uv_now(t->loop);
    c->id = ++t->next_conn_id == 0 ? ++t->next_conn_id : t->next_conn_id;
    c->dir = dir;
    if (!proxied(t)) {
        /* Keepalives run only while nothing is unacknowledged; data sent
         * to a host that vanished is retried for many minutes unless this
         * bounds it (and bounds the keepalives' give-up, liveness_opts). */
        unsigned int ms = TRANSPORT_USER_TIMEOUT_MS;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
    }
    watch_conn(t, c, EPOLL_CTL_ADD);
    c->peer_len = sizeof c->peer;
    if (getpeername(fd, (struct sockaddr *)&c->peer, &c->peer_len) != 0) {
        c->peer_len = 0;
    }
    if (dir == TRANSPORT_IN && address_banned(t, c)) {
        shutdown(fd, SHUT_RDWR);
        c->used = false;
        t->stats.refused_banned++;
        return;
    }
    if (dir == TRANSPORT_IN && !t->no_conn_caps && over_address_cap(t, c)) {
        shutdown(fd, SHUT_RDWR);
        c->used = false;
        t->stats.refused_address++;
        uint64_t now = uv_now(t->loop);
        if (t->caps_logged_ms == 0 || now - t->caps_logged_ms >= 10000) {
            t->caps_logged_ms = now;
            log_line(t->cfg.log, LOG_LEVEL_WARN,
                     "transport: refusing connections from an address that holds %d, or %d "
                     "that have not said anything yet (%llu refused so far)",
                     TRANSPORT_IN_PER_ADDRESS, TRANSPORT_SILENT_PER_ADDRESS,
                     (unsigned long long)t->stats.refused_address);
        }
    }
}

static inpeer_t *
in_find(transport_t *t, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    for (int i = 0; i < TRANSPORT_CONN_MAX; i++) {
        if (t->ins[i].used && memcmp(t->ins[i].key, key, KEYS_PUBLIC_SIZE) == 0) {
            return &t->ins[i];
        }
    }
    return NULL;
}

static conn_t *
conn_by_id(transport_t *t, uint32_t id)
{
    for (int i = 0; id != 0 && i < TRANSPORT_CONN_MAX; i++) {
        if (t->conns[i].used && t->conns[i].id == id) {
            return &t->conns[i];
        }
    }
    return NULL;
}

/* The slot a new inbound key takes when the table is full: one whose
 * connection is gone, else the one heard from longest ago. A key whose
 * connection is open keeps its route, however many others come and go
 * (there are no more open connections than slots). */
static inpeer_t *
in_victim(transport_t *t)
{
    if (t->in_keys_random) {
        return &t->ins[randombytes_uniform(TRANSPORT_CONN_MAX)];
    }
    inpeer_t *oldest = &t->ins[0];
    for (int i = 0; i < TRANSPORT_CONN_MAX; i++) {
        inpeer_t *p = &t->ins[i];
        if (conn_by_id(t, p->conn_id) == NULL) {
            return p;
        }
        if (p->heard_ms < oldest->heard_ms) {
            oldest = p;
        }
    }
    return oldest;
}

/* Remembers (or updates) the routing id an inbound key talks to us on, and
 * the connection it came on. */
static void
in_note(transport_t *t, const uint8_t key[KEYS_PUBLIC_SIZE], const uint8_t *rid, size_t rid_len,
        uint32_t conn_id)
{
    inpeer_t *p = in_find(t, key);
    for (int i = 0; p == NULL && i < TRANSPORT_CONN_MAX; i++) {
        if (!t->ins[i].used) {
            p = &t->ins[i];
        }
    }
    if (p == NULL) {
        p = in_victim(t);
    }
    p->used = true;
    memcpy(p->key, key, KEYS_PUBLIC_SIZE);
    memcpy(p->rid, rid, rid_len);
    p->rid_len = rid_len;
    p->conn_id = conn_id;
    p->heard_ms = uv_now(t->loop);
}

static outpeer_t *
out_find_rid(transport_t *t, const uint8_t *rid, size_t len)
{
    for (int i = 0; len == OUT_RID_LEN && i < TRANSPORT_CONN_MAX; i++) {
        if (t->outs[i].used && !t->outs[i].doomed &&
            memcmp(t->outs[i].rid, rid, OUT_RID_LEN) == 0) {
            return &t->outs[i];
        }
    }
    return NULL;
}

static outpeer_t *
out_find(transport_t *t, const uint8_t *key, const char *endpoint)
{
    for (int i = 0; i < TRANSPORT_CONN_MAX; i++) {
        outpeer_t *o = &t->outs[i];
        if (!o->used) {
            continue;
        }
        if ((key != NULL && !o->doomed && memcmp(o->key, key, KEYS_PUBLIC_SIZE) == 0) ||
            (endpoint != NULL && strcmp(o->event_ep, endpoint) == 0)) {
            return o;
        }
    }
    return NULL;
}

/* ---- the loop: polls only wake us; the idle handle drains ---- */

static void on_idle(uv_idle_t *h);

static void
kick(transport_t *t)
{
    if (t->open_handles > 0 && !uv_is_closing((uv_handle_t *)&t->idle)) {
        uv_idle_start(&t->idle, on_idle);
    }
}

static bool
readable(zsock_t *z)
{
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(z->s, ZMQ_EVENTS, &events, &len) != 0) {
        return false;
    }
    return (events & ZMQ_POLLIN) != 0;
}

/* Receives every frame of one message into msgs (at most max), counting all.
 * Frames past max are received and dropped so the socket stays in step. */
static int
recv_parts(void *s, zmq_msg_t *msgs, int max, int *total)
{
    int n = 0;
    *total = 0;
    for (;;) {
        zmq_msg_t tmp;
        zmq_msg_t *m = n < max ? &msgs[n] : &tmp;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, s, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            return *total == 0 ? -1 : n;
        }
        (*total)++;
        bool more = zmq_msg_more(m);
        if (n < max) {
            n++;
        } else {
            zmq_msg_close(m);
        }
        if (!more) {
            return n;
        }
    }
}

static void
close_parts(zmq_msg_t *msgs, int n)
{
    for (int i = 0; i < n; i++) {
        zmq_msg_close(&msgs[i]);
    }
}

/* Counts a complete message against its connection; returns the
 * connection's id, 0 when it is not in the table. */
static uint32_t
account(transport_t *t, zmq_msg_t *m, size_t bytes)
{
    int fd = zmq_msg_get(m, ZMQ_SRCFD);
    conn_t *c = fd >= 0 ? conn_find(t, fd) : NULL;
    if (c == NULL) {
        return 0;
    }
    c->accounted += bytes + PER_MSG_OVERHEAD;
    c->heard = true;
    c->heard_ms = uv_now(t->loop);
    return c->id;
}

static bool
key_from_user_id(zmq_msg_t *m, uint8_t key[KEYS_PUBLIC_SIZE])
{
    const char *uid = zmq_msg_gets(m, "User-Id");
    return uid != NULL && strlen(uid) == 2 * KEYS_PUBLIC_SIZE &&
           bytes_from_hex(key, KEYS_PUBLIC_SIZE, uid);
}

static bool same_peer(const conn_t *c);

/* Shuts a connection down and forgets it. The fd number may have been
 * reused since the monitor saw it: only the connection accounted for is
 * shut; false when it was not that one any more. */
static bool
conn_close(conn_t *c)
{
    bool ours = same_peer(c);
    if (ours) {
        shutdown(c->fd, SHUT_RDWR);
    }
    c->used = false;
    return ours;
}

/* Shuts down the accounted connection id, if it is still open. */
static void
close_key_conn(transport_t *t, uint32_t id)
{
    conn_t *c = conn_by_id(t, id);
    if (c != NULL) {
        (void)conn_close(c);
    }
}

static void
on_data(transport_t *t, int kind)
{
    zmq_msg_t parts[2];
    int total = 0;
    int n = recv_parts(t->z[kind].s, parts, 2, &total);
    if (n < 0) {
        return;
    }
    size_t bytes = 0;
    for (int i = 1; i < n; i++) {
        bytes += zmq_msg_size(&parts[i]);
    }
    uint32_t conn_id = n == 2 ? account(t, &parts[1], bytes) : 0;
    uint8_t key[KEYS_PUBLIC_SIZE];
    bool ok = n == 2 && total == 2;
    if (!ok) {
        t->stats.dropped_multipart++;
    } else if (kind == Z_LISTEN) {
        ok = key_from_user_id(&parts[1], key);
        if (!ok) {
            t->stats.dropped_unknown++;
        } else if (zmq_msg_size(&parts[0]) <= RID_MAX) {
            in_note(t, key, zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]), conn_id);
        }
    } else {
        /* A message still in flight from a connection we dropped names a
         * generation we no longer know: it is dropped. */
        outpeer_t *o = out_find_rid(t, zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]));
        ok = o != NULL;
        if (ok) {
            o->heard = true;
            memcpy(key, o->key, KEYS_PUBLIC_SIZE);
        } else {
            t->stats.dropped_unknown++;
        }
    }
    if (ok && transport_banned(t, key)) {
        ok = false;
        t->stats.refused_banned++;
        if (kind == Z_LISTEN) {
            close_key_conn(t, conn_id);
        }
    }
    if (ok) {
        t->stats.msgs_in++;
        t->stats.bytes_in += bytes;
        const char *addr = zmq_msg_gets(&parts[1], "Peer-Address");
        t->cfg.on_msg(t->cfg.ud, kind == Z_LISTEN ? TRANSPORT_IN : TRANSPORT_OUT, key,
                      addr ? addr : "", zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]));
    }
    close_parts(parts, n);
}

/* ZAP (RFC 27): any client may connect; what we need is its key, which we
 * hand back as the User-Id, in hex, so it survives as a C string. */
static void
on_zap(transport_t *t)
{
    zmq_msg_t f[ZAP_FRAMES];
    int total = 0;
    int n = recv_parts(t->z[Z_ZAP].s, f, ZAP_FRAMES, &total);
    if (n < 0) {
        return;
    }
    bool curve = n == ZAP_FRAMES && total == ZAP_FRAMES && zmq_msg_size(&f[5]) == 5 &&
                 memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 &&
                 zmq_msg_size(&f[6]) == KEYS_PUBLIC_SIZE;
    char uid[65] = "";
    if (curve) {
        bytes_to_hex(uid, zmq_msg_data(&f[6]), KEYS_PUBLIC_SIZE);
    }
    void *s = t->z[Z_ZAP].s;
    zmq_send(s, "1.0", 3, ZMQ_SNDMORE);
    if (n >= 2) {
        zmq_send(s, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
    } else {
        zmq_send(s, "", 0, ZMQ_SNDMORE);
    }
    zmq_send(s, curve ? "200" : "400", 3, ZMQ_SNDMORE);
    zmq_send(s, curve ? "OK" : "CURVE only", curve ? 2 : 10, ZMQ_SNDMORE);
    zmq_send(s, uid, strlen(uid), ZMQ_SNDMORE);
    zmq_send(s, "", 0, 0);
    close_parts(f, n);
}

static void
emit(transport_t *t, transport_event_t ev, const uint8_t *key, const char *endpoint)
{
    if (t->cfg.on_event != NULL) {
        t->cfg.on_event(t->cfg.ud, ev, key, endpoint);
    }
}

static void
on_out_event(transport_t *t, uint16_t ev, const char *endpoint)
{
    outpeer_t *o = out_find(t, NULL, endpoint);
    if (o != NULL && o->doomed) {
        return; /* nobody's any more */
    }
    const uint8_t *key = o ? o->key : NULL;
    if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        emit(t, TRANSPORT_EV_CONNECTED, key, endpoint);
    } else if (ev == ZMQ_EVENT_DISCONNECTED) {
        emit(t, TRANSPORT_EV_DISCONNECTED, key, endpoint);
    } else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
               ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        emit(t, TRANSPORT_EV_AUTH_FAILED, key, endpoint);
    } else if (ev == ZMQ_EVENT_CONNECT_RETRIED) {
        emit(t, TRANSPORT_EV_RETRYING, key, endpoint);
    }
}

/* The inbound connection conn_id closed: the key whose route it was is
 * told (a key that came back on a newer connection is not). */
static void
in_lost(transport_t *t, uint32_t conn_id)
{
    for (int i = 0; conn_id != 0 && i < TRANSPORT_CONN_MAX; i++) {
        inpeer_t *p = &t->ins[i];
        if (p->used && p->conn_id == conn_id) {
            uint8_t key[KEYS_PUBLIC_SIZE];
            memcpy(key, p->key, sizeof key);
            p->conn_id = 0;
            emit(t, TRANSPORT_EV_IN_LOST, key, "");
            return;
        }
    }
}

/* A connection closed (libzmq says so, or its fd is gone). */
static void
conn_gone(transport_t *t, conn_t *c)
{
    c->used = false;
    if (c->dir == TRANSPORT_IN) {
        in_lost(t, c->id);
    }
}

static void
on_monitor(transport_t *t, int kind)
{
    zmq_msg_t f[2];
    int total = 0;
    int n = recv_parts(t->z[kind].s, f, 2, &total);
    if (n < 0) {
        return;
    }
    if (n == 2 && zmq_msg_size(&f[0]) == 6) {
        const uint8_t *d = zmq_msg_data(&f[0]);
        uint16_t ev;
        uint32_t value;
        memcpy(&ev, d, 2); /* monitor frames are in host byte order */
        memcpy(&value, d + 2, 4);
        char endpoint[TRANSPORT_ENDPOINT_MAX];
        size_t elen =
            zmq_msg_size(&f[1]) < sizeof endpoint - 1 ? zmq_msg_size(&f[1]) : sizeof endpoint - 1;
        memcpy(endpoint, zmq_msg_data(&f[1]), elen);
        endpoint[elen] = '\0';
        if (ev == ZMQ_EVENT_ACCEPTED || ev == ZMQ_EVENT_CONNECTED) {
            conn_add(t, (int)value, kind == Z_MON_LISTEN ? TRANSPORT_IN : TRANSPORT_OUT);
        } else if (ev == ZMQ_EVENT_DISCONNECTED || ev == ZMQ_EVENT_CLOSED) {
            conn_t *c = conn_find(t, (int)value);
            if (c != NULL) {
                conn_gone(t, c);
            }
        }
        if (kind == Z_MON_OUT) {
            on_out_event(t, ev, endpoint);
        }
    }
    close_parts(f, n);
}

static bool
drain(transport_t *t, int kind)
{
    zsock_t *z = &t->z[kind];
    for (int i = 0; i < TRANSPORT_DRAIN_BUDGET; i++) {
        if (z->s == NULL || !readable(z)) {
            return false;
        }
        if (kind == Z_LISTEN || kind == Z_OUT) {
            on_data(t, kind);
        } else if (kind == Z_ZAP) {
            on_zap(t);
        } else {
            on_monitor(t, kind);
        }
    }
    return z->s != NULL && readable(z);
}

static void
on_idle(uv_idle_t *h)
{
    transport_t *t = h->data;
    /* Monitors first: a connection's ACCEPTED event is queued before its
     * first message, and a message is tied to its connection (accounting,
     * the inbound route, and telling the node when it closes) only when
     * the connection is already in the table. */
    static const int order[Z_COUNT] = {Z_MON_LISTEN, Z_MON_OUT, Z_ZAP, Z_LISTEN, Z_OUT};
    bool more = false;
    for (int k = 0; k < Z_COUNT; k++) {
        more |= drain(t, order[k]);
    }
    if (!more) {
        uv_idle_stop(h);
    }
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    zsock_t *z = h->data;
    kick(z->t);
}

/* ---- flood accounting ---- */

static bool
same_peer(const conn_t *c)
{
    struct sockaddr_storage now;
    socklen_t len = sizeof now;
    if (getpeername(c->fd, (struct sockaddr *)&now, &len) != 0) {
        return false;
    }
    return len == c->peer_len && memcmp(&now, &c->peer, len) == 0;
}

static void
cut_conn(transport_t *t, conn_t *c, uint64_t received, const char *why)
{
    transport_dir_t dir = c->dir;
    uint64_t accounted = c->accounted;
    if (conn_close(c)) {
        log_line(t->cfg.log, LOG_LEVEL_WARN,
                 "transport: cutting off an %s connection: %llu bytes received, only %llu in "
                 "complete messages (an endless multipart message?)%s",
                 dir == TRANSPORT_IN ? "inbound" : "outbound", (unsigned long long)received,
                 (unsigned long long)accounted, why);
        t->stats.flood_cuts++;
        emit(t, TRANSPORT_EV_FLOOD_CUT, NULL, "");
    }
}

static void
check_conn(transport_t *t, conn_t *c)
{
    if (c->dir == TRANSPORT_IN && !c->heard && !t->no_conn_caps &&
        uv_now(t->loop) - c->opened_ms >= TRANSPORT_SILENT_MS) {
        /* Connected, perhaps through the handshake, and never said
         * anything: it only holds a slot. */
        t->stats.closed_silent += conn_close(c);
        return;
    }
    if (c->dir == TRANSPORT_IN && c->heard && !t->no_idle_close &&
        uv_now(t->loop) - c->heard_ms >= t->idle_ms) {
        /* Spoke once, then nothing: a peer we forgot, or one that only
         * holds the slot. */
        t->stats.closed_idle += conn_close(c);
        return;
    }
    tcp_info_ext_t ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) {
        /* Closed under us (libzmq closed the fd; its monitor event may
         * still be queued and will find nothing): told here. */
        conn_gone(t, c);
        return;
    }
    if (len < offsetof(tcp_info_ext_t, bytes_received) + sizeof ti.bytes_received) {
        return; /* a kernel before 4.1: no counter to check */
    }
    uint64_t base = c->accounted + HANDSHAKE_ALLOWANCE;
    if (c->busy && ti.bytes_received == c->received) {
        c->busy = false; /* still since the last check: the next arrival wakes us */
    }
    c->received = ti.bytes_received;
    c->excess = ti.bytes_received > base ? ti.bytes_received - base : 0;
    if (c->excess > transport_flood_slack(t->cfg.max_frame) && !t->no_flood_cut) {
        cut_conn(t, c, ti.bytes_received, "");
    }
}

/* Each connection within its slack, all together too much: many
 * connections flooding at once. The one furthest ahead goes first. */
static void
budget_total(transport_t *t, uint64_t total)
{
    while (!t->no_total_budget && total > TRANSPORT_UNACCOUNTED_MAX) {
        conn_t *worst = NULL;
        for (int i = 0; i < TRANSPORT_CONN_MAX; i++) {
            conn_t *c = &t->conns[i];
            if (c->used && (worst == NULL || c->excess > worst->excess)) {
                worst = c;
            }
        }
        if (worst == NULL || worst->excess == 0) {
            break;
        }
        total -= worst->excess;
        cut_conn(t, worst, worst->accounted + HANDSHAKE_ALLOWANCE + worst->excess,
                 "; all connections together were over budget");
    }
}

/* This process's resident memory in bytes; 0 when it cannot be read. */
static uint64_t
resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    if (f == NULL) {
        return 0;
    }
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

static void
budget_memory(transport_t *t, uint64_t total)
{
    if (t->no_total_budget) {
        return;
    }
    uint64_t now = uv_now(t->loop);
    if (total < TRANSPORT_CALM_EXCESS) {
        if (t->rss_base == 0 || now - t->rss_base_ms >= 1000) {
            t->rss_base = resident_bytes();
            t->rss_base_ms = now;
        }
        return;
    }
    uint64_t rss = resident_bytes();
    if (t->rss_base == 0 || rss <= t->rss_base + TRANSPORT_MEMORY_BUDGET) {
        return;
    }
    char why[96];
    snprintf(why, sizeof why, "; the node's memory grew by %llu MiB meanwhile",
             (unsigned long long)((rss - t->rss_base) >> 20));
    for (int i = 0; i < TRANSPORT_CONN_MAX; i++) {
        conn_t *c = &t->conns[i];
        if (c->used && c->excess >= TRANSPORT_SUSPECT_EXCESS) {
            cut_conn(t, c, c->accounted + HANDSHAKE_ALLOWANCE + c->excess, why);
        }
    }
}

/* Checks the connections (all, or those data came on), then the budgets
 * of all together. True when a connection is still receiving. */
static bool
check_conns(transport_t *t, bool all)
{
    uint64_t total = 0;
    bool busy = false;
    for (int i = 0; i < TRANSPORT_CONN_MAX; i++) {
        conn_t *c = &t->conns[i];
        if (c->used && (all || c->busy)) {
            check_conn(t, c);
        }
        total += c->used ? c->excess : 0;
        busy = busy || (c->used && c->busy);
    }
    budget_total(t, total);
    budget_memory(t, total);
    return busy;
}

static void
on_busy_timer(uv_timer_t *h)
{
    transport_t *t = h->data;
    if (!check_conns(t, t->ep < 0) && t->ep >= 0) {
        uv_timer_stop(h); /* every connection is still: sleep until data comes */
    }
}

/* Data arrived on connections: check them now, and every 20 ms while it
 * keeps coming (a sender whose window is full sends no new edge). An
 * idle connection costs nothing: TCP keepalives carry no data. */
static void
on_conn_data(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    transport_t *t = h->data;
    struct epoll_event evs[64];
    int n = epoll_wait(t->ep, evs, 64, 0);
    for (int i = 0; i < n; i++) {
        uint32_t slot = evs[i].data.u32;
        if (slot < TRANSPORT_CONN_MAX && t->conns[slot].used) {
            t->conns[slot].busy = true;
        }
    }
    if (check_conns(t, false) && !uv_is_active((uv_handle_t *)&t->busy_timer)) {
        uv_timer_start(&t->busy_timer, on_busy_timer, TRANSPORT_FLOOD_CHECK_MS,
                       TRANSPORT_FLOOD_CHECK_MS);
    }
}

/* Once a second: the silent and idle timers, the memory sample, and a
 * sweep of every connection as a safety net should an edge ever be missed. */
void
transport_tick(transport_t *t)
{
    kick(t);
    (void)check_conns(t, true);
}

static void
on_flood_timer(uv_timer_t *h)
{
    transport_tick(h->data);
}

/* ---- setup ---- */

static int
setopt_int(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof v);
}

/* Dead peers: a connection whose other host no longer answers is closed
 * by the kernel's TCP keepalives, which wake nobody while the host
 * answers: an idle node sleeps. (ZMTP heartbeats cost every connection a
 * wake-up of both processes, their I/O threads and ours, every interval:
 * three quarters of an idle swarm's CPU.) Through a SOCKS5 proxy (Tor) a
 * keepalive reaches only the proxy, so there ZMTP heartbeats do it. A
 * process that hangs on a live host is left to the 60 s silence rule. */
static int
liveness_opts(const transport_t *t, void *s)
{
    int rc = 0;
    if (proxied(t)) {
        rc |= setopt_int(s, ZMQ_HEARTBEAT_IVL, TRANSPORT_HEARTBEAT_IVL_MS);
        rc |= setopt_int(s, ZMQ_HEARTBEAT_TIMEOUT, TRANSPORT_HEARTBEAT_TIMEOUT_PROXIED_MS);
        /* The other side closes after hearing nothing from us this long. */
        rc |= setopt_int(s, ZMQ_HEARTBEAT_TTL,
                         TRANSPORT_HEARTBEAT_IVL_MS + TRANSPORT_HEARTBEAT_TIMEOUT_PROXIED_MS);
        return rc;
    }
    rc |= setopt_int(s, ZMQ_TCP_KEEPALIVE, 1);
    rc |= setopt_int(s, ZMQ_TCP_KEEPALIVE_IDLE, TRANSPORT_KEEPALIVE_IDLE_S);
    rc |= setopt_int(s, ZMQ_TCP_KEEPALIVE_INTVL, TRANSPORT_KEEPALIVE_INTVL_S);
    rc |= setopt_int(s, ZMQ_TCP_KEEPALIVE_CNT, TRANSPORT_KEEPALIVE_CNT);
    return rc;
}

/* Options both data sockets share: bounded frames and queues, no lingering,
 * dead peers noticed, capped reconnects. */
static int
common_opts(transport_t *t, void *s)
{
    int64_t maxmsg = (int64_t)t->cfg.max_frame;
    int rc = zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    rc |= setopt_int(s, ZMQ_LINGER, 0);
    rc |= setopt_int(s, ZMQ_RCVHWM, TRANSPORT_RCVHWM);
    rc |= setopt_int(s, ZMQ_SNDHWM, 256);
    rc |= setopt_int(s, ZMQ_RCVBUF, TRANSPORT_RCVBUF);
    rc |= setopt_int(s, ZMQ_HANDSHAKE_IVL, 5000);
    rc |= liveness_opts(t, s);
    rc |= setopt_int(s, ZMQ_RECONNECT_IVL, 1000);
    rc |= setopt_int(s, ZMQ_RECONNECT_IVL_MAX, 30000);
    rc |= setopt_int(s, ZMQ_ROUTER_MANDATORY, 1);
    rc |= setopt_int(s, ZMQ_IPV6, 1);
    return rc;
}

static transport_err_t
zfail(transport_t *t, const char *what)
{
    log_line(t->cfg.log, LOG_LEVEL_ERROR, "transport: %s: %s", what, zmq_strerror(zmq_errno()));
    return TRANSPORT_EZMQ;
}

static transport_err_t
open_zap(transport_t *t)
{
    void *s = zmq_socket(t->ctx, ZMQ_REP);
    t->z[Z_ZAP].s = s;
    if (s == NULL || setopt_int(s, ZMQ_LINGER, 0) != 0 ||
        zmq_bind(s, "inproc://zeromq.zap.01") != 0) {
        return zfail(t, "ZAP handler");
    }
    return TRANSPORT_OK;
}

static transport_err_t
open_monitor(transport_t *t, int data_kind, int mon_kind, const char *name)
{
    char addr[64];
    snprintf(addr, sizeof addr, "inproc://monitor-%s", name);
    int events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                 ZMQ_EVENT_CLOSED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_CONNECT_RETRIED;
    if (zmq_socket_monitor(t->z[data_kind].s, addr, events) != 0) {
        return zfail(t, "socket monitor");
    }
    void *s = zmq_socket(t->ctx, ZMQ_PAIR);
    t->z[mon_kind].s = s;
    if (s == NULL || setopt_int(s, ZMQ_LINGER, 0) != 0 || zmq_connect(s, addr) != 0) {
        return zfail(t, "monitor socket");
    }
    return TRANSPORT_OK;
}

/* With ZMQ_IPV6 on, libzmq reports an IPv4 bind as "tcp://[::ffff:a.b.c.d]:p";
 * we say "tcp://a.b.c.d:p", as the user wrote it. */
static void
unmap_v4(char ep[TRANSPORT_ENDPOINT_MAX])
{
    addr_t a;
    if (addr_parse(ep, &a) != ADDR_OK || a.kind != ADDR_IPV6) {
        return;
    }
    addr_unmap(&a);
    char text[TRANSPORT_ENDPOINT_MAX];
    if (a.kind == ADDR_IPV4 && addr_format(&a, text, sizeof text) == ADDR_OK) {
        memcpy(ep, text, strlen(text) + 1);
    }
}

static transport_err_t
open_listen(transport_t *t)
{
    void *s = zmq_socket(t->ctx, ZMQ_ROUTER);
    t->z[Z_LISTEN].s = s;
    /* A long accept queue: a host that connects and is refused over and
     * over must not fill it, or an honest SYN is dropped and retried only
     * a second later. */
    if (s == NULL || common_opts(t, s) != 0 || setopt_int(s, ZMQ_CURVE_SERVER, 1) != 0 ||
        setopt_int(s, ZMQ_BACKLOG, TRANSPORT_BACKLOG) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, t->cfg.key->sk, KEYS_NODE_SK) != 0 ||
        zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, "samizdat", 8) != 0) {
        return zfail(t, "listen socket");
    }
    transport_err_t err = open_monitor(t, Z_LISTEN, Z_MON_LISTEN, "listen");
    for (int i = 0; err == TRANSPORT_OK && i < TRANSPORT_LISTEN_MAX && t->cfg.listen[i]; i++) {
        if (zmq_bind(s, t->cfg.listen[i]) != 0) {
            log_line(t->cfg.log, LOG_LEVEL_ERROR, "transport: cannot listen on %s: %s",
                     t->cfg.listen[i], zmq_strerror(zmq_errno()));
            return TRANSPORT_EBIND;
        }
        size_t len = TRANSPORT_ENDPOINT_MAX;
        if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, t->bound[t->n_bound], &len) == 0) {
            unmap_v4(t->bound[t->n_bound]);
            t->n_bound++;
        }
    }
    return err;
}

static transport_err_t
open_out(transport_t *t)
{
    void *s = zmq_socket(t->ctx, ZMQ_ROUTER);
    t->z[Z_OUT].s = s;
    /* No ZMQ_IMMEDIATE here: with it, libzmq 4.3.4 creates the pipe only
     * after the handshake and then ignores ZMQ_CONNECT_ROUTING_ID, so peers
     * could not be addressed by key. Until a peer has answered HELLO the
     * node sends it nothing else, so little can queue. */
    if (s == NULL || common_opts(t, s) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, t->cfg.key->pk, KEYS_PUBLIC_SIZE) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, t->cfg.key->sk, KEYS_NODE_SK) != 0) {
        return zfail(t, "outbound socket");
    }
    if (t->cfg.socks5 != NULL &&
        zmq_setsockopt(s, ZMQ_SOCKS_PROXY, t->cfg.socks5, strlen(t->cfg.socks5)) != 0) {
        return zfail(t, "SOCKS5 proxy");
    }
    /* ZMQ_SOCKS_USERNAME is a draft option of libzmq 4.3.x: asked at run
     * time, since the library found may be built without it. */
    t->socks_auth = t->cfg.socks5 != NULL && zmq_setsockopt(s, ZMQ_SOCKS_USERNAME, "", 0) == 0 &&
                    zmq_setsockopt(s, ZMQ_SOCKS_PASSWORD, "", 0) == 0;
    return open_monitor(t, Z_OUT, Z_MON_OUT, "out");
}

static transport_err_t
watch(transport_t *t, int kind)
{
    zsock_t *z = &t->z[kind];
    int fd = -1;
    size_t len = sizeof fd;
    z->t = t;
    z->kind = kind;
    if (zmq_getsockopt(z->s, ZMQ_FD, &fd, &len) != 0) {
        return zfail(t, "ZMQ_FD");
    }
    if (uv_poll_init(t->loop, &z->poll, fd) != 0) {
        return TRANSPORT_EZMQ;
    }
    z->poll.data = z;
    t->open_handles++;
    uv_poll_start(&z->poll, UV_READABLE, on_poll);
    return TRANSPORT_OK;
}

static transport_err_t
open_all(transport_t *t)
{
    transport_err_t err = open_zap(t);
    if (err == TRANSPORT_OK) {
        err = open_listen(t);
    }
    if (err == TRANSPORT_OK) {
        err = open_out(t);
    }
    for (int k = 0; err == TRANSPORT_OK && k < Z_COUNT; k++) {
        err = watch(t, k);
    }
    return err;
}

static void
close_sockets(transport_t *t)
{
    /* Messages already queued get a moment to leave; zmq_ctx_term waits at
     * most this long for them. */
    for (int k = Z_LISTEN; k <= Z_OUT; k++) {
        if (t->z[k].s != NULL) {
            setopt_int(t->z[k].s, ZMQ_LINGER, TRANSPORT_CLOSE_LINGER_MS);
        }
    }
    /* A proxied connecter between a refused CONNECT and its next try
     * would abort the process when closed (outpeer_t): then the outbound
     * socket and the context are left for the process's exit to end. */
    bool stale = false;
    for (int i = 0; proxied(t) && i < TRANSPORT_CONN_MAX; i++) {
        stale = stale || (t->outs[i].used && !t->outs[i].heard);
    }
    for (int k = 0; k < Z_COUNT; k++) {
        if (t->z[k].s != NULL && !(stale && k == Z_OUT)) {
            zmq_close(t->z[k].s);
            t->z[k].s = NULL;
        }
    }
    if (stale) {
        log_line(t->cfg.log, LOG_LEVEL_DEBUG,
                 "transport: a connection through the proxy never answered; its socket is "
                 "left to the end of the process (libzmq might abort closing it)");
        t->z[Z_OUT].s = NULL;
        t->ctx = NULL;
    }
    if (t->ctx != NULL) {
        zmq_ctx_term(t->ctx);
        t->ctx = NULL;
    }
}

static void handle_done(transport_t *t);

static void
on_handle_closed(uv_handle_t *h)
{
    transport_t *t = h->data;
    if (h->type == UV_POLL) {
        t = ((zsock_t *)h->data)->t;
    }
    handle_done(t);
}

static void
on_ep_closed(uv_handle_t *h)
{
    handle_done(h->data);
}

static void
handle_done(transport_t *t)
{
    if (--t->open_handles > 0) {
        return;
    }
    if (t->ep >= 0) {
        close(t->ep);
    }
    /* libuv no longer watches any ZMQ_FD: now the sockets may go. */
    close_sockets(t);
    void (*cb)(void *) = t->close_cb;
    void *ud = t->close_ud;
    free(t);
    if (cb != NULL) {
        cb(ud);
    }
}

transport_err_t
transport_new(transport_t **out, uv_loop_t *loop, const transport_config_t *cfg)
{
    *out = NULL;
    transport_t *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return TRANSPORT_ENOMEM;
    }
    t->loop = loop;
    t->cfg = *cfg;
    t->serve_unaccounted = defence_off(cfg->defences_off, "conn-table");
    t->no_flood_cut = defence_off(cfg->defences_off, "flood-cut");
    t->no_total_budget = t->no_flood_cut || defence_off(cfg->defences_off, "flood-budget");
    t->in_keys_random = defence_off(cfg->defences_off, "in-keys");
    t->no_conn_caps = defence_off(cfg->defences_off, "conn-caps");
    t->no_bans = defence_off(cfg->defences_off, "bans");
    t->no_idle_close = defence_off(cfg->defences_off, "idle-close");
    t->idle_ms = cfg->idle_ms != 0 ? cfg->idle_ms : TRANSPORT_IDLE_MS;
    t->ctx = zmq_ctx_new();
    if (t->ctx == NULL) {
        free(t);
        return TRANSPORT_ENOMEM;
    }
    uv_idle_init(loop, &t->idle);
    uv_timer_init(loop, &t->flood_timer);
    uv_timer_init(loop, &t->busy_timer);
    t->idle.data = t;
    t->flood_timer.data = t;
    t->busy_timer.data = t;
    t->open_handles = 3;
    t->ep = epoll_create1(EPOLL_CLOEXEC);
    if (t->ep >= 0 && uv_poll_init(loop, &t->ep_poll, t->ep) == 0) {
        t->ep_poll.data = t;
        uv_poll_start(&t->ep_poll, UV_READABLE, on_conn_data);
        t->open_handles++;
    } else {
        /* Then every connection is checked every 20 ms, as before. */
        log_line(cfg->log, LOG_LEVEL_WARN,
                 "transport: no epoll set (%s): checking every "
                 "connection every %d ms",
                 strerror(errno), TRANSPORT_FLOOD_CHECK_MS);
        if (t->ep >= 0) {
            close(t->ep);
        }
        t->ep = -1;
    }
    transport_err_t err = open_all(t);
    if (err != TRANSPORT_OK) {
        *out = t; /* closed through the normal path so handles are released */
        transport_close(t, NULL, NULL);
        *out = NULL;
        return err;
    }
    if (!t->cfg.ticked_by_caller) {
        uv_timer_start(&t->flood_timer, on_flood_timer, TRANSPORT_SWEEP_MS, TRANSPORT_SWEEP_MS);
    }
    if (t->ep < 0) {
        uv_timer_start(&t->busy_timer, on_busy_timer, TRANSPORT_FLOOD_CHECK_MS,
                       TRANSPORT_FLOOD_CHECK_MS);
    }
    *out = t;
    return TRANSPORT_OK;
}

void
transport_close(transport_t *t, void (*cb)(void *ud), void *ud)
{
    if (t == NULL) {
        if (cb != NULL) {
            cb(ud);
        }
        return;
    }
    t->close_cb = cb;
    t->close_ud = ud;
    for (int k = 0; k < Z_COUNT; k++) {
        if (t->z[k].t != NULL) {
            uv_close((uv_handle_t *)&t->z[k].poll, on_handle_closed);
        }
    }
    uv_close((uv_handle_t *)&t->idle, on_handle_closed);
    uv_close((uv_handle_t *)&t->flood_timer, on_handle_closed);
    uv_close((uv_handle_t *)&t->busy_timer, on_handle_closed);
    if (t->ep >= 0) {
        uv_close((uv_handle_t *)&t->ep_poll, on_ep_closed);
    }
}

void
transport_bound(const transport_t *t, char out[][TRANSPORT_ENDPOINT_MAX], size_t cap, size_t *n_out)
{
    size_t n = t->n_bound < cap ? t->n_bound : cap;
    for (size_t i = 0; i < n; i++) {
        memcpy(out[i], t->bound[i], TRANSPORT_ENDPOINT_MAX);
    }
    *n_out = n;
}

/* The SOCKS5 username of the next connect: the peer's key in hex, so
 * every peer gets its own Tor circuit and the same peer the same one. The
 * password is fixed (RFC 1929 wants one; Tor isolates on both). */
static int
socks_user(void *s, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    char user[2 * KEYS_PUBLIC_SIZE + 1];
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < KEYS_PUBLIC_SIZE; i++) {
        user[2 * i] = hex[key[i] >> 4];
        user[2 * i + 1] = hex[key[i] & 15];
    }
    user[2 * KEYS_PUBLIC_SIZE] = '\0';
    return zmq_setsockopt(s, ZMQ_SOCKS_USERNAME, user, 2 * KEYS_PUBLIC_SIZE) != 0 ||
                   zmq_setsockopt(s, ZMQ_SOCKS_PASSWORD, "samizdat", 8) != 0
               ? -1
               : 0;
}

transport_err_t
transport_connect(transport_t *t, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint)
{
    /* A connecter left to try on (doomed, see outpeer_t) holds its
     * endpoint: the same key dialled there takes it up again. */
    outpeer_t *same = out_find(t, NULL, endpoint);
    if (out_find(t, key, NULL) != NULL) {
        return TRANSPORT_EEXIST;
    }
    if (same != NULL && same->doomed) {
        if (memcmp(same->key, key, KEYS_PUBLIC_SIZE) != 0) {
            return TRANSPORT_EEXIST; /* its connecter holds the endpoint */
        }
        same->doomed = false; /* the same key there again: its connecter serves */
        kick(t);
        return TRANSPORT_OK;
    }
    outpeer_t *o = NULL;
    for (int i = 0; o == NULL && i < TRANSPORT_CONN_MAX; i++) {
        if (!t->outs[i].used) {
            o = &t->outs[i];
        }
    }
    if (o == NULL || strlen(endpoint) >= sizeof o->endpoint) {
        return TRANSPORT_EFULL;
    }
    void *s = t->z[Z_OUT].s;
    uint8_t rid[OUT_RID_LEN];
    memcpy(rid, key, KEYS_PUBLIC_SIZE);
    uint32_t gen = ++t->out_generation;
    rid[KEYS_PUBLIC_SIZE] = (uint8_t)(gen >> 24);
    rid[33] = (uint8_t)(gen >> 16);
    rid[34] = (uint8_t)(gen >> 8);
    rid[35] = (uint8_t)gen;
    /* A relayed endpoint: libzmq's own SOCKS5 client asks the relay for
     * the node's key as a domain name (PROTOCOL.md, "Relays"). The proxy
     * option, like the server key, is copied at each connect, so it is set
     * for this one and put back at once. */
    char via[TRANSPORT_ENDPOINT_MAX];
    char proxy[ADDR_HOST_MAX + 10];
    const char *zep = endpoint;
    bool relayed = false;
    addr_t ra;
    if (addr_relay_parse(endpoint, &ra) == ADDR_OK) {
        if (t->cfg.socks5 != NULL) {
            /* libzmq cannot chain two proxies: dialling the relay would
             * leave the one the user chose (Tor) behind. */
            log_line(t->cfg.log, LOG_LEVEL_WARN,
                     "transport: not dialling %s: relayed endpoints are not used through --socks5",
                     endpoint);
            return TRANSPORT_EZMQ;
        }
        char name[RELAY_SOCKS_NAME_LEN + 1];
        relay_socks_name(key, name);
        snprintf(via, sizeof via, "tcp://%s:1", name);
        snprintf(proxy, sizeof proxy, ra.kind == ADDR_IPV6 ? "[%s]:%u" : "%s:%u", ra.host,
                 (unsigned)ra.port);
        zep = via;
        relayed = true;
    }
    if (strlen(zep) >= sizeof o->endpoint) {
        return TRANSPORT_EFULL;
    }
    if (relayed) {
        /* A doomed connecter of this key through this relay serves again
         * (the one above matches by the event address, the relay's). */
        char ev[sizeof proxy + 8];
        snprintf(ev, sizeof ev, "tcp://%s", proxy);
        for (int i = 0; i < TRANSPORT_CONN_MAX; i++) {
            outpeer_t *d = &t->outs[i];
            if (d->used && d->doomed && d->relayed && strcmp(d->event_ep, ev) == 0 &&
                memcmp(d->key, key, KEYS_PUBLIC_SIZE) == 0) {
                d->doomed = false;
                kick(t);
                return TRANSPORT_OK;
            }
        }
    }
    /* The server key and the routing id apply to the next connect only. */
    int rc = 0;
    if (relayed) {
        rc = zmq_setsockopt(s, ZMQ_SOCKS_PROXY, proxy, strlen(proxy));
    } else if (t->socks_auth) {
        rc = socks_user(s, key);
    }
    if (rc == 0) {
        rc = zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, key, KEYS_PUBLIC_SIZE) != 0 ||
                     zmq_setsockopt(s, ZMQ_CONNECT_ROUTING_ID, rid, sizeof rid) != 0 ||
                     zmq_connect(s, zep) != 0
                 ? -1
                 : 0;
    }
    int saved_errno = zmq_errno();
    if (relayed) {
        const char *back = t->cfg.socks5;
        (void)zmq_setsockopt(s, ZMQ_SOCKS_PROXY, back, back != NULL ? strlen(back) : 0);
    }
    if (rc != 0) {
        log_line(t->cfg.log, LOG_LEVEL_WARN, "transport: cannot connect to %s: %s", endpoint,
                 zmq_strerror(saved_errno));
        return TRANSPORT_EZMQ;
    }
    o->used = true;
    memcpy(o->key, key, KEYS_PUBLIC_SIZE);
    memcpy(o->rid, rid, sizeof rid);
    snprintf(o->endpoint, sizeof o->endpoint, "%s", zep);
    o->relayed = relayed;
    if (relayed) {
        /* A relayed endpoint is at most ADDR_ENDPOINT_MAX bytes, so its
         * relay's address fits; a cut one would only miss its events. */
        int w = snprintf(o->event_ep, sizeof o->event_ep, "tcp://%s", proxy);
        if (w < 0 || (size_t)w >= sizeof o->event_ep) {
            log_line(t->cfg.log, LOG_LEVEL_WARN, "transport: relay address too long: %s", proxy);
        }
    } else {
        snprintf(o->event_ep, sizeof o->event_ep, "%s", zep);
    }
    kick(t);
    return TRANSPORT_OK;
}

bool
transport_circuit_per_peer(const transport_t *t)
{
    return t->socks_auth;
}

transport_err_t
transport_disconnect(transport_t *t, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    outpeer_t *o = out_find(t, key, NULL);
    if (o == NULL) {
        return TRANSPORT_EUNKNOWN;
    }
    if ((proxied(t) || o->relayed) && !o->heard) {
        o->doomed = true; /* see outpeer_t; a relayed connect is one through a proxy */
        log_line(t->cfg.log, LOG_LEVEL_DEBUG,
                 "transport: %s never answered through the proxy: left to try on", o->endpoint);
        kick(t);
        return TRANSPORT_OK;
    }
    (void)zmq_disconnect(t->z[Z_OUT].s, o->endpoint);
    memset(o, 0, sizeof *o);
    kick(t);
    return TRANSPORT_OK;
}

static transport_err_t
send_to(transport_t *t, void *s, const uint8_t *rid, size_t rid_len, const uint8_t *data,
        size_t len)
{
    transport_err_t err = TRANSPORT_OK;
    if (zmq_send(s, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        err = zmq_errno() == EAGAIN ? TRANSPORT_EAGAIN : TRANSPORT_EUNKNOWN;
    } else if (zmq_send(s, data, len, ZMQ_DONTWAIT) < 0) {
        err = TRANSPORT_EAGAIN;
    }
    if (err != TRANSPORT_OK) {
        t->stats.send_failures++;
    } else {
        t->stats.msgs_out++;
    }
    /* A send can consume the edge ZMQ_FD would have signalled. */
    kick(t);
    return err;
}

transport_err_t
transport_send(transport_t *t, transport_dir_t dir, const uint8_t key[KEYS_PUBLIC_SIZE],
               const uint8_t *data, size_t len)
{
    if (dir == TRANSPORT_OUT) {
        outpeer_t *o = out_find(t, key, NULL);
        if (o == NULL) {
            return TRANSPORT_EUNKNOWN;
        }
        return send_to(t, t->z[Z_OUT].s, o->rid, sizeof o->rid, data, len);
    }
    inpeer_t *p = in_find(t, key);
    if (p == NULL) {
        return TRANSPORT_EUNKNOWN;
    }
    return send_to(t, t->z[Z_LISTEN].s, p->rid, p->rid_len, data, len);
}

bool
transport_banned(const transport_t *t, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    uint64_t now = uv_now(t->loop);
    for (int i = 0; i < TRANSPORT_BANS_MAX; i++) {
        const ban_t *b = &t->bans[i];
        if (b->until_ms > now && memcmp(b->key, key, KEYS_PUBLIC_SIZE) == 0) {
            return true;
        }
    }
    return false;
}

transport_err_t
transport_ban(transport_t *t, const uint8_t key[KEYS_PUBLIC_SIZE], uint64_t ms)
{
    if (t == NULL || key == NULL) {
        return TRANSPORT_EUNKNOWN;
    }
    if (t->no_bans) {
        return TRANSPORT_OK;
    }
    uint64_t now = uv_now(t->loop);
    ban_t *b = &t->bans[0];
    for (int i = 0; i < TRANSPORT_BANS_MAX; i++) {
        ban_t *o = &t->bans[i];
        if (o->until_ms <= now || memcmp(o->key, key, KEYS_PUBLIC_SIZE) == 0) {
            b = o;
            break;
        }
        if (o->until_ms < b->until_ms) {
            b = o;
        }
    }
    memset(b, 0, sizeof *b);
    memcpy(b->key, key, KEYS_PUBLIC_SIZE);
    b->until_ms = now + ms;
    inpeer_t *p = in_find(t, key);
    conn_t *c = p != NULL ? conn_by_id(t, p->conn_id) : NULL;
    const uint8_t *ip = NULL;
    size_t len = c != NULL ? ip_of(c, &ip) : 0;
    if (len > 0 && !own_host(ip, len)) {
        memcpy(b->ip, ip, len);
        b->ip_len = len;
    }
    if (p != NULL) {
        close_key_conn(t, p->conn_id);
        p->used = false;
    }
    /* Its other connections: every one from the banned address. */
    for (int i = 0; b->ip_len > 0 && i < TRANSPORT_CONN_MAX; i++) {
        conn_t *o = &t->conns[i];
        const uint8_t *oip = NULL;
        if (o->used && o->dir == TRANSPORT_IN && ip_of(o, &oip) == b->ip_len &&
            memcmp(oip, b->ip, b->ip_len) == 0) {
            close_key_conn(t, o->id);
        }
    }
    return TRANSPORT_OK;
}

void
transport_stats(const transport_t *t, transport_stats_t *out)
{
    *out = t->stats;
}
