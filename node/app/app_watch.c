/* Events for front ends that watch: the node's posts and peers, and the
 * app's own follows and blocks, passed to each watcher. */
#include <string.h>

#include "app_int.h"
#include "node.h"

const char *
app_event_name(app_event_kind_t kind)
{
    switch (kind) {
    case APP_EVENT_POST:
        return "post";
    case APP_EVENT_FOLLOW:
        return "follow";
    case APP_EVENT_UNFOLLOW:
        return "unfollow";
    case APP_EVENT_BLOCK:
        return "block";
    case APP_EVENT_UNBLOCK:
        return "unblock";
    case APP_EVENT_PEER_UP:
        return "peer-up";
    case APP_EVENT_PEER_DOWN:
        return "peer-down";
    }
    return "?";
}

app_err_t
app_watch(app_t *a, app_event_cb cb, void *ud, app_watch_t **out)
{
    *out = NULL;
    if (a->remote || cb == NULL) {
        return APP_EINVAL;
    }
    for (size_t i = 0; i < APP_WATCH_MAX; i++) {
        if (a->watches[i].cb == NULL) {
            a->watches[i].cb = cb;
            a->watches[i].ud = ud;
            a->n_watches++;
            *out = &a->watches[i];
            return APP_OK;
        }
    }
    return APP_EBUSY;
}

void
app_unwatch(app_t *a, app_watch_t *w)
{
    if (w != NULL && w->cb != NULL) {
        w->cb = NULL;
        w->ud = NULL;
        a->n_watches--;
    }
}

/* A callback may unwatch any slot, itself included: each slot is read
 * just before it is called. */
static void
emit(app_t *a, const app_event_t *e)
{
    for (size_t i = 0; i < APP_WATCH_MAX && a->n_watches > 0; i++) {
        app_event_cb cb = a->watches[i].cb;
        if (cb != NULL) {
            cb(a->watches[i].ud, e);
        }
    }
}

void
app_emit_author(app_t *a, app_event_kind_t kind, const app_author_t *author)
{
    app_event_t e = {.kind = kind, .author = author};
    emit(a, &e);
}

static bool
on_timeline(app_t *a, const post_t *p)
{
    if (p->kind != POST_KIND_POST && p->kind != POST_KIND_REPLY) {
        return false;
    }
    if (a->node != NULL && memcmp(p->author, node_author(a->node)->pk, KEYS_PUBLIC_SIZE) == 0) {
        return true;
    }
    bool yes = false;
    return a->store != NULL && store_is_following(a->store, p->author, &yes) == STORE_OK && yes;
}

void
app_on_node_event(void *ud, const node_event_t *e)
{
    app_t *a = ud;
    if (a->n_watches == 0) {
        return;
    }
    if (e->kind == NODE_EVENT_POST) {
        /* Filled only when someone watches: it reads the store. */
        app_post_t p;
        app_post_fill(a, &p, e->post);
        app_event_t ev = {.kind = APP_EVENT_POST, .post = &p, .timeline = on_timeline(a, e->post)};
        emit(a, &ev);
        return;
    }
    app_event_t ev = {
        .kind = e->kind == NODE_EVENT_PEER_UP ? APP_EVENT_PEER_UP : APP_EVENT_PEER_DOWN,
        .key = e->key,
    };
    emit(a, &ev);
}
