/* relay: see relay.h. Every TCP connection is a conn_t in one list; a
 * circuit is two conns that point at each other. A conn is freed in its
 * close callback, never before: libuv calls a pending write's or
 * connect's callback (cancelled) before that. */
#include "relay.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bytes.h"
#include "defence.h"

enum {
    HS_MAX = 300, /* handshake bytes kept: a SOCKS5 request is at most 262 */
    READ_SIZE = 65536,
};

typedef enum {
    C_FIRST = 0,    /* accepted on the relay port: SOCKS5 greeting or claim */
    C_SOCKS_REQ,    /* SOCKS5 method chosen: the CONNECT request */
    C_WAIT_CLAIM,   /* P's request accepted: U was sent CONNECT */
    C_CLIENT_CLAIM, /* U: claim sent to R, waiting for its one-byte answer */
    C_CLIENT_LOCAL, /* U: connecting to its own listener */
    C_SPLICED,
    C_PROBE_METHOD, /* a probe of ours: greeting sent, waiting for the method */
    C_PROBE_REPLY,  /* a probe of ours: request sent, waiting for the reply */
    C_CLOSING,
} cstate_t;

typedef struct conn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    relay_t *r;
    struct conn *prev, *next;
    struct conn *peer;
    cstate_t state;
    bool inbound; /* accepted on the relay port (counts towards RELAY_CONNS_MAX) */
    bool paused;  /* reading stopped: the peer's write queue is over RELAY_BUFFER_MAX */
    bool is_p;    /* R: the side that asked in SOCKS5 (counts as key's circuit) */
    uint64_t since_ms;
    uint64_t carried; /* bytes read on this side once spliced */
    uint8_t key[KEYS_PUBLIC_SIZE];
    uint32_t circuit;
    uint8_t nonce[WIRE_CIRCUIT_NONCE];
    uint8_t hs[HS_MAX];
    size_t hs_len;
    struct sockaddr_storage local; /* U: the listener to splice to */
    uint8_t *pending;              /* U: bytes from R before the local connection was up */
    size_t pending_len;
    relay_probe_cb probe_cb; /* a probe: told once, then NULL */
    void *probe_ud;
} conn_t;

typedef struct {
    bool used;
    uint8_t key[KEYS_PUBLIC_SIZE];
    char ip[64];
    uint64_t expires_ms;
} resv_t;

struct relay {
    uv_loop_t *loop;
    relay_config_t cfg;
    bool caps_off;
    uv_tcp_t listener;
    bool listening;
    uint16_t port;
    uv_timer_t sweep;
    conn_t *conns;
    size_t n_inbound;
    int handles; /* handles not yet closed */
    bool closing;
    void (*close_cb)(void *ud);
    void *close_ud;
    uint32_t next_circuit;
    resv_t resv[RELAY_RESERVATIONS_MAX];
    relay_stats_t stats;
};

typedef struct {
    uv_write_t req;
    conn_t *c;
    char *buf;
    bool close_after;
} wreq_t;

const char *
relay_strerror(relay_err_t err)
{
    switch (err) {
    case RELAY_OK:
        return "ok";
    case RELAY_ENOMEM:
        return "out of memory";
    case RELAY_EBIND:
        return "cannot bind the relay port";
    case RELAY_EBUSY:
        return "at a cap";
    case RELAY_EADDR:
        return "not an IP address";
    case RELAY_ECLOSED:
        return "relay closed";
    default:
        return "unknown relay error";
    }
}

static void
maybe_done(relay_t *r)
{
    if (r->closing && r->handles == 0) {
        void (*cb)(void *) = r->close_cb;
        void *ud = r->close_ud;
        free(r);
        if (cb != NULL) {
            cb(ud);
        }
    }
}

static void
on_handle_closed(uv_handle_t *h)
{
    relay_t *r = h->data;
    r->handles--;
    maybe_done(r);
}

static void
on_conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    relay_t *r = c->r;
    free(c->pending);
    free(c);
    r->handles--;
    maybe_done(r);
}

/* A probe's answer, given once (never while the relay object closes). */
static void
probe_told(conn_t *c, bool ok)
{
    relay_probe_cb cb = c->probe_cb;
    c->probe_cb = NULL;
    if (cb != NULL && !c->r->closing) {
        cb(c->probe_ud, c->key, ok);
    }
}

static void
conn_close(conn_t *c)
{
    if (c == NULL || c->state == C_CLOSING) {
        return;
    }
    relay_t *r = c->r;
    if (c->state == C_SPLICED && c->is_p && r->stats.open > 0) {
        r->stats.open--;
    }
    c->state = C_CLOSING;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        r->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;
    if (c->inbound) {
        r->n_inbound--;
    }
    conn_t *peer = c->peer;
    c->peer = NULL;
    if (peer != NULL) {
        peer->peer = NULL;
    }
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    conn_close(peer);
    probe_told(c, false);
}

/* A connection across the network (not the one to our own listener): a
 * host that vanished is noticed as the node's own connections notice it
 * (transport.h: keepalives, and a bound on unacknowledged data). */
static void
tune_keepalive(conn_t *c)
{
    uv_os_fd_t fd;
    if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) != 0) {
        return;
    }
    int on = 1, idle = RELAY_KEEPALIVE_IDLE_S, intvl = RELAY_KEEPALIVE_INTVL_S;
    unsigned int user_ms = RELAY_USER_TIMEOUT_MS;
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms, sizeof user_ms);
}

static void on_sweep(uv_timer_t *t);

/* The sweep runs while there is a connection or a reservation to time out. */
static void
sweep_arm(relay_t *r)
{
    if (!r->closing && !uv_is_active((uv_handle_t *)&r->sweep)) {
        uv_timer_start(&r->sweep, on_sweep, RELAY_SWEEP_MS, RELAY_SWEEP_MS);
    }
}

static conn_t *
conn_new(relay_t *r, bool inbound)
{
    conn_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    if (uv_tcp_init(r->loop, &c->tcp) != 0) {
        free(c);
        return NULL;
    }
    /* Spliced bytes go on at once: Nagle's wait for an ACK that the
     * other end delays put 40 ms on every small message relayed. (libuv
     * applies it when the socket opens.) */
    (void)uv_tcp_nodelay(&c->tcp, 1);
    r->handles++;
    sweep_arm(r);
    c->r = r;
    c->tcp.data = c;
    c->connect_req.data = c;
    c->inbound = inbound;
    c->since_ms = uv_now(r->loop);
    c->next = r->conns;
    if (r->conns != NULL) {
        r->conns->prev = c;
    }
    r->conns = c;
    if (inbound) {
        r->n_inbound++;
    }
    return c;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = malloc(READ_SIZE);
    buf->len = buf->base != NULL ? READ_SIZE : 0;
}

static void
on_written(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    conn_t *c = w->c;
    free(w->buf);
    bool close_after = w->close_after;
    free(w);
    if (c->state == C_CLOSING) {
        return;
    }
    if (status < 0 || close_after) {
        conn_close(c);
        return;
    }
    /* Back-pressure: the other side was paused while this one's queue
     * was long; it has drained enough to read again. */
    conn_t *p = c->peer;
    if (p != NULL && p->paused && c->tcp.write_queue_size <= RELAY_BUFFER_MAX / 2) {
        p->paused = false;
        if (uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) != 0) {
            conn_close(p);
        }
    }
}

/* Writes buf (ownership moves, on error too) to c. */
static bool
write_owned(conn_t *c, char *buf, size_t len, bool close_after)
{
    wreq_t *w = calloc(1, sizeof *w);
    if (w == NULL) {
        free(buf);
        conn_close(c);
        return false;
    }
    w->c = c;
    w->buf = buf;
    w->close_after = close_after;
    uv_buf_t b = uv_buf_init(buf, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(buf);
        free(w);
        conn_close(c);
        return false;
    }
    return true;
}

static bool
write_copy(conn_t *c, const void *data, size_t len, bool close_after)
{
    char *b = malloc(len);
    if (b == NULL) {
        conn_close(c);
        return false;
    }
    memcpy(b, data, len);
    return write_owned(c, b, len, close_after);
}

static void
socks_fail(conn_t *c, uint8_t code)
{
    const uint8_t reply[10] = {5, code, 0, 1, 0, 0, 0, 0, 0, 0};
    (void)write_copy(c, reply, sizeof reply, true);
}

void
relay_socks_name(const uint8_t key[KEYS_PUBLIC_SIZE], char out[RELAY_SOCKS_NAME_LEN + 1])
{
    char hex[2 * KEYS_PUBLIC_SIZE + 1];
    sodium_bin2hex(hex, sizeof hex, key, KEYS_PUBLIC_SIZE);
    memcpy(out, hex, 32);
    out[32] = '.';
    memcpy(out + 33, hex + 32, 32);
    memcpy(out + 65, ".relay", 7);
}

static bool
socks_name_key(const uint8_t *name, size_t len, uint8_t key[KEYS_PUBLIC_SIZE])
{
    if (len != RELAY_SOCKS_NAME_LEN || name[32] != '.' || memcmp(name + 65, ".relay", 6) != 0) {
        return false;
    }
    char hex[65];
    memcpy(hex, name, 32);
    memcpy(hex + 32, name + 33, 32);
    hex[64] = 0;
    for (size_t i = 0; i < 64; i++) {
        /* Lower case only: one spelling per key. */
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f'))) {
            return false;
        }
    }
    size_t bin_len = 0;
    return sodium_hex2bin(key, KEYS_PUBLIC_SIZE, hex, 64, NULL, &bin_len, NULL) == 0 &&
           bin_len == KEYS_PUBLIC_SIZE;
}

static resv_t *
resv_find(relay_t *r, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    uint64_t now = uv_now(r->loop);
    for (size_t i = 0; i < RELAY_RESERVATIONS_MAX; i++) {
        resv_t *v = &r->resv[i];
        if (v->used && v->expires_ms > now && memcmp(v->key, key, KEYS_PUBLIC_SIZE) == 0) {
            return v;
        }
    }
    return NULL;
}

static size_t
circuits_of(relay_t *r, const uint8_t *key)
{
    size_t n = 0;
    for (conn_t *c = r->conns; c != NULL; c = c->next) {
        if (c->is_p && (key == NULL || memcmp(c->key, key, KEYS_PUBLIC_SIZE) == 0)) {
            n++;
        }
    }
    return n;
}

static void
hs_consume(conn_t *c, size_t n)
{
    memmove(c->hs, c->hs + n, c->hs_len - n);
    c->hs_len -= n;
}

/* The SOCKS5 CONNECT request; false while more bytes are needed. */
static bool
socks_request(conn_t *c)
{
    relay_t *r = c->r;
    if (c->hs_len < 5) {
        return false;
    }
    bytes_reader_t rd;
    bytes_reader_init(&rd, c->hs, c->hs_len);
    uint8_t ver = bytes_get_u8(&rd);
    uint8_t cmd = bytes_get_u8(&rd);
    (void)bytes_get_u8(&rd);
    uint8_t atyp = bytes_get_u8(&rd);
    uint8_t nlen = bytes_get_u8(&rd);
    if (ver != 5 || cmd != 1) {
        r->stats.bad++;
        socks_fail(c, 7);
        return true;
    }
    if (atyp != 3) {
        r->stats.bad++;
        socks_fail(c, 8);
        return true;
    }
    const uint8_t *name = bytes_get_ref(&rd, nlen);
    (void)bytes_get_u16(&rd);
    if (!bytes_reader_ok(&rd)) {
        return false;
    }
    if (!bytes_reader_done(&rd)) {
        /* P speaks before the reply: not a SOCKS5 client we serve. */
        r->stats.bad++;
        conn_close(c);
        return true;
    }
    uint8_t key[KEYS_PUBLIC_SIZE];
    if (!socks_name_key(name, nlen, key) || resv_find(r, key) == NULL) {
        socks_fail(c, 4);
        return true;
    }
    if ((!r->caps_off && circuits_of(r, key) >= RELAY_CIRCUITS_PER_RESERVATION) ||
        circuits_of(r, NULL) >= RELAY_CIRCUITS_MAX) {
        r->stats.refused++;
        log_line(r->cfg.log, LOG_LEVEL_DEBUG, "relay: circuit refused: at a cap");
        socks_fail(c, 4);
        return true;
    }
    c->hs_len = 0;
    c->is_p = true;
    memcpy(c->key, key, KEYS_PUBLIC_SIZE);
    c->circuit = ++r->next_circuit;
    randombytes_buf(c->nonce, sizeof c->nonce);
    c->state = C_WAIT_CLAIM;
    c->since_ms = uv_now(r->loop);
    if (r->cfg.on_circuit != NULL) {
        r->cfg.on_circuit(r->cfg.ud, key, c->circuit, c->nonce);
    }
    return true;
}

static void
claim(conn_t *u)
{
    relay_t *r = u->r;
    bytes_reader_t rd;
    bytes_reader_init(&rd, u->hs, u->hs_len);
    bytes_get(&rd, (uint8_t[4]){0}, 4);
    uint32_t circuit = bytes_get_u32(&rd);
    const uint8_t *nonce = bytes_get_ref(&rd, WIRE_CIRCUIT_NONCE);
    conn_t *p = NULL;
    if (bytes_reader_done(&rd) && memcmp(u->hs, "SZRC", 4) == 0) {
        for (conn_t *c = r->conns; c != NULL; c = c->next) {
            if (c->state == C_WAIT_CLAIM && c->circuit == circuit) {
                p = c;
                break;
            }
        }
    }
    if (p == NULL || sodium_memcmp(p->nonce, nonce, WIRE_CIRCUIT_NONCE) != 0) {
        r->stats.bad++;
        (void)write_copy(u, "\x01", 1, true);
        return;
    }
    u->hs_len = 0;
    u->peer = p;
    p->peer = u;
    u->state = C_SPLICED;
    p->state = C_SPLICED;
    r->stats.circuits++;
    r->stats.open++;
    const uint8_t ok[10] = {5, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    if (write_copy(u, "\x00", 1, false)) {
        (void)write_copy(p, ok, sizeof ok, false);
    }
}

/* Handshake bytes on the relay port. */
static void
handshake(conn_t *c, const uint8_t *data, size_t n)
{
    relay_t *r = c->r;
    if (c->state == C_WAIT_CLAIM || n > sizeof c->hs - c->hs_len) {
        /* Nothing may come before the reply; and nothing is that long. */
        r->stats.bad++;
        conn_close(c);
        return;
    }
    memcpy(c->hs + c->hs_len, data, n);
    c->hs_len += n;
    if (c->state == C_FIRST && c->hs_len >= 1 && c->hs[0] == 'S') {
        if (c->hs_len > RELAY_CLAIM_SIZE) {
            r->stats.bad++;
            conn_close(c);
        } else if (c->hs_len == RELAY_CLAIM_SIZE) {
            claim(c);
        }
        return;
    }
    if (c->state == C_FIRST) {
        if (c->hs[0] != 5) {
            r->stats.bad++;
            conn_close(c);
            return;
        }
        if (c->hs_len < 2) {
            return;
        }
        size_t nm = c->hs[1];
        if (nm < 1 || nm > 8) {
            r->stats.bad++;
            conn_close(c);
            return;
        }
        if (c->hs_len < 2 + nm) {
            return;
        }
        bool none = memchr(c->hs + 2, 0, nm) != NULL;
        if (!none) {
            (void)write_copy(c, "\x05\xff", 2, true);
            return;
        }
        hs_consume(c, 2 + nm);
        c->state = C_SOCKS_REQ;
        if (!write_copy(c, "\x05\x00", 2, false)) {
            return;
        }
    }
    if (c->state == C_SOCKS_REQ) {
        (void)socks_request(c);
    }
}

static void
splice_read(conn_t *a, char *base, size_t n)
{
    relay_t *r = a->r;
    conn_t *b = a->peer;
    if (b == NULL) {
        free(base);
        conn_close(a);
        return;
    }
    a->carried += n;
    r->stats.bytes += n;
    uint64_t cap = r->cfg.circuit_bytes != 0 ? r->cfg.circuit_bytes : RELAY_CIRCUIT_BYTES;
    if (a->carried + b->carried > cap) {
        free(base);
        log_line(r->cfg.log, LOG_LEVEL_DEBUG, "relay: circuit closed at its byte cap");
        conn_close(a);
        return;
    }
    if (!write_owned(b, base, n, false)) {
        return;
    }
    if (b->tcp.write_queue_size > RELAY_BUFFER_MAX && !a->paused) {
        a->paused = true;
        uv_read_stop((uv_stream_t *)&a->tcp);
    }
}

static void
on_local_connected(uv_connect_t *req, int status)
{
    conn_t *b = req->data;
    if (b->state == C_CLOSING) {
        return;
    }
    conn_t *a = b->peer;
    if (status < 0 || a == NULL) {
        conn_close(b);
        return;
    }
    a->state = C_SPLICED;
    b->state = C_SPLICED;
    if (a->pending != NULL) {
        char *p = (char *)a->pending;
        size_t len = a->pending_len;
        a->pending = NULL;
        a->pending_len = 0;
        if (!write_owned(b, p, len, false)) {
            return;
        }
    }
    if (uv_read_start((uv_stream_t *)&a->tcp, on_alloc, on_read) != 0 ||
        uv_read_start((uv_stream_t *)&b->tcp, on_alloc, on_read) != 0) {
        conn_close(a);
    }
}

/* U: R answered the claim. */
static void
claim_answer(conn_t *a, const uint8_t *data, size_t n)
{
    relay_t *r = a->r;
    if (data[0] != 0) {
        log_line(r->cfg.log, LOG_LEVEL_DEBUG, "relay: circuit claim refused");
        conn_close(a);
        return;
    }
    uv_read_stop((uv_stream_t *)&a->tcp);
    if (n > 1) {
        a->pending = malloc(n - 1);
        if (a->pending == NULL) {
            conn_close(a);
            return;
        }
        memcpy(a->pending, data + 1, n - 1);
        a->pending_len = n - 1;
    }
    conn_t *b = conn_new(r, false);
    if (b == NULL) {
        conn_close(a);
        return;
    }
    b->state = C_CLIENT_LOCAL;
    a->peer = b;
    b->peer = a;
    a->state = C_CLIENT_LOCAL;
    if (uv_tcp_connect(&b->connect_req, &b->tcp, (const struct sockaddr *)&a->local,
                       on_local_connected) != 0) {
        conn_close(b);
    }
}

/* ---- probes: is there a relay for this key at that address? ---- */

static void
probe_read(conn_t *c, const uint8_t *data, size_t n)
{
    if (n > sizeof c->hs - c->hs_len) {
        conn_close(c); /* no SOCKS5 server says that much */
        return;
    }
    memcpy(c->hs + c->hs_len, data, n);
    c->hs_len += n;
    if (c->hs_len < 2) {
        return;
    }
    if (c->hs[0] != 5 || c->hs[1] != 0) {
        conn_close(c); /* not SOCKS5, no method we offered, or refused */
        return;
    }
    if (c->state == C_PROBE_REPLY) {
        /* Accepted: the relay holds a reservation for the key, and its
         * node claimed the circuit. Nothing is sent on it. */
        probe_told(c, true);
        conn_close(c);
        return;
    }
    hs_consume(c, 2);
    uint8_t req[5 + RELAY_SOCKS_NAME_LEN + 2] = {5, 1, 0, 3, RELAY_SOCKS_NAME_LEN};
    char name[RELAY_SOCKS_NAME_LEN + 1];
    relay_socks_name(c->key, name);
    memcpy(req + 5, name, RELAY_SOCKS_NAME_LEN);
    req[sizeof req - 2] = 0;
    req[sizeof req - 1] = 1;
    c->state = C_PROBE_REPLY;
    (void)write_copy(c, req, sizeof req, false);
}

static void
on_probe_connected(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    if (c->state == C_CLOSING) {
        return;
    }
    if (status < 0) {
        conn_close(c);
        return;
    }
    static const uint8_t greeting[3] = {5, 1, 0};
    if (write_copy(c, greeting, sizeof greeting, false) &&
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        conn_close(c);
    }
}

static size_t
conns_count(const relay_t *r)
{
    size_t n = 0;
    for (const conn_t *c = r->conns; c != NULL; c = c->next) {
        n++;
    }
    return n;
}

relay_err_t
relay_probe(relay_t *r, const struct sockaddr *relay_addr, const uint8_t key[KEYS_PUBLIC_SIZE],
            relay_probe_cb cb, void *ud)
{
    if (r->closing) {
        return RELAY_ECLOSED;
    }
    if (conns_count(r) >= RELAY_CONNS_MAX) {
        return RELAY_EBUSY;
    }
    conn_t *c = conn_new(r, false);
    if (c == NULL) {
        return RELAY_ENOMEM;
    }
    c->state = C_PROBE_METHOD;
    memcpy(c->key, key, KEYS_PUBLIC_SIZE);
    if (uv_tcp_connect(&c->connect_req, &c->tcp, relay_addr, on_probe_connected) != 0) {
        conn_close(c);
        return RELAY_EADDR;
    }
    c->probe_cb = cb; /* after a failure above: the caller hears it from the return */
    c->probe_ud = ud;
    return RELAY_OK;
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (nread <= 0 || c->state == C_CLOSING) {
        free(buf->base);
        if (nread < 0 && c->state != C_CLOSING) {
            conn_close(c);
        }
        return;
    }
    switch (c->state) {
    case C_SPLICED:
        splice_read(c, buf->base, (size_t)nread);
        return;
    case C_CLIENT_CLAIM:
        claim_answer(c, (const uint8_t *)buf->base, (size_t)nread);
        break;
    case C_PROBE_METHOD:
    case C_PROBE_REPLY:
        probe_read(c, (const uint8_t *)buf->base, (size_t)nread);
        break;
    case C_CLIENT_LOCAL:
        /* Reading was stopped; libuv may still hand over what it had. */
        c->r->stats.bad++;
        conn_close(c);
        break;
    default:
        handshake(c, (const uint8_t *)buf->base, (size_t)nread);
        break;
    }
    free(buf->base);
}

static void
on_accept(uv_stream_t *server, int status)
{
    relay_t *r = server->data;
    if (status < 0 || r->closing) {
        return;
    }
    bool full = r->n_inbound >= RELAY_CONNS_MAX;
    conn_t *c = conn_new(r, true);
    if (c == NULL) {
        return;
    }
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || full) {
        r->stats.refused += full;
        conn_close(c);
        return;
    }
    tune_keepalive(c);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        conn_close(c);
    }
}

static void
on_sweep(uv_timer_t *t)
{
    relay_t *r = t->data;
    uint64_t now = uv_now(r->loop);
    conn_t *next = NULL;
    for (conn_t *c = r->conns; c != NULL; c = next) {
        next = c->next;
        if (c->state != C_SPLICED && now - c->since_ms > RELAY_HANDSHAKE_MS) {
            r->stats.bad++;
            /* The peer of c may be next: closing it unlinks it too. */
            if (next != NULL && next == c->peer) {
                next = next->next;
            }
            conn_close(c);
        }
    }
    for (size_t i = 0; i < RELAY_RESERVATIONS_MAX; i++) {
        if (r->resv[i].used && r->resv[i].expires_ms <= now) {
            r->resv[i].used = false;
        }
    }
    bool any = r->conns != NULL;
    for (size_t i = 0; i < RELAY_RESERVATIONS_MAX; i++) {
        any = any || r->resv[i].used;
    }
    if (!any) {
        uv_timer_stop(t); /* nothing to time out: an idle relay sleeps */
    }
}

relay_err_t
relay_new(relay_t **out, uv_loop_t *loop, const relay_config_t *cfg)
{
    *out = NULL;
    relay_t *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return RELAY_ENOMEM;
    }
    r->loop = loop;
    r->cfg = *cfg;
    r->caps_off = defence_off(cfg->defences_off, "relaycaps");
    if (uv_timer_init(loop, &r->sweep) != 0) {
        free(r);
        return RELAY_ENOMEM;
    }
    r->handles = 1;
    r->sweep.data = r;
    uv_unref((uv_handle_t *)&r->sweep);
    *out = r;
    return RELAY_OK;
}

void
relay_close(relay_t *r, void (*cb)(void *ud), void *ud)
{
    if (r == NULL) {
        if (cb != NULL) {
            cb(ud);
        }
        return;
    }
    r->closing = true;
    r->close_cb = cb;
    r->close_ud = ud;
    r->handles++; /* held while closing, so nothing finishes midway */
    while (r->conns != NULL) {
        conn_close(r->conns);
    }
    uv_close((uv_handle_t *)&r->sweep, on_handle_closed);
    if (r->listening) {
        uv_close((uv_handle_t *)&r->listener, on_handle_closed);
    }
    r->handles--;
    maybe_done(r);
}

relay_err_t
relay_listen(relay_t *r, const char *host, uint16_t port)
{
    if (r->closing) {
        return RELAY_ECLOSED;
    }
    if (r->listening) {
        return RELAY_OK;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        return RELAY_EADDR;
    }
    if (uv_tcp_init(r->loop, &r->listener) != 0) {
        return RELAY_ENOMEM;
    }
    r->listener.data = r;
    r->handles++;
    r->listening = true;
    struct sockaddr_storage bound;
    int len = (int)sizeof bound;
    if (uv_tcp_bind(&r->listener, (const struct sockaddr *)&ss, 0) != 0 ||
        uv_listen((uv_stream_t *)&r->listener, 128, on_accept) != 0 ||
        uv_tcp_getsockname(&r->listener, (struct sockaddr *)&bound, &len) != 0) {
        r->listening = false;
        uv_close((uv_handle_t *)&r->listener, on_handle_closed);
        return RELAY_EBIND;
    }
    r->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                               : ((struct sockaddr_in6 *)&bound)->sin6_port);
    return RELAY_OK;
}

uint16_t
relay_port(const relay_t *r)
{
    return r->listening ? r->port : 0;
}

void
relay_reserve(relay_t *r, const uint8_t key[KEYS_PUBLIC_SIZE], const char *ip, uint64_t now_ms,
              wire_msg_t *out)
{
    out->u.reserved.status = WIRE_RESERVE_REFUSED;
    if (!r->listening || r->closing) {
        return;
    }
    uint32_t secs = r->cfg.reservation_s != 0 ? r->cfg.reservation_s : RELAY_RESERVATION_S;
    resv_t *v = resv_find(r, key);
    if (v == NULL) {
        size_t same_ip = 0;
        resv_t *free_slot = NULL;
        for (size_t i = 0; i < RELAY_RESERVATIONS_MAX; i++) {
            resv_t *x = &r->resv[i];
            if (x->used && x->expires_ms > now_ms) {
                same_ip += strcmp(x->ip, ip) == 0;
            } else if (free_slot == NULL) {
                free_slot = x;
            }
        }
        if (free_slot == NULL ||
            (!r->caps_off && ip[0] != '\0' && same_ip >= RELAY_RESERVATIONS_PER_IP)) {
            r->stats.refused++;
            out->u.reserved.status = WIRE_RESERVE_BUSY;
            return;
        }
        v = free_slot;
        memset(v, 0, sizeof *v);
        v->used = true;
        memcpy(v->key, key, KEYS_PUBLIC_SIZE);
        snprintf(v->ip, sizeof v->ip, "%s", ip);
    }
    v->expires_ms = now_ms + (uint64_t)secs * 1000u;
    sweep_arm(r);
    out->u.reserved.status = WIRE_RESERVE_OK;
    out->u.reserved.port = r->port;
    out->u.reserved.expires_s = secs;
    out->u.reserved.byte_cap =
        r->cfg.circuit_bytes != 0 ? r->cfg.circuit_bytes : RELAY_CIRCUIT_BYTES;
}

void
relay_unreserve(relay_t *r, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    resv_t *v = resv_find(r, key);
    if (v != NULL) {
        v->used = false;
    }
}

size_t
relay_reservations(const relay_t *r)
{
    size_t n = 0;
    uint64_t now = uv_now(r->loop);
    for (size_t i = 0; i < RELAY_RESERVATIONS_MAX; i++) {
        n += r->resv[i].used && r->resv[i].expires_ms > now;
    }
    return n;
}

static void
on_relay_connected(uv_connect_t *req, int status)
{
    conn_t *a = req->data;
    if (a->state == C_CLOSING) {
        return;
    }
    if (status < 0) {
        conn_close(a);
        return;
    }
    tune_keepalive(a);
    uint8_t msg[RELAY_CLAIM_SIZE];
    memcpy(msg, "SZRC", 4);
    msg[4] = (uint8_t)(a->circuit >> 24);
    msg[5] = (uint8_t)(a->circuit >> 16);
    msg[6] = (uint8_t)(a->circuit >> 8);
    msg[7] = (uint8_t)a->circuit;
    memcpy(msg + 8, a->nonce, WIRE_CIRCUIT_NONCE);
    if (write_copy(a, msg, sizeof msg, false) &&
        uv_read_start((uv_stream_t *)&a->tcp, on_alloc, on_read) != 0) {
        conn_close(a);
    }
}

relay_err_t
relay_claim(relay_t *r, const struct sockaddr *relay_addr, uint32_t circuit,
            const uint8_t nonce[WIRE_CIRCUIT_NONCE], const struct sockaddr *local_addr)
{
    if (r->closing) {
        return RELAY_ECLOSED;
    }
    /* A relay that sends CONNECT after CONNECT cannot make us open
     * connections without end: every connection of ours counts. */
    if (conns_count(r) >= RELAY_CONNS_MAX) {
        return RELAY_EBUSY;
    }
    size_t llen = local_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                    : sizeof(struct sockaddr_in);
    conn_t *a = conn_new(r, false);
    if (a == NULL) {
        return RELAY_ENOMEM;
    }
    a->state = C_CLIENT_CLAIM;
    a->circuit = circuit;
    memcpy(a->nonce, nonce, WIRE_CIRCUIT_NONCE);
    memcpy(&a->local, local_addr, llen);
    if (uv_tcp_connect(&a->connect_req, &a->tcp, relay_addr, on_relay_connected) != 0) {
        conn_close(a);
        return RELAY_EADDR;
    }
    return RELAY_OK;
}

void
relay_stats(const relay_t *r, relay_stats_t *out)
{
    *out = r->stats;
}
