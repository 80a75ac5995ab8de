/* sim_dht: the real dht/ code for N nodes in one process, over a simulated
 * network.
 *
 * An event queue ordered by time carries every message, encoded with the
 * real codec, with a random latency and a loss rate; each node's timer is
 * an event at the deadline its dht_next_ms names. Nodes join through a few
 * bootstrap nodes and build their tables the way real nodes do (the self
 * lookup and bucket refresh of dht_tick). With churn, a fraction of the
 * nodes is offline at any time: nodes leave and come back all through the
 * run, half of them as a new identity (a replaced node), half as the same
 * node restarting from its saved routing table, re-announcing what it
 * provides.
 *
 * Then it measures lookups from random online nodes: FIND_NODE of random
 * ids (success: no online node is closer to the target than the closest
 * node returned), GET_PROVIDERS of published authors (success: a provider
 * record that was announced comes back) and GET_HEAD (success: the latest
 * head comes back), with hops, messages and time per lookup, the routing
 * table fill, and the memory and time the simulation used.
 *
 *     sim_dht --nodes 10000 --churn 20            the full run (docs/DHT-NOTES.md)
 *     sim_dht --short                             what ctest runs (label sim)
 *     sim_dht --help
 *
 * Deterministic for a given --seed: every random number comes from seeded
 * generators, and events at the same time run in the order they were
 * queued. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "dht.h"
#include "dhtid.h"
#include "head.h"
#include "keys.h"

enum {
    EV_MSG = 0,
    EV_TICK = 1,
    BOOTSTRAP = 4,       /* stable nodes every joining node is given */
    PROVIDERS_PER = 3,   /* nodes that announce each published author */
    SAVED_MAX = 64,      /* contacts a leaving node saves for its restart */
    ANNOUNCERS_MAX = 64, /* announcers remembered per author */
};

typedef struct {
    uint32_t nodes;
    uint32_t churn_pct;
    uint32_t loss_permille;
    uint32_t lat_min, lat_max;
    uint32_t lookups;
    uint32_t authors;
    uint32_t session_min;
    uint32_t warm_min;
    uint32_t measure_min;
    uint64_t seed;
    double min_success; /* exit 1 below this (percent); 0: no check */
    double max_success; /* exit 1 above this (percent): an attack's control; 0: no check */
    uint32_t max_p99_hops;
    bool quiet;
    bool verbose;  /* explain each failed lookup */
    int64_t trace; /* print the messages of this lookup (-1: none) */
    /* dht tunables, 0 for the library's defaults */
    uint32_t k, alpha, attempts, stall_ms;
    uint32_t renew_min, provider_ttl_min;
    /* the Sybil attack: ids ground near author 0's record key */
    uint32_t sybils;
    uint32_t sybil_nets; /* /24s the attacker holds */
    uint32_t sybil_bits; /* prefix bits shared with the target; 0: log2 of the nodes */
    bool defences_off;   /* the dht's group bounds off: the attack's control */
} opts_t;

typedef struct {
    uint32_t gen;  /* identity: a replaced node gets a new one */
    uint32_t inst; /* dht_new count, so a restarted node ignores old timers */
    bool online;
    bool bootstrap;
    bool sybil; /* an attacker's id: answered by sybil_answer, no dht */
    dht_t *d;
    dht_contact_t c;
    uint8_t id[32];
    uint64_t rng;
    uint64_t tick_at;
    uint64_t since; /* when it came online */
    dht_contact_t *saved;
    uint32_t nsaved;
    uint32_t *authors; /* the authors this identity provides */
    uint32_t nauthors;
} snode_t;

typedef struct {
    uint64_t at, seq;
    uint32_t to, from;
    uint32_t to_gen, from_gen; /* TICK: to_gen is the instance */
    uint8_t kind, type;
    uint32_t rid;
    uint32_t len;
    uint8_t *payload;
} sev_t;

typedef struct {
    keys_author_t k;
    uint8_t head[HEAD_SIZE];
    uint64_t seq;
    uint8_t announcers[ANNOUNCERS_MAX][32]; /* keys of identities that announced */
    uint32_t nannouncers;                   /* a ring once full: the oldest go */
} author_t;

typedef struct {
    uint32_t n;
    uint32_t ok;
    uint32_t *hops, *msgs, *ms;
} stat_t;

typedef struct sim sim_t;

/* What each node's callbacks get: the simulation and the node's index. */
typedef struct {
    sim_t *sim;
    uint32_t index;
} node_ud_t;

typedef struct {
    sim_t *sim;
    uint8_t kind; /* dht_lookup_kind_t */
    uint32_t asker;
    uint32_t author;
    uint8_t target[32];
    uint64_t started;
    uint32_t number;
} pending_lookup_t;

struct sim {
    opts_t o;
    snode_t *nodes;
    node_ud_t *uds;
    uint64_t next_churn, churn_every;
    int32_t *map; /* key -> node index, open addressing on the key's first bytes */
    uint32_t map_cap;
    sev_t *heap;
    size_t nheap, cap, heap_peak;
    uint64_t seq, now, rng;
    uint64_t msgs, dropped_loss, dropped_offline, events;
    uint32_t online;
    author_t *authors;
    stat_t st[4]; /* by dht_lookup_kind_t */
    uint32_t lookups_refused;
    uint32_t outstanding;
    uint64_t churn_events;
    uint32_t lookup_number;
    bool tracing;
    uint32_t trace_asker;
    uint8_t trace_target[32];
    uint8_t buf[DHT_LARGEST_PAYLOAD];
    dht_msg_t msg;
    uint32_t total;       /* honest nodes, then sybils */
    uint8_t attacked[32]; /* author 0's record key */
    uint64_t sybil_answers;
    uint64_t next_intro;
    dht_msg_t reply; /* what a sybil sends */
};

/* ---- randomness ---- */

static uint64_t
next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t
below(sim_t *s, uint64_t n)
{
    return n == 0 ? 0 : next_rand(&s->rng) % n;
}

static void
rand_cb(void *ud, void *buf, size_t n)
{
    node_ud_t *u = ud;
    snode_t *nd = &u->sim->nodes[u->index];
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t r = next_rand(&nd->rng);
        for (size_t j = 0; j < 8 && i + j < n; j++) {
            p[i + j] = (uint8_t)(r >> (8 * j));
        }
    }
}

/* ---- identities and the key map ---- */

static void
identity(const sim_t *s, uint32_t index, uint32_t gen, dht_contact_t *c, uint8_t id[static 32])
{
    uint64_t in[3] = {s->o.seed, index, gen};
    memset(c, 0, sizeof *c);
    crypto_generichash(c->key, 32, (const uint8_t *)in, sizeof in, NULL, 0);
    /* A public IPv4 address per identity, spread over many /24s, so the
     * group bound sees a realistic network. */
    uint32_t a = (uint32_t)(in[1] * 2654435761u + gen * 40503u);
    snprintf(c->endpoint, sizeof c->endpoint, "tcp://%u.%u.%u.%u:7470", 11u + (a >> 24) % 180,
             (a >> 16) & 0xff, (a >> 8) & 0xff, 1u + (a & 0x7f));
    dhtid_from_node_key(id, c->key);
}

/* Who sent a message: the identity it had then (a sybil has one). */
static void
sender(const sim_t *s, uint32_t index, uint32_t gen, dht_contact_t *c, uint8_t id[static 32])
{
    if (s->nodes[index].sybil) {
        *c = s->nodes[index].c;
        memcpy(id, s->nodes[index].id, 32);
        return;
    }
    identity(s, index, gen, c, id);
}

static uint32_t
map_slot(const sim_t *s, const uint8_t key[static 32])
{
    uint32_t h =
        (uint32_t)key[0] | (uint32_t)key[1] << 8 | (uint32_t)key[2] << 16 | (uint32_t)key[3] << 24;
    return h & (s->map_cap - 1);
}

static int32_t
map_get(const sim_t *s, const uint8_t key[static 32])
{
    for (uint32_t i = map_slot(s, key);; i = (i + 1) & (s->map_cap - 1)) {
        int32_t v = s->map[i];
        if (v == -1) {
            return -1;
        }
        if (v >= 0 && memcmp(s->nodes[v].c.key, key, 32) == 0) {
            return v;
        }
    }
}

static void
map_put(sim_t *s, const uint8_t key[static 32], int32_t v)
{
    uint32_t i = map_slot(s, key);
    while (s->map[i] >= 0) {
        i = (i + 1) & (s->map_cap - 1);
    }
    s->map[i] = v;
}

static void
map_del(sim_t *s, const uint8_t key[static 32])
{
    for (uint32_t i = map_slot(s, key);; i = (i + 1) & (s->map_cap - 1)) {
        int32_t v = s->map[i];
        if (v == -1) {
            return;
        }
        if (v >= 0 && memcmp(s->nodes[v].c.key, key, 32) == 0) {
            s->map[i] = -2; /* a tombstone keeps later entries reachable */
            return;
        }
    }
}

/* ---- the event queue: a binary min-heap on (at, seq) ---- */

static bool
ev_less(const sev_t *a, const sev_t *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void
push(sim_t *s, sev_t ev)
{
    if (s->nheap == s->cap) {
        s->cap = s->cap == 0 ? 4096 : s->cap * 2;
        sev_t *h = realloc(s->heap, s->cap * sizeof *h);
        if (h == NULL) {
            fprintf(stderr, "sim_dht: out of memory\n");
            exit(2);
        }
        s->heap = h;
    }
    ev.seq = s->seq++;
    size_t i = s->nheap++;
    while (i > 0 && ev_less(&ev, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = ev;
    if (s->nheap > s->heap_peak) {
        s->heap_peak = s->nheap;
    }
}

static sev_t
pop(sim_t *s)
{
    sev_t top = s->heap[0];
    sev_t last = s->heap[--s->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const sev_t *best = &last;
        if (l < s->nheap && ev_less(&s->heap[l], best)) {
            m = l;
            best = &s->heap[l];
        }
        if (l + 1 < s->nheap && ev_less(&s->heap[l + 1], best)) {
            m = l + 1;
        }
        if (m == i) {
            break;
        }
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (s->nheap > 0) {
        s->heap[i] = last;
    }
    return top;
}

/* ---- the network ---- */

static int
sim_send(void *ud, const dht_contact_t *to, const dht_msg_t *m)
{
    node_ud_t *u = ud;
    sim_t *s = u->sim;
    snode_t *from = &s->nodes[u->index];
    size_t len = 0;
    if (dht_msg_encode_payload(m, s->buf, sizeof s->buf, &len) != DHT_MSG_OK) {
        fprintf(stderr, "sim_dht: a node sent a message that does not encode\n");
        exit(2);
    }
    s->msgs++;
    int32_t dest = map_get(s, to->key);
    if (s->tracing && u->index == s->trace_asker &&
        (m->type == DHT_MSG_FIND_NODE || m->type == DHT_MSG_GET_PROVIDERS ||
         m->type == DHT_MSG_GET_HEAD) &&
        memcmp(m->u.target, s->trace_target, 32) == 0) {
        uint8_t id[32];
        dhtid_from_node_key(id, to->key);
        printf("      %" PRIu64 " ask node %d rid %08x  id %02x%02x%02x%02x\n", s->now, (int)dest,
               m->rid, id[0], id[1], id[2], id[3]);
    }
    if (dest < 0) {
        s->dropped_offline++; /* a replaced identity: nobody there */
        return 0;
    }
    if (below(s, 1000) < s->o.loss_permille) {
        s->dropped_loss++;
        if (s->tracing && (u->index == s->trace_asker || (uint32_t)dest == s->trace_asker)) {
            printf("      %" PRIu64 " LOST %s %u -> %d rid %08x\n", s->now,
                   dht_msg_type_name(m->type), u->index, (int)dest, m->rid);
        }
        return 0;
    }
    sev_t ev = {.kind = EV_MSG,
                .to = (uint32_t)dest,
                .from = u->index,
                .to_gen = s->nodes[dest].gen,
                .from_gen = from->gen,
                .type = m->type,
                .rid = m->rid,
                .len = (uint32_t)len};
    ev.payload = malloc(len > 0 ? len : 1);
    if (ev.payload == NULL) {
        fprintf(stderr, "sim_dht: out of memory\n");
        exit(2);
    }
    memcpy(ev.payload, s->buf, len);
    ev.at = s->now + s->o.lat_min + below(s, s->o.lat_max - s->o.lat_min + 1);
    push(s, ev);
    return 0;
}

static void
schedule_tick(sim_t *s, uint32_t i)
{
    snode_t *nd = &s->nodes[i];
    uint64_t next = dht_next_ms(nd->d);
    if (next < s->now) {
        next = s->now;
    }
    if (nd->tick_at != 0 && nd->tick_at <= next && nd->tick_at >= s->now) {
        return;
    }
    nd->tick_at = next;
    sev_t ev = {.kind = EV_TICK, .to = i, .to_gen = nd->inst, .at = next};
    push(s, ev);
}

static void sybil_answer(sim_t *s, const sev_t *ev);

static void
deliver(sim_t *s, const sev_t *ev)
{
    snode_t *nd = &s->nodes[ev->to];
    if (nd->sybil) {
        sybil_answer(s, ev);
        return;
    }
    if (s->tracing && ev->from == s->trace_asker) {
        printf("      %" PRIu64 " deliver %s to %u rid %08x (online %d)\n", s->now,
               dht_msg_type_name(ev->type), ev->to, ev->rid, nd->online);
    }
    if (!nd->online || nd->gen != ev->to_gen) {
        s->dropped_offline++;
        return;
    }
    if (dht_msg_decode_payload(&s->msg, ev->type, ev->rid, ev->payload, ev->len) != DHT_MSG_OK) {
        fprintf(stderr, "sim_dht: a message did not decode\n");
        exit(2);
    }
    dht_contact_t from;
    uint8_t from_id[32];
    sender(s, ev->from, ev->from_gen, &from, from_id);
    if (s->tracing && ev->to == s->trace_asker && s->msg.type == DHT_MSG_NODES) {
        printf("      %" PRIu64 " reply from node %u rid %08x:", s->now, ev->from, ev->rid);
        for (size_t i = 0; i < s->msg.u.nodes.n; i++) {
            uint8_t id[32];
            dhtid_from_node_key(id, s->msg.u.nodes.c[i].key);
            printf(" %02x%02x%02x", id[0], id[1], id[2]);
        }
        printf("\n");
    }
    (void)dht_receive(nd->d, &from, &s->msg, s->now);
    schedule_tick(s, ev->to);
}

static void
run_until(sim_t *s, uint64_t until)
{
    while (s->nheap > 0 && s->heap[0].at <= until) {
        sev_t ev = pop(s);
        s->now = ev.at;
        s->events++;
        if (ev.kind == EV_TICK) {
            snode_t *nd = &s->nodes[ev.to];
            if (!nd->online || nd->inst != ev.to_gen || nd->tick_at != ev.at) {
                continue;
            }
            nd->tick_at = 0;
            dht_tick(nd->d, s->now, NULL);
            schedule_tick(s, ev.to);
        } else {
            deliver(s, &ev);
            free(ev.payload);
        }
    }
    if (s->now < until) {
        s->now = until;
    }
}

/* ---- nodes coming and going ---- */

static void
node_start(sim_t *s, uint32_t i)
{
    snode_t *nd = &s->nodes[i];
    dht_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    memcpy(cfg.key, nd->c.key, 32);
    cfg.endpoint = nd->c.endpoint;
    cfg.send = sim_send;
    cfg.random = rand_cb;
    cfg.ud = &s->uds[i];
    cfg.k = s->o.k;
    cfg.alpha = s->o.alpha;
    cfg.attempts = s->o.attempts;
    cfg.rpc_stall_ms = s->o.stall_ms;
    cfg.reannounce_ms = (uint64_t)s->o.renew_min * 60000;
    cfg.reput_ms = (uint64_t)s->o.renew_min * 60000;
    cfg.provider_ttl_ms = (uint64_t)s->o.provider_ttl_min * 60000;
    if (s->o.defences_off) {
        cfg.per_subnet = -1;
        cfg.key_providers_per_group = DHT_KEY_PROVIDERS_MAX;
        cfg.lookup_per_group = -1;
    }
    if (dht_new(&nd->d, &cfg) != DHT_OK) {
        fprintf(stderr, "sim_dht: dht_new failed\n");
        exit(2);
    }
    nd->inst++;
    nd->online = true;
    nd->since = s->now;
    nd->tick_at = 0;
    s->online++;
}

static void
join_via_bootstrap(sim_t *s, uint32_t i)
{
    for (uint32_t b = 0; b < BOOTSTRAP; b++) {
        if (b != i) {
            (void)dht_add_contact(s->nodes[i].d, &s->nodes[b].c, s->now);
        }
    }
}

static void
node_leave(sim_t *s, uint32_t i)
{
    snode_t *nd = &s->nodes[i];
    /* What a real node saves in its store: the table, freshest first. */
    dht_table_iter_t it = {0, 0};
    dht_table_entry_t e;
    nd->nsaved = 0;
    if (nd->saved == NULL) {
        nd->saved = calloc(SAVED_MAX, sizeof *nd->saved);
        if (nd->saved == NULL) {
            exit(2);
        }
    }
    while (dht_table_next(nd->d, &it, &e)) {
        if (nd->nsaved < SAVED_MAX) {
            nd->saved[nd->nsaved++] = e.c;
        } else {
            nd->saved[below(s, SAVED_MAX)] = e.c;
        }
    }
    dht_free(nd->d);
    nd->d = NULL;
    nd->online = false;
    s->online--;
}

/* Remembers that this key announced the author, for the success check. */
static void
add_announcer(author_t *au, const uint8_t key[static 32])
{
    uint32_t n = au->nannouncers < ANNOUNCERS_MAX ? au->nannouncers : ANNOUNCERS_MAX;
    for (uint32_t j = 0; j < n; j++) {
        if (memcmp(au->announcers[j], key, 32) == 0) {
            return;
        }
    }
    memcpy(au->announcers[au->nannouncers % ANNOUNCERS_MAX], key, 32);
    au->nannouncers++;
}

/* ---- the Sybil attacker ----
 *
 * sybils ids, ground so that each shares sybil_bits leading bits with
 * author 0's record key (closer to it than any honest node, give or take
 * one), with addresses in sybil_nets /24s. They run no dht: they answer
 * every request with the sybils closest to its target, offer sybils as
 * providers, hold no head, acknowledge announcements and heads and drop
 * them, and answer pings so they stay in tables. Every few minutes each
 * one introduces itself (a FIND_NODE) to random nodes and to the honest
 * nodes closest to the attacked key, the way an attacker gets into the
 * tables that matter. */

enum {
    SYBIL_INTRO_RANDOM = 8,            /* random nodes each sybil contacts per round */
    SYBIL_INTRO_NEAR = 20,             /* honest nodes closest to the target it contacts */
    SYBIL_INTRO_EVERY_MS = 10 * 60000, /* rounds of introductions */
};

static uint32_t random_node(sim_t *s, bool online);

/* An author's signing seed, from the run's seed. */
static void
author_seed(const sim_t *s, uint32_t a, uint8_t seed[static 32])
{
    uint64_t in[2] = {s->o.seed, a};
    crypto_generichash(seed, 32, (const uint8_t *)in, sizeof in, (const uint8_t *)"author", 6);
}

static void
sybil_identity(sim_t *s, uint32_t j, uint32_t bits, snode_t *nd)
{
    uint64_t in[3] = {s->o.seed, j, 0x5b11};
    memset(&nd->c, 0, sizeof nd->c);
    crypto_generichash(nd->c.key, 32, (const uint8_t *)in, sizeof in, NULL, 0);
    /* The key is only bytes to the dht here: count in its last eight
     * until the id lands near the target. */
    for (uint64_t ctr = 0;; ctr++) {
        memcpy(nd->c.key + 24, &ctr, sizeof ctr);
        dhtid_from_node_key(nd->id, nd->c.key);
        if ((uint32_t)dhtid_common_prefix(nd->id, s->attacked) >= bits) {
            break;
        }
    }
    /* Each /24 in a /16 of its own: the attacker rents from many providers. */
    uint32_t net = j % s->o.sybil_nets, host = j / s->o.sybil_nets;
    snprintf(nd->c.endpoint, sizeof nd->c.endpoint, "tcp://%u.%u.7.%u:%u", 191 + net / 250,
             1 + net % 250, 1 + host % 250, 7470 + host / 250);
}

static void
sybils_create(sim_t *s)
{
    uint32_t bits = s->o.sybil_bits;
    while (bits == 0 || (bits < 32 && (1u << bits) < s->o.nodes)) {
        bits++;
    }
    for (uint32_t j = 0; j < s->o.sybils; j++) {
        uint32_t i = s->o.nodes + j;
        snode_t *nd = &s->nodes[i];
        s->uds[i].sim = s;
        s->uds[i].index = i;
        nd->sybil = true;
        nd->online = true;
        sybil_identity(s, j, bits, nd);
        map_put(s, nd->c.key, (int32_t)i);
    }
    if (!s->o.quiet) {
        printf("  attack        %u sybil ids in %u /24s, each sharing %u leading bits with "
               "author 0's record key\n",
               s->o.sybils, s->o.sybil_nets, bits);
    }
}

/* The max nodes of [from, to) closest to target (online ones only when
 * asked), closest first, into idx. Returns how many. */
static size_t
nearest(const sim_t *s, const uint8_t target[static 32], uint32_t from, uint32_t to,
        bool online_only, uint32_t *idx, size_t max)
{
    size_t n = 0;
    for (uint32_t i = from; i < to; i++) {
        const uint8_t *id = s->nodes[i].id;
        if ((online_only && !s->nodes[i].online) ||
            (n == max && dhtid_closer(target, id, s->nodes[idx[n - 1]].id) >= 0)) {
            continue;
        }
        size_t at = n < max ? n++ : max - 1;
        while (at > 0 && dhtid_closer(target, id, s->nodes[idx[at - 1]].id) < 0) {
            idx[at] = idx[at - 1];
            at--;
        }
        idx[at] = i;
    }
    return n;
}

static uint8_t
sybils_near(const sim_t *s, const uint8_t target[static 32], dht_contact_t *out)
{
    uint32_t idx[DHT_NODES_MAX];
    size_t n = nearest(s, target, s->o.nodes, s->total, false, idx, DHT_NODES_MAX);
    for (size_t i = 0; i < n; i++) {
        out[i] = s->nodes[idx[i]].c;
    }
    return (uint8_t)n;
}

static void
sybil_answer(sim_t *s, const sev_t *ev)
{
    if (!dht_msg_is_request(ev->type)) {
        return;
    }
    dht_msg_t *q = &s->msg;
    if (dht_msg_decode_payload(q, ev->type, ev->rid, ev->payload, ev->len) != DHT_MSG_OK) {
        fprintf(stderr, "sim_dht: a message to a sybil did not decode\n");
        exit(2);
    }
    dht_contact_t to;
    uint8_t to_id[32], target[32];
    sender(s, ev->from, ev->from_gen, &to, to_id);
    memcpy(target, q->u.target, 32); /* target and key share the union's first bytes */
    dht_msg_t *r = &s->reply;
    switch (ev->type) {
    case DHT_MSG_PING:
        dht_msg_init(r, DHT_MSG_PONG, ev->rid);
        break;
    case DHT_MSG_FIND_NODE:
        dht_msg_init(r, DHT_MSG_NODES, ev->rid);
        r->u.nodes.n = sybils_near(s, target, r->u.nodes.c);
        break;
    case DHT_MSG_GET_PROVIDERS:
        dht_msg_init(r, DHT_MSG_PROVIDERS, ev->rid);
        r->u.providers.n = sybils_near(s, target, r->u.providers.c);
        r->u.providers.closer.n = sybils_near(s, target, r->u.providers.closer.c);
        break;
    case DHT_MSG_GET_HEAD:
        dht_msg_init(r, DHT_MSG_HEAD, ev->rid);
        r->u.head.closer.n = sybils_near(s, target, r->u.head.closer.c);
        break;
    default: /* ANNOUNCE, PUT_HEAD: taken and thrown away */
        dht_msg_init(r, DHT_MSG_ACK, ev->rid);
        break;
    }
    s->sybil_answers++;
    (void)sim_send(&s->uds[ev->to], &to, r);
}

static void
sybils_introduce(sim_t *s)
{
    uint32_t near[SYBIL_INTRO_NEAR];
    size_t nn = nearest(s, s->attacked, 0, s->o.nodes, true, near, SYBIL_INTRO_NEAR);
    dht_msg_t *m = &s->reply;
    for (uint32_t i = s->o.nodes; i < s->total; i++) {
        dht_msg_init(m, DHT_MSG_FIND_NODE, (uint32_t)next_rand(&s->rng));
        memcpy(m->u.target, s->nodes[i].id, 32);
        for (uint32_t t = 0; t < SYBIL_INTRO_RANDOM + nn; t++) {
            uint32_t to =
                t < SYBIL_INTRO_RANDOM ? random_node(s, true) : near[t - SYBIL_INTRO_RANDOM];
            (void)sim_send(&s->uds[i], &s->nodes[to].c, m);
        }
    }
}

/* What a node does for the authors it follows when it starts: announce
 * itself as a provider and put their heads. */
static void
republish(sim_t *s, uint32_t i)
{
    snode_t *nd = &s->nodes[i];
    for (uint32_t a = 0; a < nd->nauthors; a++) {
        author_t *au = &s->authors[nd->authors[a]];
        add_announcer(au, nd->c.key);
        (void)dht_announce(nd->d, au->k.pk, s->now);
        (void)dht_put_head(nd->d, au->head, HEAD_SIZE, s->now);
    }
}

static void
node_return(sim_t *s, uint32_t i)
{
    snode_t *nd = &s->nodes[i];
    if (below(s, 2) == 0) {
        /* Replaced: this identity is gone for good, a new one joins. It
         * follows the same authors: an author's followers come and go,
         * but the swarm stays about the same size. */
        map_del(s, nd->c.key);
        nd->gen++;
        identity(s, i, nd->gen, &nd->c, nd->id);
        map_put(s, nd->c.key, (int32_t)i);
        nd->nsaved = 0;
        node_start(s, i);
        join_via_bootstrap(s, i);
        republish(s, i);
    } else {
        /* Restarted: the saved table, and what it provides, again. */
        node_start(s, i);
        for (uint32_t k = 0; k < nd->nsaved; k++) {
            (void)dht_add_contact(nd->d, &nd->saved[k], s->now);
        }
        if (nd->nsaved == 0) {
            join_via_bootstrap(s, i);
        }
        republish(s, i);
    }
    s->churn_events++;
    schedule_tick(s, i);
}

static uint32_t
random_node(sim_t *s, bool online)
{
    for (;;) {
        uint32_t i = BOOTSTRAP + (uint32_t)below(s, s->o.nodes - BOOTSTRAP);
        if (s->nodes[i].online == online) {
            return i;
        }
    }
}

/* One churn step: a random node leaves and a random offline one returns,
 * so the offline share stays at churn_pct. */
static void
churn_step(sim_t *s)
{
    uint32_t back = random_node(s, false);
    uint32_t out = random_node(s, true);
    node_leave(s, out);
    node_return(s, back);
}

/* Runs the network until `until`, with the churn steps that fall in it. */
static void
advance(sim_t *s, uint64_t until)
{
    for (;;) {
        uint64_t next = s->next_churn < s->next_intro ? s->next_churn : s->next_intro;
        if (next > until) {
            break;
        }
        run_until(s, next);
        if (next == s->next_churn) {
            churn_step(s);
            s->next_churn += s->churn_every;
        } else {
            sybils_introduce(s);
            s->next_intro += SYBIL_INTRO_EVERY_MS;
        }
    }
    run_until(s, until);
}

/* ---- lookups and their results ---- */

static void
stat_add(stat_t *st, bool ok, const dht_result_t *r)
{
    st->hops[st->n] = r->hops;
    st->msgs[st->n] = r->messages;
    st->ms[st->n] = (uint32_t)r->elapsed_ms;
    st->ok += ok ? 1u : 0u;
    st->n++;
}

/* FIND_NODE succeeds when no node that was online all through the lookup
 * is closer to the target than the closest node it returned. A node that
 * came online while the lookup ran (a restart, a newcomer) could not have
 * been found; one that left during the lookup and was closer still counts
 * as found: it was the closest when asked. */
static bool
find_ok(sim_t *s, const pending_lookup_t *pl, const dht_result_t *r)
{
    if (r->n_contacts == 0) {
        return false;
    }
    uint8_t got[32];
    dhtid_from_node_key(got, r->contacts[0].key);
    uint32_t closer = 0, best = UINT32_MAX;
    for (uint32_t i = 0; i < s->o.nodes; i++) {
        const snode_t *nd = &s->nodes[i];
        if (nd->online && nd->since <= pl->started && i != pl->asker &&
            dhtid_closer(pl->target, nd->id, got) < 0) {
            closer++;
            if (best == UINT32_MAX || dhtid_closer(pl->target, nd->id, s->nodes[best].id) < 0) {
                best = i;
            }
        }
    }
    if (closer > 0 && s->o.verbose) {
        /* Who was missed, and did anyone know it? */
        uint32_t knew = 0;
        for (uint32_t i = 0; i < s->o.nodes; i++) {
            dht_table_iter_t it = {0, 0};
            dht_table_entry_t e;
            while (s->nodes[i].online && dht_table_next(s->nodes[i].d, &it, &e)) {
                if (memcmp(e.id, s->nodes[best].id, 32) == 0) {
                    knew++;
                }
            }
        }
        /* Of the nodes that answered, how many hold it in their table? */
        uint32_t answered_knew = 0;
        for (size_t c = 0; c < r->n_contacts; c++) {
            int32_t j = map_get(s, r->contacts[c].key);
            dht_table_iter_t it = {0, 0};
            dht_table_entry_t e;
            while (j >= 0 && s->nodes[j].online && dht_table_next(s->nodes[j].d, &it, &e)) {
                if (memcmp(e.id, s->nodes[best].id, 32) == 0) {
                    answered_knew++;
                    printf("      entry: fails %u, seen %.1f s ago, bucket %u\n", e.fails,
                           (s->now - e.last_seen_ms) / 1000.0, e.bucket);
                }
            }
        }
        printf("    miss (lookup %u, closest %02x%02x%02x%02x): %u online nodes closer; the "
               "closest online for %.0f s, in %u tables "
               "(%u of the %zu that answered); lookup %u msgs, %u hops, %" PRIu64 " ms, "
               "status %d\n",
               pl->number, s->nodes[best].id[0], s->nodes[best].id[1], s->nodes[best].id[2],
               s->nodes[best].id[3], closer, (s->now - s->nodes[best].since) / 1000.0, knew,
               answered_knew, r->n_contacts, r->messages, r->hops, r->elapsed_ms, r->status);
    }
    return closer == 0;
}

static bool
providers_ok(sim_t *s, const pending_lookup_t *pl, const dht_result_t *r)
{
    const author_t *au = &s->authors[pl->author];
    uint32_t n = au->nannouncers < ANNOUNCERS_MAX ? au->nannouncers : ANNOUNCERS_MAX;
    for (size_t i = 0; i < r->n_providers; i++) {
        for (uint32_t j = 0; j < n; j++) {
            if (memcmp(r->providers[i].key, au->announcers[j], 32) == 0) {
                return true;
            }
        }
    }
    return false;
}

static void
result_cb(void *ud, const dht_result_t *r)
{
    pending_lookup_t *pl = ud;
    sim_t *s = pl->sim;
    s->outstanding--;
    if (s->tracing && pl->number == (uint32_t)s->o.trace) {
        s->tracing = false;
        printf("    trace: result status %d, %zu contacts:", r->status, r->n_contacts);
        for (size_t i = 0; i < r->n_contacts; i++) {
            uint8_t id[32];
            dhtid_from_node_key(id, r->contacts[i].key);
            printf(" %02x%02x%02x", id[0], id[1], id[2]);
        }
        printf("\n");
    }
    if (r->status == DHT_ECANCELED) {
        /* The asking node left: not a lookup failure, not counted. */
        free(pl);
        return;
    }
    bool ok = false;
    switch (pl->kind) {
    case DHT_LOOKUP_FIND_NODE:
        ok = find_ok(s, pl, r);
        break;
    case DHT_LOOKUP_GET_PROVIDERS:
        ok = providers_ok(s, pl, r);
        break;
    case DHT_LOOKUP_GET_HEAD:
        ok = r->head != NULL && r->head_seq == s->authors[pl->author].seq;
        break;
    default:
        break;
    }
    stat_add(&s->st[pl->kind], ok, r);
    free(pl);
}

static void
start_lookup(sim_t *s, uint8_t kind)
{
    pending_lookup_t *pl = calloc(1, sizeof *pl);
    if (pl == NULL) {
        exit(2);
    }
    pl->sim = s;
    pl->kind = kind;
    pl->asker = random_node(s, true);
    pl->started = s->now;
    pl->number = s->lookup_number++;
    dht_t *d = s->nodes[pl->asker].d;
    dht_err_t err;
    if (kind == DHT_LOOKUP_FIND_NODE) {
        for (int i = 0; i < 32; i += 8) {
            uint64_t r = next_rand(&s->rng);
            memcpy(pl->target + i, &r, 8);
        }
        if (s->o.trace == (int64_t)pl->number) {
            s->tracing = true;
            s->trace_asker = pl->asker;
            memcpy(s->trace_target, pl->target, 32);
            printf("    trace lookup %u from node %u, target %02x%02x%02x%02x\n", pl->number,
                   pl->asker, pl->target[0], pl->target[1], pl->target[2], pl->target[3]);
        }
        err = dht_find_node(d, pl->target, result_cb, pl, s->now);
    } else {
        /* Under attack, every record lookup is for the attacked author. */
        pl->author = s->o.sybils > 0 ? 0 : (uint32_t)below(s, s->o.authors);
        const uint8_t *pk = s->authors[pl->author].k.pk;
        dhtid_from_author(pl->target, pk);
        err = kind == DHT_LOOKUP_GET_PROVIDERS ? dht_get_providers(d, pk, result_cb, pl, s->now)
                                               : dht_get_head(d, pk, result_cb, pl, s->now);
    }
    if (err != DHT_OK) {
        s->lookups_refused++;
        free(pl);
        return;
    }
    s->outstanding++;
    schedule_tick(s, pl->asker);
}

/* ---- publishing ---- */

static void
publish(sim_t *s)
{
    for (uint32_t a = 0; a < s->o.authors; a++) {
        author_t *au = &s->authors[a];
        uint8_t seed[32];
        author_seed(s, a, seed);
        keys_author_from_seed(&au->k, seed);
        au->seq = 1 + below(s, 1000);
        uint8_t post_id[32];
        crypto_generichash(post_id, 32, seed, 32, NULL, 0);
        head_t h;
        head_init(&h, au->seq, post_id, 1700000000000ull + a);
        size_t len = 0;
        if (head_sign(&h, &au->k, au->head, sizeof au->head, &len) != HEAD_OK) {
            exit(2);
        }
        for (uint32_t p = 0; p < PROVIDERS_PER; p++) {
            uint32_t i = random_node(s, true);
            snode_t *nd = &s->nodes[i];
            uint32_t *na = realloc(nd->authors, (nd->nauthors + 1) * sizeof *na);
            if (na == NULL) {
                exit(2);
            }
            nd->authors = na;
            nd->authors[nd->nauthors++] = a;
            add_announcer(au, nd->c.key);
            (void)dht_announce(nd->d, au->k.pk, s->now);
            (void)dht_put_head(nd->d, au->head, HEAD_SIZE, s->now);
            schedule_tick(s, i);
        }
    }
}

/* ---- reporting ---- */

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted values. */
static uint32_t
pct(const uint32_t *v, uint32_t n, uint32_t p)
{
    if (n == 0) {
        return 0;
    }
    uint32_t rank = (uint32_t)(((uint64_t)p * n + 99) / 100);
    return v[rank == 0 ? 0 : rank - 1];
}

static double
mean(const uint32_t *v, uint32_t n)
{
    double sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        sum += v[i];
    }
    return n == 0 ? 0 : sum / n;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kib;
}

static const char *
kind_name(int k)
{
    return k == DHT_LOOKUP_FIND_NODE       ? "find_node"
           : k == DHT_LOOKUP_GET_PROVIDERS ? "get_providers"
                                           : "get_head";
}

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: sim_dht [options]\n"
            "  --nodes N         nodes (default 1000)\n"
            "  --churn P         percent of nodes offline at any time (default 0)\n"
            "  --session M       mean online session in minutes under churn (default 30)\n"
            "  --loss P          message loss in permille (default 10 = 1%%)\n"
            "  --latency A:B     one-way latency range in ms (default 20:150)\n"
            "  --lookups L       lookups measured (default 1000; a third of each kind)\n"
            "  --authors A       published authors (default 200)\n"
            "  --warm M          minutes between the last join and the measurement (default 10)\n"
            "  --measure M       minutes the measured lookups are spread over (default 20)\n"
            "  --seed S          (default 1)\n"
            "  --min-success P   exit 1 if any success rate is below P percent\n"
            "  --max-p99-hops H  exit 1 if a p99 of hops is above H\n"
            "  --max-success P   exit 1 if any success rate is above P percent (the\n"
            "                    control of an attack run: the attack must succeed)\n"
            "  --short           the ctest run: 500 nodes, 20%% churn, 300 lookups, checked\n"
            "  --quiet           only the result lines\n"
            "  --verbose         explain every failed lookup\n"
            "  --trace N         print the messages of lookup number N\n"
            "  --sybils N        an attacker with N ids closest to author 0's key; every\n"
            "                    record lookup is then for author 0 (default 0)\n"
            "  --sybil-nets G    the /24s the attacker's ids are in (default 8)\n"
            "  --sybil-bits B    leading bits each sybil id shares with the key\n"
            "                    (default: enough to be closer than the honest nodes)\n"
            "  --attack          the ctest attack run: 500 nodes, 1000 sybils, checked\n"
            "  --defences-off    the dht's group bounds off (the attack's control)\n"
            "  --k K, --alpha A, --attempts N, --stall MS, --renew MIN, --provider-ttl MIN\n"
            "                    override the dht's tunables (default: the library's)\n");
}

static bool
parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return false;
    }
    *out = v;
    return true;
}

static bool
parse_u32(const char *s, uint32_t *out, uint32_t max)
{
    uint64_t v;
    if (!parse_u64(s, &v) || v > max) {
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

static int
parse_opts(opts_t *o, int argc, char **argv)
{
    *o = (opts_t){.nodes = 1000,
                  .loss_permille = 10,
                  .lat_min = 20,
                  .lat_max = 150,
                  .lookups = 1000,
                  .authors = 200,
                  .session_min = 30,
                  .warm_min = 10,
                  .measure_min = 20,
                  .seed = 1,
                  .sybil_nets = 8,
                  .trace = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--short") == 0) {
            o->nodes = 500;
            o->churn_pct = 20;
            o->lookups = 300;
            o->authors = 50;
            o->warm_min = 5;
            o->measure_min = 10;
            o->min_success = 97.0;
            o->max_p99_hops = 5;
            continue;
        } else if (strcmp(a, "--attack") == 0) {
            o->nodes = 500;
            o->lookups = 200;
            o->authors = 20;
            o->warm_min = 5;
            o->measure_min = 10;
            o->sybils = 1000;
            o->min_success = 95.0;
            continue;
        } else if (strcmp(a, "--defences-off") == 0) {
            o->defences_off = true;
            continue;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = true;
            continue;
        } else if (strcmp(a, "--verbose") == 0) {
            o->verbose = true;
            continue;
        } else if (v == NULL) {
            ok = false;
        } else if (strcmp(a, "--nodes") == 0) {
            ok = parse_u32(v, &o->nodes, 1000000) && o->nodes > 2 * BOOTSTRAP;
        } else if (strcmp(a, "--churn") == 0) {
            ok = parse_u32(v, &o->churn_pct, 90);
        } else if (strcmp(a, "--session") == 0) {
            ok = parse_u32(v, &o->session_min, 100000) && o->session_min > 0;
        } else if (strcmp(a, "--loss") == 0) {
            ok = parse_u32(v, &o->loss_permille, 500);
        } else if (strcmp(a, "--latency") == 0) {
            char lo[32];
            const char *colon = strchr(v, ':');
            size_t n = colon == NULL ? 0 : (size_t)(colon - v);
            ok = colon != NULL && n < sizeof lo;
            if (ok) {
                memcpy(lo, v, n);
                lo[n] = '\0';
                ok = parse_u32(lo, &o->lat_min, 60000) &&
                     parse_u32(colon + 1, &o->lat_max, 60000) && o->lat_min <= o->lat_max;
            }
        } else if (strcmp(a, "--lookups") == 0) {
            ok = parse_u32(v, &o->lookups, 10000000);
        } else if (strcmp(a, "--authors") == 0) {
            ok = parse_u32(v, &o->authors, 1000000) && o->authors > 0;
        } else if (strcmp(a, "--warm") == 0) {
            ok = parse_u32(v, &o->warm_min, 100000);
        } else if (strcmp(a, "--measure") == 0) {
            ok = parse_u32(v, &o->measure_min, 100000) && o->measure_min > 0;
        } else if (strcmp(a, "--k") == 0) {
            ok = parse_u32(v, &o->k, DHT_NODES_MAX);
        } else if (strcmp(a, "--alpha") == 0) {
            ok = parse_u32(v, &o->alpha, DHT_ALPHA_MAX);
        } else if (strcmp(a, "--attempts") == 0) {
            ok = parse_u32(v, &o->attempts, DHT_ATTEMPTS_MAX);
        } else if (strcmp(a, "--stall") == 0) {
            ok = parse_u32(v, &o->stall_ms, 60000);
        } else if (strcmp(a, "--renew") == 0) {
            ok = parse_u32(v, &o->renew_min, 100000);
        } else if (strcmp(a, "--provider-ttl") == 0) {
            ok = parse_u32(v, &o->provider_ttl_min, 100000);
        } else if (strcmp(a, "--sybils") == 0) {
            ok = parse_u32(v, &o->sybils, 1000000);
        } else if (strcmp(a, "--sybil-nets") == 0) {
            ok = parse_u32(v, &o->sybil_nets, 16000) && o->sybil_nets > 0;
        } else if (strcmp(a, "--sybil-bits") == 0) {
            ok = parse_u32(v, &o->sybil_bits, 32);
        } else if (strcmp(a, "--trace") == 0) {
            uint64_t t;
            ok = parse_u64(v, &t) && t < INT64_MAX;
            if (ok) {
                o->trace = (int64_t)t;
            }
        } else if (strcmp(a, "--seed") == 0) {
            ok = parse_u64(v, &o->seed);
        } else if (strcmp(a, "--min-success") == 0) {
            uint32_t p;
            ok = parse_u32(v, &p, 100);
            if (ok) {
                o->min_success = p;
            }
        } else if (strcmp(a, "--max-success") == 0) {
            uint32_t p;
            ok = parse_u32(v, &p, 100);
            if (ok) {
                o->max_success = p;
            }
        } else if (strcmp(a, "--max-p99-hops") == 0) {
            ok = parse_u32(v, &o->max_p99_hops, 1000);
        } else {
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "sim_dht: bad option %s%s%s\n", a, v ? " " : "", v ? v : "");
            usage(stderr);
            return -1;
        }
        i++;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        return 2;
    }
    sim_t *s = calloc(1, sizeof *s);
    if (s == NULL || parse_opts(&s->o, argc, argv) != 0) {
        return 2;
    }
    const opts_t *o = &s->o;
    double t0 = now_s();
    s->rng = o->seed * 0x2545f4914f6cdd1dull + 1;
    s->total = o->nodes + o->sybils;
    s->nodes = calloc(s->total, sizeof *s->nodes);
    s->uds = calloc(s->total, sizeof *s->uds);
    s->map_cap = 1;
    while (s->map_cap < 4 * s->total) {
        s->map_cap *= 2;
    }
    s->map = malloc(s->map_cap * sizeof *s->map);
    s->authors = calloc(o->authors, sizeof *s->authors);
    uint32_t cap = o->lookups + 3;
    for (int k = 1; k <= 3; k++) {
        s->st[k].hops = calloc(cap, sizeof(uint32_t));
        s->st[k].msgs = calloc(cap, sizeof(uint32_t));
        s->st[k].ms = calloc(cap, sizeof(uint32_t));
        if (s->st[k].hops == NULL || s->st[k].msgs == NULL || s->st[k].ms == NULL) {
            return 2;
        }
    }
    if (s->nodes == NULL || s->uds == NULL || s->map == NULL || s->authors == NULL) {
        return 2;
    }
    memset(s->map, 0xff, s->map_cap * sizeof *s->map); /* all -1 */
    for (uint32_t i = 0; i < o->nodes; i++) {
        snode_t *nd = &s->nodes[i];
        s->uds[i].sim = s;
        s->uds[i].index = i;
        nd->rng = o->seed * 1000003u + i;
        nd->bootstrap = i < BOOTSTRAP;
        identity(s, i, 0, &nd->c, nd->id);
        map_put(s, nd->c.key, (int32_t)i);
    }
    s->next_intro = UINT64_MAX;
    if (o->sybils > 0) {
        uint8_t seed[32];
        keys_author_t k;
        author_seed(s, 0, seed);
        keys_author_from_seed(&k, seed);
        dhtid_from_author(s->attacked, k.pk);
        sodium_memzero(&k, sizeof k);
        sybils_create(s);
    }

    /* Bootstrap nodes know each other; everyone else joins through them,
     * one every 20 ms (at least over a minute). */
    for (uint32_t i = 0; i < BOOTSTRAP; i++) {
        node_start(s, i);
    }
    for (uint32_t i = 0; i < BOOTSTRAP; i++) {
        join_via_bootstrap(s, i);
        schedule_tick(s, i);
    }
    uint64_t join_ms = (uint64_t)o->nodes * 20;
    if (join_ms < 60000) {
        join_ms = 60000;
    }
    for (uint32_t i = BOOTSTRAP; i < o->nodes; i++) {
        run_until(s, join_ms * (i - BOOTSTRAP) / (o->nodes - BOOTSTRAP));
        node_start(s, i);
        join_via_bootstrap(s, i);
        schedule_tick(s, i);
    }
    double t_join = now_s();
    long rss_joined = rss_kib();
    if (o->sybils > 0) {
        s->next_intro = s->now; /* the attack starts once the honest nodes are in */
    }

    /* Churn: take the offline share down, then keep it there with one
     * leave and one return every session / online nodes. */
    uint32_t offline = (uint32_t)((uint64_t)(o->nodes - BOOTSTRAP) * o->churn_pct / 100);
    for (uint32_t i = 0; i < offline; i++) {
        node_leave(s, random_node(s, true));
    }
    s->churn_every =
        o->churn_pct == 0 ? UINT64_MAX : (uint64_t)o->session_min * 60000 / (o->nodes - offline);
    if (s->churn_every == 0) {
        s->churn_every = 1;
    }
    s->next_churn = o->churn_pct == 0 ? UINT64_MAX : s->now + s->churn_every;

    advance(s, s->now + (uint64_t)o->warm_min * 60000);
    publish(s);
    advance(s, s->now + 2 * 60000);

    uint64_t start = s->now;
    uint64_t span = (uint64_t)o->measure_min * 60000;
    for (uint32_t l = 0; l < o->lookups; l++) {
        advance(s, start + span * l / o->lookups);
        start_lookup(s, o->sybils > 0 ? (uint8_t)(DHT_LOOKUP_GET_PROVIDERS + l % 2)
                                      : (uint8_t)(1 + l % 3));
    }
    /* Let the last lookups finish. */
    advance(s, s->now + 60000);
    double t_end = now_s();

    /* Table fill of the online nodes. */
    uint32_t *fill = calloc(o->nodes, sizeof *fill);
    uint32_t nfill = 0;
    uint64_t records = 0, record_bytes = 0, entries = 0, dead = 0, sybil_entries = 0;
    for (uint32_t i = 0; i < o->nodes; i++) {
        if (s->nodes[i].online) {
            fill[nfill++] = (uint32_t)dht_table_size(s->nodes[i].d);
            dht_table_iter_t it = {0, 0};
            dht_table_entry_t e;
            while (dht_table_next(s->nodes[i].d, &it, &e)) {
                int32_t j = map_get(s, e.c.key);
                entries++;
                dead += (j < 0 || !s->nodes[j].online) ? 1 : 0;
                sybil_entries += (j >= 0 && s->nodes[j].sybil) ? 1 : 0;
            }
            dht_stats_t st;
            dht_get_stats(s->nodes[i].d, &st);
            records += st.records;
            record_bytes += st.record_bytes;
        }
    }
    qsort(fill, nfill, sizeof *fill, cmp_u32);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);

    int status = 0;
    if (!o->quiet) {
        printf("sim_dht: %u nodes, churn %u%% (session %u min), loss %.1f%%, latency %u-%u ms, "
               "seed %" PRIu64 "%s\n",
               o->nodes, o->churn_pct, o->session_min, o->loss_permille / 10.0, o->lat_min,
               o->lat_max, o->seed,
               (o->k | o->alpha | o->attempts | o->stall_ms | o->renew_min | o->provider_ttl_min) !=
                       0
                   ? ", tunables overridden"
                   : "");
    }
    for (int k = 1; k <= 3; k++) {
        stat_t *st = &s->st[k];
        if (o->sybils > 0 && st->n == 0) {
            continue; /* under attack only record lookups are measured */
        }
        qsort(st->hops, st->n, sizeof(uint32_t), cmp_u32);
        qsort(st->msgs, st->n, sizeof(uint32_t), cmp_u32);
        qsort(st->ms, st->n, sizeof(uint32_t), cmp_u32);
        double rate = st->n == 0 ? 0 : 100.0 * st->ok / st->n;
        printf("  %-13s %5u lookups  success %6.2f%%  hops median %u p99 %u  msgs median %u "
               "mean %.1f p99 %u  time median %u ms p99 %u ms\n",
               kind_name(k), st->n, rate, pct(st->hops, st->n, 50), pct(st->hops, st->n, 99),
               pct(st->msgs, st->n, 50), mean(st->msgs, st->n), pct(st->msgs, st->n, 99),
               pct(st->ms, st->n, 50), pct(st->ms, st->n, 99));
        if (o->min_success > 0 && rate < o->min_success) {
            status = 1;
        }
        if (o->max_success > 0 && rate > o->max_success) {
            status = 1;
        }
        if (o->max_p99_hops > 0 && pct(st->hops, st->n, 99) > o->max_p99_hops) {
            status = 1;
        }
    }
    printf("  table fill    median %u contacts per online node (p1 %u, max %u), %.1f%% of "
           "them offline or gone\n",
           pct(fill, nfill, 50), pct(fill, nfill, 1), nfill ? fill[nfill - 1] : 0,
           100.0 * dead / (entries ? entries : 1));
    if (o->sybils > 0) {
        printf("  attack        defences %s: sybils are %.1f%% of table entries; %" PRIu64
               " answers from sybils\n",
               o->defences_off ? "off" : "on", 100.0 * sybil_entries / (entries ? entries : 1),
               s->sybil_answers);
    }
    printf("  records       %" PRIu64 " stored in all, %.1f MiB\n", records,
           record_bytes / 1048576.0);
    printf("  simulation    %.0f s simulated, %" PRIu64 " messages (%.2f%% lost, %.2f%% to offline "
           "nodes), %" PRIu64 " churn steps, %u lookups refused\n",
           s->now / 1000.0, s->msgs, 100.0 * s->dropped_loss / (s->msgs ? s->msgs : 1),
           100.0 * s->dropped_offline / (s->msgs ? s->msgs : 1), s->churn_events,
           s->lookups_refused);
    printf("  resources     wall %.1f s (join %.1f s), cpu %.1f s, peak RSS %.0f MiB "
           "(%.0f MiB after the join), event queue peak %zu\n",
           t_end - t0, t_join - t0, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
           ru.ru_maxrss / 1024.0, rss_joined / 1024.0, s->heap_peak);

    /* Clean up, so ASan can tell a leak from the simulation's own data. */
    for (uint32_t i = 0; i < o->nodes; i++) {
        dht_free(s->nodes[i].d);
        free(s->nodes[i].saved);
        free(s->nodes[i].authors);
    }
    for (size_t i = 0; i < s->nheap; i++) {
        free(s->heap[i].payload);
    }
    for (int k = 1; k <= 3; k++) {
        free(s->st[k].hops);
        free(s->st[k].msgs);
        free(s->st[k].ms);
    }
    free(fill);
    free(s->heap);
    free(s->map);
    free(s->authors);
    free(s->nodes);
    free(s->uds);
    free(s);
    return status;
}
