#include "overlay.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t hash; /* 0: a free slot (hashes are made non-zero) */
    uint32_t off;  /* of the key in the arena; the value follows it */
    uint16_t klen;
    uint16_t vlen;
} slot_t;

struct overlay {
    slot_t *slots;
    size_t cap; /* a power of two */
    size_t used;
    uint8_t *arena;
    size_t arena_len, arena_cap;
};

enum { FIRST_CAP = 1024 };

static uint32_t
hash_key(const uint8_t *k, size_t n)
{
    /* FNV-1a: the keys are written by the store itself, not chosen by a
     * stranger to collide (an author picks only part of a key). */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ k[i]) * 16777619u;
    }
    return h == 0 ? 1 : h;
}

int
ov_new(overlay_t **out)
{
    overlay_t *ov = calloc(1, sizeof *ov);
    if (ov == NULL || (ov->slots = calloc(FIRST_CAP, sizeof *ov->slots)) == NULL) {
        free(ov);
        *out = NULL;
        return -1;
    }
    ov->cap = FIRST_CAP;
    *out = ov;
    return 0;
}

void
ov_free(overlay_t *ov)
{
    if (ov != NULL) {
        free(ov->slots);
        free(ov->arena);
        free(ov);
    }
}

void
ov_clear(overlay_t *ov)
{
    memset(ov->slots, 0, ov->cap * sizeof *ov->slots);
    ov->used = 0;
    ov->arena_len = 0;
}

static slot_t *
find(const overlay_t *ov, const uint8_t *key, size_t klen, uint32_t h)
{
    for (size_t i = h & (ov->cap - 1);; i = (i + 1) & (ov->cap - 1)) {
        slot_t *s = &ov->slots[i];
        if (s->hash == 0 ||
            (s->hash == h && s->klen == klen && memcmp(ov->arena + s->off, key, klen) == 0)) {
            return s;
        }
    }
}

static int
grow_table(overlay_t *ov)
{
    size_t cap = ov->cap * 2;
    slot_t *old = ov->slots, *slots = calloc(cap, sizeof *slots);
    if (slots == NULL) {
        return -1;
    }
    size_t old_cap = ov->cap;
    ov->slots = slots;
    ov->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].hash != 0) {
            *find(ov, ov->arena + old[i].off, old[i].klen, old[i].hash) = old[i];
        }
    }
    free(old);
    return 0;
}

static int
reserve(overlay_t *ov, size_t n)
{
    if (ov->arena_len + n <= ov->arena_cap) {
        return 0;
    }
    size_t cap = ov->arena_cap ? ov->arena_cap : 64 * 1024;
    while (cap < ov->arena_len + n) {
        cap *= 2;
    }
    if (cap > UINT32_MAX) {
        return -1;
    }
    uint8_t *a = realloc(ov->arena, cap);
    if (a == NULL) {
        return -1;
    }
    ov->arena = a;
    ov->arena_cap = cap;
    return 0;
}

int
ov_put(overlay_t *ov, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    if (klen > UINT16_MAX || vlen > UINT16_MAX) {
        return -1;
    }
    if (2 * (ov->used + 1) > ov->cap && grow_table(ov) != 0) {
        return -1;
    }
    if (reserve(ov, klen + vlen) != 0) {
        return -1;
    }
    uint32_t h = hash_key(key, klen);
    slot_t *s = find(ov, key, klen, h);
    if (s->hash == 0) {
        ov->used++;
    }
    /* A replaced value's old bytes stay in the arena until the clear. */
    s->hash = h;
    s->off = (uint32_t)ov->arena_len;
    s->klen = (uint16_t)klen;
    s->vlen = (uint16_t)vlen;
    memcpy(ov->arena + ov->arena_len, key, klen);
    memcpy(ov->arena + ov->arena_len + klen, val, vlen);
    ov->arena_len += klen + vlen;
    return 0;
}

const uint8_t *
ov_get(const overlay_t *ov, const uint8_t *key, size_t klen, size_t *vlen)
{
    if (ov->used == 0) {
        return NULL;
    }
    slot_t *s = find(ov, key, klen, hash_key(key, klen));
    if (s->hash == 0) {
        return NULL;
    }
    *vlen = s->vlen;
    return ov->arena + s->off + s->klen;
}

size_t
ov_bytes(const overlay_t *ov)
{
    return ov->arena_len;
}
