/* Gossip and feed sync between twenty real samizdat processes on loopback.
 *
 * 1. An author publishes 100 posts; every follower has all 100 within
 *    seconds. Prints propagation p50/p99 (from each post's timestamp to the
 *    moment each follower stored it, read from the followers' logs) and the
 *    copies of each post a follower received.
 * 2. A follower offline while the author publishes 50 more posts catches up
 *    after its restart, when the author's node has stopped too: from the
 *    other followers. */
#include "testutil.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nodes.h"

enum {
    SWARM = 20,
    AUTHOR = 1,   /* node 1 writes; every other node follows it */
    OFFLINE = 2,  /* the follower that goes away in the second test */
    FIRST = 100,  /* posts in the first test */
    SECOND = 50,  /* posts while OFFLINE is away */
    DELAY_MAX = SWARM * FIRST,
};

typedef struct {
    char root[400];
    char network[40];
    char list[600];
    tn_node_t n[SWARM];
    uint64_t posted_ms[FIRST + SECOND + 1]; /* by seq */
} swarm_t;

static uint64_t
now_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The highest seq of the author's feed that node t holds, 0 if none. */
static long
feed_head(swarm_t *s, tn_node_t *t)
{
    tu_run_t r;
    char *args[] = {(char *)"--json", (char *)"feed", s->n[AUTHOR].author_text,
                    (char *)"--limit", (char *)"1", NULL};
    tn_cli_argv(&r, t, args);
    const char *posts = strstr(r.out, "\"posts\":[");
    const char *p = posts ? strstr(posts, "\"seq\":") : NULL;
    long seq = (r.status == 0 && p != NULL) ? strtol(p + 6, NULL, 10) : 0;
    tu_run_free(&r);
    return seq;
}

/* Waits until every running follower holds posts 1..seq. */
static bool
wait_all(swarm_t *s, long seq, int seconds, int *behind)
{
    double deadline = tu_now() + seconds;
    for (;;) {
        *behind = 0;
        for (int i = 0; i < SWARM; i++) {
            if (i != AUTHOR && s->n[i].pid > 0 && feed_head(s, &s->n[i]) < seq) {
                (*behind)++;
            }
        }
        if (*behind == 0 || tu_now() > deadline) {
            return *behind == 0;
        }
        usleep(200000);
    }
}

/* "2026-11-23T19:07:08.123Z debug stored post #12 of sza1..." -> ms. */
static bool
line_time(const char *line, uint64_t *ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int millis = 0;
    if (sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) != 7) {
        return false;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *ms = (uint64_t)timegm(&tm) * 1000u + (uint64_t)millis;
    return true;
}

/* Adds, for each post 1..FIRST a follower stored, its delay to delays. */
static void
read_delays(swarm_t *s, const tn_node_t *t, unsigned *delays, size_t *n)
{
    size_t len = 0;
    char *log = tu_read_file(t->log, &len);
    assert_non_null(log);
    char want[KEYTEXT_BUFSZ + 8];
    snprintf(want, sizeof want, " of %s", s->n[AUTHOR].author_text);
    for (char *line = log; line != NULL && *line != '\0';) {
        char *end = strchr(line, '\n');
        if (end != NULL) {
            *end = '\0';
        }
        const char *at = strstr(line, "stored post #");
        uint64_t ms = 0;
        if (at != NULL && strstr(at, want) != NULL && line_time(line, &ms)) {
            long seq = strtol(at + strlen("stored post #"), NULL, 10);
            if (seq >= 1 && seq <= FIRST && *n < DELAY_MAX) {
                uint64_t posted = s->posted_ms[seq];
                delays[(*n)++] = ms > posted ? (unsigned)(ms - posted) : 0;
            }
        }
        line = end != NULL ? end + 1 : NULL;
    }
    free(log);
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
    qsort(v, n, sizeof *v, cmp_unsigned);
    return n == 0 ? 0 : v[(size_t)(q * (double)(n - 1) + 0.5)];
}

/* Publishes count posts at the author; remembers when each was signed. */
static void
publish(swarm_t *s, int first_seq, int count)
{
    for (int k = 0; k < count; k++) {
        char text[64];
        snprintf(text, sizeof text, "post %d of the test", first_seq + k);
        uint64_t t0 = now_wall_ms();
        tu_run_t r;
        tn_cli(&r, &s->n[AUTHOR], "post", text, NULL, NULL);
        assert_int_equal(r.status, 0);
        tu_run_free(&r);
        /* The post's own timestamp is taken inside the command, after t0. */
        s->posted_ms[first_seq + k] = t0;
    }
}

static void
test_hundred_posts_reach_every_follower(void **state)
{
    swarm_t *s = *state;
    publish(s, 1, FIRST);
    double t0 = tu_now();
    int behind = 0;
    bool ok = wait_all(s, FIRST, 60, &behind);
    printf("gossip: %d of %d followers had all %d posts %.1f s after the last was published\n",
           SWARM - 1 - behind, SWARM - 1, FIRST, tu_now() - t0);
    assert_true(ok);

    static unsigned delays[DELAY_MAX];
    size_t n = 0;
    long received = 0, stored = 0;
    for (int i = 0; i < SWARM; i++) {
        if (i == AUTHOR) {
            continue;
        }
        read_delays(s, &s->n[i], delays, &n);
        received += tn_status_count(&s->n[i], "received");
        stored += tn_status_count(&s->n[i], "stored");
    }
    unsigned p50 = quantile(delays, n, 0.5), p99 = quantile(delays, n, 0.99);
    printf("gossip: %zu deliveries; propagation p50 %u ms, p99 %u ms, max %u ms\n", n, p50, p99,
           quantile(delays, n, 1.0));
    printf("gossip: copies received per post per follower: %.2f (%ld copies for %ld new posts)\n",
           stored > 0 ? (double)received / (double)stored : 0.0, received, stored);
    assert_int_equal(n, (SWARM - 1) * FIRST);
    assert_true(stored >= (SWARM - 1) * FIRST);
}

static void
test_offline_follower_catches_up_without_the_author(void **state)
{
    swarm_t *s = *state;
    tn_node_t *f = &s->n[OFFLINE];
    assert_int_equal(tn_stop(f), 0);
    publish(s, FIRST + 1, SECOND);
    int behind = 0;
    assert_true(wait_all(s, FIRST + SECOND, 60, &behind));
    /* The author goes away too: the posts now live only at the followers. */
    assert_int_equal(tn_stop(&s->n[AUTHOR]), 0);
    assert_int_equal(feed_head(s, f), FIRST);
    tn_start(f, s->network, s->list, NULL, NULL);
    double t0 = tu_now();
    long seq = 0;
    while ((seq = feed_head(s, f)) < FIRST + SECOND && tu_now() - t0 < 90) {
        usleep(200000);
    }
    printf("gossip: the restarted follower had all %d posts after %.1f s (the author offline)\n",
           FIRST + SECOND, tu_now() - t0);
    assert_int_equal(seq, FIRST + SECOND);
}

static int
group_setup(void **state)
{
    swarm_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    tu_mkdtemp(s->root, sizeof s->root);
    snprintf(s->network, sizeof s->network, "gossip-%08x", randombytes_random());
    for (int i = 0; i < SWARM; i++) {
        tn_init(&s->n[i], s->root, i);
    }
    char empty[600];
    snprintf(empty, sizeof empty, "%s/empty.list", s->root);
    snprintf(s->list, sizeof s->list, "%s/one.list", s->root);
    tu_write_file(empty, "", 0);
    tn_start(&s->n[0], s->network, empty, NULL, NULL);
    tn_write_bootstrap(s->list, &s->n[0], 1);
    for (int i = 1; i < SWARM; i++) {
        tn_start(&s->n[i], s->network, s->list, NULL, NULL);
    }
    /* Every node but the author follows it. */
    for (int i = 0; i < SWARM; i++) {
        if (i == AUTHOR) {
            continue;
        }
        tu_run_t r;
        tn_cli(&r, &s->n[i], "follow", s->n[AUTHOR].author_text, NULL, NULL);
        assert_int_equal(r.status, 0);
        tu_run_free(&r);
    }
    *state = s;
    return 0;
}

static int
group_teardown(void **state)
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
        cmocka_unit_test(test_hundred_posts_reach_every_follower),
        cmocka_unit_test(test_offline_follower_catches_up_without_the_author),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
