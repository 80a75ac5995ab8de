/* The test vectors in docs/PROTOCOL.md, recomputed.
 *
 * The doc holds a ```vectors block of "name value" lines. This test derives
 * every value from the fixed seed and the post inputs listed in the doc, and
 * requires each to appear in the doc unchanged. Run with
 * SAMIZDAT_PRINT_VECTORS=1 to print the block. */
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "dhtid.h"
#include "keys.h"
#include "keytext.h"
#include "post.h"

enum { MAX_VECTORS = 32, VALUE_MAX = 2 * POST_MAX_SIZE + 1 };

typedef struct {
    char name[32];
    char value[VALUE_MAX];
} vector_t;

typedef struct {
    vector_t v[MAX_VECTORS];
    int n;
} vectors_t;

static void
add(vectors_t *vs, const char *name, const char *value)
{
    assert_true(vs->n < MAX_VECTORS);
    snprintf(vs->v[vs->n].name, sizeof vs->v[vs->n].name, "%s", name);
    snprintf(vs->v[vs->n].value, sizeof vs->v[vs->n].value, "%s", value);
    vs->n++;
}

static void
add_hex(vectors_t *vs, const char *name, const uint8_t *p, size_t n)
{
    char hex[VALUE_MAX];
    bytes_to_hex(hex, p, n);
    add(vs, name, hex);
}

static void
add_text(vectors_t *vs, const char *name, keytext_kind_t kind, const uint8_t *p)
{
    char t[KEYTEXT_BUFSZ];
    keytext_encode(t, kind, p);
    add(vs, name, t);
}

static void
add_post(vectors_t *vs, const char *name, post_t *p, const keys_author_t *k)
{
    uint8_t buf[POST_MAX_SIZE];
    size_t len = 0;
    assert_int_equal(post_sign(p, k, buf, sizeof buf, &len), POST_OK);
    char key[32];
    add_hex(vs, name, buf, len);
    snprintf(key, sizeof key, "%s_id", name);
    add_hex(vs, key, p->id, 32);
    snprintf(key, sizeof key, "%s_id_text", name);
    add_text(vs, key, KEYTEXT_POST, p->id);
    post_t q;
    assert_int_equal(post_decode(&q, buf, len, POST_VERIFY), POST_OK);
}

/* The inputs are the ones docs/PROTOCOL.md lists beside the vectors. */
static void
compute(vectors_t *vs)
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t)i;
    }
    keys_author_t k;
    keys_node_t n;
    keys_author_from_seed(&k, seed);
    keys_node_from_seed(&n, seed);
    add_hex(vs, "seed", seed, 32);
    add_hex(vs, "author_pk", k.pk, 32);
    add_text(vs, "author_text", KEYTEXT_AUTHOR, k.pk);
    add_hex(vs, "node_pk", n.pk, 32);
    add_text(vs, "node_text", KEYTEXT_NODE, n.pk);
    uint8_t id[32];
    dhtid_from_node_key(id, n.pk);
    add_hex(vs, "node_dht_id", id, 32);
    dhtid_from_author(id, k.pk);
    add_hex(vs, "author_dht_key", id, 32);

    post_t p1, p2, p3, p4;
    post_init(&p1, POST_KIND_POST, 1, NULL, 1700000000000ull);
    assert_int_equal(post_set_body(&p1, "hello, samizdat", 15), POST_OK);
    add_post(vs, "post1", &p1, &k);

    post_init(&p2, POST_KIND_REPLY, 2, p1.id, 1700000060000ull);
    memcpy(p2.ref, p1.id, 32);
    const char *b2 = "a reply \xe2\x80\x94 with UTF-8 \xe2\x9c\x93\nand a second line";
    assert_int_equal(post_set_body(&p2, b2, strlen(b2)), POST_OK);
    add_post(vs, "post2", &p2, &k);

    post_init(&p3, POST_KIND_PROFILE, 3, p2.id, 1700000120000ull);
    assert_int_equal(post_set_name(&p3, "Alice", 5), POST_OK);
    assert_int_equal(post_set_body(&p3, "writes about radios", 19), POST_OK);
    add_post(vs, "post3", &p3, &k);

    post_init(&p4, POST_KIND_DELETE, 4, p3.id, 1700000180000ull);
    memcpy(p4.ref, p2.id, 32);
    add_post(vs, "post4", &p4, &k);
}

static void
add_cb(void *ud, const char *name, const char *value)
{
    vectors_t *vs = ud;
    assert_true(strlen(name) < sizeof vs->v[0].name && strlen(value) < VALUE_MAX);
    add(vs, name, value);
}

/* Reads the "name value" lines of the ```vectors block of the doc. */
static void
parse_doc(vectors_t *vs, const char *doc)
{
    tu_doc_vectors(doc, "vectors", add_cb, vs);
}

static void
test_doc_vectors(void **state)
{
    (void)state;
    static vectors_t want, doc;
    memset(&want, 0, sizeof want);
    memset(&doc, 0, sizeof doc);
    compute(&want);
    const char *print = getenv("SAMIZDAT_PRINT_VECTORS");
    if (print != NULL && print[0] == '1') {
        for (int i = 0; i < want.n; i++) {
            printf("%-15s %s\n", want.v[i].name, want.v[i].value);
        }
    }
    char *text = tu_read_file(SAMIZDAT_SOURCE_DIR "/docs/PROTOCOL.md", NULL);
    assert_non_null(text);
    parse_doc(&doc, text);
    free(text);
    assert_int_equal(doc.n, want.n);
    for (int i = 0; i < want.n; i++) {
        int found = 0;
        for (int j = 0; j < doc.n; j++) {
            if (strcmp(doc.v[j].name, want.v[i].name) == 0) {
                found = 1;
                if (strcmp(doc.v[j].value, want.v[i].value) != 0) {
                    fail_msg("vector %s: doc has %s, computed %s", want.v[i].name,
                             doc.v[j].value, want.v[i].value);
                }
            }
        }
        if (!found) {
            fail_msg("vector %s missing from docs/PROTOCOL.md", want.v[i].name);
        }
    }
}

/* The doc's post hex must also decode on its own, without our encoder. */
static void
test_doc_posts_decode(void **state)
{
    (void)state;
    static vectors_t doc;
    memset(&doc, 0, sizeof doc);
    char *text = tu_read_file(SAMIZDAT_SOURCE_DIR "/docs/PROTOCOL.md", NULL);
    assert_non_null(text);
    parse_doc(&doc, text);
    free(text);
    int posts = 0;
    for (int i = 0; i < doc.n; i++) {
        if (strncmp(doc.v[i].name, "post", 4) != 0 || strchr(doc.v[i].name, '_') != NULL) {
            continue;
        }
        uint8_t buf[POST_MAX_SIZE];
        size_t len = strlen(doc.v[i].value) / 2;
        assert_true(len <= sizeof buf);
        assert_true(bytes_from_hex(buf, len, doc.v[i].value));
        post_t p;
        assert_int_equal(post_decode(&p, buf, len, POST_VERIFY), POST_OK);
        posts++;
    }
    assert_int_equal(posts, 4);
}

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_vectors),
        cmocka_unit_test(test_doc_posts_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
