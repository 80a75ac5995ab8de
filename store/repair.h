/* repair: brings a damaged store back (docs/INTERNALS.md section 1.4).
 * LevelDB's own repair first (it rebuilds MANIFEST and CURRENT from the
 * table and log files, and drops what does not read back); then every
 * post is checked again, decoded, verified and re-ingested into a new
 * database, which rebuilds every index (feeds, heads, timeline, profiles,
 * deletes, forks) by the ingest rules; follows, blocks and peers are
 * copied. The old directory is kept beside the new one. Posts lost for
 * good come back from peers by the usual feed sync. */
#ifndef SAMIZDAT_REPAIR_H
#define SAMIZDAT_REPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct {
    uint64_t posts_kept;    /* verified and stored again (fork evidence included) */
    uint64_t posts_refused; /* did not decode, did not verify, or not their id */
    uint64_t follows, blocks, peers;
    uint64_t records_skipped; /* other records that were not whole: rebuilt or relearned */
    char old_dir[512];        /* where the damaged database was moved */
} store_repair_report_t;

/* Repairs the database in dir, which no process may have open. now_ms is
 * the wall clock (the ingest rules' future check). On error detail says
 * what failed and dir is left as LevelDB's repair left it. */
store_err_t store_repair(const char *dir, uint64_t now_ms, store_repair_report_t *report,
                         char *detail, size_t detail_cap);

#endif
