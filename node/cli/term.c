#include "term.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

const char *
term_strerror(term_err_t err)
{
    switch (err) {
    case TERM_OK:
        return "ok";
    case TERM_ENOTTY:
        return "no terminal to read the passphrase from; set SAMIZDAT_PASSPHRASE";
    case TERM_EINTR:
        return "interrupted";
    case TERM_ETOOLONG:
        return "passphrase is too long";
    case TERM_EMISMATCH:
        return "the passphrases do not match";
    case TERM_EEMPTY:
        return "the passphrase is empty";
    }
    return "unknown terminal error";
}

/* Does nothing: its only job is to make read() return EINTR, so the
 * terminal's echo is restored before we exit. */
static void
on_signal(int sig)
{
    (void)sig;
}

static term_err_t
copy_env(char *out, size_t cap, const char *env)
{
    size_t n = strlen(env);
    if (n + 1 > cap) {
        return TERM_ETOOLONG;
    }
    if (n == 0) {
        return TERM_EEMPTY;
    }
    memcpy(out, env, n + 1);
    return TERM_OK;
}

/* Reads one line from fd into out without its newline. */
static term_err_t
read_line(int fd, char *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR) {
            return TERM_EINTR;
        }
        if (r <= 0 || c == '\n') {
            break;
        }
        if (n + 1 >= cap) {
            return TERM_ETOOLONG;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return n == 0 ? TERM_EEMPTY : TERM_OK;
}

static term_err_t
ask(int fd, char *out, size_t cap, const char *prompt)
{
    struct termios old, quiet;
    if (tcgetattr(fd, &old) != 0) {
        return TERM_ENOTTY;
    }
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: read() must return */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    (void)!write(fd, prompt, strlen(prompt));
    tcsetattr(fd, TCSAFLUSH, &quiet);
    term_err_t err = read_line(fd, out, cap);
    tcsetattr(fd, TCSAFLUSH, &old);
    (void)!write(fd, "\n", 1);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return err;
}

term_err_t
term_read_passphrase(char *out, size_t cap, const char *prompt, int confirm)
{
    const char *env = getenv("SAMIZDAT_PASSPHRASE");
    if (env != NULL) {
        return copy_env(out, cap, env);
    }
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return TERM_ENOTTY;
    }
    term_err_t err = ask(fd, out, cap, prompt);
    if (err == TERM_OK && confirm) {
        char again[1024];
        err = ask(fd, again, sizeof again, "Repeat passphrase: ");
        if (err == TERM_OK && (strlen(again) != strlen(out) ||
                               sodium_memcmp(again, out, strlen(out)) != 0)) {
            err = TERM_EMISMATCH;
        }
        sodium_memzero(again, sizeof again);
    }
    close(fd);
    if (err != TERM_OK) {
        sodium_memzero(out, cap);
    }
    return err;
}
