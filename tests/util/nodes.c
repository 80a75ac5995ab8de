#include "nodes.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
tn_start(tn_node_t *t, const char *network, const char *bootstrap, const char *opt,
         const char *val)
{
    char *argv[] = {(char *)SAMIZDAT_BINARY, (char *)"--data", t->dir, (char *)"run",
                    (char *)"--listen", (char *)"tcp://127.0.0.1:0", (char *)"--no-lan",
                    (char *)"--network", (char *)network, (char *)"--bootstrap",
                    (char *)bootstrap, (char *)"--log-level", (char *)"debug", (char *)opt,
                    (char *)val, NULL};
    t->pid = tu_spawn(argv, NULL, t->log);
    double deadline = tu_now() + 30;
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
        usleep(100000);
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
