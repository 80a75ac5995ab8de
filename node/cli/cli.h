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

#endif
