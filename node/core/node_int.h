/* node_int: what the files of the node module share. Not a public interface:
 * only node*.c include it. */
#ifndef SAMIZDAT_NODE_INT_H
#define SAMIZDAT_NODE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "dht.h"
#include "lan.h"
#include "node.h"
#include "peers.h"

/* What one key may still send (node_budget.c). */
typedef struct {
    bool used;
    uint8_t key[KEYS_PUBLIC_SIZE];
    uint64_t milli; /* tokens, in thousandths */
    uint64_t last_ms, used_ms;
    uint64_t window_ms; /* start of the window dropped counts in */
    uint32_t dropped;
} key_budget_t;

/* A node we know of and may dial. */
typedef struct {
    bool used;
    uint8_t key[KEYS_PUBLIC_SIZE];
    char endpoint[WIRE_ENDPOINT_MAX + 1];
    /* Other relayed endpoints of it (an invite names each of its relays):
     * when a dial fails, the next is tried, so a node whose relay went
     * away is reached through another. */
    char alt[NODE_CONTACT_ALTS][WIRE_ENDPOINT_MAX + 1];
    uint8_t n_alt;
    uint64_t next_try_ms;
    uint32_t failures;
} contact_t;

/* An endpoint of another node, dialled or being dialled to learn whether
 * it reaches that node's key (node_dialback.c). */
typedef enum { VERIFY_FREE = 0, VERIFY_PENDING, VERIFY_OK, VERIFY_FAILED } verify_state_t;
typedef struct {
    verify_state_t state;
    uint8_t key[KEYS_PUBLIC_SIZE];
    char endpoint[WIRE_ENDPOINT_MAX + 1];
    uint64_t until_ms; /* pending: the deadline; else when it is forgotten */
    uint64_t retry_ms; /* failed: not dialled again before then */
    unsigned fails;    /* failed dials in a row, for the back-off */
    /* The node at key asked for this dial (DIAL_REQ): its answer is owed on
     * the connection (asker_dir, key) with request id rid, and DIAL_BACK
     * with nonce goes to the endpoint. */
    bool asked;
    transport_dir_t asker_dir;
    uint32_t rid;
    uint64_t nonce;
} verify_t;

/* One candidate endpoint of this node and what peers found (the asker's
 * side of the dial-back check). */
typedef struct {
    char endpoint[WIRE_ENDPOINT_MAX + 1];
    node_ep_verdict_t verdict;
    bool onion;
    bool checking; /* a DIAL_REQ is out */
    uint64_t nonce;
    uint8_t asked[KEYS_PUBLIC_SIZE];
    uint32_t rid;
    uint64_t asked_ms;
    uint64_t said_ok_ms; /* the peer answered OK; the nonce is awaited */
    uint64_t next_ms;    /* when to ask (again) */
    uint32_t cursor;     /* which ready peer to ask next */
    unsigned refusals;   /* refused (or not answered) in a row */
    unsigned rounds;     /* times every peer refused, since the last verdict */
} reach_cand_t;

struct node {
    uv_loop_t *loop;
    node_event_cb event_cb;
    void *event_ud;
    node_config_t cfg;
    char network[WIRE_NETWORK_MAX + 1];
    transport_t *transport;
    lan_t *lan;
    struct portmap *portmap;
    struct portmap *relay_portmap; /* the relay port's own mapping */
    struct proxy_probe *probe; /* one probe of the SOCKS5 proxy under way */
    bool proxy_down;           /* the last probe failed */
    dht_t *dht;
    struct gossip *gossip;
    uint64_t gossip_next; /* when gossip wants to run next; 0: nothing due */
    uint64_t feeds_next;  /* next round of looking up replicas of followed feeds */
    uint8_t feeds_cursor[KEYS_PUBLIC_SIZE]; /* the round robin over followed authors */
    unsigned feed_lookups;                  /* replica lookups running */
    struct {
        uint8_t author[KEYS_PUBLIC_SIZE];
        uint64_t seq; /* the latest post, as the DHT said; 0: free slot */
        uint64_t started_ms;
    } progress[NODE_PROGRESS_MAX];
    uint64_t progress_next;
    uint8_t *dht_frame;        /* WIRE_MAX_FRAME bytes: one encoded DHT message */
    bool dht_was_empty;        /* announced with an empty table: announce on the first contact */
    size_t dht_announced_size; /* the routing table's size at the last announce */
    uv_timer_t clock;          /* one timer for every deadline: the node's, the DHT's */
    uint64_t clock_due;        /* when it is armed for; 0 when not armed */
    uint64_t next_tick_ms;
    uint64_t dht_saved_ms;
    char self_endpoint[WIRE_ENDPOINT_MAX + 1]; /* where others reach us, for the DHT */
    /* What our provider records name: self_endpoint, else (not reachable
     * directly) our first relayed endpoint, else "". */
    char dht_endpoint[WIRE_ENDPOINT_MAX + 1];
    peertab_t *peers;                          /* entries: the limit and the probation slots */
    size_t peers_max;                          /* the limit on peers (--peers-max) */
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
    uint64_t alone_next_ms; /* when to say again that no peer is connected; 0: not alone */
    uint64_t alone_since_ms;
    uint64_t log_second; /* peer_log_allowed's window */
    unsigned log_count;
    uint64_t error_second; /* node_error_answer_allowed's window */
    bool errors_unlimited; /* test only: the "error-rate" defence is off */
    unsigned error_count;
    struct {
        uint8_t key[KEYS_PUBLIC_SIZE];
        uint64_t until_ms;       /* mono; 0: free */
    } refused[NODE_REFUSED_MAX]; /* keys told ERROR 4: nothing more is taken from them */
    key_budget_t *budgets;       /* NODE_BUDGET_KEYS */
    uint8_t budget_salt[16];
    bool budget_off;       /* test only: the "msg-budget" defence is off */
    bool claims_trusted;   /* test only: "observed-address" off: claimed endpoints to the DHT */
    uint64_t msgs_limited; /* messages dropped over a key's budget */
    struct {
        bool off;         /* test only: the "own-seq" defence is off */
        int dht;          /* OWN_DHT_*: the lookup of our own head */
        uint64_t dht_seq; /* the highest verified head of ours the DHT gave */
    } own;
    struct {
        bool off; /* test only: the "dialback" defence is off */
        verify_t verified[NODE_VERIFIED_MAX];
        reach_cand_t cands[NODE_REACH_CANDIDATES];
        reach_cand_t scratch[NODE_REACH_CANDIDATES]; /* rescan's new list */
        size_t n_cands;
        uint64_t scanned_ms; /* when the candidates were last listed */
        /* The reachable endpoints last logged, ", "-separated; "-": none. */
        char said[NODE_REACH_CANDIDATES * (WIRE_ENDPOINT_MAX + 2) + 1];
        dht_msg_t replay; /* a held ANNOUNCE, handled at last */
    } db;
    struct {
        struct relay *relay; /* both roles: relaying for others, claiming our circuits */
        bool offer;          /* relaying on (not --no-relay) and the port is bound */
        struct {
            bool used;
            bool granted;
            uint8_t key[KEYS_PUBLIC_SIZE];
            char endpoint[WIRE_ENDPOINT_MAX + 1]; /* relay://HOST:PORT once granted */
            uint64_t asked_ms;
            uint64_t renew_ms; /* when to send RESERVE again */
            uint64_t until_ms; /* when the reservation ends */
        } held[NODE_RELAYS_MAX];
        struct {
            uint8_t key[KEYS_PUBLIC_SIZE];
            uint64_t until_ms;
        } refused[8]; /* relays that refused lately: not asked again before until_ms */
        size_t refused_next;
    } rl;
    int closing_parts;
    void (*close_cb)(void *ud);
    void *close_ud;
};

/* ---- node.c: answers to bad input ---- */

/* What peers do wrong is logged at most NODE_PEER_LOG_PER_S times a
 * second, so a hostile peer cannot flood the log; the next line after a
 * second with more says how many were left out. */
bool node_peer_log_allowed(node_t *n);
/* Says how many were left out in the last second, once it is over (also
 * from the tick, so a burst followed by silence is counted too). */
void node_peer_log_flush(node_t *n);

/* Whether another ERROR may be sent in answer to bad input this second
 * (NODE_ERROR_ANSWERS_PER_S in all): answering garbage must not cost more
 * than the garbage. */
bool node_error_answer_allowed(node_t *n);
/* A key refused with ERROR 4 (wrong network): nothing more is taken from
 * it for NODE_REFUSED_MS. */
void node_refuse_key(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE]);
bool node_key_refused(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE]);

/* ---- node_budget.c ---- */

/* Takes a token from key's message budget: false when it has none (the
 * message is dropped unread); a key that floods is banned. */
bool node_msg_allowed(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE]);

/* ---- node_own.c ---- */

enum { OWN_DHT_IDLE = 0, OWN_DHT_RUNNING, OWN_DHT_DONE };

/* Starts the lookup of our own head once the DHT has contacts. */
void node_own_tick(node_t *n, uint64_t now);

/* ---- node_dialback.c ---- */

/* Whether the dial-back check is on (it is unless a test turned it off). */
bool node_dialback_on(node_t *n);
/* Lists the candidates and takes our own onion as reachable; from
 * node_new, before the first announce. */
void node_dialback_start(node_t *n);
/* Whether the endpoint an inbound peer claims (already known to be at its
 * connection's address) has been dialled and reached its key. When not,
 * a dial is started (or p->verify_wanted set, when the dials are at their
 * cap); node_dialback_connected then marks it. */
bool node_dialback_verified(node_t *n, peer_t *p);
/* An outbound connection finished its handshake: its endpoint reaches its
 * key. Marks the inbound peer with that key and endpoint verified, sends a
 * DIAL_BACK that waited for it and answers the DIAL_REQ. */
void node_dialback_connected(node_t *n, peer_t *p);
/* An outbound connection that never became ready is being forgotten. */
void node_dialback_failed(node_t *n, const peer_t *p);
/* DIAL_REQ, DIAL_BACK or DIAL_RESULT (already matched to a request) from p. */
void node_dialback_receive(node_t *n, peer_t *p, const wire_msg_t *m, const char *peer_addr);
/* Asks peers to dial back candidates that are due, and times out dials;
 * from the tick and when a peer becomes ready. */
void node_dialback_tick(node_t *n, uint64_t now);
/* Fills the endpoints and listen port of our HELLO: those found reachable
 * (all candidates, as before the check, when it is off). */
void node_dialback_hello(node_t *n, wire_hello_t *h);
/* Whether p is inbound and its endpoint is being dialled (or waits for a
 * free place to be): its ANNOUNCEs wait for the result. */
bool node_dialback_checking(node_t *n, const peer_t *p);
/* An inbound peer with no endpoint we reach, naming relayed ones: starts
 * dialling them, one at a time; true while a dial is under way. */
bool node_dialback_relay_checking(node_t *n, peer_t *p);
/* The relayed endpoint of an inbound peer found to reach it, or "". */
const char *node_dialback_relayed(node_t *n, const peer_t *p);
/* Whether endpoint is a candidate of ours a peer dialled back. */
bool node_dialback_reachable(node_t *n, const char *endpoint);
/* The overall state: reachable when a candidate is. */
node_reach_t node_dialback_state(node_t *n);
/* Closes the dial-back connections whose work is done; called after each
 * message is handled, never from inside a handler of that peer. */
void node_dialback_reap(node_t *n);
/* Copies the candidates and the overall state into the status. */
void node_dialback_status(node_t *n, node_status_t *out);

/* ---- node_relay.c ---- */

/* Creates the relay object and binds the relay port unless --no-relay. */
node_err_t node_relay_start(node_t *n);
/* Closes it; part_closed(ud) when done. */
void node_relay_close(node_t *n, void (*cb)(void *ud), void *ud);
/* Whether HELLO offers relaying (cap WIRE_CAP_RELAY). */
bool node_relay_offers(node_t *n);
/* RESERVE, RESERVED (matched to our request) or CONNECT from p. */
void node_relay_receive(node_t *n, peer_t *p, const wire_msg_t *m, const char *peer_addr);
/* Reserves at relays while not reachable directly, renews, replaces. */
void node_relay_tick(node_t *n, uint64_t now);
/* A connection of key was forgotten: when none is left, its reservation
 * at our relay goes (node_relay_tick replaces our reservation there). */
void node_relay_forget(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE]);
/* The relayed endpoints held now; returns how many written. */
size_t node_relay_endpoints(node_t *n, char (*out)[ADDR_ENDPOINT_MAX + 1], size_t max);
void node_relay_status(node_t *n, node_status_t *out);

/* ---- node_reach.c ---- */

/* Says in the log, once NODE_ALONE_FIRST_MS after the start and then every
 * NODE_ALONE_AGAIN_MS, that no peer is connected and what to do about it;
 * and when the first peer comes after that. Called from the tick. */
void node_alone_check(node_t *n, uint64_t now);
/* Asks the router to forward a port to the listener, unless turned off or
 * the node listens only on loopback or public addresses. */
void node_portmap_start(node_t *n);
/* With --socks5: tries a TCP connection to the proxy and says in the log
 * when it does not answer (and when it answers again). */
void node_proxy_probe(node_t *n);
void node_proxy_forget(node_t *n);

/* ---- node.c ---- */

/* The monotonic clock: every deadline, timeout, rate and expiry. */
uint64_t node_mono_ms(node_t *n);
/* The same clock in microseconds, for round trips (a test clock's ms * 1000). */
uint64_t node_mono_us(node_t *n);
/* The wall clock: only what is signed (head timestamps), compared with a
 * signed time (the future-post check) or shown (last-seen times). */
uint64_t node_wall_ms(node_t *n);
/* The wall time of a past moment of the monotonic clock (a last-seen
 * time, to save or show); 0 stays 0 ("never"). */
uint64_t node_wall_of(node_t *n, uint64_t mono_ms);
const log_t *node_log(node_t *n);
/* A short printable name for a node key, for log lines. */
void node_short_key(char out[24], const uint8_t key[KEYS_PUBLIC_SIZE]);
/* Tells the event listener, if there is one. */
void node_emit(node_t *n, node_event_kind_t kind, const post_t *post, const uint8_t *key);
/* Re-arms the clock for the earliest deadline; call after anything that
 * may have set an earlier one. */
void node_schedule(node_t *n);

/* The peer table's policy. Whether a connection in direction dir may take
 * a slot now (a third of them kept for outbound ones). */
bool node_slot_free(node_t *n, transport_dir_t dir);
/* A new connection's entry, or NULL when the table is full. */
peer_t *node_peer_add(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], transport_dir_t dir);
/* Frees the slot of the transient peer (or, for inbound, any peer) idle
 * the longest, if it has been idle NODE_EVICT_IDLE_MS; false if none. */
bool node_evict_idle(node_t *n, transport_dir_t dir, uint64_t now);
/* Forgets a peer: disconnects it, tells gossip. failed: it broke (no
 * answer, silence, refusal), which the DHT is told so its requests to it
 * fail now; an idle connection we close is not a failure of the node at
 * the other end. */
void node_peer_forget(node_t *n, peer_t *p, const char *why, bool failed);
/* A ready peer with this key, either direction, or NULL. */
peer_t *node_peer_ready(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE]);

/* ---- node_hello.c ---- */

/* Takes a request id for a request of type to p and remembers it (the
 * answer must match it). False when p has NODE_PENDING_MAX out. */
bool node_request_open(node_t *n, peer_t *p, uint8_t type, uint64_t now, uint32_t *id);
/* Encodes m and sends it to p. */
void node_send_msg(node_t *n, peer_t *p, const wire_msg_t *m);
/* An ERROR to a connection that may have no entry in the table. */
void node_send_error(node_t *n, transport_dir_t dir, const uint8_t key[KEYS_PUBLIC_SIZE],
                     uint32_t rid, wire_error_code_t code, const char *text);
/* A PING to p (unless one is out or p has NODE_PENDING_MAX requests). */
void node_send_ping(node_t *n, peer_t *p);
/* Our HELLO, with gossip offered when p->offered_gossip. */
void node_send_hello(node_t *n, peer_t *p, uint32_t rid);
/* A decoded message (not gossip) from the connection (dir, key). */
void node_hello_receive(node_t *n, transport_dir_t dir, const uint8_t key[KEYS_PUBLIC_SIZE],
                        const char *peer_addr, const wire_msg_t *m);
/* Once a tick for each peer: handshake retries and timeouts, requests
 * expired, probation over, silence, idle transient connections, PING. */
void node_tend_peer(node_t *n, peer_t *p, uint64_t now);
/* Asks a random ready peer for contacts. */
void node_exchange(node_t *n, uint64_t now);

/* ---- node_contacts.c ---- */

/* Learns of a node. The table is bounded: when full, a contact that
 * failed most is replaced. */
void node_contact_note(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint);
/* A dial of key failed (refused, no answer): its back-off grows. */
void node_contact_failed(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE]);
/* The node refused us: another network (busy false: a minute per
 * refusal), or no free slot (busy: seconds, doubling). */
void node_contact_refused(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], bool busy);
size_t node_contact_count(node_t *n);
/* Dials contacts until NODE_OUT_TARGET neighbours are kept. */
void node_dial_more(node_t *n, uint64_t now);
/* Sends the frames that waited for p's handshake. */
void node_queue_flush(node_t *n, peer_t *p);
/* Sends one encoded frame to the node with this key: at once when it is a
 * ready peer, else after connecting to endpoint (a transient connection),
 * queued meanwhile. Returns 0 when sent or queued, -1 when it cannot be
 * (no endpoint, no free slot, queue full). frame borrowed for the call. */
int node_send_frame(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint,
                    const uint8_t *frame, size_t len);
/* Whether this node can dial endpoint: not an onion service without a
 * SOCKS5 proxy (Tor). libzmq would look the .onion name up in the DNS, in
 * its I/O thread: every connection of the node waits for the resolver's
 * timeouts (a 35 s stall, issue 11), and the DNS server learns the onion
 * address. */
bool node_dialable(const node_t *n, const char *endpoint);

/* Opens a transient outbound connection (no gossip, closed when idle) to
 * check an endpoint or dial a node back; frames may be queued on it until
 * its handshake is done. NULL when there is no slot or the connect fails. */
peer_t *node_connect_transient(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE],
                               const char *endpoint);
/* Drops a peer that failed or misbehaved; its contact backs off. */
void node_drop_peer(node_t *n, peer_t *p, const char *why);
/* Keeps an outbound transient connection open and offers gossip on it. */
void node_keep_peer(node_t *n, peer_t *p);
/* An outbound connection kept open (gossip offered): the existing one,
 * kept, or a new one. NULL when there is no slot or the endpoint is bad. */
peer_t *node_connect(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint);
/* Saves the ready peers' endpoints in the store (now: monotonic). */
void node_save_peers(node_t *n, uint64_t now);
/* Reads the saved peers and bootstrap.list into the contacts. */
void node_load_contacts(node_t *n);
/* A node found on the local network (lan_t's callback; ud is the node). */
void node_lan_found(void *ud, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint);

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
/* A round trip was measured: the lazy wait follows the peers' median. */
void node_gossip_rtt_changed(node_t *n);
/* Looks up the replicas of followed feeds that have too few peers and
 * connects to some; runs from the node's clock. */
void node_gossip_feeds(node_t *n, uint64_t now);
/* Logs how far large feeds being fetched have come. */
void node_gossip_progress(node_t *n, uint64_t now);
/* The user just followed author: connect to its replicas now. */
void node_gossip_follow(node_t *n, const uint8_t author[KEYS_PUBLIC_SIZE]);
/* Looks up the nodes that keep author's feed and connects to some. */
void node_find_replicas(node_t *n, const uint8_t author[KEYS_PUBLIC_SIZE]);

/* ---- node_dht.c ---- */

/* Creates the DHT and feeds it the saved table. Call after the transport. */
node_err_t node_dht_start(node_t *n);
/* Saves the table and frees the DHT (unfinished lookups are cancelled). */
void node_dht_stop(node_t *n);
/* A DHT message from a ready peer. An ANNOUNCE from a peer whose endpoint
 * is being dialled is held (up to NODE_HELD_MAX) until node_dht_release. */
void node_dht_receive(node_t *n, peer_t *p, const dht_msg_t *m);
/* The dial of p's endpoint ended: its held ANNOUNCEs are handled now. */
void node_dht_release(node_t *n, peer_t *p);
/* Its ANNOUNCEs were held NODE_HOLD_MS: handled now, without waiting more
 * (refused for want of an endpoint unless one was verified meanwhile). */
void node_dht_release_late(node_t *n, peer_t *p);
/* A peer finished its handshake / was lost. */
void node_dht_peer_ready(node_t *n, peer_t *p);
void node_dht_peer_lost(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], bool failed);
/* A contact from bootstrap.list, the saved peers or the local network. */
void node_dht_offer(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint);
/* Runs the DHT's timers; returns when it wants to run next. */
uint64_t node_dht_tick(node_t *n, uint64_t now);
/* Announces our own author and every author followed, and puts our own
 * head (posts written while the node was down included). */
void node_dht_announce_all(node_t *n);
/* Our reachable endpoints or relays changed: the DHT takes the endpoint
 * our provider records name (our feeds are announced when there was none
 * before), and the nodes we connected to get a new HELLO. */
void node_dht_endpoint_changed(node_t *n);
/* When the DHT wants to run next; 0 when there is no DHT. */
uint64_t node_dht_next(node_t *n);

#endif
