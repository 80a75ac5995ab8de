/* INVITE and JOIN: the way in for a newcomer. An invite names this node's
 * key, the endpoints it may be dialled at and the author to follow
 * (node/net/invite.h); JOIN is PEER_ADD on each endpoint in turn until one
 * completes the handshake, then FOLLOW of the author, both through
 * app_call like any front end's calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_int.h"
#include "node.h"

void
app_op_invite(app_t *a, const app_request_t *req, app_result_t *res)
{
    if (a->node == NULL) {
        app_fail(res, APP_ENOTRUNNING,
                 "the node is not running (start it: samizdat run); an invite names where it "
                 "listens");
        return;
    }
    invite_t *inv = &res->u.invite.invite;
    memcpy(inv->node_key, node_public_key(a->node), KEYS_PUBLIC_SIZE);
    if (!req->u.invite.no_author) {
        inv->has_author = app_author_public(a, res, inv->author) == APP_OK;
        if (!inv->has_author) {
            return;
        }
    }
    inv->n_endpoints = node_invite_endpoints(a->node, inv->endpoints, INVITE_ENDPOINTS_MAX);
    if (inv->n_endpoints == 0) {
        app_fail(res, APP_ENOTFOUND,
                 "this node has no address others could dial (start it with --announce "
                 "tcp://HOST:PORT, or --listen on an address)");
        return;
    }
    invite_err_t err = invite_encode(inv, res->u.invite.text);
    if (err != INVITE_OK) {
        app_fail(res, APP_EINVAL, "invite: %s", invite_strerror(err));
    }
}

typedef struct {
    app_job_t *job;
    uint32_t timeout_ms;
    size_t next;   /* the endpoint to try next */
    size_t saved;  /* offline: endpoints saved */
    char why[384]; /* what each endpoint that failed said */
} join_t;

static void join_next(join_t *s);

static void
join_end(join_t *s)
{
    app_job_t *j = s->job;
    free(s);
    app_job_finish(j);
}

static void
on_followed(void *ud, app_result_t *r)
{
    join_t *s = ud;
    app_result_t *res = s->job->res;
    if (r->err == APP_OK) {
        res->u.join.followed = true;
        res->u.join.author = r->u.author.author;
    } else {
        app_fail(res, r->err, "joined, but could not follow the invite's author: %s", r->msg);
    }
    app_result_free(r);
    join_end(s);
}

static void
join_follow(join_t *s)
{
    app_result_t *res = s->job->res;
    if (!res->u.join.invite.has_author) {
        join_end(s);
        return;
    }
    app_request_t req = {.op = APP_OP_FOLLOW};
    memcpy(req.u.author.author, res->u.join.invite.author, KEYS_PUBLIC_SIZE);
    app_err_t err = app_call(s->job->app, &req, on_followed, s);
    if (err != APP_OK) {
        app_fail(res, err, "joined, but could not follow the invite's author: %s",
                 app_strerror(err));
        join_end(s);
    }
}

static void
note_failure(join_t *s, const char *msg)
{
    size_t used = strlen(s->why);
    snprintf(s->why + used, sizeof s->why - used, "%s%s", used ? "; " : "", msg);
}

static void
on_peer_added(void *ud, app_result_t *r)
{
    join_t *s = ud;
    app_result_t *res = s->job->res;
    const char *ep = res->u.join.invite.endpoints[s->next - 1];
    if (r->err == APP_OK && r->u.peer_add.connected) {
        /* The invite's other relays: tried when this one goes away. */
        const invite_t *inv = &res->u.join.invite;
        for (size_t i = 0; i < inv->n_endpoints; i++) {
            node_add_alternate(s->job->app->node, inv->node_key, inv->endpoints[i]);
        }
        res->u.join.connected = true;
        res->u.join.rtt_us = r->u.peer_add.rtt_us;
        snprintf(res->u.join.endpoint, sizeof res->u.join.endpoint, "%s", ep);
        app_result_free(r);
        join_follow(s);
        return;
    }
    if (r->err == APP_OK) {
        s->saved++; /* offline: kept for the next start; save them all */
    } else {
        note_failure(s, r->msg);
    }
    app_result_free(r);
    join_next(s);
}

static void
join_next(join_t *s)
{
    app_result_t *res = s->job->res;
    const invite_t *inv = &res->u.join.invite;
    if (s->next >= inv->n_endpoints) {
        if (s->saved > 0) {
            join_follow(s);
            return;
        }
        app_fail(res, s->job->app->closing ? APP_ECANCELED : APP_EPEER,
                 "could not reach the invite's node: %s", s->why);
        join_end(s);
        return;
    }
    app_request_t req = {.op = APP_OP_PEER_ADD};
    memcpy(req.u.peer_add.key, inv->node_key, KEYS_PUBLIC_SIZE);
    req.u.peer_add.endpoint = inv->endpoints[s->next++];
    req.u.peer_add.timeout_ms = s->timeout_ms;
    app_err_t err = app_call(s->job->app, &req, on_peer_added, s);
    if (err != APP_OK) {
        note_failure(s, app_strerror(err));
        join_next(s);
    }
}

app_err_t
app_start_join(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb, void *ud)
{
    keytext_err_t kerr = KEYTEXT_OK;
    const char *text = req->u.join.invite ? req->u.join.invite : "";
    invite_err_t ierr = invite_decode(text, &res->u.join.invite, &kerr);
    if (ierr != INVITE_OK) {
        app_fail(res, APP_EINVAL, "not a valid invite: %s",
                 ierr == INVITE_ETEXT ? invite_text_strerror(kerr) : invite_strerror(ierr));
        cb(ud, res);
        return APP_OK;
    }
    res->u.join.rtt_us = -1;
    join_t *s = calloc(1, sizeof *s);
    app_job_t *j = s ? app_job_new(a, res, cb, ud) : NULL;
    if (j == NULL) {
        free(s);
        return s ? APP_EBUSY : APP_ENOMEM;
    }
    s->job = j;
    s->timeout_ms = req->u.join.timeout_ms;
    join_next(s);
    return APP_OK;
}
