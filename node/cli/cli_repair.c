/* repair: a damaged store made whole again (app_repair). */
#include <stdio.h>
#include <time.h>

#include "cli_int.h"

int
cli_cmd_repair(cli_t *c, cli_args_t *a)
{
    const char *pos[1];
    if (cli_unknown_option(a) != NULL || cli_positional(a, pos, 1) != 0) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat repair");
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    app_repair_report_t r;
    char msg[APP_MSG_MAX];
    app_err_t err = app_repair(c->dir, now_ms, &r, msg, sizeof msg);
    if (err != APP_OK) {
        return cli_fail(c, cli_exit_code(err), "%s", msg);
    }
    fprintf(c->out,
            "repaired the store in %s: %llu %s kept, %llu refused; %llu %s, %llu %s, %llu "
            "%s kept\nthe damaged database is kept in %s (remove it when all is well)\n",
            c->dir, (unsigned long long)r.posts_kept, cli_plural(r.posts_kept, "post", "posts"),
            (unsigned long long)r.posts_refused, (unsigned long long)r.follows,
            cli_plural(r.follows, "follow", "follows"), (unsigned long long)r.blocks,
            cli_plural(r.blocks, "block", "blocks"), (unsigned long long)r.peers,
            cli_plural(r.peers, "peer", "peers"), r.old_dir);
    if (r.posts_refused > 0 || r.records_skipped > 0) {
        fputs("posts that could not be kept come back from peers once the node runs\n",
              c->out);
    }
    return CLI_EXIT_OK;
}
