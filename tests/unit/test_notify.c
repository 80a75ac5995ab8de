/* notify: the sd_notify datagram reaches a socket file and an abstract
 * socket byte for byte, and every way it can fail returns its error. */
#include "testutil.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

/* A datagram socket bound to address ("/path" or "@name"), like the one
 * systemd listens on. */
static int
listen_at(const char *address)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen(address);
    assert_true(len < sizeof sa.sun_path);
    socklen_t sa_len;
    if (address[0] == '@') {
        memcpy(sa.sun_path + 1, address + 1, len - 1);
        sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        memcpy(sa.sun_path, address, len + 1);
        sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sa_len), 0);
    return fd;
}

/* The datagram already queued on fd (a local datagram is delivered by the
 * time sendto returns, so no wait is needed), NUL-terminated. */
static void
take(int fd, char *buf, size_t cap)
{
    ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);
    assert_true(n >= 0);
    buf[n] = '\0';
}

static void
abstract_name(char *out, size_t cap)
{
    snprintf(out, cap, "@samizdat-test-notify-%ld-%u", (long)getpid(), (unsigned)rand());
}

static void
test_abstract_socket(void **state)
{
    (void)state;
    char name[96], got[128];
    abstract_name(name, sizeof name);
    int fd = listen_at(name);
    assert_int_equal(notify_send(name, "READY=1"), NOTIFY_OK);
    take(fd, got, sizeof got);
    assert_string_equal(got, "READY=1");
    /* Nothing more was sent. */
    assert_true(recv(fd, got, sizeof got, MSG_DONTWAIT) < 0);
    close(fd);
}

static void
test_socket_file(void **state)
{
    (void)state;
    char dir[512], path[600], got[128];
    tu_mkdtemp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/notify", dir);
    int fd = listen_at(path);
    assert_int_equal(notify_send(path, "STOPPING=1\nSTATUS=bye"), NOTIFY_OK);
    take(fd, got, sizeof got);
    assert_string_equal(got, "STOPPING=1\nSTATUS=bye");
    close(fd);
    tu_rmtree(dir);
}

static void
test_errors(void **state)
{
    (void)state;
    assert_int_equal(notify_send(NULL, "READY=1"), NOTIFY_ENOTSET);
    assert_int_equal(notify_send("", "READY=1"), NOTIFY_ENOTSET);
    assert_int_equal(notify_send("relative/sock", "READY=1"), NOTIFY_EADDR);
    assert_int_equal(notify_send("@", "READY=1"), NOTIFY_EADDR);
    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    assert_int_equal(notify_send(longpath, "READY=1"), NOTIFY_EADDR);
    longpath[0] = '@';
    assert_int_equal(notify_send(longpath, "READY=1"), NOTIFY_EADDR);
    assert_int_equal(notify_send("/x", ""), NOTIFY_ESTATE);
    assert_int_equal(notify_send("/x", NULL), NOTIFY_ESTATE);
    char big[NOTIFY_STATE_MAX + 2];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(notify_send("/x", big), NOTIFY_ESTATE);
    /* Addresses nobody listens on. */
    char dir[512], path[600], name[96];
    tu_mkdtemp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/nobody", dir);
    assert_int_equal(notify_send(path, "READY=1"), NOTIFY_ESEND);
    abstract_name(name, sizeof name);
    assert_int_equal(notify_send(name, "READY=1"), NOTIFY_ESEND);
    tu_rmtree(dir);
    for (int e = NOTIFY_OK; e <= NOTIFY_ESEND; e++) {
        assert_string_not_equal(notify_strerror((notify_err_t)e), "unknown notification error");
    }
}

typedef struct {
    int lines;
    char last[256];
} sink_t;

static void
record(void *ud, log_level_t level, const char *line)
{
    sink_t *s = ud;
    assert_int_equal(level, LOG_LEVEL_WARN);
    s->lines++;
    snprintf(s->last, sizeof s->last, "%s", line);
}

/* notify_tell reads $NOTIFY_SOCKET, stays silent without it, and logs a
 * failure without failing harder. */
static void
test_tell(void **state)
{
    (void)state;
    sink_t s = {0};
    log_t lg = {.level = LOG_LEVEL_DEBUG, .sink = record, .ud = &s};
    char name[96], got[128];
    abstract_name(name, sizeof name);
    int fd = listen_at(name);
    setenv("NOTIFY_SOCKET", name, 1);
    assert_int_equal(notify_tell(&lg, "READY=1"), NOTIFY_OK);
    take(fd, got, sizeof got);
    assert_string_equal(got, "READY=1");
    assert_int_equal(s.lines, 0);
    close(fd); /* the manager went away */
    assert_int_equal(notify_tell(&lg, "STOPPING=1"), NOTIFY_ESEND);
    assert_int_equal(s.lines, 1);
    assert_non_null(strstr(s.last, "STOPPING=1"));
    assert_int_equal(notify_tell(NULL, "STOPPING=1"), NOTIFY_ESEND);
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(notify_tell(&lg, "READY=1"), NOTIFY_ENOTSET);
    assert_int_equal(s.lines, 1);
}

int
main(void)
{
    srand((unsigned)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abstract_socket),
        cmocka_unit_test(test_socket_file),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_tell),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
