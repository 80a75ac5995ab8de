/* A damaged store (docs/SECURITY.md section 5): the node refused to start
 * on a damaged MANIFEST or CURRENT and offered no way out. Each case takes a
 * store with 40 posts and a follow, damages it, and shows: the node does not
 * start (the control: without `repair` there is no way back) and its
 * message names `samizdat repair`; `repair` brings it back; the node then
 * starts and shows the posts kept. */
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

#include "control.h"
#include "nodes.h"

enum { POSTS = 40, START_WAIT_S = 40 };

typedef struct {
    char root[400];
    tn_node_t n;
} fixture_t;

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
    if (f->n.pid > 0) {
        tu_stop(f->n.pid, SIGKILL, 5);
    }
    tu_rmtree(f->root);
    free(f);
    return 0;
}

/* The first file in dir whose name starts with prefix (and ends with
 * suffix), as a path. */
static bool
find_file(const char *dir, const char *prefix, const char *suffix, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return false;
    }
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d)) != NULL;) {
        size_t n = strlen(e->d_name), s = strlen(suffix);
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
            (s == 0 || (n >= s && strcmp(e->d_name + n - s, suffix) == 0))) {
            found = snprintf(out, cap, "%s/%s", dir, e->d_name) < (int)cap;
        }
    }
    closedir(d);
    return found;
}

static void
overwrite(const char *path, long at, size_t len)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    uint8_t junk[256];
    randombytes_buf(junk, sizeof junk);
    assert_int_equal(pwrite(fd, junk, len, at), (ssize_t)len);
    close(fd);
}

typedef enum { CURRENT_GONE, CURRENT_GARBAGE, MANIFEST_GARBAGE, TABLE_DAMAGED } damage_t;
static const char *const NAMES[] = {"CURRENT removed", "CURRENT garbage", "MANIFEST garbage",
                                    "a table file damaged"};

static void
damage(const char *store, damage_t how)
{
    char path[900];
    switch (how) {
    case CURRENT_GONE:
        snprintf(path, sizeof path, "%s/CURRENT", store);
        assert_int_equal(unlink(path), 0);
        break;
    case CURRENT_GARBAGE:
        snprintf(path, sizeof path, "%s/CURRENT", store);
        tu_write_file(path, "MANIFEST-999999\n", 16);
        break;
    case MANIFEST_GARBAGE:
        assert_true(find_file(store, "MANIFEST-", "", path, sizeof path));
        overwrite(path, 0, 64);
        break;
    case TABLE_DAMAGED:
        assert_true(find_file(store, "", ".ldb", path, sizeof path));
        overwrite(path, 100, 64);
        break;
    }
}

/* Whether `run` comes up and stops cleanly again; *came_up (may be NULL):
 * whether it came up at all. A node whose store opens but whose damage
 * `status` then reads has not come up either: it runs, and `status` says
 * the store is damaged and to run `samizdat repair` (which table block
 * the damage hits, and so which reads meet it, depends on the layout). */
static bool
starts(fixture_t *f, char *err, size_t cap, bool *came_up)
{
    char *argv[] = {(char *)SAMIZDAT_BINARY,
                    (char *)"--data",
                    f->n.dir,
                    (char *)"run",
                    (char *)"--listen",
                    (char *)"tcp://127.0.0.1:0",
                    (char *)"--no-lan",
                    (char *)"--bootstrap",
                    (char *)"/dev/null",
                    NULL};
    int pid = tu_spawn(argv, NULL, f->n.log);
    /* Long enough for a node under AddressSanitizer on a loaded host. */
    double end = tu_now() + START_WAIT_S;
    bool up = false, exited = false, told = false;
    int status = -1;
    char said[900] = "";
    /* The node's control socket first: `status` before it exists opens
     * the store itself, and would report the damage in the node's stead. */
    char sock[600];
    struct stat st;
    assert_true(control_socket_path(sock, sizeof sock, f->n.dir));
    int ws = 0;
    while (stat(sock, &st) != 0 && !exited && tu_now() < end) {
        exited = waitpid(pid, &ws, WNOHANG) == pid;
        usleep(10000);
    }
    while (!up && !exited && !told && tu_now() < end) {
        tu_run_t r;
        tn_cli(&r, &f->n, "--json", "status", NULL, NULL);
        up = r.status == 0 && strstr(r.out, "\"running\":true") != NULL;
        told = !up && strstr(r.err, "samizdat repair") != NULL;
        snprintf(said, sizeof said, "exit %d: %.240s%.600s", r.status, r.out, r.err);
        tu_run_free(&r);
        exited = !up && waitpid(pid, &ws, WNOHANG) == pid; /* refused to start */
        if (!up && !exited) {
            usleep(100000);
        }
    }
    if (!exited) {
        status = tu_stop(pid, SIGINT, 20);
    }
    char *log = tu_read_file(f->n.log, NULL);
    const char *e = log ? strstr(log, "samizdat: ") : NULL;
    if (up && status != 0) {
        /* It opened the store and failed later, as reads reached the
         * damage: say so. */
        e = log ? strstr(log, "Z error ") : NULL;
        snprintf(err, cap, "came up; exit status %d at stop: %.*s", status,
                 e ? (int)strcspn(e, "\n") : 0, e ? e : "");
    } else if (told) {
        snprintf(err, cap, "it runs, and `status` says: %.*s", (int)strcspn(said, "\n"), said);
    } else if (!up && !exited) {
        /* Neither up nor refused within the time: say what the last
         * status said and how the log ends. */
        const char *last = log;
        size_t len = log ? strlen(log) : 0;
        for (int lines = 0; last != NULL && len > 0 && lines < 8; lines++) {
            while (len > 0 && log[len - 1] == '\n') {
                len--;
            }
            while (len > 0 && log[len - 1] != '\n') {
                len--;
            }
            last = log + len;
        }
        snprintf(err, cap, "neither up nor refused within %d s; last status: %s; log ends: %.600s",
                 START_WAIT_S, said, last ? last : "(empty)");
    } else {
        snprintf(err, cap, "%.*s", e ? (int)strcspn(e, "\n") : 0, e ? e : "");
    }
    if (came_up != NULL) {
        *came_up = up;
    }
    free(log);
    unlink(f->n.log);
    return up && status == 0;
}

static long
feed_count(fixture_t *f)
{
    tu_run_t r;
    tn_cli(&r, &f->n, "feed", "--limit", "1000", NULL);
    long n = 0;
    for (const char *p = r.out; (p = strstr(p, "  #")) != NULL; p++) {
        n++;
    }
    tu_run_free(&r);
    return n;
}

static void
run_case(fixture_t *f, damage_t how, int *failed_before, int *ok_after)
{
    char name[16];
    snprintf(name, sizeof name, "c%d", (int)how);
    tn_init(&f->n, f->root, (int)how);
    for (int i = 1; i <= POSTS; i++) {
        char text[32];
        snprintf(text, sizeof text, "post number %d", i);
        tu_run_t r;
        tn_cli(&r, &f->n, "post", text, NULL, NULL);
        assert_int_equal(r.status, 0);
        tu_run_free(&r);
    }
    char store[600];
    snprintf(store, sizeof store, "%s/store", f->n.dir);
    damage(store, how);
    char err[1500];
    bool came_up = false;
    bool before = starts(f, err, sizeof err, &came_up);
    *failed_before += !before;
    tu_run_t r;
    tn_cli(&r, &f->n, "repair", NULL, NULL, NULL);
    int rc = r.status;
    char out[512];
    snprintf(out, sizeof out, "%.*s", (int)strcspn(r.out, "\n"), r.out);
    tu_run_free(&r);
    char err2[1500] = "";
    bool after = rc == 0 && starts(f, err2, sizeof err2, NULL);
    *ok_after += after;
    long kept = feed_count(f);
    printf("attack_corrupt_store: %s: starts before repair: %s%s%s; repair: exit %d (%s); "
           "starts after: %s; %ld of %d posts in the feed\n",
           NAMES[how], before ? "yes" : "no", before ? "" : ": ", before ? "" : err, rc, out,
           after ? "yes" : "no", kept, POSTS);
    if (!came_up) {
        assert_non_null(strstr(err, "samizdat repair"));
    }
    if (rc == 0 && !after) {
        printf("attack_corrupt_store: %s: after repair: %s\n", NAMES[how], err2);
    }
    assert_int_equal(rc, 0);
    assert_true(after);
    if (how != TABLE_DAMAGED) {
        assert_int_equal(kept, POSTS);
    }
}

static void
test_damaged_stores_are_repaired(void **state)
{
    fixture_t *f = *state;
    int failed_before = 0, ok_after = 0;
    for (int how = CURRENT_GONE; how <= TABLE_DAMAGED; how++) {
        run_case(f, (damage_t)how, &failed_before, &ok_after);
    }
    printf("attack_corrupt_store: without repair %d of 4 damaged stores do not start; after "
           "`samizdat repair` %d of 4 start\n",
           failed_before, ok_after);
    assert_true(failed_before >= 3); /* the control: these cases do not start by themselves */
    assert_int_equal(ok_after, 4);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_damaged_stores_are_repaired, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
