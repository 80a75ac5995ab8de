/* Iterative lookups on a simulated network of 200 real dht nodes in one
 * process: a fake clock, an event queue ordered by time, a send callback
 * that encodes each message and queues it with a latency, and the receiver
 * decoding it again. Lookups must find the TRUE k closest nodes (checked
 * against a sorted list of every node), providers and heads must be found,
 * and peers that answer with garbage, only with themselves, with far
 * contacts, or never, must not stall a lookup. Deterministic: every random
 * number comes from seeded generators. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht.h"
#include "dhtid.h"
#include "head.h"
#include "keys.h"

enum {
    HONEST = 200,
    BAD_EACH = 6, /* of each misbehaviour, in the adversarial tests */
    MAX_NODES = HONEST + 4 * BAD_EACH,
    LATENCY_MIN = 10,
    LATENCY_SPAN = 60,
    EV_TICK = 0,
    EV_MSG = 1,
};

typedef enum {
    B_HONEST,
    B_SILENT,    /* never answers */
    B_GARBAGE,   /* answers every request with a PONG */
    B_SELF_ONLY, /* answers with only itself as a contact */
    B_FAR,       /* answers with made-up contacts far from the target */
} behaviour_t;

typedef struct {
    uint64_t at, seq;
    uint8_t kind;
    uint16_t to, from;
    uint8_t type;
    uint32_t rid;
    uint32_t len;
    uint8_t *payload;
} ev_t;

struct net;

typedef struct {
    struct net *net;
    uint16_t idx;
    behaviour_t b;
    dht_t *d;
    dht_contact_t c;
    uint8_t id[32];
    uint64_t rng;
    uint64_t tick_at;
} node_t;

typedef struct net {
    node_t nodes[MAX_NODES];
    int n;
    ev_t *heap;
    size_t nheap, cap;
    uint64_t seq, now, rng;
    uint64_t fakes; /* made-up contacts handed out */
    uint8_t buf[DHT_LARGEST_PAYLOAD];
    dht_msg_t msg;
    /* Lookup results. */
    int done;
    dht_result_t res;
    dht_contact_t contacts[DHT_NODES_MAX];
    dht_contact_t providers[DHT_PROVIDERS_MAX];
    uint8_t head[HEAD_SIZE];
} net_t;

static uint64_t
next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void
rand_cb(void *ud, void *buf, size_t n)
{
    node_t *nd = ud;
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)next_rand(&nd->rng);
    }
}

/* ---- the event queue: a binary min-heap on (at, seq) ---- */

static bool
ev_less(const ev_t *a, const ev_t *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void
push(net_t *net, ev_t ev)
{
    if (net->nheap == net->cap) {
        net->cap = net->cap == 0 ? 1024 : net->cap * 2;
        net->heap = realloc(net->heap, net->cap * sizeof *net->heap);
        assert_non_null(net->heap);
    }
    ev.seq = net->seq++;
    size_t i = net->nheap++;
    while (i > 0 && ev_less(&ev, &net->heap[(i - 1) / 2])) {
        net->heap[i] = net->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    net->heap[i] = ev;
}

static ev_t
pop(net_t *net)
{
    ev_t top = net->heap[0];
    ev_t last = net->heap[--net->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const ev_t *best = &last;
        if (l < net->nheap && ev_less(&net->heap[l], best)) {
            m = l;
            best = &net->heap[l];
        }
        if (l + 1 < net->nheap && ev_less(&net->heap[l + 1], best)) {
            m = l + 1;
        }
        if (m == i) {
            break;
        }
        net->heap[i] = net->heap[m];
        i = m;
    }
    if (net->nheap > 0) {
        net->heap[i] = last;
    }
    return top;
}

/* ---- sending ---- */

static int
find_node(net_t *net, const uint8_t key[static 32])
{
    for (int i = 0; i < net->n; i++) {
        if (memcmp(net->nodes[i].c.key, key, 32) == 0) {
            return i;
        }
    }
    return -1;
}

static void
queue_msg(net_t *net, int from, int to, const dht_msg_t *m)
{
    size_t len = 0;
    assert_int_equal(dht_msg_encode_payload(m, net->buf, sizeof net->buf, &len), DHT_MSG_OK);
    ev_t ev = {.kind = EV_MSG,
               .to = (uint16_t)to,
               .from = (uint16_t)from,
               .type = m->type,
               .rid = m->rid,
               .len = (uint32_t)len};
    ev.payload = malloc(len > 0 ? len : 1);
    assert_non_null(ev.payload);
    memcpy(ev.payload, net->buf, len);
    ev.at = net->now + LATENCY_MIN + next_rand(&net->rng) % LATENCY_SPAN;
    push(net, ev);
}

static int
send_cb(void *ud, const dht_contact_t *to, const dht_msg_t *m)
{
    node_t *nd = ud;
    int dest = find_node(nd->net, to->key);

    if (dest >= 0) {
        queue_msg(nd->net, nd->idx, dest, m);
    }
    /* A made-up contact: the message goes nowhere and the request times
     * out, as a connection to a dead address would. */
    return 0;
}

static void
schedule_tick(net_t *net, node_t *nd)
{
    uint64_t next = dht_next_ms(nd->d);
    if (next < net->now) {
        next = net->now;
    }
    if (nd->tick_at != 0 && nd->tick_at <= next && nd->tick_at >= net->now) {
        return; /* an earlier tick is already queued */
    }
    nd->tick_at = next;
    ev_t ev = {.kind = EV_TICK, .to = nd->idx, .at = next};
    push(net, ev);
}

/* A far made-up contact: an id whose top bit differs from the target's. */
static void
far_contact(net_t *net, const uint8_t target[static 32], dht_contact_t *c)
{
    for (;;) {
        uint64_t n = ++net->fakes;
        memset(c, 0, sizeof *c);
        crypto_generichash(c->key, 32, (const uint8_t *)&n, sizeof n, (const uint8_t *)"fake", 4);
        uint8_t id[32];
        dhtid_from_node_key(id, c->key);
        if (((id[0] ^ target[0]) & 0x80) != 0) {
            snprintf(c->endpoint, sizeof c->endpoint, "tcp://%u.%u.%u.66:1",
                     (unsigned)(100 + n % 100), (unsigned)(n / 256) % 256, (unsigned)n % 256);
            return;
        }
    }
}

/* How a misbehaving peer answers a request. */
static void
misbehave(net_t *net, node_t *nd, int from, const dht_msg_t *req)
{
    if (nd->b == B_SILENT || !dht_msg_is_request(req->type)) {
        return;
    }
    /* The reply is built in net->msg, which holds the request: copy what
     * is needed from it first. */
    dht_msg_t *m = &net->msg;
    uint8_t target[32];
    memcpy(target, req->type == DHT_MSG_FIND_NODE ? req->u.target : req->u.key, 32);
    uint8_t type = req->type;
    uint32_t rid = req->rid;
    if (nd->b == B_GARBAGE) {
        dht_msg_init(m, DHT_MSG_PONG, rid);
        queue_msg(net, nd->idx, from, m);
        return;
    }
    dht_contacts_t *cs = NULL;
    switch (type) {
    case DHT_MSG_FIND_NODE:
        dht_msg_init(m, DHT_MSG_NODES, rid);
        cs = &m->u.nodes;
        break;
    case DHT_MSG_GET_PROVIDERS:
        dht_msg_init(m, DHT_MSG_PROVIDERS, rid);
        cs = &m->u.providers.closer;
        break;
    case DHT_MSG_GET_HEAD:
        dht_msg_init(m, DHT_MSG_HEAD, rid);
        cs = &m->u.head.closer;
        break;
    case DHT_MSG_PING:
        dht_msg_init(m, DHT_MSG_PONG, rid);
        break;
    default:
        dht_msg_init(m, DHT_MSG_ACK, rid);
        break;
    }
    if (cs != NULL && nd->b == B_SELF_ONLY) {
        cs->n = 1;
        cs->c[0] = nd->c;
    } else if (cs != NULL) {
        cs->n = DHT_NODES_MAX;
        for (int i = 0; i < DHT_NODES_MAX; i++) {
            far_contact(net, target, &cs->c[i]);
        }
    }
    queue_msg(net, nd->idx, from, m);
}

static void
deliver(net_t *net, const ev_t *ev)
{
    node_t *nd = &net->nodes[ev->to];
    dht_msg_t *m = &net->msg;
    assert_int_equal(dht_msg_decode_payload(m, ev->type, ev->rid, ev->payload, ev->len),
                     DHT_MSG_OK);
    if (nd->b != B_HONEST) {
        misbehave(net, nd, ev->from, m);
        return;
    }
    dht_err_t err = dht_receive(nd->d, &net->nodes[ev->from].c, m, net->now);
    assert_true(err == DHT_OK || err == DHT_EUNEXPECTED);
    schedule_tick(net, nd);
}

/* Runs events until `until` or until done lookups reach `want_done`. */
static void
run(net_t *net, uint64_t until, int want_done)
{
    while (net->nheap > 0 && net->heap[0].at <= until) {
        if (want_done > 0 && net->done >= want_done) {
            return;
        }
        ev_t ev = pop(net);
        net->now = ev.at;
        if (ev.kind == EV_TICK) {
            node_t *nd = &net->nodes[ev.to];
            if (nd->tick_at != ev.at || nd->d == NULL) {
                continue;
            }
            nd->tick_at = 0;
            dht_tick(nd->d, net->now, NULL);
            schedule_tick(net, nd);
        } else {
            deliver(net, &ev);
            free(ev.payload);
        }
    }
    if (net->now < until && want_done == 0) {
        net->now = until;
    }
}

static void
add_node(net_t *net, behaviour_t b)
{
    int i = net->n++;
    node_t *nd = &net->nodes[i];
    memset(nd, 0, sizeof *nd);
    nd->net = net;
    nd->idx = (uint16_t)i;
    nd->b = b;
    nd->rng = 1000 + (uint64_t)i;
    uint64_t k = (uint64_t)i;
    crypto_generichash(nd->c.key, 32, (const uint8_t *)&k, sizeof k, (const uint8_t *)"node", 4);
    /* Public addresses, each node in its own /24. */
    snprintf(nd->c.endpoint, sizeof nd->c.endpoint, "tcp://%u.%u.%u.1:7470",
             20u + (unsigned)i / 256, (unsigned)i % 256, (unsigned)(i * 7) % 256);
    dhtid_from_node_key(nd->id, nd->c.key);
    if (b != B_HONEST) {
        return;
    }
    dht_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    memcpy(cfg.key, nd->c.key, 32);
    cfg.endpoint = nd->c.endpoint;
    cfg.send = send_cb;
    cfg.random = rand_cb;
    cfg.ud = nd;
    assert_int_equal(dht_new(&nd->d, &cfg), DHT_OK);
}

static void
free_net(net_t *net)
{
    for (int i = 0; i < net->n; i++) {
        dht_free(net->nodes[i].d);
    }
    for (size_t i = 0; i < net->nheap; i++) {
        free(net->heap[i].payload);
    }
    free(net->heap);
    free(net);
}

/* HONEST nodes join one after the other through node 0; `bad` of each
 * misbehaviour make themselves known by sending pings to honest nodes. */
static net_t *
build(int bad)
{
    net_t *net = calloc(1, sizeof *net);
    assert_non_null(net);
    net->rng = 7;
    for (int i = 0; i < HONEST; i++) {
        add_node(net, B_HONEST);
    }
    for (behaviour_t b = B_SILENT; b <= B_FAR && bad > 0; b++) {
        for (int i = 0; i < bad; i++) {
            add_node(net, b);
        }
    }
    for (int i = 1; i < HONEST; i++) {
        net->now = (uint64_t)i * 200;
        assert_int_equal(dht_add_contact(net->nodes[i].d, &net->nodes[0].c, net->now), DHT_OK);
        schedule_tick(net, &net->nodes[i]);
        run(net, net->now, 0);
    }
    /* Bad peers say hello to a third of the honest nodes each. */
    for (int j = HONEST; j < net->n; j++) {
        for (int i = 0; i < HONEST; i += 3) {
            dht_msg_t m;
            dht_msg_init(&m, DHT_MSG_PING, 1);
            queue_msg(net, j, (i + j) % HONEST, &m);
        }
    }
    /* Let joins and refreshes settle. */
    run(net, net->now + 10 * 60 * 1000, 0);
    return net;
}

static uint8_t sort_target[32];

static int
cmp_ids(const void *a, const void *b)
{
    return dhtid_closer(sort_target, a, b);
}

/* The ids of the k nodes closest to target among those that answer
 * lookups with the right message type (honest, self-only and far peers). */
static void
true_closest(net_t *net, const uint8_t target[static 32], int asker, uint8_t out[DHT_K][32])
{
    uint8_t(*ids)[32] = calloc((size_t)net->n, 32);
    assert_non_null(ids);
    int m = 0;
    for (int i = 0; i < net->n; i++) {
        behaviour_t b = net->nodes[i].b;
        /* A node is never in its own lookup's result. */
        if (i != asker && (b == B_HONEST || b == B_SELF_ONLY || b == B_FAR)) {
            memcpy(ids[m++], net->nodes[i].id, 32);
        }
    }
    memcpy(sort_target, target, 32);
    qsort(ids, (size_t)m, 32, cmp_ids);
    memcpy(out, ids, DHT_K * 32);
    free(ids);
}

static void
result_cb(void *ud, const dht_result_t *r)
{
    net_t *net = ud;
    net->done++;
    net->res = *r;
    memcpy(net->contacts, r->contacts, r->n_contacts * sizeof *r->contacts);
    if (r->n_providers > 0) {
        memcpy(net->providers, r->providers, r->n_providers * sizeof *r->providers);
    }
    if (r->head != NULL) {
        memcpy(net->head, r->head, HEAD_SIZE);
    }
}

/* Runs one find_node from node `from` and checks the result is the true k
 * closest, in order. Returns the elapsed simulated time. */
static uint64_t
check_lookup(net_t *net, int from, const uint8_t target[static 32])
{
    net->done = 0;
    assert_int_equal(dht_find_node(net->nodes[from].d, target, result_cb, net, net->now), DHT_OK);
    schedule_tick(net, &net->nodes[from]);
    run(net, net->now + 10 * 60 * 1000, 1);
    assert_int_equal(net->done, 1);
    assert_int_equal(net->res.status, DHT_OK);
    assert_int_equal(net->res.n_contacts, DHT_K);
    uint8_t want[DHT_K][32];
    true_closest(net, target, from, want);
    for (int i = 0; i < DHT_K; i++) {
        uint8_t id[32];
        dhtid_from_node_key(id, net->contacts[i].key);
        assert_memory_equal(id, want[i], 32);
    }
    assert_true(net->res.hops >= 1 && net->res.hops <= 6);
    assert_true(net->res.messages <= DHT_LOOKUP_QUERIES_MAX * DHT_ATTEMPTS);
    return net->res.elapsed_ms;
}

static void
test_true_closest(void **state)
{
    (void)state;
    net_t *net = build(0);
    size_t filled = 0;
    for (int i = 0; i < HONEST; i++) {
        filled += dht_table_size(net->nodes[i].d);
    }
    /* Every node knows a good part of a 200-node network. */
    assert_true(filled / HONEST >= 40);
    uint64_t rs = 99;
    for (int t = 0; t < 60; t++) {
        uint8_t target[32];
        for (int i = 0; i < 32; i++) {
            target[i] = (uint8_t)next_rand(&rs);
        }
        if (t % 10 == 0) {
            /* A node's own id as target: it must come back first. */
            memcpy(target, net->nodes[(t * 13) % HONEST].id, 32);
        }
        (void)check_lookup(net, (int)(next_rand(&rs) % HONEST), target);
    }
    free_net(net);
}

/* Peers answering with garbage, only with themselves, with far made-up
 * contacts, or not at all: lookups still find the true k closest among
 * those that answer, within the query budget and a bounded time. */
static void
test_bad_peers_do_not_stall(void **state)
{
    (void)state;
    net_t *net = build(BAD_EACH);
    uint64_t rs = 1234, worst = 0;
    for (int t = 0; t < 60; t++) {
        uint8_t target[32];
        if (t % 3 == 0) {
            /* Aim at a misbehaving node's id, so it is among the closest. */
            memcpy(target, net->nodes[HONEST + (t / 3) % (4 * BAD_EACH)].id, 32);
            target[31] ^= 1;
        } else {
            for (int i = 0; i < 32; i++) {
                target[i] = (uint8_t)next_rand(&rs);
            }
        }
        uint64_t ms = check_lookup(net, (int)(next_rand(&rs) % HONEST), target);
        if (ms > worst) {
            worst = ms;
        }
    }
    /* Silent peers are asked in parallel with the others (a slow request
     * gives up its slot once its stall time has passed: a few round trips,
     * measured), so they cost a few round trips in all, not a timeout
     * each. */
    printf("bad peers: slowest of 60 lookups %llu ms (round trips 20-140 ms)\n",
           (unsigned long long)worst);
    assert_true(worst < 2 * DHT_RPC_STALL_MS); /* 3744 ms with a fixed 1 s stall */
    free_net(net);
}

/* Announce and find providers; put and get heads; a replayed older head
 * put after a newer one does not win. */
static void
test_records(void **state)
{
    (void)state;
    net_t *net = build(0);
    keys_author_t authors[10];
    for (int a = 0; a < 10; a++) {
        uint8_t seed[32];
        memset(seed, 0x40 + a, 32);
        keys_author_from_seed(&authors[a], seed);
        int provider = (a * 17 + 3) % HONEST;
        assert_int_equal(dht_announce(net->nodes[provider].d, authors[a].pk, net->now), DHT_OK);
        schedule_tick(net, &net->nodes[provider]);
    }
    run(net, net->now + 60 * 1000, 0);
    for (int a = 0; a < 10; a++) {
        int asker = (a * 31 + 100) % HONEST;
        net->done = 0;
        assert_int_equal(
            dht_get_providers(net->nodes[asker].d, authors[a].pk, result_cb, net, net->now),
            DHT_OK);
        schedule_tick(net, &net->nodes[asker]);
        run(net, net->now + 60 * 1000, 1);
        assert_int_equal(net->done, 1);
        assert_int_equal(net->res.status, DHT_OK);
        assert_int_equal(net->res.n_providers, 1);
        assert_memory_equal(net->providers[0].key, net->nodes[(a * 17 + 3) % HONEST].c.key, 32);
        assert_true(net->res.hops <= 6);
    }

    /* Heads: seq 5 then 9 put by two nodes, then a replay of 5. */
    keys_author_t *k = &authors[0];
    uint8_t h5[HEAD_SIZE], h9[HEAD_SIZE], id[32];
    head_t h;
    size_t len;
    memset(id, 5, 32);
    head_init(&h, 5, id, 1);
    assert_int_equal(head_sign(&h, k, h5, sizeof h5, &len), HEAD_OK);
    memset(id, 9, 32);
    head_init(&h, 9, id, 2);
    assert_int_equal(head_sign(&h, k, h9, sizeof h9, &len), HEAD_OK);
    const int putters[3] = {10, 20, 30};
    const uint8_t *heads[3] = {h5, h9, h5};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(dht_put_head(net->nodes[putters[i]].d, heads[i], HEAD_SIZE, net->now),
                         DHT_OK);
        schedule_tick(net, &net->nodes[putters[i]]);
        run(net, net->now + 30 * 1000, 0);
    }
    net->done = 0;
    assert_int_equal(dht_get_head(net->nodes[150].d, k->pk, result_cb, net, net->now), DHT_OK);
    schedule_tick(net, &net->nodes[150]);
    run(net, net->now + 60 * 1000, 1);
    assert_int_equal(net->done, 1);
    assert_int_equal(net->res.status, DHT_OK);
    assert_int_equal(net->res.head_seq, 9);
    assert_memory_equal(net->head, h9, HEAD_SIZE);

    /* An author nobody announced or put. */
    net->done = 0;
    assert_int_equal(dht_get_head(net->nodes[151].d, authors[9].pk, result_cb, net, net->now),
                     DHT_OK);
    schedule_tick(net, &net->nodes[151]);
    run(net, net->now + 60 * 1000, 1);
    assert_int_equal(net->res.status, DHT_ENOTFOUND);
    assert_int_equal(net->res.n_contacts, DHT_K);
    free_net(net);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_true_closest),
        cmocka_unit_test(test_bad_peers_do_not_stall),
        cmocka_unit_test(test_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
