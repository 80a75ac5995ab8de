/* app: what a user can do, and the only place it is implemented.
 *
 * Every front end (the command line today, a web API later) builds an
 * app_request_t, hands it to app_call() and gets an app_result_t back. The
 * app never parses argv and never prints: keys and ids arrive as bytes,
 * results leave as structs.
 *
 * Two kinds of app_t with the same contract:
 *   - local:  works on a store (borrowed, or opened on first need from the
 *             data directory) and, when cfg.node is set, on the running node;
 *   - remote: a client of a running node's control socket (control.h): the
 *             request is encoded (appmsg.h), sent over a libuv pipe, and the
 *             result decoded, so a front end formats the same result either
 *             way.
 *
 * Threading: one loop thread. app_call() and app_free() are called on it.
 * Long work (import, export, a large feed) runs in slices on the loop, so the
 * node keeps answering peers meanwhile. */
#ifndef SAMIZDAT_APP_H
#define SAMIZDAT_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "datadir.h"
#include "dht.h"
#include "invite.h"
#include "keys.h"
#include "keytext.h"
#include "portmap.h"
#include "post.h"
#include "repair.h"
#include "store.h"
#include "wire.h"

struct node;

enum {
    APP_MSG_MAX = 512,                      /* bytes of an error message, NUL included */
    APP_TEXT_MAX = 16 * 1024,               /* bytes of text a request carries (a post
                                               holds at most POST_BODY_MAX; the rest is
                                               there to say how long it was) */
    APP_PATH_MAX = DATADIR_PATH_MAX,        /* bytes of a file path, NUL included */
    APP_LOOKUP_MAX = 64,                    /* authors in one lookup request */
    APP_PAGE_DEFAULT = 20,                  /* posts in a page when limit is 0 */
    APP_PAGE_MAX = 100000,                  /* posts in one page of feed or timeline */
    APP_REFUSALS_MAX = 10,                  /* refused records an import report names */
    APP_IMPORT_DATA_MAX = 64 * 1024 * 1024, /* bytes of a feed file sent in a request */
    APP_EXPORT_DATA_MAX = 64 * 1024 * 1024, /* bytes of a feed file returned in a result */
    APP_PEER_WAIT_MS = 10000,               /* peer add: default wait for the handshake */
    APP_PEER_WAIT_MAX_MS = 120000,
    APP_RTT_WAIT_MS = 1000, /* peer add: after the handshake, for the first round trip */
    APP_THREAD_MAX = 200,   /* posts of a thread: the post and its replies */
    APP_THREAD_DEPTH = 8,   /* levels of replies below the post */
    APP_SLICE_MS = 5,       /* long work yields the loop after this long */
};

typedef enum {
    APP_OK = 0,
    APP_ENOMEM,
    APP_EINVAL,      /* bad input: text, a file that is not a feed file, not your post */
    APP_ENOTFOUND,   /* the post, author or file asked for is not there */
    APP_EIO,         /* the store, a file or the disk failed */
    APP_ELOCKED,     /* another process holds the store */
    APP_ENOKEY,      /* no key in the data directory: `init` first */
    APP_EKEY,        /* the key file is unusable: permissions, corrupt, wrong passphrase */
    APP_EDENIED,     /* refused by a rule: a blocked author, a file that exists */
    APP_ENOTRUNNING, /* needs the running node */
    APP_EPEER,       /* peer add: the peer did not complete the handshake */
    APP_EPROTO,      /* the control socket broke or spoke nonsense */
    APP_ECANCELED,   /* the app closed before the call finished */
    APP_EBUSY,       /* too many calls at once */
    APP_EBEHIND,     /* the store's own feed is behind what was signed: not signing again */
    APP_ERR_LAST = APP_EBEHIND,
} app_err_t;

const char *app_strerror(app_err_t err);

/* The operations, their values fixed by the control socket's format
 * (docs/INTERNALS.md section 2). Beside each: what can fail, besides
 * ENOMEM, EIO and ELOCKED (the store), ENOKEY and EKEY (the author key),
 * and through a remote app EPROTO, ENOTRUNNING and ECANCELED. */
typedef enum {
    APP_OP_STATUS = 1, /* -; offline without a key: ENOKEY */
    APP_OP_POST,       /* EINVAL: empty, blank, too long, invalid text */
    APP_OP_REPLY,      /* EINVAL as POST */
    APP_OP_DELETE,     /* ENOTFOUND: no such post; EINVAL: not your post */
    APP_OP_PROFILE,    /* EINVAL: no name, a bad name or bio */
    APP_OP_FEED,       /* ENOTFOUND: nothing of the author stored; EINVAL: limit */
    APP_OP_SHOW,       /* ENOTFOUND */
    APP_OP_TIMELINE,   /* ENOTFOUND: the --before post; EINVAL: limit */
    APP_OP_FOLLOW,     /* EDENIED: the author is blocked */
    APP_OP_UNFOLLOW,   /* ENOTFOUND: not followed */
    APP_OP_FOLLOWING,  /* - */
    APP_OP_BLOCK,      /* EINVAL: oneself */
    APP_OP_UNBLOCK,    /* ENOTFOUND: not blocked */
    APP_OP_BLOCKED,    /* - */
    APP_OP_EXPORT,     /* ENOTFOUND: nothing stored; EDENIED: the file exists */
    APP_OP_IMPORT,     /* ENOTFOUND: no file; EINVAL: not a feed file. Refused
                          records and a malformed tail are in the report */
    APP_OP_PEERS,      /* ENOTRUNNING */
    APP_OP_PEER_ADD,   /* EINVAL: endpoint; EPEER: no handshake (running node) */
    APP_OP_LOOKUP,     /* ENOTRUNNING; per author, DHT statuses in the result */
    APP_OP_FIND_NODE,  /* ENOTRUNNING; EBUSY: too many lookups */
    APP_OP_INVITE,     /* ENOTRUNNING; ENOTFOUND: no endpoint others could dial */
    APP_OP_JOIN,       /* EINVAL: not an invite (the message says why); EPEER: no
                          endpoint of the invite completed the handshake; EDENIED:
                          the invite's author is blocked */
    APP_OP_THREAD,     /* ENOTFOUND: the post */
    APP_OP_LAST = APP_OP_THREAD,
} app_op_t;

/* "status", "post", ...; "?" for a value out of range. */
const char *app_op_name(app_op_t op);

/* Parses the text form of a key or post id of kind into out. On failure
 * msg (cap bytes) says why in the words every front end uses: which other
 * kind of key the text is ("'szn1...' is a node key, not an author key"),
 * else what is wrong with it (a mistyped or missing character). */
bool app_key_parse(const char *text, keytext_kind_t kind, uint8_t out[static KEYTEXT_VALUE_SIZE],
                   char *msg, size_t cap);

/* A DHT id as a person gives it for FIND_NODE: a node key in text form
 * (szn1...; its DHT id is derived) or 64 hex digits. */
bool app_dht_id_parse(const char *text, uint8_t id[DHT_KEY_SIZE]);

/* ---- requests: every pointer borrowed for the app_call ---- */

typedef struct {
    const char *text; /* UTF-8, text_len bytes, need not be NUL-terminated */
    size_t text_len;  /* at most APP_TEXT_MAX */
} app_text_t;

/* The arguments of each op. */
typedef union {
    struct {
        app_text_t body;
    } post;
    struct {
        uint8_t ref[POST_ID_SIZE];
        app_text_t body;
    } reply;
    struct {
        uint8_t ref[POST_ID_SIZE];
    } del;
    struct {
        app_text_t name;
        bool has_bio;
        app_text_t bio;
    } profile;
    struct {
        bool self; /* the author of this data directory; author ignored */
        uint8_t author[KEYS_PUBLIC_SIZE];
        uint64_t before_seq; /* 0: from the newest */
        uint32_t limit;      /* 0: APP_PAGE_DEFAULT; at most APP_PAGE_MAX */
    } feed;
    struct {
        uint8_t id[POST_ID_SIZE];
    } show; /* SHOW, THREAD */
    struct {
        bool has_before;
        uint8_t before[POST_ID_SIZE]; /* the page continues below this post */
        uint32_t limit;
    } timeline;
    struct {
        uint8_t author[KEYS_PUBLIC_SIZE];
    } author; /* FOLLOW, UNFOLLOW, BLOCK, UNBLOCK */
    struct {
        uint8_t author[KEYS_PUBLIC_SIZE];
        const char *path; /* absolute (a remote node has its own working directory);
                             NULL: the file comes back in the result's data */
        bool force;       /* replace an existing file */
    } export_;
    struct {
        const char *path;    /* a feed file to read; NULL: data holds the file */
        const uint8_t *data; /* at most APP_IMPORT_DATA_MAX bytes */
        size_t data_len;
    } import;
    struct {
        uint8_t key[KEYS_PUBLIC_SIZE];
        const char *endpoint;
        uint32_t timeout_ms; /* 0: APP_PEER_WAIT_MS */
    } peer_add;
    struct {
        size_t n;               /* 1..APP_LOOKUP_MAX */
        const uint8_t *authors; /* n x KEYS_PUBLIC_SIZE bytes */
    } lookup;
    struct {
        uint8_t target[DHT_KEY_SIZE]; /* a DHT id */
    } find_node;
    struct {
        bool no_author; /* leave this node's author key out */
    } invite;
    struct {
        const char *invite;  /* the text, as the person pasted it */
        uint32_t timeout_ms; /* per endpoint; 0: APP_PEER_WAIT_MS */
    } join;
} app_args_t;

typedef struct {
    app_op_t op;
    app_args_t u;
} app_request_t;

/* ---- results ---- */

/* A post as a front end shows it. */
typedef struct {
    post_t post;
    char display_name[POST_NAME_MAX + 1]; /* the author's profile name, else a short key */
    bool deleted; /* deleted by its author: a front end must not show the body */
} app_post_t;

/* An author in a list (following, blocked) or the subject of follow/block. */
typedef struct {
    uint8_t author[KEYS_PUBLIC_SIZE];
    bool has_name;
    char name[POST_NAME_MAX + 1]; /* from the author's latest profile */
    uint64_t since_ms;            /* followed or blocked since; 0 when not */
} app_author_t;

/* One author looked up in the DHT. Statuses are dht_err_t values. */
typedef struct {
    uint8_t author[KEYS_PUBLIC_SIZE];
    uint8_t providers_status;
    uint8_t head_status;
    size_t n_providers;
    dht_contact_t providers[DHT_PROVIDERS_MAX];
    bool has_head;
    uint64_t head_seq;
    uint8_t head_id[POST_ID_SIZE];
    uint32_t hops;
    uint32_t messages;
    uint64_t ms;
} app_lookup_t;

typedef struct {
    uint64_t record; /* 1-based position in the file */
    char why[96];
} app_refusal_t;

typedef struct {
    uint8_t key[KEYS_PUBLIC_SIZE];
    char endpoint[WIRE_ENDPOINT_MAX + 1];
    bool outbound;
    bool ready;
    uint64_t last_seen_ms; /* wall clock */
    int64_t rtt_us;        /* -1 until measured */
    char software[WIRE_SOFTWARE_MAX + 1];
} app_peer_t;

enum {
    APP_LISTEN_MAX = 4,
    APP_LISTEN_LEN = 160,
    APP_REACH_MAX = 8,
    APP_RELAYS_MAX = 3,
    APP_SOCKS5_MAX = 64,
    APP_CIRCUITS_WHY_MAX = 128,
};

/* Reachability (app_status_t.reach) and one endpoint's verdict: the values
 * of node_reach_t and node_ep_verdict_t (node/core/node.h). */
enum {
    APP_REACH_UNCHECKED = 0,
    APP_REACH_CHECKING = 1,
    APP_REACH_REACHABLE = 2,
    APP_REACH_UNREACHABLE = 3,
};
enum {
    APP_EP_UNKNOWN = 0,
    APP_EP_REACHABLE = 1,
    APP_EP_UNREACHABLE = 2,
};

typedef struct {
    bool running;
    bool has_author;
    uint8_t author[KEYS_PUBLIC_SIZE];
    char data_dir[APP_PATH_MAX];
    uint64_t posts, authors, following, forks; /* the store */
    /* Only when running: */
    uint8_t node_key[KEYS_PUBLIC_SIZE];
    char network[WIRE_NETWORK_MAX + 1];
    size_t n_listen;
    char listen[APP_LISTEN_MAX][APP_LISTEN_LEN];
    uint64_t uptime_ms;
    uint64_t peers, peers_in, peers_out, contacts;
    uint64_t dht_table, dht_records, dht_announces, dht_lookups;
    uint64_t g_peers, g_received, g_stored, g_duplicates, g_invalid, g_forwarded, g_rate_limited,
        g_bytes_in, g_bytes_out, g_forks;
    uint64_t malformed, oversized, unknown, unsolicited, dropped_multipart, timeouts, flood_cuts;
    /* Port mapping on the router: 0 not asked (--no-upnp, loopback), else
     * 1 + portmap_state_t (1 trying, 2 mapped, 3 failed). */
    uint8_t portmap;
    char portmap_method[16];                      /* "NAT-PMP" or "UPnP-IGD" */
    char portmap_external[ADDR_ENDPOINT_MAX + 1]; /* mapped: tcp://PUBLIC:PORT */
    uint32_t portmap_lifetime_s;
    bool portmap_behind_nat;           /* mapped, but the router's public address is private */
    char portmap_why[PORTMAP_WHY_MAX]; /* failed: in words */
    /* The dial-back check: APP_REACH_*, and this node's candidate
     * endpoints with what peers found (APP_EP_*), an onion service of ours
     * marked. */
    uint8_t reach;
    size_t n_reach;
    struct {
        char endpoint[ADDR_ENDPOINT_MAX + 1];
        uint8_t verdict;
        bool onion;
    } reach_eps[APP_REACH_MAX];
    /* Relays: the relayed endpoints this node holds reservations at, and
     * what it relays for others (relay_port 0: it does not). */
    size_t n_relays;
    char relays[APP_RELAYS_MAX][ADDR_ENDPOINT_MAX + 1];
    uint16_t relay_port;
    char relay_mapped[ADDR_ENDPOINT_MAX + 1]; /* the router forwards it to relay_port; "" */
    uint64_t relay_reservations, relay_circuits;
    /* Connections out through a SOCKS5 proxy (--socks5, --tor): the proxy,
     * "" when direct; whether each peer gets a Tor circuit of its own, and
     * when not, why in words. */
    char socks5[APP_SOCKS5_MAX];
    bool circuit_per_peer;
    char circuits_why[APP_CIRCUITS_WHY_MAX];
} app_status_t;

/* FEED: one page of an author's feed, newest first. */
typedef struct {
    uint8_t author[KEYS_PUBLIC_SIZE];
    bool stored; /* anything of the author is stored */
    uint64_t head_seq, max_seq;
    bool has_profile;   /* the author's latest profile post is stored */
    app_post_t profile; /* it: name in post.name, bio in post.body */
    size_t n_forks;
    store_fork_t *forks;
    size_t n_posts;
    app_post_t *posts;
    bool more; /* a full page: the next starts below next_before */
    uint64_t next_before;
} app_feed_page_t;

/* TIMELINE: one page of the timeline, newest first. */
typedef struct {
    size_t n_posts;
    app_post_t *posts;
    bool more;
    uint8_t next_before[POST_ID_SIZE];
} app_timeline_page_t;

/* IMPORT: what became of the records of a feed file. */
typedef struct {
    uint64_t records, added, duplicates, forks, refused;
    bool complete;       /* read to a clean end of file */
    char malformed[128]; /* why it stopped making sense, when not complete */
    size_t n_refusals;
    app_refusal_t refusals[APP_REFUSALS_MAX];
} app_import_report_t;

/* THREAD: a post, the post it replies to, and its replies below it,
 * depth first, each level oldest first. */
typedef struct {
    app_post_t post;
    uint32_t depth; /* 0: the post asked for; 1: a reply to it; ... */
} app_thread_item_t;

typedef struct {
    bool has_parent; /* the post is a reply and what it replies to is stored */
    app_post_t parent;
    size_t n; /* at least 1: items[0] is the post asked for */
    app_thread_item_t *items;
    bool truncated; /* more replies than APP_THREAD_MAX or APP_THREAD_DEPTH */
} app_thread_t;

/* FIND_NODE: the nodes closest to a DHT id. */
typedef struct {
    uint8_t target[DHT_KEY_SIZE];
    uint8_t status; /* dht_err_t */
    size_t n;
    dht_contact_t contacts[DHT_NODES_MAX];
    uint32_t hops, messages;
    uint64_t ms;
} app_find_node_t;

/* JOIN: what became of an invite. Offline, the endpoints are saved for the
 * next start and the author followed. */
typedef struct {
    invite_t invite;                      /* what the invite said */
    bool connected;                       /* through the running node: a handshake completed */
    char endpoint[ADDR_ENDPOINT_MAX + 1]; /* the endpoint that answered */
    int64_t rtt_us;                       /* connected: the first round trip, or -1 */
    bool followed;                        /* the invite named an author, now followed */
    app_author_t author;
} app_join_t;

/* The result of each op. */
typedef union {
    app_status_t status;
    struct {
        post_t post; /* the signed post */
    } publish;       /* POST, REPLY, DELETE, PROFILE */
    app_feed_page_t feed;
    struct {
        app_post_t post;
        size_t raw_len;
        uint8_t raw[POST_MAX_SIZE];
    } show;
    app_timeline_page_t timeline;
    struct {
        app_author_t author;
        uint64_t purged; /* BLOCK: stored posts removed */
        bool looked_up;  /* FOLLOW through the running node: lookup holds the DHT answer */
        app_lookup_t lookup;
    } author; /* FOLLOW, UNFOLLOW, BLOCK, UNBLOCK */
    struct {
        size_t n;
        app_author_t *authors;
    } list; /* FOLLOWING, BLOCKED */
    struct {
        uint64_t posts;
        char *path;    /* the file written, or NULL */
        uint8_t *data; /* the file, when the request gave no path */
        size_t data_len;
    } export_;
    app_import_report_t import;
    struct {
        size_t n;
        app_peer_t *peers;
    } peers;
    struct {
        bool connected; /* through the running node: the handshake completed */
        int64_t rtt_us; /* connected: the first round trip, or -1 */
    } peer_add;         /* offline: saved for the next start */
    struct {
        size_t n;
        app_lookup_t *items;
    } lookup;
    app_find_node_t find_node;
    struct {
        char text[INVITE_TEXT_MAX];
        invite_t invite; /* what the text says */
    } invite;
    app_join_t join;
    app_thread_t thread;
} app_result_data_t;

typedef struct {
    app_op_t op;
    app_err_t err;
    char msg[APP_MSG_MAX]; /* why, in words, when err != APP_OK; else "" */
    app_result_data_t u;
} app_result_t;

/* A zeroed result for op, on the heap; NULL when out of memory. Free with
 * app_result_free. */
app_result_t *app_result_new(app_op_t op);
/* Frees the result and what it holds. Accepts NULL. */
void app_result_free(app_result_t *r);

/* ---- the app ---- */

typedef struct app app_t;

/* Asked for the passphrase of a sealed author key, the first time a call
 * needs to sign. Writes a NUL-terminated passphrase into out (cap bytes);
 * returns APP_OK, or an error whose message it wrote into msg (msg_cap). */
typedef app_err_t (*app_passphrase_cb)(void *ud, char *out, size_t cap, char *msg, size_t msg_cap);

typedef struct {
    bool remote;          /* a client of the node running on data_dir */
    const char *data_dir; /* required; copied */
    /* Local only: */
    store_t *store;               /* borrowed until app_free; NULL: opened on first need */
    const keys_author_t *author;  /* borrowed until app_free; NULL: loaded on first need */
    app_passphrase_cb passphrase; /* for a sealed key file; NULL: it is an error */
    void *passphrase_ud;
    struct node *node; /* the running node, borrowed until app_free; or NULL */
    /* Wall clock in ms for post timestamps and the future check; NULL: the
     * system clock. */
    uint64_t (*wall_ms)(void *ud);
    void *wall_ud;
    /* Test only: defences switched off (defence.h); "own-seq" is the app's. */
    const char *defences_off;
} app_config_t;

/* Creates an app on loop (borrowed until app_free). A remote app does not
 * connect yet: each call opens its own connection. */
app_err_t app_new(app_t **out, uv_loop_t *loop, const app_config_t *cfg);

/* The call's result; ownership moves to the callback, which frees it with
 * app_result_free. res is never NULL. */
typedef void (*app_done_cb)(void *ud, app_result_t *res);

/* Runs req. On APP_OK, cb(ud, res) runs exactly once: for quick ops of a
 * local app before app_call returns, for the rest (network, import, export,
 * every remote call) later, from the loop. The request and what it points to
 * are borrowed for the call only (copied as needed). Any other return (a
 * request that cannot even start: ENOMEM, EINVAL for an unknown op) means cb
 * is never called. Failures of the operation itself come in res->err. */
app_err_t app_call(app_t *a, const app_request_t *req, app_done_cb cb, void *ud);

/* Closes the app: calls still running are finished with APP_ECANCELED at
 * their next slice (a DHT lookup with what it found when the node closes),
 * then cb(ud) runs and the app is freed. cb may be NULL. A store the app
 * opened itself is closed. */
void app_close(app_t *a, void (*cb)(void *ud), void *ud);

/* True while calls are running. */
bool app_busy(const app_t *a);

/* ---- events: what happens while a front end watches ---- */

enum { APP_WATCH_MAX = 64 /* watchers at once (web event streams and the UI's own) */ };

typedef enum {
    APP_EVENT_POST = 1, /* post: a post stored now, received or published */
    APP_EVENT_FOLLOW,   /* author: followed */
    APP_EVENT_UNFOLLOW, /* author */
    APP_EVENT_BLOCK,    /* author */
    APP_EVENT_UNBLOCK,  /* author */
    APP_EVENT_PEER_UP,  /* key: a peer completed its handshake */
    APP_EVENT_PEER_DOWN /* key: a peer went away */
} app_event_kind_t;

typedef struct {
    app_event_kind_t kind;
    const app_post_t *post;     /* APP_EVENT_POST */
    bool timeline;              /* the post belongs on the timeline: a post or reply of
                                   this author or of one followed */
    const app_author_t *author; /* the follow and block events */
    const uint8_t *key;         /* the peer events: a node key */
} app_event_t;                  /* every pointer borrowed for the callback */

/* "post", "follow", "unfollow", "block", "unblock", "peer-up", "peer-down". */
const char *app_event_name(app_event_kind_t kind);

typedef void (*app_event_cb)(void *ud, const app_event_t *e);
typedef struct app_watch app_watch_t;

/* Calls cb(ud, event) on the loop for each event of a local app, until
 * app_unwatch. Post and peer events need cfg.node. EBUSY when
 * APP_WATCH_MAX watchers are already there; EINVAL for a remote app.
 * *out is borrowed until app_unwatch or app_close. A callback may unwatch
 * itself or others. */
app_err_t app_watch(app_t *a, app_event_cb cb, void *ud, app_watch_t **out);
void app_unwatch(app_t *a, app_watch_t *w);

/* ---- repair: not a call, since it needs the store to itself ---- */

/* The end of every "cannot open the store" message. */
#define APP_REPAIR_HINT                                                                            \
    " (if the store is damaged, stop every samizdat using it and run `samizdat repair`)"

typedef store_repair_report_t app_repair_report_t;

/* Repairs the store of data_dir (store/repair.h): LevelDB's repair, then
 * every post verified and stored again, every index rebuilt, follows,
 * blocks and peers kept; the damaged database is kept beside it. ELOCKED
 * while a node (or another command) uses the store; ENOTFOUND without a
 * store; EIO when the repair failed. msg says what happened. now_ms: the
 * wall clock. */
app_err_t app_repair(const char *data_dir, uint64_t now_ms, app_repair_report_t *out, char *msg,
                     size_t cap);

#endif
