/* app_int: what the app's files share. Not a public interface. */
#ifndef SAMIZDAT_APP_INT_H
#define SAMIZDAT_APP_INT_H

#include <stdarg.h>

#include "app.h"
#include "node.h"

typedef struct app_job app_job_t;

/* One step of a long call: does a slice of the work and returns true when
 * the call is finished (the result is then complete). */
typedef bool (*app_step_fn)(app_job_t *j);

/* A call that finishes later: sliced work on a uv_idle, a network wait, or
 * a remote round trip. */
struct app_job {
    app_t *app;
    app_result_t *res;
    app_done_cb cb;
    void *ud;
    app_step_fn step;              /* sliced work, or NULL */
    void (*cleanup)(app_job_t *j); /* frees what the job owns; may be NULL */
    void *state;                   /* the op's own state */
    uv_idle_t idle;
    bool idle_open;
    bool finishing;
    app_job_t *next;
};

struct app_watch {
    app_event_cb cb; /* NULL: a free slot */
    void *ud;
};

struct app {
    uv_loop_t *loop;
    struct app_watch watches[APP_WATCH_MAX];
    size_t n_watches;
    bool remote;
    char dir[APP_PATH_MAX];
    store_t *store;
    bool own_store;
    const keys_author_t *author;
    keys_author_t key; /* loaded on first need when cfg.author is NULL */
    bool key_loaded;
    app_passphrase_cb passphrase;
    void *passphrase_ud;
    struct node *node;
    uint64_t (*wall_ms)(void *ud);
    void *wall_ud;
    app_job_t *jobs;
    size_t n_jobs;
    bool closing;
    bool own_off; /* test only: the "own-seq" defence is off */
    void (*close_cb)(void *ud);
    void *close_ud;
};

enum { APP_JOBS_MAX = 64 };

/* Sets res->err and res->msg; returns err. */
app_err_t app_fail(app_result_t *res, app_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Translates a store error into the result. */
app_err_t app_store_fail(app_t *a, app_result_t *res, store_err_t err, const char *what);

uint64_t app_now_ms(app_t *a);
/* Opens the store when needed; on error fills res. */
app_err_t app_need_store(app_t *a, app_result_t *res);
/* The author's public key from the key file (no passphrase). */
app_err_t app_author_public(app_t *a, app_result_t *res, uint8_t pk[static KEYS_PUBLIC_SIZE]);
/* The unlocked author key, borrowed until app_close. */
app_err_t app_author_key(app_t *a, app_result_t *res, const keys_author_t **out);
/* Fills an app_post_t (display name, deleted) from the store. */
void app_post_fill(app_t *a, app_post_t *out, const post_t *p);
void app_author_fill(app_t *a, app_author_t *out, const uint8_t author[static KEYS_PUBLIC_SIZE],
                     uint64_t since_ms);

/* The node's event listener (app_watch.c). */
void app_on_node_event(void *ud, const node_event_t *e);
/* Tells the watchers that an author was followed, unfollowed, blocked or
 * unblocked. */
void app_emit_author(app_t *a, app_event_kind_t kind, const app_author_t *author);

/* Starts a job for res; the caller then sets step/state and calls
 * app_job_start_idle, or waits on the network and calls app_job_finish.
 * NULL when out of memory or too many calls (res is not taken then). */
app_job_t *app_job_new(app_t *a, app_result_t *res, app_done_cb cb, void *ud);
/* Runs j->step on the loop until it returns true. */
app_err_t app_job_start_idle(app_job_t *j);
/* A job waiting for something other than the loop (the thread pool) stops
 * its idle, and is woken to go on. */
void app_job_sleep(app_job_t *j);
void app_job_wake(app_job_t *j);
/* Finishes the job: the callback runs from the loop once its handle closed. */
void app_job_finish(app_job_t *j);

/* The operations (app_ops.c, app_jobs.c). Each fills res and either calls
 * cb before returning (quick ops) or starts a job. Returns APP_OK when the
 * callback will run (or ran). */
app_err_t app_local_call(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb,
                         void *ud);
app_err_t app_remote_call(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb,
                          void *ud);

/* Sliced and network ops (app_jobs.c). */
app_err_t app_start_feed(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb,
                         void *ud);
app_err_t app_start_import(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb,
                           void *ud);
app_err_t app_start_export(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb,
                           void *ud);
app_err_t app_start_lookup(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb,
                           void *ud);
app_err_t app_start_find_node(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb,
                              void *ud);
app_err_t app_start_follow_lookup(app_t *a, app_result_t *res, app_done_cb cb, void *ud);
app_err_t app_start_peer_add(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb,
                             void *ud);

/* Invites (app_invite.c). */
void app_op_invite(app_t *a, const app_request_t *req, app_result_t *res);
/* The quick operations: run to the end, no callback. */
void app_quick_call(app_t *a, const app_request_t *req, app_result_t *res);
/* Whether a publish may go ahead now: false while the running node is
 * still asking peers how far our own feed goes, or fetching the own posts
 * the store lacks (node_own_check, the own.seq mark). */
bool app_publish_ready(app_t *a);
/* Waits until app_publish_ready, at most NODE_OWN_CHECK_MS + 1 s, then
 * publishes or says what holds it back. */
app_err_t app_start_publish_wait(app_t *a, const app_request_t *req, app_result_t *res,
                                 app_done_cb cb, void *ud);
app_err_t app_start_join(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb,
                         void *ud);

#endif
