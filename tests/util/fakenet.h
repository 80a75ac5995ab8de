/* fakenet: a handful of gossip nodes in one process for unit tests, each
 * with a fakestore, joined by a zero-latency FIFO of frames and a fake clock
 * that the test advances. Deterministic: every random byte comes from a
 * per-node generator seeded with the node's index. */
#ifndef SAMIZDAT_FAKENET_H
#define SAMIZDAT_FAKENET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fakestore.h"
#include "gossip.h"
#include "keys.h"

enum { FAKENET_NODES_MAX = 32 };

typedef struct fakenet fakenet_t;

typedef struct {
    fakenet_t *net;
    unsigned index;
    uint8_t key[32];      /* node key: bytes of the index */
    keys_author_t author; /* own author, from a seed made of the index */
    fakestore_t *store;
    gossip_t *g;
    uint64_t rng;
    bool send_fails;   /* the send callback refuses every frame */
    unsigned reported; /* peer_misbehaved calls */
    uint8_t reported_key[32];
    gossip_fault_t fault;
} fakenode_t;

typedef struct {
    uint8_t from[32];
    uint8_t to[32];
    uint8_t *frame;
    size_t len;
} fakeframe_t;

/* Called for every frame before it is queued: return false to lose it. */
typedef bool (*fakenet_filter_cb)(void *ud, const fakeframe_t *f);

struct fakenet {
    fakenode_t *nodes[FAKENET_NODES_MAX];
    size_t n_nodes;
    fakeframe_t *q; /* frames sent, not yet delivered, in order */
    size_t q_head, q_len, q_cap;
    uint64_t now;
    fakenet_filter_cb filter;
    void *filter_ud;
    uint64_t delivered;
};

/* A net at time now_ms. Free with fakenet_free (accepts NULL), which frees
 * its nodes. */
fakenet_t *fakenet_new(uint64_t now_ms);
void fakenet_free(fakenet_t *net);

/* Adds a node with the next index; it follows nobody yet. */
fakenode_t *fakenet_add(fakenet_t *net);
/* follow then tell gossip (subscriptions_changed). */
void fakenode_follow(fakenode_t *n, const fakenode_t *author);
/* peer_up on both sides. */
void fakenet_connect(fakenode_t *a, fakenode_t *b);
void fakenet_disconnect(fakenode_t *a, fakenode_t *b);

/* Delivers every queued frame (and what they cause) at the current time.
 * A frame to a node that does not know its sender is dropped. */
void fakenet_deliver(fakenet_t *net);
/* Advances the clock to now + ms in steps of step_ms, ticking every node and
 * delivering at each step. */
void fakenet_run(fakenet_t *net, uint64_t ms, uint64_t step_ms);
/* Frames queued from -> to of type (0 = any; NULL keys = any). */
size_t fakenet_queued(const fakenet_t *net, const fakenode_t *from, const fakenode_t *to,
                      uint8_t type);
/* Drops every queued frame. */
void fakenet_drop(fakenet_t *net);

/* Publishes a post of n's own author (stored, then gossip_publish). */
void fakenode_publish(fakenode_t *n, const char *body, uint8_t *raw, size_t *len);
gossip_stats_t fakenode_stats(const fakenode_t *n);
/* n's contiguous head of author's feed. */
uint64_t fakenode_head(const fakenode_t *n, const fakenode_t *author);

#endif
