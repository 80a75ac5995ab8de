/* peers: the node's table of connections to other nodes. One entry per
 * connection (a node that dialled us while we dialled it has two), in a
 * fixed array allocated once, so a peer_t pointer stays valid until the
 * table is freed; after peertab_remove its entry is unused (used false)
 * but its fields, the key included, can still be read by the caller that
 * removed it. No transport, no clock, no logging: callers pass times in.
 * Not a public interface of node/core: only node*.c include it. */
#ifndef SAMIZDAT_PEERS_H
#define SAMIZDAT_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "node.h"
#include "transport.h"
#include "wire.h"

enum {
    PEERTAB_ANY_DIR = -1, /* either direction, for peertab_find */
};

typedef enum { PEER_CONNECTING = 0, PEER_READY = 1 } peer_state_t;

enum {
    PEER_RELAYED_MAX = 3, /* relayed endpoints kept of a peer's HELLO */
};

/* A request sent to a peer and not answered yet. Answers must match one by
 * request id and type, so nobody can push an answer we did not ask for. */
typedef struct {
    uint32_t id; /* 0: free slot */
    uint8_t type;
    uint64_t sent_ms;
} request_t;

/* Times are the node's monotonic clock. */
typedef struct {
    bool used;
    uint8_t key[KEYS_PUBLIC_SIZE];
    transport_dir_t dir;
    peer_state_t state;
    char endpoint[WIRE_ENDPOINT_MAX + 1];
    /* The endpoint is known to reach this peer: we dialled it, or an
     * inbound peer's connection comes from its address. Only then does it
     * go to the DHT (routing table, provider records). */
    bool endpoint_verified;
    /* Inbound, its endpoint at its connection's address but not dialled
     * yet: the check waits for a free place (node_dialback.c). */
    bool verify_wanted;
    /* Inbound, the relayed endpoints its HELLO names (a node nobody can
     * dial, reached through relays). One of them, dialled through its
     * relay and found to reach the key, may name it in a provider record,
     * never in a routing table: relayed_ok is its index, -1 for none. */
    char relayed[PEER_RELAYED_MAX][WIRE_ENDPOINT_MAX + 1];
    uint8_t n_relayed;
    int8_t relayed_ok;
    /* ANNOUNCEs (request id, record key) held while its endpoint is being
     * dialled: answered once the dial has said whether it reaches it. */
    unsigned held;
    uint64_t held_ms; /* when the first was held */
    uint32_t held_rid[NODE_HELD_MAX];
    uint8_t held_key[NODE_HELD_MAX][KEYS_PUBLIC_SIZE];
    /* DIAL_REQs from this peer in the minute that began at dial_window_ms. */
    uint64_t dial_window_ms;
    unsigned dial_reqs;
    char software[WIRE_SOFTWARE_MAX + 1];
    uint32_t caps;
    uint64_t since_ms;
    uint64_t last_seen_ms;
    uint64_t hello_sent_ms;
    uint64_t ping_nonce;
    int64_t rtt_us;        /* the last PING's round trip; -1 until one is answered */
    uint64_t ping_sent_us; /* when that PING went */
    request_t pending[NODE_PENDING_MAX];
    /* Opened only to carry DHT messages: closed once idle. */
    bool transient;
    /* Outbound, opened for a dial-back or to check an endpoint: it takes
     * no peer slot (node_dialback.c caps them) and is closed
     * NODE_DIALBACK_LINGER_MS after its handshake, unless something else
     * uses it (it then becomes an ordinary transient connection). */
    bool dialback;
    bool dialback_done; /* nothing more to do on it: node_dialback_reap closes it */
    uint64_t ready_ms;  /* when its handshake finished */
    /* Last time a message other than a keep-alive went either way. */
    uint64_t used_ms;
    /* Frames waiting for the handshake to finish (DHT requests to a node
     * we had to connect to first). Heap copies; sent or freed in order. */
    uint8_t *queue[NODE_QUEUE_MAX];
    size_t queue_len[NODE_QUEUE_MAX];
    unsigned queued;
    /* Gossip runs on a connection when both HELLOs carry WIRE_CAP_GOSSIP:
     * we offer it on the connections we keep, never on transient ones. */
    bool offered_gossip;
    bool gossip_up;
    /* Kept open to sync a followed feed with a node that replicates it. */
    bool feed;
    /* Reported by gossip; dropped once gossip has returned. */
    bool doomed;
    /* Let in although the node is full, to learn contacts: no gossip, and
     * let go NODE_PROBATION_GRACE_MS after its PEERS_REQ was answered
     * (answered_ms), or after NODE_PROBATION_MS. */
    bool probation;
    uint64_t answered_ms;
    /* Inbound, and its HELLO did not ask for gossip: the other side's
     * transient connection, for DHT requests. It takes no peer slot (a full
     * node still answers lookups), at most NODE_VISITORS_MAX at once, and
     * is let go after NODE_VISITOR_IDLE_MS without use. */
    bool visitor;
    /* Contacts in its last PEERS answer; 0 until one came. */
    unsigned peers_given;
} peer_t;

typedef struct peertab peertab_t;

/* A table of cap entries. Returns NULL when out of memory. Free with
 * peertab_free (accepts NULL), which frees every queued frame. */
peertab_t *peertab_new(size_t cap);
void peertab_free(peertab_t *t);

/* Takes a free entry for a new connection (state PEER_CONNECTING, rtt -1,
 * since, last seen and last used now). NULL when the table is full. */
peer_t *peertab_add(peertab_t *t, const uint8_t key[static KEYS_PUBLIC_SIZE], transport_dir_t dir,
                    uint64_t now_ms);
/* Frees p's entry and its queued frames. p's fields stay readable. */
void peertab_remove(peertab_t *t, peer_t *p);

/* The connection to key in direction dir (or PEERTAB_ANY_DIR), or NULL. */
peer_t *peertab_find(peertab_t *t, const uint8_t key[static KEYS_PUBLIC_SIZE], int dir);
/* The ready connection to key, either direction, or NULL. With two, the
 * one heard from last: the other may be one the node has already left. */
peer_t *peertab_find_ready(peertab_t *t, const uint8_t key[static KEYS_PUBLIC_SIZE]);
/* The index-th ready peer (0-based, in table order), or NULL. */
peer_t *peertab_ready_at(peertab_t *t, size_t index);

/* Iteration over the used entries, in table order:
 *     size_t it = 0;
 *     for (peer_t *p; (p = peertab_next(t, &it)) != NULL;) ...
 * Removing the peer just returned (or any other) while iterating is fine. */
peer_t *peertab_next(peertab_t *t, size_t *it);

typedef struct {
    size_t all;        /* every connection */
    size_t in, out;    /* by direction, those on probation included */
    size_t ready;      /* handshake done */
    size_t probation;  /* let in past the limit (all inbound) */
    size_t visitors;   /* inbound DHT-only connections, no slot taken */
    size_t dialbacks;  /* outbound dial-back connections, no slot taken */
    size_t neighbours; /* outbound and kept (not transient) */
    size_t feed;       /* kept to sync a followed feed */
} peertab_counts_t;

void peertab_counts(const peertab_t *t, peertab_counts_t *out);

/* A peer's queue of frames for after the handshake. peertab_queue_push
 * copies frame; -1 when the queue is full or out of memory. */
int peertab_queue_push(peer_t *p, const uint8_t *frame, size_t len);
void peertab_queue_clear(peer_t *p);

#endif
