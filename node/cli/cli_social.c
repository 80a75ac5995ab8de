/* follow, unfollow, following, block, unblock, blocked. */
#include <string.h>

#include "cli_int.h"
#include "keytext.h"
#include "node.h"
#include "text.h"

/* Runs op on the one AUTHOR argument. */
static int
author_call(cli_t *c, cli_args_t *a, const char *name, app_op_t op, app_result_t **res)
{
    *res = NULL;
    const char *unknown = cli_unknown_option(a);
    if (unknown != NULL) {
        return cli_fail(c, CLI_EXIT_USAGE, "%s: unknown option %s", name, unknown);
    }
    const char *pos[1];
    if (cli_positional(a, pos, 1) != 1) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat %s AUTHOR", name);
    }
    app_request_t req = {.op = op};
    int rc = cli_parse_author(c, pos[0], req.u.author.author);
    return rc == CLI_EXIT_OK ? cli_call(c, &req, res) : rc;
}

static void
print_lookup_line(cli_t *c, const app_lookup_t *l)
{
    if (l->n_providers == 0 && !l->has_head) {
        fputs("no node in the network replicates this feed yet; the node will keep looking\n",
              c->out);
        return;
    }
    fprintf(c->out, "found %zu %s that %s this feed", l->n_providers,
            cli_plural(l->n_providers, "node", "nodes"),
            cli_plural(l->n_providers, "replicates", "replicate"));
    if (l->has_head) {
        fprintf(c->out, "; latest post #%llu", (unsigned long long)l->head_seq);
        if (l->head_seq >= NODE_PROGRESS_MIN) {
            fputs("; the newest posts come first, the rest in the background "
                  "(the node's log shows the progress)",
                  c->out);
        }
    }
    fputc('\n', c->out);
}

static int
author_cmd(cli_t *c, cli_args_t *a, const char *name, app_op_t op, const char *verb)
{
    app_result_t *res = NULL;
    int rc = author_call(c, a, name, op, &res);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (c->json) {
        cli_print_json(c, res, NULL);
        app_result_free(res);
        return CLI_EXIT_OK;
    }
    char t[KEYTEXT_BUFSZ];
    keytext_encode(t, KEYTEXT_AUTHOR, res->u.author.author.author);
    if (op == APP_OP_BLOCK) {
        fprintf(c->out, "removed %llu stored %s\n", (unsigned long long)res->u.author.purged,
                cli_plural(res->u.author.purged, "post", "posts"));
    }
    fprintf(c->out, "%s %s\n", verb, t);
    if (op == APP_OP_FOLLOW && res->u.author.looked_up) {
        print_lookup_line(c, &res->u.author.lookup);
    }
    app_result_free(res);
    return CLI_EXIT_OK;
}

int
cli_cmd_follow(cli_t *c, cli_args_t *a)
{
    return author_cmd(c, a, "follow", APP_OP_FOLLOW, "following");
}

int
cli_cmd_unfollow(cli_t *c, cli_args_t *a)
{
    return author_cmd(c, a, "unfollow", APP_OP_UNFOLLOW, "unfollowed");
}

int
cli_cmd_block(cli_t *c, cli_args_t *a)
{
    return author_cmd(c, a, "block", APP_OP_BLOCK, "blocked");
}

int
cli_cmd_unblock(cli_t *c, cli_args_t *a)
{
    return author_cmd(c, a, "unblock", APP_OP_UNBLOCK, "unblocked");
}

static int
list_authors(cli_t *c, cli_args_t *a, const char *name, app_op_t op)
{
    const char *unknown = cli_unknown_option(a);
    const char *pos[1];
    if (unknown != NULL || cli_positional(a, pos, 1) != 0) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat %s [--json]", name);
    }
    app_request_t req = {.op = op};
    app_result_t *res = NULL;
    int rc = cli_call(c, &req, &res);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (c->json) {
        cli_print_json(c, res, NULL);
        app_result_free(res);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < res->u.list.n; i++) {
        const app_author_t *e = &res->u.list.authors[i];
        char t[KEYTEXT_BUFSZ];
        keytext_encode(t, KEYTEXT_AUTHOR, e->author);
        char shown[TEXT_SAFE_SIZE(POST_NAME_MAX)]; /* bidi controls escaped (text.h) */
        text_safe(shown, sizeof shown, e->has_name ? e->name : "",
                  e->has_name ? strlen(e->name) : 0, TEXT_LINE);
        fprintf(c->out, "%s%s%s\n", t, e->has_name ? "  " : "", shown);
    }
    if (res->u.list.n == 0) {
        fprintf(c->out, "%s\n",
                op == APP_OP_BLOCKED ? "no blocked authors" : "you follow nobody yet");
    }
    app_result_free(res);
    return CLI_EXIT_OK;
}

int
cli_cmd_following(cli_t *c, cli_args_t *a)
{
    return list_authors(c, a, "following", APP_OP_FOLLOWING);
}

int
cli_cmd_blocked(cli_t *c, cli_args_t *a)
{
    return list_authors(c, a, "blocked", APP_OP_BLOCKED);
}
