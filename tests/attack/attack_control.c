/* The control socket against idle local clients (docs/SECURITY.md section
 * 7). Any local process of the same user can connect to DATA/control.sock;
 * a program that opens connections and sends nothing used to fill the 16
 * places and lock the CLI out, and `post` then died of SIGPIPE with no
 * message. Now idle clients are closed after CONTROL_IDLE_MS, up to 64 are
 * allowed, and a new one takes the place of the one that has waited
 * longest with nothing sent; the CLI ignores SIGPIPE and says what went
 * wrong.
 *
 * The attack: IDLE connections held open, then `samizdat post`. With the
 * defence: the post goes through. With "control-idle" switched off: it is
 * locked out, and says so (no death by signal). Then the idle timeout:
 * how many of the idle connections the node closed after the timeout.
 * SAMIZDAT_ATTACK_LONG=1 holds 900 connections instead of 200. */
#include "testutil.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "nodes.h"

typedef struct {
    char root[400];
    tn_node_t n;
    int *fds;
    int nfds;
} fixture_t;

static int
idle_count(void)
{
    return tu_attack_long() ? 900 : 200;
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tu_mkdtemp(f->root, sizeof f->root);
    tn_init(&f->n, f->root, 0);
    f->fds = calloc((size_t)idle_count(), sizeof *f->fds);
    *state = f;
    return 0;
}

static void
close_idle(fixture_t *f)
{
    for (int i = 0; i < f->nfds; i++) {
        close(f->fds[i]);
    }
    f->nfds = 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    close_idle(f);
    if (f->n.pid > 0) {
        tu_stop(f->n.pid, SIGKILL, 5);
    }
    tu_rmtree(f->root);
    free(f->fds);
    free(f);
    return 0;
}

/* Opens count connections to the node's control socket that send nothing. */
static void
open_idle(fixture_t *f, int count)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(control_socket_path(sa.sun_path, sizeof sa.sun_path, f->n.dir));
    for (int i = 0; i < count; i++) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        f->fds[f->nfds++] = fd;
    }
}

/* Of our idle connections, how many the node has closed (EOF waiting). */
static int
closed_by_node(fixture_t *f)
{
    int closed = 0;
    for (int i = 0; i < f->nfds; i++) {
        struct pollfd p = {f->fds[i], POLLIN, 0};
        char c;
        if (poll(&p, 1, 0) == 1 && recv(f->fds[i], &c, 1, MSG_DONTWAIT) == 0) {
            closed++;
        }
    }
    return closed;
}

/* Runs the attack on a node started with env; returns post's exit status. */
static int
attack(fixture_t *f, char *const env[], const char *label, char *err, size_t cap)
{
    tn_start_env(&f->n, "control-attack", "/dev/null", NULL, NULL, env);
    int count = idle_count();
    open_idle(f, count);
    double t0 = tu_now();
    tu_run_t r;
    tn_cli(&r, &f->n, "post", "through the idle crowd", NULL, NULL);
    double ms = (tu_now() - t0) * 1000;
    int status = r.status;
    snprintf(err, cap, "%s", r.err);
    err[strcspn(err, "\n")] = '\0';
    printf("attack_control: %s: %d idle clients, then post: exit %d in %.0f ms%s%s\n", label,
           count, status, ms, err[0] ? ": " : "", err);
    tu_run_free(&r);
    return status;
}

static void
test_idle_clients_do_not_lock_the_cli_out(void **state)
{
    fixture_t *f = *state;
    char err[512];
    int status = attack(f, NULL, "defence on", err, sizeof err);
    assert_int_equal(status, 0);
    /* The idle ones are closed once their time is up. */
    double t0 = tu_now();
    double end = t0 + CONTROL_IDLE_MS / 1000.0 + 10;
    int closed = 0;
    while ((closed = closed_by_node(f)) < f->nfds && tu_now() < end) {
        usleep(200000);
    }
    printf("attack_control: defence on: the node closed %d of %d idle clients (timeout %d s; "
           "all closed %.1f s after the post)\n",
           closed, f->nfds, CONTROL_IDLE_MS / 1000, tu_now() - t0);
    assert_int_equal(closed, f->nfds);
    close_idle(f);
    assert_int_equal(tn_stop(&f->n), 0);
}

static void
test_control_without_the_defence(void **state)
{
    fixture_t *f = *state;
    char *env[] = {(char *)"SAMIZDAT_DEFENCE_OFF=control-idle", NULL};
    char err[512];
    int status = attack(f, env, "defence off", err, sizeof err);
    /* Locked out, but told, with an exit code: not killed by a signal. */
    assert_int_not_equal(status, 0);
    assert_true(status < 128);
    assert_non_null(strstr(err, "try again"));
    close_idle(f);
    assert_int_equal(tn_stop(&f->n), 0);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_idle_clients_do_not_lock_the_cli_out, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_control_without_the_defence, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
