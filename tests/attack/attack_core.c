/* Secrets in a crash (docs/SECURITY.md section 6). A node killed by
 * SIGABRT with core dumps allowed used to leave a core holding the author
 * seed and the node secret. The test allows cores (RLIMIT_CORE unlimited,
 * inherited by the node; core_pattern pointed at a test folder, restored
 * afterwards), starts a node whose author key is sealed with a passphrase
 * given in SAMIZDAT_PASSPHRASE, aborts it, and searches whatever core it
 * left for the author secret key, the node secret key and the passphrase.
 * With the defence: no core at all. With "secrets" switched off: the core
 * and what it holds. Needs root (core_pattern); skipped otherwise. */
#include "testutil.h"

#include <dirent.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keys.h"
#include "nodes.h"

#define PATTERN_FILE "/proc/sys/kernel/core_pattern"
#define PASSPHRASE "correct horse battery staple, for the core test"

typedef struct {
    char root[400];
    char cores[512];
    char old_pattern[512];
    tn_node_t n;
    keys_author_t author;
    keys_node_t node;
} fixture_t;

static bool
set_pattern(const char *pattern)
{
    FILE *f = fopen(PATTERN_FILE, "w");
    if (f == NULL) {
        return false;
    }
    bool ok = fprintf(f, "%s\n", pattern) > 0;
    return fclose(f) == 0 && ok;
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    char *old = tu_read_file(PATTERN_FILE, NULL);
    if (getuid() != 0 || old == NULL || old[0] == '|') {
        free(old); /* not root, or cores go to a program we cannot read from */
        free(f);
        *state = NULL;
        return 0;
    }
    snprintf(f->old_pattern, sizeof f->old_pattern, "%s", old);
    f->old_pattern[strcspn(f->old_pattern, "\n")] = '\0';
    free(old);
    tu_mkdtemp(f->root, sizeof f->root);
    snprintf(f->cores, sizeof f->cores, "%s/cores", f->root);
    mkdir(f->cores, 0700);
    char pattern[600];
    snprintf(pattern, sizeof pattern, "%s/core.%%p", f->cores);
    if (!set_pattern(pattern)) {
        tu_rmtree(f->root);
        free(f);
        *state = NULL;
        return 0;
    }
    struct rlimit all = {RLIM_INFINITY, RLIM_INFINITY};
    setrlimit(RLIMIT_CORE, &all);
    /* A node whose author key is sealed. */
    snprintf(f->n.dir, sizeof f->n.dir, "%s/n", f->root);
    snprintf(f->n.log, sizeof f->n.log, "%s/n.log", f->root);
    char *init[] = {(char *)SAMIZDAT_BINARY, (char *)"--data", f->n.dir, (char *)"init",
                    (char *)"--passphrase", NULL};
    char *env[] = {(char *)"SAMIZDAT_PASSPHRASE=" PASSPHRASE, NULL};
    tu_run_t r;
    tu_run(&r, init, env, NULL, 30);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    char path[600];
    snprintf(path, sizeof path, "%s/author.key", f->n.dir);
    assert_int_equal(keys_author_load(path, PASSPHRASE, &f->author), KEYS_OK);
    snprintf(path, sizeof path, "%s/node.key", f->n.dir);
    assert_int_equal(keys_node_load(path, &f->node), KEYS_OK);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    if (f == NULL) {
        return 0;
    }
    if (f->n.pid > 0) {
        tu_stop(f->n.pid, SIGKILL, 5);
    }
    set_pattern(f->old_pattern);
    keys_author_wipe(&f->author);
    keys_node_wipe(&f->node);
    tu_rmtree(f->root);
    free(f);
    return 0;
}

static size_t
count(const uint8_t *hay, size_t n, const void *needle, size_t len)
{
    size_t c = 0;
    for (size_t i = 0; i + len <= n; i++) {
        if (hay[i] == ((const uint8_t *)needle)[0] && memcmp(hay + i, needle, len) == 0) {
            c++;
        }
    }
    return c;
}

typedef struct {
    bool core;
    size_t core_bytes;
    size_t seed, node_sk, passphrase;
} found_t;

/* Starts the node with env, aborts it, and searches its core. */
static found_t
abort_and_search(fixture_t *f, char *const env[])
{
    char *run[] = {(char *)SAMIZDAT_BINARY, (char *)"--data", f->n.dir, (char *)"run",
                   (char *)"--listen", (char *)"tcp://127.0.0.1:0", (char *)"--no-lan",
                   (char *)"--bootstrap", (char *)"/dev/null", NULL};
    f->n.pid = tu_spawn(run, env, f->n.log);
    double end = tu_now() + 30;
    bool up = false;
    while (!up && tu_now() < end) {
        tu_run_t r;
        tn_cli(&r, &f->n, "--json", "status", NULL, NULL);
        up = r.status == 0 && strstr(r.out, "\"running\":true") != NULL;
        tu_run_free(&r);
        if (!up) {
            usleep(100000);
        }
    }
    assert_true(up);
    int pid = f->n.pid;
    kill(pid, SIGABRT);
    int status = tu_stop(pid, 0, 30);
    f->n.pid = 0;
    (void)status;
    found_t out = {false, 0, 0, 0, 0};
    char path[700];
    snprintf(path, sizeof path, "%s/core.%d", f->cores, pid);
    size_t n = 0;
    uint8_t *core = (uint8_t *)tu_read_file(path, &n);
    if (core == NULL) {
        return out;
    }
    out.core = true;
    out.core_bytes = n;
    out.seed = count(core, n, f->author.sk, KEYS_SEED); /* sk begins with the seed */
    out.node_sk = count(core, n, f->node.sk, sizeof f->node.sk);
    out.passphrase = count(core, n, PASSPHRASE, strlen(PASSPHRASE));
    free(core);
    unlink(path);
    return out;
}

static void
print(const char *label, const found_t *x)
{
    if (!x->core) {
        printf("attack_core: %s: no core written\n", label);
        return;
    }
    printf("attack_core: %s: core of %zu KiB holds the author seed %zu time(s), the node "
           "secret %zu time(s), the passphrase %zu time(s)\n",
           label, x->core_bytes / 1024, x->seed, x->node_sk, x->passphrase);
}

static void
test_a_crash_hands_out_no_secret(void **state)
{
    fixture_t *f = *state;
    if (f == NULL) {
        skip();
    }
    char *env[] = {(char *)"SAMIZDAT_PASSPHRASE=" PASSPHRASE, NULL};
    found_t on = abort_and_search(f, env);
    print("defence on", &on);
    assert_false(on.core);
}

static void
test_core_without_the_defence(void **state)
{
    fixture_t *f = *state;
    if (f == NULL) {
        skip();
    }
    char *env[] = {(char *)"SAMIZDAT_PASSPHRASE=" PASSPHRASE,
                   (char *)"SAMIZDAT_DEFENCE_OFF=secrets", NULL};
    found_t off = abort_and_search(f, env);
    print("defence off", &off);
#if defined(__SANITIZE_ADDRESS__)
    /* AddressSanitizer turns core dumps off itself (disable_coredump): the
     * control cannot show a core here; the plain build shows it. */
    printf("attack_core: under AddressSanitizer no core is written either way; control not "
           "checked\n");
    return;
#endif
    assert_true(off.core);
    assert_true(off.seed + off.node_sk + off.passphrase > 0);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_crash_hands_out_no_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_core_without_the_defence, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
