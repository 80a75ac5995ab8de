/* The real samizdat binary against temporary data directories. */
#include "testutil.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nodes.h"
#include "store.h"

typedef struct {
    char dir[512];
    char dir2[512];
} fixture_t;

enum { ARGV_MAX = 16 };

/* Runs `samizdat --data DIR args...` (NULL-terminated) with env entries. */
static void
sz_env(tu_run_t *r, const char *dir, char *const env[], const char *in, ...)
{
    char *argv[ARGV_MAX];
    int n = 0;
    argv[n++] = (char *)SAMIZDAT_BINARY;
    argv[n++] = (char *)"--data";
    argv[n++] = (char *)dir;
    va_list ap;
    va_start(ap, in);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        assert_true(n < ARGV_MAX - 1);
        argv[n++] = (char *)a;
    }
    va_end(ap);
    argv[n] = NULL;
    tu_run(r, argv, env, in, 60);
}

#define SZ(r, dir, ...) sz_env(r, dir, NULL, NULL, __VA_ARGS__, (const char *)NULL)

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tu_mkdtemp(f->dir, sizeof f->dir);
    tu_mkdtemp(f->dir2, sizeof f->dir2);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    tu_rmtree(f->dir);
    tu_rmtree(f->dir2);
    free(f);
    return 0;
}

/* Copies the first word starting with prefix from s into out. */
static void
find_word(const char *s, const char *prefix, char *out, size_t cap)
{
    const char *p = strstr(s, prefix);
    assert_non_null(p);
    size_t n = strcspn(p, " \n\"");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

static void
init_ok(const char *dir, char *author, size_t cap)
{
    tu_run_t r;
    SZ(&r, dir, "init");
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    SZ(&r, dir, "whoami");
    assert_int_equal(r.status, 0);
    assert_int_equal(strlen(r.out), 63);
    find_word(r.out, "sza1", author, cap);
    tu_run_free(&r);
}

static void
post_ok(const char *dir, const char *text, char *id, size_t cap)
{
    tu_run_t r;
    SZ(&r, dir, "post", text);
    if (r.status != 0) {
        fail_msg("post failed: %s", r.err);
    }
    find_word(r.out, "szp1", id, cap);
    tu_run_free(&r);
}

static void
test_init_whoami(void **state)
{
    fixture_t *f = *state;
    char author[80];
    init_ok(f->dir, author, sizeof author);
    assert_int_equal(strlen(author), 62);
    tu_run_t r;
    SZ(&r, f->dir, "whoami", "--node");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "szn1"));
    tu_run_free(&r);
    SZ(&r, f->dir, "--json", "whoami");
    assert_non_null(strstr(r.out, "{\"author\":\"sza1"));
    tu_run_free(&r);
    SZ(&r, f->dir, "init");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "already holds an author key"));
    tu_run_free(&r);
    /* Key files and the directory are owner-only. */
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/author.key", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/node.key", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void
test_post_feed_show(void **state)
{
    fixture_t *f = *state;
    char author[80], id1[80], id2[80];
    init_ok(f->dir, author, sizeof author);
    post_ok(f->dir, "first post", id1, sizeof id1);
    tu_run_t r;
    sz_env(&r, f->dir, NULL, "second, from stdin\n", "post", "-", (const char *)NULL);
    assert_int_equal(r.status, 0);
    find_word(r.out, "szp1", id2, sizeof id2);
    assert_non_null(strstr(r.out, "#2"));
    tu_run_free(&r);

    SZ(&r, f->dir, "feed");
    assert_int_equal(r.status, 0);
    char *second = strstr(r.out, "second, from stdin");
    char *first = strstr(r.out, "first post");
    assert_non_null(second);
    assert_non_null(first);
    assert_true(second < first); /* newest first */
    tu_run_free(&r);

    SZ(&r, f->dir, "feed", author, "--json");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"head_seq\":2"));
    assert_non_null(strstr(r.out, "\"body\":\"second, from stdin\""));
    tu_run_free(&r);

    SZ(&r, f->dir, "show", id1);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "first post"));
    tu_run_free(&r);
    SZ(&r, f->dir, "show", id1, "--raw");
    assert_int_equal(r.status, 0);
    assert_int_equal(strncmp(r.out, "0101", 4), 0); /* version 1, kind post */
    tu_run_free(&r);
    SZ(&r, f->dir, "show", id1, "--json");
    assert_non_null(strstr(r.out, "\"seq\":1"));
    assert_non_null(strstr(r.out, "\"prev\":null"));
    tu_run_free(&r);
}

static void
test_reply_delete_profile(void **state)
{
    fixture_t *f = *state;
    char author[80], id1[80], other[80], oid[80];
    init_ok(f->dir, author, sizeof author);
    post_ok(f->dir, "to be deleted", id1, sizeof id1);
    tu_run_t r;
    SZ(&r, f->dir, "reply", id1, "a reply");
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    SZ(&r, f->dir, "profile", "--name", "Alice", "--bio", "radio amateur");
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    SZ(&r, f->dir, "delete", id1);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    SZ(&r, f->dir, "timeline");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Alice"));
    assert_non_null(strstr(r.out, "a reply"));
    assert_non_null(strstr(r.out, "[deleted by its author]"));
    assert_null(strstr(r.out, "to be deleted"));
    tu_run_free(&r);
    /* Someone else's post cannot be deleted. */
    init_ok(f->dir2, other, sizeof other);
    post_ok(f->dir2, "not yours", oid, sizeof oid);
    char file[600];
    snprintf(file, sizeof file, "%s/other.feed", f->dir2);
    SZ(&r, f->dir2, "export", other, file);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    SZ(&r, f->dir, "import", file);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    SZ(&r, f->dir, "delete", oid);
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "not your post"));
    tu_run_free(&r);
    /* Bad text: a control character, and too long. */
    SZ(&r, f->dir, "post", "bell\a");
    assert_int_equal(r.status, 3);
    tu_run_free(&r);
    char big[1100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    SZ(&r, f->dir, "post", big);
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "1024"));
    tu_run_free(&r);
}

static void
test_mistyped_keys(void **state)
{
    fixture_t *f = *state;
    char author[80], id[80];
    init_ok(f->dir, author, sizeof author);
    post_ok(f->dir, "x", id, sizeof id);
    tu_run_t r;
    char typo[80];
    snprintf(typo, sizeof typo, "%s", author);
    typo[20] = typo[20] == 'q' ? 'p' : 'q';
    SZ(&r, f->dir, "follow", typo);
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "mistyped"));
    tu_run_free(&r);
    typo[20] = author[20];
    typo[40] = '\0'; /* characters missing */
    SZ(&r, f->dir, "follow", typo);
    assert_int_equal(r.status, 3);
    tu_run_free(&r);
    SZ(&r, f->dir, "follow", id);
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "is a post id, not an author key"));
    tu_run_free(&r);
    SZ(&r, f->dir, "show", author);
    assert_int_equal(r.status, 3);
    tu_run_free(&r);
    SZ(&r, f->dir, "follow", author);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    SZ(&r, f->dir, "following", "--json");
    assert_non_null(strstr(r.out, author));
    tu_run_free(&r);
    SZ(&r, f->dir, "unfollow", author);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    SZ(&r, f->dir, "unfollow", author);
    assert_int_equal(r.status, 4);
    tu_run_free(&r);
}

static void
test_usage_and_not_found(void **state)
{
    fixture_t *f = *state;
    char author[80];
    init_ok(f->dir, author, sizeof author);
    tu_run_t r;
    SZ(&r, f->dir, "frobnicate");
    assert_int_equal(r.status, 2);
    tu_run_free(&r);
    SZ(&r, f->dir, "post");
    assert_int_equal(r.status, 2);
    tu_run_free(&r);
    SZ(&r, f->dir, "post", "a", "b");
    assert_int_equal(r.status, 2);
    tu_run_free(&r);
    SZ(&r, f->dir, "feed", "--bogus");
    assert_int_equal(r.status, 2);
    tu_run_free(&r);
    SZ(&r, f->dir, "timeline", "--limit", "zero");
    assert_int_equal(r.status, 2);
    tu_run_free(&r);
    SZ(&r, f->dir, "post", "--help");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: samizdat post"));
    tu_run_free(&r);
    /* "--" lets a post start with a dash. */
    SZ(&r, f->dir, "post", "--", "--not an option");
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    /* A well-formed id of a post that is not stored. */
    SZ(&r, f->dir, "show", "szp1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq");
    assert_true(r.status == 3 || r.status == 4);
    tu_run_free(&r);
}

static void
test_export_import(void **state)
{
    fixture_t *f = *state;
    char a[80], b[80], id[80];
    init_ok(f->dir, a, sizeof a);
    init_ok(f->dir2, b, sizeof b);
    post_ok(f->dir, "one", id, sizeof id);
    post_ok(f->dir, "two", id, sizeof id);
    post_ok(f->dir, "three", id, sizeof id);
    char file[600];
    snprintf(file, sizeof file, "%s/a.feed", f->dir2);
    tu_run_t r;
    SZ(&r, f->dir, "export", a, file);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "exported 3 posts"));
    tu_run_free(&r);
    SZ(&r, f->dir, "export", a, file);
    assert_int_equal(r.status, 1); /* exists */
    tu_run_free(&r);

    SZ(&r, f->dir2, "import", file);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "3 added"));
    tu_run_free(&r);
    SZ(&r, f->dir2, "import", file, "--json");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"duplicates\":3"));
    tu_run_free(&r);
    SZ(&r, f->dir2, "follow", a);
    tu_run_free(&r);
    SZ(&r, f->dir2, "timeline", "--limit", "2");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "three"));
    assert_non_null(strstr(r.out, "two"));
    assert_null(strstr(r.out, "one\n"));
    char next[80];
    find_word(strstr(r.out, "--before"), "szp1", next, sizeof next);
    tu_run_free(&r);
    SZ(&r, f->dir2, "timeline", "--limit", "2", "--before", next);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "one"));
    assert_null(strstr(r.out, "three"));
    tu_run_free(&r);

    /* A truncated file: what came before the cut is kept, the rest reported. */
    size_t len = 0;
    char *data = tu_read_file(file, &len);
    assert_non_null(data);
    char cut[600];
    snprintf(cut, sizeof cut, "%s/cut.feed", f->dir);
    tu_write_file(cut, data, len - 10);
    SZ(&r, f->dir2, "import", cut);
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "truncated"));
    tu_run_free(&r);
    /* A tampered post (first byte of the first body) is refused. */
    data[8 + 2 + 82 + 2] ^= 0x01;
    snprintf(cut, sizeof cut, "%s/bad.feed", f->dir);
    tu_write_file(cut, data, len);
    char fresh[600];
    snprintf(fresh, sizeof fresh, "%s/fresh", f->dir2);
    SZ(&r, fresh, "import", cut);
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "refused"));
    assert_non_null(strstr(r.out, "1 refused"));
    tu_run_free(&r);
    /* Not a feed file at all. */
    tu_write_file(cut, "hello", 5);
    SZ(&r, f->dir2, "import", cut);
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "not a samizdat feed file"));
    tu_run_free(&r);
    free(data);
    /* Blocking removes the imported posts. */
    SZ(&r, f->dir2, "block", a);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "removed 3"));
    tu_run_free(&r);
    SZ(&r, f->dir2, "import", file);
    assert_int_equal(r.status, 3);
    tu_run_free(&r);
}

static void
test_passphrase(void **state)
{
    fixture_t *f = *state;
    char *good[] = {(char *)"SAMIZDAT_PASSPHRASE=correct horse", NULL};
    char *bad[] = {(char *)"SAMIZDAT_PASSPHRASE=wrong horse", NULL};
    tu_run_t r;
    sz_env(&r, f->dir, good, NULL, "init", "--passphrase", (const char *)NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "sealed"));
    tu_run_free(&r);
    sz_env(&r, f->dir, good, NULL, "post", "sealed post", (const char *)NULL);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    sz_env(&r, f->dir, bad, NULL, "post", "nope", (const char *)NULL);
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "passphrase"));
    tu_run_free(&r);
    /* No passphrase and no terminal: a clear error, not a hang. */
    SZ(&r, f->dir, "post", "nope");
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "SAMIZDAT_PASSPHRASE"));
    tu_run_free(&r);
    /* whoami needs no passphrase. */
    SZ(&r, f->dir, "whoami");
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
}

static void
test_key_file_checks(void **state)
{
    fixture_t *f = *state;
    char a[80];
    init_ok(f->dir, a, sizeof a);
    char path[600];
    snprintf(path, sizeof path, "%s/author.key", f->dir);
    assert_int_equal(chmod(path, 0644), 0);
    tu_run_t r;
    SZ(&r, f->dir, "post", "x");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "chmod 600"));
    tu_run_free(&r);
    assert_int_equal(chmod(path, 0600), 0);
    size_t len = 0;
    char *data = tu_read_file(path, &len);
    assert_non_null(data);
    assert_int_equal(unlink(path), 0);
    tu_write_file(path, data, len / 2);
    free(data);
    SZ(&r, f->dir, "post", "x");
    assert_int_equal(r.status, 3);
    tu_run_free(&r);
    /* No key at all. */
    SZ(&r, f->dir2, "post", "x");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "samizdat init"));
    tu_run_free(&r);
}

static void
test_store_held_by_other_process(void **state)
{
    fixture_t *f = *state;
    char a[80];
    init_ok(f->dir, a, sizeof a);
    char path[600];
    snprintf(path, sizeof path, "%s/store", f->dir);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        store_t *s = NULL;
        if (store_open(&s, path, NULL, NULL, 0) != STORE_OK) {
            _exit(1);
        }
        (void)!write(ready[1], "x", 1);
        pause();
        _exit(0);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    tu_run_t r;
    SZ(&r, f->dir, "post", "x");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "in use by another samizdat process"));
    tu_run_free(&r);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(ready[0]);
    close(ready[1]);
    char id[80];
    post_ok(f->dir, "after the other process went away", id, sizeof id);
}

/* ---- issue 9, section 6: the command line people expect ---- */

/* Runs the binary with exactly these words (NULL-terminated), no --data
 * put in front, so a test can place the global options itself. */
static void
sz_words(tu_run_t *r, const char *in, ...)
{
    char *argv[ARGV_MAX];
    int n = 0;
    argv[n++] = (char *)SAMIZDAT_BINARY;
    va_list ap;
    va_start(ap, in);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        assert_true(n < ARGV_MAX - 1);
        argv[n++] = (char *)a;
    }
    va_end(ap);
    argv[n] = NULL;
    tu_run(r, argv, NULL, in, 60);
}

#define SZW(r, ...) sz_words(r, NULL, __VA_ARGS__, (const char *)NULL)

/* Text that starts with '-' is posted when it cannot be an option; what
 * could be one is refused with a hint to put -- before it, and -- works. */
static void
check_dash_text(const char *dir)
{
    tu_run_t r;
    SZ(&r, dir, "post", "-5 degrees tonight");
    if (r.status != 0) {
        fail_msg("post \"-5 degrees tonight\": %d: %s", r.status, r.err);
    }
    tu_run_free(&r);
    SZ(&r, dir, "post", "-12");
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    SZ(&r, dir, "post", "-x");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "unknown option -x"));
    assert_non_null(strstr(r.err, "put -- before it: samizdat post -- -x"));
    tu_run_free(&r);
    SZ(&r, dir, "post", "--", "-x");
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    /* After --, even a global option's name is text. */
    SZ(&r, dir, "post", "--", "--json");
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.out, "{"));
    tu_run_free(&r);

    SZ(&r, dir, "feed", "--json");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"body\":\"-5 degrees tonight\""));
    assert_non_null(strstr(r.out, "\"body\":\"-12\""));
    assert_non_null(strstr(r.out, "\"body\":\"-x\""));
    assert_non_null(strstr(r.out, "\"body\":\"--json\""));
    tu_run_free(&r);
}

static void
test_dash_text_is_positional(void **state)
{
    fixture_t *f = *state;
    char author[80];
    init_ok(f->dir, author, sizeof author);
    check_dash_text(f->dir);
    /* The help says how. */
    tu_run_t r;
    SZW(&r, "--help");
    assert_non_null(strstr(r.out, "  --           end of options"));
    tu_run_free(&r);
    SZW(&r, "post", "--help");
    assert_non_null(strstr(r.out, "put -- before it"));
    tu_run_free(&r);
}

/* --data and --json work after the command as before it. */
static void
check_globals_after(const char *dir)
{
    tu_run_t before, after;
    /* A feed with something in it: an empty one is "not found" (exit 4). */
    SZW(&before, "--data", dir, "post", "before the checks of global options");
    assert_int_equal(before.status, 0);
    tu_run_free(&before);
    SZW(&before, "--data", dir, "whoami");
    SZW(&after, "whoami", "--data", dir);
    assert_int_equal(before.status, 0);
    if (after.status != 0) {
        fail_msg("whoami --data DIR: %d: %s", after.status, after.err);
    }
    assert_string_equal(after.out, before.out);
    tu_run_free(&before);
    tu_run_free(&after);

    SZW(&before, "--data", dir, "--json", "feed");
    SZW(&after, "feed", "--json", "--data", dir);
    assert_int_equal(before.status, 0);
    assert_int_equal(after.status, 0);
    assert_string_equal(after.out, before.out);
    assert_int_equal(strncmp(after.out, "{\"author\":\"sza1", 15), 0);
    tu_run_free(&before);
    tu_run_free(&after);

    char eq[600];
    snprintf(eq, sizeof eq, "--data=%s", dir);
    SZW(&after, "post", "placed after the command", eq);
    assert_int_equal(after.status, 0);
    tu_run_free(&after);
    SZW(&after, "feed", "--limit", "1", "--data");
    assert_int_equal(after.status, 2);
    assert_non_null(strstr(after.err, "--data needs a directory"));
    tu_run_free(&after);
    SZW(&after, "feed", "--limit", "1", "--json", "--data", dir);
    assert_int_equal(after.status, 0);
    assert_non_null(strstr(after.out, "\"body\":\"placed after the command\""));
    tu_run_free(&after);
}

static void
test_global_options_after_command(void **state)
{
    fixture_t *f = *state;
    char author[80];
    init_ok(f->dir, author, sizeof author);
    check_globals_after(f->dir);
}

/* The same through a running node: the command goes over the control
 * socket without the global options, and the node answers the same. */
static void
test_parsing_through_node(void **state)
{
    fixture_t *f = *state;
    tn_node_t n;
    tn_init(&n, f->dir, 0);
    char list[600];
    snprintf(list, sizeof list, "%s/empty.list", f->dir);
    tu_write_file(list, "# nothing\n", 10);
    char network[32];
    snprintf(network, sizeof network, "test-%08x", randombytes_random());
    tn_start(&n, network, list, NULL, NULL);
    check_dash_text(n.dir);
    check_globals_after(n.dir);
    /* The commands above ran in the node, not beside it. */
    tu_run_t r;
    SZ(&r, n.dir, "status");
    assert_non_null(strstr(r.out, "listening"));
    tu_run_free(&r);
    assert_int_equal(tn_stop(&n), 0);
}

/* A name or body with bidi controls is shown with them escaped, in the
 * feed, in a post's header line and in the follow list. */
static void
test_bidi_escaped(void **state)
{
    fixture_t *f = *state;
    char a1[80], a2[80];
    init_ok(f->dir, a1, sizeof a1);
    init_ok(f->dir2, a2, sizeof a2);
    tu_run_t r;
    SZ(&r, f->dir2, "profile", "--name", "mallory\xe2\x80\xae", "--bio", "x");
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    SZ(&r, f->dir2, "post",
       "pay sza1\xe2\x80\xae"
       "evil\xe2\x80\xac"
       "good");
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    char file[600];
    snprintf(file, sizeof file, "%s/feed.szf", f->dir2);
    SZ(&r, f->dir2, "export", a2, file);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    SZ(&r, f->dir, "import", file);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    SZ(&r, f->dir, "follow", a2);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);

    SZ(&r, f->dir, "feed", a2);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.out, "\xe2\x80\xae"));
    assert_null(strstr(r.out, "\xe2\x80\xac"));
    assert_non_null(strstr(r.out, "  mallory<U+202E>  #2  szp1"));
    assert_non_null(strstr(r.out, "    pay sza1<U+202E>evil<U+202C>good\n"));
    assert_non_null(strstr(r.out, "profile: name \"mallory<U+202E>\""));
    tu_run_free(&r);
    SZ(&r, f->dir, "following");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "  mallory<U+202E>\n"));
    assert_null(strstr(r.out, "\xe2\x80\xae"));
    tu_run_free(&r);
    /* JSON carries the text as it is: a program, not a terminal, reads it. */
    SZ(&r, f->dir, "feed", a2, "--json");
    assert_non_null(strstr(r.out, "\xe2\x80\xae"));
    tu_run_free(&r);
}

/* docs/JSON.md: one shape per record kind. */
static void
test_json_shapes(void **state)
{
    fixture_t *f = *state;
    char author[80], id[80], entry[160];
    init_ok(f->dir, author, sizeof author);
    tu_run_t r;
    /* Status: running and node_key are separate fields. */
    SZ(&r, f->dir, "--json", "status");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "{\"running\":false,\"author\":\"sza1"));
    assert_non_null(strstr(r.out, "\"node_key\":null"));
    assert_null(strstr(r.out, "stopped"));
    tu_run_free(&r);
    /* A profile's text is its bio. */
    SZ(&r, f->dir, "profile", "--name", "Alice", "--bio", "radio amateur");
    assert_int_equal(r.status, 0);
    find_word(r.out, "szp1", id, sizeof id);
    tu_run_free(&r);
    SZ(&r, f->dir, "--json", "show", id);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"kind\":\"profile\""));
    assert_non_null(strstr(r.out, "\"name\":\"Alice\",\"bio\":\"radio amateur\""));
    assert_null(strstr(r.out, "\"body\""));
    tu_run_free(&r);
    /* follow and following give the same author entry. */
    snprintf(entry, sizeof entry, "{\"author\":\"%s\",\"name\":\"Alice\",\"since_ms\":", author);
    SZ(&r, f->dir, "--json", "follow", author);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"action\":\"follow\",\"author\":"));
    assert_non_null(strstr(r.out, entry));
    assert_non_null(strstr(r.out, "\"lookup\":null"));
    tu_run_free(&r);
    SZ(&r, f->dir, "--json", "following");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "{\"following\":["));
    assert_non_null(strstr(r.out, entry));
    tu_run_free(&r);
    /* Publish results and pages. */
    SZ(&r, f->dir, "--json", "post", "hello");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"seq\":2,\"kind\":\"post\"}"));
    tu_run_free(&r);
    SZ(&r, f->dir, "--json", "feed", "--limit", "1");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"next_before\":2}"));
    tu_run_free(&r);
    SZ(&r, f->dir, "--json", "timeline");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"next_before\":null}"));
    tu_run_free(&r);
}

/* Section 6 of issue 9: what surprised a new user. */
static void
test_refusals_and_plurals(void **state)
{
    fixture_t *f = *state;
    char a[80], b[80], id[80];
    init_ok(f->dir, a, sizeof a);
    init_ok(f->dir2, b, sizeof b);
    tu_run_t r;
    /* Nothing to post: it could never be taken back. */
    SZ(&r, f->dir, "post", "");
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "empty"));
    tu_run_free(&r);
    SZ(&r, f->dir, "post", " \t\n ");
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "white space"));
    tu_run_free(&r);
    sz_env(&r, f->dir, NULL, "\n", "post", "-", (const char *)NULL);
    assert_int_equal(r.status, 3);
    tu_run_free(&r);
    post_ok(f->dir, "one post", id, sizeof id);
    SZ(&r, f->dir, "reply", id, "  ");
    assert_int_equal(r.status, 3);
    tu_run_free(&r);
    SZ(&r, f->dir, "feed");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "one post"));
    assert_null(strstr(r.out, "#2"));
    tu_run_free(&r);
    /* An author with nothing stored: exit 4, and no file. */
    SZ(&r, f->dir, "feed", b);
    assert_int_equal(r.status, 4);
    assert_non_null(strstr(r.err, "no posts of this author"));
    tu_run_free(&r);
    char file[600];
    snprintf(file, sizeof file, "%s/b.feed", f->dir2);
    SZ(&r, f->dir, "export", b, file);
    assert_int_equal(r.status, 4);
    assert_non_null(strstr(r.err, "nothing to export"));
    tu_run_free(&r);
    assert_int_not_equal(access(file, F_OK), 0);
    /* One of a thing is not "1 things". */
    SZ(&r, f->dir, "export", a, file);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "exported 1 post to"));
    tu_run_free(&r);
    SZ(&r, f->dir2, "import", file);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "1 post read"));
    tu_run_free(&r);
    SZ(&r, f->dir2, "block", a);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "removed 1 stored post\n"));
    tu_run_free(&r);
    SZ(&r, f->dir2, "--json", "block", b);
    assert_int_equal(r.status, 3); /* oneself */
    tu_run_free(&r);
}

/* Invalid text says which problem it has and at which byte. */
static void
test_text_errors_say_which(void **state)
{
    fixture_t *f = *state;
    char a[80];
    init_ok(f->dir, a, sizeof a);
    static const struct {
        const char *cmd, *opt, *text, *want;
    } cases[] = {
        {"post", NULL, "bell\a here", "the text: control character U+0007 at byte 4"},
        {"post", NULL, "bad \xc3\x28 here", "the text: invalid UTF-8 at byte 4"},
        {"post", NULL, "\xe0\x80\x80", "invalid UTF-8 at byte 0 (overlong encoding)"},
        {"post", NULL, "\xed\xa0\x80", "invalid UTF-8 at byte 0 (encoded surrogate)"},
        {"post", NULL, "cut \xe2\x82", "at byte 4 (the text ends inside a character)"},
        {"profile", "--name", "a\tb", "the name: control character U+0009 at byte 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_run_t r;
        if (cases[i].opt != NULL) {
            SZ(&r, f->dir, cases[i].cmd, cases[i].opt, cases[i].text);
        } else {
            SZ(&r, f->dir, cases[i].cmd, cases[i].text);
        }
        assert_int_equal(r.status, 3);
        if (strstr(r.err, cases[i].want) == NULL) {
            fail_msg("%s %s: got '%s', want '%s'", cases[i].cmd, cases[i].text, r.err,
                     cases[i].want);
        }
        tu_run_free(&r);
    }
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
        cmocka_unit_test_setup_teardown(test_init_whoami, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_feed_show, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_delete_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mistyped_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_and_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passphrase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_held_by_other_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dash_text_is_positional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_global_options_after_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parsing_through_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bidi_escaped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_and_plurals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_errors_say_which, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
