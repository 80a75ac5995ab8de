/* The commands about the web front end: open (the UI's link), token (the
 * API's bearer tokens), and thread (the same view as the UI's thread
 * page). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_int.h"
#include "json.h"
#include "web.h"
#include "webtok.h"

/* With a desktop, hands the link to the desktop's opener; the link is
 * printed either way. */
static void
open_browser(const char *url)
{
    const char *d = getenv("DISPLAY"), *wl = getenv("WAYLAND_DISPLAY");
    if ((d == NULL || d[0] == '\0') && (wl == NULL || wl[0] == '\0')) {
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        /* The child must not hold the terminal's output. */
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execlp("xdg-open", "xdg-open", url, (char *)NULL);
        _exit(127);
    }
}

int
cli_cmd_open(cli_t *c, cli_args_t *a)
{
    bool print_only = cli_flag(a, "--print");
    if (cli_unknown_option(a) != NULL || cli_positional(a, NULL, 0) != 0) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat open [--print]");
    }
    char url[256];
    if (!cli_node_running(c) || web_login_url(c->dir, url, sizeof url) != WEB_OK) {
        return cli_fail(c, CLI_EXIT_ERROR,
                        "no web UI is running on %s: start the node with `samizdat run` "
                        "(and without --no-web)",
                        c->dir);
    }
    if (c->json) {
        fputs("{\"url\":", c->out);
        json_string(c->out, url);
        fputs("}\n", c->out);
    } else {
        fprintf(c->out, "%s\n", url);
    }
    fflush(c->out);
    if (!print_only) {
        open_browser(url);
    }
    return CLI_EXIT_OK;
}

static int
token_create(cli_t *c, cli_args_t *a)
{
    bool bad = false;
    const char *scope = cli_value(a, "--scope", &bad);
    const char *name = cli_value(a, "--name", &bad);
    const char *pos[2];
    if (bad || cli_unknown_option(a) != NULL || cli_positional(a, pos, 2) != 1 || scope == NULL ||
        name == NULL) {
        return cli_fail(c, CLI_EXIT_USAGE,
                        "usage: samizdat token create --scope read|post|admin --name NAME");
    }
    unsigned scopes = 0;
    if (!webtok_scopes_parse(scope, &scopes)) {
        return cli_fail(c, CLI_EXIT_USAGE, "--scope is read, post or admin (or a comma list)");
    }
    if (!webtok_name_valid(name)) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "a token name is 1 to %d printable ASCII characters",
                        WEBTOK_NAME_MAX);
    }
    char token[WEBTOK_TEXT_SIZE];
    webtok_err_t err = webtok_create(c->dir, name, scopes, cli_now_ms(), token);
    if (err != WEBTOK_OK) {
        return cli_fail(c, err == WEBTOK_EEXISTS ? CLI_EXIT_BADINPUT : CLI_EXIT_ERROR,
                        "token create: %s", webtok_strerror(err));
    }
    if (c->json) {
        fprintf(c->out, "{\"name\":");
        json_string(c->out, name);
        fprintf(c->out, ",\"scope\":\"%s\",\"token\":\"%s\"}\n", scope, token);
    } else {
        fprintf(c->out, "%s\n", token);
        fprintf(c->err,
                "samizdat: token '%s' (%s) created; it is shown only now: keep it "
                "where the app can read it\n",
                name, scope);
    }
    memset(token, 0, sizeof token);
    return CLI_EXIT_OK;
}

static int
token_list(cli_t *c, cli_args_t *a)
{
    const char *pos[2];
    if (cli_unknown_option(a) != NULL || cli_positional(a, pos, 2) != 1) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat token list");
    }
    webtok_info_t t[WEBTOK_MAX];
    size_t n = 0;
    webtok_err_t err = webtok_list(c->dir, t, WEBTOK_MAX, &n);
    if (err != WEBTOK_OK) {
        return cli_fail(c, CLI_EXIT_ERROR, "token list: %s", webtok_strerror(err));
    }
    if (c->json) {
        fputc('[', c->out);
    }
    for (size_t i = 0; i < n; i++) {
        char scopes[32];
        webtok_scopes_format(t[i].scopes, scopes, sizeof scopes);
        if (c->json) {
            fprintf(c->out, "%s{\"name\":", i ? "," : "");
            json_string(c->out, t[i].name);
            fprintf(c->out, ",\"scope\":\"%s\",\"created_ms\":%llu}", scopes,
                    (unsigned long long)t[i].created_ms);
        } else {
            char when[32];
            cli_format_time(when, sizeof when, t[i].created_ms);
            fprintf(c->out, "%-24s %-16s created %s\n", t[i].name, scopes, when);
        }
    }
    if (c->json) {
        fputs("]\n", c->out);
    } else if (n == 0) {
        fprintf(c->out, "no tokens (samizdat token create --scope read --name NAME)\n");
    }
    return CLI_EXIT_OK;
}

static int
token_revoke(cli_t *c, cli_args_t *a)
{
    const char *pos[3];
    if (cli_unknown_option(a) != NULL || cli_positional(a, pos, 3) != 2) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat token revoke NAME");
    }
    webtok_err_t err = webtok_revoke(c->dir, pos[1]);
    if (err == WEBTOK_ENOTFOUND) {
        return cli_fail(c, CLI_EXIT_NOTFOUND, "no token named '%s' (samizdat token list)", pos[1]);
    }
    if (err != WEBTOK_OK) {
        return cli_fail(c, CLI_EXIT_ERROR, "token revoke: %s", webtok_strerror(err));
    }
    if (!c->json) {
        fprintf(c->out, "token '%s' revoked\n", pos[1]);
    }
    return CLI_EXIT_OK;
}

int
cli_cmd_token(cli_t *c, cli_args_t *a)
{
    const char *pos[1];
    int n = cli_positional(a, pos, 1);
    if (n >= 1 && strcmp(pos[0], "create") == 0) {
        return token_create(c, a);
    }
    if (n >= 1 && strcmp(pos[0], "list") == 0) {
        return token_list(c, a);
    }
    if (n >= 1 && strcmp(pos[0], "revoke") == 0) {
        return token_revoke(c, a);
    }
    return cli_fail(c, CLI_EXIT_USAGE,
                    "usage: samizdat token create --scope read|post|admin --name NAME | "
                    "token list | token revoke NAME");
}

int
cli_cmd_thread(cli_t *c, cli_args_t *a)
{
    const char *pos[1];
    app_request_t req = {.op = APP_OP_THREAD};
    int rc = cli_take_args(c, a, "thread", pos, 1);
    if (rc == CLI_EXIT_OK) {
        rc = cli_parse_post_id(c, pos[0], req.u.show.id);
    }
    app_result_t *res = NULL;
    if (rc == CLI_EXIT_OK) {
        rc = cli_call(c, &req, &res);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (c->json) {
        cli_print_json(c, res, NULL);
        app_result_free(res);
        return CLI_EXIT_OK;
    }
    const app_thread_t *t = &res->u.thread;
    if (t->has_parent) {
        fputs("in reply to:\n", c->out);
        cli_print_post(c, &t->parent);
        fputs("\n", c->out);
    }
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i].depth > 0) {
            fprintf(c->out, "%*s-> reply, level %u:\n", (int)(2 * t->items[i].depth), "",
                    (unsigned)t->items[i].depth);
        }
        cli_print_post(c, &t->items[i].post);
    }
    if (t->truncated) {
        fputs("(more replies than shown: run thread on a reply to see below it)\n", c->out);
    }
    app_result_free(res);
    return CLI_EXIT_OK;
}
