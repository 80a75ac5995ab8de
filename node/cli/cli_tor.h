/* cli_tor: run --tor (cli_tor.c). */
#ifndef SAMIZDAT_CLI_TOR_H
#define SAMIZDAT_CLI_TOR_H

#include "cli_int.h"
#include "torctl.h"

typedef struct {
    torctl_t *ctl;
    const log_t *log;
    char key_path[DATADIR_PATH_MAX];
    bool done, timed_out;
    torctl_info_t info; /* once done: the onion address and Tor's SOCKS port */
} cli_tor_t;

/* Publishes the onion service for port through the Tor daemon at control,
 * running loop until Tor answered (at most 20 s). CLI_EXIT_OK, or the
 * failure said. */
int cli_tor_start(cli_t *c, cli_tor_t *t, uv_loop_t *loop, const log_t *log, const char *control,
                  uint16_t port);
/* Closes the control connection (Tor removes the service). */
void cli_tor_close(cli_tor_t *t);

#endif
