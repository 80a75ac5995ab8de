/* A remote app: each call is one connection to the running node's control
 * socket, one encoded request out, one encoded result back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_int.h"
#include "appmsg.h"
#include "bytes.h"
#include "control.h"

typedef struct {
    app_job_t *job;
    uv_pipe_t pipe;
    uv_connect_t conn;
    uv_write_t wreq;
    uint8_t *req; /* u32 length and the encoded request */
    size_t req_len;
    uint8_t *buf; /* the answer as it arrives */
    size_t len;
    size_t cap;
} remote_t;

static void
remote_cleanup(app_job_t *j)
{
    remote_t *r = j->state;
    if (r != NULL) {
        free(r->req);
        free(r->buf);
        free(r);
    }
}

static void
on_pipe_closed(uv_handle_t *h)
{
    remote_t *r = h->data;
    app_job_finish(r->job);
}

static void
remote_end(remote_t *r)
{
    if (!uv_is_closing((uv_handle_t *)&r->pipe)) {
        uv_close((uv_handle_t *)&r->pipe, on_pipe_closed);
    }
}

/* Takes the decoded result in place of the one the job holds. */
static void
take_result(remote_t *r, const uint8_t *body, size_t len)
{
    app_result_t *got = NULL;
    appmsg_err_t err = appmsg_result_decode(body, len, &got);
    app_result_t *res = r->job->res;
    if (err != APPMSG_OK) {
        app_fail(res, err == APPMSG_ENOMEM ? APP_ENOMEM : APP_EPROTO,
                 "bad answer from the node: %s", appmsg_strerror(err));
        return;
    }
    if (got->op != res->op && got->err == APP_OK) {
        app_result_free(got);
        app_fail(res, APP_EPROTO, "bad answer from the node: an answer to another request");
        return;
    }
    /* An error answer may name another op (the node could not read ours). */
    got->op = res->op;
    app_result_free(res);
    r->job->res = got;
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    remote_t *r = h->data;
    (void)suggested;
    size_t limit = (size_t)APPMSG_RESULT_MAX + 4;
    if (r->cap - r->len < 65536 && r->cap < limit) {
        size_t ncap = r->cap ? r->cap * 2 : 65536;
        ncap = ncap > limit ? limit : ncap;
        uint8_t *nb = realloc(r->buf, ncap);
        if (nb != NULL) {
            r->buf = nb;
            r->cap = ncap;
        }
    }
    buf->base = (char *)r->buf + r->len;
    buf->len = r->cap - r->len;
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    remote_t *r = s->data;
    if (nread == 0) {
        return;
    }
    if (nread < 0) {
        app_fail(r->job->res, APP_EPROTO, "the node closed the control connection without "
                                          "answering (it may be stopping, or busy with too "
                                          "many commands at once: try again)");
        remote_end(r);
        return;
    }
    r->len += (size_t)nread;
    if (r->len < 4) {
        return;
    }
    bytes_reader_t rd;
    bytes_reader_init(&rd, r->buf, 4);
    uint32_t want = bytes_get_u32(&rd);
    if (want > APPMSG_RESULT_MAX || r->len > 4 + (size_t)want) {
        app_fail(r->job->res, APP_EPROTO, "bad answer from the node: too long");
        remote_end(r);
        return;
    }
    if (r->len < 4 + (size_t)want) {
        return;
    }
    uv_read_stop(s);
    take_result(r, r->buf + 4, want);
    remote_end(r);
}

static void
on_written(uv_write_t *w, int status)
{
    remote_t *r = w->data;
    if (status != 0) {
        app_fail(r->job->res, APP_EPROTO,
                 "the node closed the control connection before the command was sent (%s; "
                 "it may be stopping, or busy with too many commands at once: try again)",
                 uv_strerror(status));
        remote_end(r);
    }
}

static void
on_connect(uv_connect_t *c, int status)
{
    remote_t *r = c->data;
    if (status != 0) {
        app_fail(r->job->res, APP_ENOTRUNNING,
                 "the node is not running (start it: samizdat run): %s", uv_strerror(status));
        remote_end(r);
        return;
    }
    uv_buf_t b = uv_buf_init((char *)r->req, (unsigned)r->req_len);
    r->wreq.data = r;
    if (uv_write(&r->wreq, (uv_stream_t *)&r->pipe, &b, 1, on_written) != 0 ||
        uv_read_start((uv_stream_t *)&r->pipe, on_alloc, on_read) != 0) {
        app_fail(r->job->res, APP_EPROTO, "cannot talk to the node");
        remote_end(r);
    }
}

app_err_t
app_remote_call(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb, void *ud)
{
    char path[APP_PATH_MAX];
    if (!control_socket_path(path, sizeof path, a->dir)) {
        app_fail(res, APP_EINVAL, "the data directory's path is too long for a Unix socket");
        cb(ud, res);
        return APP_OK;
    }
    uint8_t *body = NULL;
    size_t len = 0;
    appmsg_err_t err = appmsg_request_encode(req, &body, &len);
    if (err != APPMSG_OK) {
        app_fail(res, err == APPMSG_ENOMEM ? APP_ENOMEM : APP_EINVAL,
                 "%s: the request is too large to send to the node", app_op_name(req->op));
        cb(ud, res);
        return APP_OK;
    }
    remote_t *r = calloc(1, sizeof *r);
    uint8_t *framed = r ? malloc(4 + len) : NULL;
    if (framed == NULL) {
        free(r);
        free(body);
        return APP_ENOMEM;
    }
    bytes_writer_t w;
    bytes_writer_init(&w, framed, 4 + len);
    bytes_put_u32(&w, (uint32_t)len);
    bytes_put(&w, body, len);
    free(body);
    r->req = framed;
    r->req_len = 4 + len;
    app_job_t *j = app_job_new(a, res, cb, ud);
    if (j == NULL) {
        free(r->req);
        free(r);
        return APP_EBUSY;
    }
    j->state = r;
    j->cleanup = remote_cleanup;
    r->job = j;
    uv_pipe_init(a->loop, &r->pipe, 0);
    r->pipe.data = r;
    r->conn.data = r;
    uv_pipe_connect(&r->conn, &r->pipe, path, on_connect);
    return APP_OK;
}
