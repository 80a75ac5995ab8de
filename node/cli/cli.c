#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_int.h"
#include "keytext.h"
#include "term.h"
#include "web.h"

static const cli_cmd_t COMMANDS[] = {
    {"init", cli_cmd_init, "init [--passphrase]",
     "Create the author key and the node key in the data directory.\n"
     "  --passphrase   seal the author key with a passphrase (asked on the terminal,\n"
     "                 or taken from $SAMIZDAT_PASSPHRASE)",
     true},
    {"whoami", cli_cmd_whoami, "whoami [--node] [--qr] [--json]",
     "Print the author key, the text people use to follow you.\n"
     "  --node   print the node key instead\n"
     "  --qr     draw it as a QR code too, to scan with a phone",
     true},
    {"run", cli_cmd_run,
     "run [--port N | --listen ENDPOINT]... [--network NAME] [--bootstrap FILE]\n"
     "      [--no-lan] [--no-upnp] [--no-relay] [--relay-listen [HOST:]PORT]\n"
     "      [--socks5 HOST:PORT] [--announce ENDPOINT]\n"
     "      [--tor [--tor-control HOST:PORT]] [--peers-max N] [--log-level LEVEL]\n"
     "      [--web ADDR:PORT | --no-web] [--web-public] [--passphrase]",
     "Start the node: create the keys on first start, listen for peers, join the\n"
     "network and serve the other commands through the control socket. Ctrl-C\n"
     "stops it cleanly; a second Ctrl-C exits at once.\n"
     "  --port N             listen on TCP port N on every address (default 7470;\n"
     "                       0 picks a free port)\n"
     "  --listen ENDPOINT    listen on ENDPOINT instead, e.g. tcp://192.0.2.1:7470 or\n"
     "                       tcp://[::]:7470 (IPv6); up to 4 times\n"
     "  --network NAME       join network NAME (default main); nodes of other\n"
     "                       networks are refused\n"
     "  --bootstrap FILE     nodes to contact first (default: $SAMIZDAT_BOOTSTRAP, else\n"
     "                       DATA/bootstrap.list, else " SAMIZDAT_BOOTSTRAP_DEFAULT ")\n"
     "  --no-lan             no discovery on the local network\n"
     "  --no-upnp            do not ask the router to forward a port (NAT-PMP,\n"
     "                       UPnP-IGD)\n"
     "  --no-relay           do not relay for unreachable nodes (relaying is on when\n"
     "                       peers can dial this node: within modest caps)\n"
     "  --relay-listen [HOST:]PORT  the relay port (default: a free port on the\n"
     "                       listen address, which status shows)\n"
     "  --socks5 HOST:PORT   make outbound connections through a SOCKS5 proxy (Tor)\n"
     "  --tor                be reachable only as a Tor onion service and connect out\n"
     "                       only through Tor: listen on 127.0.0.1, no LAN beacon, no\n"
     "                       port mapping (a running tor with ControlPort and\n"
     "                       CookieAuthentication 1, else one it starts itself)\n"
     "  --tor-control HOST:PORT  Tor's control port (default 127.0.0.1:9051 if a Tor\n"
     "                       answers there; else a Tor of its own, data in DATA/tor)\n"
     "  --announce ENDPOINT  where other nodes reach this one (default: the listen\n"
     "                       address, or a guess for a listener on every address)\n"
     "  --peers-max N        at most N peer connections (default 48; a third kept\n"
     "                       for connections this node opens)\n"
     "  --log-level LEVEL    error, warn, info (default) or debug\n"
     "  --web ADDR:PORT      serve the web UI and API there (default "
     WEB_DEFAULT_LISTEN ";\n"
     "                       `samizdat open` prints its link)\n"
     "  --no-web             no web UI and API\n"
     "  --web-public         allow --web on an address other than loopback (anyone\n"
     "                       who can reach it still needs the link's key or a token)",
     true},
    {"status", cli_cmd_status, "status [--json]",
     "Show the keys, the store, and, while the node runs, its endpoints, uptime and peers.",
     false},
    {"peers", cli_cmd_peers, "peers [--json]",
     "The running node's peers: node key, endpoint, direction, state, last seen,\n"
     "round-trip time.",
     false},
    {"peer", cli_cmd_peer, "peer add ENDPOINT NODEKEY [--timeout SECONDS]",
     "Add a peer by hand: the running node connects to it at once and waits for\n"
     "the handshake (at most SECONDS, default 10): exit 0 when connected, 1 with\n"
     "the reason (wrong node key, connection refused, no answer). A stopped node\n"
     "tries it at its next start. ENDPOINT is tcp://HOST:PORT, NODEKEY is szn1...",
     false},
    {"repair", cli_cmd_repair, "repair",
     "Repair a damaged store (the node must be stopped): LevelDB's repair, then\n"
     "every post verified and stored again and every index rebuilt; follows,\n"
     "blocks and peers are kept, and the damaged database is kept beside it\n"
     "(DATA/store.damaged-TIME). Posts lost for good come back from peers.",
     true},
    {"invite", cli_cmd_invite, "invite [--no-author] [--qr] [--json]",
     "Print a one-line invite (szi1...) to hand to someone: this node's key, the\n"
     "addresses it can be dialled at and your author key. They run\n"
     "`samizdat join INVITE`: their node connects to yours and follows you.\n"
     "Needs the running node (it knows where it listens).\n"
     "  --no-author   leave your author key out (they join, but follow nobody)\n"
     "  --qr          draw it as a QR code too",
     false},
    {"join", cli_cmd_join, "join INVITE [--timeout SECONDS]",
     "Join the node an invite names: connect to it (each of its addresses in turn,\n"
     "waiting at most SECONDS each, default 10) and follow the author it names.\n"
     "Exit 0 when connected, 1 with the reason (wrong node key, unreachable),\n"
     "3 for a mistyped invite. A stopped node saves it and connects at its next start.",
     false},
    {"dht", cli_cmd_dht, "dht lookup AUTHOR... | dht find-node ID",
     "Ask the network, through the running node:\n"
     "  lookup AUTHOR...   the nodes that replicate each author's feed and the\n"
     "                     author's latest signed head\n"
     "  find-node ID       the nodes closest to ID (a node key szn1..., or a\n"
     "                     64-digit hex DHT id)\n"
     "Each prints the result, the hops and messages it took, and the time.",
     false},
    {"post", cli_cmd_post, "post [--] TEXT | post -",
     "Sign and publish a post. '-' reads the text from standard input.\n"
     "The text is UTF-8, at most 1024 bytes, no control characters but newline and tab;\n"
     "an empty or blank text is refused (a post can never be taken back).\n"
     "Text that starts with '-' and a letter reads as an option: put -- before it\n"
     "(samizdat post -- -x); \"-5 degrees tonight\" needs nothing.",
     false},
    {"reply", cli_cmd_reply, "reply POST-ID TEXT", "Publish a reply to a post.",
     false},
    {"delete", cli_cmd_delete, "delete POST-ID",
     "Publish a delete for one of your own posts: nodes that receive it hide its body.",
     false},
    {"profile", cli_cmd_profile, "profile --name NAME [--bio BIO]",
     "Publish your display name (at most 64 bytes) and bio.",
     false},
    {"feed", cli_cmd_feed, "feed [AUTHOR] [--limit N] [--before SEQ] [--json]",
     "One author's posts, newest first (default: your own). Shows gaps and forks.\n"
     "Exit 4 when nothing of the author is stored.",
     false},
    {"show", cli_cmd_show, "show POST-ID [--raw] [--json]",
     "Show one post. --raw prints its encoded bytes in hex.",
     false},
    {"thread", cli_cmd_thread, "thread POST-ID [--json]",
     "A post, the post it replies to, and the replies below it, nested.",
     false},
    {"timeline", cli_cmd_timeline, "timeline [--limit N] [--before POST-ID] [--json]",
     "Posts of the authors you follow and your own, newest first.\n"
     "  --limit N          posts per page (default 20)\n"
     "  --before POST-ID   the page after the one that ended with POST-ID",
     false},
    {"follow", cli_cmd_follow, "follow AUTHOR", "Follow an author by key.",
     false},
    {"unfollow", cli_cmd_unfollow, "unfollow AUTHOR", "Stop following an author.",
     false},
    {"following", cli_cmd_following, "following [--json]", "List the authors you follow.",
     false},
    {"block", cli_cmd_block, "block AUTHOR",
     "Block an author: their stored posts are removed and new ones refused.",
     false},
    {"unblock", cli_cmd_unblock, "unblock AUTHOR", "Lift a block.",
     false},
    {"blocked", cli_cmd_blocked, "blocked [--json]", "List blocked authors.",
     false},
    {"export", cli_cmd_export, "export AUTHOR FILE [--force]",
     "Write an author's feed to FILE ('-' for standard output). Exit 4, and no\n"
     "file, when nothing of the author is stored.",
     false},
    {"import", cli_cmd_import, "import FILE [--json]",
     "Verify and store the posts of an exported feed file ('-' for standard input).",
     false},
    {"open", cli_cmd_open, "open [--print]",
     "Print the link that opens the running node's web UI in a browser (it carries\n"
     "the key that lets the browser in), and open it when there is a desktop.\n"
     "  --print   only print it",
     true},
    {"token", cli_cmd_token,
     "token create --scope SCOPE --name NAME | token list | token revoke NAME",
     "Bearer tokens for apps that use the HTTP API (docs/API.md). A token is printed\n"
     "once, when created; only its hash is kept.\n"
     "  --scope SCOPE   read (see everything), post (publish), admin (all, follows\n"
     "                  and peers too); a comma list gives several\n"
     "  --name NAME     what the token is for, to list and revoke it by",
     true},
};

enum { N_COMMANDS = sizeof COMMANDS / sizeof COMMANDS[0] };

static void
print_main_help(FILE *f)
{
    fprintf(f,
            "samizdat %s: signed posts on a network nobody can switch off\n\n"
            "usage: samizdat [--data DIR] [--json] COMMAND [ARGS] [--] [WORDS]\n\n"
            "commands:\n",
            SAMIZDAT_VERSION);
    for (int i = 0; i < N_COMMANDS; i++) {
        fprintf(f, "  %s\n", COMMANDS[i].usage);
    }
    fprintf(f, "\n"
               "global options (before or after the command):\n"
               "  --data DIR   data directory (default $SAMIZDAT_DATA, else\n"
               "               $XDG_DATA_HOME/samizdat, else ~/.local/share/samizdat)\n"
               "  --json       print records as JSON\n"
               "  --help       this text; `samizdat COMMAND --help` for one command\n"
               "  --version    print the version (before the command)\n"
               "  --           end of options: every word after it is text or a name,\n"
               "               e.g. samizdat post -- -x; a word is an option only\n"
               "               when a letter follows its dashes and it has no space\n\n"
               "AUTHOR is an author key (sza1...), POST-ID a post id (szp1...).\n"
               "exit codes: 0 ok, 1 error, 2 usage, 3 bad input, 4 not found\n");
}

int
cli_fail(cli_t *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("samizdat: ", c->err);
    vfprintf(c->err, fmt, ap);
    fputc('\n', c->err);
    va_end(ap);
    return code;
}

int
cli_usage(cli_t *c, const cli_cmd_t *cmd, const char *why)
{
    fprintf(c->err, "samizdat: %s\nusage: samizdat %s\n", why, cmd->usage);
    return CLI_EXIT_USAGE;
}

/* The rule of cli_args_t: an option is a dash, or two, then a letter, with
 * no white space before any '='. Text a user posts usually fails it (a
 * number, a space), and what passes it can be given after "--". */
static bool
is_option(const char *w)
{
    if (w[0] != '-') {
        return false;
    }
    const char *name = w[1] == '-' ? w + 2 : w + 1;
    if (!((*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z'))) {
        return false;
    }
    for (const char *q = name; *q != '\0' && *q != '='; q++) {
        if (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == '\v' || *q == '\f') {
            return false;
        }
    }
    return true;
}

bool
cli_flag(cli_args_t *a, const char *name)
{
    for (int i = 0; i < a->dashdash; i++) {
        if (!a->used[i] && strcmp(a->argv[i], name) == 0) {
            a->used[i] = true;
            return true;
        }
    }
    return false;
}

const char *
cli_value(cli_args_t *a, const char *name, bool *bad)
{
    size_t n = strlen(name);
    for (int i = 0; i < a->dashdash; i++) {
        const char *w = a->argv[i];
        if (a->used[i] || strncmp(w, name, n) != 0) {
            continue;
        }
        if (w[n] == '=') {
            a->used[i] = true;
            return w + n + 1;
        }
        if (w[n] == '\0') {
            a->used[i] = true;
            if (i + 1 >= a->dashdash) {
                *bad = true;
                return NULL;
            }
            a->used[i + 1] = true;
            return a->argv[i + 1];
        }
    }
    return NULL;
}

int
cli_positional(cli_args_t *a, const char **out, int max)
{
    int n = 0;
    for (int i = 0; i < a->argc; i++) {
        if (a->used[i] || i == a->dashdash) {
            continue;
        }
        if (n < max) {
            out[n] = a->argv[i];
        }
        n++;
    }
    return n;
}

const char *
cli_unknown_option(cli_args_t *a)
{
    for (int i = 0; i < a->dashdash; i++) {
        if (!a->used[i] && is_option(a->argv[i])) {
            a->unknown = a->argv[i];
            return a->argv[i];
        }
    }
    return NULL;
}

bool
cli_parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

uint64_t
cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const cli_cmd_t *
find_command(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(COMMANDS[i].name, name) == 0) {
            return &COMMANDS[i];
        }
    }
    return NULL;
}

/* Global options come before the command; --json is also accepted after it. */
static int
parse_globals(cli_t *c, int argc, char **argv, int *next)
{
    int i = 1;
    while (i < argc && is_option(argv[i])) {
        const char *w = argv[i];
        if (strcmp(w, "--json") == 0) {
            c->json = true;
        } else if (strcmp(w, "--data") == 0 && i + 1 < argc) {
            c->data_opt = argv[++i];
        } else if (strncmp(w, "--data=", 7) == 0) {
            c->data_opt = w + 7;
        } else if (strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0) {
            print_main_help(c->out);
            return -CLI_EXIT_OK - 1;
        } else if (strcmp(w, "--version") == 0) {
            fprintf(c->out, "samizdat %s\n", SAMIZDAT_VERSION);
            return -CLI_EXIT_OK - 1;
        } else {
            fprintf(c->err, "samizdat: unknown option %s (see samizdat --help)\n", w);
            return -CLI_EXIT_USAGE - 1;
        }
        i++;
    }
    *next = i;
    return 0;
}

void
cli_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The global options --data DIR and --json are taken wherever they stand
 * before "--", so `samizdat whoami --data DIR` is `samizdat --data DIR
 * whoami`; the last --data wins. Inside the node the data directory is the
 * node's, and a --data there is ignored. Returns CLI_EXIT_OK or prints a
 * usage error and returns its code. */
static int
take_globals(cli_t *c, const cli_cmd_t *cmd, cli_args_t *a)
{
    bool bad = false;
    const char *data;
    while ((data = cli_value(a, "--data", &bad)) != NULL) {
        c->data_opt = data;
    }
    if (bad) {
        return cli_usage(c, cmd, "--data needs a directory");
    }
    while (cli_flag(a, "--json")) {
        c->json = true;
    }
    return CLI_EXIT_OK;
}

static int
run_command(cli_t *c, const cli_cmd_t *cmd, int argc, char **argv)
{
    if (argc > CLI_ARGS_MAX) {
        return cli_usage(c, cmd, "too many arguments");
    }
    cli_args_t a = {.argc = argc, .argv = argv, .dashdash = argc};
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            a.dashdash = i;
            break;
        }
    }
    if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
        fprintf(c->out, "usage: samizdat %s\n\n%s\n", cmd->usage, cmd->help);
        return CLI_EXIT_OK;
    }
    int rc = take_globals(c, cmd, &a);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    datadir_err_t derr = datadir_resolve(c->dir, sizeof c->dir, c->data_opt);
    if (derr != DATADIR_OK) {
        return cli_fail(c, CLI_EXIT_ERROR, "%s", datadir_strerror(derr));
    }
    rc = cmd->fn(c, &a);
    if (rc == CLI_EXIT_USAGE && a.unknown != NULL) {
        fprintf(c->err,
                "samizdat: if %s is meant as text, not an option, put -- before it: "
                "samizdat %s -- %s\n",
                a.unknown, cmd->name, a.unknown);
    }
    return rc;
}

int
cli_main(int argc, char **argv)
{
    cli_t c;
    memset(&c, 0, sizeof c);
    c.in = stdin;
    c.out = stdout;
    c.err = stderr;
    int next = 0;
    int g = parse_globals(&c, argc, argv, &next);
    if (g < 0) {
        return -g - 1;
    }
    if (next >= argc) {
        print_main_help(c.err);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[next], "help") == 0) {
        const cli_cmd_t *h = (next + 1 < argc) ? find_command(argv[next + 1]) : NULL;
        if (h != NULL) {
            fprintf(c.out, "usage: samizdat %s\n\n%s\n", h->usage, h->help);
        } else {
            print_main_help(c.out);
        }
        return CLI_EXIT_OK;
    }
    const cli_cmd_t *cmd = find_command(argv[next]);
    if (cmd == NULL) {
        fprintf(c.err, "samizdat: unknown command '%s' (see samizdat --help)\n", argv[next]);
        return CLI_EXIT_USAGE;
    }
    int rc = run_command(&c, cmd, argc - next - 1, argv + next + 1);
    cli_app_end(&c);
    if (fflush(c.out) != 0 && rc == CLI_EXIT_OK) {
        rc = cli_fail(&c, CLI_EXIT_ERROR, "cannot write output: %s", strerror(errno));
    }
    return rc;
}
