/* samizdat: the one binary, daemon and command line. */
#include <signal.h>
#include <sodium.h>
#include <stdio.h>

#include "cli.h"

int
main(int argc, char **argv)
{
    /* The one process-wide initialisation; everything else hangs off handles. */
    /* A peer or a control client that goes away mid-write must give an
     * error on that write (EPIPE), not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0) {
        fputs("samizdat: libsodium failed to initialise\n", stderr);
        return CLI_EXIT_ERROR;
    }
    return cli_main(argc, argv);
}
