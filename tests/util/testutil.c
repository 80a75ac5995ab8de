#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void
tu_mkdtemp(char *out, size_t cap)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0') {
        tmp = "/tmp";
    }
    int n = snprintf(out, cap, "%s/samizdat-test-XXXXXX", tmp);
    assert_true(n > 0 && (size_t)n < cap);
    assert_non_null(mkdtemp(out));
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    (void)remove(path);
    return 0;
}

void
tu_rmtree(const char *path)
{
    if (getenv("SAMIZDAT_KEEP_TEST_DIRS") != NULL) {
        fprintf(stderr, "kept %s\n", path);
        return;
    }
    (void)nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = (*cap == 0) ? 4096 : *cap;
        while (*len + n + 1 > ncap) {
            ncap *= 2;
        }
        char *nb = realloc(*buf, ncap);
        assert_non_null(nb);
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char **
merged_env(char *const extra[])
{
    size_t n = 0, m = 0;
    while (environ[n] != NULL) {
        n++;
    }
    while (extra != NULL && extra[m] != NULL) {
        m++;
    }
    char **env = calloc(n + m + 1, sizeof *env);
    assert_non_null(env);
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        env[k++] = extra[i];
    }
    for (size_t i = 0; i < n; i++) {
        /* An entry given in extra overrides the inherited one. */
        const char *eq = strchr(environ[i], '=');
        size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        int dup = 0;
        for (size_t j = 0; j < m; j++) {
            if (strncmp(extra[j], environ[i], klen) == 0 && extra[j][klen] == '=') {
                dup = 1;
            }
        }
        if (!dup) {
            env[k++] = environ[i];
        }
    }
    env[k] = NULL;
    return env;
}

void
tu_run(tu_run_t *r, char *const argv[], char *const env[], const char *stdin_data,
       int timeout_s)
{
    memset(r, 0, sizeof *r);
    int in[2], out[2], err[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    char **menv = merged_env(env);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        /* Detach from the terminal so a passphrase prompt cannot block a test. */
        setsid();
        /* A node outlives nothing: if the test dies (a ctest timeout, a
         * crash), its nodes die with it instead of lingering. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1) {
            _exit(127);
        }
        execve(argv[0], argv, menv);
        _exit(127);
    }
    free(menv);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (stdin_data != NULL) {
        size_t left = strlen(stdin_data);
        const char *p = stdin_data;
        signal(SIGPIPE, SIG_IGN);
        while (left > 0) {
            ssize_t w = write(in[1], p, left);
            if (w <= 0) {
                break;
            }
            p += w;
            left -= (size_t)w;
        }
    }
    close(in[1]);

    size_t ocap = 0, ecap = 0;
    append(&r->out, &r->out_len, &ocap, "", 0);
    append(&r->err, &r->err_len, &ecap, "", 0);
    struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open_fds = 2;
    double deadline = now_s() + timeout_s;
    int killed = 0;
    while (open_fds > 0) {
        int left_ms = (int)((deadline - now_s()) * 1000);
        if (left_ms <= 0) {
            kill(pid, SIGKILL);
            killed = 1;
            break;
        }
        int pr = poll(fds, 2, left_ms);
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                char buf[4096];
                ssize_t n = read(fds[i].fd, buf, sizeof buf);
                if (n <= 0) {
                    close(fds[i].fd);
                    fds[i].fd = -1;
                    open_fds--;
                } else if (i == 0) {
                    append(&r->out, &r->out_len, &ocap, buf, (size_t)n);
                } else {
                    append(&r->err, &r->err_len, &ecap, buf, (size_t)n);
                }
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        if (fds[i].fd >= 0) {
            close(fds[i].fd);
        }
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (killed) {
        r->status = 128 + SIGKILL;
    } else if (WIFEXITED(st)) {
        r->status = WEXITSTATUS(st);
    } else if (WIFSIGNALED(st)) {
        r->status = 128 + WTERMSIG(st);
    }
}

void
tu_run_free(tu_run_t *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

char *
tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    char tmp[4096];
    size_t got;
    while ((got = fread(tmp, 1, sizeof tmp, f)) > 0) {
        append(&buf, &n, &cap, tmp, got);
    }
    fclose(f);
    if (buf == NULL) {
        buf = calloc(1, 1);
    }
    if (len != NULL) {
        *len = n;
    }
    return buf;
}

void
tu_write_file(const char *path, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, len), (ssize_t)len);
    close(fd);
}

double
tu_now(void)
{
    return now_s();
}

uint64_t
tu_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool
tu_log_time(const char *line, uint64_t *ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int millis = 0;
    if (sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) != 7) {
        return false;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *ms = (uint64_t)timegm(&tm) * 1000u + (uint64_t)millis;
    return true;
}

int
tu_spawn(char *const argv[], char *const env[], const char *log_path)
{
    char **menv = merged_env(env);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int devnull = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (devnull >= 0) {
            dup2(devnull, 0);
        }
        setsid();
        /* A node outlives nothing: if the test dies (a ctest timeout, a
         * crash), its nodes die with it instead of lingering. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1) {
            _exit(127);
        }
        execve(argv[0], argv, menv);
        _exit(127);
    }
    free(menv);
    return (int)pid;
}

int
tu_stop(int pid, int sig, int timeout_s)
{
    kill(pid, sig);
    double deadline = now_s() + timeout_s;
    int st = 0;
    while (now_s() < deadline) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return 128 + SIGKILL;
}

long
tu_rss_kib(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
        }
    }
    fclose(f);
    return kib;
}

/* Appends n bytes of p to the NUL-terminated, growing *buf. */
static void
grow_append(char **buf, size_t *len, const char *p, size_t n)
{
    char *b = realloc(*buf, *len + n + 1);
    assert_non_null(b);
    memcpy(b + *len, p, n);
    *len += n;
    b[*len] = '\0';
    *buf = b;
}

void
tu_doc_vectors(const char *doc, const char *tag, tu_vector_cb cb, void *ud)
{
    char open[64];
    snprintf(open, sizeof open, "```%s\n", tag);
    const char *start = strstr(doc, open);
    assert_non_null(start);
    const char *p = start + strlen(open);
    const char *end = strstr(p, "```");
    assert_non_null(end);
    char name[64] = "";
    char *value = NULL;
    size_t vlen = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(eol);
        size_t len = (size_t)(eol - p);
        size_t lead = strspn(p, " ");
        lead = lead < len ? lead : len;
        if (len > 0 && p[0] != '#' && lead == 0) {
            if (value != NULL) {
                cb(ud, name, value);
            }
            size_t nlen = strcspn(p, " \n");
            assert_true(nlen > 0 && nlen < sizeof name);
            memcpy(name, p, nlen);
            name[nlen] = '\0';
            lead = nlen + strspn(p + nlen, " ");
            assert_true(lead < len);
            vlen = 0;
            grow_append(&value, &vlen, "", 0);
        } else if (len > lead) {
            assert_non_null(value); /* a continuation needs a line before it */
        }
        if (len > lead && p[0] != '#') {
            grow_append(&value, &vlen, p + lead, len - lead);
        }
        p = eol + 1;
    }
    if (value != NULL) {
        cb(ud, name, value);
    }
    free(value);
}

bool
tu_attack_long(void)
{
    const char *l = getenv("SAMIZDAT_ATTACK_LONG");
    return l != NULL && l[0] == '1';
}

int
tu_closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}
