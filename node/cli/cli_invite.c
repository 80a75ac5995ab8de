/* invite, join: the way in for a newcomer. */
#include <string.h>

#include "cli_int.h"
#include "invite.h"

int
cli_cmd_invite(cli_t *c, cli_args_t *a)
{
    bool no_author = cli_flag(a, "--no-author");
    bool qr = cli_flag(a, "--qr");
    const char *pos[1];
    if (cli_unknown_option(a) != NULL || cli_positional(a, pos, 1) != 0) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat invite [--no-author] [--qr] [--json]");
    }
    if (qr && c->json) {
        return cli_fail(c, CLI_EXIT_USAGE, "invite: --qr draws for a terminal; not with --json");
    }
    app_request_t req = {.op = APP_OP_INVITE};
    req.u.invite.no_author = no_author;
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
    const invite_t *inv = &res->u.invite.invite;
    if (qr) {
        rc = cli_print_qr(c, res->u.invite.text);
    } else {
        fprintf(c->out, "%s\n", res->u.invite.text);
    }
    if (rc == CLI_EXIT_OK) {
        /* What it holds, on stderr: a script takes stdout as the invite. */
        fprintf(c->err, "The other person runs: samizdat join INVITE\nIt names ");
        for (size_t i = 0; i < inv->n_endpoints; i++) {
            fprintf(c->err, "%s%s", i ? ", " : "", inv->endpoints[i]);
        }
        fprintf(c->err, "%s\n", inv->has_author ? " and your author key (they will follow you)"
                                                : "");
    }
    app_result_free(res);
    return rc;
}

static void
print_joined(cli_t *c, const app_join_t *j)
{
    if (j->connected) {
        fprintf(c->out, "connected to %s", j->endpoint);
        if (j->rtt_us >= 0) {
            fprintf(c->out, " (round trip %.3f ms)", (double)j->rtt_us / 1000.0);
        }
        fputc('\n', c->out);
    } else {
        fprintf(c->out, "saved the invite's node; the node will connect when it next starts\n");
    }
    if (j->followed) {
        const app_author_t *au = &j->author;
        char t[KEYTEXT_BUFSZ];
        keytext_encode(t, KEYTEXT_AUTHOR, au->author);
        fprintf(c->out, "following %s%s%s%s\n", t, au->has_name ? " (" : "",
                au->has_name ? au->name : "", au->has_name ? ")" : "");
    }
}

int
cli_cmd_join(cli_t *c, cli_args_t *a)
{
    bool bad = false;
    const char *t = cli_value(a, "--timeout", &bad);
    const char *pos[2];
    if (bad || cli_unknown_option(a) != NULL || cli_positional(a, pos, 2) != 1) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat join INVITE [--timeout SECONDS]");
    }
    uint64_t secs = APP_PEER_WAIT_MS / 1000;
    if (t != NULL &&
        (!cli_parse_u64(t, &secs) || secs == 0 || secs > APP_PEER_WAIT_MAX_MS / 1000)) {
        return cli_fail(c, CLI_EXIT_USAGE, "--timeout takes a number of seconds from 1 to %d",
                        APP_PEER_WAIT_MAX_MS / 1000);
    }
    /* Judged here too, so a mistyped invite is refused before anything is
     * started; the app judges it again for its other callers. */
    invite_t inv;
    keytext_err_t kerr = KEYTEXT_OK;
    invite_err_t ierr = invite_decode(pos[0], &inv, &kerr);
    if (ierr != INVITE_OK) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "not a valid invite: %s",
                        ierr == INVITE_ETEXT ? invite_text_strerror(kerr)
                                             : invite_strerror(ierr));
    }
    app_request_t req = {.op = APP_OP_JOIN};
    req.u.join.invite = pos[0];
    req.u.join.timeout_ms = (uint32_t)(secs * 1000);
    if (!c->json && cli_node_running(c)) {
        fprintf(c->out, "connecting to %s ...\n", inv.endpoints[0]);
        fflush(c->out);
    }
    app_result_t *res = NULL;
    int rc = cli_call(c, &req, &res);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (c->json) {
        cli_print_json(c, res, NULL);
    } else {
        print_joined(c, &res->u.join);
    }
    app_result_free(res);
    return CLI_EXIT_OK;
}
