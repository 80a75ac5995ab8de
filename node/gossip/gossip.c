/* gossip: lifecycle, peers, subscriptions, push along eager and lazy links,
 * PRUNE/GRAFT, scores and the tick. Posts are taken in gossip_post.c, pulls
 * run in gossip_sync.c. */
#include "gossip.h"

#include <stdlib.h>
#include <string.h>

#include "gossip_int.h"

const char *
gossip_strerror(gossip_err_t err)
{
    switch (err) {
    case GOSSIP_OK:
        return "ok";
    case GOSSIP_ENOMEM:
        return "out of memory";
    case GOSSIP_EINVAL:
        return "invalid argument";
    case GOSSIP_EFULL:
        return "gossip peer table is full";
    case GOSSIP_ENOPEER:
        return "no such gossip peer";
    case GOSSIP_EMALFORMED:
        return "malformed gossip message";
    }
    return "unknown gossip error";
}

const char *
gossip_fault_name(gossip_fault_t f)
{
    switch (f) {
    case GOSSIP_FAULT_MALFORMED:
        return "malformed message";
    case GOSSIP_FAULT_INVALID_POST:
        return "invalid post";
    case GOSSIP_FAULT_BAD_FORK:
        return "bad fork proof";
    case GOSSIP_FAULT_BAD_RANGE:
        return "range not as asked";
    case GOSSIP_FAULT_UNASKED:
        return "unasked range";
    case GOSSIP_FAULT_FLOOD:
        return "message flood";
    }
    return "unknown fault";
}

/* ---- small helpers ---- */

uint32_t
gossip_random_u32(gossip_t *g)
{
    uint8_t b[4];
    g->cfg.random(g->cfg.ud, b, sizeof b);
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

void
gossip_wake(gossip_t *g, uint64_t at_ms)
{
    if (at_ms < g->next_due) {
        g->next_due = at_ms;
    }
}

static int
key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, KEY_LEN);
}

/* Index of author in a sorted array of n entries of the given stride whose
 * first 32 bytes are the key, or n when absent. */
static size_t
find_sorted(const void *base, size_t n, size_t stride, const uint8_t key[static KEY_LEN])
{
    size_t lo = 0;
    size_t hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp((const uint8_t *)base + mid * stride, key, KEY_LEN);
        if (c == 0) {
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return n;
}

bool
gossip_we_replicate(const gossip_t *g, const uint8_t author[static KEY_LEN])
{
    return find_sorted(g->subs, g->n_subs, KEY_LEN, author) < g->n_subs;
}

/* ---- peers ---- */

gossip_peer_t *
gossip_peer_find(const gossip_t *g, const uint8_t key[static KEY_LEN])
{
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
        if (g->peers[i] != NULL && memcmp(g->peers[i]->key, key, KEY_LEN) == 0) {
            return g->peers[i];
        }
    }
    return NULL;
}

gossip_peer_t *
gossip_peer_get(const gossip_t *g, pref_t r)
{
    gossip_peer_t *p = r.slot < GOSSIP_PEERS_MAX ? g->peers[r.slot] : NULL;
    return (p != NULL && p->gen == r.gen) ? p : NULL;
}

pref_t
gossip_peer_ref(const gossip_t *g, const gossip_peer_t *p)
{
    pref_t r = {.slot = 0, .gen = p->gen};
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
        if (g->peers[i] == p) {
            r.slot = (uint8_t)i;
            break;
        }
    }
    return r;
}

sub_t *
gossip_peer_sub(const gossip_peer_t *p, const uint8_t author[static KEY_LEN])
{
    size_t i = find_sorted(p->subs, p->n_subs, sizeof *p->subs, author);
    return i < p->n_subs ? &p->subs[i] : NULL;
}

size_t
gossip_eager_count_except(const gossip_t *g, const uint8_t author[static KEY_LEN],
                          const gossip_peer_t *except)
{
    size_t n = 0;
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
        const gossip_peer_t *p = g->peers[i];
        if (p == NULL || p == except) {
            continue;
        }
        const sub_t *s = gossip_peer_sub(p, author);
        if (s != NULL && (s->flags & SUB_EAGER)) {
            n++;
        }
    }
    return n;
}

size_t
gossip_eager_count(const gossip_t *g, const uint8_t author[static KEY_LEN])
{
    return gossip_eager_count_except(g, author, NULL);
}

static void
peer_free(gossip_peer_t *p)
{
    if (p != NULL) {
        free(p->subs);
        free(p->ihave);
        free(p);
    }
}

/* ---- sending ---- */

static bool
send_frame(gossip_t *g, const uint8_t key[static KEY_LEN], const uint8_t *frame, size_t len)
{
    if (g->cfg.send(g->cfg.ud, key, frame, len) != 0) {
        g->stats.frames_dropped++;
        return false;
    }
    g->stats.frames_sent++;
    g->stats.bytes_sent += len;
    return true;
}

bool
gossip_send_msg(gossip_t *g, const gossip_peer_t *p)
{
    /* The buffer grows to the largest frame actually sent rather than
     * starting at GOSSIP_FRAME_MAX: most nodes never send a large one, and
     * the simulator runs thousands of them. */
    size_t len = 0;
    gossip_msg_err_t err = GOSSIP_MSG_EBUFSZ;
    size_t want = g->tx.cap ? g->tx.cap : 1024;
    while (err == GOSSIP_MSG_EBUFSZ && want <= FRAME_MAX && gossip_buf_reserve(&g->tx, want)) {
        err = gossip_msg_encode(&g->msg, g->tx.p, g->tx.cap, &len);
        want = g->tx.cap * 2;
    }
    /* Every message is built within its caps, so anything else is a bug of
     * ours or ENOMEM; the frame is then counted as dropped. */
    if (err != GOSSIP_MSG_OK) {
        g->stats.frames_dropped++;
        return false;
    }
    return send_frame(g, p->key, g->tx.p, len);
}

void
gossip_send_link(gossip_t *g, gossip_peer_t *p, gossip_type_t type,
                 const uint8_t author[static KEY_LEN])
{
    gossip_msg_init(&g->msg, type, 0);
    memcpy(g->msg.u.author, author, KEY_LEN);
    if (gossip_send_msg(g, p)) {
        if (type == GOSSIP_PRUNE) {
            g->stats.prunes_sent++;
        } else {
            g->stats.grafts_sent++;
        }
    }
}

/* Sends our whole set in SUBSCRIBE frames: the first replaces what the peer
 * knew, the others continue it. */
static void
send_subscribe(gossip_t *g, gossip_peer_t *p, uint64_t now_ms)
{
    size_t off = 0;
    p->subscribe_due = 0;
    do {
        size_t n = g->n_subs - off;
        if (n > GOSSIP_SUBSCRIBE_MAX) {
            n = GOSSIP_SUBSCRIBE_MAX;
        }
        gossip_msg_init(&g->msg, GOSSIP_SUBSCRIBE, 0);
        g->msg.u.subscribe.flags = off == 0 ? GOSSIP_SUBSCRIBE_FIRST : 0;
        g->msg.u.subscribe.n = (uint16_t)n;
        g->msg.u.subscribe.authors = n ? g->subs[off] : NULL;
        if (!gossip_send_msg(g, p)) {
            /* Without it the peer would never push to us nor send us its
             * heads: the whole set goes again at the next tick. */
            p->subscribe_due = now_ms + GOSSIP_RETRY_MS;
            gossip_wake(g, p->subscribe_due);
            return;
        }
        off += n;
    } while (off < g->n_subs);
}

static void
flush_ihave(gossip_t *g, gossip_peer_t *p)
{
    if (p->n_ihave > 0) {
        gossip_msg_init(&g->msg, GOSSIP_IHAVE, 0);
        g->msg.u.refs.n = (uint16_t)p->n_ihave;
        g->msg.u.refs.refs = p->ihave;
        if (gossip_send_msg(g, p)) {
            g->stats.ihave_sent += p->n_ihave;
        }
    }
    /* The queue is freed between batches: most peers have none queued most
     * of the time, and a node in the simulator has thousands of peers in
     * all. */
    free(p->ihave);
    p->ihave = NULL;
    p->n_ihave = 0;
}

static void
queue_ihave(gossip_t *g, gossip_peer_t *p, const gossip_ref_t *ref, uint64_t now_ms)
{
    if (p->ihave == NULL) {
        p->ihave = malloc((size_t)GOSSIP_IHAVE_MAX * GOSSIP_REF_SIZE);
        if (p->ihave == NULL) {
            g->stats.table_full++;
            return;
        }
        p->ihave_due = now_ms + GOSSIP_IHAVE_DELAY_MS;
        gossip_wake(g, p->ihave_due);
    }
    gossip_ref_put(p->ihave + p->n_ihave * GOSSIP_REF_SIZE, ref);
    if (++p->n_ihave == GOSSIP_IHAVE_MAX) {
        flush_ihave(g, p);
    }
}

/* ---- push ---- */

void
gossip_forward(gossip_t *g, const gossip_peer_t *from, const post_t *post, const uint8_t *raw,
               size_t len, uint64_t now_ms)
{
    gossip_peer_t *lazy[GOSSIP_PEERS_MAX];
    size_t n_lazy = 0;
    gossip_msg_init(&g->msg, GOSSIP_POST, 0);
    g->msg.u.post.p = raw;
    g->msg.u.post.len = (uint16_t)len;
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
        gossip_peer_t *p = g->peers[i];
        if (p == NULL || p == from) {
            continue;
        }
        const sub_t *s = gossip_peer_sub(p, post->author);
        if (s == NULL) {
            continue;
        }
        if (s->flags & SUB_EAGER) {
            if (gossip_send_msg(g, p)) {
                g->stats.posts_forwarded++;
            }
        } else {
            lazy[n_lazy++] = p;
        }
    }
    /* A few lazy peers, chosen at random each time, hear of it: enough
     * that a broken eager tree is repaired quickly, few enough that the
     * announcements cost less than the posts. */
    gossip_ref_t ref;
    memcpy(ref.author, post->author, KEY_LEN);
    ref.seq = post->seq;
    memcpy(ref.id, post->id, POST_ID_SIZE);
    for (size_t k = 0; k < n_lazy && k < GOSSIP_LAZY_FANOUT; k++) {
        size_t j = k + gossip_random_u32(g) % (n_lazy - k);
        gossip_peer_t *t = lazy[j];
        lazy[j] = lazy[k];
        lazy[k] = t;
        queue_ihave(g, t, &ref, now_ms);
    }
}

/* ---- scores ---- */

void
gossip_penalize(gossip_t *g, gossip_peer_t *p, gossip_fault_t why, int32_t points, uint64_t now_ms)
{
    if (now_ms > p->score_ms && p->score < 0) {
        uint64_t back = (now_ms - p->score_ms) / GOSSIP_SCORE_RECOVER_MS;
        p->score = back >= (uint64_t)-p->score ? 0 : p->score + (int32_t)back;
    }
    if (now_ms > p->score_ms) {
        p->score_ms = now_ms;
    }
    p->score = p->score < INT32_MIN + points ? INT32_MIN : p->score - points;
    if (p->score <= GOSSIP_SCORE_DISCONNECT && !p->reported) {
        p->reported = true;
        g->stats.peers_reported++;
        if (g->cfg.peer_misbehaved != NULL) {
            g->cfg.peer_misbehaved(g->cfg.ud, p->key, why);
        }
    }
}

gossip_err_t
gossip_peer_score(const gossip_t *g, const uint8_t key[static KEYS_PUBLIC_SIZE], int32_t *score)
{
    const gossip_peer_t *p = gossip_peer_find(g, key);
    if (p == NULL) {
        return GOSSIP_ENOPEER;
    }
    *score = p->score;
    return GOSSIP_OK;
}

/* ---- our subscriptions ---- */

typedef struct {
    gossip_t *g;
    uint8_t (*keys)[KEY_LEN];
    size_t n, cap;
    bool nomem;
} collect_t;

static void
collect_author(void *cbud, const uint8_t author[static KEYS_PUBLIC_SIZE])
{
    collect_t *c = cbud;
    if (c->nomem) {
        return;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        uint8_t(*keys)[KEY_LEN] = realloc(c->keys, cap * KEY_LEN);
        if (keys == NULL) {
            c->nomem = true;
            return;
        }
        c->keys = keys;
        c->cap = cap;
    }
    memcpy(c->keys[c->n++], author, KEY_LEN);
}

/* Reads our set through the callback: sorted, without duplicates, cut to
 * GOSSIP_SUBSCRIPTIONS_MAX. Keeps the old set on ENOMEM. */
static bool
load_subscriptions(gossip_t *g)
{
    collect_t c = {.g = g, .keys = NULL, .n = 0, .cap = 0, .nomem = false};
    g->cfg.subscriptions(g->cfg.ud, collect_author, &c);
    if (c.nomem) {
        free(c.keys);
        return false;
    }
    if (c.n > 0) {
        qsort(c.keys, c.n, KEY_LEN, key_cmp);
    }
    size_t n = 0;
    for (size_t i = 0; i < c.n; i++) {
        if (n == 0 || memcmp(c.keys[n - 1], c.keys[i], KEY_LEN) != 0) {
            memmove(c.keys[n++], c.keys[i], KEY_LEN);
        }
    }
    if (n > GOSSIP_SUBSCRIPTIONS_MAX) {
        g->stats.table_full++;
        n = GOSSIP_SUBSCRIPTIONS_MAX;
    }
    free(g->subs);
    g->subs = c.keys;
    g->n_subs = n;
    return true;
}

void
gossip_subscriptions_changed(gossip_t *g, uint64_t now_ms)
{
    if (!load_subscriptions(g)) {
        g->stats.table_full++;
        g->subs_retry_ms = now_ms + GOSSIP_RETRY_MS;
        gossip_wake(g, g->subs_retry_ms);
        return;
    }
    g->subs_retry_ms = 0;
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
        if (g->peers[i] != NULL) {
            send_subscribe(g, g->peers[i], now_ms);
        }
    }
    gossip_wake(g, now_ms);
}

/* ---- lifecycle ---- */

gossip_err_t
gossip_new(gossip_t **out, const gossip_config_t *cfg)
{
    *out = NULL;
    if (cfg == NULL || cfg->send == NULL || cfg->random == NULL || cfg->head == NULL ||
        cfg->has_post == NULL || cfg->ingest == NULL || cfg->is_blocked == NULL ||
        cfg->replicates == NULL || cfg->subscriptions == NULL || cfg->read_range == NULL) {
        return GOSSIP_EINVAL;
    }
    gossip_t *g = calloc(1, sizeof *g);
    if (g == NULL) {
        return GOSSIP_ENOMEM;
    }
    g->cfg = *cfg;
    g->cfg.random(g->cfg.ud, g->seen.key, sizeof g->seen.key);
    g->next_rid = gossip_random_u32(g);
    g->next_due = UINT64_MAX;
    g->lazy_wait_ms = GOSSIP_LAZY_WAIT_MS;
    if (!load_subscriptions(g)) {
        gossip_free(g);
        return GOSSIP_ENOMEM;
    }
    *out = g;
    return GOSSIP_OK;
}

void
gossip_set_lazy_wait(gossip_t *g, uint32_t ms)
{
    g->lazy_wait_ms = ms < GOSSIP_LAZY_WAIT_MIN_MS ? GOSSIP_LAZY_WAIT_MIN_MS
                      : ms > GOSSIP_LAZY_WAIT_MS   ? GOSSIP_LAZY_WAIT_MS
                                                   : ms;
}

void
gossip_free(gossip_t *g)
{
    if (g == NULL) {
        return;
    }
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
        peer_free(g->peers[i]);
    }
    gossip_seen_free(&g->seen);
    gossip_sync_free(g);
    free(g->subs);
    free(g->abuckets);
    free(g->dirty);
    gossip_buf_free(&g->tx);
    gossip_buf_free(&g->list);
    gossip_buf_free(&g->range);
    free(g);
}

static uint64_t
heads_period(gossip_t *g)
{
    return GOSSIP_HEADS_PERIOD_MS + gossip_random_u32(g) % (GOSSIP_HEADS_JITTER_MS + 1);
}

/* Keeps the links healthy when a peer leaves: an author left with no eager
 * link at all gets one back at once (GRAFT), instead of waiting for the next
 * post to miss and be fetched. */
static void
regraft_after(gossip_t *g, const gossip_peer_t *gone)
{
    for (size_t k = 0; k < gone->n_subs; k++) {
        const sub_t *s = &gone->subs[k];
        if (!(s->flags & SUB_EAGER) || gossip_eager_count_except(g, s->author, gone) > 0) {
            continue;
        }
        gossip_peer_t *cand[GOSSIP_PEERS_MAX];
        size_t n = 0;
        for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
            gossip_peer_t *p = g->peers[i];
            if (p != NULL && p != gone && gossip_peer_sub(p, s->author) != NULL) {
                cand[n++] = p;
            }
        }
        if (n > 0) {
            gossip_peer_t *p = cand[gossip_random_u32(g) % n];
            sub_t *ps = gossip_peer_sub(p, s->author);
            ps->flags |= SUB_EAGER;
            gossip_send_link(g, p, GOSSIP_GRAFT, s->author);
        }
    }
}

static void
peer_remove(gossip_t *g, gossip_peer_t *p, uint64_t now_ms)
{
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
        if (g->peers[i] == p) {
            gossip_sync_peer_down(g, p, now_ms);
            regraft_after(g, p);
            g->peers[i] = NULL;
            peer_free(p);
            return;
        }
    }
}

gossip_err_t
gossip_peer_up(gossip_t *g, const uint8_t key[static KEYS_PUBLIC_SIZE], uint64_t now_ms)
{
    gossip_peer_t *old = gossip_peer_find(g, key);
    if (old != NULL) {
        peer_remove(g, old, now_ms);
    }
    size_t slot = GOSSIP_PEERS_MAX;
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
        if (g->peers[i] == NULL) {
            slot = i;
            break;
        }
    }
    if (slot == GOSSIP_PEERS_MAX) {
        return GOSSIP_EFULL;
    }
    gossip_peer_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return GOSSIP_ENOMEM;
    }
    memcpy(p->key, key, KEY_LEN);
    p->gen = ++g->next_gen;
    p->score_ms = now_ms;
    gossip_bucket_init(&p->msg_bucket, GOSSIP_PEER_MSG_BURST, now_ms);
    gossip_bucket_init(&p->verify_bucket, GOSSIP_PEER_VERIFY_BURST, now_ms);
    gossip_bucket_init(&p->serve_bucket, GOSSIP_PEER_SERVE_BURST, now_ms);
    gossip_bucket_init(&p->fetch_bucket, GOSSIP_PEER_FETCH_VERIFY_BURST, now_ms);
    gossip_bucket_init(&p->ask_bucket, GOSSIP_PEER_SERVE_BURST, now_ms);
    p->heads_due = now_ms + heads_period(g);
    g->peers[slot] = p;
    gossip_wake(g, p->heads_due);
    send_subscribe(g, p, now_ms);
    return GOSSIP_OK;
}

void
gossip_peer_down(gossip_t *g, const uint8_t key[static KEYS_PUBLIC_SIZE], uint64_t now_ms)
{
    gossip_peer_t *p = gossip_peer_find(g, key);
    if (p != NULL) {
        peer_remove(g, p, now_ms);
    }
}

/* ---- SUBSCRIBE, PRUNE, GRAFT received ---- */

static bool
subs_reserve(gossip_peer_t *p, size_t n)
{
    if (n <= p->cap_subs) {
        return true;
    }
    size_t cap = p->cap_subs ? p->cap_subs : 16;
    while (cap < n) {
        cap *= 2;
    }
    sub_t *s = realloc(p->subs, cap * sizeof *s);
    if (s == NULL) {
        return false;
    }
    p->subs = s;
    p->cap_subs = cap;
    return true;
}

/* The flags a newly subscribed author starts with: eager while the author
 * has fewer than GOSSIP_EAGER_TARGET eager links, so a fresh node gets new
 * posts at once from a few peers and prunes the rest as duplicates show. */
static uint8_t
initial_flags(const gossip_t *g, const gossip_peer_t *p, const uint8_t author[static KEY_LEN])
{
    return gossip_eager_count_except(g, author, p) < GOSSIP_EAGER_TARGET ? SUB_EAGER : 0;
}

static void
on_subscribe(gossip_t *g, gossip_peer_t *p, const gossip_msg_t *m, uint64_t now_ms)
{
    size_t n = m->u.subscribe.n;
    const uint8_t(*authors)[KEY_LEN] = (const uint8_t(*)[KEY_LEN])m->u.subscribe.authors;
    sub_t *old = NULL;
    size_t n_old = 0;
    if (m->u.subscribe.flags & GOSSIP_SUBSCRIBE_FIRST) {
        /* Replacement: the old set stays aside so its links keep their
         * state for authors that are still in the new one. */
        old = p->subs;
        n_old = p->n_subs;
        p->subs = NULL;
        p->n_subs = 0;
        p->cap_subs = 0;
        p->subs_open = true;
    } else if (!p->subs_open || (n > 0 && p->n_subs > 0 &&
                                 memcmp(p->subs[p->n_subs - 1].author, authors[0], KEY_LEN) >= 0)) {
        /* A continuation must follow a first frame and go on in order. */
        gossip_penalize(g, p, GOSSIP_FAULT_MALFORMED, GOSSIP_PENALTY_MALFORMED, now_ms);
        g->stats.malformed++;
        return;
    }
    size_t take = n;
    if (p->n_subs + take > GOSSIP_SUBSCRIPTIONS_MAX) {
        g->stats.table_full++;
        take = GOSSIP_SUBSCRIPTIONS_MAX - p->n_subs;
    }
    if (!subs_reserve(p, p->n_subs + take)) {
        g->stats.table_full++;
        take = 0;
    }
    size_t j = 0;
    size_t forks = 0;
    for (size_t i = 0; i < take; i++) {
        sub_t *s = &p->subs[p->n_subs];
        memcpy(s->author, authors[i], KEY_LEN);
        while (j < n_old && memcmp(old[j].author, authors[i], KEY_LEN) < 0) {
            j++;
        }
        bool kept = j < n_old && memcmp(old[j].author, authors[i], KEY_LEN) == 0;
        /* Counted before this entry is visible, so the peer's own link
         * does not count against it. */
        s->flags = kept ? old[j].flags : initial_flags(g, p, authors[i]);
        p->n_subs++;
        /* A new subscriber learns of the author's forks, however old. */
        if (!kept && forks < GOSSIP_FORKS_PER_SUBSCRIBE) {
            size_t room = GOSSIP_FORKS_PER_SUBSCRIBE - forks;
            forks += gossip_serve_forks(
                g, p, authors[i], room < GOSSIP_FORKS_SERVED_MAX ? room : GOSSIP_FORKS_SERVED_MAX);
        }
    }
    free(old);
    gossip_send_heads(g, p, authors, take, true, now_ms);
}

static void
on_link(gossip_t *g, gossip_peer_t *p, const gossip_msg_t *m)
{
    sub_t *s = gossip_peer_sub(p, m->u.author);
    if (m->type == GOSSIP_PRUNE) {
        g->stats.prunes_received++;
        if (s != NULL) {
            s->flags &= (uint8_t)~SUB_EAGER;
        }
        return;
    }
    g->stats.grafts_received++;
    if (s == NULL || (s->flags & SUB_EAGER)) {
        return;
    }
    if (gossip_eager_count_except(g, m->u.author, p) >= GOSSIP_EAGER_MAX) {
        /* Enough eager links already: say no, so the peer does not wait
         * for pushes that will not come. */
        gossip_send_link(g, p, GOSSIP_PRUNE, m->u.author);
        return;
    }
    s->flags |= SUB_EAGER;
}

/* ---- receiving ---- */

gossip_err_t
gossip_receive(gossip_t *g, const uint8_t from[static KEYS_PUBLIC_SIZE], const gossip_msg_t *m,
               uint64_t now_ms)
{
    gossip_peer_t *p = gossip_peer_find(g, from);
    if (p == NULL) {
        return GOSSIP_ENOPEER;
    }
    g->stats.frames_received++;
    /* The cheapest defence first: a peer sending more messages than any
     * honest peer would loses them, and points. */
    if (!gossip_bucket_take(&p->msg_bucket, GOSSIP_PEER_MSG_RATE, GOSSIP_PEER_MSG_BURST, 1,
                            now_ms)) {
        g->stats.msgs_limited++;
        gossip_penalize(g, p, GOSSIP_FAULT_FLOOD, GOSSIP_PENALTY_FLOOD, now_ms);
        return GOSSIP_OK;
    }
    switch (m->type) {
    case GOSSIP_SUBSCRIBE:
        on_subscribe(g, p, m, now_ms);
        break;
    case GOSSIP_POST:
        gossip_take_post(g, p, m->u.post.p, m->u.post.len, ORIGIN_EAGER, now_ms);
        break;
    case GOSSIP_IHAVE:
        gossip_on_ihave(g, p, m, now_ms);
        break;
    case GOSSIP_HEADS:
        p->heads_in = true;
        gossip_on_heads(g, p, m, now_ms);
        break;
    case GOSSIP_GET_RANGE:
        gossip_on_get_range(g, p, m, now_ms);
        break;
    case GOSSIP_RANGE:
        gossip_on_range(g, p, m, now_ms);
        break;
    case GOSSIP_PRUNE:
    case GOSSIP_GRAFT:
        on_link(g, p, m);
        break;
    case GOSSIP_FORK:
        gossip_on_fork_msg(g, p, m, now_ms);
        break;
    default:
        g->stats.malformed++;
        break;
    }
    return GOSSIP_OK;
}

gossip_err_t
gossip_receive_frame(gossip_t *g, const uint8_t from[static KEYS_PUBLIC_SIZE], const uint8_t *frame,
                     size_t len, uint64_t now_ms)
{
    gossip_peer_t *p = gossip_peer_find(g, from);
    if (p == NULL) {
        return GOSSIP_ENOPEER;
    }
    g->stats.bytes_received += len;
    if (gossip_msg_decode(&g->rx, frame, len) != GOSSIP_MSG_OK) {
        g->stats.frames_received++;
        g->stats.malformed++;
        gossip_penalize(g, p, GOSSIP_FAULT_MALFORMED, GOSSIP_PENALTY_MALFORMED, now_ms);
        return GOSSIP_EMALFORMED;
    }
    return gossip_receive(g, from, &g->rx, now_ms);
}

/* ---- the tick ---- */

void
gossip_tick(gossip_t *g, uint64_t now_ms, uint64_t *next_ms)
{
    if (now_ms < g->next_due) {
        *next_ms = g->next_due;
        return;
    }
    if (g->subs_retry_ms != 0 && g->subs_retry_ms <= now_ms) {
        gossip_subscriptions_changed(g, now_ms);
    }
    uint64_t next = now_ms + GOSSIP_HEADS_PERIOD_MS + GOSSIP_HEADS_JITTER_MS;
    if (g->subs_retry_ms != 0 && g->subs_retry_ms < next) {
        next = g->subs_retry_ms;
    }
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
        gossip_peer_t *p = g->peers[i];
        if (p == NULL) {
            continue;
        }
        if (p->n_ihave > 0 && p->ihave_due <= now_ms) {
            flush_ihave(g, p);
        }
        if (p->subscribe_due != 0 && p->subscribe_due <= now_ms) {
            send_subscribe(g, p, now_ms);
        }
        if (p->heads_due <= now_ms) {
            /* A window of the shared authors each time, so a node with
             * thousands of follows sends a bounded HEADS per period and
             * still covers them all over a few periods. */
            size_t start = p->heads_cursor < g->n_subs ? p->heads_cursor : 0;
            size_t n = g->n_subs - start;
            if (n > GOSSIP_HEADS_MAX) {
                n = GOSSIP_HEADS_MAX;
            }
            p->heads_cursor = start + n;
            gossip_send_heads(g, p, (const uint8_t(*)[KEY_LEN])g->subs + start, n, true, now_ms);
            p->heads_due = now_ms + heads_period(g);
        }
        if (p->n_ihave > 0 && p->ihave_due < next) {
            next = p->ihave_due;
        }
        if (p->heads_due < next) {
            next = p->heads_due;
        }
        if (p->subscribe_due != 0 && p->subscribe_due < next) {
            next = p->subscribe_due;
        }
    }
    gossip_sync_tick(g, now_ms, &next);
    g->next_due = next;
    *next_ms = next;
}

void
gossip_stats(const gossip_t *g, gossip_stats_t *out)
{
    *out = g->stats;
    out->peers = 0;
    out->peer_subs_max = 0;
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
        if (g->peers[i] != NULL) {
            out->peers++;
            if (g->peers[i]->n_subs > out->peer_subs_max) {
                out->peer_subs_max = g->peers[i]->n_subs;
            }
        }
    }
    out->seen = g->seen.half[0].count + g->seen.half[1].count;
    out->missing = g->n_missing;
    out->syncing = g->n_sync;
    out->requests = g->n_reqs;
    out->author_buckets = g->n_abuckets;
    out->dirty = g->n_dirty;
}
