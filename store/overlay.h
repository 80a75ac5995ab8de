/* overlay: the writes of a pending batch, readable before they are
 * written. store.c's batched ingest (store_batch_begin) reads through it
 * first, so a post in a batch sees the posts before it in the same batch.
 * Not a public interface of the store. */
#ifndef SAMIZDAT_OVERLAY_H
#define SAMIZDAT_OVERLAY_H

#include <stddef.h>
#include <stdint.h>

typedef struct overlay overlay_t;

/* 0, or -1 when out of memory. */
int ov_new(overlay_t **out);
void ov_free(overlay_t *ov);
/* Forgets every entry, keeping the memory. */
void ov_clear(overlay_t *ov);
/* Sets key to val (both copied); a later put of a key replaces it. 0, or -1
 * when out of memory (the overlay is then unchanged). */
int ov_put(overlay_t *ov, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);
/* The value of key, borrowed until the next put or clear; NULL when absent. */
const uint8_t *ov_get(const overlay_t *ov, const uint8_t *key, size_t klen, size_t *vlen);
/* Bytes held (keys and values). */
size_t ov_bytes(const overlay_t *ov);

#endif
