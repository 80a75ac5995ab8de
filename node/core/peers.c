#include "peers.h"

#include <stdlib.h>
#include <string.h>

struct peertab {
    size_t cap;
    peer_t *e;
};

peertab_t *
peertab_new(size_t cap)
{
    peertab_t *t = calloc(1, sizeof *t);
    peer_t *e = cap > 0 ? calloc(cap, sizeof *e) : NULL;
    if (t == NULL || (cap > 0 && e == NULL)) {
        free(t);
        free(e);
        return NULL;
    }
    t->cap = cap;
    t->e = e;
    return t;
}

void
peertab_free(peertab_t *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->cap; i++) {
        peertab_queue_clear(&t->e[i]);
    }
    free(t->e);
    free(t);
}

peer_t *
peertab_add(peertab_t *t, const uint8_t key[static KEYS_PUBLIC_SIZE], transport_dir_t dir,
            uint64_t now_ms)
{
    for (size_t i = 0; i < t->cap; i++) {
        peer_t *p = &t->e[i];
        if (!p->used) {
            memset(p, 0, sizeof *p);
            p->used = true;
            memcpy(p->key, key, KEYS_PUBLIC_SIZE);
            p->dir = dir;
            p->rtt_us = -1;
            p->relayed_ok = -1;
            p->since_ms = p->last_seen_ms = p->used_ms = now_ms;
            return p;
        }
    }
    return NULL;
}

void
peertab_remove(peertab_t *t, peer_t *p)
{
    (void)t;
    peertab_queue_clear(p);
    p->used = false;
}

peer_t *
peertab_find(peertab_t *t, const uint8_t key[static KEYS_PUBLIC_SIZE], int dir)
{
    for (size_t i = 0; i < t->cap; i++) {
        peer_t *p = &t->e[i];
        if (p->used && memcmp(p->key, key, KEYS_PUBLIC_SIZE) == 0 &&
            (dir == PEERTAB_ANY_DIR || (int)p->dir == dir)) {
            return p;
        }
    }
    return NULL;
}

peer_t *
peertab_find_ready(peertab_t *t, const uint8_t key[static KEYS_PUBLIC_SIZE])
{
    peer_t *best = NULL;
    for (size_t i = 0; i < t->cap; i++) {
        peer_t *p = &t->e[i];
        if (p->used && p->state == PEER_READY && memcmp(p->key, key, KEYS_PUBLIC_SIZE) == 0 &&
            (best == NULL || p->last_seen_ms > best->last_seen_ms)) {
            best = p;
        }
    }
    return best;
}

peer_t *
peertab_ready_at(peertab_t *t, size_t index)
{
    for (size_t i = 0; i < t->cap; i++) {
        peer_t *p = &t->e[i];
        if (p->used && p->state == PEER_READY && index-- == 0) {
            return p;
        }
    }
    return NULL;
}

peer_t *
peertab_next(peertab_t *t, size_t *it)
{
    while (*it < t->cap) {
        peer_t *p = &t->e[(*it)++];
        if (p->used) {
            return p;
        }
    }
    return NULL;
}

void
peertab_counts(const peertab_t *t, peertab_counts_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < t->cap; i++) {
        const peer_t *p = &t->e[i];
        if (!p->used) {
            continue;
        }
        out->all++;
        out->in += p->dir == TRANSPORT_IN;
        out->out += p->dir == TRANSPORT_OUT;
        out->ready += p->state == PEER_READY;
        out->probation += p->probation;
        out->visitors += p->visitor;
        out->dialbacks += p->dialback;
        out->neighbours += p->dir == TRANSPORT_OUT && !p->transient;
        out->feed += p->feed;
    }
}

int
peertab_queue_push(peer_t *p, const uint8_t *frame, size_t len)
{
    uint8_t *copy = p->queued < NODE_QUEUE_MAX ? malloc(len) : NULL;
    if (copy == NULL) {
        return -1;
    }
    memcpy(copy, frame, len);
    p->queue[p->queued] = copy;
    p->queue_len[p->queued++] = len;
    return 0;
}

void
peertab_queue_clear(peer_t *p)
{
    for (unsigned i = 0; i < p->queued; i++) {
        free(p->queue[i]);
        p->queue[i] = NULL;
    }
    p->queued = 0;
}
