/* The CLI's way into the application layer: one app per process, local on
 * the store or remote on a running node, and one loop turned until a call's
 * callback ran. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli_int.h"
#include "control.h"
#include "defence.h"
#include "term.h"

int
cli_exit_code(app_err_t err)
{
    switch (err) {
    case APP_OK:
        return CLI_EXIT_OK;
    case APP_EINVAL:
    case APP_EKEY:
        return CLI_EXIT_BADINPUT;
    case APP_ENOTFOUND:
        return CLI_EXIT_NOTFOUND;
    default:
        return CLI_EXIT_ERROR;
    }
}

app_err_t
cli_passphrase(void *ud, char *out, size_t cap, char *msg, size_t msg_cap)
{
    (void)ud;
    term_err_t terr = term_read_passphrase(out, cap, "Passphrase: ", 0);
    if (terr != TERM_OK) {
        snprintf(msg, msg_cap, "the author key is sealed: %s", term_strerror(terr));
        return terr == TERM_EINTR ? APP_EIO : APP_EKEY;
    }
    return APP_OK;
}

bool
cli_node_running(cli_t *c)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (!control_socket_path(sa.sun_path, sizeof sa.sun_path, c->dir)) {
        return false;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool up = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return up;
}

/* Opens the store unless another process holds it (*locked then). */
static int
try_open_store(cli_t *c, bool *locked)
{
    *locked = false;
    char path[DATADIR_PATH_MAX];
    if (datadir_path(path, sizeof path, c->dir, "store") != DATADIR_OK) {
        return cli_fail(c, CLI_EXIT_ERROR, "data directory path is too long");
    }
    char detail[512] = "";
    store_err_t err = store_open(&c->store, path, NULL, detail, sizeof detail);
    *locked = err == STORE_ELOCKED;
    if (err == STORE_OK || *locked) {
        return err == STORE_OK ? CLI_EXIT_OK : CLI_EXIT_ERROR;
    }
    return cli_fail(c, CLI_EXIT_ERROR, "cannot open the store in %s: %s%s%s%s", path,
                    store_strerror(err), detail[0] ? ": " : "", detail, APP_REPAIR_HINT);
}

/* A running node holds the store, so it answers. Without one, the app runs
 * here; while another process holds the store (a command about to finish,
 * or a node that is starting) it waits for either. */
static int
decide(cli_t *c)
{
    uint64_t deadline = cli_now_ms() + CLI_LOCK_WAIT_MS;
    char path[DATADIR_PATH_MAX];
    for (;;) {
        if (cli_node_running(c)) {
            c->remote = true;
            return CLI_EXIT_OK;
        }
        /* No store yet: nobody holds it; the app creates it when needed. */
        if (datadir_path(path, sizeof path, c->dir, "store") != DATADIR_OK ||
            access(path, F_OK) != 0) {
            return CLI_EXIT_OK;
        }
        bool locked = false;
        int rc = try_open_store(c, &locked);
        if (!locked) {
            return rc;
        }
        if (cli_now_ms() >= deadline) {
            return cli_fail(c, CLI_EXIT_ERROR,
                            "the store in %s is in use by another samizdat process "
                            "(is a node running?)",
                            c->dir);
        }
        cli_sleep_ms(CLI_LOCK_POLL_MS);
    }
}

static int
open_app(cli_t *c)
{
    if (c->app != NULL) {
        return CLI_EXIT_OK;
    }
    int rc = decide(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (uv_loop_init(&c->loop) != 0) {
        return cli_fail(c, CLI_EXIT_ERROR, "cannot start an event loop");
    }
    c->loop_open = true;
    app_config_t cfg = {
        .remote = c->remote,
        .data_dir = c->dir,
        .store = c->remote ? NULL : c->store,
        .passphrase = cli_passphrase,
        .defences_off = getenv(DEFENCE_ENV),
    };
    app_err_t err = app_new(&c->app, &c->loop, &cfg);
    if (err != APP_OK) {
        return cli_fail(c, CLI_EXIT_ERROR, "%s", app_strerror(err));
    }
    return CLI_EXIT_OK;
}

typedef struct {
    bool done;
    app_result_t *res;
} slot_t;

static void
on_done(void *ud, app_result_t *res)
{
    slot_t *s = ud;
    s->done = true;
    s->res = res;
}

int
cli_call(cli_t *c, const app_request_t *req, app_result_t **out)
{
    *out = NULL;
    int rc = open_app(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    slot_t s = {false, NULL};
    app_err_t err = app_call(c->app, req, on_done, &s);
    if (err != APP_OK) {
        return cli_fail(c, cli_exit_code(err), "%s: %s", app_op_name(req->op), app_strerror(err));
    }
    while (!s.done) {
        if (uv_run(&c->loop, UV_RUN_ONCE) == 0 && !s.done) {
            return cli_fail(c, CLI_EXIT_ERROR, "%s: no answer", app_op_name(req->op));
        }
    }
    if (s.res->err != APP_OK) {
        rc = cli_fail(c, cli_exit_code(s.res->err), "%s",
                      s.res->msg[0] ? s.res->msg : app_strerror(s.res->err));
        app_result_free(s.res);
        return rc;
    }
    *out = s.res;
    return CLI_EXIT_OK;
}

void
cli_app_end(cli_t *c)
{
    if (c->app != NULL) {
        app_close(c->app, NULL, NULL);
        c->app = NULL;
    }
    if (c->loop_open) {
        uv_run(&c->loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&c->loop);
        c->loop_open = false;
    }
    store_close(c->store);
    c->store = NULL;
}
