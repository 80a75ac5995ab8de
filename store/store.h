/* store: everything a node keeps on disk, in one LevelDB database.
 *
 * Keyspace (docs/INTERNALS.md, "Store", describes it exactly): posts by id, the
 * per-author feed index by (author, big-endian seq), per-author head, the
 * timeline index, display-name pointers, delete tombstones, follows, blocks
 * and fork evidence. A post and all its index entries go in one WriteBatch.
 *
 * One store_t per process and directory: LevelDB's LOCK file makes a second
 * opener (another process) fail with STORE_ELOCKED. A store_t is used from one
 * thread at a time. */
#ifndef SAMIZDAT_STORE_H
#define SAMIZDAT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "post.h"

enum {
    /* A post stamped further than this in the future is refused. */
    STORE_FUTURE_SKEW_MS = 15 * 60 * 1000,
};

typedef struct store store_t;

typedef enum {
    STORE_OK = 0,
    STORE_EIO,       /* LevelDB reported an error (disk full, permissions ...) */
    STORE_ELOCKED,   /* another process holds the database */
    STORE_ECORRUPT,  /* a record read back is malformed or does not match its id */
    STORE_ENOTFOUND, /* no such record */
    STORE_ENOMEM,
    STORE_EINVAL, /* a bad argument, e.g. a post that fails to decode */
} store_err_t;

const char *store_strerror(store_err_t err);

/* What store_ingest did with a post. */
typedef enum {
    STORE_INGEST_EXTENDED = 0, /* seq = head + 1 and prev = head id: the feed grew */
    STORE_INGEST_AHEAD,        /* beyond head + 1: kept, the gap is visible in the head */
    STORE_INGEST_DUPLICATE,    /* this id is already stored: nothing written */
    STORE_INGEST_FORK,         /* conflicts with a stored post of that author: kept as evidence */
    STORE_INGEST_BLOCKED,      /* the author is blocked: not stored */
    STORE_INGEST_FUTURE,       /* timestamp more than STORE_FUTURE_SKEW_MS ahead: refused */
    STORE_INGEST_INVALID,      /* did not decode or verify: refused (see post_err) */
} store_ingest_t;

const char *store_ingest_name(store_ingest_t r);

typedef struct {
    store_ingest_t result;
    post_err_t post_err; /* why, when result is STORE_INGEST_INVALID */
    uint8_t id[POST_ID_SIZE];
} store_ingest_info_t;

typedef struct {
    bool create_if_missing; /* default true */
    size_t cache_bytes;     /* LevelDB block cache; 0 = 8 MiB */
} store_options_t;

/* Opens (or creates) the database in dir. opts NULL = defaults. On error
 * *out is NULL and detail (if not NULL) holds LevelDB's message.
 * Returned store is freed with store_close(). */
store_err_t store_open(store_t **out, const char *dir, const store_options_t *opts, char *detail,
                       size_t detail_cap);
/* Closes and frees. Accepts NULL. */
void store_close(store_t *s);

/* The last LevelDB error message, "" if none. Borrowed until the next call. */
const char *store_last_error(const store_t *s);

/* Decodes, verifies and stores a post from outside, applying the ingest rules:
 * verify first; refuse a blocked author or a timestamp too far ahead;
 * a duplicate id is a no-op; seq = head + 1 with prev = head id extends the
 * feed (and then absorbs posts already held beyond it); a post further ahead
 * is kept; a post that conflicts with a stored one (same seq, other id; or a
 * prev link that disagrees with a stored neighbour) is kept as fork evidence
 * and never replaces what was stored first.
 * Returns STORE_OK whatever the ingest result (see info); an error only when
 * the database failed. buf borrowed for the call. */
store_err_t store_ingest(store_t *s, const uint8_t *buf, size_t len, uint64_t now_ms,
                         store_ingest_info_t *info);

/* Like store_ingest for a post the caller already decoded and verified from
 * exactly these bytes. */
store_err_t store_ingest_decoded(store_t *s, const post_t *p, const uint8_t *buf, size_t len,
                                 uint64_t now_ms, store_ingest_info_t *info);

/* Batched ingest. Between store_batch_begin and store_batch_end,
 * store_ingest and store_ingest_decoded add their writes to one pending
 * LevelDB batch instead of writing each post: each reports its result as
 * usual and sees the posts before it in the batch; every STORE_BATCH_POSTS
 * posts the batch is written and another begun, and store_batch_end writes
 * what is left. Point reads in between (a head, a post, a profile, a
 * follow) see the batch; scans (feeds, the timeline, replies, forks, export)
 * see the database as it was before it, and writes other than ingest are
 * not allowed (store_close ends the batch). Writes are not synced, as ingest's never are. If a
 * write fails, or an ingest fails halfway, the posts of the pending batch
 * are not stored whatever their results said: store_batch_end (or the
 * ingest that flushed) returns the error, the counters return to what is
 * on disk, and the posts must be taken again. EINVAL: a batch is already
 * open (begin) or none is (end). */
enum { STORE_BATCH_POSTS = 256 };
store_err_t store_batch_begin(store_t *s);
store_err_t store_batch_end(store_t *s);

/* Publishes one's own post: takes seq = highest seq stored for k's author + 1
 * and prev = that post's id, signs draft (see post_init; its seq and prev are
 * overwritten), and writes it with sync before returning, so a crash can never
 * lead to two different posts with one seq. On success draft holds the signed
 * post (id included). */
store_err_t store_publish(store_t *s, const keys_author_t *k, post_t *draft, post_err_t *post_err);

/* Whether a post with this id is stored (in a feed or as evidence): one
 * point read, no decoding. */
store_err_t store_has_post(store_t *s, const uint8_t id[static POST_ID_SIZE], bool *yes);

/* Reads a post by id, checks it against its id (STORE_ECORRUPT otherwise, and
 * the post is not returned) and decodes it. raw/raw_len optional: the encoded
 * bytes (raw must hold POST_MAX_SIZE). */
store_err_t store_get_post(store_t *s, const uint8_t id[static POST_ID_SIZE], post_t *out,
                           uint8_t *raw, size_t *raw_len);

typedef struct {
    uint64_t seq;             /* contiguous head: posts 1..seq are all stored; 0 = none */
    uint8_t id[POST_ID_SIZE]; /* id of post seq (zeros when seq = 0) */
    uint64_t max_seq;         /* highest seq stored; > seq means a gap */
} store_head_t;

/* STORE_ENOTFOUND when nothing of this author is stored. */
store_err_t store_get_head(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE],
                           store_head_t *out);

/* The highest seq of author held in any form (feed, or fork evidence): the
 * number store_publish signs next is *top + 1. 0 when nothing is held. */
store_err_t store_own_top(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t *top);

/* Called for each post; return false to stop early. p and raw borrowed for the call. */
typedef bool (*store_post_cb)(void *ud, const post_t *p, const uint8_t *raw, size_t raw_len);

/* One author's feed, newest (highest seq) first, posts with seq < before_seq
 * (0 = no bound), at most limit (0 = no limit). */
store_err_t store_feed(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE],
                       uint64_t before_seq, size_t limit, store_post_cb cb, void *ud);

/* Same, oldest first, from from_seq upwards (for export). */
store_err_t store_feed_forward(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE],
                               uint64_t from_seq, size_t limit, store_post_cb cb, void *ud);

/* A position in the timeline: posts strictly older than (timestamp, id). */
typedef struct {
    uint64_t timestamp_ms; /* 0 = start from the newest */
    uint8_t id[POST_ID_SIZE];
} store_cursor_t;

/* Posts (kinds POST and REPLY) by followed authors and by self (may be NULL),
 * newest first, older than cursor (NULL = from the newest), at most limit. */
store_err_t store_timeline(store_t *s, const uint8_t *self, const store_cursor_t *cursor,
                           size_t limit, store_post_cb cb, void *ud);

/* The stored replies to parent, oldest first, at most limit (0: all):
 * cb as for store_feed. Replies of blocked authors are not stored. */
store_err_t store_replies(store_t *s, const uint8_t parent[static POST_ID_SIZE], size_t limit,
                          store_post_cb cb, void *ud);

/* Latest PROFILE post of author: STORE_ENOTFOUND when none. */
store_err_t store_get_profile(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE],
                              post_t *out);

/* Whether id was deleted by its own author (a DELETE post naming it, from the
 * same author). deleted_by optional: the delete post's id. */
store_err_t store_is_deleted(store_t *s, const uint8_t id[static POST_ID_SIZE], bool *deleted,
                             uint8_t *deleted_by);

/* Follows. following is idempotent: following twice is STORE_OK. */
store_err_t store_follow(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE],
                         uint64_t now_ms);
store_err_t
store_unfollow(store_t *s,
               const uint8_t author[static KEYS_PUBLIC_SIZE]); /* ENOTFOUND if not followed */
store_err_t store_is_following(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE],
                               bool *yes);
typedef bool (*store_author_cb)(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE],
                                uint64_t since_ms);
store_err_t store_following(store_t *s, store_author_cb cb, void *ud);

/* Blocks: the author's stored posts are deleted, the follow removed, and
 * later posts refused. *purged (optional) counts posts removed. */
store_err_t store_block(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t now_ms,
                        uint64_t *purged);
store_err_t
store_unblock(store_t *s,
              const uint8_t author[static KEYS_PUBLIC_SIZE]); /* ENOTFOUND if not blocked */
store_err_t store_is_blocked(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE], bool *yes);
store_err_t store_blocked(store_t *s, store_author_cb cb, void *ud);

/* Fork evidence for an author: each pair is two posts, both signed by the
 * author, that cannot both be in one feed. */
typedef enum {
    STORE_FORK_SAME_SEQ = 1, /* two different posts with one seq */
    STORE_FORK_BAD_LINK = 2, /* post `first` at seq s and post `second` at s + 1
                                whose prev is not first's id; one is in the feed,
                                the one that came later is kept as evidence */
} store_fork_kind_t;

typedef struct {
    store_fork_kind_t kind;
    uint64_t seq;                 /* seq of `first` */
    uint8_t first[POST_ID_SIZE];  /* SAME_SEQ: the post in the feed */
    uint8_t second[POST_ID_SIZE]; /* SAME_SEQ: the later one, kept as evidence */
} store_fork_t;

typedef bool (*store_fork_cb)(void *ud, const store_fork_t *f);
store_err_t store_forks(store_t *s, const uint8_t author[static KEYS_PUBLIC_SIZE], store_fork_cb cb,
                        void *ud);

typedef struct {
    uint64_t posts;   /* posts stored, evidence included */
    uint64_t authors; /* authors with at least one post */
    uint64_t follows;
    uint64_t forks;
} store_stats_t;

store_err_t store_stats(store_t *s, store_stats_t *out);

/* Peers: nodes this node has talked to, for finding the network again at the
 * next start. An endpoint is printable ASCII without spaces, 1 to
 * STORE_ENDPOINT_MAX bytes (node/ checks its full syntax). Not synced: losing
 * the latest updates in a crash costs nothing but a slower start. */
enum { STORE_ENDPOINT_MAX = 128 };

/* Saves or updates a peer. A record's last_seen never goes backwards: a
 * smaller last_seen_ms (e.g. 0 for a peer added by hand) keeps the stored
 * one. STORE_EINVAL for an endpoint that breaks the rule above. endpoint
 * borrowed for the call. */
store_err_t store_peer_save(store_t *s, const uint8_t node_key[static KEYS_PUBLIC_SIZE],
                            const char *endpoint, uint64_t last_seen_ms);
/* STORE_ENOTFOUND when there is no such peer. */
store_err_t store_peer_forget(store_t *s, const uint8_t node_key[static KEYS_PUBLIC_SIZE]);

/* key and endpoint borrowed for the call; return false to stop. */
typedef bool (*store_peer_cb)(void *ud, const uint8_t node_key[KEYS_PUBLIC_SIZE],
                              const char *endpoint, uint64_t last_seen_ms);
/* Every peer, in key order. Malformed records are skipped and counted in
 * *bad (optional), never fatal. */
store_err_t store_peers(store_t *s, store_peer_cb cb, void *ud, size_t *bad);
/* Keeps the `keep` most recently seen peers and deletes the others and any
 * malformed record. *removed (optional) counts deletions. */
store_err_t store_peers_prune(store_t *s, size_t keep, uint64_t *removed);

/* The DHT routing table, saved so a restart does not begin from nothing.
 * Same record shape and endpoint rule as peers, table 'R'. */
typedef struct {
    uint8_t node_key[KEYS_PUBLIC_SIZE];
    char endpoint[STORE_ENDPOINT_MAX + 1];
    uint64_t last_seen_ms;
} store_contact_t;

/* Replaces the whole saved table with c[0..n) in one batch. STORE_EINVAL
 * (and nothing written) when an endpoint breaks the rule. c borrowed. */
store_err_t store_routes_replace(store_t *s, const store_contact_t *c, size_t n);
/* Every saved contact, in key order; malformed records skipped and counted
 * in *bad (optional). */
store_err_t store_routes(store_t *s, store_peer_cb cb, void *ud, size_t *bad);

#endif
