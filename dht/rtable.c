#include "rtable.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "dhtid.h"

/* Group kinds: the first byte of a group. */
enum {
    GROUP_IPV4 = 4,
    GROUP_IPV6 = 6,
    GROUP_NAME = 'n',
    GROUP_LOCAL = 'l', /* loopback, private, link-local: grouped by the whole endpoint */
    HOST_MAX = DHT_ENDPOINT_MAX,
    FIRST_CAP = 4, /* entries a new bucket starts with; grows to k */
};

typedef struct {
    uint8_t n;   /* entries in e, least recently seen first */
    uint8_t cap; /* allocated entries in e */
    uint8_t nr;  /* entries in r, oldest first */
    bool pinging;
    uint8_t ping_id[DHT_KEY_SIZE];
    dht_rt_entry_t *e;
    dht_rt_entry_t *r; /* params.replacements entries, allocated on first use */
} bucket_t;

struct dht_rtable {
    uint8_t self[DHT_KEY_SIZE];
    dht_rt_params_t p;
    size_t count;
    bucket_t *b[DHT_RT_BUCKETS];
    uint64_t touched[DHT_RT_BUCKETS];
};

dht_err_t
dht_rt_new(dht_rtable_t **out, const uint8_t self_id[static DHT_KEY_SIZE], const dht_rt_params_t *p)
{
    dht_rtable_t *rt = calloc(1, sizeof *rt);
    if (rt == NULL) {
        return DHT_ENOMEM;
    }
    memcpy(rt->self, self_id, DHT_KEY_SIZE);
    rt->p = *p;
    *out = rt;
    return DHT_OK;
}

void
dht_rt_free(dht_rtable_t *rt)
{
    if (rt == NULL) {
        return;
    }
    for (int i = 0; i < DHT_RT_BUCKETS; i++) {
        if (rt->b[i] != NULL) {
            free(rt->b[i]->e);
            free(rt->b[i]->r);
            free(rt->b[i]);
        }
    }
    free(rt);
}

/* ---- network groups ----
 *
 * node/ parses endpoints in one place (node/net/addr.c), but dht/ may
 * not include the network layer: the DHT and its simulator run without
 * it. So the routing table keeps this one rule of its own: which
 * contacts count as one network (an IPv4 /24, an IPv6 /64, a name; a
 * loopback, private or link-local address only as itself). It reads
 * nothing but the host of an endpoint the node has already checked. */

/* The host part of "scheme://host:port", "[v6]:port" or "host:port". */
static bool
host_of(const char *ep, char host[static HOST_MAX + 1])
{
    const char *s = strstr(ep, "://");
    s = (s == NULL) ? ep : s + 3;
    size_t n = strnlen(s, HOST_MAX + 1);
    if (n > HOST_MAX) {
        return false;
    }
    const char *start = s;
    size_t len = n;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL) {
            return false;
        }
        start = s + 1;
        len = (size_t)(close - start);
    } else {
        const char *colon = NULL;
        for (size_t i = 0; i < n; i++) {
            if (s[i] == ':') {
                colon = s + i;
            }
        }
        if (colon != NULL) {
            len = (size_t)(colon - s);
        }
    }
    if (len == 0) {
        return false;
    }
    memcpy(host, start, len);
    host[len] = '\0';
    return true;
}

static bool
ipv4_local(const uint8_t a[static 4])
{
    return a[0] == 127 || a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
           (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254);
}

static void
group_hash(uint8_t out[static DHT_RT_GROUP_SIZE], uint8_t kind, const char *text, size_t n)
{
    uint8_t h[16];
    crypto_generichash(h, sizeof h, (const uint8_t *)text, n, NULL, 0);
    out[0] = kind;
    memcpy(out + 1, h, DHT_RT_GROUP_SIZE - 1);
}

static void
group_ipv4(uint8_t out[static DHT_RT_GROUP_SIZE], const uint8_t a[static 4], const char *ep)
{
    if (ipv4_local(a)) {
        group_hash(out, GROUP_LOCAL, ep, strlen(ep));
        return;
    }
    memset(out, 0, DHT_RT_GROUP_SIZE);
    out[0] = GROUP_IPV4;
    memcpy(out + 1, a, 3); /* the /24 */
}

bool
dht_rt_group(const char *endpoint, uint8_t out[static DHT_RT_GROUP_SIZE])
{
    char host[HOST_MAX + 1];
    if (endpoint == NULL || endpoint[0] == '\0' || !host_of(endpoint, host)) {
        return false;
    }
    uint8_t a[16];
    if (inet_pton(AF_INET, host, a) == 1) {
        group_ipv4(out, a, endpoint);
        return true;
    }
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        static const uint8_t loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        if (memcmp(a, mapped, sizeof mapped) == 0) {
            /* An IPv4 address written as IPv6 is the same host. */
            group_ipv4(out, a + 12, endpoint);
        } else if (memcmp(a, loopback, 16) == 0 || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||
                   (a[0] & 0xfe) == 0xfc) {
            group_hash(out, GROUP_LOCAL, endpoint, strlen(endpoint));
        } else {
            memset(out, 0, DHT_RT_GROUP_SIZE);
            out[0] = GROUP_IPV6;
            memcpy(out + 1, a, 8); /* the /64 */
        }
        return true;
    }
    /* A name: DNS compares names without case. */
    size_t n = strlen(host);
    for (size_t i = 0; i < n; i++) {
        if (host[i] >= 'A' && host[i] <= 'Z') {
            host[i] = (char)(host[i] - 'A' + 'a');
        }
    }
    if (strcmp(host, "localhost") == 0) {
        group_hash(out, GROUP_LOCAL, endpoint, strlen(endpoint));
    } else {
        group_hash(out, GROUP_NAME, host, n);
    }
    return true;
}

/* ---- buckets ---- */

static unsigned
bucket_of(const dht_rtable_t *rt, const uint8_t id[static DHT_KEY_SIZE])
{
    return (unsigned)dhtid_common_prefix(rt->self, id);
}

static int
find_in(const dht_rt_entry_t *e, size_t n, const uint8_t id[static DHT_KEY_SIZE])
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(e[i].id, id, DHT_KEY_SIZE) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static void
remove_at(dht_rt_entry_t *e, uint8_t *n, size_t i)
{
    memmove(&e[i], &e[i + 1], (size_t)(*n - i - 1) * sizeof *e);
    (*n)--;
}

/* True when one more contact of group g fits in the bucket; skip is an
 * index not to count (the contact being updated), or -1. */
static bool
group_ok(const dht_rtable_t *rt, const bucket_t *bk, const uint8_t g[static DHT_RT_GROUP_SIZE],
         int skip)
{
    if (rt->p.per_subnet < 0 || bk == NULL) {
        return true;
    }
    int same = 0;
    for (int i = 0; i < bk->n; i++) {
        if (i != skip && memcmp(bk->e[i].group, g, DHT_RT_GROUP_SIZE) == 0) {
            same++;
        }
    }
    return same < rt->p.per_subnet;
}

static bool
append(dht_rtable_t *rt, bucket_t *bk, const dht_rt_entry_t *ent)
{
    if (bk->n == bk->cap) {
        unsigned cap = bk->cap == 0 ? FIRST_CAP : bk->cap * 2u;
        if (cap > rt->p.k) {
            cap = rt->p.k;
        }
        dht_rt_entry_t *e = realloc(bk->e, cap * sizeof *e);
        if (e == NULL) {
            return false;
        }
        bk->e = e;
        bk->cap = (uint8_t)cap;
    }
    bk->e[bk->n++] = *ent;
    rt->count++;
    return true;
}

static void
cache_push(const dht_rtable_t *rt, bucket_t *bk, const dht_rt_entry_t *ent)
{
    if (rt->p.replacements == 0) {
        return;
    }
    if (bk->r == NULL) {
        bk->r = calloc(rt->p.replacements, sizeof *bk->r);
        if (bk->r == NULL) {
            return;
        }
    }
    if (bk->nr == rt->p.replacements) {
        remove_at(bk->r, &bk->nr, 0); /* the oldest waiting contact goes */
    }
    bk->r[bk->nr++] = *ent;
}

/* Moves the newest waiting contact that fits the group bound into the
 * bucket. */
static void
promote(dht_rtable_t *rt, bucket_t *bk)
{
    for (int i = (int)bk->nr - 1; i >= 0 && bk->n < rt->p.k; i--) {
        if (group_ok(rt, bk, bk->r[i].group, -1)) {
            dht_rt_entry_t ent = bk->r[i];
            remove_at(bk->r, &bk->nr, (size_t)i);
            (void)append(rt, bk, &ent); /* cannot fail: the bucket had this entry */
            return;
        }
    }
}

static bucket_t *
bucket_get(dht_rtable_t *rt, unsigned i)
{
    if (rt->b[i] == NULL) {
        rt->b[i] = calloc(1, sizeof *rt->b[i]);
    }
    return rt->b[i];
}

static bool
questionable(const dht_rtable_t *rt, const dht_rt_entry_t *e, uint64_t now_ms)
{
    return e->fails > 0 || e->last_seen_ms == 0 ||
           now_ms - e->last_seen_ms >= rt->p.questionable_ms;
}

/* The contact is in the bucket at pos: note it was seen and move it to the
 * most recently seen end. */
static void
touch_entry(dht_rtable_t *rt, bucket_t *bk, int pos, const dht_contact_t *c, uint64_t now_ms)
{
    dht_rt_entry_t ent = bk->e[pos];
    ent.last_seen_ms = now_ms;
    ent.fails = 0;
    uint8_t g[DHT_RT_GROUP_SIZE];
    /* The sender is authenticated, so its own word on where it listens
     * wins, within the group bound. */
    if (c->endpoint[0] != '\0' && strcmp(ent.c.endpoint, c->endpoint) != 0 &&
        dht_rt_group(c->endpoint, g) && group_ok(rt, bk, g, pos)) {
        memcpy(ent.c.endpoint, c->endpoint, sizeof ent.c.endpoint);
        memcpy(ent.group, g, sizeof g);
    }
    remove_at(bk->e, &bk->n, (size_t)pos);
    bk->e[bk->n++] = ent;
    if (bk->pinging && memcmp(bk->ping_id, ent.id, DHT_KEY_SIZE) == 0) {
        bk->pinging = false;
    }
}

dht_rt_result_t
dht_rt_seen(dht_rtable_t *rt, const uint8_t id[static DHT_KEY_SIZE], const dht_contact_t *c,
            uint64_t now_ms, bool heard, dht_rt_entry_t *ping_out)
{
    if (memcmp(id, rt->self, DHT_KEY_SIZE) == 0) {
        return DHT_RT_REFUSED;
    }
    unsigned i = bucket_of(rt, id);
    bucket_t *bk = rt->b[i];
    int pos = bk == NULL ? -1 : find_in(bk->e, bk->n, id);
    if (pos >= 0) {
        if (heard) {
            touch_entry(rt, bk, pos, c, now_ms);
        }
        return DHT_RT_UPDATED;
    }
    dht_rt_entry_t ent;
    memset(&ent, 0, sizeof ent);
    if (!dht_rt_group(c->endpoint, ent.group)) {
        return DHT_RT_REFUSED;
    }
    if (!group_ok(rt, bk, ent.group, -1)) {
        return DHT_RT_REFUSED;
    }
    bk = bucket_get(rt, i);
    if (bk == NULL) {
        return DHT_RT_REFUSED;
    }
    memcpy(ent.id, id, DHT_KEY_SIZE);
    ent.c = *c;
    ent.last_seen_ms = heard ? now_ms : 0;
    int rpos = find_in(bk->r, bk->nr, id);
    if (rpos >= 0) {
        remove_at(bk->r, &bk->nr, (size_t)rpos);
    }
    if (bk->n < rt->p.k) {
        return append(rt, bk, &ent) ? DHT_RT_ADDED : DHT_RT_REFUSED;
    }
    for (int s = 0; s < bk->n; s++) {
        if (bk->e[s].fails >= rt->p.fails_max) {
            remove_at(bk->e, &bk->n, (size_t)s);
            rt->count--;
            (void)append(rt, bk, &ent); /* room was just made */
            return DHT_RT_ADDED;
        }
    }
    cache_push(rt, bk, &ent);
    if (!bk->pinging && questionable(rt, &bk->e[0], now_ms)) {
        bk->pinging = true;
        memcpy(bk->ping_id, bk->e[0].id, DHT_KEY_SIZE);
        *ping_out = bk->e[0];
        return DHT_RT_PING;
    }
    return DHT_RT_CACHED;
}

void
dht_rt_failed(dht_rtable_t *rt, const uint8_t id[static DHT_KEY_SIZE], bool ping)
{
    if (memcmp(id, rt->self, DHT_KEY_SIZE) == 0) {
        return;
    }
    bucket_t *bk = rt->b[bucket_of(rt, id)];
    if (bk == NULL) {
        return;
    }
    int pos = find_in(bk->e, bk->n, id);
    if (pos < 0) {
        int rpos = find_in(bk->r, bk->nr, id);
        if (rpos >= 0) {
            remove_at(bk->r, &bk->nr, (size_t)rpos); /* a waiting contact that fails is no use */
        }
        return;
    }
    dht_rt_entry_t *e = &bk->e[pos];
    if (e->fails < UINT8_MAX) {
        e->fails++;
    }
    bool was_pinged = bk->pinging && memcmp(bk->ping_id, id, DHT_KEY_SIZE) == 0;
    if (was_pinged) {
        bk->pinging = false;
    }
    /* Without a replacement a stale contact stays until a newcomer needs
     * its slot: when our own link is down every request fails, and an
     * emptied table could not recover. */
    if ((ping && was_pinged) || (e->fails >= rt->p.fails_max && bk->nr > 0)) {
        remove_at(bk->e, &bk->n, (size_t)pos);
        rt->count--;
        promote(rt, bk);
    }
}

/* ---- queries ---- */

/* Inserts e into out (sorted by distance to target, *n of cap used),
 * keeping the cap closest. */
static void
insert_sorted(dht_rt_entry_t *out, size_t *n, size_t cap, const uint8_t target[static DHT_KEY_SIZE],
              const dht_rt_entry_t *e)
{
    if (*n == cap && dhtid_closer(target, e->id, out[*n - 1].id) >= 0) {
        return;
    }
    size_t at = *n < cap ? *n : cap - 1;
    while (at > 0 && dhtid_closer(target, e->id, out[at - 1].id) < 0) {
        out[at] = out[at - 1];
        at--;
    }
    out[at] = *e;
    if (*n < cap) {
        (*n)++;
    }
}

static void
gather(const dht_rtable_t *rt, unsigned bucket, const uint8_t target[static DHT_KEY_SIZE],
       const uint8_t *exclude, bool stale, dht_rt_entry_t *out, size_t *n, size_t cap)
{
    const bucket_t *bk = rt->b[bucket];
    if (bk == NULL) {
        return;
    }
    for (int i = 0; i < bk->n; i++) {
        const dht_rt_entry_t *e = &bk->e[i];
        if ((e->fails >= rt->p.fails_max) != stale) {
            continue;
        }
        if (exclude != NULL && memcmp(e->id, exclude, DHT_KEY_SIZE) == 0) {
            continue;
        }
        insert_sorted(out, n, cap, target, e);
    }
}

/* Buckets in order of distance to target. With j the bucket target falls
 * in, every contact of bucket j is closer to target than any other; then
 * come buckets j+1..255, whose distances all have their top bit at j, then
 * bucket j-1, j-2, ... 0, each farther than the one before. So the scan can
 * stop at a stage boundary once it holds n contacts. */
static size_t
closest_pass(const dht_rtable_t *rt, const uint8_t target[static DHT_KEY_SIZE],
             const uint8_t *exclude, bool stale, dht_rt_entry_t *out, size_t cap)
{
    size_t n = 0;
    int j = dhtid_common_prefix(rt->self, target);
    if (j < DHT_RT_BUCKETS) {
        gather(rt, (unsigned)j, target, exclude, stale, out, &n, cap);
        /* One stage: a deeper bucket can hold contacts closer than a
         * shallower one, so once begun all of them are looked at. */
        bool stage = n < cap;
        for (int i = j + 1; i < DHT_RT_BUCKETS && stage; i++) {
            gather(rt, (unsigned)i, target, exclude, stale, out, &n, cap);
        }
    }
    int from = j < DHT_RT_BUCKETS ? j - 1 : DHT_RT_BUCKETS - 1;
    for (int i = from; i >= 0 && n < cap; i--) {
        gather(rt, (unsigned)i, target, exclude, stale, out, &n, cap);
    }
    return n;
}

size_t
dht_rt_closest(const dht_rtable_t *rt, const uint8_t target[static DHT_KEY_SIZE],
               const uint8_t *exclude, dht_rt_entry_t *out, size_t n)
{
    if (n == 0) {
        return 0;
    }
    size_t got = closest_pass(rt, target, exclude, false, out, n);
    if (got == 0) {
        got = closest_pass(rt, target, exclude, true, out, n);
    }
    return got;
}

const dht_rt_entry_t *
dht_rt_find(const dht_rtable_t *rt, const uint8_t id[static DHT_KEY_SIZE])
{
    if (memcmp(id, rt->self, DHT_KEY_SIZE) == 0) {
        return NULL;
    }
    const bucket_t *bk = rt->b[bucket_of(rt, id)];
    if (bk == NULL) {
        return NULL;
    }
    int pos = find_in(bk->e, bk->n, id);
    return pos < 0 ? NULL : &bk->e[pos];
}

size_t
dht_rt_count(const dht_rtable_t *rt)
{
    return rt->count;
}

size_t
dht_rt_bucket_count(const dht_rtable_t *rt, unsigned bucket)
{
    return bucket < DHT_RT_BUCKETS && rt->b[bucket] != NULL ? rt->b[bucket]->n : 0;
}

size_t
dht_rt_cache_count(const dht_rtable_t *rt, unsigned bucket)
{
    return bucket < DHT_RT_BUCKETS && rt->b[bucket] != NULL ? rt->b[bucket]->nr : 0;
}

const dht_rt_entry_t *
dht_rt_entry(const dht_rtable_t *rt, unsigned bucket, size_t i)
{
    if (bucket >= DHT_RT_BUCKETS || rt->b[bucket] == NULL || i >= rt->b[bucket]->n) {
        return NULL;
    }
    return &rt->b[bucket]->e[i];
}

int
dht_rt_deepest(const dht_rtable_t *rt)
{
    for (int i = DHT_RT_BUCKETS - 1; i >= 0; i--) {
        if (rt->b[i] != NULL && rt->b[i]->n > 0) {
            return i;
        }
    }
    return -1;
}

uint64_t
dht_rt_touched(const dht_rtable_t *rt, unsigned bucket)
{
    return bucket < DHT_RT_BUCKETS ? rt->touched[bucket] : 0;
}

void
dht_rt_touch(dht_rtable_t *rt, const uint8_t target[static DHT_KEY_SIZE], uint64_t now_ms)
{
    unsigned i = bucket_of(rt, target);
    if (i < DHT_RT_BUCKETS) {
        rt->touched[i] = now_ms;
    }
}

void
dht_rt_touch_bucket(dht_rtable_t *rt, unsigned bucket, uint64_t now_ms)
{
    if (bucket < DHT_RT_BUCKETS) {
        rt->touched[bucket] = now_ms;
    }
}

void
dht_rt_random_id(const dht_rtable_t *rt, unsigned bucket, const uint8_t rnd[static DHT_KEY_SIZE],
                 uint8_t out[static DHT_KEY_SIZE])
{
    memcpy(out, rt->self, DHT_KEY_SIZE);
    if (bucket >= DHT_RT_BUCKETS) {
        return;
    }
    unsigned byte = bucket / 8, bit = bucket % 8;
    uint8_t flip = (uint8_t)(0x80u >> bit);
    uint8_t keep = (uint8_t)(0xffu << (7 - bit)); /* bits before and at `bit` */
    out[byte] = (uint8_t)(((rt->self[byte] ^ flip) & keep) | (rnd[byte] & (uint8_t)~keep));
    for (unsigned b = byte + 1; b < DHT_KEY_SIZE; b++) {
        out[b] = rnd[b];
    }
}
