/* Pull: HEADS compared, ranges fetched in pages until caught up; lazy
 * fetches after an IHAVE; the requests both use, with their timeouts; and the
 * serving side of GET_RANGE. */
#include <stdlib.h>
#include <string.h>

#include "gossip_int.h"

/* ---- requests ---- */

static req_t *
req_find(gossip_t *g, const gossip_peer_t *p, uint32_t rid)
{
    for (size_t i = 0; i < g->n_reqs; i++) {
        req_t *r = &g->reqs[i];
        if (r->rid == rid && gossip_peer_get(g, r->peer) == p) {
            return r;
        }
    }
    return NULL;
}

/* The due time of an entry that waits for a request slot: no deadline,
 * woken when any request ends (a slot is only ever full while requests are
 * in flight, and each of those ends by its answer or its timeout). */
static const uint64_t PARKED = UINT64_MAX;

static void
unpark(gossip_t *g, uint64_t now_ms)
{
    bool any = false;
    for (size_t i = 0; i < g->n_sync; i++) {
        if (g->sync[i].due_ms == PARKED) {
            g->sync[i].due_ms = now_ms;
            any = true;
        }
    }
    for (size_t i = 0; i < g->n_missing; i++) {
        if (g->missing[i].due_ms == PARKED) {
            g->missing[i].due_ms = now_ms;
            any = true;
        }
    }
    if (any) {
        gossip_wake(g, now_ms);
    }
}

static void
req_release(gossip_t *g, req_t *r, uint64_t now_ms)
{
    gossip_peer_t *p = gossip_peer_get(g, r->peer);
    if (p != NULL && p->reqs > 0) {
        p->reqs--;
    }
    *r = g->reqs[--g->n_reqs];
    unpark(g, now_ms);
}

/* Milliseconds until a bucket that holds have tokens, refilled at rate per
 * second, holds n. */
static uint64_t
wait_for(uint32_t have, uint32_t n, uint32_t rate)
{
    return have >= n ? 0 : ((uint64_t)(n - have) * 1000 + rate - 1) / rate;
}

/* Whether a GET_RANGE to p may go now. It needs a free slot, and to be
 * within the rate at which p serves them: the same limit on both sides, so
 * an honest request is never dropped by the peer's limit and left to time
 * out. */
typedef enum {
    SLOT_FREE,
    SLOT_BUSY,   /* every slot taken: wait for a request to end */
    SLOT_PACING, /* a slot, but the peer's serving rate is used up for now */
} slot_t;

static slot_t
req_slot(gossip_t *g, gossip_peer_t *p, uint64_t now_ms)
{
    if (g->n_reqs >= GOSSIP_REQS_MAX || p->reqs >= GOSSIP_PEER_REQS_MAX) {
        return SLOT_BUSY;
    }
    return gossip_bucket_avail(&p->ask_bucket, GOSSIP_PEER_SERVE_RATE, GOSSIP_PEER_SERVE_BURST,
                               now_ms) > 0
               ? SLOT_FREE
               : SLOT_PACING;
}

static bool
req_slot_free(gossip_t *g, gossip_peer_t *p, uint64_t now_ms)
{
    return req_slot(g, p, now_ms) == SLOT_FREE;
}

/* When to look again at work blocked by slot state st. */
static uint64_t
blocked_until(slot_t st, uint64_t now_ms)
{
    return st == SLOT_BUSY ? PARKED : now_ms + wait_for(0, 1, GOSSIP_PEER_SERVE_RATE);
}

/* Sends GET_RANGE and records the request. False when it could not go. */
static bool
req_send(gossip_t *g, gossip_peer_t *p, req_kind_t kind, const uint8_t author[static KEY_LEN],
         uint64_t from_seq, uint8_t count, const uint8_t *id, uint64_t now_ms)
{
    if (!req_slot_free(g, p, now_ms)) {
        return false;
    }
    uint32_t rid = g->next_rid++;
    if (rid == 0) {
        rid = g->next_rid++;
    }
    gossip_msg_init(&g->msg, GOSSIP_GET_RANGE, rid);
    memcpy(g->msg.u.get_range.author, author, KEY_LEN);
    g->msg.u.get_range.from_seq = from_seq;
    g->msg.u.get_range.max_count = count;
    if (!gossip_send_msg(g, p)) {
        return false;
    }
    gossip_bucket_take(&p->ask_bucket, GOSSIP_PEER_SERVE_RATE, GOSSIP_PEER_SERVE_BURST, 1, now_ms);
    req_t *r = &g->reqs[g->n_reqs++];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->peer = gossip_peer_ref(g, p);
    r->rid = rid;
    memcpy(r->author, author, KEY_LEN);
    r->from_seq = from_seq;
    r->count = count;
    r->deadline = now_ms + GOSSIP_REQ_TIMEOUT_MS;
    if (id != NULL) {
        memcpy(r->id, id, POST_ID_SIZE);
    }
    p->reqs++;
    gossip_wake(g, r->deadline);
    return true;
}

/* ---- missing ids (lazy push) ---- */

static missing_t *
missing_find(gossip_t *g, const uint8_t id[static POST_ID_SIZE])
{
    for (size_t i = 0; i < g->n_missing; i++) {
        if (memcmp(g->missing[i].ref.id, id, POST_ID_SIZE) == 0) {
            return &g->missing[i];
        }
    }
    return NULL;
}

static void
missing_remove(gossip_t *g, missing_t *e)
{
    gossip_peer_t *first = e->n_ann > 0 ? gossip_peer_get(g, e->ann[0]) : NULL;
    if (first != NULL && first->missing_first > 0) {
        first->missing_first--;
    }
    *e = g->missing[--g->n_missing];
}

void
gossip_missing_done(gossip_t *g, const uint8_t id[static POST_ID_SIZE])
{
    missing_t *e = missing_find(g, id);
    if (e != NULL && !e->fetching) {
        missing_remove(g, e);
    }
    /* An entry being fetched is removed when its answer comes, which also
     * settles the request. */
}

void
gossip_missing_note(gossip_t *g, gossip_peer_t *p, const gossip_ref_t *ref, uint64_t due_ms)
{
    pref_t pr = gossip_peer_ref(g, p);
    missing_t *e = missing_find(g, ref->id);
    if (e != NULL) {
        for (size_t i = 0; i < e->n_ann; i++) {
            if (e->ann[i].slot == pr.slot && e->ann[i].gen == pr.gen) {
                return;
            }
        }
        if (e->n_ann < GOSSIP_ANNOUNCERS_MAX) {
            e->ann[e->n_ann++] = pr;
            /* A new announcer may be free where the others were busy. */
            if (e->due_ms == PARKED && !e->fetching) {
                e->due_ms = due_ms;
                gossip_wake(g, due_ms);
            }
        }
        return;
    }
    /* One peer may fill only part of the table, so a flood of IHAVEs for
     * posts that do not exist cannot crowd out everyone else's. */
    if (g->n_missing >= GOSSIP_MISSING_MAX || p->missing_first >= GOSSIP_MISSING_PER_PEER) {
        g->stats.table_full++;
        return;
    }
    if (g->n_missing == g->cap_missing) {
        size_t cap = g->cap_missing ? g->cap_missing * 2 : 16;
        missing_t *m = realloc(g->missing, cap * sizeof *m);
        if (m == NULL) {
            g->stats.table_full++;
            return;
        }
        g->missing = m;
        g->cap_missing = cap;
    }
    e = &g->missing[g->n_missing++];
    memset(e, 0, sizeof *e);
    e->ref = *ref;
    e->due_ms = due_ms;
    e->ann[0] = pr;
    e->n_ann = 1;
    p->missing_first++;
    gossip_wake(g, due_ms);
}

void
gossip_on_ihave(gossip_t *g, gossip_peer_t *p, const gossip_msg_t *m, uint64_t now_ms)
{
    for (size_t i = 0; i < m->u.refs.n; i++) {
        gossip_ref_t ref;
        gossip_ref_get(m->u.refs.refs, i, &ref);
        g->stats.ihave_received++;
        if (gossip_seen_get(&g->seen, ref.id) != 0 || !gossip_we_replicate(g, ref.author) ||
            g->cfg.is_blocked(g->cfg.ud, ref.author) || g->cfg.has_post(g->cfg.ud, ref.id)) {
            continue;
        }
        gossip_missing_note(g, p, &ref, now_ms + g->lazy_wait_ms);
    }
}

/* Fetches a missing id from its next announcer still connected. */
static void
missing_fetch(gossip_t *g, missing_t *e, uint64_t now_ms)
{
    if (gossip_seen_get(&g->seen, e->ref.id) != 0 || g->cfg.has_post(g->cfg.ud, e->ref.id)) {
        missing_remove(g, e);
        return;
    }
    while (e->next_ann < e->n_ann) {
        gossip_peer_t *p = gossip_peer_get(g, e->ann[e->next_ann]);
        if (p == NULL) {
            e->next_ann++;
            continue;
        }
        slot_t st = req_slot(g, p, now_ms);
        if (st != SLOT_FREE) {
            e->due_ms = blocked_until(st, now_ms);
            return;
        }
        /* Asking only for what the rate limits would let us verify keeps an
         * honest fetch from being dropped on arrival. */
        if (gossip_fetch_tokens(p, now_ms) == 0) {
            e->due_ms = now_ms + wait_for(0, 1, GOSSIP_PEER_FETCH_VERIFY_RATE);
            return;
        }
        if (req_send(g, p, REQ_LAZY, e->ref.author, e->ref.seq, 1, e->ref.id, now_ms)) {
            g->stats.lazy_fetches++;
            e->fetching = true;
            return;
        }
        e->next_ann++;
    }
    missing_remove(g, e);
}

/* A fetch for e ended (answered, timed out, or its peer left). */
static void
missing_settle(gossip_t *g, const req_t *r, uint64_t now_ms)
{
    missing_t *e = missing_find(g, r->id);
    if (e == NULL) {
        return;
    }
    e->fetching = false;
    if (gossip_seen_get(&g->seen, e->ref.id) != 0 || g->cfg.has_post(g->cfg.ud, e->ref.id)) {
        missing_remove(g, e);
        return;
    }
    e->next_ann++;
    e->due_ms = now_ms;
    gossip_wake(g, now_ms);
}

/* ---- pulls ---- */

static sync_t *
sync_find(gossip_t *g, const uint8_t author[static KEY_LEN])
{
    for (size_t i = 0; i < g->n_sync; i++) {
        if (memcmp(g->sync[i].author, author, KEY_LEN) == 0) {
            return &g->sync[i];
        }
    }
    return NULL;
}

void
gossip_sync_note(gossip_t *g, gossip_peer_t *p, const uint8_t author[static KEY_LEN], uint64_t seq,
                 uint64_t now_ms)
{
    sync_t *s = sync_find(g, author);
    if (s == NULL) {
        if (g->n_sync >= GOSSIP_SYNC_MAX) {
            /* Refused, not lost: the peer's next HEADS brings it back. */
            g->stats.table_full++;
            return;
        }
        if (g->n_sync == g->cap_sync) {
            size_t cap = g->cap_sync ? g->cap_sync * 2 : 8;
            sync_t *n = realloc(g->sync, cap * sizeof *n);
            if (n == NULL) {
                g->stats.table_full++;
                return;
            }
            g->sync = n;
            g->cap_sync = cap;
        }
        s = &g->sync[g->n_sync++];
        memset(s, 0, sizeof *s);
        memcpy(s->author, author, KEY_LEN);
        s->due_ms = now_ms;
    }
    if (seq > s->target) {
        s->target = seq;
    }
    /* A new or better candidate may be free where the others were busy. */
    if (s->due_ms == PARKED) {
        s->due_ms = now_ms;
    }
    pref_t pr = gossip_peer_ref(g, p);
    size_t low = 0;
    for (size_t i = 0; i < s->n_cand; i++) {
        if (s->cand[i].peer.slot == pr.slot && s->cand[i].peer.gen == pr.gen) {
            if (seq > s->cand[i].seq) {
                s->cand[i].seq = seq;
            }
            gossip_wake(g, s->due_ms);
            return;
        }
        if (s->cand[i].seq < s->cand[low].seq) {
            low = i;
        }
    }
    if (s->n_cand < GOSSIP_SYNC_PEERS_MAX) {
        low = s->n_cand++;
    } else if (s->cand[low].seq >= seq) {
        return;
    }
    s->cand[low].peer = pr;
    s->cand[low].seq = seq;
    gossip_wake(g, s->due_ms);
}

/* A peer that shares author may still tell us its head: it has not
 * answered our SUBSCRIBE, and our HEADS (which it answers when it is
 * ahead) went out only just now, or not yet. */
static bool
may_still_tell(const gossip_peer_t *p, const uint8_t author[static KEY_LEN], uint64_t now_ms)
{
    if (!p->subs_open) {
        return true;
    }
    if (p->heads_in || gossip_peer_sub(p, author) == NULL) {
        return false;
    }
    return p->heads_out_ms == 0 || now_ms - p->heads_out_ms < GOSSIP_HEADS_ANSWER_MS;
}

void
gossip_head_news(const gossip_t *g, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t now_ms,
                 size_t *pending, uint64_t *claimed)
{
    *pending = 0;
    *claimed = 0;
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
        const gossip_peer_t *p = g->peers[i];
        if (p != NULL && may_still_tell(p, author, now_ms)) {
            (*pending)++;
        }
    }
    for (size_t i = 0; i < g->n_sync; i++) {
        if (memcmp(g->sync[i].author, author, KEY_LEN) == 0) {
            *claimed = g->sync[i].target;
        }
    }
}

static void
sync_remove(gossip_t *g, sync_t *s)
{
    *s = g->sync[--g->n_sync];
}

static void
sync_drop_cand(sync_t *s, pref_t pr)
{
    for (size_t i = 0; i < s->n_cand; i++) {
        if (s->cand[i].peer.slot == pr.slot && s->cand[i].peer.gen == pr.gen) {
            s->cand[i] = s->cand[--s->n_cand];
            return;
        }
    }
}

/* Our contiguous head of author, and the highest seq held (*max_seq may be
 * NULL); 0 on a store failure, which only makes us ask again for what we
 * may have. */
static uint64_t
our_heads(gossip_t *g, const uint8_t author[static KEY_LEN], uint8_t id[static POST_ID_SIZE],
          uint64_t *max_seq)
{
    uint64_t seq = 0;
    uint64_t max = 0;
    if (g->cfg.head(g->cfg.ud, author, &seq, id, &max) != 0) {
        g->stats.store_errors++;
        memset(id, 0, POST_ID_SIZE);
        seq = max = 0;
    }
    if (max_seq != NULL) {
        *max_seq = max;
    }
    return seq;
}

static uint64_t
our_head(gossip_t *g, const uint8_t author[static KEY_LEN], uint8_t id[static POST_ID_SIZE])
{
    return our_heads(g, author, id, NULL);
}

/* The seqs the next page of a pull asks for, from *from, at most *count:
 * normally the next page above what was asked in this sweep (or above our
 * head); for a pull more than a page behind, the newest page first, then
 * the pages below it. PAGE_NONE when every page up to what the source
 * holds has been asked for already. */
typedef enum { PAGE_NONE, PAGE_NEWEST, PAGE_NEXT } page_t;

static page_t
page_of(sync_t *s, uint64_t head, uint64_t holds, uint64_t *from, uint64_t *count)
{
    uint64_t start = head + 1 > s->next_from ? head + 1 : s->next_from;
    uint64_t upto = holds;
    if (!s->newest_done && holds - head > GOSSIP_RANGE_MAX) {
        *from = holds - GOSSIP_RANGE_MAX + 1;
        *count = GOSSIP_RANGE_MAX;
        s->newest_done = true;
        s->fill_until = *from - 1;
        return PAGE_NEWEST;
    }
    if (s->fill_until > head) {
        /* Filling below the newest page: nothing above it until the fill
         * has joined it (the store then absorbs the page). */
        upto = s->fill_until;
    }
    if (start > upto) {
        return PAGE_NONE;
    }
    *from = start;
    *count = upto - start + 1;
    if (*count > GOSSIP_RANGE_MAX) {
        *count = GOSSIP_RANGE_MAX;
    }
    return PAGE_NEXT;
}

/* The candidate that holds the most, among those connected and free to be
 * asked now: its index, or s->n_cand with *blocked saying why none is. */
static size_t
best_source(gossip_t *g, sync_t *s, slot_t *blocked, uint64_t now_ms)
{
    size_t best = s->n_cand;
    *blocked = SLOT_BUSY;
    for (size_t i = 0; i < s->n_cand;) {
        gossip_peer_t *p = gossip_peer_get(g, s->cand[i].peer);
        if (p == NULL) {
            s->cand[i] = s->cand[--s->n_cand];
            continue;
        }
        slot_t st = req_slot(g, p, now_ms);
        if (st == SLOT_FREE && (best == s->n_cand || s->cand[i].seq > s->cand[best].seq)) {
            best = i;
        } else if (st == SLOT_PACING) {
            *blocked = SLOT_PACING;
        }
        i++;
    }
    return best;
}

/* Sends the next page of one pull, if it can go now; up to
 * GOSSIP_SYNC_PIPELINE pages of one author are in flight at once, each
 * asking for seqs the others do not. Returns false when the entry is
 * finished and was removed. The store's head is read only once a request
 * can actually go, so entries waiting for slots cost nothing. */
static bool
sync_step(gossip_t *g, sync_t *s, uint64_t now_ms)
{
    if (!gossip_we_replicate(g, s->author) || g->cfg.is_blocked(g->cfg.ud, s->author)) {
        sync_remove(g, s);
        return false;
    }
    slot_t blocked = SLOT_BUSY;
    size_t best = best_source(g, s, &blocked, now_ms);
    if (s->n_cand == 0 && s->inflight == 0) {
        sync_remove(g, s);
        return false;
    }
    if (best == s->n_cand) {
        s->due_ms = blocked_until(blocked, now_ms);
        return true;
    }
    uint8_t id[POST_ID_SIZE];
    uint64_t head = our_head(g, s->author, id);
    if (head >= s->target) {
        sync_remove(g, s);
        return false;
    }
    if (s->cand[best].seq <= head) {
        /* It holds nothing we lack: forget it and choose again. */
        s->cand[best] = s->cand[--s->n_cand];
        s->due_ms = now_ms;
        return true;
    }
    gossip_peer_t *p = gossip_peer_get(g, s->cand[best].peer);
    uint64_t from = 0, want = 0;
    page_t page = page_of(s, head, s->cand[best].seq, &from, &want);
    if (page == PAGE_NONE) {
        if (s->inflight == 0) {
            /* Everything was asked and nothing is in flight, yet the head
             * is short: a page came back short. Ask again from the head. */
            s->next_from = 0;
            s->due_ms = now_ms;
        } else {
            s->due_ms = PARKED;
        }
        return true;
    }
    /* Pages as large as the verification budget allows; when it is low,
     * wait for a quarter page rather than trickle one post at a time. */
    uint32_t tokens = gossip_fetch_tokens(p, now_ms);
    uint32_t least = want < GOSSIP_RANGE_MAX / 4 ? (uint32_t)want : GOSSIP_RANGE_MAX / 4;
    if (tokens < least) {
        s->due_ms = now_ms + wait_for(tokens, least, GOSSIP_PEER_FETCH_VERIFY_RATE);
        return true;
    }
    if (want > tokens) {
        want = tokens;
    }
    if (req_send(g, p, REQ_SYNC, s->author, from, (uint8_t)want, NULL, now_ms)) {
        g->stats.pulls++;
        s->inflight++;
        if (page == PAGE_NEXT) {
            s->next_from = from + want;
        }
        s->due_ms = now_ms;
    } else {
        s->due_ms = now_ms + GOSSIP_RETRY_MS;
    }
    return true;
}

/* Pages of one pull that may be in flight: one until a page has shown that
 * the source holds what it claimed, so a peer that lies about its heads
 * costs one request per author. */
static uint8_t
pipeline(const sync_t *s)
{
    return s->flowing ? GOSSIP_SYNC_PIPELINE : 1;
}

/* A pull request ended. progress: our head moved; limited: some posts were
 * dropped by a rate limit (so the peer is not to blame). */
static void
sync_settle(gossip_t *g, const req_t *r, bool progress, bool limited, uint64_t now_ms)
{
    sync_t *s = sync_find(g, r->author);
    if (s == NULL) {
        return;
    }
    if (s->inflight > 0) {
        s->inflight--;
    }
    s->due_ms = now_ms;
    s->flowing = progress;
    if (!progress) {
        /* What this page asked for is asked again, from our head. */
        s->next_from = 0;
        if (limited) {
            s->due_ms = now_ms + GOSSIP_RETRY_MS;
        } else {
            /* It did not have what it claimed (or did not answer): try the
             * others. */
            sync_drop_cand(s, r->peer);
        }
    }
    gossip_wake(g, s->due_ms);
}

/* ---- HEADS ---- */

void
gossip_send_heads(gossip_t *g, gossip_peer_t *p, const uint8_t (*authors)[KEY_LEN], size_t n,
                  bool subscribed_only, uint64_t now_ms)
{
    size_t count = 0;
    if (!gossip_buf_reserve(&g->list, (size_t)GOSSIP_HEADS_MAX * GOSSIP_REF_SIZE)) {
        g->stats.table_full++;
        return;
    }
    for (size_t i = 0; i <= n; i++) {
        bool last = i == n;
        if (!last) {
            gossip_ref_t ref;
            memcpy(ref.author, authors[i], KEY_LEN);
            if (!gossip_we_replicate(g, ref.author) ||
                (subscribed_only && gossip_peer_sub(p, ref.author) == NULL)) {
                continue;
            }
            ref.seq = our_head(g, ref.author, ref.id);
            gossip_ref_put(g->list.p + count * GOSSIP_REF_SIZE, &ref);
            count++;
        }
        if (count > 0 && (last || count == GOSSIP_HEADS_MAX)) {
            gossip_msg_init(&g->msg, GOSSIP_HEADS, 0);
            g->msg.u.refs.n = (uint16_t)count;
            g->msg.u.refs.refs = g->list.p;
            gossip_send_msg(g, p);
            p->heads_out_ms = now_ms;
            count = 0;
        }
    }
}

void
gossip_on_heads(gossip_t *g, gossip_peer_t *p, const gossip_msg_t *m, uint64_t now_ms)
{
    /* Authors where we are ahead: answered with our heads, so the peer
     * pulls from us even when its view of our subscriptions is stale (it
     * then sends us no HEADS of its own for them). Only the side ahead
     * answers, and HEADS from the side ahead are never answered, so two
     * nodes cannot bounce HEADS back and forth. */
    size_t n_ahead = 0;
    uint8_t(*ahead)[KEY_LEN] = NULL;
    for (size_t i = 0; i < m->u.refs.n; i++) {
        gossip_ref_t ref;
        gossip_ref_get(m->u.refs.refs, i, &ref);
        if (!gossip_we_replicate(g, ref.author) || g->cfg.is_blocked(g->cfg.ud, ref.author)) {
            continue;
        }
        uint8_t id[POST_ID_SIZE];
        uint64_t head = our_head(g, ref.author, id);
        if (ref.seq < head) {
            if (ahead == NULL) {
                ahead = malloc((size_t)m->u.refs.n * KEY_LEN);
            }
            if (ahead != NULL) {
                memcpy(ahead[n_ahead++], ref.author, KEY_LEN);
            }
        } else if (ref.seq > head) {
            gossip_sync_note(g, p, ref.author, ref.seq, now_ms);
        } else if (ref.seq == head && memcmp(ref.id, id, POST_ID_SIZE) != 0 &&
                   gossip_seen_get(&g->seen, ref.id) == 0 && !g->cfg.has_post(g->cfg.ud, ref.id)) {
            /* The same seq with another id: a fork, or a forged claim.
             * Fetching that one post settles which; the store then keeps
             * it as evidence and a proof goes out. */
            gossip_missing_note(g, p, &ref, now_ms);
        }
    }
    if (n_ahead > 0) {
        gossip_send_heads(g, p, (const uint8_t(*)[KEY_LEN])ahead, n_ahead, false, now_ms);
    }
    free(ahead);
}

/* Authors whose head moved by a pull are announced (one HEADS entry each)
 * to the peers that share them, so a partition that heals, or a node back
 * from offline, spreads what it fetched hop by hop without waiting for the
 * periodic HEADS. */
void
gossip_mark_dirty(gossip_t *g, const uint8_t author[static KEY_LEN], uint64_t now_ms)
{
    for (size_t i = 0; i < g->n_dirty; i++) {
        if (memcmp(g->dirty[i], author, KEY_LEN) == 0) {
            return;
        }
    }
    if (g->n_dirty >= GOSSIP_DIRTY_MAX) {
        g->stats.table_full++;
        return;
    }
    if (g->n_dirty == g->cap_dirty) {
        size_t cap = g->cap_dirty ? g->cap_dirty * 2 : 4;
        uint8_t(*d)[KEY_LEN] = realloc(g->dirty, cap * KEY_LEN);
        if (d == NULL) {
            g->stats.table_full++;
            return;
        }
        g->dirty = d;
        g->cap_dirty = cap;
    }
    memcpy(g->dirty[g->n_dirty++], author, KEY_LEN);
    if (g->n_dirty == 1) {
        g->dirty_due = now_ms + GOSSIP_IHAVE_DELAY_MS;
        gossip_wake(g, g->dirty_due);
    }
}

static int
key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, KEY_LEN);
}

static void
flush_dirty(gossip_t *g, uint64_t now_ms)
{
    qsort(g->dirty, g->n_dirty, KEY_LEN, key_cmp);
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
        if (g->peers[i] != NULL) {
            gossip_send_heads(g, g->peers[i], (const uint8_t(*)[KEY_LEN])g->dirty, g->n_dirty, true,
                              now_ms);
        }
    }
    g->n_dirty = 0;
}

/* ---- GET_RANGE served ---- */

typedef struct {
    gossip_t *g;
    size_t count, max_count, bytes;
} serve_t;

static bool
serve_post(void *cbud, const uint8_t *raw, size_t len)
{
    serve_t *s = cbud;
    gossip_t *g = s->g;
    if (len < POST_MIN_SIZE || len > POST_MAX_SIZE || s->bytes + len > GOSSIP_RANGE_BYTES_MAX) {
        return false;
    }
    memcpy(g->range.p + s->bytes, raw, len);
    g->msg.u.range.posts[s->count].len = (uint16_t)len;
    s->bytes += len;
    s->count++;
    return s->count < s->max_count;
}

void
gossip_on_get_range(gossip_t *g, gossip_peer_t *p, const gossip_msg_t *m, uint64_t now_ms)
{
    if (!gossip_bucket_take(&p->serve_bucket, GOSSIP_PEER_SERVE_RATE, GOSSIP_PEER_SERVE_BURST, 1,
                            now_ms)) {
        g->stats.msgs_limited++;
        return;
    }
    if (!gossip_buf_reserve(&g->range, GOSSIP_RANGE_BYTES_MAX)) {
        g->stats.table_full++;
        return;
    }
    gossip_msg_init(&g->msg, GOSSIP_RANGE, m->request_id);
    serve_t s = {.g = g, .count = 0, .max_count = m->u.get_range.max_count, .bytes = 0};
    /* A blocked author's posts are not ours to spread: the answer is
     * empty, as if we held none. */
    if (!g->cfg.is_blocked(g->cfg.ud, m->u.get_range.author) &&
        g->cfg.read_range(g->cfg.ud, m->u.get_range.author, m->u.get_range.from_seq, s.max_count,
                          GOSSIP_RANGE_BYTES_MAX, serve_post, &s) != 0) {
        g->stats.store_errors++;
        s.count = 0;
    }
    size_t off = 0;
    for (size_t i = 0; i < s.count; i++) {
        g->msg.u.range.posts[i].p = g->range.p + off;
        off += g->msg.u.range.posts[i].len;
    }
    g->msg.u.range.n = (uint8_t)s.count;
    if (gossip_send_msg(g, p)) {
        g->stats.ranges_served++;
    }
}

/* ---- RANGE received ---- */

void
gossip_on_range(gossip_t *g, gossip_peer_t *p, const gossip_msg_t *m, uint64_t now_ms)
{
    req_t *r = req_find(g, p, m->request_id);
    if (r == NULL) {
        /* Late (after its timeout) or never asked: either way not taken,
         * since we cannot say what it should hold. */
        gossip_penalize(g, p, GOSSIP_FAULT_UNASKED, GOSSIP_PENALTY_UNASKED, now_ms);
        return;
    }
    req_t req = *r;
    req_release(g, r, now_ms);
    uint8_t id[POST_ID_SIZE];
    uint64_t max_before = 0;
    uint64_t head_before = our_heads(g, req.author, id, &max_before);
    bool limited = false;
    uint64_t last_seq = 0;
    bool bad = m->u.range.n > req.count;
    for (size_t i = 0; i < m->u.range.n && !bad; i++) {
        const gossip_bytes_t *b = &m->u.range.posts[i];
        uint8_t author[KEY_LEN];
        uint64_t seq = 0;
        /* The answer must be what was asked: that author, from that seq,
         * in order. Checked on the header before anything is verified. */
        if (!gossip_post_peek(b->p, b->len, author, &seq) ||
            memcmp(author, req.author, KEY_LEN) != 0 || seq < req.from_seq || seq <= last_seq) {
            bad = true;
            break;
        }
        last_seq = seq;
        origin_t origin = req.kind == REQ_LAZY ? ORIGIN_LAZY : ORIGIN_SYNC;
        take_t t = gossip_take_post(g, p, b->p, b->len, origin, now_ms);
        if (t == TAKE_LIMITED) {
            limited = true;
        }
        if (t == TAKE_INVALID) {
            break;
        }
    }
    if (bad) {
        gossip_penalize(g, p, GOSSIP_FAULT_BAD_RANGE, GOSSIP_PENALTY_BAD_RANGE, now_ms);
    }
    if (req.kind == REQ_LAZY) {
        missing_settle(g, &req, now_ms);
    } else {
        /* Progress: the feed grew, or (for the newest page, beyond a gap)
         * we hold more of it. */
        uint64_t max_after = 0;
        bool progress =
            our_heads(g, req.author, id, &max_after) > head_before || max_after > max_before;
        sync_settle(g, &req, progress, limited, now_ms);
    }
}

/* ---- tick, peers leaving, teardown ---- */

void
gossip_sync_tick(gossip_t *g, uint64_t now_ms, uint64_t *next)
{
    for (size_t i = 0; i < g->n_reqs;) {
        req_t *r = &g->reqs[i];
        if (r->deadline > now_ms) {
            i++;
            continue;
        }
        g->stats.requests_timed_out++;
        req_t req = *r;
        req_release(g, r, now_ms);
        if (req.kind == REQ_LAZY) {
            missing_settle(g, &req, now_ms);
        } else {
            sync_settle(g, &req, false, false, now_ms);
        }
    }
    for (size_t i = 0; i < g->n_missing;) {
        missing_t *e = &g->missing[i];
        size_t before = g->n_missing;
        if (!e->fetching && e->due_ms <= now_ms) {
            missing_fetch(g, e, now_ms);
        }
        if (g->n_missing == before) {
            i++;
        }
    }
    for (size_t i = 0; i < g->n_sync;) {
        sync_t *s = &g->sync[i];
        bool kept = true;
        /* Stepped until its pipeline is full or it has to wait. */
        while (kept && s->inflight < pipeline(s) && s->due_ms <= now_ms) {
            uint8_t before = s->inflight;
            kept = sync_step(g, s, now_ms);
            if (kept && s->inflight == before) {
                break;
            }
        }
        if (kept) {
            i++;
        }
    }
    if (g->n_dirty > 0 && g->dirty_due <= now_ms) {
        flush_dirty(g, now_ms);
    }
    for (size_t i = 0; i < g->n_reqs; i++) {
        if (g->reqs[i].deadline < *next) {
            *next = g->reqs[i].deadline;
        }
    }
    for (size_t i = 0; i < g->n_missing; i++) {
        if (!g->missing[i].fetching && g->missing[i].due_ms < *next) {
            *next = g->missing[i].due_ms;
        }
    }
    for (size_t i = 0; i < g->n_sync; i++) {
        if (g->sync[i].inflight < pipeline(&g->sync[i]) && g->sync[i].due_ms < *next) {
            *next = g->sync[i].due_ms;
        }
    }
    if (g->n_dirty > 0 && g->dirty_due < *next) {
        *next = g->dirty_due;
    }
}

void
gossip_sync_peer_down(gossip_t *g, const gossip_peer_t *p, uint64_t now_ms)
{
    for (size_t i = 0; i < g->n_reqs;) {
        req_t *r = &g->reqs[i];
        if (gossip_peer_get(g, r->peer) != p) {
            i++;
            continue;
        }
        req_t req = *r;
        req_release(g, r, now_ms);
        /* As if it had timed out: a pull drops the peer from its candidates
         * and goes on with the others, a fetch asks the next announcer. */
        if (req.kind == REQ_LAZY) {
            missing_settle(g, &req, now_ms);
        } else {
            sync_settle(g, &req, false, false, now_ms);
        }
    }
}

void
gossip_sync_free(gossip_t *g)
{
    free(g->missing);
    free(g->sync);
    g->missing = NULL;
    g->sync = NULL;
    g->n_missing = g->n_sync = 0;
}
