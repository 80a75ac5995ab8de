/* The operations that take time: feed pages, import and export run in
 * slices on the loop (at most APP_SLICE_MS each, then the loop turns and the
 * node answers its peers); DHT lookups and `peer add` wait on the network. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app_int.h"
#include "dhtid.h"
#include "feedfile.h"
#include "keytext.h"
#include "node.h"

enum {
    FEED_CHUNK = 256,   /* posts read per store call in a feed page */
    EXPORT_CHUNK = 256, /* posts written per store call in an export */
    PARALLEL = 4,       /* authors looked up at once: two lookups each */
    PEER_POLL_MS = 50,
};

static bool
slice_over(uint64_t start_ns)
{
    return uv_hrtime() - start_ns >= (uint64_t)APP_SLICE_MS * 1000000u;
}

/* Makes a job of state, or, when that fails, frees state with cleanup and
 * answers res at once. NULL then. */
static app_job_t *
make_job(app_t *a, app_result_t *res, app_done_cb cb, void *ud, void *state,
         void (*cleanup)(app_job_t *j), app_step_fn step)
{
    app_job_t *j = app_job_new(a, res, cb, ud);
    if (j == NULL) {
        app_job_t tmp = {.state = state};
        if (cleanup != NULL) {
            cleanup(&tmp);
        }
        bool busy = a->n_jobs >= APP_JOBS_MAX;
        app_fail(res, busy ? APP_EBUSY : APP_ENOMEM, "%s: %s", app_op_name(res->op),
                 busy ? "too many calls at once" : "out of memory");
        cb(ud, res);
        return NULL;
    }
    j->state = state;
    j->cleanup = cleanup;
    j->step = step;
    return j;
}

/* ---- feed ---- */

typedef struct {
    uint8_t author[KEYS_PUBLIC_SIZE];
    uint64_t before; /* next chunk: posts below this seq (0: from the newest) */
    size_t limit;
    size_t cap;
} feed_state_t;

typedef struct {
    app_t *a;
    app_result_t *res;
    feed_state_t *st;
    size_t got;
    bool failed;
} feed_chunk_t;

static bool
feed_collect(void *ud, const post_t *p, const uint8_t *raw, size_t raw_len)
{
    (void)raw;
    (void)raw_len;
    feed_chunk_t *c = ud;
    app_feed_page_t *f = &c->res->u.feed;
    if (f->n_posts == c->st->cap) {
        size_t ncap = c->st->cap ? c->st->cap * 2 : 32;
        app_post_t *np = realloc(f->posts, ncap * sizeof *np);
        if (np == NULL) {
            c->failed = true;
            return false;
        }
        f->posts = np;
        c->st->cap = ncap;
    }
    app_post_fill(c->a, &f->posts[f->n_posts++], p);
    c->st->before = p->seq;
    c->got++;
    return true;
}

static bool
feed_step(app_job_t *j)
{
    feed_state_t *st = j->state;
    app_result_t *res = j->res;
    uint64_t start = uv_hrtime();
    do {
        size_t want = st->limit - res->u.feed.n_posts;
        want = want < FEED_CHUNK ? want : FEED_CHUNK;
        feed_chunk_t c = {j->app, res, st, 0, false};
        store_err_t err = store_feed(j->app->store, st->author, st->before, want, feed_collect, &c);
        if (c.failed) {
            app_fail(res, APP_ENOMEM, "feed: out of memory");
            return true;
        }
        if (err != STORE_OK) {
            app_store_fail(j->app, res, err, "feed");
            return true;
        }
        bool full = res->u.feed.n_posts == st->limit;
        if (c.got < want || full || st->before <= 1) {
            res->u.feed.more = full && st->before > 1;
            res->u.feed.next_before = res->u.feed.more ? st->before : 0;
            return true;
        }
    } while (!slice_over(start));
    return false;
}

static bool
fork_collect(void *ud, const store_fork_t *f)
{
    app_result_t *res = ud;
    size_t n = res->u.feed.n_forks;
    if ((n & (n - 1)) == 0) { /* grows at powers of two */
        store_fork_t *nf = realloc(res->u.feed.forks, (n ? n * 2 : 1) * sizeof *nf);
        if (nf == NULL) {
            return false;
        }
        res->u.feed.forks = nf;
    }
    res->u.feed.forks[res->u.feed.n_forks++] = *f;
    return true;
}

static void
job_free_state(app_job_t *j)
{
    free(j->state);
}

app_err_t
app_start_feed(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb, void *ud)
{
    uint32_t limit = req->u.feed.limit ? req->u.feed.limit : APP_PAGE_DEFAULT;
    uint8_t author[KEYS_PUBLIC_SIZE];
    if (limit > APP_PAGE_MAX) {
        app_fail(res, APP_EINVAL, "a page holds at most %d posts", APP_PAGE_MAX);
    } else if (req->u.feed.self) {
        app_author_public(a, res, author);
    } else {
        memcpy(author, req->u.feed.author, KEYS_PUBLIC_SIZE);
    }
    if (res->err == APP_OK) {
        app_need_store(a, res);
    }
    store_head_t h;
    if (res->err == APP_OK) {
        memcpy(res->u.feed.author, author, KEYS_PUBLIC_SIZE);
        store_err_t err = store_get_head(a->store, author, &h);
        if (err == STORE_ENOTFOUND) {
            app_fail(res, APP_ENOTFOUND, "no posts of this author are stored");
        } else if (err != STORE_OK) {
            app_store_fail(a, res, err, "feed");
        } else {
            res->u.feed.stored = true;
            res->u.feed.head_seq = h.seq;
            res->u.feed.max_seq = h.max_seq;
            post_t prof;
            if (store_get_profile(a->store, author, &prof) == STORE_OK) {
                res->u.feed.has_profile = true;
                app_post_fill(a, &res->u.feed.profile, &prof);
            }
            err = store_forks(a->store, author, fork_collect, res);
            if (err != STORE_OK) {
                app_store_fail(a, res, err, "feed");
            }
        }
    }
    if (res->err != APP_OK) {
        cb(ud, res);
        return APP_OK;
    }
    feed_state_t *st = calloc(1, sizeof *st);
    if (st == NULL) {
        app_fail(res, APP_ENOMEM, "feed: out of memory");
        cb(ud, res);
        return APP_OK;
    }
    memcpy(st->author, author, KEYS_PUBLIC_SIZE);
    st->before = req->u.feed.before_seq;
    st->limit = limit;
    app_job_t *j = make_job(a, res, cb, ud, st, job_free_state, feed_step);
    if (j == NULL) {
        return APP_OK;
    }
    /* A short page needs no slices: answer at once. */
    if (limit <= FEED_CHUNK) {
        feed_step(j);
        app_job_finish(j);
        return APP_OK;
    }
    return app_job_start_idle(j);
}

/* ---- import ---- */

/* An import reads the file in batches of posts; each batch's signatures
 * are checked on libuv's thread pool, split between IMPORT_WORKERS work
 * items, while the loop stores the batch before it (store_batch_begin), so
 * the checks use every core and the loop stays free for the node's peers.
 * Batches are stored in file order. */
enum {
    IMPORT_CHUNK = 4096,      /* bytes read from the file at a time */
    IMPORT_BATCH_POSTS = 512, /* posts of one batch */
    /* Batches checked or waiting at once. With 2, both were checked side
     * by side and came back together, so the cores idled while the loop
     * stored them: bench_ingest --import-only gave 1.56x of one core's
     * verify; with 4, 1.76x (3 gave 1.72x, 6 and 8 no more). */
    IMPORT_BATCHES = 4,
    IMPORT_WORKERS = 2,       /* work items a batch is split into */
};

typedef struct {
    uint8_t bytes[POST_MAX_SIZE];
    uint16_t len;
    post_t post;
    post_err_t err; /* of decoding and checking the signature */
} import_rec_t;

typedef struct import_state import_state_t;

typedef struct {
    import_state_t *st;
    import_rec_t *recs;
    size_t n;
    uint64_t order; /* the batch's place in the file */
    uv_work_t work[IMPORT_WORKERS];
    int pending; /* work items not back yet */
    bool filled; /* holds records, checked or being checked */
} import_batch_t;

struct import_state {
    FILE *f;
    uint8_t *data; /* a copy of the request's data, read through f */
    feedfile_reader_t *reader;
    uint8_t chunk[IMPORT_CHUNK];
    size_t chunk_len; /* bytes in chunk */
    size_t chunk_off; /* of which the reader has taken this many */
    import_batch_t batches[IMPORT_BATCHES];
    uint64_t next_fill, next_store; /* batch order numbers */
    bool at_end;                    /* the reader is done: eof, malformed, or a read error */
    feedfile_err_t end_err;         /* how it ended */
    feedfile_problem_t problem;
    int read_errno;
    int in_flight;  /* work items queued and not back */
    bool orphan;    /* the job ended while work was in flight: the last frees */
    app_job_t *job; /* to wake its idle when a batch is checked */
    uv_loop_t *loop;
};

static void
import_free(import_state_t *st)
{
    if (st->f != NULL) {
        fclose(st->f);
    }
    free(st->data);
    feedfile_reader_free(st->reader);
    for (int i = 0; i < IMPORT_BATCHES; i++) {
        free(st->batches[i].recs);
    }
    free(st);
}

static void
import_cleanup(app_job_t *j)
{
    import_state_t *st = j->state;
    if (st == NULL) {
        return;
    }
    if (st->in_flight > 0) {
        /* Workers still read the batches: the last one back frees them. */
        st->orphan = true;
        st->job = NULL;
        return;
    }
    import_free(st);
}

/* The next record of the file, through the feed-file reader (which checks
 * the framing and trusts no length). FEEDFILE_OK with *got false: a clean
 * end of the file. An error: *problem says where; a read error is
 * FEEDFILE_EIO with errno set. */
static feedfile_err_t
import_next(import_state_t *st, feedfile_record_t *rec, bool *got, feedfile_problem_t *problem)
{
    *got = false;
    for (;;) {
        if (st->chunk_off == st->chunk_len) {
            st->chunk_len = fread(st->chunk, 1, sizeof st->chunk, st->f);
            st->chunk_off = 0;
            if (st->chunk_len == 0) {
                if (ferror(st->f)) {
                    return FEEDFILE_EIO;
                }
                feedfile_err_t err = feedfile_reader_finish(st->reader);
                feedfile_reader_problem(st->reader, problem);
                return err;
            }
        }
        size_t used = 0;
        feedfile_err_t err = feedfile_reader_push(st->reader, st->chunk + st->chunk_off,
                                                  st->chunk_len - st->chunk_off, &used, rec, got);
        st->chunk_off += used;
        if (err != FEEDFILE_OK) {
            feedfile_reader_problem(st->reader, problem);
            return err;
        }
        if (*got) {
            return FEEDFILE_OK;
        }
    }
}

static void
note_refusal(app_result_t *res, const store_ingest_info_t *info)
{
    app_import_report_t *im = &res->u.import;
    im->refused++;
    if (im->n_refusals < APP_REFUSALS_MAX) {
        app_refusal_t *r = &im->refusals[im->n_refusals++];
        r->record = im->records;
        const char *why = info->result == STORE_INGEST_INVALID ? post_strerror(info->post_err)
                                                               : store_ingest_name(info->result);
        snprintf(r->why, sizeof r->why, "%s", why);
    }
}

/* ---- the pipeline ---- */

static void st_next_store(void *state);

static void
verify_work(uv_work_t *w)
{
    import_batch_t *b = w->data;
    size_t k = (size_t)(w - b->work);
    size_t from = b->n * k / IMPORT_WORKERS, to = b->n * (k + 1) / IMPORT_WORKERS;
    for (size_t i = from; i < to; i++) {
        import_rec_t *r = &b->recs[i];
        r->err = post_decode(&r->post, r->bytes, r->len, POST_VERIFY);
    }
}

static void
verify_done(uv_work_t *w, int status)
{
    (void)status;
    import_batch_t *b = w->data;
    import_state_t *st = b->st;
    b->pending--;
    st->in_flight--;
    if (st->orphan) {
        if (st->in_flight == 0) {
            import_free(st);
        }
        return;
    }
    if (b->pending == 0 && st->job != NULL) {
        app_job_wake(st->job);
    }
}

/* Reads up to IMPORT_BATCH_POSTS records into b; notes the end of the file
 * (or where it stopped making sense) in st. */
static void
fill_batch(import_state_t *st, import_batch_t *b)
{
    b->n = 0;
    while (b->n < IMPORT_BATCH_POSTS && !st->at_end) {
        feedfile_record_t rec;
        bool got = false;
        feedfile_err_t err = import_next(st, &rec, &got, &st->problem);
        if (err != FEEDFILE_OK || !got) {
            st->at_end = true;
            st->end_err = err;
            st->read_errno = errno;
            break;
        }
        import_rec_t *r = &b->recs[b->n++];
        memcpy(r->bytes, rec.post, rec.len);
        r->len = (uint16_t)rec.len;
    }
}

/* Fills the free batches and hands their checks to the thread pool. */
static app_err_t
start_batches(import_state_t *st)
{
    for (int i = 0; i < IMPORT_BATCHES && !st->at_end; i++) {
        import_batch_t *b = &st->batches[(st->next_fill) % IMPORT_BATCHES];
        if (b->filled) {
            break;
        }
        fill_batch(st, b);
        if (b->n == 0) {
            break;
        }
        b->filled = true;
        b->order = st->next_fill++;
        for (int k = 0; k < IMPORT_WORKERS; k++) {
            b->work[k].data = b;
            if (uv_queue_work(st->loop, &b->work[k], verify_work, verify_done) != 0) {
                /* Checked here instead: slower, but nothing is lost. */
                verify_work(&b->work[k]);
                continue;
            }
            b->pending++;
            st->in_flight++;
        }
    }
    return APP_OK;
}

static void
count_result(app_result_t *res, const store_ingest_info_t *info)
{
    app_import_report_t *im = &res->u.import;
    switch (info->result) {
    case STORE_INGEST_EXTENDED:
    case STORE_INGEST_AHEAD:
        im->added++;
        break;
    case STORE_INGEST_DUPLICATE:
        im->duplicates++;
        break;
    case STORE_INGEST_FORK:
        im->forks++;
        break;
    default:
        note_refusal(res, info);
        break;
    }
}

/* Stores a checked batch, in one store batch. */
static bool
store_batch(app_job_t *j, import_batch_t *b)
{
    app_t *a = j->app;
    app_result_t *res = j->res;
    bool batched = store_batch_begin(a->store) == STORE_OK;
    store_err_t err = STORE_OK;
    for (size_t i = 0; i < b->n && err == STORE_OK; i++) {
        import_rec_t *r = &b->recs[i];
        store_ingest_info_t info;
        memset(&info, 0, sizeof info);
        if (r->err != POST_OK) {
            info.result = STORE_INGEST_INVALID;
            info.post_err = r->err;
        } else {
            err = store_ingest_decoded(a->store, &r->post, r->bytes, r->len, app_now_ms(a), &info);
        }
        if (err == STORE_OK) {
            res->u.import.records++;
            count_result(res, &info);
        }
    }
    if (batched) {
        store_err_t end = store_batch_end(a->store);
        err = err != STORE_OK ? err : end;
    }
    b->filled = false;
    st_next_store(j->state);
    if (err != STORE_OK) {
        app_store_fail(a, res, err, "import");
        return false;
    }
    return true;
}
static void
st_next_store(void *state)
{
    ((import_state_t *)state)->next_store++;
}

/* The report's end: a clean end of the file, or where it stopped. */
static void
import_end(import_state_t *st, app_result_t *res)
{
    app_import_report_t *im = &res->u.import;
    if (st->end_err == FEEDFILE_EIO) {
        app_fail(res, APP_EIO, "read error: %s", strerror(st->read_errno));
    } else if (st->end_err != FEEDFILE_OK) {
        feedfile_problem_describe(im->malformed, sizeof im->malformed, &st->problem);
    } else {
        im->complete = true;
    }
}

static bool
import_step(app_job_t *j)
{
    import_state_t *st = j->state;
    /* The next batches' checks first, so they run while this one is stored. */
    start_batches(st);
    import_batch_t *b = &st->batches[st->next_store % IMPORT_BATCHES];
    if (b->filled && b->order == st->next_store && b->pending == 0) {
        if (!store_batch(j, b)) {
            return true;
        }
        start_batches(st);
        b = &st->batches[st->next_store % IMPORT_BATCHES];
    }
    if (!b->filled) {
        if (st->at_end && st->in_flight == 0) {
            import_end(st, j->res);
            return true;
        }
        return false;
    }
    if (b->pending > 0) {
        /* Nothing to store until the pool is back: sleep, not spin. */
        app_job_sleep(j);
    }
    return false;
}

/* Opens the source of an import: the file, or a copy of the request's data
 * (which lives only as long as the call). */
static void
import_open(import_state_t *st, const app_request_t *req, app_result_t *res)
{
    const char *path = req->u.import.path;
    size_t n = req->u.import.data_len;
    if (path != NULL) {
        st->f = fopen(path, "rb");
        if (st->f == NULL) {
            app_fail(res, errno == ENOENT ? APP_ENOTFOUND : APP_EIO, "%s: %s", path,
                     strerror(errno));
        }
        return;
    }
    if (n > APP_IMPORT_DATA_MAX) {
        app_fail(res, APP_EINVAL, "the feed file is larger than %d MiB",
                 APP_IMPORT_DATA_MAX / (1024 * 1024));
        return;
    }
    st->data = malloc(n ? n : 1);
    if (st->data != NULL && n > 0) {
        memcpy(st->data, req->u.import.data, n);
    }
    /* POSIX lets fmemopen refuse a zero-length buffer. */
    st->f = st->data == NULL ? NULL
            : n > 0          ? fmemopen(st->data, n, "rb")
                             : fopen("/dev/null", "rb");
    if (st->f == NULL) {
        app_fail(res, APP_ENOMEM, "import: out of memory");
    }
}

/* A file that does not start as a feed file is refused before anything is
 * taken from it: the first 8 bytes go through the reader now. */
static void
import_check_magic(import_state_t *st, const app_request_t *req, app_result_t *res)
{
    if (feedfile_reader_new(&st->reader) != FEEDFILE_OK) {
        app_fail(res, APP_ENOMEM, "import: out of memory");
        return;
    }
    st->chunk_len = fread(st->chunk, 1, FEEDFILE_MAGIC_SIZE, st->f);
    size_t used = 0;
    feedfile_record_t rec;
    bool got = false;
    feedfile_err_t err =
        feedfile_reader_push(st->reader, st->chunk, st->chunk_len, &used, &rec, &got);
    st->chunk_off = used;
    if (err == FEEDFILE_OK && st->chunk_len < FEEDFILE_MAGIC_SIZE && !ferror(st->f)) {
        err = feedfile_reader_finish(st->reader);
    }
    if (err != FEEDFILE_OK) {
        feedfile_problem_t problem;
        char why[128];
        feedfile_reader_problem(st->reader, &problem);
        feedfile_problem_describe(why, sizeof why, &problem);
        const char *path = req->u.import.path;
        app_fail(res, APP_EINVAL, "%s: %s", path ? path : "standard input", why);
    }
}

app_err_t
app_start_import(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb, void *ud)
{
    import_state_t *st = calloc(1, sizeof *st);
    if (st == NULL) {
        app_fail(res, APP_ENOMEM, "import: out of memory");
    } else {
        import_open(st, req, res);
    }
    if (res->err == APP_OK) {
        import_check_magic(st, req, res);
    }
    if (res->err == APP_OK) {
        app_need_store(a, res);
    }
    if (res->err != APP_OK) {
        app_job_t tmp = {.state = st};
        import_cleanup(&tmp);
        cb(ud, res);
        return APP_OK;
    }
    for (int i = 0; i < IMPORT_BATCHES && res->err == APP_OK; i++) {
        st->batches[i].st = st;
        st->batches[i].recs = calloc(IMPORT_BATCH_POSTS, sizeof *st->batches[i].recs);
        if (st->batches[i].recs == NULL) {
            app_fail(res, APP_ENOMEM, "import: out of memory");
        }
    }
    if (res->err != APP_OK) {
        app_job_t tmp = {.state = st};
        import_cleanup(&tmp);
        cb(ud, res);
        return APP_OK;
    }
    st->loop = a->loop;
    app_job_t *j = make_job(a, res, cb, ud, st, import_cleanup, import_step);
    if (j == NULL) {
        return APP_OK;
    }
    st->job = j;
    return app_job_start_idle(j);
}

/* ---- export ---- */

typedef struct {
    uint8_t author[KEYS_PUBLIC_SIZE];
    FILE *f;
    char *path; /* the target, or NULL for a result in memory */
    char *tmp;  /* the temporary file beside it */
    char *mem;  /* the memory stream's buffer */
    size_t mem_len;
    uint64_t from; /* next seq to write */
    bool failed;
    int saved_errno;
} export_state_t;

static void
export_cleanup(app_job_t *j)
{
    export_state_t *st = j->state;
    if (st == NULL) {
        return;
    }
    if (st->f != NULL) {
        fclose(st->f);
        if (st->tmp != NULL) {
            unlink(st->tmp);
        }
    }
    free(st->mem);
    free(st->path);
    free(st->tmp);
    free(st);
}

typedef struct {
    export_state_t *st;
    uint64_t count;
    size_t got;
} export_chunk_t;

static bool
write_record(void *ud, const post_t *p, const uint8_t *raw, size_t raw_len)
{
    export_chunk_t *c = ud;
    c->got++;
    c->st->from = p->seq + 1;
    if (feedfile_write_record(c->st->f, raw, raw_len) != FEEDFILE_OK) {
        c->st->failed = true;
        c->st->saved_errno = errno;
        return false;
    }
    c->count++;
    return true;
}

/* Flushes, syncs and renames the temporary file over the target, so a full
 * disk or a crash never leaves half a feed under the real name. */
static void
export_commit(export_state_t *st, app_result_t *res)
{
    FILE *f = st->f;
    st->f = NULL;
    if (st->path == NULL) {
        bool ok = fclose(f) == 0;
        if (!ok || st->mem_len > APP_EXPORT_DATA_MAX) {
            app_fail(res, ok ? APP_EINVAL : APP_ENOMEM,
                     ok ? "the feed is larger than %d MiB; export it to a file"
                        : "export: out of memory (%d MiB)",
                     APP_EXPORT_DATA_MAX / (1024 * 1024));
            return;
        }
        res->u.export_.data = (uint8_t *)st->mem;
        res->u.export_.data_len = st->mem_len;
        st->mem = NULL;
        return;
    }
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    int saved = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok && rename(st->tmp, st->path) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        unlink(st->tmp);
        app_fail(res, APP_EIO, "cannot write %s: %s", st->path, strerror(saved));
        return;
    }
    res->u.export_.path = st->path;
    st->path = NULL;
}

static bool
export_step(app_job_t *j)
{
    export_state_t *st = j->state;
    app_result_t *res = j->res;
    uint64_t start = uv_hrtime();
    do {
        export_chunk_t c = {st, 0, 0};
        store_err_t err =
            store_feed_forward(j->app->store, st->author, st->from, EXPORT_CHUNK, write_record, &c);
        res->u.export_.posts += c.count;
        if (st->failed) {
            app_fail(res, APP_EIO, "cannot write %s: %s", st->path ? st->path : "the feed",
                     strerror(st->saved_errno));
            return true;
        }
        if (err != STORE_OK) {
            app_store_fail(j->app, res, err, "export");
            return true;
        }
        if (c.got < EXPORT_CHUNK) {
            export_commit(st, res);
            return true;
        }
    } while (!slice_over(start));
    return false;
}

static char *
dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

static void
export_open(app_t *a, export_state_t *st, const app_request_t *req, app_result_t *res)
{
    const char *path = req->u.export_.path;
    memcpy(st->author, req->u.export_.author, KEYS_PUBLIC_SIZE);
    st->from = 1;
    if (app_need_store(a, res) != APP_OK) {
        return;
    }
    /* Nothing stored: say so and write nothing, not an empty file. */
    store_head_t h;
    store_err_t err = store_get_head(a->store, st->author, &h);
    if (err == STORE_ENOTFOUND) {
        app_fail(res, APP_ENOTFOUND, "no posts of this author are stored; nothing to export");
        return;
    }
    if (err != STORE_OK) {
        app_store_fail(a, res, err, "export");
        return;
    }
    struct stat sb;
    if (path != NULL && !req->u.export_.force && stat(path, &sb) == 0) {
        app_fail(res, APP_EDENIED, "%s exists; use --force to replace it", path);
        return;
    }
    if (path == NULL) {
        st->f = open_memstream(&st->mem, &st->mem_len);
    } else {
        size_t n = strlen(path) + sizeof ".tmp-XXXXXX";
        st->path = dup_str(path);
        st->tmp = malloc(n);
        if (st->path == NULL || st->tmp == NULL) {
            app_fail(res, APP_ENOMEM, "export: out of memory");
            return;
        }
        snprintf(st->tmp, n, "%s.tmp-XXXXXX", path);
        int fd = mkstemp(st->tmp);
        st->f = fd >= 0 ? fdopen(fd, "wb") : NULL;
        if (st->f == NULL) {
            int saved = errno;
            if (fd >= 0) {
                close(fd);
                unlink(st->tmp);
            }
            free(st->tmp);
            st->tmp = NULL;
            app_fail(res, APP_EIO, "cannot create %s: %s", path, strerror(saved));
            return;
        }
    }
    if (st->f == NULL) {
        app_fail(res, APP_ENOMEM, "export: out of memory");
    } else if (feedfile_write_header(st->f) != FEEDFILE_OK) {
        app_fail(res, APP_EIO, "cannot write %s: %s", path ? path : "the feed", strerror(errno));
    }
}

app_err_t
app_start_export(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb, void *ud)
{
    export_state_t *st = calloc(1, sizeof *st);
    if (st == NULL) {
        app_fail(res, APP_ENOMEM, "export: out of memory");
    } else {
        export_open(a, st, req, res);
    }
    if (res->err != APP_OK) {
        app_job_t tmp = {.state = st};
        export_cleanup(&tmp);
        cb(ud, res);
        return APP_OK;
    }
    app_job_t *j = make_job(a, res, cb, ud, st, export_cleanup, export_step);
    return j == NULL ? APP_OK : app_job_start_idle(j);
}

/* ---- DHT lookups ---- */

typedef struct lookup_job lookup_job_t;

typedef struct {
    lookup_job_t *lj;
    app_lookup_t *out;
    int waiting; /* lookups not finished */
} query_t;

struct lookup_job {
    app_job_t *job;
    bool follow; /* FOLLOW: one query, into res->u.author.lookup */
    size_t n;
    size_t started;
    size_t finished;
    bool starting; /* inside start_next */
    query_t q[APP_LOOKUP_MAX];
};

static void start_next(lookup_job_t *lj);

static void
query_done(query_t *q)
{
    lookup_job_t *lj = q->lj;
    lj->finished++;
    /* While start_next runs, it takes the freed slot and finishes the job. */
    if (!lj->starting) {
        start_next(lj);
    }
}

static void
note_cost(app_lookup_t *o, const dht_result_t *r)
{
    o->hops = r->hops > o->hops ? r->hops : o->hops;
    o->messages += r->messages;
    o->ms = r->elapsed_ms > o->ms ? r->elapsed_ms : o->ms;
}

static void
on_providers(void *ud, const dht_result_t *r)
{
    query_t *q = ud;
    app_lookup_t *o = q->out;
    o->providers_status = (uint8_t)r->status;
    o->n_providers = r->n_providers < DHT_PROVIDERS_MAX ? r->n_providers : DHT_PROVIDERS_MAX;
    memcpy(o->providers, r->providers, o->n_providers * sizeof *o->providers);
    note_cost(o, r);
    if (--q->waiting == 0) {
        query_done(q);
    }
}

static void
on_head(void *ud, const dht_result_t *r)
{
    query_t *q = ud;
    app_lookup_t *o = q->out;
    o->head_status = (uint8_t)r->status;
    note_cost(o, r);
    if (r->status == DHT_OK && r->head != NULL) {
        /* The dht verified the head: seq and post id are at fixed places
         * (crypto/head.h): version, author, seq, id. */
        o->has_head = true;
        o->head_seq = r->head_seq;
        memcpy(o->head_id, r->head + 1 + KEYS_PUBLIC_SIZE + 8, POST_ID_SIZE);
    }
    if (--q->waiting == 0) {
        query_done(q);
    }
}

static dht_err_t
from_node_err(node_err_t e)
{
    return e == NODE_ENOPEERS ? DHT_ENOPEERS : e == NODE_EBUSY ? DHT_EBUSY : DHT_ENOMEM;
}

/* Starts both lookups of q. A lookup that cannot start counts as finished
 * with its error, so the query still completes. */
static void
start_query(lookup_job_t *lj, query_t *q)
{
    node_t *n = lj->job->app->node;
    q->waiting = 2;
    node_err_t e = node_find_providers(n, q->out->author, on_providers, q);
    if (e != NODE_OK) {
        q->out->providers_status = (uint8_t)from_node_err(e);
        q->waiting--;
    }
    e = node_find_head(n, q->out->author, on_head, q);
    if (e != NODE_OK) {
        q->out->head_status = (uint8_t)from_node_err(e);
        q->waiting--;
    }
    if (q->waiting == 0) {
        query_done(q);
    }
}

/* Starts queries up to PARALLEL at once, and finishes the job when all are
 * done. A query may complete inside start_query (its lookups could not
 * start), so the job is finished here, after the loop, never inside it. */
static void
start_next(lookup_job_t *lj)
{
    lj->starting = true;
    while (lj->started < lj->n && lj->started - lj->finished < PARALLEL) {
        start_query(lj, &lj->q[lj->started++]);
    }
    lj->starting = false;
    if (lj->finished < lj->n) {
        return;
    }
    app_job_t *j = lj->job;
    if (lj->follow) {
        app_lookup_t *o = &j->res->u.author.lookup;
        j->res->u.author.looked_up = true;
        if (o->has_head && j->app->node != NULL) {
            /* While the node fetches a long feed, its log shows progress. */
            node_feed_expected(j->app->node, o->author, o->head_seq);
        }
    }
    app_job_finish(j);
}

static lookup_job_t *
lookup_new(app_t *a, app_result_t *res, app_done_cb cb, void *ud)
{
    lookup_job_t *lj = calloc(1, sizeof *lj);
    if (lj == NULL) {
        app_fail(res, APP_ENOMEM, "%s: out of memory", app_op_name(res->op));
        cb(ud, res);
        return NULL;
    }
    app_job_t *j = make_job(a, res, cb, ud, lj, job_free_state, NULL);
    if (j == NULL) {
        return NULL; /* lj freed, res answered */
    }
    lj->job = j;
    return lj;
}

app_err_t
app_start_lookup(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb, void *ud)
{
    size_t n = req->u.lookup.n;
    if (n == 0 || n > APP_LOOKUP_MAX || req->u.lookup.authors == NULL) {
        app_fail(res, APP_EINVAL, "dht lookup: 1 to %d authors at once", APP_LOOKUP_MAX);
        cb(ud, res);
        return APP_OK;
    }
    res->u.lookup.items = calloc(n, sizeof *res->u.lookup.items);
    if (res->u.lookup.items == NULL) {
        app_fail(res, APP_ENOMEM, "dht lookup: out of memory");
        cb(ud, res);
        return APP_OK;
    }
    res->u.lookup.n = n;
    lookup_job_t *lj = lookup_new(a, res, cb, ud);
    if (lj == NULL) {
        return APP_OK;
    }
    lj->n = n;
    for (size_t i = 0; i < n; i++) {
        lj->q[i].lj = lj;
        lj->q[i].out = &res->u.lookup.items[i];
        memcpy(lj->q[i].out->author, req->u.lookup.authors + KEYS_PUBLIC_SIZE * i,
               KEYS_PUBLIC_SIZE);
    }
    start_next(lj);
    return APP_OK;
}

app_err_t
app_start_follow_lookup(app_t *a, app_result_t *res, app_done_cb cb, void *ud)
{
    lookup_job_t *lj = lookup_new(a, res, cb, ud);
    if (lj == NULL) {
        return APP_OK;
    }
    lj->follow = true;
    lj->n = 1;
    lj->q[0].lj = lj;
    lj->q[0].out = &res->u.author.lookup;
    memcpy(lj->q[0].out->author, res->u.author.author.author, KEYS_PUBLIC_SIZE);
    start_next(lj);
    return APP_OK;
}

static void
on_find_node(void *ud, const dht_result_t *r)
{
    app_job_t *j = ud;
    app_find_node_t *o = &j->res->u.find_node;
    o->status = (uint8_t)r->status;
    o->n = r->n_contacts < DHT_NODES_MAX ? r->n_contacts : DHT_NODES_MAX;
    memcpy(o->contacts, r->contacts, o->n * sizeof *o->contacts);
    o->hops = r->hops;
    o->messages = r->messages;
    o->ms = r->elapsed_ms;
    app_job_finish(j);
}

app_err_t
app_start_find_node(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb, void *ud)
{
    memcpy(res->u.find_node.target, req->u.find_node.target, DHT_KEY_SIZE);
    app_job_t *j = make_job(a, res, cb, ud, NULL, NULL, NULL);
    if (j == NULL) {
        return APP_OK;
    }
    node_err_t e = node_find_node(a->node, req->u.find_node.target, on_find_node, j);
    if (e != NODE_OK) {
        app_fail(res,
                 e == NODE_ENOMEM  ? APP_ENOMEM
                 : e == NODE_EBUSY ? APP_EBUSY
                                   : APP_EIO,
                 "dht: %s", node_strerror(e));
        app_job_finish(j);
    }
    return APP_OK;
}

/* ---- peer add ---- */

/* Waits for the handshake with the new peer. Beside the node's own dial, a
 * plain TCP connection to the endpoint tells "connection refused" from "no
 * answer"; a port that accepts TCP but never completes the handshake is a
 * wrong node key (or not a samizdat node). */
typedef struct {
    uint8_t key[KEYS_PUBLIC_SIZE];
    char endpoint[WIRE_ENDPOINT_MAX + 1];
    uint64_t deadline_ms;
    uint32_t timeout_ms;
    uv_timer_t timer;
    uv_tcp_t tcp;
    uv_connect_t conn;
    bool timer_open, tcp_open, probing;
    bool seen;         /* the node has had a connection to the peer under way */
    int probe;         /* 0: unknown, 1: TCP connected, < 0: libuv error */
    int open;          /* handles not closed yet */
    uint64_t ready_ms; /* when the handshake was seen through; 0 before */
    app_job_t *job;
} peer_wait_t;

typedef struct {
    const uint8_t *key;
    bool found;
    bool ready;
    int64_t rtt;
} peer_find_t;

static bool
find_peer(void *ud, const node_peer_info_t *p)
{
    peer_find_t *f = ud;
    if (memcmp(p->key, f->key, KEYS_PUBLIC_SIZE) != 0) {
        return true;
    }
    f->found = true;
    if (p->ready) {
        f->ready = true;
        f->rtt = p->rtt_us;
        return false;
    }
    return true;
}

static peer_find_t
find(app_t *a, const uint8_t key[KEYS_PUBLIC_SIZE])
{
    peer_find_t f = {key, false, false, -1};
    if (a->node != NULL) {
        node_peers(a->node, find_peer, &f);
    }
    return f;
}

static void
peer_wait_closed(uv_handle_t *h)
{
    peer_wait_t *w = h->data;
    if (--w->open == 0) {
        app_job_t *j = w->job;
        free(w);
        app_job_finish(j);
    }
}

static void
peer_wait_end(peer_wait_t *w)
{
    if (w->timer_open) {
        w->timer_open = false;
        uv_close((uv_handle_t *)&w->timer, peer_wait_closed);
    }
    if (w->tcp_open) {
        w->tcp_open = false;
        uv_close((uv_handle_t *)&w->tcp, peer_wait_closed);
    }
}

static void
on_probe(uv_connect_t *req, int status)
{
    peer_wait_t *w = req->data;
    w->probing = false;
    w->probe = status == 0 ? 1 : status;
}

static void
on_peer_tick(uv_timer_t *t)
{
    peer_wait_t *w = t->data;
    app_result_t *res = w->job->res;
    peer_find_t f = find(w->job->app, w->key);
    uint64_t now = uv_now(t->loop);
    if (f.ready && w->ready_ms == 0) {
        w->ready_ms = now;
    }
    /* Ready: the node pings the peer at once, so its round trip is a
     * moment away; waited for a little, not for ever. */
    if (f.ready && (f.rtt >= 0 || now - w->ready_ms >= APP_RTT_WAIT_MS || now >= w->deadline_ms)) {
        res->u.peer_add.connected = true;
        res->u.peer_add.rtt_us = f.rtt;
        peer_wait_end(w);
        return;
    }
    if (f.ready) {
        return;
    }
    if (w->probe < 0) {
        app_fail(res, APP_EPEER, "%s: unreachable: %s", w->endpoint,
                 w->probe == UV_ECONNREFUSED ? "connection refused" : uv_strerror(w->probe));
        peer_wait_end(w);
        return;
    }
    if (w->seen && !f.found && w->probe == 1) {
        /* The port answers TCP, and the node dropped its connection before
         * the handshake completed: the key is not the one that port has. */
        app_fail(res, APP_EPEER, "%s: the handshake failed: wrong node key, or not a samizdat node",
                 w->endpoint);
        peer_wait_end(w);
        return;
    }
    w->seen = w->seen || f.found;
    if (w->job->app->closing || uv_now(t->loop) >= w->deadline_ms) {
        if (w->job->app->closing) {
            app_fail(res, APP_ECANCELED, "peer add: cancelled: the node is stopping");
        } else if (w->probe == 1) {
            app_fail(res, APP_EPEER,
                     "%s: no handshake within %u s: wrong node key, or not a samizdat node",
                     w->endpoint, (unsigned)((w->timeout_ms + 999) / 1000));
        } else {
            app_fail(res, APP_EPEER, "%s: no answer within %u s", w->endpoint,
                     (unsigned)((w->timeout_ms + 999) / 1000));
        }
        peer_wait_end(w);
    }
}

/* tcp://HOST:PORT with a numeric host, as a socket address; false for a
 * name (no probe then: the node resolves names itself). */
static bool
endpoint_addr(const char *ep, struct sockaddr_storage *out)
{
    if (strncmp(ep, "tcp://", 6) != 0) {
        return false;
    }
    const char *h = ep + 6;
    const char *colon = strrchr(h, ':');
    if (colon == NULL) {
        return false;
    }
    char host[WIRE_ENDPOINT_MAX + 1];
    size_t hl = (size_t)(colon - h);
    if (hl >= sizeof host || hl == 0) {
        return false;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port <= 0 || port > 65535) {
        return false;
    }
    if (host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)out) == 0;
    }
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) == 0;
}

app_err_t
app_start_peer_add(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb, void *ud)
{
    const char *ep = req->u.peer_add.endpoint;
    if (ep == NULL || !addr_dialable(ep)) {
        app_fail(res, APP_EINVAL, "'%s' is not an endpoint like tcp://192.0.2.1:7470",
                 ep ? ep : "");
        cb(ud, res);
        return APP_OK;
    }
    uint32_t timeout = req->u.peer_add.timeout_ms ? req->u.peer_add.timeout_ms : APP_PEER_WAIT_MS;
    if (timeout > APP_PEER_WAIT_MAX_MS) {
        timeout = APP_PEER_WAIT_MAX_MS;
    }
    node_err_t e = node_add_peer(a->node, req->u.peer_add.key, ep);
    if (e != NODE_OK) {
        app_fail(res, APP_EINVAL, "peer add: %s", node_strerror(e));
        cb(ud, res);
        return APP_OK;
    }
    res->u.peer_add.rtt_us = -1;
    peer_wait_t *w = calloc(1, sizeof *w);
    if (w == NULL) {
        app_fail(res, APP_ENOMEM, "peer add: out of memory");
        cb(ud, res);
        return APP_OK;
    }
    app_job_t *j = make_job(a, res, cb, ud, NULL, NULL, NULL);
    if (j == NULL) {
        free(w);
        return APP_OK;
    }
    w->job = j;
    memcpy(w->key, req->u.peer_add.key, KEYS_PUBLIC_SIZE);
    snprintf(w->endpoint, sizeof w->endpoint, "%s", ep);
    w->timeout_ms = timeout;
    w->seen = find(a, w->key).found; /* dialled at once, unless the node has enough peers */
    w->deadline_ms = uv_now(a->loop) + timeout;
    uv_timer_init(a->loop, &w->timer);
    w->timer.data = w;
    w->timer_open = true;
    w->open = 1;
    uv_timer_start(&w->timer, on_peer_tick, PEER_POLL_MS, PEER_POLL_MS);
    struct sockaddr_storage sa;
    memset(&sa, 0, sizeof sa);
    if (endpoint_addr(ep, &sa)) {
        uv_tcp_init(a->loop, &w->tcp);
        w->tcp.data = w;
        w->tcp_open = true;
        w->open++;
        w->conn.data = w;
        if (uv_tcp_connect(&w->conn, &w->tcp, (struct sockaddr *)&sa, on_probe) == 0) {
            w->probing = true;
        }
    }
    return APP_OK;
}

/* ---- publishing after the node has heard how far our feed goes ---- */

/* A post asked for while the node is still asking peers and the DHT how
 * far our own feed goes (node_own.c): it waits, polling, until that is
 * known (at most NODE_OWN_CHECK_MS after the node's start) and is decided
 * then. The request is copied, texts included, since the caller's lives
 * only for the call. */
typedef struct {
    app_request_t req;
    char *a_text, *b_text;
    uint64_t deadline_ms;
    uv_timer_t timer;
    app_job_t *job;
} publish_wait_t;

static bool
copy_text(app_text_t *t, char **keep)
{
    *keep = NULL;
    if (t->text_len == 0) {
        return true;
    }
    *keep = malloc(t->text_len);
    if (*keep == NULL) {
        return false;
    }
    memcpy(*keep, t->text, t->text_len);
    t->text = *keep;
    return true;
}

static bool
copy_request(publish_wait_t *w, const app_request_t *req)
{
    w->req = *req;
    switch (req->op) {
    case APP_OP_POST:
        return copy_text(&w->req.u.post.body, &w->a_text);
    case APP_OP_REPLY:
        return copy_text(&w->req.u.reply.body, &w->a_text);
    case APP_OP_PROFILE:
        return copy_text(&w->req.u.profile.name, &w->a_text) &&
               copy_text(&w->req.u.profile.bio, &w->b_text);
    default:
        return true;
    }
}

static void
publish_wait_free(publish_wait_t *w)
{
    free(w->a_text);
    free(w->b_text);
    free(w);
}

static void
publish_wait_closed(uv_handle_t *h)
{
    publish_wait_t *w = h->data;
    app_job_t *j = w->job;
    publish_wait_free(w);
    app_job_finish(j);
}

static void
on_publish_tick(uv_timer_t *t)
{
    publish_wait_t *w = t->data;
    app_t *a = w->job->app;
    if (a->closing) {
        app_fail(w->job->res, APP_ECANCELED, "%s: cancelled: the node is stopping",
                 app_op_name(w->req.op));
    } else if (!app_publish_ready(a) && uv_now(t->loop) < w->deadline_ms) {
        return;
    } else {
        app_quick_call(a, &w->req, w->job->res);
    }
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, publish_wait_closed);
}

app_err_t
app_start_publish_wait(app_t *a, const app_request_t *req, app_result_t *res, app_done_cb cb,
                       void *ud)
{
    publish_wait_t *w = calloc(1, sizeof *w);
    if (w == NULL || !copy_request(w, req)) {
        if (w != NULL) {
            publish_wait_free(w);
        }
        app_fail(res, APP_ENOMEM, "%s: out of memory", app_op_name(req->op));
        cb(ud, res);
        return APP_OK;
    }
    app_job_t *j = make_job(a, res, cb, ud, NULL, NULL, NULL);
    if (j == NULL) {
        publish_wait_free(w);
        return APP_OK;
    }
    w->job = j;
    /* Past the node's own bound, so the answer is decided by then. */
    w->deadline_ms = uv_now(a->loop) + NODE_OWN_CHECK_MS + 1000;
    uv_timer_init(a->loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, on_publish_tick, PEER_POLL_MS, PEER_POLL_MS);
    return APP_OK;
}
