#include "swarm.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
swarm_start(swarm_t *s, int count, int posts_cap)
{
    memset(s, 0, sizeof *s);
    s->count = count;
    s->posts_cap = posts_cap;
    s->n = calloc((size_t)count, sizeof *s->n);
    s->posted_ms = calloc((size_t)posts_cap + 1, sizeof *s->posted_ms);
    assert_non_null(s->n);
    assert_non_null(s->posted_ms);
    tu_mkdtemp(s->root, sizeof s->root);
    snprintf(s->network, sizeof s->network, "swarm-%08x", randombytes_random());
    double t0 = tu_now();
    for (int i = 0; i < count; i++) {
        tn_init(&s->n[i], s->root, i);
    }
    double t1 = tu_now();
    s->init_s = t1 - t0;
    char empty[600];
    snprintf(empty, sizeof empty, "%s/empty.list", s->root);
    snprintf(s->list, sizeof s->list, "%s/one.list", s->root);
    tu_write_file(empty, "", 0);
    tn_start(&s->n[0], s->network, empty, NULL, NULL);
    tn_write_bootstrap(s->list, &s->n[0], 1);
    /* The rest all at once, as a crowd that joins together would. */
    char *none[] = {NULL};
    for (int i = 1; i < count; i++) {
        tn_spawn_more(&s->n[i], s->network, s->list, none, NULL);
    }
    for (int i = 1; i < count; i++) {
        tn_wait_started(&s->n[i]);
    }
    double t2 = tu_now();
    s->start_s = t2 - t1;
    /* The follows at once too, each its own `samizdat follow`. */
    int *follow = calloc((size_t)count, sizeof *follow);
    assert_non_null(follow);
    for (int i = 0; i < count; i++) {
        if (i != SWARM_AUTHOR) {
            char *argv[] = {(char *)SAMIZDAT_BINARY,
                            (char *)"--data",
                            s->n[i].dir,
                            (char *)"follow",
                            s->n[SWARM_AUTHOR].author_text,
                            NULL};
            char log[700];
            snprintf(log, sizeof log, "%s/follow%d.log", s->root, i);
            follow[i] = tu_spawn(argv, NULL, log);
        }
    }
    for (int i = 0; i < count; i++) {
        if (follow[i] > 0) {
            assert_int_equal(tu_stop(follow[i], 0, 60), 0);
        }
    }
    free(follow);
    /* Started and following is not yet peered: every node has a ready
     * peer before the swarm counts as up. */
    double deadline = tu_now() + 60;
    for (int i = 0; i < count; i++) {
        while (tn_status_count(&s->n[i], "peers") < 1 && tu_now() < deadline) {
            usleep(20000);
        }
        assert_true(tn_status_count(&s->n[i], "peers") >= 1);
    }
    s->follow_s = tu_now() - t2;
}

void
swarm_stop(swarm_t *s)
{
    for (int i = 0; i < s->count; i++) {
        if (s->n[i].pid > 0) {
            tu_stop(s->n[i].pid, SIGINT, 10);
            s->n[i].pid = 0;
        }
    }
    if (getenv("SAMIZDAT_KEEP_TEST_DIRS") == NULL) {
        tu_rmtree(s->root);
    } else {
        fprintf(stderr, "kept %s\n", s->root);
    }
    free(s->n);
    free(s->posted_ms);
    s->n = NULL;
    s->posted_ms = NULL;
}

void
swarm_publish(swarm_t *s, int count)
{
    for (int k = 0; k < count; k++) {
        assert_true(s->posts < s->posts_cap);
        int seq = ++s->posts;
        char text[64];
        snprintf(text, sizeof text, "post %d of the swarm", seq);
        /* Taken before the command, which signs the post after this. */
        s->posted_ms[seq] = tu_wall_ms();
        tu_run_t r;
        tn_cli(&r, &s->n[SWARM_AUTHOR], "post", text, NULL, NULL);
        assert_int_equal(r.status, 0);
        tu_run_free(&r);
    }
}

long
swarm_head(swarm_t *s, int i)
{
    char *args[] = {(char *)"--json", (char *)"feed", s->n[SWARM_AUTHOR].author_text,
                    (char *)"--limit", (char *)"1", NULL};
    tu_run_t r;
    tn_cli_argv(&r, &s->n[i], args);
    /* Fork records come first in the object: read the posts. */
    const char *posts = strstr(r.out, "\"posts\":[");
    const char *p = posts ? strstr(posts, "\"seq\":") : NULL;
    long seq = (r.status == 0 && p != NULL) ? strtol(p + 6, NULL, 10) : 0;
    tu_run_free(&r);
    return seq;
}

bool
swarm_wait_all(swarm_t *s, long seq, int seconds, int *behind)
{
    double deadline = tu_now() + seconds;
    for (;;) {
        *behind = 0;
        for (int i = 0; i < s->count; i++) {
            if (i != SWARM_AUTHOR && s->n[i].pid > 0 && swarm_head(s, i) < seq) {
                (*behind)++;
            }
        }
        if (*behind == 0 || tu_now() > deadline) {
            return *behind == 0;
        }
        usleep(200000);
    }
}

typedef struct {
    unsigned *v;
    size_t n;
    size_t cap;
} delays_t;

static void
read_delays(swarm_t *s, const tn_node_t *t, int from_seq, int to_seq, delays_t *d)
{
    size_t len = 0;
    char *log = tu_read_file(t->log, &len);
    assert_non_null(log);
    char want[KEYTEXT_BUFSZ + 8];
    snprintf(want, sizeof want, " of %s", s->n[SWARM_AUTHOR].author_text);
    for (char *line = log; line != NULL && *line != '\0';) {
        char *end = strchr(line, '\n');
        if (end != NULL) {
            *end = '\0';
        }
        const char *at = strstr(line, "stored post #");
        uint64_t ms = 0;
        if (at != NULL && strstr(at, want) != NULL && tu_log_time(line, &ms)) {
            long seq = strtol(at + strlen("stored post #"), NULL, 10);
            if (seq >= from_seq && seq <= to_seq && d->n < d->cap) {
                uint64_t posted = s->posted_ms[seq];
                d->v[d->n++] = ms > posted ? (unsigned)(ms - posted) : 0;
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

static long
gossip_field(tn_node_t *t, const char *name)
{
    tu_run_t r;
    tn_cli(&r, t, "--json", "status", NULL, NULL);
    const char *g = strstr(r.out, "\"gossip\":{");
    char key[40];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = g ? strstr(g, key) : NULL;
    long v = p ? strtol(p + strlen(key), NULL, 10) : 0;
    tu_run_free(&r);
    return v;
}

void
swarm_measure(swarm_t *s, int from_seq, int to_seq, swarm_report_t *out)
{
    memset(out, 0, sizeof *out);
    delays_t d = {NULL, 0, (size_t)s->count * (size_t)(to_seq - from_seq + 1)};
    d.v = calloc(d.cap ? d.cap : 1, sizeof *d.v);
    assert_non_null(d.v);
    for (int i = 0; i < s->count; i++) {
        if (i == SWARM_AUTHOR || s->n[i].pid <= 0) {
            continue;
        }
        read_delays(s, &s->n[i], from_seq, to_seq, &d);
        out->received += gossip_field(&s->n[i], "received");
        out->stored += gossip_field(&s->n[i], "stored");
        out->bytes_in += gossip_field(&s->n[i], "bytes_in");
    }
    qsort(d.v, d.n, sizeof *d.v, cmp_unsigned);
    out->deliveries = d.n;
    if (d.n > 0) {
        out->p50_ms = d.v[(size_t)(0.5 * (double)(d.n - 1) + 0.5)];
        out->p99_ms = d.v[(size_t)(0.99 * (double)(d.n - 1) + 0.5)];
        out->max_ms = d.v[d.n - 1];
    }
    free(d.v);
}
