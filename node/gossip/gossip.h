/* gossip: spreading posts between peers, and pulling what is missing.
 *
 * A pure state machine in the manner of jech/dht: no sockets, no loop, no
 * clock, no store, no global state, no printing. Messages and time go in
 * (gossip_receive, gossip_tick, ...); frames to send, store calls and the
 * next deadline come out, through the callbacks of gossip_config_t. So many
 * nodes can run in one process (tests/sim/sim_gossip.c) and every test is
 * deterministic.
 *
 * What it does (docs/PROTOCOL.md section 11 is normative, docs/GOSSIP-NOTES.md
 * says why):
 *
 * - Subscriptions. Each side tells the other which authors it replicates
 *   (SUBSCRIBE), on connect and when its follows change.
 * - Push. A new post (our own, or received, verified and new) goes at once,
 *   whole (POST), to the peers on an eager link for its author, and as a
 *   short IHAVE to a few of the other subscribed peers. A peer that got an
 *   IHAVE and no copy within the lazy wait fetches the post. An eager
 *   copy of a post already seen demotes that link (PRUNE); a post first got
 *   through an IHAVE promotes the announcer (GRAFT). Per author the eager
 *   links settle into a tree rooted at the author (Plumtree).
 * - Pull. On SUBSCRIBE, and every 30-60 s, peers send the heads of the
 *   authors they share (HEADS). A node behind asks for the rest by
 *   (author, from seq) in pages (GET_RANGE -> RANGE) until it has caught up.
 * - Every post is verified (post_decode with POST_VERIFY) before it is
 *   stored or sent on, at most once (seen-cache), and only after per-peer
 *   and per-author rate limits, since verifying is the expensive step. A
 *   peer sending invalid posts is scored down and reported.
 * - Forks (two posts of one author that cannot both be in its feed) become a
 *   FORK proof, checked by anyone, sent once to every subscribed peer.
 * - Blocked authors are neither stored nor sent on.
 *
 * Every table has a cap (gossipcaps.h) and refuses or evicts when full. */
#ifndef SAMIZDAT_GOSSIP_H
#define SAMIZDAT_GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossipcaps.h"
#include "gossipmsg.h"
#include "post.h"

typedef struct gossip gossip_t;

typedef enum {
    GOSSIP_OK = 0,
    GOSSIP_ENOMEM,
    GOSSIP_EINVAL,     /* a bad argument: missing callback, post that does not decode */
    GOSSIP_EFULL,      /* the peer table holds GOSSIP_PEERS_MAX peers */
    GOSSIP_ENOPEER,    /* no such peer (not up) */
    GOSSIP_EMALFORMED, /* a frame the codec refused; the peer was scored down */
} gossip_err_t;

const char *gossip_strerror(gossip_err_t err);

/* What the store did with a post (mirrors store_ingest_t of store/store.h,
 * so gossip does not depend on the store). */
typedef enum {
    GOSSIP_INGEST_EXTENDED = 0, /* the feed grew */
    GOSSIP_INGEST_AHEAD,        /* kept beyond a gap */
    GOSSIP_INGEST_DUPLICATE,    /* already stored */
    GOSSIP_INGEST_FORK,         /* conflicts with a stored post: kept as evidence */
    GOSSIP_INGEST_BLOCKED,      /* author blocked: not stored */
    GOSSIP_INGEST_FUTURE,       /* too far in the future: not stored, may come again */
    GOSSIP_INGEST_INVALID,      /* refused for any other reason */
} gossip_ingest_t;

/* Why a peer lost points. */
typedef enum {
    GOSSIP_FAULT_MALFORMED = 1, /* a frame the codec refused */
    GOSSIP_FAULT_INVALID_POST,  /* a post that does not verify */
    GOSSIP_FAULT_BAD_FORK,      /* a fork proof whose posts do not conflict */
    GOSSIP_FAULT_BAD_RANGE,     /* a RANGE with posts that were not asked for */
    GOSSIP_FAULT_UNASKED,       /* a RANGE answering no request of ours */
    GOSSIP_FAULT_FLOOD,         /* messages over the peer's rate */
} gossip_fault_t;

const char *gossip_fault_name(gossip_fault_t f);

/* Called for each post of a range; raw borrowed for the call. Return false
 * to stop. */
typedef bool (*gossip_post_cb)(void *cbud, const uint8_t *raw, size_t len);
/* Called for each fork proof held: two posts of one author that cannot
 * both be in its feed, both borrowed for the call. Return false to stop. */
typedef bool (*gossip_fork_cb)(void *cbud, const uint8_t *a, size_t a_len, const uint8_t *b,
                               size_t b_len);
/* Called for each author of a set; author borrowed for the call. */
typedef void (*gossip_author_cb)(void *cbud, const uint8_t author[static KEYS_PUBLIC_SIZE]);

/* Everything the state machine needs from its node. Every callback gets ud.
 * Pointers passed to callbacks are borrowed for the call. Callbacks must not
 * call back into the gossip_t (the state machine is not reentrant). */
typedef struct {
    void *ud;
    /* Queues one whole frame (header included) for the peer with node key
     * peer. Returns 0 when queued; anything else counts the frame as dropped. */
    int (*send)(void *ud, const uint8_t peer[static KEYS_PUBLIC_SIZE], const uint8_t *frame,
                size_t len);
    /* Fills buf with n random bytes. Used for jitter, choices and request
     * ids; a test may make it deterministic. */
    void (*random)(void *ud, uint8_t *buf, size_t n);
    /* Our contiguous head of author: posts 1..*seq all stored, *id the id
     * of post *seq, *max_seq the highest seq stored. Returns 0 with *seq = 0
     * (and *max_seq = 0) when nothing is stored; nonzero on a store failure. */
    int (*head)(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t *seq,
                uint8_t id[static POST_ID_SIZE], uint64_t *max_seq);
    /* Whether the post with this id is stored. */
    bool (*has_post)(void *ud, const uint8_t id[static POST_ID_SIZE]);
    /* Stores a post gossip received and verified: p decoded from exactly
     * raw[0 .. len). Sets *result. Returns 0, or nonzero on a store failure.
     * No time is passed: gossip's clock is monotonic, while the store's
     * check for posts from the future compares a signed timestamp with the
     * wall clock, which the callee reads from its own wall clock. */
    int (*ingest)(void *ud, const post_t *p, const uint8_t *raw, size_t len,
                  gossip_ingest_t *result);
    /* Whether the user blocked author. */
    bool (*is_blocked)(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE]);
    /* Whether we replicate author: our own author, or one we follow. */
    bool (*replicates)(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE]);
    /* Calls cb(cbud, ...) for our set of replicated authors, each once. */
    void (*subscriptions)(void *ud, gossip_author_cb cb, void *cbud);
    /* Calls cb for the posts of author's feed with seq >= from_seq, in seq
     * order, at most max_count posts and max_bytes bytes (gossip checks both
     * again), until cb returns false. Returns 0, nonzero on a store failure. */
    int (*read_range)(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t from_seq,
                      size_t max_count, size_t max_bytes, gossip_post_cb cb, void *cbud);
    /* The peer's score reached GOSSIP_SCORE_DISCONNECT (once per peer_up);
     * why is the fault that did it. The node should disconnect it. May be
     * NULL. */
    void (*peer_misbehaved)(void *ud, const uint8_t peer[static KEYS_PUBLIC_SIZE],
                            gossip_fault_t why);
    /* Calls cb for the fork proofs held for author, until cb returns false,
     * so a peer that subscribes to the author later learns of its forks.
     * Returns 0, nonzero on a store failure. May be NULL. */
    int (*forks)(void *ud, const uint8_t author[static KEYS_PUBLIC_SIZE], gossip_fork_cb cb,
                 void *cbud);
} gossip_config_t;

/* Creates a state machine. cfg is copied; every callback except
 * peer_misbehaved and forks is required (GOSSIP_EINVAL otherwise). On error *out is
 * NULL. Free with gossip_free. */
gossip_err_t gossip_new(gossip_t **out, const gossip_config_t *cfg);
/* Frees g and everything it holds. Accepts NULL. */
void gossip_free(gossip_t *g);

/* A peer that speaks gossip is connected (HELLO done). Sends it our
 * SUBSCRIBE. GOSSIP_EFULL when GOSSIP_PEERS_MAX peers are up; a peer that is
 * already up is taken as reconnected (its state starts again). key borrowed. */
gossip_err_t gossip_peer_up(gossip_t *g, const uint8_t key[static KEYS_PUBLIC_SIZE],
                            uint64_t now_ms);
/* The peer is gone: its requests go to other peers. Unknown keys are ignored. */
void gossip_peer_down(gossip_t *g, const uint8_t key[static KEYS_PUBLIC_SIZE], uint64_t now_ms);

/* One decoded message from a peer that is up. m and the buffers it points
 * into borrowed for the call. GOSSIP_ENOPEER for a peer that is not up;
 * otherwise GOSSIP_OK, whatever became of the message (see gossip_stats). */
gossip_err_t gossip_receive(gossip_t *g, const uint8_t from[static KEYS_PUBLIC_SIZE],
                            const gossip_msg_t *m, uint64_t now_ms);
/* One whole frame of a gossip type: decodes it and calls gossip_receive. A
 * frame the codec refuses scores the peer down and returns GOSSIP_EMALFORMED.
 * frame borrowed for the call. */
gossip_err_t gossip_receive_frame(gossip_t *g, const uint8_t from[static KEYS_PUBLIC_SIZE],
                                  const uint8_t *frame, size_t len, uint64_t now_ms);

/* Our own new post, already stored: sends it on as a new post. raw borrowed
 * for the call. GOSSIP_EINVAL when it does not decode. */
gossip_err_t gossip_publish(gossip_t *g, const uint8_t *raw, size_t len, uint64_t now_ms);

/* Our set of replicated authors changed (follow, unfollow, block): reads it
 * again through cfg.subscriptions and sends SUBSCRIBE to every peer. Sets
 * over GOSSIP_SUBSCRIPTIONS_MAX are cut to that many (the lowest keys). When
 * the set cannot be read (out of memory) the old one stays for now and
 * gossip_tick reads it again GOSSIP_RETRY_MS later, until it can. */
void gossip_subscriptions_changed(gossip_t *g, uint64_t now_ms);

/* How long an IHAVE waits for an eager copy before the post is fetched:
 * clamped to GOSSIP_LAZY_WAIT_MIN_MS..GOSSIP_LAZY_WAIT_MS (the default). The
 * node sets it from the round trips it measures: an eager copy that is
 * coming arrives within about a round trip of the IHAVE. */
void gossip_set_lazy_wait(gossip_t *g, uint32_t ms);

/* Does whatever is due at now_ms (IHAVE batches, fetches after the lazy
 * wait, request timeouts, periodic HEADS, pulls) and sets *next_ms to when it
 * wants to be called again. Call it after every other call too: when nothing
 * is due it returns at once. */
void gossip_tick(gossip_t *g, uint64_t now_ms, uint64_t *next_ms);

typedef struct {
    uint64_t frames_sent, bytes_sent, frames_dropped; /* dropped: send callback refused */
    uint64_t frames_received, bytes_received, malformed;
    uint64_t posts_received;  /* post copies received: POST, RANGE, FORK */
    uint64_t posts_eager;     /* of which in POST frames */
    uint64_t posts_duplicate; /* copies of posts already seen or stored */
    uint64_t posts_verified;  /* signature checks */
    uint64_t posts_invalid;   /* that failed */
    uint64_t posts_stored;    /* new: extended or ahead */
    uint64_t posts_forwarded; /* POST frames sent on (own posts included) */
    uint64_t posts_unwanted;  /* authors we do not replicate */
    uint64_t posts_blocked;
    uint64_t posts_future;
    uint64_t rate_limited;               /* posts dropped by a rate limit before verification */
    uint64_t msgs_limited;               /* messages dropped by the per-peer message rate */
    uint64_t ihave_sent, ihave_received; /* references, not frames */
    uint64_t lazy_fetches;               /* GET_RANGE sent after an IHAVE */
    uint64_t pulls;                      /* GET_RANGE sent to catch up */
    uint64_t ranges_served;
    uint64_t requests_timed_out;
    uint64_t prunes_sent, grafts_sent, prunes_received, grafts_received;
    uint64_t forks_built, forks_received, forks_refused;
    uint64_t table_full; /* an entry refused or evicted by a cap */
    uint64_t store_errors;
    uint64_t peers_reported; /* peer_misbehaved calls */
    /* Gauges: how full each table is now. */
    size_t peers, seen, missing, syncing, requests, author_buckets, dirty;
    size_t peer_subs_max; /* the most authors any one peer subscribes to */
} gossip_stats_t;

/* Copies the counters and reads the gauges. Cannot fail. */
void gossip_stats(const gossip_t *g, gossip_stats_t *out);

/* A peer's score (0 neutral, lower is worse). GOSSIP_ENOPEER if not up. */
gossip_err_t gossip_peer_score(const gossip_t *g, const uint8_t key[static KEYS_PUBLIC_SIZE],
                               int32_t *score);

/* What the peers up have said of author's head, for a node about to sign
 * its own next post (a store that lost its newest posts must not sign
 * their numbers again). *pending: peers that may still tell: their
 * SUBSCRIBE has not come; or it names author, no HEADS came from them,
 * and our HEADS to them (answered by a peer that is ahead) went out less
 * than GOSSIP_HEADS_ANSWER_MS ago or not at all. A peer answers our
 * SUBSCRIBE with its heads of the authors we share, so one that shared
 * author from the start tells at once. *claimed: while a pull of author
 * is under way, the highest head_seq peers claimed for it; else 0. A
 * claim is only a claim: the posts prove it when they come. */
void gossip_head_news(const gossip_t *g, const uint8_t author[static KEYS_PUBLIC_SIZE],
                      uint64_t now_ms, size_t *pending, uint64_t *claimed);

/* Eager links of author: how many peers we push its posts to in full. For
 * tests and the simulator. */
size_t gossip_eager_count(const gossip_t *g, const uint8_t author[static KEYS_PUBLIC_SIZE]);

#endif
