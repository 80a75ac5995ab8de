/* Commands that wait on the network inside the running node: `dht lookup`,
 * `dht find-node`, and `follow`, which looks the author up once the follow
 * is stored. They start DHT lookups and answer the control socket when the
 * last one has finished. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "cli_int.h"
#include "dhtid.h"
#include "json.h"
#include "keytext.h"
#include "node.h"

enum {
    AUTHORS_MAX = 64, /* authors in one `dht lookup` */
    PARALLEL = 4,     /* authors looked up at once: two lookups each */
};

typedef enum { JOB_LOOKUP, JOB_FIND_NODE, JOB_FOLLOW } job_kind_t;

typedef struct job job_t;

/* One author being looked up: its providers and its head. */
typedef struct {
    job_t *job;
    uint8_t author[32];
    int waiting; /* lookups not finished */
    dht_err_t providers_status;
    dht_err_t head_status;
    size_t n_providers;
    dht_contact_t providers[DHT_PROVIDERS_MAX];
    bool has_head;
    uint64_t head_seq;
    uint8_t head_id[32];
    unsigned hops;
    unsigned messages;
    uint64_t ms;
} query_t;

struct job {
    cli_t c;
    char *out;
    char *err;
    size_t out_len;
    size_t err_len;
    cli_done_cb done;
    void *ud;
    int code;
    job_kind_t kind;
    size_t n;        /* queries */
    size_t started;
    size_t finished;
    bool starting; /* inside start_next */
    query_t *q;
    uint8_t target[32]; /* find-node */
};

static void
job_finish(job_t *j)
{
    cli_node_end(&j->c);
    cli_done_cb done = j->done;
    void *ud = j->ud;
    int code = j->code;
    char *out = j->out, *err = j->err;
    size_t out_len = j->out_len, err_len = j->err_len;
    free(j->q);
    free(j);
    done(ud, code, out, out_len, err, err_len);
}

static const char *
status_word(dht_err_t s)
{
    switch (s) {
    case DHT_OK:
        return "ok";
    case DHT_ENOTFOUND:
        return "not found";
    case DHT_ENOPEERS:
        return "no node answered";
    case DHT_ECANCELED:
        return "cancelled: the node is stopping";
    default:
        return dht_strerror(s);
    }
}

/* ---- printing ---- */

static void
print_contact_json(FILE *f, const dht_contact_t *c, bool first)
{
    char k[KEYTEXT_BUFSZ];
    keytext_encode(k, KEYTEXT_NODE, c->key);
    fprintf(f, "%s{\"node\":\"%s\",\"endpoint\":", first ? "" : ",", k);
    json_string(f, c->endpoint);
    fputc('}', f);
}

static void
print_query_json(job_t *j, const query_t *q)
{
    FILE *f = j->c.out;
    char a[KEYTEXT_BUFSZ], id[KEYTEXT_BUFSZ];
    keytext_encode(a, KEYTEXT_AUTHOR, q->author);
    fprintf(f, "{\"author\":\"%s\",\"providers\":[", a);
    for (size_t i = 0; i < q->n_providers; i++) {
        print_contact_json(f, &q->providers[i], i == 0);
    }
    fputs("],\"head\":", f);
    if (q->has_head) {
        keytext_encode(id, KEYTEXT_POST, q->head_id);
        fprintf(f, "{\"seq\":%llu,\"id\":\"%s\"}", (unsigned long long)q->head_seq, id);
    } else {
        fputs("null", f);
    }
    fprintf(f, ",\"providers_status\":\"%s\",\"head_status\":\"%s\",\"hops\":%u,"
               "\"messages\":%u,\"ms\":%llu}\n",
            status_word(q->providers_status), status_word(q->head_status), q->hops, q->messages,
            (unsigned long long)q->ms);
}

static void
print_query_text(job_t *j, const query_t *q)
{
    FILE *f = j->c.out;
    char a[KEYTEXT_BUFSZ], k[KEYTEXT_BUFSZ];
    keytext_encode(a, KEYTEXT_AUTHOR, q->author);
    fprintf(f, "%s\n", a);
    if (q->n_providers > 0) {
        fprintf(f, "  replicated by %zu node%s:\n", q->n_providers, q->n_providers == 1 ? "" : "s");
    } else {
        fprintf(f, "  replicated by: %s\n", status_word(q->providers_status));
    }
    for (size_t i = 0; i < q->n_providers; i++) {
        keytext_encode(k, KEYTEXT_NODE, q->providers[i].key);
        fprintf(f, "    %s %s\n", k, q->providers[i].endpoint);
    }
    if (q->has_head) {
        keytext_encode(k, KEYTEXT_POST, q->head_id);
        fprintf(f, "  latest post: #%llu %s\n", (unsigned long long)q->head_seq, k);
    } else {
        fprintf(f, "  latest post: %s\n", status_word(q->head_status));
    }
    fprintf(f, "  %u hop%s, %u messages, %llu ms\n", q->hops, q->hops == 1 ? "" : "s",
            q->messages, (unsigned long long)q->ms);
}

/* `follow`: one line after the follow's own output. */
static void
print_follow(job_t *j, const query_t *q)
{
    FILE *f = j->c.out;
    if (j->c.json) {
        fprintf(f, "{\"replicas\":%zu,\"latest_seq\":%llu}\n", q->n_providers,
                (unsigned long long)(q->has_head ? q->head_seq : 0));
        return;
    }
    if (q->n_providers == 0 && !q->has_head) {
        fputs("no node in the network replicates this feed yet; the node will keep looking\n", f);
        return;
    }
    fprintf(f, "found %zu node%s that replicate%s this feed", q->n_providers,
            q->n_providers == 1 ? "" : "s", q->n_providers == 1 ? "s" : "");
    if (q->has_head) {
        fprintf(f, "; latest post #%llu", (unsigned long long)q->head_seq);
        node_feed_expected(j->c.node, q->author, q->head_seq);
        if (q->head_seq >= NODE_PROGRESS_MIN) {
            fputs("; the newest posts come first, the rest in the background "
                  "(the node's log shows the progress)",
                  f);
        }
    }
    fputc('\n', f);
}

/* ---- author lookups ---- */

static void start_next(job_t *j);

static void
maybe_finish(job_t *j)
{
    if (j->finished < j->n) {
        return;
    }
    if (j->c.json && j->kind == JOB_LOOKUP) {
        fputs("]}\n", j->c.out);
    }
    job_finish(j);
}

static void
query_done(query_t *q)
{
    job_t *j = q->job;
    if (j->kind == JOB_FOLLOW) {
        print_follow(j, q);
    } else if (j->c.json) {
        fputs(j->finished > 0 ? "," : "", j->c.out);
        print_query_json(j, q);
    } else {
        print_query_text(j, q);
    }
    j->finished++;
    /* While start_next runs, it takes the freed slot and finishes the job. */
    if (!j->starting) {
        start_next(j);
    }
}

static void
note_cost(query_t *q, const dht_result_t *r)
{
    q->hops = r->hops > q->hops ? r->hops : q->hops;
    q->messages += r->messages;
    q->ms = r->elapsed_ms > q->ms ? r->elapsed_ms : q->ms;
}

static void
on_providers(void *ud, const dht_result_t *r)
{
    query_t *q = ud;
    q->providers_status = r->status;
    q->n_providers = r->n_providers < DHT_PROVIDERS_MAX ? r->n_providers : DHT_PROVIDERS_MAX;
    memcpy(q->providers, r->providers, q->n_providers * sizeof *q->providers);
    note_cost(q, r);
    if (--q->waiting == 0) {
        query_done(q);
    }
}

static void
on_head(void *ud, const dht_result_t *r)
{
    query_t *q = ud;
    q->head_status = r->status;
    note_cost(q, r);
    if (r->status == DHT_OK && r->head != NULL) {
        /* The dht verified the head: seq and post id are at fixed places
         * (crypto/head.h): version, author, seq, id. */
        q->has_head = true;
        q->head_seq = r->head_seq;
        memcpy(q->head_id, r->head + 1 + 32 + 8, 32);
    }
    if (--q->waiting == 0) {
        query_done(q);
    }
}

static dht_err_t
from_node_err(node_err_t e)
{
    return e == NODE_ENOPEERS ? DHT_ENOPEERS : e == NODE_EBUSY ? DHT_EBUSY : DHT_ENOMEM;
}

/* Starts both lookups of q. A lookup that cannot start counts as finished
 * with its error, so the query still completes. */
static void
start_query(job_t *j, query_t *q)
{
    node_t *n = j->c.node;
    q->waiting = 2;
    node_err_t e = node_find_providers(n, q->author, on_providers, q);
    if (e != NODE_OK) {
        q->providers_status = from_node_err(e);
        q->waiting--;
    }
    e = node_find_head(n, q->author, on_head, q);
    if (e != NODE_OK) {
        q->head_status = from_node_err(e);
        q->waiting--;
    }
    if (q->waiting == 0) {
        query_done(q);
    }
}

/* Starts queries up to PARALLEL at once, and finishes the job when all are
 * done. A query may complete inside start_query (its lookups could not
 * start), so the job is finished here, after the loop, never inside it. */
static void
start_next(job_t *j)
{
    j->starting = true;
    while (j->started < j->n && j->started - j->finished < PARALLEL) {
        start_query(j, &j->q[j->started++]);
    }
    j->starting = false;
    maybe_finish(j);
}

/* ---- find-node ---- */

static void
on_find_node(void *ud, const dht_result_t *r)
{
    job_t *j = ud;
    FILE *f = j->c.out;
    char hex[2 * 32 + 1], k[KEYTEXT_BUFSZ];
    bytes_to_hex(hex, j->target, 32);
    if (j->c.json) {
        fprintf(f, "{\"target\":\"%s\",\"status\":\"%s\",\"closest\":[", hex,
                status_word(r->status));
        for (size_t i = 0; i < r->n_contacts; i++) {
            print_contact_json(f, &r->contacts[i], i == 0);
        }
        fprintf(f, "],\"hops\":%u,\"messages\":%u,\"ms\":%llu}\n", r->hops, r->messages,
                (unsigned long long)r->elapsed_ms);
    } else {
        fprintf(f, "closest nodes to %s (%s):\n", hex, status_word(r->status));
        for (size_t i = 0; i < r->n_contacts; i++) {
            uint8_t id[32];
            dhtid_from_node_key(id, r->contacts[i].key);
            keytext_encode(k, KEYTEXT_NODE, r->contacts[i].key);
            fprintf(f, "  %s %s%s\n", k, r->contacts[i].endpoint,
                    memcmp(id, j->target, 32) == 0 ? "  (the node itself)" : "");
        }
        fprintf(f, "%u hop%s, %u messages, %llu ms\n", r->hops, r->hops == 1 ? "" : "s",
                r->messages, (unsigned long long)r->elapsed_ms);
    }
    j->code = r->status == DHT_OK ? CLI_EXIT_OK : CLI_EXIT_NOTFOUND;
    job_finish(j);
}

/* ID: a node key in text form (its DHT id is derived) or 64 hex digits. */
static bool
parse_id(const char *text, uint8_t id[32])
{
    uint8_t key[32];
    if (keytext_decode(key, KEYTEXT_NODE, text) == KEYTEXT_OK) {
        dhtid_from_node_key(id, key);
        return true;
    }
    return strlen(text) == 64 && bytes_from_hex(id, 32, text);
}

/* ---- parsing and starting ---- */

static int
usage(job_t *j)
{
    return cli_fail(&j->c, CLI_EXIT_USAGE, "usage: samizdat dht lookup AUTHOR... | "
                                           "samizdat dht find-node ID");
}

/* Reads `dht ...` into the job; returns an exit code (OK: start it). */
static int
parse_dht(job_t *j, int argc, char **argv)
{
    int first = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            j->c.json = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return usage(j);
        }
    }
    if (argc < 3 || argv[1][0] == '-') {
        return usage(j);
    }
    size_t words = 0;
    for (int i = first; i < argc; i++) {
        words += strcmp(argv[i], "--json") != 0;
    }
    if (strcmp(argv[1], "find-node") == 0) {
        j->kind = JOB_FIND_NODE;
        const char *id = NULL;
        for (int i = first; i < argc; i++) {
            id = strcmp(argv[i], "--json") != 0 ? argv[i] : id;
        }
        if (words != 1) {
            return usage(j);
        }
        if (!parse_id(id, j->target)) {
            return cli_fail(&j->c, CLI_EXIT_BADINPUT,
                            "'%s' is neither a node key (szn1...) nor a 64-digit hex id", id);
        }
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "lookup") != 0 || words > AUTHORS_MAX) {
        return words > AUTHORS_MAX ? cli_fail(&j->c, CLI_EXIT_USAGE,
                                              "dht lookup: at most %d authors at once", AUTHORS_MAX)
                                   : usage(j);
    }
    j->kind = JOB_LOOKUP;
    j->q = calloc(words, sizeof *j->q);
    if (j->q == NULL) {
        return cli_fail(&j->c, CLI_EXIT_ERROR, "out of memory");
    }
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            continue;
        }
        query_t *q = &j->q[j->n++];
        q->job = j;
        int rc = cli_parse_author(&j->c, argv[i], q->author);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
    }
    return CLI_EXIT_OK;
}

static void
start_dht(job_t *j)
{
    if (j->kind == JOB_FIND_NODE) {
        node_err_t e = node_find_node(j->c.node, j->target, on_find_node, j);
        if (e != NODE_OK) {
            j->code = cli_fail(&j->c, CLI_EXIT_ERROR, "dht: %s", node_strerror(e));
            job_finish(j);
        }
        return;
    }
    if (j->c.json) {
        fputs("{\"lookups\":[\n", j->c.out);
    }
    start_next(j);
}

/* `follow AUTHOR` inside the node: store the follow as always, then look
 * the author up. */
static void
start_follow(job_t *j, int argc, char **argv)
{
    j->code = cli_run_named(&j->c, argc, argv);
    uint8_t author[32];
    const char *text = NULL;
    for (int i = 1; i < argc; i++) {
        text = argv[i][0] != '-' ? argv[i] : text;
    }
    if (j->code != CLI_EXIT_OK || text == NULL ||
        keytext_decode(author, KEYTEXT_AUTHOR, text) != KEYTEXT_OK) {
        job_finish(j);
        return;
    }
    j->q = calloc(1, sizeof *j->q);
    if (j->q == NULL) {
        job_finish(j);
        return;
    }
    j->n = 1;
    j->q[0].job = j;
    memcpy(j->q[0].author, author, 32);
    start_next(j);
}

bool
cli_start_async(struct node *node, const char *data_dir, int argc, char **argv,
                const uint8_t *in, size_t in_len, cli_done_cb done, void *ud)
{
    bool dht = argc > 0 && strcmp(argv[0], "dht") == 0;
    bool follow = argc > 0 && strcmp(argv[0], "follow") == 0;
    if (!dht && !follow) {
        return false;
    }
    job_t *j = calloc(1, sizeof *j);
    if (j == NULL) {
        return false; /* run as a plain command: it will say what it can */
    }
    j->done = done;
    j->ud = ud;
    j->code = cli_node_begin(&j->c, node, data_dir, in, in_len, &j->out, &j->out_len, &j->err,
                             &j->err_len);
    if (j->code != CLI_EXIT_OK) {
        job_finish(j);
        return true;
    }
    if (follow) {
        j->kind = JOB_FOLLOW;
        start_follow(j, argc, argv);
        return true;
    }
    j->code = parse_dht(j, argc, argv);
    if (j->code != CLI_EXIT_OK) {
        job_finish(j);
        return true;
    }
    start_dht(j);
    return true;
}

/* `dht` run without a node: nothing to ask. */
int
cli_cmd_dht(cli_t *c, cli_args_t *a)
{
    (void)a;
    return cli_fail(c, CLI_EXIT_ERROR,
                    "dht: the node is not running (start it: samizdat run); the DHT lives in it");
}
