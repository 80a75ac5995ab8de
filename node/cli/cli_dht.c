/* `dht lookup AUTHOR...` and `dht find-node ID`: questions to the network,
 * answered by the running node. */
#include <stdio.h>
#include <string.h>

#include "appjson.h"
#include "bytes.h"
#include "cli_int.h"
#include "dhtid.h"
#include "keytext.h"

static int
usage(cli_t *c)
{
    return cli_fail(c, CLI_EXIT_USAGE,
                    "usage: samizdat dht lookup AUTHOR... | samizdat dht find-node ID");
}

static void
print_lookup(cli_t *c, const app_lookup_t *q)
{
    FILE *f = c->out;
    char a[KEYTEXT_BUFSZ], k[KEYTEXT_BUFSZ];
    keytext_encode(a, KEYTEXT_AUTHOR, q->author);
    fprintf(f, "%s\n", a);
    if (q->n_providers > 0) {
        fprintf(f, "  replicated by %zu %s:\n", q->n_providers,
                cli_plural(q->n_providers, "node", "nodes"));
    } else {
        fprintf(f, "  replicated by: %s\n", app_dht_status_word(q->providers_status));
    }
    for (size_t i = 0; i < q->n_providers; i++) {
        keytext_encode(k, KEYTEXT_NODE, q->providers[i].key);
        fprintf(f, "    %s %s\n", k, q->providers[i].endpoint);
    }
    if (q->has_head) {
        keytext_encode(k, KEYTEXT_POST, q->head_id);
        fprintf(f, "  latest post: #%llu %s\n", (unsigned long long)q->head_seq, k);
    } else {
        fprintf(f, "  latest post: %s\n", app_dht_status_word(q->head_status));
    }
    fprintf(f, "  %u %s, %u %s, %llu ms\n", q->hops, cli_plural(q->hops, "hop", "hops"),
            q->messages, cli_plural(q->messages, "message", "messages"), (unsigned long long)q->ms);
}

static void
print_find_node(cli_t *c, const app_result_t *res)
{
    const app_find_node_t *r = &res->u.find_node;
    FILE *f = c->out;
    char hex[2 * DHT_KEY_SIZE + 1], k[KEYTEXT_BUFSZ];
    bytes_to_hex(hex, r->target, DHT_KEY_SIZE);
    fprintf(f, "closest nodes to %s (%s):\n", hex, app_dht_status_word(r->status));
    for (size_t i = 0; i < r->n; i++) {
        uint8_t id[DHT_KEY_SIZE];
        dhtid_from_node_key(id, r->contacts[i].key);
        keytext_encode(k, KEYTEXT_NODE, r->contacts[i].key);
        fprintf(f, "  %s %s%s\n", k, r->contacts[i].endpoint,
                memcmp(id, r->target, DHT_KEY_SIZE) == 0 ? "  (the node itself)" : "");
    }
    fprintf(f, "%u %s, %u %s, %llu ms\n", r->hops, cli_plural(r->hops, "hop", "hops"), r->messages,
            cli_plural(r->messages, "message", "messages"), (unsigned long long)r->ms);
}

int
cli_cmd_dht(cli_t *c, cli_args_t *a)
{
    const char *pos[APP_LOOKUP_MAX + 2];
    if (cli_unknown_option(a) != NULL) {
        return usage(c);
    }
    int n = cli_positional(a, pos, APP_LOOKUP_MAX + 2);
    if (n < 2) {
        return usage(c);
    }
    app_request_t req;
    memset(&req, 0, sizeof req);
    uint8_t authors[APP_LOOKUP_MAX * KEYS_PUBLIC_SIZE];
    if (strcmp(pos[0], "find-node") == 0) {
        if (n != 2) {
            return usage(c);
        }
        req.op = APP_OP_FIND_NODE;
        if (!app_dht_id_parse(pos[1], req.u.find_node.target)) {
            return cli_fail(c, CLI_EXIT_BADINPUT,
                            "'%s' is neither a node key (szn1...) nor a 64-digit hex id", pos[1]);
        }
    } else if (strcmp(pos[0], "lookup") == 0) {
        if (n - 1 > APP_LOOKUP_MAX) {
            return cli_fail(c, CLI_EXIT_USAGE, "dht lookup: at most %d authors at once",
                            APP_LOOKUP_MAX);
        }
        req.op = APP_OP_LOOKUP;
        for (int i = 1; i < n; i++) {
            int rc = cli_parse_author(c, pos[i], authors + KEYS_PUBLIC_SIZE * req.u.lookup.n++);
            if (rc != CLI_EXIT_OK) {
                return rc;
            }
        }
        req.u.lookup.authors = authors;
    } else {
        return usage(c);
    }
    app_result_t *res = NULL;
    int rc = cli_call(c, &req, &res);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (c->json) {
        cli_print_json(c, res, NULL);
    } else if (req.op == APP_OP_FIND_NODE) {
        print_find_node(c, res);
    } else {
        for (size_t i = 0; i < res->u.lookup.n; i++) {
            print_lookup(c, &res->u.lookup.items[i]);
        }
    }
    if (req.op == APP_OP_FIND_NODE && res->u.find_node.status != DHT_OK) {
        rc = CLI_EXIT_NOTFOUND;
    }
    app_result_free(res);
    return rc;
}
