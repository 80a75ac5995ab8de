/* A SOCKS5 relay for tests (RFC 1928): method "username/password" (RFC
 * 1929, any accepted) when offered, else "no authentication"; CONNECT to
 * an IPv4 address, an IPv6 address or a domain name. */
#include "socks5.h"

#include "testutil.h"

#include <arpa/inet.h>
#include <cmocka.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    tu_socks5_t *proxy;
    int fd;
} conn_arg_t;

static bool
read_n(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0) {
            return false;
        }
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static bool
write_n(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* RFC 1929: version 1, the username, the password; any is accepted. */
static bool
read_user(int fd, char user[256])
{
    uint8_t b[256];
    if (!read_n(fd, b, 2) || b[0] != 1 || !read_n(fd, b + 2, b[1])) {
        return false;
    }
    memcpy(user, b + 2, b[1]);
    user[b[1]] = '\0';
    uint8_t plen = 0;
    const uint8_t ok[2] = {1, 0};
    return read_n(fd, &plen, 1) && read_n(fd, b, plen) && write_n(fd, ok, 2);
}

static void
record(tu_socks5_t *proxy, const char *host, const char *user)
{
    pthread_mutex_lock(&proxy->lock);
    if (proxy->n_records < TU_SOCKS5_RECORDS) {
        snprintf(proxy->records[proxy->n_records].host, sizeof proxy->records[0].host, "%s", host);
        snprintf(proxy->records[proxy->n_records].user, sizeof proxy->records[0].user, "%s", user);
        proxy->n_records++;
    }
    pthread_mutex_unlock(&proxy->lock);
}

/* Reads the CONNECT request and connects to its target; -1 on failure. */
static int
connect_target(int fd, tu_socks5_t *proxy)
{
    uint8_t b[262];
    if (!read_n(fd, b, 2) || b[0] != 5 || !read_n(fd, b + 2, b[1])) {
        return -1;
    }
    char user[256] = "";
    bool auth = memchr(b + 2, 2, b[1]) != NULL;
    const uint8_t method[2] = {5, auth ? 2 : 0};
    if ((!auth && memchr(b + 2, 0, b[1]) == NULL) || !write_n(fd, method, 2) ||
        (auth && !read_user(fd, user)) || !read_n(fd, b, 4) || b[0] != 5 || b[1] != 1) {
        return -1;
    }
    char host[256], port[8];
    if (b[3] == 3) {
        atomic_fetch_add(&proxy->by_name, 1);
    } else {
        atomic_fetch_add(&proxy->by_address, 1);
    }
    if (b[3] == 1 && read_n(fd, b, 4)) {
        inet_ntop(AF_INET, b, host, sizeof host);
    } else if (b[3] == 4 && read_n(fd, b, 16)) {
        inet_ntop(AF_INET6, b, host, sizeof host);
    } else if (b[3] == 3 && read_n(fd, b, 1) && read_n(fd, b + 1, b[0])) {
        memcpy(host, b + 1, b[0]);
        host[b[0]] = '\0';
    } else {
        return -1;
    }
    if (!read_n(fd, b, 2)) {
        return -1;
    }
    snprintf(port, sizeof port, "%u", (unsigned)(b[0] << 8 | b[1]));
    char target[270];
    snprintf(target, sizeof target, "%s:%s", host, port);
    record(proxy, target, user);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0) {
        return -1;
    }
    int out = socket(ai->ai_family, SOCK_STREAM, 0);
    if (out >= 0 && connect(out, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(out);
        out = -1;
    }
    freeaddrinfo(ai);
    return out;
}

static void
relay(int a, int b)
{
    uint8_t buf[16384];
    struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, 1000) < 0) {
            return;
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t r = recv(p[i].fd, buf, sizeof buf, 0);
                if (r <= 0 || !write_n(p[1 - i].fd, buf, (size_t)r)) {
                    return;
                }
            }
        }
    }
}

static void *
serve_conn(void *arg)
{
    conn_arg_t *c = arg;
    int target = connect_target(c->fd, c->proxy);
    /* Reply: succeeded (0) or general failure (1), bound address 0.0.0.0:0. */
    uint8_t reply[10] = {5, target >= 0 ? 0 : 1, 0, 1, 0, 0, 0, 0, 0, 0};
    if (target >= 0 && write_n(c->fd, reply, sizeof reply)) {
        atomic_fetch_add(&c->proxy->connections, 1);
        relay(c->fd, target);
    } else {
        atomic_fetch_add(&c->proxy->refused, 1);
        (void)write_n(c->fd, reply, sizeof reply);
    }
    if (target >= 0) {
        close(target);
    }
    close(c->fd);
    free(c);
    return NULL;
}

static void *
accept_loop(void *arg)
{
    tu_socks5_t *p = arg;
    while (!atomic_load(&p->stop)) {
        struct pollfd pfd = {.fd = p->listen_fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        int fd = accept(p->listen_fd, NULL, NULL);
        conn_arg_t *c = fd >= 0 ? calloc(1, sizeof *c) : NULL;
        pthread_t t;
        if (c == NULL) {
            if (fd >= 0) {
                close(fd);
            }
            continue;
        }
        c->proxy = p;
        c->fd = fd;
        if (pthread_create(&t, NULL, serve_conn, c) != 0) {
            close(fd);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

void
tu_socks5_start(tu_socks5_t *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(p->listen_fd >= 0);
    assert_int_equal(bind(p->listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(p->listen_fd, 16), 0);
    assert_int_equal(getsockname(p->listen_fd, (struct sockaddr *)&sa, &len), 0);
    p->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&p->thread, NULL, accept_loop, p), 0);
}

void
tu_socks5_stop(tu_socks5_t *p)
{
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    close(p->listen_fd);
}

/* The number of distinct values among the records' host (field 0) or
 * user (field 1). */
static int
distinct(tu_socks5_t *p, int field)
{
    int n = 0;
    for (int i = 0; i < p->n_records; i++) {
        const char *v = field ? p->records[i].user : p->records[i].host;
        bool seen = false;
        for (int j = 0; j < i && !seen; j++) {
            seen = strcmp(v, field ? p->records[j].user : p->records[j].host) == 0;
        }
        n += !seen;
    }
    return n;
}

bool
tu_socks5_isolation(tu_socks5_t *p, int *hosts, int *users)
{
    pthread_mutex_lock(&p->lock);
    *hosts = distinct(p, 0);
    *users = distinct(p, 1);
    bool one_to_one = true;
    for (int i = 0; i < p->n_records; i++) {
        for (int j = 0; j < i; j++) {
            bool same_host = strcmp(p->records[i].host, p->records[j].host) == 0;
            bool same_user = strcmp(p->records[i].user, p->records[j].user) == 0;
            one_to_one = one_to_one && same_host == same_user;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return one_to_one;
}

size_t
tu_socks5_ask(uv_loop_t *loop, uint16_t port, const char *name, int ms, uint8_t reply[4],
              int *fd_out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", port, &sa);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    uint8_t req[300] = {5, 1, 0, 5, 1, 0, 3};
    size_t n = strlen(name);
    assert_true(n < 256);
    req[7] = (uint8_t)n;
    memcpy(req + 8, name, n);
    req[8 + n] = 0;
    req[9 + n] = 1;
    assert_int_equal(send(fd, req, 10 + n, 0), (ssize_t)(10 + n));
    uint8_t got[12];
    size_t have = 0;
    double end = tu_now() + ms / 1000.0;
    while (tu_now() < end && have < sizeof got) {
        uv_run(loop, UV_RUN_NOWAIT);
        ssize_t k = recv(fd, got + have, sizeof got - have, MSG_DONTWAIT);
        if (k > 0) {
            have += (size_t)k;
        } else if (k == 0) {
            break;
        } else {
            usleep(1000);
        }
    }
    memcpy(reply, got, have < 4 ? have : 4);
    *fd_out = fd;
    return have < 4 ? have : 4;
}
