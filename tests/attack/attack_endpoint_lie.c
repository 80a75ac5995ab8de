/* A node that lies about its endpoint (docs/SECURITY.md section 3; issue
 * 11 section 3). A node says in HELLO where it can be dialled; an inbound
 * peer's endpoint used to count for the routing table as soon as its host
 * was the address the connection came from, so a node on that host could
 * name any port: nobody would ever reach it there, yet it sat in every
 * routing table it talked to and was handed out in lookups. Now a node
 * takes an inbound peer's endpoint only after a connection it opened
 * itself to that endpoint met the peer's key (the dial-back check), and
 * announces only endpoints that peers dialled back.
 *
 * Real nodes on loopback: A and B, an honest newcomer H, and the liar L,
 * which says --announce tcp://127.0.0.1:P for a port P nobody listens on,
 * with its own check switched off (so it says the lie unchecked, as a
 * lying implementation would), and which listens on 127.0.0.3 while its
 * connections come from 127.0.0.1, so the one endpoint it could be
 * checked at is the lie. H, L and M (below) know A and B from their
 * bootstrap lists and talk to them (HELLO, PEERS, the DHT join). The
 * figures: the routing tables of A and B, and whether a lookup of L's id
 * from A, B and H finds L (it finds a node that some table holds). With
 * "dialback" off everywhere, the lie goes in.
 *
 * With the check on, M runs the shipped code with a wrong --announce: it
 * finds its announced endpoint not dialled back and its real listener
 * dialled back, says so in `status`, and is in the tables at the real one. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nodes.h"

enum { NODES = 5, A = 0, B = 1, H = 2, L = 3, M = 4 };

typedef struct {
    char root[400];
    tn_node_t n[NODES];
    int runs;
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
stop_all(fixture_t *f)
{
    for (int i = 0; i < NODES; i++) {
        if (f->n[i].pid > 0) {
            tu_stop(f->n[i].pid, SIGKILL, 5);
            f->n[i].pid = 0;
        }
    }
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    stop_all(f);
    tu_rmtree(f->root);
    free(f);
    return 0;
}

/* Whether a lookup of `target`'s id from t has target among the nodes
 * that answered: some routing table held it. */
static bool
lookup_finds(tn_node_t *t, const tn_node_t *target)
{
    tu_run_t r;
    char *args[] = {(char *)"dht", (char *)"find-node", (char *)target->node_text, NULL};
    tn_cli_argv(&r, t, args);
    bool found = r.status == 0 && strstr(r.out, target->node_text) != NULL;
    tu_run_free(&r);
    return found;
}

static bool
wait_table(tn_node_t *t, long want, int seconds)
{
    double deadline = tu_now() + seconds;
    while (tu_now() < deadline) {
        if (tn_status_count(t, "table") >= want) {
            return true;
        }
        usleep(100000);
    }
    return false;
}

/* When a table did not fill, what the node's dial-back did, for the log
 * of a failed run (the test directory is gone by the time one looks). */
static void
show_dialbacks(const tn_node_t *t, const char *name)
{
    size_t len = 0;
    char *log = tu_read_file(t->log, &len);
    for (char *line = log, *end; line != NULL && *line != '\0'; line = end) {
        end = strchr(line, '\n');
        end = end != NULL ? end + 1 : line + strlen(line);
        char one[400];
        snprintf(one, sizeof one, "%.*s", (int)(end - line), line);
        if (strstr(one, "dial-back") != NULL || strstr(one, "reachable") != NULL) {
            printf("attack_endpoint_lie: %s: %s", name, one);
        }
    }
    free(log);
}

static void
start(fixture_t *f, int i, const char *boot, const char *opt, const char *val, char *const env[])
{
    tn_init(&f->n[i], f->root, f->runs * NODES + i);
    tn_start_env(&f->n[i], "lie", boot, opt, val, env);
}

typedef struct {
    long table_a, table_b; /* contacts in A's and B's routing tables */
    int liar_found;        /* lookups of L's id (from A, B, H) that found L */
    int honest_found;      /* lookups of H's id (from A, B, L) that found H */
} figures_t;

static figures_t
run(fixture_t *f, bool defence, const char *label)
{
    char *off[] = {(char *)"SAMIZDAT_DEFENCE_OFF=dialback", NULL};
    char *const *env = defence ? NULL : off;
    char empty[600], boot_a[600], boot_ab[600], lie[64];
    snprintf(empty, sizeof empty, "%s/empty%d.list", f->root, f->runs);
    snprintf(boot_a, sizeof boot_a, "%s/a%d.list", f->root, f->runs);
    snprintf(boot_ab, sizeof boot_ab, "%s/ab%d.list", f->root, f->runs);
    snprintf(lie, sizeof lie, "tcp://127.0.0.1:%d", tu_closed_port());
    tu_write_file(empty, "", 0);
    start(f, A, empty, NULL, NULL, env);
    tn_write_bootstrap(boot_a, &f->n[A], 1);
    start(f, B, boot_a, NULL, NULL, env);
    tn_write_bootstrap(boot_ab, &f->n[A], 2);
    assert_true(tn_wait_peer(&f->n[B], &f->n[A], 20));
    start(f, H, boot_ab, NULL, NULL, env);
    /* The liar: its own check off in both runs, its listener where its
     * connections do not come from. */
    tn_init(&f->n[L], f->root, f->runs * NODES + L);
    char *liar_env[] = {(char *)"SAMIZDAT_DEFENCE_OFF=dialback", NULL};
    char *argv[] = {(char *)SAMIZDAT_BINARY,
                    (char *)"--data",
                    f->n[L].dir,
                    (char *)"run",
                    (char *)"--listen",
                    (char *)"tcp://127.0.0.3:0",
                    (char *)"--announce",
                    lie,
                    (char *)"--no-lan",
                    (char *)"--network",
                    (char *)"lie",
                    (char *)"--bootstrap",
                    boot_ab,
                    (char *)"--log-level",
                    (char *)"debug",
                    NULL};
    f->n[L].pid = tu_spawn(argv, liar_env, f->n[L].log);
    if (defence) {
        char bad[64];
        snprintf(bad, sizeof bad, "tcp://127.0.0.1:%d", tu_closed_port());
        start(f, M, boot_ab, "--announce", bad, NULL);
    }
    int honest = defence ? 3 : 2; /* others in A's table: B, H (and M) */
    assert_true(tn_wait_peer(&f->n[A], &f->n[L], 20));
    assert_true(tn_wait_peer(&f->n[B], &f->n[L], 20));
    assert_true(tn_wait_peer(&f->n[A], &f->n[H], 20));
    /* Long enough for the newcomers' own checks and the dial-backs of A
     * and B under AddressSanitizer on a loaded host. */
    bool filled =
        wait_table(&f->n[A], honest + !defence, 45) && wait_table(&f->n[B], honest + !defence, 45);
    /* Whatever L and the others sent A and B before now has been handled. */
    assert_true(tn_wait_heard_again(&f->n[A], NULL, 40));
    assert_true(tn_wait_heard_again(&f->n[B], NULL, 40));
    figures_t fig = {
        .table_a = tn_status_count(&f->n[A], "table"),
        .table_b = tn_status_count(&f->n[B], "table"),
    };
    const int askers[] = {A, B, H};
    for (size_t i = 0; i < 3; i++) {
        fig.liar_found += lookup_finds(&f->n[askers[i]], &f->n[L]);
    }
    const int askers_h[] = {A, B, L};
    for (size_t i = 0; i < 3; i++) {
        fig.honest_found += lookup_finds(&f->n[askers_h[i]], &f->n[H]);
    }
    printf("attack_endpoint_lie: %s: liar says %s (nobody listens there); routing tables: A %ld, "
           "B %ld contacts (%d honest others)%s; lookups of the liar's id that found it: %d of "
           "3; of the honest newcomer's: %d of 3\n",
           label, lie, fig.table_a, fig.table_b, honest, filled ? "" : " (not all came in)",
           fig.liar_found, fig.honest_found);
    if (!filled) {
        show_dialbacks(&f->n[A], "A");
        show_dialbacks(&f->n[B], "B");
        show_dialbacks(&f->n[H], "H");
        if (defence) {
            show_dialbacks(&f->n[M], "M");
        }
    }
    if (defence) {
        tu_run_t r;
        tn_cli(&r, &f->n[M], "status", NULL, NULL, NULL);
        char want[200];
        snprintf(want, sizeof want, "reachable:  directly at %s\n", f->n[M].endpoint);
        const char *line = strstr(r.out, "reachable:");
        printf("attack_endpoint_lie: a node with a wrong --announce says: %.*s\n",
               line ? (int)strcspn(line, "\n") : 0, line ? line : "");
        assert_non_null(strstr(r.out, want));
        tu_run_free(&r);
        tn_cli(&r, &f->n[M], "--json", "status", NULL, NULL);
        assert_non_null(strstr(r.out, "\"verdict\":\"not reachable\""));
        tu_run_free(&r);
        tn_cli(&r, &f->n[L], "status", NULL, NULL, NULL);
        assert_non_null(strstr(r.out, "reachable:  not checked"));
        tu_run_free(&r);
    }
    stop_all(f);
    f->runs++;
    return fig;
}

static void
test_lying_endpoint_stays_out(void **state)
{
    fixture_t *f = *state;
    figures_t on = run(f, true, "defence on");
    figures_t off = run(f, false, "dialback OFF");
    /* On: A and B hold exactly the honest others, and no lookup finds L. */
    assert_int_equal(on.table_a, 3);
    assert_int_equal(on.table_b, 3);
    assert_int_equal(on.liar_found, 0);
    assert_int_equal(on.honest_found, 3);
    /* The control: the lie goes into the tables, and lookups find L. */
    assert_int_equal(off.table_a, 3);
    assert_int_equal(off.table_b, 3);
    assert_true(off.liar_found >= 1);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lying_endpoint_stays_out, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
