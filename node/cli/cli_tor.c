/* run --tor: the onion service and Tor's SOCKS port, set up before the
 * node starts (the node's announce endpoint is the onion address). The
 * service's key is kept in DATA/onion.key (0600) so the address stays the
 * same from start to start. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_int.h"
#include "cli_tor.h"

enum { TOR_WAIT_MS = 20000 };

static bool
read_key(const char *path, char key[static TORCTL_KEY_MAX])
{
    key[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    ssize_t n = read(fd, key, TORCTL_KEY_MAX - 1);
    close(fd);
    if (n <= 0) {
        key[0] = '\0';
        return false;
    }
    key[n] = '\0';
    key[strcspn(key, "\r\n")] = '\0';
    /* Only what ADD_ONION takes: "ED25519-V3:" and base64. */
    if (strncmp(key, "ED25519-V3:", 11) != 0 || strspn(key + 11,
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") !=
                                                    strlen(key + 11)) {
        sodium_memzero(key, TORCTL_KEY_MAX);
        return false;
    }
    return true;
}

/* Written beside, synced, then renamed over: a crash leaves the old key or
 * the new one, never half of one. */
static bool
write_key(const char *path, const char *key)
{
    char tmp[DATADIR_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return false;
    }
    size_t len = strlen(key);
    bool ok = write(fd, key, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    return ok && rename(tmp, path) == 0;
}

typedef struct {
    cli_tor_t *tor;
    bool done;
} wait_t;

static void
on_ready(void *ud, const torctl_info_t *info)
{
    cli_tor_t *t = ud;
    t->done = true;
    t->info = *info;
    if (info->ok && info->new_key[0] != '\0' && !write_key(t->key_path, info->new_key)) {
        log_line(t->log, LOG_LEVEL_WARN,
                 "tor: cannot save the onion service's key in %s; the address will change "
                 "at the next start",
                 t->key_path);
    }
    sodium_memzero(t->info.new_key, sizeof t->info.new_key);
}

static void
on_lost(void *ud, const char *why)
{
    cli_tor_t *t = ud;
    log_line(t->log, LOG_LEVEL_ERROR,
             "tor: %s; the onion service is gone until the node restarts", why);
}

static void
on_timeout(uv_timer_t *h)
{
    cli_tor_t *t = h->data;
    t->timed_out = true;
}

static void
on_timer_closed(uv_handle_t *h)
{
    (void)h;
}

int
cli_tor_start(cli_t *c, cli_tor_t *t, uv_loop_t *loop, const log_t *log, const char *control,
              uint16_t port)
{
    memset(t, 0, sizeof *t);
    t->log = log;
    datadir_path(t->key_path, sizeof t->key_path, c->dir, "onion.key");
    char key[TORCTL_KEY_MAX];
    bool have = read_key(t->key_path, key);
    torctl_config_t tc = {
        .control = control,
        .port = port,
        .key = have ? key : NULL,
        .log = log,
        .ready = on_ready,
        .lost = on_lost,
        .ud = t,
    };
    torctl_err_t err = torctl_new(&t->ctl, loop, &tc);
    sodium_memzero(key, sizeof key);
    if (err != TORCTL_OK) {
        return cli_fail(c, CLI_EXIT_USAGE, "--tor-control takes HOST:PORT with a numeric host, "
                                           "e.g. 127.0.0.1:9051");
    }
    log_line(log, LOG_LEVEL_INFO, "tor: asking the Tor daemon at %s for an onion service%s",
             control, have ? " (the same address as before)" : "");
    uv_timer_t timer;
    uv_timer_init(loop, &timer);
    timer.data = t;
    uv_timer_start(&timer, on_timeout, TOR_WAIT_MS, 0);
    while (!t->done && !t->timed_out) {
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&timer, on_timer_closed);
    uv_run(loop, UV_RUN_NOWAIT);
    if (!t->done || !t->info.ok) {
        cli_tor_close(t);
        uv_run(loop, UV_RUN_DEFAULT);
        return cli_fail(c, CLI_EXIT_ERROR, "tor: %s",
                        t->done ? t->info.why : "no answer from Tor's control port in 20 s");
    }
    log_line(log, LOG_LEVEL_INFO, "tor: reachable as the onion service %s:%u", t->info.onion,
             (unsigned)port);
    char version[32];
    /* Said, not hidden: circuits shared between peers let an observer on
     * the path link this node's connections to each other. */
    if (!torctl_isolation_available(version, sizeof version)) {
        log_line(log, LOG_LEVEL_WARN,
                 "tor: libzmq %s cannot give each peer its own Tor circuit (that needs "
                 "libzmq 4.3.5 or later); connections to peers share circuits",
                 version);
    } else {
        log_line(log, LOG_LEVEL_WARN, "tor: a Tor circuit per peer is not built yet; "
                                      "connections to peers share circuits");
    }
    return CLI_EXIT_OK;
}

void
cli_tor_close(cli_tor_t *t)
{
    if (t->ctl != NULL) {
        torctl_close(t->ctl, NULL, NULL);
        t->ctl = NULL;
    }
}
