/* sim_gossip: the real gossip state machine (node/gossip/gossip.c) for N nodes in
 * one process, over a simulated network.
 *
 * The network is an event queue ordered by time. Each frame takes 10-100 ms
 * (uniform), frames on one link stay in order (a TCP connection), and an
 * optional share of frames is lost. Each node has an in-memory store
 * (tests/util/fakestore.c) and its own author key; every post is really
 * signed and every copy really verified.
 *
 * Topology, as a node would build it: each node follows F authors, chosen
 * with Zipf popularity (so a few authors have thousands of followers and
 * most have a handful); it connects to a few random nodes, and for every
 * author it follows, to members of that author's swarm (the author and its
 * followers: the "providers" a DHT lookup returns) until two of its peers
 * replicate that author. Degree stays near 8-16. A swarm left in pieces is
 * joined by one extra link per piece, as a provider lookup would.
 *
 * Reported per run: propagation latency to followers (p50, p99, max), copies
 * of each post received per follower (every POST, RANGE and FORK copy; what
 * flooding would cost is shown beside it), bytes on the wire per post
 * delivered (all gossip traffic in the window, HEADS and SUBSCRIBE
 * included), and any follower that missed a post.
 *
 * Scenarios: a follower offline while its author writes 50 posts, back after
 * the author went offline; a network cut in two halves for a minute while
 * authors on both sides write, then healed.
 *
 *     sim_gossip                    N = 20, 100, 1000, 10000 and the scenarios
 *     sim_gossip --quick            N = 20 and 100 and the scenarios (ctest)
 *     sim_gossip --nodes 1000 --posts 400 --loss 0.01 --seed 7
 *
 * Exit status 1 when a follower missed a post. */
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "fakestore.h"
#include "gossip.h"
#include "gossipmsg.h"
#include "keys.h"

enum {
    LAT_MIN_MS = 10,
    LAT_MAX_MS = 100,
    BASE_LINKS = 2,   /* random links each node opens */
    SWARM_LINKS = 2,  /* peers per followed author that replicate it */
    DEGREE_SOFT = 16, /* links a node accepts before it prefers others */
    DEGREE_HARD = 48, /* never more (GOSSIP_PEERS_MAX is 64) */
    WARMUP_MS = 5000,
    DRAIN_MS = 60000,
};

static const uint64_t T0 = 1700000000000ull;

/* ---- random numbers: one deterministic generator per use ---- */

static uint64_t
splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t
below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(splitmix(s) % n);
}

static double
unit(uint64_t *s)
{
    return (double)(splitmix(s) >> 11) / (double)(1ull << 53);
}

static void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL) {
        fprintf(stderr, "sim_gossip: out of memory\n");
        exit(2);
    }
    return p;
}

static void *
xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (q == NULL) {
        fprintf(stderr, "sim_gossip: out of memory\n");
        exit(2);
    }
    return q;
}

/* ---- the world ---- */

typedef struct sim sim_t;

typedef struct {
    uint32_t a, b;
    bool up;
    uint64_t last[2]; /* when the last frame a->b (0) and b->a (1) arrives */
} edge_t;

typedef struct {
    sim_t *sim;
    uint32_t index;
    uint8_t key[32];
    keys_author_t author;
    fakestore_t *store;
    gossip_t *g;
    uint64_t rng;
    bool online;
    uint64_t tick_at; /* earliest tick event queued; UINT64_MAX when none */
    uint32_t *edges;
    size_t n_edges, cap_edges;
    uint32_t *follows;
    size_t n_follows;
    uint64_t rx_frames, rx_bytes;
} snode_t;

typedef enum {
    EV_DELIVER,
    EV_TICK,
    EV_PUBLISH,
    EV_LINK_UP,
    EV_LINK_DOWN,
} ev_kind_t;

typedef struct {
    uint64_t t;
    uint64_t seq;
    uint8_t kind;
    uint32_t a, b; /* nodes; for links: the edge in a */
    uint8_t *frame;
    uint32_t len;
} event_t;

typedef struct {
    uint32_t author;
    uint64_t t_pub;
    uint8_t id[32];
    uint32_t expected;  /* followers when it was written */
    uint32_t delivered; /* followers that stored it */
    uint32_t copies;    /* copies followers received */
    bool measured;
    bool second_half;
} spost_t;

struct sim {
    size_t n;
    snode_t *nodes;
    edge_t *edges;
    size_t n_edges, cap_edges;
    uint32_t **swarm; /* per author: its followers */
    size_t *n_swarm, *cap_swarm;
    event_t *heap;
    size_t n_heap, cap_heap;
    uint64_t seq;
    uint64_t now;
    uint64_t rng;
    double loss;
    spost_t *posts;
    size_t n_posts, cap_posts;
    uint32_t *post_slots; /* post index + 1 by id; open addressing */
    size_t n_slots;
    uint32_t *lat;
    size_t n_lat, cap_lat;
    bool counting;
    uint64_t bytes_by_type[256];
    uint64_t frames_by_type[256];
    uint64_t lost;
    size_t repairs;
    /* Deliveries after this time are also collected here (scenarios). */
    uint64_t mark_t;
    uint32_t *late;
    size_t n_late, cap_late;
    uint32_t trace; /* SIM_TRACE=node: print the frames it receives */
    bool debug;     /* SIM_DEBUG=1: explain every missed delivery */
};

typedef struct {
    size_t nodes;
    uint64_t deliveries;
    uint64_t bytes_by_type[256];
} typerow_t;

/* ---- event queue: a binary heap by (time, insertion order) ---- */

static bool
ev_before(const event_t *x, const event_t *y)
{
    return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

static void
ev_push(sim_t *s, event_t e)
{
    if (s->n_heap == s->cap_heap) {
        s->cap_heap = s->cap_heap ? s->cap_heap * 2 : 1024;
        s->heap = xrealloc(s->heap, s->cap_heap * sizeof *s->heap);
    }
    e.seq = s->seq++;
    size_t i = s->n_heap++;
    while (i > 0 && ev_before(&e, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = e;
}

static event_t
ev_pop(sim_t *s)
{
    event_t top = s->heap[0];
    event_t last = s->heap[--s->n_heap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->n_heap) {
            break;
        }
        if (c + 1 < s->n_heap && ev_before(&s->heap[c + 1], &s->heap[c])) {
            c++;
        }
        if (!ev_before(&s->heap[c], &last)) {
            break;
        }
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->n_heap > 0) {
        s->heap[i] = last;
    }
    return top;
}

/* ---- posts by id ---- */

static size_t
post_slot(const sim_t *s, const uint8_t id[static 32])
{
    uint64_t h = 0;
    memcpy(&h, id, sizeof h);
    size_t mask = s->n_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t p = s->post_slots[i];
        if (p == 0 || memcmp(s->posts[p - 1].id, id, 32) == 0) {
            return i;
        }
    }
}

static spost_t *
post_find(const sim_t *s, const uint8_t id[static 32])
{
    if (s->n_slots == 0) {
        return NULL;
    }
    uint32_t p = s->post_slots[post_slot(s, id)];
    return p ? &s->posts[p - 1] : NULL;
}

static spost_t *
post_add(sim_t *s, uint32_t author, const uint8_t id[static 32])
{
    if (s->n_posts == s->cap_posts) {
        s->cap_posts = s->cap_posts ? s->cap_posts * 2 : 256;
        s->posts = xrealloc(s->posts, s->cap_posts * sizeof *s->posts);
    }
    if ((s->n_posts + 1) * 2 > s->n_slots) {
        free(s->post_slots);
        s->n_slots = s->n_slots ? s->n_slots * 2 : 1024;
        s->post_slots = xcalloc(s->n_slots, sizeof *s->post_slots);
        for (size_t i = 0; i < s->n_posts; i++) {
            s->post_slots[post_slot(s, s->posts[i].id)] = (uint32_t)i + 1;
        }
    }
    spost_t *p = &s->posts[s->n_posts++];
    memset(p, 0, sizeof *p);
    p->author = author;
    p->t_pub = s->now;
    memcpy(p->id, id, 32);
    s->post_slots[post_slot(s, id)] = (uint32_t)s->n_posts;
    return p;
}

static void
push_u32(uint32_t **a, size_t *n, size_t *cap, uint32_t v)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *a = xrealloc(*a, *cap * sizeof **a);
    }
    (*a)[(*n)++] = v;
}

/* ---- nodes, links ---- */

static uint32_t
key_index(const uint8_t key[static 32])
{
    return (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
}

static bool
follows(const snode_t *n, uint32_t author)
{
    for (size_t i = 0; i < n->n_follows; i++) {
        if (n->follows[i] == author) {
            return true;
        }
    }
    return false;
}

/* Whether node j keeps author a's feed: it is a, or follows a. */
static bool
replicates(const sim_t *s, uint32_t j, uint32_t a)
{
    return j == a || follows(&s->nodes[j], a);
}

static edge_t *
edge_between(sim_t *s, uint32_t a, uint32_t b)
{
    const snode_t *n = &s->nodes[a];
    for (size_t i = 0; i < n->n_edges; i++) {
        edge_t *e = &s->edges[n->edges[i]];
        if ((e->a == a && e->b == b) || (e->a == b && e->b == a)) {
            return e;
        }
    }
    return NULL;
}

static bool
link(sim_t *s, uint32_t a, uint32_t b)
{
    if (a == b || edge_between(s, a, b) != NULL || s->nodes[a].n_edges >= DEGREE_HARD ||
        s->nodes[b].n_edges >= DEGREE_HARD) {
        return false;
    }
    if (s->n_edges == s->cap_edges) {
        s->cap_edges = s->cap_edges ? s->cap_edges * 2 : 1024;
        s->edges = xrealloc(s->edges, s->cap_edges * sizeof *s->edges);
    }
    edge_t *e = &s->edges[s->n_edges];
    memset(e, 0, sizeof *e);
    e->a = a;
    e->b = b;
    push_u32(&s->nodes[a].edges, &s->nodes[a].n_edges, &s->nodes[a].cap_edges,
             (uint32_t)s->n_edges);
    push_u32(&s->nodes[b].edges, &s->nodes[b].n_edges, &s->nodes[b].cap_edges,
             (uint32_t)s->n_edges);
    s->n_edges++;
    return true;
}

/* Calls the tick now and queues the next one if it is earlier than the one
 * queued. */
static void
retick(sim_t *s, snode_t *n)
{
    if (!n->online) {
        return;
    }
    uint64_t next = 0;
    gossip_tick(n->g, s->now, &next);
    if (next < n->tick_at || n->tick_at <= s->now) {
        n->tick_at = next;
        event_t e = {.t = next, .kind = EV_TICK, .a = n->index};
        ev_push(s, e);
    }
}

/* ---- gossip callbacks ---- */

static int
cb_send(void *ud, const uint8_t peer[static 32], const uint8_t *frame, size_t len)
{
    snode_t *n = ud;
    sim_t *s = n->sim;
    uint32_t to = key_index(peer);
    edge_t *e = to < s->n ? edge_between(s, n->index, to) : NULL;
    if (e == NULL || !e->up || !n->online) {
        return -1;
    }
    if (s->counting) {
        s->bytes_by_type[frame[1]] += len;
        s->frames_by_type[frame[1]]++;
    }
    if (s->loss > 0 && unit(&s->rng) < s->loss) {
        s->lost++;
        return 0;
    }
    int dir = e->a == n->index ? 0 : 1;
    uint64_t t = s->now + LAT_MIN_MS + below(&s->rng, LAT_MAX_MS - LAT_MIN_MS + 1);
    if (t < e->last[dir]) {
        t = e->last[dir];
    }
    e->last[dir] = t;
    event_t ev = {.t = t, .kind = EV_DELIVER, .a = n->index, .b = to, .len = (uint32_t)len};
    ev.frame = xrealloc(NULL, len);
    memcpy(ev.frame, frame, len);
    ev_push(s, ev);
    return 0;
}

static void
cb_random(void *ud, uint8_t *buf, size_t n)
{
    snode_t *node = ud;
    for (size_t i = 0; i < n; i++) {
        buf[i] = (uint8_t)splitmix(&node->rng);
    }
}

static int
cb_head(void *ud, const uint8_t author[static 32], uint64_t *seq, uint8_t id[static 32],
        uint64_t *max_seq)
{
    return fakestore_head(((snode_t *)ud)->store, author, seq, id, max_seq);
}

static bool
cb_has(void *ud, const uint8_t id[static 32])
{
    return fakestore_has(((snode_t *)ud)->store, id);
}

static int
cb_ingest(void *ud, const post_t *p, const uint8_t *raw, size_t len, gossip_ingest_t *res)
{
    snode_t *n = ud;
    sim_t *s = n->sim;
    /* The simulation's one clock stands for the wall clock too. */
    int rc = fakestore_ingest(n->store, p, raw, len, s->now, res);
    if (rc == 0 && (*res == GOSSIP_INGEST_EXTENDED || *res == GOSSIP_INGEST_AHEAD)) {
        spost_t *sp = post_find(s, p->id);
        if (sp != NULL && sp->author != n->index) {
            sp->delivered++;
            if (sp->measured) {
                push_u32(&s->lat, &s->n_lat, &s->cap_lat, (uint32_t)(s->now - sp->t_pub));
            }
            if (s->mark_t != 0 && s->now >= s->mark_t) {
                push_u32(&s->late, &s->n_late, &s->cap_late, (uint32_t)(s->now - s->mark_t));
            }
        }
    }
    return rc;
}

static bool
cb_blocked(void *ud, const uint8_t author[static 32])
{
    return fakestore_is_blocked(((snode_t *)ud)->store, author);
}

static bool
cb_replicates(void *ud, const uint8_t author[static 32])
{
    return fakestore_replicates(((snode_t *)ud)->store, author);
}

static void
cb_subs(void *ud, gossip_author_cb cb, void *cbud)
{
    fakestore_subscriptions(((snode_t *)ud)->store, cb, cbud);
}

static int
cb_range(void *ud, const uint8_t author[static 32], uint64_t from, size_t max_count,
         size_t max_bytes, gossip_post_cb cb, void *cbud)
{
    return fakestore_read_range(((snode_t *)ud)->store, author, from, max_count, max_bytes, cb,
                                cbud);
}

static void
cb_misbehaved(void *ud, const uint8_t peer[static 32], gossip_fault_t why)
{
    snode_t *n = ud;
    fprintf(stderr, "sim_gossip: node %u reports node %u: %s\n", n->index, key_index(peer),
            gossip_fault_name(why));
}

/* ---- building a world ---- */

typedef struct {
    size_t nodes;
    size_t posts;
    size_t follows;
    uint64_t interval_ms;
    double loss;
    uint64_t seed;
} params_t;

static void
node_init(sim_t *s, uint32_t i)
{
    snode_t *n = &s->nodes[i];
    n->sim = s;
    n->index = i;
    memset(n->key, 0x5a, 32);
    n->key[0] = (uint8_t)(i >> 24);
    n->key[1] = (uint8_t)(i >> 16);
    n->key[2] = (uint8_t)(i >> 8);
    n->key[3] = (uint8_t)i;
    uint8_t seed[32];
    memset(seed, 0x77, sizeof seed);
    memcpy(seed, n->key, 4);
    keys_author_from_seed(&n->author, seed);
    n->rng = s->rng ^ (0x1234567ull * (i + 1));
    n->online = true;
    n->tick_at = UINT64_MAX;
    n->store = fakestore_new(n->author.pk);
    if (n->store == NULL) {
        exit(2);
    }
}

static void
node_start(sim_t *s, uint32_t i)
{
    snode_t *n = &s->nodes[i];
    for (size_t k = 0; k < n->n_follows; k++) {
        fakestore_follow(n->store, s->nodes[n->follows[k]].author.pk);
    }
    gossip_config_t cfg = {
        .ud = n,
        .send = cb_send,
        .random = cb_random,
        .head = cb_head,
        .has_post = cb_has,
        .ingest = cb_ingest,
        .is_blocked = cb_blocked,
        .replicates = cb_replicates,
        .subscriptions = cb_subs,
        .read_range = cb_range,
        .peer_misbehaved = cb_misbehaved,
    };
    if (gossip_new(&n->g, &cfg) != GOSSIP_OK) {
        fprintf(stderr, "sim_gossip: gossip_new failed\n");
        exit(2);
    }
}

/* Zipf(1) popularity over a random order of the authors. */
static void
choose_follows(sim_t *s, size_t f)
{
    size_t n = s->n;
    uint32_t *rank = xcalloc(n, sizeof *rank);
    double *cdf = xcalloc(n, sizeof *cdf);
    for (size_t i = 0; i < n; i++) {
        rank[i] = (uint32_t)i;
    }
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = below(&s->rng, (uint32_t)i + 1);
        uint32_t t = rank[i];
        rank[i] = rank[j];
        rank[j] = t;
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += 1.0 / (double)(i + 1);
        cdf[i] = sum;
    }
    size_t want = f < n - 1 ? f : n - 1;
    for (uint32_t i = 0; i < n; i++) {
        snode_t *node = &s->nodes[i];
        node->follows = xcalloc(want, sizeof *node->follows);
        size_t tries = 0;
        while (node->n_follows < want && tries++ < 100 * want) {
            double u = unit(&s->rng) * sum;
            size_t lo = 0;
            size_t hi = n - 1;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (cdf[mid] < u) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            uint32_t a = rank[lo];
            if (a != i && !follows(node, a)) {
                node->follows[node->n_follows++] = a;
                push_u32(&s->swarm[a], &s->n_swarm[a], &s->cap_swarm[a], i);
            }
        }
    }
    free(rank);
    free(cdf);
}

/* A random member of a's swarm (a itself or a follower). */
static uint32_t
swarm_pick(sim_t *s, uint32_t a)
{
    uint32_t k = below(&s->rng, (uint32_t)s->n_swarm[a] + 1);
    return k == s->n_swarm[a] ? a : s->swarm[a][k];
}

static size_t
peers_replicating(sim_t *s, uint32_t i, uint32_t a)
{
    const snode_t *n = &s->nodes[i];
    size_t c = 0;
    for (size_t k = 0; k < n->n_edges; k++) {
        const edge_t *e = &s->edges[n->edges[k]];
        c += replicates(s, e->a == i ? e->b : e->a, a);
    }
    return c;
}

/* Union-find over one swarm, to join its pieces. */
static uint32_t
uf_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static void
join_swarms(sim_t *s)
{
    uint32_t *parent = xcalloc(s->n, sizeof *parent);
    for (uint32_t a = 0; a < s->n; a++) {
        if (s->n_swarm[a] == 0) {
            continue;
        }
        size_t m = s->n_swarm[a] + 1;
        for (size_t k = 0; k < m; k++) {
            uint32_t x = k == s->n_swarm[a] ? a : s->swarm[a][k];
            parent[x] = x;
        }
        for (size_t k = 0; k < m; k++) {
            uint32_t x = k == s->n_swarm[a] ? a : s->swarm[a][k];
            const snode_t *n = &s->nodes[x];
            for (size_t j = 0; j < n->n_edges; j++) {
                const edge_t *e = &s->edges[n->edges[j]];
                uint32_t y = e->a == x ? e->b : e->a;
                if (replicates(s, y, a)) {
                    parent[uf_find(parent, x)] = uf_find(parent, y);
                }
            }
        }
        /* Every piece without the author gets one link to the author's. */
        for (size_t k = 0; k < s->n_swarm[a]; k++) {
            uint32_t x = s->swarm[a][k];
            if (uf_find(parent, x) != uf_find(parent, a)) {
                uint32_t y = a;
                for (int t = 0; t < 50; t++) {
                    uint32_t c = swarm_pick(s, a);
                    if (uf_find(parent, c) == uf_find(parent, a) &&
                        s->nodes[c].n_edges < DEGREE_SOFT) {
                        y = c;
                        break;
                    }
                }
                if (link(s, x, y)) {
                    s->repairs++;
                    parent[uf_find(parent, x)] = uf_find(parent, y);
                }
            }
        }
    }
    free(parent);
}

static void
build_links(sim_t *s)
{
    uint32_t *order = xcalloc(s->n, sizeof *order);
    for (uint32_t i = 0; i < s->n; i++) {
        order[i] = i;
    }
    for (size_t i = s->n - 1; i > 0; i--) {
        size_t j = below(&s->rng, (uint32_t)i + 1);
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t k = 0; k < s->n; k++) {
        uint32_t i = order[k];
        for (int t = 0; t < 20 && s->nodes[i].n_edges < BASE_LINKS; t++) {
            uint32_t j = below(&s->rng, (uint32_t)s->n);
            if (s->nodes[j].n_edges < DEGREE_SOFT) {
                link(s, i, j);
            }
        }
    }
    for (size_t k = 0; k < s->n; k++) {
        uint32_t i = order[k];
        const snode_t *n = &s->nodes[i];
        for (size_t f = 0; f < n->n_follows; f++) {
            uint32_t a = n->follows[f];
            /* Past the soft degree a node takes a link only for an author
             * none of its peers replicates yet. */
            for (int t = 0; t < 40; t++) {
                size_t have = peers_replicating(s, i, a);
                if (have >= SWARM_LINKS) {
                    break;
                }
                uint32_t j = swarm_pick(s, a);
                bool soft = s->nodes[i].n_edges < DEGREE_SOFT && s->nodes[j].n_edges < DEGREE_SOFT;
                if (soft || (have == 0 && t >= 30)) {
                    link(s, i, j);
                }
            }
        }
    }
    free(order);
    join_swarms(s);
}

static void
link_event(sim_t *s, ev_kind_t kind, uint64_t t, uint32_t edge)
{
    event_t e = {.t = t, .kind = (uint8_t)kind, .a = edge};
    ev_push(s, e);
}

static sim_t *
sim_new(const params_t *pr)
{
    sim_t *s = xcalloc(1, sizeof *s);
    s->n = pr->nodes;
    s->rng = pr->seed * 0x9e3779b97f4a7c15ull + 1;
    s->loss = pr->loss;
    s->now = T0;
    s->trace = UINT32_MAX;
    const char *tr = getenv("SIM_TRACE");
    if (tr != NULL) {
        char *end = NULL;
        unsigned long v = strtoul(tr, &end, 10);
        if (end != tr && *end == '\0') {
            s->trace = (uint32_t)v;
        }
    }
    s->debug = getenv("SIM_DEBUG") != NULL;
    s->nodes = xcalloc(s->n, sizeof *s->nodes);
    s->swarm = xcalloc(s->n, sizeof *s->swarm);
    s->n_swarm = xcalloc(s->n, sizeof *s->n_swarm);
    s->cap_swarm = xcalloc(s->n, sizeof *s->cap_swarm);
    for (uint32_t i = 0; i < s->n; i++) {
        node_init(s, i);
    }
    choose_follows(s, pr->follows);
    for (uint32_t i = 0; i < s->n; i++) {
        node_start(s, i);
    }
    build_links(s);
    /* Connections come up over the first second. */
    for (uint32_t e = 0; e < s->n_edges; e++) {
        link_event(s, EV_LINK_UP, T0 + below(&s->rng, 1000), e);
    }
    return s;
}

static void
sim_free(sim_t *s)
{
    for (size_t i = 0; i < s->n_heap; i++) {
        free(s->heap[i].frame);
    }
    for (size_t i = 0; i < s->n; i++) {
        gossip_free(s->nodes[i].g);
        fakestore_free(s->nodes[i].store);
        free(s->nodes[i].edges);
        free(s->nodes[i].follows);
        free(s->swarm[i]);
    }
    free(s->nodes);
    free(s->swarm);
    free(s->n_swarm);
    free(s->cap_swarm);
    free(s->edges);
    free(s->heap);
    free(s->posts);
    free(s->post_slots);
    free(s->lat);
    free(s->late);
    free(s);
}

/* ---- running ---- */

static void
count_copies(sim_t *s, const snode_t *to, const uint8_t *frame, size_t len)
{
    gossip_msg_t m;
    if (gossip_msg_decode(&m, frame, len) != GOSSIP_MSG_OK) {
        return;
    }
    gossip_bytes_t one[2];
    const gossip_bytes_t *posts = one;
    size_t n = 0;
    if (m.type == GOSSIP_POST) {
        one[0] = m.u.post;
        n = 1;
    } else if (m.type == GOSSIP_RANGE) {
        posts = m.u.range.posts;
        n = m.u.range.n;
    } else if (m.type == GOSSIP_FORK) {
        one[0] = m.u.fork.a;
        one[1] = m.u.fork.b;
        n = 2;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t id[32];
        post_id(id, posts[i].p, posts[i].len);
        spost_t *sp = post_find(s, id);
        if (sp != NULL && sp->author != to->index && follows(to, sp->author)) {
            sp->copies++;
        }
    }
}

static void
set_link(sim_t *s, uint32_t edge, bool up)
{
    edge_t *e = &s->edges[edge];
    snode_t *a = &s->nodes[e->a];
    snode_t *b = &s->nodes[e->b];
    if (up == e->up || (up && (!a->online || !b->online))) {
        return;
    }
    e->up = up;
    if (up) {
        /* Frames of the last connection are gone; the new one starts
         * empty. */
        e->last[0] = e->last[1] = s->now;
        gossip_peer_up(a->g, b->key, s->now);
        gossip_peer_up(b->g, a->key, s->now);
    } else {
        gossip_peer_down(a->g, b->key, s->now);
        gossip_peer_down(b->g, a->key, s->now);
    }
    retick(s, a);
    retick(s, b);
}

static void
publish(sim_t *s, uint32_t author, bool measured, bool second_half)
{
    snode_t *n = &s->nodes[author];
    uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    fakestore_publish(n->store, &n->author, s->now, "a post of ordinary length, some words", raw,
                      &len);
    uint8_t id[32];
    post_id(id, raw, len);
    spost_t *p = post_add(s, author, id);
    p->expected = (uint32_t)s->n_swarm[author];
    p->measured = measured;
    p->second_half = second_half;
    gossip_publish(n->g, raw, len, s->now);
    retick(s, n);
}

static void
handle(sim_t *s, event_t *e)
{
    switch (e->kind) {
    case EV_DELIVER: {
        snode_t *to = &s->nodes[e->b];
        edge_t *ed = edge_between(s, e->a, e->b);
        if (ed != NULL && ed->up && to->online) {
            if (s->trace == e->b) {
                fprintf(stderr, "t %llu %u -> %u %s len %u\n", (unsigned long long)(s->now - T0),
                        e->a, e->b, gossip_msg_type_name(e->frame[1]), e->len);
            }
            count_copies(s, to, e->frame, e->len);
            to->rx_frames++;
            to->rx_bytes += e->len;
            gossip_receive_frame(to->g, s->nodes[e->a].key, e->frame, e->len, s->now);
            retick(s, to);
        }
        free(e->frame);
        break;
    }
    case EV_TICK: {
        snode_t *n = &s->nodes[e->a];
        if (n->tick_at == e->t && n->online) {
            n->tick_at = UINT64_MAX;
            retick(s, n);
        }
        break;
    }
    case EV_PUBLISH:
        publish(s, e->a, true, e->b != 0);
        break;
    case EV_LINK_UP:
        set_link(s, e->a, true);
        break;
    case EV_LINK_DOWN:
        set_link(s, e->a, false);
        break;
    default:
        break;
    }
}

/* Runs events up to time t (inclusive). */
static void
run_until(sim_t *s, uint64_t t)
{
    while (s->n_heap > 0 && s->heap[0].t <= t) {
        event_t e = ev_pop(s);
        s->now = e.t;
        handle(s, &e);
    }
    s->now = t;
}

static size_t
missing(const sim_t *s)
{
    size_t m = 0;
    for (size_t i = 0; i < s->n_posts; i++) {
        m += s->posts[i].expected - s->posts[i].delivered;
    }
    return m;
}

/* Runs until every post reached every follower, or until t. */
static void
run_until_done(sim_t *s, uint64_t t)
{
    while (s->now < t && missing(s) > 0) {
        run_until(s, s->now + 100 < t ? s->now + 100 : t);
    }
}

static void
node_offline(sim_t *s, uint32_t i)
{
    snode_t *n = &s->nodes[i];
    for (size_t k = 0; k < n->n_edges; k++) {
        set_link(s, n->edges[k], false);
    }
    n->online = false;
}

static void
node_online(sim_t *s, uint32_t i)
{
    snode_t *n = &s->nodes[i];
    n->online = true;
    n->tick_at = UINT64_MAX;
    for (size_t k = 0; k < n->n_edges; k++) {
        set_link(s, n->edges[k], true);
    }
}

/* ---- statistics ---- */

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static uint32_t
pct(uint32_t *v, size_t n, double p)
{
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof *v, cmp_u32);
    size_t i = (size_t)ceil(p * (double)n) - 1;
    return v[i < n ? i : n - 1];
}

static uint64_t
total_bytes(const sim_t *s)
{
    uint64_t b = 0;
    for (int t = 0; t < 256; t++) {
        b += s->bytes_by_type[t];
    }
    return b;
}

/* What flooding would cost: per delivery, the follower's peers that
 * replicate the author. */
static double
flood_cost(sim_t *s)
{
    double sum = 0;
    double n = 0;
    for (size_t i = 0; i < s->n_posts; i++) {
        const spost_t *p = &s->posts[i];
        for (size_t k = 0; k < s->n_swarm[p->author]; k++) {
            sum += (double)peers_replicating(s, s->swarm[p->author][k], p->author);
            n += 1;
        }
    }
    return n > 0 ? sum / n : 0;
}

static void
degree_stats(const sim_t *s, double *mean, size_t *max)
{
    size_t sum = 0;
    *max = 0;
    for (size_t i = 0; i < s->n; i++) {
        sum += s->nodes[i].n_edges;
        if (s->nodes[i].n_edges > *max) {
            *max = s->nodes[i].n_edges;
        }
    }
    *mean = (double)sum / (double)s->n;
}

/* ---- the runs ---- */

/* Half the posts come from authors drawn by popularity (those with many
 * followers), half from authors drawn uniformly among those with any. */
static uint32_t
pick_author(sim_t *s, size_t k)
{
    for (;;) {
        uint32_t a;
        if (k % 2 == 0) {
            /* A follow edge drawn at random leads to an author with
             * probability proportional to its followers. */
            uint32_t i = below(&s->rng, (uint32_t)s->n);
            const snode_t *n = &s->nodes[i];
            if (n->n_follows == 0) {
                continue;
            }
            a = n->follows[below(&s->rng, (uint32_t)n->n_follows)];
        } else {
            a = below(&s->rng, (uint32_t)s->n);
        }
        if (s->n_swarm[a] > 0) {
            return a;
        }
    }
}

static int
run_main(const params_t *pr, typerow_t *row)
{
    sim_t *s = sim_new(pr);
    run_until(s, T0 + WARMUP_MS);
    s->counting = true;
    uint64_t start = s->now;
    for (size_t k = 0; k < pr->posts; k++) {
        event_t e = {.t = start + k * pr->interval_ms,
                     .kind = EV_PUBLISH,
                     .a = pick_author(s, k),
                     .b = k >= pr->posts / 2};
        ev_push(s, e);
    }
    uint64_t end = start + pr->posts * pr->interval_ms;
    run_until(s, end);
    run_until_done(s, end + DRAIN_MS);
    s->counting = false;

    uint64_t deliveries = 0;
    uint64_t copies = 0;
    uint64_t deliveries2 = 0;
    uint64_t copies2 = 0;
    uint64_t expected = 0;
    for (size_t i = 0; i < s->n_posts; i++) {
        const spost_t *p = &s->posts[i];
        deliveries += p->delivered;
        copies += p->copies;
        expected += p->expected;
        if (p->second_half) {
            deliveries2 += p->delivered;
            copies2 += p->copies;
        }
    }
    double mean_deg = 0;
    size_t max_deg = 0;
    degree_stats(s, &mean_deg, &max_deg);
    size_t miss = missing(s);
    if (s->debug) {
        for (size_t i = 0; i < s->n_posts; i++) {
            const spost_t *p = &s->posts[i];
            if (p->delivered == p->expected) {
                continue;
            }
            for (size_t k = 0; k < s->n_swarm[p->author]; k++) {
                uint32_t f = s->swarm[p->author][k];
                if (fakestore_has(s->nodes[f].store, p->id)) {
                    continue;
                }
                uint64_t hs = 0, mx = 0;
                uint8_t hid[32];
                fakestore_head(s->nodes[f].store, s->nodes[p->author].author.pk, &hs, hid, &mx);
                gossip_stats_t st;
                gossip_stats(s->nodes[f].g, &st);
                fprintf(stderr, "miss post %zu (author %u, t %llu) at %u head %llu max %llu: peers",
                        i, p->author, (unsigned long long)(p->t_pub - T0), f,
                        (unsigned long long)hs, (unsigned long long)mx);
                const snode_t *n = &s->nodes[f];
                for (size_t j = 0; j < n->n_edges; j++) {
                    const edge_t *e = &s->edges[n->edges[j]];
                    uint32_t y = e->a == f ? e->b : e->a;
                    if (replicates(s, y, p->author)) {
                        fprintf(stderr, " %u%s", y,
                                fakestore_has(s->nodes[y].store, p->id) ? "+" : "-");
                    }
                }
                fprintf(stderr, " | syncing %zu missing %zu reqs %zu\n", st.syncing, st.missing,
                        st.requests);
            }
        }
    }
    uint64_t bytes = total_bytes(s);
    size_t n_lat = s->n_lat;
    uint32_t p50 = pct(s->lat, n_lat, 0.50);
    uint32_t p99 = pct(s->lat, n_lat, 0.99);
    uint32_t pmax = n_lat ? s->lat[n_lat - 1] : 0;
    printf("| %zu | %zu | %.1f / %zu | %zu | %llu | %.1f | %u | %u | %u | %.2f | %.2f | %.1f | "
           "%.0f | %zu |\n",
           s->n, s->n_posts, mean_deg, max_deg, s->repairs, (unsigned long long)deliveries,
           (double)expected / (double)(s->n_posts ? s->n_posts : 1), p50, p99, pmax,
           deliveries ? (double)copies / (double)deliveries : 0.0,
           deliveries2 ? (double)copies2 / (double)deliveries2 : 0.0, flood_cost(s),
           deliveries ? (double)bytes / (double)deliveries : 0.0, miss);
    fflush(stdout);
    row->nodes = s->n;
    row->deliveries = deliveries;
    memcpy(row->bytes_by_type, s->bytes_by_type, sizeof row->bytes_by_type);
    if (s->lost > 0) {
        fprintf(stderr, "sim_gossip: N=%zu: %llu frames lost\n", s->n, (unsigned long long)s->lost);
    }
    sim_free(s);
    return miss == 0 ? 0 : 1;
}

/* A follower offline while its author writes 50 posts; the author then goes
 * offline too; the follower comes back and must catch up from others. */
static int
run_offline(const params_t *pr)
{
    sim_t *s = sim_new(pr);
    run_until(s, T0 + WARMUP_MS);
    uint32_t author = 0;
    for (uint32_t a = 0; a < s->n; a++) {
        if (s->n_swarm[a] > s->n_swarm[author]) {
            author = a;
        }
    }
    uint32_t x = s->swarm[author][below(&s->rng, (uint32_t)s->n_swarm[author])];
    node_offline(s, x);
    for (int k = 0; k < 50; k++) {
        publish(s, author, false, false);
        run_until(s, s->now + 200);
    }
    run_until_done(s, s->now + 10000);
    size_t others_missing = missing(s) - 50;
    node_offline(s, author);
    run_until(s, s->now + 10 * 60 * 1000);
    /* Back: the follower's own links come up; if none of its peers holds
     * the feed any more, it dials one provider (the DHT's job). */
    s->counting = true;
    node_online(s, x);
    bool dialled = false;
    if (peers_replicating(s, x, author) <= 1) {
        for (size_t k = 0; k < s->n_swarm[author]; k++) {
            uint32_t y = s->swarm[author][k];
            if (y != x && s->nodes[y].online && link(s, x, y)) {
                set_link(s, (uint32_t)s->n_edges - 1, true);
                dialled = true;
                break;
            }
        }
    }
    uint64_t back = s->now;
    uint64_t done = 0;
    while (s->now < back + 120000) {
        run_until(s, s->now + 10);
        uint64_t seq = 0;
        uint64_t max = 0;
        uint8_t id[32];
        fakestore_head(s->nodes[x].store, s->nodes[author].author.pk, &seq, id, &max);
        if (seq == 50) {
            done = s->now;
            break;
        }
    }
    uint64_t head = 0;
    uint64_t max = 0;
    uint8_t id[32];
    fakestore_head(s->nodes[x].store, s->nodes[author].author.pk, &head, id, &max);
    printf(
        "| offline follower | %zu nodes | author %u (%zu followers) offline too | %s | "
        "caught up %llu/50 in %llu ms | %llu frames, %llu bytes received | others missing %zu |\n",
        s->n, author, s->n_swarm[author], dialled ? "dialled a provider" : "own peers",
        (unsigned long long)head, (unsigned long long)(done ? done - back : 0),
        (unsigned long long)s->nodes[x].rx_frames, (unsigned long long)s->nodes[x].rx_bytes,
        others_missing);
    fflush(stdout);
    int rc = head == 50 && others_missing == 0 ? 0 : 1;
    sim_free(s);
    return rc;
}

/* The network cut in two for a minute while authors on both sides write;
 * then healed. */
static int
run_partition(const params_t *pr)
{
    sim_t *s = sim_new(pr);
    run_until(s, T0 + WARMUP_MS);
    uint32_t half = (uint32_t)(s->n / 2);
    size_t cut = 0;
    for (uint32_t e = 0; e < s->n_edges; e++) {
        if ((s->edges[e].a < half) != (s->edges[e].b < half)) {
            set_link(s, e, false);
            cut++;
        }
    }
    for (int k = 0; k < 40; k++) {
        publish(s, pick_author(s, (size_t)k), false, false);
        run_until(s, s->now + 1500);
    }
    run_until(s, s->now + 5000);
    size_t cut_off = missing(s);
    s->mark_t = s->now;
    uint64_t heal = s->now;
    for (uint32_t e = 0; e < s->n_edges; e++) {
        if ((s->edges[e].a < half) != (s->edges[e].b < half)) {
            set_link(s, e, true);
        }
    }
    run_until_done(s, heal + 180000);
    size_t left = missing(s);
    uint32_t p50 = pct(s->late, s->n_late, 0.5);
    uint32_t p99 = pct(s->late, s->n_late, 0.99);
    uint32_t pmax = s->n_late ? s->late[s->n_late - 1] : 0;
    printf("| partition | %zu nodes, %zu links cut for 65 s | 40 posts | %zu deliveries waiting "
           "at heal | after heal: p50 %u ms, p99 %u ms, last %u ms | missing %zu |\n",
           s->n, cut, cut_off, p50, p99, pmax, left);
    fflush(stdout);
    sim_free(s);
    return left == 0 ? 0 : 1;
}

static void
usage(void)
{
    fprintf(stderr, "usage: sim_gossip [--quick] [--nodes N] [--posts P] [--follows F]\n"
                    "                  [--interval MS] [--loss P] [--seed S] [--no-scenarios]\n");
    exit(2);
}

static bool
parse_u64(const char *text, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end != '\0') {
        return false;
    }
    *out = v;
    return true;
}

int
main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        return 2;
    }
    params_t pr = {
        .nodes = 0, .posts = 400, .follows = 10, .interval_ms = 250, .loss = 0, .seed = 1};
    bool quick = false;
    bool scenarios = true;
    for (int i = 1; i < argc; i++) {
        uint64_t v = 0;
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            quick = true;
        } else if (strcmp(a, "--no-scenarios") == 0) {
            scenarios = false;
        } else if (strcmp(a, "--loss") == 0 && val != NULL) {
            char *end = NULL;
            pr.loss = strtod(val, &end);
            if (end == val || *end != '\0' || pr.loss < 0 || pr.loss >= 1) {
                usage();
            }
            i++;
        } else if (val != NULL && parse_u64(val, &v)) {
            if (strcmp(a, "--nodes") == 0 && v >= 3 && v <= 100000) {
                pr.nodes = v;
            } else if (strcmp(a, "--posts") == 0 && v >= 1) {
                pr.posts = v;
            } else if (strcmp(a, "--follows") == 0 && v >= 1 && v <= 1000) {
                pr.follows = v;
            } else if (strcmp(a, "--interval") == 0 && v >= 1) {
                pr.interval_ms = v;
            } else if (strcmp(a, "--seed") == 0) {
                pr.seed = v;
            } else {
                usage();
            }
            i++;
        } else {
            usage();
        }
    }
    printf("gossip simulator: latency %d-%d ms per frame, loss %.3f, %zu follows per node "
           "(Zipf), a post every %llu ms, seed %llu\n\n",
           LAT_MIN_MS, LAT_MAX_MS, pr.loss, pr.follows, (unsigned long long)pr.interval_ms,
           (unsigned long long)pr.seed);
    printf("| nodes | posts | degree mean / max | swarm links added | deliveries | followers "
           "per post | p50 ms | p99 ms | max ms | copies per post per follower | same, second "
           "half | flooding would cost | bytes per delivery | missed |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    int rc = 0;
    size_t sizes[4] = {20, 100, 1000, 10000};
    size_t n_sizes = quick ? 2 : 4;
    if (pr.nodes != 0) {
        sizes[0] = pr.nodes;
        n_sizes = 1;
    }
    size_t posts = pr.posts;
    static typerow_t rows[4];
    for (size_t i = 0; i < n_sizes; i++) {
        params_t p = pr;
        p.nodes = sizes[i];
        p.posts = quick ? (posts < 100 ? posts : 100) : posts;
        rc |= run_main(&p, &rows[i]);
    }
    printf("\nBytes on the wire per post delivered, by message type (frame headers "
           "included):\n\n| nodes |");
    for (int t = GOSSIP_SUBSCRIBE; t <= GOSSIP_FORK; t++) {
        printf(" %s |", gossip_msg_type_name((uint8_t)t));
    }
    printf("\n|---|");
    for (int t = GOSSIP_SUBSCRIBE; t <= GOSSIP_FORK; t++) {
        printf("---|");
    }
    printf("\n");
    for (size_t i = 0; i < n_sizes; i++) {
        printf("| %zu |", rows[i].nodes);
        for (int t = GOSSIP_SUBSCRIBE; t <= GOSSIP_FORK; t++) {
            double d = (double)(rows[i].deliveries ? rows[i].deliveries : 1);
            printf(" %.0f |", (double)rows[i].bytes_by_type[t] / d);
        }
        printf("\n");
    }
    if (scenarios) {
        printf("\n");
        params_t p = pr;
        p.nodes = 100;
        rc |= run_offline(&p);
        rc |= run_partition(&p);
    }
    return rc;
}
