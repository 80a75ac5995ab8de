/* testutil: helpers shared by the tests: temporary directories and running
 * the real samizdat binary. */
#ifndef SAMIZDAT_TESTUTIL_H
#define SAMIZDAT_TESTUTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* Creates a fresh directory under $TMPDIR (or /tmp), mode 0700, and writes its
 * path into out. Fails the test on error. */
void tu_mkdtemp(char *out, size_t cap);
/* Removes a directory tree (what tu_mkdtemp made). Ignores errors. */
void tu_rmtree(const char *path);

typedef struct {
    int status;      /* exit code, or 128 + signal */
    char *out;       /* stdout, NUL-terminated; free with tu_run_free */
    size_t out_len;
    char *err;       /* stderr, NUL-terminated */
    size_t err_len;
} tu_run_t;

/* Runs argv (argv[0] is a path) with extra environment entries env (NULL-
 * terminated "K=V" list, may be NULL), feeding stdin_data (may be NULL) on its
 * standard input, and collects its output. Kills it after timeout_s seconds
 * (status is then 128 + SIGKILL). */
void tu_run(tu_run_t *r, char *const argv[], char *const env[], const char *stdin_data,
            int timeout_s);
void tu_run_free(tu_run_t *r);

/* Reads a whole file into a NUL-terminated buffer (caller frees). NULL on error. */
char *tu_read_file(const char *path, size_t *len);

/* The test vectors of a document: calls cb(ud, name, value) for each
 * "name value" line of the block that opens with ```tag (tag without the
 * backticks), in order. Blank lines and lines starting with '#' are
 * skipped; a line starting with spaces continues the value of the line
 * before. Fails the test when the block is missing or a line is not
 * "name value". name and value are borrowed for the call. */
typedef void (*tu_vector_cb)(void *ud, const char *name, const char *value);
void tu_doc_vectors(const char *doc, const char *tag, tu_vector_cb cb, void *ud);
/* Writes len bytes to path (mode 0600), failing the test on error. */
void tu_write_file(const char *path, const void *p, size_t len);

/* Starts argv in the background with env entries added, its stdout and
 * stderr appended to log_path. Returns the pid. */
int tu_spawn(char *const argv[], char *const env[], const char *log_path);
/* Sends sig to pid and waits up to timeout_s for it to exit; then SIGKILL.
 * Returns the exit status as tu_run reports it. */
int tu_stop(int pid, int sig, int timeout_s);
/* Seconds since an arbitrary start, monotonic. */
double tu_now(void);
/* The time of day in ms since the epoch: what a node's log lines say. */
uint64_t tu_wall_ms(void);
/* The time at the start of a node's log line ("2026-11-23T19:07:08.123Z
 * debug ...") in ms since the epoch; false when the line has none. */
bool tu_log_time(const char *line, uint64_t *ms);
/* Whether SAMIZDAT_ATTACK_LONG=1 asks for the long attack runs (`make attack`). */
bool tu_attack_long(void);
/* Resident memory of pid in KiB, from /proc; -1 on error. */
long tu_rss_kib(int pid);
/* A TCP port on loopback that nothing listens on (bound, read, closed). */
int tu_closed_port(void);

#endif
