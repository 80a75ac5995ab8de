/* store: the LevelDB keyspace and the ingest rules. docs/INTERNALS.md, section
 * 1 "Store", is the exact description of every key and value written here. */
#include "store.h"

#include <dirent.h>
#include <leveldb/c.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "overlay.h"

enum {
    SCHEMA_VERSION = 1,
    DEFAULT_CACHE_BYTES = 8 * 1024 * 1024,
    WRITE_BUFFER_BYTES = 16 * 1024 * 1024,
    /* Table files LevelDB keeps open (its default is 1000): the rest of a
     * 1,024-descriptor limit stays for connections (docs/INTERNALS.md 3.1). */
    OPEN_FILES_MAX = 256,
    BLOOM_BITS_PER_KEY = 10,
    /* A purge writes in batches of this many operations, so blocking an author
     * with a long feed never builds one unbounded batch in memory. */
    PURGE_BATCH_OPS = 1000,
    ERROR_MAX = 256,

    AUTHOR_SIZE = KEYS_PUBLIC_SIZE,
    ID_KEY_LEN = 1 + POST_ID_SIZE,                     /* 'p' | id */
    AUTHOR_KEY_LEN = 1 + AUTHOR_SIZE,                  /* 'h' 'n' 'F' 'B' | author */
    SEQ_KEY_LEN = 1 + AUTHOR_SIZE + 8,                 /* 'f' | author | seq */
    TIME_KEY_LEN = 1 + 8 + POST_ID_SIZE,               /* 't' | timestamp | id */
    DEL_KEY_LEN = 1 + POST_ID_SIZE + AUTHOR_SIZE,      /* 'd' | target | author */
    FORK_KEY_LEN = 1 + AUTHOR_SIZE + 8 + POST_ID_SIZE, /* 'x' | author | seq | evidence */
    REPLY_KEY_LEN = 1 + POST_ID_SIZE + 8 + POST_ID_SIZE, /* 'r' | parent | timestamp | id */
    KEY_MAX = REPLY_KEY_LEN,

    HEAD_VAL_LEN = 8 + POST_ID_SIZE + 8,
    PROFILE_VAL_LEN = 8 + POST_ID_SIZE,
    FORK_VAL_LEN = 1 + POST_ID_SIZE,
    SINCE_VAL_LEN = 8,
    PEER_KEY_LEN = 1 + KEYS_PUBLIC_SIZE, /* 'P' | node key */
    PEER_VAL_MIN = 8 + 1,                /* last seen | endpoint */
    PEER_VAL_MAX = 8 + STORE_ENDPOINT_MAX,
};

/* One prefix byte per table. */
enum {
    T_POST = 'p',
    T_FEED = 'f',
    T_HEAD = 'h',
    T_TIME = 't',
    T_NAME = 'n',
    T_DELETE = 'd',
    T_REPLY = 'r',
    T_FOLLOW = 'F',
    T_BLOCK = 'B',
    T_FORK = 'x',
    T_PEER = 'P',
    T_ROUTE = 'R',
    T_META = 'm',
};

/* The first byte of a fork record's value. BAD_LINK is stored as one of two
 * codes so the record says which of its two posts is the evidence, and so
 * which seq that post has: publishing must know the highest seq held. */
enum {
    X_SAME_SEQ = 1,  /* evidence has the key's seq; other = the feed post at that seq */
    X_LINK_NEXT = 2, /* evidence has key seq + 1; other = the feed post at key seq */
    X_LINK_PREV = 3, /* evidence has the key's seq; other = the feed post at key seq + 1 */
};

typedef struct {
    uint64_t posts;
    uint64_t authors;
    uint64_t forks;
} counters_t;

typedef struct {
    uint8_t author[AUTHOR_SIZE];
    bool valid;
    bool blocked;
} blocked_entry_t;

struct store {
    leveldb_t *db;
    leveldb_options_t *opts;
    leveldb_cache_t *cache;
    leveldb_filterpolicy_t *bloom;
    leveldb_readoptions_t *rd;
    leveldb_writeoptions_t *wr;      /* ingest and purge: no sync */
    leveldb_writeoptions_t *wr_sync; /* own posts and the user's decisions */
    counters_t n;                    /* the counters, with a pending batch's posts */
    counters_t written;              /* the 'm' counters on disk */
    /* Batched ingest (store_batch_begin): the pending writes, readable
     * through the overlay before they are written. */
    bool batching;
    bool batch_failed; /* an ingest failed halfway: the batch is dropped */
    store_err_t batch_err;
    leveldb_writebatch_t *pending;
    overlay_t *ov;
    size_t pending_posts;
    /* Authors whose head a pending batch moved: one head record each is
     * written at the flush, not one per post. */
    uint8_t (*dirty_heads)[AUTHOR_SIZE];
    size_t n_dirty;
    /* Whether recent authors are blocked: ingest asks for every post, and
     * blocks change only through store_block and store_unblock, which
     * empty it. Direct-mapped by the key's first byte. */
    blocked_entry_t blocked_cache[256];
    char error[ERROR_MAX];
};

static const char META_SCHEMA[] = "mschema";
static const char META_POSTS[] = "mposts";
static const char META_AUTHORS[] = "mauthors";
static const char META_FORKS[] = "mforks";
/* Present once the reply index ('r') covers every stored reply: stores
 * written before it existed get it built at their next open. */
static const char META_REPLIES[] = "mreplies";

const char *
store_strerror(store_err_t err)
{
    switch (err) {
    case STORE_OK:
        return "ok";
    case STORE_EIO:
        return "database I/O error";
    case STORE_ELOCKED:
        return "database is in use by another process";
    case STORE_ECORRUPT:
        return "database holds a corrupt record";
    case STORE_ENOTFOUND:
        return "not found";
    case STORE_ENOMEM:
        return "out of memory";
    case STORE_EINVAL:
        return "invalid argument";
    }
    return "unknown store error";
}

const char *
store_ingest_name(store_ingest_t r)
{
    switch (r) {
    case STORE_INGEST_EXTENDED:
        return "extended";
    case STORE_INGEST_AHEAD:
        return "ahead";
    case STORE_INGEST_DUPLICATE:
        return "duplicate";
    case STORE_INGEST_FORK:
        return "fork";
    case STORE_INGEST_BLOCKED:
        return "blocked";
    case STORE_INGEST_FUTURE:
        return "future";
    case STORE_INGEST_INVALID:
        return "invalid";
    }
    return "unknown";
}

const char *
store_last_error(const store_t *s)
{
    return s != NULL ? s->error : "";
}

/* ---- errors ---------------------------------------------------------------- */

static bool
is_lock_error(const char *msg)
{
    /* LevelDB's POSIX env says "lock <dir>/LOCK: already held by process" when
     * this process holds it and gives strerror(EAGAIN) from fcntl when another
     * process does. */
    return strstr(msg, "lock ") != NULL &&
           (strstr(msg, "already held by process") != NULL ||
            strstr(msg, "Resource temporarily unavailable") != NULL);
}

static store_err_t
classify(const char *msg)
{
    if (strncmp(msg, "Corruption:", 11) == 0) {
        return STORE_ECORRUPT;
    }
    if (is_lock_error(msg)) {
        return STORE_ELOCKED;
    }
    if (strstr(msg, "does not exist (create_if_missing is false)") != NULL) {
        return STORE_ENOTFOUND;
    }
    return STORE_EIO;
}

/* The one place a LevelDB error becomes ours: keeps the message, frees it. */
static store_err_t
take_error(store_t *s, char *err)
{
    store_err_t code = classify(err);
    snprintf(s->error, sizeof s->error, "%s", err);
    leveldb_free(err);
    return code;
}

static store_err_t
corrupt(store_t *s, const char *what)
{
    snprintf(s->error, sizeof s->error, "corrupt record: %s", what);
    return STORE_ECORRUPT;
}

/* ---- keys -------------------------------------------------------------------- */

static bool
same(const uint8_t *a, const uint8_t *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}

static size_t
key_of(uint8_t *key, uint8_t table, const uint8_t *x, size_t n)
{
    key[0] = table;
    memcpy(key + 1, x, n);
    return 1 + n;
}

static size_t
key_seq(uint8_t *key, uint8_t table, const uint8_t author[static AUTHOR_SIZE], uint64_t seq)
{
    key_of(key, table, author, AUTHOR_SIZE);
    bytes_be64_put(key + 1 + AUTHOR_SIZE, seq);
    return SEQ_KEY_LEN;
}

static size_t
key_time(uint8_t *key, uint64_t timestamp_ms, const uint8_t id[static POST_ID_SIZE])
{
    key[0] = T_TIME;
    bytes_be64_put(key + 1, timestamp_ms);
    memcpy(key + 9, id, POST_ID_SIZE);
    return TIME_KEY_LEN;
}

static size_t
key_delete(uint8_t *key, const uint8_t target[static POST_ID_SIZE],
           const uint8_t author[static AUTHOR_SIZE])
{
    key[0] = T_DELETE;
    memcpy(key + 1, target, POST_ID_SIZE);
    memcpy(key + 1 + POST_ID_SIZE, author, AUTHOR_SIZE);
    return DEL_KEY_LEN;
}

static size_t
key_reply(uint8_t *key, const post_t *p)
{
    key[0] = T_REPLY;
    memcpy(key + 1, p->ref, POST_ID_SIZE);
    bytes_be64_put(key + 1 + POST_ID_SIZE, p->timestamp_ms);
    memcpy(key + 1 + POST_ID_SIZE + 8, p->id, POST_ID_SIZE);
    return REPLY_KEY_LEN;
}

static size_t
key_fork(uint8_t *key, const uint8_t author[static AUTHOR_SIZE], uint64_t seq,
         const uint8_t evidence[static POST_ID_SIZE])
{
    key_seq(key, T_FORK, author, seq);
    memcpy(key + SEQ_KEY_LEN, evidence, POST_ID_SIZE);
    return FORK_KEY_LEN;
}

/* ---- reads and writes ---------------------------------------------------------- */

/* Reads key into val, which must be exactly n bytes long on disk.
 * STORE_ENOTFOUND when absent, STORE_ECORRUPT when the length differs. */
/* A pending batch's value of key, or NULL. */
static const uint8_t *
pending_get(const store_t *s, const uint8_t *key, size_t klen, size_t *vlen)
{
    return s->batching ? ov_get(s->ov, key, klen, vlen) : NULL;
}

static store_err_t
get_fixed(store_t *s, const uint8_t *key, size_t klen, uint8_t *val, size_t n)
{
    size_t plen = 0;
    const uint8_t *pv = pending_get(s, key, klen, &plen);
    if (pv != NULL) {
        if (plen != n) {
            return corrupt(s, "a value has the wrong length");
        }
        memcpy(val, pv, n);
        return STORE_OK;
    }
    char *err = NULL;
    size_t vlen = 0;
    char *v = leveldb_get(s->db, s->rd, (const char *)key, klen, &vlen, &err);
    if (err != NULL) {
        return take_error(s, err);
    }
    if (v == NULL) {
        return STORE_ENOTFOUND;
    }
    store_err_t rc = STORE_OK;
    if (vlen != n) {
        rc = corrupt(s, "a value has the wrong length");
    } else {
        memcpy(val, v, n);
    }
    leveldb_free(v);
    return rc;
}

/* Reads a value of at most cap bytes. */
static store_err_t
get_var(store_t *s, const uint8_t *key, size_t klen, uint8_t *val, size_t cap, size_t *len)
{
    size_t plen = 0;
    const uint8_t *pv = pending_get(s, key, klen, &plen);
    if (pv != NULL) {
        if (plen > cap) {
            return corrupt(s, "a value is too long");
        }
        memcpy(val, pv, plen);
        *len = plen;
        return STORE_OK;
    }
    char *err = NULL;
    size_t vlen = 0;
    char *v = leveldb_get(s->db, s->rd, (const char *)key, klen, &vlen, &err);
    if (err != NULL) {
        return take_error(s, err);
    }
    if (v == NULL) {
        return STORE_ENOTFOUND;
    }
    store_err_t rc = STORE_OK;
    if (vlen > cap) {
        rc = corrupt(s, "a value is too long");
    } else {
        memcpy(val, v, vlen);
        *len = vlen;
    }
    leveldb_free(v);
    return rc;
}

static store_err_t
exists(store_t *s, const uint8_t *key, size_t klen, bool *yes)
{
    size_t plen = 0;
    if (pending_get(s, key, klen, &plen) != NULL) {
        *yes = true;
        return STORE_OK;
    }
    char *err = NULL;
    size_t vlen = 0;
    char *v = leveldb_get(s->db, s->rd, (const char *)key, klen, &vlen, &err);
    if (err != NULL) {
        return take_error(s, err);
    }
    *yes = v != NULL;
    leveldb_free(v);
    return STORE_OK;
}

static store_err_t
write_batch(store_t *s, leveldb_writebatch_t *wb, bool sync)
{
    char *err = NULL;
    leveldb_write(s->db, sync ? s->wr_sync : s->wr, wb, &err);
    return err != NULL ? take_error(s, err) : STORE_OK;
}

static store_err_t
iter_error(store_t *s, const leveldb_iterator_t *it)
{
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    return err != NULL ? take_error(s, err) : STORE_OK;
}

/* Ends a scan: an earlier error wins, else the iterator's own; frees it. */
static store_err_t
iter_finish(store_t *s, leveldb_iterator_t *it, store_err_t err)
{
    if (err == STORE_OK) {
        err = iter_error(s, it);
    }
    leveldb_iter_destroy(it);
    return err;
}

static void
batch_put(leveldb_writebatch_t *wb, const uint8_t *key, size_t klen, const uint8_t *val,
          size_t vlen)
{
    leveldb_writebatch_put(wb, (const char *)key, klen, (const char *)val, vlen);
}

static void
batch_del(leveldb_writebatch_t *wb, const uint8_t *key, size_t klen)
{
    leveldb_writebatch_delete(wb, (const char *)key, klen);
}

static void
put_u64_named(leveldb_writebatch_t *wb, const char *name, uint64_t v)
{
    uint8_t val[8];
    bytes_be64_put(val, v);
    batch_put(wb, (const uint8_t *)name, strlen(name), val, sizeof val);
}

/* Writes the counters that differ from before (all of them when before is
 * NULL): each ingest changes one or two, and every put costs. */
static void
put_counters(leveldb_writebatch_t *wb, const counters_t *c, const counters_t *before)
{
    if (before == NULL || c->posts != before->posts) {
        put_u64_named(wb, META_POSTS, c->posts);
    }
    if (before == NULL || c->authors != before->authors) {
        put_u64_named(wb, META_AUTHORS, c->authors);
    }
    if (before == NULL || c->forks != before->forks) {
        put_u64_named(wb, META_FORKS, c->forks);
    }
}

static leveldb_iterator_t *
new_iter(store_t *s)
{
    return leveldb_create_iterator(s->db, s->rd);
}

static bool
iter_in(const leveldb_iterator_t *it, const uint8_t *prefix, size_t plen)
{
    if (!leveldb_iter_valid(it)) {
        return false;
    }
    size_t klen = 0;
    const char *k = leveldb_iter_key(it, &klen);
    return klen >= plen && memcmp(k, prefix, plen) == 0;
}

/* Positions it on the last key below key, or makes it invalid. */
static void
seek_before(leveldb_iterator_t *it, const uint8_t *key, size_t klen)
{
    leveldb_iter_seek(it, (const char *)key, klen);
    if (leveldb_iter_valid(it)) {
        leveldb_iter_prev(it);
    } else {
        leveldb_iter_seek_to_last(it);
    }
}

static const uint8_t *
iter_key(const leveldb_iterator_t *it, size_t *klen)
{
    return (const uint8_t *)leveldb_iter_key(it, klen);
}

static const uint8_t *
iter_val(const leveldb_iterator_t *it, size_t *vlen)
{
    return (const uint8_t *)leveldb_iter_value(it, vlen);
}

/* ---- open and close -------------------------------------------------------------- */

static void
make_options(store_t *s, const store_options_t *o)
{
    bool create = o != NULL ? o->create_if_missing : true;
    size_t cache = (o != NULL && o->cache_bytes != 0) ? o->cache_bytes : DEFAULT_CACHE_BYTES;
    s->opts = leveldb_options_create();
    s->cache = leveldb_cache_create_lru(cache);
    s->bloom = leveldb_filterpolicy_create_bloom(BLOOM_BITS_PER_KEY);
    leveldb_options_set_create_if_missing(s->opts, create);
    leveldb_options_set_cache(s->opts, s->cache);
    leveldb_options_set_filter_policy(s->opts, s->bloom);
    /* Posts are mostly keys, hashes and signatures: Snappy saves little on
     * them and costs a tenth of the ingest time (docs/BENCHMARKS.md). */
    leveldb_options_set_compression(s->opts, leveldb_no_compression);
    /* A larger memtable means fewer, larger compactions during bulk ingest. */
    leveldb_options_set_write_buffer_size(s->opts, WRITE_BUFFER_BYTES);
    leveldb_options_set_max_open_files(s->opts, OPEN_FILES_MAX);
    s->rd = leveldb_readoptions_create();
    /* Block checksums catch bit rot below the level of our records. */
    leveldb_readoptions_set_verify_checksums(s->rd, 1);
    s->wr = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(s->wr, 0);
    s->wr_sync = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(s->wr_sync, 1);
}

static store_err_t
load_counter(store_t *s, const char *name, uint64_t *out)
{
    uint8_t v[8];
    store_err_t err = get_fixed(s, (const uint8_t *)name, strlen(name), v, sizeof v);
    if (err == STORE_ENOTFOUND) {
        *out = 0;
        return STORE_OK;
    }
    if (err == STORE_OK) {
        *out = bytes_be64_get(v);
    }
    return err;
}

/* A new database gets its schema record; an existing one must carry ours. */
static store_err_t
load_meta(store_t *s)
{
    uint8_t v[4];
    const uint8_t *key = (const uint8_t *)META_SCHEMA;
    store_err_t err = get_fixed(s, key, strlen(META_SCHEMA), v, sizeof v);
    if (err == STORE_ENOTFOUND) {
        bytes_writer_t w;
        bytes_writer_init(&w, v, sizeof v);
        bytes_put_u32(&w, SCHEMA_VERSION);
        leveldb_writebatch_t *wb = leveldb_writebatch_create();
        batch_put(wb, key, strlen(META_SCHEMA), v, sizeof v);
        batch_put(wb, (const uint8_t *)META_REPLIES, strlen(META_REPLIES), v, sizeof v);
        put_counters(wb, &s->n, NULL);
        err = write_batch(s, wb, true);
        leveldb_writebatch_destroy(wb);
        return err;
    }
    if (err != STORE_OK) {
        return err;
    }
    uint32_t version = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
    if (version != SCHEMA_VERSION) {
        snprintf(s->error, sizeof s->error, "unknown store schema version %u", (unsigned)version);
        return STORE_ECORRUPT;
    }
    err = load_counter(s, META_POSTS, &s->n.posts);
    if (err == STORE_OK) {
        err = load_counter(s, META_AUTHORS, &s->n.authors);
    }
    if (err == STORE_OK) {
        err = load_counter(s, META_FORKS, &s->n.forks);
    }
    s->written = s->n;
    return err;
}

/* Indexes one stored post for the reply index, when it is a reply. */
static void
reindex_reply(leveldb_writebatch_t *wb, const uint8_t *raw, size_t len, size_t *ops)
{
    post_t p;
    uint8_t key[REPLY_KEY_LEN];
    if (post_decode(&p, raw, len, POST_NO_VERIFY) == POST_OK && p.kind == POST_KIND_REPLY) {
        batch_put(wb, key, key_reply(key, &p), p.author, AUTHOR_SIZE);
        (*ops)++;
    }
}

/* A store written before the reply index existed gets it now, once: every
 * stored post is read (about a second for 100,000 posts). Fork evidence
 * is indexed too; the thread view skips what it cannot show. */
static store_err_t
build_reply_index(store_t *s)
{
    const uint8_t *mk = (const uint8_t *)META_REPLIES;
    bool done = false;
    store_err_t err = exists(s, mk, strlen(META_REPLIES), &done);
    if (err != STORE_OK || done) {
        return err;
    }
    const uint8_t prefix[1] = {T_POST};
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    leveldb_iterator_t *it = new_iter(s);
    size_t ops = 0;
    for (leveldb_iter_seek(it, (const char *)prefix, 1); err == STORE_OK && iter_in(it, prefix, 1);
         leveldb_iter_next(it)) {
        size_t vlen = 0;
        reindex_reply(wb, iter_val(it, &vlen), vlen, &ops);
        if (ops >= PURGE_BATCH_OPS) {
            err = write_batch(s, wb, false);
            leveldb_writebatch_clear(wb);
            ops = 0;
        }
    }
    err = iter_finish(s, it, err);
    if (err == STORE_OK) {
        uint8_t v[4] = {0, 0, 0, 1};
        batch_put(wb, mk, strlen(META_REPLIES), v, sizeof v);
        err = write_batch(s, wb, true);
    }
    leveldb_writebatch_destroy(wb);
    return err;
}

/* LevelDB takes a directory without CURRENT for a new database, and then
 * deletes the table and log files it finds there as obsolete: a lost
 * CURRENT would silently cost every post. A directory that holds data
 * (a table file, or a log file that is not empty) but no CURRENT is
 * damaged, not new. A MANIFEST alone is not data: it is what another
 * process creating the database writes just before CURRENT. */
static bool
holds_data(const char *dir, const char *name)
{
    size_t n = strlen(name);
    if (n <= 4) {
        return false;
    }
    const char *ext = name + n - 4;
    if (strcmp(ext, ".ldb") == 0 || strcmp(ext, ".sst") == 0) {
        return true;
    }
    char path[1200];
    struct stat st;
    return strcmp(ext, ".log") == 0 &&
           snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path &&
           stat(path, &st) == 0 && st.st_size > 0;
}

static bool
current_lost(const char *dir)
{
    char path[1024];
    if (snprintf(path, sizeof path, "%s/CURRENT", dir) >= (int)sizeof path ||
        access(path, F_OK) == 0) {
        return false;
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        return false;
    }
    bool data = false;
    for (struct dirent *e; !data && (e = readdir(d)) != NULL;) {
        data = holds_data(dir, e->d_name);
    }
    closedir(d);
    return data;
}

store_err_t
store_open(store_t **out, const char *dir, const store_options_t *opts, char *detail,
           size_t detail_cap)
{
    *out = NULL;
    if (detail != NULL && detail_cap > 0) {
        detail[0] = '\0';
    }
    if (dir == NULL) {
        return STORE_EINVAL;
    }
    if (current_lost(dir)) {
        if (detail != NULL && detail_cap > 0) {
            snprintf(detail, detail_cap, "the database's CURRENT file is missing");
        }
        return STORE_ECORRUPT;
    }
    store_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return STORE_ENOMEM;
    }
    make_options(s, opts);
    char *err = NULL;
    s->db = leveldb_open(s->opts, dir, &err);
    store_err_t rc = err != NULL ? take_error(s, err) : STORE_OK;
    if (rc == STORE_OK) {
        rc = load_meta(s);
    }
    if (rc == STORE_OK) {
        rc = build_reply_index(s);
    }
    if (rc != STORE_OK) {
        if (detail != NULL && detail_cap > 0) {
            snprintf(detail, detail_cap, "%s", s->error);
        }
        store_close(s);
        return rc;
    }
    *out = s;
    return STORE_OK;
}

void
store_close(store_t *s)
{
    if (s == NULL) {
        return;
    }
    if (s->batching && s->db != NULL) {
        (void)store_batch_end(s); /* a batch left open is written, as its end would */
    }
    /* The database first: it uses the cache, filter and options until closed. */
    if (s->db != NULL) {
        leveldb_close(s->db);
    }
    if (s->pending != NULL) {
        leveldb_writebatch_destroy(s->pending);
    }
    ov_free(s->ov);
    free(s->dirty_heads);
    leveldb_writeoptions_destroy(s->wr_sync);
    leveldb_writeoptions_destroy(s->wr);
    leveldb_readoptions_destroy(s->rd);
    leveldb_options_destroy(s->opts);
    leveldb_filterpolicy_destroy(s->bloom);
    leveldb_cache_destroy(s->cache);
    free(s);
}

/* ---- posts ------------------------------------------------------------------------- */

store_err_t
store_get_post(store_t *s, const uint8_t id[static POST_ID_SIZE], post_t *out, uint8_t *raw,
               size_t *raw_len)
{
    uint8_t buf[POST_MAX_SIZE];
    uint8_t *dst = raw != NULL ? raw : buf;
    uint8_t key[ID_KEY_LEN];
    size_t len = 0;
    store_err_t err =
        get_var(s, key, key_of(key, T_POST, id, POST_ID_SIZE), dst, POST_MAX_SIZE, &len);
    if (err != STORE_OK) {
        return err;
    }
    uint8_t check[POST_ID_SIZE];
    post_id(check, dst, len);
    if (sodium_memcmp(check, id, POST_ID_SIZE) != 0) {
        sodium_memzero(dst, len);
        return corrupt(s, "a stored post does not match its id");
    }
    post_t tmp;
    post_t *p = out != NULL ? out : &tmp;
    if (post_decode(p, dst, len, POST_NO_VERIFY) != POST_OK) {
        return corrupt(s, "a stored post does not decode");
    }
    if (raw_len != NULL) {
        *raw_len = len;
    }
    return STORE_OK;
}

static store_err_t
feed_id(store_t *s, const uint8_t author[static AUTHOR_SIZE], uint64_t seq,
        uint8_t id[static POST_ID_SIZE])
{
    uint8_t key[SEQ_KEY_LEN];
    return get_fixed(s, key, key_seq(key, T_FEED, author, seq), id, POST_ID_SIZE);
}

/* The value of a feed's T_HEAD record: the store's own layout, not the
 * signed head of crypto/head.h that goes into the DHT. */
static void
headrec_unpack(store_head_t *h, const uint8_t v[static HEAD_VAL_LEN])
{
    h->seq = bytes_be64_get(v);
    memcpy(h->id, v + 8, POST_ID_SIZE);
    h->max_seq = bytes_be64_get(v + 8 + POST_ID_SIZE);
}

static void
headrec_pack(uint8_t v[static HEAD_VAL_LEN], const store_head_t *h)
{
    bytes_be64_put(v, h->seq);
    memcpy(v + 8, h->id, POST_ID_SIZE);
    bytes_be64_put(v + 8 + POST_ID_SIZE, h->max_seq);
}

store_err_t
store_get_head(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE], store_head_t *out)
{
    uint8_t key[AUTHOR_KEY_LEN], v[HEAD_VAL_LEN];
    store_err_t err = get_fixed(s, key, key_of(key, T_HEAD, author, AUTHOR_SIZE), v, sizeof v);
    if (err == STORE_OK) {
        headrec_unpack(out, v);
    }
    return err;
}

/* ---- ingest ---------------------------------------------------------------------- */

typedef struct {
    store_t *s;
    const post_t *p;
    store_head_t head; /* zeros when the author has none */
    bool has_head;
    counters_t n; /* the counters as they will be after this batch */
    leveldb_writebatch_t *wb;
    store_ingest_t result;
} ingest_t;

static store_err_t batch_flush(store_t *s);

/* The author's head into in (zeros and has_head false when none). */
static store_err_t
read_head(store_t *s, ingest_t *in)
{
    store_err_t err = store_get_head(s, in->p->author, &in->head);
    in->has_head = err == STORE_OK;
    if (err == STORE_ENOTFOUND) {
        memset(&in->head, 0, sizeof in->head);
        err = STORE_OK;
    }
    return err;
}

/* Whether p extends a feed that holds nothing beyond its head: then no
 * copy of p can be stored, in the feed or as fork evidence (evidence sits
 * at most one past the highest seq, and there only with another prev), and
 * the lookup for a duplicate is skipped. */
static bool
plain_extension(const ingest_t *in)
{
    const post_t *p = in->p;
    if (!in->has_head) {
        return true; /* nothing of the author at all */
    }
    return in->head.seq == in->head.max_seq && p->seq == in->head.seq + 1 &&
           same(p->prev, in->head.id, POST_ID_SIZE);
}

/* A write of one ingest; in a batch also kept in the overlay, so the next
 * post of the batch reads it. */
static void
in_put(ingest_t *in, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    batch_put(in->wb, key, klen, val, vlen);
    if (in->s->batching && ov_put(in->s->ov, key, klen, val, vlen) != 0) {
        in->s->batch_failed = true;
        in->s->batch_err = STORE_ENOMEM;
    }
}

/* A head moved in a batch: kept in the overlay for the reads of the
 * batch, and written once at the flush. */
static void
head_put_pending(store_t *s, const uint8_t *key, size_t klen, const uint8_t *v)
{
    size_t vlen = 0;
    bool known = ov_get(s->ov, key, klen, &vlen) != NULL;
    if (ov_put(s->ov, key, klen, v, HEAD_VAL_LEN) != 0) {
        s->batch_failed = true;
        s->batch_err = STORE_ENOMEM;
        return;
    }
    if (!known) {
        /* At most one new author per post, and a flush every
         * STORE_BATCH_POSTS posts: the list cannot overflow. */
        memcpy(s->dirty_heads[s->n_dirty++], key + 1, AUTHOR_SIZE);
    }
}

typedef struct {
    uint8_t kind; /* X_*; 0 = no conflict */
    uint64_t seq; /* the fork record's key seq */
    uint8_t other[POST_ID_SIZE];
} conflict_t;

static store_err_t
check_same_seq(store_t *s, const ingest_t *in, conflict_t *c)
{
    const post_t *p = in->p;
    if (p->seq > in->head.max_seq) {
        return STORE_OK; /* max_seq bounds the feed index, so the slot is free */
    }
    store_err_t err = feed_id(s, p->author, p->seq, c->other);
    if (err == STORE_ENOTFOUND) {
        return STORE_OK;
    }
    if (err == STORE_OK) {
        if (same(c->other, p->id, POST_ID_SIZE)) {
            return corrupt(s, "the feed index names a post that is not stored");
        }
        c->kind = X_SAME_SEQ;
        c->seq = p->seq;
    }
    return err;
}

/* The indexed post at seq - 1, if any, must be what p names as prev. */
static store_err_t
check_prev_link(store_t *s, const ingest_t *in, conflict_t *c)
{
    const post_t *p = in->p;
    uint64_t before = p->seq - 1;
    if (p->seq == 1 || before > in->head.max_seq) {
        return STORE_OK; /* seq 1 has zero prev, checked by the decoder */
    }
    uint8_t id[POST_ID_SIZE];
    if (in->head.seq == before) {
        memcpy(id, in->head.id, POST_ID_SIZE);
    } else {
        store_err_t err = feed_id(s, p->author, before, id);
        if (err != STORE_OK) {
            return err == STORE_ENOTFOUND ? STORE_OK : err;
        }
    }
    if (!same(id, p->prev, POST_ID_SIZE)) {
        c->kind = X_LINK_NEXT;
        c->seq = before;
        memcpy(c->other, id, POST_ID_SIZE);
    }
    return STORE_OK;
}

/* The indexed post at seq + 1, if any, must name p as its prev. */
static store_err_t
check_next_link(store_t *s, const ingest_t *in, conflict_t *c)
{
    const post_t *p = in->p;
    if (p->seq >= in->head.max_seq) {
        return STORE_OK;
    }
    uint8_t id[POST_ID_SIZE];
    store_err_t err = feed_id(s, p->author, p->seq + 1, id);
    if (err != STORE_OK) {
        return err == STORE_ENOTFOUND ? STORE_OK : err;
    }
    post_t next;
    err = store_get_post(s, id, &next, NULL, NULL);
    if (err != STORE_OK) {
        return err == STORE_ENOTFOUND ? corrupt(s, "the feed index names a missing post") : err;
    }
    if (!same(next.prev, p->id, POST_ID_SIZE)) {
        c->kind = X_LINK_PREV;
        c->seq = p->seq;
        memcpy(c->other, id, POST_ID_SIZE);
    }
    return STORE_OK;
}

static store_err_t
find_conflict(store_t *s, const ingest_t *in, conflict_t *c)
{
    c->kind = 0;
    store_err_t err = check_same_seq(s, in, c);
    if (err == STORE_OK && c->kind == 0) {
        err = check_prev_link(s, in, c);
    }
    if (err == STORE_OK && c->kind == 0) {
        err = check_next_link(s, in, c);
    }
    return err;
}

static void
record_fork(ingest_t *in, const conflict_t *c)
{
    uint8_t key[FORK_KEY_LEN], val[FORK_VAL_LEN];
    key_fork(key, in->p->author, c->seq, in->p->id);
    val[0] = c->kind;
    memcpy(val + 1, c->other, POST_ID_SIZE);
    in_put(in, key, sizeof key, val, sizeof val);
    in->n.forks++;
    in->result = STORE_INGEST_FORK;
}

/* The latest profile by seq wins, whatever order they arrive in. */
static store_err_t
index_profile(store_t *s, ingest_t *in)
{
    const post_t *p = in->p;
    uint8_t key[AUTHOR_KEY_LEN], v[PROFILE_VAL_LEN];
    size_t klen = key_of(key, T_NAME, p->author, AUTHOR_SIZE);
    store_err_t err = get_fixed(s, key, klen, v, sizeof v);
    if (err == STORE_OK && bytes_be64_get(v) >= p->seq) {
        return STORE_OK;
    }
    if (err != STORE_OK && err != STORE_ENOTFOUND) {
        return err;
    }
    bytes_be64_put(v, p->seq);
    memcpy(v + 8, p->id, POST_ID_SIZE);
    in_put(in, key, klen, v, sizeof v);
    return STORE_OK;
}

/* The tombstone is keyed by target and the delete's author, so a delete by
 * someone else can neither hide the post nor overwrite the real tombstone.
 * The first delete seen stays. */
static store_err_t
index_delete(store_t *s, ingest_t *in)
{
    const post_t *p = in->p;
    uint8_t key[DEL_KEY_LEN];
    size_t klen = key_delete(key, p->ref, p->author);
    bool have = false;
    store_err_t err = exists(s, key, klen, &have);
    if (err == STORE_OK && !have) {
        in_put(in, key, klen, p->id, POST_ID_SIZE);
    }
    return err;
}

/* Moves the head over posts already indexed beyond it. Their links were
 * checked when they were indexed. */
static store_err_t
absorb(store_t *s, const uint8_t author[static AUTHOR_SIZE], store_head_t *h)
{
    if (s->batching) {
        /* An iterator would not see the batch: point reads through the
         * overlay, one per post absorbed. */
        while (h->seq < h->max_seq) {
            uint8_t id[POST_ID_SIZE];
            store_err_t err = feed_id(s, author, h->seq + 1, id);
            if (err == STORE_ENOTFOUND) {
                return STORE_OK;
            }
            if (err != STORE_OK) {
                return err;
            }
            h->seq++;
            memcpy(h->id, id, POST_ID_SIZE);
        }
        return STORE_OK;
    }
    uint8_t key[SEQ_KEY_LEN];
    leveldb_iterator_t *it = new_iter(s);
    leveldb_iter_seek(it, (const char *)key, key_seq(key, T_FEED, author, h->seq + 1));
    store_err_t err = STORE_OK;
    while (h->seq < h->max_seq && iter_in(it, key, 1 + AUTHOR_SIZE)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = iter_key(it, &klen);
        const uint8_t *v = iter_val(it, &vlen);
        if (klen != SEQ_KEY_LEN || vlen != POST_ID_SIZE) {
            err = corrupt(s, "a feed index entry has the wrong length");
            break;
        }
        if (bytes_be64_get(k + 1 + AUTHOR_SIZE) != h->seq + 1) {
            break;
        }
        h->seq++;
        memcpy(h->id, v, POST_ID_SIZE);
        leveldb_iter_next(it);
    }
    return iter_finish(s, it, err);
}

static store_err_t
update_head(store_t *s, ingest_t *in)
{
    const post_t *p = in->p;
    store_head_t h = in->head;
    bool extends = h.seq < UINT64_MAX && p->seq == h.seq + 1;
    if (p->seq > h.max_seq) {
        h.max_seq = p->seq;
    }
    store_err_t err = STORE_OK;
    if (extends) {
        h.seq = p->seq;
        memcpy(h.id, p->id, POST_ID_SIZE);
        /* Only when posts beyond the gap are held: an iterator costs a
         * seek through every level, and a feed growing in order has none. */
        if (h.seq < h.max_seq) {
            err = absorb(s, p->author, &h);
        }
    }
    if (err != STORE_OK) {
        return err;
    }
    uint8_t key[AUTHOR_KEY_LEN], v[HEAD_VAL_LEN];
    headrec_pack(v, &h);
    size_t klen = key_of(key, T_HEAD, p->author, AUTHOR_SIZE);
    if (s->batching) {
        head_put_pending(s, key, klen, v);
    } else {
        in_put(in, key, klen, v, sizeof v);
    }
    if (!in->has_head) {
        in->n.authors++;
    }
    in->result = extends ? STORE_INGEST_EXTENDED : STORE_INGEST_AHEAD;
    return STORE_OK;
}

static store_err_t
index_post(store_t *s, ingest_t *in)
{
    const post_t *p = in->p;
    uint8_t key[KEY_MAX];
    in_put(in, key, key_seq(key, T_FEED, p->author, p->seq), p->id, POST_ID_SIZE);
    if (p->kind == POST_KIND_POST || p->kind == POST_KIND_REPLY) {
        in_put(in, key, key_time(key, p->timestamp_ms, p->id), p->author, AUTHOR_SIZE);
    }
    if (p->kind == POST_KIND_REPLY) {
        in_put(in, key, key_reply(key, p), p->author, AUTHOR_SIZE);
    }
    store_err_t err = STORE_OK;
    if (p->kind == POST_KIND_PROFILE) {
        err = index_profile(s, in);
    } else if (p->kind == POST_KIND_DELETE) {
        err = index_delete(s, in);
    }
    return err != STORE_OK ? err : update_head(s, in);
}

/* Stores a post that passed the screening (valid, not blocked, not from the
 * future, not a duplicate): as evidence when it conflicts, else indexed. */
static store_err_t
store_screened(store_t *s, const post_t *p, const uint8_t *buf, size_t len, bool sync,
               const ingest_t *read, store_ingest_t *result)
{
    ingest_t in = {.s = s, .p = p, .n = s->n};
    store_err_t err = STORE_OK;
    if (read != NULL) {
        in.head = read->head;
        in.has_head = read->has_head;
    } else {
        err = read_head(s, &in);
    }
    conflict_t c;
    if (err == STORE_OK) {
        err = find_conflict(s, &in, &c);
    }
    if (err != STORE_OK) {
        return err;
    }
    in.wb = s->batching ? s->pending : leveldb_writebatch_create();
    uint8_t key[ID_KEY_LEN];
    in_put(&in, key, key_of(key, T_POST, p->id, POST_ID_SIZE), buf, len);
    in.n.posts++;
    if (c.kind != 0) {
        record_fork(&in, &c);
    } else {
        err = index_post(s, &in);
    }
    if (s->batching) {
        /* Written with the batch; a failure halfway leaves part of this
         * post in it, so the whole batch is dropped at its end. */
        if (err != STORE_OK || s->batch_failed) {
            s->batch_failed = true;
            s->batch_err = err != STORE_OK ? err : s->batch_err;
            return s->batch_err;
        }
        s->n = in.n;
        s->pending_posts++;
        *result = in.result;
        return STORE_OK;
    }
    if (err == STORE_OK) {
        put_counters(in.wb, &in.n, &s->written);
        err = write_batch(s, in.wb, sync);
    }
    leveldb_writebatch_destroy(in.wb);
    if (err == STORE_OK) {
        s->n = s->written = in.n;
        *result = in.result;
    }
    return err;
}

/* Writes the pending batch with the counters, and starts an empty one. */
static store_err_t
batch_flush(store_t *s)
{
    if (s->pending_posts == 0) {
        return STORE_OK;
    }
    for (size_t i = 0; i < s->n_dirty; i++) {
        uint8_t key[AUTHOR_KEY_LEN];
        size_t klen = key_of(key, T_HEAD, s->dirty_heads[i], AUTHOR_SIZE), vlen = 0;
        const uint8_t *v = ov_get(s->ov, key, klen, &vlen);
        if (v != NULL) {
            batch_put(s->pending, key, klen, v, vlen);
        }
    }
    put_counters(s->pending, &s->n, &s->written);
    store_err_t err = write_batch(s, s->pending, false);
    leveldb_writebatch_clear(s->pending);
    ov_clear(s->ov);
    s->pending_posts = 0;
    s->n_dirty = 0;
    if (err != STORE_OK) {
        s->n = s->written; /* the batch's posts are not stored */
        return err;
    }
    s->written = s->n;
    return STORE_OK;
}

store_err_t
store_batch_begin(store_t *s)
{
    if (s == NULL || s->batching) {
        return STORE_EINVAL;
    }
    if (s->ov == NULL && ov_new(&s->ov) != 0) {
        return STORE_ENOMEM;
    }
    if (s->pending == NULL) {
        s->pending = leveldb_writebatch_create();
    }
    if (s->dirty_heads == NULL &&
        (s->dirty_heads = calloc(STORE_BATCH_POSTS + 1, sizeof *s->dirty_heads)) == NULL) {
        return STORE_ENOMEM;
    }
    s->n_dirty = 0;
    s->batching = true;
    s->batch_failed = false;
    s->batch_err = STORE_OK;
    s->pending_posts = 0;
    return STORE_OK;
}

store_err_t
store_batch_end(store_t *s)
{
    if (s == NULL || !s->batching) {
        return STORE_EINVAL;
    }
    store_err_t err;
    if (s->batch_failed) {
        leveldb_writebatch_clear(s->pending);
        ov_clear(s->ov);
        s->pending_posts = 0;
        s->n_dirty = 0;
        s->n = s->written;
        err = s->batch_err != STORE_OK ? s->batch_err : STORE_EIO;
    } else {
        err = batch_flush(s);
    }
    s->batching = false;
    return err;
}

static store_err_t
is_blocked(store_t *s, const uint8_t author[static AUTHOR_SIZE], bool *yes)
{
    blocked_entry_t *c = &s->blocked_cache[author[0]];
    if (c->valid && same(c->author, author, AUTHOR_SIZE)) {
        *yes = c->blocked;
        return STORE_OK;
    }
    uint8_t key[AUTHOR_KEY_LEN];
    store_err_t err = exists(s, key, key_of(key, T_BLOCK, author, AUTHOR_SIZE), yes);
    if (err == STORE_OK) {
        memcpy(c->author, author, AUTHOR_SIZE);
        c->blocked = *yes;
        c->valid = true;
    }
    return err;
}

static void
blocks_changed(store_t *s)
{
    memset(s->blocked_cache, 0, sizeof s->blocked_cache);
}

store_err_t
store_ingest_decoded(store_t *s, const post_t *p, const uint8_t *buf, size_t len, uint64_t now_ms,
                     store_ingest_info_t *info)
{
    if (s == NULL || p == NULL || buf == NULL || len > POST_MAX_SIZE || info == NULL) {
        return STORE_EINVAL;
    }
    memset(info, 0, sizeof *info);
    memcpy(info->id, p->id, POST_ID_SIZE);
    bool blocked = false, dup = false;
    store_err_t err = is_blocked(s, p->author, &blocked);
    if (err != STORE_OK || blocked) {
        info->result = STORE_INGEST_BLOCKED;
        return err;
    }
    /* Written as a difference so a clock near UINT64_MAX cannot overflow. */
    if (p->timestamp_ms > now_ms && p->timestamp_ms - now_ms > STORE_FUTURE_SKEW_MS) {
        info->result = STORE_INGEST_FUTURE;
        return STORE_OK;
    }
    if (s->batching && s->pending_posts >= STORE_BATCH_POSTS) {
        err = batch_flush(s);
        if (err != STORE_OK) {
            return err;
        }
    }
    ingest_t head = {.s = s, .p = p};
    err = read_head(s, &head);
    if (err == STORE_OK && !plain_extension(&head)) {
        uint8_t key[ID_KEY_LEN];
        err = exists(s, key, key_of(key, T_POST, p->id, POST_ID_SIZE), &dup);
    }
    if (err != STORE_OK || dup) {
        info->result = STORE_INGEST_DUPLICATE;
        return err;
    }
    return store_screened(s, p, buf, len, false, &head, &info->result);
}

store_err_t
store_ingest(store_t *s, const uint8_t *buf, size_t len, uint64_t now_ms, store_ingest_info_t *info)
{
    if (s == NULL || (buf == NULL && len > 0) || info == NULL) {
        return STORE_EINVAL;
    }
    post_t p;
    post_err_t perr = post_decode(&p, buf, len, POST_VERIFY);
    if (perr != POST_OK) {
        memset(info, 0, sizeof *info);
        info->result = STORE_INGEST_INVALID;
        info->post_err = perr;
        return STORE_OK;
    }
    return store_ingest_decoded(s, &p, buf, len, now_ms, info);
}

/* ---- publish ---------------------------------------------------------------------- */

/* The highest seq among the author's fork evidence, and that post's id. */
static store_err_t
highest_evidence(store_t *s, const uint8_t author[static AUTHOR_SIZE], uint64_t *top,
                 uint8_t id[static POST_ID_SIZE])
{
    uint8_t prefix[AUTHOR_KEY_LEN];
    key_of(prefix, T_FORK, author, AUTHOR_SIZE);
    leveldb_iterator_t *it = new_iter(s);
    leveldb_iter_seek(it, (const char *)prefix, sizeof prefix);
    store_err_t err = STORE_OK;
    *top = 0;
    for (; iter_in(it, prefix, sizeof prefix); leveldb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = iter_key(it, &klen);
        const uint8_t *v = iter_val(it, &vlen);
        if (klen != FORK_KEY_LEN || vlen != FORK_VAL_LEN) {
            err = corrupt(s, "a fork record has the wrong length");
            break;
        }
        uint64_t seq = bytes_be64_get(k + 1 + AUTHOR_SIZE);
        if (v[0] == X_LINK_NEXT) {
            seq++;
        }
        if (seq > *top) {
            *top = seq;
            memcpy(id, k + SEQ_KEY_LEN, POST_ID_SIZE);
        }
    }
    return iter_finish(s, it, err);
}

/* The highest seq of the author's we hold, in the feed or as evidence, and
 * that post's id (the feed's when both hold one): the next post must come
 * after every post ever signed with this key that we know of. */
static store_err_t
highest_own(store_t *s, const uint8_t author[static AUTHOR_SIZE], uint64_t *top,
            uint8_t id[static POST_ID_SIZE])
{
    store_head_t h;
    memset(id, 0, POST_ID_SIZE);
    store_err_t err = store_get_head(s, author, &h);
    if (err == STORE_ENOTFOUND) {
        memset(&h, 0, sizeof h);
    } else if (err != STORE_OK) {
        return err;
    }
    err = highest_evidence(s, author, top, id);
    if (err != STORE_OK || h.max_seq == 0 || h.max_seq < *top) {
        return err;
    }
    *top = h.max_seq;
    if (h.seq == h.max_seq) {
        memcpy(id, h.id, POST_ID_SIZE);
        return STORE_OK;
    }
    err = feed_id(s, author, h.max_seq, id);
    return err == STORE_ENOTFOUND ? corrupt(s, "the head names a missing feed entry") : err;
}

store_err_t
store_own_top(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t *top)
{
    if (s == NULL || top == NULL) {
        return STORE_EINVAL;
    }
    uint8_t id[POST_ID_SIZE];
    *top = 0;
    return highest_own(s, author, top, id);
}

store_err_t
store_publish(store_t *s, const keys_author_t *k, post_t *draft, post_err_t *post_err)
{
    post_err_t pe_local;
    post_err_t *pe = post_err != NULL ? post_err : &pe_local;
    *pe = POST_OK;
    if (s == NULL || k == NULL || draft == NULL) {
        return STORE_EINVAL;
    }
    /* A blocked author's posts were purged: publishing would reuse seqs. */
    bool blocked = false;
    store_err_t err = is_blocked(s, k->pk, &blocked);
    if (err != STORE_OK || blocked) {
        return err != STORE_OK ? err : STORE_EINVAL;
    }
    uint64_t top = 0;
    uint8_t prev[POST_ID_SIZE];
    err = highest_own(s, k->pk, &top, prev);
    if (err != STORE_OK) {
        return err;
    }
    if (top == UINT64_MAX) {
        *pe = POST_ESEQ;
        return STORE_EINVAL;
    }
    draft->seq = top + 1;
    memcpy(draft->prev, prev, POST_ID_SIZE);
    uint8_t buf[POST_MAX_SIZE];
    size_t len = 0;
    *pe = post_sign(draft, k, buf, sizeof buf, &len);
    if (*pe != POST_OK) {
        return STORE_EINVAL;
    }
    store_ingest_t result = STORE_INGEST_INVALID;
    err = store_screened(s, draft, buf, len, true, NULL, &result);
    if (err == STORE_OK && result != STORE_INGEST_EXTENDED && result != STORE_INGEST_AHEAD) {
        /* Cannot happen on a consistent store: seq is above everything held. */
        return corrupt(s, "an own post conflicts with the stored feed");
    }
    return err;
}

/* ---- reading feeds and the timeline ------------------------------------------------ */

typedef struct {
    store_post_cb cb;
    void *ud;
    size_t limit;
    size_t count;
    bool stop;
} emit_t;

static store_err_t
emit_post(store_t *s, const uint8_t id[static POST_ID_SIZE], emit_t *e)
{
    post_t p;
    uint8_t raw[POST_MAX_SIZE];
    size_t len = 0;
    store_err_t err = store_get_post(s, id, &p, raw, &len);
    if (err != STORE_OK) {
        return err;
    }
    e->count++;
    e->stop = !e->cb(e->ud, &p, raw, len) || (e->limit != 0 && e->count >= e->limit);
    return STORE_OK;
}

static store_err_t
feed_walk(store_t *s, leveldb_iterator_t *it, const uint8_t *prefix, bool backward, emit_t *e)
{
    store_err_t err = STORE_OK;
    while (!e->stop && iter_in(it, prefix, 1 + AUTHOR_SIZE)) {
        size_t klen = 0, vlen = 0;
        (void)iter_key(it, &klen);
        const uint8_t *v = iter_val(it, &vlen);
        if (klen != SEQ_KEY_LEN || vlen != POST_ID_SIZE) {
            return corrupt(s, "a feed index entry has the wrong length");
        }
        uint8_t id[POST_ID_SIZE];
        memcpy(id, v, POST_ID_SIZE);
        err = emit_post(s, id, e);
        if (err != STORE_OK) {
            /* An index entry without its post is a broken store too. */
            return err == STORE_ENOTFOUND ? corrupt(s, "the feed index names a missing post") : err;
        }
        if (backward) {
            leveldb_iter_prev(it);
        } else {
            leveldb_iter_next(it);
        }
    }
    return iter_error(s, it);
}

store_err_t
store_feed(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t before_seq,
           size_t limit, store_post_cb cb, void *ud)
{
    emit_t e = {.cb = cb, .ud = ud, .limit = limit};
    uint8_t key[SEQ_KEY_LEN + 1];
    size_t klen = key_seq(key, T_FEED, author, before_seq);
    if (before_seq == 0) {
        /* One byte longer than any entry of this author, and above them all. */
        memset(key + 1 + AUTHOR_SIZE, 0xff, 9);
        klen = SEQ_KEY_LEN + 1;
    }
    leveldb_iterator_t *it = new_iter(s);
    seek_before(it, key, klen);
    store_err_t err = feed_walk(s, it, key, true, &e);
    leveldb_iter_destroy(it);
    return err;
}

store_err_t
store_feed_forward(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t from_seq,
                   size_t limit, store_post_cb cb, void *ud)
{
    emit_t e = {.cb = cb, .ud = ud, .limit = limit};
    uint8_t key[SEQ_KEY_LEN];
    leveldb_iterator_t *it = new_iter(s);
    leveldb_iter_seek(it, (const char *)key, key_seq(key, T_FEED, author, from_seq));
    store_err_t err = feed_walk(s, it, key, false, &e);
    leveldb_iter_destroy(it);
    return err;
}

typedef struct {
    const uint8_t *self;
    uint8_t last[AUTHOR_SIZE]; /* one-entry cache: runs of one author are common */
    bool last_valid;
    bool last_yes;
} visible_t;

static store_err_t
visible(store_t *s, visible_t *v, const uint8_t author[static AUTHOR_SIZE], bool *yes)
{
    if (v->self != NULL && same(v->self, author, AUTHOR_SIZE)) {
        *yes = true;
        return STORE_OK;
    }
    if (v->last_valid && same(v->last, author, AUTHOR_SIZE)) {
        *yes = v->last_yes;
        return STORE_OK;
    }
    store_err_t err = store_is_following(s, author, yes);
    if (err == STORE_OK) {
        memcpy(v->last, author, AUTHOR_SIZE);
        v->last_valid = true;
        v->last_yes = *yes;
    }
    return err;
}

static store_err_t
timeline_step(store_t *s, leveldb_iterator_t *it, visible_t *vis, emit_t *e)
{
    size_t klen = 0, vlen = 0;
    const uint8_t *k = iter_key(it, &klen);
    const uint8_t *v = iter_val(it, &vlen);
    if (klen != TIME_KEY_LEN || vlen != AUTHOR_SIZE) {
        return corrupt(s, "a timeline entry has the wrong length");
    }
    uint8_t id[POST_ID_SIZE];
    memcpy(id, k + 9, POST_ID_SIZE);
    bool yes = false;
    store_err_t err = visible(s, vis, v, &yes);
    if (err == STORE_OK && yes) {
        err = emit_post(s, id, e);
    }
    /* A purge that met an undecodable post cannot find its timeline entry:
     * such a leftover entry is skipped. */
    return err == STORE_ENOTFOUND ? STORE_OK : err;
}

store_err_t
store_timeline(store_t *s, const uint8_t *self, const store_cursor_t *cursor, size_t limit,
               store_post_cb cb, void *ud)
{
    emit_t e = {.cb = cb, .ud = ud, .limit = limit};
    visible_t vis = {.self = self};
    uint8_t key[TIME_KEY_LEN];
    size_t klen = 1;
    key[0] = T_TIME + 1;
    if (cursor != NULL && cursor->timestamp_ms != 0) {
        klen = key_time(key, cursor->timestamp_ms, cursor->id);
    }
    const uint8_t prefix[1] = {T_TIME};
    leveldb_iterator_t *it = new_iter(s);
    store_err_t err = STORE_OK;
    for (seek_before(it, key, klen); !e.stop && iter_in(it, prefix, 1); leveldb_iter_prev(it)) {
        err = timeline_step(s, it, &vis, &e);
        if (err != STORE_OK) {
            break;
        }
    }
    return iter_finish(s, it, err);
}

store_err_t
store_replies(store_t *s, const uint8_t parent[static POST_ID_SIZE], size_t limit,
              store_post_cb cb, void *ud)
{
    emit_t e = {.cb = cb, .ud = ud, .limit = limit};
    uint8_t prefix[1 + POST_ID_SIZE];
    prefix[0] = T_REPLY;
    memcpy(prefix + 1, parent, POST_ID_SIZE);
    leveldb_iterator_t *it = new_iter(s);
    store_err_t err = STORE_OK;
    for (leveldb_iter_seek(it, (const char *)prefix, sizeof prefix);
         err == STORE_OK && !e.stop && iter_in(it, prefix, sizeof prefix); leveldb_iter_next(it)) {
        size_t klen = 0;
        const uint8_t *k = iter_key(it, &klen);
        if (klen != REPLY_KEY_LEN) {
            err = corrupt(s, "a reply index entry has the wrong length");
            break;
        }
        err = emit_post(s, k + 1 + POST_ID_SIZE + 8, &e);
        /* A reply purged with its blocked author may leave nothing. */
        if (err == STORE_ENOTFOUND) {
            err = STORE_OK;
        }
    }
    return iter_finish(s, it, err);
}

/* ---- profiles and deletes ------------------------------------------------------- */

store_err_t
store_get_profile(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE], post_t *out)
{
    uint8_t key[AUTHOR_KEY_LEN], v[PROFILE_VAL_LEN];
    store_err_t err = get_fixed(s, key, key_of(key, T_NAME, author, AUTHOR_SIZE), v, sizeof v);
    if (err != STORE_OK) {
        return err;
    }
    err = store_get_post(s, v + 8, out, NULL, NULL);
    return err == STORE_ENOTFOUND ? corrupt(s, "a profile pointer names a missing post") : err;
}

store_err_t
store_is_deleted(store_t *s, const uint8_t id[static POST_ID_SIZE], bool *deleted,
                 uint8_t *deleted_by)
{
    *deleted = false;
    post_t target;
    store_err_t err = store_get_post(s, id, &target, NULL, NULL);
    if (err == STORE_ENOTFOUND) {
        return STORE_OK; /* whose post it is cannot be known */
    }
    if (err != STORE_OK) {
        return err;
    }
    uint8_t key[DEL_KEY_LEN], by[POST_ID_SIZE];
    err = get_fixed(s, key, key_delete(key, id, target.author), by, sizeof by);
    if (err == STORE_ENOTFOUND) {
        return STORE_OK;
    }
    if (err == STORE_OK) {
        *deleted = true;
        if (deleted_by != NULL) {
            memcpy(deleted_by, by, POST_ID_SIZE);
        }
    }
    return err;
}

/* ---- follows and blocks ----------------------------------------------------------- */

static store_err_t
mark(store_t *s, uint8_t table, const uint8_t author[static AUTHOR_SIZE], uint64_t now_ms)
{
    uint8_t key[AUTHOR_KEY_LEN], v[SINCE_VAL_LEN];
    size_t klen = key_of(key, table, author, AUTHOR_SIZE);
    bool have = false;
    store_err_t err = exists(s, key, klen, &have);
    if (err != STORE_OK || have) {
        return err; /* marking twice keeps the first time */
    }
    bytes_be64_put(v, now_ms);
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    batch_put(wb, key, klen, v, sizeof v);
    err = write_batch(s, wb, true);
    leveldb_writebatch_destroy(wb);
    return err;
}

/* Deletes key; STORE_ENOTFOUND when it is not there. */
static store_err_t
delete_existing(store_t *s, const uint8_t *key, size_t klen, bool sync)
{
    bool have = false;
    store_err_t err = exists(s, key, klen, &have);
    if (err != STORE_OK || !have) {
        return err != STORE_OK ? err : STORE_ENOTFOUND;
    }
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    batch_del(wb, key, klen);
    err = write_batch(s, wb, sync);
    leveldb_writebatch_destroy(wb);
    return err;
}

static store_err_t
unmark(store_t *s, uint8_t table, const uint8_t author[static AUTHOR_SIZE])
{
    uint8_t key[AUTHOR_KEY_LEN];
    return delete_existing(s, key, key_of(key, table, author, AUTHOR_SIZE), true);
}

static store_err_t
list_marks(store_t *s, uint8_t table, store_author_cb cb, void *ud, uint64_t *count)
{
    const uint8_t prefix[1] = {table};
    leveldb_iterator_t *it = new_iter(s);
    leveldb_iter_seek(it, (const char *)prefix, 1);
    store_err_t err = STORE_OK;
    *count = 0;
    for (; iter_in(it, prefix, 1); leveldb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = iter_key(it, &klen);
        const uint8_t *v = iter_val(it, &vlen);
        if (klen != AUTHOR_KEY_LEN || vlen != SINCE_VAL_LEN) {
            err = corrupt(s, "a follow or block record has the wrong length");
            break;
        }
        ++*count;
        if (cb != NULL) {
            uint8_t author[AUTHOR_SIZE];
            memcpy(author, k + 1, AUTHOR_SIZE);
            if (!cb(ud, author, bytes_be64_get(v))) {
                break;
            }
        }
    }
    return iter_finish(s, it, err);
}

store_err_t
store_follow(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t now_ms)
{
    return mark(s, T_FOLLOW, author, now_ms);
}

store_err_t
store_unfollow(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE])
{
    return unmark(s, T_FOLLOW, author);
}

store_err_t
store_is_following(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE], bool *yes)
{
    uint8_t key[AUTHOR_KEY_LEN];
    return exists(s, key, key_of(key, T_FOLLOW, author, AUTHOR_SIZE), yes);
}

store_err_t
store_following(store_t *s, store_author_cb cb, void *ud)
{
    uint64_t n = 0;
    return list_marks(s, T_FOLLOW, cb, ud, &n);
}

store_err_t
store_unblock(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE])
{
    blocks_changed(s);
    return unmark(s, T_BLOCK, author);
}

store_err_t
store_is_blocked(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE], bool *yes)
{
    return is_blocked(s, author, yes);
}

store_err_t
store_blocked(store_t *s, store_author_cb cb, void *ud)
{
    uint64_t n = 0;
    return list_marks(s, T_BLOCK, cb, ud, &n);
}

/* ---- purge ----------------------------------------------------------------------- */

typedef struct {
    store_t *s;
    leveldb_writebatch_t *wb;
    size_t ops;
    counters_t n;
    uint64_t purged;
} purge_t;

static store_err_t
purge_flush(purge_t *pg, bool force)
{
    if (pg->ops < PURGE_BATCH_OPS && !force) {
        return STORE_OK;
    }
    put_counters(pg->wb, &pg->n, &pg->s->written);
    store_err_t err = write_batch(pg->s, pg->wb, false);
    leveldb_writebatch_clear(pg->wb);
    pg->ops = 0;
    if (err == STORE_OK) {
        pg->s->n = pg->s->written = pg->n;
    }
    return err;
}

static void
dec(uint64_t *c)
{
    if (*c > 0) {
        --*c;
    }
}

/* Deletes 'p'|id when present; for a feed post also the index entries its
 * content created, which only its decoded bytes can name. */
static store_err_t
purge_post(purge_t *pg, const uint8_t id[static POST_ID_SIZE], bool indexed)
{
    uint8_t raw[POST_MAX_SIZE], key[KEY_MAX];
    size_t len = 0;
    size_t klen = key_of(key, T_POST, id, POST_ID_SIZE);
    store_err_t err = get_var(pg->s, key, klen, raw, sizeof raw, &len);
    if (err == STORE_ENOTFOUND) {
        return STORE_OK;
    }
    if (err != STORE_OK && err != STORE_ECORRUPT) {
        return err;
    }
    /* A value too long to be a post is removed all the same. */
    batch_del(pg->wb, key, klen);
    pg->ops++;
    dec(&pg->n.posts);
    pg->purged++;
    post_t p;
    if (err != STORE_OK || !indexed || post_decode(&p, raw, len, POST_NO_VERIFY) != POST_OK) {
        return STORE_OK;
    }
    if (p.kind == POST_KIND_POST || p.kind == POST_KIND_REPLY) {
        batch_del(pg->wb, key, key_time(key, p.timestamp_ms, p.id));
        pg->ops++;
    }
    if (p.kind == POST_KIND_REPLY) {
        batch_del(pg->wb, key, key_reply(key, &p));
        pg->ops++;
    } else if (p.kind == POST_KIND_DELETE) {
        batch_del(pg->wb, key, key_delete(key, p.ref, p.author));
        pg->ops++;
    }
    return STORE_OK;
}

/* Removes every record under prefix ('f'|author or 'x'|author) and the post
 * each names. */
static store_err_t
purge_table(purge_t *pg, uint8_t table, const uint8_t author[static AUTHOR_SIZE])
{
    uint8_t prefix[AUTHOR_KEY_LEN];
    key_of(prefix, table, author, AUTHOR_SIZE);
    size_t want = table == T_FEED ? SEQ_KEY_LEN : FORK_KEY_LEN;
    leveldb_iterator_t *it = new_iter(pg->s);
    store_err_t err = STORE_OK;
    leveldb_iter_seek(it, (const char *)prefix, sizeof prefix);
    for (; err == STORE_OK && iter_in(it, prefix, sizeof prefix); leveldb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = iter_key(it, &klen);
        const uint8_t *v = iter_val(it, &vlen);
        uint8_t id[POST_ID_SIZE];
        if (klen == want && table == T_FEED && vlen == POST_ID_SIZE) {
            memcpy(id, v, POST_ID_SIZE);
            err = purge_post(pg, id, true);
        } else if (klen == want && table == T_FORK) {
            memcpy(id, k + SEQ_KEY_LEN, POST_ID_SIZE);
            err = purge_post(pg, id, false);
            dec(&pg->n.forks);
        }
        batch_del(pg->wb, k, klen);
        pg->ops++;
        if (err == STORE_OK) {
            err = purge_flush(pg, false);
        }
    }
    if (err == STORE_OK) {
        err = iter_error(pg->s, it);
    }
    leveldb_iter_destroy(it);
    return err;
}

static store_err_t
purge_author(store_t *s, const uint8_t author[static AUTHOR_SIZE], uint64_t *purged)
{
    purge_t pg = {.s = s, .n = s->n, .wb = leveldb_writebatch_create()};
    uint8_t key[AUTHOR_KEY_LEN];
    bool had_head = false;
    size_t hlen = key_of(key, T_HEAD, author, AUTHOR_SIZE);
    store_err_t err = exists(s, key, hlen, &had_head);
    if (err == STORE_OK) {
        err = purge_table(&pg, T_FEED, author);
    }
    if (err == STORE_OK) {
        err = purge_table(&pg, T_FORK, author);
    }
    if (err == STORE_OK) {
        /* The head goes last, so an interrupted purge still shows the author. */
        batch_del(pg.wb, key, hlen);
        batch_del(pg.wb, key, key_of(key, T_NAME, author, AUTHOR_SIZE));
        if (had_head) {
            dec(&pg.n.authors);
        }
        err = purge_flush(&pg, true);
    }
    leveldb_writebatch_destroy(pg.wb);
    *purged = pg.purged;
    return err;
}

store_err_t
store_block(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t now_ms,
            uint64_t *purged)
{
    uint64_t local = 0;
    uint64_t *count = purged != NULL ? purged : &local;
    *count = 0;
    /* The block is written first: if the purge is interrupted, blocking again
     * finishes it, and nothing of the author is taken in meanwhile. */
    blocks_changed(s);
    store_err_t err = mark(s, T_BLOCK, author, now_ms);
    if (err == STORE_OK) {
        err = store_unfollow(s, author);
        err = err == STORE_ENOTFOUND ? STORE_OK : err;
    }
    return err != STORE_OK ? err : purge_author(s, author, count);
}

/* ---- forks and stats ------------------------------------------------------------ */

static store_err_t
decode_fork(store_t *s, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
            store_fork_t *f)
{
    if (klen != FORK_KEY_LEN || vlen != FORK_VAL_LEN) {
        return corrupt(s, "a fork record has the wrong length");
    }
    const uint8_t *evidence = k + SEQ_KEY_LEN;
    const uint8_t *other = v + 1;
    f->seq = bytes_be64_get(k + 1 + AUTHOR_SIZE);
    switch (v[0]) {
    case X_SAME_SEQ:
    case X_LINK_NEXT:
        f->kind = v[0] == X_SAME_SEQ ? STORE_FORK_SAME_SEQ : STORE_FORK_BAD_LINK;
        memcpy(f->first, other, POST_ID_SIZE);
        memcpy(f->second, evidence, POST_ID_SIZE);
        return STORE_OK;
    case X_LINK_PREV:
        f->kind = STORE_FORK_BAD_LINK;
        memcpy(f->first, evidence, POST_ID_SIZE);
        memcpy(f->second, other, POST_ID_SIZE);
        return STORE_OK;
    default:
        return corrupt(s, "a fork record has an unknown kind");
    }
}

store_err_t
store_forks(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE], store_fork_cb cb, void *ud)
{
    uint8_t prefix[AUTHOR_KEY_LEN];
    key_of(prefix, T_FORK, author, AUTHOR_SIZE);
    leveldb_iterator_t *it = new_iter(s);
    leveldb_iter_seek(it, (const char *)prefix, sizeof prefix);
    store_err_t err = STORE_OK;
    for (; iter_in(it, prefix, sizeof prefix); leveldb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = iter_key(it, &klen);
        const uint8_t *v = iter_val(it, &vlen);
        store_fork_t f;
        err = decode_fork(s, k, klen, v, vlen, &f);
        if (err != STORE_OK || !cb(ud, &f)) {
            break;
        }
    }
    return iter_finish(s, it, err);
}

store_err_t
store_stats(store_t *s, store_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->posts = s->n.posts;
    out->authors = s->n.authors;
    out->forks = s->n.forks;
    return list_marks(s, T_FOLLOW, NULL, NULL, &out->follows);
}

store_err_t
store_has_post(store_t *s, const uint8_t id[static POST_ID_SIZE], bool *yes)
{
    uint8_t key[ID_KEY_LEN];
    return exists(s, key, key_of(key, T_POST, id, POST_ID_SIZE), yes);
}

/* ---- peers ----------------------------------------------------------------------- */

static bool
endpoint_text_ok(const uint8_t *p, size_t n)
{
    if (n == 0 || n > STORE_ENDPOINT_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x21 || p[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

store_err_t
store_peer_save(store_t *s, const uint8_t node_key[static KEYS_PUBLIC_SIZE], const char *endpoint,
                uint64_t last_seen_ms)
{
    size_t n = strnlen(endpoint, STORE_ENDPOINT_MAX + 1);
    if (!endpoint_text_ok((const uint8_t *)endpoint, n)) {
        return STORE_EINVAL;
    }
    uint8_t key[PEER_KEY_LEN], val[PEER_VAL_MAX];
    size_t klen = key_of(key, T_PEER, node_key, KEYS_PUBLIC_SIZE);
    size_t old_len = 0;
    store_err_t err = get_var(s, key, klen, val, sizeof val, &old_len);
    if (err == STORE_OK && old_len >= 8 && bytes_be64_get(val) > last_seen_ms) {
        /* Adding a known peer by hand must not make it look older. */
        last_seen_ms = bytes_be64_get(val);
    } else if (err != STORE_OK && err != STORE_ENOTFOUND && err != STORE_ECORRUPT) {
        return err;
    }
    bytes_be64_put(val, last_seen_ms);
    memcpy(val + 8, endpoint, n);
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    batch_put(wb, key, klen, val, 8 + n);
    err = write_batch(s, wb, false);
    leveldb_writebatch_destroy(wb);
    return err;
}

store_err_t
store_peer_forget(store_t *s, const uint8_t node_key[static KEYS_PUBLIC_SIZE])
{
    uint8_t key[PEER_KEY_LEN];
    return delete_existing(s, key, key_of(key, T_PEER, node_key, KEYS_PUBLIC_SIZE), false);
}

/* A peer record that is malformed is skipped, not fatal: the table is a
 * hint for finding the network again, and one bad record must not keep a
 * node from starting. *bad counts them. */
static bool
decode_peer(const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
            uint8_t key[KEYS_PUBLIC_SIZE], char endpoint[STORE_ENDPOINT_MAX + 1],
            uint64_t *last_seen)
{
    if (klen != PEER_KEY_LEN || vlen < PEER_VAL_MIN || vlen > PEER_VAL_MAX ||
        !endpoint_text_ok(v + 8, vlen - 8)) {
        return false;
    }
    memcpy(key, k + 1, KEYS_PUBLIC_SIZE);
    *last_seen = bytes_be64_get(v);
    memcpy(endpoint, v + 8, vlen - 8);
    endpoint[vlen - 8] = '\0';
    return true;
}

static store_err_t
list_contacts(store_t *s, uint8_t table, store_peer_cb cb, void *ud, size_t *bad)
{
    const uint8_t prefix[1] = {table};
    leveldb_iterator_t *it = new_iter(s);
    leveldb_iter_seek(it, (const char *)prefix, 1);
    size_t skipped = 0;
    for (; iter_in(it, prefix, 1); leveldb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = iter_key(it, &klen);
        const uint8_t *v = iter_val(it, &vlen);
        uint8_t key[KEYS_PUBLIC_SIZE];
        char endpoint[STORE_ENDPOINT_MAX + 1];
        uint64_t seen = 0;
        if (!decode_peer(k, klen, v, vlen, key, endpoint, &seen)) {
            skipped++;
            continue;
        }
        if (!cb(ud, key, endpoint, seen)) {
            break;
        }
    }
    if (bad != NULL) {
        *bad = skipped;
    }
    return iter_finish(s, it, STORE_OK);
}

store_err_t
store_peers(store_t *s, store_peer_cb cb, void *ud, size_t *bad)
{
    return list_contacts(s, T_PEER, cb, ud, bad);
}

store_err_t
store_routes(store_t *s, store_peer_cb cb, void *ud, size_t *bad)
{
    return list_contacts(s, T_ROUTE, cb, ud, bad);
}

/* Adds a delete of every record of table to wb. */
static store_err_t
delete_table(store_t *s, uint8_t table, leveldb_writebatch_t *wb)
{
    const uint8_t prefix[1] = {table};
    leveldb_iterator_t *it = new_iter(s);
    leveldb_iter_seek(it, (const char *)prefix, 1);
    for (; iter_in(it, prefix, 1); leveldb_iter_next(it)) {
        size_t klen = 0;
        const uint8_t *k = iter_key(it, &klen);
        batch_del(wb, k, klen);
    }
    return iter_finish(s, it, STORE_OK);
}

store_err_t
store_routes_replace(store_t *s, const store_contact_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strnlen(c[i].endpoint, STORE_ENDPOINT_MAX + 1);
        if (!endpoint_text_ok((const uint8_t *)c[i].endpoint, len)) {
            return STORE_EINVAL;
        }
    }
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    store_err_t err = delete_table(s, T_ROUTE, wb);
    for (size_t i = 0; err == STORE_OK && i < n; i++) {
        uint8_t key[PEER_KEY_LEN], val[PEER_VAL_MAX];
        size_t len = strlen(c[i].endpoint);
        bytes_be64_put(val, c[i].last_seen_ms);
        memcpy(val + 8, c[i].endpoint, len);
        batch_put(wb, key, key_of(key, T_ROUTE, c[i].node_key, KEYS_PUBLIC_SIZE), val, 8 + len);
    }
    if (err == STORE_OK) {
        err = write_batch(s, wb, false);
    }
    leveldb_writebatch_destroy(wb);
    return err;
}

typedef struct {
    uint64_t *seen;
    size_t n;
    size_t cap;
    bool oom;
} seen_list_t;

static bool
collect_seen(void *ud, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint,
             uint64_t last_seen_ms)
{
    (void)key;
    (void)endpoint;
    seen_list_t *l = ud;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 256;
        uint64_t *p = realloc(l->seen, ncap * sizeof *p);
        if (p == NULL) {
            l->oom = true;
            return false;
        }
        l->seen = p;
        l->cap = ncap;
    }
    l->seen[l->n++] = last_seen_ms;
    return true;
}

static int
cmp_u64_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Deletes every record older than cutoff, and malformed ones; at most
 * `ties` records seen exactly at cutoff are also deleted. */
static store_err_t
delete_older(store_t *s, uint64_t cutoff, size_t ties, uint64_t *removed)
{
    const uint8_t prefix[1] = {T_PEER};
    leveldb_iterator_t *it = new_iter(s);
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    leveldb_iter_seek(it, (const char *)prefix, 1);
    for (; iter_in(it, prefix, 1); leveldb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = iter_key(it, &klen);
        const uint8_t *v = iter_val(it, &vlen);
        uint8_t key[KEYS_PUBLIC_SIZE];
        char endpoint[STORE_ENDPOINT_MAX + 1];
        uint64_t seen = 0;
        bool ok = decode_peer(k, klen, v, vlen, key, endpoint, &seen);
        bool tie = ok && seen == cutoff && ties > 0;
        if (!ok || seen < cutoff || tie) {
            ties -= tie ? 1 : 0;
            batch_del(wb, k, klen);
            ++*removed;
        }
    }
    store_err_t err = iter_finish(s, it, STORE_OK);
    if (err == STORE_OK) {
        err = write_batch(s, wb, false);
    }
    leveldb_writebatch_destroy(wb);
    return err;
}

store_err_t
store_peers_prune(store_t *s, size_t keep, uint64_t *removed)
{
    uint64_t local = 0;
    uint64_t *count = removed != NULL ? removed : &local;
    *count = 0;
    seen_list_t l = {NULL, 0, 0, false};
    size_t bad = 0;
    store_err_t err = store_peers(s, collect_seen, &l, &bad);
    if (err == STORE_OK && l.oom) {
        err = STORE_ENOMEM;
    }
    if (err == STORE_OK && (l.n > keep || bad > 0)) {
        uint64_t cutoff = 0;
        size_t ties = 0;
        if (l.n > keep) {
            qsort(l.seen, l.n, sizeof *l.seen, cmp_u64_desc);
            /* Keep the `keep` newest: everything older than the keep-th
             * newest goes, and of those seen at that same time, as many as
             * are over. keep = 0 deletes all. */
            cutoff = keep > 0 ? l.seen[keep - 1] : UINT64_MAX;
            size_t at_or_newer = keep;
            while (at_or_newer < l.n && l.seen[at_or_newer] == cutoff) {
                at_or_newer++;
            }
            ties = keep > 0 ? at_or_newer - keep : l.n;
        }
        err = delete_older(s, cutoff, ties, count);
    }
    free(l.seen);
    return err;
}
