#include "records.h"
#include "rtable.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "dhtid.h"

/* The most providers of one key held, whatever the limits say. */
enum { DHT_KEY_PROVIDERS_CAP = 64 };

/* Records live in one open-addressing table with linear probing, keyed by
 * SipHash (crypto_shorthash) of kind || key under a random key, so peers
 * cannot aim many keys at one probe sequence. All providers of one key hash
 * alike and sit in one run, which is what GET_PROVIDERS reads. Deletion
 * shifts the run back, so there are no tombstones. The sender table works
 * the same way. Both keep the load at most one half. */

enum {
    KIND_NONE = 0,
    KIND_PROVIDER = 1,
    KIND_HEAD = 2,
    FIRST_SLOTS = 4,  /* most nodes store a handful of records */
    SAMPLE_TRIES = 8, /* random probes per wanted sample */
};

typedef struct {
    uint8_t kind;
    uint32_t hash;
    uint8_t key[DHT_KEY_SIZE];
    uint8_t sender[DHT_KEY_SIZE]; /* provider key, or who put the head */
    uint64_t stored_ms;           /* last announcement or put */
    uint64_t expires_ms;
    uint64_t first_ms; /* providers: when this provider was first stored */
    union {
        char endpoint[DHT_ENDPOINT_MAX + 1];
        struct {
            uint64_t seq;
            uint8_t bytes[DHT_HEAD_MAX];
        } head;
    } u;
} rec_t;

typedef struct {
    bool used;
    uint32_t hash;
    uint32_t count;
    uint8_t key[DHT_KEY_SIZE];
} sender_t;

struct dht_records {
    uint8_t self[DHT_KEY_SIZE];
    uint8_t hkey[crypto_shorthash_KEYBYTES];
    uint64_t rng;
    dht_rec_limits_t lim;
    size_t max_slots;
    rec_t *slots;
    size_t cap, n;
    sender_t *senders;
    size_t scap, sn;
};

static uint32_t
hash_of(const dht_records_t *r, uint8_t kind, const uint8_t key[static DHT_KEY_SIZE])
{
    uint8_t in[1 + DHT_KEY_SIZE];
    uint8_t out[crypto_shorthash_BYTES];
    in[0] = kind;
    memcpy(in + 1, key, DHT_KEY_SIZE);
    crypto_shorthash(out, in, sizeof in, r->hkey);
    return (uint32_t)out[0] | (uint32_t)out[1] << 8 | (uint32_t)out[2] << 16 |
           (uint32_t)out[3] << 24;
}

/* splitmix64: the eviction sample needs cheap randomness, seeded once. */
static uint64_t
next_rand(dht_records_t *r)
{
    uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t
pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n) {
        p *= 2;
    }
    return p;
}

dht_err_t
dht_rec_new(dht_records_t **out, const uint8_t self_id[static DHT_KEY_SIZE],
            const uint8_t seed[static DHT_KEY_SIZE], const dht_rec_limits_t *lim)
{
    dht_records_t *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return DHT_ENOMEM;
    }
    memcpy(r->self, self_id, DHT_KEY_SIZE);
    memcpy(r->hkey, seed, sizeof r->hkey);
    for (int i = 0; i < 8; i++) {
        r->rng = r->rng << 8 | seed[16 + i];
    }
    r->lim = *lim;
    if (r->lim.key_providers_max > DHT_KEY_PROVIDERS_CAP) {
        r->lim.key_providers_max = DHT_KEY_PROVIDERS_CAP;
    }
    if (r->lim.key_providers_per_group == 0) {
        r->lim.key_providers_per_group = DHT_KEY_PROVIDERS_PER_GROUP;
    }
    r->max_slots = pow2_at_least(2 * (lim->max > 0 ? lim->max : 1));
    *out = r;
    return DHT_OK;
}

void
dht_rec_free(dht_records_t *r)
{
    if (r == NULL) {
        return;
    }
    free(r->slots);
    free(r->senders);
    free(r);
}

/* ---- senders ---- */

static size_t
sender_find(const dht_records_t *r, const uint8_t key[static DHT_KEY_SIZE], uint32_t h)
{
    if (r->scap == 0) {
        return SIZE_MAX;
    }
    size_t mask = r->scap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        if (!r->senders[i].used) {
            return SIZE_MAX;
        }
        if (r->senders[i].hash == h && memcmp(r->senders[i].key, key, DHT_KEY_SIZE) == 0) {
            return i;
        }
    }
}

static void
sender_place(sender_t *tab, size_t cap, const sender_t *s)
{
    size_t mask = cap - 1;
    size_t i = s->hash & mask;
    while (tab[i].used) {
        i = (i + 1) & mask;
    }
    tab[i] = *s;
}

static bool
sender_grow(dht_records_t *r)
{
    size_t ncap = r->scap == 0 ? FIRST_SLOTS : r->scap * 2;
    sender_t *tab = calloc(ncap, sizeof *tab);
    if (tab == NULL) {
        return false;
    }
    for (size_t i = 0; i < r->scap; i++) {
        if (r->senders[i].used) {
            sender_place(tab, ncap, &r->senders[i]);
        }
    }
    free(r->senders);
    r->senders = tab;
    r->scap = ncap;
    return true;
}

size_t
dht_rec_sender_count(const dht_records_t *r, const uint8_t sender[static DHT_KEY_SIZE])
{
    size_t i = sender_find(r, sender, hash_of(r, 0, sender));
    return i == SIZE_MAX ? 0 : r->senders[i].count;
}

static bool
sender_inc(dht_records_t *r, const uint8_t key[static DHT_KEY_SIZE])
{
    uint32_t h = hash_of(r, 0, key);
    size_t i = sender_find(r, key, h);
    if (i != SIZE_MAX) {
        r->senders[i].count++;
        return true;
    }
    if (2 * (r->sn + 1) > r->scap && !sender_grow(r)) {
        return false;
    }
    sender_t s = {.used = true, .hash = h, .count = 1};
    memcpy(s.key, key, DHT_KEY_SIZE);
    sender_place(r->senders, r->scap, &s);
    r->sn++;
    return true;
}

/* Backward-shift deletion for a linear-probing table: after a hole at i,
 * the entry at j (later in the run) moves into the hole unless its home
 * slot lies cyclically in (i, j], so every entry stays reachable from its
 * home. */
static bool
stays(size_t i, size_t j, size_t home)
{
    return (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
}

static void
sender_delete(dht_records_t *r, size_t at)
{
    size_t mask = r->scap - 1, i = at, j = at;
    for (;;) {
        j = (j + 1) & mask;
        if (!r->senders[j].used) {
            break;
        }
        if (!stays(i, j, r->senders[j].hash & mask)) {
            r->senders[i] = r->senders[j];
            i = j;
        }
    }
    memset(&r->senders[i], 0, sizeof r->senders[i]);
    r->sn--;
}

static void
sender_dec(dht_records_t *r, const uint8_t key[static DHT_KEY_SIZE])
{
    size_t i = sender_find(r, key, hash_of(r, 0, key));
    if (i == SIZE_MAX) {
        return;
    }
    if (--r->senders[i].count == 0) {
        sender_delete(r, i);
    }
}

/* ---- records ---- */

static void
slot_place(rec_t *tab, size_t cap, const rec_t *rec)
{
    size_t mask = cap - 1;
    size_t i = rec->hash & mask;
    while (tab[i].kind != KIND_NONE) {
        i = (i + 1) & mask;
    }
    tab[i] = *rec;
}

static bool
slots_grow(dht_records_t *r)
{
    size_t ncap = r->cap == 0 ? FIRST_SLOTS : r->cap * 2;
    rec_t *tab = calloc(ncap, sizeof *tab);
    if (tab == NULL) {
        return false;
    }
    for (size_t i = 0; i < r->cap; i++) {
        if (r->slots[i].kind != KIND_NONE) {
            slot_place(tab, ncap, &r->slots[i]);
        }
    }
    free(r->slots);
    r->slots = tab;
    r->cap = ncap;
    return true;
}

static void
slot_delete(dht_records_t *r, size_t at)
{
    sender_dec(r, r->slots[at].sender);
    size_t mask = r->cap - 1, i = at, j = at;
    for (;;) {
        j = (j + 1) & mask;
        if (r->slots[j].kind == KIND_NONE) {
            break;
        }
        if (!stays(i, j, r->slots[j].hash & mask)) {
            r->slots[i] = r->slots[j];
            i = j;
        }
    }
    memset(&r->slots[i], 0, sizeof r->slots[i]);
    r->n--;
}

/* Makes room for a record under key when the store is full: evicts the
 * farthest of a random sample if it is farther from us than key. */
static bool
evict_for(dht_records_t *r, const uint8_t key[static DHT_KEY_SIZE])
{
    size_t victim = SIZE_MAX;
    size_t seen = 0;
    for (size_t t = 0; t < r->lim.evict_sample * SAMPLE_TRIES && seen < r->lim.evict_sample; t++) {
        size_t i = (size_t)(next_rand(r) & (r->cap - 1));
        if (r->slots[i].kind == KIND_NONE) {
            continue;
        }
        seen++;
        if (victim == SIZE_MAX ||
            dhtid_closer(r->self, r->slots[i].key, r->slots[victim].key) > 0) {
            victim = i;
        }
    }
    if (victim == SIZE_MAX || dhtid_closer(r->self, r->slots[victim].key, key) <= 0) {
        return false;
    }
    slot_delete(r, victim);
    return true;
}

/* Adds a new record (its hash set), charging its sender. */
static dht_err_t
insert_new(dht_records_t *r, const rec_t *rec)
{
    if (dht_rec_sender_count(r, rec->sender) >= r->lim.sender_max) {
        return DHT_EFULL;
    }
    if (r->n >= r->lim.max && !evict_for(r, rec->key)) {
        return DHT_EFULL;
    }
    if (2 * (r->n + 1) > r->cap) {
        if (r->cap >= r->max_slots || !slots_grow(r)) {
            return r->cap >= r->max_slots ? DHT_EFULL : DHT_ENOMEM;
        }
    }
    if (!sender_inc(r, rec->sender)) {
        return DHT_ENOMEM;
    }
    slot_place(r->slots, r->cap, rec);
    r->n++;
    return DHT_OK;
}

/* Moves the charge of record at i to sender, within sender's share. */
static dht_err_t
recharge(dht_records_t *r, size_t i, const uint8_t sender[static DHT_KEY_SIZE])
{
    if (memcmp(r->slots[i].sender, sender, DHT_KEY_SIZE) == 0) {
        return DHT_OK;
    }
    if (dht_rec_sender_count(r, sender) >= r->lim.sender_max) {
        return DHT_EFULL;
    }
    if (!sender_inc(r, sender)) {
        return DHT_ENOMEM;
    }
    sender_dec(r, r->slots[i].sender);
    memcpy(r->slots[i].sender, sender, DHT_KEY_SIZE);
    return DHT_OK;
}

static bool
same_record(const rec_t *s, uint8_t kind, uint32_t h, const uint8_t key[static DHT_KEY_SIZE])
{
    return s->kind == kind && s->hash == h && memcmp(s->key, key, DHT_KEY_SIZE) == 0;
}

/* The providers of one key, for the group bounds. */
typedef struct {
    size_t slot[DHT_KEY_PROVIDERS_CAP];
    uint8_t group[DHT_KEY_PROVIDERS_CAP][DHT_RT_GROUP_SIZE];
    bool grouped[DHT_KEY_PROVIDERS_CAP];
    size_t n;
} key_list_t;

static bool
same_group(const key_list_t *l, size_t a, const uint8_t g[DHT_RT_GROUP_SIZE], bool grouped)
{
    return grouped && l->grouped[a] && memcmp(l->group[a], g, DHT_RT_GROUP_SIZE) == 0;
}

/* Of the entries in the group of entry `like` (or of group g), the one
 * renewed longest ago, and how many there are. */
static size_t
group_oldest(const dht_records_t *r, const key_list_t *l, const uint8_t g[DHT_RT_GROUP_SIZE],
             bool grouped, size_t *count)
{
    size_t oldest = SIZE_MAX;
    *count = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (!same_group(l, i, g, grouped)) {
            continue;
        }
        (*count)++;
        if (oldest == SIZE_MAX || r->slots[l->slot[i]].stored_ms < r->slots[oldest].stored_ms) {
            oldest = l->slot[i];
        }
    }
    return oldest;
}

static dht_err_t
replace_provider(dht_records_t *r, size_t slot, const dht_contact_t *provider, uint64_t now_ms,
                 uint64_t expires_ms)
{
    dht_err_t err = recharge(r, slot, provider->key);
    if (err != DHT_OK) {
        return err;
    }
    rec_t *s = &r->slots[slot];
    memcpy(s->u.endpoint, provider->endpoint, sizeof s->u.endpoint);
    s->stored_ms = now_ms;
    s->first_ms = now_ms;
    s->expires_ms = expires_ms;
    return DHT_OK;
}

static size_t
oldest_of(const dht_records_t *r, const key_list_t *l)
{
    size_t oldest = l->slot[0];
    for (size_t i = 1; i < l->n; i++) {
        if (r->slots[l->slot[i]].stored_ms < r->slots[oldest].stored_ms) {
            oldest = l->slot[i];
        }
    }
    return oldest;
}

/* Of the entries in group g, the one that came last, and how many there
 * are. */
static size_t
group_newest(const dht_records_t *r, const key_list_t *l, const uint8_t g[DHT_RT_GROUP_SIZE],
             bool grouped, size_t *count)
{
    size_t newest = SIZE_MAX;
    *count = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (!same_group(l, i, g, grouped)) {
            continue;
        }
        (*count)++;
        if (newest == SIZE_MAX || r->slots[l->slot[i]].first_ms > r->slots[newest].first_ms) {
            newest = l->slot[i];
        }
    }
    return newest;
}

/* On a full list: the provider that came last in the group with the most
 * providers (between groups of one size, the one that came last). So
 * long-standing providers, the author's own node among them, stay, and
 * newcomers from many groups only take each other's places. */
static size_t
full_victim(const dht_records_t *r, const key_list_t *l)
{
    size_t best = SIZE_MAX, best_count = 0;
    for (size_t i = 0; i < l->n; i++) {
        size_t count = 0;
        size_t newest = group_newest(r, l, l->group[i], l->grouped[i], &count);
        if (!l->grouped[i]) {
            newest = l->slot[i];
            count = 1;
        }
        if (best == SIZE_MAX || count > best_count ||
            (count == best_count && r->slots[newest].first_ms > r->slots[best].first_ms)) {
            best = newest;
            best_count = count;
        }
    }
    return best;
}

dht_err_t
dht_rec_add_provider(dht_records_t *r, const uint8_t key[static DHT_KEY_SIZE],
                     const dht_contact_t *provider, uint64_t now_ms, uint64_t expires_ms)
{
    uint32_t h = hash_of(r, KIND_PROVIDER, key);
    key_list_t l;
    l.n = 0;
    if (r->cap > 0) {
        size_t mask = r->cap - 1;
        for (size_t i = h & mask; r->slots[i].kind != KIND_NONE; i = (i + 1) & mask) {
            rec_t *s = &r->slots[i];
            if (!same_record(s, KIND_PROVIDER, h, key)) {
                continue;
            }
            if (memcmp(s->sender, provider->key, DHT_KEY_SIZE) == 0) {
                /* A renewal: the provider may have moved. */
                memcpy(s->u.endpoint, provider->endpoint, sizeof s->u.endpoint);
                s->stored_ms = now_ms;
                s->expires_ms = expires_ms;
                return DHT_OK;
            }
            if (l.n < DHT_KEY_PROVIDERS_CAP) {
                l.slot[l.n] = i;
                l.grouped[l.n] = dht_rt_group(s->u.endpoint, l.group[l.n]);
                l.n++;
            }
        }
    }
    uint8_t g[DHT_RT_GROUP_SIZE];
    bool grouped = dht_rt_group(provider->endpoint, g);
    size_t in_group = 0;
    size_t oldest_in_group = group_oldest(r, &l, g, grouped, &in_group);
    if (grouped && in_group >= r->lim.key_providers_per_group && oldest_in_group != SIZE_MAX) {
        return replace_provider(r, oldest_in_group, provider, now_ms, expires_ms);
    }
    if (l.n >= r->lim.key_providers_max && l.n > 0) {
        /* Without a group bound (a share as large as the list), plain
         * Kademlia: the one renewed longest ago, whatever its group. */
        size_t victim = r->lim.key_providers_per_group >= r->lim.key_providers_max
                            ? oldest_of(r, &l)
                            : full_victim(r, &l);
        return replace_provider(r, victim, provider, now_ms, expires_ms);
    }
    rec_t rec;
    memset(&rec, 0, sizeof rec);
    rec.kind = KIND_PROVIDER;
    rec.hash = h;
    memcpy(rec.key, key, DHT_KEY_SIZE);
    memcpy(rec.sender, provider->key, DHT_KEY_SIZE);
    rec.stored_ms = now_ms;
    rec.first_ms = now_ms;
    rec.expires_ms = expires_ms;
    memcpy(rec.u.endpoint, provider->endpoint, sizeof rec.u.endpoint);
    return insert_new(r, &rec);
}

static size_t
head_find(const dht_records_t *r, const uint8_t key[static DHT_KEY_SIZE], uint32_t h)
{
    if (r->cap == 0) {
        return SIZE_MAX;
    }
    size_t mask = r->cap - 1;
    for (size_t i = h & mask; r->slots[i].kind != KIND_NONE; i = (i + 1) & mask) {
        if (same_record(&r->slots[i], KIND_HEAD, h, key)) {
            return i;
        }
    }
    return SIZE_MAX;
}

dht_err_t
dht_rec_put_head(dht_records_t *r, const uint8_t key[static DHT_KEY_SIZE],
                 const uint8_t sender[static DHT_KEY_SIZE],
                 const uint8_t bytes[static DHT_HEAD_MAX], uint64_t seq, uint64_t now_ms,
                 uint64_t expires_ms)
{
    uint32_t h = hash_of(r, KIND_HEAD, key);
    size_t i = head_find(r, key, h);
    if (i != SIZE_MAX) {
        rec_t *s = &r->slots[i];
        bool live = s->expires_ms > now_ms;
        if (live && seq < s->u.head.seq) {
            return DHT_ESTALE;
        }
        if (live && seq == s->u.head.seq) {
            /* The same head again renews it; another head with the same
             * seq is a fork or a replay and never replaces the first. */
            if (memcmp(s->u.head.bytes, bytes, DHT_HEAD_MAX) != 0) {
                return DHT_ESTALE;
            }
            s->stored_ms = now_ms;
            s->expires_ms = expires_ms;
            return DHT_OK;
        }
        dht_err_t err = recharge(r, i, sender);
        if (err != DHT_OK) {
            return err;
        }
        s->u.head.seq = seq;
        memcpy(s->u.head.bytes, bytes, DHT_HEAD_MAX);
        s->stored_ms = now_ms;
        s->expires_ms = expires_ms;
        return DHT_OK;
    }
    rec_t rec;
    memset(&rec, 0, sizeof rec);
    rec.kind = KIND_HEAD;
    rec.hash = h;
    memcpy(rec.key, key, DHT_KEY_SIZE);
    memcpy(rec.sender, sender, DHT_KEY_SIZE);
    rec.stored_ms = now_ms;
    rec.expires_ms = expires_ms;
    rec.u.head.seq = seq;
    memcpy(rec.u.head.bytes, bytes, DHT_HEAD_MAX);
    return insert_new(r, &rec);
}

size_t
dht_rec_providers(const dht_records_t *r, const uint8_t key[static DHT_KEY_SIZE], uint64_t now_ms,
                  dht_contact_t *out, size_t cap)
{
    if (cap > DHT_PROVIDERS_MAX) {
        cap = DHT_PROVIDERS_MAX;
    }
    if (r->cap == 0 || cap == 0) {
        return 0;
    }
    /* Every live provider, the longest-standing first (a provider that
     * keeps renewing is alive; one that came last may be one of many an
     * attacker just made), then the latest renewal. */
    const rec_t *all[DHT_KEY_PROVIDERS_CAP];
    size_t n = 0;
    uint32_t h = hash_of(r, KIND_PROVIDER, key);
    size_t mask = r->cap - 1;
    for (size_t i = h & mask; r->slots[i].kind != KIND_NONE; i = (i + 1) & mask) {
        const rec_t *s = &r->slots[i];
        if (!same_record(s, KIND_PROVIDER, h, key) || s->expires_ms <= now_ms ||
            n == DHT_KEY_PROVIDERS_CAP) {
            continue;
        }
        size_t at = n++;
        while (at > 0 &&
               (all[at - 1]->first_ms > s->first_ms ||
                (all[at - 1]->first_ms == s->first_ms && all[at - 1]->stored_ms < s->stored_ms))) {
            all[at] = all[at - 1];
            at--;
        }
        all[at] = s;
    }
    /* A mix of groups: the first of each group first, then the second of
     * each, and so on, so one group cannot fill an answer. */
    uint8_t groups[DHT_KEY_PROVIDERS_CAP][DHT_RT_GROUP_SIZE];
    bool grouped[DHT_KEY_PROVIDERS_CAP], taken[DHT_KEY_PROVIDERS_CAP];
    for (size_t i = 0; i < n; i++) {
        grouped[i] = dht_rt_group(all[i]->u.endpoint, groups[i]);
        taken[i] = false;
    }
    size_t count = 0;
    while (count < cap && count < n) {
        bool seen_any = false;
        for (size_t i = 0; i < n && count < cap; i++) {
            bool first_of_group = !taken[i];
            for (size_t j = 0; first_of_group && j < i; j++) {
                /* an earlier, untaken provider of the same group goes first */
                if (!taken[j] && grouped[i] && grouped[j] &&
                    memcmp(groups[i], groups[j], DHT_RT_GROUP_SIZE) == 0) {
                    first_of_group = false;
                }
            }
            if (!first_of_group) {
                continue;
            }
            memcpy(out[count].key, all[i]->sender, DHT_KEY_SIZE);
            memcpy(out[count].endpoint, all[i]->u.endpoint, sizeof out[count].endpoint);
            count++;
            seen_any = true;
        }
        for (size_t i = 0; i < n; i++) {
            for (size_t k = 0; k < count; k++) {
                if (memcmp(out[k].key, all[i]->sender, DHT_KEY_SIZE) == 0) {
                    taken[i] = true;
                }
            }
        }
        if (!seen_any) {
            break;
        }
    }
    return count;
}

bool
dht_rec_head(const dht_records_t *r, const uint8_t key[static DHT_KEY_SIZE], uint64_t now_ms,
             uint8_t out[static DHT_HEAD_MAX], uint64_t *seq)
{
    size_t i = head_find(r, key, hash_of(r, KIND_HEAD, key));
    if (i == SIZE_MAX || r->slots[i].expires_ms <= now_ms) {
        return false;
    }
    memcpy(out, r->slots[i].u.head.bytes, DHT_HEAD_MAX);
    if (seq != NULL) {
        *seq = r->slots[i].u.head.seq;
    }
    return true;
}

void
dht_rec_expire(dht_records_t *r, uint64_t now_ms)
{
    /* A deletion may shift a later entry into slot i, so i is looked at
     * again before moving on; an entry shifted from the start of the
     * table to its end is merely looked at twice. */
    size_t i = 0;
    while (i < r->cap) {
        if (r->slots[i].kind != KIND_NONE && r->slots[i].expires_ms <= now_ms) {
            slot_delete(r, i);
        } else {
            i++;
        }
    }
}

size_t
dht_rec_count(const dht_records_t *r)
{
    return r->n;
}

size_t
dht_rec_bytes(const dht_records_t *r)
{
    return sizeof *r + r->cap * sizeof(rec_t) + r->scap * sizeof(sender_t);
}
