/* Catch-up and cold follow on loopback with real processes. Node A holds
 * the feed of an author X with P posts (default 10,000; imported from a feed
 * file the benchmark signs). Two cases, each run R times (default 3) with a
 * fresh follower, medians reported:
 *
 *   catch-up:    B followed X and was offline while X wrote the P posts; B
 *                starts (bootstrap: A) and fetches them;
 *   cold follow: C runs, peered with A, and follows X by key.
 *
 * Times are from the start of B (the moment the benchmark spawns it) or the
 * `follow` command, to the log line of the newest post stored and of the
 * last post stored. docs/BENCHMARKS.md holds the results.
 *
 *     bench_catchup [--posts P] [--runs R]
 */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feedfile.h"
#include "keys.h"
#include "keytext.h"
#include "nodes.h"
#include "post.h"

enum { RUNS_MAX = 15, WAIT_S = 300 };

static const char *NETWORK = "bench-catchup";

static int
number(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    return (end != s && *end == '\0' && v > 0 && v < 10000000) ? (int)v : 0;
}

/* Signs posts 1..count of a fresh author into a feed file at path and
 * writes the author's key text into author. */
static void
make_feed(const char *path, int count, char author[static KEYTEXT_BUFSZ])
{
    keys_author_t k;
    keys_author_generate(&k);
    keytext_encode(author, KEYTEXT_AUTHOR, k.pk);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(feedfile_write_header(f), FEEDFILE_OK);
    uint8_t prev[POST_ID_SIZE];
    uint8_t raw[POST_MAX_SIZE];
    char body[200];
    for (int i = 1; i <= count; i++) {
        post_t p;
        post_init(&p, POST_KIND_POST, (uint64_t)i, i > 1 ? prev : NULL,
                  1700000000000ull + (uint64_t)i * 1000u);
        int n = snprintf(body, sizeof body,
                         "post %d: a short text of about the length people write, with "
                         "some words in it to make it realistic.",
                         i);
        post_set_body(&p, body, (size_t)n);
        size_t len = 0;
        assert_int_equal(post_sign(&p, &k, raw, sizeof raw, &len), POST_OK);
        assert_int_equal(feedfile_write_record(f, raw, len), FEEDFILE_OK);
        memcpy(prev, p.id, POST_ID_SIZE);
    }
    assert_int_equal(fclose(f), 0);
    keys_author_wipe(&k);
}

typedef struct {
    long stored;        /* posts of the author stored, by the log */
    uint64_t newest_ms; /* when post #count was stored, 0 if not yet */
    uint64_t last_ms;   /* when the latest of them was stored */
} progress_t;

static void
read_progress(const tn_node_t *t, const char *author, long count, progress_t *out)
{
    memset(out, 0, sizeof *out);
    size_t len = 0;
    char *log = tu_read_file(t->log, &len);
    if (log == NULL) {
        return;
    }
    char want[KEYTEXT_BUFSZ + 8];
    snprintf(want, sizeof want, " of %s", author);
    for (char *line = log; line != NULL && *line != '\0';) {
        char *end = strchr(line, '\n');
        if (end != NULL) {
            *end = '\0';
        }
        const char *at = strstr(line, "stored post #");
        uint64_t ms = 0;
        if (at != NULL && strstr(at, want) != NULL && tu_log_time(line, &ms)) {
            long seq = strtol(at + strlen("stored post #"), NULL, 10);
            out->stored++;
            out->last_ms = ms;
            if (seq == count) {
                out->newest_ms = ms;
            }
        }
        line = end != NULL ? end + 1 : NULL;
    }
    free(log);
}

/* Waits until t stored all count posts; the times, from t0, in *newest and
 * *all (ms); false after WAIT_S. */
static bool
wait_all(const tn_node_t *t, const char *author, long count, uint64_t t0, double *newest,
         double *all)
{
    progress_t pr;
    double deadline = tu_now() + WAIT_S;
    do {
        usleep(100000);
        read_progress(t, author, count, &pr);
    } while (pr.stored < count && tu_now() < deadline);
    *newest = pr.newest_ms >= t0 ? (double)(pr.newest_ms - t0) : 0;
    *all = pr.last_ms >= t0 ? (double)(pr.last_ms - t0) : 0;
    if (pr.stored < count) {
        printf("  (only %ld of %ld posts after %d s)\n", pr.stored, count, WAIT_S);
    }
    return pr.stored >= count;
}

static void
cli_ok(tn_node_t *t, const char *a1, const char *a2)
{
    tu_run_t r;
    tn_cli(&r, t, a1, a2, NULL, NULL);
    if (r.status != 0) {
        fprintf(stderr, "bench: %s %s failed: %s%s\n", a1, a2, r.out, r.err);
        exit(1);
    }
    tu_run_free(&r);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        return 1;
    }
    unsetenv("SAMIZDAT_PASSPHRASE");
    unsetenv("SAMIZDAT_DATA");
    int posts = 10000, runs = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--posts") == 0) {
            posts = number(argv[i + 1]);
        } else if (strcmp(argv[i], "--runs") == 0) {
            runs = number(argv[i + 1]);
        }
    }
    if (posts == 0 || runs == 0 || runs > RUNS_MAX) {
        fprintf(stderr, "usage: bench_catchup [--posts P] [--runs 1..%d]\n", RUNS_MAX);
        return 2;
    }
    char root[256], feed[300], bs[300];
    tu_mkdtemp(root, sizeof root);
    snprintf(feed, sizeof feed, "%s/feed.szf", root);
    snprintf(bs, sizeof bs, "%s/bootstrap.list", root);
    char author[KEYTEXT_BUFSZ];
    make_feed(feed, posts, author);

    tn_node_t a;
    tn_init(&a, root, 0);
    cli_ok(&a, "follow", author);
    double t = tu_now();
    cli_ok(&a, "import", feed);
    printf("A imported %d posts in %.2f s\n", posts, tu_now() - t);
    tn_write_bootstrap(bs, &a, 0);
    tn_start(&a, NETWORK, bs, NULL, NULL);
    tn_write_bootstrap(bs, &a, 1);

    double up_new[RUNS_MAX], up_all[RUNS_MAX], cold_new[RUNS_MAX], cold_all[RUNS_MAX];
    bool ok = true;
    for (int r = 0; r < runs; r++) {
        tn_node_t b;
        tn_init(&b, root, 10 + r);
        cli_ok(&b, "follow", author);
        uint64_t t0 = tu_wall_ms();
        tn_start(&b, NETWORK, bs, NULL, NULL);
        ok &= wait_all(&b, author, posts, t0, &up_new[r], &up_all[r]);
        tn_stop(&b);

        tn_node_t c;
        tn_init(&c, root, 20 + r);
        tn_start(&c, NETWORK, bs, NULL, NULL);
        assert_true(tn_wait_peer(&c, &a, 30));
        t0 = tu_wall_ms();
        cli_ok(&c, "follow", author);
        ok &= wait_all(&c, author, posts, t0, &cold_new[r], &cold_all[r]);
        tn_stop(&c);
        printf("run %d: catch-up newest %.0f ms, all %.0f ms; cold follow newest %.0f ms, "
               "all %.0f ms\n",
               r + 1, up_new[r], up_all[r], cold_new[r], cold_all[r]);
        fflush(stdout);
    }
    tn_stop(&a);
    printf("\n| case | posts | newest post (median) | all posts (median) | runs |\n"
           "|---|---|---|---|---|\n");
    printf("| catch-up (from the follower's start) | %d | %.0f ms | %.0f ms | %d |\n", posts,
           median(up_new, runs), median(up_all, runs), runs);
    printf("| cold follow (from `follow`) | %d | %.0f ms | %.0f ms | %d |\n", posts,
           median(cold_new, runs), median(cold_all, runs), runs);
    tu_rmtree(root);
    return ok ? 0 : 1;
}
