/* The quick operations of a local app: each runs to the end inside
 * app_call, and the dispatcher that sends the long ones to app_jobs.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_int.h"
#include "keytext.h"
#include "node.h"
#include "ownmark.h"

/* ---- publishing ---- */

static bool
only_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
            return false;
        }
    }
    return true;
}

/* Checks and copies text into the post's body. A post or a reply must say
 * something: once published it can never be taken back from the feed. */
/* Says what is wrong with a text for a field, and where: its size, or
 * the first byte that is not valid UTF-8 or is a control character. */
static app_err_t
check_text(app_result_t *res, const char *what, const app_text_t *t, post_text_t field)
{
    utf8_problem_t problem;
    post_err_t err = post_text_check(t->text_len ? t->text : "", t->text_len, field, &problem);
    if (err == POST_ETOOLARGE) {
        return app_fail(res, APP_EINVAL, "%s is %zu bytes; the limit is %d", what, t->text_len,
                        field == POST_TEXT_NAME ? POST_NAME_MAX : POST_BODY_MAX);
    }
    if (err == POST_EUTF8) {
        char why[96];
        utf8_problem_describe(why, sizeof why, &problem);
        return app_fail(res, APP_EINVAL, "%s: %s", what, why);
    }
    return APP_OK;
}

static app_err_t
set_body(app_result_t *res, post_t *p, const app_text_t *t, bool required)
{
    if (check_text(res, "the text", t, POST_TEXT_BODY) != APP_OK) {
        return res->err;
    }
    if (required && only_space(t->text, t->text_len)) {
        return app_fail(res, APP_EINVAL,
                        t->text_len == 0 ? "the text is empty; there is nothing to post"
                                         : "the text is only white space; there is nothing to "
                                           "post");
    }
    post_err_t err = post_set_body(p, t->text_len ? t->text : "", t->text_len);
    if (err != POST_OK) {
        return app_fail(res, APP_EINVAL, "cannot post this text: %s", post_strerror(err));
    }
    return APP_OK;
}

/* Whether this author may sign post number top + 1 (node_own.c and
 * store/ownmark.h say why not always). Sets *top and *mark. */
static app_err_t
own_may_sign(app_t *a, app_result_t *res, const uint8_t pk[KEYS_PUBLIC_SIZE], uint64_t *top,
             uint64_t *mark)
{
    *top = *mark = 0;
    store_err_t err = store_own_top(a->store, pk, top);
    if (err != STORE_OK) {
        return app_store_fail(a, res, err, "publish");
    }
    if (a->own_off) {
        return APP_OK;
    }
    ownmark_err_t merr = ownmark_read(a->dir, pk, mark);
    if (merr != OWNMARK_OK) {
        return app_fail(res, APP_EIO,
                        "%s/%s: %s; it keeps the highest number you signed, so a store that "
                        "lost posts cannot sign them again. Remove it only if this store "
                        "holds all your posts",
                        a->dir, OWNMARK_FILE, ownmark_strerror(merr));
    }
    if (*mark > *top) {
        return app_fail(
            res, APP_EBEHIND,
            "not posting: this store holds your posts up to #%llu, but this "
            "computer signed up to #%llu (the store lost its newest writes, as "
            "after a crash); posting now would sign #%llu a second time. %s",
            (unsigned long long)*top, (unsigned long long)*mark, (unsigned long long)(*top + 1),
            a->node != NULL ? "The node is fetching them from peers that follow you; post "
                              "again when it has them"
                            : "Start the node (samizdat run) to fetch them from peers that "
                              "follow you, then post again. If no other node ever received "
                              "them, remove " OWNMARK_FILE " from the data directory");
    }
    if (a->node == NULL) {
        return APP_OK;
    }
    uint64_t network = 0;
    switch (node_own_check(a->node, *top, &network)) {
    case NODE_OWN_READY:
        return APP_OK;
    case NODE_OWN_CHECKING:
        return app_fail(res, APP_EBUSY,
                        "not posting yet: still asking peers and the DHT how far your feed "
                        "goes; try again in a few seconds");
    case NODE_OWN_BEHIND:
        break;
    }
    return app_fail(res, APP_EBEHIND,
                    "not posting: the network holds your posts up to #%llu, but this store "
                    "has them only up to #%llu (restored from a backup, or this key used on "
                    "another computer?); posting now would sign #%llu a second time. The "
                    "node is fetching them; post again when `samizdat feed` shows #%llu",
                    (unsigned long long)network, (unsigned long long)*top,
                    (unsigned long long)(*top + 1), (unsigned long long)network);
}

/* Signs and stores a draft; the running node spreads its head. The number
 * is marked as signed (fsynced) before the post exists anywhere. */
static app_err_t
publish(app_t *a, app_result_t *res, post_t *draft)
{
    const keys_author_t *k = NULL;
    if (app_author_key(a, res, &k) != APP_OK || app_need_store(a, res) != APP_OK) {
        return res->err;
    }
    uint64_t top = 0, mark = 0;
    if (own_may_sign(a, res, k->pk, &top, &mark) != APP_OK) {
        return res->err;
    }
    if (!a->own_off && top < UINT64_MAX) {
        ownmark_err_t merr = ownmark_write(a->dir, k->pk, top + 1);
        if (merr != OWNMARK_OK) {
            return app_fail(res, APP_EIO, "not posting: cannot write %s/%s: %s", a->dir,
                            OWNMARK_FILE, ownmark_strerror(merr));
        }
    }
    post_err_t perr = POST_OK;
    store_err_t err = store_publish(a->store, k, draft, &perr);
    if (err != STORE_OK && !a->own_off) {
        /* Nothing was signed into the store, so nothing left this process:
         * the number is free again. */
        (void)ownmark_write(a->dir, k->pk, top);
    }
    if (err == STORE_EINVAL) {
        return app_fail(res, APP_EINVAL, "cannot sign: %s", post_strerror(perr));
    }
    if (err != STORE_OK) {
        return app_store_fail(a, res, err, "publish");
    }
    if (a->node != NULL) {
        node_published(a->node, draft);
    }
    res->u.publish.post = *draft;
    return APP_OK;
}

bool
app_publish_ready(app_t *a)
{
    if (a->own_off || a->node == NULL || a->store == NULL) {
        return true;
    }
    const keys_author_t *k = a->author != NULL ? a->author : a->key_loaded ? &a->key : NULL;
    uint64_t top = 0, mark = 0, network = 0;
    if (k == NULL || store_own_top(a->store, k->pk, &top) != STORE_OK ||
        ownmark_read(a->dir, k->pk, &mark) != OWNMARK_OK) {
        return true; /* publish says what is wrong */
    }
    /* Behind the mark or the network: the node is fetching, so the post
     * waits for that too (bounded by the caller). */
    return mark <= top && node_own_check(a->node, top, &network) == NODE_OWN_READY;
}

static void
op_post(app_t *a, const app_request_t *req, app_result_t *res)
{
    post_t draft;
    post_init(&draft, POST_KIND_POST, 0, NULL, app_now_ms(a));
    if (set_body(res, &draft, &req->u.post.body, true) == APP_OK) {
        publish(a, res, &draft);
    }
}

static void
op_reply(app_t *a, const app_request_t *req, app_result_t *res)
{
    post_t draft;
    post_init(&draft, POST_KIND_REPLY, 0, NULL, app_now_ms(a));
    memcpy(draft.ref, req->u.reply.ref, POST_ID_SIZE);
    if (set_body(res, &draft, &req->u.reply.body, true) == APP_OK) {
        publish(a, res, &draft);
    }
}

static void
op_delete(app_t *a, const app_request_t *req, app_result_t *res)
{
    post_t draft;
    post_init(&draft, POST_KIND_DELETE, 0, NULL, app_now_ms(a));
    memcpy(draft.ref, req->u.del.ref, POST_ID_SIZE);
    uint8_t self[KEYS_PUBLIC_SIZE];
    if (app_author_public(a, res, self) != APP_OK || app_need_store(a, res) != APP_OK) {
        return;
    }
    char id[KEYTEXT_BUFSZ];
    keytext_encode(id, KEYTEXT_POST, draft.ref);
    post_t target;
    store_err_t err = store_get_post(a->store, draft.ref, &target, NULL, NULL);
    if (err != STORE_OK) {
        app_store_fail(a, res, err, id);
        return;
    }
    if (memcmp(target.author, self, KEYS_PUBLIC_SIZE) != 0) {
        app_fail(res, APP_EINVAL, "%s is not your post; you can delete only your own", id);
        return;
    }
    publish(a, res, &draft);
}

static void
op_profile(app_t *a, const app_request_t *req, app_result_t *res)
{
    const app_text_t *name = &req->u.profile.name;
    if (name->text_len == 0) {
        app_fail(res, APP_EINVAL, "a profile needs a name");
        return;
    }
    post_t draft;
    post_init(&draft, POST_KIND_PROFILE, 0, NULL, app_now_ms(a));
    if (check_text(res, "the name", name, POST_TEXT_NAME) != APP_OK) {
        return;
    }
    post_err_t err = post_set_name(&draft, name->text, name->text_len);
    if (err != POST_OK) {
        app_fail(res, APP_EINVAL, "name: %s (at most %d bytes, no control characters)",
                 post_strerror(err), POST_NAME_MAX);
        return;
    }
    if (req->u.profile.has_bio && set_body(res, &draft, &req->u.profile.bio, false) != APP_OK) {
        return;
    }
    publish(a, res, &draft);
}

/* ---- reading ---- */

static void
op_show(app_t *a, const app_request_t *req, app_result_t *res)
{
    if (app_need_store(a, res) != APP_OK) {
        return;
    }
    post_t p;
    store_err_t err =
        store_get_post(a->store, req->u.show.id, &p, res->u.show.raw, &res->u.show.raw_len);
    if (err != STORE_OK) {
        char id[KEYTEXT_BUFSZ];
        keytext_encode(id, KEYTEXT_POST, req->u.show.id);
        app_store_fail(a, res, err, id);
        return;
    }
    app_post_fill(a, &res->u.show.post, &p);
}

/* THREAD: the replies below a post, depth first. */
typedef struct {
    app_t *a;
    app_thread_t *t;
    uint32_t depth;
    post_t *kids; /* the replies of one post, read before descending */
    size_t n_kids;
} thread_walk_t;

static bool
collect_kid(void *ud, const post_t *p, const uint8_t *raw, size_t raw_len)
{
    (void)raw;
    (void)raw_len;
    thread_walk_t *w = ud;
    w->kids[w->n_kids++] = *p;
    return true;
}

static bool
note_any(void *ud, const post_t *p, const uint8_t *raw, size_t raw_len)
{
    (void)p;
    (void)raw;
    (void)raw_len;
    *(bool *)ud = true;
    return false;
}

static store_err_t
thread_below(app_t *a, app_thread_t *t, const uint8_t id[static POST_ID_SIZE], uint32_t depth)
{
    size_t room = APP_THREAD_MAX - t->n;
    if (room == 0 || depth > APP_THREAD_DEPTH) {
        /* Left out: say so when there was something to leave out. */
        bool any = false;
        store_err_t err = store_replies(a->store, id, 1, note_any, &any);
        t->truncated |= any;
        return err;
    }
    thread_walk_t w = {.a = a, .t = t, .depth = depth, .kids = malloc((room + 1) * sizeof(post_t))};
    if (w.kids == NULL) {
        return STORE_ENOMEM;
    }
    /* One more than there is room for shows whether some are left out. */
    store_err_t err = store_replies(a->store, id, room + 1, collect_kid, &w);
    for (size_t i = 0; err == STORE_OK && i < w.n_kids; i++) {
        if (t->n == APP_THREAD_MAX) {
            t->truncated = true;
            break;
        }
        app_post_fill(a, &t->items[t->n].post, &w.kids[i]);
        t->items[t->n++].depth = depth;
        err = thread_below(a, t, w.kids[i].id, depth + 1);
    }
    free(w.kids);
    return err;
}

static void
op_thread(app_t *a, const app_request_t *req, app_result_t *res)
{
    if (app_need_store(a, res) != APP_OK) {
        return;
    }
    app_thread_t *t = &res->u.thread;
    post_t p;
    store_err_t err = store_get_post(a->store, req->u.show.id, &p, NULL, NULL);
    if (err == STORE_OK) {
        t->items = calloc(APP_THREAD_MAX, sizeof *t->items);
        err = t->items != NULL ? STORE_OK : STORE_ENOMEM;
    }
    if (err != STORE_OK) {
        char id[KEYTEXT_BUFSZ];
        keytext_encode(id, KEYTEXT_POST, req->u.show.id);
        app_store_fail(a, res, err, id);
        return;
    }
    app_post_fill(a, &t->items[0].post, &p);
    t->n = 1;
    post_t parent;
    if (p.kind == POST_KIND_REPLY &&
        store_get_post(a->store, p.ref, &parent, NULL, NULL) == STORE_OK) {
        t->has_parent = true;
        app_post_fill(a, &t->parent, &parent);
    }
    err = thread_below(a, t, p.id, 1);
    if (err != STORE_OK) {
        app_store_fail(a, res, err, "thread");
    }
}

typedef struct {
    app_t *a;
    app_post_t *posts;
    size_t n;
    size_t cap;
    bool failed;
} collect_t;

static bool
collect_post(void *ud, const post_t *p, const uint8_t *raw, size_t raw_len)
{
    (void)raw;
    (void)raw_len;
    collect_t *c = ud;
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 32;
        app_post_t *np = realloc(c->posts, ncap * sizeof *np);
        if (np == NULL) {
            c->failed = true;
            return false;
        }
        c->posts = np;
        c->cap = ncap;
    }
    app_post_fill(c->a, &c->posts[c->n++], p);
    return true;
}

static void
op_timeline(app_t *a, const app_request_t *req, app_result_t *res)
{
    uint32_t limit = req->u.timeline.limit ? req->u.timeline.limit : APP_PAGE_DEFAULT;
    if (limit > APP_PAGE_MAX) {
        app_fail(res, APP_EINVAL, "a page holds at most %d posts", APP_PAGE_MAX);
        return;
    }
    uint8_t self[KEYS_PUBLIC_SIZE];
    if (app_author_public(a, res, self) != APP_OK || app_need_store(a, res) != APP_OK) {
        return;
    }
    store_cursor_t cur = {0};
    if (req->u.timeline.has_before) {
        post_t p;
        memcpy(cur.id, req->u.timeline.before, POST_ID_SIZE);
        store_err_t err = store_get_post(a->store, cur.id, &p, NULL, NULL);
        if (err != STORE_OK) {
            char id[KEYTEXT_BUFSZ];
            keytext_encode(id, KEYTEXT_POST, cur.id);
            app_store_fail(a, res, err, id);
            return;
        }
        cur.timestamp_ms = p.timestamp_ms;
    }
    collect_t c = {.a = a};
    store_err_t err = store_timeline(a->store, self, req->u.timeline.has_before ? &cur : NULL,
                                     limit, collect_post, &c);
    res->u.timeline.posts = c.posts;
    res->u.timeline.n_posts = c.n;
    if (c.failed) {
        app_fail(res, APP_ENOMEM, "timeline: out of memory");
        return;
    }
    if (err != STORE_OK) {
        app_store_fail(a, res, err, "timeline");
        return;
    }
    res->u.timeline.more = c.n == limit;
    if (c.n > 0) {
        memcpy(res->u.timeline.next_before, c.posts[c.n - 1].post.id, POST_ID_SIZE);
    }
}

/* ---- follows and blocks ---- */

static bool
is_self(app_t *a, const uint8_t author[static KEYS_PUBLIC_SIZE])
{
    uint8_t self[KEYS_PUBLIC_SIZE];
    bool sealed = false;
    char path[APP_PATH_MAX];
    if (a->author != NULL) {
        return memcmp(a->author->pk, author, KEYS_PUBLIC_SIZE) == 0;
    }
    /* No key yet means nobody is self. */
    return datadir_path(path, sizeof path, a->dir, "author.key") == DATADIR_OK &&
           keys_author_load_public(path, self, &sealed) == KEYS_OK &&
           memcmp(self, author, KEYS_PUBLIC_SIZE) == 0;
}

typedef struct {
    const uint8_t *author;
    uint64_t since;
} find_since_t;

static bool
match_since(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t since_ms)
{
    find_since_t *f = ud;
    if (memcmp(author, f->author, KEYS_PUBLIC_SIZE) == 0) {
        f->since = since_ms;
        return false;
    }
    return true;
}

/* When the author was followed (or blocked); 0 when not. */
static uint64_t
since(app_t *a, const uint8_t author[static KEYS_PUBLIC_SIZE], bool blocks)
{
    find_since_t f = {author, 0};
    if (blocks) {
        (void)store_blocked(a->store, match_since, &f);
    } else {
        (void)store_following(a->store, match_since, &f);
    }
    return f.since;
}

/* FOLLOW: the store part; the running node then looks the author up. */
static bool
op_follow(app_t *a, const app_request_t *req, app_result_t *res)
{
    const uint8_t *author = req->u.author.author;
    if (app_need_store(a, res) != APP_OK) {
        return false;
    }
    bool blocked = false;
    store_err_t err = store_is_blocked(a->store, author, &blocked);
    if (err == STORE_OK && blocked) {
        app_fail(res, APP_EDENIED, "this author is blocked; unblock first");
        return false;
    }
    if (err == STORE_OK) {
        err = store_follow(a->store, author, app_now_ms(a));
    }
    if (err != STORE_OK) {
        app_store_fail(a, res, err, "follow");
        return false;
    }
    app_author_fill(a, &res->u.author.author, author, since(a, author, false));
    app_emit_author(a, APP_EVENT_FOLLOW, &res->u.author.author);
    if (a->node == NULL) {
        return false;
    }
    node_follow_changed(a->node, author, true);
    return true;
}

static void
op_unmark(app_t *a, const app_request_t *req, app_result_t *res, bool blocks)
{
    const uint8_t *author = req->u.author.author;
    if (app_need_store(a, res) != APP_OK) {
        return;
    }
    store_err_t err = blocks ? store_unblock(a->store, author) : store_unfollow(a->store, author);
    if (err == STORE_ENOTFOUND) {
        app_fail(res, APP_ENOTFOUND, "%s",
                 blocks ? "this author is not blocked" : "you do not follow this author");
        return;
    }
    if (err != STORE_OK) {
        app_store_fail(a, res, err, blocks ? "unblock" : "unfollow");
        return;
    }
    if (a->node != NULL && !blocks) {
        node_follow_changed(a->node, author, false);
    }
    app_author_fill(a, &res->u.author.author, author, 0);
    app_emit_author(a, blocks ? APP_EVENT_UNBLOCK : APP_EVENT_UNFOLLOW, &res->u.author.author);
}

static void
op_block(app_t *a, const app_request_t *req, app_result_t *res)
{
    const uint8_t *author = req->u.author.author;
    if (is_self(a, author)) {
        app_fail(res, APP_EINVAL, "refusing to block your own author key");
        return;
    }
    if (app_need_store(a, res) != APP_OK) {
        return;
    }
    /* The name goes with the posts: read it first. */
    app_author_fill(a, &res->u.author.author, author, 0);
    store_err_t err = store_block(a->store, author, app_now_ms(a), &res->u.author.purged);
    if (err != STORE_OK) {
        app_store_fail(a, res, err, "block");
        return;
    }
    res->u.author.author.since_ms = since(a, author, true);
    if (a->node != NULL) {
        node_follow_changed(a->node, author, false);
    }
    app_emit_author(a, APP_EVENT_BLOCK, &res->u.author.author);
}

typedef struct {
    app_t *a;
    app_author_t *v;
    size_t n;
    size_t cap;
    bool failed;
} authors_t;

static bool
collect_author(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t since_ms)
{
    authors_t *l = ud;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        app_author_t *nv = realloc(l->v, ncap * sizeof *nv);
        if (nv == NULL) {
            l->failed = true;
            return false;
        }
        l->v = nv;
        l->cap = ncap;
    }
    app_author_fill(l->a, &l->v[l->n++], author, since_ms);
    return true;
}

static void
op_list(app_t *a, app_result_t *res, bool blocks)
{
    if (app_need_store(a, res) != APP_OK) {
        return;
    }
    authors_t l = {.a = a};
    store_err_t err = blocks ? store_blocked(a->store, collect_author, &l)
                             : store_following(a->store, collect_author, &l);
    res->u.list.authors = l.v;
    res->u.list.n = l.n;
    if (l.failed) {
        app_fail(res, APP_ENOMEM, "out of memory");
    } else if (err != STORE_OK) {
        app_store_fail(a, res, err, blocks ? "blocked" : "following");
    }
}

/* ---- the node ---- */

static void
op_status(app_t *a, app_result_t *res)
{
    app_status_t *s = &res->u.status;
    snprintf(s->data_dir, sizeof s->data_dir, "%s", a->dir);
    if (a->node == NULL && app_author_public(a, res, s->author) != APP_OK) {
        return;
    }
    if (a->node != NULL) {
        memcpy(s->author, node_author(a->node)->pk, KEYS_PUBLIC_SIZE);
    }
    s->has_author = true;
    if (app_need_store(a, res) != APP_OK) {
        return;
    }
    store_stats_t st;
    store_err_t err = store_stats(a->store, &st);
    if (err != STORE_OK) {
        app_store_fail(a, res, err, "status");
        return;
    }
    s->posts = st.posts;
    s->authors = st.authors;
    s->following = st.follows;
    s->forks = st.forks;
    if (a->node == NULL) {
        return;
    }
    s->running = true;
    memcpy(s->node_key, node_public_key(a->node), KEYS_PUBLIC_SIZE);
    snprintf(s->network, sizeof s->network, "%s", node_network(a->node));
    node_status_t ns;
    node_status(a->node, &ns);
    s->n_listen = ns.n_listen < APP_LISTEN_MAX ? ns.n_listen : APP_LISTEN_MAX;
    for (size_t i = 0; i < s->n_listen; i++) {
        snprintf(s->listen[i], sizeof s->listen[i], "%s", ns.listen[i]);
    }
    s->uptime_ms = ns.uptime_ms;
    s->peers = ns.peers_ready;
    s->peers_in = ns.peers_in;
    s->peers_out = ns.peers_out;
    s->contacts = ns.contacts;
    s->malformed = ns.malformed;
    s->oversized = ns.oversized;
    s->unknown = ns.unknown;
    s->unsolicited = ns.unsolicited;
    s->dropped_multipart = ns.transport.dropped_multipart;
    s->timeouts = ns.timeouts;
    s->flood_cuts = ns.transport.flood_cuts;
    if (ns.has_portmap) {
        s->portmap = (uint8_t)(1 + ns.portmap.state);
        memcpy(s->portmap_external, ns.portmap.external, sizeof s->portmap_external);
        snprintf(s->portmap_method, sizeof s->portmap_method, "%s", ns.portmap.method);
        s->portmap_lifetime_s = ns.portmap.lifetime_s;
        s->portmap_behind_nat = ns.portmap.behind_nat;
        memcpy(s->portmap_why, ns.portmap.why, sizeof s->portmap_why);
    }
    _Static_assert(APP_REACH_UNREACHABLE == (int)NODE_REACH_UNREACHABLE &&
                       APP_REACH_CHECKING == (int)NODE_REACH_CHECKING &&
                       APP_EP_UNREACHABLE == (int)NODE_EP_UNREACHABLE,
                   "app and node reachability values differ");
    s->reach = (uint8_t)ns.reach;
    s->n_reach = ns.n_reach < APP_REACH_MAX ? ns.n_reach : APP_REACH_MAX;
    for (size_t i = 0; i < s->n_reach; i++) {
        memcpy(s->reach_eps[i].endpoint, ns.reach_eps[i].endpoint, sizeof s->reach_eps[i].endpoint);
        s->reach_eps[i].verdict = (uint8_t)ns.reach_eps[i].verdict;
        s->reach_eps[i].onion = ns.reach_eps[i].onion;
    }
    s->n_relays = ns.n_relays < APP_RELAYS_MAX ? ns.n_relays : APP_RELAYS_MAX;
    for (size_t i = 0; i < s->n_relays; i++) {
        snprintf(s->relays[i], sizeof s->relays[i], "%s", ns.relays[i]);
    }
    s->relay_port = ns.relay_port;
    snprintf(s->relay_mapped, sizeof s->relay_mapped, "%s", ns.relay_mapped);
    s->relay_reservations = ns.relay_reservations;
    s->relay_circuits = ns.relay_circuits;
    _Static_assert(sizeof s->socks5 == sizeof ns.socks5 &&
                       sizeof s->circuits_why == sizeof ns.circuits_why,
                   "app and node proxy fields differ");
    memcpy(s->socks5, ns.socks5, sizeof s->socks5);
    s->circuit_per_peer = ns.circuit_per_peer;
    memcpy(s->circuits_why, ns.circuits_why, sizeof s->circuits_why);
    node_dht_status_t ds;
    node_dht_status(a->node, &ds);
    s->dht_table = ds.table;
    s->dht_records = ds.records;
    s->dht_announces = ds.announces;
    s->dht_lookups = ds.lookups;
    node_gossip_status_t gs;
    node_gossip_status(a->node, &gs);
    s->g_peers = gs.peers;
    s->g_received = gs.posts_received;
    s->g_stored = gs.posts_stored;
    s->g_duplicates = gs.posts_duplicate;
    s->g_invalid = gs.posts_invalid;
    s->g_forwarded = gs.posts_forwarded;
    s->g_rate_limited = gs.rate_limited;
    s->g_bytes_in = gs.bytes_received;
    s->g_bytes_out = gs.bytes_sent;
    s->g_forks = gs.forks;
}

typedef struct {
    app_peer_t *v;
    size_t n;
    size_t cap;
    bool failed;
} peers_t;

static bool
collect_peer(void *ud, const node_peer_info_t *p)
{
    peers_t *l = ud;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        app_peer_t *nv = realloc(l->v, ncap * sizeof *nv);
        if (nv == NULL) {
            l->failed = true;
            return false;
        }
        l->v = nv;
        l->cap = ncap;
    }
    app_peer_t *o = &l->v[l->n++];
    memset(o, 0, sizeof *o);
    memcpy(o->key, p->key, KEYS_PUBLIC_SIZE);
    memcpy(o->endpoint, p->endpoint, sizeof o->endpoint);
    memcpy(o->software, p->software, sizeof o->software);
    o->outbound = p->dir == TRANSPORT_OUT;
    o->ready = p->ready;
    o->last_seen_ms = p->last_seen_ms;
    o->rtt_us = p->rtt_us;
    return true;
}

static void
op_peers(app_t *a, app_result_t *res)
{
    if (a->node == NULL) {
        app_fail(res, APP_ENOTRUNNING, "the node is not running (start it: samizdat run)");
        return;
    }
    peers_t l = {0};
    node_peers(a->node, collect_peer, &l);
    res->u.peers.peers = l.v;
    res->u.peers.n = l.n;
    if (l.failed) {
        app_fail(res, APP_ENOMEM, "out of memory");
    }
}

static void
op_peer_save(app_t *a, const app_request_t *req, app_result_t *res)
{
    const char *ep = req->u.peer_add.endpoint;
    if (ep == NULL || !addr_dialable(ep)) {
        app_fail(res, APP_EINVAL, "'%s' is not an endpoint like tcp://192.0.2.1:7470",
                 ep ? ep : "");
        return;
    }
    if (app_need_store(a, res) != APP_OK) {
        return;
    }
    store_err_t err = store_peer_save(a->store, req->u.peer_add.key, ep, 0);
    if (err != STORE_OK) {
        app_store_fail(a, res, err, "peer add");
    }
}

/* ---- dispatch ---- */

app_err_t
app_local_call(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb, void *ud)
{
    switch (req->op) {
    case APP_OP_FEED:
        return app_start_feed(a, req, res, cb, ud);
    case APP_OP_IMPORT:
        return app_start_import(a, req, res, cb, ud);
    case APP_OP_EXPORT:
        return app_start_export(a, req, res, cb, ud);
    case APP_OP_LOOKUP:
        if (a->node != NULL) {
            return app_start_lookup(a, req, res, cb, ud);
        }
        break;
    case APP_OP_FIND_NODE:
        if (a->node != NULL) {
            return app_start_find_node(a, req, res, cb, ud);
        }
        break;
    case APP_OP_FOLLOW:
        if (op_follow(a, req, res)) {
            return app_start_follow_lookup(a, res, cb, ud);
        }
        cb(ud, res);
        return APP_OK;
    case APP_OP_PEER_ADD:
        if (a->node != NULL) {
            return app_start_peer_add(a, req, res, cb, ud);
        }
        op_peer_save(a, req, res);
        cb(ud, res);
        return APP_OK;
    case APP_OP_JOIN:
        return app_start_join(a, req, res, cb, ud);
    case APP_OP_POST:
    case APP_OP_REPLY:
    case APP_OP_DELETE:
    case APP_OP_PROFILE:
        if (!app_publish_ready(a)) {
            return app_start_publish_wait(a, req, res, cb, ud);
        }
        break;
    default:
        break;
    }
    app_quick_call(a, req, res);
    cb(ud, res);
    return APP_OK;
}

void
app_quick_call(app_t *a, const app_request_t *req, app_result_t *res)
{
    switch (req->op) {
    case APP_OP_STATUS:
        op_status(a, res);
        break;
    case APP_OP_POST:
        op_post(a, req, res);
        break;
    case APP_OP_REPLY:
        op_reply(a, req, res);
        break;
    case APP_OP_DELETE:
        op_delete(a, req, res);
        break;
    case APP_OP_PROFILE:
        op_profile(a, req, res);
        break;
    case APP_OP_SHOW:
        op_show(a, req, res);
        break;
    case APP_OP_TIMELINE:
        op_timeline(a, req, res);
        break;
    case APP_OP_THREAD:
        op_thread(a, req, res);
        break;
    case APP_OP_UNFOLLOW:
        op_unmark(a, req, res, false);
        break;
    case APP_OP_UNBLOCK:
        op_unmark(a, req, res, true);
        break;
    case APP_OP_BLOCK:
        op_block(a, req, res);
        break;
    case APP_OP_FOLLOWING:
        op_list(a, res, false);
        break;
    case APP_OP_BLOCKED:
        op_list(a, res, true);
        break;
    case APP_OP_PEERS:
        op_peers(a, res);
        break;
    case APP_OP_INVITE:
        app_op_invite(a, req, res);
        break;
    case APP_OP_LOOKUP:
    case APP_OP_FIND_NODE:
        app_fail(res, APP_ENOTRUNNING,
                 "dht: the node is not running (start it: samizdat run); the DHT lives in it");
        break;
    default:
        app_fail(res, APP_EINVAL, "unknown operation");
        break;
    }
}
