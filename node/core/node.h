/* node: the daemon core. One libuv loop drives the transport, the peer
 * table, the DHT, gossip and local-network discovery. The control socket
 * and every front end sit above it and call in through this header.
 *
 * node_new() takes the loop it is given and the node's keys and store,
 * borrowed until the node is closed; node_close() is asynchronous like
 * uv_close(): cb runs once every handle is closed, and then the loop may be
 * closed with uv_loop_close() == 0. */
#ifndef SAMIZDAT_NODE_H
#define SAMIZDAT_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "addr.h"
#include "dht.h"
#include "keys.h"
#include "log.h"
#include "portmap.h"
#include "post.h"
#include "store.h"
#include "transport.h"
#include "wire.h"

#define NODE_DEFAULT_NETWORK "main"
enum {
    NODE_DEFAULT_PORT = 7470,
    NODE_LAN_PORT = 7471,
    NODE_PEERS_MAX = 48,         /* connections, both directions */
    NODE_OUT_TARGET = 8,         /* outbound connections the node tries to keep */
    NODE_CONTACTS_MAX = 256,     /* known nodes not connected to */
    NODE_CONTACT_ALTS = 3,       /* other relayed endpoints kept per contact */
    NODE_ALT_RETRY_MS = 1000,    /* and the next one dialled this soon after a failure */
    NODE_SAVED_PEERS_MAX = 1024, /* peers kept in the store between runs */
    NODE_TICK_MS = 1000,
    NODE_PING_EVERY_MS = 30000, /* to a peer silent this long: half the 60 s rule */
    NODE_PEER_TIMEOUT_MS = 60000,
    NODE_CONNECT_TIMEOUT_MS = 20000,
    NODE_REQUEST_TIMEOUT_MS = 10000, /* an unanswered request is given up */
    NODE_PENDING_MAX = 4,            /* requests out per peer at once */
    NODE_PEER_LOG_PER_S = 10,        /* log lines a second about peers' bad input */
    NODE_ERROR_ANSWERS_PER_S = 50,   /* ERROR answers a second to bad input, in all */
    NODE_REFUSED_MAX = 64,           /* keys refused with ERROR 4, remembered */
    NODE_REFUSED_MS = 60000,         /* how long nothing more is taken from them */
    NODE_QUEUE_MAX = 8,              /* frames queued for a peer still connecting */
    NODE_IDLE_MS = 60000,            /* a transient (DHT-only) connection idle this long closes */
    NODE_EVICT_IDLE_MS = 10000,      /* a full table evicts a peer idle at least this long */
    NODE_VISITORS_MAX = 64,          /* inbound DHT-only connections, beside the peer slots */
    NODE_VISITOR_IDLE_MS = 120000,   /* a visitor idle this long is let go (its side: 60 s) */
    NODE_EVICT_VISITOR_MS = 1000,    /* when visitors are full, one idle this long makes room */
    NODE_PROBATION_MAX = 32,         /* newcomers let in past the limit to learn contacts */
    NODE_PROBATION_MS = 10000,       /* and let go after this long at most, */
    NODE_PROBATION_GRACE_MS = 1000,  /* or this long after their PEERS_REQ was answered */
    NODE_BUSY_RETRY_MS = 1000,       /* a node refused for want of a slot is tried again after
                                        this, doubled per refusal up to a minute */
    NODE_DHT_SAVE_MS = 300000,       /* the routing table is saved this often */
    NODE_DHT_REANNOUNCE_UPTO = 64,   /* a table that doubles up to this size: announce again */
    NODE_FEED_PEERS_MAX = 16,        /* connections kept to sync followed feeds */
    NODE_FEED_LINKS = 2,             /* replicas of one feed connected to */
    NODE_FEEDS_PER_ROUND = 4,        /* followed feeds checked per round */
    NODE_FEEDS_EVERY_MS = 20000,     /* a round of checks this often */
    NODE_PROGRESS_MIN = 200,         /* a feed this long gets progress lines while fetched */
    NODE_PROGRESS_MAX = 8,           /* feeds followed at once with progress lines */
    NODE_PROGRESS_EVERY_MS = 5000,
};

/* The dial-back check (node_dialback.c; PROTOCOL.md 6, "Dial-back"). As
 * the asker: candidate endpoints of this node checked, the wait for the
 * nonce after a peer said it dialled, and when an endpoint is checked
 * again. As the dialler, and as the checker of inbound peers' endpoints:
 * dials under way at once (past it DIAL_REQ is answered BUSY and inbound
 * endpoints wait for a free place), the time one may take, DIAL_REQs one
 * peer may send a minute, and how long a result is remembered. */
enum {
    NODE_REACH_CANDIDATES = 8,
    NODE_RELAYS_MAX = 3,        /* relays an unreachable node reserves at */
    NODE_RELAYS_WANTED = 2,     /* ... and keeps at least, when it can */
    NODE_RELAY_RETRY_MS = 5000, /* a relay that refused is asked again after this */
    NODE_REACH_NONCE_WAIT_MS = 2000,
    NODE_REACH_RECHECK_MS = 30 * 60 * 1000, /* a reachable endpoint is checked again */
    NODE_REACH_RETRY_MS = 60 * 1000,        /* an unreachable one */
    NODE_REACH_IDLE_MS = 30 * 1000,         /* every peer refused: again after this, doubling */
    NODE_REACH_BUSY_MS = 2000,              /* a peer was busy: asked again */
    NODE_REACH_RESCAN_MS = 10 * 1000,       /* the candidates are listed again */
    NODE_DIALS_PENDING_MAX = 8,
    NODE_DIALBACK_CONNS_MAX = 16,   /* dial-back connections open at once (no peer slot) */
    NODE_DIALBACK_LINGER_MS = 2000, /* and how long one stays after its handshake */
    NODE_HELD_MAX = 4,              /* ANNOUNCEs of a peer held while its endpoint is dialled */
    NODE_HOLD_MS = 5000,            /* at most, then refused: within DHT_STORE_TIMEOUT_MS */
    NODE_DIAL_TIMEOUT_MS = 5000,
    NODE_DIAL_REQS_PER_MIN = 8,
    NODE_VERIFIED_MAX = 128, /* (key, endpoint) pairs remembered as dialled or failed */
    NODE_VERIFIED_OK_MS = 60 * 60 * 1000,
    NODE_VERIFIED_FAILED_MS = 2 * 60 * 1000,
    NODE_VERIFY_RETRY_MS = 5000, /* a failed check again after 5 s, 10 s, 20 s ... */
};

/* What this node knows of its own reachability. */
typedef enum {
    NODE_REACH_UNCHECKED = 0, /* the check is off (test only): endpoints announced unchecked */
    NODE_REACH_CHECKING,      /* no endpoint found reachable yet, and some not tried */
    NODE_REACH_REACHABLE,     /* a peer dialled back at least one endpoint */
    NODE_REACH_UNREACHABLE,   /* every candidate failed, or there is none */
} node_reach_t;

typedef enum {
    NODE_EP_UNKNOWN = 0, /* not dialled back yet */
    NODE_EP_REACHABLE,
    NODE_EP_UNREACHABLE,
} node_ep_verdict_t;

typedef struct {
    char endpoint[WIRE_ENDPOINT_MAX + 1];
    node_ep_verdict_t verdict;
    bool onion; /* an onion service of ours: reachable through Tor, not dialled back */
} node_reach_ep_t;

typedef struct node node_t;

/* The node's two clocks, in milliseconds. mono_ms drives every deadline,
 * timeout, rate and expiry of the node, its DHT and gossip: it must never
 * go backwards and must be above zero (0 means "never" in many fields).
 * wall_ms is the time of day, used only where a time is signed or shown:
 * the timestamp of a DHT head record, the check for posts from the future,
 * the last-seen times saved in the store and reported by node_peers. A
 * test steps wall_ms to show that nothing else moves. Either function
 * NULL: CLOCK_MONOTONIC, CLOCK_REALTIME. ud is passed to both. */
typedef struct {
    uint64_t (*mono_ms)(void *ud);
    uint64_t (*wall_ms)(void *ud);
    void *ud;
} node_clock_t;

typedef struct {
    const char *data_dir;                     /* control socket lives here */
    store_t *store;                           /* borrowed */
    const keys_author_t *author;              /* borrowed; unlocked */
    const keys_node_t *node_key;              /* borrowed */
    const char *network;                      /* NULL: "main" */
    const char *listen[TRANSPORT_LISTEN_MAX]; /* NULL-padded; empty: port 7470, every address */
    const char *bootstrap_path;               /* NULL: none */
    const char *socks5;                       /* NULL: direct */
    const char *announce;                     /* endpoint others reach us at; NULL: guess */
    bool lan;                                 /* local-network discovery */
    uint16_t lan_port;                        /* 0: NODE_LAN_PORT */
    size_t peers_max;                         /* 0: NODE_PEERS_MAX */
    const log_t *log;
    bool no_portmap; /* do not ask the router to forward a port (--no-upnp) */
    bool no_relay;   /* do not relay for others (--no-relay) */
    /* The relay port's address: "HOST:PORT" or "PORT" (--relay-listen);
     * NULL: the listen host and a port the system picks. */
    const char *relay_listen;
    node_clock_t clock; /* zeroed: the system clocks */
    /* Test only: the defences to switch off (defence.h; docs/SECURITY.md).
     * NULL: all on. Borrowed until the node is closed. */
    const char *defences_off;
    uint64_t idle_close_ms; /* test only: 0 for TRANSPORT_IDLE_MS */
} node_config_t;

typedef enum {
    NODE_OK = 0,
    NODE_ENOMEM,
    NODE_ETRANSPORT, /* could not open the sockets or bind (see the log) */
    NODE_EINVAL,     /* a bad configuration value or argument */
    NODE_EBUSY,      /* too many lookups at once: try again shortly */
    NODE_ENOPEERS,   /* the routing table is empty: no node to ask */
} node_err_t;

const char *node_strerror(node_err_t err);

node_err_t node_new(node_t **out, uv_loop_t *loop, const node_config_t *cfg);
void node_close(node_t *n, void (*cb)(void *ud), void *ud);

/* Adds a contact and dials it soon. */
node_err_t node_add_peer(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint);
/* Another relayed endpoint of a known node (say, the other relays of an
 * invite that was joined at one): tried when a dial of the one in use
 * fails. Anything else is ignored. */
void node_add_alternate(node_t *n, const uint8_t key[KEYS_PUBLIC_SIZE], const char *endpoint);

typedef struct {
    uint8_t key[KEYS_PUBLIC_SIZE];
    char endpoint[WIRE_ENDPOINT_MAX + 1];
    transport_dir_t dir;
    bool ready;
    uint64_t last_seen_ms; /* wall clock */
    int64_t rtt_us;        /* -1 until measured */
    char software[WIRE_SOFTWARE_MAX + 1];
} node_peer_info_t;

typedef bool (*node_peer_cb)(void *ud, const node_peer_info_t *p);
void node_peers(node_t *n, node_peer_cb cb, void *ud);

enum { NODE_SOCKS5_MAX = 64, NODE_CIRCUITS_WHY_MAX = 128 };

typedef struct {
    uint64_t uptime_ms;
    size_t peers_ready;
    size_t peers_in;
    size_t peers_out;
    size_t contacts;
    char listen[TRANSPORT_LISTEN_MAX][TRANSPORT_ENDPOINT_MAX];
    size_t n_listen;
    uint64_t malformed;     /* messages dropped as undecodable */
    uint64_t unknown;       /* unknown version or type: answered with ERROR */
    uint64_t unsolicited;   /* answers nobody asked for: dropped */
    uint64_t timeouts;      /* requests that got no answer in time */
    uint64_t oversized;     /* frames over WIRE_MAX_FRAME: dropped */
    uint64_t pongs;         /* answers to our PINGs */
    uint64_t peers_dropped; /* connections forgotten, for any reason */
    transport_stats_t transport;
    bool has_portmap; /* the router is asked to forward a port */
    portmap_info_t portmap;
    node_reach_t reach; /* the dial-back check: this node's candidate endpoints */
    size_t n_reach;
    node_reach_ep_t reach_eps[NODE_REACH_CANDIDATES];
    /* Relays: the relayed endpoints this node holds a reservation at, and
     * what it relays for others (port 0: it does not). */
    size_t n_relays;
    char relays[NODE_RELAYS_MAX][WIRE_ENDPOINT_MAX + 1];
    uint16_t relay_port;
    /* The router forwards this endpoint to the relay port ("" when not). */
    char relay_mapped[ADDR_ENDPOINT_MAX + 1];
    size_t relay_reservations;
    uint64_t relay_circuits;
    /* Connections out through a SOCKS5 proxy (--socks5, --tor): the proxy
     * ("" when direct), and whether each peer gets a Tor circuit of its
     * own; when not, why, in words, since shared circuits let whoever
     * watches one link this node's peers to each other. */
    char socks5[NODE_SOCKS5_MAX];
    bool circuit_per_peer;
    char circuits_why[NODE_CIRCUITS_WHY_MAX];
} node_status_t;

void node_status(node_t *n, node_status_t *out);

/* A node with no peer says so this long after its start, and again every
 * NODE_ALONE_AGAIN_MS while it stays alone. */
enum { NODE_ALONE_FIRST_MS = 15000, NODE_ALONE_AGAIN_MS = 300000 };

/* The endpoints an invite names (node_reach.c): those peers dialled back
 * first, then --announce, the mapped port, listeners on one address, then
 * this host's addresses for a listener on every address (public first;
 * loopback and link-local only when nothing else). Writes at most max into
 * out; returns how many. */
size_t node_dial_endpoints(node_t *n, char (*out)[ADDR_ENDPOINT_MAX + 1], size_t max);
/* What an invite names: while no endpoint was dialled back, the relayed
 * endpoints held (relay://HOST:PORT) first; then node_dial_endpoints. */
size_t node_invite_endpoints(node_t *n, char (*out)[ADDR_ENDPOINT_MAX + 1], size_t max);

/* ---- the DHT, for the CLI ---- */

/* A lookup's result, r borrowed for the call. Runs once, later (never from
 * the call that started the lookup); with status DHT_ECANCELED when the
 * node closes first. */
typedef void (*node_lookup_cb)(void *ud, const dht_result_t *r);

/* Iterative lookups: the k nodes closest to target; the nodes that
 * replicate an author's feed; the author's latest signed head. cb and ud
 * until the callback ran. NODE_EBUSY, NODE_ENOPEERS, NODE_ENOMEM: the
 * callback is never called. */
node_err_t node_find_node(node_t *n, const uint8_t target[KEYS_PUBLIC_SIZE], node_lookup_cb cb,
                          void *ud);
node_err_t node_find_providers(node_t *n, const uint8_t author[KEYS_PUBLIC_SIZE], node_lookup_cb cb,
                               void *ud);
node_err_t node_find_head(node_t *n, const uint8_t author[KEYS_PUBLIC_SIZE], node_lookup_cb cb,
                          void *ud);

/* The user followed (following) or unfollowed an author: the node
 * announces itself as a provider of that feed, or stops. */
void node_follow_changed(node_t *n, const uint8_t author[KEYS_PUBLIC_SIZE], bool following);
/* The user followed author, whose latest post is seq (from the DHT): while
 * the node fetches a large feed, it logs its progress. */
void node_feed_expected(node_t *n, const uint8_t author[KEYS_PUBLIC_SIZE], uint64_t seq);
/* Whether the node may sign its author's post number top + 1 now (top:
 * the highest own seq the store holds; node_own.c says why). READY:
 * nothing says the network holds more. CHECKING: peers or the DHT may
 * still tell (for at most NODE_OWN_CHECK_MS after the start). BEHIND: they
 * say the network holds the feed up to *network (> top); the node is
 * fetching it. *network is top unless BEHIND. */
typedef enum {
    NODE_OWN_READY = 0,
    NODE_OWN_CHECKING,
    NODE_OWN_BEHIND,
} node_own_t;
enum { NODE_OWN_CHECK_MS = 10000 };

/* File descriptors a node wants: the transport's 256 connections,
 * LevelDB's 256 table files, libzmq's and libuv's own, with room. */
enum { NODE_FILES_MIN = 1024 };

/* How long a peer dropped for misbehaving stays banned, by key and by
 * address (transport_ban). */
enum { NODE_BAN_MS = 10 * 60 * 1000 };

/* Messages of any type one key may send: a bucket of NODE_PEER_MSGS_BURST
 * refilled at NODE_PEER_MSGS_PER_S; NODE_FLOOD_DROPS dropped within
 * NODE_FLOOD_WINDOW_MS is a flood, banned (node_budget.c). Budgets are
 * kept for NODE_BUDGET_KEYS keys. */
enum {
    NODE_PEER_MSGS_PER_S = 500,
    NODE_PEER_MSGS_BURST = 2000,
    NODE_FLOOD_DROPS = 2000,
    NODE_FLOOD_WINDOW_MS = 2000,
    NODE_BUDGET_KEYS = 512,
};
node_own_t node_own_check(node_t *n, uint64_t top, uint64_t *network);

/* The user published p (stored already): its head goes into the DHT. */
void node_published(node_t *n, const post_t *p);

/* What a front end may want to show as it happens: a post stored (taken
 * from a peer or published here), a peer that became ready or went away. */
typedef enum {
    NODE_EVENT_POST = 1, /* post: stored now, new to the store */
    NODE_EVENT_PEER_UP,  /* key: a peer completed its handshake */
    NODE_EVENT_PEER_DOWN /* key: a ready peer was dropped */
} node_event_kind_t;

typedef struct {
    node_event_kind_t kind;
    const post_t *post; /* NODE_EVENT_POST; borrowed for the callback */
    const uint8_t *key; /* the peer events: KEYS_PUBLIC_SIZE bytes, borrowed */
} node_event_t;

typedef void (*node_event_cb)(void *ud, const node_event_t *e);

/* The one listener of events (the app); NULL cb stops them. The callback
 * runs on the loop, inside the node's own work: it must not close the
 * node. */
void node_set_events(node_t *n, node_event_cb cb, void *ud);

typedef struct {
    size_t table;     /* contacts in the routing table */
    size_t records;   /* records stored for others */
    size_t announces; /* authors we announce ourselves for */
    size_t lookups;   /* lookups running */
    uint64_t lookups_done;
    uint64_t timeouts;
} node_dht_status_t;

void node_dht_status(node_t *n, node_dht_status_t *out);

typedef struct {
    size_t peers;             /* peers gossip runs with */
    uint64_t posts_received;  /* post copies received (pushed, pulled, in fork proofs) */
    uint64_t posts_stored;    /* new posts stored */
    uint64_t posts_duplicate; /* copies of posts already held */
    uint64_t posts_invalid;   /* posts that failed verification */
    uint64_t posts_forwarded; /* posts pushed in full to peers */
    uint64_t rate_limited;    /* posts dropped by a rate limit before verification */
    uint64_t bytes_received;
    uint64_t bytes_sent;
    uint64_t forks; /* fork proofs built or received */
} node_gossip_status_t;

void node_gossip_status(node_t *n, node_gossip_status_t *out);

/* What the control socket needs to run a command against the node. */
store_t *node_store(node_t *n);
const keys_author_t *node_author(node_t *n);
const char *node_network(node_t *n);
const uint8_t *node_public_key(node_t *n); /* KEYS_PUBLIC_SIZE bytes, borrowed until node_close */

#endif
