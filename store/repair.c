#include "repair.h"

#include <fcntl.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "post.h"

/* The prefixes and lengths of docs/INTERNALS.md section 1. */
enum {
    KEY_LEN = 1 + 32,
    SINCE_LEN = 8,
    PEER_VALUE_MIN = 8 + 1,
    PEER_VALUE_MAX = 8 + STORE_ENDPOINT_MAX,
};

static store_err_t
fail(char *detail, size_t cap, store_err_t err, const char *what, char *lerr)
{
    snprintf(detail, cap, "%s%s%s", what, lerr ? ": " : "", lerr ? lerr : "");
    leveldb_free(lerr);
    return err;
}

/* One record of the old database into the new store, by its table. */
static store_err_t
copy_state(store_t *to, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
           store_repair_report_t *rep)
{
    if (klen != KEY_LEN) {
        return STORE_OK;
    }
    if ((k[0] == 'F' || k[0] == 'B') && vlen == SINCE_LEN) {
        uint64_t since = bytes_be64_get(v);
        uint64_t purged = 0;
        rep->follows += k[0] == 'F';
        rep->blocks += k[0] == 'B';
        return k[0] == 'F' ? store_follow(to, k + 1, since) : store_block(to, k + 1, since, &purged);
    }
    if (k[0] == 'P' && vlen >= PEER_VALUE_MIN && vlen <= PEER_VALUE_MAX) {
        char ep[STORE_ENDPOINT_MAX + 1];
        memcpy(ep, v + 8, vlen - 8);
        ep[vlen - 8] = '\0';
        if (store_peer_save(to, k + 1, ep, bytes_be64_get(v)) == STORE_OK) {
            rep->peers++;
        }
    }
    return STORE_OK;
}

static store_err_t
copy_post(store_t *to, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
          uint64_t now_ms, store_repair_report_t *rep)
{
    if (klen != KEY_LEN || vlen < POST_MIN_SIZE || vlen > POST_MAX_SIZE) {
        rep->posts_refused++;
        return STORE_OK;
    }
    uint8_t id[POST_ID_SIZE];
    post_id(id, v, vlen);
    if (memcmp(id, k + 1, POST_ID_SIZE) != 0) {
        rep->posts_refused++; /* not the post its key names */
        return STORE_OK;
    }
    store_ingest_info_t info;
    store_err_t err = store_ingest(to, v, vlen, now_ms, &info);
    if (err != STORE_OK) {
        return err;
    }
    bool kept = info.result != STORE_INGEST_INVALID && info.result != STORE_INGEST_BLOCKED &&
                info.result != STORE_INGEST_FUTURE;
    rep->posts_kept += kept;
    rep->posts_refused += !kept;
    return STORE_OK;
}

/* Two passes over the old database: the user's own records first (a block
 * must be in place before the posts it refuses), then the posts. */
static store_err_t
rebuild(leveldb_t *old, store_t *to, uint64_t now_ms, store_repair_report_t *rep)
{
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    leveldb_readoptions_set_verify_checksums(ro, 1);
    store_err_t err = STORE_OK;
    for (int pass = 0; pass < 2 && err == STORE_OK; pass++) {
        leveldb_iterator_t *it = leveldb_create_iterator(old, ro);
        for (leveldb_iter_seek_to_first(it); err == STORE_OK && leveldb_iter_valid(it);
             leveldb_iter_next(it)) {
            size_t klen = 0, vlen = 0;
            const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &klen);
            const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vlen);
            if (klen == 0) {
                continue;
            }
            if (pass == 0 && k[0] != 'p') {
                err = copy_state(to, k, klen, v, vlen, rep);
            } else if (pass == 1 && k[0] == 'p') {
                err = copy_post(to, k, klen, v, vlen, now_ms, rep);
            }
        }
        /* A block that does not read back ends the pass, not the repair. */
        char *ierr = NULL;
        leveldb_iter_get_error(it, &ierr);
        if (ierr != NULL) {
            rep->records_skipped++;
            leveldb_free(ierr);
        }
        leveldb_iter_destroy(it);
    }
    leveldb_readoptions_destroy(ro);
    return err;
}

static void
sync_dir_of(const char *dir)
{
    char parent[600];
    snprintf(parent, sizeof parent, "%s/..", dir);
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* DIR.damaged-TIME, or with -2, -3 ... when a repair in the same
 * millisecond left one: an earlier damaged copy is never overwritten. */
static bool
free_name(char *out, size_t cap, const char *dir, uint64_t now_ms)
{
    for (unsigned i = 1; i < 1000; i++) {
        int n = i == 1 ? snprintf(out, cap, "%s.damaged-%llu", dir, (unsigned long long)now_ms)
                       : snprintf(out, cap, "%s.damaged-%llu-%u", dir,
                                  (unsigned long long)now_ms, i);
        if (n < 0 || (size_t)n >= cap) {
            return false;
        }
        if (access(out, F_OK) != 0) {
            return true;
        }
    }
    return false;
}

store_err_t
store_repair(const char *dir, uint64_t now_ms, store_repair_report_t *rep, char *detail,
             size_t cap)
{
    memset(rep, 0, sizeof *rep);
    detail[0] = '\0';
    char fresh[520];
    if (snprintf(fresh, sizeof fresh, "%s.rebuild", dir) >= (int)sizeof fresh ||
        !free_name(rep->old_dir, sizeof rep->old_dir, dir, now_ms)) {
        return fail(detail, cap, STORE_EINVAL, "the data directory's path is too long", NULL);
    }
    leveldb_options_t *o = leveldb_options_create();
    char *lerr = NULL;
    leveldb_repair_db(o, dir, &lerr);
    if (lerr != NULL) {
        leveldb_options_destroy(o);
        return fail(detail, cap, STORE_EIO, "LevelDB's repair failed", lerr);
    }
    leveldb_t *old = leveldb_open(o, dir, &lerr);
    if (lerr != NULL) {
        leveldb_options_destroy(o);
        return fail(detail, cap, STORE_ECORRUPT, "the repaired database does not open", lerr);
    }
    leveldb_destroy_db(o, fresh, &lerr); /* what a failed repair left */
    leveldb_free(lerr);
    lerr = NULL;
    store_t *to = NULL;
    char sdetail[256] = "";
    store_err_t err = store_open(&to, fresh, NULL, sdetail, sizeof sdetail);
    if (err == STORE_OK) {
        err = rebuild(old, to, now_ms, rep);
        if (err != STORE_OK) {
            snprintf(detail, cap, "writing the new database: %s", store_last_error(to));
        }
        store_close(to);
    } else {
        snprintf(detail, cap, "cannot create %s: %s", fresh, sdetail);
    }
    leveldb_close(old);
    leveldb_options_destroy(o);
    if (err != STORE_OK) {
        return err;
    }
    if (rename(dir, rep->old_dir) != 0 || rename(fresh, dir) != 0) {
        return fail(detail, cap, STORE_EIO, "cannot move the rebuilt database into place", NULL);
    }
    sync_dir_of(dir);
    return STORE_OK;
}
