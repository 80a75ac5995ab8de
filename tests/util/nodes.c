#include "nodes.h"

#include "control.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
read_key(tn_node_t *t, const char *flag, char out[KEYTEXT_BUFSZ])
{
    tu_run_t r;
    tn_cli(&r, t, "whoami", flag, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_true(r.out_len >= KEYTEXT_LEN);
    memcpy(out, r.out, KEYTEXT_LEN);
    out[KEYTEXT_LEN] = '\0';
    tu_run_free(&r);
}

void
tn_init(tn_node_t *t, const char *root, int i)
{
    memset(t, 0, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "%s/n%d", root, i);
    snprintf(t->log, sizeof t->log, "%s/n%d.log", root, i);
    tu_run_t r;
    tn_cli(&r, t, "init", NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    read_key(t, "--node", t->node_text);
    read_key(t, NULL, t->author_text);
    assert_int_equal(keytext_decode(t->node_pk, KEYTEXT_NODE, t->node_text), KEYTEXT_OK);
}

void
tn_cli_argv(tu_run_t *r, tn_node_t *t, char *const args[])
{
    char *argv[40] = {(char *)SAMIZDAT_BINARY, (char *)"--data", t->dir};
    int n = 3;
    for (int i = 0; args[i] != NULL; i++) {
        assert_true(n < 39);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    tu_run(r, argv, NULL, NULL, 60);
}

void
tn_cli(tu_run_t *r, tn_node_t *t, const char *a1, const char *a2, const char *a3, const char *a4)
{
    char *args[] = {(char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL};
    /* A NULL in the middle ends the list, like the caller meant. */
    tn_cli_argv(r, t, args);
}

void
tn_start(tn_node_t *t, const char *network, const char *bootstrap, const char *opt, const char *val)
{
    tn_start_env(t, network, bootstrap, opt, val, NULL);
}

void
tn_start_env(tn_node_t *t, const char *network, const char *bootstrap, const char *opt,
             const char *val, char *const env[])
{
    char *more[] = {(char *)opt, (char *)val, NULL};
    tn_start_more(t, network, bootstrap, more, env);
}

void
tn_start_more(tn_node_t *t, const char *network, const char *bootstrap, char *const more[],
              char *const env[])
{
    tn_spawn_more(t, network, bootstrap, more, env);
    tn_wait_started(t);
}

void
tn_spawn_more(tn_node_t *t, const char *network, const char *bootstrap, char *const more[],
              char *const env[])
{
    char *listen = t->listen[0] != '\0' ? t->listen : (char *)"tcp://127.0.0.1:0";
    char *argv[40] = {(char *)"/usr/sbin/ip",
                      (char *)"netns",
                      (char *)"exec",
                      t->netns,
                      (char *)SAMIZDAT_BINARY,
                      (char *)"--data",
                      t->dir,
                      (char *)"run",
                      (char *)"--listen",
                      listen,
                      (char *)"--no-lan",
                      (char *)"--network",
                      (char *)network,
                      (char *)"--bootstrap",
                      (char *)bootstrap,
                      (char *)"--log-level",
                      (char *)"debug"};
    int words = 17;
    for (int i = 0; more[i] != NULL && words < 39; i++) {
        argv[words++] = more[i];
    }
    argv[words] = NULL;
    /* ip netns exec runs the node in its own process (exec), so the pid
     * is the node's. */
    t->pid = tu_spawn(t->netns[0] != '\0' ? argv : argv + 4, env, t->log);
}

void
tn_wait_started(tn_node_t *t)
{
    double deadline = tu_now() + 30;
    /* The control socket first: `status` before it exists would open the
     * store itself, racing the starting node for it. */
    char sock[600];
    assert_true(control_socket_path(sock, sizeof sock, t->dir));
    struct stat st;
    while (stat(sock, &st) != 0 && tu_now() < deadline) {
        usleep(10000);
    }
    while (tu_now() < deadline) {
        tu_run_t r;
        tn_cli(&r, t, "--json", "status", NULL, NULL);
        const char *l = strstr(r.out, "\"listen\":[\"");
        if (r.status == 0 && l != NULL) {
            l += strlen("\"listen\":[\"");
            size_t n = strcspn(l, "\"");
            assert_true(n < sizeof t->endpoint);
            memcpy(t->endpoint, l, n);
            t->endpoint[n] = '\0';
            tu_run_free(&r);
            return;
        }
        tu_run_free(&r);
        usleep(20000);
    }
    fail_msg("node %s did not start; see %s", t->dir, t->log);
}

int
tn_stop(tn_node_t *t)
{
    int status = tu_stop(t->pid, SIGINT, 30);
    t->pid = 0;
    return status;
}

bool
tn_has_peer(tn_node_t *t, const tn_node_t *other)
{
    tu_run_t r;
    tn_cli(&r, t, "--json", "peers", NULL, NULL);
    /* Only within that peer's own object. */
    const char *p = strstr(r.out, other->node_text);
    const char *end = p != NULL ? strchr(p, '}') : NULL;
    const char *ready = p != NULL ? strstr(p, "\"ready\":true") : NULL;
    bool ok = ready != NULL && end != NULL && ready < end;
    tu_run_free(&r);
    return ok;
}

bool
tn_wait_peer(tn_node_t *t, const tn_node_t *other, int seconds)
{
    double deadline = tu_now() + seconds;
    while (tu_now() < deadline) {
        if (tn_has_peer(t, other)) {
            return true;
        }
        usleep(200000);
    }
    return false;
}

enum { CONNS_MAX = 128 };

/* One connection of `peers --json`: node key text and direction, ready or
 * not, and its last_seen_ms. */
typedef struct {
    char node[KEYTEXT_BUFSZ];
    char dir[4];
    bool ready;
    unsigned long long seen;
} conn_t;

/* Parses the peer objects of `peers --json` output; returns how many. */
static size_t
parse_conns(const char *out, conn_t *c, size_t cap)
{
    size_t n = 0;
    for (const char *p = strstr(out, "{\"node\":\""); p != NULL && n < cap;
         p = strstr(p + 1, "{\"node\":\"")) {
        const char *end = strchr(p, '}');
        if (end == NULL) {
            break;
        }
        conn_t *k = &c[n];
        memset(k, 0, sizeof *k);
        const char *q = p + strlen("{\"node\":\"");
        size_t len = strcspn(q, "\"");
        if (len >= sizeof k->node) {
            continue;
        }
        memcpy(k->node, q, len);
        const char *d = strstr(p, "\"direction\":\"");
        if (d != NULL && d < end) {
            snprintf(k->dir, sizeof k->dir, "%.3s", d + strlen("\"direction\":\""));
            k->dir[strcspn(k->dir, "\"")] = '\0';
        }
        const char *r = strstr(p, "\"ready\":true");
        k->ready = r != NULL && r < end;
        const char *s = strstr(p, "\"last_seen_ms\":");
        if (s != NULL && s < end) {
            k->seen = strtoull(s + strlen("\"last_seen_ms\":"), NULL, 10);
        }
        n++;
    }
    return n;
}

static size_t
read_conns(tn_node_t *t, conn_t *c, size_t cap)
{
    tu_run_t r;
    tn_cli(&r, t, "--json", "peers", NULL, NULL);
    size_t n = r.status == 0 ? parse_conns(r.out, c, cap) : 0;
    tu_run_free(&r);
    return n;
}

bool
tn_wait_heard_again(tn_node_t *t, const tn_node_t *other, int seconds)
{
    static conn_t before[CONNS_MAX], now[CONNS_MAX];
    size_t nb = 0;
    size_t all = read_conns(t, before, CONNS_MAX);
    for (size_t i = 0; i < all; i++) {
        if (before[i].ready && (other == NULL || strcmp(before[i].node, other->node_text) == 0)) {
            before[nb++] = before[i];
        }
    }
    if (nb == 0) {
        return false; /* no such connection: nothing to wait for is a failure */
    }
    double deadline = tu_now() + seconds;
    for (;;) {
        size_t nn = read_conns(t, now, CONNS_MAX);
        size_t waiting = 0;
        for (size_t i = 0; i < nb; i++) {
            bool moved_or_gone = true;
            for (size_t j = 0; j < nn; j++) {
                if (strcmp(now[j].node, before[i].node) == 0 &&
                    strcmp(now[j].dir, before[i].dir) == 0 && now[j].seen <= before[i].seen) {
                    moved_or_gone = false;
                }
            }
            waiting += !moved_or_gone;
        }
        if (waiting == 0) {
            return true;
        }
        if (tu_now() > deadline) {
            return false;
        }
        usleep(200000);
    }
}

long
tn_status_count(tn_node_t *t, const char *field)
{
    tu_run_t r;
    tn_cli(&r, t, "--json", "status", NULL, NULL);
    char key[64];
    snprintf(key, sizeof key, "\"%s\":", field);
    const char *p = strstr(r.out, key);
    long v = p ? strtol(p + strlen(key), NULL, 10) : -1;
    tu_run_free(&r);
    return v;
}

void
tn_write_bootstrap(const char *path, const tn_node_t *nodes, int count)
{
    char buf[8192];
    size_t len = (size_t)snprintf(buf, sizeof buf, "# test list\n");
    for (int i = 0; i < count && len < sizeof buf; i++) {
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s %s  # node\n", nodes[i].endpoint,
                                nodes[i].node_text);
    }
    assert_true(len < sizeof buf);
    tu_write_file(path, buf, len);
}
