/* node_int: what the files of the node module share. Not a public interface:
 * only node*.c include it. */
#ifndef SAMIZDAT_NODE_INT_H
#define SAMIZDAT_NODE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "dht.h"
#include "lan.h"
#include "node.h"

typedef enum { PEER_CONNECTING = 0, PEER_READY = 1 } peer_state_t;

/* A request sent to a peer and not answered yet. Answers must match one by
 * request id and type, so nobody can push an answer we did not ask for. */
typedef struct {
    uint32_t id; /* 0: free slot */
    uint8_t type;
    uint64_t sent_ms;
} request_t;

typedef struct {
    bool used;
    uint8_t key[32];
    transport_dir_t dir;
    peer_state_t state;
    char endpoint[WIRE_ENDPOINT_MAX + 1];
    char software[WIRE_SOFTWARE_MAX + 1];
    uint32_t caps;
    uint64_t since_ms;
    uint64_t last_seen_ms;
    uint64_t hello_sent_ms;
    uint64_t ping_nonce;
    int64_t rtt_ms;
    request_t pending[NODE_PENDING_MAX];
    /* Opened only to carry DHT messages: closed once idle. */
    bool transient;
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
     * let go after NODE_PROBATION_MS. */
    bool probation;
} peer_t;

/* A node we know of and may dial. */
typedef struct {
    bool used;
    uint8_t key[32];
    char endpoint[WIRE_ENDPOINT_MAX + 1];
    uint64_t next_try_ms;
    uint32_t failures;
} contact_t;

struct node {
    uv_loop_t *loop;
    node_config_t cfg;
    char network[WIRE_NETWORK_MAX + 1];
    transport_t *transport;
    lan_t *lan;
    dht_t *dht;
    struct gossip *gossip;
    uint64_t gossip_next;     /* when gossip wants to run next; 0: nothing due */
    uint64_t feeds_next;      /* next round of looking up replicas of followed feeds */
    uint8_t feeds_cursor[32]; /* the round robin over followed authors */
    unsigned feed_lookups;    /* replica lookups running */
    struct {
        uint8_t author[32];
        uint64_t seq; /* the latest post, as the DHT said; 0: free slot */
        uint64_t started_ms;
    } progress[NODE_PROGRESS_MAX];
    uint64_t progress_next;
    uint8_t *dht_frame; /* WIRE_MAX_FRAME bytes: one encoded DHT message */
    bool dht_was_empty; /* announced with an empty table: announce on the first contact */
    uv_timer_t clock;   /* one timer for every deadline: the node's, the DHT's */
    uint64_t clock_due; /* when it is armed for; 0 when not armed */
    uint64_t next_tick_ms;
    uint64_t dht_saved_ms;
    char self_endpoint[WIRE_ENDPOINT_MAX + 1]; /* where others reach us, for the DHT */
    peer_t *peers;
    size_t peers_max; /* the limit on peers (--peers-max) */
    size_t peers_cap; /* entries: the limit and the probation slots */
    uint8_t *sendbuf; /* WIRE_MAX_FRAME bytes: one encoded message at a time */
    wire_msg_t *rx;   /* the message being handled; too large for the stack */
    wire_msg_t *tx;   /* the message being built */
    contact_t contacts[NODE_CONTACTS_MAX];
    uint64_t started_ms;
    uint64_t last_save_ms;
    uint64_t last_exchange_ms;
    uint32_t next_request_id;
    uint64_t malformed;
    uint64_t unknown;
    uint64_t unsolicited; /* answers to requests we never sent, or sent long ago */
    uint64_t timeouts;    /* requests that got no answer in time */
    uint64_t oversized;   /* frames over WIRE_MAX_FRAME */
    uint64_t pongs;       /* answers to our PINGs */
    uint64_t peers_dropped;
    uint64_t log_second; /* peer_log_allowed's window */
    unsigned log_count;
    int closing_parts;
    void (*close_cb)(void *ud);
    void *close_ud;
};

/* ---- node.c ---- */

/* The monotonic clock: every deadline, timeout, rate and expiry. */
uint64_t node_mono_ms(node_t *n);
/* The wall clock: only what is signed (head timestamps), compared with a
 * signed time (the future-post check) or shown (last-seen times). */
uint64_t node_wall_ms(node_t *n);
/* The wall time of a past moment of the monotonic clock (a last-seen
 * time, to save or show); 0 stays 0 ("never"). */
uint64_t node_wall_of(node_t *n, uint64_t mono_ms);
const log_t *node_log(node_t *n);
/* A short printable name for a node key, for log lines. */
void node_short_key(char out[24], const uint8_t key[32]);
/* A ready peer with this key, either direction, or NULL. */
peer_t *node_peer_ready(node_t *n, const uint8_t key[32]);
/* Sends one encoded frame to the node with this key: at once when it is a
 * ready peer, else after connecting to endpoint (a transient connection),
 * queued meanwhile. Returns 0 when sent or queued, -1 when it cannot be
 * (no endpoint, no free slot, queue full). frame borrowed for the call. */
int node_send_frame(node_t *n, const uint8_t key[32], const char *endpoint, const uint8_t *frame,
                    size_t len);
/* Re-arms the clock for the earliest deadline; call after anything that
 * may have set an earlier one. */
void node_schedule(node_t *n);

/* Drops a peer that failed or misbehaved. */
void node_drop_peer(node_t *n, peer_t *p, const char *why);
/* Keeps an outbound transient connection open and offers gossip on it. */
void node_keep_peer(node_t *n, peer_t *p);
/* An outbound connection kept open (gossip offered): the existing one,
 * kept, or a new one. NULL when there is no slot or the endpoint is bad. */
peer_t *node_connect(node_t *n, const uint8_t key[32], const char *endpoint);

/* ---- node_gossip.c ---- */

node_err_t node_gossip_start(node_t *n);
void node_gossip_stop(node_t *n);
/* Brings gossip up or down on p to match its state and the HELLOs. */
void node_gossip_check(node_t *n, peer_t *p);
/* A whole frame of a gossip type (0x20..0x2f) from a ready peer. */
void node_gossip_receive(node_t *n, peer_t *p, const uint8_t *frame, size_t len);
uint64_t node_gossip_tick(node_t *n, uint64_t now);
void node_gossip_published(node_t *n, const post_t *p);
void node_gossip_subscriptions_changed(node_t *n);
/* Looks up the replicas of followed feeds that have too few peers and
 * connects to some; runs from the node's clock. */
void node_gossip_feeds(node_t *n, uint64_t now);
/* Logs how far large feeds being fetched have come. */
void node_gossip_progress(node_t *n, uint64_t now);
/* The user just followed author: connect to its replicas now. */
void node_gossip_follow(node_t *n, const uint8_t author[32]);

/* ---- node_dht.c ---- */

/* Creates the DHT and feeds it the saved table. Call after the transport. */
node_err_t node_dht_start(node_t *n);
/* Saves the table and frees the DHT (unfinished lookups are cancelled). */
void node_dht_stop(node_t *n);
/* A DHT message from a ready peer. */
void node_dht_receive(node_t *n, peer_t *p, const dht_msg_t *m);
/* A peer finished its handshake / was lost. */
void node_dht_peer_ready(node_t *n, peer_t *p);
void node_dht_peer_lost(node_t *n, const uint8_t key[32]);
/* A contact from bootstrap.list, the saved peers or the local network. */
void node_dht_offer(node_t *n, const uint8_t key[32], const char *endpoint);
/* Runs the DHT's timers; returns when it wants to run next. */
uint64_t node_dht_tick(node_t *n, uint64_t now);
/* Announces our own author and every author followed, and puts our own
 * head (posts written while the node was down included). */
void node_dht_announce_all(node_t *n);
/* When the DHT wants to run next; 0 when there is no DHT. */
uint64_t node_dht_next(node_t *n);

#endif
