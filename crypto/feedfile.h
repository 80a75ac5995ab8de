/* feedfile: the feed-file format (docs/PROTOCOL.md section 5), which
 * carries posts between computers on a USB stick or by mail:
 *
 *     8       magic "SZFEED" 0x00 0x01 (the last byte is the format version)
 *     then, until the end of the file:
 *     u16     length of one encoded post, POST_MIN_SIZE..POST_MAX_SIZE
 *     length  the encoded post (crypto/post.h)
 *
 * A feed file comes from strangers, so the reader trusts nothing in it: a
 * length is a claim, checked against the allowed range before any byte of
 * the post is taken, and never used to size memory. The reader is fed the
 * file in chunks of any size (so an import can run in slices on an event
 * loop) and holds at most one record. It checks the framing only; the
 * caller verifies each post (store_ingest does).
 *
 * Byte offsets count from 0 at the first byte of the file, as a hex dump
 * shows them. */
#ifndef SAMIZDAT_FEEDFILE_H
#define SAMIZDAT_FEEDFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "post.h"

enum {
    FEEDFILE_MAGIC_SIZE = 8,
    FEEDFILE_VERSION = 1,
    FEEDFILE_LENGTH_SIZE = 2,
    FEEDFILE_RECORD_MIN = FEEDFILE_LENGTH_SIZE + POST_MIN_SIZE,
    FEEDFILE_RECORD_MAX = FEEDFILE_LENGTH_SIZE + POST_MAX_SIZE,
};

/* "SZFEED" 0x00 FEEDFILE_VERSION. */
extern const uint8_t FEEDFILE_MAGIC[FEEDFILE_MAGIC_SIZE];

typedef enum {
    FEEDFILE_OK = 0,
    FEEDFILE_EMAGIC,        /* the file does not start with "SZFEED" 0x00 */
    FEEDFILE_EVERSION,      /* the magic is right but the format version is not 1 */
    FEEDFILE_ETRUNC_MAGIC,  /* the file ends inside the 8-byte magic (or is empty) */
    FEEDFILE_ETRUNC_LENGTH, /* the file ends inside a record's 2-byte length */
    FEEDFILE_ELENGTH,       /* a length outside POST_MIN_SIZE..POST_MAX_SIZE */
    FEEDFILE_ETRUNC_POST,   /* the file ends before the length's bytes of post */
    FEEDFILE_EBUFSZ,        /* writer: the output buffer is too small */
    FEEDFILE_EIO,           /* writer: the FILE refused the bytes (errno says why) */
    FEEDFILE_ENOMEM,        /* reader: out of memory */
} feedfile_err_t;

/* A short English name of err ("bad magic", "record length out of range"). */
const char *feedfile_strerror(feedfile_err_t err);

/* ---- writing ----
 *
 * A writer puts the magic first, then one record per post. Where the bytes
 * go (a temporary file renamed at the end, a socket, memory) is the
 * caller's business. */

/* Writes the magic into out. Cannot fail. */
void feedfile_header(uint8_t out[static FEEDFILE_MAGIC_SIZE]);

/* Writes the record for the encoded post post[0..len) into out (cap
 * bytes; FEEDFILE_RECORD_MAX always suffices) and its size into *out_len.
 * FEEDFILE_ELENGTH when len is outside POST_MIN_SIZE..POST_MAX_SIZE,
 * FEEDFILE_EBUFSZ when cap is too small; out is then unchanged. The post
 * is not decoded: the caller writes posts it has verified. post borrowed
 * for the call. */
feedfile_err_t feedfile_record(uint8_t *out, size_t cap, const uint8_t *post, size_t len,
                               size_t *out_len);

/* The same, written to f with fwrite. FEEDFILE_EIO when f takes fewer bytes
 * (errno as fwrite left it); some bytes may then have been written, so the
 * caller discards the file. f borrowed for the call. */
feedfile_err_t feedfile_write_header(FILE *f);
feedfile_err_t feedfile_write_record(FILE *f, const uint8_t *post, size_t len);

/* ---- reading ---- */

typedef struct feedfile_reader feedfile_reader_t;

/* One record, as the reader yields it. */
typedef struct {
    const uint8_t *post; /* borrowed until the next call on the reader, or its free */
    size_t len;          /* POST_MIN_SIZE..POST_MAX_SIZE */
    uint64_t number;     /* 1 for the first record of the file */
    uint64_t offset;     /* offset of the record's length field */
} feedfile_record_t;

/* Where and why a file stopped making sense. */
typedef struct {
    feedfile_err_t err;
    uint64_t offset; /* EMAGIC: 0; EVERSION: 7; ETRUNC_MAGIC: 0; the others:
                        the offset of the record's length field */
    uint64_t number; /* the record at fault, 1 for the first; 0 for the magic */
    size_t length;   /* ELENGTH, ETRUNC_POST: the length the record claims */
    size_t present;  /* ETRUNC_*: the bytes of the magic, length or post present */
} feedfile_problem_t;

/* A reader at the start of a file. FEEDFILE_ENOMEM, *out NULL, on failure.
 * Free with feedfile_reader_free (accepts NULL). */
feedfile_err_t feedfile_reader_new(feedfile_reader_t **out);
void feedfile_reader_free(feedfile_reader_t *r);

/* Takes bytes of the file from p[0..n), the bytes that follow the ones
 * given before, and stops after the first record it completes.
 *
 *   FEEDFILE_OK, *got true:  *rec holds that record; *used says how many of
 *                            the n bytes were taken: call again with the rest.
 *   FEEDFILE_OK, *got false: all n bytes were taken (*used == n) and no
 *                            record is complete yet: give more bytes, or call
 *                            feedfile_reader_finish at the end of the file.
 *   an error:                the file is malformed; *used is the bytes taken
 *                            up to and including the fault, and the error
 *                            is sticky: every later call returns it (taking
 *                            nothing). feedfile_reader_problem says where.
 *
 * Records before a fault are good framing; the caller decides whether to
 * keep them (import keeps them). p borrowed for the call; n may be 0. */
feedfile_err_t feedfile_reader_push(feedfile_reader_t *r, const uint8_t *p, size_t n, size_t *used,
                                    feedfile_record_t *rec, bool *got);

/* The file has ended. FEEDFILE_OK when it ended cleanly after the magic and
 * between records (a file of the magic alone holds no records and is fine),
 * otherwise the truncation (sticky, as a push error) or the earlier error. */
feedfile_err_t feedfile_reader_finish(feedfile_reader_t *r);

/* Details of the error the reader stopped on (err FEEDFILE_OK if none). */
void feedfile_reader_problem(const feedfile_reader_t *r, feedfile_problem_t *out);
/* Bytes of the file taken so far. */
uint64_t feedfile_reader_offset(const feedfile_reader_t *r);

/* One line of English for p, e.g. "record 3 at byte 2056 claims 40 bytes, outside
 * 148..1237", into out (cap bytes, always NUL-terminated when cap > 0).
 * Returns what snprintf returns: the length of the whole text. */
int feedfile_problem_describe(char *out, size_t cap, const feedfile_problem_t *p);

#endif
