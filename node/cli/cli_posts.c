/* post, reply, delete, profile, feed, show, timeline: arguments in, a
 * request to the app, its result out as text or JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "cli_int.h"
#include "keytext.h"

/* The text of a post: the argument, or standard input for "-" (one final
 * newline dropped). buf holds APP_TEXT_MAX + 1 bytes. */
static int
get_text(cli_t *c, const char *text, char *buf, app_text_t *out)
{
    if (strcmp(text, "-") != 0) {
        out->text = text;
        out->text_len = strlen(text);
        if (out->text_len > APP_TEXT_MAX) {
            return cli_fail(c, CLI_EXIT_BADINPUT, "the text is %zu bytes; the limit is %d",
                            out->text_len, POST_BODY_MAX);
        }
        return CLI_EXIT_OK;
    }
    size_t len = fread(buf, 1, APP_TEXT_MAX + 1, c->in);
    if (ferror(c->in)) {
        return cli_fail(c, CLI_EXIT_ERROR, "cannot read standard input");
    }
    if (len > APP_TEXT_MAX) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "the text is longer than %d bytes", POST_BODY_MAX);
    }
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
    }
    buf[len] = '\0';
    out->text = buf;
    out->text_len = len;
    return CLI_EXIT_OK;
}

static int
publish(cli_t *c, const app_request_t *req)
{
    app_result_t *res = NULL;
    int rc = cli_call(c, req, &res);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    const post_t *p = &res->u.publish.post;
    if (c->json) {
        cli_print_json(c, res, NULL);
    } else {
        char id[KEYTEXT_BUFSZ];
        keytext_encode(id, KEYTEXT_POST, p->id);
        fprintf(c->out, "published %s #%llu %s\n", post_kind_name(p->kind),
                (unsigned long long)p->seq, id);
    }
    app_result_free(res);
    return CLI_EXIT_OK;
}

int
cli_cmd_post(cli_t *c, cli_args_t *a)
{
    const char *pos[1];
    int rc = cli_take_args(c, a, "post", pos, 1);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    char *buf = malloc(APP_TEXT_MAX + 1);
    if (buf == NULL) {
        return cli_fail(c, CLI_EXIT_ERROR, "out of memory");
    }
    app_request_t req = {.op = APP_OP_POST};
    rc = get_text(c, pos[0], buf, &req.u.post.body);
    if (rc == CLI_EXIT_OK) {
        rc = publish(c, &req);
    }
    free(buf);
    return rc;
}

int
cli_cmd_reply(cli_t *c, cli_args_t *a)
{
    const char *pos[2];
    app_request_t req = {.op = APP_OP_REPLY};
    int rc = cli_take_args(c, a, "reply", pos, 2);
    if (rc == CLI_EXIT_OK) {
        rc = cli_parse_post_id(c, pos[0], req.u.reply.ref);
    }
    char *buf = rc == CLI_EXIT_OK ? malloc(APP_TEXT_MAX + 1) : NULL;
    if (rc == CLI_EXIT_OK && buf == NULL) {
        rc = cli_fail(c, CLI_EXIT_ERROR, "out of memory");
    }
    if (rc == CLI_EXIT_OK) {
        rc = get_text(c, pos[1], buf, &req.u.reply.body);
    }
    if (rc == CLI_EXIT_OK) {
        rc = publish(c, &req);
    }
    free(buf);
    return rc;
}

int
cli_cmd_delete(cli_t *c, cli_args_t *a)
{
    const char *pos[1];
    app_request_t req = {.op = APP_OP_DELETE};
    int rc = cli_take_args(c, a, "delete", pos, 1);
    if (rc == CLI_EXIT_OK) {
        rc = cli_parse_post_id(c, pos[0], req.u.del.ref);
    }
    return rc == CLI_EXIT_OK ? publish(c, &req) : rc;
}

int
cli_cmd_profile(cli_t *c, cli_args_t *a)
{
    bool bad = false;
    const char *name = cli_value(a, "--name", &bad);
    const char *bio = cli_value(a, "--bio", &bad);
    const char *pos[1];
    int rc = bad ? cli_fail(c, CLI_EXIT_USAGE, "profile: an option is missing its value")
                 : cli_take_args(c, a, "profile", pos, 0);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (name == NULL || name[0] == '\0') {
        return cli_fail(c, CLI_EXIT_USAGE, "profile: --name NAME is required");
    }
    app_request_t req = {.op = APP_OP_PROFILE};
    req.u.profile.name.text = name;
    req.u.profile.name.text_len = strlen(name);
    if (bio != NULL) {
        req.u.profile.has_bio = true;
        req.u.profile.bio.text = bio;
        req.u.profile.bio.text_len = strlen(bio);
    }
    if (req.u.profile.name.text_len > APP_TEXT_MAX || req.u.profile.bio.text_len > APP_TEXT_MAX) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "the name or the bio is far too long");
    }
    return publish(c, &req);
}

static void
print_fork(cli_t *c, const store_fork_t *f)
{
    char a[KEYTEXT_BUFSZ], b[KEYTEXT_BUFSZ];
    keytext_encode(a, KEYTEXT_POST, f->first);
    keytext_encode(b, KEYTEXT_POST, f->second);
    if (f->kind == STORE_FORK_SAME_SEQ) {
        fprintf(c->out, "FORK: two different posts with seq %llu: %s and %s\n",
                (unsigned long long)f->seq, a, b);
    } else {
        fprintf(c->out,
                "FORK: post #%llu of this feed (%s) is not the one post #%llu "
                "(%s) was signed after\n",
                (unsigned long long)f->seq, a, (unsigned long long)f->seq + 1, b);
    }
}

int
cli_cmd_feed(cli_t *c, cli_args_t *a)
{
    app_request_t req = {.op = APP_OP_FEED};
    bool bad = false;
    int rc = cli_get_limit(c, a, &req.u.feed.limit);
    const char *b = cli_value(a, "--before", &bad);
    if (rc == CLI_EXIT_OK && (bad || (b != NULL && !cli_parse_u64(b, &req.u.feed.before_seq)))) {
        rc = cli_fail(c, CLI_EXIT_USAGE, "feed: --before takes a seq number");
    }
    const char *pos[1] = {NULL};
    int n = cli_positional(a, pos, 1);
    if (rc == CLI_EXIT_OK) {
        rc = cli_take_args(c, a, "feed", pos, n > 1 ? 1 : n);
    }
    req.u.feed.self = n == 0;
    if (rc == CLI_EXIT_OK && n == 1) {
        rc = cli_parse_author(c, pos[0], req.u.feed.author);
    }
    app_result_t *res = NULL;
    if (rc == CLI_EXIT_OK) {
        rc = cli_call(c, &req, &res);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    const app_feed_page_t *f = &res->u.feed;
    if (c->json) {
        cli_print_json(c, res, NULL);
        app_result_free(res);
        return CLI_EXIT_OK;
    }
    if (f->max_seq > f->head_seq) {
        fprintf(c->out, "gap: posts #%llu to #%llu are not all here yet (complete up to #%llu)\n\n",
                (unsigned long long)f->head_seq + 1, (unsigned long long)f->max_seq,
                (unsigned long long)f->head_seq);
    }
    for (size_t i = 0; i < f->n_forks; i++) {
        print_fork(c, &f->forks[i]);
    }
    if (f->n_forks > 0) {
        fputc('\n', c->out);
    }
    for (size_t i = 0; i < f->n_posts; i++) {
        cli_print_post(c, &f->posts[i]);
    }
    if (f->more) {
        char at[KEYTEXT_BUFSZ];
        keytext_encode(at, KEYTEXT_AUTHOR, f->author);
        fprintf(c->out, "more: samizdat feed %s --before %llu\n", at,
                (unsigned long long)f->next_before);
    }
    app_result_free(res);
    return CLI_EXIT_OK;
}

int
cli_cmd_show(cli_t *c, cli_args_t *a)
{
    bool raw_only = cli_flag(a, "--raw");
    const char *pos[1];
    app_request_t req = {.op = APP_OP_SHOW};
    int rc = cli_take_args(c, a, "show", pos, 1);
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
    } else if (raw_only) {
        for (size_t i = 0; i < res->u.show.raw_len && i < POST_MAX_SIZE; i++) {
            fprintf(c->out, "%02x", res->u.show.raw[i]);
        }
        fputc('\n', c->out);
    } else {
        cli_print_post(c, &res->u.show.post);
    }
    app_result_free(res);
    return CLI_EXIT_OK;
}

int
cli_cmd_timeline(cli_t *c, cli_args_t *a)
{
    app_request_t req = {.op = APP_OP_TIMELINE};
    bool bad = false;
    int rc = cli_get_limit(c, a, &req.u.timeline.limit);
    const char *before = cli_value(a, "--before", &bad);
    const char *pos[1];
    if (rc == CLI_EXIT_OK) {
        rc = bad ? cli_fail(c, CLI_EXIT_USAGE, "timeline: --before needs a post id")
                 : cli_take_args(c, a, "timeline", pos, 0);
    }
    if (rc == CLI_EXIT_OK && before != NULL) {
        req.u.timeline.has_before = true;
        rc = cli_parse_post_id(c, before, req.u.timeline.before);
    }
    app_result_t *res = NULL;
    if (rc == CLI_EXIT_OK) {
        rc = cli_call(c, &req, &res);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    const app_timeline_page_t *t = &res->u.timeline;
    if (c->json) {
        cli_print_json(c, res, NULL);
        app_result_free(res);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < t->n_posts; i++) {
        cli_print_post(c, &t->posts[i]);
    }
    if (t->n_posts == 0 && before == NULL) {
        fputs("nothing yet: follow someone (samizdat follow AUTHOR) or post\n", c->out);
    } else if (t->more) {
        char next[KEYTEXT_BUFSZ];
        keytext_encode(next, KEYTEXT_POST, t->next_before);
        fprintf(c->out, "more: samizdat timeline --before %s\n", next);
    }
    app_result_free(res);
    return CLI_EXIT_OK;
}
