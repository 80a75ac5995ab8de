/* web_int: what the web server's files share. Not a public interface. */
#ifndef SAMIZDAT_WEB_INT_H
#define SAMIZDAT_WEB_INT_H

#include <microhttpd.h>
#include <stdio.h>

#include "wbuf.h"
#include "web.h"
#include "webin.h"
#include "webtok.h"

typedef struct web_req web_req_t;
typedef struct web_stream web_stream_t;

/* What a request does with the result of its app call: respond, or start
 * another call. The result is freed after it returns. */
typedef void (*web_next_fn)(web_req_t *r, app_result_t *res);

enum {
    WEB_URL_MAX = 512,
    WEB_KEEP_MAX = 4, /* results a page holds until it renders */
    WEB_TOKEN_HEX = 2 * 32,
};

typedef enum { WEB_GET, WEB_POST, WEB_PUT, WEB_DELETE, WEB_HEAD, WEB_OTHER } web_method_t;

struct web_req {
    web_t *w;
    struct MHD_Connection *con;
    web_method_t method;
    char url[WEB_URL_MAX]; /* the path, decoded by libmicrohttpd */
    bool api;
    wbuf_t body;
    size_t body_max;
    bool body_too_big;
    bool started, responded;
    bool waiting;   /* an app call is out */
    bool suspended; /* and the connection waits for it */
    bool orphan;    /* the connection ended while the call was out: free on its result */
    app_result_t *res;
    web_next_fn next;
    app_result_t *keep[WEB_KEEP_MAX]; /* earlier results of a page */
    size_t n_keep;
    webin_t form;    /* a form or JSON body, or the query */
    unsigned scopes; /* API: the token's */
    char msg[APP_MSG_MAX];
    uint8_t key[32]; /* the author or post a page is about */
    web_req_t *next_waiting;
};

struct web {
    uv_loop_t *loop;
    app_t *app;
    const log_t *log;
    char dir[APP_PATH_MAX];
    struct MHD_Daemon *d;
    int listen_fd;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_timer_t keepalive;
    int open_handles;
    bool closing;
    void (*close_cb)(void *ud);
    void *close_ud;
    char url[128];
    char host_ok[3][96]; /* Host header values accepted */
    uint8_t session[32]; /* the cookie's value, derived from the secret */
    char session_hex[WEB_TOKEN_HEX + 1];
    char csrf_hex[WEB_TOKEN_HEX + 1];
    char login_hex[WEB_TOKEN_HEX + 1];
    web_req_t *waiting; /* requests with an app call out */
    web_stream_t *streams;
    size_t n_streams;
    app_watch_t *watch;
    uint64_t (*wall_ms)(void *ud);
    void *wall_ud;
    uint8_t self[32]; /* the author of this node */
    bool has_self;
};

/* ---- web.c ---- */
/* Queues a response of status with the body in b (taken) and the common
 * headers. */
void web_respond(web_req_t *r, unsigned status, const char *type, wbuf_t *b);
/* A redirect (303) to location. */
void web_redirect(web_req_t *r, const char *location);
/* Starts req on the app; next runs with the result (now or later). */
void web_call(web_req_t *r, const app_request_t *req, web_next_fn next);
/* Keeps res for the page (taken); NULL when it cannot. */
void web_keep(web_req_t *r, app_result_t *res);
uint64_t web_now_ms(const web_t *w);
/* Has libmicrohttpd run at the loop's next turn: in external polling a
 * resumed connection is served only by the next MHD_run. */
void web_kick(web_t *w);
/* A query or form value as text, or NULL. */
const char *web_arg(web_req_t *r, const char *name);

/* ---- web_pages.c ---- */
void web_page_route(web_req_t *r);
/* The HTML of one post as the timeline shows it (for the live stream). */
void web_html_post(wbuf_t *b, const web_t *w, const app_post_t *p);
void web_page_error(web_req_t *r, unsigned status, const char *title, const char *msg);

/* ---- web_api.c ---- */
void web_api_route(web_req_t *r);
void web_api_error(web_req_t *r, unsigned status, const char *code, const char *msg);

/* ---- web_sse.c ---- */
/* Starts an event stream on r: ui streams carry timeline fragments, API
 * streams every event as JSON. */
void web_stream_start(web_req_t *r, bool ui);
void web_stream_event(web_t *w, const app_event_t *e);
void web_stream_keepalive(web_t *w);
void web_streams_end(web_t *w);

/* ---- web_assets.c ---- */
extern const char WEB_CSS[];
extern const char WEB_JS[];

/* ---- helpers ---- */
/* A whole app result as JSON (app_json_result) into b. */
void web_json_result(wbuf_t *b, const app_result_t *res);
/* A FILE that appends to b (open_memstream), and its end. */
FILE *web_memfile(char **p, size_t *len);
unsigned web_status_of(app_err_t err);
const char *web_code_of(app_err_t err);

#endif
