#include "appjson.h"

#include "bytes.h"
#include "json.h"
#include "keytext.h"

/* A round trip in µs (-1: unknown) as two fields: "rtt_ms", whole
 * milliseconds rounded (the field scripts have read since the start), and
 * "rtt_us", microseconds; null when unknown. */
static void
put_rtt(FILE *f, bool known, int64_t rtt_us)
{
    if (known && rtt_us >= 0) {
        fprintf(f, ",\"rtt_ms\":%lld,\"rtt_us\":%lld", (long long)((rtt_us + 500) / 1000),
                (long long)rtt_us);
    } else {
        fputs(",\"rtt_ms\":null,\"rtt_us\":null", f);
    }
}

static void
key(FILE *f, keytext_kind_t kind, const uint8_t *v)
{
    char t[KEYTEXT_BUFSZ];
    keytext_encode(t, kind, v);
    fprintf(f, "\"%s\"", t);
}

static void
u64(FILE *f, const char *name, uint64_t v, bool comma)
{
    fprintf(f, "%s\"%s\":%llu", comma ? "," : "", name, (unsigned long long)v);
}

static void
boolean(FILE *f, const char *name, bool v, bool comma)
{
    fprintf(f, "%s\"%s\":%s", comma ? "," : "", name, v ? "true" : "false");
}

const char *
app_dht_status_word(int s)
{
    switch ((dht_err_t)s) {
    case DHT_OK:
        return "ok";
    case DHT_ENOTFOUND:
        return "not found";
    case DHT_ENOPEERS:
        return "no node answered";
    case DHT_ECANCELED:
        return "cancelled: the node is stopping";
    default:
        return dht_strerror((dht_err_t)s);
    }
}

void
app_json_post(FILE *f, const app_post_t *ap)
{
    const post_t *p = &ap->post;
    fputs("{\"id\":", f);
    key(f, KEYTEXT_POST, p->id);
    fputs(",\"author\":", f);
    key(f, KEYTEXT_AUTHOR, p->author);
    u64(f, "seq", p->seq, true);
    fputs(",\"prev\":", f);
    if (p->seq > 1) {
        key(f, KEYTEXT_POST, p->prev);
    } else {
        fputs("null", f);
    }
    u64(f, "timestamp_ms", p->timestamp_ms, true);
    fprintf(f, ",\"kind\":\"%s\"", post_kind_name(p->kind));
    if (p->kind == POST_KIND_REPLY || p->kind == POST_KIND_DELETE) {
        fputs(",\"ref\":", f);
        key(f, KEYTEXT_POST, p->ref);
    }
    fputs(",\"display_name\":", f);
    json_string(f, ap->display_name);
    boolean(f, "deleted", ap->deleted, true);
    /* A profile's text is its bio; every other kind's is its body. */
    if (p->kind == POST_KIND_PROFILE) {
        fputs(",\"name\":", f);
        json_string(f, p->name);
        fputs(",\"bio\":", f);
    } else {
        fputs(",\"body\":", f);
    }
    json_string(f, ap->deleted ? "" : p->body);
    fputc('}', f);
}

void
app_json_author(FILE *f, const app_author_t *a)
{
    fputs("{\"author\":", f);
    key(f, KEYTEXT_AUTHOR, a->author);
    fputs(",\"name\":", f);
    if (a->has_name) {
        json_string(f, a->name);
    } else {
        fputs("null", f);
    }
    fputs(",\"since_ms\":", f);
    if (a->since_ms > 0) {
        fprintf(f, "%llu", (unsigned long long)a->since_ms);
    } else {
        fputs("null", f);
    }
    fputc('}', f);
}

static void
contact(FILE *f, const dht_contact_t *c)
{
    fputs("{\"node\":", f);
    key(f, KEYTEXT_NODE, c->key);
    fputs(",\"endpoint\":", f);
    json_string(f, c->endpoint);
    fputc('}', f);
}

void
app_json_peer(FILE *f, const app_peer_t *p)
{
    fputs("{\"node\":", f);
    key(f, KEYTEXT_NODE, p->key);
    fputs(",\"endpoint\":", f);
    json_string(f, p->endpoint);
    fprintf(f, ",\"direction\":\"%s\"", p->outbound ? "out" : "in");
    boolean(f, "ready", p->ready, true);
    u64(f, "last_seen_ms", p->last_seen_ms, true);
    put_rtt(f, true, p->rtt_us);
    fputs(",\"software\":", f);
    json_string(f, p->software);
    fputc('}', f);
}

void
app_json_lookup(FILE *f, const app_lookup_t *l)
{
    fputs("{\"author\":", f);
    key(f, KEYTEXT_AUTHOR, l->author);
    fputs(",\"providers\":[", f);
    for (size_t i = 0; i < l->n_providers; i++) {
        fputs(i ? "," : "", f);
        contact(f, &l->providers[i]);
    }
    fputs("],\"head\":", f);
    if (l->has_head) {
        fprintf(f, "{\"seq\":%llu,\"id\":", (unsigned long long)l->head_seq);
        key(f, KEYTEXT_POST, l->head_id);
        fputc('}', f);
    } else {
        fputs("null", f);
    }
    fprintf(f, ",\"providers_status\":\"%s\",\"head_status\":\"%s\"",
            app_dht_status_word(l->providers_status), app_dht_status_word(l->head_status));
    u64(f, "hops", l->hops, true);
    u64(f, "messages", l->messages, true);
    u64(f, "ms", l->ms, true);
    fputc('}', f);
}

static void
posts(FILE *f, const app_post_t *v, size_t n)
{
    fputs("\"posts\":[", f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",\n  " : "\n  ", f);
        app_json_post(f, &v[i]);
    }
    fputs(n ? "\n]" : "]", f);
}

const char *
app_reach_word(uint8_t reach)
{
    switch (reach) {
    case APP_REACH_UNCHECKED:
        return "unchecked";
    case APP_REACH_CHECKING:
        return "checking";
    case APP_REACH_REACHABLE:
        return "reachable";
    case APP_REACH_UNREACHABLE:
        return "not reachable";
    default:
        return "unknown";
    }
}

/* "reachability": the state, the endpoints found reachable directly and
 * as an onion service, and every candidate with its verdict. */
static void
reachability(FILE *f, const app_status_t *s)
{
    static const char *const verdicts[] = {"unknown", "reachable", "not reachable"};
    fputs(",\"reachability\":{\"state\":", f);
    /* Not reachable directly, but through relays: "through relay". */
    bool direct = false;
    for (size_t i = 0; i < s->n_reach; i++) {
        direct = direct || s->reach_eps[i].verdict == APP_EP_REACHABLE;
    }
    json_string(f, !direct && s->n_relays > 0 ? "through relay" : app_reach_word(s->reach));
    fputs(",\"relays\":[", f);
    for (size_t i = 0; i < s->n_relays; i++) {
        fputs(i ? "," : "", f);
        json_string(f, s->relays[i]);
    }
    fputs("],\"relay_port\":", f);
    fprintf(f, "%u", (unsigned)s->relay_port);
    fputs(",\"relay_port_mapped\":", f);
    if (s->relay_mapped[0] != '\0') {
        json_string(f, s->relay_mapped);
    } else {
        fputs("null", f);
    }
    for (int onion = 0; onion < 2; onion++) {
        fputs(onion ? ",\"onion\":[" : ",\"direct\":[", f);
        bool first = true;
        for (size_t i = 0; i < s->n_reach; i++) {
            if (s->reach_eps[i].verdict == APP_EP_REACHABLE && s->reach_eps[i].onion == onion) {
                fputs(first ? "" : ",", f);
                json_string(f, s->reach_eps[i].endpoint);
                first = false;
            }
        }
        fputc(']', f);
    }
    fputs(",\"endpoints\":[", f);
    for (size_t i = 0; i < s->n_reach; i++) {
        fputs(i ? ",{\"endpoint\":" : "{\"endpoint\":", f);
        json_string(f, s->reach_eps[i].endpoint);
        fputs(",\"verdict\":", f);
        json_string(f, s->reach_eps[i].verdict <= APP_EP_UNREACHABLE
                           ? verdicts[s->reach_eps[i].verdict]
                           : "unknown");
        fputc('}', f);
    }
    fputs("]}", f);
}

/* "proxy": null when connections go out directly; else the SOCKS5 proxy,
 * our onion endpoint (or null) and whether each peer has a circuit of its
 * own ("per-peer") or not ("shared", with why). */
static void
proxy(FILE *f, const app_status_t *s)
{
    fputs(",\"proxy\":", f);
    if (s->socks5[0] == '\0') {
        fputs("null", f);
        return;
    }
    fputs("{\"socks5\":", f);
    json_string(f, s->socks5);
    fputs(",\"onion\":", f);
    const char *onion = NULL;
    for (size_t i = 0; i < s->n_reach && onion == NULL; i++) {
        onion = s->reach_eps[i].onion ? s->reach_eps[i].endpoint : NULL;
    }
    if (onion != NULL) {
        json_string(f, onion);
    } else {
        fputs("null", f);
    }
    fprintf(f, ",\"circuits\":\"%s\",\"why\":", s->circuit_per_peer ? "per-peer" : "shared");
    json_string(f, s->circuits_why);
    fputc('}', f);
}

static void
status(FILE *f, const app_status_t *s)
{
    boolean(f, "running", s->running, false);
    fputs(",\"author\":", f);
    if (s->has_author) {
        key(f, KEYTEXT_AUTHOR, s->author);
    } else {
        fputs("null", f);
    }
    fputs(",\"data\":", f);
    json_string(f, s->data_dir);
    u64(f, "posts", s->posts, true);
    u64(f, "authors", s->authors, true);
    u64(f, "following", s->following, true);
    u64(f, "forks", s->forks, true);
    fputs(",\"node_key\":", f);
    if (!s->running) {
        fputs("null", f);
        return;
    }
    key(f, KEYTEXT_NODE, s->node_key);
    fputs(",\"network\":", f);
    json_string(f, s->network);
    fputs(",\"listen\":[", f);
    for (size_t i = 0; i < s->n_listen; i++) {
        fputs(i ? "," : "", f);
        json_string(f, s->listen[i]);
    }
    fputc(']', f);
    u64(f, "uptime_ms", s->uptime_ms, true);
    u64(f, "peers", s->peers, true);
    u64(f, "peers_in", s->peers_in, true);
    u64(f, "peers_out", s->peers_out, true);
    u64(f, "contacts", s->contacts, true);
    fputs(",\"dht\":{", f);
    u64(f, "table", s->dht_table, false);
    u64(f, "records", s->dht_records, true);
    u64(f, "announces", s->dht_announces, true);
    u64(f, "lookups", s->dht_lookups, true);
    fputs("},\"gossip\":{", f);
    u64(f, "peers", s->g_peers, false);
    u64(f, "received", s->g_received, true);
    u64(f, "stored", s->g_stored, true);
    u64(f, "duplicates", s->g_duplicates, true);
    u64(f, "invalid", s->g_invalid, true);
    u64(f, "forwarded", s->g_forwarded, true);
    u64(f, "rate_limited", s->g_rate_limited, true);
    u64(f, "bytes_in", s->g_bytes_in, true);
    u64(f, "bytes_out", s->g_bytes_out, true);
    u64(f, "forks", s->g_forks, true);
    fputc('}', f);
    u64(f, "malformed", s->malformed, true);
    u64(f, "oversized", s->oversized, true);
    u64(f, "unknown", s->unknown, true);
    u64(f, "unsolicited", s->unsolicited, true);
    u64(f, "dropped_multipart", s->dropped_multipart, true);
    u64(f, "timeouts", s->timeouts, true);
    u64(f, "flood_cuts", s->flood_cuts, true);
    u64(f, "relay_reservations", s->relay_reservations, true);
    u64(f, "relay_circuits", s->relay_circuits, true);
    reachability(f, s);
    proxy(f, s);
    fputs(",\"port_mapping\":", f);
    if (s->portmap == 0) {
        fputs("null", f);
        return;
    }
    fprintf(f,
            "{\"state\":\"%s\",\"method\":", portmap_state_word((portmap_state_t)(s->portmap - 1)));
    json_string(f, s->portmap_method);
    fputs(",\"external\":", f);
    if (s->portmap_external[0] != '\0') {
        json_string(f, s->portmap_external);
    } else {
        fputs("null", f);
    }
    fprintf(f, ",\"lease_s\":%u,\"behind_nat\":%s,\"why\":", (unsigned)s->portmap_lifetime_s,
            s->portmap_behind_nat ? "true" : "false");
    json_string(f, s->portmap_why);
    fputc('}', f);
}

static const char *
fork_kind(store_fork_kind_t k)
{
    return k == STORE_FORK_SAME_SEQ ? "same-seq" : "bad-link";
}

/* The fields of an invite: node, author (or null), endpoints. */
static void
invite_fields(FILE *f, const invite_t *inv)
{
    fputs("\"node\":", f);
    key(f, KEYTEXT_NODE, inv->node_key);
    fputs(",\"author\":", f);
    if (inv->has_author) {
        key(f, KEYTEXT_AUTHOR, inv->author);
    } else {
        fputs("null", f);
    }
    fputs(",\"endpoints\":[", f);
    for (size_t i = 0; i < inv->n_endpoints; i++) {
        fputs(i ? "," : "", f);
        json_string(f, inv->endpoints[i]);
    }
    fputc(']', f);
}

static void
join(FILE *f, const app_join_t *j)
{
    invite_fields(f, &j->invite);
    boolean(f, "connected", j->connected, true);
    fputs(",\"via\":", f);
    if (j->connected) {
        json_string(f, j->endpoint);
    } else {
        fputs("null", f);
    }
    put_rtt(f, j->connected, j->rtt_us);
    boolean(f, "followed", j->followed, true);
}

void
app_json_result(FILE *f, const app_result_t *res, const char *path_hint)
{
    const app_result_data_t *u = &res->u;
    fputc('{', f);
    switch (res->op) {
    case APP_OP_STATUS:
        status(f, &u->status);
        break;
    case APP_OP_POST:
    case APP_OP_REPLY:
    case APP_OP_DELETE:
    case APP_OP_PROFILE:
        fputs("\"id\":", f);
        key(f, KEYTEXT_POST, u->publish.post.id);
        u64(f, "seq", u->publish.post.seq, true);
        fprintf(f, ",\"kind\":\"%s\"", post_kind_name(u->publish.post.kind));
        break;
    case APP_OP_FEED:
        fputs("\"author\":", f);
        key(f, KEYTEXT_AUTHOR, u->feed.author);
        u64(f, "head_seq", u->feed.head_seq, true);
        u64(f, "max_seq", u->feed.max_seq, true);
        fputs(",\"forks\":[", f);
        for (size_t i = 0; i < u->feed.n_forks; i++) {
            const store_fork_t *k = &u->feed.forks[i];
            fprintf(f, "%s{\"kind\":\"%s\",\"seq\":%llu,\"first\":", i ? "," : "",
                    fork_kind(k->kind), (unsigned long long)k->seq);
            key(f, KEYTEXT_POST, k->first);
            fputs(",\"second\":", f);
            key(f, KEYTEXT_POST, k->second);
            fputc('}', f);
        }
        fputs("],\"profile\":", f);
        if (u->feed.has_profile) {
            app_json_post(f, &u->feed.profile);
        } else {
            fputs("null", f);
        }
        fputc(',', f);
        posts(f, u->feed.posts, u->feed.n_posts);
        fputs(",\"next_before\":", f);
        if (u->feed.more) {
            fprintf(f, "%llu", (unsigned long long)u->feed.next_before);
        } else {
            fputs("null", f);
        }
        break;
    case APP_OP_SHOW: {
        /* One post: the post record itself, with its encoded bytes. */
        fputs("\"post\":", f);
        app_json_post(f, &u->show.post);
        fputs(",\"raw\":\"", f);
        for (size_t i = 0; i < u->show.raw_len && i < POST_MAX_SIZE; i++) {
            fprintf(f, "%02x", u->show.raw[i]);
        }
        fputc('"', f);
        break;
    }
    case APP_OP_TIMELINE:
        posts(f, u->timeline.posts, u->timeline.n_posts);
        fputs(",\"next_before\":", f);
        if (u->timeline.more) {
            key(f, KEYTEXT_POST, u->timeline.next_before);
        } else {
            fputs("null", f);
        }
        break;
    case APP_OP_FOLLOW:
    case APP_OP_UNFOLLOW:
    case APP_OP_BLOCK:
    case APP_OP_UNBLOCK:
        fprintf(f, "\"action\":\"%s\",\"author\":", app_op_name(res->op));
        app_json_author(f, &u->author.author);
        if (res->op == APP_OP_BLOCK) {
            u64(f, "purged", u->author.purged, true);
        }
        if (res->op == APP_OP_FOLLOW) {
            fputs(",\"lookup\":", f);
            if (u->author.looked_up) {
                app_json_lookup(f, &u->author.lookup);
            } else {
                fputs("null", f);
            }
        }
        break;
    case APP_OP_FOLLOWING:
    case APP_OP_BLOCKED:
        fprintf(f, "\"%s\":[", res->op == APP_OP_FOLLOWING ? "following" : "blocked");
        for (size_t i = 0; i < u->list.n; i++) {
            fputs(i ? ",\n  " : "\n  ", f);
            app_json_author(f, &u->list.authors[i]);
        }
        fputs(u->list.n ? "\n]" : "]", f);
        break;
    case APP_OP_EXPORT:
        fputs("\"file\":", f);
        if (u->export_.path != NULL) {
            json_string(f, u->export_.path);
        } else {
            fputs("null", f);
        }
        u64(f, "posts", u->export_.posts, true);
        break;
    case APP_OP_IMPORT:
        fputs("\"file\":", f);
        if (path_hint != NULL) {
            json_string(f, path_hint);
        } else {
            fputs("null", f);
        }
        u64(f, "records", u->import.records, true);
        u64(f, "added", u->import.added, true);
        u64(f, "duplicates", u->import.duplicates, true);
        u64(f, "forks", u->import.forks, true);
        u64(f, "refused", u->import.refused, true);
        boolean(f, "complete", u->import.complete, true);
        fputs(",\"malformed\":", f);
        if (!u->import.complete && u->import.malformed[0] != '\0') {
            json_string(f, u->import.malformed);
        } else {
            fputs("null", f);
        }
        fputs(",\"refusals\":[", f);
        for (size_t i = 0; i < u->import.n_refusals; i++) {
            fprintf(f, "%s{\"record\":%llu,\"why\":", i ? "," : "",
                    (unsigned long long)u->import.refusals[i].record);
            json_string(f, u->import.refusals[i].why);
            fputc('}', f);
        }
        fputc(']', f);
        break;
    case APP_OP_PEERS:
        fputs("\"peers\":[", f);
        for (size_t i = 0; i < u->peers.n; i++) {
            fputs(i ? ",\n  " : "\n  ", f);
            app_json_peer(f, &u->peers.peers[i]);
        }
        fputs(u->peers.n ? "\n]" : "]", f);
        break;
    case APP_OP_PEER_ADD:
        boolean(f, "connected", u->peer_add.connected, false);
        put_rtt(f, u->peer_add.connected, u->peer_add.rtt_us);
        break;
    case APP_OP_LOOKUP:
        fputs("\"lookups\":[", f);
        for (size_t i = 0; i < u->lookup.n; i++) {
            fputs(i ? ",\n  " : "\n  ", f);
            app_json_lookup(f, &u->lookup.items[i]);
        }
        fputs(u->lookup.n ? "\n]" : "]", f);
        break;
    case APP_OP_INVITE:
        fputs("\"invite\":", f);
        json_string(f, u->invite.text);
        fputc(',', f);
        invite_fields(f, &u->invite.invite);
        break;
    case APP_OP_JOIN:
        join(f, &u->join);
        break;
    case APP_OP_THREAD:
        fputs("\"parent\":", f);
        if (u->thread.has_parent) {
            app_json_post(f, &u->thread.parent);
        } else {
            fputs("null", f);
        }
        fputs(",\"items\":[", f);
        for (size_t i = 0; i < u->thread.n; i++) {
            fprintf(f, "%s\n{\"depth\":%u,\"post\":", i ? "," : "",
                    (unsigned)u->thread.items[i].depth);
            app_json_post(f, &u->thread.items[i].post);
            fputc('}', f);
        }
        fputs(u->thread.n ? "\n]" : "]", f);
        boolean(f, "truncated", u->thread.truncated, true);
        break;
    case APP_OP_FIND_NODE: {
        char hex[2 * DHT_KEY_SIZE + 1];
        bytes_to_hex(hex, u->find_node.target, DHT_KEY_SIZE);
        fprintf(f, "\"target\":\"%s\",\"status\":\"%s\",\"closest\":[", hex,
                app_dht_status_word(u->find_node.status));
        for (size_t i = 0; i < u->find_node.n; i++) {
            fputs(i ? "," : "", f);
            contact(f, &u->find_node.contacts[i]);
        }
        fputc(']', f);
        u64(f, "hops", u->find_node.hops, true);
        u64(f, "messages", u->find_node.messages, true);
        u64(f, "ms", u->find_node.ms, true);
        break;
    }
    }
    fputc('}', f);
}
