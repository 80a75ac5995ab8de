/* webfill DIR AUTHORS POSTS: fills the store of data directory DIR (made
 * if missing) with POSTS signed posts by each of AUTHORS new authors, all
 * followed, each author with a profile; timestamps spread over the last
 * days so the timeline interleaves them. For bench_web.mjs: a node holding
 * 100,000 posts of 1,000 authors. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "keys.h"
#include "post.h"
#include "store.h"

/* Signs p (its id is then set) and stores it. */
static int
put(store_t *s, post_t *p, const keys_author_t *k, uint64_t now)
{
    uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    store_ingest_info_t info;
    if (post_sign(p, k, raw, sizeof raw, &len) != POST_OK ||
        store_ingest(s, raw, len, now, &info) != STORE_OK || info.result != STORE_INGEST_EXTENDED) {
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc != 4 || sodium_init() < 0) {
        fprintf(stderr, "usage: webfill DIR AUTHORS POSTS\n");
        return 2;
    }
    int authors = atoi(argv[2]), posts = atoi(argv[3]);
    char path[4096];
    mkdir(argv[1], 0700);
    snprintf(path, sizeof path, "%s/store", argv[1]);
    store_t *s = NULL;
    char detail[256];
    if (store_open(&s, path, NULL, detail, sizeof detail) != STORE_OK) {
        fprintf(stderr, "webfill: %s\n", detail);
        return 1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000;
    uint64_t span = 3ull * 24 * 3600 * 1000;
    for (int a = 0; a < authors; a++) {
        keys_author_t k;
        keys_author_generate(&k);
        uint8_t prev[POST_ID_SIZE];
        for (int i = 1; i <= posts + 1; i++) {
            post_t p;
            /* Seq order and time order agree within a feed. */
            uint64_t when = now - span + (span / (uint64_t)(posts + 2)) * (uint64_t)i + (uint64_t)a;
            post_init(&p, i == 1 ? POST_KIND_PROFILE : POST_KIND_POST, (uint64_t)i,
                      i > 1 ? prev : NULL, when);
            char body[160];
            int n;
            if (i == 1) {
                char name[32];
                snprintf(name, sizeof name, "Author %d", a);
                post_set_name(&p, name, strlen(name));
                n = snprintf(body, sizeof body, "Bio of author %d.", a);
            } else {
                n = snprintf(body, sizeof body,
                             "Post %d of author %d: a short text of about the length people "
                             "write, with some words in it.",
                             i - 1, a);
            }
            post_set_body(&p, body, (size_t)n);
            if (put(s, &p, &k, now) != 0) {
                fprintf(stderr, "webfill: cannot store post %d of author %d\n", i, a);
                return 1;
            }
            memcpy(prev, p.id, POST_ID_SIZE);
        }
        store_follow(s, k.pk, now);
        keys_author_wipe(&k);
    }
    store_stats_t st;
    store_stats(s, &st);
    printf("webfill: %llu posts of %llu authors, %llu followed\n", (unsigned long long)st.posts,
           (unsigned long long)st.authors, (unsigned long long)st.follows);
    store_close(s);
    return 0;
}
