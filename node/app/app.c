/* The app handle, its calls and the helpers every operation shares. */
#include "app.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app_int.h"
#include "bytes.h"
#include "defence.h"
#include "dhtid.h"
#include "keytext.h"

const char *
app_strerror(app_err_t err)
{
    switch (err) {
    case APP_OK:
        return "ok";
    case APP_ENOMEM:
        return "out of memory";
    case APP_EINVAL:
        return "bad input";
    case APP_ENOTFOUND:
        return "not found";
    case APP_EIO:
        return "input/output error";
    case APP_ELOCKED:
        return "the store is in use by another process";
    case APP_ENOKEY:
        return "no key in the data directory";
    case APP_EKEY:
        return "the key file cannot be used";
    case APP_EDENIED:
        return "refused";
    case APP_ENOTRUNNING:
        return "the node is not running";
    case APP_EPEER:
        return "the peer did not answer";
    case APP_EPROTO:
        return "bad answer on the control socket";
    case APP_ECANCELED:
        return "cancelled: the node is stopping";
    case APP_EBUSY:
        return "too many calls at once";
    case APP_EBEHIND:
        return "this store is behind on your own feed";
    }
    return "unknown app error";
}

static const char *const OP_NAMES[] = {
    [APP_OP_STATUS] = "status",       [APP_OP_POST] = "post",
    [APP_OP_REPLY] = "reply",         [APP_OP_DELETE] = "delete",
    [APP_OP_PROFILE] = "profile",     [APP_OP_FEED] = "feed",
    [APP_OP_SHOW] = "show",           [APP_OP_TIMELINE] = "timeline",
    [APP_OP_FOLLOW] = "follow",       [APP_OP_UNFOLLOW] = "unfollow",
    [APP_OP_FOLLOWING] = "following", [APP_OP_BLOCK] = "block",
    [APP_OP_UNBLOCK] = "unblock",     [APP_OP_BLOCKED] = "blocked",
    [APP_OP_EXPORT] = "export",       [APP_OP_IMPORT] = "import",
    [APP_OP_PEERS] = "peers",         [APP_OP_PEER_ADD] = "peer add",
    [APP_OP_LOOKUP] = "dht lookup",   [APP_OP_FIND_NODE] = "dht find-node",
    [APP_OP_INVITE] = "invite",       [APP_OP_JOIN] = "join",
    [APP_OP_THREAD] = "thread",
};

const char *
app_op_name(app_op_t op)
{
    if ((int)op < APP_OP_STATUS || op > APP_OP_LAST) {
        return "?";
    }
    return OP_NAMES[op];
}

bool
app_key_parse(const char *text, keytext_kind_t kind, uint8_t out[static KEYTEXT_VALUE_SIZE],
              char *msg, size_t cap)
{
    static const char *const names[] = {"an author key", "a node key", "a post id"};
    keytext_err_t err = keytext_decode(out, kind, text);
    if (err == KEYTEXT_OK) {
        return true;
    }
    /* Name the mix-up when someone passes one kind of key for another. */
    uint8_t tmp[KEYTEXT_VALUE_SIZE];
    for (int k = KEYTEXT_AUTHOR; k <= KEYTEXT_POST; k++) {
        if (k != (int)kind && keytext_decode(tmp, (keytext_kind_t)k, text) == KEYTEXT_OK) {
            snprintf(msg, cap, "'%s' is %s, not %s", text, names[k], names[kind]);
            return false;
        }
    }
    snprintf(msg, cap, "'%s' is not %s: %s", text, names[kind], keytext_strerror(err));
    return false;
}

bool
app_dht_id_parse(const char *text, uint8_t id[DHT_KEY_SIZE])
{
    uint8_t key[KEYS_PUBLIC_SIZE];
    if (keytext_decode(key, KEYTEXT_NODE, text) == KEYTEXT_OK) {
        dhtid_from_node_key(id, key);
        return true;
    }
    return strlen(text) == 2 * DHT_KEY_SIZE && bytes_from_hex(id, DHT_KEY_SIZE, text);
}

app_result_t *
app_result_new(app_op_t op)
{
    app_result_t *r = calloc(1, sizeof *r);
    if (r != NULL) {
        r->op = op;
    }
    return r;
}

void
app_result_free(app_result_t *r)
{
    if (r == NULL) {
        return;
    }
    switch (r->op) {
    case APP_OP_FEED:
        free(r->u.feed.forks);
        free(r->u.feed.posts);
        break;
    case APP_OP_TIMELINE:
        free(r->u.timeline.posts);
        break;
    case APP_OP_FOLLOWING:
    case APP_OP_BLOCKED:
        free(r->u.list.authors);
        break;
    case APP_OP_EXPORT:
        free(r->u.export_.path);
        free(r->u.export_.data);
        break;
    case APP_OP_PEERS:
        free(r->u.peers.peers);
        break;
    case APP_OP_LOOKUP:
        free(r->u.lookup.items);
        break;
    case APP_OP_THREAD:
        free(r->u.thread.items);
        break;
    default:
        break;
    }
    free(r);
}

app_err_t
app_fail(app_result_t *res, app_err_t err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->msg, sizeof res->msg, fmt, ap);
    va_end(ap);
    res->err = err;
    return err;
}

app_err_t
app_store_fail(app_t *a, app_result_t *res, store_err_t err, const char *what)
{
    const char *detail = a->store ? store_last_error(a->store) : "";
    switch (err) {
    case STORE_ENOTFOUND:
        return app_fail(res, APP_ENOTFOUND, "%s: not found", what);
    case STORE_ECORRUPT:
        return app_fail(res, APP_EIO, "%s: the store holds corrupt data (%s)%s", what,
                        store_strerror(err), APP_REPAIR_HINT);
    case STORE_ENOMEM:
        return app_fail(res, APP_ENOMEM, "%s: out of memory", what);
    case STORE_ELOCKED:
        return app_fail(res, APP_ELOCKED, "%s: %s", what, store_strerror(err));
    default:
        return app_fail(res, APP_EIO, "%s: %s%s%s", what, store_strerror(err),
                        detail[0] ? ": " : "", detail);
    }
}

static uint64_t
system_wall_ms(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t
app_now_ms(app_t *a)
{
    return a->wall_ms(a->wall_ud);
}

app_err_t
app_need_store(app_t *a, app_result_t *res)
{
    if (a->store != NULL) {
        return APP_OK;
    }
    datadir_err_t derr = datadir_ensure(a->dir);
    if (derr != DATADIR_OK) {
        return app_fail(res, APP_EIO, "%s: %s%s%s", a->dir, datadir_strerror(derr),
                        derr == DATADIR_EIO ? ": " : "",
                        derr == DATADIR_EIO ? strerror(errno) : "");
    }
    char path[APP_PATH_MAX];
    if (datadir_path(path, sizeof path, a->dir, "store") != DATADIR_OK) {
        return app_fail(res, APP_EIO, "data directory path is too long");
    }
    char detail[512] = "";
    store_err_t err = store_open(&a->store, path, NULL, detail, sizeof detail);
    if (err == STORE_ELOCKED) {
        return app_fail(res, APP_ELOCKED,
                        "the store in %s is in use by another samizdat process "
                        "(is a node running?)",
                        a->dir);
    }
    if (err != STORE_OK) {
        return app_fail(res, APP_EIO, "cannot open the store in %s: %s%s%s%s", path,
                        store_strerror(err), detail[0] ? ": " : "", detail, APP_REPAIR_HINT);
    }
    a->own_store = true;
    return APP_OK;
}

static app_err_t
keys_fail(app_t *a, app_result_t *res, keys_err_t err, const char *path)
{
    switch (err) {
    case KEYS_ENOENT:
        return app_fail(res, APP_ENOKEY, "no key in %s: run `samizdat init` first", a->dir);
    case KEYS_EPASSPHRASE:
    case KEYS_ECORRUPT:
    case KEYS_ETOOLONG:
        return app_fail(res, APP_EKEY, "%s: %s", path, keys_strerror(err));
    case KEYS_EIO:
        return app_fail(res, APP_EIO, "%s: %s: %s", path, keys_strerror(err), strerror(errno));
    default:
        return app_fail(res, APP_EIO, "%s: %s", path, keys_strerror(err));
    }
}

app_err_t
app_author_public(app_t *a, app_result_t *res, uint8_t pk[static KEYS_PUBLIC_SIZE])
{
    if (a->author != NULL) {
        memcpy(pk, a->author->pk, KEYS_PUBLIC_SIZE);
        return APP_OK;
    }
    char path[APP_PATH_MAX];
    if (datadir_path(path, sizeof path, a->dir, "author.key") != DATADIR_OK) {
        return app_fail(res, APP_EIO, "data directory path is too long");
    }
    bool sealed = false;
    keys_err_t err = keys_author_load_public(path, pk, &sealed);
    return err == KEYS_OK ? APP_OK : keys_fail(a, res, err, path);
}

app_err_t
app_author_key(app_t *a, app_result_t *res, const keys_author_t **out)
{
    if (a->author != NULL) {
        *out = a->author;
        return APP_OK;
    }
    if (a->key_loaded) {
        *out = &a->key;
        return APP_OK;
    }
    char path[APP_PATH_MAX];
    if (datadir_path(path, sizeof path, a->dir, "author.key") != DATADIR_OK) {
        return app_fail(res, APP_EIO, "data directory path is too long");
    }
    keys_err_t err = keys_author_load(path, NULL, &a->key);
    if (err == KEYS_ENEEDPASS) {
        if (a->passphrase == NULL) {
            return app_fail(res, APP_EKEY, "the author key is sealed with a passphrase");
        }
        char pass[KEYS_PASSPHRASE_MAX + 1];
        app_err_t perr =
            a->passphrase(a->passphrase_ud, pass, sizeof pass, res->msg, sizeof res->msg);
        if (perr != APP_OK) {
            sodium_memzero(pass, sizeof pass);
            res->err = perr;
            return perr;
        }
        err = keys_author_load(path, pass, &a->key);
        sodium_memzero(pass, sizeof pass);
    }
    if (err != KEYS_OK) {
        keys_author_wipe(&a->key);
        return keys_fail(a, res, err, path);
    }
    a->key_loaded = true;
    *out = &a->key;
    return APP_OK;
}

void
app_author_fill(app_t *a, app_author_t *out, const uint8_t author[static KEYS_PUBLIC_SIZE],
                uint64_t since_ms)
{
    memset(out, 0, sizeof *out);
    memcpy(out->author, author, KEYS_PUBLIC_SIZE);
    out->since_ms = since_ms;
    post_t prof;
    if (a->store != NULL && store_get_profile(a->store, author, &prof) == STORE_OK) {
        out->has_name = true;
        memcpy(out->name, prof.name, sizeof out->name);
    }
}

void
app_post_fill(app_t *a, app_post_t *out, const post_t *p)
{
    out->post = *p;
    post_t prof;
    if (a->store != NULL && store_get_profile(a->store, p->author, &prof) == STORE_OK) {
        snprintf(out->display_name, sizeof out->display_name, "%s", prof.name);
    } else {
        char t[KEYTEXT_BUFSZ];
        keytext_encode(t, KEYTEXT_AUTHOR, p->author);
        snprintf(out->display_name, sizeof out->display_name, "%.16s...", t);
    }
    bool deleted = false;
    if (a->store != NULL) {
        (void)store_is_deleted(a->store, p->id, &deleted, NULL);
    }
    out->deleted = deleted;
}

app_err_t
app_new(app_t **out, uv_loop_t *loop, const app_config_t *cfg)
{
    *out = NULL;
    if (loop == NULL || cfg == NULL || cfg->data_dir == NULL ||
        strlen(cfg->data_dir) >= APP_PATH_MAX) {
        return APP_EINVAL;
    }
    app_t *a = calloc(1, sizeof *a);
    if (a == NULL) {
        return APP_ENOMEM;
    }
    a->loop = loop;
    a->remote = cfg->remote;
    memcpy(a->dir, cfg->data_dir, strlen(cfg->data_dir) + 1);
    a->store = cfg->store;
    a->author = cfg->author;
    a->passphrase = cfg->passphrase;
    a->passphrase_ud = cfg->passphrase_ud;
    a->node = cfg->node;
    a->wall_ms = cfg->wall_ms ? cfg->wall_ms : system_wall_ms;
    a->wall_ud = cfg->wall_ud;
    a->own_off = defence_off(cfg->defences_off, "own-seq");
    if (a->node != NULL) {
        node_set_events(a->node, app_on_node_event, a);
    }
    *out = a;
    return APP_OK;
}

static void
app_release(app_t *a)
{
    if (!a->closing || a->n_jobs > 0) {
        return;
    }
    void (*cb)(void *) = a->close_cb;
    void *ud = a->close_ud;
    if (a->own_store) {
        store_close(a->store);
    }
    keys_author_wipe(&a->key);
    free(a);
    if (cb != NULL) {
        cb(ud);
    }
}

void
app_close(app_t *a, void (*cb)(void *ud), void *ud)
{
    if (a == NULL) {
        if (cb != NULL) {
            cb(ud);
        }
        return;
    }
    a->closing = true;
    if (a->node != NULL) {
        node_set_events(a->node, NULL, NULL);
    }
    memset(a->watches, 0, sizeof a->watches);
    a->n_watches = 0;
    a->close_cb = cb;
    a->close_ud = ud;
    /* Sliced jobs see `closing` at their next step and end cancelled. */
    app_release(a);
}

app_err_t
app_repair(const char *data_dir, uint64_t now_ms, app_repair_report_t *out, char *msg, size_t cap)
{
    memset(out, 0, sizeof *out);
    msg[0] = '\0';
    char path[APP_PATH_MAX];
    if (datadir_path(path, sizeof path, data_dir, "store") != DATADIR_OK) {
        snprintf(msg, cap, "data directory path is too long");
        return APP_EINVAL;
    }
    if (access(path, F_OK) != 0) {
        snprintf(msg, cap, "no store in %s: nothing to repair", data_dir);
        return APP_ENOTFOUND;
    }
    /* Opening takes LevelDB's lock: a store in use is not repaired under
     * the feet of its user. A store too damaged to open is not in use. */
    store_t *s = NULL;
    if (store_open(&s, path, NULL, NULL, 0) == STORE_ELOCKED) {
        snprintf(msg, cap, "the store in %s is in use (is a node running? stop it first)",
                 data_dir);
        return APP_ELOCKED;
    }
    store_close(s);
    char detail[400] = "";
    store_err_t err = store_repair(path, now_ms, out, detail, sizeof detail);
    if (err != STORE_OK) {
        snprintf(msg, cap, "repair: %s: %s", store_strerror(err), detail);
        return APP_EIO;
    }
    return APP_OK;
}

bool
app_busy(const app_t *a)
{
    return a->n_jobs > 0;
}

app_err_t
app_call(app_t *a, const app_request_t *req, app_done_cb cb, void *ud)
{
    if (a == NULL || req == NULL || cb == NULL || (int)req->op < APP_OP_STATUS ||
        req->op > APP_OP_LAST) {
        return APP_EINVAL;
    }
    if (a->closing) {
        return APP_ECANCELED;
    }
    app_result_t *res = app_result_new(req->op);
    if (res == NULL) {
        return APP_ENOMEM;
    }
    app_err_t err =
        a->remote ? app_remote_call(a, req, res, cb, ud) : app_local_call(a, req, res, cb, ud);
    if (err != APP_OK) {
        app_result_free(res);
    }
    return err;
}

/* ---- jobs ---- */

app_job_t *
app_job_new(app_t *a, app_result_t *res, app_done_cb cb, void *ud)
{
    if (a->n_jobs >= APP_JOBS_MAX) {
        return NULL;
    }
    app_job_t *j = calloc(1, sizeof *j);
    if (j == NULL) {
        return NULL;
    }
    j->app = a;
    j->res = res;
    j->cb = cb;
    j->ud = ud;
    j->next = a->jobs;
    a->jobs = j;
    a->n_jobs++;
    return j;
}

static void
job_unlink(app_job_t *j)
{
    app_t *a = j->app;
    for (app_job_t **pp = &a->jobs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    }
    a->n_jobs--;
}

static void
job_done(app_job_t *j)
{
    app_t *a = j->app;
    app_result_t *res = j->res;
    app_done_cb cb = j->cb;
    void *ud = j->ud;
    if (j->cleanup != NULL) {
        j->cleanup(j);
    }
    job_unlink(j);
    free(j);
    cb(ud, res);
    app_release(a);
}

static void
on_idle_closed(uv_handle_t *h)
{
    job_done(h->data);
}

void
app_job_finish(app_job_t *j)
{
    if (j->finishing) {
        return;
    }
    j->finishing = true;
    if (j->idle_open) {
        uv_idle_stop(&j->idle);
        uv_close((uv_handle_t *)&j->idle, on_idle_closed);
        return;
    }
    job_done(j);
}

static void
on_idle(uv_idle_t *h)
{
    app_job_t *j = h->data;
    if (j->finishing) {
        return;
    }
    if (j->app->closing) {
        app_fail(j->res, APP_ECANCELED, "%s: cancelled: the node is stopping",
                 app_op_name(j->res->op));
        app_job_finish(j);
        return;
    }
    if (j->step(j)) {
        app_job_finish(j);
    }
}

void
app_job_sleep(app_job_t *j)
{
    if (j->idle_open && !j->finishing) {
        uv_idle_stop(&j->idle);
    }
}

void
app_job_wake(app_job_t *j)
{
    if (j->idle_open && !j->finishing) {
        uv_idle_start(&j->idle, on_idle);
    }
}

app_err_t
app_job_start_idle(app_job_t *j)
{
    uv_idle_init(j->app->loop, &j->idle);
    j->idle.data = j;
    j->idle_open = true;
    uv_idle_start(&j->idle, on_idle);
    return APP_OK;
}
