#include "torctl.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "addr.h"
#include "zmqdraft.h"

typedef enum { S_CONNECT, S_PROTOCOLINFO, S_AUTH, S_SOCKS, S_ONION, S_READY, S_FAILED } step_t;

struct torctl {
    torctl_config_t cfg;
    char key[TORCTL_KEY_MAX]; /* a secret: wiped when freed */
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_connect_t conn;
    bool tcp_open;
    bool closing;
    step_t step;
    char line[TORCTL_LINE_MAX + 1]; /* the line being read */
    size_t line_len;
    char reply[TORCTL_REPLY_MAX]; /* the lines of the reply so far, each ending in '\n' */
    size_t reply_len;
    torctl_info_t info;
    bool reported;
    void (*close_cb)(void *ud);
    void *close_ud;
};

typedef struct {
    uv_write_t req;
    char buf[TORCTL_KEY_MAX + 128];
} wreq_t;

static void
on_closed(uv_handle_t *h)
{
    torctl_t *t = h->data;
    void (*cb)(void *) = t->close_cb;
    void *ud = t->close_ud;
    sodium_memzero(t, sizeof *t);
    free(t);
    if (cb != NULL) {
        cb(ud);
    }
}

static void
drop_connection(torctl_t *t)
{
    if (t->tcp_open) {
        t->tcp_open = false;
        uv_close((uv_handle_t *)&t->tcp, on_closed);
    }
}

/* The exchange failed (before ready) or the connection went (after). */
static void fail(torctl_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail(torctl_t *t, const char *fmt, ...)
{
    char why[TORCTL_WHY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    step_t was = t->step;
    t->step = S_FAILED;
    if (!t->reported) {
        t->reported = true;
        t->info.ok = false;
        snprintf(t->info.why, sizeof t->info.why, "%s", why);
        t->cfg.ready(t->cfg.ud, &t->info);
    } else if (was == S_READY && t->cfg.lost != NULL && !t->closing) {
        t->cfg.lost(t->cfg.ud, why);
    }
    if (t->tcp_open && !uv_is_closing((uv_handle_t *)&t->tcp)) {
        uv_read_stop((uv_stream_t *)&t->tcp);
    }
}

static void
on_written(uv_write_t *req, int status)
{
    (void)status;
    wreq_t *w = (wreq_t *)req;
    sodium_memzero(w->buf, sizeof w->buf); /* may hold a cookie or a key */
    free(w);
}

static void send_line(torctl_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
send_line(torctl_t *t, const char *fmt, ...)
{
    wreq_t *w = calloc(1, sizeof *w);
    if (w == NULL) {
        fail(t, "%s", "out of memory");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->buf, sizeof w->buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof w->buf) {
        free(w);
        fail(t, "%s", "a control command too long");
        return;
    }
    uv_buf_t b = uv_buf_init(w->buf, (unsigned)n);
    if (uv_write(&w->req, (uv_stream_t *)&t->tcp, &b, 1, on_written) != 0) {
        free(w);
        fail(t, "%s", "cannot write to Tor's control port");
    }
}

/* The value after "KEY=" in the reply, up to a space, newline or quote;
 * quoted values lose their quotes. "" when absent. */
static void
reply_value(const torctl_t *t, const char *key, char *out, size_t cap)
{
    out[0] = '\0';
    const char *p = strstr(t->reply, key);
    if (p == NULL) {
        return;
    }
    p += strlen(key);
    bool quoted = *p == '"';
    p += quoted;
    size_t n = quoted ? strcspn(p, "\"\n") : strcspn(p, " \n");
    if (n < cap) {
        memcpy(out, p, n);
        out[n] = '\0';
    }
}

/* The cookie Tor wrote, in hex, for AUTHENTICATE. */
static bool
read_cookie(const char *path, char hex[65])
{
    uint8_t cookie[33];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    ssize_t n = read(fd, cookie, sizeof cookie);
    close(fd);
    if (n != 32) {
        return false;
    }
    sodium_bin2hex(hex, 65, cookie, 32);
    sodium_memzero(cookie, sizeof cookie);
    return true;
}

static void
authenticate(torctl_t *t)
{
    char methods[128], cookie_file[1024];
    reply_value(t, "METHODS=", methods, sizeof methods);
    reply_value(t, "COOKIEFILE=", cookie_file, sizeof cookie_file);
    t->step = S_AUTH;
    if (strstr(methods, "NULL") != NULL) {
        send_line(t, "AUTHENTICATE\r\n");
        return;
    }
    char hex[65];
    if (strstr(methods, "COOKIE") == NULL || cookie_file[0] == '\0') {
        fail(t, "Tor's control port asks a password (methods %s); samizdat needs "
                "CookieAuthentication 1 in torrc",
             methods);
        return;
    }
    if (!read_cookie(cookie_file, hex)) {
        fail(t, "cannot read Tor's cookie file %s (is this user in Tor's group?)", cookie_file);
        return;
    }
    send_line(t, "AUTHENTICATE %s\r\n", hex);
    sodium_memzero(hex, sizeof hex);
}

static void
add_onion(torctl_t *t)
{
    /* The key, or a new one; then the port forwarded to our listener. */
    t->step = S_ONION;
    send_line(t, "ADD_ONION %s Port=%u,127.0.0.1:%u\r\n",
              t->key[0] != '\0' ? t->key : "NEW:ED25519-V3", (unsigned)t->cfg.port,
              (unsigned)t->cfg.port);
}

static void
onion_added(torctl_t *t)
{
    char id[TORCTL_ONION_MAX - 7];
    reply_value(t, "ServiceID=", id, sizeof id);
    if (id[0] == '\0') {
        fail(t, "%s", "Tor did not say the onion service's address");
        return;
    }
    memcpy(t->info.onion, id, strlen(id));
    memcpy(t->info.onion + strlen(id), ".onion", 7);
    reply_value(t, "PrivateKey=", t->info.new_key, sizeof t->info.new_key);
    t->step = S_READY;
    t->info.ok = true;
    t->reported = true;
    t->cfg.ready(t->cfg.ud, &t->info);
    sodium_memzero(t->info.new_key, sizeof t->info.new_key);
}

/* A whole reply is in t->reply; code is its status (250 is OK). */
static void
handle_reply(torctl_t *t, int code)
{
    if (code != 250) {
        char first[160];
        snprintf(first, sizeof first, "%.*s", (int)strcspn(t->reply, "\n"), t->reply);
        fail(t, "Tor refused: %s", first);
        return;
    }
    switch (t->step) {
    case S_PROTOCOLINFO:
        authenticate(t);
        break;
    case S_AUTH:
        t->step = S_SOCKS;
        send_line(t, "GETINFO net/listeners/socks\r\n");
        break;
    case S_SOCKS: {
        char socks[64];
        reply_value(t, "net/listeners/socks=", socks, sizeof socks);
        snprintf(t->info.socks, sizeof t->info.socks, "%s", socks);
        add_onion(t);
        break;
    }
    case S_ONION:
        onion_added(t);
        break;
    default:
        break; /* asynchronous events are not asked for */
    }
}

/* One line of a reply: "NNN-..." and "NNN+..." continue it, "NNN ..." ends
 * it (control-spec section 2.3). */
static void
handle_line(torctl_t *t)
{
    if (t->line_len < 4 || t->line[0] < '0' || t->line[0] > '9') {
        fail(t, "%s", "not Tor's control protocol on that port");
        return;
    }
    size_t room = sizeof t->reply - t->reply_len;
    if (t->line_len - 4 + 2 > room) {
        fail(t, "%s", "a reply from Tor too long");
        return;
    }
    memcpy(t->reply + t->reply_len, t->line + 4, t->line_len - 4);
    t->reply_len += t->line_len - 4;
    t->reply[t->reply_len++] = '\n';
    t->reply[t->reply_len] = '\0';
    if (t->line[3] == ' ') {
        int code = atoi(t->line);
        handle_reply(t, code);
        sodium_memzero(t->reply, t->reply_len);
        t->reply_len = 0;
    }
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = malloc(2048);
    buf->len = buf->base ? 2048 : 0;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    torctl_t *t = s->data;
    for (ssize_t i = 0; i < n && t->step != S_FAILED; i++) {
        char c = buf->base[i];
        if (c == '\n') {
            if (t->line_len > 0 && t->line[t->line_len - 1] == '\r') {
                t->line_len--;
            }
            t->line[t->line_len] = '\0';
            handle_line(t);
            t->line_len = 0;
        } else if (t->line_len < TORCTL_LINE_MAX) {
            t->line[t->line_len++] = c;
        } else {
            fail(t, "%s", "a line from Tor too long");
        }
    }
    if (buf->base != NULL) {
        sodium_memzero(buf->base, buf->len);
        free(buf->base);
    }
    if (n < 0 && t->step != S_FAILED) {
        fail(t, "the connection to Tor's control port was lost (%s)", uv_strerror((int)n));
    }
}

static void
on_connect(uv_connect_t *req, int status)
{
    torctl_t *t = req->data;
    if (t->closing) {
        return;
    }
    if (status != 0) {
        fail(t, "cannot reach Tor's control port: %s (is tor running, with ControlPort?)",
             uv_strerror(status));
        return;
    }
    uv_read_start((uv_stream_t *)&t->tcp, on_alloc, on_read);
    t->step = S_PROTOCOLINFO;
    send_line(t, "PROTOCOLINFO 1\r\n");
}

/* "HOST:PORT" with a numeric host, as a socket address. */
static bool
control_addr(const char *control, struct sockaddr_storage *out)
{
    char ep[ADDR_ENDPOINT_MAX + 1];
    addr_t a;
    if (snprintf(ep, sizeof ep, "tcp://%s", control) >= (int)sizeof ep ||
        addr_parse(ep, &a) != ADDR_OK || (a.kind != ADDR_IPV4 && a.kind != ADDR_IPV6)) {
        return false;
    }
    socklen_t len = 0;
    return addr_to_sockaddr(&a, out, &len) == ADDR_OK;
}

void
torctl_zmq_version(char *version, size_t cap)
{
    int major = 0, minor = 0, patch = 0;
    zmq_version(&major, &minor, &patch);
    snprintf(version, cap, "%d.%d.%d", major, minor, patch);
}

bool
torctl_isolation_available(char *version, size_t cap)
{
    torctl_zmq_version(version, cap);
    /* A draft option in 4.3.x: whether this build has it is seen only by
     * setting it. */
    void *ctx = zmq_ctx_new();
    void *s = ctx != NULL ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    bool ok = s != NULL && zmq_setsockopt(s, ZMQ_SOCKS_USERNAME, "", 0) == 0;
    if (s != NULL) {
        zmq_close(s);
    }
    if (ctx != NULL) {
        zmq_ctx_term(ctx);
    }
    return ok;
}

torctl_err_t
torctl_new(torctl_t **out, uv_loop_t *loop, const torctl_config_t *cfg)
{
    *out = NULL;
    struct sockaddr_storage sa;
    if (cfg->control == NULL || !control_addr(cfg->control, &sa) || cfg->port == 0) {
        return TORCTL_EINVAL;
    }
    torctl_t *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return TORCTL_ENOMEM;
    }
    t->cfg = *cfg;
    t->loop = loop;
    if (cfg->key != NULL) {
        snprintf(t->key, sizeof t->key, "%s", cfg->key);
    }
    uv_tcp_init(loop, &t->tcp);
    t->tcp.data = t;
    t->tcp_open = true;
    t->conn.data = t;
    t->step = S_CONNECT;
    if (uv_tcp_connect(&t->conn, &t->tcp, (struct sockaddr *)&sa, on_connect) != 0) {
        t->closing = true;
        drop_connection(t); /* freed once the handle is closed */
        return TORCTL_EINVAL;
    }
    *out = t;
    return TORCTL_OK;
}

void
torctl_close(torctl_t *t, void (*cb)(void *ud), void *ud)
{
    if (t == NULL) {
        if (cb != NULL) {
            cb(ud);
        }
        return;
    }
    t->closing = true;
    t->close_cb = cb;
    t->close_ud = ud;
    drop_connection(t);
}
