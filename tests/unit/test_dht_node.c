/* One dht node driven by hand: a fake clock, a send callback that records
 * every message (and checks it survives the codec), and messages crafted
 * by the test. Covers the request handlers, reply matching, the LRS ping
 * through the node, the record rules over the wire (forged and replayed
 * heads, announce floods) and the API's contracts. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht.h"
#include "dhtid.h"
#include "head.h"
#include "keys.h"

enum { SENT_MAX = 4096 };

typedef struct {
    dht_contact_t to;
    dht_msg_t m;
} sent_t;

typedef struct {
    dht_t *d;
    dht_config_t cfg;
    sent_t *sent;
    size_t nsent;
    uint64_t rng;
    int refuse_sends;
    /* Results seen by the callback. */
    int results;
    dht_result_t last;
    dht_err_t reentry;
    dht_msg_t scratch;
    uint8_t buf[DHT_LARGEST_PAYLOAD];
} fx_t;

static void
det(uint8_t out[static 32], const char *what, uint64_t i)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)what, strlen(what));
    crypto_generichash_update(&st, (const uint8_t *)&i, sizeof i);
    crypto_generichash_final(&st, out, 32);
}

static int
send_cb(void *ud, const dht_contact_t *to, const dht_msg_t *m)
{
    fx_t *fx = ud;
    /* Whatever the node sends must encode, and decode to itself. */
    size_t len = 0;
    assert_int_equal(dht_msg_encode_payload(m, fx->buf, sizeof fx->buf, &len), DHT_MSG_OK);
    assert_int_equal(dht_msg_decode_payload(&fx->scratch, m->type, m->rid, fx->buf, len),
                     DHT_MSG_OK);
    assert_true(fx->nsent < SENT_MAX);
    fx->sent[fx->nsent].to = *to;
    fx->sent[fx->nsent].m = *m;
    fx->nsent++;
    return fx->refuse_sends;
}

static void
rand_cb(void *ud, void *buf, size_t n)
{
    fx_t *fx = ud;
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) {
        fx->rng = fx->rng * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(fx->rng >> 56);
    }
}

static void
make_node(fx_t *fx, const char *endpoint)
{
    memset(&fx->cfg, 0, sizeof fx->cfg);
    det(fx->cfg.key, "self", 0);
    fx->cfg.endpoint = endpoint;
    fx->cfg.send = send_cb;
    fx->cfg.random = rand_cb;
    fx->cfg.ud = fx;
    fx->cfg.sender_records_max = 50;
    fx->cfg.records_max = 200;
    assert_int_equal(dht_new(&fx->d, &fx->cfg), DHT_OK);
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->sent = calloc(SENT_MAX, sizeof *fx->sent);
    assert_non_null(fx->sent);
    fx->rng = 42;
    make_node(fx, "tcp://203.0.113.1:7470");
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    dht_free(fx->d);
    free(fx->sent);
    free(fx);
    return 0;
}

static dht_contact_t
peer(uint64_t i)
{
    dht_contact_t c;
    memset(&c, 0, sizeof c);
    det(c.key, "peer", i);
    snprintf(c.endpoint, sizeof c.endpoint, "tcp://%u.%u.%u.9:7470", (unsigned)(30 + i / 65536),
             (unsigned)(i / 256) % 256, (unsigned)i % 256);
    return c;
}

static uint8_t
bucket_of(fx_t *fx, const dht_contact_t *c)
{
    uint8_t id[32];
    dhtid_from_node_key(id, c->key);
    return (uint8_t)dhtid_common_prefix(dht_id(fx->d), id);
}

static const sent_t *
last(fx_t *fx)
{
    assert_true(fx->nsent > 0);
    return &fx->sent[fx->nsent - 1];
}

static dht_err_t
request(fx_t *fx, const dht_contact_t *from, dht_msg_t *m, uint64_t now)
{
    return dht_receive(fx->d, from, m, now);
}

static void
ping_from(fx_t *fx, const dht_contact_t *from, uint32_t rid, uint64_t now)
{
    dht_msg_t m;
    dht_msg_init(&m, DHT_MSG_PING, rid);
    assert_int_equal(request(fx, from, &m, now), DHT_OK);
}

static void
test_new_and_errors(void **state)
{
    fx_t *fx = *state;
    dht_t *d = NULL;
    dht_config_t cfg = fx->cfg;
    cfg.send = NULL;
    assert_int_equal(dht_new(&d, &cfg), DHT_EINVAL);
    cfg = fx->cfg;
    cfg.random = NULL;
    assert_int_equal(dht_new(&d, &cfg), DHT_EINVAL);
    cfg = fx->cfg;
    cfg.k = DHT_NODES_MAX + 1;
    assert_int_equal(dht_new(&d, &cfg), DHT_EINVAL);
    cfg = fx->cfg;
    cfg.alpha = DHT_ALPHA_MAX + 1;
    assert_int_equal(dht_new(&d, &cfg), DHT_EINVAL);
    cfg = fx->cfg;
    cfg.endpoint = "tcp://bad endpoint:1";
    assert_int_equal(dht_new(&d, &cfg), DHT_EINVAL);
    assert_null(d);
    cfg = fx->cfg;
    cfg.endpoint = NULL;
    assert_int_equal(dht_new(&d, &cfg), DHT_OK);
    dht_free(d);
    dht_free(NULL);

    for (int a = DHT_OK; a <= DHT_EREENTRY; a++) {
        const char *s = dht_strerror((dht_err_t)a);
        assert_string_not_equal(s, "unknown dht error");
        for (int b = DHT_OK; b < a; b++) {
            assert_string_not_equal(s, dht_strerror((dht_err_t)b));
        }
    }
    uint8_t id[32];
    dhtid_from_node_key(id, fx->cfg.key);
    assert_memory_equal(dht_id(fx->d), id, 32);

    /* Messages from our own key, and non-DHT types, are refused. */
    dht_contact_t self = peer(0);
    memcpy(self.key, fx->cfg.key, 32);
    dht_msg_t m;
    dht_msg_init(&m, DHT_MSG_PING, 1);
    assert_int_equal(request(fx, &self, &m, 1), DHT_EINVAL);
    dht_contact_t p = peer(1);
    m.type = 0x02;
    assert_int_equal(request(fx, &p, &m, 1), DHT_EINVAL);
    assert_int_equal(fx->nsent, 0);
}

static void
test_ping_and_find_node(void **state)
{
    fx_t *fx = *state;
    for (uint64_t i = 1; i <= 60; i++) {
        dht_contact_t p = peer(i);
        ping_from(fx, &p, (uint32_t)(1000 + i), 100);
        const sent_t *s = last(fx);
        assert_int_equal(s->m.type, DHT_MSG_PONG);
        assert_int_equal(s->m.rid, 1000 + i);
        assert_memory_equal(s->to.key, p.key, 32);
    }
    size_t size = dht_table_size(fx->d);
    assert_true(size > 20 && size <= 60);

    /* A peer with no endpoint is answered but never becomes a contact. */
    dht_contact_t hidden = peer(500);
    hidden.endpoint[0] = '\0';
    ping_from(fx, &hidden, 7, 200);
    assert_int_equal(last(fx)->m.type, DHT_MSG_PONG);
    assert_int_equal(dht_table_size(fx->d), size);

    /* FIND_NODE: the k closest we know, closest first, not the asker. */
    dht_contact_t asker = peer(3);
    uint8_t asker_id[32];
    dhtid_from_node_key(asker_id, asker.key);
    dht_msg_t m;
    dht_msg_init(&m, DHT_MSG_FIND_NODE, 99);
    memcpy(m.u.target, asker_id, 32);
    assert_int_equal(request(fx, &asker, &m, 300), DHT_OK);
    const sent_t *s = last(fx);
    assert_int_equal(s->m.type, DHT_MSG_NODES);
    assert_int_equal(s->m.rid, 99);
    assert_int_equal(s->m.u.nodes.n, DHT_K);
    uint8_t prev[32];
    for (size_t i = 0; i < s->m.u.nodes.n; i++) {
        uint8_t id[32];
        dhtid_from_node_key(id, s->m.u.nodes.c[i].key);
        assert_memory_not_equal(id, asker_id, 32);
        if (i > 0) {
            assert_int_equal(dhtid_closer(asker_id, prev, id), -1);
        }
        memcpy(prev, id, 32);
    }

    /* The iterator sees every contact once; bucket sizes add up. */
    dht_table_iter_t it = {0, 0};
    dht_table_entry_t e;
    size_t n = 0, sum = 0;
    while (dht_table_next(fx->d, &it, &e)) {
        assert_int_equal(e.bucket, bucket_of(fx, &e.c));
        assert_true(e.last_seen_ms == 100 || e.last_seen_ms == 300); /* 300: the asker */
        n++;
    }
    for (unsigned b = 0; b < 256; b++) {
        sum += dht_table_bucket_size(fx->d, b);
    }
    assert_int_equal(n, size);
    assert_int_equal(sum, size);
}

static void
result_cb(void *ud, const dht_result_t *r)
{
    fx_t *fx = ud;
    fx->results++;
    fx->last = *r;
    fx->last.contacts = NULL; /* borrowed only for the call */
    fx->last.providers = NULL;
    fx->last.head = NULL;
    /* Not allowed from here. */
    dht_msg_t m;
    dht_msg_init(&m, DHT_MSG_PING, 1);
    dht_contact_t p = peer(1);
    fx->reentry = dht_receive(fx->d, &p, &m, 0);
}

/* Replies are matched by request id and by the node asked. */
static void
test_reply_matching(void **state)
{
    fx_t *fx = *state;
    uint8_t target[32];
    det(target, "target", 0);
    assert_int_equal(dht_find_node(fx->d, target, result_cb, fx, 0), DHT_ENOPEERS);
    dht_contact_t a = peer(1), b = peer(2);
    assert_int_equal(dht_add_contact(fx->d, &a, 0), DHT_OK);
    fx->nsent = 0;
    assert_int_equal(dht_find_node(fx->d, target, result_cb, fx, 10), DHT_OK);
    assert_int_equal(fx->results, 0); /* never from the starting call */
    assert_int_equal(fx->nsent, 1);
    const sent_t *q = last(fx);
    assert_int_equal(q->m.type, DHT_MSG_FIND_NODE);
    assert_memory_equal(q->to.key, a.key, 32);
    uint32_t rid = q->m.rid;
    assert_int_not_equal(rid, 0);

    dht_msg_t r;
    dht_msg_init(&r, DHT_MSG_NODES, rid + 1);
    assert_int_equal(dht_receive(fx->d, &a, &r, 20), DHT_EUNEXPECTED);
    dht_msg_init(&r, DHT_MSG_NODES, rid);
    assert_int_equal(dht_receive(fx->d, &b, &r, 20), DHT_EUNEXPECTED); /* not the one asked */
    assert_int_equal(fx->results, 0);
    assert_int_equal(dht_receive(fx->d, &a, &r, 30), DHT_OK);
    assert_int_equal(fx->results, 1);
    assert_int_equal(fx->last.status, DHT_OK);
    assert_int_equal(fx->last.n_contacts, 1);
    assert_int_equal(fx->last.hops, 1);
    assert_int_equal(fx->last.messages, 1);
    assert_int_equal(fx->last.elapsed_ms, 20);
    assert_int_equal(fx->reentry, DHT_EREENTRY);
    /* The same reply twice: the request is gone. */
    assert_int_equal(dht_receive(fx->d, &a, &r, 31), DHT_EUNEXPECTED);
    dht_stats_t st;
    dht_get_stats(fx->d, &st);
    assert_int_equal(st.unexpected, 3);
}

/* Kademlia's ping-before-replace, through the node: a newcomer to a full
 * bucket makes the node ping the least recently seen contact; the contact
 * stays if it answers and is evicted if it does not. */
static void
test_lrs_ping(void **state)
{
    fx_t *fx = *state;
    dht_contact_t in0[DHT_K];
    int n = 0;
    uint64_t i = 1;
    dht_contact_t extra[2];
    int nextra = 0;
    while (n < DHT_K || nextra < 2) {
        dht_contact_t p = peer(i++);
        if (bucket_of(fx, &p) != 0) {
            continue;
        }
        if (n < DHT_K) {
            in0[n++] = p;
        } else {
            extra[nextra++] = p;
        }
    }
    for (int j = 0; j < DHT_K; j++) {
        ping_from(fx, &in0[j], 1, 1000 + (uint64_t)j);
    }
    assert_int_equal(dht_table_bucket_size(fx->d, 0), DHT_K);

    /* 20 minutes later a newcomer: the LRS (in0[0]) is pinged. */
    uint64_t t = 1000 + 20 * 60 * 1000;
    fx->nsent = 0;
    ping_from(fx, &extra[0], 5, t);
    assert_int_equal(fx->nsent, 2);
    assert_int_equal(fx->sent[0].m.type, DHT_MSG_PING);
    assert_memory_equal(fx->sent[0].to.key, in0[0].key, 32);
    assert_int_equal(fx->sent[1].m.type, DHT_MSG_PONG);
    dht_msg_t pong;
    dht_msg_init(&pong, DHT_MSG_PONG, fx->sent[0].m.rid);
    assert_int_equal(dht_receive(fx->d, &in0[0], &pong, t + 50), DHT_OK);
    /* It answered: it stays, the newcomer does not get in. */
    dht_table_iter_t it = {0, 0};
    dht_table_entry_t e;
    bool lrs_in = false, new_in = false;
    while (dht_table_next(fx->d, &it, &e)) {
        lrs_in = lrs_in || memcmp(e.c.key, in0[0].key, 32) == 0;
        new_in = new_in || memcmp(e.c.key, extra[0].key, 32) == 0;
    }
    assert_true(lrs_in);
    assert_false(new_in);

    /* The next newcomer: in0[1] is pinged and never answers. */
    fx->nsent = 0;
    ping_from(fx, &extra[1], 6, t + 100);
    assert_int_equal(fx->sent[0].m.type, DHT_MSG_PING);
    assert_memory_equal(fx->sent[0].to.key, in0[1].key, 32);
    dht_tick(fx->d, t + 100 + DHT_RPC_TIMEOUT_MS, NULL);
    it = (dht_table_iter_t){0, 0};
    bool old_in = false;
    new_in = false;
    while (dht_table_next(fx->d, &it, &e)) {
        old_in = old_in || memcmp(e.c.key, in0[1].key, 32) == 0;
        new_in = new_in || memcmp(e.c.key, extra[1].key, 32) == 0;
    }
    assert_false(old_in);
    assert_true(new_in);
    assert_int_equal(dht_table_bucket_size(fx->d, 0), DHT_K);
}

static void
sign_head(uint8_t out[static HEAD_SIZE], const keys_author_t *k, uint64_t seq, uint64_t ts)
{
    uint8_t id[32];
    det(id, "post", seq);
    head_t h;
    head_init(&h, seq, id, ts);
    size_t len;
    assert_int_equal(head_sign(&h, k, out, HEAD_SIZE, &len), HEAD_OK);
}

static void
put_head_msg(dht_msg_t *m, uint32_t rid, const uint8_t head[static HEAD_SIZE])
{
    dht_msg_init(m, DHT_MSG_PUT_HEAD, rid);
    m->u.put.len = HEAD_SIZE;
    memcpy(m->u.put.bytes, head, HEAD_SIZE);
}

static void
expect_reply(fx_t *fx, uint8_t type, uint16_t code)
{
    const sent_t *s = last(fx);
    assert_int_equal(s->m.type, type);
    if (type == DHT_MSG_ERROR) {
        assert_int_equal(s->m.u.error.code, code);
    }
}

/* Heads over the wire: forged ones and replays are refused. */
static void
test_heads_over_the_wire(void **state)
{
    fx_t *fx = *state;
    keys_author_t k, other;
    uint8_t seed[32];
    memset(seed, 1, 32);
    keys_author_from_seed(&k, seed);
    memset(seed, 2, 32);
    keys_author_from_seed(&other, seed);
    uint8_t h3[HEAD_SIZE], h3b[HEAD_SIZE], h4[HEAD_SIZE], h2[HEAD_SIZE];
    sign_head(h3, &k, 3, 1000);
    sign_head(h3b, &k, 3, 2000); /* same seq, other bytes */
    sign_head(h4, &k, 4, 3000);
    sign_head(h2, &k, 2, 500);
    dht_contact_t p = peer(1), q = peer(2);
    dht_msg_t m;

    /* Forged: a flipped bit, or another author's key over k's signature. */
    put_head_msg(&m, 1, h3);
    m.u.put.bytes[60] ^= 1;
    assert_int_equal(request(fx, &p, &m, 10), DHT_OK);
    expect_reply(fx, DHT_MSG_ERROR, DHT_ERR_BAD_SIG);
    put_head_msg(&m, 2, h3);
    memcpy(m.u.put.bytes + 1, other.pk, 32);
    assert_int_equal(request(fx, &p, &m, 10), DHT_OK);
    expect_reply(fx, DHT_MSG_ERROR, DHT_ERR_BAD_SIG);

    put_head_msg(&m, 3, h3);
    assert_int_equal(request(fx, &p, &m, 10), DHT_OK);
    expect_reply(fx, DHT_MSG_ACK, 0);
    put_head_msg(&m, 4, h2); /* a replay of an older head */
    assert_int_equal(request(fx, &q, &m, 11), DHT_OK);
    expect_reply(fx, DHT_MSG_ERROR, DHT_ERR_STALE);
    put_head_msg(&m, 5, h3b); /* equal seq, other bytes */
    assert_int_equal(request(fx, &q, &m, 11), DHT_OK);
    expect_reply(fx, DHT_MSG_ERROR, DHT_ERR_STALE);
    put_head_msg(&m, 6, h3); /* the same head again renews it */
    assert_int_equal(request(fx, &q, &m, 12), DHT_OK);
    expect_reply(fx, DHT_MSG_ACK, 0);

    dht_msg_t g;
    dht_msg_init(&g, DHT_MSG_GET_HEAD, 7);
    dhtid_from_author(g.u.key, k.pk);
    assert_int_equal(request(fx, &q, &g, 13), DHT_OK);
    expect_reply(fx, DHT_MSG_HEAD, 0);
    assert_int_equal(last(fx)->m.u.head.rec.len, HEAD_SIZE);
    assert_memory_equal(last(fx)->m.u.head.rec.bytes, h3, HEAD_SIZE);

    put_head_msg(&m, 8, h4);
    assert_int_equal(request(fx, &q, &m, 14), DHT_OK);
    expect_reply(fx, DHT_MSG_ACK, 0);
    assert_int_equal(request(fx, &q, &g, 15), DHT_OK);
    assert_memory_equal(last(fx)->m.u.head.rec.bytes, h4, HEAD_SIZE);
    put_head_msg(&m, 9, h3);
    assert_int_equal(request(fx, &p, &m, 16), DHT_OK);
    expect_reply(fx, DHT_MSG_ERROR, DHT_ERR_STALE);

    /* Another author: no head. */
    dhtid_from_author(g.u.key, other.pk);
    assert_int_equal(request(fx, &q, &g, 17), DHT_OK);
    assert_int_equal(last(fx)->m.u.head.rec.len, 0);
}

static void
test_announce_over_the_wire(void **state)
{
    fx_t *fx = *state;
    dht_contact_t p = peer(1), q = peer(2);
    uint8_t key[32];
    det(key, "author-key", 0);
    dht_msg_t m;
    dht_msg_init(&m, DHT_MSG_ANNOUNCE, 1);
    memcpy(m.u.key, key, 32);
    assert_int_equal(request(fx, &p, &m, 10), DHT_OK);
    expect_reply(fx, DHT_MSG_ACK, 0);
    /* Nobody could connect to a provider without an endpoint. */
    dht_contact_t hidden = q;
    hidden.endpoint[0] = '\0';
    assert_int_equal(request(fx, &hidden, &m, 10), DHT_OK);
    expect_reply(fx, DHT_MSG_ERROR, DHT_ERR_NO_ENDPOINT);

    dht_msg_init(&m, DHT_MSG_GET_PROVIDERS, 2);
    memcpy(m.u.key, key, 32);
    assert_int_equal(request(fx, &q, &m, 20), DHT_OK);
    const sent_t *s = last(fx);
    assert_int_equal(s->m.type, DHT_MSG_PROVIDERS);
    assert_int_equal(s->m.u.providers.n, 1);
    assert_memory_equal(s->m.u.providers.c[0].key, p.key, 32);
    assert_string_equal(s->m.u.providers.c[0].endpoint, p.endpoint);
    /* The closer contacts exclude the asker. */
    assert_int_equal(s->m.u.providers.closer.n, 1);
    assert_memory_equal(s->m.u.providers.closer.c[0].key, p.key, 32);

    /* Provider records expire after their TTL. */
    assert_int_equal(request(fx, &q, &m, 20 + DHT_PROVIDER_TTL_MS), DHT_OK);
    assert_int_equal(last(fx)->m.u.providers.n, 0);
}

static bool
tcp_only(void *ud, const char *endpoint)
{
    (void)ud;
    return strncmp(endpoint, "tcp://", 6) == 0;
}

/* A node reached through a relay (route_ok says no to its endpoint): it
 * is answered and may provide a feed, and it never enters the table, nor
 * the contacts of an answer, nor a lookup's candidates. */
static void
test_relayed_provider_not_routed(void **state)
{
    fx_t *fx = *state;
    dht_free(fx->d);
    make_node(fx, "tcp://203.0.113.1:7470");
    dht_free(fx->d);
    fx->cfg.route_ok = tcp_only;
    assert_int_equal(dht_new(&fx->d, &fx->cfg), DHT_OK);
    dht_contact_t u = peer(1), q = peer(2);
    snprintf(u.endpoint, sizeof u.endpoint, "relay://198.51.100.7:7471");
    ping_from(fx, &u, 1, 10);
    expect_reply(fx, DHT_MSG_PONG, 0);
    assert_int_equal(dht_table_size(fx->d), 0);
    assert_int_equal(dht_add_contact(fx->d, &u, 10), DHT_EINVAL);
    uint8_t key[32];
    det(key, "author-key", 0);
    dht_msg_t m;
    dht_msg_init(&m, DHT_MSG_ANNOUNCE, 2);
    memcpy(m.u.key, key, 32);
    assert_int_equal(request(fx, &u, &m, 20), DHT_OK);
    expect_reply(fx, DHT_MSG_ACK, 0);
    assert_int_equal(dht_table_size(fx->d), 0);
    ping_from(fx, &q, 3, 30);
    dht_msg_init(&m, DHT_MSG_GET_PROVIDERS, 4);
    memcpy(m.u.key, key, 32);
    assert_int_equal(request(fx, &q, &m, 40), DHT_OK);
    const sent_t *s = last(fx);
    assert_int_equal(s->m.type, DHT_MSG_PROVIDERS);
    assert_int_equal(s->m.u.providers.n, 1);
    assert_string_equal(s->m.u.providers.c[0].endpoint, "relay://198.51.100.7:7471");
    assert_int_equal(s->m.u.providers.closer.n, 0); /* q is the asker; u is no contact */
    assert_int_equal(dht_table_size(fx->d), 1);
    /* A NODES answer naming it: the lookup does not ask it. */
    uint8_t target[32];
    dhtid_from_node_key(target, u.key);
    fx->nsent = 0;
    assert_int_equal(dht_find_node(fx->d, target, result_cb, fx, 50), DHT_OK);
    assert_int_equal(fx->nsent, 1);
    dht_msg_t r;
    dht_msg_init(&r, DHT_MSG_NODES, last(fx)->m.rid);
    r.u.nodes.n = 1;
    r.u.nodes.c[0] = u;
    assert_int_equal(dht_receive(fx->d, &q, &r, 60), DHT_OK);
    assert_int_equal(fx->nsent, 1); /* nothing sent to u */
    assert_int_equal(fx->results, 1);
    assert_int_equal(fx->last.n_contacts, 1); /* q alone */
}

/* One peer flooding ANNOUNCEs for thousands of keys: the records stay
 * within its share, the store within its bounds, and another peer can
 * still announce. */
static void
test_announce_flood(void **state)
{
    fx_t *fx = *state;
    dht_contact_t flooder = peer(1), honest = peer(2);
    dht_msg_t m;
    int acks = 0, full = 0;
    for (uint64_t i = 0; i < 20000; i++) {
        dht_msg_init(&m, DHT_MSG_ANNOUNCE, (uint32_t)i);
        det(m.u.key, "flood", i);
        fx->nsent = 0;
        assert_int_equal(request(fx, &flooder, &m, 10 + i), DHT_OK);
        acks += last(fx)->m.type == DHT_MSG_ACK;
        full += last(fx)->m.type == DHT_MSG_ERROR && last(fx)->m.u.error.code == DHT_ERR_FULL;
    }
    dht_stats_t st;
    dht_get_stats(fx->d, &st);
    assert_int_equal(acks, 50); /* sender_records_max */
    assert_int_equal(full, 20000 - 50);
    assert_int_equal(st.records, 50);
    assert_true(st.record_bytes < 64 * 1024);
    assert_int_equal(st.refused, 20000 - 50);

    /* Many senders at once fill the store only up to records_max. */
    for (uint64_t i = 0; i < 2000; i++) {
        dht_contact_t p = peer(100 + i);
        dht_msg_init(&m, DHT_MSG_ANNOUNCE, 1);
        det(m.u.key, "many", i);
        fx->nsent = 0;
        assert_int_equal(request(fx, &p, &m, 30000), DHT_OK);
    }
    dht_get_stats(fx->d, &st);
    assert_int_equal(st.records, 200);
    assert_true(st.record_bytes < 512 * 1024);
    dht_msg_init(&m, DHT_MSG_ANNOUNCE, 1);
    memcpy(m.u.key, dht_id(fx->d), 32); /* the key nearest to us gets in */
    assert_int_equal(request(fx, &honest, &m, 30000), DHT_OK);
    expect_reply(fx, DHT_MSG_ACK, 0);
}

/* A node that cannot be reached fails its requests at once. */
static void
test_unreachable(void **state)
{
    fx_t *fx = *state;
    dht_contact_t a = peer(1), b = peer(2);
    assert_int_equal(dht_add_contact(fx->d, &a, 0), DHT_OK);
    assert_int_equal(dht_add_contact(fx->d, &b, 0), DHT_OK);
    uint8_t target[32];
    det(target, "t", 1);
    fx->nsent = 0;
    assert_int_equal(dht_find_node(fx->d, target, result_cb, fx, 0), DHT_OK);
    assert_int_equal(fx->nsent, 2);
    assert_int_equal(dht_unreachable(fx->d, a.key, 5), DHT_OK);
    assert_int_equal(fx->results, 0);
    assert_int_equal(dht_unreachable(fx->d, b.key, 6), DHT_OK);
    assert_int_equal(fx->results, 1);
    assert_int_equal(fx->last.status, DHT_ENOPEERS);
    assert_int_equal(fx->last.messages, 2);
    assert_int_equal(fx->last.elapsed_ms, 6);
}

/* Sends the send callback refuses fail at once, without a timeout. */
static void
test_send_refused(void **state)
{
    fx_t *fx = *state;
    dht_contact_t a = peer(1);
    assert_int_equal(dht_add_contact(fx->d, &a, 0), DHT_OK);
    fx->refuse_sends = 1;
    uint8_t target[32];
    det(target, "t", 1);
    assert_int_equal(dht_find_node(fx->d, target, result_cb, fx, 0), DHT_OK);
    assert_int_equal(fx->results, 0);
    dht_tick(fx->d, 1, NULL);
    assert_int_equal(fx->results, 1);
    assert_int_equal(fx->last.status, DHT_ENOPEERS);
    dht_stats_t st;
    dht_get_stats(fx->d, &st);
    assert_true(st.send_failures >= 1);
    assert_int_equal(st.pending, 0);
}

static void
test_lookup_limits_and_cancel(void **state)
{
    fx_t *fx = *state;
    dht_contact_t a = peer(1);
    assert_int_equal(dht_add_contact(fx->d, &a, 0), DHT_OK);
    uint8_t target[32];
    for (int i = 0; i < DHT_LOOKUPS_MAX; i++) {
        det(target, "t", (uint64_t)i);
        assert_int_equal(dht_find_node(fx->d, target, result_cb, fx, 0), DHT_OK);
    }
    assert_int_equal(dht_find_node(fx->d, target, result_cb, fx, 0), DHT_EBUSY);
    assert_int_equal(dht_find_node(fx->d, target, NULL, fx, 0), DHT_EINVAL);
    dht_stats_t st;
    dht_get_stats(fx->d, &st);
    assert_int_equal(st.lookups_active, DHT_LOOKUPS_MAX);
    /* dht_free cancels them, each callback once. */
    dht_free(fx->d);
    fx->d = NULL;
    assert_int_equal(fx->results, DHT_LOOKUPS_MAX);
    assert_int_equal(fx->last.status, DHT_ECANCELED);
}

static void
test_announce_and_put_api(void **state)
{
    fx_t *fx = *state;
    uint8_t author[32];
    det(author, "author", 0);
    assert_int_equal(dht_unannounce(fx->d, author), DHT_ENOTFOUND);
    assert_int_equal(dht_announce(fx->d, author, 0), DHT_OK);
    assert_int_equal(dht_announce(fx->d, author, 1), DHT_OK);
    dht_stats_t st;
    dht_get_stats(fx->d, &st);
    assert_int_equal(st.announces, 1);
    assert_int_equal(dht_unannounce(fx->d, author), DHT_OK);

    keys_author_t k;
    uint8_t seed[32];
    memset(seed, 3, 32);
    keys_author_from_seed(&k, seed);
    uint8_t h5[HEAD_SIZE], h6[HEAD_SIZE];
    sign_head(h5, &k, 5, 1);
    sign_head(h6, &k, 6, 2);
    assert_int_equal(dht_put_head(fx->d, h5, HEAD_SIZE - 1, 0), DHT_EINVAL);
    assert_int_equal(dht_put_head(fx->d, NULL, 0, 0), DHT_EINVAL);
    h5[100] ^= 1;
    assert_int_equal(dht_put_head(fx->d, h5, HEAD_SIZE, 0), DHT_ESIG);
    h5[100] ^= 1;
    assert_int_equal(dht_put_head(fx->d, h6, HEAD_SIZE, 0), DHT_OK);
    assert_int_equal(dht_put_head(fx->d, h5, HEAD_SIZE, 0), DHT_ESTALE);
    assert_int_equal(dht_put_head(fx->d, h6, HEAD_SIZE, 0), DHT_OK);
    dht_get_stats(fx->d, &st);
    assert_int_equal(st.puts, 1);
    assert_int_equal(dht_unput_head(fx->d, k.pk), DHT_OK);
    assert_int_equal(dht_unput_head(fx->d, k.pk), DHT_ENOTFOUND);

    /* A node with no endpoint cannot be a provider. */
    dht_free(fx->d);
    make_node(fx, NULL);
    assert_int_equal(dht_announce(fx->d, author, 0), DHT_ENOENDPOINT);
    dht_free(fx->d);
    fx->cfg.endpoint = "tcp://203.0.113.1:7470";
    fx->cfg.announces_max = 3;
    assert_int_equal(dht_new(&fx->d, &fx->cfg), DHT_OK);
    for (uint64_t i = 0; i < 3; i++) {
        det(author, "author", i);
        assert_int_equal(dht_announce(fx->d, author, 0), DHT_OK);
    }
    det(author, "author", 3);
    assert_int_equal(dht_announce(fx->d, author, 0), DHT_EFULL);
}

/* A node answers for what it announces and puts from the moment it does,
 * before any lookup has run: a peer that asks right after start finds it. */
static void
test_own_records_answered_at_once(void **state)
{
    fx_t *fx = *state;
    keys_author_t k;
    uint8_t seed[32], head[HEAD_SIZE];
    memset(seed, 5, 32);
    keys_author_from_seed(&k, seed);
    sign_head(head, &k, 7, 1);
    assert_int_equal(dht_announce(fx->d, k.pk, 0), DHT_OK);
    assert_int_equal(dht_put_head(fx->d, head, HEAD_SIZE, 0), DHT_OK);

    dht_contact_t q = peer(2);
    dht_msg_t m;
    dht_msg_init(&m, DHT_MSG_GET_PROVIDERS, 1);
    dhtid_from_author(m.u.key, k.pk);
    assert_int_equal(request(fx, &q, &m, 5), DHT_OK);
    const sent_t *s = last(fx);
    assert_int_equal(s->m.type, DHT_MSG_PROVIDERS);
    assert_int_equal(s->m.u.providers.n, 1);
    assert_memory_equal(s->m.u.providers.c[0].key, fx->cfg.key, 32);
    assert_string_equal(s->m.u.providers.c[0].endpoint, "tcp://203.0.113.1:7470");

    dht_msg_init(&m, DHT_MSG_GET_HEAD, 2);
    dhtid_from_author(m.u.key, k.pk);
    assert_int_equal(request(fx, &q, &m, 6), DHT_OK);
    expect_reply(fx, DHT_MSG_HEAD, 0);
    assert_int_equal(last(fx)->m.u.head.rec.len, HEAD_SIZE);
    assert_memory_equal(last(fx)->m.u.head.rec.bytes, head, HEAD_SIZE);
}

/* One lookup renews both records of an author: a lookup for one also
 * serves the other when that one is due within half a period. */
static void
test_announce_and_put_share_a_lookup(void **state)
{
    fx_t *fx = *state;
    dht_contact_t a = peer(1);
    assert_int_equal(dht_add_contact(fx->d, &a, 0), DHT_OK);
    keys_author_t k;
    uint8_t seed[32], head[HEAD_SIZE];
    memset(seed, 4, 32);
    keys_author_from_seed(&k, seed);
    sign_head(head, &k, 8, 1);
    uint8_t key[32];
    dhtid_from_author(key, k.pk);
    fx->nsent = 0;
    assert_int_equal(dht_announce(fx->d, k.pk, 10), DHT_OK);
    assert_int_equal(dht_put_head(fx->d, head, HEAD_SIZE, 10), DHT_OK);
    /* Two lookups were started (one each); answer both. */
    size_t started = 0;
    for (size_t i = 0; i < fx->nsent; i++) {
        started += fx->sent[i].m.type == DHT_MSG_FIND_NODE;
    }
    assert_int_equal(started, 2);
    uint32_t rids[2] = {fx->sent[0].m.rid, fx->sent[1].m.rid};
    int announces = 0, puts = 0;
    for (int j = 0; j < 2; j++) {
        dht_msg_t r;
        dht_msg_init(&r, DHT_MSG_NODES, rids[j]);
        size_t before = fx->nsent;
        assert_int_equal(dht_receive(fx->d, &a, &r, 50), DHT_OK);
        for (size_t i = before; i < fx->nsent; i++) {
            announces += fx->sent[i].m.type == DHT_MSG_ANNOUNCE;
            puts += fx->sent[i].m.type == DHT_MSG_PUT_HEAD;
        }
    }
    assert_int_equal(announces, 1);
    assert_int_equal(puts, 1);
    /* A period later one lookup renews both. */
    fx->nsent = 0;
    uint64_t t = 50 + DHT_REANNOUNCE_MS + DHT_REANNOUNCE_MS / 5;
    dht_tick(fx->d, t, NULL);
    size_t lookups = 0;
    for (size_t i = 0; i < fx->nsent; i++) {
        lookups +=
            fx->sent[i].m.type == DHT_MSG_FIND_NODE && memcmp(fx->sent[i].m.u.target, key, 32) == 0;
    }
    assert_int_equal(lookups, 1); /* (the others are table maintenance) */
    dht_msg_t r;
    uint32_t rid = 0;
    for (size_t i = 0; i < fx->nsent; i++) {
        if (fx->sent[i].m.type == DHT_MSG_FIND_NODE &&
            memcmp(fx->sent[i].m.u.target, key, 32) == 0) {
            rid = fx->sent[i].m.rid;
        }
    }
    dht_msg_init(&r, DHT_MSG_NODES, rid);
    fx->nsent = 0;
    assert_int_equal(dht_receive(fx->d, &a, &r, t + 50), DHT_OK);
    announces = puts = 0;
    for (size_t i = 0; i < fx->nsent; i++) {
        announces += fx->sent[i].m.type == DHT_MSG_ANNOUNCE;
        puts += fx->sent[i].m.type == DHT_MSG_PUT_HEAD;
    }
    assert_int_equal(announces, 1);
    assert_int_equal(puts, 1);
}

/* A node alone with one contact joins (self lookup), then refreshes. */
static void
test_join_and_refresh(void **state)
{
    fx_t *fx = *state;
    dht_contact_t a = peer(1);
    assert_int_equal(dht_add_contact(fx->d, &a, 0), DHT_OK);
    assert_true(dht_next_ms(fx->d) == 0);
    fx->nsent = 0;
    uint64_t next = 0;
    dht_tick(fx->d, 0, &next);
    assert_int_equal(fx->nsent, 1);
    assert_int_equal(fx->sent[0].m.type, DHT_MSG_FIND_NODE);
    assert_memory_equal(fx->sent[0].m.u.target, dht_id(fx->d), 32);
    assert_true(next > 0 && next <= DHT_RPC_STALL_MS);
    /* The answer names one more node; it is asked too. */
    dht_msg_t r;
    dht_msg_init(&r, DHT_MSG_NODES, fx->sent[0].m.rid);
    r.u.nodes.n = 1;
    r.u.nodes.c[0] = peer(2);
    assert_int_equal(dht_receive(fx->d, &a, &r, 100), DHT_OK);
    assert_int_equal(fx->nsent, 2);
    assert_memory_equal(fx->sent[1].to.key, r.u.nodes.c[0].key, 32);
    /* It never answers; after the timeout the join is done and every
     * bucket up to the deepest is refreshed. */
    dht_tick(fx->d, 100 + DHT_RPC_TIMEOUT_MS, &next);
    size_t refresh = 0;
    for (size_t i = 2; i < fx->nsent; i++) {
        refresh += fx->sent[i].m.type == DHT_MSG_FIND_NODE;
    }
    assert_true(refresh >= 1);
    dht_stats_t st;
    dht_get_stats(fx->d, &st);
    assert_int_equal(st.timeouts, 1);
}

/* A join that reached no one is tried again after 1 s, then 2 s (it was a
 * minute: late joiners refused by a full bootstrap node sat alone). */
static void
test_join_retried_soon(void **state)
{
    fx_t *fx = *state;
    dht_contact_t a = peer(1);
    assert_int_equal(dht_add_contact(fx->d, &a, 0), DHT_OK);
    uint64_t next = 0;
    dht_tick(fx->d, 0, &next);
    assert_int_equal(fx->nsent, 1);
    /* Refused: the self lookup ends having reached no one. */
    dht_msg_t e;
    dht_msg_init(&e, DHT_MSG_ERROR, fx->sent[0].m.rid);
    e.u.error.code = DHT_ERR_FULL;
    assert_int_equal(dht_receive(fx->d, &a, &e, 10), DHT_OK);
    dht_tick(fx->d, 10, &next);
    size_t before = fx->nsent;
    dht_tick(fx->d, 10 + DHT_JOIN_RETRY_MS - 1, &next);
    assert_int_equal(fx->nsent, before);
    dht_tick(fx->d, 10 + DHT_JOIN_RETRY_MS, &next);
    assert_int_equal(fx->nsent, before + 1);
    assert_int_equal(fx->sent[before].m.type, DHT_MSG_FIND_NODE);
    assert_memory_equal(fx->sent[before].m.u.target, dht_id(fx->d), 32);
    /* Refused again: the next try after 2 s. */
    uint64_t t = 10 + DHT_JOIN_RETRY_MS;
    dht_msg_init(&e, DHT_MSG_ERROR, fx->sent[before].m.rid);
    e.u.error.code = DHT_ERR_FULL;
    assert_int_equal(dht_receive(fx->d, &a, &e, t + 5), DHT_OK);
    dht_tick(fx->d, t + 5, &next);
    before = fx->nsent;
    dht_tick(fx->d, t + 5 + 2 * DHT_JOIN_RETRY_MS - 1, &next);
    assert_int_equal(fx->nsent, before);
    dht_tick(fx->d, t + 5 + 2 * DHT_JOIN_RETRY_MS, &next);
    assert_int_equal(fx->nsent, before + 1);
}

/* The FIND_NODE for key sent at or after index from, or -1. */
static long
lookup_sent(fx_t *fx, const uint8_t key[static 32], size_t from)
{
    for (size_t i = from; i < fx->nsent; i++) {
        if (fx->sent[i].m.type == DHT_MSG_FIND_NODE &&
            memcmp(fx->sent[i].m.u.target, key, 32) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* Answers the announce lookup sent at or after from (a knows no one
 * closer) and returns the ANNOUNCE's request id. */
static uint32_t
announce_round(fx_t *fx, const dht_contact_t *a, const uint8_t key[static 32], size_t from,
               uint64_t t)
{
    long i = lookup_sent(fx, key, from);
    assert_true(i >= 0);
    dht_msg_t r;
    dht_msg_init(&r, DHT_MSG_NODES, fx->sent[i].m.rid);
    size_t before = fx->nsent;
    assert_int_equal(dht_receive(fx->d, a, &r, t), DHT_OK);
    for (size_t j = before; j < fx->nsent; j++) {
        if (fx->sent[j].m.type == DHT_MSG_ANNOUNCE) {
            return fx->sent[j].m.rid;
        }
    }
    fail_msg("no ANNOUNCE after the lookup");
    return 0;
}

/* Ticks at t; the request id of an ANNOUNCE of key sent to a then, or 0. */
static uint32_t
announce_resent(fx_t *fx, const dht_contact_t *a, const uint8_t key[static 32], uint64_t t)
{
    size_t before = fx->nsent;
    dht_tick(fx->d, t, NULL);
    for (size_t i = before; i < fx->nsent; i++) {
        if (fx->sent[i].m.type == DHT_MSG_ANNOUNCE &&
            memcmp(fx->sent[i].m.u.key, key, 32) == 0 &&
            memcmp(fx->sent[i].to.key, a->key, 32) == 0) {
            return fx->sent[i].m.rid;
        }
    }
    return 0;
}

/* A close node that refuses an ANNOUNCE for want of our endpoint (it was
 * still dialling us back), or does not answer it, gets it again within
 * seconds (5 s, 10 s, 20 s after), then no more until the renewal; a
 * refusal for another reason (its records are full) waits for the
 * renewal. */
static void
test_announce_missed_retried(void **state)
{
    fx_t *fx = *state;
    dht_contact_t a = peer(1);
    assert_int_equal(dht_add_contact(fx->d, &a, 0), DHT_OK);
    uint8_t author[32], key[32];
    det(author, "author", 1);
    dhtid_from_author(key, author);
    fx->nsent = 0;
    assert_int_equal(dht_announce(fx->d, author, 10), DHT_OK);
    uint32_t rid = announce_round(fx, &a, key, 0, 50);
    dht_msg_t e;
    dht_msg_init(&e, DHT_MSG_ERROR, rid);
    e.u.error.code = DHT_ERR_NO_ENDPOINT;
    assert_int_equal(dht_receive(fx->d, &a, &e, 2000), DHT_OK);
    uint64_t t = 2000 + DHT_ANNOUNCE_RETRY_MS;
    assert_int_equal(announce_resent(fx, &a, key, t - 1), 0);
    size_t from = fx->nsent;
    rid = announce_resent(fx, &a, key, t);
    assert_int_not_equal(rid, 0);
    assert_true(lookup_sent(fx, key, from) < 0); /* to that node, no new lookup */

    /* Missed again, by silence this time: twice the wait. */
    uint64_t lost = t + DHT_STORE_TIMEOUT_MS;
    dht_tick(fx->d, lost, NULL);
    assert_int_equal(announce_resent(fx, &a, key, lost + 2 * DHT_ANNOUNCE_RETRY_MS - 1), 0);
    rid = announce_resent(fx, &a, key, lost + 2 * DHT_ANNOUNCE_RETRY_MS);
    assert_int_not_equal(rid, 0);
    /* A third miss, a third try after 20 s; after its miss, no more. */
    t = lost + 2 * DHT_ANNOUNCE_RETRY_MS;
    dht_msg_init(&e, DHT_MSG_ERROR, rid);
    e.u.error.code = DHT_ERR_NO_ENDPOINT;
    assert_int_equal(dht_receive(fx->d, &a, &e, t + 10), DHT_OK);
    rid = announce_resent(fx, &a, key, t + 10 + 4 * DHT_ANNOUNCE_RETRY_MS);
    assert_int_not_equal(rid, 0);
    t += 10 + 4 * DHT_ANNOUNCE_RETRY_MS;
    dht_msg_init(&e, DHT_MSG_ERROR, rid);
    e.u.error.code = DHT_ERR_NO_ENDPOINT;
    assert_int_equal(dht_receive(fx->d, &a, &e, t + 10), DHT_OK);
    assert_int_equal(announce_resent(fx, &a, key, t + 10 * 60 * 1000), 0);
    dht_stats_t st;
    dht_get_stats(fx->d, &st);
    assert_int_equal(st.announce_retries, 3);

    /* The renewal's round; the ANNOUNCE is refused as full: not sent
     * again before the next renewal. */
    from = fx->nsent;
    t += DHT_REANNOUNCE_MS + DHT_REANNOUNCE_MS / 5;
    dht_tick(fx->d, t, NULL);
    rid = announce_round(fx, &a, key, from, t + 10);
    dht_msg_init(&e, DHT_MSG_ERROR, rid);
    e.u.error.code = DHT_ERR_FULL;
    assert_int_equal(dht_receive(fx->d, &a, &e, t + 20), DHT_OK);
    assert_int_equal(announce_resent(fx, &a, key, t + 10 * 60 * 1000), 0);
    dht_get_stats(fx->d, &st);
    assert_int_equal(st.announce_retries, 3);
}

static size_t
find_nodes_sent(fx_t *fx)
{
    size_t n = 0;
    for (size_t i = 0; i < fx->nsent; i++) {
        n += fx->sent[i].m.type == DHT_MSG_FIND_NODE;
    }
    return n;
}

/* alpha requests at a time until the closest candidate has answered and
 * named no one closer; then the rest of the k closest are asked at once. */
static void
test_final_round_asks_the_rest_at_once(void **state)
{
    fx_t *fx = *state;
    dht_contact_t c[8];
    for (int i = 0; i < 8; i++) {
        c[i] = peer((uint64_t)i + 1);
        assert_int_equal(dht_add_contact(fx->d, &c[i], 0), DHT_OK);
    }
    uint8_t target[32];
    det(target, "final round", 0);
    fx->nsent = 0;
    assert_int_equal(dht_find_node(fx->d, target, result_cb, fx, 10), DHT_OK);
    assert_int_equal(find_nodes_sent(fx), DHT_ALPHA);
    /* Sent closest first: answer the third one (nobody closer). */
    const sent_t first = fx->sent[0], third = fx->sent[2];
    dht_msg_t r;
    dht_msg_init(&r, DHT_MSG_NODES, third.m.rid);
    assert_int_equal(dht_receive(fx->d, &third.to, &r, 20), DHT_OK);
    assert_int_equal(find_nodes_sent(fx), DHT_ALPHA + 1);
    /* The closest answers: the four not yet asked go at once. */
    dht_msg_init(&r, DHT_MSG_NODES, first.m.rid);
    assert_int_equal(dht_receive(fx->d, &first.to, &r, 30), DHT_OK);
    assert_int_equal(find_nodes_sent(fx), 8);
    assert_int_equal(fx->results, 0);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_and_find_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_matching, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lrs_ping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heads_over_the_wire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_announce_over_the_wire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_announce_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_limits_and_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_announce_and_put_api, setup, teardown),
        cmocka_unit_test_setup_teardown(test_announce_and_put_share_a_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_records_answered_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_and_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_retried_soon, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relayed_provider_not_routed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_announce_missed_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_final_round_asks_the_rest_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
