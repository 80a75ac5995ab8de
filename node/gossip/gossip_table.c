/* The small data structures of gossip: growable buffers, token buckets and
 * the seen-cache. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "gossip_int.h"

bool
gossip_buf_reserve(gbuf_t *b, size_t n)
{
    if (n <= b->cap) {
        return true;
    }
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < n) {
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) {
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void
gossip_buf_free(gbuf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->cap = 0;
}

/* ---- token buckets ---- */

void
gossip_bucket_init(bucket_t *b, uint32_t burst, uint64_t now_ms)
{
    b->milli = (uint64_t)burst * 1000;
    b->last_ms = now_ms;
}

/* rate tokens per second is rate thousandths per millisecond. A clock that
 * goes backwards refills nothing rather than wrapping. */
static void
refill(bucket_t *b, uint32_t rate, uint32_t burst, uint64_t now_ms)
{
    if (now_ms > b->last_ms) {
        uint64_t add = (now_ms - b->last_ms) * rate;
        uint64_t cap = (uint64_t)burst * 1000;
        b->milli = (cap - b->milli < add) ? cap : b->milli + add;
        b->last_ms = now_ms;
    }
}

uint32_t
gossip_bucket_avail(bucket_t *b, uint32_t rate, uint32_t burst, uint64_t now_ms)
{
    refill(b, rate, burst, now_ms);
    return (uint32_t)(b->milli / 1000);
}

bool
gossip_bucket_take(bucket_t *b, uint32_t rate, uint32_t burst, uint32_t n, uint64_t now_ms)
{
    refill(b, rate, burst, now_ms);
    uint64_t need = (uint64_t)n * 1000;
    if (b->milli < need) {
        return false;
    }
    b->milli -= need;
    return true;
}

/* ---- seen-cache ---- */

static uint64_t
seen_hash(const seen_t *s, const uint8_t id[static POST_ID_SIZE])
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, id, POST_ID_SIZE, s->key);
    uint64_t v = 0;
    memcpy(&v, h, sizeof v);
    return v;
}

/* Linear probing; the table is never more than half full, so a probe ends. */
static seen_slot_t *
half_find(const seen_half_t *h, const uint8_t id[static POST_ID_SIZE], uint64_t hash)
{
    if (h->n_slots == 0) {
        return NULL;
    }
    size_t mask = h->n_slots - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        seen_slot_t *slot = &h->slots[i];
        if (slot->state == 0 || memcmp(slot->id, id, POST_ID_SIZE) == 0) {
            return slot;
        }
    }
}

static bool
half_grow(const seen_t *s, seen_half_t *h)
{
    size_t n = h->n_slots ? h->n_slots * 2 : SEEN_SLOTS_MIN;
    seen_slot_t *slots = calloc(n, sizeof *slots);
    if (slots == NULL) {
        return false;
    }
    seen_half_t bigger = {.slots = slots, .n_slots = n, .count = 0, .started_ms = h->started_ms};
    for (size_t i = 0; i < h->n_slots; i++) {
        if (h->slots[i].state != 0) {
            seen_slot_t *to = half_find(&bigger, h->slots[i].id, seen_hash(s, h->slots[i].id));
            *to = h->slots[i];
            bigger.count++;
        }
    }
    free(h->slots);
    *h = bigger;
    return true;
}

int
gossip_seen_get(const seen_t *s, const uint8_t id[static POST_ID_SIZE])
{
    uint64_t hash = seen_hash(s, id);
    for (int i = 0; i < 2; i++) {
        const seen_slot_t *slot = half_find(&s->half[i], id, hash);
        if (slot != NULL && slot->state != 0) {
            return slot->state;
        }
    }
    return 0;
}

/* Drops the older half and starts a new one in its place. Its memory is
 * kept (cleared), since it will fill again. */
static void
rotate(seen_t *s, uint64_t now_ms)
{
    int old = 1 - s->cur;
    seen_half_t *h = &s->half[old];
    if (h->slots != NULL) {
        memset(h->slots, 0, h->n_slots * sizeof *h->slots);
    }
    h->count = 0;
    h->started_ms = now_ms;
    s->cur = old;
}

bool
gossip_seen_put(seen_t *s, const uint8_t id[static POST_ID_SIZE], int state, uint64_t now_ms)
{
    seen_half_t *cur = &s->half[s->cur];
    if (cur->count >= SEEN_GEN_MAX || now_ms >= cur->started_ms + GOSSIP_SEEN_TTL_MS / 2) {
        rotate(s, now_ms);
        cur = &s->half[s->cur];
    }
    if ((cur->count + 1) * 2 > cur->n_slots && !half_grow(s, cur)) {
        return false;
    }
    uint64_t hash = seen_hash(s, id);
    seen_slot_t *slot = half_find(cur, id, hash);
    if (slot->state == 0) {
        memcpy(slot->id, id, POST_ID_SIZE);
        cur->count++;
    }
    slot->state = (uint8_t)state;
    return true;
}

void
gossip_seen_free(seen_t *s)
{
    for (int i = 0; i < 2; i++) {
        free(s->half[i].slots);
        s->half[i].slots = NULL;
        s->half[i].n_slots = 0;
        s->half[i].count = 0;
    }
}
