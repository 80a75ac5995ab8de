/* dhtproto: every protocol constant and limit of the DHT layer.
 *
 * Message types, the caps the codec checks, and the defaults of the
 * tunables (k, alpha, timeouts, record lifetimes, storage bounds). The
 * tunables can be overridden per node through dht_config_t; the caps and
 * types cannot, because other nodes rely on them. docs/PROTOCOL.md section 10
 * shows the types and caps, docs/INTERNALS.md sections 3.3 to 3.5 the
 * tunables, with the same values. */
#ifndef SAMIZDAT_DHTPROTO_H
#define SAMIZDAT_DHTPROTO_H

/* Wire types 0x10..0x1f belong to the DHT. Each message travels in the
 * project's frame (docs/PROTOCOL.md section 6): u8 version | u8 type |
 * u32 request id | payload. */
typedef enum {
    DHT_MSG_PING = 0x10,          /* request; empty payload */
    DHT_MSG_PONG = 0x11,          /* answers PING; empty payload */
    DHT_MSG_FIND_NODE = 0x12,     /* request: target id */
    DHT_MSG_NODES = 0x13,         /* answers FIND_NODE: up to DHT_NODES_MAX contacts */
    DHT_MSG_ANNOUNCE = 0x14,      /* request: "I provide this author record key" */
    DHT_MSG_ACK = 0x15,           /* answers ANNOUNCE and PUT_HEAD; empty payload */
    DHT_MSG_GET_PROVIDERS = 0x16, /* request: author record key */
    DHT_MSG_PROVIDERS = 0x17,     /* answers GET_PROVIDERS: providers + closer contacts */
    DHT_MSG_PUT_HEAD = 0x18,      /* request: a signed head record */
    DHT_MSG_GET_HEAD = 0x19,      /* request: author record key */
    DHT_MSG_HEAD = 0x1a,          /* answers GET_HEAD: head or none + closer contacts */
    DHT_MSG_ERROR = 0x1b,         /* answers any request that is refused */
    DHT_MSG_TYPE_FIRST = DHT_MSG_PING,
    DHT_MSG_TYPE_LAST = DHT_MSG_ERROR,
} dht_msg_type_t;

/* Codes in DHT_MSG_ERROR. A receiver accepts any value, so later versions
 * can add codes. */
typedef enum {
    DHT_ERR_REFUSED = 1,     /* refused for a reason no other code names */
    DHT_ERR_FULL = 2,        /* the record store, or this sender's share of it, is full */
    DHT_ERR_STALE = 3,       /* PUT_HEAD: a head with this seq or a higher one is stored */
    DHT_ERR_BAD_SIG = 4,     /* PUT_HEAD: the head's signature does not verify */
    DHT_ERR_NO_ENDPOINT = 5, /* ANNOUNCE from a peer that gave no endpoint to reach it */
} dht_error_code_t;

/* Caps of the codec: part of the protocol. */
enum {
    DHT_KEY_SIZE = 32,           /* node keys, ids, author record keys */
    DHT_ENDPOINT_MAX = 128,      /* bytes of one endpoint; same as WIRE_ENDPOINT_MAX */
    DHT_NODES_MAX = 20,          /* contacts in NODES, and closer contacts in PROVIDERS/HEAD */
    DHT_PROVIDERS_MAX = 20,      /* providers in one PROVIDERS */
    DHT_HEAD_MAX = 145,          /* bytes of a head record in a message (HEAD_SIZE) */
    DHT_ERROR_TEXT_MAX = 100,    /* bytes of the text in ERROR */
    DHT_FRAME_HEADER = 6,        /* the frame header the payload travels behind */
    DHT_PAYLOAD_MAX = 65536 - 6, /* any payload fits in one frame */
    /* The largest payload: PROVIDERS with 20 providers and 20 closer
     * contacts, every endpoint 128 bytes: 2 * (1 + 20 * (32 + 1 + 128)). */
    DHT_CONTACT_WIRE_MAX = 32 + 1 + DHT_ENDPOINT_MAX,
    DHT_LARGEST_PAYLOAD = 2 * (1 + 20 * DHT_CONTACT_WIRE_MAX),
};

/* Defaults of the tunables (dht_config_t overrides them). Times in ms. */
enum {
    DHT_K = 20,    /* bucket size and lookup width; at most DHT_NODES_MAX */
    DHT_ALPHA = 3, /* requests in flight per lookup */
    DHT_ALPHA_MAX = 8,
    DHT_ATTEMPTS = 3, /* sends of one lookup request to a silent node */
    DHT_ATTEMPTS_MAX = 8,
    DHT_REPLACEMENTS = 5,            /* replacement cache entries per bucket */
    DHT_PER_SUBNET = 2,              /* contacts per /24, /64 or host name in one bucket */
    DHT_LOOKUP_PER_GROUP = 1,        /* candidates per /24, /64 or name in a lookup's list */
    DHT_FAILS_MAX = 2,               /* failed requests in a row that make a contact stale */
    DHT_LOOKUPS_MAX = 16,            /* concurrent lookups per node */
    DHT_PENDING_MAX = 256,           /* requests in flight per node; at most 512 */
    DHT_LOOKUP_QUERIES_MAX = 64,     /* nodes one lookup may ask (each up to DHT_ATTEMPTS times) */
    DHT_RESPONSE_NEW_MAX = 10,       /* new candidates one response may add to a lookup */
    DHT_ANNOUNCES_MAX = 1024,        /* authors this node announces itself for */
    DHT_PUTS_MAX = 1024,             /* heads this node keeps putting */
    DHT_RECORDS_MAX = 32768,         /* records stored for others (providers + heads) */
    DHT_SENDER_RECORDS_MAX = 512,    /* records charged to one sender */
    DHT_KEY_PROVIDERS_MAX = 32,      /* providers stored for one author record key */
    DHT_KEY_PROVIDERS_PER_GROUP = 4, /* of them from one network group (rtable.h) */
    DHT_EVICT_SAMPLE = 8,            /* records looked at to choose one to evict */
};

/* Time tunables in milliseconds. Not an enum: some exceed INT_MAX. */
#define DHT_RPC_TIMEOUT_MS 4000ull              /* a request not answered by then failed */
/* ANNOUNCE and PUT_HEAD wait longer: a node may hold an ANNOUNCE while it
 * dials the sender back (5 s at most in samizdat) before it answers. */
#define DHT_STORE_TIMEOUT_MS 8000ull
#define DHT_RPC_STALL_MS 1000ull                /* after this a slow request frees its alpha slot */
#define DHT_RPC_STALL_MIN_MS 20ull              /* the least the measured stall time may be */
#define DHT_REFRESH_MS (60ull * 60 * 1000)      /* refresh buckets no lookup touched for an hour */
#define DHT_QUESTIONABLE_MS (15ull * 60 * 1000) /* LRS older than this is pinged */
/* Renewals are frequent because the nodes holding records are personal
 * computers that come and go: a record outlives its holders only if it is
 * stored again at the current k closest well within their sessions
 * (docs/DHT-NOTES.md, "Records", says why; docs/BENCHMARKS.md, "Record
 * renewal", has the measurement). */
#define DHT_PROVIDER_TTL_MS (2ull * 60 * 60 * 1000) /* provider records live 2 h */
#define DHT_REANNOUNCE_MS (30ull * 60 * 1000)       /* and are renewed every 30 min */
#define DHT_HEAD_TTL_MS (24ull * 60 * 60 * 1000)    /* head records live 24 h */
#define DHT_REPUT_MS (30ull * 60 * 1000)            /* and are put again every 30 min */
#define DHT_EXPIRE_SCAN_MS (60ull * 1000)           /* how often expired records go */
#define DHT_RETRY_MS (60ull * 1000) /* an announce or put that found no one is retried */
#define DHT_ANNOUNCE_RETRY_MS 5000ull /* an announce a close node missed: again, doubling */
#define DHT_JOIN_RETRY_MS 1000ull   /* a join that reached no one: again after 1 s, doubling */

#endif
