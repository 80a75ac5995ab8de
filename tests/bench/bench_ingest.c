/* Ingest benchmark: how close does storing posts come to the raw speed of
 * checking their signatures?
 *
 * On one core (the process pins itself, so LevelDB's compaction thread
 * shares it), in one run and side by side:
 *   verify: crypto_sign_verify_detached over the signed bytes of each post;
 *   ingest: store_ingest (decode + verify + all index writes) of the same
 *           100,000 posts from 100 authors into a fresh LevelDB store.
 * The two alternate every CHUNK posts, ROUNDS times; medians are reported. */
#define _GNU_SOURCE
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "app.h"
#include "feedfile.h"
#include "keys.h"
#include "post.h"
#include "store.h"

enum { AUTHORS = 100, PER_AUTHOR = 1000, TOTAL = AUTHORS * PER_AUTHOR, ROUNDS = 5, CHUNK = 1000 };

typedef struct {
    uint8_t bytes[POST_MAX_SIZE];
    uint16_t len;
} enc_t;

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Posts of about tweet length, authors interleaved as they would arrive
 * from a network. */
static enc_t *
make_posts(void)
{
    enc_t *posts = calloc(TOTAL, sizeof *posts);
    keys_author_t *keys = calloc(AUTHORS, sizeof *keys);
    uint8_t(*prev)[32] = calloc(AUTHORS, 32);
    if (posts == NULL || keys == NULL || prev == NULL) {
        return NULL;
    }
    for (int a = 0; a < AUTHORS; a++) {
        keys_author_generate(&keys[a]);
    }
    char body[200];
    for (int i = 0; i < TOTAL; i++) {
        int a = i % AUTHORS;
        uint64_t seq = (uint64_t)(i / AUTHORS) + 1;
        post_t p;
        post_init(&p, POST_KIND_POST, seq, seq > 1 ? prev[a] : NULL, 1700000000000ull + i);
        int n = snprintf(body, sizeof body,
                         "post %d of author %d: a short text of about the length people "
                         "write, with some words in it to make it realistic.",
                         (int)seq, a);
        post_set_body(&p, body, (size_t)n);
        size_t len = 0;
        if (post_sign(&p, &keys[a], posts[i].bytes, POST_MAX_SIZE, &len) != POST_OK) {
            return NULL;
        }
        posts[i].len = (uint16_t)len;
        memcpy(prev[a], p.id, 32);
    }
    for (int a = 0; a < AUTHORS; a++) {
        keys_author_wipe(&keys[a]);
    }
    free(keys);
    free(prev);
    return posts;
}

/* Verifies posts [from, to) the way a bare libsodium loop would. */
static void
verify_chunk(const enc_t *posts, int from, int to)
{
    static uint8_t msg[POST_SIG_TAG_LEN + POST_MAX_SIZE];
    memcpy(msg, POST_SIG_TAG, POST_SIG_TAG_LEN);
    for (int i = from; i < to; i++) {
        size_t body = posts[i].len - POST_SIG_SIZE;
        memcpy(msg + POST_SIG_TAG_LEN, posts[i].bytes, body);
        if (crypto_sign_verify_detached(posts[i].bytes + body, msg, POST_SIG_TAG_LEN + body,
                                        posts[i].bytes + 2) != 0) {
            fprintf(stderr, "bench: verify failed at %d\n", i);
            exit(1);
        }
    }
}

static void
ingest_chunk(store_t *s, const enc_t *posts, int from, int to, uint64_t now, bool batched)
{
    if (batched && store_batch_begin(s) != STORE_OK) {
        exit(1);
    }
    for (int i = from; i < to; i++) {
        store_ingest_info_t info;
        if (store_ingest(s, posts[i].bytes, posts[i].len, now, &info) != STORE_OK ||
            info.result != STORE_INGEST_EXTENDED) {
            fprintf(stderr, "bench: ingest failed at %d (%s)\n", i, store_ingest_name(info.result));
            exit(1);
        }
    }
    if (batched && store_batch_end(s) != STORE_OK) {
        exit(1);
    }
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* One round: a fresh store, and the posts in chunks of CHUNK, each chunk
 * first verified bare and then ingested, so the machine's ups and downs fall
 * on both measures alike. Rates are posts per second of each one's own time. */
static void
run_round(const enc_t *posts, bool batched, double *verify_rate, double *ingest_rate)
{
    char dir[] = "/tmp/samizdat-bench-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        exit(1);
    }
    store_t *s = NULL;
    if (store_open(&s, dir, NULL, NULL, 0) != STORE_OK) {
        fprintf(stderr, "bench: cannot open store\n");
        exit(1);
    }
    uint64_t now = 1700000000000ull + TOTAL;
    double tv = 0, ti = 0;
    for (int from = 0; from < TOTAL; from += CHUNK) {
        int to = from + CHUNK < TOTAL ? from + CHUNK : TOTAL;
        double t0 = now_s();
        verify_chunk(posts, from, to);
        double t1 = now_s();
        ingest_chunk(s, posts, from, to, now, batched);
        double t2 = now_s();
        tv += t1 - t0;
        ti += t2 - t1;
    }
    double t3 = now_s();
    store_close(s); /* flushing is part of ingest */
    ti += now_s() - t3;
    *verify_rate = TOTAL / tv;
    *ingest_rate = TOTAL / ti;
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The posts as one feed file in memory (what `samizdat import` reads). */
static uint8_t *
feed_file(const enc_t *posts, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (f == NULL || feedfile_write_header(f) != FEEDFILE_OK) {
        exit(1);
    }
    for (int i = 0; i < TOTAL; i++) {
        if (feedfile_write_record(f, posts[i].bytes, posts[i].len) != FEEDFILE_OK) {
            exit(1);
        }
    }
    fclose(f);
    return (uint8_t *)buf;
}

static void
on_import(void *ud, app_result_t *res)
{
    app_result_t **out = ud;
    *out = res;
}

static void
pin(int cpus)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < cpus; i++) {
        CPU_SET(i, &set);
    }
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        perror("sched_setaffinity");
    }
}

typedef struct {
    const enc_t *posts;
    int from, to;
} verify_part_t;

static void *
verify_part(void *arg)
{
    const verify_part_t *vp = arg;
    uint8_t msg[POST_SIG_TAG_LEN + POST_MAX_SIZE];
    memcpy(msg, POST_SIG_TAG, POST_SIG_TAG_LEN);
    for (int i = vp->from; i < vp->to; i++) {
        size_t body = vp->posts[i].len - POST_SIG_SIZE;
        memcpy(msg + POST_SIG_TAG_LEN, vp->posts[i].bytes, body);
        if (crypto_sign_verify_detached(vp->posts[i].bytes + body, msg, POST_SIG_TAG_LEN + body,
                                        vp->posts[i].bytes + 2) != 0) {
            fprintf(stderr, "bench: verify failed at %d\n", i);
            exit(1);
        }
    }
    return NULL;
}

/* Bare verify of all posts on two threads, half each: what two cores of
 * this machine can do at best, the ceiling of the import's figure. */
static double
verify_two_threads(const enc_t *posts)
{
    pthread_t th[2];
    verify_part_t part[2] = {{posts, 0, TOTAL / 2}, {posts, TOTAL / 2, TOTAL}};
    double t0 = now_s();
    for (int i = 0; i < 2; i++) {
        if (pthread_create(&th[i], NULL, verify_part, &part[i]) != 0) {
            fprintf(stderr, "bench: cannot start a thread\n");
            exit(1);
        }
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
    }
    return TOTAL / (now_s() - t0);
}

/* The whole file through the application layer's import, as `samizdat
 * import` runs it: its signature checks on libuv's thread pool, on every
 * core, while the loop stores batches. Posts per second of wall time. */
static double
app_import_rate(const uint8_t *file, size_t len)
{
    char dir[] = "/tmp/samizdat-bench-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        exit(1);
    }
    char storedir[64];
    snprintf(storedir, sizeof storedir, "%s/store", dir);
    store_t *s = NULL;
    if (store_open(&s, storedir, NULL, NULL, 0) != STORE_OK) {
        exit(1);
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    app_config_t cfg = {.data_dir = dir, .store = s};
    app_t *a = NULL;
    if (app_new(&a, &loop, &cfg) != APP_OK) {
        exit(1);
    }
    app_request_t req = {.op = APP_OP_IMPORT};
    req.u.import.data = file;
    req.u.import.data_len = len;
    app_result_t *res = NULL;
    double t0 = now_s();
    if (app_call(a, &req, on_import, &res) != APP_OK) {
        exit(1);
    }
    while (res == NULL && uv_run(&loop, UV_RUN_ONCE) != 0) {
    }
    double t = now_s() - t0;
    if (res == NULL || res->err != APP_OK || res->u.import.added != TOTAL) {
        fprintf(stderr, "bench: import failed: %s\n", res ? res->msg : "no result");
        exit(1);
    }
    app_result_free(res);
    app_close(a, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    store_close(s);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return TOTAL / t;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void
print_machine(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            printf("cpu:%s", strchr(line, ':') + 1);
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    printf("cores online: %ld (this run pinned to cpu 0)\n", sysconf(_SC_NPROCESSORS_ONLN));
}

int
main(int argc, char **argv)
{
    bool import_only = argc > 1 && strcmp(argv[1], "--import-only") == 0;
    if (argc > 2 || (argc == 2 && !import_only)) {
        fprintf(stderr, "usage: bench_ingest [--import-only]\n");
        return 2;
    }
    if (sodium_init() < 0) {
        return 1;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        perror("sched_setaffinity");
    }
    print_machine();
    printf("making %d posts from %d authors...\n", TOTAL, AUTHORS);
    enc_t *posts = make_posts();
    if (posts == NULL) {
        return 1;
    }
    for (int batched = 0; batched <= 1 && !import_only; batched++) {
        const char *how =
            batched ? "batched (store_batch_begin, one write per 256)" : "one post at a time";
        printf("ingest %s:\n", how);
        double verify[ROUNDS], ingest[ROUNDS], ratio[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            run_round(posts, batched, &verify[r], &ingest[r]);
            ratio[r] = ingest[r] / verify[r];
            printf("round %d: verify %.0f/s  ingest %.0f/s  ratio %.1f%%\n", r + 1, verify[r],
                   ingest[r], 100 * ratio[r]);
            fflush(stdout);
        }
        qsort(verify, ROUNDS, sizeof verify[0], cmp_double);
        qsort(ingest, ROUNDS, sizeof ingest[0], cmp_double);
        qsort(ratio, ROUNDS, sizeof ratio[0], cmp_double);
        printf("median, %s: verify %.0f/s  ingest %.0f/s  ratio %.1f%% (target >= 90%%)\n", how,
               verify[ROUNDS / 2], ingest[ROUNDS / 2], 100 * ratio[ROUNDS / 2]);
    }
    /* Both cores: the app's import against bare verify on one core,
     * alternating. The pool's threads inherit the mask of the thread that
     * starts them, so the import runs unpinned. */
    size_t flen = 0;
    uint8_t *file = feed_file(posts, &flen);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("import through the app (checks on the thread pool, %ld cores) vs verify on one core:\n",
           cores);
    double verify[ROUNDS], import[ROUNDS], ratio[ROUNDS], ceiling[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        pin(1);
        double t0 = now_s();
        verify_chunk(posts, 0, TOTAL);
        verify[r] = TOTAL / (now_s() - t0);
        pin((int)cores);
        ceiling[r] = verify_two_threads(posts) / verify[r];
        import[r] = app_import_rate(file, flen);
        ratio[r] = import[r] / verify[r];
        printf("round %d: verify (1 core) %.0f/s  import (%ld cores) %.0f/s  %.2fx\n", r + 1,
               verify[r], cores, import[r], ratio[r]);
        printf("round %d: bare verify on 2 threads %.2fx of 1 core (the machine's ceiling)\n",
               r + 1, ceiling[r]);
        fflush(stdout);
    }
    qsort(ceiling, ROUNDS, sizeof ceiling[0], cmp_double);
    qsort(verify, ROUNDS, sizeof verify[0], cmp_double);
    qsort(import, ROUNDS, sizeof import[0], cmp_double);
    qsort(ratio, ROUNDS, sizeof ratio[0], cmp_double);
    printf("median: verify (1 core) %.0f/s  import (%ld cores) %.0f/s  %.2fx (target >= 1.8x)\n",
           verify[ROUNDS / 2], cores, import[ROUNDS / 2], ratio[ROUNDS / 2]);
    printf("median: bare verify on 2 threads %.2fx of 1 core\n", ceiling[ROUNDS / 2]);
    free(file);
    free(posts);
    return 0;
}
