/* An author never signs two posts with one number (docs/SECURITY.md
 * section 4). Two ways a node comes back with its own feed shorter than
 * what its followers hold:
 *
 *   wal     the node is killed and the tail of LevelDB's write-ahead log
 *           is damaged: the store reopens without its newest posts;
 *   backup  the person restores an older copy of the data directory;
 *   dht     the store is lost altogether (the key on a second computer),
 *           and the only peer the node finds at first is a third node C
 *           that does not follow the author but holds its signed head in
 *           the DHT: only the DHT can tell the node it is behind.
 *
 * Each trial: author A and follower B run; A posts, B gets every post; A
 * comes back short; A is started again and asked to post at once (the CLI
 * retries while the node says it is still asking), with B held still for
 * the first RESUME_MS so the outcome does not hang on a race of
 * milliseconds. A self-fork is a post
 * signed with a number B already holds. With the defence (the fsynced
 * own.seq mark, and the node asking peers and the DHT before its first
 * post) A fetches its posts back and signs the next number; with "own-seq"
 * off it signs a used number. SAMIZDAT_ATTACK_LONG=1 runs 5 trials of each
 * kind instead of 1. */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nodes.h"

enum { POSTS = 8, FIRST = 4, RESUME_MS = 1500 };

typedef struct {
    char root[400];
    char boot[600];
    tn_node_t a, b, c;
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tu_mkdtemp(f->root, sizeof f->root);
    *state = f;
    return 0;
}

static void
stop_nodes(fixture_t *f)
{
    if (f->a.pid > 0) {
        tu_stop(f->a.pid, SIGKILL, 5);
        f->a.pid = 0;
    }
    if (f->b.pid > 0) {
        kill(f->b.pid, SIGCONT);
        tu_stop(f->b.pid, SIGKILL, 5);
        f->b.pid = 0;
    }
    if (f->c.pid > 0) {
        tu_stop(f->c.pid, SIGKILL, 5);
        f->c.pid = 0;
    }
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    stop_nodes(f);
    tu_rmtree(f->root);
    free(f);
    return 0;
}

static int
trials(void)
{
    return tu_attack_long() ? 5 : 1;
}

static void
cli_ok(tn_node_t *t, const char *a1, const char *a2, const char *a3)
{
    tu_run_t r;
    tn_cli(&r, t, a1, a2, a3, NULL);
    if (r.status != 0) {
        fprintf(stderr, "%s %s: exit %d: %s%s\n", a1, a2 ? a2 : "", r.status, r.out, r.err);
    }
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
}

/* Posts of author held by t (its feed as t's store has it), counted by
 * their "#N" lines; -1 when the CLI fails. */
static long
held(tn_node_t *t, const char *author)
{
    tu_run_t r;
    tn_cli(&r, t, "feed", author, "--limit", "1000");
    long n = r.status == 0 ? 0 : -1;
    for (const char *p = r.out; n >= 0 && (p = strstr(p, "  #")) != NULL; p++) {
        n++;
    }
    tu_run_free(&r);
    return n;
}

static void
wait_held(tn_node_t *t, const char *author, long want)
{
    double end = tu_now() + 30;
    long n = 0;
    while ((n = held(t, author)) < want && tu_now() < end) {
        usleep(100000);
    }
    assert_int_equal(n, want);
}

static void
post_n(fixture_t *f, int from, int to)
{
    for (int i = from; i <= to; i++) {
        char text[32];
        snprintf(text, sizeof text, "post number %d", i);
        cli_ok(&f->a, "post", text, NULL);
    }
}

static void
start_a(fixture_t *f, char *const env[])
{
    tn_start_env(&f->a, "selffork", f->boot, NULL, NULL, env);
}

/* Both nodes fresh; A has posted `posts` and B holds them all. */
static void
begin(fixture_t *f, int trial, char *const env[], int posts)
{
    tn_init(&f->a, f->root, trial * 2);
    tn_init(&f->b, f->root, trial * 2 + 1);
    tn_start(&f->b, "selffork", "/dev/null", NULL, NULL);
    snprintf(f->boot, sizeof f->boot, "%s/boot%d.list", f->root, trial);
    tn_write_bootstrap(f->boot, &f->b, 1);
    start_a(f, env);
    assert_true(tn_wait_peer(&f->b, &f->a, 20));
    cli_ok(&f->b, "follow", f->a.author_text, NULL);
    post_n(f, 1, posts);
    wait_held(&f->b, f->a.author_text, posts);
}

/* C, a DHT node that follows nobody, is everyone's bootstrap; B follows
 * A through the DHT; A posts `posts` and B holds them all, and C holds
 * A's signed head. */
static void
begin_dht(fixture_t *f, int trial, char *const env[], int posts)
{
    tn_init(&f->c, f->root, 1000 + trial);
    tn_start(&f->c, "selffork", "/dev/null", NULL, NULL);
    snprintf(f->boot, sizeof f->boot, "%s/boot%d.list", f->root, trial);
    tn_write_bootstrap(f->boot, &f->c, 1);
    tn_init(&f->a, f->root, trial * 2);
    tn_init(&f->b, f->root, trial * 2 + 1);
    tn_start(&f->b, "selffork", f->boot, NULL, NULL);
    start_a(f, env);
    assert_true(tn_wait_peer(&f->a, &f->c, 20));
    assert_true(tn_wait_peer(&f->b, &f->c, 20));
    cli_ok(&f->b, "follow", f->a.author_text, NULL);
    post_n(f, 1, posts);
    wait_held(&f->b, f->a.author_text, posts);
    char want[32];
    snprintf(want, sizeof want, "latest post: #%d ", posts);
    bool there = false;
    for (double end = tu_now() + 30; !there && tu_now() < end;) {
        tu_run_t r;
        tn_cli(&r, &f->c, "dht", "lookup", f->a.author_text, NULL);
        there = r.status == 0 && strstr(r.out, want) != NULL;
        tu_run_free(&r);
        if (!there) {
            usleep(200000);
        }
    }
    assert_true(there);
}

/* The newest *.log of a store directory. */
static bool
newest_log(const char *dir, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return false;
    }
    bool found = false;
    char best[256] = "";
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".log") == 0 && n < sizeof best &&
            strcmp(e->d_name, best) > 0) {
            snprintf(best, sizeof best, "%s", e->d_name);
            found = true;
        }
    }
    closedir(d);
    return found && snprintf(out, cap, "%s/%s", dir, best) < (int)cap;
}

/* Kills A and overwrites the last bytes of its write-ahead log. */
static void
damage_wal(fixture_t *f)
{
    tu_stop(f->a.pid, SIGKILL, 5);
    f->a.pid = 0;
    char store[600], log[900];
    snprintf(store, sizeof store, "%s/store", f->a.dir);
    assert_true(newest_log(store, log, sizeof log));
    struct stat st;
    assert_int_equal(stat(log, &st), 0);
    off_t cut = st.st_size > 2000 ? 2000 : st.st_size / 2;
    uint8_t junk[2000];
    randombytes_buf(junk, sizeof junk);
    int fd = open(log, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, junk, (size_t)cut, st.st_size - cut), (ssize_t)cut);
    close(fd);
}

static void
copy_dir(const char *from, const char *to)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
    assert_int_equal(system(cmd), 0);
}

/* A posts once more, retrying while the node is still asking or fetching
 * (at most 30 s); returns the seq it signed, 0 if it never did. */
static long
post_again(fixture_t *f, int *refusals, char *why, size_t cap)
{
    double end = tu_now() + 30;
    why[0] = '\0';
    while (tu_now() < end) {
        tu_run_t r;
        tn_cli(&r, &f->a, "--json", "post", "the post after", NULL);
        if (r.status == 0) {
            const char *s = strstr(r.out, "\"seq\":");
            long seq = s ? strtol(s + 6, NULL, 10) : 0;
            tu_run_free(&r);
            return seq;
        }
        if (why[0] == '\0') {
            snprintf(why, cap, "%.*s", (int)strcspn(r.err, "\n"), r.err);
        }
        (*refusals)++;
        tu_run_free(&r);
        usleep(200000);
    }
    return 0;
}

typedef enum { WAL, BACKUP, DHT } how_t;

static const char *
how_name(how_t how)
{
    return how == WAL ? "wal" : how == BACKUP ? "backup" : "dht";
}

/* One trial; returns whether A signed a number B already held. */
static bool
trial(fixture_t *f, how_t how, int n, int shown, bool defended)
{
    char *off_env[] = {(char *)"SAMIZDAT_DEFENCE_OFF=own-seq", NULL};
    char *const *env = defended ? NULL : off_env;
    char backup[600];
    snprintf(backup, sizeof backup, "%s/backup%d", f->root, n);
    long short_by = 0;
    if (how == WAL) {
        begin(f, n, env, POSTS);
        damage_wal(f);
        short_by = POSTS - held(&f->a, f->a.author_text); /* the CLI reopens the store */
        if (defended) {
            /* With the node stopped, the mark alone refuses, and says why. */
            tu_run_t r;
            tn_cli(&r, &f->a, "post", "while stopped", NULL, NULL);
            printf("attack_self_fork: post with the node stopped: exit %d: %.*s\n", r.status,
                   (int)strcspn(r.err, "\n"), r.err);
            assert_int_equal(r.status, 1);
            assert_non_null(strstr(r.err, "signed up to #8"));
            tu_run_free(&r);
        }
    } else if (how == DHT) {
        begin_dht(f, n, env, POSTS);
        tu_stop(f->a.pid, SIGKILL, 5);
        f->a.pid = 0;
        char cmd[1400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s/store' '%s/own.seq'", f->a.dir, f->a.dir);
        assert_int_equal(system(cmd), 0);
        short_by = POSTS; /* nothing of its own left */
    } else {
        begin(f, n, env, FIRST);
        assert_int_equal(tn_stop(&f->a), 0);
        copy_dir(f->a.dir, backup);
        start_a(f, env);
        post_n(f, FIRST + 1, POSTS);
        wait_held(&f->b, f->a.author_text, POSTS);
        assert_int_equal(tn_stop(&f->a), 0);
        copy_dir(backup, f->a.dir);
        short_by = POSTS - held(&f->a, f->a.author_text);
    }
    /* B is held still while A starts and is asked to post, and let go
     * RESUME_MS later, so that without the defence the post never races
     * the catch-up (it would otherwise be a matter of milliseconds). */
    assert_int_equal(kill(f->b.pid, SIGSTOP), 0);
    start_a(f, env);
    int resumer = fork();
    assert_true(resumer >= 0);
    if (resumer == 0) {
        usleep(RESUME_MS * 1000);
        kill(f->b.pid, SIGCONT);
        _exit(0);
    }
    int refusals = 0;
    char why[512];
    double t0 = tu_now();
    long seq = post_again(f, &refusals, why, sizeof why);
    double took = tu_now() - t0;
    int ws = 0;
    waitpid(resumer, &ws, 0);
    kill(f->b.pid, SIGCONT);
    long after = held(&f->a, f->a.author_text);
    bool fork = seq > 0 && seq <= POSTS;
    printf("attack_self_fork: %s trial %d, own-seq %s: the store came back %ld post(s) short; "
           "the next post was signed #%ld (%s) %.2f s after the start, after %d refusal(s)%s%s; A "
           "then holds %ld of "
           "its posts\n",
           how_name(how), shown, defended ? "on" : "OFF", short_by, seq,
           fork ? "A SELF-FORK: B holds another post with that number" : "no fork", took, refusals,
           why[0] ? ": " : "", why, after);
    assert_true(short_by > 0); /* the attack's precondition: the store lost posts */
    assert_true(seq > 0);
    if (defended) {
        assert_int_equal(seq, POSTS + 1);
        assert_int_equal(after, POSTS + 1);
    }
    if (defended && how == DHT) {
        /* Only the DHT knew while B was held still: the post waited for
         * B, and the log says what the DHT said. */
        assert_true(took >= RESUME_MS / 1000.0 - 0.1);
        char cmd[800];
        snprintf(cmd, sizeof cmd, "grep -q 'the DHT holds your signed head at post #%d' '%s'",
                 POSTS, f->a.log);
        int found = system(cmd);
        printf("attack_self_fork: dht trial %d: A's log %s the DHT's head #%d\n", shown,
               found == 0 ? "names" : "does NOT name", POSTS);
        assert_int_equal(found, 0);
    }
    stop_nodes(f);
    return fork;
}

static void
run_kind(fixture_t *f, how_t how, int base)
{
    int forks_on = 0, forks_off = 0;
    int t = trials();
    for (int i = 0; i < t; i++) {
        forks_on += trial(f, how, base + 2 * i, i + 1, true);
        forks_off += trial(f, how, base + 2 * i + 1, i + 1, false);
    }
    printf("attack_self_fork: %s: self-forks with the defence %d of %d trials; with own-seq "
           "off %d of %d\n",
           how == WAL      ? "write-ahead log damaged"
           : how == BACKUP ? "backup restored"
                           : "store lost, only the DHT knows",
           forks_on, t, forks_off, t);
    assert_int_equal(forks_on, 0);
    assert_int_equal(forks_off, t); /* the control: without the defence the fork happens */
}

static void
test_wal_damage_no_self_fork(void **state)
{
    run_kind(*state, WAL, 0);
}

static void
test_restored_backup_no_self_fork(void **state)
{
    run_kind(*state, BACKUP, 100);
}

static void
test_dht_head_no_self_fork(void **state)
{
    run_kind(*state, DHT, 200);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wal_damage_no_self_fork, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restored_backup_no_self_fork, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dht_head_no_self_fork, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
