/* The application layer in one process: a local app on a store in a
 * temporary directory, and a remote app reaching it through a control
 * socket on the same loop. Both give the same results; long calls end
 * cancelled when the app closes; the loop is left with no handle open. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "app.h"
#include "appmsg.h"
#include "control.h"
#include "keys.h"

typedef struct {
    char dir[512];
    char dir2[512];
    uv_loop_t loop;
    keys_author_t author;
    keys_author_t other;
    app_t *app;
} fixture_t;

static uint64_t
fixed_wall(void *ud)
{
    (void)ud;
    return 1700000000000ull;
}

static app_t *
local_app(fixture_t *f, const char *dir, const keys_author_t *k)
{
    app_config_t cfg = {.data_dir = dir, .author = k, .wall_ms = fixed_wall};
    app_t *a = NULL;
    assert_int_equal(app_new(&a, &f->loop, &cfg), APP_OK);
    return a;
}

typedef struct {
    bool done;
    bool sync; /* the callback ran before app_call returned */
    bool in_call;
    app_result_t *res;
} slot_t;

static void
on_done(void *ud, app_result_t *res)
{
    slot_t *s = ud;
    assert_false(s->done); /* exactly once */
    s->done = true;
    s->sync = s->in_call;
    s->res = res;
}

/* Runs req on a and the loop until the callback ran; the result. */
/* Turns the loop until *done; fails when the loop runs dry first. */
static void
run_until(fixture_t *f, const bool *done)
{
    while (!*done) {
        if (uv_run(&f->loop, UV_RUN_ONCE) == 0 && !*done) {
            fail_msg("the loop ran dry before the callback");
        }
    }
}

static app_result_t *
call(fixture_t *f, app_t *a, const app_request_t *req)
{
    slot_t s = {0};
    s.in_call = true;
    assert_int_equal(app_call(a, req, on_done, &s), APP_OK);
    s.in_call = false;
    run_until(f, &s.done);
    return s.res;
}

static app_result_t *
post(fixture_t *f, app_t *a, const char *text)
{
    app_request_t req = {.op = APP_OP_POST};
    req.u.post.body = (app_text_t){text, strlen(text)};
    return call(f, a, &req);
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tu_mkdtemp(f->dir, sizeof f->dir);
    tu_mkdtemp(f->dir2, sizeof f->dir2);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    keys_author_generate(&f->author);
    keys_author_generate(&f->other);
    f->app = local_app(f, f->dir, &f->author);
    *state = f;
    return 0;
}

static void
closed(void *ud)
{
    *(bool *)ud = true;
}

static void
close_app(fixture_t *f, app_t *a)
{
    bool done = false;
    app_close(a, closed, &done);
    run_until(f, &done);
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    if (f->app != NULL) {
        close_app(f, f->app);
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0); /* no handle left open */
    keys_author_wipe(&f->author);
    keys_author_wipe(&f->other);
    tu_rmtree(f->dir);
    tu_rmtree(f->dir2);
    free(f);
    return 0;
}

static void
test_publish_and_read(void **state)
{
    fixture_t *f = *state;
    app_result_t *r = post(f, f->app, "first");
    assert_int_equal(r->err, APP_OK);
    assert_int_equal(r->u.publish.post.seq, 1);
    assert_int_equal(r->u.publish.post.timestamp_ms, 1700000000000ull);
    uint8_t first[32];
    memcpy(first, r->u.publish.post.id, 32);
    app_result_free(r);
    /* Nothing to say is refused, and nothing is published. */
    r = post(f, f->app, " \n\t");
    assert_int_equal(r->err, APP_EINVAL);
    assert_non_null(strstr(r->msg, "white space"));
    app_result_free(r);
    app_request_t req = {.op = APP_OP_REPLY};
    memcpy(req.u.reply.ref, first, 32);
    req.u.reply.body = (app_text_t){"a reply", 7};
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_OK);
    assert_int_equal(r->u.publish.post.seq, 2);
    app_result_free(r);
    req = (app_request_t){.op = APP_OP_DELETE};
    memcpy(req.u.del.ref, first, 32);
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_OK);
    app_result_free(r);

    req = (app_request_t){.op = APP_OP_FEED};
    req.u.feed.self = true;
    slot_t s = {0};
    s.in_call = true;
    assert_int_equal(app_call(f->app, &req, on_done, &s), APP_OK);
    assert_true(s.done && s.sync); /* a short page answers at once */
    r = s.res;
    assert_int_equal(r->err, APP_OK);
    assert_int_equal(r->u.feed.head_seq, 3);
    assert_int_equal(r->u.feed.n_posts, 3);
    assert_int_equal(r->u.feed.posts[2].post.seq, 1);
    assert_true(r->u.feed.posts[2].deleted);
    assert_false(r->u.feed.more);
    app_result_free(r);

    req = (app_request_t){.op = APP_OP_SHOW};
    memcpy(req.u.show.id, first, 32);
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_OK);
    assert_string_equal(r->u.show.post.post.body, "first");
    assert_true(r->u.show.raw_len > 0);
    app_result_free(r);

    /* Someone else's feed with nothing stored. */
    req = (app_request_t){.op = APP_OP_FEED};
    memcpy(req.u.feed.author, f->other.pk, 32);
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_ENOTFOUND);
    app_result_free(r);
    /* Network ops without a node. */
    req = (app_request_t){.op = APP_OP_PEERS};
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_ENOTRUNNING);
    app_result_free(r);
    req = (app_request_t){.op = APP_OP_LOOKUP};
    req.u.lookup.n = 1;
    req.u.lookup.authors = f->other.pk;
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_ENOTRUNNING);
    app_result_free(r);
    req = (app_request_t){.op = APP_OP_STATUS};
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_OK);
    assert_false(r->u.status.running);
    assert_int_equal(r->u.status.posts, 3);
    app_result_free(r);
    /* An unknown op never reaches a callback. */
    req.op = (app_op_t)(APP_OP_LAST + 1);
    s = (slot_t){0};
    assert_int_equal(app_call(f->app, &req, on_done, &s), APP_EINVAL);
    assert_false(s.done);
}

static app_result_t *
reply(fixture_t *f, const uint8_t ref[32], const char *text)
{
    app_request_t req = {.op = APP_OP_REPLY};
    memcpy(req.u.reply.ref, ref, 32);
    req.u.reply.body = (app_text_t){text, strlen(text)};
    return call(f, f->app, &req);
}

typedef struct {
    int n;
    app_event_kind_t kinds[8];
} events_t;

static void
on_event(void *ud, const app_event_t *e)
{
    events_t *ev = ud;
    if (ev->n < 8) {
        ev->kinds[ev->n++] = e->kind;
    }
}

/* A thread: the post, its parent, replies depth first and oldest first
 * at each level, capped; and the follow events a watcher sees. */
static void
test_thread(void **state)
{
    fixture_t *f = *state;
    app_result_t *r = post(f, f->app, "root");
    uint8_t root[32], a[32], b[32], a1[32];
    memcpy(root, r->u.publish.post.id, 32);
    app_result_free(r);
    r = reply(f, root, "reply a");
    memcpy(a, r->u.publish.post.id, 32);
    app_result_free(r);
    r = reply(f, root, "reply b");
    memcpy(b, r->u.publish.post.id, 32);
    app_result_free(r);
    r = reply(f, a, "reply to a");
    memcpy(a1, r->u.publish.post.id, 32);
    app_result_free(r);
    app_request_t req = {.op = APP_OP_THREAD};
    memcpy(req.u.show.id, root, 32);
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_OK);
    assert_false(r->u.thread.has_parent);
    assert_int_equal(r->u.thread.n, 4);
    /* One timestamp for all (the test's clock stands still): ties go by id. */
    bool a_first = memcmp(a, b, 32) < 0;
    const uint8_t *want[] = {root, a_first ? a : b, a_first ? a1 : a, a_first ? b : a1};
    uint32_t depth[] = {0, 1, a_first ? 2 : 1, a_first ? 1 : 2};
    for (int i = 0; i < 4; i++) {
        assert_memory_equal(r->u.thread.items[i].post.post.id, want[i], 32);
        assert_int_equal(r->u.thread.items[i].depth, depth[i]);
    }
    assert_false(r->u.thread.truncated);
    app_result_free(r);
    /* From a reply: its parent, and what is below it. */
    memcpy(req.u.show.id, a, 32);
    r = call(f, f->app, &req);
    assert_true(r->u.thread.has_parent);
    assert_memory_equal(r->u.thread.parent.post.id, root, 32);
    assert_int_equal(r->u.thread.n, 2);
    app_result_free(r);
    /* More replies than a thread holds: the rest is said to be left out. */
    for (int i = 0; i < APP_THREAD_MAX; i++) {
        app_result_free(reply(f, b, "many"));
    }
    memcpy(req.u.show.id, root, 32);
    r = call(f, f->app, &req);
    assert_int_equal(r->u.thread.n, APP_THREAD_MAX);
    assert_true(r->u.thread.truncated);
    app_result_free(r);
    memset(req.u.show.id, 7, 32);
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_ENOTFOUND);
    app_result_free(r);
    /* A watcher hears follows and blocks. */
    events_t ev = {0};
    app_watch_t *w = NULL;
    assert_int_equal(app_watch(f->app, on_event, &ev, &w), APP_OK);
    req = (app_request_t){.op = APP_OP_FOLLOW};
    memcpy(req.u.author.author, f->other.pk, 32);
    app_result_free(call(f, f->app, &req));
    req.op = APP_OP_BLOCK;
    app_result_free(call(f, f->app, &req));
    app_unwatch(f->app, w);
    req.op = APP_OP_UNBLOCK;
    app_result_free(call(f, f->app, &req));
    assert_int_equal(ev.n, 2);
    assert_int_equal(ev.kinds[0], APP_EVENT_FOLLOW);
    assert_int_equal(ev.kinds[1], APP_EVENT_BLOCK);
}

static void
test_follow_block(void **state)
{
    fixture_t *f = *state;
    app_request_t req = {.op = APP_OP_FOLLOW};
    memcpy(req.u.author.author, f->other.pk, 32);
    app_result_t *r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_OK);
    assert_false(r->u.author.looked_up);
    assert_int_equal(r->u.author.author.since_ms, 1700000000000ull);
    app_result_free(r);
    req.op = APP_OP_FOLLOWING;
    r = call(f, f->app, &req);
    assert_int_equal(r->u.list.n, 1);
    assert_memory_equal(r->u.list.authors[0].author, f->other.pk, 32);
    app_result_free(r);
    req = (app_request_t){.op = APP_OP_BLOCK};
    memcpy(req.u.author.author, f->author.pk, 32);
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_EINVAL); /* oneself */
    app_result_free(r);
    memcpy(req.u.author.author, f->other.pk, 32);
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_OK);
    app_result_free(r);
    req.op = APP_OP_FOLLOW;
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_EDENIED);
    app_result_free(r);
    req.op = APP_OP_UNBLOCK;
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_OK);
    app_result_free(r);
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_ENOTFOUND);
    app_result_free(r);
}

static void
test_export_import(void **state)
{
    fixture_t *f = *state;
    enum { POSTS = 600 }; /* more than one export chunk */
    for (int i = 0; i < POSTS; i++) {
        char text[32];
        snprintf(text, sizeof text, "post %d", i);
        app_result_free(post(f, f->app, text));
    }
    char path[600];
    snprintf(path, sizeof path, "%s/a.feed", f->dir2);
    app_request_t req = {.op = APP_OP_EXPORT};
    memcpy(req.u.export_.author, f->author.pk, 32);
    req.u.export_.path = path;
    app_result_t *r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_OK);
    assert_int_equal(r->u.export_.posts, POSTS);
    assert_string_equal(r->u.export_.path, path);
    app_result_free(r);
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_EDENIED); /* exists */
    app_result_free(r);
    /* A page longer than one slice, and the next page after it. */
    app_request_t fr = {.op = APP_OP_FEED};
    fr.u.feed.self = true;
    fr.u.feed.limit = 500;
    app_result_t *page = call(f, f->app, &fr);
    assert_int_equal(page->err, APP_OK);
    assert_int_equal(page->u.feed.n_posts, 500);
    assert_int_equal(page->u.feed.posts[0].post.seq, POSTS);
    assert_int_equal(page->u.feed.posts[499].post.seq, POSTS - 499);
    assert_true(page->u.feed.more);
    fr.u.feed.before_seq = page->u.feed.next_before;
    app_result_free(page);
    page = call(f, f->app, &fr);
    assert_int_equal(page->u.feed.n_posts, POSTS - 500);
    assert_int_equal(page->u.feed.posts[POSTS - 501].post.seq, 1);
    assert_false(page->u.feed.more);
    app_result_free(page);
    /* Into memory: the same bytes as the file. */
    req.u.export_.path = NULL;
    r = call(f, f->app, &req);
    assert_int_equal(r->err, APP_OK);
    size_t len = 0;
    char *file = tu_read_file(path, &len);
    assert_non_null(file);
    assert_int_equal(r->u.export_.data_len, len);
    assert_memory_equal(r->u.export_.data, file, len);
    free(file);

    app_t *b = local_app(f, f->dir2, &f->other);
    app_request_t im = {.op = APP_OP_IMPORT};
    im.u.import.data = r->u.export_.data;
    im.u.import.data_len = r->u.export_.data_len;
    app_result_t *ir = call(f, b, &im);
    app_result_free(r); /* the app copied what it reads */
    assert_int_equal(ir->err, APP_OK);
    assert_int_equal(ir->u.import.added, POSTS);
    assert_true(ir->u.import.complete);
    app_result_free(ir);
    im = (app_request_t){.op = APP_OP_IMPORT};
    im.u.import.path = path;
    ir = call(f, b, &im);
    assert_int_equal(ir->u.import.duplicates, POSTS);
    app_result_free(ir);
    /* Not a feed file. */
    im.u.import.path = "/dev/null";
    ir = call(f, b, &im);
    assert_int_equal(ir->err, APP_EINVAL);
    app_result_free(ir);
    close_app(f, b);
}

static void
test_close_cancels_import(void **state)
{
    fixture_t *f = *state;
    enum { POSTS = 3000 };
    for (int i = 0; i < POSTS; i++) {
        app_result_free(post(f, f->app, "x marks the spot"));
    }
    app_request_t req = {.op = APP_OP_EXPORT};
    memcpy(req.u.export_.author, f->author.pk, 32);
    app_result_t *feed = call(f, f->app, &req);
    assert_int_equal(feed->err, APP_OK);
    app_t *b = local_app(f, f->dir2, &f->other);
    app_request_t im = {.op = APP_OP_IMPORT};
    im.u.import.data = feed->u.export_.data;
    im.u.import.data_len = feed->u.export_.data_len;
    slot_t s = {0};
    assert_int_equal(app_call(b, &im, on_done, &s), APP_OK);
    assert_false(s.done);
    assert_true(app_busy(b));
    /* One slice, then close: the import ends cancelled, part done. */
    uv_run(&f->loop, UV_RUN_ONCE);
    bool freed = false;
    app_close(b, closed, &freed);
    run_until(f, &freed);
    assert_true(s.done);
    assert_int_equal(s.res->err, APP_ECANCELED);
    assert_true(s.res->u.import.records < POSTS);
    app_result_free(s.res);
    app_result_free(feed);
}

/* ---- remote: the same calls through a control socket ---- */

static void
test_remote_matches_local(void **state)
{
    fixture_t *f = *state;
    app_result_free(post(f, f->app, "over the socket"));
    control_t *ctl = NULL;
    assert_int_equal(control_new(&ctl, &f->loop, f->app, f->dir), CONTROL_OK);
    app_config_t cfg = {.remote = true, .data_dir = f->dir};
    app_t *remote = NULL;
    assert_int_equal(app_new(&remote, &f->loop, &cfg), APP_OK);

    app_request_t req = {.op = APP_OP_FEED};
    req.u.feed.self = true;
    app_result_t *l = call(f, f->app, &req);
    slot_t s = {0};
    s.in_call = true;
    assert_int_equal(app_call(remote, &req, on_done, &s), APP_OK);
    s.in_call = false;
    assert_false(s.done); /* a remote call always answers later */
    run_until(f, &s.done);
    app_result_t *r = s.res;
    assert_int_equal(r->err, APP_OK);
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    assert_int_equal(appmsg_result_encode(l, &a, &alen), APPMSG_OK);
    assert_int_equal(appmsg_result_encode(r, &b, &blen), APPMSG_OK);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    free(a);
    free(b);
    app_result_free(l);
    app_result_free(r);
    /* Errors keep their code and message. */
    r = post(f, remote, "");
    assert_int_equal(r->err, APP_EINVAL);
    assert_non_null(strstr(r->msg, "empty"));
    app_result_free(r);
    /* Publishing through the socket uses the node's key. */
    r = post(f, remote, "second, remotely");
    assert_int_equal(r->err, APP_OK);
    assert_memory_equal(r->u.publish.post.author, f->author.pk, 32);
    assert_int_equal(r->u.publish.post.seq, 2);
    app_result_free(r);

    close_app(f, remote);
    bool done = false;
    control_close(ctl, closed, &done);
    run_until(f, &done);
    /* With the socket gone, a remote call says the node is not running. */
    assert_int_equal(app_new(&remote, &f->loop, &cfg), APP_OK);
    r = post(f, remote, "nobody listens");
    assert_int_equal(r->err, APP_ENOTRUNNING);
    app_result_free(r);
    close_app(f, remote);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_cancels_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_matches_local, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
