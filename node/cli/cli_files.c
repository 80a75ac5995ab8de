/* export and import: a feed as a file, so feeds can travel on a USB stick.
 * The app reads and writes the files; a relative path is made absolute
 * here, because a running node has its own working directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"

/* path made absolute; returns a string to free, or NULL (printed). */
static char *
absolute(cli_t *c, const char *path)
{
    char *cwd = path[0] == '/' ? NULL : getcwd(NULL, 0);
    if (path[0] != '/' && cwd == NULL) {
        cli_fail(c, CLI_EXIT_ERROR, "cannot find the working directory: %s", strerror(errno));
        return NULL;
    }
    size_t n = (cwd ? strlen(cwd) + 1 : 0) + strlen(path) + 1;
    char *out = malloc(n);
    if (out == NULL) {
        cli_fail(c, CLI_EXIT_ERROR, "out of memory");
    } else {
        snprintf(out, n, "%s%s%s", cwd ? cwd : "", cwd ? "/" : "", path);
    }
    free(cwd);
    return out;
}

int
cli_cmd_export(cli_t *c, cli_args_t *a)
{
    bool force = cli_flag(a, "--force");
    const char *unknown = cli_unknown_option(a);
    const char *pos[2];
    if (unknown != NULL || cli_positional(a, pos, 2) != 2) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat export AUTHOR FILE [--force]");
    }
    app_request_t req = {.op = APP_OP_EXPORT};
    req.u.export_.force = force;
    int rc = cli_parse_author(c, pos[0], req.u.export_.author);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    bool to_stdout = strcmp(pos[1], "-") == 0;
    char *path = NULL;
    if (!to_stdout && (path = absolute(c, pos[1])) == NULL) {
        return CLI_EXIT_ERROR;
    }
    req.u.export_.path = path;
    app_result_t *res = NULL;
    rc = cli_call(c, &req, &res);
    free(path);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (to_stdout) {
        size_t n = res->u.export_.data_len;
        if (fwrite(res->u.export_.data, 1, n, c->out) != n || fflush(c->out) != 0) {
            rc = cli_fail(c, CLI_EXIT_ERROR, "cannot write standard output");
        }
    } else if (c->json) {
        cli_print_json(c, res, NULL);
    } else {
        fprintf(c->out, "exported %llu %s to %s\n", (unsigned long long)res->u.export_.posts,
                cli_plural(res->u.export_.posts, "post", "posts"), pos[1]);
    }
    app_result_free(res);
    return rc;
}

/* All of standard input, at most APP_IMPORT_DATA_MAX bytes. */
static int
slurp(cli_t *c, uint8_t **out, size_t *len)
{
    size_t cap = 65536, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf != NULL) {
        if (n == cap) {
            if (cap > APP_IMPORT_DATA_MAX) {
                free(buf);
                return cli_fail(c, CLI_EXIT_BADINPUT,
                                "standard input holds more than %d MiB; give a file name instead",
                                APP_IMPORT_DATA_MAX / (1024 * 1024));
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, c->in);
        n += got;
        if (got == 0) {
            if (ferror(c->in)) {
                free(buf);
                return cli_fail(c, CLI_EXIT_ERROR, "cannot read standard input");
            }
            *out = buf;
            *len = n;
            return n > APP_IMPORT_DATA_MAX
                       ? (free(buf), cli_fail(c, CLI_EXIT_BADINPUT,
                                              "standard input holds more than %d MiB; give a "
                                              "file name instead",
                                              APP_IMPORT_DATA_MAX / (1024 * 1024)))
                       : CLI_EXIT_OK;
        }
    }
    free(buf);
    return cli_fail(c, CLI_EXIT_ERROR, "out of memory");
}

static void
print_import(cli_t *c, const char *path, const app_result_t *res)
{
    const app_import_report_t *im = &res->u.import;
    for (size_t i = 0; i < im->n_refusals; i++) {
        fprintf(c->err, "samizdat: record %llu refused: %s\n",
                (unsigned long long)im->refusals[i].record, im->refusals[i].why);
    }
    if (c->json) {
        cli_print_json(c, res, path);
        return;
    }
    fprintf(c->out,
            "%s: %llu %s read: %llu added, %llu already here, %llu kept as fork evidence, "
            "%llu refused\n",
            path, (unsigned long long)im->records, cli_plural(im->records, "post", "posts"),
            (unsigned long long)im->added, (unsigned long long)im->duplicates,
            (unsigned long long)im->forks, (unsigned long long)im->refused);
}

int
cli_cmd_import(cli_t *c, cli_args_t *a)
{
    const char *unknown = cli_unknown_option(a);
    const char *pos[1];
    if (unknown != NULL || cli_positional(a, pos, 1) != 1) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat import FILE");
    }
    app_request_t req = {.op = APP_OP_IMPORT};
    uint8_t *data = NULL;
    char *path = NULL;
    int rc = CLI_EXIT_OK;
    if (strcmp(pos[0], "-") == 0) {
        rc = slurp(c, &data, &req.u.import.data_len);
        req.u.import.data = data;
    } else if ((path = absolute(c, pos[0])) == NULL) {
        rc = CLI_EXIT_ERROR;
    }
    req.u.import.path = path;
    app_result_t *res = NULL;
    if (rc == CLI_EXIT_OK) {
        rc = cli_call(c, &req, &res);
    }
    free(data);
    free(path);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    print_import(c, pos[0], res);
    const app_import_report_t *im = &res->u.import;
    if (!im->complete) {
        rc = cli_fail(c, CLI_EXIT_BADINPUT, "%s: stopped after record %llu: %s", pos[0],
                      (unsigned long long)im->records, im->malformed);
    } else if (im->refused > 0) {
        rc = CLI_EXIT_BADINPUT;
    }
    app_result_free(res);
    return rc;
}
