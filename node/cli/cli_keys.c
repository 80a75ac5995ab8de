/* init and whoami: keys only, never through the node. */
#include <string.h>

#include "bytes.h"
#include "cli_int.h"
#include "keytext.h"
#include "qr.h"

static int
no_extra(cli_t *c, cli_args_t *a, const char *usage_name, int want)
{
    const char *unknown = cli_unknown_option(a);
    const char *pos[1];
    if (unknown != NULL) {
        return cli_fail(c, CLI_EXIT_USAGE, "%s: unknown option %s", usage_name, unknown);
    }
    if (cli_positional(a, pos, 1) != want) {
        return cli_fail(c, CLI_EXIT_USAGE, "%s: wrong number of arguments (see samizdat %s --help)",
                        usage_name, usage_name);
    }
    return CLI_EXIT_OK;
}

static int
print_keys(cli_t *c)
{
    uint8_t pk[KEYS_PUBLIC_SIZE];
    int rc = cli_author_public(c, pk);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    char path[DATADIR_PATH_MAX];
    keys_node_t n;
    datadir_path(path, sizeof path, c->dir, "node.key");
    keys_err_t err = keys_node_load(path, &n);
    if (err != KEYS_OK) {
        return cli_fail(c, CLI_EXIT_ERROR, "%s: %s", path, keys_strerror(err));
    }
    char at[KEYTEXT_BUFSZ], nt[KEYTEXT_BUFSZ];
    keytext_encode(at, KEYTEXT_AUTHOR, pk);
    keytext_encode(nt, KEYTEXT_NODE, n.pk);
    keys_node_wipe(&n);
    fprintf(c->out, "author key: %s\nnode key:   %s\ndata:       %s\n", at, nt, c->dir);
    return CLI_EXIT_OK;
}

int
cli_cmd_init(cli_t *c, cli_args_t *a)
{
    bool sealed = cli_flag(a, "--passphrase");
    int rc = no_extra(c, a, "init", 0);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    char path[DATADIR_PATH_MAX];
    datadir_path(path, sizeof path, c->dir, "author.key");
    uint8_t pk[KEYS_PUBLIC_SIZE];
    bool was_sealed;
    if (keys_author_load_public(path, pk, &was_sealed) != KEYS_ENOENT) {
        return cli_fail(c, CLI_EXIT_ERROR, "%s already holds an author key; refusing to replace it",
                        c->dir);
    }
    bool created = false;
    rc = cli_ensure_keys(c, sealed, &created);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    fprintf(c->out, "created your keys%s\n",
            sealed ? " (author key sealed with a passphrase)" : "");
    rc = print_keys(c);
    if (rc == CLI_EXIT_OK) {
        fputs("share your author key so people can follow you: samizdat whoami\n", c->out);
    }
    return rc;
}

int
cli_print_qr(cli_t *c, const char *t)
{
    char *drawing = NULL;
    qr_err_t err = qr_render(t, qr_utf8_locale() ? QR_UTF8 : QR_ASCII, &drawing, NULL);
    if (err != QR_OK) {
        return cli_fail(c, CLI_EXIT_ERROR, "QR code: %s", qr_strerror(err));
    }
    fprintf(c->out, "%s%s\n", drawing, t);
    qr_free(drawing);
    return CLI_EXIT_OK;
}

/* The key as a QR code to scan with a phone, then as text. */
static int
print_key_qr(cli_t *c, keytext_kind_t kind, const uint8_t *v)
{
    char t[KEYTEXT_BUFSZ];
    keytext_encode(t, kind, v);
    return cli_print_qr(c, t);
}

int
cli_cmd_whoami(cli_t *c, cli_args_t *a)
{
    bool node = cli_flag(a, "--node");
    bool qr = cli_flag(a, "--qr");
    int rc = no_extra(c, a, "whoami", 0);
    if (rc == CLI_EXIT_OK && qr && c->json) {
        rc = cli_fail(c, CLI_EXIT_USAGE, "whoami: --qr draws for a terminal; not with --json");
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (!node) {
        uint8_t pk[KEYS_PUBLIC_SIZE];
        rc = cli_author_public(c, pk);
        if (rc == CLI_EXIT_OK && qr) {
            return print_key_qr(c, KEYTEXT_AUTHOR, pk);
        }
        if (rc == CLI_EXIT_OK) {
            cli_print_key(c, "author", KEYTEXT_AUTHOR, pk);
        }
        return rc;
    }
    char path[DATADIR_PATH_MAX];
    datadir_path(path, sizeof path, c->dir, "node.key");
    keys_node_t n;
    keys_err_t err = keys_node_load(path, &n);
    if (err == KEYS_ENOENT) {
        return cli_fail(c, CLI_EXIT_ERROR, "no key in %s: run `samizdat init` first", c->dir);
    }
    if (err != KEYS_OK) {
        return cli_fail(c, CLI_EXIT_ERROR, "%s: %s", path, keys_strerror(err));
    }
    if (qr) {
        rc = print_key_qr(c, KEYTEXT_NODE, n.pk);
    } else {
        cli_print_key(c, "node", KEYTEXT_NODE, n.pk);
    }
    keys_node_wipe(&n);
    return rc;
}
