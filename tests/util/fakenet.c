#include "fakenet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossipmsg.h"

static uint64_t
splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- callbacks ---- */

static int
cb_send(void *ud, const uint8_t peer[static 32], const uint8_t *frame, size_t len)
{
    fakenode_t *n = ud;
    fakenet_t *net = n->net;
    if (n->send_fails) {
        return -1;
    }
    fakeframe_t f;
    memcpy(f.from, n->key, 32);
    memcpy(f.to, peer, 32);
    f.len = len;
    f.frame = (uint8_t *)frame;
    if (net->filter != NULL && !net->filter(net->filter_ud, &f)) {
        return 0;
    }
    f.frame = malloc(len);
    if (f.frame == NULL) {
        abort();
    }
    memcpy(f.frame, frame, len);
    if (net->q_head + net->q_len == net->q_cap) {
        if (net->q_head > 0) {
            memmove(net->q, net->q + net->q_head, net->q_len * sizeof *net->q);
            net->q_head = 0;
        } else {
            net->q_cap = net->q_cap ? net->q_cap * 2 : 64;
            net->q = realloc(net->q, net->q_cap * sizeof *net->q);
            if (net->q == NULL) {
                abort();
            }
        }
    }
    net->q[net->q_head + net->q_len++] = f;
    return 0;
}

static void
cb_random(void *ud, uint8_t *buf, size_t n)
{
    fakenode_t *node = ud;
    for (size_t i = 0; i < n; i++) {
        buf[i] = (uint8_t)splitmix(&node->rng);
    }
}

static int
cb_head(void *ud, const uint8_t author[static 32], uint64_t *seq, uint8_t id[static 32],
        uint64_t *max_seq)
{
    return fakestore_head(((fakenode_t *)ud)->store, author, seq, id, max_seq);
}

static bool
cb_has(void *ud, const uint8_t id[static 32])
{
    return fakestore_has(((fakenode_t *)ud)->store, id);
}

static int
cb_ingest(void *ud, const post_t *p, const uint8_t *raw, size_t len, gossip_ingest_t *res)
{
    /* The net's one clock stands for both the monotonic and the wall clock. */
    fakenode_t *node = ud;
    return fakestore_ingest(node->store, p, raw, len, node->net->now, res);
}

static bool
cb_blocked(void *ud, const uint8_t author[static 32])
{
    return fakestore_is_blocked(((fakenode_t *)ud)->store, author);
}

static bool
cb_replicates(void *ud, const uint8_t author[static 32])
{
    return fakestore_replicates(((fakenode_t *)ud)->store, author);
}

static void
cb_subs(void *ud, gossip_author_cb cb, void *cbud)
{
    fakestore_subscriptions(((fakenode_t *)ud)->store, cb, cbud);
}

static int
cb_range(void *ud, const uint8_t author[static 32], uint64_t from, size_t max_count,
         size_t max_bytes, gossip_post_cb cb, void *cbud)
{
    return fakestore_read_range(((fakenode_t *)ud)->store, author, from, max_count, max_bytes, cb,
                                cbud);
}

static void
cb_misbehaved(void *ud, const uint8_t peer[static 32], gossip_fault_t why)
{
    fakenode_t *n = ud;
    n->reported++;
    memcpy(n->reported_key, peer, 32);
    n->fault = why;
}

/* ---- the net ---- */

fakenet_t *
fakenet_new(uint64_t now_ms)
{
    fakenet_t *net = calloc(1, sizeof *net);
    if (net != NULL) {
        net->now = now_ms;
    }
    return net;
}

void
fakenet_drop(fakenet_t *net)
{
    for (size_t i = 0; i < net->q_len; i++) {
        free(net->q[net->q_head + i].frame);
    }
    net->q_head = 0;
    net->q_len = 0;
}

void
fakenet_free(fakenet_t *net)
{
    if (net == NULL) {
        return;
    }
    fakenet_drop(net);
    free(net->q);
    for (size_t i = 0; i < net->n_nodes; i++) {
        gossip_free(net->nodes[i]->g);
        fakestore_free(net->nodes[i]->store);
        free(net->nodes[i]);
    }
    free(net);
}

fakenode_t *
fakenet_add(fakenet_t *net)
{
    if (net->n_nodes == FAKENET_NODES_MAX) {
        abort();
    }
    fakenode_t *n = calloc(1, sizeof *n);
    if (n == NULL) {
        abort();
    }
    n->net = net;
    n->index = (unsigned)net->n_nodes;
    memset(n->key, 0xa0 + (int)n->index, 32);
    n->key[0] = (uint8_t)n->index;
    uint8_t seed[32];
    memset(seed, 0x11, sizeof seed);
    seed[0] = (uint8_t)n->index;
    keys_author_from_seed(&n->author, seed);
    n->rng = 1000 + n->index;
    n->store = fakestore_new(n->author.pk);
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
    if (n->store == NULL || gossip_new(&n->g, &cfg) != GOSSIP_OK) {
        abort();
    }
    net->nodes[net->n_nodes++] = n;
    return n;
}

void
fakenode_follow(fakenode_t *n, const fakenode_t *author)
{
    fakestore_follow(n->store, author->author.pk);
    gossip_subscriptions_changed(n->g, n->net->now);
}

void
fakenet_connect(fakenode_t *a, fakenode_t *b)
{
    if (gossip_peer_up(a->g, b->key, a->net->now) != GOSSIP_OK ||
        gossip_peer_up(b->g, a->key, a->net->now) != GOSSIP_OK) {
        abort();
    }
}

void
fakenet_disconnect(fakenode_t *a, fakenode_t *b)
{
    gossip_peer_down(a->g, b->key, a->net->now);
    gossip_peer_down(b->g, a->key, a->net->now);
}

static fakenode_t *
node_by_key(fakenet_t *net, const uint8_t key[static 32])
{
    for (size_t i = 0; i < net->n_nodes; i++) {
        if (memcmp(net->nodes[i]->key, key, 32) == 0) {
            return net->nodes[i];
        }
    }
    return NULL;
}

void
fakenet_deliver(fakenet_t *net)
{
    while (net->q_len > 0) {
        fakeframe_t f = net->q[net->q_head++];
        net->q_len--;
        if (net->q_len == 0) {
            net->q_head = 0;
        }
        fakenode_t *to = node_by_key(net, f.to);
        if (to != NULL) {
            net->delivered++;
            gossip_receive_frame(to->g, f.from, f.frame, f.len, net->now);
        }
        free(f.frame);
    }
}

void
fakenet_run(fakenet_t *net, uint64_t ms, uint64_t step_ms)
{
    uint64_t end = net->now + ms;
    for (;;) {
        for (size_t i = 0; i < net->n_nodes; i++) {
            uint64_t next = 0;
            gossip_tick(net->nodes[i]->g, net->now, &next);
        }
        fakenet_deliver(net);
        if (net->now >= end) {
            break;
        }
        net->now = net->now + step_ms > end ? end : net->now + step_ms;
    }
}

size_t
fakenet_queued(const fakenet_t *net, const fakenode_t *from, const fakenode_t *to, uint8_t type)
{
    size_t n = 0;
    for (size_t i = 0; i < net->q_len; i++) {
        const fakeframe_t *f = &net->q[net->q_head + i];
        if ((from == NULL || memcmp(f->from, from->key, 32) == 0) &&
            (to == NULL || memcmp(f->to, to->key, 32) == 0) &&
            (type == 0 || (f->len > 1 && f->frame[1] == type))) {
            n++;
        }
    }
    return n;
}

void
fakenode_publish(fakenode_t *n, const char *body, uint8_t *raw, size_t *len)
{
    fakestore_publish(n->store, &n->author, n->net->now, body, raw, len);
    if (gossip_publish(n->g, raw, *len, n->net->now) != GOSSIP_OK) {
        abort();
    }
}

gossip_stats_t
fakenode_stats(const fakenode_t *n)
{
    gossip_stats_t s;
    gossip_stats(n->g, &s);
    return s;
}

uint64_t
fakenode_head(const fakenode_t *n, const fakenode_t *author)
{
    uint64_t seq = 0;
    uint64_t max = 0;
    uint8_t id[32];
    fakestore_head(n->store, author->author.pk, &seq, id, &max);
    return seq;
}
