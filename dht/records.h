/* records: what one node stores for others (internal to dht/).
 *
 * Two kinds of record, both under an author record key
 * (dhtid_from_author): PROVIDER (a node that replicates the author's feed:
 * its node key and endpoint) and HEAD (the author's signed head record).
 *
 * Bounds, all named in dhtproto.h and overridable per node:
 * - at most max records in all; a record is a fixed-size slot, so the
 *   bytes held are bounded too (dht_rec_bytes);
 * - at most sender_max records charged to one sender (the provider itself
 *   for a provider record, the node that put it for a head);
 * - at most key_providers_max providers for one key, and of them at most
 *   key_providers_per_group from one network group (rtable.h: an IPv4 /24,
 *   an IPv6 /64, a name); a new provider from a group at its share
 *   replaces that group's provider renewed longest ago, never another
 *   group's, so one host announcing many keys cannot push the others out;
 *   on a full list a newcomer replaces the provider renewed longest ago in
 *   the group with the most;
 * - when the store is full, a new record replaces the record farthest from
 *   our own id among evict_sample picked at random, if that one is farther
 *   from us than the new record's key; otherwise the new record is refused.
 *   A node is responsible for the keys near its id, so those stay.
 * Records expire (the expiry is given with each); expired records are never
 * returned and are dropped by dht_rec_expire.
 *
 * The caller verifies a head's signature before dht_rec_put_head. */
#ifndef SAMIZDAT_RECORDS_H
#define SAMIZDAT_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht.h"

typedef struct {
    size_t max;
    size_t sender_max;
    size_t key_providers_max;
    size_t key_providers_per_group;
    size_t evict_sample;
} dht_rec_limits_t;

typedef struct dht_records dht_records_t;

/* self_id, seed (keys the hash table and the eviction sampling) and lim
 * borrowed for the call. DHT_OK or DHT_ENOMEM. */
dht_err_t dht_rec_new(dht_records_t **out, const uint8_t self_id[static DHT_KEY_SIZE],
                      const uint8_t seed[static DHT_KEY_SIZE], const dht_rec_limits_t *lim);
void dht_rec_free(dht_records_t *r);

/* Stores or renews "provider is a provider for key" until expires_ms. The
 * sender is the provider. DHT_OK, DHT_EFULL (store or sender share full),
 * DHT_ENOMEM. Arguments borrowed for the call. */
dht_err_t dht_rec_add_provider(dht_records_t *r, const uint8_t key[static DHT_KEY_SIZE],
                               const dht_contact_t *provider, uint64_t now_ms, uint64_t expires_ms);

/* Stores a verified head for key, charged to sender. A stored head with a
 * higher seq, or the same seq and other bytes, wins: DHT_ESTALE. The same
 * bytes again renew the expiry. DHT_OK, DHT_ESTALE, DHT_EFULL, DHT_ENOMEM. */
dht_err_t dht_rec_put_head(dht_records_t *r, const uint8_t key[static DHT_KEY_SIZE],
                           const uint8_t sender[static DHT_KEY_SIZE],
                           const uint8_t bytes[static DHT_HEAD_MAX], uint64_t seq, uint64_t now_ms,
                           uint64_t expires_ms);

/* Copies up to cap live providers of key into out, most recently
 * announced first. Returns how many. */
size_t dht_rec_providers(const dht_records_t *r, const uint8_t key[static DHT_KEY_SIZE],
                         uint64_t now_ms, dht_contact_t *out, size_t cap);

/* Copies the live head of key into out (DHT_HEAD_MAX bytes). False when
 * there is none. seq may be NULL. */
bool dht_rec_head(const dht_records_t *r, const uint8_t key[static DHT_KEY_SIZE], uint64_t now_ms,
                  uint8_t out[static DHT_HEAD_MAX], uint64_t *seq);

/* Drops every record expired at now_ms. */
void dht_rec_expire(dht_records_t *r, uint64_t now_ms);

size_t dht_rec_count(const dht_records_t *r);
/* Bytes the store holds: its slot table and sender table. */
size_t dht_rec_bytes(const dht_records_t *r);
/* Records charged to sender. */
size_t dht_rec_sender_count(const dht_records_t *r, const uint8_t sender[static DHT_KEY_SIZE]);

#endif
