/* The daemon (`run`), forwarding commands to a running node over the
 * control socket, and the commands that need a node: peers, peer add, and
 * status while a node runs. */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bytes.h"
#include "cli_int.h"
#include "control.h"
#include "json.h"
#include "keytext.h"
#include "node.h"
#include "notify.h"

/* ---- client: talk to a running node ---- */

static bool
write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool
read_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return false;
        }
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static int
connect_control(const char *dir)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", dir, CONTROL_SOCKET_NAME);
    if (n < 0 || (size_t)n >= sizeof sa.sun_path) {
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Reads all of standard input when an argument is "-" (post -, import -).
 * *too_big is set when it holds more than the request can carry. */
static uint8_t *
slurp_stdin(int argc, char **argv, size_t *len, bool *too_big)
{
    enum { CAP = CONTROL_REQUEST_MAX / 2 };
    *len = 0;
    *too_big = false;
    bool wants = false;
    for (int i = 1; i < argc; i++) {
        wants |= strcmp(argv[i], "-") == 0;
    }
    uint8_t *buf = malloc(CAP + 1);
    if (buf == NULL || !wants) {
        return buf;
    }
    size_t got;
    while (*len <= CAP && (got = fread(buf + *len, 1, CAP + 1 - *len, stdin)) > 0) {
        *len += got;
    }
    *too_big = *len > CAP;
    return buf;
}

/* The index of the FILE argument of import (the first word that is not an
 * option) and export (the second), or -1. Neither command has an option
 * that takes a value, so every other word is positional. */
static int
file_arg_index(int argc, char **argv)
{
    int want = strcmp(argv[0], "import") == 0 ? 1 : strcmp(argv[0], "export") == 0 ? 2 : 0;
    for (int i = 1, seen = 0; want > 0 && i < argc; i++) {
        bool option = argv[i][0] == '-' && argv[i][1] != '\0';
        if (!option && ++seen == want) {
            return i;
        }
    }
    return -1;
}

/* A relative FILE is made absolute: the node's working directory is not
 * ours. Returns a string to free, or NULL when path is used as it is. */
static char *
absolute(const char *path)
{
    if (path[0] == '/' || strcmp(path, "-") == 0) {
        return NULL;
    }
    char *cwd = getcwd(NULL, 0);
    size_t n = cwd ? strlen(cwd) + 1 + strlen(path) + 1 : 0;
    char *out = cwd ? malloc(n) : NULL;
    if (out != NULL) {
        snprintf(out, n, "%s/%s", cwd, path);
    }
    free(cwd);
    return out;
}

static void
put_arg(bytes_writer_t *w, const char *a)
{
    size_t n = strlen(a);
    if (n > UINT16_MAX) {
        w->err = true; /* cannot be framed: refuse the request */
        return;
    }
    bytes_put_u16(w, (uint16_t)n);
    bytes_put(w, (const uint8_t *)a, n);
}

static bool
encode_request(uint8_t *out, size_t cap, size_t *len, int argc, char **argv, bool json,
               const uint8_t *in, size_t in_len)
{
    bool has_json = false;
    for (int i = 1; i < argc; i++) {
        has_json |= strcmp(argv[i], "--json") == 0;
    }
    bool add_json = json && !has_json;
    if (argc + (add_json ? 1 : 0) > CONTROL_ARGS_MAX) {
        return false;
    }
    bytes_writer_t w;
    bytes_writer_init(&w, out, cap);
    bytes_put_u32(&w, 0); /* length, filled in below */
    bytes_put_u8(&w, CONTROL_VERSION);
    bytes_put_u8(&w, (uint8_t)(argc + (add_json ? 1 : 0)));
    int file = file_arg_index(argc, argv);
    for (int i = 0; i < argc; i++) {
        char *abs = i == file ? absolute(argv[i]) : NULL;
        put_arg(&w, abs ? abs : argv[i]);
        free(abs);
    }
    if (add_json) {
        put_arg(&w, "--json");
    }
    bytes_put_u32(&w, (uint32_t)in_len);
    bytes_put(&w, in, in_len);
    if (!bytes_writer_ok(&w) || w.len - 4 > CONTROL_REQUEST_MAX) {
        return false;
    }
    uint32_t body = (uint32_t)(w.len - 4);
    out[0] = (uint8_t)(body >> 24);
    out[1] = (uint8_t)(body >> 16);
    out[2] = (uint8_t)(body >> 8);
    out[3] = (uint8_t)body;
    *len = w.len;
    return true;
}

static int
relay_response(cli_t *c, int fd)
{
    uint8_t hdr[4];
    if (!read_all(fd, hdr, 4)) {
        return cli_fail(c, CLI_EXIT_ERROR, "the node closed the control connection");
    }
    size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
    uint8_t *body = len <= CONTROL_RESPONSE_MAX + 16 ? malloc(len ? len : 1) : NULL;
    if (body == NULL || !read_all(fd, body, len)) {
        free(body);
        return cli_fail(c, CLI_EXIT_ERROR, "bad response from the node");
    }
    bytes_reader_t r;
    bytes_reader_init(&r, body, len);
    int code = bytes_get_u8(&r);
    uint32_t olen = bytes_get_u32(&r);
    const uint8_t *o = bytes_get_ref(&r, olen);
    uint32_t elen = bytes_get_u32(&r);
    const uint8_t *e = bytes_get_ref(&r, elen);
    if (!bytes_reader_done(&r)) {
        free(body);
        return cli_fail(c, CLI_EXIT_ERROR, "malformed response from the node");
    }
    fwrite(o, 1, olen, c->out);
    fwrite(e, 1, elen, c->err);
    free(body);
    return code;
}

int
cli_forward(cli_t *c, int argc, char **argv)
{
    int fd = connect_control(c->dir);
    if (fd < 0) {
        return -1; /* no node: the caller runs the command itself */
    }
    size_t in_len = 0;
    bool too_big = false;
    uint8_t *in = slurp_stdin(argc, argv, &in_len, &too_big);
    size_t cap = CONTROL_REQUEST_MAX + 4;
    uint8_t *req = malloc(cap);
    size_t len = 0;
    int rc;
    if (too_big) {
        rc = cli_fail(c, CLI_EXIT_BADINPUT,
                      "standard input is larger than the %d KiB a running node takes from the "
                      "command line; give a file name instead",
                      CONTROL_REQUEST_MAX / 2 / 1024);
    } else if (in == NULL || req == NULL ||
               !encode_request(req, cap, &len, argc, argv, c->json, in, in_len)) {
        rc = cli_fail(c, CLI_EXIT_BADINPUT, "the command is too large to send to the node");
    } else if (!write_all(fd, req, len)) {
        rc = cli_fail(c, CLI_EXIT_ERROR, "cannot talk to the node: %s", strerror(errno));
    } else {
        rc = relay_response(c, fd);
    }
    free(in);
    free(req);
    close(fd);
    return rc;
}

/* ---- the daemon ---- */

typedef struct {
    node_t *node;
    control_t *control;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    bool stopping;
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
    uv_close((uv_handle_t *)&d->sigint, on_signal_closed);
    uv_close((uv_handle_t *)&d->sigterm, on_signal_closed);
}

/* The control socket goes first, so no command runs against a closing node. */
static void
on_control_closed(void *ud)
{
    daemon_t *d = ud;
    node_close(d->node, on_node_closed, d);
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
    control_close(d->control, on_control_closed, d);
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
    if (pm != NULL && (!cli_parse_u64(pm, &o->peers_max) || o->peers_max < 3 ||
                       o->peers_max > 1024)) {
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
    if (o->level != NULL && log_level_parse(o->level) < 0) {
        return cli_fail(c, CLI_EXIT_USAGE, "--log-level is error, warn, info or debug");
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
    return err == KEYS_OK ? CLI_EXIT_OK
                          : cli_fail(c, CLI_EXIT_ERROR, "%s: %s", path, keys_strerror(err));
}

static int
serve(cli_t *c, const run_opts_t *o, const keys_author_t *author, const keys_node_t *nk)
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
        .peers_max = (size_t)o->peers_max,
        .log = &d.log,
    };
    memcpy(cfg.listen, o->listen, sizeof cfg.listen);
    uv_loop_init(&loop);
    node_err_t err = node_new(&d.node, &loop, &cfg);
    if (err != NODE_OK) {
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return cli_fail(c, CLI_EXIT_ERROR, "cannot start the node: %s", node_strerror(err));
    }
    control_err_t cerr = control_new(&d.control, &loop, d.node, c->dir);
    if (cerr != CONTROL_OK) {
        node_close(d.node, NULL, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return cli_fail(c, CLI_EXIT_ERROR, "control socket in %s: %s", c->dir,
                        control_strerror(cerr));
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

bool
cli_node_running(cli_t *c)
{
    int fd = connect_control(c->dir);
    if (fd >= 0) {
        close(fd);
    }
    return fd >= 0;
}

/* A short command may hold the store for a moment; a node holds it for good
 * and answers on its control socket. */
static int
open_store_for_node(cli_t *c)
{
    uint64_t deadline = cli_now_ms() + CLI_LOCK_WAIT_MS;
    for (;;) {
        if (cli_node_running(c)) {
            return cli_fail(c, CLI_EXIT_ERROR, "a node is already running with data in %s",
                            c->dir);
        }
        bool locked = false;
        int rc = cli_try_open_store(c, &locked);
        if (!locked) {
            return rc;
        }
        if (cli_now_ms() >= deadline) {
            return cli_open_store(c);
        }
        cli_sleep_ms(CLI_LOCK_POLL_MS);
    }
}

int
cli_cmd_run(cli_t *c, cli_args_t *a)
{
    run_opts_t o;
    memset(&o, 0, sizeof o);
    int rc = parse_run(c, a, &o);
    bool created = false;
    if (rc == CLI_EXIT_OK) {
        rc = cli_ensure_keys(c, o.sealed, &created);
    }
    keys_author_t author;
    keys_node_t nk;
    memset(&author, 0, sizeof author);
    memset(&nk, 0, sizeof nk);
    if (rc == CLI_EXIT_OK) {
        rc = cli_load_author(c, &author);
    }
    if (rc == CLI_EXIT_OK) {
        rc = load_node_key(c, &nk);
    }
    if (rc == CLI_EXIT_OK) {
        rc = open_store_for_node(c);
    }
    if (rc == CLI_EXIT_OK) {
        if (created) {
            fputs("first start: created your keys (samizdat whoami shows them)\n", c->err);
        }
        rc = serve(c, &o, &author, &nk);
    }
    keys_author_wipe(&author);
    keys_node_wipe(&nk);
    return rc;
}

/* ---- commands that need the node ---- */

static void
print_ms_ago(FILE *f, uint64_t then_ms)
{
    uint64_t now = cli_now_ms();
    uint64_t s = now > then_ms ? (now - then_ms) / 1000 : 0;
    fprintf(f, "%llus ago", (unsigned long long)s);
}

typedef struct {
    cli_t *c;
    size_t count;
} peer_list_t;

static bool
print_peer(void *ud, const node_peer_info_t *p)
{
    peer_list_t *pl = ud;
    cli_t *c = pl->c;
    char k[KEYTEXT_BUFSZ];
    keytext_encode(k, KEYTEXT_NODE, p->key);
    const char *dir = p->dir == TRANSPORT_OUT ? "out" : "in";
    if (c->json) {
        fprintf(c->out, "%s\n  {\"node\":\"%s\",\"endpoint\":", pl->count ? "," : "", k);
        json_string(c->out, p->endpoint);
        fprintf(c->out, ",\"direction\":\"%s\",\"ready\":%s,\"last_seen_ms\":%llu,\"rtt_ms\":%lld}",
                dir, p->ready ? "true" : "false", (unsigned long long)p->last_seen_ms,
                (long long)p->rtt_ms);
    } else {
        fprintf(c->out, "%s  %-3s  %s  %s  seen ", k, dir, p->endpoint[0] ? p->endpoint : "-",
                p->ready ? "ready" : "connecting");
        print_ms_ago(c->out, p->last_seen_ms);
        if (p->rtt_ms >= 0) {
            fprintf(c->out, "  rtt %lldms", (long long)p->rtt_ms);
        }
        fputc('\n', c->out);
    }
    pl->count++;
    return true;
}

int
cli_cmd_peers(cli_t *c, cli_args_t *a)
{
    const char *pos[1];
    if (cli_unknown_option(a) != NULL || cli_positional(a, pos, 1) != 0) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat peers [--json]");
    }
    if (c->node == NULL) {
        return cli_fail(c, CLI_EXIT_ERROR, "the node is not running (start it: samizdat run)");
    }
    peer_list_t pl = {c, 0};
    if (c->json) {
        fputs("{\"peers\":[", c->out);
    }
    node_peers(c->node, print_peer, &pl);
    if (c->json) {
        fputs(pl.count ? "\n]}\n" : "]}\n", c->out);
    } else if (pl.count == 0) {
        fputs("no peers yet\n", c->out);
    }
    return CLI_EXIT_OK;
}

int
cli_cmd_peer(cli_t *c, cli_args_t *a)
{
    const char *pos[3];
    if (cli_unknown_option(a) != NULL || cli_positional(a, pos, 3) != 3 ||
        strcmp(pos[0], "add") != 0) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat peer add ENDPOINT NODEKEY");
    }
    if (!wire_endpoint_valid(pos[1])) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "'%s' is not an endpoint like tcp://192.0.2.1:7470",
                        pos[1]);
    }
    uint8_t key[32];
    keytext_err_t kerr = keytext_decode(key, KEYTEXT_NODE, pos[2]);
    if (kerr != KEYTEXT_OK) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "'%s' is not a valid node key: %s", pos[2],
                        keytext_strerror(kerr));
    }
    if (c->node != NULL) {
        node_add_peer(c->node, key, pos[1]);
        fprintf(c->out, "connecting to %s\n", pos[1]);
        return CLI_EXIT_OK;
    }
    int rc = cli_open_store(c);
    store_err_t err = rc == CLI_EXIT_OK ? store_peer_save(c->store, key, pos[1], 0) : STORE_OK;
    if (rc == CLI_EXIT_OK && err != STORE_OK) {
        return cli_store_error(c, err, "peer add");
    }
    if (rc == CLI_EXIT_OK) {
        fprintf(c->out, "saved %s; the node will try it when it next starts\n", pos[1]);
    }
    return rc;
}

/* Counters of what peers sent wrong, by name in JSON and in words. */
typedef struct {
    const char *json;
    const char *words;
    uint64_t v;
} counter_t;

static void
node_counters(const node_status_t *ns, counter_t out[7])
{
    counter_t c[7] = {
        {"malformed", "malformed", ns->malformed},
        {"oversized", "too large", ns->oversized},
        {"unknown", "unknown type", ns->unknown},
        {"unsolicited", "unasked answers", ns->unsolicited},
        {"dropped_multipart", "multipart", ns->transport.dropped_multipart},
        {"timeouts", "requests timed out", ns->timeouts},
        {"flood_cuts", "floods cut", ns->transport.flood_cuts},
    };
    memcpy(out, c, sizeof c);
}

static void
status_json(cli_t *c, const node_status_t *ns, const store_stats_t *st, const char *nt,
            const char *at)
{
    FILE *f = c->out;
    fprintf(f, "{\"node\":\"%s\",\"author\":\"%s\",\"network\":", nt, at);
    json_string(f, node_network(c->node));
    fputs(",\"listen\":[", f);
    for (size_t i = 0; i < ns->n_listen; i++) {
        fputs(i ? "," : "", f);
        json_string(f, ns->listen[i]);
    }
    fprintf(f,
            "],\"uptime_ms\":%llu,\"peers\":%zu,\"peers_in\":%zu,\"peers_out\":%zu,"
            "\"contacts\":%zu,\"posts\":%llu,\"authors\":%llu,\"following\":%llu",
            (unsigned long long)ns->uptime_ms, ns->peers_ready, ns->peers_in, ns->peers_out,
            ns->contacts, (unsigned long long)st->posts, (unsigned long long)st->authors,
            (unsigned long long)st->follows);
    node_dht_status_t ds;
    node_dht_status(c->node, &ds);
    fprintf(f, ",\"dht\":{\"table\":%zu,\"records\":%zu,\"announces\":%zu,\"lookups\":%zu}",
            ds.table, ds.records, ds.announces, ds.lookups);
    node_gossip_status_t gs;
    node_gossip_status(c->node, &gs);
    fprintf(f,
            ",\"gossip\":{\"peers\":%zu,\"received\":%llu,\"stored\":%llu,\"duplicates\":%llu,"
            "\"invalid\":%llu,\"forwarded\":%llu,\"rate_limited\":%llu,\"bytes_in\":%llu,"
            "\"bytes_out\":%llu,\"forks\":%llu}",
            gs.peers, (unsigned long long)gs.posts_received, (unsigned long long)gs.posts_stored,
            (unsigned long long)gs.posts_duplicate, (unsigned long long)gs.posts_invalid,
            (unsigned long long)gs.posts_forwarded, (unsigned long long)gs.rate_limited,
            (unsigned long long)gs.bytes_received, (unsigned long long)gs.bytes_sent,
            (unsigned long long)gs.forks);
    counter_t k[7];
    node_counters(ns, k);
    for (int i = 0; i < 7; i++) {
        fprintf(f, ",\"%s\":%llu", k[i].json, (unsigned long long)k[i].v);
    }
    fputs("}\n", f);
}

static void
status_text(cli_t *c, const node_status_t *ns, const store_stats_t *st, const char *nt,
            const char *at)
{
    FILE *f = c->out;
    fprintf(f, "node key:   %s\nauthor key: %s\nnetwork:    %s\ndata:       %s\n", nt, at,
            node_network(c->node), c->dir);
    for (size_t i = 0; i < ns->n_listen; i++) {
        fprintf(f, "listening:  %s\n", ns->listen[i]);
    }
    fprintf(f,
            "uptime:     %llus\npeers:      %zu ready (%zu in, %zu out), %zu more known\n"
            "posts:      %llu from %llu authors\nfollowing:  %llu\n",
            (unsigned long long)(ns->uptime_ms / 1000), ns->peers_ready, ns->peers_in,
            ns->peers_out, ns->contacts, (unsigned long long)st->posts,
            (unsigned long long)st->authors, (unsigned long long)st->follows);
    node_dht_status_t ds;
    node_dht_status(c->node, &ds);
    fprintf(f, "dht:        %zu contacts in the routing table, %zu records kept for others, "
               "%zu feeds announced\n",
            ds.table, ds.records, ds.announces);
    node_gossip_status_t gs;
    node_gossip_status(c->node, &gs);
    fprintf(f, "gossip:     %zu peers; %llu posts received, %llu new, %llu duplicates, "
               "%llu invalid; %llu forks\n",
            gs.peers, (unsigned long long)gs.posts_received, (unsigned long long)gs.posts_stored,
            (unsigned long long)gs.posts_duplicate, (unsigned long long)gs.posts_invalid,
            (unsigned long long)gs.forks);
    counter_t k[7];
    node_counters(ns, k);
    fputs("from peers: ", f);
    for (int i = 0; i < 7; i++) {
        fprintf(f, "%s%llu %s", i ? ", " : "", (unsigned long long)k[i].v, k[i].words);
    }
    fputc('\n', f);
}

int
cli_node_status(cli_t *c)
{
    node_status_t ns;
    node_status(c->node, &ns);
    store_stats_t st;
    store_err_t err = store_stats(c->store, &st);
    if (err != STORE_OK) {
        return cli_store_error(c, err, "status");
    }
    char nt[KEYTEXT_BUFSZ], at[KEYTEXT_BUFSZ];
    keytext_encode(nt, KEYTEXT_NODE, node_public_key(c->node));
    keytext_encode(at, KEYTEXT_AUTHOR, node_author(c->node)->pk);
    if (c->json) {
        status_json(c, &ns, &st, nt, at);
    } else {
        status_text(c, &ns, &st, nt, at);
    }
    return CLI_EXIT_OK;
}
