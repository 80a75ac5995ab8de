/* ownmark: the highest seq this author key has signed on this computer,
 * kept in a small file beside the store (docs/INTERNALS.md section 1.5),
 * written and fsynced before each own post is signed.
 *
 * LevelDB may come back from a crash without the newest writes (a damaged
 * write-ahead log is cut short without a word), and a person may restore
 * an old copy of the data directory. The store's own feed then ends below
 * what the network already holds, and signing "the next number" would sign
 * a second post with a number already used: a fork that breaks the feed
 * for good. The mark survives what the store loses, so the node can see
 * that it is behind and catch up before it signs again. */
#ifndef SAMIZDAT_OWNMARK_H
#define SAMIZDAT_OWNMARK_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define OWNMARK_FILE "own.seq"

typedef enum {
    OWNMARK_OK = 0,
    OWNMARK_EINVAL,   /* bad arguments, or a path too long */
    OWNMARK_EDAMAGED, /* the file is there and is not a mark */
    OWNMARK_EIO,      /* reading or writing failed; errno kept in detail */
} ownmark_err_t;

const char *ownmark_strerror(ownmark_err_t err);

/* The mark for author in directory dir: *seq = 0 when there is no file,
 * or when it is the mark of another author key (a key replaced by
 * `init --force`: its numbers say nothing of this one). */
ownmark_err_t ownmark_read(const char *dir, const uint8_t author[static KEYS_PUBLIC_SIZE],
                           uint64_t *seq);

/* Sets the mark to seq: writes a new file beside the old, fsyncs it,
 * renames it over and fsyncs the directory, so after a crash the file is
 * either the old mark or the new one, whole. */
ownmark_err_t ownmark_write(const char *dir, const uint8_t author[static KEYS_PUBLIC_SIZE],
                            uint64_t seq);

#endif
