/* Twenty real samizdat processes on loopback. Each joins from one bootstrap
 * entry, publishes a post, and announces its feed and signed head in the
 * DHT; then every node finds every other node's provider record and head
 * with `samizdat dht lookup`. Prints what the lookups cost. */
#include "testutil.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodes.h"

enum { SWARM = 20, DEADLINE_S = 120, SAMPLES_MAX = SWARM * SWARM * 4 };

typedef struct {
    char root[400];
    char network[40];
    tn_node_t n[SWARM];
    bool found[SWARM][SWARM];
    unsigned hops[SAMPLES_MAX];
    unsigned messages[SAMPLES_MAX];
    unsigned ms[SAMPLES_MAX];
    size_t samples;
} swarm_t;

static unsigned
field(const char *obj, const char *name)
{
    char key[32];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = strstr(obj, key);
    return p ? (unsigned)strtoul(p + strlen(key), NULL, 10) : 0;
}

/* One node's answer to `dht lookup`: an object per author, one per line.
 * An author counts as found when the object names that author's node as a
 * provider and carries its head at seq 1. */
static void
take_lookups(swarm_t *s, int i, const char *out)
{
    for (int j = 0; j < SWARM; j++) {
        char want[KEYTEXT_BUFSZ + 16];
        snprintf(want, sizeof want, "{\"author\":\"%s\"", s->n[j].author_text);
        const char *obj = strstr(out, want);
        const char *end = obj ? strchr(obj, '\n') : NULL;
        if (obj == NULL || end == NULL) {
            continue;
        }
        char line[4096];
        size_t len = (size_t)(end - obj) < sizeof line - 1 ? (size_t)(end - obj) : sizeof line - 1;
        memcpy(line, obj, len);
        line[len] = '\0';
        bool ok = strstr(line, s->n[j].node_text) != NULL &&
                  strstr(line, "\"head\":{\"seq\":1,") != NULL;
        if (ok && !s->found[i][j] && s->samples < SAMPLES_MAX) {
            s->hops[s->samples] = field(line, "hops");
            s->messages[s->samples] = field(line, "messages");
            s->ms[s->samples++] = field(line, "ms");
        }
        s->found[i][j] |= ok;
    }
}

/* Looks up, from node i, every author it has not found yet. Returns how
 * many are still missing. */
static int
lookup_round(swarm_t *s, int i)
{
    char *args[SWARM + 4] = {(char *)"--json", (char *)"dht", (char *)"lookup"};
    int n = 3;
    for (int j = 0; j < SWARM; j++) {
        if (j != i && !s->found[i][j]) {
            args[n++] = s->n[j].author_text;
        }
    }
    if (n == 3) {
        return 0;
    }
    args[n] = NULL;
    tu_run_t r;
    tn_cli_argv(&r, &s->n[i], args);
    if (r.status == 0) {
        take_lookups(s, i, r.out);
    }
    if (i == 5 && getenv("SWARM_DEBUG") != NULL) {
        printf("node 5, status %d:\n%s%s\n", r.status, r.out, r.err);
    }
    tu_run_free(&r);
    int missing = 0;
    for (int j = 0; j < SWARM; j++) {
        missing += j != i && !s->found[i][j];
    }
    return missing;
}

static int
cmp_unsigned(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

static unsigned
quantile(unsigned *v, size_t n, double q)
{
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof *v, cmp_unsigned);
    size_t k = (size_t)(q * (double)(n - 1) + 0.5);
    return v[k];
}

static void
test_every_node_finds_every_feed(void **state)
{
    swarm_t *s = *state;
    char empty[600], list[600];
    snprintf(empty, sizeof empty, "%s/empty.list", s->root);
    snprintf(list, sizeof list, "%s/one.list", s->root);
    tu_write_file(empty, "", 0);
    tn_start(&s->n[0], s->network, empty, NULL, NULL);
    tn_write_bootstrap(list, &s->n[0], 1);
    for (int i = 1; i < SWARM; i++) {
        tn_start(&s->n[i], s->network, list, NULL, NULL);
    }
    for (int i = 0; i < SWARM; i++) {
        char text[64];
        snprintf(text, sizeof text, "hello from node %d", i);
        tu_run_t r;
        tn_cli(&r, &s->n[i], "post", text, NULL, NULL);
        assert_int_equal(r.status, 0);
        tu_run_free(&r);
    }
    double start = tu_now();
    int missing = SWARM * (SWARM - 1);
    int rounds = 0;
    while (missing > 0 && tu_now() - start < DEADLINE_S) {
        missing = 0;
        for (int i = 0; i < SWARM; i++) {
            missing += lookup_round(s, i);
        }
        rounds++;
        if (missing > 0) {
            sleep(1);
        }
    }
    size_t n = s->samples;
    printf("swarm: %d nodes, %d of %d (node, feed) pairs found in %.1f s (%d rounds)\n", SWARM,
           SWARM * (SWARM - 1) - missing, SWARM * (SWARM - 1), tu_now() - start, rounds);
    printf("swarm: per found lookup: hops median %u, max %u; messages median %u, p99 %u; "
           "time median %u ms, p99 %u ms\n",
           quantile(s->hops, n, 0.5), quantile(s->hops, n, 1.0), quantile(s->messages, n, 0.5),
           quantile(s->messages, n, 0.99), quantile(s->ms, n, 0.5), quantile(s->ms, n, 0.99));
    for (int i = 0; i < SWARM && missing > 0; i++) {
        for (int j = 0; j < SWARM; j++) {
            if (i != j && !s->found[i][j]) {
                printf("swarm: node %d never found node %d's feed (log %s)\n", i, j, s->n[i].log);
            }
        }
    }
    assert_int_equal(missing, 0);
    /* Twenty nodes stop cleanly. */
    for (int i = 0; i < SWARM; i++) {
        assert_int_equal(tn_stop(&s->n[i]), 0);
    }
}

static int
setup(void **state)
{
    swarm_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    tu_mkdtemp(s->root, sizeof s->root);
    snprintf(s->network, sizeof s->network, "swarm-%08x", randombytes_random());
    for (int i = 0; i < SWARM; i++) {
        tn_init(&s->n[i], s->root, i);
    }
    *state = s;
    return 0;
}

static int
teardown(void **state)
{
    swarm_t *s = *state;
    for (int i = 0; i < SWARM; i++) {
        if (s->n[i].pid > 0) {
            tu_stop(s->n[i].pid, SIGKILL, 5);
        }
    }
    if (getenv("SAMIZDAT_KEEP_TEST_DIRS") == NULL) {
        tu_rmtree(s->root);
    } else {
        fprintf(stderr, "kept %s\n", s->root);
    }
    free(s);
    return 0;
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    unsetenv("SAMIZDAT_PASSPHRASE");
    unsetenv("SAMIZDAT_DATA");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_node_finds_every_feed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
