/* One path for every post that arrives, whatever brought it: cheap checks
 * first (seen-cache, blocked, unwanted, already stored), then the rate
 * limits, then the signature, then the store, then what to tell the peers.
 * Fork proofs are built and checked here too. */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "gossip_int.h"

bool
gossip_post_peek(const uint8_t *raw, size_t len, uint8_t author[static KEY_LEN], uint64_t *seq)
{
    bytes_reader_t r;
    bytes_reader_init(&r, raw, len);
    (void)bytes_get_u8(&r); /* version */
    (void)bytes_get_u8(&r); /* kind */
    bytes_get(&r, author, KEY_LEN);
    *seq = bytes_get_u64(&r);
    return bytes_reader_ok(&r);
}

/* ---- rate limits ---- */

/* The author's bucket, made on first use. When the table is full the entry
 * used longest ago is given up: it restarts full, which only matters for an
 * author that is busy, and a busy author is not the one used longest ago. */
static bucket_t *
author_bucket(gossip_t *g, const uint8_t author[static KEY_LEN], uint64_t now_ms)
{
    size_t oldest = 0;
    for (size_t i = 0; i < g->n_abuckets; i++) {
        if (memcmp(g->abuckets[i].author, author, KEY_LEN) == 0) {
            g->abuckets[i].used_ms = now_ms;
            return &g->abuckets[i].b;
        }
        if (g->abuckets[i].used_ms < g->abuckets[oldest].used_ms) {
            oldest = i;
        }
    }
    author_bucket_t *e = NULL;
    if (g->n_abuckets < g->cap_abuckets) {
        e = &g->abuckets[g->n_abuckets++];
    } else if (g->cap_abuckets < GOSSIP_AUTHOR_BUCKETS_MAX) {
        size_t cap = g->cap_abuckets ? g->cap_abuckets * 2 : 8;
        author_bucket_t *a = realloc(g->abuckets, cap * sizeof *a);
        if (a != NULL) {
            g->abuckets = a;
            g->cap_abuckets = cap;
            e = &g->abuckets[g->n_abuckets++];
        }
    }
    if (e == NULL) {
        if (g->n_abuckets == 0) {
            return NULL;
        }
        g->stats.table_full++;
        e = &g->abuckets[oldest];
    }
    memcpy(e->author, author, KEY_LEN);
    gossip_bucket_init(&e->b, GOSSIP_AUTHOR_VERIFY_BURST, now_ms);
    e->used_ms = now_ms;
    return &e->b;
}

uint32_t
gossip_verify_tokens(gossip_t *g, gossip_peer_t *p, const uint8_t author[static KEY_LEN],
                     uint64_t now_ms)
{
    bucket_t *ab = author_bucket(g, author, now_ms);
    if (ab == NULL) {
        return 0;
    }
    uint32_t a =
        gossip_bucket_avail(ab, GOSSIP_AUTHOR_VERIFY_RATE, GOSSIP_AUTHOR_VERIFY_BURST, now_ms);
    uint32_t b = gossip_bucket_avail(&p->verify_bucket, GOSSIP_PEER_VERIFY_RATE,
                                     GOSSIP_PEER_VERIFY_BURST, now_ms);
    return a < b ? a : b;
}

bool
gossip_take_verify_tokens(gossip_t *g, gossip_peer_t *p, const uint8_t author[static KEY_LEN],
                          uint32_t n, uint64_t now_ms)
{
    if (gossip_verify_tokens(g, p, author, now_ms) < n) {
        return false;
    }
    bucket_t *ab = author_bucket(g, author, now_ms);
    return ab != NULL &&
           gossip_bucket_take(ab, GOSSIP_AUTHOR_VERIFY_RATE, GOSSIP_AUTHOR_VERIFY_BURST, n,
                              now_ms) &&
           gossip_bucket_take(&p->verify_bucket, GOSSIP_PEER_VERIFY_RATE, GOSSIP_PEER_VERIFY_BURST,
                              n, now_ms);
}

uint32_t
gossip_fetch_tokens(gossip_peer_t *p, uint64_t now_ms)
{
    return gossip_bucket_avail(&p->fetch_bucket, GOSSIP_PEER_FETCH_VERIFY_RATE,
                               GOSSIP_PEER_FETCH_VERIFY_BURST, now_ms);
}

/* The budget a post's signature check is taken from: a post we asked for
 * (bounded by what we asked) from the peer's fetch bucket; anything else
 * from the peer's and the author's buckets. */
static bool
take_check(gossip_t *g, gossip_peer_t *p, const uint8_t author[static KEY_LEN], origin_t origin,
           uint64_t now_ms)
{
    if (origin == ORIGIN_SYNC || origin == ORIGIN_LAZY) {
        return gossip_bucket_take(&p->fetch_bucket, GOSSIP_PEER_FETCH_VERIFY_RATE,
                                  GOSSIP_PEER_FETCH_VERIFY_BURST, 1, now_ms);
    }
    return gossip_take_verify_tokens(g, p, author, 1, now_ms);
}

/* ---- forks ---- */

/* Whether a and b (decoded, verified) cannot both be in one feed: the same
 * author and either the same seq with different ids, or b right after a
 * without naming a as its prev. */
static bool
conflict(const post_t *a, const post_t *b)
{
    if (memcmp(a->author, b->author, KEY_LEN) != 0) {
        return false;
    }
    if (a->seq == b->seq) {
        return memcmp(a->id, b->id, POST_ID_SIZE) != 0;
    }
    return b->seq == a->seq + 1 && memcmp(b->prev, a->id, POST_ID_SIZE) != 0;
}

/* The seen-cache key of a proof: the hash of both ids in proof order. A
 * 64-byte input can never be a post (those are at least POST_MIN_SIZE), so
 * it cannot collide with a post id by construction. */
static void
fork_key(uint8_t out[static POST_ID_SIZE], const post_t *a, const post_t *b)
{
    uint8_t both[2 * POST_ID_SIZE];
    memcpy(both, a->id, POST_ID_SIZE);
    memcpy(both + POST_ID_SIZE, b->id, POST_ID_SIZE);
    post_id(out, both, sizeof both);
}

static void
send_fork(gossip_t *g, const gossip_peer_t *from, const gossip_bytes_t *a, const gossip_bytes_t *b,
          const uint8_t author[static KEY_LEN])
{
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
        gossip_peer_t *p = g->peers[i];
        if (p == NULL || p == from || gossip_peer_sub(p, author) == NULL) {
            continue;
        }
        gossip_msg_init(&g->msg, GOSSIP_FORK, 0);
        g->msg.u.fork.a = *a;
        g->msg.u.fork.b = *b;
        gossip_send_msg(g, p);
    }
}

typedef struct {
    gossip_t *g;
    const gossip_peer_t *to;
    size_t sent, max;
} serve_t;

static bool
serve_one(void *cbud, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    serve_t *s = cbud;
    if (a_len < POST_MIN_SIZE || a_len > POST_MAX_SIZE || b_len < POST_MIN_SIZE ||
        b_len > POST_MAX_SIZE) {
        return true;
    }
    gossip_bytes_t x = {.p = a, .len = (uint16_t)a_len};
    gossip_bytes_t y = {.p = b, .len = (uint16_t)b_len};
    bool swap = gossip_post_order(&x, &y) > 0;
    gossip_msg_init(&s->g->msg, GOSSIP_FORK, 0);
    s->g->msg.u.fork.a = swap ? y : x;
    s->g->msg.u.fork.b = swap ? x : y;
    if (gossip_send_msg(s->g, s->to)) {
        s->sent++;
    }
    return s->sent < s->max;
}

size_t
gossip_serve_forks(gossip_t *g, const gossip_peer_t *p, const uint8_t author[static KEY_LEN],
                   size_t max)
{
    serve_t s = {.g = g, .to = p, .sent = 0, .max = max};
    if (g->cfg.forks == NULL || max == 0 || !g->cfg.replicates(g->cfg.ud, author) ||
        g->cfg.is_blocked(g->cfg.ud, author)) {
        return 0;
    }
    if (g->cfg.forks(g->cfg.ud, author, serve_one, &s) != 0) {
        g->stats.store_errors++;
    }
    return s.sent;
}

typedef struct {
    gossip_t *g;
    bool got;
} first_t;

static bool
copy_first(void *cbud, const uint8_t *raw, size_t len)
{
    first_t *f = cbud;
    if (len >= POST_MIN_SIZE && len <= POST_MAX_SIZE) {
        memcpy(f->g->other, raw, len);
        f->g->other_len = len;
        f->got = true;
    }
    return false;
}

/* Reads our post of author at seq into g->other and decodes it into
 * g->post2 (our own store: no signature check). False when there is none. */
static bool
read_ours(gossip_t *g, const uint8_t author[static KEY_LEN], uint64_t seq)
{
    first_t f = {.g = g, .got = false};
    if (seq == 0 ||
        g->cfg.read_range(g->cfg.ud, author, seq, 1, POST_MAX_SIZE, copy_first, &f) != 0) {
        return false;
    }
    return f.got && post_decode(&g->post2, g->other, g->other_len, POST_NO_VERIFY) == POST_OK &&
           g->post2.seq == seq && memcmp(g->post2.author, author, KEY_LEN) == 0;
}

/* The store kept g->post (raw) as fork evidence: find the stored post it
 * conflicts with, and send the pair to every subscribed peer, once. */
static void
build_fork(gossip_t *g, const gossip_peer_t *from, const uint8_t *raw, size_t len, uint64_t now_ms)
{
    const post_t *p = &g->post;
    gossip_bytes_t mine = {.p = raw, .len = (uint16_t)len};
    gossip_bytes_t theirs = {.p = g->other, .len = 0};
    bool found = false;
    /* The three kinds of conflict the store reports: same seq; our post
     * before it that it does not link to; our post after it that does not
     * link to it. */
    const uint64_t seqs[3] = {p->seq, p->seq - 1, p->seq + 1};
    for (size_t i = 0; i < 3 && !found; i++) {
        if (!read_ours(g, p->author, seqs[i])) {
            continue;
        }
        const post_t *q = &g->post2;
        found = q->seq <= p->seq ? conflict(q, p) : conflict(p, q);
    }
    if (!found) {
        return;
    }
    theirs.len = (uint16_t)g->other_len;
    const gossip_bytes_t *a = &mine;
    const gossip_bytes_t *b = &theirs;
    const post_t *pa = &g->post;
    const post_t *pb = &g->post2;
    if (gossip_post_order(a, b) > 0) {
        a = &theirs;
        b = &mine;
        pa = &g->post2;
        pb = &g->post;
    }
    uint8_t key[POST_ID_SIZE];
    fork_key(key, pa, pb);
    if (gossip_seen_get(&g->seen, key) != 0) {
        return;
    }
    gossip_seen_put(&g->seen, key, SEEN_OK, now_ms);
    g->stats.forks_built++;
    send_fork(g, from, a, b, p->author);
}

/* ---- taking a post ---- */

static void
on_duplicate(gossip_t *g, gossip_peer_t *from, const uint8_t author[static KEY_LEN],
             origin_t origin)
{
    g->stats.posts_duplicate++;
    if (origin != ORIGIN_EAGER || from == NULL) {
        return;
    }
    /* An eager copy of something we had: this link is redundant for this
     * author. Stop pushing to it and ask it to stop pushing to us. Asked
     * again on every such copy: one that still comes means the peer did
     * not get (or did not heed) the last PRUNE, and a PRUNE costs less
     * than the copy. */
    sub_t *s = gossip_peer_sub(from, author);
    if (s != NULL) {
        s->flags &= (uint8_t)~SUB_EAGER;
    }
    gossip_send_link(g, from, GOSSIP_PRUNE, author);
}

/* The link a post came over after an IHAVE was the faster path: make it
 * eager both ways. The GRAFT goes even when our side of the link is eager
 * already: the IHAVE shows that the peer's side is not. */
static void
graft(gossip_t *g, gossip_peer_t *from, const uint8_t author[static KEY_LEN])
{
    sub_t *s = gossip_peer_sub(from, author);
    if (gossip_eager_count_except(g, author, from) >= GOSSIP_EAGER_MAX) {
        return;
    }
    if (s != NULL) {
        s->flags |= SUB_EAGER;
    }
    gossip_send_link(g, from, GOSSIP_GRAFT, author);
}

take_t
gossip_take_post(gossip_t *g, gossip_peer_t *from, const uint8_t *raw, size_t len, origin_t origin,
                 uint64_t now_ms)
{
    g->stats.posts_received++;
    if (origin == ORIGIN_EAGER) {
        g->stats.posts_eager++;
    }
    uint8_t author[KEY_LEN];
    uint64_t seq = 0;
    if (!gossip_post_peek(raw, len, author, &seq)) {
        return TAKE_DROPPED; /* the codec's length rule makes this unreachable */
    }
    uint8_t id[POST_ID_SIZE];
    post_id(id, raw, len);
    int seen = gossip_seen_get(&g->seen, id);
    if (seen == SEEN_BAD) {
        /* The same bytes failed before: the same verdict, without the cost. */
        g->stats.posts_invalid++;
        gossip_penalize(g, from, GOSSIP_FAULT_INVALID_POST, GOSSIP_PENALTY_INVALID_POST, now_ms);
        return TAKE_INVALID;
    }
    if (seen == SEEN_OK) {
        on_duplicate(g, from, author, origin);
        return TAKE_DUPLICATE;
    }
    if (g->cfg.is_blocked(g->cfg.ud, author)) {
        g->stats.posts_blocked++;
        return TAKE_DROPPED;
    }
    if (!g->cfg.replicates(g->cfg.ud, author)) {
        g->stats.posts_unwanted++;
        return TAKE_DROPPED;
    }
    if (g->cfg.has_post(g->cfg.ud, id)) {
        gossip_seen_put(&g->seen, id, SEEN_OK, now_ms);
        gossip_missing_done(g, id);
        on_duplicate(g, from, author, origin);
        return TAKE_DUPLICATE;
    }
    /* Only now, with every cheap reason to drop it used up, may the post
     * cost a signature check, and only within the peer's and the author's
     * rates. */
    if (!take_check(g, from, author, origin, now_ms)) {
        g->stats.rate_limited++;
        return TAKE_LIMITED;
    }
    g->stats.posts_verified++;
    if (post_decode(&g->post, raw, len, POST_VERIFY) != POST_OK) {
        g->stats.posts_invalid++;
        gossip_seen_put(&g->seen, id, SEEN_BAD, now_ms);
        gossip_penalize(g, from, GOSSIP_FAULT_INVALID_POST, GOSSIP_PENALTY_INVALID_POST, now_ms);
        return TAKE_INVALID;
    }
    gossip_ingest_t res = GOSSIP_INGEST_INVALID;
    if (g->cfg.ingest(g->cfg.ud, &g->post, raw, len, &res) != 0) {
        g->stats.store_errors++;
        return TAKE_DROPPED;
    }
    switch (res) {
    case GOSSIP_INGEST_EXTENDED:
    case GOSSIP_INGEST_AHEAD:
        gossip_seen_put(&g->seen, id, SEEN_OK, now_ms);
        gossip_missing_done(g, id);
        g->stats.posts_stored++;
        if (origin == ORIGIN_LAZY) {
            graft(g, from, author);
        }
        if (origin == ORIGIN_EAGER || origin == ORIGIN_LAZY) {
            gossip_forward(g, from, &g->post, raw, len, now_ms);
        } else if (origin == ORIGIN_SYNC) {
            gossip_mark_dirty(g, author, now_ms);
        }
        if (res == GOSSIP_INGEST_AHEAD) {
            /* A gap: whoever sent this likely holds what comes before. */
            gossip_sync_note(g, from, author, seq, now_ms);
        }
        return TAKE_NEW;
    case GOSSIP_INGEST_DUPLICATE:
        gossip_seen_put(&g->seen, id, SEEN_OK, now_ms);
        gossip_missing_done(g, id);
        on_duplicate(g, from, author, origin);
        return TAKE_DUPLICATE;
    case GOSSIP_INGEST_FORK:
        gossip_seen_put(&g->seen, id, SEEN_OK, now_ms);
        gossip_missing_done(g, id);
        if (origin != ORIGIN_FORK) {
            build_fork(g, from, raw, len, now_ms);
        }
        return TAKE_FORK;
    case GOSSIP_INGEST_BLOCKED:
        gossip_seen_put(&g->seen, id, SEEN_OK, now_ms);
        g->stats.posts_blocked++;
        return TAKE_DROPPED;
    case GOSSIP_INGEST_FUTURE:
        /* Not remembered: the same bytes are fine once our clock catches
         * up. */
        g->stats.posts_future++;
        return TAKE_DROPPED;
    case GOSSIP_INGEST_INVALID:
    default:
        g->stats.store_errors++;
        return TAKE_DROPPED;
    }
}

/* ---- FORK received ---- */

void
gossip_on_fork_msg(gossip_t *g, gossip_peer_t *from, const gossip_msg_t *m, uint64_t now_ms)
{
    const gossip_bytes_t *a = &m->u.fork.a;
    const gossip_bytes_t *b = &m->u.fork.b;
    uint8_t author_a[KEY_LEN];
    uint8_t author_b[KEY_LEN];
    uint64_t seq_a = 0;
    uint64_t seq_b = 0;
    gossip_post_peek(a->p, a->len, author_a, &seq_a);
    gossip_post_peek(b->p, b->len, author_b, &seq_b);
    /* What the headers alone can refuse is refused before any signature
     * is checked. */
    if (memcmp(author_a, author_b, KEY_LEN) != 0 || (seq_b != seq_a && seq_b != seq_a + 1)) {
        g->stats.forks_refused++;
        gossip_penalize(g, from, GOSSIP_FAULT_BAD_FORK, GOSSIP_PENALTY_BAD_FORK, now_ms);
        return;
    }
    if (g->cfg.is_blocked(g->cfg.ud, author_a) || !g->cfg.replicates(g->cfg.ud, author_a)) {
        g->stats.posts_unwanted++;
        return;
    }
    /* The key from the ids, which are hashes of the bytes: a proof seen
     * before is dropped unverified. */
    post_t *pa = &g->post2;
    post_t *pb = &g->post;
    post_id(pa->id, a->p, a->len);
    post_id(pb->id, b->p, b->len);
    uint8_t key[POST_ID_SIZE];
    fork_key(key, pa, pb);
    if (gossip_seen_get(&g->seen, key) != 0) {
        return;
    }
    if (!gossip_take_verify_tokens(g, from, author_a, 2, now_ms)) {
        g->stats.rate_limited++;
        return;
    }
    g->stats.posts_verified += 2;
    if (post_decode(pa, a->p, a->len, POST_VERIFY) != POST_OK ||
        post_decode(pb, b->p, b->len, POST_VERIFY) != POST_OK) {
        g->stats.posts_invalid++;
        g->stats.forks_refused++;
        gossip_penalize(g, from, GOSSIP_FAULT_INVALID_POST, GOSSIP_PENALTY_INVALID_POST, now_ms);
        return;
    }
    if (!conflict(pa, pb)) {
        g->stats.forks_refused++;
        gossip_penalize(g, from, GOSSIP_FAULT_BAD_FORK, GOSSIP_PENALTY_BAD_FORK, now_ms);
        return;
    }
    gossip_seen_put(&g->seen, key, SEEN_OK, now_ms);
    g->stats.forks_received++;
    /* The store learns of the fork the way it learns of any post: both are
     * offered, and whichever it does not hold becomes evidence. Both were
     * verified above, so they go to the store directly. */
    const post_t *pp[2] = {pa, pb};
    const gossip_bytes_t *bb[2] = {a, b};
    bool news = false;
    for (int i = 0; i < 2; i++) {
        gossip_ingest_t res = GOSSIP_INGEST_INVALID;
        if (g->cfg.has_post(g->cfg.ud, pp[i]->id)) {
            continue;
        }
        news = true;
        if (g->cfg.ingest(g->cfg.ud, pp[i], bb[i]->p, bb[i]->len, &res) != 0) {
            g->stats.store_errors++;
            continue;
        }
        if (res == GOSSIP_INGEST_EXTENDED || res == GOSSIP_INGEST_AHEAD ||
            res == GOSSIP_INGEST_FORK || res == GOSSIP_INGEST_DUPLICATE) {
            gossip_seen_put(&g->seen, pp[i]->id, SEEN_OK, now_ms);
            gossip_missing_done(g, pp[i]->id);
        }
        if (res == GOSSIP_INGEST_EXTENDED || res == GOSSIP_INGEST_AHEAD) {
            g->stats.posts_stored++;
        }
    }
    /* A proof whose posts we both held already is one we knew, and so did
     * the peers we told then: it goes no further (a proof served to a new
     * subscriber would otherwise travel the whole swarm again). */
    if (news) {
        send_fork(g, from, a, b, author_a);
    }
}

/* ---- our own posts ---- */

gossip_err_t
gossip_publish(gossip_t *g, const uint8_t *raw, size_t len, uint64_t now_ms)
{
    /* Ours, signed and stored by us: the fields are checked, the signature
     * is not. */
    if (raw == NULL || post_decode(&g->post, raw, len, POST_NO_VERIFY) != POST_OK) {
        return GOSSIP_EINVAL;
    }
    gossip_seen_put(&g->seen, g->post.id, SEEN_OK, now_ms);
    gossip_forward(g, NULL, &g->post, raw, len, now_ms);
    gossip_wake(g, now_ms);
    return GOSSIP_OK;
}
