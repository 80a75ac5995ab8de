/* dhtid: DHT node ids and XOR distance (Kademlia).
 *
 * A node id is BLAKE2b-256 of DHTID_TAG followed by the node's X25519 public
 * key, so nobody picks their own id, and the id of a key is the same
 * everywhere. The key under which an author's records are stored is
 * BLAKE2b-256 of DHTID_AUTHOR_TAG followed by the author key. */
#ifndef SAMIZDAT_DHTID_H
#define SAMIZDAT_DHTID_H

#include <stdint.h>

#include "keys.h"

#define DHTID_TAG "samizdat-node-id-v1"
#define DHTID_AUTHOR_TAG "samizdat-author-key-v1"

enum { DHTID_SIZE = 32, DHTID_BITS = 256 };

/* Cannot fail. */
void dhtid_from_node_key(uint8_t out[static DHTID_SIZE],
                         const uint8_t node_pk[static KEYS_PUBLIC_SIZE]);
void dhtid_from_author(uint8_t out[static DHTID_SIZE],
                       const uint8_t author_pk[static KEYS_PUBLIC_SIZE]);
void dhtid_distance(uint8_t out[static DHTID_SIZE], const uint8_t a[static DHTID_SIZE],
                    const uint8_t b[static DHTID_SIZE]);
/* -1, 0 or 1 as a is closer to target than b, as close, or farther. */
int dhtid_closer(const uint8_t target[static DHTID_SIZE], const uint8_t a[static DHTID_SIZE],
                 const uint8_t b[static DHTID_SIZE]);
/* Length of the common prefix of a and b in bits (256 when equal): the
 * k-bucket index of b in a's routing table is 255 - prefix for b != a. */
int dhtid_common_prefix(const uint8_t a[static DHTID_SIZE], const uint8_t b[static DHTID_SIZE]);

#endif
