/* A flash crowd (issue 11 section 6): CROWD nodes started at once against
 * one bootstrap node that takes at most 8 peers. A full node must hand a
 * newcomer contacts before it lets it go, so every newcomer finds peers of
 * its own. The figure: how many nodes have at least 3 ready peers within
 * 10 s of their start, and when the last got there, read from each node's
 * own log (its first line to the line that made the third peer ready), so
 * the test's polling does not count. SAMIZDAT_CROWD=100 runs 100 nodes
 * (the default is 40). */
#include "testutil.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nodes.h"

enum { CROWD_MAX = 100, WANT_PEERS = 3, TARGET_S = 10, GIVE_UP_S = 40 };

typedef struct {
    char root[400];
    char boot[600];
    tn_node_t hub;
    tn_node_t n[CROWD_MAX];
    double started[CROWD_MAX];
    double reached[CROWD_MAX]; /* seconds after its start; < 0: not yet */
} fixture_t;

static int
crowd(void)
{
    const char *c = getenv("SAMIZDAT_CROWD");
    int n = c != NULL ? atoi(c) : 40;
    return n < 2 ? 2 : n > CROWD_MAX ? CROWD_MAX : n;
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tu_mkdtemp(f->root, sizeof f->root);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < CROWD_MAX; i++) {
        if (f->n[i].pid > 0) {
            tu_stop(f->n[i].pid, SIGKILL, 5);
        }
    }
    if (f->hub.pid > 0) {
        tu_stop(f->hub.pid, SIGKILL, 5);
    }
    if (getenv("SAMIZDAT_KEEP") == NULL) {
        tu_rmtree(f->root);
    } else {
        printf("kept %s\n", f->root);
    }
    free(f);
    return 0;
}

/* Seconds since the epoch of a log line's timestamp, or -1. */
static double
line_time(const char *line)
{
    struct tm tm;
    double sec = 0;
    memset(&tm, 0, sizeof tm);
    if (sscanf(line, "%d-%d-%dT%d:%d:%lfZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &sec) != 6) {
        return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) + sec;
}

/* Distinct keys among the first n of ready[] ("KEY in" / "KEY out"). */
static int
distinct_keys(char ready[][32], int n)
{
    int keys = 0;
    for (int i = 0; i < n; i++) {
        size_t klen = strcspn(ready[i], " ");
        bool seen = false;
        for (int j = 0; j < i && !seen; j++) {
            seen = strncmp(ready[i], ready[j], klen + 1) == 0;
        }
        keys += !seen;
    }
    return keys;
}

/* From a node's log: seconds from its first line until it had `want`
 * ready peers (distinct keys with a kept connection either way: "peer K
 * ready (DIR" or "peer K kept (DIR" less "peer K (DIR) gone" at info
 * level; transient DHT connections log at debug until kept), or -1 if it
 * never did. */
static double
time_to_peers(const char *log, int want)
{
    FILE *fp = fopen(log, "r");
    if (fp == NULL) {
        return -1;
    }
    char line[1024], ready[128][32];
    int nready = 0;
    double first = -1, when = -1;
    while (when < 0 && fgets(line, sizeof line, fp) != NULL) {
        double t = line_time(line);
        if (first < 0) {
            first = t;
        }
        const char *p = strstr(line, " info  peer ");
        char key[24], id[32];
        if (p == NULL || sscanf(p + 12, "%23s", key) != 1) {
            continue;
        }
        bool up = strstr(p, " ready (") != NULL || strstr(p, " kept (") != NULL;
        bool down = strstr(p, ") gone") != NULL;
        const char *dir = strstr(p, "outbound") != NULL ? "out" : "in";
        if (!up && !down) {
            continue;
        }
        snprintf(id, sizeof id, "%s %s", key, dir);
        int at = -1;
        for (int i = 0; i < nready; i++) {
            at = strcmp(ready[i], id) == 0 ? i : at;
        }
        if (up && at < 0 && nready < 128) {
            snprintf(ready[nready++], sizeof ready[0], "%s", id);
        } else if (down && at >= 0) {
            memmove(ready[at], ready[at + 1], (size_t)(nready - at - 1) * sizeof ready[0]);
            nready--;
        }
        if (distinct_keys(ready, nready) >= want && t >= 0 && first >= 0) {
            when = t - first;
        }
    }
    fclose(fp);
    return when;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Starts a node without waiting for it. */
static void
spawn(tn_node_t *t, const char *boot)
{
    char *argv[] = {(char *)SAMIZDAT_BINARY,
                    (char *)"--data",
                    t->dir,
                    (char *)"run",
                    (char *)"--listen",
                    (char *)"tcp://127.0.0.1:0",
                    (char *)"--no-lan",
                    (char *)"--network",
                    (char *)"crowd",
                    (char *)"--bootstrap",
                    (char *)boot,
                    (char *)"--log-level",
                    (char *)"debug",
                    NULL};
    t->pid = tu_spawn(argv, NULL, t->log);
}

static void
test_flash_crowd(void **state)
{
    fixture_t *f = *state;
    int n = crowd();
    tn_init(&f->hub, f->root, 0);
    tn_start(&f->hub, "crowd", "/dev/null", "--peers-max", "8");
    snprintf(f->boot, sizeof f->boot, "%s/boot.list", f->root);
    tn_write_bootstrap(f->boot, &f->hub, 1);
    for (int i = 0; i < n; i++) {
        tn_init(&f->n[i], f->root, i + 1);
    }
    for (int i = 0; i < n; i++) {
        spawn(&f->n[i], f->boot);
        f->started[i] = tu_now();
        f->reached[i] = -1;
    }
    int done = 0;
    double t0 = tu_now();
    while (done < n && tu_now() - t0 < GIVE_UP_S) {
        for (int i = 0; i < n; i++) {
            if (f->reached[i] >= 0) {
                continue;
            }
            /* By the log, as measured below: `status` counts the other
             * side's short connections too (lookups, dial-backs). */
            if (time_to_peers(f->n[i].log, WANT_PEERS) >= 0) {
                f->reached[i] = tu_now() - f->started[i];
                done++;
            }
        }
        usleep(100000);
    }
    int in_time = 0, got = 0;
    double slowest = 0;
    int slow_i = 0;
    for (int i = 0; i < n; i++) {
        double t = time_to_peers(f->n[i].log, WANT_PEERS);
        slow_i = t > slowest ? i : slow_i;
        f->reached[i] = t;
        if (t < 0 || t > TARGET_S) {
            printf("test_flashcrowd: node %d (%s): %.1f s, %ld peers at the end\n", i + 1,
                   f->n[i].log, t, tn_status_count(&f->n[i], "peers"));
        }
        got += t >= 0;
        in_time += t >= 0 && t <= TARGET_S;
        slowest = t > slowest ? t : slowest;
    }
    printf("test_flashcrowd: %d nodes started at once against one bootstrap node "
           "(peers-max 8): %d have %d+ ready peers within %d s of their start (by their logs), "
           "the last after %.1f s; %d of %d got there within %d s\n",
           n, in_time, WANT_PEERS, TARGET_S, slowest, got, n, GIVE_UP_S);
    qsort(f->reached, (size_t)n, sizeof f->reached[0], cmp_double);
    printf("test_flashcrowd: median %.1f s, slowest node %d (%s)\n", f->reached[n / 2], slow_i + 1,
           f->n[slow_i].log);
    assert_int_equal(done, n);
    assert_int_equal(in_time, n);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flash_crowd, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
