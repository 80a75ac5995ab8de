/* Event streams (server-sent events). A stream's connection is suspended
 * while its queue is empty and resumed when an event is queued, so an
 * idle stream costs no CPU; a keep-alive comment every WEB_KEEPALIVE_MS
 * finds streams whose reader is gone. A reader too slow to take
 * WEB_STREAM_QUEUE_MAX bytes is cut off (EventSource reconnects). */
#include <stdlib.h>
#include <string.h>

#include "appjson.h"
#include "keytext.h"
#include "web_int.h"

struct web_stream {
    web_t *w;
    struct MHD_Connection *con;
    bool ui;
    wbuf_t q;
    size_t off; /* bytes of q already sent */
    bool suspended;
    bool ended;
    web_stream_t *next;
};

static void
wake(web_stream_t *s)
{
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->con);
        web_kick(s->w);
    }
}

static void
push(web_stream_t *s, const char *data, size_t len)
{
    if (s->ended) {
        return;
    }
    if (s->off > 0 && s->off == s->q.len) {
        s->q.len = 0;
        s->off = 0;
    }
    if (s->q.len - s->off + len > WEB_STREAM_QUEUE_MAX) {
        s->ended = true; /* too slow: the browser reconnects and reloads */
    } else {
        if (s->off > WEB_STREAM_QUEUE_MAX / 2) {
            memmove(s->q.p, s->q.p + s->off, s->q.len - s->off);
            s->q.len -= s->off;
            s->off = 0;
        }
        wbuf_add(&s->q, data, len);
        s->ended = s->q.failed;
    }
    wake(s);
}

static ssize_t
reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    web_stream_t *s = cls;
    if (s->q.len > s->off) {
        size_t n = s->q.len - s->off < max ? s->q.len - s->off : max;
        memcpy(buf, s->q.p + s->off, n);
        s->off += n;
        return (ssize_t)n;
    }
    if (s->ended) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    s->suspended = true;
    MHD_suspend_connection(s->con);
    return 0;
}

static void
on_stream_free(void *cls)
{
    web_stream_t *s = cls;
    web_t *w = s->w;
    for (web_stream_t **p = &w->streams; *p != NULL; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            w->n_streams--;
            break;
        }
    }
    wbuf_free(&s->q);
    free(s);
}

void
web_stream_start(web_req_t *r, bool ui)
{
    web_t *w = r->w;
    if (w->n_streams >= WEB_STREAMS_MAX) {
        if (r->api) {
            web_api_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "too many event streams");
        } else {
            web_page_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "Busy", "Too many open pages.");
        }
        return;
    }
    web_stream_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        web_api_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out_of_memory", "out of memory");
        return;
    }
    s->w = w;
    s->con = r->con;
    s->ui = ui;
    wbuf_init(&s->q, WEB_STREAM_QUEUE_MAX + 1);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, s, on_stream_free);
    if (resp == NULL) {
        wbuf_free(&s->q);
        free(s);
        web_api_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out_of_memory", "out of memory");
        return;
    }
    s->next = w->streams;
    w->streams = s;
    w->n_streams++;
    /* Reconnect soon after a cut; the first bytes tell the reader the
     * stream is open. */
    push(s, "retry: 2000\n: open\n\n", 20);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_queue_response(r->con, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    r->responded = true;
}

/* "event: NAME\ndata: LINE\n...\n\n": each line of text its own data line. */
static void
frame(wbuf_t *b, const char *name, const char *text, size_t len)
{
    wbuf_printf(b, "event: %s\n", name);
    size_t i = 0;
    while (i <= len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        wbuf_puts(b, "data: ");
        wbuf_add(b, text + i, n);
        wbuf_puts(b, "\n");
        i += n + 1;
    }
    wbuf_puts(b, "\n");
}

static void
api_json(wbuf_t *out, const app_event_t *e)
{
    char *p = NULL;
    size_t len = 0;
    FILE *f = web_memfile(&p, &len);
    if (f == NULL) {
        out->failed = true;
        return;
    }
    if (e->post != NULL) {
        app_json_post(f, e->post);
    } else if (e->author != NULL) {
        app_json_author(f, e->author);
    } else if (e->key != NULL) {
        char k[KEYTEXT_BUFSZ];
        keytext_encode(k, KEYTEXT_NODE, e->key);
        fprintf(f, "{\"key\":\"%s\"}", k);
    }
    if (fclose(f) == 0) {
        frame(out, app_event_name(e->kind), p, len);
    } else {
        out->failed = true;
    }
    free(p);
}

void
web_stream_event(web_t *w, const app_event_t *e)
{
    if (w->streams == NULL) {
        return;
    }
    wbuf_t ui, api;
    wbuf_init(&ui, WEB_STREAM_QUEUE_MAX);
    wbuf_init(&api, WEB_STREAM_QUEUE_MAX);
    if (e->kind == APP_EVENT_POST && e->timeline) {
        wbuf_t html;
        wbuf_init(&html, WEB_STREAM_QUEUE_MAX);
        web_html_post(&html, w, e->post);
        if (!html.failed) {
            frame(&ui, "post", html.p ? html.p : "", html.len);
        }
        wbuf_free(&html);
    }
    api_json(&api, e);
    for (web_stream_t *s = w->streams; s != NULL; s = s->next) {
        const wbuf_t *b = s->ui ? &ui : &api;
        if (!b->failed && b->len > 0) {
            push(s, b->p, b->len);
        }
    }
    wbuf_free(&ui);
    wbuf_free(&api);
}

void
web_stream_keepalive(web_t *w)
{
    for (web_stream_t *s = w->streams; s != NULL; s = s->next) {
        push(s, ": keepalive\n\n", 13);
    }
}

void
web_streams_end(web_t *w)
{
    for (web_stream_t *s = w->streams; s != NULL; s = s->next) {
        s->ended = true;
        wake(s);
    }
}
