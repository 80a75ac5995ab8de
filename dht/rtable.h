/* rtable: the Kademlia routing table (internal to dht/; the node uses dht.h).
 *
 * 256 k-buckets indexed by the length of the common prefix between our id
 * and the contact's id. Each bucket keeps at most k contacts ordered from
 * least recently seen (index 0) to most recently seen, and a small bounded
 * replacement cache of newcomers that found the bucket full.
 *
 * Kademlia's rule for a full bucket: the newcomer waits in the replacement
 * cache and the least recently seen contact is pinged (when it has not been
 * heard from for a while or has failed a request); if it answers it stays
 * and moves to the tail, if it fails it is evicted and the newest waiting
 * contact takes its place. A contact that fails fails_max requests in a row
 * is stale: the next newcomer replaces it at once, and a waiting
 * replacement does too.
 *
 * Per bucket at most per_subnet contacts share a network group: the same
 * IPv4 /24, the same IPv6 /64, or the same DNS name (compared without case).
 * Loopback, private and link-local addresses are exempt (grouped by their
 * whole endpoint), so nodes on one host or one LAN can still all know each
 * other; see docs/DHT-NOTES.md.
 *
 * Pure data structure: no sending, no clock of its own (time comes in). */
#ifndef SAMIZDAT_RTABLE_H
#define SAMIZDAT_RTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht.h"

enum { DHT_RT_GROUP_SIZE = 16, DHT_RT_BUCKETS = 256 };

typedef struct {
    uint8_t id[DHT_KEY_SIZE];
    dht_contact_t c;
    uint64_t last_seen_ms; /* 0: never heard from (a saved or bootstrap contact) */
    uint8_t fails;         /* failed requests in a row */
    uint8_t group[DHT_RT_GROUP_SIZE];
} dht_rt_entry_t;

typedef struct {
    unsigned k;            /* contacts per bucket, 1..DHT_NODES_MAX */
    unsigned replacements; /* replacement cache per bucket */
    int per_subnet;        /* contacts per group per bucket; < 0: no bound */
    unsigned fails_max;    /* failures in a row that make a contact stale */
    uint64_t questionable_ms;
} dht_rt_params_t;

typedef struct dht_rtable dht_rtable_t;

typedef enum {
    DHT_RT_ADDED,   /* now in the bucket */
    DHT_RT_UPDATED, /* was in the bucket; seen time (and endpoint) updated */
    DHT_RT_CACHED,  /* bucket full: waits in the replacement cache */
    DHT_RT_PING,    /* as CACHED, and the caller must ping *ping_out (the LRS) */
    DHT_RT_REFUSED, /* our own id, no usable endpoint, or the group bound */
} dht_rt_result_t;

/* DHT_OK or DHT_ENOMEM. self_id and p borrowed for the call. */
dht_err_t dht_rt_new(dht_rtable_t **out, const uint8_t self_id[static DHT_KEY_SIZE],
                     const dht_rt_params_t *p);
void dht_rt_free(dht_rtable_t *rt);

/* A contact was heard from (heard = true: it sent us a message or answered
 * one) or was offered (heard = false: bootstrap, saved table). c borrowed
 * for the call; its endpoint may be empty, which only updates a contact
 * already in the table. On DHT_RT_PING, *ping_out is a copy of the contact
 * to ping; the caller reports the outcome with dht_rt_seen (it answered) or
 * dht_rt_failed(..., true). Allocation failure gives DHT_RT_REFUSED. */
dht_rt_result_t dht_rt_seen(dht_rtable_t *rt, const uint8_t id[static DHT_KEY_SIZE],
                            const dht_contact_t *c, uint64_t now_ms, bool heard,
                            dht_rt_entry_t *ping_out);

/* A request to id failed (timeout, unreachable, garbage). ping: it was the
 * LRS ping of a full bucket, so it is evicted now. */
void dht_rt_failed(dht_rtable_t *rt, const uint8_t id[static DHT_KEY_SIZE], bool ping);

/* Copies up to n contacts closest to target, closest first, into out (n
 * entries). Skips exclude (may be NULL) and, unless no other contacts are
 * known, stale contacts. Returns how many were written. */
size_t dht_rt_closest(const dht_rtable_t *rt, const uint8_t target[static DHT_KEY_SIZE],
                      const uint8_t *exclude, dht_rt_entry_t *out, size_t n);

/* The contact with this id in the table (not the cache), or NULL. Borrowed
 * until the table next changes. */
const dht_rt_entry_t *dht_rt_find(const dht_rtable_t *rt, const uint8_t id[static DHT_KEY_SIZE]);

size_t dht_rt_count(const dht_rtable_t *rt);
size_t dht_rt_bucket_count(const dht_rtable_t *rt, unsigned bucket);
size_t dht_rt_cache_count(const dht_rtable_t *rt, unsigned bucket);
/* Entry i (0 = least recently seen) of a bucket, or NULL. */
const dht_rt_entry_t *dht_rt_entry(const dht_rtable_t *rt, unsigned bucket, size_t i);
/* Highest index of a non-empty bucket, or -1 when the table is empty. */
int dht_rt_deepest(const dht_rtable_t *rt);

/* Refresh bookkeeping: the last time a lookup into the bucket's range was
 * started or finished (0 = never). */
uint64_t dht_rt_touched(const dht_rtable_t *rt, unsigned bucket);
void dht_rt_touch(dht_rtable_t *rt, const uint8_t target[static DHT_KEY_SIZE], uint64_t now_ms);
void dht_rt_touch_bucket(dht_rtable_t *rt, unsigned bucket, uint64_t now_ms);
/* An id in bucket's range: our id with bit `bucket` flipped and the bits
 * after it taken from rnd (32 bytes). Cannot fail. */
void dht_rt_random_id(const dht_rtable_t *rt, unsigned bucket,
                      const uint8_t rnd[static DHT_KEY_SIZE], uint8_t out[static DHT_KEY_SIZE]);

/* The network group of an endpoint (see above). False when the endpoint is
 * empty or has no host. Exposed for the tests. */
bool dht_rt_group(const char *endpoint, uint8_t out[static DHT_RT_GROUP_SIZE]);

#endif
