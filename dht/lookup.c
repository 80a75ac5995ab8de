#include "lookup.h"

#include <stdlib.h>
#include <string.h>

#include "dhtid.h"

dht_err_t
dht_sl_init(dht_shortlist_t *s, const uint8_t target[static DHT_KEY_SIZE],
            const uint8_t self[static DHT_KEY_SIZE], unsigned k, unsigned queries_max,
            unsigned new_max, int per_group)
{
    memset(s, 0, sizeof *s);
    s->per_group = per_group;
    memcpy(s->target, target, DHT_KEY_SIZE);
    memcpy(s->self, self, DHT_KEY_SIZE);
    s->k = k;
    s->queries_max = queries_max;
    s->new_max = new_max;
    /* More than queries_max, so a full list always holds a NEW candidate
     * to give up for a closer one. */
    s->cap = 3 * (size_t)k + queries_max;
    s->c = calloc(s->cap, sizeof *s->c);
    return s->c == NULL ? DHT_ENOMEM : DHT_OK;
}

void
dht_sl_free(dht_shortlist_t *s)
{
    free(s->c);
    s->c = NULL;
    s->n = 0;
    s->cap = 0;
}

dht_cand_t *
dht_sl_find(dht_shortlist_t *s, const uint8_t id[static DHT_KEY_SIZE])
{
    for (size_t i = 0; i < s->n; i++) {
        if (memcmp(s->c[i].id, id, DHT_KEY_SIZE) == 0) {
            return &s->c[i];
        }
    }
    return NULL;
}

static void
remove_at(dht_shortlist_t *s, size_t i)
{
    memmove(&s->c[i], &s->c[i + 1], (s->n - i - 1) * sizeof *s->c);
    s->n--;
}

/* Makes room for a newcomer of group g: true when the group is under its
 * share, or its farthest NEW candidate is farther than id and was removed. */
static bool
group_room(dht_shortlist_t *s, const uint8_t id[static DHT_KEY_SIZE],
           const uint8_t g[static DHT_RT_GROUP_SIZE])
{
    int same = 0;
    size_t farthest_new = s->n;
    for (size_t i = 0; i < s->n; i++) {
        const dht_cand_t *e = &s->c[i];
        if (e->state == DHT_CAND_FAILED || !e->grouped ||
            memcmp(e->group, g, DHT_RT_GROUP_SIZE) != 0) {
            continue;
        }
        same++;
        if (e->state == DHT_CAND_NEW) {
            farthest_new = i; /* the list is sorted: the last one seen is the farthest */
        }
    }
    if (same < s->per_group) {
        return true;
    }
    if (farthest_new == s->n || dhtid_closer(s->target, id, s->c[farthest_new].id) >= 0) {
        return false;
    }
    remove_at(s, farthest_new);
    return true;
}

bool
dht_sl_add(dht_shortlist_t *s, const uint8_t id[static DHT_KEY_SIZE], const dht_contact_t *c,
           uint8_t depth)
{
    if (memcmp(id, s->self, DHT_KEY_SIZE) == 0 || dht_sl_find(s, id) != NULL) {
        return false;
    }
    uint8_t g[DHT_RT_GROUP_SIZE];
    bool grouped = s->per_group >= 0 && dht_rt_group(c->endpoint, g);
    if (grouped && !group_room(s, id, g)) {
        return false;
    }
    if (s->n == s->cap) {
        size_t last_new = s->n;
        for (size_t i = s->n; i > 0; i--) {
            if (s->c[i - 1].state == DHT_CAND_NEW) {
                last_new = i - 1;
                break;
            }
        }
        if (last_new == s->n || dhtid_closer(s->target, id, s->c[last_new].id) >= 0) {
            return false;
        }
        remove_at(s, last_new);
    }
    size_t at = s->n;
    while (at > 0 && dhtid_closer(s->target, id, s->c[at - 1].id) < 0) {
        at--;
    }
    memmove(&s->c[at + 1], &s->c[at], (s->n - at) * sizeof *s->c);
    dht_cand_t *e = &s->c[at];
    memset(e, 0, sizeof *e);
    memcpy(e->id, id, DHT_KEY_SIZE);
    e->c = *c;
    e->state = DHT_CAND_NEW;
    e->depth = depth;
    e->grouped = grouped;
    if (grouped) {
        memcpy(e->group, g, DHT_RT_GROUP_SIZE);
    }
    s->n++;
    return true;
}

size_t
dht_sl_add_answer(dht_shortlist_t *s, const dht_contact_t *cs, size_t n, uint8_t depth)
{
    uint8_t ids[DHT_NODES_MAX][DHT_KEY_SIZE];
    size_t order[DHT_NODES_MAX];
    if (n > DHT_NODES_MAX) {
        n = DHT_NODES_MAX;
    }
    /* Closest first, so the cap keeps the useful ones. */
    for (size_t i = 0; i < n; i++) {
        dhtid_from_node_key(ids[i], cs[i].key);
        size_t at = i;
        while (at > 0 && dhtid_closer(s->target, ids[i], ids[order[at - 1]]) < 0) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = i;
    }
    size_t added = 0;
    for (size_t i = 0; i < n && added < s->new_max; i++) {
        if (dht_sl_add(s, ids[order[i]], &cs[order[i]], depth)) {
            added++;
        }
    }
    return added;
}

static bool
in_window(uint8_t state)
{
    return state != DHT_CAND_FAILED && state != DHT_CAND_SUSPECT;
}

int
dht_sl_next_beyond(const dht_shortlist_t *s, unsigned spare)
{
    if (s->queries >= s->queries_max) {
        return -1;
    }
    unsigned live = 0;
    for (size_t i = 0; i < s->n && live < s->k + spare; i++) {
        if (!in_window(s->c[i].state)) {
            continue;
        }
        if (s->c[i].state == DHT_CAND_NEW) {
            return (int)i;
        }
        live++;
    }
    return -1;
}

int
dht_sl_next(const dht_shortlist_t *s)
{
    return dht_sl_next_beyond(s, 0);
}

bool
dht_sl_done(const dht_shortlist_t *s)
{
    bool budget = s->queries < s->queries_max;
    bool answered = false;
    unsigned live = 0;
    for (size_t i = 0; i < s->n && live < s->k; i++) {
        uint8_t st = s->c[i].state;
        if (st == DHT_CAND_SUSPECT && (answered ? s->c[i].awaited : s->c[i].fresh) > 0) {
            /* Its last send may still be answered. One closer than every
             * answer may be the closest node: sent again, and waited for
             * while a send is fresh. One behind an answer (most often a
             * node gone offline) is not sent again, and waited for only
             * until its give-up time. */
            return false;
        }
        answered = answered || st == DHT_CAND_ANSWERED;
        if (!in_window(st)) {
            continue;
        }
        if (st == DHT_CAND_INFLIGHT || (st == DHT_CAND_NEW && budget)) {
            return false;
        }
        live++;
    }
    return true;
}

bool
dht_sl_settled(const dht_shortlist_t *s, unsigned n)
{
    unsigned seen = 0;
    for (size_t i = 0; i < s->n && seen < n; i++) {
        uint8_t st = s->c[i].state;
        if (!in_window(st)) {
            continue;
        }
        if (st != DHT_CAND_ANSWERED) {
            return false;
        }
        seen++;
    }
    return seen > 0;
}

bool
dht_sl_behind_answer(const dht_shortlist_t *s, const dht_cand_t *c)
{
    for (size_t i = 0; i < s->n && &s->c[i] != c; i++) {
        if (s->c[i].state == DHT_CAND_ANSWERED) {
            return true;
        }
    }
    return false;
}
