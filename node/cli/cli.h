/* cli: the samizdat command line. */
#ifndef SAMIZDAT_CLI_H
#define SAMIZDAT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes, documented in README.md and `samizdat --help`. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_ERROR = 1,    /* the operation failed: I/O, a locked store, a missing key file */
    CLI_EXIT_USAGE = 2,    /* wrong command, option or number of arguments */
    CLI_EXIT_BADINPUT = 3, /* bad input: a mistyped key, invalid text, a bad file or passphrase */
    CLI_EXIT_NOTFOUND = 4, /* the post or author asked for is not in the store */
};

/* Runs one command; returns the process exit code. argv is borrowed. Needs
 * sodium_init() to have been called. */
int cli_main(int argc, char **argv);

struct node;

/* Runs one command inside a running node, for its control socket: with the
 * node's open store and unlocked author key, input from in (in_len bytes,
 * borrowed for the call), output and errors captured. argv[0] is the command
 * name; argv borrowed for the call. On return *out and *err are returned
 * (caller frees with free(); either may be NULL when empty). Returns the exit
 * code. Commands that make no sense inside the node (init, run) are refused
 * with CLI_EXIT_USAGE. */
int cli_run_for_node(struct node *node, const char *data_dir, int argc, char **argv,
                     const uint8_t *in, size_t in_len, char **out, size_t *out_len, char **err,
                     size_t *err_len);

/* The end of a command that finishes later: its exit code and what it
 * wrote. out and err are returned to the callee, who frees them (either
 * may be NULL). */
typedef void (*cli_done_cb)(void *ud, int code, char *out, size_t out_len, char *err,
                            size_t err_len);

/* Starts a command that waits on the network inside the node: `dht ...`,
 * and `follow`, which looks the author up after storing the follow. True
 * when it is one: done(ud, ...) then runs exactly once, later or at once.
 * False for every other command: run it with cli_run_for_node. argv, in
 * borrowed for the call. */
bool cli_start_async(struct node *node, const char *data_dir, int argc, char **argv,
                     const uint8_t *in, size_t in_len, cli_done_cb done, void *ud);

#endif
