/* An idle swarm: N real nodes on loopback (default 50), one author that
 * the others follow, nothing published. Once every node has joined and
 * settled, the CPU time all node processes use over a quiet minute
 * (user + system, from /proc/PID/stat) is the figure: an idle node should
 * sleep. docs/BENCHMARKS.md holds the results with the machine and the
 * command.
 *
 *     bench_idle [--nodes N] [--settle S] [--seconds S]
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "swarm.h"

static int
number(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    return (end != s && *end == '\0' && v > 0 && v < 100000) ? (int)v : 0;
}

/* utime + stime of a process in clock ticks, or -1. */
static long
cpu_ticks(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* After the command name in parentheses: state is field 3, utime 14,
     * stime 15. */
    const char *p = strrchr(buf, ')');
    if (p == NULL) {
        return -1;
    }
    unsigned long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) {
        return -1;
    }
    return (long)(ut + st);
}

static long
swarm_ticks(const swarm_t *s)
{
    long sum = 0;
    for (int i = 0; i < s->count; i++) {
        long t = s->n[i].pid > 0 ? cpu_ticks(s->n[i].pid) : -1;
        sum += t > 0 ? t : 0;
    }
    return sum;
}

int
main(int argc, char **argv)
{
    int nodes = 50, settle = 20, seconds = 60;
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = number(argv[i + 1]);
        if (strcmp(argv[i], "--nodes") == 0 && v > 1) {
            nodes = v;
        } else if (strcmp(argv[i], "--settle") == 0 && v > 0) {
            settle = v;
        } else if (strcmp(argv[i], "--seconds") == 0 && v > 0) {
            seconds = v;
        } else {
            fprintf(stderr, "usage: bench_idle [--nodes N] [--settle S] [--seconds S]\n");
            return 2;
        }
    }
    swarm_t s;
    swarm_start(&s, nodes, 1);
    sleep((unsigned)settle);
    long hz = sysconf(_SC_CLK_TCK);
    long before = swarm_ticks(&s);
    double t0 = tu_now();
    sleep((unsigned)seconds);
    long after = swarm_ticks(&s);
    double took = tu_now() - t0;
    printf("bench_idle: %d idle nodes over %.0f s: %.2f CPU-s in all (%.3f CPU-s per node per "
           "minute)\n",
           nodes, took, (double)(after - before) / (double)hz,
           (double)(after - before) / (double)hz / nodes * 60.0 / took);
    swarm_stop(&s);
    return 0;
}
