/* cli_int: what the CLI's command files share. Not a public interface. */
#ifndef SAMIZDAT_CLI_INT_H
#define SAMIZDAT_CLI_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "datadir.h"
#include "keys.h"
#include "keytext.h"
#include "post.h"
#include "store.h"

enum { CLI_ARGS_MAX = 64, CLI_PAGE_DEFAULT = 20 };

/* Command-line words after the command name. Options are taken out as they
 * are read; what is left must be positional.
 *
 * Which words are options: the parser does not know a command's options up
 * front (a handler takes them with cli_flag and cli_value as it goes), so
 * the word itself decides. A word is an option when a letter follows its
 * dash or its two dashes and no white space comes before any '=': -h,
 * --json, --name=Ana Lima. Every other word is positional, so
 * `post "-5 degrees tonight"` and `post -5` post their text. A word after
 * "--" is always positional. */
typedef struct {
    int argc;
    char **argv;
    bool used[CLI_ARGS_MAX];
    int dashdash;        /* index of "--", or argc: words after it are positional */
    const char *unknown; /* set by cli_unknown_option: the dispatcher then adds
                            a hint about "--" to the handler's usage error */
} cli_args_t;

struct node;

typedef struct {
    char dir[DATADIR_PATH_MAX];
    const char *data_opt;
    bool json;
    store_t *store;       /* opened on demand, or the running node's (borrowed) */
    bool store_borrowed;  /* true inside the node: cli_main must not close it */
    FILE *in;             /* standard input, or the bytes a control request carried */
    FILE *out;
    FILE *err;
    struct node *node;           /* the running node, when run through its control socket */
    const keys_author_t *author; /* the node's unlocked author key, or NULL */
} cli_t;

typedef int (*cli_cmd_fn)(cli_t *c, cli_args_t *a);

typedef struct {
    const char *name;
    cli_cmd_fn fn;
    const char *usage;
    const char *help;
    /* Runs in this process even when a node runs: it needs no store (init,
     * whoami) or it is the node (run). Everything else goes to the node. */
    bool local;
} cli_cmd_t;

/* Argument helpers. */
bool cli_flag(cli_args_t *a, const char *name);
/* "--name VALUE" or "--name=VALUE"; NULL when absent. *bad set when the value is missing. */
const char *cli_value(cli_args_t *a, const char *name, bool *bad);
/* The positional words left, in order; returns their count (at most max). */
int cli_positional(cli_args_t *a, const char **out, int max);
/* A word that is an option (see cli_args_t) and was not taken, or NULL. */
const char *cli_unknown_option(cli_args_t *a);
bool cli_parse_u64(const char *s, uint64_t *out);

/* Reporting. Each returns the exit code it is given, to write
 * `return cli_fail(c, CLI_EXIT_BADINPUT, "...")`. */
int cli_fail(cli_t *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cli_usage(cli_t *c, const cli_cmd_t *cmd, const char *why);

/* Shared steps. Each prints its own error and returns an exit code. */
int cli_open_store(cli_t *c);
/* Like cli_open_store, but prints nothing when another process holds the
 * store; *locked then says so. */
int cli_try_open_store(cli_t *c, bool *locked);
/* True when a node answers on c->dir's control socket. */
bool cli_node_running(cli_t *c);
/* How long a command waits for a store that another samizdat process holds:
 * a short command finishes, or a starting node opens its control socket. */
enum { CLI_LOCK_WAIT_MS = 5000, CLI_LOCK_POLL_MS = 50 };
void cli_sleep_ms(unsigned ms);
int cli_load_author(cli_t *c, keys_author_t *out);
int cli_author_public(cli_t *c, uint8_t pk[static 32]);
int cli_parse_author(cli_t *c, const char *text, uint8_t out[static 32]);
int cli_parse_post_id(cli_t *c, const char *text, uint8_t out[static 32]);
int cli_store_error(cli_t *c, store_err_t err, const char *what);
uint64_t cli_now_ms(void);
int cli_ensure_keys(cli_t *c, bool sealed, bool *created);

/* Printing posts. */
void cli_print_post(cli_t *c, const post_t *p, bool first);
void cli_print_key(cli_t *c, const char *label, keytext_kind_t kind, const uint8_t *v);
void cli_json_post(cli_t *c, const post_t *p);

/* Commands, by file. */
int cli_cmd_init(cli_t *c, cli_args_t *a);
int cli_cmd_whoami(cli_t *c, cli_args_t *a);
int cli_cmd_run(cli_t *c, cli_args_t *a);
int cli_cmd_status(cli_t *c, cli_args_t *a);
int cli_cmd_post(cli_t *c, cli_args_t *a);
int cli_cmd_reply(cli_t *c, cli_args_t *a);
int cli_cmd_delete(cli_t *c, cli_args_t *a);
int cli_cmd_profile(cli_t *c, cli_args_t *a);
int cli_cmd_feed(cli_t *c, cli_args_t *a);
int cli_cmd_show(cli_t *c, cli_args_t *a);
int cli_cmd_timeline(cli_t *c, cli_args_t *a);
int cli_cmd_follow(cli_t *c, cli_args_t *a);
int cli_cmd_unfollow(cli_t *c, cli_args_t *a);
int cli_cmd_following(cli_t *c, cli_args_t *a);
int cli_cmd_block(cli_t *c, cli_args_t *a);
int cli_cmd_unblock(cli_t *c, cli_args_t *a);
int cli_cmd_blocked(cli_t *c, cli_args_t *a);
int cli_cmd_export(cli_t *c, cli_args_t *a);
int cli_cmd_import(cli_t *c, cli_args_t *a);
int cli_cmd_peers(cli_t *c, cli_args_t *a);
int cli_cmd_peer(cli_t *c, cli_args_t *a);

/* Sends the command to the node running on c->dir through its control socket
 * and relays its output and exit code. Returns -1, having printed nothing,
 * when no node answers: the caller then runs the command itself. argv[0] is
 * the command name. */
int cli_forward(cli_t *c, int argc, char **argv);
/* `status` while the node runs (c->node set). */
int cli_node_status(cli_t *c);

/* Inside the node: sets c up with the node's store and key, input from in
 * (borrowed until cli_node_end) and output and errors into memory streams
 * that cli_node_end closes, leaving *out and *err (caller frees). */
int cli_node_begin(cli_t *c, struct node *node, const char *data_dir, const uint8_t *in,
                   size_t in_len, char **out, size_t *out_len, char **err, size_t *err_len);
void cli_node_end(cli_t *c);
/* Finds argv[0] in the command table and runs it. */
int cli_run_named(cli_t *c, int argc, char **argv);
int cli_cmd_dht(cli_t *c, cli_args_t *a);

#endif
