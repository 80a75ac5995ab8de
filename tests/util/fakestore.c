#include "fakestore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    FUTURE_SKEW_MS = 15 * 60 * 1000, /* as STORE_FUTURE_SKEW_MS */
};

/* Records are appended and never move, so feeds can name them by index; an
 * open-addressing index maps ids to them. */
typedef struct {
    uint8_t id[POST_ID_SIZE];
    uint8_t prev[POST_ID_SIZE];
    uint8_t author[32];
    uint64_t seq;
    uint8_t *raw;
    uint16_t len;
    bool dropped; /* purged by a block */
} rec_t;

/* One entry of a feed: a seq and the record of its post. */
typedef struct {
    uint64_t seq;
    size_t rec;
} entry_t;

/* A feed is a list of entries sorted by seq, not an array indexed by seq:
 * a seq is any u64 a peer chose, so a feed holding seqs 1 and 2^40 must
 * cost two entries (the real store holds it in two records). */
typedef struct {
    uint8_t author[32];
    entry_t *ents;
    size_t n_ents, cap_ents;
    uint64_t head, max;
} feed_t;

struct fakestore {
    uint8_t self[32];
    rec_t *recs;
    size_t n_recs, cap_recs, n_evidence;
    size_t *index; /* record index + 1 per slot; 0 = empty */
    size_t n_slots;
    feed_t *feeds;
    size_t n_feeds;
    uint8_t (*follows)[32];
    size_t n_follows;
    uint8_t (*blocks)[32];
    size_t n_blocks;
};

static void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "fakestore: out of memory\n");
        abort();
    }
    return q;
}

fakestore_t *
fakestore_new(const uint8_t self[static 32])
{
    fakestore_t *s = calloc(1, sizeof *s);
    if (s != NULL) {
        memcpy(s->self, self, 32);
    }
    return s;
}

void
fakestore_free(fakestore_t *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n_recs; i++) {
        free(s->recs[i].raw);
    }
    free(s->recs);
    free(s->index);
    for (size_t i = 0; i < s->n_feeds; i++) {
        free(s->feeds[i].ents);
    }
    free(s->feeds);
    free(s->follows);
    free(s->blocks);
    free(s);
}

/* ---- sets of keys ---- */

static bool
in_set(uint8_t (*set)[32], size_t n, const uint8_t k[static 32])
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(set[i], k, 32) == 0) {
            return true;
        }
    }
    return false;
}

static void
set_add(uint8_t (**set)[32], size_t *n, const uint8_t k[static 32])
{
    if (!in_set(*set, *n, k)) {
        *set = xrealloc(*set, (*n + 1) * 32);
        memcpy((*set)[(*n)++], k, 32);
    }
}

static void
set_del(uint8_t (*set)[32], size_t *n, const uint8_t k[static 32])
{
    for (size_t i = 0; i < *n; i++) {
        if (memcmp(set[i], k, 32) == 0) {
            memcpy(set[i], set[--*n], 32);
            return;
        }
    }
}

void
fakestore_follow(fakestore_t *s, const uint8_t author[static 32])
{
    set_add(&s->follows, &s->n_follows, author);
}

void
fakestore_unfollow(fakestore_t *s, const uint8_t author[static 32])
{
    set_del(s->follows, &s->n_follows, author);
}

bool
fakestore_is_blocked(const fakestore_t *s, const uint8_t author[static 32])
{
    return in_set(s->blocks, s->n_blocks, author);
}

bool
fakestore_replicates(const fakestore_t *s, const uint8_t author[static 32])
{
    return !fakestore_is_blocked(s, author) &&
           (memcmp(s->self, author, 32) == 0 || in_set(s->follows, s->n_follows, author));
}

void
fakestore_subscriptions(const fakestore_t *s, gossip_author_cb cb, void *cbud)
{
    cb(cbud, s->self);
    for (size_t i = 0; i < s->n_follows; i++) {
        cb(cbud, s->follows[i]);
    }
}

/* ---- posts by id ---- */

static size_t
slot_of(const fakestore_t *s, const uint8_t id[static POST_ID_SIZE])
{
    uint64_t h = 0;
    memcpy(&h, id, sizeof h);
    size_t mask = s->n_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        size_t r = s->index[i];
        if (r == 0 || memcmp(s->recs[r - 1].id, id, POST_ID_SIZE) == 0) {
            return i;
        }
    }
}

static const rec_t *
rec_get(const fakestore_t *s, const uint8_t id[static POST_ID_SIZE])
{
    if (s->n_slots == 0) {
        return NULL;
    }
    size_t r = s->index[slot_of(s, id)];
    return (r != 0 && !s->recs[r - 1].dropped) ? &s->recs[r - 1] : NULL;
}

static void
grow_index(fakestore_t *s)
{
    free(s->index);
    s->n_slots = s->n_slots ? s->n_slots * 2 : 64;
    s->index = calloc(s->n_slots, sizeof *s->index);
    if (s->index == NULL) {
        abort();
    }
    for (size_t i = 0; i < s->n_recs; i++) {
        s->index[slot_of(s, s->recs[i].id)] = i + 1;
    }
}

static size_t
rec_add(fakestore_t *s, const post_t *p, const uint8_t *raw, size_t len)
{
    if (s->n_recs == s->cap_recs) {
        s->cap_recs = s->cap_recs ? s->cap_recs * 2 : 16;
        s->recs = xrealloc(s->recs, s->cap_recs * sizeof *s->recs);
    }
    rec_t *r = &s->recs[s->n_recs];
    memset(r, 0, sizeof *r);
    memcpy(r->id, p->id, POST_ID_SIZE);
    memcpy(r->prev, p->prev, POST_ID_SIZE);
    memcpy(r->author, p->author, 32);
    r->seq = p->seq;
    r->raw = xrealloc(NULL, len);
    memcpy(r->raw, raw, len);
    r->len = (uint16_t)len;
    s->n_recs++;
    if (s->n_recs * 2 > s->n_slots) {
        grow_index(s);
    } else {
        s->index[slot_of(s, p->id)] = s->n_recs;
    }
    return s->n_recs - 1;
}

bool
fakestore_has(const fakestore_t *s, const uint8_t id[static POST_ID_SIZE])
{
    return rec_get(s, id) != NULL;
}

size_t
fakestore_evidence(const fakestore_t *s)
{
    return s->n_evidence;
}

size_t
fakestore_posts(const fakestore_t *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_recs; i++) {
        n += !s->recs[i].dropped;
    }
    return n;
}

/* ---- feeds ---- */

static feed_t *
feed_get(const fakestore_t *s, const uint8_t author[static 32])
{
    for (size_t i = 0; i < s->n_feeds; i++) {
        if (memcmp(s->feeds[i].author, author, 32) == 0) {
            return &s->feeds[i];
        }
    }
    return NULL;
}

static feed_t *
feed_make(fakestore_t *s, const uint8_t author[static 32])
{
    feed_t *f = feed_get(s, author);
    if (f == NULL) {
        s->feeds = xrealloc(s->feeds, (s->n_feeds + 1) * sizeof *s->feeds);
        f = &s->feeds[s->n_feeds++];
        memset(f, 0, sizeof *f);
        memcpy(f->author, author, 32);
    }
    return f;
}

/* The position of the first entry of f with a seq >= seq. */
static size_t
feed_lower(const feed_t *f, uint64_t seq)
{
    size_t lo = 0, hi = f->n_ents;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->ents[mid].seq < seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static const rec_t *
feed_at(const fakestore_t *s, const feed_t *f, uint64_t seq)
{
    if (f == NULL || seq == 0) {
        return NULL;
    }
    size_t i = feed_lower(f, seq);
    return i < f->n_ents && f->ents[i].seq == seq ? &s->recs[f->ents[i].rec] : NULL;
}

static void
feed_index(feed_t *f, uint64_t seq, size_t rec)
{
    size_t i = feed_lower(f, seq);
    if (i < f->n_ents && f->ents[i].seq == seq) {
        f->ents[i].rec = rec;
        return;
    }
    if (f->n_ents == f->cap_ents) {
        f->cap_ents = f->cap_ents ? f->cap_ents * 2 : 8;
        f->ents = xrealloc(f->ents, f->cap_ents * sizeof *f->ents);
    }
    memmove(&f->ents[i + 1], &f->ents[i], (f->n_ents - i) * sizeof *f->ents);
    f->ents[i].seq = seq;
    f->ents[i].rec = rec;
    f->n_ents++;
}

void
fakestore_block(fakestore_t *s, const uint8_t author[static 32])
{
    set_add(&s->blocks, &s->n_blocks, author);
    set_del(s->follows, &s->n_follows, author);
    for (size_t i = 0; i < s->n_recs; i++) {
        if (memcmp(s->recs[i].author, author, 32) == 0) {
            s->recs[i].dropped = true;
        }
    }
    feed_t *f = feed_get(s, author);
    if (f != NULL) {
        f->n_ents = 0;
        f->head = f->max = 0;
    }
}

void
fakestore_unblock(fakestore_t *s, const uint8_t author[static 32])
{
    set_del(s->blocks, &s->n_blocks, author);
}

int
fakestore_head(fakestore_t *s, const uint8_t author[static 32], uint64_t *seq,
               uint8_t id[static POST_ID_SIZE], uint64_t *max_seq)
{
    const feed_t *f = feed_get(s, author);
    *seq = 0;
    *max_seq = 0;
    memset(id, 0, POST_ID_SIZE);
    if (f != NULL) {
        *seq = f->head;
        *max_seq = f->max;
        const rec_t *r = feed_at(s, f, f->head);
        if (r != NULL) {
            memcpy(id, r->id, POST_ID_SIZE);
        }
    }
    return 0;
}

/* The rules of docs/INTERNALS.md section 1, "Ingest rules", in order. */
int
fakestore_ingest(fakestore_t *s, const post_t *p, const uint8_t *raw, size_t len, uint64_t now_ms,
                 gossip_ingest_t *result)
{
    if (fakestore_is_blocked(s, p->author)) {
        *result = GOSSIP_INGEST_BLOCKED;
        return 0;
    }
    if (p->timestamp_ms > now_ms + FUTURE_SKEW_MS) {
        *result = GOSSIP_INGEST_FUTURE;
        return 0;
    }
    if (fakestore_has(s, p->id)) {
        *result = GOSSIP_INGEST_DUPLICATE;
        return 0;
    }
    feed_t *f = feed_make(s, p->author);
    const rec_t *same = feed_at(s, f, p->seq);
    const rec_t *before = feed_at(s, f, p->seq - 1);
    const rec_t *after = feed_at(s, f, p->seq + 1);
    bool fork = same != NULL ||
                (before != NULL && memcmp(before->id, p->prev, POST_ID_SIZE) != 0) ||
                (after != NULL && memcmp(after->prev, p->id, POST_ID_SIZE) != 0);
    size_t rec = rec_add(s, p, raw, len);
    if (fork) {
        s->n_evidence++;
        *result = GOSSIP_INGEST_FORK;
        return 0;
    }
    feed_index(f, p->seq, rec);
    if (p->seq > f->max) {
        f->max = p->seq;
    }
    if (p->seq == f->head + 1) {
        while (feed_at(s, f, f->head + 1) != NULL) {
            f->head++;
        }
        *result = GOSSIP_INGEST_EXTENDED;
    } else {
        *result = GOSSIP_INGEST_AHEAD;
    }
    return 0;
}

int
fakestore_read_range(fakestore_t *s, const uint8_t author[static 32], uint64_t from_seq,
                     size_t max_count, size_t max_bytes, gossip_post_cb cb, void *cbud)
{
    const feed_t *f = feed_get(s, author);
    if (f == NULL) {
        return 0;
    }
    size_t count = 0;
    size_t bytes = 0;
    /* In seq order from from_seq, skipping gaps. */
    for (size_t i = feed_lower(f, from_seq ? from_seq : 1); i < f->n_ents && count < max_count;
         i++) {
        const rec_t *r = &s->recs[f->ents[i].rec];
        if (bytes + r->len > max_bytes || !cb(cbud, r->raw, r->len)) {
            break;
        }
        bytes += r->len;
        count++;
    }
    return 0;
}

void
fakestore_sign(const keys_author_t *k, uint64_t seq, const uint8_t *prev, uint64_t ts_ms,
               const char *body, uint8_t *out, size_t *len, uint8_t *id)
{
    post_t p;
    post_init(&p, POST_KIND_POST, seq, prev, ts_ms);
    if (post_set_body(&p, body, strlen(body)) != POST_OK ||
        post_sign(&p, k, out, POST_MAX_SIZE, len) != POST_OK) {
        fprintf(stderr, "fakestore_sign: cannot sign\n");
        abort();
    }
    if (id != NULL) {
        memcpy(id, p.id, POST_ID_SIZE);
    }
}

void
fakestore_publish(fakestore_t *s, const keys_author_t *k, uint64_t ts_ms, const char *body,
                  uint8_t *out, size_t *len)
{
    /* As the real store: the next seq is one above the highest seq of ours
     * held in any form, fork evidence included, so a seq is never signed
     * twice; prev is the feed's post at that seq, else the evidence's. */
    uint64_t top = 0;
    const rec_t *last = NULL;
    const feed_t *f = feed_get(s, k->pk);
    for (size_t i = 0; i < s->n_recs; i++) {
        const rec_t *r = &s->recs[i];
        if (!r->dropped && memcmp(r->author, k->pk, 32) == 0 && r->seq >= top) {
            top = r->seq;
            last = r;
        }
    }
    if (top > 0 && feed_at(s, f, top) != NULL) {
        last = feed_at(s, f, top);
    }
    if (top == UINT64_MAX) {
        fprintf(stderr, "fakestore_publish: no seq left\n");
        abort();
    }
    fakestore_sign(k, top + 1, last ? last->id : NULL, ts_ms, body, out, len, NULL);
    post_t p;
    gossip_ingest_t res;
    if (post_decode(&p, out, *len, POST_NO_VERIFY) != POST_OK ||
        fakestore_ingest(s, &p, out, *len, ts_ms, &res) != 0 ||
        (res != GOSSIP_INGEST_EXTENDED && res != GOSSIP_INGEST_AHEAD)) {
        fprintf(stderr, "fakestore_publish: cannot store\n");
        abort();
    }
}
