/* Steps the commands share: opening the store, loading keys, parsing the
 * text forms, and printing posts. */
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "appjson.h"
#include "bytes.h"
#include "cli_int.h"
#include "json.h"
#include "keytext.h"
#include "term.h"
#include "text.h"

static int
key_path(cli_t *c, char *out, size_t cap, const char *name)
{
    if (datadir_path(out, cap, c->dir, name) != DATADIR_OK) {
        return cli_fail(c, CLI_EXIT_ERROR, "data directory path is too long");
    }
    return CLI_EXIT_OK;
}

int
cli_keys_error(cli_t *c, keys_err_t err, const char *path)
{
    switch (err) {
    case KEYS_ENOENT:
        return cli_fail(c, CLI_EXIT_ERROR, "no key in %s: run `samizdat init` first", c->dir);
    case KEYS_EPASSPHRASE:
    case KEYS_ECORRUPT:
    case KEYS_ETOOLONG:
        return cli_fail(c, CLI_EXIT_BADINPUT, "%s: %s", path, keys_strerror(err));
    case KEYS_EIO:
        return cli_fail(c, CLI_EXIT_ERROR, "%s: %s: %s", path, keys_strerror(err), strerror(errno));
    default:
        return cli_fail(c, CLI_EXIT_ERROR, "%s: %s", path, keys_strerror(err));
    }
}

int
cli_author_public(cli_t *c, uint8_t pk[static KEYS_PUBLIC_SIZE])
{
    char path[DATADIR_PATH_MAX];
    int rc = key_path(c, path, sizeof path, "author.key");
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    bool sealed = false;
    keys_err_t err = keys_author_load_public(path, pk, &sealed);
    return err == KEYS_OK ? CLI_EXIT_OK : cli_keys_error(c, err, path);
}

int
cli_load_author(cli_t *c, keys_author_t *out)
{
    char path[DATADIR_PATH_MAX];
    int rc = key_path(c, path, sizeof path, "author.key");
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    keys_err_t err = keys_author_load(path, NULL, out);
    if (err != KEYS_ENEEDPASS) {
        return err == KEYS_OK ? CLI_EXIT_OK : cli_keys_error(c, err, path);
    }
    char pass[KEYS_PASSPHRASE_MAX + 1];
    term_err_t terr = term_read_passphrase(pass, sizeof pass, "Passphrase: ", 0);
    if (terr != TERM_OK) {
        return cli_fail(c, terr == TERM_EINTR ? CLI_EXIT_ERROR : CLI_EXIT_BADINPUT,
                        "the author key is sealed: %s", term_strerror(terr));
    }
    err = keys_author_load(path, pass, out);
    sodium_memzero(pass, sizeof pass);
    return err == KEYS_OK ? CLI_EXIT_OK : cli_keys_error(c, err, path);
}

/* Creates whichever key file is missing. */
int
cli_ensure_keys(cli_t *c, bool sealed, bool *created)
{
    datadir_err_t derr = datadir_ensure(c->dir);
    if (derr != DATADIR_OK) {
        return cli_fail(c, CLI_EXIT_ERROR, "%s: %s", c->dir, datadir_strerror(derr));
    }
    char apath[DATADIR_PATH_MAX], npath[DATADIR_PATH_MAX];
    int rc = key_path(c, apath, sizeof apath, "author.key");
    if (rc == CLI_EXIT_OK) {
        rc = key_path(c, npath, sizeof npath, "node.key");
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    *created = false;
    uint8_t pk[KEYS_PUBLIC_SIZE];
    bool was_sealed;
    keys_err_t err = keys_author_load_public(apath, pk, &was_sealed);
    if (err == KEYS_ENOENT) {
        char pass[KEYS_PASSPHRASE_MAX + 1] = "";
        if (sealed) {
            term_err_t terr = term_read_passphrase(pass, sizeof pass, "New passphrase: ", 1);
            if (terr != TERM_OK) {
                return cli_fail(c, CLI_EXIT_BADINPUT, "%s", term_strerror(terr));
            }
        }
        keys_author_t k;
        keys_author_generate(&k);
        err = keys_author_save(apath, &k, sealed ? pass : NULL, NULL);
        keys_author_wipe(&k);
        sodium_memzero(pass, sizeof pass);
        *created = true;
    }
    if (err != KEYS_OK) {
        return cli_keys_error(c, err, apath);
    }
    keys_node_t n;
    err = keys_node_load(npath, &n);
    if (err == KEYS_ENOENT) {
        keys_node_generate(&n);
        err = keys_node_save(npath, &n);
        *created = true;
    }
    keys_node_wipe(&n);
    return err == KEYS_OK ? CLI_EXIT_OK : cli_keys_error(c, err, npath);
}

static int
parse_text(cli_t *c, const char *text, keytext_kind_t kind, uint8_t out[static KEYS_PUBLIC_SIZE])
{
    char msg[1024];
    return app_key_parse(text, kind, out, msg, sizeof msg)
               ? CLI_EXIT_OK
               : cli_fail(c, CLI_EXIT_BADINPUT, "%s", msg);
}

int
cli_parse_author(cli_t *c, const char *text, uint8_t out[static KEYS_PUBLIC_SIZE])
{
    return parse_text(c, text, KEYTEXT_AUTHOR, out);
}

int
cli_parse_post_id(cli_t *c, const char *text, uint8_t out[static POST_ID_SIZE])
{
    return parse_text(c, text, KEYTEXT_POST, out);
}

void
cli_print_key(cli_t *c, const char *label, keytext_kind_t kind, const uint8_t *v)
{
    char t[KEYTEXT_BUFSZ];
    keytext_encode(t, kind, v);
    if (c->json) {
        fprintf(c->out, "{\"%s\":\"%s\"}\n", label, t);
    } else {
        fprintf(c->out, "%s\n", t);
    }
}

const char *
cli_plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

int
cli_get_limit(cli_t *c, cli_args_t *a, uint32_t *limit)
{
    bool bad = false;
    const char *v = cli_value(a, "--limit", &bad);
    uint64_t n = CLI_PAGE_DEFAULT;
    if (bad || (v != NULL && (!cli_parse_u64(v, &n) || n == 0 || n > APP_PAGE_MAX))) {
        return cli_fail(c, CLI_EXIT_USAGE, "--limit takes a number from 1 to %d", APP_PAGE_MAX);
    }
    *limit = (uint32_t)n;
    return CLI_EXIT_OK;
}

int
cli_take_args(cli_t *c, cli_args_t *a, const char *name, const char **pos, int want)
{
    const char *unknown = cli_unknown_option(a);
    if (unknown != NULL) {
        return cli_fail(c, CLI_EXIT_USAGE, "%s: unknown option %s", name, unknown);
    }
    int n = cli_positional(a, pos, want);
    if (n != want) {
        return cli_fail(c, CLI_EXIT_USAGE,
                        "%s: expected %d argument%s, got %d (see samizdat %s --help)", name, want,
                        want == 1 ? "" : "s", n, name);
    }
    return CLI_EXIT_OK;
}

void
cli_print_json(cli_t *c, const app_result_t *res, const char *path_hint)
{
    app_json_result(c->out, res, path_hint);
    fputc('\n', c->out);
}

void
cli_format_time(char *out, size_t cap, uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, cap, "%Y-%m-%d %H:%M:%SZ", &tm) == 0) {
        snprintf(out, cap, "%llu ms", (unsigned long long)ms);
    }
}

/* A body, each line indented, made safe for the terminal (text.h: bidi
 * controls escaped). */
static void
print_text_lines(FILE *f, const char *s)
{
    fputs("    ", f);
    for (;;) {
        const char *nl = strchr(s, '\n');
        (void)text_fput(f, s, nl != NULL ? (size_t)(nl - s) + 1 : strlen(s), TEXT_BODY);
        if (nl == NULL || nl[1] == '\0') {
            break;
        }
        s = nl + 1;
        fputs("    ", f);
    }
    fputc('\n', f);
}

void
cli_print_post(cli_t *c, const app_post_t *ap)
{
    const post_t *p = &ap->post;
    char when[64], id[KEYTEXT_BUFSZ], ref[KEYTEXT_BUFSZ];
    char shown[TEXT_SAFE_SIZE(POST_NAME_MAX)]; /* a peer's name, bidi controls escaped */
    cli_format_time(when, sizeof when, p->timestamp_ms);
    keytext_encode(id, KEYTEXT_POST, p->id);
    keytext_encode(ref, KEYTEXT_POST, p->ref);
    text_safe(shown, sizeof shown, ap->display_name, strlen(ap->display_name), TEXT_LINE);
    fprintf(c->out, "%s  %s  #%llu  %s\n", when, shown, (unsigned long long)p->seq, id);
    if (p->kind == POST_KIND_REPLY) {
        fprintf(c->out, "    reply to %s\n", ref);
    } else if (p->kind == POST_KIND_DELETE) {
        fprintf(c->out, "    deletes %s\n", ref);
    } else if (p->kind == POST_KIND_PROFILE) {
        text_safe(shown, sizeof shown, p->name, p->name_len, TEXT_LINE);
        fprintf(c->out, "    profile: name \"%s\"\n", shown);
    }
    if (ap->deleted) {
        fputs("    [deleted by its author]\n", c->out);
    } else if (p->body_len > 0) {
        print_text_lines(c->out, p->body);
    }
    fputc('\n', c->out);
}
