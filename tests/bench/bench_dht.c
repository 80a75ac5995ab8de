/* DHT lookups between real processes on loopback: N nodes (default 100)
 * started against one bootstrap node (tests/util/swarm). A nodes (default
 * 30) each publish one post, so each announces its feed and puts its signed
 * head. After a settling pause, each of those authors is looked up once,
 * one lookup at a time, from a node that is neither the author nor the
 * bootstrap node (`samizdat --json dht lookup`). Reports the lookups' own
 * times (the "ms" the node measures), p50/p90/p99/max, and how many found
 * the author's node as a provider and its head.
 *
 *     bench_dht [--nodes 100] [--authors 30] [--settle 5] [--rounds 1]
 */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "swarm.h"

enum { SAMPLES_MAX = 4096 };

static int
number(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    return (end != s && *end == '\0' && v >= 0 && v < 100000) ? (int)v : -1;
}

static int
cmp_unsigned(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

static unsigned
quantile(const unsigned *sorted, size_t n, double q)
{
    if (n == 0) {
        return 0;
    }
    size_t k = (size_t)(q * (double)(n - 1) + 0.5);
    return sorted[k];
}

/* Looks author j up from node i: the lookup's time in *ms; true when the
 * answer names j's node as a provider and carries j's head at seq 1. */
static bool
lookup(swarm_t *s, int i, int j, unsigned *ms)
{
    char *args[] = {(char *)"--json", (char *)"dht", (char *)"lookup", s->n[j].author_text, NULL};
    tu_run_t r;
    tn_cli_argv(&r, &s->n[i], args);
    bool ok = false;
    *ms = 0;
    const char *t = strstr(r.out, "\"ms\":");
    if (r.status == 0 && t != NULL) {
        *ms = (unsigned)strtoul(t + 5, NULL, 10);
        ok = strstr(r.out, s->n[j].node_text) != NULL &&
             strstr(r.out, "\"head\":{\"seq\":1,") != NULL;
    }
    if (!ok) {
        printf("  answer: %.800s%.200s\n", r.out, r.err);
    }
    tu_run_free(&r);
    return ok;
}

int
main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        return 1;
    }
    unsetenv("SAMIZDAT_PASSPHRASE");
    unsetenv("SAMIZDAT_DATA");
    int nodes = 100, authors = 30, settle = 5, rounds = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = number(argv[i + 1]);
        if (strcmp(argv[i], "--nodes") == 0) {
            nodes = v;
        } else if (strcmp(argv[i], "--authors") == 0) {
            authors = v;
        } else if (strcmp(argv[i], "--settle") == 0) {
            settle = v;
        } else if (strcmp(argv[i], "--rounds") == 0) {
            rounds = v;
        }
    }
    if (nodes < 4 || authors < 1 || authors > nodes - 2 || settle < 0 || rounds < 1 ||
        authors * rounds > SAMPLES_MAX) {
        fprintf(stderr, "usage: bench_dht [--nodes N>=4] [--authors 1..N-2] [--settle S] "
                        "[--rounds R]\n");
        return 2;
    }
    swarm_t s;
    double t0 = tu_now();
    swarm_start(&s, nodes, 1);
    printf("%d nodes started in %.1f s (keys %.1f s, starts %.1f s, follows until all peered "
           "%.1f s)\n",
           nodes,
           tu_now() - t0, s.init_s, s.start_s, s.follow_s);
    /* Authors are nodes 2.. (0 is the bootstrap node, 1 the swarm's author). */
    for (int j = 2; j < 2 + authors; j++) {
        char text[64];
        snprintf(text, sizeof text, "hello from node %d", j);
        tu_run_t r;
        tn_cli(&r, &s.n[j], "post", text, NULL, NULL);
        if (r.status != 0) {
            fprintf(stderr, "bench: post at node %d failed: %s\n", j, r.err);
            return 1;
        }
        tu_run_free(&r);
    }
    sleep((unsigned)settle);
    static unsigned ms[SAMPLES_MAX];
    size_t n = 0;
    int found = 0;
    for (int round = 0; round < rounds; round++) {
        for (int j = 2; j < 2 + authors; j++) {
            /* A node that is not the author, nor the bootstrap node, nor
             * the same for every author. */
            int i = 1 + (j + nodes / 2 + round * 7) % (nodes - 1);
            if (i == j) {
                i = i + 1 < nodes ? i + 1 : 1;
            }
            bool ok = lookup(&s, i, j, &ms[n]);
            found += ok;
            if (!ok || ms[n] > 100) {
                printf("  node %d looking up node %d's feed: %u ms, %s (log %s)\n", i, j, ms[n],
                       ok ? "found" : "NOT found", s.n[i].log);
            }
            n++;
        }
    }
    qsort(ms, n, sizeof *ms, cmp_unsigned);
    printf("| nodes | lookups | found | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|\n");
    printf("| %d | %zu | %d of %zu | %u ms | %u ms | %u ms | %u ms |\n", nodes, n, found, n,
           quantile(ms, n, 0.5), quantile(ms, n, 0.9), quantile(ms, n, 0.99), quantile(ms, n, 1.0));
    fflush(stdout);
    swarm_stop(&s);
    return 0;
}
