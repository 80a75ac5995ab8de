/* dht: one Kademlia node, as pure logic.
 *
 * It does no I/O and reads no clock: messages and time go in (dht_receive,
 * dht_unreachable, dht_tick), messages come out through the send callback,
 * and dht_next_ms says when to call dht_tick again. Clock, randomness and
 * sending arrive through dht_new, so thousands of nodes can run in one
 * process, deterministically, in a simulator.
 *
 * What it does (docs/PROTOCOL.md section 10, docs/INTERNALS.md sections 3.3 to
 * 3.5 and docs/DHT-NOTES.md say why):
 * - a routing table of k-buckets (rtable.h) fed by every peer heard from;
 * - iterative lookups (lookup.h) with alpha requests in flight;
 * - answers to PING, FIND_NODE, ANNOUNCE, GET_PROVIDERS, PUT_HEAD, GET_HEAD,
 *   storing provider and head records for others within bounds (records.h);
 * - keeping our own announcements and heads alive in the network, and the
 *   table fresh (bucket refresh, self lookup).
 *
 * Threads: a dht_t is used from one thread at a time. Callbacks run on the
 * caller's thread, inside the dht_ call that triggers them. */
#ifndef SAMIZDAT_DHT_H
#define SAMIZDAT_DHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dhtmsg.h"
#include "dhtproto.h"

typedef enum {
    DHT_OK = 0,
    DHT_EINVAL,      /* a bad argument: NULL, our own key, an endpoint we cannot use */
    DHT_ENOMEM,      /* an allocation failed; nothing changed */
    DHT_EBUSY,       /* the lookup slots are all taken; try again later */
    DHT_EFULL,       /* a bounded list (announcements, puts, records, table) is full */
    DHT_ENOPEERS,    /* the routing table is empty, or no node answered */
    DHT_ENOTFOUND,   /* the lookup ended without the record asked for */
    DHT_ECANCELED,   /* the lookup was cancelled by dht_free */
    DHT_EUNEXPECTED, /* a reply to nothing we asked (unknown id or other sender) */
    DHT_ESTALE,      /* a head with this seq or a higher one is already known */
    DHT_ESIG,        /* a head whose signature does not verify */
    DHT_ENOENDPOINT, /* we, or the peer, have no endpoint others could reach */
    DHT_EREENTRY,    /* called from a result callback, where this is not allowed */
} dht_err_t;

const char *dht_strerror(dht_err_t err);

typedef struct dht dht_t;

/* Sends m to `to`. Both borrowed for the call. A request goes to a contact
 * with an endpoint; a reply goes to whoever asked, whose endpoint is ""
 * when it gave none: send it by key on the connection the request came
 * on. Returns 0 when the message was queued; anything else means it cannot
 * be sent (no route, queue full), and a request then fails at once. Must
 * not call into the dht. */
typedef int (*dht_send_cb)(void *ud, const dht_contact_t *to, const dht_msg_t *m);
/* Fills buf with n random bytes. Cannot fail. Must not call into the dht. */
typedef void (*dht_random_cb)(void *ud, void *buf, size_t n);
/* Optional: true when an endpoint learned from a message is one to keep
 * (the node checks the syntax of docs/PROTOCOL.md section 6). The codec
 * already checked length and graphic ASCII. Must not call into the dht. */
typedef bool (*dht_endpoint_cb)(void *ud, const char *endpoint);

/* Tunables are 0 for the default of dhtproto.h. */
typedef struct {
    uint8_t key[DHT_KEY_SIZE];   /* our node key (X25519 public); our id is derived from it */
    const char *endpoint;        /* where we accept connections, or NULL / "" for nowhere;
                                    borrowed for the dht_new call (it is copied) */
    dht_send_cb send;            /* required */
    dht_random_cb random;        /* required */
    dht_endpoint_cb endpoint_ok; /* optional */
    /* Optional: true when a contact with this endpoint may go in the
     * routing table and in the contacts of answers (NODES, closer); false
     * keeps it a provider only (a node reached through a relay names the
     * relay: no contact for lookups). NULL: every accepted endpoint. */
    dht_endpoint_cb route_ok;
    void *ud; /* passed to the callbacks; borrowed until dht_free */

    unsigned k;        /* 1..DHT_NODES_MAX */
    unsigned alpha;    /* 1..DHT_ALPHA_MAX */
    unsigned attempts; /* 1..DHT_ATTEMPTS_MAX sends of one lookup request to a silent node */
    unsigned replacements;
    int per_subnet;       /* 0: default; < 0: no bound (a test network on one host) */
    int lookup_per_group; /* candidates of one network group in a lookup's window;
                             0: default; < 0: no bound */
    unsigned fails_max;
    unsigned lookups_max;
    unsigned pending_max; /* at most 512 */
    unsigned lookup_queries_max;
    unsigned response_new_max;
    unsigned announces_max;
    unsigned puts_max;
    unsigned records_max;
    unsigned sender_records_max;
    unsigned key_providers_max;
    unsigned key_providers_per_group; /* providers of one key from one network group */
    uint64_t rpc_timeout_ms;
    uint64_t rpc_stall_ms;
    uint64_t refresh_ms;
    uint64_t questionable_ms;
    uint64_t provider_ttl_ms;
    uint64_t reannounce_ms;
    uint64_t head_ttl_ms;
    uint64_t reput_ms;
} dht_config_t;

/* Creates a node. cfg borrowed for the call (cfg->ud until dht_free).
 * DHT_EINVAL for a missing callback or a tunable out of range, DHT_ENOMEM.
 * On error *out is unchanged. */
dht_err_t dht_new(dht_t **out, const dht_config_t *cfg);

/* Frees the node. Every unfinished lookup's callback is called first with
 * DHT_ECANCELED (it must not call into d). Accepts NULL. */
void dht_free(dht_t *d);

/* Our id (dhtid_from_node_key of our key). Borrowed until dht_free. */
const uint8_t *dht_id(const dht_t *d);

/* A message from an authenticated peer. `from` is who sent it (the
 * transport proved the key); its endpoint is "" when the peer accepts no
 * connections: then it is answered but not put in the routing table. from
 * and m borrowed for the call. Requests are answered through send.
 * Returns DHT_OK when the message was taken; DHT_EUNEXPECTED for a reply
 * to nothing we asked (or from another node than the one asked), DHT_EINVAL
 * for a message from our own key or of a type that is not a DHT message.
 * Errors change nothing; the node counts them. */
dht_err_t dht_receive(dht_t *d, const dht_contact_t *from, const dht_msg_t *m, uint64_t now_ms);

/* The node could not connect to (or lost) the peer with this key: its
 * requests in flight fail now instead of at their timeout. key borrowed. */
dht_err_t dht_unreachable(dht_t *d, const uint8_t key[static DHT_KEY_SIZE], uint64_t now_ms);
/* The node dropped its connection to this peer for a reason that is not
 * the peer's fault (evicted idle, refused for want of a slot, the peer
 * forgot the connection): requests in flight to it fail now, as if
 * refused, and its routing table entry is left as it is. key borrowed. */
dht_err_t dht_lost(dht_t *d, const uint8_t key[static DHT_KEY_SIZE], uint64_t now_ms);

/* Timeouts, lookups, refresh, re-announce, re-put, expiry. Sets *next_ms
 * (may be NULL) to when it wants to run again. Cannot fail. */
void dht_tick(dht_t *d, uint64_t now_ms, uint64_t *next_ms);

/* When dht_tick wants to run next; call after dht_receive and the other
 * calls too, since they may send requests with deadlines. */
uint64_t dht_next_ms(const dht_t *d);

/* Offers a contact from a saved table, bootstrap.list or the local network.
 * It goes into the table (or the replacement cache) as never heard from,
 * so it is pinged before it keeps a place in a full bucket. c borrowed.
 * DHT_OK, DHT_EINVAL (our own key, bad endpoint), DHT_EFULL (refused by the
 * network-group bound). */
dht_err_t dht_add_contact(dht_t *d, const dht_contact_t *c, uint64_t now_ms);

/* ---- the routing table, for saving and for status ---- */

typedef struct {
    dht_contact_t c;
    uint8_t id[DHT_KEY_SIZE];
    unsigned bucket;       /* common prefix length of our id and this id */
    uint64_t last_seen_ms; /* 0: never heard from */
    unsigned fails;        /* failed requests in a row */
} dht_table_entry_t;

/* A cursor over the table; start with {0}. */
typedef struct {
    unsigned bucket;
    size_t index;
} dht_table_iter_t;

/* Copies the next contact into *out; false at the end. Buckets in order,
 * least recently seen first. If the table changes between calls (any other
 * dht_ call), the walk stays memory-safe but may skip or repeat contacts. */
bool dht_table_next(const dht_t *d, dht_table_iter_t *it, dht_table_entry_t *out);
/* Contacts in the table, and in one bucket (0..255). */
size_t dht_table_size(const dht_t *d);
size_t dht_table_bucket_size(const dht_t *d, unsigned bucket);

/* ---- lookups ---- */

typedef enum {
    DHT_LOOKUP_FIND_NODE = 1,
    DHT_LOOKUP_GET_PROVIDERS = 2,
    DHT_LOOKUP_GET_HEAD = 3,
} dht_lookup_kind_t;

/* What a lookup found. Every pointer borrowed for the callback only. */
typedef struct {
    dht_err_t status;             /* DHT_OK; DHT_ENOTFOUND (no record); DHT_ENOPEERS (nobody
                                     answered); DHT_ECANCELED */
    uint8_t kind;                 /* dht_lookup_kind_t */
    uint8_t target[DHT_KEY_SIZE]; /* the id looked up (for records: the author record key) */
    /* The closest nodes that answered, closest first (at most k). */
    const dht_contact_t *contacts;
    size_t n_contacts;
    /* GET_PROVIDERS: providers found, at most DHT_PROVIDERS_MAX. */
    const dht_contact_t *providers;
    size_t n_providers;
    /* GET_HEAD: the verified head of the author with the highest seq, or
     * NULL. head_len is HEAD_SIZE when set. */
    const uint8_t *head;
    size_t head_len;
    uint64_t head_seq;
    /* Hops: the depth of the chain of answers that led to the result.
     * A node from our own table that answered is 1 hop; a node learned
     * from a 1-hop node's answer is 2; and so on. For FIND_NODE it is the
     * hops of the closest node that answered; for GET_PROVIDERS, of the
     * first answer with a provider; for GET_HEAD, of the answer whose head
     * is returned (0 when we held the record ourselves). */
    unsigned hops;
    unsigned messages; /* requests this lookup sent, re-sends included */
    uint64_t elapsed_ms;
} dht_result_t;

/* Called once per lookup, from dht_receive, dht_unreachable, dht_tick or
 * dht_free, never from the call that started the lookup. It may start new
 * lookups, announce, put; it must not call dht_free, dht_receive, dht_tick
 * or dht_unreachable (those return DHT_EREENTRY or do nothing). r borrowed
 * for the call. */
typedef void (*dht_result_cb)(void *ud, const dht_result_t *r);

/* Iterative lookups. target / author_pk borrowed for the call; cb and ud
 * until the callback ran. DHT_OK: the callback will be called. DHT_EBUSY:
 * lookups_max lookups are running. DHT_ENOPEERS: the table is empty.
 * DHT_ENOMEM. On error the callback is never called. */
dht_err_t dht_find_node(dht_t *d, const uint8_t target[static DHT_KEY_SIZE], dht_result_cb cb,
                        void *ud, uint64_t now_ms);
dht_err_t dht_get_providers(dht_t *d, const uint8_t author_pk[static DHT_KEY_SIZE],
                            dht_result_cb cb, void *ud, uint64_t now_ms);
dht_err_t dht_get_head(dht_t *d, const uint8_t author_pk[static DHT_KEY_SIZE], dht_result_cb cb,
                       void *ud, uint64_t now_ms);

/* Where we accept connections from now on ("" for nowhere): the node's
 * reachability check found it, or lost it. Our own provider records take
 * it at the next announce; dht_announce needs one. DHT_EINVAL (nothing
 * changed) when endpoint is NULL or not acceptable. */
dht_err_t dht_set_endpoint(dht_t *d, const char *endpoint);

/* Announces this node as a provider of the author's feed: finds the k
 * closest nodes to the author record key and sends them ANNOUNCE, now and
 * every reannounce_ms until dht_unannounce. Needs our own endpoint
 * (DHT_ENOENDPOINT). DHT_EFULL past announces_max. Announcing again an
 * author already announced renews it now. The announce itself runs in the
 * background (from dht_tick when no lookup slot is free). */
dht_err_t dht_announce(dht_t *d, const uint8_t author_pk[static DHT_KEY_SIZE], uint64_t now_ms);
/* Stops renewing; records at other nodes expire by their TTL. DHT_OK or
 * DHT_ENOTFOUND. */
dht_err_t dht_unannounce(dht_t *d, const uint8_t author_pk[static DHT_KEY_SIZE]);

/* Stores a signed head record (HEAD_SIZE bytes, borrowed for the call) at
 * the k closest nodes to its author record key, now and every reput_ms,
 * until a head with a higher seq for the same author replaces it or
 * dht_unput_head. Any node may put any author's head: the signature is
 * what makes it true. DHT_ESIG (does not verify), DHT_EINVAL (not a head),
 * DHT_ESTALE (we already keep one with this seq or higher), DHT_EFULL. */
dht_err_t dht_put_head(dht_t *d, const uint8_t *head, size_t len, uint64_t now_ms);
dht_err_t dht_unput_head(dht_t *d, const uint8_t author_pk[static DHT_KEY_SIZE]);

/* ---- counters ---- */

typedef struct {
    uint64_t sent[16];      /* messages sent, by type - DHT_MSG_TYPE_FIRST */
    uint64_t received[16];  /* messages taken by dht_receive, by type */
    uint64_t unexpected;    /* replies to nothing we asked */
    uint64_t timeouts;      /* requests that were not answered in time */
    uint64_t send_failures; /* requests the send callback refused */
    uint64_t refused;       /* requests we answered with ERROR */
    uint64_t bad_replies;   /* replies of the wrong type, or a bad head */
    uint64_t lookups_started;
    uint64_t lookups_done;
    uint64_t announce_retries; /* ANNOUNCEs sent again (or announces run again) for a miss */
    size_t table_size;
    size_t lookups_active;
    size_t pending; /* requests in flight */
    size_t records; /* records stored for others */
    size_t record_bytes;
    size_t announces;
    size_t puts;
} dht_stats_t;

/* Cannot fail. */
void dht_get_stats(const dht_t *d, dht_stats_t *out);

#endif
