/* --tor and --socks5 against a real Tor daemon (Debian's tor) started by
 * the test with DisableNetwork 1, so nothing leaves this computer: the node
 * publishes an onion service through Tor's control port (cookie
 * authentication), keeps its key so the address stays the same at the next
 * start, announces only the onion address, and makes every outbound
 * connection through the SOCKS5 proxy, naming hosts rather than resolving
 * them; it opens no UDP socket (no LAN beacon, no port mapping) and no TCP
 * connection but to Tor and the proxy. The proxy is the test's SOCKS5
 * relay, since a Tor without network opens no SOCKS port. A proxy that is
 * down is said so in the log. Without a control port to name, the node
 * starts a Tor of its own (the test adds DisableNetwork 1 to its command
 * line through SAMIZDAT_TOR_ARGS), and stops it when it stops. Skipped
 * when tor is not installed. */
#include "testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodes.h"
#include "socks5.h"

typedef struct {
    char root[400];
    char network[64];
    int tor_pid;
    char control[64];
    int control_port;
    tn_node_t a, b, c;
    tu_socks5_t socks;
    bool socks_on;
} fixture_t;

static bool
have_tor(void)
{
    return access("/usr/bin/tor", X_OK) == 0 || access("/usr/sbin/tor", X_OK) == 0;
}

static void
start_tor(fixture_t *f)
{
    char dir[512], portfile[600], log[600], torrc[600];
    snprintf(dir, sizeof dir, "%s/tor", f->root);
    mkdir(dir, 0700);
    snprintf(torrc, sizeof torrc, "%s/torrc", f->root);
    tu_write_file(torrc, "# everything is on the command line\n", 37);
    snprintf(portfile, sizeof portfile, "%s/control.port", dir);
    snprintf(log, sizeof log, "%s/tor.log", f->root);
    char *argv[] = {(char *)"tor",
                    (char *)"-f",
                    torrc,
                    (char *)"--DataDirectory",
                    dir,
                    (char *)"--DisableNetwork",
                    (char *)"1",
                    (char *)"--ControlPort",
                    (char *)"127.0.0.1:auto",
                    (char *)"--ControlPortWriteToFile",
                    portfile,
                    (char *)"--SocksPort",
                    (char *)"0",
                    (char *)"--CookieAuthentication",
                    (char *)"1",
                    NULL};
    char bin[32];
    snprintf(bin, sizeof bin, "%s",
             access("/usr/bin/tor", X_OK) == 0 ? "/usr/bin/tor" : "/usr/sbin/tor");
    argv[0] = bin;
    f->tor_pid = tu_spawn(argv, NULL, log);
    double end = tu_now() + 20;
    while (tu_now() < end) {
        char *text = tu_read_file(portfile, NULL);
        if (text != NULL && sscanf(text, "PORT=127.0.0.1:%d", &f->control_port) == 1) {
            free(text);
            snprintf(f->control, sizeof f->control, "127.0.0.1:%d", f->control_port);
            return;
        }
        free(text);
        usleep(100000);
    }
    fail_msg("tor did not start; see %s", log);
}

static int
setup(void **state)
{
    if (!have_tor()) {
        return 0;
    }
    fixture_t *f = calloc(1, sizeof *f);
    tu_mkdtemp(f->root, sizeof f->root);
    snprintf(f->network, sizeof f->network, "tor-%08x", randombytes_random());
    tn_init(&f->a, f->root, 0);
    tn_init(&f->b, f->root, 1);
    tn_init(&f->c, f->root, 2);
    start_tor(f);
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
    tn_node_t *ns[3] = {&f->a, &f->b, &f->c};
    for (int i = 0; i < 3; i++) {
        if (ns[i]->pid > 0) {
            tu_stop(ns[i]->pid, SIGKILL, 5);
        }
    }
    if (f->socks_on) {
        tu_socks5_stop(&f->socks);
    }
    tu_stop(f->tor_pid, SIGTERM, 10);
    tu_rmtree(f->root);
    free(f);
    return 0;
}

/* A free TCP port on loopback (--tor needs a fixed one). */
static int
free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    close(s);
    return ntohs(sa.sin_port);
}

/* Starts t with argv words after "run" (NULL-terminated) and waits for its
 * control socket, as tn_start does. */
static void
spawn_run(tn_node_t *t, const char *endpoint, char *const more[])
{
    char *argv[32] = {(char *)SAMIZDAT_BINARY, (char *)"--data",      t->dir,
                      (char *)"run",           (char *)"--log-level", (char *)"debug"};
    int n = 6;
    for (int i = 0; more[i] != NULL && n < 31; i++) {
        argv[n++] = more[i];
    }
    argv[n] = NULL;
    t->pid = tu_spawn(argv, NULL, t->log);
    double end = tu_now() + 30;
    while (tu_now() < end) {
        tu_run_t r;
        tn_cli(&r, t, "--json", "status", NULL, NULL);
        bool up = r.status == 0 && strstr(r.out, "\"running\":true") != NULL;
        tu_run_free(&r);
        if (up) {
            snprintf(t->endpoint, sizeof t->endpoint, "%s", endpoint);
            return;
        }
        usleep(100000);
    }
    fail_msg("node %s did not start; see %s", t->dir, t->log);
}

/* The first endpoint of the node's invite. */
static void
invite_endpoint(tn_node_t *t, char *out, size_t cap)
{
    tu_run_t r;
    tn_cli(&r, t, "--json", "invite", NULL, NULL);
    assert_int_equal(r.status, 0);
    const char *p = strstr(r.out, "\"endpoints\":[\"");
    assert_non_null(p);
    p += strlen("\"endpoints\":[\"");
    size_t n = strcspn(p, "\"");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
    /* Nothing but the onion address. */
    assert_non_null(strstr(r.out, "\"endpoints\":[\"tcp://"));
    assert_null(strstr(p + n, "\",\""));
    tu_run_free(&r);
}

typedef struct {
    int udp;       /* UDP sockets */
    int tcp_other; /* TCP sockets neither listening nor to an allowed port */
    int tcp_allowed;
} sockets_t;

/* Whether the socket inode is in /proc/net/FILE, and its remote port. */
static bool
find_inode(const char *file, unsigned long inode, unsigned *rport, unsigned *state)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/net/%s", file);
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        return false;
    }
    char line[512];
    bool found = false;
    (void)fgets(line, sizeof line, fp);
    while (!found && fgets(line, sizeof line, fp) != NULL) {
        char local[64], remote[64];
        unsigned st = 0;
        unsigned long ino = 0;
        if (sscanf(line, "%*d: %63s %63s %x %*s %*s %*s %*s %*s %lu", local, remote, &st, &ino) ==
                4 &&
            ino == inode) {
            const char *colon = strrchr(remote, ':');
            *rport = colon ? (unsigned)strtoul(colon + 1, NULL, 16) : 0;
            *state = st;
            found = true;
        }
    }
    fclose(fp);
    return found;
}

/* The node's own sockets, from /proc/PID/fd and /proc/net. */
static sockets_t
node_sockets(int pid, const unsigned *allowed, int n_allowed)
{
    sockets_t s = {0, 0, 0};
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", pid);
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char link[400], target[128];
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        unsigned long inode = 0;
        if (n <= 0 || (target[n] = '\0', sscanf(target, "socket:[%lu]", &inode) != 1)) {
            continue;
        }
        unsigned rport = 0, state = 0;
        if (find_inode("udp", inode, &rport, &state) || find_inode("udp6", inode, &rport, &state)) {
            s.udp++;
        } else if (find_inode("tcp", inode, &rport, &state) ||
                   find_inode("tcp6", inode, &rport, &state)) {
            bool ok = state == 0x0A; /* LISTEN */
            for (int i = 0; i < n_allowed; i++) {
                ok = ok || rport == allowed[i];
            }
            ok ? s.tcp_allowed++ : s.tcp_other++;
        }
    }
    closedir(d);
    return s;
}

static void
test_onion_service_and_everything_through_the_proxy(void **state)
{
    fixture_t *f = *state;
    if (f == NULL) {
        skip();
    }
    /* B and C: plain nodes on loopback, named in A's list by host name. */
    tn_start(&f->b, f->network, "/dev/null", NULL, NULL);
    tn_start(&f->c, f->network, "/dev/null", NULL, NULL);
    char list[600], line[1100];
    snprintf(list, sizeof list, "%s/a.list", f->root);
    snprintf(line, sizeof line, "tcp://localhost%s %s\ntcp://localhost%s %s\n",
             strrchr(f->b.endpoint, ':'), f->b.node_text, strrchr(f->c.endpoint, ':'),
             f->c.node_text);
    tu_write_file(list, line, strlen(line));
    tu_socks5_start(&f->socks);
    f->socks_on = true;
    char proxy[32], port[8];
    snprintf(proxy, sizeof proxy, "127.0.0.1:%d", f->socks.port);
    snprintf(port, sizeof port, "%d", free_port());
    char *more[] = {(char *)"--tor",
                    (char *)"--tor-control",
                    f->control,
                    (char *)"--port",
                    port,
                    (char *)"--socks5",
                    proxy,
                    (char *)"--network",
                    f->network,
                    (char *)"--bootstrap",
                    list,
                    NULL};
    char ep[128];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%s", port);
    spawn_run(&f->a, ep, more);

    char onion[128];
    invite_endpoint(&f->a, onion, sizeof onion);
    printf("tor: A is reachable as %s\n", onion);
    assert_non_null(strstr(onion, ".onion:"));
    assert_int_equal(strlen(onion), strlen("tcp://") + 56 + strlen(".onion:") + strlen(port));

    assert_true(tn_wait_peer(&f->a, &f->b, 30));
    assert_true(tn_wait_peer(&f->a, &f->c, 30));
    /* Each peer its own SOCKS username: its own Tor circuit. */
    int hosts = 0, users = 0;
    bool isolated = tu_socks5_isolation(&f->socks, &hosts, &users);
    printf("tor: A's connections through the proxy: %d targets, %d usernames, %s\n", hosts,
           users, isolated ? "one per target" : "NOT one per target");
    assert_true(hosts >= 2);
    assert_true(isolated);
    int by_name = atomic_load(&f->socks.by_name);
    int by_address = atomic_load(&f->socks.by_address);
    printf("tor: A reached B through the proxy: %d request(s) by name, %d by address\n", by_name,
           by_address);
    assert_true(by_name >= 1);
    assert_int_equal(by_address, 0);

    unsigned allowed[2] = {(unsigned)f->control_port, (unsigned)f->socks.port};
    sockets_t s = node_sockets(f->a.pid, allowed, 2);
    printf("tor: A's sockets: %d UDP, %d TCP to Tor or the proxy or listening, %d TCP to "
           "anything else\n",
           s.udp, s.tcp_allowed, s.tcp_other);
    assert_int_equal(s.udp, 0);
    assert_int_equal(s.tcp_other, 0);
    assert_true(s.tcp_allowed >= 2);

    /* status says whether each peer gets its own Tor circuit, and why not. */
    tu_run_t r;
    tn_cli(&r, &f->a, "status", NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    const char *line_tor = strstr(r.out, "tor:        onion ");
    assert_non_null(line_tor);
    printf("tor: status says %.*s\n", (int)strcspn(line_tor, "\n"), line_tor);
    assert_non_null(strstr(line_tor, onion + strlen("tcp://")));
    assert_non_null(strstr(line_tor, "a circuit per peer"));
    tu_run_free(&r);
    tn_cli(&r, &f->a, "--json", "status", NULL, NULL);
    assert_int_equal(r.status, 0);
    char want[300];
    snprintf(want, sizeof want, "\"proxy\":{\"socks5\":\"%s\",\"onion\":\"%s\",\"circuits\":\"",
             proxy, onion);
    assert_non_null(strstr(r.out, want));
    tu_run_free(&r);
    tn_cli(&r, &f->b, "--json", "status", NULL, NULL);
    assert_non_null(strstr(r.out, "\"proxy\":null"));
    tu_run_free(&r);

    /* The same onion address after a restart: the key was kept. */
    assert_int_equal(tn_stop(&f->a), 0);
    spawn_run(&f->a, ep, more);
    char again[128];
    invite_endpoint(&f->a, again, sizeof again);
    assert_string_equal(again, onion);
}

/* Tor processes whose command line names dir (a child Tor's data). */
static int
tor_processes_with(const char *dir)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') {
            continue;
        }
        char path[300], cmd[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *fp = fopen(path, "r");
        if (fp == NULL) {
            continue;
        }
        size_t len = fread(cmd, 1, sizeof cmd - 1, fp);
        fclose(fp);
        for (size_t i = 0; i < len; i++) {
            cmd[i] = cmd[i] == '\0' ? ' ' : cmd[i];
        }
        cmd[len] = '\0';
        n += strstr(cmd, "tor -f") != NULL && strstr(cmd, dir) != NULL;
    }
    closedir(d);
    return n;
}

/* --tor with no control port named and no Tor at 127.0.0.1:9051: the node
 * starts its own, with its data in DATA/tor, publishes the onion service
 * through it, keeps the address at the next start, and stops it at exit. */
static void
test_tor_of_its_own(void **state)
{
    fixture_t *f = *state;
    if (f == NULL) {
        skip();
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9051)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool system_tor = connect(s, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(s);
    if (system_tor) {
        printf("tor: a Tor answers at 127.0.0.1:9051; the node would use it: skipped\n");
        skip();
    }
    tu_socks5_start(&f->socks);
    f->socks_on = true;
    char proxy[32], port[8], dir[600];
    snprintf(proxy, sizeof proxy, "127.0.0.1:%d", f->socks.port);
    snprintf(port, sizeof port, "%d", free_port());
    snprintf(dir, sizeof dir, "%s/tor", f->a.dir);
    char *more[] = {(char *)"--tor",
                    (char *)"--port",
                    port,
                    (char *)"--socks5",
                    proxy,
                    (char *)"--network",
                    f->network,
                    (char *)"--bootstrap",
                    (char *)"/dev/null",
                    NULL};
    char ep[128];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%s", port);
    assert_int_equal(setenv("SAMIZDAT_TOR_ARGS", "--DisableNetwork 1", 1), 0);
    spawn_run(&f->a, ep, more);
    char onion[128];
    invite_endpoint(&f->a, onion, sizeof onion);
    int children = tor_processes_with(dir);
    printf("tor: A started %d Tor of its own (%s) and is reachable as %s\n", children, dir, onion);
    assert_int_equal(children, 1);
    assert_non_null(strstr(onion, ".onion:"));

    assert_int_equal(tn_stop(&f->a), 0);
    int left = tor_processes_with(dir);
    printf("tor: after A stopped, %d of its Tor processes are left\n", left);
    assert_int_equal(left, 0);

    spawn_run(&f->a, ep, more);
    char again[128];
    invite_endpoint(&f->a, again, sizeof again);
    assert_string_equal(again, onion);
    /* Killed outright, the node cannot stop its Tor: Tor notices its
     * owner is gone (__OwningControllerProcess) and exits by itself. */
    tu_stop(f->a.pid, SIGKILL, 5);
    f->a.pid = 0;
    double end = tu_now() + 20;
    while ((left = tor_processes_with(dir)) > 0 && tu_now() < end) {
        usleep(200000);
    }
    printf("tor: after A was killed, %d Tor process(es) left\n", left);
    assert_int_equal(left, 0);
    unsetenv("SAMIZDAT_TOR_ARGS");
}

/* --socks5 alone: no LAN beacon, and a proxy that is down is reported. */
static void
test_socks5_no_beacon_and_down_proxy_said(void **state)
{
    fixture_t *f = *state;
    if (f == NULL) {
        skip();
    }
    char *more[] = {(char *)"--listen",    (char *)"tcp://127.0.0.1:0", (char *)"--socks5",
                    (char *)"127.0.0.1:1", (char *)"--network",         f->network,
                    (char *)"--bootstrap", (char *)"/dev/null",         NULL};
    spawn_run(&f->a, "", more);
    sockets_t s = node_sockets(f->a.pid, NULL, 0);
    printf("socks5: %d UDP socket(s)\n", s.udp);
    assert_int_equal(s.udp, 0);
    double end = tu_now() + 10;
    bool said = false;
    while (!said && tu_now() < end) {
        char *log = tu_read_file(f->a.log, NULL);
        said = log != NULL && strstr(log, "SOCKS5 proxy at 127.0.0.1:1 does not answer") != NULL;
        free(log);
        if (!said) {
            usleep(100000);
        }
    }
    assert_true(said);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_onion_service_and_everything_through_the_proxy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_socks5_no_beacon_and_down_proxy_said, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tor_of_its_own, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
