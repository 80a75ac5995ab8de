/* post, reply, delete, profile, feed, show, timeline. */
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "cli_int.h"
#include "node.h"
#include "keytext.h"

/* Checks options and takes exactly `want` positional words into pos. */
static int
take_args(cli_t *c, cli_args_t *a, const char *name, const char **pos, int want)
{
    const char *unknown = cli_unknown_option(a);
    if (unknown != NULL) {
        return cli_fail(c, CLI_EXIT_USAGE, "%s: unknown option %s", name, unknown);
    }
    int n = cli_positional(a, pos, want);
    if (n != want) {
        return cli_fail(c, CLI_EXIT_USAGE,
                        "%s: expected %d argument%s, got %d (see samizdat %s --help)", name,
                        want, want == 1 ? "" : "s", n, name);
    }
    return CLI_EXIT_OK;
}

/* Reads the body from standard input when text is "-". */
static int
get_text(cli_t *c, const char *text, char *buf, size_t cap, size_t *len)
{
    if (strcmp(text, "-") != 0) {
        *len = strlen(text);
        if (*len > POST_BODY_MAX) {
            return cli_fail(c, CLI_EXIT_BADINPUT, "the text is %zu bytes; the limit is %d",
                            *len, POST_BODY_MAX);
        }
        memcpy(buf, text, *len + 1);
        return CLI_EXIT_OK;
    }
    *len = fread(buf, 1, cap - 1, c->in);
    if (ferror(c->in)) {
        return cli_fail(c, CLI_EXIT_ERROR, "cannot read standard input");
    }
    if (*len > 0 && buf[*len - 1] == '\n') {
        (*len)--;
    }
    if (*len > POST_BODY_MAX || !feof(c->in)) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "the text is longer than %d bytes", POST_BODY_MAX);
    }
    buf[*len] = '\0';
    return CLI_EXIT_OK;
}

static int
set_body(cli_t *c, post_t *p, const char *text)
{
    char buf[POST_BODY_MAX + 2];
    size_t len = 0;
    int rc = get_text(c, text, buf, sizeof buf, &len);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (memchr(buf, '\0', len) != NULL) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "the text holds a NUL byte");
    }
    post_err_t err = post_set_body(p, buf, len);
    if (err != POST_OK) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "cannot post this text: %s", post_strerror(err));
    }
    return CLI_EXIT_OK;
}

/* Signs and stores a draft, then prints its id. */
static int
publish(cli_t *c, post_t *draft)
{
    keys_author_t k;
    int rc = cli_load_author(c, &k);
    if (rc == CLI_EXIT_OK) {
        rc = cli_open_store(c);
    }
    if (rc != CLI_EXIT_OK) {
        keys_author_wipe(&k);
        return rc;
    }
    post_err_t perr = POST_OK;
    store_err_t err = store_publish(c->store, &k, draft, &perr);
    keys_author_wipe(&k);
    if (err == STORE_EINVAL) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "cannot sign: %s", post_strerror(perr));
    }
    if (err != STORE_OK) {
        return cli_store_error(c, err, "publish");
    }
    if (c->node != NULL) {
        node_published(c->node, draft);
    }
    char id[KEYTEXT_BUFSZ];
    keytext_encode(id, KEYTEXT_POST, draft->id);
    if (c->json) {
        fprintf(c->out, "{\"id\":\"%s\",\"seq\":%llu,\"kind\":\"%s\"}\n", id,
                (unsigned long long)draft->seq, post_kind_name(draft->kind));
    } else {
        fprintf(c->out, "published %s #%llu %s\n", post_kind_name(draft->kind),
                (unsigned long long)draft->seq, id);
    }
    return CLI_EXIT_OK;
}

int
cli_cmd_post(cli_t *c, cli_args_t *a)
{
    const char *pos[1];
    int rc = take_args(c, a, "post", pos, 1);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    post_t draft;
    post_init(&draft, POST_KIND_POST, 0, NULL, cli_now_ms());
    rc = set_body(c, &draft, pos[0]);
    return rc == CLI_EXIT_OK ? publish(c, &draft) : rc;
}

int
cli_cmd_reply(cli_t *c, cli_args_t *a)
{
    const char *pos[2];
    int rc = take_args(c, a, "reply", pos, 2);
    post_t draft;
    post_init(&draft, POST_KIND_REPLY, 0, NULL, cli_now_ms());
    if (rc == CLI_EXIT_OK) {
        rc = cli_parse_post_id(c, pos[0], draft.ref);
    }
    if (rc == CLI_EXIT_OK) {
        rc = set_body(c, &draft, pos[1]);
    }
    return rc == CLI_EXIT_OK ? publish(c, &draft) : rc;
}

int
cli_cmd_delete(cli_t *c, cli_args_t *a)
{
    const char *pos[1];
    int rc = take_args(c, a, "delete", pos, 1);
    post_t draft;
    post_init(&draft, POST_KIND_DELETE, 0, NULL, cli_now_ms());
    uint8_t self[32];
    if (rc == CLI_EXIT_OK) {
        rc = cli_parse_post_id(c, pos[0], draft.ref);
    }
    if (rc == CLI_EXIT_OK) {
        rc = cli_author_public(c, self);
    }
    if (rc == CLI_EXIT_OK) {
        rc = cli_open_store(c);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    post_t target;
    store_err_t err = store_get_post(c->store, draft.ref, &target, NULL, NULL);
    if (err != STORE_OK) {
        return cli_store_error(c, err, pos[0]);
    }
    if (memcmp(target.author, self, 32) != 0) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "%s is not your post; you can delete only your own",
                        pos[0]);
    }
    return publish(c, &draft);
}

int
cli_cmd_profile(cli_t *c, cli_args_t *a)
{
    bool bad = false;
    const char *name = cli_value(a, "--name", &bad);
    const char *bio = cli_value(a, "--bio", &bad);
    const char *pos[1];
    int rc = bad ? cli_fail(c, CLI_EXIT_USAGE, "profile: an option is missing its value")
                 : take_args(c, a, "profile", pos, 0);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (name == NULL || name[0] == '\0') {
        return cli_fail(c, CLI_EXIT_USAGE, "profile: --name NAME is required");
    }
    post_t draft;
    post_init(&draft, POST_KIND_PROFILE, 0, NULL, cli_now_ms());
    post_err_t err = post_set_name(&draft, name, strlen(name));
    if (err != POST_OK) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "name: %s (at most %d bytes, no control characters)",
                        post_strerror(err), POST_NAME_MAX);
    }
    if (bio != NULL) {
        rc = set_body(c, &draft, bio);
    }
    return rc == CLI_EXIT_OK ? publish(c, &draft) : rc;
}

/* Reads --limit; 0 means the default page. */
static int
get_limit(cli_t *c, cli_args_t *a, uint64_t *limit)
{
    bool bad = false;
    const char *v = cli_value(a, "--limit", &bad);
    *limit = CLI_PAGE_DEFAULT;
    if (bad || (v != NULL && (!cli_parse_u64(v, limit) || *limit == 0 || *limit > 100000))) {
        return cli_fail(c, CLI_EXIT_USAGE, "--limit takes a number from 1 to 100000");
    }
    return CLI_EXIT_OK;
}

typedef struct {
    cli_t *c;
    size_t count;
    uint8_t last_id[POST_ID_SIZE];
    uint64_t last_seq;
} page_t;

static bool
print_one(void *ud, const post_t *p, const uint8_t *raw, size_t raw_len)
{
    (void)raw;
    (void)raw_len;
    page_t *pg = ud;
    cli_print_post(pg->c, p, pg->count == 0);
    memcpy(pg->last_id, p->id, POST_ID_SIZE);
    pg->last_seq = p->seq;
    pg->count++;
    return true;
}

typedef struct {
    cli_t *c;
    size_t count;
} forks_t;

static bool
print_fork(void *ud, const store_fork_t *f)
{
    forks_t *fk = ud;
    char a[KEYTEXT_BUFSZ], b[KEYTEXT_BUFSZ];
    keytext_encode(a, KEYTEXT_POST, f->first);
    keytext_encode(b, KEYTEXT_POST, f->second);
    const char *kind = f->kind == STORE_FORK_SAME_SEQ ? "same-seq" : "bad-link";
    if (fk->c->json) {
        fprintf(fk->c->out, "%s\n  {\"kind\":\"%s\",\"seq\":%llu,\"first\":\"%s\",\"second\":\"%s\"}",
                fk->count ? "," : "", kind, (unsigned long long)f->seq, a, b);
    } else if (f->kind == STORE_FORK_SAME_SEQ) {
        fprintf(fk->c->out, "FORK: two different posts with seq %llu: %s and %s\n",
                (unsigned long long)f->seq, a, b);
    } else {
        fprintf(fk->c->out, "FORK: post #%llu of this feed (%s) is not the one post #%llu "
                            "(%s) was signed after\n",
                (unsigned long long)f->seq, a, (unsigned long long)f->seq + 1, b);
    }
    fk->count++;
    return true;
}

static int
feed_author(cli_t *c, const char *text, uint8_t author[static 32])
{
    if (text != NULL) {
        return cli_parse_author(c, text, author);
    }
    return cli_author_public(c, author);
}

static void
print_head(cli_t *c, const store_head_t *h, bool found)
{
    if (c->json) {
        fprintf(c->out, ",\"head_seq\":%llu,\"max_seq\":%llu,",
                (unsigned long long)(found ? h->seq : 0), (unsigned long long)(found ? h->max_seq : 0));
        return;
    }
    if (!found) {
        fputs("no posts of this author are stored\n", c->out);
    } else if (h->max_seq > h->seq) {
        fprintf(c->out, "gap: posts #%llu to #%llu are not all here yet (complete up to #%llu)\n\n",
                (unsigned long long)h->seq + 1, (unsigned long long)h->max_seq,
                (unsigned long long)h->seq);
    }
}

int
cli_cmd_feed(cli_t *c, cli_args_t *a)
{
    uint64_t limit, before = 0;
    bool bad = false;
    int rc = get_limit(c, a, &limit);
    const char *b = cli_value(a, "--before", &bad);
    if (rc == CLI_EXIT_OK && (bad || (b != NULL && !cli_parse_u64(b, &before)))) {
        rc = cli_fail(c, CLI_EXIT_USAGE, "feed: --before takes a seq number");
    }
    const char *pos[1] = {NULL};
    int n = cli_positional(a, pos, 1);
    if (rc == CLI_EXIT_OK) {
        rc = take_args(c, a, "feed", pos, n > 1 ? 1 : n);
    }
    uint8_t author[32];
    if (rc == CLI_EXIT_OK) {
        rc = feed_author(c, n == 1 ? pos[0] : NULL, author);
    }
    if (rc == CLI_EXIT_OK) {
        rc = cli_open_store(c);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    store_head_t h;
    store_err_t err = store_get_head(c->store, author, &h);
    if (err != STORE_OK && err != STORE_ENOTFOUND) {
        return cli_store_error(c, err, "feed");
    }
    char at[KEYTEXT_BUFSZ];
    keytext_encode(at, KEYTEXT_AUTHOR, author);
    if (c->json) {
        fprintf(c->out, "{\"author\":\"%s\"", at);
    }
    print_head(c, &h, err == STORE_OK);
    forks_t fk = {c, 0};
    if (c->json) {
        fputs("\"forks\":[", c->out);
    }
    err = store_forks(c->store, author, print_fork, &fk);
    if (c->json) {
        fputs(fk.count ? "\n],\"posts\":[" : "],\"posts\":[", c->out);
    } else if (fk.count > 0) {
        fputs("\n", c->out);
    }
    page_t pg = {.c = c};
    if (err == STORE_OK) {
        err = store_feed(c->store, author, before, (size_t)limit, print_one, &pg);
    }
    if (c->json) {
        fputs(pg.count ? "\n]}\n" : "]}\n", c->out);
    } else if (pg.count == limit && pg.last_seq > 1) {
        fprintf(c->out, "more: samizdat feed %s --before %llu\n", at,
                (unsigned long long)pg.last_seq);
    }
    return err == STORE_OK ? CLI_EXIT_OK : cli_store_error(c, err, "feed");
}

static void
print_hex(cli_t *c, const uint8_t *raw, size_t len)
{
    char hex[2 * POST_MAX_SIZE + 1];
    bytes_to_hex(hex, raw, len);
    fprintf(c->out, c->json ? "{\"raw\":\"%s\"}\n" : "%s\n", hex);
}

int
cli_cmd_show(cli_t *c, cli_args_t *a)
{
    bool raw_only = cli_flag(a, "--raw");
    const char *pos[1];
    uint8_t id[POST_ID_SIZE];
    int rc = take_args(c, a, "show", pos, 1);
    if (rc == CLI_EXIT_OK) {
        rc = cli_parse_post_id(c, pos[0], id);
    }
    if (rc == CLI_EXIT_OK) {
        rc = cli_open_store(c);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    post_t p;
    uint8_t raw[POST_MAX_SIZE];
    size_t raw_len = 0;
    store_err_t err = store_get_post(c->store, id, &p, raw, &raw_len);
    if (err != STORE_OK) {
        return cli_store_error(c, err, pos[0]);
    }
    if (raw_only) {
        print_hex(c, raw, raw_len);
    } else if (c->json) {
        cli_json_post(c, &p);
        fputc('\n', c->out);
    } else {
        cli_print_post(c, &p, true);
    }
    return CLI_EXIT_OK;
}

/* --before POST-ID: the page continues below that post. */
static int
timeline_cursor(cli_t *c, const char *before, store_cursor_t *cur)
{
    post_t p;
    int rc = cli_parse_post_id(c, before, cur->id);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    store_err_t err = store_get_post(c->store, cur->id, &p, NULL, NULL);
    if (err != STORE_OK) {
        return cli_store_error(c, err, before);
    }
    cur->timestamp_ms = p.timestamp_ms;
    return CLI_EXIT_OK;
}

int
cli_cmd_timeline(cli_t *c, cli_args_t *a)
{
    uint64_t limit;
    bool bad = false;
    int rc = get_limit(c, a, &limit);
    const char *before = cli_value(a, "--before", &bad);
    const char *pos[1];
    if (rc == CLI_EXIT_OK) {
        rc = bad ? cli_fail(c, CLI_EXIT_USAGE, "timeline: --before needs a post id")
                 : take_args(c, a, "timeline", pos, 0);
    }
    uint8_t self[32];
    if (rc == CLI_EXIT_OK) {
        rc = cli_author_public(c, self);
    }
    if (rc == CLI_EXIT_OK) {
        rc = cli_open_store(c);
    }
    store_cursor_t cur = {0};
    if (rc == CLI_EXIT_OK && before != NULL) {
        rc = timeline_cursor(c, before, &cur);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    page_t pg = {.c = c};
    if (c->json) {
        fputs("{\"posts\":[", c->out);
    }
    store_err_t err = store_timeline(c->store, self, before ? &cur : NULL, (size_t)limit,
                                     print_one, &pg);
    char next[KEYTEXT_BUFSZ];
    keytext_encode(next, KEYTEXT_POST, pg.last_id);
    bool more = pg.count == limit;
    if (c->json) {
        fprintf(c->out, "%s],\"next_before\":%s%s%s}\n", pg.count ? "\n" : "", more ? "\"" : "",
                more ? next : "null", more ? "\"" : "");
    } else if (pg.count == 0 && before == NULL) {
        fputs("nothing yet: follow someone (samizdat follow AUTHOR) or post\n", c->out);
    } else if (more) {
        fprintf(c->out, "more: samizdat timeline --before %s\n", next);
    }
    return err == STORE_OK ? CLI_EXIT_OK : cli_store_error(c, err, "timeline");
}
