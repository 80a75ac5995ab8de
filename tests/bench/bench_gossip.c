/* Gossip on loopback with real processes: N nodes (default 20 and 100), one
 * author, every other node following it. The author publishes P posts
 * (default 100) at a steady pace; the benchmark reports propagation p50 and
 * p99 from signing to storing at each follower, copies received per post per
 * follower, and gossip bytes received per post delivered. docs/BENCHMARKS.md
 * holds the results with the machine and the command.
 *
 *     bench_gossip [NODES...] [--posts P] [--every MS]
 */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "swarm.h"

/* A positive number, or 0 for anything else. */
static int
number(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    return (end != s && *end == '\0' && v > 0 && v < 100000) ? (int)v : 0;
}

static void
run(int nodes, int posts, int every_ms)
{
    swarm_t s;
    double t0 = tu_now();
    swarm_start(&s, nodes, posts);
    double started = tu_now() - t0;
    for (int k = 0; k < posts; k++) {
        swarm_publish(&s, 1);
        usleep((useconds_t)every_ms * 1000u);
    }
    int behind = 0;
    bool all = swarm_wait_all(&s, posts, 120, &behind);
    swarm_report_t r;
    swarm_measure(&s, 1, posts, &r);
    size_t want = (size_t)(nodes - 1) * (size_t)posts;
    printf("| %d | %d | %s | %u ms | %u ms | %u ms | %.2f | %.0f B | %.0f s |\n", nodes, posts,
           all ? "all" : "MISSING", r.p50_ms, r.p99_ms, r.max_ms,
           r.stored > 0 ? (double)r.received / (double)r.stored : 0.0,
           r.deliveries > 0 ? (double)r.bytes_in / (double)r.deliveries : 0.0, started);
    if (r.deliveries != want) {
        printf("  (%zu of %zu deliveries seen in the logs)\n", r.deliveries, want);
    }
    fflush(stdout);
    swarm_stop(&s);
}

int
main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        return 1;
    }
    unsetenv("SAMIZDAT_PASSPHRASE");
    unsetenv("SAMIZDAT_DATA");
    int sizes[8];
    int n_sizes = 0, posts = 100, every_ms = 50;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--posts") == 0 && i + 1 < argc) {
            posts = number(argv[++i]);
        } else if (strcmp(argv[i], "--every") == 0 && i + 1 < argc) {
            every_ms = number(argv[++i]);
        } else if (n_sizes < 8) {
            sizes[n_sizes++] = number(argv[i]);
        }
    }
    if (n_sizes == 0) {
        sizes[n_sizes++] = 20;
        sizes[n_sizes++] = 100;
    }
    printf("| nodes | posts | delivered | p50 | p99 | max | copies per post per follower | "
           "gossip bytes in per delivery | start-up |\n|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n_sizes; i++) {
        if (sizes[i] >= 3 && posts >= 1) {
            run(sizes[i], posts, every_ms);
        }
    }
    return 0;
}
