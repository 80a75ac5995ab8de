/* nodes: real samizdat processes for multi-node tests: create their keys,
 * start them on loopback with their own data directories, run the CLI
 * against them, and wait on what they report (never on sleeps alone). */
#ifndef SAMIZDAT_NODES_H
#define SAMIZDAT_NODES_H

#include <stdbool.h>
#include <stdint.h>

#include "keytext.h"
#include "testutil.h"

typedef struct {
    char dir[512];
    char log[600];
    char node_text[KEYTEXT_BUFSZ];   /* szn1... */
    char author_text[KEYTEXT_BUFSZ]; /* sza1... */
    uint8_t node_pk[32];
    char endpoint[128]; /* where it listens, once started */
    int pid;            /* 0 when not running */
    /* Set before tn_start (both optional): the network namespace it runs
     * in (`ip netns exec`), and its --listen endpoint instead of
     * tcp://127.0.0.1:0. Its CLI still reaches it: the control socket is
     * a file in its data directory. */
    char netns[32];
    char listen[64];
} tn_node_t;

/* Creates root/n<i> with fresh keys (samizdat init) and reads them back. */
void tn_init(tn_node_t *t, const char *root, int i);

/* Starts `samizdat run` on an ephemeral loopback port, network `network`,
 * bootstrap list `bootstrap`, debug log in t->log, plus up to two more
 * words of options (NULL when none), and waits until the control socket
 * answers with the endpoint. Fails the test after 30 s. */
void tn_start(tn_node_t *t, const char *network, const char *bootstrap, const char *opt,
              const char *val);
/* The same with env entries ("K=V", NULL-terminated; NULL: none) added to
 * its environment, e.g. SAMIZDAT_DEFENCE_OFF for an attack test's control. */
void tn_start_env(tn_node_t *t, const char *network, const char *bootstrap, const char *opt,
                  const char *val, char *const env[]);
/* The same with any number of option words (NULL-terminated; a NULL
 * first word: none). */
void tn_start_more(tn_node_t *t, const char *network, const char *bootstrap, char *const more[],
                   char *const env[]);
/* tn_start_more in two halves, so that many nodes can start at once:
 * spawn the process; then wait until its control socket answers and note
 * its endpoint. */
void tn_spawn_more(tn_node_t *t, const char *network, const char *bootstrap, char *const more[],
                   char *const env[]);
void tn_wait_started(tn_node_t *t);
/* SIGINT, then waits for the exit; returns its status. */
int tn_stop(tn_node_t *t);

/* Runs the CLI on t's data directory with up to four more words (NULL
 * terminates). Free r with tu_run_free. */
void tn_cli(tu_run_t *r, tn_node_t *t, const char *a1, const char *a2, const char *a3,
            const char *a4);
/* Same with any number of words: argv NULL-terminated. */
void tn_cli_argv(tu_run_t *r, tn_node_t *t, char *const args[]);

/* Whether `other` is a ready peer of t; and waiting for it. */
bool tn_has_peer(tn_node_t *t, const tn_node_t *other);
bool tn_wait_peer(tn_node_t *t, const tn_node_t *other, int seconds);
/* Waits until t has processed another message on every connection it has
 * as ready now (to `other` only, or to every peer when other is NULL): the
 * last_seen time `peers --json` shows for each has moved, or the
 * connection is gone. Since a connection delivers in order, whatever those
 * peers sent t before the call has then been handled, so a test can check
 * that something did NOT happen without sleeping for a fixed time. False
 * after seconds, or at once when t has no such ready connection. */
bool tn_wait_heard_again(tn_node_t *t, const tn_node_t *other, int seconds);
/* A number field of `status --json` (e.g. "malformed"), -1 when absent. */
long tn_status_count(tn_node_t *t, const char *field);

/* Writes a bootstrap list naming these nodes (their endpoints and keys). */
void tn_write_bootstrap(const char *path, const tn_node_t *nodes, int count);

#endif
