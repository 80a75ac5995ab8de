/* app_files: the feed-file codec the app uses for export and import.
 *
 * Feed file format (docs/PROTOCOL.md, "Feed files"): the 8 bytes
 * "SZFEED" 0x00 0x01, then records of a u16 big-endian length followed by
 * that many bytes of one encoded post, until the end of the file.
 *
 * Kept behind these few functions so that crypto/feedfile.c (being written
 * separately, with its own fuzz target) can replace them at merge. */
#ifndef SAMIZDAT_APP_FILES_H
#define SAMIZDAT_APP_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { APP_FEEDFILE_MAGIC_SIZE = 8 };

/* Reads and checks the magic. False when the file is not a feed file. */
bool app_feedfile_read_magic(FILE *f);

typedef enum {
    APP_FEEDFILE_RECORD = 1, /* one record in buf (cap POST_MAX_SIZE), *len bytes */
    APP_FEEDFILE_END = 0,    /* a clean end of file */
    APP_FEEDFILE_BAD = -1,   /* malformed: *why says how (a static string) */
} app_feedfile_next_t;

/* Reads the next record. buf must hold POST_MAX_SIZE bytes. A record whose
 * length is outside POST_MIN_SIZE..POST_MAX_SIZE is malformed: the length is
 * a claim, not a fact. */
app_feedfile_next_t app_feedfile_next(FILE *f, uint8_t *buf, size_t *len, const char **why);

/* Writers; false on a write error (errno says which). */
bool app_feedfile_write_magic(FILE *f);
bool app_feedfile_write_record(FILE *f, const uint8_t *raw, size_t len);

#endif
