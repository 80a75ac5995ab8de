#include "control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bytes.h"
#include "cli.h"
#include "node.h"

typedef struct client {
    struct control *ctl;
    uv_pipe_t pipe;
    uint8_t *buf;
    size_t len;
    size_t cap;
    bool done;
    uv_write_t wreq;
    uint8_t *resp;
} client_t;

struct control {
    struct node *node;
    uv_pipe_t server;
    char dir[4096];
    char path[4096];
    int open_handles;
    int clients;
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
control_request_decode(uint8_t *buf, size_t len, control_request_t *out)
{
    bytes_reader_t r;
    bytes_reader_init(&r, buf, len);
    if (bytes_get_u8(&r) != CONTROL_VERSION) {
        return false;
    }
    out->argc = bytes_get_u8(&r);
    if (out->argc > CONTROL_ARGS_MAX) {
        return false;
    }
    /* Each argument is moved one byte back over its length field, so a NUL
     * can follow it without overwriting the next field. */
    for (int i = 0; i < out->argc; i++) {
        size_t n = bytes_get_u16(&r);
        size_t at = r.off;
        const uint8_t *p = bytes_get_ref(&r, n);
        if (p == NULL || memchr(p, '\0', n) != NULL) {
            return false;
        }
        memmove(buf + at - 1, p, n);
        buf[at - 1 + n] = '\0';
        out->argv[i] = (char *)buf + at - 1;
    }
    out->argv[out->argc] = NULL;
    out->in_len = bytes_get_u32(&r);
    out->in = bytes_get_ref(&r, out->in_len);
    return out->in != NULL && bytes_reader_done(&r);
}

static void
on_client_closed(uv_handle_t *h)
{
    client_t *cl = h->data;
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
        uv_close((uv_handle_t *)&cl->pipe, on_client_closed);
    }
}

static void
on_written(uv_write_t *req, int status)
{
    (void)status;
    client_close(req->data);
}

/* Sends back exit code, output and errors; takes out and err. */
static void
send_response(client_t *cl, int code, char *out, size_t out_len, char *err, size_t err_len)
{
    if (out_len + err_len > CONTROL_RESPONSE_MAX) {
        free(out);
        out = NULL;
        out_len = 0;
        code = CLI_EXIT_ERROR;
    }
    size_t body = 1 + 4 + out_len + 4 + err_len;
    cl->resp = malloc(4 + body);
    if (cl->resp == NULL) {
        free(out);
        free(err);
        client_close(cl);
        return;
    }
    bytes_writer_t w;
    bytes_writer_init(&w, cl->resp, 4 + body);
    bytes_put_u32(&w, (uint32_t)body);
    bytes_put_u8(&w, (uint8_t)code);
    bytes_put_u32(&w, (uint32_t)out_len);
    bytes_put(&w, (const uint8_t *)out, out_len);
    bytes_put_u32(&w, (uint32_t)err_len);
    bytes_put(&w, (const uint8_t *)err, err_len);
    free(out);
    free(err);
    uv_buf_t b = uv_buf_init((char *)cl->resp, (unsigned)w.len);
    cl->wreq.data = cl;
    if (uv_write(&cl->wreq, (uv_stream_t *)&cl->pipe, &b, 1, on_written) != 0) {
        client_close(cl);
    }
}

static void
on_async_done(void *ud, int code, char *out, size_t out_len, char *err, size_t err_len)
{
    send_response(ud, code, out, out_len, err, err_len);
}

/* Runs the command: one that waits on the network answers when it is done;
 * any other at once. */
static void
respond(client_t *cl, control_request_t *req)
{
    if (cli_start_async(cl->ctl->node, cl->ctl->dir, req->argc, req->argv, req->in, req->in_len,
                        on_async_done, cl)) {
        return;
    }
    char *out = NULL, *err = NULL;
    size_t out_len = 0, err_len = 0;
    int code = cli_run_for_node(cl->ctl->node, cl->ctl->dir, req->argc, req->argv, req->in,
                                req->in_len, &out, &out_len, &err, &err_len);
    send_response(cl, code, out, out_len, err, err_len);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    client_t *cl = h->data;
    if (cl->cap - cl->len < 4096 && cl->cap < CONTROL_REQUEST_MAX + 4) {
        size_t ncap = cl->cap ? cl->cap * 2 : 8192;
        if (ncap > CONTROL_REQUEST_MAX + 4) {
            ncap = CONTROL_REQUEST_MAX + 4;
        }
        uint8_t *nb = realloc(cl->buf, ncap);
        if (nb != NULL) {
            cl->buf = nb;
            cl->cap = ncap;
        }
    }
    (void)suggested;
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
    uint32_t want = (uint32_t)cl->buf[0] << 24 | (uint32_t)cl->buf[1] << 16 |
                    (uint32_t)cl->buf[2] << 8 | cl->buf[3];
    if (want > CONTROL_REQUEST_MAX || cl->len > 4 + (size_t)want) {
        client_close(cl);
        return;
    }
    if (cl->len < 4 + (size_t)want) {
        return;
    }
    cl->done = true;
    uv_read_stop(s);
    control_request_t req;
    if (!control_request_decode(cl->buf + 4, want, &req)) {
        client_close(cl);
        return;
    }
    respond(cl, &req);
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
    cl->ctl = c;
    uv_pipe_init(server->loop, &cl->pipe, 0);
    cl->pipe.data = cl;
    c->clients++;
    if (uv_accept(server, (uv_stream_t *)&cl->pipe) != 0 || c->clients > CONTROL_CLIENTS_MAX ||
        uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read) != 0) {
        client_close(cl);
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
control_new(control_t **out, uv_loop_t *loop, struct node *node, const char *dir)
{
    *out = NULL;
    control_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return CONTROL_ENOMEM;
    }
    c->node = node;
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    int n = snprintf(c->path, sizeof c->path, "%s/%s", dir, CONTROL_SOCKET_NAME);
    struct sockaddr_un sa;
    if (n < 0 || (size_t)n >= sizeof sa.sun_path) {
        /* libuv would bind a truncated path: somewhere else entirely. */
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
    int rc = (n > 0 && (size_t)n < sizeof c->path) ? uv_pipe_bind(&c->server, c->path) : -1;
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
    uv_close((uv_handle_t *)&c->server, on_server_closed);
}
