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
    /* A Tor of our own, started when no control port was named and none
     * answers at the default: its own data directory DATA/tor. */
    uv_process_t child;
    bool child_running;
    char control[64]; /* its control port, "127.0.0.1:PORT" */
} cli_tor_t;

/* The environment variable whose words are added to a child Tor's command
 * line: tests run it with "--DisableNetwork 1", so nothing leaves. */
#define CLI_TOR_ARGS_ENV "SAMIZDAT_TOR_ARGS"

/* Publishes the onion service for port through the Tor daemon at control
 * (NULL: 127.0.0.1:9051 if a Tor answers there, else a Tor started as a
 * child), running loop until Tor answered (at most 20 s). CLI_EXIT_OK, or
 * the failure said. */
int cli_tor_start(cli_t *c, cli_tor_t *t, uv_loop_t *loop, const log_t *log, const char *control,
                  uint16_t port);
/* Closes the control connection (Tor removes the service), and stops a
 * child Tor. */
void cli_tor_close(cli_tor_t *t);

#endif
