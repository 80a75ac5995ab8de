/* The control socket's codec: every request and every result survives an
 * encode and a decode; cut, padded, lying or foreign messages are refused
 * without allocating for a count they only claim. */
#include "testutil.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "appmsg.h"
#include "keys.h"
#include "post.h"

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(seed + i * 7);
    }
}

/* Encodes req, decodes it, encodes the decoded request again: the same
 * bytes. Then every shorter prefix and one trailing byte are refused. */
static void
request_round_trip(const app_request_t *req, app_request_t *out, uint8_t **keep)
{
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    assert_int_equal(appmsg_request_encode(req, &a, &alen), APPMSG_OK);
    assert_int_equal(appmsg_request_decode(a, alen, out), APPMSG_OK);
    assert_int_equal(out->op, req->op);
    assert_int_equal(appmsg_request_encode(out, &b, &blen), APPMSG_OK);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    free(b);
    app_request_t tmp;
    for (size_t n = 0; n < alen; n++) {
        assert_int_not_equal(appmsg_request_decode(a, n, &tmp), APPMSG_OK);
    }
    uint8_t *longer = malloc(alen + 1);
    assert_non_null(longer);
    memcpy(longer, a, alen);
    longer[alen] = 0;
    assert_int_equal(appmsg_request_decode(longer, alen + 1, &tmp), APPMSG_EMALFORMED);
    free(longer);
    *keep = a; /* out points into it */
}

static void
test_every_request(void **state)
{
    (void)state;
    static uint8_t authors[96];
    static const char *text = "a post with \"quotes\" and\nnewlines";
    for (int op = APP_OP_STATUS; op <= APP_OP_LAST; op++) {
        app_request_t req;
        memset(&req, 0, sizeof req);
        req.op = (app_op_t)op;
        app_text_t t = {text, strlen(text)};
        switch (req.op) {
        case APP_OP_POST:
            req.u.post.body = t;
            break;
        case APP_OP_REPLY:
            fill(req.u.reply.ref, 32, 1);
            req.u.reply.body = t;
            break;
        case APP_OP_DELETE:
            fill(req.u.del.ref, 32, 2);
            break;
        case APP_OP_PROFILE:
            req.u.profile.name = (app_text_t){"Alice", 5};
            req.u.profile.has_bio = true;
            req.u.profile.bio = t;
            break;
        case APP_OP_FEED:
            fill(req.u.feed.author, 32, 3);
            req.u.feed.before_seq = 77;
            req.u.feed.limit = 5;
            break;
        case APP_OP_SHOW:
        case APP_OP_THREAD:
            fill(req.u.show.id, 32, 4);
            break;
        case APP_OP_TIMELINE:
            req.u.timeline.has_before = true;
            fill(req.u.timeline.before, 32, 5);
            req.u.timeline.limit = 9;
            break;
        case APP_OP_FOLLOW:
        case APP_OP_UNFOLLOW:
        case APP_OP_BLOCK:
        case APP_OP_UNBLOCK:
            fill(req.u.author.author, 32, (uint8_t)op);
            break;
        case APP_OP_EXPORT:
            fill(req.u.export_.author, 32, 6);
            req.u.export_.path = "/tmp/a feed";
            req.u.export_.force = true;
            break;
        case APP_OP_IMPORT:
            req.u.import.data = (const uint8_t *)"SZFEED\0\1";
            req.u.import.data_len = 8;
            break;
        case APP_OP_PEER_ADD:
            fill(req.u.peer_add.key, 32, 7);
            req.u.peer_add.endpoint = "tcp://127.0.0.1:7470";
            req.u.peer_add.timeout_ms = 2500;
            break;
        case APP_OP_LOOKUP:
            req.u.lookup.n = 3;
            fill(authors, 96, 8);
            req.u.lookup.authors = authors;
            break;
        case APP_OP_FIND_NODE:
            fill(req.u.find_node.target, 32, 9);
            break;
        case APP_OP_INVITE:
            req.u.invite.no_author = true;
            break;
        case APP_OP_JOIN:
            req.u.join.invite = "szi1 anything: the op judges it";
            req.u.join.timeout_ms = 1500;
            break;
        default:
            break;
        }
        app_request_t out;
        uint8_t *buf = NULL;
        request_round_trip(&req, &out, &buf);
        switch (req.op) {
        case APP_OP_POST:
            assert_int_equal(out.u.post.body.text_len, strlen(text));
            assert_memory_equal(out.u.post.body.text, text, strlen(text));
            break;
        case APP_OP_PROFILE:
            assert_true(out.u.profile.has_bio);
            assert_memory_equal(out.u.profile.name.text, "Alice", 5);
            break;
        case APP_OP_FEED:
            assert_int_equal(out.u.feed.before_seq, 77);
            assert_int_equal(out.u.feed.limit, 5);
            assert_memory_equal(out.u.feed.author, req.u.feed.author, 32);
            break;
        case APP_OP_EXPORT:
            assert_string_equal(out.u.export_.path, "/tmp/a feed");
            assert_true(out.u.export_.force);
            break;
        case APP_OP_IMPORT:
            assert_null(out.u.import.path);
            assert_int_equal(out.u.import.data_len, 8);
            break;
        case APP_OP_PEER_ADD:
            assert_string_equal(out.u.peer_add.endpoint, "tcp://127.0.0.1:7470");
            assert_int_equal(out.u.peer_add.timeout_ms, 2500);
            break;
        case APP_OP_INVITE:
            assert_true(out.u.invite.no_author);
            break;
        case APP_OP_JOIN:
            assert_string_equal(out.u.join.invite, "szi1 anything: the op judges it");
            assert_int_equal(out.u.join.timeout_ms, 1500);
            break;
        case APP_OP_LOOKUP:
            assert_int_equal(out.u.lookup.n, 3);
            assert_memory_equal(out.u.lookup.authors, req.u.lookup.authors, 96);
            break;
        default:
            break;
        }
        free(buf);
    }
}

static void
test_request_rules(void **state)
{
    (void)state;
    app_request_t req = {.op = APP_OP_LOOKUP};
    static const uint8_t one[32];
    req.u.lookup.n = 1;
    req.u.lookup.authors = one;
    uint8_t *a = NULL;
    size_t len = 0;
    assert_int_equal(appmsg_request_encode(&req, &a, &len), APPMSG_OK);
    app_request_t out;
    /* Another version, an unknown op, a lookup of 0 or 65 authors. */
    a[0] = 1;
    assert_int_equal(appmsg_request_decode(a, len, &out), APPMSG_EVERSION);
    a[0] = APPMSG_VERSION;
    a[1] = APP_OP_LAST + 1;
    assert_int_equal(appmsg_request_decode(a, len, &out), APPMSG_EMALFORMED);
    a[1] = APP_OP_LOOKUP;
    a[2] = 0;
    assert_int_equal(appmsg_request_decode(a, len, &out), APPMSG_EMALFORMED);
    a[2] = APP_LOOKUP_MAX + 1;
    assert_int_equal(appmsg_request_decode(a, len, &out), APPMSG_EMALFORMED);
    free(a);
    /* A string must end in its one NUL. */
    const char *ep = "tcp://127.0.0.1:1";
    req = (app_request_t){.op = APP_OP_PEER_ADD};
    req.u.peer_add.endpoint = ep;
    assert_int_equal(appmsg_request_encode(&req, &a, &len), APPMSG_OK);
    size_t nul = 2 + 32 + 2 + strlen(ep);
    assert_int_equal(a[nul], 0);
    a[nul] = 'x';
    assert_int_equal(appmsg_request_decode(a, len, &out), APPMSG_EMALFORMED);
    a[nul] = 0;
    a[nul - 3] = 0;
    assert_int_equal(appmsg_request_decode(a, len, &out), APPMSG_EMALFORMED);
    free(a);
    /* Text over its cap is not sent. */
    char *big = malloc(APP_TEXT_MAX + 1);
    assert_non_null(big);
    memset(big, 'x', APP_TEXT_MAX + 1);
    req = (app_request_t){.op = APP_OP_POST};
    req.u.post.body = (app_text_t){big, APP_TEXT_MAX + 1};
    assert_int_equal(appmsg_request_encode(&req, &a, &len), APPMSG_ETOOLARGE);
    free(big);
}

static void
make_post(post_t *p, const keys_author_t *k, uint64_t seq, post_kind_t kind)
{
    uint8_t prev[32];
    fill(prev, 32, (uint8_t)seq);
    post_init(p, kind, seq, seq > 1 ? prev : NULL, 1700000000000ull + seq);
    if (kind == POST_KIND_PROFILE) {
        assert_int_equal(post_set_name(p, "Bob", 3), POST_OK);
    }
    if (kind == POST_KIND_REPLY || kind == POST_KIND_DELETE) {
        fill(p->ref, 32, 99);
    }
    if (kind != POST_KIND_DELETE) {
        assert_int_equal(post_set_body(p, "hello", 5), POST_OK);
    }
    uint8_t raw[POST_MAX_SIZE];
    size_t n = 0;
    assert_int_equal(post_sign(p, k, raw, sizeof raw, &n), POST_OK);
}

static void
app_post(app_post_t *ap, const keys_author_t *k, uint64_t seq, post_kind_t kind)
{
    memset(ap, 0, sizeof *ap);
    make_post(&ap->post, k, seq, kind);
    snprintf(ap->display_name, sizeof ap->display_name, "name %llu", (unsigned long long)seq);
    ap->deleted = seq % 2 == 0;
}

static void
lookup(app_lookup_t *l, uint8_t seed)
{
    memset(l, 0, sizeof *l);
    fill(l->author, 32, seed);
    l->n_providers = 2;
    fill(l->providers[0].key, 32, 1);
    snprintf(l->providers[0].endpoint, sizeof l->providers[0].endpoint, "tcp://10.0.0.1:1");
    fill(l->providers[1].key, 32, 2);
    snprintf(l->providers[1].endpoint, sizeof l->providers[1].endpoint, "tcp://10.0.0.2:2");
    l->has_head = true;
    l->head_seq = 42;
    fill(l->head_id, 32, 3);
    l->hops = 2;
    l->messages = 9;
    l->ms = 123;
    l->head_status = DHT_ENOTFOUND;
}

static void
invite(invite_t *inv)
{
    fill(inv->node_key, 32, 15);
    inv->has_author = true;
    fill(inv->author, 32, 16);
    inv->n_endpoints = 2;
    snprintf(inv->endpoints[0], sizeof inv->endpoints[0], "tcp://192.0.2.9:7470");
    snprintf(inv->endpoints[1], sizeof inv->endpoints[1], "tcp://[2001:db8::9]:7470");
}

/* A full result of op, every field set. */
static app_result_t *
full_result(app_op_t op, const keys_author_t *k)
{
    app_result_t *r = app_result_new(op);
    assert_non_null(r);
    app_result_data_t *u = &r->u;
    switch (op) {
    case APP_OP_STATUS:
        u->status.running = true;
        u->status.has_author = true;
        fill(u->status.author, 32, 1);
        snprintf(u->status.data_dir, sizeof u->status.data_dir, "/home/x/.local/share/samizdat");
        u->status.posts = 5;
        fill(u->status.node_key, 32, 2);
        snprintf(u->status.network, sizeof u->status.network, "main");
        u->status.n_listen = 2;
        snprintf(u->status.listen[0], APP_LISTEN_LEN, "tcp://127.0.0.1:7470");
        snprintf(u->status.listen[1], APP_LISTEN_LEN, "tcp://[::1]:7470");
        u->status.g_forks = 3;
        u->status.flood_cuts = 4;
        u->status.portmap = 1 + PORTMAP_MAPPED;
        snprintf(u->status.portmap_external, sizeof u->status.portmap_external,
                 "tcp://192.0.2.44:7470");
        u->status.portmap_lifetime_s = 7200;
        u->status.reach = APP_REACH_REACHABLE;
        u->status.n_reach = 2;
        snprintf(u->status.reach_eps[0].endpoint, sizeof u->status.reach_eps[0].endpoint,
                 "tcp://192.0.2.44:7470");
        u->status.reach_eps[0].verdict = APP_EP_UNREACHABLE;
        snprintf(u->status.reach_eps[1].endpoint, sizeof u->status.reach_eps[1].endpoint,
                 "tcp://%056d.onion:7470", 0);
        u->status.reach_eps[1].verdict = APP_EP_REACHABLE;
        u->status.reach_eps[1].onion = true;
        break;
    case APP_OP_POST:
    case APP_OP_REPLY:
    case APP_OP_DELETE:
    case APP_OP_PROFILE: {
        post_kind_t kinds[] = {POST_KIND_POST, POST_KIND_REPLY, POST_KIND_DELETE,
                               POST_KIND_PROFILE};
        make_post(&u->publish.post, k, 3, kinds[op - APP_OP_POST]);
        break;
    }
    case APP_OP_FEED:
        fill(u->feed.author, 32, 4);
        u->feed.stored = true;
        u->feed.head_seq = 3;
        u->feed.max_seq = 5;
        u->feed.n_forks = 1;
        u->feed.forks = calloc(1, sizeof *u->feed.forks);
        u->feed.forks[0].kind = STORE_FORK_BAD_LINK;
        u->feed.forks[0].seq = 2;
        u->feed.n_posts = 3;
        u->feed.posts = calloc(3, sizeof *u->feed.posts);
        for (size_t i = 0; i < 3; i++) {
            app_post(&u->feed.posts[i], k, 3 - i, POST_KIND_POST);
        }
        u->feed.more = true;
        u->feed.has_profile = true;
        app_post(&u->feed.profile, k, 4, POST_KIND_PROFILE);
        u->feed.next_before = 1;
        break;
    case APP_OP_SHOW:
        app_post(&u->show.post, k, 1, POST_KIND_PROFILE);
        assert_int_equal(
            post_encode(&u->show.post.post, u->show.raw, sizeof u->show.raw, &u->show.raw_len),
            POST_OK);
        break;
    case APP_OP_TIMELINE:
        u->timeline.n_posts = 2;
        u->timeline.posts = calloc(2, sizeof *u->timeline.posts);
        app_post(&u->timeline.posts[0], k, 2, POST_KIND_REPLY);
        app_post(&u->timeline.posts[1], k, 1, POST_KIND_POST);
        u->timeline.more = true;
        fill(u->timeline.next_before, 32, 5);
        break;
    case APP_OP_FOLLOW:
    case APP_OP_UNFOLLOW:
    case APP_OP_BLOCK:
    case APP_OP_UNBLOCK:
        fill(u->author.author.author, 32, 6);
        u->author.author.has_name = true;
        snprintf(u->author.author.name, sizeof u->author.author.name, "Carol");
        u->author.author.since_ms = 1700000000000ull;
        u->author.purged = 7;
        u->author.looked_up = op == APP_OP_FOLLOW;
        if (u->author.looked_up) {
            lookup(&u->author.lookup, 7);
        }
        break;
    case APP_OP_FOLLOWING:
    case APP_OP_BLOCKED:
        u->list.n = 2;
        u->list.authors = calloc(2, sizeof *u->list.authors);
        fill(u->list.authors[0].author, 32, 8);
        fill(u->list.authors[1].author, 32, 9);
        u->list.authors[1].has_name = true;
        snprintf(u->list.authors[1].name, sizeof u->list.authors[1].name, "Dave");
        break;
    case APP_OP_EXPORT:
        u->export_.posts = 12;
        u->export_.data = malloc(10);
        memcpy(u->export_.data, "SZFEED\0\1ab", 10);
        u->export_.data_len = 10;
        break;
    case APP_OP_IMPORT:
        u->import.records = 10;
        u->import.added = 5;
        u->import.refused = 2;
        u->import.complete = false;
        snprintf(u->import.malformed, sizeof u->import.malformed, "truncated");
        u->import.n_refusals = 2;
        u->import.refusals[0].record = 3;
        snprintf(u->import.refusals[0].why, sizeof u->import.refusals[0].why, "bad signature");
        u->import.refusals[1].record = 4;
        snprintf(u->import.refusals[1].why, sizeof u->import.refusals[1].why, "blocked");
        break;
    case APP_OP_PEERS:
        u->peers.n = 1;
        u->peers.peers = calloc(1, sizeof *u->peers.peers);
        fill(u->peers.peers[0].key, 32, 10);
        snprintf(u->peers.peers[0].endpoint, sizeof u->peers.peers[0].endpoint, "tcp://h:1");
        u->peers.peers[0].ready = true;
        u->peers.peers[0].rtt_us = -1;
        snprintf(u->peers.peers[0].software, sizeof u->peers.peers[0].software, "samizdat/0.1");
        break;
    case APP_OP_PEER_ADD:
        u->peer_add.connected = true;
        u->peer_add.rtt_us = 3;
        break;
    case APP_OP_LOOKUP:
        u->lookup.n = 2;
        u->lookup.items = calloc(2, sizeof *u->lookup.items);
        lookup(&u->lookup.items[0], 11);
        lookup(&u->lookup.items[1], 12);
        break;
    case APP_OP_FIND_NODE:
        fill(u->find_node.target, 32, 13);
        u->find_node.status = DHT_OK;
        u->find_node.n = 1;
        fill(u->find_node.contacts[0].key, 32, 14);
        snprintf(u->find_node.contacts[0].endpoint, sizeof u->find_node.contacts[0].endpoint,
                 "tcp://192.0.2.1:7470");
        u->find_node.hops = 1;
        u->find_node.messages = 4;
        u->find_node.ms = 5;
        break;
    case APP_OP_INVITE:
        invite(&u->invite.invite);
        assert_int_equal(invite_encode(&u->invite.invite, u->invite.text), INVITE_OK);
        break;
    case APP_OP_JOIN:
        invite(&u->join.invite);
        u->join.connected = true;
        snprintf(u->join.endpoint, sizeof u->join.endpoint, "tcp://192.0.2.9:7470");
        u->join.rtt_us = 4;
        u->join.followed = true;
        fill(u->join.author.author, 32, 16);
        break;
    case APP_OP_THREAD:
        u->thread.has_parent = true;
        app_post(&u->thread.parent, k, 1, POST_KIND_POST);
        u->thread.n = 2;
        u->thread.items = calloc(2, sizeof *u->thread.items);
        app_post(&u->thread.items[0].post, k, 2, POST_KIND_REPLY);
        app_post(&u->thread.items[1].post, k, 3, POST_KIND_REPLY);
        u->thread.items[1].depth = 1;
        u->thread.truncated = true;
        break;
    }
    return r;
}

static void
test_every_result(void **state)
{
    (void)state;
    keys_author_t k;
    keys_author_generate(&k);
    for (int op = APP_OP_STATUS; op <= APP_OP_LAST; op++) {
        app_result_t *r = full_result((app_op_t)op, &k);
        uint8_t *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;
        assert_int_equal(appmsg_result_encode(r, &a, &alen), APPMSG_OK);
        app_result_t *d = NULL;
        assert_int_equal(appmsg_result_decode(a, alen, &d), APPMSG_OK);
        assert_int_equal(d->op, op);
        assert_int_equal(d->err, APP_OK);
        assert_int_equal(appmsg_result_encode(d, &b, &blen), APPMSG_OK);
        assert_int_equal(alen, blen);
        assert_memory_equal(a, b, alen);
        /* Spot checks that the fields came through, not only the bytes. */
        switch (op) {
        case APP_OP_STATUS:
            assert_string_equal(d->u.status.listen[1], "tcp://[::1]:7470");
            assert_int_equal(d->u.status.flood_cuts, 4);
            assert_string_equal(d->u.status.portmap_external, "tcp://192.0.2.44:7470");
            assert_int_equal(d->u.status.portmap_lifetime_s, 7200);
            assert_int_equal(d->u.status.reach, APP_REACH_REACHABLE);
            assert_int_equal(d->u.status.n_reach, 2);
            assert_int_equal(d->u.status.reach_eps[0].verdict, APP_EP_UNREACHABLE);
            assert_true(d->u.status.reach_eps[1].onion);
            break;
        case APP_OP_FEED:
            assert_int_equal(d->u.feed.n_posts, 3);
            assert_memory_equal(d->u.feed.posts[1].post.id, r->u.feed.posts[1].post.id, 32);
            assert_true(d->u.feed.posts[0].deleted == r->u.feed.posts[0].deleted);
            assert_string_equal(d->u.feed.posts[2].display_name, "name 1");
            assert_true(d->u.feed.has_profile);
            assert_memory_equal(d->u.feed.profile.post.id, r->u.feed.profile.post.id, 32);
            break;
        case APP_OP_FOLLOW:
            assert_true(d->u.author.looked_up);
            assert_int_equal(d->u.author.lookup.head_seq, 42);
            assert_string_equal(d->u.author.lookup.providers[1].endpoint, "tcp://10.0.0.2:2");
            break;
        case APP_OP_IMPORT:
            assert_string_equal(d->u.import.refusals[1].why, "blocked");
            break;
        case APP_OP_PEERS:
            assert_int_equal(d->u.peers.peers[0].rtt_us, -1);
            break;
        case APP_OP_INVITE:
            assert_string_equal(d->u.invite.text, r->u.invite.text);
            assert_memory_equal(&d->u.invite.invite, &r->u.invite.invite, sizeof(invite_t));
            break;
        case APP_OP_JOIN:
            assert_memory_equal(&d->u.join.invite, &r->u.join.invite, sizeof(invite_t));
            assert_string_equal(d->u.join.endpoint, "tcp://192.0.2.9:7470");
            assert_true(d->u.join.followed);
            break;
        case APP_OP_THREAD:
            assert_true(d->u.thread.has_parent);
            assert_int_equal(d->u.thread.n, 2);
            assert_int_equal(d->u.thread.items[1].depth, 1);
            assert_memory_equal(d->u.thread.items[1].post.post.id, r->u.thread.items[1].post.post.id,
                                32);
            assert_true(d->u.thread.truncated);
            break;
        default:
            break;
        }
        for (size_t n = 0; n < alen; n++) {
            app_result_t *x = NULL;
            assert_int_not_equal(appmsg_result_decode(a, n, &x), APPMSG_OK);
            assert_null(x);
        }
        free(a);
        free(b);
        app_result_free(r);
        app_result_free(d);
    }
    keys_author_wipe(&k);
}

static void
test_result_rules(void **state)
{
    (void)state;
    /* An error result carries its message and nothing else. */
    app_result_t *r = app_result_new(APP_OP_FEED);
    r->err = APP_ENOTFOUND;
    snprintf(r->msg, sizeof r->msg, "no posts of this author are stored");
    uint8_t *a = NULL;
    size_t len = 0;
    assert_int_equal(appmsg_result_encode(r, &a, &len), APPMSG_OK);
    app_result_t *d = NULL;
    assert_int_equal(appmsg_result_decode(a, len, &d), APPMSG_OK);
    assert_int_equal(d->err, APP_ENOTFOUND);
    assert_string_equal(d->msg, r->msg);
    app_result_free(d);
    free(a);
    app_result_free(r);
    /* A list count that the bytes cannot hold is refused before any
     * allocation: 4 billion authors in a 7-byte message. */
    uint8_t lie[] = {APPMSG_VERSION, APP_OP_FOLLOWING, APP_OK, 0, 1, 0, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(appmsg_result_decode(lie, sizeof lie, &d), APPMSG_EMALFORMED);
    uint8_t feed_lie[3 + 3 + 32 + 1 + 16 + 4] = {APPMSG_VERSION, APP_OP_FEED, APP_OK, 0, 1, 0};
    memset(feed_lie + 6 + 32 + 1 + 16, 0x7f, 4);
    assert_int_equal(appmsg_result_decode(feed_lie, sizeof feed_lie, &d), APPMSG_EMALFORMED);
    /* Unknown error codes and ops. */
    uint8_t bad_err[] = {APPMSG_VERSION, APP_OP_STATUS, 200, 0, 1, 0};
    assert_int_equal(appmsg_result_decode(bad_err, sizeof bad_err, &d), APPMSG_EMALFORMED);
    uint8_t bad_op[] = {APPMSG_VERSION, 0, APP_OK, 0, 1, 0};
    assert_int_equal(appmsg_result_decode(bad_op, sizeof bad_op, &d), APPMSG_EMALFORMED);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_request),
        cmocka_unit_test(test_request_rules),
        cmocka_unit_test(test_every_result),
        cmocka_unit_test(test_result_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
