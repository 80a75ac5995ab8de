/* cli_int: what the CLI's command files share. Not a public interface. */
#ifndef SAMIZDAT_CLI_INT_H
#define SAMIZDAT_CLI_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "app.h"
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

typedef struct {
    char dir[DATADIR_PATH_MAX];
    const char *data_opt;
    bool json;
    store_t *store; /* opened here while deciding local or remote; lent to the app */
    FILE *in;
    FILE *out;
    FILE *err;
    /* The application layer, created on the first call: local on the store,
     * or remote when a node answers on the control socket. */
    uv_loop_t loop;
    bool loop_open;
    app_t *app;
    bool remote;
} cli_t;

typedef int (*cli_cmd_fn)(cli_t *c, cli_args_t *a);

typedef struct {
    const char *name;
    cli_cmd_fn fn;
    const char *usage;
    const char *help;
    /* Calls no app: keys only (init, whoami), or it is the node (run).
     * Every other command calls the app, on the running node when one
     * answers (cli_call). */
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

/* "1 post", "2 posts": n and the word, singular or plural. */
const char *cli_plural(uint64_t n, const char *one, const char *many);

/* Runs one request through the application layer: on the running node
 * through its control socket when one answers on c->dir, else here on the
 * store (waiting a moment while another process holds it). Returns
 * CLI_EXIT_OK with *out set (caller frees with app_result_free), or prints
 * the error and returns its exit code (*out NULL). */
int cli_call(cli_t *c, const app_request_t *req, app_result_t **out);
/* The exit code of an app error. */
int cli_exit_code(app_err_t err);
/* Closes the app and the loop and the store; at the end of cli_main. */
void cli_app_end(cli_t *c);
/* True when a node answers on c->dir's control socket. */
bool cli_node_running(cli_t *c);
/* How long a command waits for a store that another samizdat process holds:
 * a short command finishes, or a starting node opens its control socket. */
enum { CLI_LOCK_WAIT_MS = 5000, CLI_LOCK_POLL_MS = 50 };
void cli_sleep_ms(unsigned ms);
uint64_t cli_now_ms(void);

/* Keys, for the commands that stay in this process (init, whoami, run). */
int cli_load_author(cli_t *c, keys_author_t *out);
/* A key file's error as a message and exit code: 3 for a damaged file or a
 * wrong passphrase, 1 for a missing one or I/O. */
int cli_keys_error(cli_t *c, keys_err_t err, const char *path);
int cli_author_public(cli_t *c, uint8_t pk[static KEYS_PUBLIC_SIZE]);
int cli_ensure_keys(cli_t *c, bool sealed, bool *created);
/* The author's passphrase from $SAMIZDAT_PASSPHRASE or the terminal. */
app_err_t cli_passphrase(void *ud, char *out, size_t cap, char *msg, size_t msg_cap);

/* Parsing the text forms; each prints its own error. */
int cli_parse_author(cli_t *c, const char *text, uint8_t out[static KEYS_PUBLIC_SIZE]);
int cli_parse_post_id(cli_t *c, const char *text, uint8_t out[static POST_ID_SIZE]);
/* --limit N (1..100000; default 20). */
int cli_get_limit(cli_t *c, cli_args_t *a, uint32_t *limit);
/* Checks options and takes exactly `want` positional words into pos. */
int cli_take_args(cli_t *c, cli_args_t *a, const char *name, const char **pos, int want);

/* Printing. */
/* A wall-clock time in ms as "2026-12-04 17:20:05Z". */
void cli_format_time(char *out, size_t cap, uint64_t ms);
void cli_print_post(cli_t *c, const app_post_t *p);
void cli_print_key(cli_t *c, const char *label, keytext_kind_t kind, const uint8_t *v);
/* text as a QR code (half blocks in a UTF-8 locale, ASCII otherwise), then as text. */
int cli_print_qr(cli_t *c, const char *text);
/* Prints a result as JSON (appjson) and a newline. */
void cli_print_json(cli_t *c, const app_result_t *res, const char *path_hint);

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
int cli_cmd_dht(cli_t *c, cli_args_t *a);
int cli_cmd_invite(cli_t *c, cli_args_t *a);
int cli_cmd_repair(cli_t *c, cli_args_t *a);
int cli_cmd_join(cli_t *c, cli_args_t *a);
int cli_cmd_open(cli_t *c, cli_args_t *a);
int cli_cmd_token(cli_t *c, cli_args_t *a);
int cli_cmd_thread(cli_t *c, cli_args_t *a);

#endif
