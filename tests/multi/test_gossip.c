/* Gossip and feed sync between twenty real samizdat processes on loopback.
 *
 * 1. An author publishes 100 posts; every follower has all 100 within
 *    seconds. Prints propagation p50/p99 (from each post's signing to the
 *    moment each follower stored it, read from the followers' logs) and the
 *    copies of each post a follower received.
 * 2. A follower offline while the author publishes 50 more posts catches up
 *    after its restart, when the author's node has stopped too: from the
 *    other followers.
 * 3. A post the author writes while its node is down reaches every
 *    follower once the node runs again.
 * 4. The author deletes its first post: the body is hidden at every
 *    follower. A follower that blocks the author takes no more of its
 *    posts, while the others do. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "swarm.h"

enum {
    NODES = 20,
    OFFLINE = 2, /* the follower that goes away in the second test */
    BLOCKER = 3, /* the follower that blocks the author in the fourth */
    FIRST = 100, /* posts in the first test */
    SECOND = 50, /* posts while OFFLINE is away */
};

static void
test_hundred_posts_reach_every_follower(void **state)
{
    swarm_t *s = *state;
    swarm_publish(s, FIRST);
    double t0 = tu_now();
    int behind = 0;
    bool ok = swarm_wait_all(s, FIRST, 60, &behind);
    printf("gossip: %d of %d followers had all %d posts %.1f s after the last was published\n",
           NODES - 1 - behind, NODES - 1, FIRST, tu_now() - t0);
    assert_true(ok);
    swarm_report_t r;
    swarm_measure(s, 1, FIRST, &r);
    printf("gossip: %zu deliveries; propagation p50 %u ms, p99 %u ms, max %u ms\n", r.deliveries,
           r.p50_ms, r.p99_ms, r.max_ms);
    printf("gossip: copies received per post per follower: %.2f (%ld copies for %ld new posts)\n",
           r.stored > 0 ? (double)r.received / (double)r.stored : 0.0, r.received, r.stored);
    assert_int_equal(r.deliveries, (NODES - 1) * FIRST);
    assert_true(r.stored >= (NODES - 1) * FIRST);
    /* Flooding would cost one copy per peer; the tree costs about one. */
    assert_true(r.received < 2 * r.stored);
}

static void
test_offline_follower_catches_up_without_the_author(void **state)
{
    swarm_t *s = *state;
    tn_node_t *f = &s->n[OFFLINE];
    assert_int_equal(tn_stop(f), 0);
    swarm_publish(s, SECOND);
    int behind = 0;
    assert_true(swarm_wait_all(s, FIRST + SECOND, 60, &behind));
    /* The author goes away too: the posts now live only at the followers. */
    assert_int_equal(tn_stop(&s->n[SWARM_AUTHOR]), 0);
    assert_int_equal(swarm_head(s, OFFLINE), FIRST);
    tn_start(f, s->network, s->list, NULL, NULL);
    double t0 = tu_now();
    long seq = 0;
    while ((seq = swarm_head(s, OFFLINE)) < FIRST + SECOND && tu_now() - t0 < 90) {
        usleep(200000);
    }
    printf("gossip: the restarted follower had all %d posts after %.1f s (the author offline)\n",
           FIRST + SECOND, tu_now() - t0);
    assert_int_equal(seq, FIRST + SECOND);
}

/* The author, still stopped after the last test, writes a post: it goes
 * into its store. Started again, its node sends it to every follower. */
static void
test_post_written_offline_is_sent_at_start(void **state)
{
    swarm_t *s = *state;
    tn_node_t *a = &s->n[SWARM_AUTHOR];
    assert_int_equal(a->pid, 0);
    tu_run_t r;
    tn_cli(&r, a, "post", "written while my node was down", NULL, NULL);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    s->posts++;
    tn_start(a, s->network, s->list, NULL, NULL);
    double t0 = tu_now();
    int behind = 0;
    bool ok = swarm_wait_all(s, FIRST + SECOND + 1, 60, &behind);
    printf("gossip: the post written offline reached every follower %.1f s after the author's "
           "node started\n",
           tu_now() - t0);
    assert_true(ok);
}

/* The id of the author's post at seq, from the author's own feed. */
static void
author_post_id(swarm_t *s, int seq, char *id, size_t cap)
{
    char before[24];
    snprintf(before, sizeof before, "%d", seq + 1);
    char *args[] = {(char *)"--json", (char *)"feed", s->n[SWARM_AUTHOR].author_text,
                    (char *)"--before", before, (char *)"--limit", (char *)"1", NULL};
    tu_run_t r;
    tn_cli_argv(&r, &s->n[SWARM_AUTHOR], args);
    assert_int_equal(r.status, 0);
    const char *posts = strstr(r.out, "\"posts\":[");
    const char *p = posts ? strstr(posts, "\"id\":\"") : NULL;
    assert_non_null(p);
    p += strlen("\"id\":\"");
    size_t n = strcspn(p, "\"");
    assert_true(n > 0 && n < cap);
    memcpy(id, p, n);
    id[n] = '\0';
    tu_run_free(&r);
}

/* Running followers other than skip that do not hold posts 1..seq. */
static int
behind_but(swarm_t *s, long seq, int skip)
{
    int behind = 0;
    for (int i = 0; i < s->count; i++) {
        if (i != SWARM_AUTHOR && i != skip && s->n[i].pid > 0 && swarm_head(s, i) < seq) {
            behind++;
        }
    }
    return behind;
}

static void
test_delete_reaches_everyone_and_block_stops_posts(void **state)
{
    swarm_t *s = *state;
    tn_node_t *a = &s->n[SWARM_AUTHOR];
    char id[80];
    author_post_id(s, 1, id, sizeof id);
    tu_run_t r;
    tn_cli(&r, a, "delete", id, NULL, NULL);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    s->posts++;
    int behind = 0;
    assert_true(swarm_wait_all(s, s->posts, 60, &behind));
    for (int i = 0; i < s->count; i++) {
        if (i == SWARM_AUTHOR) {
            continue;
        }
        char *args[] = {(char *)"--json", (char *)"show", id, NULL};
        tn_cli_argv(&r, &s->n[i], args);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, "\"deleted\":true"));
        assert_non_null(strstr(r.out, "\"body\":\"\""));
        assert_null(strstr(r.out, "post 1 of the swarm"));
        tu_run_free(&r);
    }
    printf("gossip: the delete of post #1 hid its body at all %d followers\n", s->count - 1);

    long held = swarm_head(s, BLOCKER);
    tn_cli(&r, &s->n[BLOCKER], "block", a->author_text, NULL, NULL);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    swarm_publish(s, 1);
    double t0 = tu_now();
    while (behind_but(s, s->posts, BLOCKER) > 0 && tu_now() - t0 < 60) {
        usleep(200000);
    }
    assert_int_equal(behind_but(s, s->posts, BLOCKER), 0);
    /* Every follower but the blocker has the post. A copy on its way to the
     * blocker would come on one of its connections, which deliver in order:
     * once it has handled another message on each, it has handled any such
     * copy too. */
    assert_true(tn_wait_heard_again(&s->n[BLOCKER], NULL, 60));
    assert_true(swarm_head(s, BLOCKER) <= held);
    printf("gossip: after the block, %d followers took the new post and the blocker did not\n",
           s->count - 2);
}

static int
group_setup(void **state)
{
    swarm_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    swarm_start(s, NODES, FIRST + SECOND + 3);
    *state = s;
    return 0;
}

static int
group_teardown(void **state)
{
    swarm_t *s = *state;
    swarm_stop(s);
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
        cmocka_unit_test(test_post_written_offline_is_sent_at_start),
        cmocka_unit_test(test_delete_reaches_everyone_and_block_stops_posts),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
