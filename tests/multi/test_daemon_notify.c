/* samizdat run under a service manager: with $NOTIFY_SOCKET set it sends
 * READY=1 once it listens and answers commands, and STOPPING=1 when SIGTERM
 * stops it, as a systemd unit of Type=notify expects. The test plays
 * systemd: it binds the abstract datagram socket and waits on it. */
#include "nodes.h"
#include "testutil.h"

#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Binds an abstract datagram socket and writes its $NOTIFY_SOCKET form
 * ("@name") into address. */
static int
manager_socket(char *address, size_t cap)
{
    snprintf(address, cap, "@samizdat-test-manager-%ld", (long)getpid());
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen(address);
    assert_true(len < sizeof sa.sun_path);
    memcpy(sa.sun_path + 1, address + 1, len - 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(
        bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
        0);
    return fd;
}

/* Waits up to seconds for one datagram; false on timeout. */
static bool
wait_message(int fd, char *buf, size_t cap, int seconds)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    double deadline = tu_now() + seconds;
    while (tu_now() < deadline) {
        int ms = (int)((deadline - tu_now()) * 1000) + 1;
        if (poll(&p, 1, ms) == 1) {
            ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);
            if (n >= 0) {
                buf[n] = '\0';
                return true;
            }
        }
    }
    return false;
}

static void
test_ready_and_stopping(void **state)
{
    (void)state;
    char root[512], list[600], address[108], env[160], got[256];
    tu_mkdtemp(root, sizeof root);
    snprintf(list, sizeof list, "%s/empty.list", root);
    tu_write_file(list, "", 0);
    tn_node_t t;
    tn_init(&t, root, 0);
    int fd = manager_socket(address, sizeof address);
    snprintf(env, sizeof env, "NOTIFY_SOCKET=%s", address);
    char *argv[] = {(char *)SAMIZDAT_BINARY,
                    (char *)"--data",
                    t.dir,
                    (char *)"run",
                    (char *)"--listen",
                    (char *)"tcp://127.0.0.1:0",
                    (char *)"--no-lan",
                    (char *)"--network",
                    (char *)"notify-test",
                    (char *)"--bootstrap",
                    list,
                    (char *)"--log-level",
                    (char *)"debug",
                    NULL};
    char *envp[] = {env, NULL};
    t.pid = tu_spawn(argv, envp, t.log);

    bool ready = wait_message(fd, got, sizeof got, 30);
    if (!ready) {
        tu_stop(t.pid, SIGKILL, 5);
        fail_msg("no READY=1 within 30 s; see %s", t.log);
    }
    assert_string_equal(got, "READY=1");
    /* Ready means ready: the control socket answers at once. */
    tu_run_t r;
    tn_cli(&r, &t, "status", NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "listening:"));
    tu_run_free(&r);

    int status = tu_stop(t.pid, SIGTERM, 30);
    t.pid = 0;
    assert_int_equal(status, 0);
    /* Sent before the node closed, so it is queued by the time it exited. */
    assert_true(wait_message(fd, got, sizeof got, 1));
    assert_string_equal(got, "STOPPING=1");
    close(fd);
    tu_rmtree(root);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_and_stopping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
