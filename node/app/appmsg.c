#include "appmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"

const char *
appmsg_strerror(appmsg_err_t err)
{
    switch (err) {
    case APPMSG_OK:
        return "ok";
    case APPMSG_ENOMEM:
        return "out of memory";
    case APPMSG_EMALFORMED:
        return "malformed message";
    case APPMSG_EVERSION:
        return "another version of the control protocol (is the node the same version?)";
    case APPMSG_ETOOLARGE:
        return "message too large";
    }
    return "unknown appmsg error";
}

/* ---- a growing buffer for encoding ---- */

typedef struct {
    uint8_t *p;
    size_t len;
    size_t cap;
    size_t max;
    appmsg_err_t err;
} gbuf_t;

static void
g_put(gbuf_t *g, const void *src, size_t n)
{
    if (g->err != APPMSG_OK) {
        return;
    }
    if (n > g->max - g->len) {
        g->err = APPMSG_ETOOLARGE;
        return;
    }
    if (g->len + n > g->cap) {
        size_t ncap = g->cap ? g->cap : 256;
        while (ncap < g->len + n) {
            ncap *= 2;
        }
        uint8_t *np = realloc(g->p, ncap);
        if (np == NULL) {
            g->err = APPMSG_ENOMEM;
            return;
        }
        g->p = np;
        g->cap = ncap;
    }
    if (n > 0) {
        memcpy(g->p + g->len, src, n);
    }
    g->len += n;
}

static void
g_u8(gbuf_t *g, uint8_t v)
{
    g_put(g, &v, 1);
}

static void
g_be(gbuf_t *g, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++) {
        b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    }
    g_put(g, b, (size_t)bytes);
}

static void
g_u16(gbuf_t *g, uint16_t v)
{
    g_be(g, v, 2);
}

static void
g_u32(gbuf_t *g, uint32_t v)
{
    g_be(g, v, 4);
}

static void
g_u64(gbuf_t *g, uint64_t v)
{
    g_be(g, v, 8);
}

/* A string: u16 length n (the NUL included), n bytes, the last one NUL. */
static void
g_cstr(gbuf_t *g, const char *s)
{
    size_t n = strlen(s) + 1;
    if (n > UINT16_MAX) {
        g->err = g->err ? g->err : APPMSG_ETOOLARGE;
        return;
    }
    g_u16(g, (uint16_t)n);
    g_put(g, s, n);
}

/* Bytes: u32 length, then the bytes. */
static void
g_blob(gbuf_t *g, const void *p, size_t n)
{
    if (n > UINT32_MAX) {
        g->err = g->err ? g->err : APPMSG_ETOOLARGE;
        return;
    }
    g_u32(g, (uint32_t)n);
    g_put(g, p, n);
}

static appmsg_err_t
g_done(gbuf_t *g, uint8_t **out, size_t *len)
{
    if (g->err != APPMSG_OK) {
        free(g->p);
        return g->err;
    }
    *out = g->p;
    *len = g->len;
    return APPMSG_OK;
}

/* ---- decoding helpers ---- */

typedef struct {
    bytes_reader_t r;
    bool bad; /* a field broke its rule (the reader's flag covers lengths) */
} rd_t;

static uint8_t
r_u8(rd_t *d)
{
    return bytes_get_u8(&d->r);
}

static bool
r_bool(rd_t *d)
{
    uint8_t v = bytes_get_u8(&d->r);
    if (v > 1) {
        d->bad = true;
    }
    return v == 1;
}

static uint16_t
r_u16(rd_t *d)
{
    return bytes_get_u16(&d->r);
}

static uint32_t
r_u32(rd_t *d)
{
    return bytes_get_u32(&d->r);
}

static uint64_t
r_u64(rd_t *d)
{
    return bytes_get_u64(&d->r);
}

static void
r_fixed(rd_t *d, uint8_t *out, size_t n)
{
    bytes_get(&d->r, out, n);
}

/* A string of at most max bytes (NUL not counted); a pointer into the
 * buffer, or "" when malformed. */
static const char *
r_cstr_ref(rd_t *d, size_t max)
{
    size_t n = r_u16(d);
    const uint8_t *p = bytes_get_ref(&d->r, n);
    if (p == NULL || n == 0 || n - 1 > max || p[n - 1] != '\0' || memchr(p, '\0', n - 1) != NULL) {
        d->bad = true;
        return "";
    }
    return (const char *)p;
}

/* The same, copied into dst (max + 1 bytes). */
static void
r_cstr(rd_t *d, char *dst, size_t max)
{
    const char *s = r_cstr_ref(d, max);
    size_t n = strlen(s);
    memcpy(dst, s, n + 1);
}

static const uint8_t *
r_blob(rd_t *d, size_t max, size_t *len)
{
    *len = r_u32(d);
    if (*len > max) {
        d->bad = true;
        *len = 0;
        return NULL;
    }
    const uint8_t *p = bytes_get_ref(&d->r, *len);
    if (p == NULL) {
        *len = 0;
    }
    return p;
}

/* A count for elements of at least min_size bytes each: over cap, or more
 * than the bytes left could hold, it is malformed (and 0 is returned), so
 * a lying count never makes us allocate. */
static size_t
r_count(rd_t *d, size_t n, size_t cap, size_t min_size)
{
    if (n > cap || n > bytes_remaining(&d->r) / min_size) {
        d->bad = true;
        return 0;
    }
    return n;
}

static appmsg_err_t
r_end(rd_t *d)
{
    return (d->bad || !bytes_reader_done(&d->r)) ? APPMSG_EMALFORMED : APPMSG_OK;
}

/* ---- requests ---- */

static void
g_text(gbuf_t *g, const app_text_t *t)
{
    if (t->text_len > APP_TEXT_MAX) {
        g->err = g->err ? g->err : APPMSG_ETOOLARGE;
        return;
    }
    g_blob(g, t->text, t->text_len);
}

static void
r_text(rd_t *d, app_text_t *t)
{
    t->text = (const char *)r_blob(d, APP_TEXT_MAX, &t->text_len);
    if (t->text == NULL) {
        t->text = "";
    }
}

appmsg_err_t
appmsg_request_encode(const app_request_t *req, uint8_t **out, size_t *len)
{
    gbuf_t g = {.max = APPMSG_REQUEST_MAX};
    g_u8(&g, APPMSG_VERSION);
    g_u8(&g, (uint8_t)req->op);
    const app_args_t *u = &req->u;
    switch (req->op) {
    case APP_OP_STATUS:
    case APP_OP_FOLLOWING:
    case APP_OP_BLOCKED:
    case APP_OP_PEERS:
        break;
    case APP_OP_POST:
        g_text(&g, &u->post.body);
        break;
    case APP_OP_REPLY:
        g_put(&g, u->reply.ref, POST_ID_SIZE);
        g_text(&g, &u->reply.body);
        break;
    case APP_OP_DELETE:
        g_put(&g, u->del.ref, POST_ID_SIZE);
        break;
    case APP_OP_PROFILE:
        g_text(&g, &u->profile.name);
        g_u8(&g, u->profile.has_bio);
        g_text(&g, &u->profile.bio);
        break;
    case APP_OP_FEED:
        g_u8(&g, u->feed.self);
        g_put(&g, u->feed.author, KEYS_PUBLIC_SIZE);
        g_u64(&g, u->feed.before_seq);
        g_u32(&g, u->feed.limit);
        break;
    case APP_OP_SHOW:
    case APP_OP_THREAD:
        g_put(&g, u->show.id, POST_ID_SIZE);
        break;
    case APP_OP_TIMELINE:
        g_u8(&g, u->timeline.has_before);
        g_put(&g, u->timeline.before, POST_ID_SIZE);
        g_u32(&g, u->timeline.limit);
        break;
    case APP_OP_FOLLOW:
    case APP_OP_UNFOLLOW:
    case APP_OP_BLOCK:
    case APP_OP_UNBLOCK:
        g_put(&g, u->author.author, KEYS_PUBLIC_SIZE);
        break;
    case APP_OP_EXPORT:
        g_put(&g, u->export_.author, KEYS_PUBLIC_SIZE);
        g_u8(&g, u->export_.force);
        g_u8(&g, u->export_.path != NULL);
        if (u->export_.path != NULL) {
            g_cstr(&g, u->export_.path);
        }
        break;
    case APP_OP_IMPORT:
        g_u8(&g, u->import.path != NULL);
        if (u->import.path != NULL) {
            g_cstr(&g, u->import.path);
        } else if (u->import.data_len > APP_IMPORT_DATA_MAX) {
            g.err = APPMSG_ETOOLARGE;
        } else {
            g_blob(&g, u->import.data, u->import.data_len);
        }
        break;
    case APP_OP_PEER_ADD:
        g_put(&g, u->peer_add.key, KEYS_PUBLIC_SIZE);
        g_cstr(&g, u->peer_add.endpoint ? u->peer_add.endpoint : "");
        g_u32(&g, u->peer_add.timeout_ms);
        break;
    case APP_OP_LOOKUP:
        if (u->lookup.n == 0 || u->lookup.n > APP_LOOKUP_MAX || u->lookup.authors == NULL) {
            g.err = APPMSG_ETOOLARGE;
            break;
        }
        g_u8(&g, (uint8_t)u->lookup.n);
        g_put(&g, u->lookup.authors, KEYS_PUBLIC_SIZE * u->lookup.n);
        break;
    case APP_OP_FIND_NODE:
        g_put(&g, u->find_node.target, DHT_KEY_SIZE);
        break;
    case APP_OP_INVITE:
        g_u8(&g, u->invite.no_author);
        break;
    case APP_OP_JOIN:
        g_cstr(&g, u->join.invite ? u->join.invite : "");
        g_u32(&g, u->join.timeout_ms);
        break;
    default:
        g.err = APPMSG_EMALFORMED;
        break;
    }
    if (g.err == APPMSG_OK && (g.len > 0 && (size_t)g.len > APPMSG_REQUEST_MAX)) {
        g.err = APPMSG_ETOOLARGE;
    }
    return g_done(&g, out, len);
}

appmsg_err_t
appmsg_request_decode(const uint8_t *buf, size_t len, app_request_t *out)
{
    memset(out, 0, sizeof *out);
    if (len > APPMSG_REQUEST_MAX) {
        return APPMSG_EMALFORMED;
    }
    rd_t d = {.bad = false};
    bytes_reader_init(&d.r, buf, len);
    uint8_t version = r_u8(&d);
    if (bytes_reader_ok(&d.r) && version != APPMSG_VERSION) {
        return APPMSG_EVERSION;
    }
    uint8_t op = r_u8(&d);
    if (op < APP_OP_STATUS || op > APP_OP_LAST) {
        return APPMSG_EMALFORMED;
    }
    out->op = (app_op_t)op;
    app_args_t *u = &out->u;
    switch (out->op) {
    case APP_OP_STATUS:
    case APP_OP_FOLLOWING:
    case APP_OP_BLOCKED:
    case APP_OP_PEERS:
        break;
    case APP_OP_POST:
        r_text(&d, &u->post.body);
        break;
    case APP_OP_REPLY:
        r_fixed(&d, u->reply.ref, POST_ID_SIZE);
        r_text(&d, &u->reply.body);
        break;
    case APP_OP_DELETE:
        r_fixed(&d, u->del.ref, POST_ID_SIZE);
        break;
    case APP_OP_PROFILE:
        r_text(&d, &u->profile.name);
        u->profile.has_bio = r_bool(&d);
        r_text(&d, &u->profile.bio);
        break;
    case APP_OP_FEED:
        u->feed.self = r_bool(&d);
        r_fixed(&d, u->feed.author, KEYS_PUBLIC_SIZE);
        u->feed.before_seq = r_u64(&d);
        u->feed.limit = r_u32(&d);
        break;
    case APP_OP_SHOW:
    case APP_OP_THREAD:
        r_fixed(&d, u->show.id, POST_ID_SIZE);
        break;
    case APP_OP_TIMELINE:
        u->timeline.has_before = r_bool(&d);
        r_fixed(&d, u->timeline.before, POST_ID_SIZE);
        u->timeline.limit = r_u32(&d);
        break;
    case APP_OP_FOLLOW:
    case APP_OP_UNFOLLOW:
    case APP_OP_BLOCK:
    case APP_OP_UNBLOCK:
        r_fixed(&d, u->author.author, KEYS_PUBLIC_SIZE);
        break;
    case APP_OP_EXPORT:
        r_fixed(&d, u->export_.author, KEYS_PUBLIC_SIZE);
        u->export_.force = r_bool(&d);
        if (r_bool(&d)) {
            u->export_.path = r_cstr_ref(&d, APP_PATH_MAX - 1);
        }
        break;
    case APP_OP_IMPORT:
        if (r_bool(&d)) {
            u->import.path = r_cstr_ref(&d, APP_PATH_MAX - 1);
        } else {
            u->import.data = r_blob(&d, APP_IMPORT_DATA_MAX, &u->import.data_len);
        }
        break;
    case APP_OP_PEER_ADD:
        r_fixed(&d, u->peer_add.key, KEYS_PUBLIC_SIZE);
        u->peer_add.endpoint = r_cstr_ref(&d, WIRE_ENDPOINT_MAX);
        u->peer_add.timeout_ms = r_u32(&d);
        break;
    case APP_OP_LOOKUP:
        u->lookup.n = r_u8(&d);
        if (u->lookup.n == 0 || u->lookup.n > APP_LOOKUP_MAX) {
            d.bad = true;
            u->lookup.n = 0;
        }
        u->lookup.authors = bytes_get_ref(&d.r, KEYS_PUBLIC_SIZE * u->lookup.n);
        break;
    case APP_OP_FIND_NODE:
        r_fixed(&d, u->find_node.target, DHT_KEY_SIZE);
        break;
    case APP_OP_INVITE:
        u->invite.no_author = r_bool(&d);
        break;
    case APP_OP_JOIN:
        /* Any text up to the text cap: judging it is the op's work. */
        u->join.invite = r_cstr_ref(&d, APP_TEXT_MAX);
        u->join.timeout_ms = r_u32(&d);
        break;
    }
    return r_end(&d);
}

/* ---- results ---- */

static void
g_post(gbuf_t *g, const post_t *p)
{
    uint8_t raw[POST_MAX_SIZE];
    size_t n = 0;
    if (post_encode(p, raw, sizeof raw, &n) != POST_OK) {
        g->err = g->err ? g->err : APPMSG_EMALFORMED;
        return;
    }
    g_u16(g, (uint16_t)n);
    g_put(g, raw, n);
}

/* A post from our own node: decoded with every rule but the signature,
 * which the node checked when it stored the post. */
static void
r_post(rd_t *d, post_t *p)
{
    size_t n = r_u16(d);
    const uint8_t *raw = bytes_get_ref(&d->r, n);
    if (raw == NULL || post_decode(p, raw, n, POST_NO_VERIFY) != POST_OK) {
        d->bad = true;
        memset(p, 0, sizeof *p);
    }
}

static void
g_app_post(gbuf_t *g, const app_post_t *p)
{
    g_post(g, &p->post);
    g_cstr(g, p->display_name);
    g_u8(g, p->deleted);
}

static void
r_app_post(rd_t *d, app_post_t *p)
{
    r_post(d, &p->post);
    r_cstr(d, p->display_name, POST_NAME_MAX);
    p->deleted = r_bool(d);
}

/* The smallest encoded app_post_t, for counting. */
enum { MIN_APP_POST = 2 + POST_MIN_SIZE + 3 + 1 };

static void
g_author(gbuf_t *g, const app_author_t *a)
{
    g_put(g, a->author, KEYS_PUBLIC_SIZE);
    g_u8(g, a->has_name);
    g_cstr(g, a->has_name ? a->name : "");
    g_u64(g, a->since_ms);
}

static void
r_author(rd_t *d, app_author_t *a)
{
    r_fixed(d, a->author, KEYS_PUBLIC_SIZE);
    a->has_name = r_bool(d);
    r_cstr(d, a->name, POST_NAME_MAX);
    if (!a->has_name && a->name[0] != '\0') {
        d->bad = true; /* a name without has_name: not canonical */
    }
    a->since_ms = r_u64(d);
}

enum { MIN_AUTHOR = KEYS_PUBLIC_SIZE + 1 + 3 + 8 };

static void
g_contact(gbuf_t *g, const dht_contact_t *c)
{
    g_put(g, c->key, KEYS_PUBLIC_SIZE);
    g_cstr(g, c->endpoint);
}

static void
r_contact(rd_t *d, dht_contact_t *c)
{
    r_fixed(d, c->key, KEYS_PUBLIC_SIZE);
    r_cstr(d, c->endpoint, DHT_ENDPOINT_MAX);
}

static void
g_lookup(gbuf_t *g, const app_lookup_t *l)
{
    g_put(g, l->author, KEYS_PUBLIC_SIZE);
    g_u8(g, l->providers_status);
    g_u8(g, l->head_status);
    size_t n = l->n_providers < DHT_PROVIDERS_MAX ? l->n_providers : DHT_PROVIDERS_MAX;
    g_u8(g, (uint8_t)n);
    for (size_t i = 0; i < n; i++) {
        g_contact(g, &l->providers[i]);
    }
    g_u8(g, l->has_head);
    g_u64(g, l->head_seq);
    g_put(g, l->head_id, POST_ID_SIZE);
    g_u32(g, l->hops);
    g_u32(g, l->messages);
    g_u64(g, l->ms);
}

static void
r_lookup(rd_t *d, app_lookup_t *l)
{
    r_fixed(d, l->author, KEYS_PUBLIC_SIZE);
    l->providers_status = r_u8(d);
    l->head_status = r_u8(d);
    l->n_providers = r_count(d, r_u8(d), DHT_PROVIDERS_MAX, 33);
    for (size_t i = 0; i < l->n_providers; i++) {
        r_contact(d, &l->providers[i]);
    }
    l->has_head = r_bool(d);
    l->head_seq = r_u64(d);
    r_fixed(d, l->head_id, POST_ID_SIZE);
    l->hops = r_u32(d);
    l->messages = r_u32(d);
    l->ms = r_u64(d);
}

enum { MIN_LOOKUP = KEYS_PUBLIC_SIZE + 3 + 1 + 8 + POST_ID_SIZE + 4 + 4 + 8 };

static void
g_status(gbuf_t *g, const app_status_t *s)
{
    g_u8(g, s->running);
    g_u8(g, s->has_author);
    g_put(g, s->author, KEYS_PUBLIC_SIZE);
    g_cstr(g, s->data_dir);
    g_u64(g, s->posts);
    g_u64(g, s->authors);
    g_u64(g, s->following);
    g_u64(g, s->forks);
    if (!s->running) {
        return;
    }
    g_put(g, s->node_key, KEYS_PUBLIC_SIZE);
    g_cstr(g, s->network);
    size_t n = s->n_listen < APP_LISTEN_MAX ? s->n_listen : APP_LISTEN_MAX;
    g_u8(g, (uint8_t)n);
    for (size_t i = 0; i < n; i++) {
        g_cstr(g, s->listen[i]);
    }
    const uint64_t v[] = {
        s->uptime_ms,      s->peers,       s->peers_in,      s->peers_out,         s->contacts,
        s->dht_table,      s->dht_records, s->dht_announces, s->dht_lookups,       s->g_peers,
        s->g_received,     s->g_stored,    s->g_duplicates,  s->g_invalid,         s->g_forwarded,
        s->g_rate_limited, s->g_bytes_in,  s->g_bytes_out,   s->g_forks,           s->malformed,
        s->oversized,      s->unknown,     s->unsolicited,   s->dropped_multipart, s->timeouts,
        s->flood_cuts,
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        g_u64(g, v[i]);
    }
    g_u8(g, s->portmap);
    g_cstr(g, s->portmap_method);
    g_cstr(g, s->portmap_external);
    g_u32(g, s->portmap_lifetime_s);
    g_u8(g, s->portmap_behind_nat);
    g_cstr(g, s->portmap_why);
    g_u8(g, s->reach);
    size_t nr = s->n_reach < APP_REACH_MAX ? s->n_reach : APP_REACH_MAX;
    g_u8(g, (uint8_t)nr);
    for (size_t i = 0; i < nr; i++) {
        g_cstr(g, s->reach_eps[i].endpoint);
        g_u8(g, s->reach_eps[i].verdict);
        g_u8(g, s->reach_eps[i].onion);
    }
    size_t nl = s->n_relays < APP_RELAYS_MAX ? s->n_relays : APP_RELAYS_MAX;
    g_u8(g, (uint8_t)nl);
    for (size_t i = 0; i < nl; i++) {
        g_cstr(g, s->relays[i]);
    }
    g_u32(g, s->relay_port);
    g_cstr(g, s->relay_mapped);
    g_u64(g, s->relay_reservations);
    g_u64(g, s->relay_circuits);
    g_cstr(g, s->socks5);
    g_u8(g, s->circuit_per_peer);
    g_cstr(g, s->circuits_why);
}

static void
r_status(rd_t *d, app_status_t *s)
{
    s->running = r_bool(d);
    s->has_author = r_bool(d);
    r_fixed(d, s->author, KEYS_PUBLIC_SIZE);
    r_cstr(d, s->data_dir, APP_PATH_MAX - 1);
    s->posts = r_u64(d);
    s->authors = r_u64(d);
    s->following = r_u64(d);
    s->forks = r_u64(d);
    if (!s->running) {
        return;
    }
    r_fixed(d, s->node_key, KEYS_PUBLIC_SIZE);
    r_cstr(d, s->network, WIRE_NETWORK_MAX);
    s->n_listen = r_count(d, r_u8(d), APP_LISTEN_MAX, 3);
    for (size_t i = 0; i < s->n_listen; i++) {
        r_cstr(d, s->listen[i], APP_LISTEN_LEN - 1);
    }
    uint64_t *v[] = {
        &s->uptime_ms,    &s->peers,       &s->peers_in,    &s->peers_out,
        &s->contacts,     &s->dht_table,   &s->dht_records, &s->dht_announces,
        &s->dht_lookups,  &s->g_peers,     &s->g_received,  &s->g_stored,
        &s->g_duplicates, &s->g_invalid,   &s->g_forwarded, &s->g_rate_limited,
        &s->g_bytes_in,   &s->g_bytes_out, &s->g_forks,     &s->malformed,
        &s->oversized,    &s->unknown,     &s->unsolicited, &s->dropped_multipart,
        &s->timeouts,     &s->flood_cuts,
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        *v[i] = r_u64(d);
    }
    s->portmap = r_u8(d);
    if (s->portmap > 1 + PORTMAP_FAILED) {
        d->bad = true;
    }
    r_cstr(d, s->portmap_method, sizeof s->portmap_method - 1);
    r_cstr(d, s->portmap_external, sizeof s->portmap_external - 1);
    s->portmap_lifetime_s = r_u32(d);
    s->portmap_behind_nat = r_bool(d);
    r_cstr(d, s->portmap_why, sizeof s->portmap_why - 1);
    s->reach = r_u8(d);
    if (s->reach > APP_REACH_UNREACHABLE) {
        d->bad = true;
    }
    s->n_reach = r_count(d, r_u8(d), APP_REACH_MAX, 5);
    for (size_t i = 0; i < s->n_reach; i++) {
        r_cstr(d, s->reach_eps[i].endpoint, sizeof s->reach_eps[i].endpoint - 1);
        s->reach_eps[i].verdict = r_u8(d);
        if (s->reach_eps[i].verdict > APP_EP_UNREACHABLE) {
            d->bad = true;
        }
        s->reach_eps[i].onion = r_bool(d);
    }
    s->n_relays = r_count(d, r_u8(d), APP_RELAYS_MAX, 2);
    for (size_t i = 0; i < s->n_relays; i++) {
        r_cstr(d, s->relays[i], sizeof s->relays[i] - 1);
    }
    uint32_t port = r_u32(d);
    if (port > 65535) {
        d->bad = true;
    }
    s->relay_port = (uint16_t)port;
    r_cstr(d, s->relay_mapped, sizeof s->relay_mapped - 1);
    s->relay_reservations = r_u64(d);
    s->relay_circuits = r_u64(d);
    r_cstr(d, s->socks5, sizeof s->socks5 - 1);
    s->circuit_per_peer = r_bool(d);
    r_cstr(d, s->circuits_why, sizeof s->circuits_why - 1);
}

/* An invite travels as its text (an empty text for none). */
static void
g_invite(gbuf_t *g, const invite_t *inv)
{
    char text[INVITE_TEXT_MAX] = "";
    if (inv->n_endpoints > 0) {
        (void)invite_encode(inv, text);
    }
    g_cstr(g, text);
}

static void
r_invite(rd_t *d, char text[static INVITE_TEXT_MAX], invite_t *inv)
{
    r_cstr(d, text, INVITE_TEXT_MAX - 1);
    if (text[0] != '\0' && invite_decode(text, inv, NULL) != INVITE_OK) {
        d->bad = true;
    }
}

static void
g_join(gbuf_t *g, const app_join_t *j)
{
    g_invite(g, &j->invite);
    g_u8(g, j->connected);
    g_cstr(g, j->endpoint);
    g_u64(g, (uint64_t)j->rtt_us);
    g_u8(g, j->followed);
    g_author(g, &j->author);
}

static void
r_join(rd_t *d, app_join_t *j)
{
    char text[INVITE_TEXT_MAX];
    r_invite(d, text, &j->invite);
    j->connected = r_bool(d);
    r_cstr(d, j->endpoint, sizeof j->endpoint - 1);
    j->rtt_us = (int64_t)r_u64(d);
    j->followed = r_bool(d);
    r_author(d, &j->author);
}

static void
g_peer(gbuf_t *g, const app_peer_t *p)
{
    g_put(g, p->key, KEYS_PUBLIC_SIZE);
    g_cstr(g, p->endpoint);
    g_u8(g, p->outbound);
    g_u8(g, p->ready);
    g_u64(g, p->last_seen_ms);
    g_u64(g, (uint64_t)p->rtt_us);
    g_cstr(g, p->software);
}

static void
r_peer(rd_t *d, app_peer_t *p)
{
    r_fixed(d, p->key, KEYS_PUBLIC_SIZE);
    r_cstr(d, p->endpoint, WIRE_ENDPOINT_MAX);
    p->outbound = r_bool(d);
    p->ready = r_bool(d);
    p->last_seen_ms = r_u64(d);
    p->rtt_us = (int64_t)r_u64(d);
    r_cstr(d, p->software, WIRE_SOFTWARE_MAX);
}

enum { MIN_PEER = KEYS_PUBLIC_SIZE + 3 + 2 + 16 + 3 };

appmsg_err_t
appmsg_result_encode(const app_result_t *res, uint8_t **out, size_t *len)
{
    gbuf_t g = {.max = APPMSG_RESULT_MAX};
    g_u8(&g, APPMSG_VERSION);
    g_u8(&g, (uint8_t)res->op);
    g_u8(&g, (uint8_t)res->err);
    char msg[APP_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", res->msg);
    g_cstr(&g, msg);
    if (res->err != APP_OK) {
        return g_done(&g, out, len);
    }
    const app_result_data_t *u = &res->u;
    switch (res->op) {
    case APP_OP_STATUS:
        g_status(&g, &u->status);
        break;
    case APP_OP_POST:
    case APP_OP_REPLY:
    case APP_OP_DELETE:
    case APP_OP_PROFILE:
        g_post(&g, &u->publish.post);
        break;
    case APP_OP_FEED:
        g_put(&g, u->feed.author, KEYS_PUBLIC_SIZE);
        g_u8(&g, u->feed.stored);
        g_u64(&g, u->feed.head_seq);
        g_u64(&g, u->feed.max_seq);
        g_u32(&g, (uint32_t)u->feed.n_forks);
        for (size_t i = 0; i < u->feed.n_forks; i++) {
            g_u8(&g, (uint8_t)u->feed.forks[i].kind);
            g_u64(&g, u->feed.forks[i].seq);
            g_put(&g, u->feed.forks[i].first, POST_ID_SIZE);
            g_put(&g, u->feed.forks[i].second, POST_ID_SIZE);
        }
        g_u32(&g, (uint32_t)u->feed.n_posts);
        for (size_t i = 0; i < u->feed.n_posts; i++) {
            g_app_post(&g, &u->feed.posts[i]);
        }
        g_u8(&g, u->feed.more);
        g_u64(&g, u->feed.next_before);
        g_u8(&g, u->feed.has_profile);
        if (u->feed.has_profile) {
            g_app_post(&g, &u->feed.profile);
        }
        break;
    case APP_OP_SHOW:
        g_app_post(&g, &u->show.post);
        g_u16(&g, (uint16_t)u->show.raw_len);
        g_put(&g, u->show.raw, u->show.raw_len);
        break;
    case APP_OP_TIMELINE:
        g_u32(&g, (uint32_t)u->timeline.n_posts);
        for (size_t i = 0; i < u->timeline.n_posts; i++) {
            g_app_post(&g, &u->timeline.posts[i]);
        }
        g_u8(&g, u->timeline.more);
        g_put(&g, u->timeline.next_before, POST_ID_SIZE);
        break;
    case APP_OP_FOLLOW:
    case APP_OP_UNFOLLOW:
    case APP_OP_BLOCK:
    case APP_OP_UNBLOCK:
        g_author(&g, &u->author.author);
        g_u64(&g, u->author.purged);
        g_u8(&g, u->author.looked_up);
        if (u->author.looked_up) {
            g_lookup(&g, &u->author.lookup);
        }
        break;
    case APP_OP_FOLLOWING:
    case APP_OP_BLOCKED:
        g_u32(&g, (uint32_t)u->list.n);
        for (size_t i = 0; i < u->list.n; i++) {
            g_author(&g, &u->list.authors[i]);
        }
        break;
    case APP_OP_EXPORT:
        g_u64(&g, u->export_.posts);
        g_u8(&g, u->export_.path != NULL);
        if (u->export_.path != NULL) {
            g_cstr(&g, u->export_.path);
        }
        g_blob(&g, u->export_.data, u->export_.data_len);
        break;
    case APP_OP_IMPORT:
        g_u64(&g, u->import.records);
        g_u64(&g, u->import.added);
        g_u64(&g, u->import.duplicates);
        g_u64(&g, u->import.forks);
        g_u64(&g, u->import.refused);
        g_u8(&g, u->import.complete);
        g_cstr(&g, u->import.malformed);
        g_u8(&g, (uint8_t)u->import.n_refusals);
        for (size_t i = 0; i < u->import.n_refusals && i < APP_REFUSALS_MAX; i++) {
            g_u64(&g, u->import.refusals[i].record);
            g_cstr(&g, u->import.refusals[i].why);
        }
        break;
    case APP_OP_PEERS:
        g_u32(&g, (uint32_t)u->peers.n);
        for (size_t i = 0; i < u->peers.n; i++) {
            g_peer(&g, &u->peers.peers[i]);
        }
        break;
    case APP_OP_PEER_ADD:
        g_u8(&g, u->peer_add.connected);
        g_u64(&g, (uint64_t)u->peer_add.rtt_us);
        break;
    case APP_OP_LOOKUP:
        g_u8(&g, (uint8_t)u->lookup.n);
        for (size_t i = 0; i < u->lookup.n; i++) {
            g_lookup(&g, &u->lookup.items[i]);
        }
        break;
    case APP_OP_FIND_NODE:
        g_put(&g, u->find_node.target, DHT_KEY_SIZE);
        g_u8(&g, u->find_node.status);
        g_u8(&g, (uint8_t)u->find_node.n);
        for (size_t i = 0; i < u->find_node.n; i++) {
            g_contact(&g, &u->find_node.contacts[i]);
        }
        g_u32(&g, u->find_node.hops);
        g_u32(&g, u->find_node.messages);
        g_u64(&g, u->find_node.ms);
        break;
    case APP_OP_INVITE:
        g_cstr(&g, u->invite.text);
        break;
    case APP_OP_JOIN:
        g_join(&g, &u->join);
        break;
    case APP_OP_THREAD:
        g_u8(&g, u->thread.has_parent);
        if (u->thread.has_parent) {
            g_app_post(&g, &u->thread.parent);
        }
        g_u32(&g, (uint32_t)u->thread.n);
        for (size_t i = 0; i < u->thread.n; i++) {
            g_app_post(&g, &u->thread.items[i].post);
            g_u32(&g, u->thread.items[i].depth);
        }
        g_u8(&g, u->thread.truncated);
        break;
    }
    return g_done(&g, out, len);
}

/* Allocates n elements of size for a list, or marks d bad. */
static void *
r_alloc(rd_t *d, size_t n, size_t size, bool *oom)
{
    if (n == 0 || d->bad) {
        return NULL;
    }
    void *p = calloc(n, size);
    if (p == NULL) {
        *oom = true;
        d->bad = true;
    }
    return p;
}

static void
r_result_body(rd_t *d, app_result_t *res, bool *oom)
{
    app_result_data_t *u = &res->u;
    switch (res->op) {
    case APP_OP_STATUS:
        r_status(d, &u->status);
        break;
    case APP_OP_POST:
    case APP_OP_REPLY:
    case APP_OP_DELETE:
    case APP_OP_PROFILE:
        r_post(d, &u->publish.post);
        break;
    case APP_OP_FEED:
        r_fixed(d, u->feed.author, KEYS_PUBLIC_SIZE);
        u->feed.stored = r_bool(d);
        u->feed.head_seq = r_u64(d);
        u->feed.max_seq = r_u64(d);
        u->feed.n_forks = r_count(d, r_u32(d), APPMSG_LIST_MAX, 1 + 8 + 64);
        u->feed.forks = r_alloc(d, u->feed.n_forks, sizeof *u->feed.forks, oom);
        for (size_t i = 0; u->feed.forks != NULL && i < u->feed.n_forks; i++) {
            uint8_t kind = r_u8(d);
            if (kind != STORE_FORK_SAME_SEQ && kind != STORE_FORK_BAD_LINK) {
                d->bad = true;
            }
            u->feed.forks[i].kind = (store_fork_kind_t)kind;
            u->feed.forks[i].seq = r_u64(d);
            r_fixed(d, u->feed.forks[i].first, POST_ID_SIZE);
            r_fixed(d, u->feed.forks[i].second, POST_ID_SIZE);
        }
        if (u->feed.forks == NULL) {
            u->feed.n_forks = 0;
        }
        u->feed.n_posts = r_count(d, r_u32(d), APP_PAGE_MAX, MIN_APP_POST);
        u->feed.posts = r_alloc(d, u->feed.n_posts, sizeof *u->feed.posts, oom);
        for (size_t i = 0; u->feed.posts != NULL && i < u->feed.n_posts; i++) {
            r_app_post(d, &u->feed.posts[i]);
        }
        if (u->feed.posts == NULL) {
            u->feed.n_posts = 0;
        }
        u->feed.more = r_bool(d);
        u->feed.next_before = r_u64(d);
        u->feed.has_profile = r_bool(d);
        if (u->feed.has_profile) {
            r_app_post(d, &u->feed.profile);
        }
        break;
    case APP_OP_SHOW:
        r_app_post(d, &u->show.post);
        u->show.raw_len = r_u16(d);
        if (u->show.raw_len > POST_MAX_SIZE) {
            d->bad = true;
            u->show.raw_len = 0;
        }
        r_fixed(d, u->show.raw, u->show.raw_len);
        break;
    case APP_OP_TIMELINE:
        u->timeline.n_posts = r_count(d, r_u32(d), APP_PAGE_MAX, MIN_APP_POST);
        u->timeline.posts = r_alloc(d, u->timeline.n_posts, sizeof *u->timeline.posts, oom);
        for (size_t i = 0; u->timeline.posts != NULL && i < u->timeline.n_posts; i++) {
            r_app_post(d, &u->timeline.posts[i]);
        }
        if (u->timeline.posts == NULL) {
            u->timeline.n_posts = 0;
        }
        u->timeline.more = r_bool(d);
        r_fixed(d, u->timeline.next_before, POST_ID_SIZE);
        break;
    case APP_OP_FOLLOW:
    case APP_OP_UNFOLLOW:
    case APP_OP_BLOCK:
    case APP_OP_UNBLOCK:
        r_author(d, &u->author.author);
        u->author.purged = r_u64(d);
        u->author.looked_up = r_bool(d);
        if (u->author.looked_up) {
            r_lookup(d, &u->author.lookup);
        }
        break;
    case APP_OP_FOLLOWING:
    case APP_OP_BLOCKED:
        u->list.n = r_count(d, r_u32(d), APPMSG_LIST_MAX, MIN_AUTHOR);
        u->list.authors = r_alloc(d, u->list.n, sizeof *u->list.authors, oom);
        for (size_t i = 0; u->list.authors != NULL && i < u->list.n; i++) {
            r_author(d, &u->list.authors[i]);
        }
        if (u->list.authors == NULL) {
            u->list.n = 0;
        }
        break;
    case APP_OP_EXPORT: {
        u->export_.posts = r_u64(d);
        if (r_bool(d)) {
            const char *p = r_cstr_ref(d, APP_PATH_MAX - 1);
            size_t n = strlen(p) + 1;
            u->export_.path = d->bad ? NULL : malloc(n);
            if (u->export_.path != NULL) {
                memcpy(u->export_.path, p, n);
            } else if (!d->bad) {
                *oom = d->bad = true;
            }
        }
        size_t n = 0;
        const uint8_t *p = r_blob(d, APP_EXPORT_DATA_MAX, &n);
        if (p != NULL && n > 0 && !d->bad) {
            u->export_.data = malloc(n);
            if (u->export_.data == NULL) {
                *oom = d->bad = true;
            } else {
                memcpy(u->export_.data, p, n);
                u->export_.data_len = n;
            }
        }
        break;
    }
    case APP_OP_IMPORT:
        u->import.records = r_u64(d);
        u->import.added = r_u64(d);
        u->import.duplicates = r_u64(d);
        u->import.forks = r_u64(d);
        u->import.refused = r_u64(d);
        u->import.complete = r_bool(d);
        r_cstr(d, u->import.malformed, sizeof u->import.malformed - 1);
        u->import.n_refusals = r_count(d, r_u8(d), APP_REFUSALS_MAX, 8 + 3);
        for (size_t i = 0; i < u->import.n_refusals; i++) {
            u->import.refusals[i].record = r_u64(d);
            r_cstr(d, u->import.refusals[i].why, sizeof u->import.refusals[i].why - 1);
        }
        break;
    case APP_OP_PEERS:
        u->peers.n = r_count(d, r_u32(d), APPMSG_LIST_MAX, MIN_PEER);
        u->peers.peers = r_alloc(d, u->peers.n, sizeof *u->peers.peers, oom);
        for (size_t i = 0; u->peers.peers != NULL && i < u->peers.n; i++) {
            r_peer(d, &u->peers.peers[i]);
        }
        if (u->peers.peers == NULL) {
            u->peers.n = 0;
        }
        break;
    case APP_OP_PEER_ADD:
        u->peer_add.connected = r_bool(d);
        u->peer_add.rtt_us = (int64_t)r_u64(d);
        break;
    case APP_OP_LOOKUP:
        u->lookup.n = r_count(d, r_u8(d), APP_LOOKUP_MAX, MIN_LOOKUP);
        u->lookup.items = r_alloc(d, u->lookup.n, sizeof *u->lookup.items, oom);
        for (size_t i = 0; u->lookup.items != NULL && i < u->lookup.n; i++) {
            r_lookup(d, &u->lookup.items[i]);
        }
        if (u->lookup.items == NULL) {
            u->lookup.n = 0;
        }
        break;
    case APP_OP_FIND_NODE:
        r_fixed(d, u->find_node.target, DHT_KEY_SIZE);
        u->find_node.status = r_u8(d);
        u->find_node.n = r_count(d, r_u8(d), DHT_NODES_MAX, 33);
        for (size_t i = 0; i < u->find_node.n; i++) {
            r_contact(d, &u->find_node.contacts[i]);
        }
        u->find_node.hops = r_u32(d);
        u->find_node.messages = r_u32(d);
        u->find_node.ms = r_u64(d);
        break;
    case APP_OP_INVITE:
        r_invite(d, u->invite.text, &u->invite.invite);
        break;
    case APP_OP_JOIN:
        r_join(d, &u->join);
        break;
    case APP_OP_THREAD:
        u->thread.has_parent = r_bool(d);
        if (u->thread.has_parent) {
            r_app_post(d, &u->thread.parent);
        }
        u->thread.n = r_count(d, r_u32(d), APP_THREAD_MAX, MIN_APP_POST + 4);
        u->thread.items = r_alloc(d, u->thread.n, sizeof *u->thread.items, oom);
        for (size_t i = 0; u->thread.items != NULL && i < u->thread.n; i++) {
            r_app_post(d, &u->thread.items[i].post);
            u->thread.items[i].depth = r_u32(d);
        }
        if (u->thread.items == NULL) {
            u->thread.n = 0;
        }
        u->thread.truncated = r_bool(d);
        break;
    }
}

appmsg_err_t
appmsg_result_decode(const uint8_t *buf, size_t len, app_result_t **out)
{
    *out = NULL;
    if (len > APPMSG_RESULT_MAX) {
        return APPMSG_EMALFORMED;
    }
    rd_t d = {.bad = false};
    bytes_reader_init(&d.r, buf, len);
    uint8_t version = r_u8(&d);
    if (bytes_reader_ok(&d.r) && version != APPMSG_VERSION) {
        return APPMSG_EVERSION;
    }
    uint8_t op = r_u8(&d);
    uint8_t err = r_u8(&d);
    if (op < APP_OP_STATUS || op > APP_OP_LAST || err > APP_ERR_LAST) {
        return APPMSG_EMALFORMED;
    }
    app_result_t *res = app_result_new((app_op_t)op);
    if (res == NULL) {
        return APPMSG_ENOMEM;
    }
    res->err = (app_err_t)err;
    r_cstr(&d, res->msg, APP_MSG_MAX - 1);
    bool oom = false;
    if (res->err == APP_OK) {
        r_result_body(&d, res, &oom);
    }
    appmsg_err_t e = oom ? APPMSG_ENOMEM : r_end(&d);
    if (e != APPMSG_OK) {
        app_result_free(res);
        return e;
    }
    *out = res;
    return APPMSG_OK;
}
