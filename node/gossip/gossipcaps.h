/* gossipcaps: every constant, cap, timer and rate of gossip and feed sync.
 *
 * One header so that docs/PROTOCOL.md section 11 (the protocol caps) and
 * docs/INTERNALS.md section 3 (local policy) can list the same values and a
 * reviewer finds every bound in one place. The protocol caps (first block)
 * are part of the wire format: changing one changes what other nodes accept.
 * The rest are local policy: a node may choose other values without breaking
 * anyone. */
#ifndef SAMIZDAT_GOSSIPCAPS_H
#define SAMIZDAT_GOSSIPCAPS_H

#include "post.h"

/* ---- protocol: message layout and caps ---- */
enum {
    /* Gossip messages use frame types 0x20..0x2f; the rest of the range is
     * reserved for later gossip messages. */
    GOSSIP_TYPE_FIRST = 0x20,
    GOSSIP_TYPE_LAST = 0x2f,
    GOSSIP_TYPE_DEFINED_LAST = 0x28, /* FORK; 0x29..0x2f are reserved */
    /* The frame gossip messages travel in (docs/PROTOCOL.md, the wire
     * frame): gossip does not include the transport's headers, so the
     * values are repeated here and net/wire.c asserts they agree. */
    GOSSIP_FRAME_VERSION = 1,
    GOSSIP_FRAME_HEADER = 6,
    GOSSIP_FRAME_MAX = 64 * 1024,
    /* The largest payload: a frame is at most GOSSIP_FRAME_MAX bytes. */
    GOSSIP_PAYLOAD_MAX = GOSSIP_FRAME_MAX - GOSSIP_FRAME_HEADER,
    /* A feed reference: author (32) | seq (u64) | post id (32). IHAVE and
     * HEADS are lists of these. */
    GOSSIP_REF_SIZE = 32 + 8 + POST_ID_SIZE,
    /* Authors in one SUBSCRIBE frame (32 KiB of keys). */
    GOSSIP_SUBSCRIBE_MAX = 1024,
    /* Authors in a whole subscription set, over all its SUBSCRIBE frames:
     * ours, and what we keep of a peer's. */
    GOSSIP_SUBSCRIPTIONS_MAX = 4096,
    /* References in one IHAVE frame. */
    GOSSIP_IHAVE_MAX = 64,
    /* References in one HEADS frame (36 KiB). */
    GOSSIP_HEADS_MAX = 512,
    /* Posts in one RANGE frame, and the largest max_count of a GET_RANGE. */
    GOSSIP_RANGE_MAX = 64,
    /* Bytes of posts in one RANGE frame; with the length fields and the
     * header a RANGE is at most 6 + 1 + 64 * 2 + 49152 = 49287 bytes. */
    GOSSIP_RANGE_BYTES_MAX = 48 * 1024,
};

/* ---- local policy: tables, fan-out, timers ---- */
enum {
    GOSSIP_PEERS_MAX = 64,               /* peers the state machine tracks at once */
    GOSSIP_EAGER_TARGET = 3,             /* eager links per author given to new subscribers */
    GOSSIP_EAGER_MAX = 6,                /* eager links per author; a GRAFT beyond is refused */
    GOSSIP_LAZY_FANOUT = 6,              /* lazy peers sent an IHAVE for one post */
    GOSSIP_SEEN_MAX = 16384,             /* post ids in the seen-cache (two halves) */
    GOSSIP_SEEN_TTL_MS = 10 * 60 * 1000, /* an id is remembered at most this long */
    GOSSIP_MISSING_MAX = 1024,           /* ids announced by IHAVE that we wait for */
    GOSSIP_MISSING_PER_PEER = 256,       /* of which one peer may have announced first */
    GOSSIP_ANNOUNCERS_MAX = 4,           /* peers remembered per missing id */
    GOSSIP_SYNC_MAX = 1024,              /* authors being pulled at once */
    GOSSIP_SYNC_PEERS_MAX = 4,           /* peers remembered per pulled author */
    GOSSIP_SYNC_PIPELINE = 4,            /* GET_RANGE pages in flight per pulled author */
    GOSSIP_REQS_MAX = 64,                /* GET_RANGE requests in flight in all */
    GOSSIP_PEER_REQS_MAX = 8,            /* GET_RANGE requests in flight per peer */
    GOSSIP_DIRTY_MAX = 256,              /* authors whose new head waits to be announced */
    GOSSIP_AUTHOR_BUCKETS_MAX = 1024,    /* per-author rate limiters */
    GOSSIP_FORKS_SERVED_MAX = 4,         /* fork proofs of one author sent to a new subscriber */
    GOSSIP_FORKS_PER_SUBSCRIBE = 16,     /* and in all for one SUBSCRIBE frame */

    GOSSIP_IHAVE_DELAY_MS = 10,     /* IHAVEs for one peer are gathered this long */
    GOSSIP_LAZY_WAIT_MS = 250,      /* wait for an eager copy before fetching an IHAVE ... */
    GOSSIP_LAZY_WAIT_MIN_MS = 20,   /* ... or less, down to this, set from measured round trips */
    GOSSIP_REQ_TIMEOUT_MS = 5000,   /* a GET_RANGE unanswered this long is given up */
    GOSSIP_HEADS_PERIOD_MS = 30000, /* HEADS to each peer every 30 s ... */
    GOSSIP_HEADS_JITTER_MS = 30000, /* ... plus up to 30 s, drawn each time */
    GOSSIP_RETRY_MS = 1000,         /* a refused send, or a rate-limited page, tried again */
    GOSSIP_HEADS_ANSWER_MS = 1000,  /* a peer ahead answers our HEADS within this */
};

/* ---- abuse bounds: token buckets, checked before any signature ---- */
enum {
    GOSSIP_PEER_MSG_RATE = 200, /* gossip messages per second from one peer */
    GOSSIP_PEER_MSG_BURST = 1000,
    GOSSIP_PEER_VERIFY_RATE = 100, /* signature checks per second for one peer */
    GOSSIP_PEER_VERIFY_BURST = 256,
    GOSSIP_AUTHOR_VERIFY_RATE = 100, /* signature checks per second for one author */
    GOSSIP_AUTHOR_VERIFY_BURST = 256,
    /* Posts we asked for (RANGE answers) have their own budget, far larger
     * than the unsolicited one: they are bounded by what we asked, and the
     * first invalid one costs the peer its connection. */
    GOSSIP_PEER_FETCH_VERIFY_RATE = 16384, /* signature checks per second */
    GOSSIP_PEER_FETCH_VERIFY_BURST = 16384,
    GOSSIP_PEER_SERVE_RATE = 200, /* GET_RANGE answered per second for one peer */
    GOSSIP_PEER_SERVE_BURST = 256,
};

/* ---- peer scores: 0 is neutral; at GOSSIP_SCORE_DISCONNECT the node is told ---- */
enum {
    GOSSIP_SCORE_DISCONNECT = -100,
    GOSSIP_SCORE_RECOVER_MS = 10000,   /* one point back per 10 s, up to 0 */
    GOSSIP_PENALTY_INVALID_POST = 100, /* a post that fails verification */
    GOSSIP_PENALTY_BAD_FORK = 100,     /* a fork proof whose posts do not conflict */
    GOSSIP_PENALTY_MALFORMED = 20,     /* a frame the codec refuses */
    GOSSIP_PENALTY_BAD_RANGE = 20,     /* a RANGE holding what was not asked for */
    GOSSIP_PENALTY_UNASKED = 5,        /* a RANGE answering no request */
    GOSSIP_PENALTY_FLOOD = 1,          /* a message over the peer's rate */
};

#endif
