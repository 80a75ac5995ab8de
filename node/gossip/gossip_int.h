/* gossip_int: the state of gossip_t, shared by its source files and by
 * nothing else.
 *
 *     gossip.c        lifecycle, peers, SUBSCRIBE, push (eager/lazy), PRUNE/GRAFT,
 *                     scores, the tick
 *     gossip_post.c   one path for every post received: limits, seen-cache,
 *                     verification, store, forward; forks; publish
 *     gossip_sync.c   HEADS, pulls, lazy fetches, requests, serving GET_RANGE
 *     gossip_table.c  the seen-cache, token buckets, growable buffers
 *
 * Nothing here is part of the public API; layouts may change freely. */
#ifndef SAMIZDAT_GOSSIP_INT_H
#define SAMIZDAT_GOSSIP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip.h"

enum {
    KEY_LEN = 32,
    SEEN_GEN_MAX = GOSSIP_SEEN_MAX / 2, /* ids per half of the seen-cache */
    SEEN_SLOTS_MIN = 64,
    FRAME_MAX = GOSSIP_FRAME_MAX,
};

/* ---- growable byte buffer, for frames and lists built to send ---- */

typedef struct {
    uint8_t *p;
    size_t cap;
} gbuf_t;

/* Makes b hold at least n bytes (n <= FRAME_MAX * 2). False on ENOMEM. */
bool gossip_buf_reserve(gbuf_t *b, size_t n);
void gossip_buf_free(gbuf_t *b);

/* ---- token bucket, in thousandths of a token ---- */

typedef struct {
    uint64_t milli;
    uint64_t last_ms;
} bucket_t;

void gossip_bucket_init(bucket_t *b, uint32_t burst, uint64_t now_ms);
/* Whole tokens available now (after refilling at rate per second). */
uint32_t gossip_bucket_avail(bucket_t *b, uint32_t rate, uint32_t burst, uint64_t now_ms);
/* Takes n tokens if there are; false (and nothing taken) otherwise. */
bool gossip_bucket_take(bucket_t *b, uint32_t rate, uint32_t burst, uint32_t n, uint64_t now_ms);

/* ---- seen-cache: two halves, the older dropped whole when the newer fills
 * or grows old, so an id is remembered between TTL/2 and TTL (or until
 * GOSSIP_SEEN_MAX / 2 newer ids came). Keyed SipHash, so a peer cannot aim
 * ids at one bucket. ---- */

enum {
    SEEN_OK = 1,  /* verified (or ours), processed */
    SEEN_BAD = 2, /* failed verification: later copies are refused unchecked */
};

typedef struct {
    uint8_t id[POST_ID_SIZE];
    uint8_t state; /* 0 empty, SEEN_OK, SEEN_BAD */
} seen_slot_t;

typedef struct {
    seen_slot_t *slots;
    size_t n_slots; /* a power of two, at least twice count */
    size_t count;
    uint64_t started_ms;
} seen_half_t;

typedef struct {
    seen_half_t half[2];
    int cur;
    uint8_t key[16];
} seen_t;

/* 0 when unknown, else SEEN_OK or SEEN_BAD. */
int gossip_seen_get(const seen_t *s, const uint8_t id[static POST_ID_SIZE]);
/* Remembers id with state. False on ENOMEM (the id is then not kept). */
bool gossip_seen_put(seen_t *s, const uint8_t id[static POST_ID_SIZE], int state, uint64_t now_ms);
void gossip_seen_free(seen_t *s);

/* ---- peers ---- */

enum {
    SUB_EAGER = 0x01, /* we push this author's posts to the peer in full */
};

/* One author a peer subscribed to. A peer's array is sorted by author. */
typedef struct {
    uint8_t author[KEY_LEN];
    uint8_t flags;
} sub_t;

typedef struct {
    uint8_t key[KEY_LEN];
    uint32_t gen; /* tells this peer from an earlier one in the same slot */
    sub_t *subs;
    size_t n_subs, cap_subs;
    bool subs_open;         /* a SUBSCRIBE with FIRST came: continuations may follow */
    bool heads_in;          /* it has sent a HEADS since it came up */
    uint64_t heads_out_ms;  /* when we last sent it a HEADS; 0: never */
    uint64_t subscribe_due; /* ours could not be sent: try again then; 0 = sent */
    int32_t score;
    uint64_t score_ms;
    bool reported;
    bucket_t msg_bucket, verify_bucket, serve_bucket;
    bucket_t fetch_bucket; /* checks of posts we asked it for */
    bucket_t ask_bucket;   /* our GET_RANGE to it, paced to what it serves */
    uint8_t *ihave;        /* queued IHAVE refs, GOSSIP_REF_SIZE each; freed when sent */
    size_t n_ihave;
    uint64_t ihave_due;
    uint64_t heads_due;     /* next periodic HEADS */
    size_t heads_cursor;    /* where the next periodic HEADS starts, in our set */
    unsigned reqs;          /* GET_RANGE of ours in flight to it */
    unsigned missing_first; /* missing ids it announced first */
} gossip_peer_t;

/* A peer named without a pointer, so an entry cannot outlive its peer:
 * valid only while slot holds a peer of that generation. */
typedef struct {
    uint8_t slot;
    uint32_t gen;
} pref_t;

/* ---- requests in flight ---- */

typedef enum {
    REQ_NONE = 0,
    REQ_SYNC, /* pulling a range after HEADS */
    REQ_LAZY, /* fetching one post announced by IHAVE */
} req_kind_t;

typedef struct {
    req_kind_t kind;
    pref_t peer;
    uint32_t rid;
    uint8_t author[KEY_LEN];
    uint64_t from_seq;
    uint8_t count;
    uint64_t deadline;
    uint8_t id[POST_ID_SIZE]; /* REQ_LAZY: the id wanted */
} req_t;

/* An id announced by IHAVE (or a head that disagrees with ours) that we do
 * not hold. */
typedef struct {
    gossip_ref_t ref;
    uint64_t due_ms;
    pref_t ann[GOSSIP_ANNOUNCERS_MAX];
    uint8_t n_ann;
    uint8_t next_ann;
    bool fetching;
} missing_t;

/* An author whose feed some peer holds further than we do. */
typedef struct {
    uint8_t author[KEY_LEN];
    uint64_t target;
    struct {
        pref_t peer;
        uint64_t seq;
    } cand[GOSSIP_SYNC_PEERS_MAX];
    uint8_t n_cand;
    uint8_t inflight;   /* pages asked and not yet answered */
    bool flowing;       /* the last page answered moved the feed: pipeline on */
    uint64_t next_from; /* the lowest seq not yet asked in this sweep */
    uint64_t due_ms;
    /* A pull more than a page behind (a new follow, a week offline) fetches
     * the newest page first, so the timeline shows it at once, then fills
     * from the bottom up to fill_until, the seq below that page. */
    bool newest_done;
    uint64_t fill_until;
} sync_t;

typedef struct {
    uint8_t author[KEY_LEN];
    bucket_t b;
    uint64_t used_ms;
} author_bucket_t;

/* Where a post came from: decides what is done with it after the store. */
typedef enum {
    ORIGIN_EAGER, /* a POST frame */
    ORIGIN_LAZY,  /* a RANGE answering a fetch after IHAVE */
    ORIGIN_SYNC,  /* a RANGE answering a pull */
    ORIGIN_FORK,  /* one half of a FORK proof */
} origin_t;

/* What became of a post. */
typedef enum {
    TAKE_NEW,       /* stored: extended or ahead */
    TAKE_DUPLICATE, /* seen or stored before */
    TAKE_FORK,      /* stored as fork evidence */
    TAKE_LIMITED,   /* dropped by a rate limit, unverified */
    TAKE_DROPPED,   /* unwanted, blocked, future, store failure */
    TAKE_INVALID,   /* failed verification */
} take_t;

struct gossip {
    gossip_config_t cfg;
    gossip_stats_t stats;

    gossip_peer_t *peers[GOSSIP_PEERS_MAX];
    uint32_t next_gen;

    uint8_t (*subs)[KEY_LEN]; /* our replicated authors, ascending */
    size_t n_subs;
    /* When a change of our set could not be read (out of memory): the set
     * above is stale, and gossip_tick reads it again at this time (0: not
     * stale), so a follow is never lost to one failed allocation. */
    uint64_t subs_retry_ms;

    seen_t seen;

    req_t reqs[GOSSIP_REQS_MAX];
    size_t n_reqs;
    uint32_t next_rid;
    uint32_t lazy_wait_ms; /* GOSSIP_LAZY_WAIT_MIN_MS..GOSSIP_LAZY_WAIT_MS */

    missing_t *missing;
    size_t n_missing, cap_missing;
    sync_t *sync;
    size_t n_sync, cap_sync;
    author_bucket_t *abuckets;
    size_t n_abuckets, cap_abuckets;
    uint8_t (*dirty)[KEY_LEN]; /* authors whose head advanced by a pull */
    size_t n_dirty, cap_dirty;
    uint64_t dirty_due;

    uint64_t next_due; /* the earliest deadline; tick does nothing before it */

    gbuf_t tx;                    /* one frame being sent */
    gbuf_t list;                  /* refs or authors being gathered for a frame */
    gbuf_t range;                 /* copies of posts read from the store for a RANGE */
    uint8_t other[POST_MAX_SIZE]; /* the stored half of a fork proof */
    size_t other_len;
    post_t post;      /* the post being taken */
    post_t post2;     /* the other half of a fork proof */
    gossip_msg_t rx;  /* a decoded frame */
    gossip_msg_t msg; /* a message being built */
};

/* ---- gossip.c ---- */

gossip_peer_t *gossip_peer_find(const gossip_t *g, const uint8_t key[static KEY_LEN]);
gossip_peer_t *gossip_peer_get(const gossip_t *g, pref_t r);
pref_t gossip_peer_ref(const gossip_t *g, const gossip_peer_t *p);
/* The peer's entry for author, or NULL when it does not subscribe to it. */
sub_t *gossip_peer_sub(const gossip_peer_t *p, const uint8_t author[static KEY_LEN]);
bool gossip_we_replicate(const gossip_t *g, const uint8_t author[static KEY_LEN]);
void gossip_wake(gossip_t *g, uint64_t at_ms);
uint32_t gossip_random_u32(gossip_t *g);
/* Encodes g->msg for p and sends it. False when it could not be sent. */
bool gossip_send_msg(gossip_t *g, const gossip_peer_t *p);
void gossip_penalize(gossip_t *g, gossip_peer_t *p, gossip_fault_t why, int32_t points,
                     uint64_t now_ms);
/* Sends a post on as new: in full on eager links, as IHAVE to a few lazy
 * ones. from (may be NULL) is where it came from. */
void gossip_forward(gossip_t *g, const gossip_peer_t *from, const post_t *post, const uint8_t *raw,
                    size_t len, uint64_t now_ms);
/* Sends PRUNE or GRAFT of author to p. */
void gossip_send_link(gossip_t *g, gossip_peer_t *p, gossip_type_t type,
                      const uint8_t author[static KEY_LEN]);
size_t gossip_eager_count_except(const gossip_t *g, const uint8_t author[static KEY_LEN],
                                 const gossip_peer_t *except);

/* ---- gossip_post.c ---- */

take_t gossip_take_post(gossip_t *g, gossip_peer_t *from, const uint8_t *raw, size_t len,
                        origin_t origin, uint64_t now_ms);
void gossip_on_fork_msg(gossip_t *g, gossip_peer_t *from, const gossip_msg_t *m, uint64_t now_ms);
/* Sends p the fork proofs we hold for author, at most max of them; returns
 * how many were sent. */
size_t gossip_serve_forks(gossip_t *g, const gossip_peer_t *p, const uint8_t author[static KEY_LEN],
                          size_t max);
/* Reads the author and seq of an encoded post without verifying it. False
 * when it is too short to hold them. */
bool gossip_post_peek(const uint8_t *raw, size_t len, uint8_t author[static KEY_LEN],
                      uint64_t *seq);
/* Takes n signature checks from the peer's and the author's buckets, both
 * or neither. */
bool gossip_take_verify_tokens(gossip_t *g, gossip_peer_t *p, const uint8_t author[static KEY_LEN],
                               uint32_t n, uint64_t now_ms);
uint32_t gossip_verify_tokens(gossip_t *g, gossip_peer_t *p, const uint8_t author[static KEY_LEN],
                              uint64_t now_ms);
/* The same for posts we asked p for: its fetch bucket alone. */
uint32_t gossip_fetch_tokens(gossip_peer_t *p, uint64_t now_ms);

/* ---- gossip_sync.c ---- */

void gossip_on_heads(gossip_t *g, gossip_peer_t *p, const gossip_msg_t *m, uint64_t now_ms);
void gossip_on_ihave(gossip_t *g, gossip_peer_t *p, const gossip_msg_t *m, uint64_t now_ms);
void gossip_on_get_range(gossip_t *g, gossip_peer_t *p, const gossip_msg_t *m, uint64_t now_ms);
void gossip_on_range(gossip_t *g, gossip_peer_t *p, const gossip_msg_t *m, uint64_t now_ms);
/* Sends p our heads of the authors in authors[0 .. n) (ascending) that we
 * replicate and, if subscribed_only, that p subscribes to, in as many HEADS
 * frames as needed. */
void gossip_send_heads(gossip_t *g, gossip_peer_t *p, const uint8_t (*authors)[KEY_LEN], size_t n,
                       bool subscribed_only, uint64_t now_ms);
/* Notes that peer p holds author's feed up to seq. */
void gossip_sync_note(gossip_t *g, gossip_peer_t *p, const uint8_t author[static KEY_LEN],
                      uint64_t seq, uint64_t now_ms);
/* Notes an id p holds that we miss, to fetch from it at due_ms. */
void gossip_missing_note(gossip_t *g, gossip_peer_t *p, const gossip_ref_t *ref, uint64_t due_ms);
/* The post with id is here: stop waiting for it. */
void gossip_missing_done(gossip_t *g, const uint8_t id[static POST_ID_SIZE]);
void gossip_mark_dirty(gossip_t *g, const uint8_t author[static KEY_LEN], uint64_t now_ms);
/* Tick work of this file; lowers *next to its earliest deadline. */
void gossip_sync_tick(gossip_t *g, uint64_t now_ms, uint64_t *next);
/* The peer in slot is going away: its requests fail over to other peers. */
void gossip_sync_peer_down(gossip_t *g, const gossip_peer_t *p, uint64_t now_ms);
void gossip_sync_free(gossip_t *g);

#endif
