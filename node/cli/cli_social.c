/* follow, unfollow, following, block, unblock, blocked. */
#include <string.h>

#include "cli_int.h"
#include "node.h"
#include "text.h"
#include "keytext.h"

/* Parses the one AUTHOR argument and opens the store. */
static int
author_arg(cli_t *c, cli_args_t *a, const char *name, uint8_t author[static 32])
{
    const char *unknown = cli_unknown_option(a);
    if (unknown != NULL) {
        return cli_fail(c, CLI_EXIT_USAGE, "%s: unknown option %s", name, unknown);
    }
    const char *pos[1];
    if (cli_positional(a, pos, 1) != 1) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat %s AUTHOR", name);
    }
    int rc = cli_parse_author(c, pos[0], author);
    return rc == CLI_EXIT_OK ? cli_open_store(c) : rc;
}

static int
done(cli_t *c, const char *verb, const uint8_t author[static 32])
{
    char t[KEYTEXT_BUFSZ];
    keytext_encode(t, KEYTEXT_AUTHOR, author);
    if (c->json) {
        fprintf(c->out, "{\"%s\":\"%s\"}\n", verb, t);
    } else {
        fprintf(c->out, "%s %s\n", verb, t);
    }
    return CLI_EXIT_OK;
}

static bool
is_self(cli_t *c, const uint8_t author[static 32])
{
    uint8_t self[32];
    /* No key yet means nobody is self; cli_author_public would print an error. */
    char path[DATADIR_PATH_MAX];
    bool sealed;
    datadir_path(path, sizeof path, c->dir, "author.key");
    return keys_author_load_public(path, self, &sealed) == KEYS_OK &&
           memcmp(self, author, 32) == 0;
}

int
cli_cmd_follow(cli_t *c, cli_args_t *a)
{
    uint8_t author[32];
    int rc = author_arg(c, a, "follow", author);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    bool blocked = false;
    store_err_t err = store_is_blocked(c->store, author, &blocked);
    if (err == STORE_OK && blocked) {
        return cli_fail(c, CLI_EXIT_ERROR, "this author is blocked; unblock first");
    }
    if (err == STORE_OK) {
        err = store_follow(c->store, author, cli_now_ms());
    }
    if (err != STORE_OK) {
        return cli_store_error(c, err, "follow");
    }
    if (c->node != NULL) {
        node_follow_changed(c->node, author, true);
    }
    return done(c, "following", author);
}

/* unfollow and unblock: undo a mark, saying so when there was none. */
static int
unmark(cli_t *c, cli_args_t *a, const char *name,
       store_err_t (*undo)(store_t *, const uint8_t[static 32]), const char *none,
       const char *verb)
{
    uint8_t author[32];
    int rc = author_arg(c, a, name, author);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    store_err_t err = undo(c->store, author);
    if (err == STORE_ENOTFOUND) {
        return cli_fail(c, CLI_EXIT_NOTFOUND, "%s", none);
    }
    if (err != STORE_OK) {
        return cli_store_error(c, err, name);
    }
    if (c->node != NULL && undo == store_unfollow) {
        node_follow_changed(c->node, author, false);
    }
    return done(c, verb, author);
}

int
cli_cmd_unfollow(cli_t *c, cli_args_t *a)
{
    return unmark(c, a, "unfollow", store_unfollow, "you do not follow this author", "unfollowed");
}

int
cli_cmd_block(cli_t *c, cli_args_t *a)
{
    uint8_t author[32];
    int rc = author_arg(c, a, "block", author);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (is_self(c, author)) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "refusing to block your own author key");
    }
    uint64_t purged = 0;
    store_err_t err = store_block(c->store, author, cli_now_ms(), &purged);
    if (err != STORE_OK) {
        return cli_store_error(c, err, "block");
    }
    if (c->node != NULL) {
        node_follow_changed(c->node, author, false);
    }
    if (!c->json) {
        fprintf(c->out, "removed %llu stored posts\n", (unsigned long long)purged);
    }
    return done(c, "blocked", author);
}

int
cli_cmd_unblock(cli_t *c, cli_args_t *a)
{
    return unmark(c, a, "unblock", store_unblock, "this author is not blocked", "unblocked");
}

typedef struct {
    cli_t *c;
    size_t count;
} list_t;

static bool
print_author(void *ud, const uint8_t author[static 32], uint64_t since_ms)
{
    list_t *l = ud;
    char t[KEYTEXT_BUFSZ];
    keytext_encode(t, KEYTEXT_AUTHOR, author);
    post_t prof;
    bool named = store_get_profile(l->c->store, author, &prof) == STORE_OK;
    if (l->c->json) {
        fprintf(l->c->out, "%s\n  {\"author\":\"%s\",\"since_ms\":%llu}", l->count ? "," : "", t,
                (unsigned long long)since_ms);
    } else {
        char shown[TEXT_SAFE_SIZE(POST_NAME_MAX)]; /* bidi controls escaped (text.h) */
        text_safe(shown, sizeof shown, named ? prof.name : "", named ? prof.name_len : 0,
                  TEXT_LINE);
        fprintf(l->c->out, "%s%s%s\n", t, named ? "  " : "", shown);
    }
    l->count++;
    return true;
}

static int
list_authors(cli_t *c, cli_args_t *a, const char *name, bool blocks)
{
    const char *unknown = cli_unknown_option(a);
    const char *pos[1];
    if (unknown != NULL || cli_positional(a, pos, 1) != 0) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat %s [--json]", name);
    }
    int rc = cli_open_store(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    list_t l = {c, 0};
    if (c->json) {
        fprintf(c->out, "{\"%s\":[", name);
    }
    store_err_t err = blocks ? store_blocked(c->store, print_author, &l)
                             : store_following(c->store, print_author, &l);
    if (c->json) {
        fputs(l.count ? "\n]}\n" : "]}\n", c->out);
    } else if (l.count == 0) {
        fprintf(c->out, "%s\n", blocks ? "no blocked authors" : "you follow nobody yet");
    }
    return err == STORE_OK ? CLI_EXIT_OK : cli_store_error(c, err, name);
}

int
cli_cmd_following(cli_t *c, cli_args_t *a)
{
    return list_authors(c, a, "following", false);
}

int
cli_cmd_blocked(cli_t *c, cli_args_t *a)
{
    return list_authors(c, a, "blocked", true);
}
