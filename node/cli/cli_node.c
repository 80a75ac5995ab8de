/* The daemon (`run`): the node, a local app on it and the control socket
 * that serves that app; and the commands about the node: status, peers,
 * peer add. */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bytes.h"
#include "cli_int.h"
#include "cli_tor.h"
#include "control.h"
#include "defence.h"
#include "keytext.h"
#include "node.h"
#include "notify.h"
#include "web.h"

/* ---- the daemon ---- */

typedef struct {
    node_t *node;
    app_t *app;
    control_t *control;
    web_t *web;
    cli_tor_t tor;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    bool stopping;
    int closing; /* of the control socket and the app, still open */
    log_t log;
} daemon_t;

static void
on_signal_closed(uv_handle_t *h)
{
    (void)h;
}

static void
on_node_closed(void *ud)
{
    daemon_t *d = ud;
    cli_tor_close(&d->tor);
    uv_close((uv_handle_t *)&d->sigint, on_signal_closed);
    uv_close((uv_handle_t *)&d->sigterm, on_signal_closed);
}

/* The node closes last, once the control socket and the app are done. */
static void
on_front_closed(void *ud)
{
    daemon_t *d = ud;
    if (--d->closing == 0) {
        node_close(d->node, on_node_closed, d);
    }
}

static void
on_signal(uv_signal_t *h, int signum)
{
    daemon_t *d = h->data;
    if (d->stopping) {
        log_line(&d->log, LOG_LEVEL_WARN, "second signal: exiting at once");
        _exit(130);
    }
    d->stopping = true;
    log_line(&d->log, LOG_LEVEL_INFO, "%s: stopping (again to exit at once)",
             signum == SIGINT ? "interrupt" : "terminate");
    notify_tell(&d->log, "STOPPING=1");
    /* The control socket stops taking requests and the app cancels its long
     * calls (an import ends at its next slice) at once, so the answers of
     * the calls running still reach their clients; then the node. */
    d->closing = 3;
    web_close(d->web, on_front_closed, d);
    control_close(d->control, on_front_closed, d);
    app_close(d->app, on_front_closed, d);
}

typedef struct {
    const char *listen[TRANSPORT_LISTEN_MAX];
    char port_ep[64];
    const char *network;
    const char *bootstrap;
    const char *socks5;
    const char *announce;
    const char *level;
    bool no_lan;
    bool no_upnp;
    bool no_relay;
    const char *relay_listen;
    const char *web;
    bool no_web;
    bool web_public;
    bool tor;
    const char *tor_control;
    char onion_ep[WIRE_ENDPOINT_MAX + 1];
    char tor_socks[64];
    bool sealed;
    uint64_t peers_max;
} run_opts_t;

/* HOST:PORT, with the same host and port rules as an endpoint. */
static bool
socks5_valid(const char *hostport)
{
    char ep[WIRE_ENDPOINT_MAX + 1];
    int n = snprintf(ep, sizeof ep, "tcp://%s", hostport);
    return n > 0 && (size_t)n < sizeof ep && wire_endpoint_valid(ep);
}

/* --tor: the node listens on loopback only (Tor forwards the onion
 * service's connections there), announces nothing but its onion address,
 * sends no LAN beacon and asks no router for a port. */
static int
tor_opts(cli_t *c, run_opts_t *o, unsigned port)
{
    if (o->announce != NULL) {
        return cli_fail(c, CLI_EXIT_USAGE,
                        "--tor announces the onion address; not with --announce");
    }
    if (o->listen[0] != NULL || port == 0) {
        return cli_fail(c, CLI_EXIT_USAGE,
                        "--tor listens on 127.0.0.1 at --port N (a fixed port, default 7470); "
                        "not with --listen");
    }
    snprintf(o->port_ep, sizeof o->port_ep, "tcp://127.0.0.1:%u", port);
    o->listen[0] = o->port_ep;
    o->no_lan = true;
    o->no_upnp = true;
    return CLI_EXIT_OK;
}

/* Publishes the onion service, then points the node at it: announce the
 * onion endpoint, connect out through Tor's SOCKS port (or --socks5). */
static int
start_tor(cli_t *c, daemon_t *d, uv_loop_t *loop, run_opts_t *o, node_config_t *cfg)
{
    unsigned port = 0;
    sscanf(o->port_ep, "tcp://127.0.0.1:%u", &port);
    int rc = cli_tor_start(c, &d->tor, loop, &d->log, o->tor_control, (uint16_t)port);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    snprintf(o->onion_ep, sizeof o->onion_ep, "tcp://%s:%u", d->tor.info.onion, port);
    snprintf(o->tor_socks, sizeof o->tor_socks, "%s", d->tor.info.socks);
    cfg->announce = o->onion_ep;
    cfg->socks5 = o->socks5 != NULL ? o->socks5 : o->tor_socks;
    if (cfg->socks5[0] == '\0') {
        cli_tor_close(&d->tor);
        uv_run(loop, UV_RUN_DEFAULT);
        return cli_fail(c, CLI_EXIT_ERROR,
                        "tor: the Tor daemon has no SOCKS port (SocksPort in torrc); or give "
                        "--socks5 HOST:PORT");
    }
    return CLI_EXIT_OK;
}

static int
parse_run(cli_t *c, cli_args_t *a, run_opts_t *o)
{
    bool bad = false;
    uint64_t port = 0;
    const char *p = cli_value(a, "--port", &bad);
    for (int i = 0; i < TRANSPORT_LISTEN_MAX; i++) {
        o->listen[i] = cli_value(a, "--listen", &bad);
    }
    o->network = cli_value(a, "--network", &bad);
    o->bootstrap = cli_value(a, "--bootstrap", &bad);
    o->socks5 = cli_value(a, "--socks5", &bad);
    o->announce = cli_value(a, "--announce", &bad);
    o->level = cli_value(a, "--log-level", &bad);
    const char *pm = cli_value(a, "--peers-max", &bad);
    o->no_lan = cli_flag(a, "--no-lan");
    o->no_upnp = cli_flag(a, "--no-upnp");
    o->no_relay = cli_flag(a, "--no-relay");
    o->relay_listen = cli_value(a, "--relay-listen", &bad);
    o->web = cli_value(a, "--web", &bad);
    o->no_web = cli_flag(a, "--no-web");
    o->web_public = cli_flag(a, "--web-public");
    o->tor = cli_flag(a, "--tor");
    o->tor_control = cli_value(a, "--tor-control", &bad);
    o->sealed = cli_flag(a, "--passphrase");
    const char *unknown = cli_unknown_option(a);
    const char *pos[1];
    if (bad || unknown != NULL || cli_positional(a, pos, 1) != 0) {
        return cli_fail(c, CLI_EXIT_USAGE, "run: %s (see samizdat run --help)",
                        unknown ? "unknown option" : "bad arguments");
    }
    if (p != NULL && (!cli_parse_u64(p, &port) || port > 65535)) {
        return cli_fail(c, CLI_EXIT_USAGE, "--port takes a number from 0 to 65535");
    }
    if (pm != NULL &&
        (!cli_parse_u64(pm, &o->peers_max) || o->peers_max < 3 || o->peers_max > 1024)) {
        return cli_fail(c, CLI_EXIT_USAGE, "--peers-max takes a number from 3 to 1024");
    }
    if (o->network != NULL && !wire_network_valid(o->network)) {
        return cli_fail(c, CLI_EXIT_USAGE, "--network: 1 to 32 of a-z 0-9 . _ -");
    }
    if (o->announce != NULL && !wire_endpoint_valid(o->announce)) {
        return cli_fail(c, CLI_EXIT_USAGE,
                        "--announce takes the endpoint others reach this node at, e.g. "
                        "tcp://198.51.100.7:7470");
    }
    if (o->socks5 != NULL && !socks5_valid(o->socks5)) {
        return cli_fail(c, CLI_EXIT_USAGE,
                        "--socks5 takes HOST:PORT, e.g. 127.0.0.1:9050 (Tor's default)");
    }
    if (o->web != NULL && o->no_web) {
        return cli_fail(c, CLI_EXIT_USAGE, "--web and --no-web do not go together");
    }
    char wmsg[200];
    if (o->web != NULL && web_listen_check(o->web, o->web_public, wmsg, sizeof wmsg) != WEB_OK) {
        return cli_fail(c, CLI_EXIT_USAGE, "--web: %s", wmsg);
    }
    if (o->level != NULL && log_level_parse(o->level) < 0) {
        return cli_fail(c, CLI_EXIT_USAGE, "--log-level is error, warn, info or debug");
    }
    if (o->tor) {
        return tor_opts(c, o, p ? (unsigned)port : (unsigned)NODE_DEFAULT_PORT);
    }
    if (o->tor_control != NULL) {
        return cli_fail(c, CLI_EXIT_USAGE, "--tor-control goes with --tor");
    }
    if (o->listen[0] == NULL) {
        snprintf(o->port_ep, sizeof o->port_ep, "tcp://*:%u",
                 p ? (unsigned)port : (unsigned)NODE_DEFAULT_PORT);
        o->listen[0] = o->port_ep;
    }
    return CLI_EXIT_OK;
}

/* Without --bootstrap: $SAMIZDAT_BOOTSTRAP, else the user's list in the data
 * directory, else the list installed with the program. Never the current
 * directory: a node started from wherever the shell happens to be must not
 * pick up a list lying there. */
static const char *
default_bootstrap(cli_t *c, char *buf, size_t cap)
{
    const char *env = getenv("SAMIZDAT_BOOTSTRAP");
    if (env != NULL && env[0] != '\0') {
        return env;
    }
    if (datadir_path(buf, cap, c->dir, "bootstrap.list") == DATADIR_OK && access(buf, R_OK) == 0) {
        return buf;
    }
    if (access(SAMIZDAT_BOOTSTRAP_DEFAULT, R_OK) == 0) {
        return SAMIZDAT_BOOTSTRAP_DEFAULT;
    }
    return NULL;
}

static int
load_node_key(cli_t *c, keys_node_t *k)
{
    char path[DATADIR_PATH_MAX];
    datadir_path(path, sizeof path, c->dir, "node.key");
    keys_err_t err = keys_node_load(path, k);
    return err == KEYS_OK ? CLI_EXIT_OK : cli_keys_error(c, err, path);
}

/* A node holds a descriptor for each connection, LevelDB's table files and
 * libzmq's own; the usual soft limit of 1,024 is tight, the hard limit is
 * usually far higher. Raised as far as allowed (up to 65,536); what cannot
 * be had is said. */
static void
raise_file_limit(const log_t *log)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0) {
        return;
    }
    rlim_t want = r.rlim_max == RLIM_INFINITY || r.rlim_max > 65536 ? 65536 : r.rlim_max;
    if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < want) {
        struct rlimit raised = {want, r.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
            r.rlim_cur = want;
        }
    }
    if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < NODE_FILES_MIN) {
        log_line(log, LOG_LEVEL_WARN,
                 "only %llu file descriptors may be open (ulimit -n); %d or more are advised: "
                 "connections may be refused",
                 (unsigned long long)r.rlim_cur, NODE_FILES_MIN);
    }
}

/* The web UI beside the control socket. The default port taken (another
 * node, another program) costs only the UI, with a warning; a port the
 * person asked for is an error. */
static int
start_web(cli_t *c, daemon_t *d, uv_loop_t *loop, const run_opts_t *o)
{
    web_config_t wcfg = {
        .app = d->app,
        .data_dir = c->dir,
        .listen = o->web,
        .allow_public = o->web_public,
        .log = &d->log,
    };
    char msg[256];
    web_err_t err = web_new(&d->web, loop, &wcfg, msg, sizeof msg);
    if (err == WEB_EADDRINUSE && o->web == NULL) {
        log_line(&d->log, LOG_LEVEL_WARN,
                 "web UI off: %s (another samizdat? start with --web 127.0.0.1:PORT for "
                 "another port)",
                 msg);
        return CLI_EXIT_OK;
    }
    if (err != WEB_OK) {
        return cli_fail(c, err == WEB_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_ERROR, "web UI: %s", msg);
    }
    log_line(&d->log, LOG_LEVEL_INFO, "web UI at %s (run `samizdat open` for the link with its key)",
             web_url(d->web));
    return CLI_EXIT_OK;
}

static int
serve(cli_t *c, run_opts_t *o, const keys_author_t *author, const keys_node_t *nk)
{
    uv_loop_t loop;
    daemon_t d;
    memset(&d, 0, sizeof d);
    d.log.level = o->level ? (log_level_t)log_level_parse(o->level) : LOG_LEVEL_INFO;
    d.log.sink = log_stderr_sink;
    char bsbuf[DATADIR_PATH_MAX];
    node_config_t cfg = {
        .data_dir = c->dir,
        .store = c->store,
        .author = author,
        .node_key = nk,
        .network = o->network,
        .bootstrap_path = o->bootstrap ? o->bootstrap : default_bootstrap(c, bsbuf, sizeof bsbuf),
        .socks5 = o->socks5,
        .announce = o->announce,
        .lan = !o->no_lan,
        .no_portmap = o->no_upnp,
        .no_relay = o->no_relay,
        .relay_listen = o->relay_listen,
        .peers_max = (size_t)o->peers_max,
        .log = &d.log,
        .defences_off = getenv(DEFENCE_ENV),
    };
    if (cfg.defences_off != NULL && cfg.defences_off[0] != '\0') {
        log_line(&d.log, LOG_LEVEL_WARN, "TEST ONLY: defences switched off (%s=%s)", DEFENCE_ENV,
                 cfg.defences_off);
    }
    const char *idle = getenv(DEFENCE_IDLE_ENV);
    if (idle != NULL && idle[0] != '\0') {
        cfg.idle_close_ms = strtoull(idle, NULL, 10);
        log_line(&d.log, LOG_LEVEL_WARN, "TEST ONLY: quiet connections closed after %llu ms (%s)",
                 (unsigned long long)cfg.idle_close_ms, DEFENCE_IDLE_ENV);
    }
    raise_file_limit(&d.log);
    memcpy(cfg.listen, o->listen, sizeof cfg.listen);
    uv_loop_init(&loop);
    if (o->tor) {
        int trc = start_tor(c, &d, &loop, o, &cfg);
        if (trc != CLI_EXIT_OK) {
            uv_loop_close(&loop);
            return trc;
        }
    }
    node_err_t err = node_new(&d.node, &loop, &cfg);
    if (err != NODE_OK) {
        cli_tor_close(&d.tor);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return cli_fail(c, CLI_EXIT_ERROR, "cannot start the node: %s", node_strerror(err));
    }
    app_config_t acfg = {
        .data_dir = c->dir,
        .store = c->store,
        .author = author,
        .node = d.node,
        .defences_off = cfg.defences_off,
    };
    app_err_t aerr = app_new(&d.app, &loop, &acfg);
    control_err_t cerr =
        aerr == APP_OK ? control_new(&d.control, &loop, d.app, c->dir) : CONTROL_ENOMEM;
    if (cerr == CONTROL_OK) {
        control_set_defences_off(d.control, cfg.defences_off);
    }
    if (cerr != CONTROL_OK) {
        app_close(d.app, NULL, NULL);
        node_close(d.node, NULL, NULL);
        cli_tor_close(&d.tor);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return cli_fail(c, CLI_EXIT_ERROR, "control socket in %s: %s", c->dir,
                        control_strerror(cerr));
    }
    if (!o->no_web) {
        int wrc = start_web(c, &d, &loop, o);
        if (wrc != CLI_EXIT_OK) {
            control_close(d.control, NULL, NULL);
            app_close(d.app, NULL, NULL);
            node_close(d.node, NULL, NULL);
            cli_tor_close(&d.tor);
            uv_run(&loop, UV_RUN_DEFAULT);
            uv_loop_close(&loop);
            return wrc;
        }
    }
    uv_signal_init(&loop, &d.sigint);
    uv_signal_init(&loop, &d.sigterm);
    d.sigint.data = d.sigterm.data = &d;
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    char nt[KEYTEXT_BUFSZ], at[KEYTEXT_BUFSZ];
    keytext_encode(nt, KEYTEXT_NODE, nk->pk);
    keytext_encode(at, KEYTEXT_AUTHOR, author->pk);
    log_line(&d.log, LOG_LEVEL_INFO, "author %s", at);
    log_line(&d.log, LOG_LEVEL_INFO, "node %s, data in %s; Ctrl-C stops", nt, c->dir);
    /* Listening and answering commands: a systemd unit of Type=notify is up. */
    notify_tell(&d.log, "READY=1");
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop);
    log_line(&d.log, LOG_LEVEL_INFO, "stopped%s", rc == 0 ? "" : " (handles left open)");
    return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

/* A short command may hold the store for a moment; a node holds it for good
 * and answers on its control socket. */
static int
open_store_for_node(cli_t *c)
{
    uint64_t deadline = cli_now_ms() + CLI_LOCK_WAIT_MS;
    for (;;) {
        if (cli_node_running(c)) {
            return cli_fail(c, CLI_EXIT_ERROR, "a node is already running with data in %s", c->dir);
        }
        if (datadir_ensure(c->dir) != DATADIR_OK) {
            return cli_fail(c, CLI_EXIT_ERROR, "%s: cannot create the data directory", c->dir);
        }
        char path[DATADIR_PATH_MAX];
        if (datadir_path(path, sizeof path, c->dir, "store") != DATADIR_OK) {
            return cli_fail(c, CLI_EXIT_ERROR, "data directory path is too long");
        }
        char detail[512] = "";
        store_err_t serr = store_open(&c->store, path, NULL, detail, sizeof detail);
        if (serr == STORE_OK) {
            return CLI_EXIT_OK;
        }
        if (serr != STORE_ELOCKED) {
            return cli_fail(c, CLI_EXIT_ERROR, "cannot open the store in %s: %s%s%s%s", path,
                            store_strerror(serr), detail[0] ? ": " : "", detail, APP_REPAIR_HINT);
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

/* The daemon holds the unlocked author key and the node secret for its
 * whole life. So that a crash or a stray debugger does not hand them out:
 * no core file (RLIMIT_CORE 0), not dumpable or attachable by other
 * processes of the user (PR_SET_DUMPABLE 0), the keys in sodium_malloc
 * memory (locked in RAM, guard pages, left out of core dumps, wiped when
 * freed), and the passphrase taken out of the environment once read. The
 * test switch "secrets" (defence.h) turns all of it off, for the test
 * that shows what a core of an unprotected node holds. */
static bool
protect_process(bool on)
{
    if (!on) {
        return false;
    }
    struct rlimit none = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &none);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    return true;
}

static void *
secret_alloc(size_t n, bool on)
{
    void *p = on ? sodium_malloc(n) : malloc(n);
    if (p != NULL) {
        memset(p, 0, n);
    }
    return p;
}

static void
secret_free(void *p, size_t n, bool on)
{
    if (p == NULL) {
        return;
    }
    if (on) {
        sodium_free(p); /* wipes */
        return;
    }
    sodium_memzero(p, n);
    free(p);
}

/* The value is overwritten where it lies (unsetenv only unlinks it, and
 * the text would stay in the process's memory). */
static void
forget_passphrase_env(bool on)
{
    char *v = getenv("SAMIZDAT_PASSPHRASE");
    if (on && v != NULL) {
        sodium_memzero(v, strlen(v));
        unsetenv("SAMIZDAT_PASSPHRASE");
    }
}

int
cli_cmd_run(cli_t *c, cli_args_t *a)
{
    run_opts_t o;
    memset(&o, 0, sizeof o);
    bool guard = protect_process(!defence_off(getenv(DEFENCE_ENV), "secrets"));
    int rc = parse_run(c, a, &o);
    bool created = false;
    if (rc == CLI_EXIT_OK) {
        rc = cli_ensure_keys(c, o.sealed, &created);
    }
    keys_author_t *author = secret_alloc(sizeof *author, guard);
    keys_node_t *nk = secret_alloc(sizeof *nk, guard);
    if (rc == CLI_EXIT_OK && (author == NULL || nk == NULL)) {
        rc = cli_fail(c, CLI_EXIT_ERROR, "cannot allocate locked memory for the keys");
    }
    if (rc == CLI_EXIT_OK) {
        rc = cli_load_author(c, author);
    }
    forget_passphrase_env(guard);
    if (rc == CLI_EXIT_OK) {
        rc = load_node_key(c, nk);
    }
    if (rc == CLI_EXIT_OK) {
        rc = open_store_for_node(c);
    }
    if (rc == CLI_EXIT_OK) {
        if (created) {
            fputs("first start: created your keys (samizdat whoami shows them)\n", c->err);
        }
        rc = serve(c, &o, author, nk);
    }
    secret_free(author, sizeof *author, guard);
    secret_free(nk, sizeof *nk, guard);
    return rc;
}
