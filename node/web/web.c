/* The server: libmicrohttpd on the loop, the checks every request passes
 * (Host, session or token), and the plumbing from requests to app calls. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "appjson.h"
#include "datadir.h"
#include "web_int.h"

static const char SECRET_FILE[] = "web.secret";
static const char URL_FILE[] = "web.url";

const char *
web_strerror(web_err_t err)
{
    switch (err) {
    case WEB_OK:
        return "ok";
    case WEB_ENOMEM:
        return "out of memory";
    case WEB_EINVAL:
        return "bad address";
    case WEB_EADDRINUSE:
        return "the port is in use";
    case WEB_EBIND:
        return "cannot listen";
    case WEB_EIO:
        return "cannot read or write a file in the data directory";
    case WEB_EHTTPD:
        return "the HTTP server did not start";
    }
    return "?";
}

/* ---- the secret and what derives from it ---- */

web_err_t
web_secret_load(const char *data_dir, uint8_t out[static WEB_SECRET_SIZE])
{
    char path[DATADIR_PATH_MAX];
    if (datadir_path(path, sizeof path, data_dir, SECRET_FILE) != DATADIR_OK) {
        return WEB_EIO;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, out, WEB_SECRET_SIZE);
        close(fd);
        return n == WEB_SECRET_SIZE ? WEB_OK : WEB_EIO;
    }
    if (errno != ENOENT) {
        return WEB_EIO;
    }
    randombytes_buf(out, WEB_SECRET_SIZE);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        /* Another process made it first: use theirs. */
        return errno == EEXIST ? web_secret_load(data_dir, out) : WEB_EIO;
    }
    bool ok = write(fd, out, WEB_SECRET_SIZE) == WEB_SECRET_SIZE && fsync(fd) == 0;
    close(fd);
    return ok ? WEB_OK : WEB_EIO;
}

static void
derive_hex(char out[WEB_TOKEN_HEX + 1], const uint8_t secret[static WEB_SECRET_SIZE],
           const char *what)
{
    uint8_t h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)what, strlen(what), secret,
                       WEB_SECRET_SIZE);
    sodium_bin2hex(out, WEB_TOKEN_HEX + 1, h, sizeof h);
    sodium_memzero(h, sizeof h);
}

web_err_t
web_login_url(const char *data_dir, char *out, size_t cap)
{
    char path[DATADIR_PATH_MAX], url[160];
    if (datadir_path(path, sizeof path, data_dir, URL_FILE) != DATADIR_OK) {
        return WEB_EIO;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return WEB_EIO;
    }
    bool ok = fgets(url, sizeof url, f) != NULL;
    fclose(f);
    url[strcspn(url, "\n")] = '\0';
    uint8_t secret[WEB_SECRET_SIZE];
    if (!ok || strncmp(url, "http://", 7) != 0 || web_secret_load(data_dir, secret) != WEB_OK) {
        return WEB_EIO;
    }
    char login[WEB_TOKEN_HEX + 1];
    derive_hex(login, secret, "samizdat web login v1");
    sodium_memzero(secret, sizeof secret);
    int n = snprintf(out, cap, "%slogin?key=%s", url, login);
    return n > 0 && (size_t)n < cap ? WEB_OK : WEB_EIO;
}

/* ---- small helpers ---- */

uint64_t
web_now_ms(const web_t *w)
{
    if (w->wall_ms != NULL) {
        return w->wall_ms(w->wall_ud);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

FILE *
web_memfile(char **p, size_t *len)
{
    *p = NULL;
    *len = 0;
    return open_memstream(p, len);
}

void
web_json_result(wbuf_t *b, const app_result_t *res)
{
    char *p = NULL;
    size_t len = 0;
    FILE *f = web_memfile(&p, &len);
    if (f == NULL) {
        b->failed = true;
        return;
    }
    app_json_result(f, res, NULL);
    fputc('\n', f);
    if (fclose(f) != 0) {
        b->failed = true;
    } else {
        wbuf_add(b, p, len);
    }
    free(p);
}

unsigned
web_status_of(app_err_t err)
{
    switch (err) {
    case APP_OK:
        return MHD_HTTP_OK;
    case APP_EINVAL:
        return MHD_HTTP_BAD_REQUEST;
    case APP_ENOTFOUND:
        return MHD_HTTP_NOT_FOUND;
    case APP_EDENIED:
    case APP_EBEHIND:
        return MHD_HTTP_CONFLICT;
    case APP_EPEER:
        return MHD_HTTP_BAD_GATEWAY;
    case APP_EBUSY:
        return MHD_HTTP_TOO_MANY_REQUESTS;
    case APP_ENOTRUNNING:
    case APP_ELOCKED:
    case APP_ECANCELED:
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    default:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

const char *
web_code_of(app_err_t err)
{
    static const char *const codes[] = {
        [APP_OK] = "ok",
        [APP_ENOMEM] = "out_of_memory",
        [APP_EINVAL] = "invalid",
        [APP_ENOTFOUND] = "not_found",
        [APP_EIO] = "io",
        [APP_ELOCKED] = "locked",
        [APP_ENOKEY] = "no_key",
        [APP_EKEY] = "key",
        [APP_EDENIED] = "denied",
        [APP_ENOTRUNNING] = "not_running",
        [APP_EPEER] = "peer",
        [APP_EPROTO] = "protocol",
        [APP_ECANCELED] = "canceled",
        [APP_EBUSY] = "busy",
        [APP_EBEHIND] = "behind",
    };
    return (int)err >= 0 && err <= APP_ERR_LAST ? codes[err] : "error";
}

const char *
web_arg(web_req_t *r, const char *name)
{
    const webin_field_t *f = webin_get(&r->form, name);
    if (f != NULL) {
        return f->type == WEBIN_STRING && strlen(f->value) == f->len ? f->value : NULL;
    }
    return MHD_lookup_connection_value(r->con, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- responses ---- */

static void
common_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
                            "frame-ancestors 'none'; base-uri 'none'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
}

static void
queue(web_req_t *r, unsigned status, struct MHD_Response *resp)
{
    if (resp == NULL) {
        r->responded = true;
        return; /* libmicrohttpd closes the connection */
    }
    common_headers(resp);
    MHD_queue_response(r->con, status, resp);
    MHD_destroy_response(resp);
    r->responded = true;
}

void
web_respond(web_req_t *r, unsigned status, const char *type, wbuf_t *b)
{
    size_t len = 0;
    char *p = wbuf_take(b, &len);
    if (p == NULL) {
        static const char oom[] = "out of memory\n";
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
        if (resp != NULL) {
            MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
        }
        queue(r, MHD_HTTP_INTERNAL_SERVER_ERROR, resp);
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, p, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(p);
    } else {
        MHD_add_response_header(resp, "Content-Type", type);
    }
    queue(r, status, resp);
}

void
web_redirect(web_req_t *r, const char *location)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp != NULL) {
        MHD_add_response_header(resp, "Location", location);
    }
    queue(r, MHD_HTTP_SEE_OTHER, resp);
}

/* ---- app calls ---- */

static void
unlink_waiting(web_req_t *r)
{
    for (web_req_t **p = &r->w->waiting; *p != NULL; p = &(*p)->next_waiting) {
        if (*p == r) {
            *p = r->next_waiting;
            return;
        }
    }
}

static void
req_free(web_req_t *r)
{
    app_result_free(r->res);
    for (size_t i = 0; i < r->n_keep; i++) {
        app_result_free(r->keep[i]);
    }
    wbuf_free(&r->body);
    webin_free(&r->form);
    free(r);
}

static void
on_app_done(void *ud, app_result_t *res)
{
    web_req_t *r = ud;
    if (r->orphan) {
        /* Out of every list, and the server may be gone. */
        app_result_free(res);
        req_free(r);
        return;
    }
    r->waiting = false;
    unlink_waiting(r);
    r->res = res;
    if (r->suspended) {
        r->suspended = false;
        MHD_resume_connection(r->con);
        web_kick(r->w);
    }
}

void
web_call(web_req_t *r, const app_request_t *req, web_next_fn next)
{
    r->next = next;
    r->waiting = true;
    r->next_waiting = r->w->waiting;
    r->w->waiting = r;
    app_err_t err = app_call(r->w->app, req, on_app_done, r);
    if (err != APP_OK) {
        r->waiting = false;
        unlink_waiting(r);
        if (r->api) {
            web_api_error(r, web_status_of(err), web_code_of(err), app_strerror(err));
        } else {
            web_page_error(r, web_status_of(err), "Cannot do that now", app_strerror(err));
        }
    }
}

void
web_keep(web_req_t *r, app_result_t *res)
{
    /* A page keeps at most WEB_KEEP_MAX results: a broken invariant of
     * this file, and the result is then freed by drive() as any other. */
    if (r->n_keep < WEB_KEEP_MAX) {
        r->keep[r->n_keep++] = res;
    }
}

static bool
kept(const web_req_t *r, const app_result_t *res)
{
    for (size_t i = 0; i < r->n_keep; i++) {
        if (r->keep[i] == res) {
            return true;
        }
    }
    return false;
}

/* Runs the next steps of r while results are at hand; a call that is
 * still out suspends the connection until its result. */
static void
drive(web_req_t *r)
{
    while (r->res != NULL && !r->responded) {
        app_result_t *res = r->res;
        r->res = NULL;
        r->next(r, res);
        if (!kept(r, res)) {
            app_result_free(res);
        }
    }
    if (r->waiting && !r->suspended && !r->responded) {
        r->suspended = true;
        MHD_suspend_connection(r->con);
    }
}

/* ---- checks ---- */

static bool
host_ok(web_t *w, struct MHD_Connection *con)
{
    const char *host = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Host");
    if (host == NULL) {
        return false;
    }
    for (size_t i = 0; i < 3; i++) {
        if (w->host_ok[i][0] != '\0' && strcasecmp(host, w->host_ok[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool
session_ok(web_t *w, struct MHD_Connection *con)
{
    const char *c = MHD_lookup_connection_value(con, MHD_COOKIE_KIND, "sz_session");
    return c != NULL && strlen(c) == WEB_TOKEN_HEX &&
           sodium_memcmp(c, w->session_hex, WEB_TOKEN_HEX) == 0;
}

static void
login(web_req_t *r)
{
    const char *key = MHD_lookup_connection_value(r->con, MHD_GET_ARGUMENT_KIND, "key");
    if (key == NULL || strlen(key) != WEB_TOKEN_HEX ||
        sodium_memcmp(key, r->w->login_hex, WEB_TOKEN_HEX) != 0) {
        web_page_error(r, MHD_HTTP_FORBIDDEN, "This link does not open this node",
                       "Run `samizdat open` for the current link.");
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp != NULL) {
        char cookie[160];
        snprintf(cookie, sizeof cookie,
                 "sz_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000",
                 r->w->session_hex);
        MHD_add_response_header(resp, "Set-Cookie", cookie);
        MHD_add_response_header(resp, "Location", "/");
    }
    queue(r, MHD_HTTP_SEE_OTHER, resp);
}

static void
static_file(web_req_t *r, const char *body, const char *type)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (resp != NULL) {
        MHD_add_response_header(resp, "Content-Type", type);
    }
    queue(r, MHD_HTTP_OK, resp);
}

static void
route(web_req_t *r)
{
    web_t *w = r->w;
    if (!host_ok(w, r->con)) {
        /* A page from elsewhere reaching us through DNS rebinding names
         * its own host. */
        if (r->api) {
            web_api_error(r, MHD_HTTP_MISDIRECTED_REQUEST, "bad_host",
                          "the Host header does not name this server");
        } else {
            web_page_error(r, MHD_HTTP_MISDIRECTED_REQUEST, "Wrong address",
                           "Open the UI at the address `samizdat open` prints.");
        }
        return;
    }
    if (r->body_too_big) {
        if (r->api) {
            web_api_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                          "the request body is too large");
        } else {
            web_page_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "Too large", "The form sent too much.");
        }
        return;
    }
    if (r->api) {
        web_api_route(r);
        return;
    }
    if (r->method == WEB_GET && strcmp(r->url, "/static/app.css") == 0) {
        static_file(r, WEB_CSS, "text/css; charset=utf-8");
        return;
    }
    if (r->method == WEB_GET && strcmp(r->url, "/static/app.js") == 0) {
        static_file(r, WEB_JS, "text/javascript; charset=utf-8");
        return;
    }
    if (r->method == WEB_GET && strcmp(r->url, "/login") == 0) {
        login(r);
        return;
    }
    if (!session_ok(w, r->con)) {
        web_page_error(r, MHD_HTTP_UNAUTHORIZED, "Open samizdat with its link",
                       "For your safety this page opens only through the link that "
                       "`samizdat open` prints (it carries a key). Run it in a terminal "
                       "and open the link it shows.");
        return;
    }
    if (r->method == WEB_POST) {
        /* Forms only: every form carries the token, and a browser sends the
         * cookie on a same-site request only. */
        const char *t = web_arg(r, "csrf");
        if (t == NULL || strlen(t) != WEB_TOKEN_HEX ||
            sodium_memcmp(t, w->csrf_hex, WEB_TOKEN_HEX) != 0) {
            web_page_error(r, MHD_HTTP_FORBIDDEN, "The form has expired",
                           "The form did not carry this node's token. Go back, reload the "
                           "page and send it again.");
            return;
        }
    }
    web_page_route(r);
}

static web_method_t
method_of(const char *m)
{
    static const struct {
        const char *name;
        web_method_t m;
    } t[] = {{"GET", WEB_GET},
             {"POST", WEB_POST},
             {"PUT", WEB_PUT},
             {"DELETE", WEB_DELETE},
             {"HEAD", WEB_HEAD}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (strcmp(m, t[i].name) == 0) {
            return t[i].m;
        }
    }
    return WEB_OTHER;
}

static web_req_t *
req_new(web_t *w, struct MHD_Connection *con, const char *url, const char *method)
{
    web_req_t *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    r->w = w;
    r->con = con;
    r->method = method_of(method);
    snprintf(r->url, sizeof r->url, "%s", url);
    r->api = strncmp(url, "/api/", 5) == 0;
    r->body_max = r->api && strcmp(url, "/api/v1/import") == 0 ? APP_IMPORT_DATA_MAX : WEB_BODY_MAX;
    wbuf_init(&r->body, r->body_max + 1);
    return r;
}

/* A form body becomes fields; a JSON body is read by the API. */
static void
parse_form(web_req_t *r)
{
    const char *type = MHD_lookup_connection_value(r->con, MHD_HEADER_KIND, "Content-Type");
    if (!r->api && r->method == WEB_POST && type != NULL &&
        strncasecmp(type, "application/x-www-form-urlencoded", 33) == 0) {
        if (webin_form(&r->form, r->body.p ? r->body.p : "", r->body.len) != WEBIN_OK) {
            memset(&r->form, 0, sizeof r->form);
        }
    }
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *con, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    web_t *w = cls;
    web_req_t *r = *con_cls;
    if (r == NULL) {
        r = req_new(w, con, url, method);
        if (r == NULL) {
            return MHD_NO;
        }
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (r->body.len + *upload_size > r->body_max) {
            r->body_too_big = true;
        } else {
            wbuf_add(&r->body, upload_data, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->started) {
        r->started = true;
        if (w->closing) {
            web_page_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "Stopping", "The node is stopping.");
            return MHD_YES;
        }
        parse_form(r);
        route(r);
    }
    drive(r);
    return MHD_YES;
}

static void
on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)con;
    (void)toe;
    web_req_t *r = *con_cls;
    if (r == NULL) {
        return;
    }
    *con_cls = NULL;
    if (r->waiting) {
        unlink_waiting(r);
        r->orphan = true; /* freed when its result comes */
        return;
    }
    req_free(r);
}

/* libmicrohttpd's own messages, printf-style. */
__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    web_t *w = cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_line(w->log, LOG_LEVEL_DEBUG, "web: %s", line);
}

/* ---- the loop ---- */

static void on_timer(uv_timer_t *h);

static void
schedule(web_t *w)
{
    if (w->d == NULL) {
        return;
    }
    MHD_UNSIGNED_LONG_LONG to = 0;
    if (MHD_get_timeout(w->d, &to) == MHD_YES) {
        uv_timer_start(&w->timer, on_timer, to > 60000 ? 60000 : to, 0);
    } else {
        uv_timer_stop(&w->timer);
    }
}

static void
run_mhd(web_t *w)
{
    if (w->d != NULL) {
        MHD_run(w->d);
        schedule(w);
    }
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    run_mhd(h->data);
}

static void
on_timer(uv_timer_t *h)
{
    run_mhd(h->data);
}

void
web_kick(web_t *w)
{
    if (w->d != NULL && !w->closing) {
        uv_timer_start(&w->timer, on_timer, 0, 0);
    }
}

static void
on_keepalive(uv_timer_t *h)
{
    web_t *w = h->data;
    web_stream_keepalive(w);
    run_mhd(w);
}

static void
on_event(void *ud, const app_event_t *e)
{
    web_stream_event(ud, e);
}

/* ---- listening ---- */

static bool
is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
}

/* "ADDR:PORT", "[V6]:PORT" or "localhost:PORT" into ss; host into host. */
static bool
parse_listen(const char *s, struct sockaddr_storage *ss, char *host, size_t cap, unsigned *port)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s || strlen(colon + 1) == 0 || strlen(colon + 1) > 5) {
        return false;
    }
    char *end = NULL;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || p > 65535 || colon[1] < '0' || colon[1] > '9') {
        return false;
    }
    size_t hl = (size_t)(colon - s);
    if (hl + 1 > cap) {
        return false;
    }
    memcpy(host, s, hl);
    host[hl] = '\0';
    memset(ss, 0, sizeof *ss);
    *port = (unsigned)p;
    if (strcmp(host, "localhost") == 0) {
        snprintf(host, cap, "127.0.0.1");
    }
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        char v6[64];
        if (hl - 2 >= sizeof v6) {
            return false;
        }
        memcpy(v6, host + 1, hl - 2);
        v6[hl - 2] = '\0';
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)p);
        return inet_pton(AF_INET6, v6, &a->sin6_addr) == 1;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)p);
    return inet_pton(AF_INET, host, &a->sin_addr) == 1;
}

static web_err_t
check_listen(const char *listen_on, bool allow_public, struct sockaddr_storage *ss, char *host,
             size_t host_cap, unsigned *port, char *msg, size_t cap)
{
    if (!parse_listen(listen_on, ss, host, host_cap, port)) {
        snprintf(msg, cap, "'%s' is not ADDR:PORT (e.g. 127.0.0.1:7480)", listen_on);
        return WEB_EINVAL;
    }
    if (!is_loopback(ss) && !allow_public) {
        snprintf(msg, cap,
                 "%s is not a loopback address: the UI would be open to the network "
                 "(--web-public allows it)",
                 host);
        return WEB_EINVAL;
    }
    return WEB_OK;
}

web_err_t
web_listen_check(const char *listen, bool allow_public, char *msg, size_t cap)
{
    struct sockaddr_storage ss;
    char host[64];
    unsigned port = 0;
    return check_listen(listen, allow_public, &ss, host, sizeof host, &port, msg, cap);
}

static web_err_t
open_listener(web_t *w, const web_config_t *cfg, char *msg, size_t cap)
{
    const char *listen_on = cfg->listen ? cfg->listen : WEB_DEFAULT_LISTEN;
    struct sockaddr_storage ss;
    char host[64];
    unsigned port = 0;
    web_err_t err =
        check_listen(listen_on, cfg->allow_public, &ss, host, sizeof host, &port, msg, cap);
    if (err != WEB_OK) {
        return err;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    socklen_t sl =
        ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 64) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        snprintf(msg, cap, "cannot listen on %s: %s", listen_on, strerror(e));
        return e == EADDRINUSE ? WEB_EADDRINUSE : WEB_EBIND;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                             : ((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    w->listen_fd = fd;
    bool v6 = ss.ss_family == AF_INET6;
    snprintf(w->url, sizeof w->url, "http://%s:%u/", host, port); /* a v6 host keeps its [] */
    snprintf(w->host_ok[0], sizeof w->host_ok[0], "%s:%u", host, port);
    snprintf(w->host_ok[1], sizeof w->host_ok[1], "localhost:%u", port);
    if (is_loopback(&ss) && !v6) {
        snprintf(w->host_ok[2], sizeof w->host_ok[2], "127.0.0.1:%u", port);
    }
    return WEB_OK;
}

static web_err_t
write_url_file(web_t *w)
{
    char path[DATADIR_PATH_MAX], tmp[DATADIR_PATH_MAX];
    if (datadir_path(path, sizeof path, w->dir, URL_FILE) != DATADIR_OK ||
        datadir_path(tmp, sizeof tmp, w->dir, "web.url.tmp") != DATADIR_OK) {
        return WEB_EIO;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return WEB_EIO;
    }
    char line[160];
    int n = snprintf(line, sizeof line, "%s\n", w->url);
    bool ok = n > 0 && write(fd, line, (size_t)n) == n;
    ok = close(fd) == 0 && ok;
    return ok && rename(tmp, path) == 0 ? WEB_OK : WEB_EIO;
}

static web_err_t
derive_tokens(web_t *w)
{
    uint8_t secret[WEB_SECRET_SIZE];
    if (web_secret_load(w->dir, secret) != WEB_OK) {
        return WEB_EIO;
    }
    derive_hex(w->session_hex, secret, "samizdat web session v1");
    derive_hex(w->csrf_hex, secret, "samizdat web csrf v1");
    derive_hex(w->login_hex, secret, "samizdat web login v1");
    sodium_memzero(secret, sizeof secret);
    return WEB_OK;
}

static web_err_t
start_mhd(web_t *w, char *msg, size_t cap)
{
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    w->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, w, MHD_OPTION_LISTEN_SOCKET,
                            w->listen_fd, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)WEB_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)60, MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, w, MHD_OPTION_END);
    if (w->d == NULL) {
        snprintf(msg, cap, "libmicrohttpd did not start");
        return WEB_EHTTPD;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_EPOLL_FD);
    if (info == NULL || uv_poll_init(w->loop, &w->poll, info->epoll_fd) != 0) {
        snprintf(msg, cap, "cannot watch libmicrohttpd's epoll descriptor");
        return WEB_EHTTPD;
    }
    w->poll.data = w;
    w->open_handles++;
    uv_poll_start(&w->poll, UV_READABLE, on_poll);
    return WEB_OK;
}

web_err_t
web_new(web_t **out, uv_loop_t *loop, const web_config_t *cfg, char *msg, size_t cap)
{
    *out = NULL;
    msg[0] = '\0';
    if (cfg->app == NULL || cfg->data_dir == NULL || strlen(cfg->data_dir) >= APP_PATH_MAX) {
        snprintf(msg, cap, "bad configuration");
        return WEB_EINVAL;
    }
    web_t *w = calloc(1, sizeof *w);
    if (w == NULL) {
        snprintf(msg, cap, "out of memory");
        return WEB_ENOMEM;
    }
    w->loop = loop;
    w->app = cfg->app;
    w->log = cfg->log;
    w->wall_ms = cfg->wall_ms;
    w->wall_ud = cfg->wall_ud;
    w->listen_fd = -1;
    snprintf(w->dir, sizeof w->dir, "%s", cfg->data_dir);
    uv_timer_init(loop, &w->timer);
    uv_timer_init(loop, &w->keepalive);
    w->timer.data = w->keepalive.data = w;
    w->open_handles = 2;
    web_err_t err = derive_tokens(w);
    if (err != WEB_OK) {
        snprintf(msg, cap, "cannot read or create %s/%s", w->dir, SECRET_FILE);
    }
    if (err == WEB_OK) {
        err = open_listener(w, cfg, msg, cap);
    }
    if (err == WEB_OK) {
        err = start_mhd(w, msg, cap);
    }
    if (err == WEB_OK && app_watch(w->app, on_event, w, &w->watch) != APP_OK) {
        snprintf(msg, cap, "too many watchers of the app");
        err = WEB_ENOMEM;
    }
    if (err == WEB_OK && write_url_file(w) != WEB_OK) {
        snprintf(msg, cap, "cannot write %s/%s", w->dir, URL_FILE);
        err = WEB_EIO;
    }
    if (err != WEB_OK) {
        web_close(w, NULL, NULL);
        return err;
    }
    uv_timer_start(&w->keepalive, on_keepalive, WEB_KEEPALIVE_MS, WEB_KEEPALIVE_MS);
    schedule(w);
    *out = w;
    return WEB_OK;
}

const char *
web_url(const web_t *w)
{
    return w->url;
}

static void
on_handle_closed(uv_handle_t *h)
{
    web_t *w = h->data;
    if (--w->open_handles > 0) {
        return;
    }
    void (*cb)(void *) = w->close_cb;
    void *ud = w->close_ud;
    free(w);
    if (cb != NULL) {
        cb(ud);
    }
}

void
web_close(web_t *w, void (*cb)(void *ud), void *ud)
{
    if (w == NULL) {
        if (cb != NULL) {
            cb(ud);
        }
        return;
    }
    w->closing = true;
    w->close_cb = cb;
    w->close_ud = ud;
    if (w->watch != NULL) {
        app_unwatch(w->app, w->watch);
        w->watch = NULL;
    }
    /* libmicrohttpd must not stop with a suspended connection: streams
     * end, and requests waiting for the app are resumed and let go. */
    web_streams_end(w);
    for (web_req_t *r = w->waiting; r != NULL; r = r->next_waiting) {
        if (r->suspended) {
            r->suspended = false;
            MHD_resume_connection(r->con);
        }
    }
    if (w->d != NULL) {
        MHD_run(w->d);
        MHD_stop_daemon(w->d);
        w->d = NULL;
    }
    if (w->listen_fd >= 0) {
        close(w->listen_fd);
        w->listen_fd = -1;
    }
    char path[DATADIR_PATH_MAX];
    if (datadir_path(path, sizeof path, w->dir, URL_FILE) == DATADIR_OK) {
        unlink(path);
    }
    /* Requests still waiting for the app are orphans now: their results
     * free them. */
    for (web_req_t *r = w->waiting; r != NULL; r = r->next_waiting) {
        r->orphan = true;
    }
    w->waiting = NULL;
    uv_close((uv_handle_t *)&w->timer, on_handle_closed);
    uv_close((uv_handle_t *)&w->keepalive, on_handle_closed);
    if (w->open_handles > 2) {
        uv_close((uv_handle_t *)&w->poll, on_handle_closed);
    }
}
