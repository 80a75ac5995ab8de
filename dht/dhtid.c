#include "dhtid.h"

#include <sodium.h>
#include <string.h>

static void
tagged_hash(uint8_t out[static DHTID_SIZE], const char *tag,
            const uint8_t key[static KEYS_PUBLIC_SIZE])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, DHTID_SIZE);
    crypto_generichash_update(&st, (const uint8_t *)tag, strlen(tag));
    crypto_generichash_update(&st, key, KEYS_PUBLIC_SIZE);
    crypto_generichash_final(&st, out, DHTID_SIZE);
}

void
dhtid_from_node_key(uint8_t out[static DHTID_SIZE], const uint8_t node_pk[static KEYS_PUBLIC_SIZE])
{
    tagged_hash(out, DHTID_TAG, node_pk);
}

void
dhtid_from_author(uint8_t out[static DHTID_SIZE], const uint8_t author_pk[static KEYS_PUBLIC_SIZE])
{
    tagged_hash(out, DHTID_AUTHOR_TAG, author_pk);
}

void
dhtid_distance(uint8_t out[static DHTID_SIZE], const uint8_t a[static DHTID_SIZE],
               const uint8_t b[static DHTID_SIZE])
{
    for (int i = 0; i < DHTID_SIZE; i++) {
        out[i] = a[i] ^ b[i];
    }
}

int
dhtid_closer(const uint8_t target[static DHTID_SIZE], const uint8_t a[static DHTID_SIZE],
             const uint8_t b[static DHTID_SIZE])
{
    for (int i = 0; i < DHTID_SIZE; i++) {
        uint8_t da = a[i] ^ target[i];
        uint8_t db = b[i] ^ target[i];
        if (da != db) {
            return da < db ? -1 : 1;
        }
    }
    return 0;
}

int
dhtid_common_prefix(const uint8_t a[static DHTID_SIZE], const uint8_t b[static DHTID_SIZE])
{
    for (int i = 0; i < DHTID_SIZE; i++) {
        uint8_t x = a[i] ^ b[i];
        if (x != 0) {
            int bits = 0;
            while ((x & 0x80) == 0) {
                x = (uint8_t)(x << 1);
                bits++;
            }
            return i * 8 + bits;
        }
    }
    return DHTID_BITS;
}
