#include "dht.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "dhtid.h"
#include "head.h"
#include "lookup.h"
#include "records.h"
#include "rtable.h"

enum {
    /* A request id is (sequence << RID_SLOT_BITS) | slot, so a reply finds
     * its pending request in one step. */
    RID_SLOT_BITS = 9,
    PENDING_LIMIT = 1 << RID_SLOT_BITS,
    FIRST_PENDING = 16,
    FIRST_LIST = 8,      /* first allocation of the announce and put lists */
    POLL_MS = 1000,      /* re-check of work that waits for a free lookup slot */
    JITTER_PERCENT = 10, /* renewals are spread by up to this much either way */
    /* Asked beyond the k closest in a lookup's final round: they stand in
     * for window members that turn out to be gone, without a round trip
     * after the stall (sim_dht, 1,000 nodes at 20% churn: 1.24 s median
     * without, 1.05 s with 3, 0.99 s with 6). */
    FINAL_SPARES = 3,
    /* An ANNOUNCE one of the k closest missed is sent again to that node
     * up to STORE_TRIES times (5 s, 10 s, 20 s after); at most
     * STORE_RETRIES_MAX wait at once (beyond that, the whole announce
     * runs again). */
    STORE_TRIES = 3,
    STORE_RETRIES_MAX = 64,
};

_Static_assert((int)DHT_K <= (int)DHT_NODES_MAX, "k contacts fit in one NODES");
_Static_assert((int)DHT_PENDING_MAX <= (int)PENDING_LIMIT, "pending slots fit in a request id");

typedef enum {
    P_FREE = 0,
    P_LOOKUP, /* a request of a lookup */
    P_PING,   /* the ping of a full bucket's least recently seen contact */
    P_STORE,  /* ANNOUNCE or PUT_HEAD after a lookup */
} purpose_t;

typedef struct {
    uint32_t rid; /* 0: free */
    uint8_t purpose;
    uint8_t type;
    bool stalled;    /* its stall time passed */
    bool given_up;   /* its give-up time passed */
    bool holds_slot; /* holds one of its lookup's alpha slots */
    uint8_t attempt; /* lookup requests: 1, then 2, 3 ... for retransmissions */
    uint8_t key[DHT_KEY_SIZE];
    uint8_t id[DHT_KEY_SIZE];
    uint8_t author[DHT_KEY_SIZE]; /* P_STORE: whose record it stores */
    uint8_t store_try;            /* P_STORE of an ANNOUNCE: 0, then 1, 2 ... when sent again */
    uint32_t lookup;
    uint64_t sent_ms;
    uint64_t deadline_ms;
} pending_t;

/* Lookup kinds beyond the public ones: maintenance and the first half of
 * announcing and putting. */
enum {
    LK_REFRESH = 10,
    LK_ANNOUNCE = 11,
    LK_PUT = 12,
};

typedef struct {
    uint32_t id;
    uint8_t kind;
    bool internal;
    bool finished;
    dht_shortlist_t sl;
    uint8_t author[DHT_KEY_SIZE]; /* GET_HEAD, ANNOUNCE, PUT */
    dht_result_cb cb;
    void *ud;
    uint64_t started_ms;
    unsigned messages;
    unsigned inflight; /* requests with no outcome yet */
    unsigned active;   /* of those, the ones holding an alpha slot */
    dht_err_t status;
    int record_hops; /* -1: no record yet */
    bool rider;      /* ANNOUNCE/PUT: also serves the author's other record */
    dht_contact_t *providers;
    uint8_t (*provider_src)[DHT_RT_GROUP_SIZE]; /* the group of the node that named it */
    size_t n_providers;
    bool has_head;
    uint64_t head_seq;
    uint8_t head[HEAD_SIZE];
} lookup_t;

typedef struct {
    uint8_t author[DHT_KEY_SIZE];
    uint8_t key[DHT_KEY_SIZE];
    uint64_t next_ms;
    bool running;
    bool missed;          /* a node of this round's k closest did not take it */
    uint8_t missed_rounds; /* rounds in a row with a miss: the retry's back-off */
} announce_t;

typedef struct {
    uint8_t author[DHT_KEY_SIZE];
    uint8_t key[DHT_KEY_SIZE];
    uint64_t next_ms;
    bool running;
    uint64_t seq;
    uint8_t bytes[HEAD_SIZE];
} put_t;

typedef struct {
    dht_contact_t to;
    uint8_t id[DHT_KEY_SIZE];
    uint8_t author[DHT_KEY_SIZE];
    uint64_t due_ms;
    uint8_t try_no; /* 0: a free entry */
} store_retry_t;

typedef struct {
    unsigned k, alpha, attempts, fails_max, lookups_max, internal_max, pending_max, queries_max,
        new_max;
    unsigned announces_max, puts_max;
    int lookup_per_group; /* < 0: no bound */
    uint64_t rpc_timeout_ms, rpc_stall_ms, refresh_ms, provider_ttl_ms, reannounce_ms;
    uint64_t head_ttl_ms, reput_ms;
} params_t;

struct dht {
    params_t p;
    dht_send_cb send;
    dht_random_cb random;
    dht_endpoint_cb endpoint_ok;
    dht_endpoint_cb route_ok;
    void *ud;
    uint8_t key[DHT_KEY_SIZE];
    uint8_t id[DHT_KEY_SIZE];
    char endpoint[DHT_ENDPOINT_MAX + 1];
    dht_rtable_t *rt;
    dht_records_t *rec;

    pending_t *pending;
    size_t pcap, npending, phint;
    uint32_t rid_seq;

    lookup_t **lookups;
    size_t nlookups;
    uint32_t lookup_seq;

    announce_t *ann;
    size_t nann, ann_cap;
    put_t *puts;
    size_t nputs, puts_cap;
    store_retry_t *retries; /* STORE_RETRIES_MAX, made at the first miss */

    /* Round trips of answered lookup requests (first sends only), as in
     * TCP (RFC 6298): smoothed, in eighths of a ms, and mean deviation, in
     * quarters; 0 until the first answer. The stall time follows them. */
    uint64_t srtt8, rttvar4;

    uint64_t next_ms;
    uint64_t expire_ms;
    uint64_t self_lookup_ms;
    bool joined;
    bool joining;          /* the first self lookup is running */
    uint8_t join_failures; /* self lookups in a row that reached no one */
    bool in_cb;

    dht_stats_t st;
    /* Scratch space, so no large buffer lives on the stack. Used only
     * between two calls out, never across one. */
    dht_msg_t out;
    dht_rt_entry_t near[DHT_NODES_MAX];
    dht_contact_t res[DHT_NODES_MAX];
};

const char *
dht_strerror(dht_err_t err)
{
    switch (err) {
    case DHT_OK:
        return "ok";
    case DHT_EINVAL:
        return "invalid argument";
    case DHT_ENOMEM:
        return "out of memory";
    case DHT_EBUSY:
        return "too many lookups running";
    case DHT_EFULL:
        return "a bounded list is full";
    case DHT_ENOPEERS:
        return "no peers to ask";
    case DHT_ENOTFOUND:
        return "not found";
    case DHT_ECANCELED:
        return "cancelled";
    case DHT_EUNEXPECTED:
        return "reply to a request we did not send";
    case DHT_ESTALE:
        return "a head with this seq or a higher one is already known";
    case DHT_ESIG:
        return "head signature does not verify";
    case DHT_ENOENDPOINT:
        return "no endpoint to reach the node";
    case DHT_EREENTRY:
        return "not allowed from a result callback";
    }
    return "unknown dht error";
}

/* ---- set-up ---- */

static unsigned
or_default(unsigned v, unsigned def)
{
    return v == 0 ? def : v;
}

static uint64_t
or_default_ms(uint64_t v, uint64_t def)
{
    return v == 0 ? def : v;
}

static bool
params_from(params_t *p, dht_rt_params_t *rp, dht_rec_limits_t *rl, const dht_config_t *cfg)
{
    p->k = or_default(cfg->k, DHT_K);
    p->alpha = or_default(cfg->alpha, DHT_ALPHA);
    p->attempts = or_default(cfg->attempts, DHT_ATTEMPTS);
    p->fails_max = or_default(cfg->fails_max, DHT_FAILS_MAX);
    p->lookups_max = or_default(cfg->lookups_max, DHT_LOOKUPS_MAX);
    /* Maintenance leaves a quarter of the slots to the node's own lookups. */
    p->internal_max = p->lookups_max - p->lookups_max / 4;
    p->pending_max = or_default(cfg->pending_max, DHT_PENDING_MAX);
    p->queries_max = or_default(cfg->lookup_queries_max, DHT_LOOKUP_QUERIES_MAX);
    p->new_max = or_default(cfg->response_new_max, DHT_RESPONSE_NEW_MAX);
    p->lookup_per_group = cfg->lookup_per_group == 0 ? DHT_LOOKUP_PER_GROUP : cfg->lookup_per_group;
    p->announces_max = or_default(cfg->announces_max, DHT_ANNOUNCES_MAX);
    p->puts_max = or_default(cfg->puts_max, DHT_PUTS_MAX);
    p->rpc_timeout_ms = or_default_ms(cfg->rpc_timeout_ms, DHT_RPC_TIMEOUT_MS);
    p->rpc_stall_ms = or_default_ms(cfg->rpc_stall_ms, DHT_RPC_STALL_MS);
    p->refresh_ms = or_default_ms(cfg->refresh_ms, DHT_REFRESH_MS);
    p->provider_ttl_ms = or_default_ms(cfg->provider_ttl_ms, DHT_PROVIDER_TTL_MS);
    p->reannounce_ms = or_default_ms(cfg->reannounce_ms, DHT_REANNOUNCE_MS);
    p->head_ttl_ms = or_default_ms(cfg->head_ttl_ms, DHT_HEAD_TTL_MS);
    p->reput_ms = or_default_ms(cfg->reput_ms, DHT_REPUT_MS);

    rp->k = p->k;
    rp->replacements = or_default(cfg->replacements, DHT_REPLACEMENTS);
    rp->per_subnet = cfg->per_subnet == 0 ? DHT_PER_SUBNET : cfg->per_subnet;
    rp->fails_max = p->fails_max;
    rp->questionable_ms = or_default_ms(cfg->questionable_ms, DHT_QUESTIONABLE_MS);

    rl->max = or_default(cfg->records_max, DHT_RECORDS_MAX);
    rl->sender_max = or_default(cfg->sender_records_max, DHT_SENDER_RECORDS_MAX);
    rl->key_providers_max = or_default(cfg->key_providers_max, DHT_KEY_PROVIDERS_MAX);
    rl->key_providers_per_group =
        or_default(cfg->key_providers_per_group, DHT_KEY_PROVIDERS_PER_GROUP);
    rl->evict_sample = DHT_EVICT_SAMPLE;

    return p->k <= DHT_NODES_MAX && p->alpha <= DHT_ALPHA_MAX && p->attempts <= DHT_ATTEMPTS_MAX &&
           p->pending_max <= PENDING_LIMIT && p->pending_max >= p->alpha &&
           rp->replacements <= UINT8_MAX && p->fails_max <= 100 && p->queries_max <= 1000 &&
           p->rpc_stall_ms <= p->rpc_timeout_ms && p->lookups_max <= 1024;
}

dht_err_t
dht_new(dht_t **out, const dht_config_t *cfg)
{
    if (out == NULL || cfg == NULL || cfg->send == NULL || cfg->random == NULL) {
        return DHT_EINVAL;
    }
    if (cfg->endpoint != NULL && cfg->endpoint[0] != '\0' && !dht_msg_endpoint_ok(cfg->endpoint)) {
        return DHT_EINVAL;
    }
    params_t p;
    dht_rt_params_t rp;
    dht_rec_limits_t rl;
    if (!params_from(&p, &rp, &rl, cfg)) {
        return DHT_EINVAL;
    }
    dht_t *d = calloc(1, sizeof *d);
    if (d == NULL) {
        return DHT_ENOMEM;
    }
    d->p = p;
    d->send = cfg->send;
    d->random = cfg->random;
    d->endpoint_ok = cfg->endpoint_ok;
    d->route_ok = cfg->route_ok;
    d->ud = cfg->ud;
    memcpy(d->key, cfg->key, DHT_KEY_SIZE);
    dhtid_from_node_key(d->id, d->key);
    if (cfg->endpoint != NULL) {
        memcpy(d->endpoint, cfg->endpoint, strlen(cfg->endpoint));
    }
    uint8_t seed[DHT_KEY_SIZE];
    d->random(d->ud, seed, sizeof seed);
    d->random(d->ud, &d->rid_seq, sizeof d->rid_seq);
    if (dht_rt_new(&d->rt, d->id, &rp) != DHT_OK ||
        dht_rec_new(&d->rec, d->id, seed, &rl) != DHT_OK) {
        dht_rt_free(d->rt);
        free(d);
        return DHT_ENOMEM;
    }
    *out = d;
    return DHT_OK;
}

const uint8_t *
dht_id(const dht_t *d)
{
    return d->id;
}

/* ---- sending ---- */

static void
count_sent(dht_t *d, uint8_t type)
{
    if (dht_msg_type_known(type)) {
        d->st.sent[type - DHT_MSG_TYPE_FIRST]++;
    }
}

static void
lower_next(dht_t *d, uint64_t at)
{
    if (at < d->next_ms) {
        d->next_ms = at;
    }
}

/* Sends the reply prepared in d->out. */
static void
reply(dht_t *d, const dht_contact_t *to, uint32_t rid)
{
    d->out.rid = rid;
    count_sent(d, d->out.type);
    (void)d->send(d->ud, to, &d->out);
}

static size_t
pending_alloc(dht_t *d)
{
    if (d->npending == d->pcap) {
        if (d->pcap >= d->p.pending_max) {
            return SIZE_MAX;
        }
        size_t ncap = d->pcap == 0 ? FIRST_PENDING : d->pcap * 2;
        if (ncap > d->p.pending_max) {
            ncap = d->p.pending_max;
        }
        pending_t *np = realloc(d->pending, ncap * sizeof *np);
        if (np == NULL) {
            return SIZE_MAX;
        }
        memset(np + d->pcap, 0, (ncap - d->pcap) * sizeof *np);
        d->pending = np;
        d->pcap = ncap;
    }
    for (size_t n = 0; n < d->pcap; n++) {
        size_t i = (d->phint + n) % d->pcap;
        if (d->pending[i].rid == 0) {
            d->phint = i + 1;
            return i;
        }
    }
    return SIZE_MAX; /* unreachable: npending < pcap */
}

typedef enum { ISSUED, NO_SLOT, SEND_FAILED } issue_t;

/* The smoothed round trip plus `devs` mean deviations, within
 * [DHT_RPC_STALL_MIN_MS, the configured stall time]; the configured time
 * until something has been measured. */
static uint64_t
rtt_bound(const dht_t *d, unsigned devs)
{
    if (d->srtt8 == 0) {
        return d->p.rpc_stall_ms;
    }
    uint64_t t = d->srtt8 / 8 + d->rttvar4 * devs / 4;
    uint64_t lo =
        DHT_RPC_STALL_MIN_MS < d->p.rpc_stall_ms ? DHT_RPC_STALL_MIN_MS : d->p.rpc_stall_ms;
    return t < lo ? lo : t > d->p.rpc_stall_ms ? d->p.rpc_stall_ms : t;
}

/* How long a lookup request may go unanswered before it frees its slot
 * and another node is asked: two deviations, since that only sends more. */
static uint64_t
stall_ms(const dht_t *d)
{
    return rtt_bound(d, 2);
}

/* How long the end of a lookup waits for a stalled node: four deviations,
 * as TCP waits before it retransmits (RFC 6298), so a slow node that is
 * there is still heard, and a gone one costs no more. */
static uint64_t
give_up_ms(const dht_t *d)
{
    return rtt_bound(d, 4);
}

static void
rtt_sample(dht_t *d, uint64_t rtt_ms)
{
    if (d->srtt8 == 0) {
        d->srtt8 = rtt_ms * 8 + 1; /* + 1: never 0 once measured */
        d->rttvar4 = rtt_ms * 2;
        return;
    }
    uint64_t srtt = d->srtt8 / 8;
    uint64_t err = rtt_ms > srtt ? rtt_ms - srtt : srtt - rtt_ms;
    d->rttvar4 = d->rttvar4 - d->rttvar4 / 4 + err;
    d->srtt8 = d->srtt8 - d->srtt8 / 8 + rtt_ms;
    if (d->srtt8 == 0) {
        d->srtt8 = 1;
    }
}

/* Sends the request prepared in d->out and remembers it. attempt: 1, or
 * 2, 3 ... for the retransmissions of a lookup request. */
static issue_t
issue(dht_t *d, const dht_contact_t *to, const uint8_t id[static DHT_KEY_SIZE], purpose_t purpose,
      uint32_t lookup, uint8_t attempt, uint64_t now_ms)
{
    size_t slot = pending_alloc(d);
    if (slot == SIZE_MAX) {
        return NO_SLOT;
    }
    uint32_t rid;
    do {
        d->rid_seq++;
        rid = (d->rid_seq << RID_SLOT_BITS) | (uint32_t)slot;
    } while (rid == 0);
    d->out.rid = rid;
    count_sent(d, d->out.type);
    if (d->send(d->ud, to, &d->out) != 0) {
        d->st.send_failures++;
        return SEND_FAILED;
    }
    pending_t *p = &d->pending[slot];
    memset(p, 0, sizeof *p);
    p->rid = rid;
    p->purpose = (uint8_t)purpose;
    p->type = d->out.type;
    memcpy(p->key, to->key, DHT_KEY_SIZE);
    memcpy(p->id, id, DHT_KEY_SIZE);
    p->lookup = lookup;
    p->attempt = attempt;
    p->holds_slot = purpose == P_LOOKUP && attempt == 1;
    p->sent_ms = now_ms;
    p->deadline_ms = now_ms + (purpose == P_STORE && d->p.rpc_timeout_ms < DHT_STORE_TIMEOUT_MS
                                   ? DHT_STORE_TIMEOUT_MS
                                   : d->p.rpc_timeout_ms);
    d->npending++;
    lower_next(d, purpose == P_LOOKUP ? now_ms + stall_ms(d) : p->deadline_ms);
    return ISSUED;
}

static pending_t *
pending_find(dht_t *d, uint32_t rid, const uint8_t key[static DHT_KEY_SIZE])
{
    size_t slot = rid & (PENDING_LIMIT - 1);
    if (rid == 0 || slot >= d->pcap || d->pending[slot].rid != rid ||
        memcmp(d->pending[slot].key, key, DHT_KEY_SIZE) != 0) {
        return NULL;
    }
    return &d->pending[slot];
}

static void
pending_release(dht_t *d, pending_t *p)
{
    memset(p, 0, sizeof *p);
    d->npending--;
}

/* ---- the routing table ---- */

static void
ping_lrs(dht_t *d, const dht_rt_entry_t *lrs, uint64_t now_ms)
{
    dht_msg_init(&d->out, DHT_MSG_PING, 0);
    if (issue(d, &lrs->c, lrs->id, P_PING, 0, 1, now_ms) != ISSUED) {
        dht_rt_failed(d->rt, lrs->id, true);
    }
}

static bool
routable(const dht_t *d, const char *endpoint)
{
    return d->route_ok == NULL || d->route_ok(d->ud, endpoint);
}

/* A contact reached only through a relay is answered and may provide a
 * feed, but is never a contact for lookups. */
static void
table_seen(dht_t *d, const uint8_t id[static DHT_KEY_SIZE], const dht_contact_t *c, bool heard,
           uint64_t now_ms)
{
    if (!routable(d, c->endpoint)) {
        return;
    }
    dht_rt_entry_t lrs;
    if (dht_rt_seen(d->rt, id, c, now_ms, heard, &lrs) == DHT_RT_PING) {
        ping_lrs(d, &lrs, now_ms);
    }
}

/* ---- lookups ---- */

static lookup_t *
lookup_by_id(dht_t *d, uint32_t id)
{
    for (size_t i = 0; i < d->nlookups; i++) {
        if (d->lookups[i]->id == id) {
            return d->lookups[i];
        }
    }
    return NULL;
}

static size_t
internal_count(const dht_t *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->nlookups; i++) {
        n += d->lookups[i]->internal ? 1 : 0;
    }
    return n;
}

static void
lookup_free(lookup_t *L)
{
    dht_sl_free(&L->sl);
    free(L->providers);
    free(L->provider_src);
    free(L);
}

/* The answered candidates, closest first, at most k, into d->res. */
static size_t
answered(dht_t *d, const lookup_t *L)
{
    size_t n = 0;
    for (size_t i = 0; i < L->sl.n && n < d->p.k; i++) {
        if (L->sl.c[i].state == DHT_CAND_ANSWERED) {
            d->res[n++] = L->sl.c[i].c;
        }
    }
    return n;
}

static announce_t *
announce_find(dht_t *d, const uint8_t author[static DHT_KEY_SIZE])
{
    for (size_t i = 0; i < d->nann; i++) {
        if (memcmp(d->ann[i].author, author, DHT_KEY_SIZE) == 0) {
            return &d->ann[i];
        }
    }
    return NULL;
}

static put_t *
put_find(dht_t *d, const uint8_t author[static DHT_KEY_SIZE])
{
    for (size_t i = 0; i < d->nputs; i++) {
        if (memcmp(d->puts[i].author, author, DHT_KEY_SIZE) == 0) {
            return &d->puts[i];
        }
    }
    return NULL;
}

static uint64_t
jittered(dht_t *d, uint64_t now_ms, uint64_t interval)
{
    uint16_t r = 0;
    d->random(d->ud, &r, sizeof r);
    uint64_t span = interval * JITTER_PERCENT / 100;
    if (span == 0) {
        return now_ms + interval;
    }
    /* now + interval - span .. now + interval + span */
    return now_ms + interval - span + (uint64_t)r * 2 * span / UINT16_MAX;
}

/* We replicate every author we announce, so we answer for it ourselves
 * whether or not we are among the k closest to its key: a node that asks
 * us before our announce lookup has ended still learns of us. */
static void
keep_own_provider(dht_t *d, const announce_t *a, uint64_t now_ms)
{
    dht_contact_t self;
    memcpy(self.key, d->key, DHT_KEY_SIZE);
    memcpy(self.endpoint, d->endpoint, sizeof self.endpoint);
    (void)dht_rec_add_provider(d->rec, a->key, &self, now_ms, now_ms + d->p.provider_ttl_ms);
}

static void
keep_own_head(dht_t *d, const put_t *p, uint64_t now_ms)
{
    (void)dht_rec_put_head(d->rec, p->key, d->key, p->bytes, p->seq, now_ms,
                           now_ms + d->p.head_ttl_ms);
}

/* Sends ANNOUNCE for a to the n closest nodes in d->res. */
static void
announce_at_closest(dht_t *d, announce_t *a, size_t n, uint64_t now_ms)
{
    if (!a->missed) {
        a->missed_rounds = 0;
    }
    a->missed = false;
    for (size_t i = 0; i < n; i++) {
        dht_msg_init(&d->out, DHT_MSG_ANNOUNCE, 0);
        memcpy(d->out.u.key, a->key, DHT_KEY_SIZE);
        uint8_t id[DHT_KEY_SIZE];
        dhtid_from_node_key(id, d->res[i].key);
        if (issue(d, &d->res[i], id, P_STORE, 0, 1, now_ms) == ISSUED) {
            memcpy(pending_find(d, d->out.rid, d->res[i].key)->author, a->author, DHT_KEY_SIZE);
        }
    }
    keep_own_provider(d, a, now_ms);
    a->next_ms = jittered(d, now_ms, d->p.reannounce_ms);
}

/* An ANNOUNCE that one of the k closest refused for want of an endpoint
 * (it was still dialling us back, as in a crowd's start) or did not
 * answer: the whole announce runs again within seconds rather than at the
 * renewal half an hour later, backing off while rounds keep missing, so a
 * node nobody can dial sends one round per renewal period at length. */
static void
announce_missed(dht_t *d, const uint8_t author[static DHT_KEY_SIZE], uint64_t now_ms)
{
    announce_t *a = announce_find(d, author);
    if (a == NULL || a->running || a->missed) {
        return;
    }
    a->missed = true;
    uint64_t wait = DHT_ANNOUNCE_RETRY_MS << (a->missed_rounds < 16 ? a->missed_rounds : 16);
    if (a->missed_rounds < UINT8_MAX) {
        a->missed_rounds++;
    }
    if (now_ms + wait < a->next_ms) {
        a->next_ms = now_ms + wait;
        lower_next(d, a->next_ms);
    }
    d->st.announce_retries++;
}

/* Schedules the ANNOUNCE p carried to be sent to the same node again;
 * false when that node's endpoint is not known or no entry is free. */
static bool
retry_store(dht_t *d, const pending_t *p, uint64_t now_ms)
{
    const dht_rt_entry_t *e = dht_rt_find(d->rt, p->id);
    if (e == NULL) {
        return false;
    }
    if (d->retries == NULL) {
        d->retries = calloc(STORE_RETRIES_MAX, sizeof *d->retries);
        if (d->retries == NULL) {
            return false;
        }
    }
    for (size_t i = 0; i < STORE_RETRIES_MAX; i++) {
        store_retry_t *r = &d->retries[i];
        if (r->try_no != 0) {
            continue;
        }
        r->to = e->c;
        memcpy(r->id, p->id, DHT_KEY_SIZE);
        memcpy(r->author, p->author, DHT_KEY_SIZE);
        r->try_no = (uint8_t)(p->store_try + 1);
        r->due_ms = now_ms + (DHT_ANNOUNCE_RETRY_MS << p->store_try);
        lower_next(d, r->due_ms);
        d->st.announce_retries++;
        return true;
    }
    return false;
}

/* An ANNOUNCE that one of the k closest refused for want of an endpoint
 * (it was still dialling us back, as in a crowd's start), did not answer,
 * or lost with its connection: sent to that node again within seconds, a
 * few times, rather than at the renewal half an hour later. */
static void
store_missed(dht_t *d, const pending_t *p, uint64_t now_ms)
{
    if (p->purpose != P_STORE || p->type != DHT_MSG_ANNOUNCE ||
        announce_find(d, p->author) == NULL || p->store_try >= STORE_TRIES) {
        return;
    }
    if (!retry_store(d, p, now_ms)) {
        announce_missed(d, p->author, now_ms);
    }
}

/* Sends the store retries that are due. */
static void
send_retries(dht_t *d, uint64_t now_ms)
{
    for (size_t i = 0; d->retries != NULL && i < STORE_RETRIES_MAX; i++) {
        store_retry_t r = d->retries[i];
        if (r.try_no == 0 || r.due_ms > now_ms) {
            continue;
        }
        d->retries[i].try_no = 0;
        announce_t *a = announce_find(d, r.author);
        if (a == NULL) {
            continue; /* unannounced meanwhile */
        }
        dht_msg_init(&d->out, DHT_MSG_ANNOUNCE, 0);
        memcpy(d->out.u.key, a->key, DHT_KEY_SIZE);
        if (issue(d, &r.to, r.id, P_STORE, 0, 1, now_ms) == ISSUED) {
            pending_t *p = pending_find(d, d->out.rid, r.to.key);
            memcpy(p->author, r.author, DHT_KEY_SIZE);
            p->store_try = r.try_no;
        }
    }
}

static void
put_at_closest(dht_t *d, put_t *p, size_t n, uint64_t now_ms)
{
    for (size_t i = 0; i < n; i++) {
        dht_msg_init(&d->out, DHT_MSG_PUT_HEAD, 0);
        d->out.u.put.len = HEAD_SIZE;
        memcpy(d->out.u.put.bytes, p->bytes, HEAD_SIZE);
        uint8_t id[DHT_KEY_SIZE];
        dhtid_from_node_key(id, d->res[i].key);
        (void)issue(d, &d->res[i], id, P_STORE, 0, 1, now_ms);
    }
    keep_own_head(d, p, now_ms);
    p->next_ms = jittered(d, now_ms, d->p.reput_ms);
}

/* An announce lookup also serves the author's head, and a put lookup the
 * author's announcement, when that one is not running and is due within
 * half a period: so one lookup a period renews both. */
static void
claim_rider(dht_t *d, lookup_t *L, uint64_t now_ms)
{
    if (L->kind == LK_ANNOUNCE) {
        put_t *p = put_find(d, L->author);
        if (p != NULL && !p->running && p->next_ms <= now_ms + d->p.reput_ms / 2) {
            p->running = true;
            L->rider = true;
        }
    } else if (L->kind == LK_PUT) {
        announce_t *a = announce_find(d, L->author);
        if (a != NULL && !a->running && a->next_ms <= now_ms + d->p.reannounce_ms / 2) {
            a->running = true;
            L->rider = true;
        }
    }
}

/* Second half of announcing and putting: store at the k closest, the
 * lookup's own record and its rider's. A record removed meanwhile is
 * skipped. */
static void
closest_phase(dht_t *d, lookup_t *L, size_t n, uint64_t now_ms)
{
    announce_t *a = announce_find(d, L->author);
    put_t *p = put_find(d, L->author);
    bool take_a = a != NULL && (L->kind == LK_ANNOUNCE || L->rider);
    bool take_p = p != NULL && (L->kind == LK_PUT || L->rider);
    if (take_a) {
        a->running = false;
        if (n == 0) {
            a->next_ms = now_ms + DHT_RETRY_MS;
        } else {
            announce_at_closest(d, a, n, now_ms);
        }
    }
    if (take_p) {
        p->running = false;
        if (n == 0) {
            p->next_ms = now_ms + DHT_RETRY_MS;
        } else {
            put_at_closest(d, p, n, now_ms);
        }
    }
}

/* A self lookup that reached no one (every contact refused, busy, or
 * gone) is tried again soon: 1 s, then doubling up to DHT_RETRY_MS, since
 * a full bootstrap node often has room again a moment later. */
static uint64_t
join_retry_at(dht_t *d, uint64_t now_ms)
{
    uint64_t wait = DHT_JOIN_RETRY_MS << (d->join_failures < 6 ? d->join_failures : 6);
    if (d->join_failures < UINT8_MAX) {
        d->join_failures++;
    }
    return now_ms + (wait < DHT_RETRY_MS ? wait : DHT_RETRY_MS);
}

static void
finish(dht_t *d, lookup_t *L, uint64_t now_ms)
{
    L->finished = true;
    d->st.lookups_done++;
    dht_rt_touch(d->rt, L->sl.target, now_ms);
    size_t n = answered(d, L);
    bool found = (L->kind == DHT_LOOKUP_GET_PROVIDERS && L->n_providers > 0) ||
                 (L->kind == DHT_LOOKUP_GET_HEAD && L->has_head);
    if (found) {
        L->status = DHT_OK;
    } else if (n == 0) {
        L->status = DHT_ENOPEERS;
    } else if (L->kind == DHT_LOOKUP_GET_PROVIDERS || L->kind == DHT_LOOKUP_GET_HEAD) {
        L->status = DHT_ENOTFOUND;
    } else {
        L->status = DHT_OK;
    }
    if (L->kind == LK_ANNOUNCE || L->kind == LK_PUT) {
        closest_phase(d, L, n, now_ms);
    }
    if (L->kind == LK_REFRESH && memcmp(L->sl.target, d->id, DHT_KEY_SIZE) == 0) {
        /* The self lookup: the first one that reaches anybody is the
         * join, and starts the refresh of every bucket. */
        d->joining = false;
        d->joined = d->joined || n > 0;
        if (n > 0) {
            d->join_failures = 0;
            d->self_lookup_ms = jittered(d, now_ms, d->p.refresh_ms);
        } else {
            d->self_lookup_ms = join_retry_at(d, now_ms);
        }
    }
    /* Callbacks run at the end of the current call, and a freed slot may
     * let waiting work start. */
    d->next_ms = now_ms;
}

static void
prepare_query(dht_t *d, const lookup_t *L)
{
    switch (L->kind) {
    case DHT_LOOKUP_GET_PROVIDERS:
        dht_msg_init(&d->out, DHT_MSG_GET_PROVIDERS, 0);
        memcpy(d->out.u.key, L->sl.target, DHT_KEY_SIZE);
        break;
    case DHT_LOOKUP_GET_HEAD:
        dht_msg_init(&d->out, DHT_MSG_GET_HEAD, 0);
        memcpy(d->out.u.key, L->sl.target, DHT_KEY_SIZE);
        break;
    default:
        dht_msg_init(&d->out, DHT_MSG_FIND_NODE, 0);
        memcpy(d->out.u.target, L->sl.target, DHT_KEY_SIZE);
        break;
    }
}

/* alpha requests at a time until the lookup has converged, then the rest
 * of the k closest at once (and FINAL_SPARES beyond them): the final round
 * of the Kademlia paper, since later answers rarely name a closer node and
 * asking them alpha at a time costs a round trip each. A lookup has
 * converged when the closest candidate in the window answered and named
 * no one closer. When the lookup ends (all k closest groups answered, the
 * Sybil defence of docs/SECURITY.md) does not change. */
static bool
final_round(const lookup_t *L)
{
    return dht_sl_settled(&L->sl, 1);
}

/* Sends what the lookup may send now, or finishes it. */
static void
advance(dht_t *d, lookup_t *L, uint64_t now_ms)
{
    while (!L->finished) {
        if (dht_sl_done(&L->sl)) {
            finish(d, L, now_ms);
            return;
        }
        bool last = final_round(L);
        if (L->active >= (last ? d->p.k + FINAL_SPARES : d->p.alpha)) {
            return;
        }
        int i = dht_sl_next_beyond(&L->sl, last ? FINAL_SPARES : 0);
        if (i < 0) {
            return;
        }
        dht_cand_t *c = &L->sl.c[i];
        prepare_query(d, L);
        issue_t r = issue(d, &c->c, c->id, P_LOOKUP, L->id, 1, now_ms);
        if (r == NO_SLOT) {
            /* Retried from dht_tick once requests complete. */
            lower_next(d, now_ms + POLL_MS);
            return;
        }
        L->sl.queries++;
        L->messages++;
        if (r == SEND_FAILED) {
            c->state = DHT_CAND_FAILED;
            dht_rt_failed(d->rt, c->id, false);
            continue;
        }
        c->state = DHT_CAND_INFLIGHT;
        c->outstanding = 1;
        c->fresh = 1;
        c->awaited = 1;
        L->inflight++;
        L->active++;
    }
}

/* A lookup request reached its stall time unanswered. It frees its alpha
 * slot, and the node becomes suspect: out of the window, so the lookup
 * asks the next candidate at once instead of waiting for a timeout. The
 * request is sent again (a lost message must not cost the lookup the
 * node), up to `attempts` sends in all, and the lookup does not end while
 * a suspect closer than the window's end has a send not yet stalled; a
 * late answer still counts. */
static void
stalled(dht_t *d, pending_t *p, uint64_t now_ms)
{
    p->stalled = true;
    lookup_t *L = lookup_by_id(d, p->lookup);
    if (L == NULL || L->finished) {
        return;
    }
    if (p->holds_slot) {
        p->holds_slot = false;
        L->active--;
    }
    dht_cand_t *c = dht_sl_find(&L->sl, p->id);
    if (c == NULL) {
        return;
    }
    if (c->fresh > 0) {
        c->fresh--;
    }
    if (c->state == DHT_CAND_INFLIGHT) {
        c->state = DHT_CAND_SUSPECT;
    }
    if (c->state != DHT_CAND_SUSPECT || p->attempt >= d->p.attempts ||
        dht_sl_behind_answer(&L->sl, c)) {
        return;
    }
    /* The query budget counts nodes asked; retransmissions are bounded by
     * attempts. issue() may move the pending array: p is not used after. */
    uint8_t next = (uint8_t)(p->attempt + 1);
    prepare_query(d, L);
    if (issue(d, &c->c, c->id, P_LOOKUP, L->id, next, now_ms) == ISSUED) {
        c->outstanding++;
        c->fresh++;
        c->awaited++;
        L->inflight++;
        L->messages++;
    }
}

/* A stalled lookup request reached its give-up time: the end of its
 * lookup no longer waits for it (dht_sl_done; dht_tick advances the
 * lookup after). A late answer still counts. */
static void
given_up(dht_t *d, pending_t *p)
{
    p->given_up = true;
    lookup_t *L = lookup_by_id(d, p->lookup);
    if (L == NULL || L->finished) {
        return;
    }
    dht_cand_t *c = dht_sl_find(&L->sl, p->id);
    if (c != NULL && c->awaited > 0) {
        c->awaited--;
    }
}

static dht_err_t
start_lookup(dht_t *d, uint8_t kind, const uint8_t target[static DHT_KEY_SIZE],
             const uint8_t *author, dht_result_cb cb, void *ud, bool internal, uint64_t now_ms)
{
    if (d->nlookups >= d->p.lookups_max || (internal && internal_count(d) >= d->p.internal_max)) {
        return DHT_EBUSY;
    }
    size_t n = dht_rt_closest(d->rt, target, NULL, d->near, d->p.k);
    if (n == 0) {
        return DHT_ENOPEERS;
    }
    lookup_t **nl = realloc(d->lookups, (d->nlookups + 1) * sizeof *nl);
    if (nl == NULL) {
        return DHT_ENOMEM;
    }
    d->lookups = nl;
    lookup_t *L = calloc(1, sizeof *L);
    if (L == NULL) {
        return DHT_ENOMEM;
    }
    if (dht_sl_init(&L->sl, target, d->id, d->p.k, d->p.queries_max, d->p.new_max,
                    d->p.lookup_per_group) != DHT_OK) {
        free(L);
        return DHT_ENOMEM;
    }
    if (kind == DHT_LOOKUP_GET_PROVIDERS) {
        L->providers = calloc(DHT_PROVIDERS_MAX, sizeof *L->providers);
        /* Our own records are their own source: all zero, no group's. */
        L->provider_src = calloc(DHT_PROVIDERS_MAX, sizeof *L->provider_src);
        if (L->providers == NULL || L->provider_src == NULL) {
            lookup_free(L);
            return DHT_ENOMEM;
        }
        L->n_providers = dht_rec_providers(d->rec, target, now_ms, L->providers, DHT_PROVIDERS_MAX);
    }
    L->record_hops = L->n_providers > 0 ? 0 : -1;
    if (kind == DHT_LOOKUP_GET_HEAD &&
        dht_rec_head(d->rec, target, now_ms, L->head, &L->head_seq)) {
        L->has_head = true;
        L->record_hops = 0;
    }
    for (size_t i = 0; i < n; i++) {
        (void)dht_sl_add(&L->sl, d->near[i].id, &d->near[i].c, 0);
    }
    do {
        L->id = ++d->lookup_seq;
    } while (L->id == 0);
    L->kind = kind;
    L->internal = internal;
    if (author != NULL) {
        memcpy(L->author, author, DHT_KEY_SIZE);
    }
    L->cb = cb;
    L->ud = ud;
    L->started_ms = now_ms;
    claim_rider(d, L, now_ms);
    d->lookups[d->nlookups++] = L;
    d->st.lookups_started++;
    /* A lookup into a bucket's range is what refreshing it means. */
    dht_rt_touch(d->rt, target, now_ms);
    advance(d, L, now_ms);
    return DHT_OK;
}

static void
result_of(dht_t *d, const lookup_t *L, dht_result_t *r, uint64_t now_ms)
{
    memset(r, 0, sizeof *r);
    r->status = L->finished ? L->status : DHT_ECANCELED;
    r->kind = L->kind;
    memcpy(r->target, L->sl.target, DHT_KEY_SIZE);
    r->n_contacts = answered(d, L);
    r->contacts = d->res;
    r->providers = L->providers;
    r->n_providers = L->n_providers;
    if (L->has_head) {
        r->head = L->head;
        r->head_len = HEAD_SIZE;
        r->head_seq = L->head_seq;
    }
    if (L->record_hops >= 0) {
        r->hops = (unsigned)L->record_hops;
    } else {
        for (size_t i = 0; i < L->sl.n; i++) {
            if (L->sl.c[i].state == DHT_CAND_ANSWERED) {
                r->hops = L->sl.c[i].depth + 1u;
                break;
            }
        }
    }
    r->messages = L->messages;
    r->elapsed_ms = now_ms >= L->started_ms ? now_ms - L->started_ms : 0;
}

/* Runs the callbacks of finished lookups and frees them. */
static void
flush(dht_t *d, uint64_t now_ms)
{
    size_t i = 0;
    while (i < d->nlookups) {
        lookup_t *L = d->lookups[i];
        if (!L->finished) {
            i++;
            continue;
        }
        memmove(&d->lookups[i], &d->lookups[i + 1], (d->nlookups - i - 1) * sizeof *d->lookups);
        d->nlookups--;
        if (!L->internal && L->cb != NULL) {
            dht_result_t r;
            result_of(d, L, &r, now_ms);
            d->in_cb = true;
            L->cb(L->ud, &r);
            d->in_cb = false;
        }
        lookup_free(L);
        /* The callback may have started lookups and finished none of
         * them (that happens only here), so the walk goes on from i. */
    }
}

/* ---- replies to our requests ---- */

/* Keeps the contacts of an answer that we may pass on: endpoint accepted,
 * not ourselves, and (unless they are providers) routable. Into d->res;
 * returns how many. */
static size_t
usable(dht_t *d, const dht_contact_t *cs, size_t n, bool providers)
{
    size_t m = 0;
    for (size_t i = 0; i < n && m < DHT_NODES_MAX; i++) {
        if (memcmp(cs[i].key, d->key, DHT_KEY_SIZE) == 0 || !dht_msg_endpoint_ok(cs[i].endpoint)) {
            continue;
        }
        if ((d->endpoint_ok != NULL && !d->endpoint_ok(d->ud, cs[i].endpoint)) ||
            (!providers && !routable(d, cs[i].endpoint))) {
            continue;
        }
        d->res[m++] = cs[i];
    }
    return m;
}

static void
take_contacts(dht_t *d, lookup_t *L, const dht_contacts_t *cs, uint8_t depth)
{
    size_t n = usable(d, cs->c, cs->n, false);
    (void)dht_sl_add_answer(&L->sl, d->res, n, depth);
}

static size_t
providers_from(const lookup_t *L, const uint8_t src[static DHT_RT_GROUP_SIZE])
{
    size_t n = 0;
    for (size_t i = 0; i < L->n_providers; i++) {
        n += memcmp(L->provider_src[i], src, DHT_RT_GROUP_SIZE) == 0 ? 1 : 0;
    }
    return n;
}

/* Keeps a provider named by a node of group src. A full list is shared
 * between the groups that answered: a newcomer whose group holds fewer
 * than the largest share less one takes the place of that share's newest.
 * So nodes of a few networks answering first with providers of their own
 * cannot fill the list before an honest answer comes. True when kept. */
static bool
provider_keep(dht_t *d, lookup_t *L, const dht_contact_t *c,
              const uint8_t src[static DHT_RT_GROUP_SIZE])
{
    size_t at = L->n_providers;
    if (at == DHT_PROVIDERS_MAX) {
        if (d->p.lookup_per_group < 0) {
            return false;
        }
        size_t most = 0;
        for (size_t i = 0; i < L->n_providers; i++) {
            size_t n = providers_from(L, L->provider_src[i]);
            if (n >= most) {
                most = n;
                at = i;
            }
        }
        if (providers_from(L, src) + 1 >= most) {
            return false;
        }
    } else {
        L->n_providers++;
    }
    L->providers[at] = *c;
    memcpy(L->provider_src[at], src, DHT_RT_GROUP_SIZE);
    return true;
}

static void
take_providers(dht_t *d, lookup_t *L, const dht_msg_t *m, const dht_cand_t *from, unsigned hops)
{
    size_t n = usable(d, m->u.providers.c, m->u.providers.n, true);
    uint8_t src[DHT_RT_GROUP_SIZE];
    memset(src, 0xff, sizeof src); /* no group known: one source for all such */
    if (from->grouped) {
        memcpy(src, from->group, sizeof src);
    }
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < L->n_providers; j++) {
            dup = dup || memcmp(L->providers[j].key, d->res[i].key, DHT_KEY_SIZE) == 0;
        }
        if (!dup && provider_keep(d, L, &d->res[i], src) && L->record_hops < 0) {
            L->record_hops = (int)hops;
        }
    }
}

/* False when the head is bad: a peer that hands out forged or foreign
 * heads answered with garbage. */
static bool
take_head(dht_t *d, lookup_t *L, const dht_head_rec_t *rec, unsigned hops)
{
    if (rec->len == 0) {
        return true;
    }
    head_t h;
    if (head_decode(&h, rec->bytes, rec->len) != HEAD_OK ||
        memcmp(h.author, L->author, DHT_KEY_SIZE) != 0) {
        d->st.bad_replies++;
        return false;
    }
    if (!L->has_head || h.seq > L->head_seq) {
        L->has_head = true;
        L->head_seq = h.seq;
        memcpy(L->head, rec->bytes, HEAD_SIZE);
        L->record_hops = (int)hops;
    }
    return true;
}

static uint8_t
reply_type(uint8_t request)
{
    switch (request) {
    case DHT_MSG_PING:
        return DHT_MSG_PONG;
    case DHT_MSG_FIND_NODE:
        return DHT_MSG_NODES;
    case DHT_MSG_ANNOUNCE:
    case DHT_MSG_PUT_HEAD:
        return DHT_MSG_ACK;
    case DHT_MSG_GET_PROVIDERS:
        return DHT_MSG_PROVIDERS;
    case DHT_MSG_GET_HEAD:
        return DHT_MSG_HEAD;
    default:
        return 0;
    }
}

/* A request of lookup L got an outcome: an answer (m, of the right type)
 * or a failure (m NULL). A hard failure (garbage, ERROR) fails the
 * candidate at once; a timeout only when no other attempt is left. */
static void
lookup_outcome(dht_t *d, const pending_t *p, const dht_msg_t *m, bool hard, uint64_t now_ms)
{
    lookup_t *L = lookup_by_id(d, p->lookup);
    if (L == NULL || L->finished) {
        return;
    }
    L->inflight--;
    if (p->holds_slot) {
        L->active--;
    }
    dht_cand_t *c = dht_sl_find(&L->sl, p->id);
    if (c == NULL) {
        return; /* cannot happen: asked candidates stay in the list */
    }
    if (c->outstanding > 0) {
        c->outstanding--;
    }
    if (!p->stalled && c->fresh > 0) {
        c->fresh--;
    }
    if (!p->given_up && c->awaited > 0) {
        c->awaited--;
    }
    if (c->state == DHT_CAND_ANSWERED || c->state == DHT_CAND_FAILED) {
        /* The other attempt already decided; a second answer adds nothing. */
        advance(d, L, now_ms);
        return;
    }
    if (m == NULL && !hard && c->outstanding > 0) {
        return; /* the retransmission may still be answered */
    }
    bool ok = m != NULL;
    unsigned hops = c->depth + 1u;
    if (ok) {
        /* Later answers deepen the chain by one; the depth byte cannot
         * wrap within the query budget, but is capped all the same. */
        uint8_t depth = c->depth < UINT8_MAX ? (uint8_t)(c->depth + 1) : UINT8_MAX;
        switch (m->type) {
        case DHT_MSG_NODES:
            take_contacts(d, L, &m->u.nodes, depth);
            break;
        case DHT_MSG_PROVIDERS:
            take_providers(d, L, m, c, hops);
            take_contacts(d, L, &m->u.providers.closer, depth);
            break;
        case DHT_MSG_HEAD:
            ok = take_head(d, L, &m->u.head.rec, hops);
            if (ok) {
                take_contacts(d, L, &m->u.head.closer, depth);
            }
            break;
        default:
            break;
        }
    }
    /* Adding may have moved candidates: look the asked one up again. */
    c = dht_sl_find(&L->sl, p->id);
    if (c == NULL) {
        return;
    }
    c->state = ok ? DHT_CAND_ANSWERED : DHT_CAND_FAILED;
    /* A full list ends the lookup early only without the group bound: with
     * it, the nodes closest to the key are all asked, whoever answered first. */
    if (L->kind == DHT_LOOKUP_GET_PROVIDERS && L->n_providers >= DHT_PROVIDERS_MAX &&
        d->p.lookup_per_group < 0) {
        finish(d, L, now_ms);
        return;
    }
    advance(d, L, now_ms);
}

typedef enum {
    F_SILENT,  /* timeout or unreachable */
    F_GARBAGE, /* a reply of the wrong type */
    F_REFUSED, /* an ERROR: the peer is alive */
} failure_t;

/* A request failed. The table counts a failure unless the peer answered
 * with an ERROR. */
static void
request_failed(dht_t *d, pending_t *pp, failure_t why, uint64_t now_ms)
{
    pending_t p = *pp;
    pending_release(d, pp);
    if (why != F_REFUSED) {
        dht_rt_failed(d->rt, p.id, p.purpose == P_PING);
    }
    if (why != F_REFUSED) {
        store_missed(d, &p, now_ms);
    }
    if (p.purpose == P_LOOKUP) {
        lookup_outcome(d, &p, NULL, why != F_SILENT, now_ms);
    }
}

static dht_err_t
take_reply(dht_t *d, const dht_contact_t *from, const dht_msg_t *m, uint64_t now_ms)
{
    pending_t *pp = pending_find(d, m->rid, from->key);
    if (pp == NULL) {
        d->st.unexpected++;
        return DHT_EUNEXPECTED;
    }
    bool right = m->type == reply_type(pp->type);
    if (!right && m->type != DHT_MSG_ERROR) {
        /* A reply of the wrong kind is garbage: the request failed, and
         * the peer is treated as one that did not answer. */
        d->st.bad_replies++;
        request_failed(d, pp, F_GARBAGE, now_ms);
        return DHT_OK;
    }
    uint8_t id[DHT_KEY_SIZE];
    memcpy(id, pp->id, DHT_KEY_SIZE);
    table_seen(d, id, from, true, now_ms);
    /* table_seen may have sent a ping, which can move the pending array. */
    pp = pending_find(d, m->rid, from->key);
    if (pp == NULL) {
        return DHT_OK;
    }
    if (!right) {
        if (m->u.error.code == DHT_ERR_NO_ENDPOINT) {
            store_missed(d, pp, now_ms);
        }
        request_failed(d, pp, F_REFUSED, now_ms);
        return DHT_OK;
    }
    pending_t p = *pp;
    pending_release(d, pp);
    if (p.purpose == P_LOOKUP) {
        /* Only a first send's answer is timed: an answer after a
         * retransmission may answer either. */
        if (p.attempt == 1) {
            rtt_sample(d, now_ms - p.sent_ms);
        }
        lookup_outcome(d, &p, m, false, now_ms);
    }
    return DHT_OK;
}

/* ---- requests from others ---- */

static void
refuse(dht_t *d, const dht_contact_t *to, uint32_t rid, dht_error_code_t code, const char *text)
{
    dht_msg_init(&d->out, DHT_MSG_ERROR, rid);
    d->out.u.error.code = (uint16_t)code;
    size_t n = strlen(text);
    memcpy(d->out.u.error.text, text, n < DHT_ERROR_TEXT_MAX ? n : DHT_ERROR_TEXT_MAX);
    d->st.refused++;
    reply(d, to, rid);
}

/* The k closest contacts we know to target, not the requester, into cs. */
static void
closer(dht_t *d, const uint8_t target[static DHT_KEY_SIZE],
       const uint8_t requester[static DHT_KEY_SIZE], dht_contacts_t *cs)
{
    size_t n = dht_rt_closest(d->rt, target, requester, d->near, d->p.k);
    for (size_t i = 0; i < n; i++) {
        cs->c[i] = d->near[i].c;
    }
    cs->n = (uint8_t)n;
}

static void
on_announce(dht_t *d, const dht_contact_t *from, const dht_msg_t *m, uint64_t now_ms)
{
    if (from->endpoint[0] == '\0') {
        refuse(d, from, m->rid, DHT_ERR_NO_ENDPOINT, "announce needs an endpoint");
        return;
    }
    dht_err_t err =
        dht_rec_add_provider(d->rec, m->u.key, from, now_ms, now_ms + d->p.provider_ttl_ms);
    if (err != DHT_OK) {
        refuse(d, from, m->rid, DHT_ERR_FULL, "provider records full");
        return;
    }
    dht_msg_init(&d->out, DHT_MSG_ACK, m->rid);
    reply(d, from, m->rid);
}

static void
on_put_head(dht_t *d, const dht_contact_t *from, const dht_msg_t *m, uint64_t now_ms)
{
    head_t h;
    if (head_decode(&h, m->u.put.bytes, m->u.put.len) != HEAD_OK) {
        refuse(d, from, m->rid, DHT_ERR_BAD_SIG, "head signature does not verify");
        return;
    }
    uint8_t key[DHT_KEY_SIZE];
    dhtid_from_author(key, h.author);
    dht_err_t err = dht_rec_put_head(d->rec, key, from->key, m->u.put.bytes, h.seq, now_ms,
                                     now_ms + d->p.head_ttl_ms);
    if (err == DHT_ESTALE) {
        refuse(d, from, m->rid, DHT_ERR_STALE, "a head with this seq or higher is stored");
        return;
    }
    if (err != DHT_OK) {
        refuse(d, from, m->rid, DHT_ERR_FULL, "head records full");
        return;
    }
    dht_msg_init(&d->out, DHT_MSG_ACK, m->rid);
    reply(d, from, m->rid);
}

static void
take_request(dht_t *d, const dht_contact_t *from, const uint8_t from_id[static DHT_KEY_SIZE],
             const dht_msg_t *m, uint64_t now_ms)
{
    switch (m->type) {
    case DHT_MSG_PING:
        dht_msg_init(&d->out, DHT_MSG_PONG, m->rid);
        break;
    case DHT_MSG_FIND_NODE:
        dht_msg_init(&d->out, DHT_MSG_NODES, m->rid);
        closer(d, m->u.target, from_id, &d->out.u.nodes);
        break;
    case DHT_MSG_GET_PROVIDERS:
        dht_msg_init(&d->out, DHT_MSG_PROVIDERS, m->rid);
        d->out.u.providers.n = (uint8_t)dht_rec_providers(d->rec, m->u.key, now_ms,
                                                          d->out.u.providers.c, DHT_PROVIDERS_MAX);
        closer(d, m->u.key, from_id, &d->out.u.providers.closer);
        break;
    case DHT_MSG_GET_HEAD:
        dht_msg_init(&d->out, DHT_MSG_HEAD, m->rid);
        if (dht_rec_head(d->rec, m->u.key, now_ms, d->out.u.head.rec.bytes, NULL)) {
            d->out.u.head.rec.len = HEAD_SIZE;
        }
        closer(d, m->u.key, from_id, &d->out.u.head.closer);
        break;
    case DHT_MSG_ANNOUNCE:
        on_announce(d, from, m, now_ms);
        return;
    case DHT_MSG_PUT_HEAD:
        on_put_head(d, from, m, now_ms);
        return;
    default:
        return;
    }
    reply(d, from, m->rid);
}

dht_err_t
dht_receive(dht_t *d, const dht_contact_t *from, const dht_msg_t *m, uint64_t now_ms)
{
    if (d == NULL || from == NULL || m == NULL) {
        return DHT_EINVAL;
    }
    if (d->in_cb) {
        return DHT_EREENTRY;
    }
    if (!dht_msg_type_known(m->type) || memcmp(from->key, d->key, DHT_KEY_SIZE) == 0) {
        return DHT_EINVAL;
    }
    d->st.received[m->type - DHT_MSG_TYPE_FIRST]++;
    dht_err_t err = DHT_OK;
    if (dht_msg_is_request(m->type)) {
        uint8_t id[DHT_KEY_SIZE];
        dhtid_from_node_key(id, from->key);
        /* An authenticated peer that says where it listens is a contact;
         * one without an endpoint is answered and forgotten. */
        if (from->endpoint[0] != '\0') {
            table_seen(d, id, from, true, now_ms);
        }
        take_request(d, from, id, m, now_ms);
    } else {
        err = take_reply(d, from, m, now_ms);
    }
    flush(d, now_ms);
    return err;
}

dht_err_t
dht_unreachable(dht_t *d, const uint8_t key[static DHT_KEY_SIZE], uint64_t now_ms)
{
    if (d->in_cb) {
        return DHT_EREENTRY;
    }
    bool any = false;
    for (size_t i = 0; i < d->pcap; i++) {
        if (d->pending[i].rid != 0 && memcmp(d->pending[i].key, key, DHT_KEY_SIZE) == 0) {
            any = true;
            request_failed(d, &d->pending[i], F_SILENT, now_ms);
        }
    }
    if (!any) {
        uint8_t id[DHT_KEY_SIZE];
        dhtid_from_node_key(id, key);
        dht_rt_failed(d->rt, id, false);
    }
    flush(d, now_ms);
    return DHT_OK;
}

dht_err_t
dht_lost(dht_t *d, const uint8_t key[static DHT_KEY_SIZE], uint64_t now_ms)
{
    if (d->in_cb) {
        return DHT_EREENTRY;
    }
    for (size_t i = 0; i < d->pcap; i++) {
        if (d->pending[i].rid != 0 && memcmp(d->pending[i].key, key, DHT_KEY_SIZE) == 0) {
            store_missed(d, &d->pending[i], now_ms);
            request_failed(d, &d->pending[i], F_REFUSED, now_ms);
        }
    }
    flush(d, now_ms);
    return DHT_OK;
}

dht_err_t
dht_add_contact(dht_t *d, const dht_contact_t *c, uint64_t now_ms)
{
    if (d == NULL || c == NULL || memcmp(c->key, d->key, DHT_KEY_SIZE) == 0 ||
        !dht_msg_endpoint_ok(c->endpoint) || !routable(d, c->endpoint)) {
        return DHT_EINVAL;
    }
    uint8_t id[DHT_KEY_SIZE];
    dhtid_from_node_key(id, c->key);
    dht_rt_entry_t lrs;
    dht_rt_result_t r = dht_rt_seen(d->rt, id, c, now_ms, false, &lrs);
    if (r == DHT_RT_PING) {
        ping_lrs(d, &lrs, now_ms);
    }
    /* A contact offered when the table was empty lets the join begin. */
    lower_next(d, now_ms);
    return r == DHT_RT_REFUSED ? DHT_EFULL : DHT_OK;
}

/* ---- maintenance ---- */

static void
timeouts(dht_t *d, uint64_t now_ms)
{
    for (size_t i = 0; i < d->pcap; i++) {
        pending_t *p = &d->pending[i];
        if (p->rid == 0) {
            continue;
        }
        if (p->deadline_ms <= now_ms) {
            d->st.timeouts++;
            request_failed(d, p, F_SILENT, now_ms);
        } else if (p->purpose == P_LOOKUP && !p->stalled && p->sent_ms + stall_ms(d) <= now_ms) {
            stalled(d, p, now_ms);
        } else if (p->purpose == P_LOOKUP && !p->given_up &&
                   p->sent_ms + give_up_ms(d) <= now_ms) {
            given_up(d, p);
        }
    }
}

static void
start_announce(dht_t *d, announce_t *a, uint64_t now_ms)
{
    dht_err_t err = start_lookup(d, LK_ANNOUNCE, a->key, a->author, NULL, NULL, true, now_ms);
    if (err == DHT_OK) {
        a->running = true;
        a->next_ms = jittered(d, now_ms, d->p.reannounce_ms);
    } else if (err != DHT_EBUSY) {
        a->next_ms = now_ms + DHT_RETRY_MS;
    }
}

static void
start_put(dht_t *d, put_t *p, uint64_t now_ms)
{
    dht_err_t err = start_lookup(d, LK_PUT, p->key, p->author, NULL, NULL, true, now_ms);
    if (err == DHT_OK) {
        p->running = true;
        p->next_ms = jittered(d, now_ms, d->p.reput_ms);
    } else if (err != DHT_EBUSY) {
        p->next_ms = now_ms + DHT_RETRY_MS;
    }
}

static void
maintain_table(dht_t *d, uint64_t now_ms)
{
    if (dht_rt_count(d->rt) == 0) {
        return;
    }
    if (!d->joining && now_ms >= d->self_lookup_ms &&
        start_lookup(d, LK_REFRESH, d->id, NULL, NULL, NULL, true, now_ms) == DHT_OK) {
        /* finish() sets the next time. */
        d->joining = true;
        d->self_lookup_ms = UINT64_MAX;
    }
    if (!d->joined) {
        return;
    }
    int deepest = dht_rt_deepest(d->rt);
    for (int i = 0; i <= deepest; i++) {
        uint64_t t = dht_rt_touched(d->rt, (unsigned)i);
        if (t != 0 && t + d->p.refresh_ms > now_ms) {
            continue;
        }
        uint8_t rnd[DHT_KEY_SIZE], target[DHT_KEY_SIZE];
        d->random(d->ud, rnd, sizeof rnd);
        dht_rt_random_id(d->rt, (unsigned)i, rnd, target);
        dht_err_t err = start_lookup(d, LK_REFRESH, target, NULL, NULL, NULL, true, now_ms);
        if (err == DHT_EBUSY) {
            return;
        }
        /* Started, or nobody to ask: either way not again before the
         * interval (start_lookup touched it when it started). */
        dht_rt_touch_bucket(d->rt, (unsigned)i, now_ms);
    }
}

/* Lowers *next to t; work that is already due (it waits for a lookup
 * slot) is polled, since a finishing lookup also asks for a tick. */
static void
at(uint64_t *next, uint64_t t, uint64_t now_ms)
{
    if (t <= now_ms) {
        t = now_ms + POLL_MS;
    }
    if (t < *next) {
        *next = t;
    }
}

/* When dht_tick must next run: the earliest deadline. */
static uint64_t
compute_next(dht_t *d, uint64_t now_ms)
{
    uint64_t next = now_ms + d->p.refresh_ms;
    for (size_t i = 0; i < d->pcap; i++) {
        const pending_t *p = &d->pending[i];
        if (p->rid != 0) {
            at(&next, p->deadline_ms, now_ms);
            if (p->purpose == P_LOOKUP && !p->stalled) {
                at(&next, p->sent_ms + stall_ms(d), now_ms);
            } else if (p->purpose == P_LOOKUP && !p->given_up) {
                at(&next, p->sent_ms + give_up_ms(d), now_ms);
            }
        }
    }
    at(&next, d->expire_ms, now_ms);
    if (dht_rt_count(d->rt) > 0) {
        if (!d->joining) {
            at(&next, d->self_lookup_ms, now_ms);
        }
        if (d->joined) {
            int deepest = dht_rt_deepest(d->rt);
            for (int i = 0; i <= deepest; i++) {
                uint64_t t = dht_rt_touched(d->rt, (unsigned)i);
                at(&next, t == 0 ? now_ms : t + d->p.refresh_ms, now_ms);
            }
        }
    }
    for (size_t i = 0; i < d->nann; i++) {
        if (!d->ann[i].running) {
            at(&next, d->ann[i].next_ms, now_ms);
        }
    }
    for (size_t i = 0; i < d->nputs; i++) {
        if (!d->puts[i].running) {
            at(&next, d->puts[i].next_ms, now_ms);
        }
    }
    for (size_t i = 0; d->retries != NULL && i < STORE_RETRIES_MAX; i++) {
        if (d->retries[i].try_no != 0) {
            at(&next, d->retries[i].due_ms, now_ms);
        }
    }
    return next;
}

void
dht_tick(dht_t *d, uint64_t now_ms, uint64_t *next_ms)
{
    if (d->in_cb) {
        if (next_ms != NULL) {
            *next_ms = d->next_ms;
        }
        return;
    }
    timeouts(d, now_ms);
    for (size_t i = 0; i < d->nlookups; i++) {
        advance(d, d->lookups[i], now_ms);
    }
    if (now_ms >= d->expire_ms) {
        dht_rec_expire(d->rec, now_ms);
        d->expire_ms = now_ms + DHT_EXPIRE_SCAN_MS;
    }
    maintain_table(d, now_ms);
    for (size_t i = 0; i < d->nann; i++) {
        if (!d->ann[i].running && d->ann[i].next_ms <= now_ms) {
            start_announce(d, &d->ann[i], now_ms);
        }
    }
    for (size_t i = 0; i < d->nputs; i++) {
        if (!d->puts[i].running && d->puts[i].next_ms <= now_ms) {
            start_put(d, &d->puts[i], now_ms);
        }
    }
    send_retries(d, now_ms);
    flush(d, now_ms);
    d->next_ms = compute_next(d, now_ms);
    if (next_ms != NULL) {
        *next_ms = d->next_ms;
    }
}

uint64_t
dht_next_ms(const dht_t *d)
{
    return d->next_ms;
}

/* ---- the public lookups ---- */

static dht_err_t
public_lookup(dht_t *d, uint8_t kind, const uint8_t target[static DHT_KEY_SIZE],
              const uint8_t *author, dht_result_cb cb, void *ud, uint64_t now_ms)
{
    if (d == NULL || cb == NULL) {
        return DHT_EINVAL;
    }
    return start_lookup(d, kind, target, author, cb, ud, false, now_ms);
}

dht_err_t
dht_find_node(dht_t *d, const uint8_t target[static DHT_KEY_SIZE], dht_result_cb cb, void *ud,
              uint64_t now_ms)
{
    return public_lookup(d, DHT_LOOKUP_FIND_NODE, target, NULL, cb, ud, now_ms);
}

dht_err_t
dht_get_providers(dht_t *d, const uint8_t author_pk[static DHT_KEY_SIZE], dht_result_cb cb,
                  void *ud, uint64_t now_ms)
{
    uint8_t key[DHT_KEY_SIZE];
    dhtid_from_author(key, author_pk);
    return public_lookup(d, DHT_LOOKUP_GET_PROVIDERS, key, author_pk, cb, ud, now_ms);
}

dht_err_t
dht_get_head(dht_t *d, const uint8_t author_pk[static DHT_KEY_SIZE], dht_result_cb cb, void *ud,
             uint64_t now_ms)
{
    uint8_t key[DHT_KEY_SIZE];
    dhtid_from_author(key, author_pk);
    return public_lookup(d, DHT_LOOKUP_GET_HEAD, key, author_pk, cb, ud, now_ms);
}

/* Grows a list of elem-sized items to hold one more, up to max. */
static bool
list_room(void **items, size_t n, size_t *cap, size_t max, size_t elem)
{
    if (n < *cap) {
        return true;
    }
    if (n >= max) {
        return false;
    }
    size_t ncap = *cap == 0 ? FIRST_LIST : *cap * 2;
    if (ncap > max) {
        ncap = max;
    }
    void *p = realloc(*items, ncap * elem);
    if (p == NULL) {
        return false;
    }
    *items = p;
    *cap = ncap;
    return true;
}

dht_err_t
dht_set_endpoint(dht_t *d, const char *endpoint)
{
    if (endpoint == NULL || (endpoint[0] != '\0' && !dht_msg_endpoint_ok(endpoint))) {
        return DHT_EINVAL;
    }
    memset(d->endpoint, 0, sizeof d->endpoint);
    memcpy(d->endpoint, endpoint, strlen(endpoint));
    return DHT_OK;
}

dht_err_t
dht_announce(dht_t *d, const uint8_t author_pk[static DHT_KEY_SIZE], uint64_t now_ms)
{
    if (d->endpoint[0] == '\0') {
        return DHT_ENOENDPOINT;
    }
    announce_t *a = announce_find(d, author_pk);
    if (a == NULL) {
        void *items = d->ann;
        if (!list_room(&items, d->nann, &d->ann_cap, d->p.announces_max, sizeof *d->ann)) {
            d->ann = items;
            return d->nann >= d->p.announces_max ? DHT_EFULL : DHT_ENOMEM;
        }
        d->ann = items;
        a = &d->ann[d->nann++];
        memset(a, 0, sizeof *a);
        memcpy(a->author, author_pk, DHT_KEY_SIZE);
        dhtid_from_author(a->key, author_pk);
    }
    keep_own_provider(d, a, now_ms);
    if (!a->running) {
        a->next_ms = now_ms;
        start_announce(d, a, now_ms);
    }
    lower_next(d, now_ms);
    return DHT_OK;
}

dht_err_t
dht_unannounce(dht_t *d, const uint8_t author_pk[static DHT_KEY_SIZE])
{
    announce_t *a = announce_find(d, author_pk);
    if (a == NULL) {
        return DHT_ENOTFOUND;
    }
    /* A running announce lookup finds no entry when it ends, and stops. */
    *a = d->ann[--d->nann];
    return DHT_OK;
}

dht_err_t
dht_put_head(dht_t *d, const uint8_t *bytes, size_t len, uint64_t now_ms)
{
    if (bytes == NULL) {
        return DHT_EINVAL;
    }
    head_t h;
    head_err_t herr = head_decode(&h, bytes, len);
    if (herr == HEAD_ESIG) {
        return DHT_ESIG;
    }
    if (herr != HEAD_OK) {
        return DHT_EINVAL;
    }
    put_t *p = put_find(d, h.author);
    if (p != NULL &&
        (h.seq < p->seq || (h.seq == p->seq && memcmp(p->bytes, bytes, HEAD_SIZE) != 0))) {
        return DHT_ESTALE;
    }
    if (p == NULL) {
        void *items = d->puts;
        if (!list_room(&items, d->nputs, &d->puts_cap, d->p.puts_max, sizeof *d->puts)) {
            d->puts = items;
            return d->nputs >= d->p.puts_max ? DHT_EFULL : DHT_ENOMEM;
        }
        d->puts = items;
        p = &d->puts[d->nputs++];
        memset(p, 0, sizeof *p);
        memcpy(p->author, h.author, DHT_KEY_SIZE);
        dhtid_from_author(p->key, h.author);
    }
    p->seq = h.seq;
    memcpy(p->bytes, bytes, HEAD_SIZE);
    keep_own_head(d, p, now_ms);
    if (!p->running) {
        p->next_ms = now_ms;
        start_put(d, p, now_ms);
    }
    lower_next(d, now_ms);
    return DHT_OK;
}

dht_err_t
dht_unput_head(dht_t *d, const uint8_t author_pk[static DHT_KEY_SIZE])
{
    put_t *p = put_find(d, author_pk);
    if (p == NULL) {
        return DHT_ENOTFOUND;
    }
    *p = d->puts[--d->nputs];
    return DHT_OK;
}

/* ---- the table, counters, the end ---- */

bool
dht_table_next(const dht_t *d, dht_table_iter_t *it, dht_table_entry_t *out)
{
    while (it->bucket < DHT_RT_BUCKETS) {
        const dht_rt_entry_t *e = dht_rt_entry(d->rt, it->bucket, it->index);
        if (e == NULL) {
            it->bucket++;
            it->index = 0;
            continue;
        }
        it->index++;
        memset(out, 0, sizeof *out);
        out->c = e->c;
        memcpy(out->id, e->id, DHT_KEY_SIZE);
        out->bucket = (unsigned)dhtid_common_prefix(d->id, e->id);
        out->last_seen_ms = e->last_seen_ms;
        out->fails = e->fails;
        return true;
    }
    return false;
}

size_t
dht_table_size(const dht_t *d)
{
    return dht_rt_count(d->rt);
}

size_t
dht_table_bucket_size(const dht_t *d, unsigned bucket)
{
    return dht_rt_bucket_count(d->rt, bucket);
}

void
dht_get_stats(const dht_t *d, dht_stats_t *out)
{
    *out = d->st;
    out->table_size = dht_rt_count(d->rt);
    out->lookups_active = d->nlookups;
    out->pending = d->npending;
    out->records = dht_rec_count(d->rec);
    out->record_bytes = dht_rec_bytes(d->rec);
    out->announces = d->nann;
    out->puts = d->nputs;
}

void
dht_free(dht_t *d)
{
    if (d == NULL) {
        return;
    }
    for (size_t i = 0; i < d->nlookups; i++) {
        lookup_t *L = d->lookups[i];
        if (!L->internal && L->cb != NULL) {
            dht_result_t r;
            result_of(d, L, &r, L->started_ms);
            if (!L->finished) {
                r.status = DHT_ECANCELED;
            }
            d->in_cb = true;
            L->cb(L->ud, &r);
        }
        lookup_free(L);
    }
    free(d->lookups);
    free(d->pending);
    free(d->ann);
    free(d->puts);
    free(d->retries);
    dht_rt_free(d->rt);
    dht_rec_free(d->rec);
    free(d);
}
