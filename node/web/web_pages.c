/* The UI's pages: plain HTML and forms that work without JavaScript
 * (app.js only adds live updates and the byte counter). Every text a peer
 * wrote goes through wbuf_html and sits in an element that isolates its
 * direction (<bdi>, dir="auto"). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keytext.h"
#include "qr.h"
#include "web_int.h"

enum { PAGE_POSTS = 20 };

/* ---- pieces ---- */

static void
key_text(char out[KEYTEXT_BUFSZ], keytext_kind_t kind, const uint8_t *v)
{
    keytext_encode(out, kind, v);
}

static void
page_begin(wbuf_t *b, const char *title, const char *here)
{
    static const struct {
        const char *href, *label;
    } nav[] = {{"/", "Timeline"}, {"/follow", "Follow"}, {"/me", "Profile"}, {"/peers", "Peers"}};
    wbuf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                 "<title>");
    wbuf_html_str(b, title);
    wbuf_puts(b, " · samizdat</title><link rel=\"stylesheet\" href=\"/static/app.css\">"
                 "<script src=\"/static/app.js\" defer></script></head>\n<body>"
                 "<a class=\"skip\" href=\"#main\">Skip to content</a>"
                 "<header class=\"top\"><span class=\"brand\">samizdat</span>"
                 "<nav aria-label=\"Main\"><ul>");
    for (size_t i = 0; i < sizeof nav / sizeof nav[0]; i++) {
        bool cur = here != NULL && strcmp(here, nav[i].href) == 0;
        wbuf_printf(b, "<li><a href=\"%s\"%s>%s</a></li>", nav[i].href,
                    cur ? " aria-current=\"page\"" : "", nav[i].label);
    }
    wbuf_puts(b, "</ul></nav></header>\n<main id=\"main\">");
}

static void
page_end(web_req_t *r, wbuf_t *b, unsigned status)
{
    wbuf_puts(b, "</main></body></html>\n");
    web_respond(r, status, "text/html; charset=utf-8", b);
}

static void
csrf_field(wbuf_t *b, const web_t *w)
{
    wbuf_printf(b, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", w->csrf_hex);
}

static void
time_html(wbuf_t *b, uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char iso[32], shown[32];
    if (gmtime_r(&t, &tm) == NULL || strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 ||
        strftime(shown, sizeof shown, "%Y-%m-%d %H:%M UTC", &tm) == 0) {
        wbuf_puts(b, "<time>?</time>");
        return;
    }
    wbuf_printf(b, "<time datetime=\"%s\">%s</time>", iso, shown);
}

static void
author_link(wbuf_t *b, const uint8_t *author, const char *name)
{
    char a[KEYTEXT_BUFSZ];
    key_text(a, KEYTEXT_AUTHOR, author);
    wbuf_printf(b, "<a class=\"author\" href=\"/author/%s\"><bdi>", a);
    wbuf_html_str(b, name);
    wbuf_puts(b, "</bdi></a>");
}

void
web_html_post(wbuf_t *b, const web_t *w, const app_post_t *ap)
{
    (void)w;
    const post_t *p = &ap->post;
    char id[KEYTEXT_BUFSZ], ref[KEYTEXT_BUFSZ];
    key_text(id, KEYTEXT_POST, p->id);
    bool reply = p->kind == POST_KIND_REPLY;
    if (reply) {
        key_text(ref, KEYTEXT_POST, p->ref);
    }
    wbuf_printf(b, "<article class=\"post\" id=\"p-%s\"%s%s%s>\n<header>", id,
                reply ? " data-ref=\"" : "", reply ? ref : "", reply ? "\"" : "");
    author_link(b, p->author, ap->display_name);
    wbuf_printf(b, " <a class=\"when\" href=\"/post/%s\">", id);
    time_html(b, p->timestamp_ms);
    wbuf_printf(b, "</a> <span class=\"seq\">#%llu</span></header>\n", (unsigned long long)p->seq);
    if (reply) {
        wbuf_printf(b, "<p class=\"inreply\">in reply to <a href=\"/post/%s\">a post</a></p>\n",
                    ref);
    }
    if (ap->deleted) {
        wbuf_puts(b, "<p class=\"deleted\">Deleted by its author.</p>\n");
    } else if (p->kind == POST_KIND_PROFILE) {
        wbuf_puts(b, "<p class=\"profile\">Profile: <bdi>");
        wbuf_html_str(b, p->name);
        wbuf_puts(b, "</bdi></p>\n");
        if (p->body_len > 0) {
            wbuf_puts(b, "<div class=\"body\" dir=\"auto\">");
            wbuf_html(b, p->body, p->body_len);
            wbuf_puts(b, "</div>\n");
        }
    } else if (p->kind == POST_KIND_DELETE) {
        key_text(ref, KEYTEXT_POST, p->ref);
        wbuf_printf(b, "<p class=\"deleted\">Deleted <a href=\"/post/%s\">a post</a>.</p>\n", ref);
    } else {
        wbuf_puts(b, "<div class=\"body\" dir=\"auto\">");
        wbuf_html(b, p->body, p->body_len);
        wbuf_puts(b, "</div>\n");
    }
    if (p->kind == POST_KIND_POST || p->kind == POST_KIND_REPLY) {
        wbuf_printf(b, "<footer><a href=\"/post/%s#reply\">Reply</a></footer>\n", id);
    }
    wbuf_puts(b, "</article>\n");
}

static void
compose_form(wbuf_t *b, const web_t *w, const uint8_t *reply_to, const char *text,
             const char *error)
{
    wbuf_printf(b, "<form method=\"post\" action=\"/compose\" class=\"compose\" id=\"%s\">",
                reply_to != NULL ? "reply" : "compose");
    csrf_field(b, w);
    if (reply_to != NULL) {
        char ref[KEYTEXT_BUFSZ];
        key_text(ref, KEYTEXT_POST, reply_to);
        wbuf_printf(b, "<input type=\"hidden\" name=\"reply_to\" value=\"%s\">", ref);
    }
    wbuf_printf(b,
                "<label for=\"compose-text\">%s</label>"
                "<textarea id=\"compose-text\" name=\"text\" rows=\"4\" required "
                "data-max-bytes=\"%d\" aria-describedby=\"compose-hint%s\">",
                reply_to ? "Write a reply" : "Write a post", POST_BODY_MAX,
                error ? " compose-error" : "");
    if (text != NULL) {
        wbuf_html_str(b, text);
    }
    wbuf_printf(b,
                "</textarea><p id=\"compose-hint\" class=\"hint\">At most %d bytes of text "
                "(a letter of English is one byte; most other letters two to four). "
                "A post cannot be taken back, only marked deleted.</p>",
                POST_BODY_MAX);
    if (error != NULL) {
        wbuf_puts(b, "<p id=\"compose-error\" class=\"error\" role=\"alert\">");
        wbuf_html_str(b, error);
        wbuf_puts(b, "</p>");
    }
    wbuf_printf(b, "<button type=\"submit\">%s</button></form>\n", reply_to ? "Reply" : "Post");
}

static void
alone_notice(wbuf_t *b, const app_status_t *s)
{
    if (!s->running || s->peers > 0) {
        return;
    }
    wbuf_puts(b, "<section class=\"notice\" role=\"status\"><h2>You are not connected to anyone "
                 "yet</h2><p>Posts travel from node to node, so this node needs at least one "
                 "other. Any one of these does it:</p><ul>"
                 "<li>paste an invite someone gave you (their <code>samizdat invite</code>) on "
                 "the <a href=\"/follow\">Follow</a> page;</li>"
                 "<li>give your own invite (on your <a href=\"/me\">Profile</a>) to someone "
                 "who runs samizdat;</li>"
                 "<li>run samizdat on another computer on this network: nodes on one network "
                 "find each other;</li>"
                 "<li>or add a node by hand: <code>samizdat peer add ENDPOINT NODEKEY</code>, or "
                 "list nodes in <code>bootstrap.list</code>.</li></ul></section>\n");
}

/* The error page for what a request cannot do. */
void
web_page_error(web_req_t *r, unsigned status, const char *title, const char *msg)
{
    wbuf_t b;
    wbuf_init(&b, WEB_PAGE_MAX);
    page_begin(&b, title, NULL);
    wbuf_puts(&b, "<h1>");
    wbuf_html_str(&b, title);
    wbuf_puts(&b, "</h1><p class=\"error\" role=\"alert\">");
    wbuf_html_str(&b, msg);
    wbuf_puts(&b, "</p><p><a href=\"/\">Back to the timeline</a></p>");
    page_end(r, &b, status);
}

static void
app_error_page(web_req_t *r, const app_result_t *res, const char *title)
{
    web_page_error(r, web_status_of(res->err), title,
                   res->msg[0] ? res->msg : app_strerror(res->err));
}

/* A path's last part as a key text of kind. */
static bool
path_key(const char *rest, keytext_kind_t kind, uint8_t out[static 32])
{
    char t[KEYTEXT_BUFSZ];
    size_t n = strcspn(rest, "/");
    if (n != KEYTEXT_LEN) {
        return false;
    }
    memcpy(t, rest, n);
    t[n] = '\0';
    return keytext_decode(out, kind, t) == KEYTEXT_OK;
}

/* ---- the timeline ---- */

static void
timeline_render(web_req_t *r, app_result_t *res)
{
    if (res->err != APP_OK) {
        app_error_page(r, res, "Cannot show the timeline");
        return;
    }
    const app_status_t *s = &r->keep[0]->u.status;
    const app_timeline_page_t *t = &res->u.timeline;
    wbuf_t b;
    wbuf_init(&b, WEB_PAGE_MAX);
    page_begin(&b, "Timeline", "/");
    wbuf_puts(&b, "<h1>Timeline</h1>\n");
    alone_notice(&b, s);
    compose_form(&b, r->w, NULL, NULL, NULL);
    wbuf_puts(&b, "<section class=\"posts\" id=\"timeline\" aria-label=\"Posts\" "
                  "aria-live=\"polite\">\n");
    for (size_t i = 0; i < t->n_posts; i++) {
        web_html_post(&b, r->w, &t->posts[i]);
    }
    wbuf_puts(&b, "</section>\n");
    if (t->n_posts == 0) {
        wbuf_puts(&b, "<p class=\"empty\">Nothing here yet. Write your first post above, or "
                      "<a href=\"/follow\">follow someone</a>: their posts show here.</p>\n");
    }
    if (t->more) {
        char before[KEYTEXT_BUFSZ];
        key_text(before, KEYTEXT_POST, t->next_before);
        wbuf_printf(&b, "<p><a rel=\"next\" href=\"/?before=%s\">Older posts</a></p>\n", before);
    }
    page_end(r, &b, MHD_HTTP_OK);
}

static void
timeline_after_status(web_req_t *r, app_result_t *res)
{
    web_keep(r, res);
    app_request_t req = {.op = APP_OP_TIMELINE};
    req.u.timeline.limit = PAGE_POSTS;
    const char *before = web_arg(r, "before");
    if (before != NULL) {
        if (keytext_decode(req.u.timeline.before, KEYTEXT_POST, before) != KEYTEXT_OK) {
            web_page_error(r, MHD_HTTP_BAD_REQUEST, "Bad link", "'before' is not a post id.");
            return;
        }
        req.u.timeline.has_before = true;
    }
    web_call(r, &req, timeline_render);
}

static void
page_timeline(web_req_t *r)
{
    app_request_t req = {.op = APP_OP_STATUS};
    web_call(r, &req, timeline_after_status);
}

/* ---- compose ---- */

static void
compose_done(web_req_t *r, app_result_t *res)
{
    const char *back = web_arg(r, "reply_to");
    if (res->err == APP_OK) {
        char loc[WEB_URL_MAX];
        char id[KEYTEXT_BUFSZ];
        key_text(id, KEYTEXT_POST, res->u.publish.post.id);
        if (back != NULL) {
            snprintf(loc, sizeof loc, "/post/%s#p-%s", back, id);
        } else {
            snprintf(loc, sizeof loc, "/#p-%s", id);
        }
        web_redirect(r, loc);
        return;
    }
    /* The text stays, with what was wrong with it. */
    wbuf_t b;
    wbuf_init(&b, WEB_PAGE_MAX);
    page_begin(&b, "Not sent", NULL);
    wbuf_puts(&b, "<h1>Not sent</h1>\n");
    compose_form(&b, r->w, back != NULL ? r->key : NULL, web_arg(r, "text"),
                 res->msg[0] ? res->msg : app_strerror(res->err));
    page_end(r, &b, web_status_of(res->err));
}

static void
page_compose(web_req_t *r)
{
    const webin_field_t *text = webin_get(&r->form, "text");
    const char *reply_to = web_arg(r, "reply_to");
    app_request_t req = {.op = APP_OP_POST};
    if (text == NULL) {
        web_page_error(r, MHD_HTTP_BAD_REQUEST, "Not sent", "The form carried no text.");
        return;
    }
    /* Browsers send line ends as CR LF; a post holds LF. */
    char *t = text->value;
    size_t n = 0;
    for (size_t i = 0; i < text->len; i++) {
        if (!(t[i] == '\r' && i + 1 < text->len && t[i + 1] == '\n')) {
            t[n++] = t[i];
        }
    }
    t[n] = '\0';
    app_text_t body = {t, n};
    if (reply_to != NULL && reply_to[0] != '\0') {
        if (keytext_decode(r->key, KEYTEXT_POST, reply_to) != KEYTEXT_OK) {
            web_page_error(r, MHD_HTTP_BAD_REQUEST, "Not sent",
                           "The post to reply to is not a post id.");
            return;
        }
        req.op = APP_OP_REPLY;
        memcpy(req.u.reply.ref, r->key, POST_ID_SIZE);
        req.u.reply.body = body;
    } else {
        req.u.post.body = body;
    }
    web_call(r, &req, compose_done);
}

/* ---- a thread ---- */

static void
thread_render(web_req_t *r, app_result_t *res)
{
    if (res->err != APP_OK) {
        app_error_page(r, res, "No such post here");
        return;
    }
    const app_thread_t *t = &res->u.thread;
    wbuf_t b;
    wbuf_init(&b, WEB_PAGE_MAX);
    page_begin(&b, "Thread", NULL);
    wbuf_puts(&b, "<h1>Thread</h1>\n");
    if (t->has_parent) {
        wbuf_puts(&b, "<section class=\"parent\" aria-label=\"In reply to\">\n");
        web_html_post(&b, r->w, &t->parent);
        wbuf_puts(&b, "</section>\n");
    } else if (t->n > 0 && t->items[0].post.post.kind == POST_KIND_REPLY) {
        wbuf_puts(&b, "<p class=\"hint\">It replies to a post this node does not hold.</p>\n");
    }
    wbuf_puts(&b,
              "<section class=\"thread\" id=\"thread\" aria-label=\"The post and its replies\">\n");
    for (size_t i = 0; i < t->n; i++) {
        uint32_t d = t->items[i].depth;
        wbuf_printf(&b, "<div class=\"depth depth-%u\" data-depth=\"%u\">", d > 8 ? 8 : d, d);
        web_html_post(&b, r->w, &t->items[i].post);
        wbuf_puts(&b, "</div>\n");
    }
    wbuf_puts(&b, "</section>\n");
    if (t->truncated) {
        wbuf_puts(&b, "<p class=\"hint\">Some replies are not shown: the thread is too long or "
                      "too deep. Open a reply to see the replies below it.</p>\n");
    }
    if (t->n > 0 && (t->items[0].post.post.kind == POST_KIND_POST ||
                     t->items[0].post.post.kind == POST_KIND_REPLY)) {
        compose_form(&b, r->w, t->items[0].post.post.id, NULL, NULL);
    }
    page_end(r, &b, MHD_HTTP_OK);
}

static void
page_thread(web_req_t *r, const char *rest)
{
    app_request_t req = {.op = APP_OP_THREAD};
    if (!path_key(rest, KEYTEXT_POST, req.u.show.id)) {
        web_page_error(r, MHD_HTTP_NOT_FOUND, "Bad link", "That is not a post id.");
        return;
    }
    web_call(r, &req, thread_render);
}

/* ---- an author ---- */

static bool
listed(const app_result_t *list, const uint8_t *author, uint64_t *since)
{
    for (size_t i = 0; list != NULL && i < list->u.list.n; i++) {
        if (memcmp(list->u.list.authors[i].author, author, 32) == 0) {
            *since = list->u.list.authors[i].since_ms;
            return true;
        }
    }
    return false;
}

static void
button(wbuf_t *b, const web_t *w, const char *author, const char *action, const char *label)
{
    wbuf_printf(b, "<form method=\"post\" action=\"/author/%s/%s\" class=\"inline\">", author,
                action);
    csrf_field(b, w);
    wbuf_printf(b, "<button type=\"submit\">%s</button></form>", label);
}

static void
author_forks(wbuf_t *b, const app_feed_page_t *f)
{
    if (f->n_forks == 0) {
        return;
    }
    wbuf_printf(b,
                "<section class=\"forks\"><h2>Evidence of %zu fork%s</h2><p>This author "
                "signed posts that cannot all be in one feed: two different posts with one "
                "number, or a post that does not follow the one before it. Someone may "
                "have their key.</p><ul>",
                f->n_forks, f->n_forks == 1 ? "" : "s");
    for (size_t i = 0; i < f->n_forks; i++) {
        char a[KEYTEXT_BUFSZ], c[KEYTEXT_BUFSZ];
        key_text(a, KEYTEXT_POST, f->forks[i].first);
        key_text(c, KEYTEXT_POST, f->forks[i].second);
        wbuf_printf(b,
                    "<li>at #%llu: <a href=\"/post/%s\">one post</a> and "
                    "<a href=\"/post/%s\">another</a></li>",
                    (unsigned long long)f->forks[i].seq, a, c);
    }
    wbuf_puts(b, "</ul></section>\n");
}

static void
author_render(web_req_t *r, app_result_t *blocked)
{
    web_keep(r, blocked);
    const app_result_t *feed = r->keep[0], *following = r->keep[1];
    const uint8_t *author = r->key;
    char at[KEYTEXT_BUFSZ];
    key_text(at, KEYTEXT_AUTHOR, author);
    uint64_t since = 0;
    bool is_following = following->err == APP_OK && listed(following, author, &since);
    bool is_blocked = blocked->err == APP_OK && listed(blocked, author, &since);
    bool self = r->w->has_self && memcmp(r->w->self, author, 32) == 0;
    const app_feed_page_t *f = feed->err == APP_OK ? &feed->u.feed : NULL;
    const post_t *prof = f != NULL && f->has_profile ? &f->profile.post : NULL;
    const char *name = prof != NULL ? prof->name : NULL;
    wbuf_t b;
    wbuf_init(&b, WEB_PAGE_MAX);
    page_begin(&b, self ? "You" : "An author", NULL);
    wbuf_puts(&b, "<h1><bdi>");
    wbuf_html_str(&b, name != NULL ? name : "An author");
    wbuf_puts(&b, "</bdi></h1>\n");
    if (prof != NULL && prof->body_len > 0) {
        wbuf_puts(&b, "<div class=\"body bio\" dir=\"auto\">");
        wbuf_html(&b, prof->body, prof->body_len);
        wbuf_puts(&b, "</div>\n");
    }
    wbuf_printf(&b, "<p class=\"key\">Author key: <code>%s</code></p>\n", at);
    if (self) {
        wbuf_puts(&b, "<p>This is you. <a href=\"/me\">Edit your profile</a>.</p>\n");
    } else {
        wbuf_puts(&b, "<div class=\"actions\">");
        if (is_blocked) {
            wbuf_puts(&b, "<p>You block this author: their posts are not kept.</p>");
            button(&b, r->w, at, "unblock", "Unblock");
        } else {
            button(&b, r->w, at, is_following ? "unfollow" : "follow",
                   is_following ? "Unfollow" : "Follow");
            button(&b, r->w, at, "block", "Block");
        }
        wbuf_puts(&b, "</div>\n");
    }
    if (f == NULL || !f->stored) {
        wbuf_puts(&b, "<p class=\"empty\">Nothing of this author is stored here yet.");
        wbuf_puts(&b, is_following ? " Their posts are being looked for and fetched; this "
                                     "page shows them as they come (reload to see).</p>\n"
                                   : " Follow them to fetch their posts.</p>\n");
    } else {
        wbuf_printf(&b, "<p class=\"sync\">Holds every post up to #%llu",
                    (unsigned long long)f->head_seq);
        if (f->max_seq > f->head_seq) {
            wbuf_printf(&b,
                        "; posts up to #%llu are known, so #%llu to #%llu are still being "
                        "fetched. <progress max=\"%llu\" value=\"%llu\">%llu of %llu</progress>",
                        (unsigned long long)f->max_seq, (unsigned long long)f->head_seq + 1,
                        (unsigned long long)f->max_seq, (unsigned long long)f->max_seq,
                        (unsigned long long)f->head_seq, (unsigned long long)f->head_seq,
                        (unsigned long long)f->max_seq);
        }
        wbuf_puts(&b, ".</p>\n");
        author_forks(&b, f);
        wbuf_puts(&b, "<section class=\"posts\" aria-label=\"Posts\">\n");
        for (size_t i = 0; i < f->n_posts; i++) {
            web_html_post(&b, r->w, &f->posts[i]);
        }
        wbuf_puts(&b, "</section>\n");
        if (f->more) {
            wbuf_printf(&b,
                        "<p><a rel=\"next\" href=\"/author/%s?before=%llu\">Older posts</a></p>\n",
                        at, (unsigned long long)f->next_before);
        }
    }
    page_end(r, &b, MHD_HTTP_OK);
}

static void
author_after_following(web_req_t *r, app_result_t *res)
{
    web_keep(r, res);
    app_request_t req = {.op = APP_OP_BLOCKED};
    web_call(r, &req, author_render);
}

static void
author_after_feed(web_req_t *r, app_result_t *res)
{
    if (res->err != APP_OK && res->err != APP_ENOTFOUND) {
        app_error_page(r, res, "Cannot show this author");
        return;
    }
    web_keep(r, res);
    app_request_t req = {.op = APP_OP_FOLLOWING};
    web_call(r, &req, author_after_following);
}

static void
author_action_done(web_req_t *r, app_result_t *res)
{
    if (res->err != APP_OK) {
        app_error_page(r, res, "Not done");
        return;
    }
    char at[KEYTEXT_BUFSZ], loc[WEB_URL_MAX];
    key_text(at, KEYTEXT_AUTHOR, r->key);
    snprintf(loc, sizeof loc, "/author/%s", at);
    web_redirect(r, loc);
}

static void
page_author(web_req_t *r, const char *rest)
{
    if (!path_key(rest, KEYTEXT_AUTHOR, r->key)) {
        web_page_error(r, MHD_HTTP_NOT_FOUND, "Bad link", "That is not an author key.");
        return;
    }
    const char *action = rest + KEYTEXT_LEN;
    if (r->method == WEB_POST) {
        static const struct {
            const char *path;
            app_op_t op;
        } acts[] = {{"/follow", APP_OP_FOLLOW},
                    {"/unfollow", APP_OP_UNFOLLOW},
                    {"/block", APP_OP_BLOCK},
                    {"/unblock", APP_OP_UNBLOCK}};
        for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
            if (strcmp(action, acts[i].path) == 0) {
                app_request_t req = {.op = acts[i].op};
                memcpy(req.u.author.author, r->key, 32);
                web_call(r, &req, author_action_done);
                return;
            }
        }
        web_page_error(r, MHD_HTTP_NOT_FOUND, "No such action", "Nothing to do here.");
        return;
    }
    if (action[0] != '\0') {
        web_page_error(r, MHD_HTTP_NOT_FOUND, "Not found", "No such page.");
        return;
    }
    app_request_t req = {.op = APP_OP_FEED};
    memcpy(req.u.feed.author, r->key, 32);
    req.u.feed.limit = PAGE_POSTS;
    const char *before = web_arg(r, "before");
    if (before != NULL) {
        char *end = NULL;
        unsigned long long v = strtoull(before, &end, 10);
        if (end == before || *end != '\0' || v == 0) {
            web_page_error(r, MHD_HTTP_BAD_REQUEST, "Bad link", "'before' is not a post number.");
            return;
        }
        req.u.feed.before_seq = v;
    }
    web_call(r, &req, author_after_feed);
}

/* ---- follow by key, or join by invite ---- */

static void
follow_form(web_req_t *r, const char *value, const char *error, unsigned status)
{
    wbuf_t b;
    wbuf_init(&b, WEB_PAGE_MAX);
    page_begin(&b, "Follow", "/follow");
    wbuf_puts(&b, "<h1>Follow someone</h1>\n<form method=\"post\" action=\"/follow\">");
    csrf_field(&b, r->w);
    wbuf_printf(&b,
                "<label for=\"follow-key\">Author key (sza1…) or invite (szi1…)</label>"
                "<input id=\"follow-key\" name=\"key\" type=\"text\" autocomplete=\"off\" "
                "spellcheck=\"false\" required aria-describedby=\"follow-hint%s\" value=\"",
                error ? " follow-error" : "");
    if (value != NULL) {
        wbuf_html_str(&b, value);
    }
    wbuf_puts(&b,
              "\"><p id=\"follow-hint\" class=\"hint\">Paste the key someone gave you "
              "(their <code>samizdat whoami</code>), or an invite (their "
              "<code>samizdat invite</code>): an invite also connects this node to theirs.</p>");
    if (error != NULL) {
        wbuf_puts(&b, "<p id=\"follow-error\" class=\"error\" role=\"alert\">");
        wbuf_html_str(&b, error);
        wbuf_puts(&b, "</p>");
    }
    wbuf_puts(&b, "<button type=\"submit\">Follow</button></form>\n");
    page_end(r, &b, status);
}

static void
follow_done(web_req_t *r, app_result_t *res)
{
    if (res->err != APP_OK) {
        follow_form(r, web_arg(r, "key"), res->msg[0] ? res->msg : app_strerror(res->err),
                    web_status_of(res->err));
        return;
    }
    const uint8_t *author = res->op == APP_OP_JOIN
                                ? (res->u.join.followed ? res->u.join.author.author : NULL)
                                : res->u.author.author.author;
    if (author == NULL) {
        web_redirect(r, "/peers");
        return;
    }
    char at[KEYTEXT_BUFSZ], loc[WEB_URL_MAX];
    key_text(at, KEYTEXT_AUTHOR, author);
    snprintf(loc, sizeof loc, "/author/%s", at);
    web_redirect(r, loc);
}

/* The same words as the command line: which kind of key it is, else
 * what is wrong with it. */
static void
follow_post(web_req_t *r)
{
    const char *raw = web_arg(r, "key");
    char text[APP_TEXT_MAX];
    size_t n = raw != NULL ? strlen(raw) : 0;
    /* Spaces around a pasted key are a paste's, not the key's. */
    while (n > 0 &&
           (raw[n - 1] == ' ' || raw[n - 1] == '\n' || raw[n - 1] == '\r' || raw[n - 1] == '\t')) {
        n--;
    }
    size_t s = 0;
    while (s < n && (raw[s] == ' ' || raw[s] == '\t')) {
        s++;
    }
    if (n - s == 0 || n - s >= sizeof text) {
        follow_form(r, raw, "Paste an author key (sza1…) or an invite (szi1…).",
                    MHD_HTTP_BAD_REQUEST);
        return;
    }
    memcpy(text, raw + s, n - s);
    text[n - s] = '\0';
    if (strncmp(text, "szi1", 4) == 0) {
        app_request_t req = {.op = APP_OP_JOIN};
        req.u.join.invite = text;
        web_call(r, &req, follow_done);
        return;
    }
    app_request_t req = {.op = APP_OP_FOLLOW};
    char msg[APP_MSG_MAX];
    if (!app_key_parse(text, KEYTEXT_AUTHOR, req.u.author.author, msg, sizeof msg)) {
        follow_form(r, raw, msg, MHD_HTTP_BAD_REQUEST);
        return;
    }
    web_call(r, &req, follow_done);
}

/* ---- one's own profile ---- */

static void
author_list(wbuf_t *b, const app_result_t *res, const char *title, const char *none)
{
    wbuf_printf(b, "<section><h2>%s</h2>", title);
    if (res->err != APP_OK || res->u.list.n == 0) {
        wbuf_printf(b, "<p class=\"empty\">%s</p></section>\n", none);
        return;
    }
    wbuf_puts(b, "<ul class=\"authors\">");
    for (size_t i = 0; i < res->u.list.n; i++) {
        const app_author_t *a = &res->u.list.authors[i];
        char at[KEYTEXT_BUFSZ];
        key_text(at, KEYTEXT_AUTHOR, a->author);
        wbuf_puts(b, "<li>");
        author_link(b, a->author, a->has_name ? a->name : at);
        wbuf_puts(b, "</li>");
    }
    wbuf_puts(b, "</ul></section>\n");
}

static void
me_render(web_req_t *r, app_result_t *feed)
{
    const app_status_t *s = &r->keep[0]->u.status;
    const app_result_t *invite = r->keep[3];
    const post_t *prof =
        feed->err == APP_OK && feed->u.feed.has_profile ? &feed->u.feed.profile.post : NULL;
    char at[KEYTEXT_BUFSZ];
    key_text(at, KEYTEXT_AUTHOR, s->author);
    wbuf_t b;
    wbuf_init(&b, WEB_PAGE_MAX);
    page_begin(&b, "Profile", "/me");
    wbuf_puts(&b, "<h1>Your profile</h1>\n<form method=\"post\" action=\"/me\">");
    csrf_field(&b, r->w);
    wbuf_puts(&b, "<label for=\"me-name\">Name</label><input id=\"me-name\" name=\"name\" "
                  "type=\"text\" required aria-describedby=\"me-hint\" value=\"");
    if (prof != NULL) {
        wbuf_html_str(&b, prof->name);
    }
    wbuf_printf(&b,
                "\"><label for=\"me-bio\">About you</label><textarea id=\"me-bio\" "
                "name=\"bio\" rows=\"3\" data-max-bytes=\"%d\">",
                POST_BODY_MAX);
    if (prof != NULL) {
        wbuf_html(&b, prof->body, prof->body_len);
    }
    wbuf_printf(&b,
                "</textarea><p id=\"me-hint\" class=\"hint\">Your name (at most %d bytes) "
                "and bio are published as a signed post; whoever follows you sees them.</p>",
                POST_NAME_MAX);
    wbuf_printf(&b,
                "<button type=\"submit\">Publish profile</button></form>\n"
                "<section><h2>Your key</h2><p>People follow you by this key: "
                "<a href=\"/author/%s\">your page</a>.</p><p class=\"key\"><code>%s</code></p>",
                at, at);
    char *svg = NULL;
    if (qr_svg(at, &svg, NULL) == QR_OK) {
        wbuf_puts(&b, "<figure class=\"qr\" role=\"img\" aria-label=\"Your author key as a QR "
                      "code\">");
        wbuf_puts(&b, svg);
        wbuf_puts(&b, "</figure>");
        qr_free(svg);
    }
    wbuf_puts(&b, "</section>\n<section><h2>Your invite</h2>");
    if (invite->err == APP_OK) {
        wbuf_puts(&b, "<p>Give this to someone: on their Follow page (or with <code>samizdat "
                      "join</code>) it connects their node to yours and follows you.</p>"
                      "<p class=\"key invite\"><code>");
        wbuf_html_str(&b, invite->u.invite.text);
        wbuf_puts(&b, "</code></p>");
    } else {
        wbuf_puts(&b, "<p class=\"hint\">No invite: ");
        wbuf_html_str(&b, invite->msg[0] ? invite->msg : app_strerror(invite->err));
        wbuf_puts(&b, "</p>");
    }
    wbuf_puts(&b, "</section>\n");
    if (r->n_keep >= 4) {
        author_list(&b, r->keep[1], "You follow", "Nobody yet.");
        author_list(&b, r->keep[2], "You block", "Nobody.");
    }
    page_end(r, &b, MHD_HTTP_OK);
}

static void
me_after_invite(web_req_t *r, app_result_t *res)
{
    web_keep(r, res);
    app_request_t req = {.op = APP_OP_FEED};
    req.u.feed.self = true;
    req.u.feed.limit = 1;
    web_call(r, &req, me_render);
}

static void
me_after_blocked(web_req_t *r, app_result_t *res)
{
    web_keep(r, res);
    app_request_t req = {.op = APP_OP_INVITE};
    web_call(r, &req, me_after_invite);
}

static void
me_after_following(web_req_t *r, app_result_t *res)
{
    web_keep(r, res);
    app_request_t req = {.op = APP_OP_BLOCKED};
    web_call(r, &req, me_after_blocked);
}

static void
me_after_status(web_req_t *r, app_result_t *res)
{
    if (res->err != APP_OK) {
        app_error_page(r, res, "Cannot show your profile");
        return;
    }
    web_keep(r, res);
    app_request_t req = {.op = APP_OP_FOLLOWING};
    web_call(r, &req, me_after_following);
}

static void
profile_done(web_req_t *r, app_result_t *res)
{
    if (res->err == APP_OK) {
        web_redirect(r, "/me");
        return;
    }
    app_error_page(r, res, "Profile not published");
}

static void
page_me(web_req_t *r)
{
    if (r->method == WEB_POST) {
        const webin_field_t *name = webin_get(&r->form, "name");
        const webin_field_t *bio = webin_get(&r->form, "bio");
        app_request_t req = {.op = APP_OP_PROFILE};
        if (name == NULL) {
            web_page_error(r, MHD_HTTP_BAD_REQUEST, "Profile not published",
                           "The form carried no name.");
            return;
        }
        req.u.profile.name = (app_text_t){name->value, name->len};
        if (bio != NULL && bio->len > 0) {
            req.u.profile.has_bio = true;
            req.u.profile.bio = (app_text_t){bio->value, bio->len};
        }
        web_call(r, &req, profile_done);
        return;
    }
    app_request_t req = {.op = APP_OP_STATUS};
    web_call(r, &req, me_after_status);
}

/* ---- peers and status ---- */

static const char *
plural(uint64_t n)
{
    return n == 1 ? "" : "s";
}

/* What the dial-back check found, as `samizdat status` says it. */
static void
reach_html(wbuf_t *b, const app_status_t *s)
{
    if (s->reach == APP_REACH_UNCHECKED) {
        wbuf_puts(b, "not checked");
        return;
    }
    if (s->reach == APP_REACH_CHECKING) {
        wbuf_puts(b, "not known yet: asking peers to dial this node back");
        return;
    }
    bool any = false;
    for (size_t i = 0; i < s->n_reach; i++) {
        if (s->reach_eps[i].verdict == APP_EP_REACHABLE) {
            wbuf_printf(b, "%s%s <code>", any ? "; " : "",
                        s->reach_eps[i].onion ? "as onion" : "directly at");
            wbuf_html_str(b, s->reach_eps[i].endpoint);
            wbuf_puts(b, "</code>");
            any = true;
        }
    }
    if (!any) {
        wbuf_puts(b, "not reachable: no peer could dial this node back (it still connects out "
                     "and follows; a forwarded port or an invite through a reachable node helps)");
    }
}

static void
peers_render(web_req_t *r, app_result_t *res)
{
    const app_status_t *s = &r->keep[0]->u.status;
    wbuf_t b;
    wbuf_init(&b, WEB_PAGE_MAX);
    page_begin(&b, "Peers", "/peers");
    wbuf_puts(&b, "<h1>Peers and status</h1>\n");
    alone_notice(&b, s);
    wbuf_puts(&b, "<section><h2>This node</h2><dl class=\"status\">");
    char nk[KEYTEXT_BUFSZ];
    key_text(nk, KEYTEXT_NODE, s->node_key);
    wbuf_printf(&b, "<dt>Node key</dt><dd><code>%s</code></dd>", nk);
    wbuf_puts(&b, "<dt>Listening on</dt><dd>");
    for (size_t i = 0; i < s->n_listen; i++) {
        wbuf_puts(&b, i ? ", <code>" : "<code>");
        wbuf_html_str(&b, s->listen[i]);
        wbuf_puts(&b, "</code>");
    }
    wbuf_puts(&b, "</dd><dt>Reachable</dt><dd>");
    reach_html(&b, s);
    if (s->socks5[0] != '\0') {
        /* As `samizdat status` says it: shared circuits link peers. */
        wbuf_puts(&b, "</dd><dt>Proxy</dt><dd>SOCKS5 <code>");
        wbuf_html_str(&b, s->socks5);
        wbuf_puts(&b, "</code>; ");
        if (s->circuit_per_peer) {
            wbuf_puts(&b, "a Tor circuit per peer");
        } else {
            wbuf_puts(&b, "Tor circuits shared between peers (");
            wbuf_html_str(&b, s->circuits_why);
            wbuf_puts(&b, ")");
        }
    }
    wbuf_puts(&b, "</dd><dt>Router</dt><dd>");
    switch (s->portmap) {
    case 0:
        wbuf_puts(&b, "not asked to forward a port");
        break;
    case 1:
        wbuf_puts(&b, "asking the router to forward a port…");
        break;
    case 2:
        wbuf_printf(&b, "forwards <code>%s</code> (%s, renewed every %u s)%s", s->portmap_external,
                    s->portmap_method, (unsigned)s->portmap_lifetime_s,
                    s->portmap_behind_nat ? "; the router itself is behind another NAT" : "");
        break;
    default:
        wbuf_puts(&b, "no port forwarded: ");
        wbuf_html_str(&b, s->portmap_why);
        break;
    }
    wbuf_printf(&b, "</dd><dt>Uptime</dt><dd>%llu min</dd>",
                (unsigned long long)(s->uptime_ms / 60000));
    wbuf_printf(&b, "<dt>Stored</dt><dd>%llu post%s of %llu author%s; you follow %llu</dd>",
                (unsigned long long)s->posts, plural(s->posts), (unsigned long long)s->authors,
                plural(s->authors), (unsigned long long)s->following);
    wbuf_printf(&b,
                "<dt>Received</dt><dd>%llu post%s from peers, %llu new, %llu duplicate%s, "
                "%llu invalid</dd>",
                (unsigned long long)s->g_received, plural(s->g_received),
                (unsigned long long)s->g_stored, (unsigned long long)s->g_duplicates,
                plural(s->g_duplicates), (unsigned long long)s->g_invalid);
    wbuf_printf(&b, "<dt>Network table</dt><dd>%llu contact%s</dd></dl></section>\n",
                (unsigned long long)s->dht_table, plural(s->dht_table));
    wbuf_printf(&b, "<section><h2>%zu peer%s</h2>", res->err == APP_OK ? res->u.peers.n : 0,
                res->err == APP_OK && res->u.peers.n == 1 ? "" : "s");
    if (res->err != APP_OK) {
        wbuf_puts(&b, "<p class=\"error\">");
        wbuf_html_str(&b, res->msg);
        wbuf_puts(&b, "</p>");
    } else if (res->u.peers.n > 0) {
        wbuf_puts(&b, "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Node</th>"
                      "<th scope=\"col\">Address</th><th scope=\"col\">Direction</th>"
                      "<th scope=\"col\">State</th><th scope=\"col\">Round trip</th>"
                      "<th scope=\"col\">Software</th></tr></thead><tbody>");
        for (size_t i = 0; i < res->u.peers.n; i++) {
            const app_peer_t *p = &res->u.peers.peers[i];
            char k[KEYTEXT_BUFSZ];
            key_text(k, KEYTEXT_NODE, p->key);
            k[16] = '\0';
            wbuf_printf(&b, "<tr><td><code>%s…</code></td><td><code>", k);
            wbuf_html_str(&b, p->endpoint[0] ? p->endpoint : "-");
            wbuf_printf(&b, "</code></td><td>%s</td><td>%s</td><td>", p->outbound ? "out" : "in",
                        p->ready ? "ready" : "connecting");
            if (p->rtt_us >= 0) {
                wbuf_printf(&b, "%.1f ms", (double)p->rtt_us / 1000.0);
            } else {
                wbuf_puts(&b, "-");
            }
            wbuf_puts(&b, "</td><td>");
            wbuf_html_str(&b, p->software);
            wbuf_puts(&b, "</td></tr>");
        }
        wbuf_puts(&b, "</tbody></table></div>");
    }
    wbuf_puts(&b, "</section>\n");
    page_end(r, &b, MHD_HTTP_OK);
}

static void
peers_after_status(web_req_t *r, app_result_t *res)
{
    if (res->err != APP_OK) {
        app_error_page(r, res, "Cannot show the status");
        return;
    }
    web_keep(r, res);
    app_request_t req = {.op = APP_OP_PEERS};
    web_call(r, &req, peers_render);
}

/* ---- routing ---- */

void
web_page_route(web_req_t *r)
{
    const char *u = r->url;
    bool get = r->method == WEB_GET || r->method == WEB_HEAD;
    bool post = r->method == WEB_POST;
    if (get && strcmp(u, "/") == 0) {
        page_timeline(r);
    } else if (post && strcmp(u, "/compose") == 0) {
        page_compose(r);
    } else if (get && strncmp(u, "/post/", 6) == 0) {
        page_thread(r, u + 6);
    } else if ((get || post) && strncmp(u, "/author/", 8) == 0) {
        page_author(r, u + 8);
    } else if (get && strcmp(u, "/follow") == 0) {
        follow_form(r, NULL, NULL, MHD_HTTP_OK);
    } else if (post && strcmp(u, "/follow") == 0) {
        follow_post(r);
    } else if ((get || post) && strcmp(u, "/me") == 0) {
        page_me(r);
    } else if (get && strcmp(u, "/peers") == 0) {
        app_request_t req = {.op = APP_OP_STATUS};
        web_call(r, &req, peers_after_status);
    } else if (get && strcmp(u, "/events") == 0) {
        web_stream_start(r, true);
    } else {
        web_page_error(r, MHD_HTTP_NOT_FOUND, "Not found", "There is no such page.");
    }
}
