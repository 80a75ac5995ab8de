/* status, peers, peer add. */

/* What a node with no peer can do, said wherever it shows that it has none. */
#define ALONE_HINT                                                                                 \
    "            alone: to join, run `samizdat join INVITE` with an invite from\n"                 \
    "            someone who runs samizdat (`samizdat invite`), or `samizdat peer\n"               \
    "            add ENDPOINT NODEKEY`, or start a node on this local network\n"
#include <stdio.h>
#include <string.h>

#include "cli_int.h"
#include "keytext.h"

static int
no_args(cli_t *c, cli_args_t *a, const char *usage)
{
    const char *pos[1];
    if (cli_unknown_option(a) != NULL || cli_positional(a, pos, 1) != 0) {
        return cli_fail(c, CLI_EXIT_USAGE, "usage: samizdat %s", usage);
    }
    return CLI_EXIT_OK;
}

static void
print_portmap(FILE *f, const app_status_t *s)
{
    switch (s->portmap) {
    case 1 + PORTMAP_TRYING:
        fputs("router:     asking it to forward a port (NAT-PMP, then UPnP-IGD)\n", f);
        break;
    case 1 + PORTMAP_MAPPED:
        fprintf(f, "router:     forwards %s to this node (%s, lease %u s)\n", s->portmap_external,
                s->portmap_method, (unsigned)s->portmap_lifetime_s);
        if (s->portmap_behind_nat) {
            fputs("            but that address is private: another NAT is in front of the\n"
                  "            router, and nodes on the internet may still not reach this one\n",
                  f);
        }
        break;
    case 1 + PORTMAP_FAILED:
        fprintf(f, "router:     no port forwarded: %s\n", s->portmap_why);
        break;
    default:
        break;
    }
}

/* What the dial-back check found: reachable directly at X, as onion Z,
 * through relay Y (one line for each relay holding a reservation), or not
 * reachable. */
static void
print_reach(FILE *f, const app_status_t *s)
{
    if (s->reach == APP_REACH_UNCHECKED) {
        fputs("reachable:  not checked (the dial-back check is switched off)\n", f);
        return;
    }
    bool any = false;
    for (int onion = 0; onion < 2; onion++) {
        for (size_t i = 0; i < s->n_reach; i++) {
            if (s->reach_eps[i].verdict == APP_EP_REACHABLE && s->reach_eps[i].onion == onion) {
                fprintf(f, "%s%s %s\n",
                        any ? "            " : "reachable:  ", onion ? "as onion" : "directly at",
                        s->reach_eps[i].endpoint);
                any = true;
            }
        }
    }
    if (any) {
        return;
    }
    for (size_t i = 0; i < s->n_relays; i++) {
        fprintf(f, "%sthrough relay %s\n", any ? "            " : "reachable:  ", s->relays[i]);
        any = true;
    }
    if (any) {
        return;
    }
    if (s->reach == APP_REACH_CHECKING) {
        fputs("reachable:  not known yet: asking peers to dial this node back\n", f);
    } else {
        fputs("reachable:  not reachable: no peer could dial this node back", f);
        for (size_t i = 0; i < s->n_reach; i++) {
            fprintf(f, "%s%s", i ? ", " : " at ", s->reach_eps[i].endpoint);
        }
        fputs("\n            (it still uses the network, but others cannot connect to it)\n", f);
    }
}

/* Through a proxy: the onion service (--tor) or the proxy (--socks5),
 * and whether peers share Tor circuits, which lets whoever watches one
 * link them to each other. */
static void
print_proxy(FILE *f, const app_status_t *s)
{
    if (s->socks5[0] == '\0') {
        return;
    }
    const char *onion = NULL;
    for (size_t i = 0; i < s->n_reach && onion == NULL; i++) {
        onion = s->reach_eps[i].onion ? s->reach_eps[i].endpoint : NULL;
    }
    if (onion != NULL) {
        const char *host = strstr(onion, "://");
        fprintf(f, "tor:        onion %s; ", host != NULL ? host + 3 : onion);
    } else {
        fprintf(f, "proxy:      SOCKS5 %s; ", s->socks5);
    }
    if (s->circuit_per_peer) {
        fputs("a circuit per peer\n", f);
    } else {
        fprintf(f, "circuits shared between peers (%s)\n", s->circuits_why);
    }
}

static void
status_text(cli_t *c, const app_status_t *s)
{
    FILE *f = c->out;
    char nt[KEYTEXT_BUFSZ], at[KEYTEXT_BUFSZ];
    keytext_encode(at, KEYTEXT_AUTHOR, s->author);
    if (s->running) {
        keytext_encode(nt, KEYTEXT_NODE, s->node_key);
        fprintf(f, "node key:   %s\n", nt);
    }
    fprintf(f, "author key: %s\n", at);
    if (s->running) {
        fprintf(f, "network:    %s\n", s->network);
    }
    fprintf(f, "data:       %s\n", s->data_dir);
    if (!s->running) {
        fprintf(f,
                "node:       not running (start it: samizdat run)\n"
                "posts:      %llu from %llu %s\nfollowing:  %llu\nforks seen: %llu\n",
                (unsigned long long)s->posts, (unsigned long long)s->authors,
                cli_plural(s->authors, "author", "authors"), (unsigned long long)s->following,
                (unsigned long long)s->forks);
        return;
    }
    for (size_t i = 0; i < s->n_listen; i++) {
        fprintf(f, "listening:  %s\n", s->listen[i]);
    }
    fprintf(f,
            "uptime:     %llus\npeers:      %llu ready (%llu in, %llu out), %llu more known\n"
            "posts:      %llu from %llu %s\nfollowing:  %llu\n",
            (unsigned long long)(s->uptime_ms / 1000), (unsigned long long)s->peers,
            (unsigned long long)s->peers_in, (unsigned long long)s->peers_out,
            (unsigned long long)s->contacts, (unsigned long long)s->posts,
            (unsigned long long)s->authors, cli_plural(s->authors, "author", "authors"),
            (unsigned long long)s->following);
    if (s->peers == 0) {
        fputs(ALONE_HINT, f);
    }
    print_reach(f, s);
    /* A node relays only while peers can dial it (PROTOCOL.md 6, "Relays"). */
    bool direct = s->reach == APP_REACH_REACHABLE || s->reach == APP_REACH_UNCHECKED;
    if (s->relay_port != 0 && direct) {
        fprintf(f, "relaying:   on port %u%s%s%s for unreachable nodes: %llu %s, %llu %s spliced\n",
                (unsigned)s->relay_port, s->relay_mapped[0] ? " (the router forwards " : "",
                s->relay_mapped, s->relay_mapped[0] ? ")" : "",
                (unsigned long long)s->relay_reservations,
                cli_plural(s->relay_reservations, "reservation", "reservations"),
                (unsigned long long)s->relay_circuits,
                cli_plural(s->relay_circuits, "circuit", "circuits"));
    }
    print_proxy(f, s);
    print_portmap(f, s);
    fprintf(f,
            "dht:        %llu %s in the routing table, %llu %s kept for others, "
            "%llu %s announced\n",
            (unsigned long long)s->dht_table, cli_plural(s->dht_table, "contact", "contacts"),
            (unsigned long long)s->dht_records, cli_plural(s->dht_records, "record", "records"),
            (unsigned long long)s->dht_announces, cli_plural(s->dht_announces, "feed", "feeds"));
    fprintf(f,
            "gossip:     %llu %s; %llu %s received, %llu new, %llu %s, %llu invalid; "
            "%llu %s\n",
            (unsigned long long)s->g_peers, cli_plural(s->g_peers, "peer", "peers"),
            (unsigned long long)s->g_received, cli_plural(s->g_received, "post", "posts"),
            (unsigned long long)s->g_stored, (unsigned long long)s->g_duplicates,
            cli_plural(s->g_duplicates, "duplicate", "duplicates"),
            (unsigned long long)s->g_invalid, (unsigned long long)s->g_forks,
            cli_plural(s->g_forks, "fork", "forks"));
    fprintf(f,
            "from peers: %llu malformed, %llu too large, %llu unknown type, %llu unasked "
            "%s, %llu multipart, %llu %s timed out, %llu %s cut\n",
            (unsigned long long)s->malformed, (unsigned long long)s->oversized,
            (unsigned long long)s->unknown, (unsigned long long)s->unsolicited,
            cli_plural(s->unsolicited, "answer", "answers"),
            (unsigned long long)s->dropped_multipart, (unsigned long long)s->timeouts,
            cli_plural(s->timeouts, "request", "requests"), (unsigned long long)s->flood_cuts,
            cli_plural(s->flood_cuts, "flood", "floods"));
}

int
cli_cmd_status(cli_t *c, cli_args_t *a)
{
    int rc = no_args(c, a, "status [--json]");
    app_request_t req = {.op = APP_OP_STATUS};
    app_result_t *res = NULL;
    if (rc == CLI_EXIT_OK) {
        rc = cli_call(c, &req, &res);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (c->json) {
        cli_print_json(c, res, NULL);
    } else {
        status_text(c, &res->u.status);
    }
    app_result_free(res);
    return CLI_EXIT_OK;
}

int
cli_cmd_peers(cli_t *c, cli_args_t *a)
{
    int rc = no_args(c, a, "peers [--json]");
    app_request_t req = {.op = APP_OP_PEERS};
    app_result_t *res = NULL;
    if (rc == CLI_EXIT_OK) {
        rc = cli_call(c, &req, &res);
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (c->json) {
        cli_print_json(c, res, NULL);
        app_result_free(res);
        return CLI_EXIT_OK;
    }
    uint64_t now = cli_now_ms();
    for (size_t i = 0; i < res->u.peers.n; i++) {
        const app_peer_t *p = &res->u.peers.peers[i];
        char k[KEYTEXT_BUFSZ];
        keytext_encode(k, KEYTEXT_NODE, p->key);
        uint64_t ago = now > p->last_seen_ms ? (now - p->last_seen_ms) / 1000 : 0;
        fprintf(c->out, "%s  %-3s  %s  %s  seen %llus ago", k, p->outbound ? "out" : "in",
                p->endpoint[0] ? p->endpoint : "-", p->ready ? "ready" : "connecting",
                (unsigned long long)ago);
        if (p->rtt_us >= 0) {
            fprintf(c->out, "  rtt %.3f ms", (double)p->rtt_us / 1000.0);
        }
        fputc('\n', c->out);
    }
    if (res->u.peers.n == 0) {
        fputs("no peers yet\n" ALONE_HINT, c->out);
    }
    app_result_free(res);
    return CLI_EXIT_OK;
}

int
cli_cmd_peer(cli_t *c, cli_args_t *a)
{
    bool bad = false;
    const char *t = cli_value(a, "--timeout", &bad);
    const char *pos[3];
    if (bad || cli_unknown_option(a) != NULL || cli_positional(a, pos, 3) != 3 ||
        strcmp(pos[0], "add") != 0) {
        return cli_fail(c, CLI_EXIT_USAGE,
                        "usage: samizdat peer add ENDPOINT NODEKEY [--timeout SECONDS]");
    }
    uint64_t secs = APP_PEER_WAIT_MS / 1000;
    if (t != NULL &&
        (!cli_parse_u64(t, &secs) || secs == 0 || secs > APP_PEER_WAIT_MAX_MS / 1000)) {
        return cli_fail(c, CLI_EXIT_USAGE, "--timeout takes a number of seconds from 1 to %d",
                        APP_PEER_WAIT_MAX_MS / 1000);
    }
    if (!wire_endpoint_valid(pos[1])) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "'%s' is not an endpoint like tcp://192.0.2.1:7470",
                        pos[1]);
    }
    app_request_t req = {.op = APP_OP_PEER_ADD};
    keytext_err_t kerr = keytext_decode(req.u.peer_add.key, KEYTEXT_NODE, pos[2]);
    if (kerr != KEYTEXT_OK) {
        return cli_fail(c, CLI_EXIT_BADINPUT, "'%s' is not a valid node key: %s", pos[2],
                        keytext_strerror(kerr));
    }
    req.u.peer_add.endpoint = pos[1];
    req.u.peer_add.timeout_ms = (uint32_t)(secs * 1000);
    if (!c->json) {
        /* Waiting up to the timeout deserves a word first. */
        if (cli_node_running(c)) {
            fprintf(c->out, "connecting to %s ...\n", pos[1]);
            fflush(c->out);
        }
    }
    app_result_t *res = NULL;
    int rc = cli_call(c, &req, &res);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (c->json) {
        cli_print_json(c, res, NULL);
    } else if (res->u.peer_add.connected) {
        fprintf(c->out, "connected to %s", pos[1]);
        if (res->u.peer_add.rtt_us >= 0) {
            fprintf(c->out, " (round trip %.3f ms)", (double)res->u.peer_add.rtt_us / 1000.0);
        }
        fputc('\n', c->out);
    } else {
        fprintf(c->out, "saved %s; the node will try it when it next starts\n", pos[1]);
    }
    app_result_free(res);
    return CLI_EXIT_OK;
}
