/* Circuit relays between real nodes on loopback (docs/PROTOCOL.md 6,
 * "Relays"): R1 and R2 reachable; U listens on 127.0.0.3, so its
 * connections come from 127.0.0.1 and no peer can dial it back at its
 * endpoint: it is not reachable directly, and reserves at both relays.
 * `status` says "through relay", its invite names the relayed endpoints
 * first, and P joins that invite: P connects to U through a relay (the
 * CURVE handshake end to end), follows U, and a post from U reaches P;
 * U follows P and a post from P reaches U. Printed: the propagation time
 * of one post through the relay against a direct link (R1, following U
 * too, connected to U directly) in the same run. Then R1 is killed: U
 * keeps R2, and P reaches U through R2, the invite's other relay. P
 * listens on 127.0.0.4, so it cannot be dialled back either: the two are
 * like two homes behind NAT routers, and neither can dial the other.
 * The second test: P finds U by its author key alone, through the DHT. */
#include "testutil.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "invite.h"
#include "nodes.h"

enum { R1 = 0, R2 = 1, U = 2, P = 3, N = 4 };

typedef struct {
    char root[400];
    char network[64];
    char empty[600];
    char relays[600];
    tn_node_t n[N];
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tu_mkdtemp(f->root, sizeof f->root);
    snprintf(f->network, sizeof f->network, "test-%08x", randombytes_random());
    snprintf(f->empty, sizeof f->empty, "%s/empty.list", f->root);
    snprintf(f->relays, sizeof f->relays, "%s/relays.list", f->root);
    tu_write_file(f->empty, "# nothing\n", 10);
    for (int i = 0; i < N; i++) {
        tn_init(&f->n[i], f->root, i);
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < N; i++) {
        if (f->n[i].pid > 0) {
            tu_stop(f->n[i].pid, SIGKILL, 5);
        }
    }
    tu_rmtree(f->root);
    free(f);
    return 0;
}

static void
cli_ok(tn_node_t *t, const char *a1, const char *a2, const char *a3)
{
    tu_run_t r;
    tn_cli(&r, t, a1, a2, a3, NULL);
    if (r.status != 0) {
        printf("%s %s: exit %d: %s%s", a1, a2 ? a2 : "", r.status, r.out, r.err);
    }
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
}

/* Waits until `status` (text) has n lines "through relay"; copies the
 * output into out. */
static bool
wait_relays(tn_node_t *t, int n, int seconds, char *out, size_t cap)
{
    double end = tu_now() + seconds;
    while (tu_now() < end) {
        tu_run_t r;
        tn_cli(&r, t, "status", NULL, NULL, NULL);
        int k = 0;
        for (const char *p = r.out; (p = strstr(p, "through relay relay://")) != NULL; p++) {
            k++;
        }
        snprintf(out, cap, "%s", r.out);
        tu_run_free(&r);
        if (k == n) {
            return true;
        }
        usleep(200000);
    }
    return false;
}

static bool
timeline_has(tn_node_t *t, const char *text)
{
    tu_run_t r;
    tn_cli(&r, t, "timeline", NULL, NULL, NULL);
    bool found = r.status == 0 && strstr(r.out, text) != NULL;
    tu_run_free(&r);
    return found;
}

/* Posts text at from and waits for it at a and (if not NULL) b; the
 * seconds each took, -1 when it did not arrive in 30 s. */
static void
propagate(tn_node_t *from, const char *text, tn_node_t *a, double *ta, tn_node_t *b, double *tb)
{
    cli_ok(from, "post", text, NULL);
    double t0 = tu_now();
    *ta = -1;
    if (tb != NULL) {
        *tb = -1;
    }
    while (tu_now() - t0 < 30 && (*ta < 0 || (b != NULL && *tb < 0))) {
        if (*ta < 0 && timeline_has(a, text)) {
            *ta = tu_now() - t0;
        }
        if (b != NULL && *tb < 0 && timeline_has(b, text)) {
            *tb = tu_now() - t0;
        }
        usleep(20000);
    }
}

static void
join(tn_node_t *joiner, tn_node_t *t, char *inv_out)
{
    tu_run_t r;
    tn_cli(&r, t, "invite", NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    char inv[INVITE_TEXT_MAX];
    snprintf(inv, sizeof inv, "%.*s", (int)strcspn(r.out, "\n"), r.out);
    tu_run_free(&r);
    invite_t parsed;
    assert_int_equal(invite_decode(inv, &parsed, NULL), INVITE_OK);
    printf("invite of U: %zu endpoints, first %s\n", parsed.n_endpoints, parsed.endpoints[0]);
    assert_non_null(strstr(parsed.endpoints[0], "relay://127.0.0.1:"));
    tn_cli(&r, joiner, "join", inv, NULL, NULL);
    printf("join: exit %d: %s%s", r.status, r.out, r.err);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    if (inv_out != NULL) {
        snprintf(inv_out, INVITE_TEXT_MAX, "%s", inv);
    }
}

static void
test_relay_end_to_end(void **state)
{
    fixture_t *f = *state;
    tn_start(&f->n[R1], f->network, f->empty, NULL, NULL);
    tn_start(&f->n[R2], f->network, f->empty, NULL, NULL);
    tn_write_bootstrap(f->relays, &f->n[R1], 2);
    /* P is behind no dial-back either (another home): neither can dial
     * the other, so what passes between them goes through a relay. */
    snprintf(f->n[P].listen, sizeof f->n[P].listen, "tcp://127.0.0.4:0");
    tn_start(&f->n[P], f->network, f->empty, "--no-relay", NULL);
    snprintf(f->n[U].listen, sizeof f->n[U].listen, "tcp://127.0.0.3:0");
    tn_start(&f->n[U], f->network, f->relays, NULL, NULL);

    char st[8192];
    bool two = wait_relays(&f->n[U], 2, 60, st, sizeof st);
    printf("U's status:\n%s", st);
    assert_true(two);
    assert_null(strstr(st, "directly at"));
    tu_run_t r;
    tn_cli(&r, &f->n[U], "--json", "status", NULL, NULL);
    assert_non_null(strstr(r.out, "\"state\":\"through relay\""));
    assert_non_null(strstr(r.out, "\"relays\":[\"relay://127.0.0.1:"));
    tu_run_free(&r);
    tn_cli(&r, &f->n[R1], "--json", "status", NULL, NULL);
    assert_null(strstr(r.out, "\"relay_port\":0"));
    tu_run_free(&r);

    join(&f->n[P], &f->n[U], NULL);
    assert_true(tn_wait_peer(&f->n[P], &f->n[U], 20));
    cli_ok(&f->n[U], "follow", f->n[P].author_text, NULL);

    double via_relay = -1, direct = -1;
    propagate(&f->n[U], "first post, through the relay", &f->n[P], &via_relay, NULL, NULL);
    assert_true(via_relay >= 0);
    double back = -1;
    propagate(&f->n[P], "an answer, back through the relay", &f->n[U], &back, NULL, NULL);
    assert_true(back >= 0);
    /* The same post to P through the relay and to R1 directly. */
    cli_ok(&f->n[R1], "follow", f->n[U].author_text, NULL);
    double warm = -1;
    propagate(&f->n[U], "warm-up for R1", &f->n[R1], &warm, NULL, NULL);
    propagate(&f->n[U], "second post, both ways", &f->n[P], &via_relay, &f->n[R1], &direct);
    assert_true(via_relay >= 0 && direct >= 0);
    printf("relay: propagation U->P through the relay %.2f s, U->R1 direct %.2f s "
           "(P->U through the relay %.2f s)\n",
           via_relay, direct, back);
    long circuits =
        tn_status_count(&f->n[R1], "relay_circuits") + tn_status_count(&f->n[R2], "relay_circuits");
    printf("relay: circuits spliced by R1 and R2: %ld\n", circuits);
    assert_true(circuits >= 1);

    /* R1 dies: U keeps R2 and says so; P reaches U again through R2. */
    tu_stop(f->n[R1].pid, SIGKILL, 5);
    f->n[R1].pid = 0;
    double t0 = tu_now();
    bool one = wait_relays(&f->n[U], 1, 30, st, sizeof st);
    printf("after R1 was killed (%.1f s), U's status:\n%s", tu_now() - t0, st);
    assert_true(one);
    /* P notices that its circuit through R1 is gone, and, with no new
     * invite, dials U at the invite's other relay, R2. */
    double killed = t0;
    t0 = tu_now();
    while (tn_has_peer(&f->n[P], &f->n[U]) && tu_now() - t0 < 20) {
        usleep(20000);
    }
    printf("relay: P lost U %.1f s after R1 was killed\n", tu_now() - killed);
    bool reached = tn_wait_peer(&f->n[P], &f->n[U], 30);
    printf("relay: P reached U again through another relay %.1f s after R1 was killed, "
           "without a new invite\n",
           tu_now() - killed);
    assert_true(reached);
    double again = -1;
    propagate(&f->n[U], "after the relay died", &f->n[P], &again, NULL, NULL);
    long r2 = tn_status_count(&f->n[R2], "relay_circuits");
    printf("relay: after R1 died, U->P through R2 %.2f s (R2 spliced %ld circuits)\n", again, r2);
    assert_true(again >= 0);
    assert_true(r2 >= 1);
}

/* Runs `dht lookup AUTHOR` at t until U is named as a provider; copies
 * the output. */
static bool
wait_provider(tn_node_t *t, const tn_node_t *u, int seconds, char *out, size_t cap)
{
    double end = tu_now() + seconds;
    while (tu_now() < end) {
        tu_run_t r;
        tn_cli(&r, t, "dht", "lookup", u->author_text, NULL);
        snprintf(out, cap, "%s", r.out);
        bool found = strstr(r.out, u->node_text) != NULL;
        tu_run_free(&r);
        if (found) {
            return true;
        }
        usleep(500000);
    }
    return false;
}

/* Issue 11, "announces its relayed endpoints": F knows U by its author key
 * alone (no invite). U, reachable only through R1 and R2, names its relays
 * in HELLO; the DHT nodes probe U's relay before they store U's
 * provider record with the relayed endpoint; F's lookup finds it, F
 * follows U and reaches it through the relay, and U's posts come. U is in
 * no routing table: a relayed endpoint is no contact for lookups. */
static void
test_relay_found_by_key(void **state)
{
    fixture_t *f = *state;
    tn_start(&f->n[R1], f->network, f->empty, NULL, NULL);
    tn_start(&f->n[R2], f->network, f->empty, NULL, NULL);
    tn_write_bootstrap(f->relays, &f->n[R1], 2);
    snprintf(f->n[U].listen, sizeof f->n[U].listen, "tcp://127.0.0.3:0");
    tn_start(&f->n[U], f->network, f->relays, NULL, NULL);
    char st[8192];
    assert_true(wait_relays(&f->n[U], 2, 60, st, sizeof st));
    cli_ok(&f->n[U], "post", "written before anyone followed", NULL);

    snprintf(f->n[P].listen, sizeof f->n[P].listen, "tcp://127.0.0.4:0");
    tn_start(&f->n[P], f->network, f->relays, "--no-relay", NULL);
    double t0 = tu_now();
    char out[4096];
    bool found = wait_provider(&f->n[P], &f->n[U], 60, out, sizeof out);
    printf("P's lookup of U's author key (%.1f s):\n%s", tu_now() - t0, out);
    assert_true(found);
    assert_non_null(strstr(out, "relay://127.0.0.1:"));

    t0 = tu_now();
    cli_ok(&f->n[P], "follow", f->n[U].author_text, NULL);
    double got = -1;
    while (tu_now() - t0 < 30 && got < 0) {
        if (timeline_has(&f->n[P], "written before anyone followed")) {
            got = tu_now() - t0;
        }
        usleep(50000);
    }
    printf("relay: P followed U by its key alone and had U's earlier post in %.2f s\n", got);
    assert_true(got >= 0);
    double next = -1;
    propagate(&f->n[U], "written after P followed", &f->n[P], &next, NULL, NULL);
    printf("relay: U's next post reached P in %.2f s\n", next);
    assert_true(next >= 0);

    /* Nobody's routing table has U: a lookup for U's own id at P, R1 and
     * R2 does not list it. */
    for (int i = 0; i < N; i++) {
        if (i == U) {
            continue;
        }
        tu_run_t r;
        tn_cli(&r, &f->n[i], "dht", "find-node", f->n[U].node_text, NULL);
        bool listed = strstr(r.out, f->n[U].node_text) != NULL &&
                      strstr(r.out, "(the node itself)") != NULL;
        if (listed) {
            printf("node %d lists U as a contact:\n%s", i, r.out);
        }
        tu_run_free(&r);
        assert_false(listed);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_relay_end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relay_found_by_key, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
