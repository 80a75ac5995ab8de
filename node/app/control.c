#include "control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "appmsg.h"
#include "bytes.h"
#include "defence.h"

typedef struct client {
    struct control *ctl;
    struct client *prev, *next; /* the clients, oldest first */
    uv_pipe_t pipe;
    uv_timer_t idle;
    int open; /* handles not closed yet (pipe, timer) */
    uint64_t since; /* uv_now when it connected */
    uint8_t *buf;
    size_t len;
    size_t cap;
    bool done; /* the request is in: nothing more is read */
    uv_write_t wreq;
    uint8_t *resp;
} client_t;

struct control {
    app_t *app;
    uv_pipe_t server;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int open_handles;
    int clients;
    client_t *first, *last; /* every client, in the order they came */
    bool undefended;        /* test only: the control-idle defence is off */
    control_stats_t stats;
    bool closing;
    void (*close_cb)(void *ud);
    void *close_ud;
};

static void control_release(control_t *c);

const char *
control_strerror(control_err_t err)
{
    switch (err) {
    case CONTROL_OK:
        return "ok";
    case CONTROL_ENOMEM:
        return "out of memory";
    case CONTROL_EBIND:
        return "cannot create the control socket";
    case CONTROL_ETOOLONG:
        return "the data directory's path is too long for a Unix socket (about 100 bytes at "
               "most)";
    }
    return "unknown control error";
}

bool
control_socket_path(char *out, size_t cap, const char *dir)
{
    struct sockaddr_un sa;
    int n = snprintf(out, cap, "%s/%s", dir, CONTROL_SOCKET_NAME);
    /* libuv would bind a truncated path: somewhere else entirely. */
    return n > 0 && (size_t)n < cap && (size_t)n < sizeof sa.sun_path;
}

static void
unlink_client(client_t *cl)
{
    control_t *c = cl->ctl;
    *(cl->prev ? &cl->prev->next : &c->first) = cl->next;
    *(cl->next ? &cl->next->prev : &c->last) = cl->prev;
    cl->prev = cl->next = NULL;
}

static void
on_client_closed(uv_handle_t *h)
{
    client_t *cl = h->data;
    if (--cl->open > 0) {
        return;
    }
    control_t *c = cl->ctl;
    free(cl->buf);
    free(cl->resp);
    free(cl);
    c->clients--;
    if (c->closing) {
        control_release(c);
    }
}

static void
client_close(client_t *cl)
{
    if (!uv_is_closing((uv_handle_t *)&cl->pipe)) {
        unlink_client(cl);
        uv_close((uv_handle_t *)&cl->pipe, on_client_closed);
        uv_close((uv_handle_t *)&cl->idle, on_client_closed);
    }
}

static void
on_idle(uv_timer_t *t)
{
    client_t *cl = t->data;
    if (!cl->done) {
        cl->ctl->stats.idle_closed++;
        client_close(cl);
    }
}

/* The client that has waited longest without its request in, or NULL. */
static client_t *
oldest_waiting(control_t *c)
{
    for (client_t *cl = c->first; cl != NULL; cl = cl->next) {
        if (!cl->done && !uv_is_closing((uv_handle_t *)&cl->pipe)) {
            return cl;
        }
    }
    return NULL;
}

/* Room for one more client: below the cap, or by closing the one that has
 * waited longest with nothing sent (a connection that only holds a place,
 * as an attacker's would, goes before one that is being served). */
static bool
make_room(control_t *c)
{
    int cap = c->undefended ? CONTROL_CLIENTS_MAX_UNDEFENDED : CONTROL_CLIENTS_MAX;
    int open = 0;
    for (client_t *cl = c->first; cl != NULL; cl = cl->next) {
        open++;
    }
    if (open < cap) {
        return true;
    }
    client_t *victim = c->undefended ? NULL : oldest_waiting(c);
    if (victim == NULL) {
        return false;
    }
    c->stats.evicted++;
    client_close(victim);
    return true;
}

static void
on_written(uv_write_t *req, int status)
{
    (void)status;
    client_close(req->data);
}

/* Sends the result back and closes; takes res. */
static void
send_result(client_t *cl, app_result_t *res)
{
    uint8_t *body = NULL;
    size_t len = 0;
    appmsg_err_t err = appmsg_result_encode(res, &body, &len);
    if (err != APPMSG_OK) {
        /* Too large or out of memory: the client still gets an answer. */
        app_op_t op = res->op;
        app_result_free(res);
        res = app_result_new(op);
        if (res != NULL) {
            res->err = err == APPMSG_ENOMEM ? APP_ENOMEM : APP_EINVAL;
            snprintf(res->msg, sizeof res->msg, "%s: the result is %s", app_op_name(op),
                     appmsg_strerror(err));
            err = appmsg_result_encode(res, &body, &len);
        }
    }
    app_result_free(res);
    cl->resp = err == APPMSG_OK ? malloc(4 + len) : NULL;
    if (cl->resp == NULL) {
        free(body);
        client_close(cl);
        return;
    }
    bytes_writer_t w;
    bytes_writer_init(&w, cl->resp, 4 + len);
    bytes_put_u32(&w, (uint32_t)len);
    bytes_put(&w, body, len);
    free(body);
    uv_buf_t b = uv_buf_init((char *)cl->resp, (unsigned)w.len);
    cl->wreq.data = cl;
    if (uv_write(&cl->wreq, (uv_stream_t *)&cl->pipe, &b, 1, on_written) != 0) {
        client_close(cl);
    }
}

static void
on_app_done(void *ud, app_result_t *res)
{
    client_t *cl = ud;
    /* The request pointed into the buffer; the app copied what it keeps. */
    free(cl->buf);
    cl->buf = NULL;
    send_result(cl, res);
}

static void
serve(client_t *cl, const uint8_t *body, size_t len)
{
    app_request_t req;
    appmsg_err_t derr = appmsg_request_decode(body, len, &req);
    if (derr != APPMSG_OK) {
        /* Answer in the format we speak, so an old or new client can say why. */
        app_result_t *res = app_result_new(APP_OP_STATUS);
        if (res == NULL) {
            client_close(cl);
            return;
        }
        res->err = APP_EPROTO;
        snprintf(res->msg, sizeof res->msg, "the node cannot read the request: %s",
                 appmsg_strerror(derr));
        send_result(cl, res);
        return;
    }
    app_err_t err = app_call(cl->ctl->app, &req, on_app_done, cl);
    if (err != APP_OK) {
        app_result_t *res = app_result_new(req.op);
        if (res == NULL) {
            client_close(cl);
            return;
        }
        res->err = err;
        snprintf(res->msg, sizeof res->msg, "%s: %s", app_op_name(req.op), app_strerror(err));
        send_result(cl, res);
    }
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    client_t *cl = h->data;
    (void)suggested;
    size_t limit = (size_t)APPMSG_REQUEST_MAX + 4;
    if (cl->cap - cl->len < 4096 && cl->cap < limit) {
        size_t ncap = cl->cap ? cl->cap * 2 : 8192;
        ncap = ncap > limit ? limit : ncap;
        uint8_t *nb = realloc(cl->buf, ncap);
        if (nb != NULL) {
            cl->buf = nb;
            cl->cap = ncap;
        }
    }
    buf->base = (char *)cl->buf + cl->len;
    buf->len = cl->cap - cl->len;
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    client_t *cl = s->data;
    if (nread < 0 || cl->done) {
        client_close(cl);
        return;
    }
    cl->len += (size_t)nread;
    if (cl->len < 4) {
        return;
    }
    bytes_reader_t r;
    bytes_reader_init(&r, cl->buf, 4);
    uint32_t want = bytes_get_u32(&r);
    if (want > APPMSG_REQUEST_MAX || cl->len > 4 + (size_t)want) {
        client_close(cl);
        return;
    }
    if (cl->len < 4 + (size_t)want) {
        return;
    }
    cl->done = true;
    uv_timer_stop(&cl->idle);
    uv_read_stop(s);
    if (cl->ctl->closing) {
        /* The app may be closing too: take no new request. */
        client_close(cl);
        return;
    }
    serve(cl, cl->buf + 4, want);
}

static void
on_connection(uv_stream_t *server, int status)
{
    control_t *c = server->data;
    if (status != 0 || c->closing) {
        return;
    }
    client_t *cl = calloc(1, sizeof *cl);
    if (cl == NULL) {
        return;
    }
    bool room = make_room(c);
    cl->ctl = c;
    uv_pipe_init(server->loop, &cl->pipe, 0);
    uv_timer_init(server->loop, &cl->idle);
    cl->pipe.data = cl;
    cl->idle.data = cl;
    cl->open = 2;
    cl->since = uv_now(server->loop);
    cl->prev = c->last;
    *(c->last ? &c->last->next : &c->first) = cl;
    c->last = cl;
    c->clients++;
    if (!room) {
        c->stats.refused++;
    }
    if (uv_accept(server, (uv_stream_t *)&cl->pipe) != 0 || !room ||
        uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read) != 0) {
        client_close(cl);
        return;
    }
    if (!c->undefended) {
        uv_timer_start(&cl->idle, on_idle, CONTROL_IDLE_MS, 0);
    }
}

static void
control_release(control_t *c)
{
    if (c->open_handles > 0 || c->clients > 0) {
        return;
    }
    void (*cb)(void *) = c->close_cb;
    void *ud = c->close_ud;
    free(c);
    if (cb != NULL) {
        cb(ud);
    }
}

static void
on_server_closed(uv_handle_t *h)
{
    control_t *c = h->data;
    c->open_handles--;
    control_release(c);
}

control_err_t
control_new(control_t **out, uv_loop_t *loop, app_t *app, const char *dir)
{
    *out = NULL;
    control_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return CONTROL_ENOMEM;
    }
    c->app = app;
    if (!control_socket_path(c->path, sizeof c->path, dir)) {
        free(c);
        return CONTROL_ETOOLONG;
    }
    uv_pipe_init(loop, &c->server, 0);
    c->server.data = c;
    c->open_handles = 1;
    /* The store's lock already proves no other node uses this directory, so
     * a socket file left here is stale. */
    unlink(c->path);
    mode_t old = umask(0177);
    int rc = uv_pipe_bind(&c->server, c->path);
    umask(old);
    if (rc == 0) {
        rc = chmod(c->path, 0600);
    }
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&c->server, 8, on_connection);
    }
    if (rc != 0) {
        control_close(c, NULL, NULL);
        return CONTROL_EBIND;
    }
    *out = c;
    return CONTROL_OK;
}

void
control_set_defences_off(control_t *c, const char *list)
{
    c->undefended = defence_off(list, "control-idle");
}

void
control_stats(const control_t *c, control_stats_t *out)
{
    *out = c->stats;
    out->clients = c->clients;
}

void
control_close(control_t *c, void (*cb)(void *ud), void *ud)
{
    if (c == NULL) {
        if (cb != NULL) {
            cb(ud);
        }
        return;
    }
    c->close_cb = cb;
    c->close_ud = ud;
    c->closing = true;
    unlink(c->path);
    /* Clients with a request running get their answer; the rest go now. */
    for (client_t *cl = c->first, *next; cl != NULL; cl = next) {
        next = cl->next;
        if (!cl->done) {
            client_close(cl);
        }
    }
    uv_close((uv_handle_t *)&c->server, on_server_closed);
}
