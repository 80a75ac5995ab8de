/* fakestore: an in-memory store with the ingest rules of store/store.c
 * (docs/INTERNALS.md section 1), for the gossip unit tests and the simulator.
 * No LevelDB, no files: thousands fit in one process.
 *
 * It trusts its caller as the real store_ingest_decoded does: a post handed
 * to fakestore_ingest was decoded (and verified) from exactly those bytes. */
#ifndef SAMIZDAT_FAKESTORE_H
#define SAMIZDAT_FAKESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip.h"
#include "keys.h"
#include "post.h"

typedef struct fakestore fakestore_t;

/* self: our own author key (copied). NULL on ENOMEM. Free with
 * fakestore_free, which accepts NULL. */
fakestore_t *fakestore_new(const uint8_t self[static 32]);
void fakestore_free(fakestore_t *s);

void fakestore_follow(fakestore_t *s, const uint8_t author[static 32]);
void fakestore_unfollow(fakestore_t *s, const uint8_t author[static 32]);
/* Blocks: drops the author's posts and follow, refuses later ones. */
void fakestore_block(fakestore_t *s, const uint8_t author[static 32]);
/* Unblocks: the author's posts are taken again (those dropped stay gone). */
void fakestore_unblock(fakestore_t *s, const uint8_t author[static 32]);

/* The gossip store callbacks, on s. */
int fakestore_head(fakestore_t *s, const uint8_t author[static 32], uint64_t *seq,
                   uint8_t id[static POST_ID_SIZE], uint64_t *max_seq);
bool fakestore_has(const fakestore_t *s, const uint8_t id[static POST_ID_SIZE]);
int fakestore_ingest(fakestore_t *s, const post_t *p, const uint8_t *raw, size_t len,
                     uint64_t now_ms, gossip_ingest_t *result);
bool fakestore_is_blocked(const fakestore_t *s, const uint8_t author[static 32]);
bool fakestore_replicates(const fakestore_t *s, const uint8_t author[static 32]);
void fakestore_subscriptions(const fakestore_t *s, gossip_author_cb cb, void *cbud);
int fakestore_read_range(fakestore_t *s, const uint8_t author[static 32], uint64_t from_seq,
                         size_t max_count, size_t max_bytes, gossip_post_cb cb, void *cbud);

/* Fork evidence kept (posts stored but not in a feed). */
size_t fakestore_evidence(const fakestore_t *s);
/* Posts stored, evidence included. */
size_t fakestore_posts(const fakestore_t *s);

/* Signs a post by k (kind POST, the given seq and prev (NULL = zeros),
 * timestamp and body) into out (POST_MAX_SIZE bytes); sets *len and, if id
 * is not NULL, the post id. Aborts on failure: test helper. */
void fakestore_sign(const keys_author_t *k, uint64_t seq, const uint8_t *prev, uint64_t ts_ms,
                    const char *body, uint8_t *out, size_t *len, uint8_t *id);

/* Publishes our next post (seq = our highest + 1) with body: signs it with
 * k, stores it, and writes the bytes to out (POST_MAX_SIZE) and *len. */
void fakestore_publish(fakestore_t *s, const keys_author_t *k, uint64_t ts_ms, const char *body,
                       uint8_t *out, size_t *len);

#endif
