/* run --tor: the onion service and Tor's SOCKS port, set up before the
 * node starts (the node's announce endpoint is the onion address). The
 * service's key is kept in DATA/onion.key (0600) so the address stays the
 * same from start to start. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_int.h"
#include "cli_tor.h"

enum {
    TOR_WAIT_MS = 20000,
    TOR_CHILD_WAIT_MS = 30000, /* for a child Tor to open its control port */
    TOR_DEFAULT_CONTROL = 9051,
    TOR_ARGS_MAX = 40,
};

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
    if (strncmp(key, "ED25519-V3:", 11) != 0 ||
        strspn(key + 11, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") !=
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
    log_line(t->log, LOG_LEVEL_ERROR, "tor: %s; the onion service is gone until the node restarts",
             why);
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

/* ---- a Tor of our own ---- */

/* Whether something accepts TCP connections at 127.0.0.1:port. */
static bool
listening(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static const char *
tor_binary(void)
{
    /* Debian puts it in /usr/sbin, which a user's PATH may lack. */
    static const char *const where[] = {"/usr/sbin/tor", "/usr/bin/tor", "/usr/local/bin/tor"};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        if (access(where[i], X_OK) == 0) {
            return where[i];
        }
    }
    return "tor";
}

/* The control port Tor wrote ("PORT=127.0.0.1:N"), as "127.0.0.1:N". */
static bool
read_port_file(const char *path, char *out, size_t cap)
{
    char buf[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) {
        return false;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    const char *v = strncmp(buf, "PORT=", 5) == 0 ? buf + 5 : NULL;
    if (v == NULL || strncmp(v, "127.0.0.1:", 10) != 0 || v[10] == '\0' ||
        strspn(v + 10, "0123456789") != strlen(v + 10) || strlen(v) >= cap) {
        return false;
    }
    snprintf(out, cap, "%s", v);
    return true;
}

static void
on_child_closed(uv_handle_t *h)
{
    (void)h;
}

static void
on_child_exit(uv_process_t *p, int64_t status, int sig)
{
    cli_tor_t *t = p->data;
    t->child_running = false;
    log_line(t->log, status == 0 && (sig == 0 || sig == SIGTERM) ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
             "tor: the Tor this node started has exited (status %lld, signal %d)",
             (long long)status, sig);
    uv_close((uv_handle_t *)p, on_child_closed);
}

static void
on_poll_tick(uv_timer_t *h)
{
    (void)h; /* wakes the loop to look at the port file again */
}

/* Adds the words of $SAMIZDAT_TOR_ARGS (a test's "--DisableNetwork 1"). */
static size_t
extra_args(char *argv[], size_t n, char *words, size_t cap)
{
    const char *env = getenv(CLI_TOR_ARGS_ENV);
    if (env == NULL || strlen(env) >= cap) {
        return n;
    }
    snprintf(words, cap, "%s", env);
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w != NULL && n < TOR_ARGS_MAX - 1;
         w = strtok_r(NULL, " ", &save)) {
        argv[n++] = w;
    }
    return n;
}

static bool
spawn_child(cli_tor_t *t, uv_loop_t *loop, const char *dir, const char *portfile)
{
    char torrc[DATADIR_PATH_MAX + 8], logto[DATADIR_PATH_MAX + 32], owner[24], words[512];
    snprintf(torrc, sizeof torrc, "%s/torrc", dir);
    snprintf(logto, sizeof logto, "notice file %s/tor.log", dir);
    snprintf(owner, sizeof owner, "%ld", (long)getpid());
    int fd = open(torrc, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return false;
    }
    static const char note[] = "# samizdat's own Tor: its settings are on its command line\n";
    bool wrote = write(fd, note, sizeof note - 1) == (ssize_t)(sizeof note - 1);
    if (close(fd) != 0 || !wrote) {
        return false;
    }
    /* Only our torrc (not /etc/tor/torrc, which a system Tor uses); it
     * exits when this process does (__OwningControllerProcess). */
    char *argv[TOR_ARGS_MAX] = {(char *)tor_binary(),
                                (char *)"-f",
                                torrc,
                                (char *)"--DataDirectory",
                                (char *)dir,
                                (char *)"--ControlPort",
                                (char *)"127.0.0.1:auto",
                                (char *)"--ControlPortWriteToFile",
                                (char *)portfile,
                                (char *)"--SocksPort",
                                (char *)"127.0.0.1:auto",
                                (char *)"--CookieAuthentication",
                                (char *)"1",
                                (char *)"--__OwningControllerProcess",
                                owner,
                                (char *)"--Log",
                                logto};
    size_t n = extra_args(argv, 17, words, sizeof words);
    argv[n] = NULL;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_IGNORE}};
    uv_process_options_t po = {
        .exit_cb = on_child_exit, .file = argv[0], .args = argv, .stdio_count = 3, .stdio = stdio};
    t->child.data = t;
    if (uv_spawn(loop, &t->child, &po) != 0) {
        uv_close((uv_handle_t *)&t->child, on_child_closed);
        return false;
    }
    t->child_running = true;
    return true;
}

/* Starts a Tor of our own with its data in DATA/tor and waits for its
 * control port; its address goes to t->control. */
static int
start_child(cli_t *c, cli_tor_t *t, uv_loop_t *loop)
{
    char dir[DATADIR_PATH_MAX], portfile[DATADIR_PATH_MAX + 16];
    datadir_path(dir, sizeof dir, c->dir, "tor");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return cli_fail(c, CLI_EXIT_ERROR, "tor: cannot create %s: %s", dir, strerror(errno));
    }
    snprintf(portfile, sizeof portfile, "%s/control.port", dir);
    (void)unlink(portfile);
    log_line(t->log, LOG_LEVEL_INFO,
             "tor: no Tor answers at 127.0.0.1:%d; starting one of our own (%s, log in "
             "%s/tor.log)",
             TOR_DEFAULT_CONTROL, tor_binary(), dir);
    if (!spawn_child(t, loop, dir, portfile)) {
        uv_run(loop, UV_RUN_NOWAIT);
        return cli_fail(c, CLI_EXIT_ERROR,
                        "tor: cannot start %s; install Tor (Debian: apt install tor), or run "
                        "one with ControlPort 9051 and give --tor-control",
                        tor_binary());
    }
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_poll_tick, 100, 100);
    uint64_t end = uv_now(loop) + TOR_CHILD_WAIT_MS;
    bool found = false;
    while (!found && t->child_running && uv_now(loop) < end) {
        uv_run(loop, UV_RUN_ONCE);
        found = read_port_file(portfile, t->control, sizeof t->control);
    }
    uv_close((uv_handle_t *)&tick, on_timer_closed);
    uv_run(loop, UV_RUN_NOWAIT);
    if (!found) {
        cli_tor_close(t);
        uv_run(loop, UV_RUN_DEFAULT);
        return cli_fail(c, CLI_EXIT_ERROR, "tor: the Tor we started %s; see %s/tor.log",
                        t->child_running ? "opened no control port in 30 s" : "exited", dir);
    }
    return CLI_EXIT_OK;
}

int
cli_tor_start(cli_t *c, cli_tor_t *t, uv_loop_t *loop, const log_t *log, const char *control,
              uint16_t port)
{
    memset(t, 0, sizeof *t);
    t->log = log;
    if (control == NULL) {
        if (listening(TOR_DEFAULT_CONTROL)) {
            control = "127.0.0.1:9051";
        } else {
            int rc = start_child(c, t, loop);
            if (rc != CLI_EXIT_OK) {
                return rc;
            }
            control = t->control;
        }
    }
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
        return cli_fail(c, CLI_EXIT_USAGE,
                        "--tor-control takes HOST:PORT with a numeric host, "
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
                 "tor: libzmq %s cannot give each peer its own Tor circuit (it has no "
                 "SOCKS username option); connections to peers share circuits",
                 version);
    } else {
        log_line(log, LOG_LEVEL_INFO, "tor: each peer gets a Tor circuit of its own");
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
    if (t->child_running) {
        (void)uv_process_kill(&t->child, SIGTERM); /* its exit callback closes the handle */
    }
}
