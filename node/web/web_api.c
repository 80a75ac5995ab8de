/* The HTTP API for apps: JSON under /api/v1, behind bearer tokens with
 * scopes (webtok.h). Results have the shapes of the command line's --json
 * (docs/JSON.md); errors are {"error":{"code":...,"message":...}} with an
 * HTTP status. docs/API.md lists every endpoint. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "keytext.h"
#include "web_int.h"

enum { API_PREFIX_LEN = 8 /* "/api/v1/" */ };

void
web_api_error(web_req_t *r, unsigned status, const char *code, const char *msg)
{
    wbuf_t b;
    wbuf_init(&b, 4096);
    char *p = NULL;
    size_t len = 0;
    FILE *f = web_memfile(&p, &len);
    if (f != NULL) {
        fprintf(f, "{\"error\":{\"code\":\"%s\",\"message\":", code);
        json_string(f, msg);
        fputs("}}\n", f);
        if (fclose(f) == 0) {
            wbuf_add(&b, p, len);
        } else {
            b.failed = true;
        }
        free(p);
    }
    web_respond(r, status, "application/json; charset=utf-8", &b);
}

static void
api_result(web_req_t *r, app_result_t *res)
{
    if (res->err != APP_OK) {
        web_api_error(r, web_status_of(res->err), web_code_of(res->err),
                      res->msg[0] ? res->msg : app_strerror(res->err));
        return;
    }
    if (res->op == APP_OP_EXPORT && res->u.export_.data != NULL) {
        wbuf_t b;
        wbuf_init(&b, APP_EXPORT_DATA_MAX + 1);
        wbuf_add(&b, res->u.export_.data, res->u.export_.data_len);
        web_respond(r, MHD_HTTP_OK, "application/octet-stream", &b);
        return;
    }
    wbuf_t b;
    wbuf_init(&b, 64 * 1024 * 1024);
    web_json_result(&b, res);
    web_respond(r, MHD_HTTP_OK, "application/json; charset=utf-8", &b);
}

/* ---- reading the request ---- */

static bool
bad(web_req_t *r, const char *msg)
{
    web_api_error(r, MHD_HTTP_BAD_REQUEST, "invalid", msg);
    return false;
}

static bool
read_json(web_req_t *r)
{
    if (r->body.len == 0) {
        return true; /* no fields */
    }
    webin_err_t err = webin_json(&r->form, r->body.p, r->body.len);
    if (err != WEBIN_OK) {
        char msg[128];
        snprintf(msg, sizeof msg, "the body is not a flat JSON object: %s", webin_strerror(err));
        return bad(r, msg);
    }
    return true;
}

/* A JSON string field, or NULL (then *ok false when it is there but not a
 * string). */
static const webin_field_t *
str_field(web_req_t *r, const char *name, bool required, bool *ok)
{
    const webin_field_t *f = webin_get(&r->form, name);
    if (f != NULL && f->type != WEBIN_STRING) {
        char msg[96];
        snprintf(msg, sizeof msg, "\"%s\" must be a string", name);
        *ok = bad(r, msg);
        return NULL;
    }
    if (f == NULL && required) {
        char msg[96];
        snprintf(msg, sizeof msg, "\"%s\" is missing", name);
        *ok = bad(r, msg);
    }
    return f;
}

static bool
parse_key(web_req_t *r, const char *text, keytext_kind_t kind, uint8_t out[static 32])
{
    /* The key is one part of a path: up to the next '/'. */
    char t[KEYTEXT_BUFSZ];
    size_t n = strcspn(text, "/");
    if (n >= sizeof t) {
        n = sizeof t - 1;
    }
    memcpy(t, text, n);
    t[n] = '\0';
    char msg[192];
    return app_key_parse(t, kind, out, msg, sizeof msg) || bad(r, msg);
}

static bool
query_u(web_req_t *r, const char *name, uint64_t max, uint64_t *out)
{
    const char *v = MHD_lookup_connection_value(r->con, MHD_GET_ARGUMENT_KIND, name);
    *out = 0;
    if (v == NULL) {
        return true;
    }
    char *end = NULL;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end != '\0' || x > max || v[0] == '-') {
        char msg[96];
        snprintf(msg, sizeof msg, "'%s' takes a number from 0 to %llu", name,
                 (unsigned long long)max);
        return bad(r, msg);
    }
    *out = x;
    return true;
}

/* ---- authorisation ---- */

static bool
authorised(web_req_t *r, unsigned need)
{
    const char *h = MHD_lookup_connection_value(r->con, MHD_HEADER_KIND, "Authorization");
    if (h == NULL || strncmp(h, "Bearer ", 7) != 0) {
        web_api_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                      "send Authorization: Bearer TOKEN (samizdat token create)");
        return false;
    }
    webtok_info_t info;
    webtok_err_t err = webtok_check(r->w->dir, h + 7, &info);
    if (err == WEBTOK_ENOTFOUND) {
        web_api_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized", "the token is not valid");
        return false;
    }
    if (err != WEBTOK_OK) {
        web_api_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "io", webtok_strerror(err));
        return false;
    }
    if ((info.scopes & WEBTOK_SCOPE_ADMIN) == 0 && (info.scopes & need) == 0) {
        char have[32], msg[128];
        webtok_scopes_format(info.scopes, have, sizeof have);
        snprintf(msg, sizeof msg, "this needs a token with the %s scope (this one has %s)",
                 need == WEBTOK_SCOPE_READ   ? "read"
                 : need == WEBTOK_SCOPE_POST ? "post"
                                             : "admin",
                 have);
        web_api_error(r, MHD_HTTP_FORBIDDEN, "forbidden", msg);
        return false;
    }
    r->scopes = info.scopes;
    return true;
}

/* ---- endpoints ---- */

static void
call(web_req_t *r, const app_request_t *req)
{
    web_call(r, req, api_result);
}

static void
ep_posts_create(web_req_t *r)
{
    bool ok = true;
    const webin_field_t *text = str_field(r, "text", true, &ok);
    const webin_field_t *reply_to = ok ? str_field(r, "reply_to", false, &ok) : NULL;
    if (!ok) {
        return;
    }
    app_request_t req = {.op = APP_OP_POST};
    app_text_t body = {text->value, text->len};
    if (reply_to != NULL) {
        req.op = APP_OP_REPLY;
        if (!parse_key(r, reply_to->value, KEYTEXT_POST, req.u.reply.ref)) {
            return;
        }
        req.u.reply.body = body;
    } else {
        req.u.post.body = body;
    }
    call(r, &req);
}

static void
ep_profile(web_req_t *r)
{
    bool ok = true;
    const webin_field_t *name = str_field(r, "name", true, &ok);
    const webin_field_t *bio = ok ? str_field(r, "bio", false, &ok) : NULL;
    if (!ok) {
        return;
    }
    app_request_t req = {.op = APP_OP_PROFILE};
    req.u.profile.name = (app_text_t){name->value, name->len};
    if (bio != NULL) {
        req.u.profile.has_bio = true;
        req.u.profile.bio = (app_text_t){bio->value, bio->len};
    }
    call(r, &req);
}

static void
ep_peer_add(web_req_t *r)
{
    bool ok = true;
    const webin_field_t *key = str_field(r, "key", true, &ok);
    const webin_field_t *ep = ok ? str_field(r, "endpoint", true, &ok) : NULL;
    if (!ok) {
        return;
    }
    app_request_t req = {.op = APP_OP_PEER_ADD};
    if (!parse_key(r, key->value, KEYTEXT_NODE, req.u.peer_add.key)) {
        return;
    }
    req.u.peer_add.endpoint = ep->value;
    call(r, &req);
}

static void
ep_join(web_req_t *r)
{
    bool ok = true;
    const webin_field_t *inv = str_field(r, "invite", true, &ok);
    if (!ok) {
        return;
    }
    app_request_t req = {.op = APP_OP_JOIN};
    req.u.join.invite = inv->value;
    call(r, &req);
}

static void
ep_timeline(web_req_t *r)
{
    app_request_t req = {.op = APP_OP_TIMELINE};
    uint64_t limit = 0;
    if (!query_u(r, "limit", APP_PAGE_MAX, &limit)) {
        return;
    }
    req.u.timeline.limit = (uint32_t)limit;
    const char *before = MHD_lookup_connection_value(r->con, MHD_GET_ARGUMENT_KIND, "before");
    if (before != NULL) {
        if (!parse_key(r, before, KEYTEXT_POST, req.u.timeline.before)) {
            return;
        }
        req.u.timeline.has_before = true;
    }
    call(r, &req);
}

static void
ep_feed(web_req_t *r, const char *who)
{
    app_request_t req = {.op = APP_OP_FEED};
    uint64_t limit = 0, before = 0;
    if (!query_u(r, "limit", APP_PAGE_MAX, &limit) || !query_u(r, "before", UINT64_MAX, &before)) {
        return;
    }
    req.u.feed.limit = (uint32_t)limit;
    req.u.feed.before_seq = before;
    if (strcmp(who, "self") == 0) {
        req.u.feed.self = true;
    } else if (!parse_key(r, who, KEYTEXT_AUTHOR, req.u.feed.author)) {
        return;
    }
    call(r, &req);
}

/* /posts/ID, /posts/ID/thread */
static void
ep_post(web_req_t *r, const char *rest)
{
    app_request_t req = {.op = APP_OP_SHOW};
    if (!parse_key(r, rest, KEYTEXT_POST, req.u.show.id)) {
        return;
    }
    const char *tail = rest + strcspn(rest, "/");
    if (r->method == WEB_DELETE && tail[0] == '\0') {
        if (authorised(r, WEBTOK_SCOPE_POST)) {
            app_request_t del = {.op = APP_OP_DELETE};
            memcpy(del.u.del.ref, req.u.show.id, POST_ID_SIZE);
            call(r, &del);
        }
        return;
    }
    if (r->method != WEB_GET || (tail[0] != '\0' && strcmp(tail, "/thread") != 0)) {
        web_api_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such endpoint");
        return;
    }
    if (authorised(r, WEBTOK_SCOPE_READ)) {
        req.op = tail[0] != '\0' ? APP_OP_THREAD : APP_OP_SHOW;
        call(r, &req);
    }
}

/* /following[/AUTHOR], /blocked[/AUTHOR] */
static void
ep_marks(web_req_t *r, const char *rest, bool blocks)
{
    if (rest[0] == '\0') {
        if (r->method != WEB_GET) {
            web_api_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method", "use GET");
        } else if (authorised(r, WEBTOK_SCOPE_READ)) {
            app_request_t req = {.op = blocks ? APP_OP_BLOCKED : APP_OP_FOLLOWING};
            call(r, &req);
        }
        return;
    }
    if (rest[0] != '/' || (r->method != WEB_PUT && r->method != WEB_DELETE)) {
        web_api_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method", "use PUT or DELETE");
        return;
    }
    if (!authorised(r, WEBTOK_SCOPE_ADMIN)) {
        return;
    }
    bool put = r->method == WEB_PUT;
    app_request_t req = {.op = blocks ? (put ? APP_OP_BLOCK : APP_OP_UNBLOCK)
                                      : (put ? APP_OP_FOLLOW : APP_OP_UNFOLLOW)};
    if (parse_key(r, rest + 1, KEYTEXT_AUTHOR, req.u.author.author)) {
        call(r, &req);
    }
}

typedef struct {
    const char *path; /* after /api/v1/; a trailing '*' takes the rest */
    web_method_t method;
    unsigned scope;
    void (*fn)(web_req_t *r, const char *rest);
} route_t;

static void
r_status(web_req_t *r, const char *rest)
{
    (void)rest;
    app_request_t req = {.op = APP_OP_STATUS};
    call(r, &req);
}

static void
r_peers(web_req_t *r, const char *rest)
{
    (void)rest;
    app_request_t req = {.op = APP_OP_PEERS};
    call(r, &req);
}

static void
r_invite(web_req_t *r, const char *rest)
{
    (void)rest;
    app_request_t req = {.op = APP_OP_INVITE};
    call(r, &req);
}

static void
r_lookup(web_req_t *r, const char *rest)
{
    app_request_t req = {.op = APP_OP_LOOKUP};
    uint8_t author[32];
    if (parse_key(r, rest, KEYTEXT_AUTHOR, author)) {
        req.u.lookup.n = 1;
        req.u.lookup.authors = author;
        call(r, &req);
    }
}

static void
r_find_node(web_req_t *r, const char *rest)
{
    app_request_t req = {.op = APP_OP_FIND_NODE};
    if (!app_dht_id_parse(rest, req.u.find_node.target)) {
        web_api_error(r, MHD_HTTP_BAD_REQUEST, "invalid",
                      "give a node key (szn1...) or a DHT id of 64 hex digits");
        return;
    }
    call(r, &req);
}

static void
r_export(web_req_t *r, const char *rest)
{
    app_request_t req = {.op = APP_OP_EXPORT};
    if (parse_key(r, rest, KEYTEXT_AUTHOR, req.u.export_.author)) {
        call(r, &req);
    }
}

static void
r_import(web_req_t *r, const char *rest)
{
    (void)rest;
    app_request_t req = {.op = APP_OP_IMPORT};
    req.u.import.data = (const uint8_t *)(r->body.p ? r->body.p : "");
    req.u.import.data_len = r->body.len;
    call(r, &req);
}

static void
r_events(web_req_t *r, const char *rest)
{
    (void)rest;
    web_stream_start(r, false);
}

static void
r_timeline(web_req_t *r, const char *rest)
{
    (void)rest;
    ep_timeline(r);
}

static void
r_feed(web_req_t *r, const char *rest)
{
    ep_feed(r, rest);
}

static void
r_json(web_req_t *r, const char *rest)
{
    (void)rest;
    if (!read_json(r)) {
        return;
    }
    if (strcmp(r->url, "/api/v1/posts") == 0) {
        ep_posts_create(r);
    } else if (strcmp(r->url, "/api/v1/profile") == 0) {
        ep_profile(r);
    } else if (strcmp(r->url, "/api/v1/peers") == 0) {
        ep_peer_add(r);
    } else {
        ep_join(r);
    }
}

static const route_t ROUTES[] = {
    {"status", WEB_GET, WEBTOK_SCOPE_READ, r_status},
    {"timeline", WEB_GET, WEBTOK_SCOPE_READ, r_timeline},
    {"feed/*", WEB_GET, WEBTOK_SCOPE_READ, r_feed},
    {"posts", WEB_POST, WEBTOK_SCOPE_POST, r_json},
    {"profile", WEB_PUT, WEBTOK_SCOPE_POST, r_json},
    {"peers", WEB_GET, WEBTOK_SCOPE_READ, r_peers},
    {"peers", WEB_POST, WEBTOK_SCOPE_ADMIN, r_json},
    {"lookup/*", WEB_GET, WEBTOK_SCOPE_READ, r_lookup},
    {"find-node/*", WEB_GET, WEBTOK_SCOPE_READ, r_find_node},
    {"invite", WEB_GET, WEBTOK_SCOPE_READ, r_invite},
    {"join", WEB_POST, WEBTOK_SCOPE_ADMIN, r_json},
    {"export/*", WEB_GET, WEBTOK_SCOPE_READ, r_export},
    {"import", WEB_POST, WEBTOK_SCOPE_ADMIN, r_import},
    {"events", WEB_GET, WEBTOK_SCOPE_READ, r_events},
};

void
web_api_route(web_req_t *r)
{
    if (strncmp(r->url, "/api/v1/", API_PREFIX_LEN) != 0) {
        web_api_error(r, MHD_HTTP_NOT_FOUND, "not_found", "the API is under /api/v1/");
        return;
    }
    const char *p = r->url + API_PREFIX_LEN;
    if (strncmp(p, "posts/", 6) == 0) {
        ep_post(r, p + 6);
        return;
    }
    if (strncmp(p, "following", 9) == 0) {
        ep_marks(r, p + 9, false);
        return;
    }
    if (strncmp(p, "blocked", 7) == 0) {
        ep_marks(r, p + 7, true);
        return;
    }
    bool path_found = false;
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++) {
        const route_t *rt = &ROUTES[i];
        size_t n = strlen(rt->path);
        bool wild = rt->path[n - 1] == '*';
        bool match =
            wild ? strncmp(p, rt->path, n - 1) == 0 && p[n - 1] != '\0' : strcmp(p, rt->path) == 0;
        if (!match) {
            continue;
        }
        path_found = true;
        if (rt->method != r->method) {
            continue;
        }
        if (authorised(r, rt->scope)) {
            rt->fn(r, wild ? p + n - 1 : p);
        }
        return;
    }
    if (path_found) {
        web_api_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method", "that method is not allowed here");
    } else {
        web_api_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such endpoint");
    }
}
