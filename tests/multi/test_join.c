/* Invites between real samizdat processes on loopback: `invite` on one
 * node, `join` on another, which connects and follows, and then receives
 * what the first posts; every way an invite can be wrong says why with its
 * exit code (mistyped, a key instead of an invite, a wrong node key, an
 * unreachable address); a stopped node saves the invite and connects when
 * it starts. */
#include "testutil.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "invite.h"
#include "nodes.h"

typedef struct {
    char root[400];
    char network[64];
    char empty[600];
    tn_node_t n[3];
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tu_mkdtemp(f->root, sizeof f->root);
    snprintf(f->network, sizeof f->network, "test-%08x", randombytes_random());
    snprintf(f->empty, sizeof f->empty, "%s/empty.list", f->root);
    tu_write_file(f->empty, "# nothing\n", 10);
    for (int i = 0; i < 3; i++) {
        tn_init(&f->n[i], f->root, i);
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 3; i++) {
        if (f->n[i].pid > 0) {
            tu_stop(f->n[i].pid, SIGKILL, 5);
        }
    }
    tu_rmtree(f->root);
    free(f);
    return 0;
}

/* The invite node t prints, without the newline. */
static void
get_invite(tn_node_t *t, char out[static INVITE_TEXT_MAX])
{
    tu_run_t r;
    tn_cli(&r, t, "invite", NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_true(r.out_len > 4 && r.out_len < INVITE_TEXT_MAX);
    memcpy(out, r.out, r.out_len);
    out[strcspn(out, "\n")] = '\0';
    assert_non_null(strstr(r.err, "samizdat join"));
    tu_run_free(&r);
}

static bool
timeline_has(tn_node_t *t, const char *text, int seconds)
{
    double end = tu_now() + seconds;
    while (tu_now() < end) {
        tu_run_t r;
        tn_cli(&r, t, "timeline", NULL, NULL, NULL);
        bool found = r.status == 0 && strstr(r.out, text) != NULL;
        tu_run_free(&r);
        if (found) {
            return true;
        }
        usleep(200000);
    }
    return false;
}

static void
test_invite_join_follow_and_receive(void **state)
{
    fixture_t *f = *state;
    tn_start(&f->n[0], f->network, f->empty, NULL, NULL);
    tn_start(&f->n[1], f->network, f->empty, NULL, NULL);
    char inv[INVITE_TEXT_MAX];
    get_invite(&f->n[0], inv);
    invite_t parsed;
    assert_int_equal(invite_decode(inv, &parsed, NULL), INVITE_OK);
    assert_memory_equal(parsed.node_key, f->n[0].node_pk, KEYS_PUBLIC_SIZE);
    assert_true(parsed.has_author);
    assert_string_equal(parsed.endpoints[0], f->n[0].endpoint);

    tu_run_t r;
    tn_cli(&r, &f->n[1], "join", inv, NULL, NULL);
    printf("join: exit %d: %s", r.status, r.out);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "connected to"));
    assert_non_null(strstr(r.out, f->n[0].author_text));
    tu_run_free(&r);
    assert_true(tn_has_peer(&f->n[1], &f->n[0]));
    tn_cli(&r, &f->n[1], "following", NULL, NULL, NULL);
    assert_non_null(strstr(r.out, f->n[0].author_text));
    tu_run_free(&r);

    tn_cli(&r, &f->n[0], "post", "hello from the inviter", NULL, NULL);
    assert_int_equal(r.status, 0);
    tu_run_free(&r);
    assert_true(timeline_has(&f->n[1], "hello from the inviter", 30));

    /* --json names the same fields; --no-author leaves the author out. */
    tn_cli(&r, &f->n[0], "--json", "invite", "--no-author", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"author\":null"));
    assert_non_null(strstr(r.out, f->n[0].node_text));
    tu_run_free(&r);
}

static void
test_bad_invites_say_why(void **state)
{
    fixture_t *f = *state;
    tn_start(&f->n[0], f->network, f->empty, NULL, NULL);
    tn_start(&f->n[1], f->network, f->empty, NULL, NULL);
    char inv[INVITE_TEXT_MAX];
    get_invite(&f->n[0], inv);
    tu_run_t r;

    /* One character changed. */
    char typo[INVITE_TEXT_MAX];
    memcpy(typo, inv, sizeof typo);
    typo[20] = typo[20] == 'q' ? 'p' : 'q';
    tn_cli(&r, &f->n[1], "join", typo, NULL, NULL);
    printf("mistyped: exit %d: %s", r.status, r.err);
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "mistyped"));
    tu_run_free(&r);

    /* A key where an invite belongs. */
    tn_cli(&r, &f->n[1], "join", f->n[0].node_text, NULL, NULL);
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "szi1"));
    tu_run_free(&r);

    /* The right address with another node key: the handshake fails. */
    invite_t wrong = {.n_endpoints = 1};
    randombytes_buf(wrong.node_key, sizeof wrong.node_key);
    snprintf(wrong.endpoints[0], sizeof wrong.endpoints[0], "%s", f->n[0].endpoint);
    char text[INVITE_TEXT_MAX];
    assert_int_equal(invite_encode(&wrong, text), INVITE_OK);
    tn_cli(&r, &f->n[1], "join", text, "--timeout", "5");
    printf("wrong key: exit %d: %s", r.status, r.err);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "wrong node key"));
    tu_run_free(&r);

    /* Nobody listens there. */
    memcpy(wrong.node_key, f->n[0].node_pk, KEYS_PUBLIC_SIZE);
    snprintf(wrong.endpoints[0], sizeof wrong.endpoints[0], "tcp://127.0.0.1:1");
    assert_int_equal(invite_encode(&wrong, text), INVITE_OK);
    tn_cli(&r, &f->n[1], "join", text, "--timeout", "5");
    printf("unreachable: exit %d: %s", r.status, r.err);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "unreachable"));
    tu_run_free(&r);
}

static void
test_stopped_node_saves_and_connects_at_start(void **state)
{
    fixture_t *f = *state;
    tn_start(&f->n[0], f->network, f->empty, NULL, NULL);
    char inv[INVITE_TEXT_MAX];
    get_invite(&f->n[0], inv);
    tu_run_t r;
    /* Without a running node an invite cannot name where it listens. */
    tn_cli(&r, &f->n[2], "invite", NULL, NULL, NULL);
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, "samizdat run"));
    tu_run_free(&r);
    tn_cli(&r, &f->n[2], "join", inv, NULL, NULL);
    printf("offline join: exit %d: %s", r.status, r.out);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "next starts"));
    tu_run_free(&r);
    tn_start(&f->n[2], f->network, f->empty, NULL, NULL);
    assert_true(tn_wait_peer(&f->n[2], &f->n[0], 30));
    tn_cli(&r, &f->n[2], "following", NULL, NULL, NULL);
    assert_non_null(strstr(r.out, f->n[0].author_text));
    tu_run_free(&r);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_invite_join_follow_and_receive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_invites_say_why, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopped_node_saves_and_connects_at_start, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
