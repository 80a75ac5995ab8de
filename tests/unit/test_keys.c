/* keys: key pairs, and the key files with their checks on mode, size and
 * content. Each test gets its own temporary directory.
 *
 * The vector values were computed independently with Python's
 * `cryptography` package (Ed25519 and X25519) and hashlib (SHA-512), and are
 * the ones docs/PROTOCOL.md shows. */
#include "testutil.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "keys.h"
#include "keytext.h"

static const char VEC_AUTHOR_PK[] =
    "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
static const char VEC_AUTHOR_TEXT[] =
    "sza1qwss00lnecgtu8tsm5vwwj7qn9n7f43snwjs6hcamjrxgyj4xxuq0gn537";
/* libsodium's crypto_box_seed_keypair: the secret is SHA-512(seed)[0..32]. */
static const char VEC_NODE_SK[] =
    "3d94eea49c580aef816935762be049559d6d1440dede12e6a125f1841fff8e6f";
static const char VEC_NODE_PK[] =
    "4701d08488451f545a409fb58ae3e58581ca40ac3f7f114698cd71deac73ca01";
static const char VEC_NODE_TEXT[] =
    "szn1guqappygg504gkjqn76c4cl9skqu5s9v8al3z35ce4caatrnegqspksukt";

enum {
    PLAIN_SIZE = 70,
    SEALED_SIZE = 142,
    OPS_OFF = 6,
    MEM_OFF = 14,
    SALT_OFF = 22,
    PK_OFF_SEALED = 110,
    PATH_CAP = 512,
};

static const char PASS[] = "correct horse battery staple";

typedef struct {
    char dir[PATH_CAP];
    char path[PATH_CAP]; /* dir/author.key */
    char node[PATH_CAP]; /* dir/node.key */
} fx_t;

/* dir/name into out; the test fails if it does not fit. */
static void
join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static int
setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    tu_mkdtemp(fx->dir, sizeof fx->dir);
    join(fx->path, sizeof fx->path, fx->dir, "author.key");
    join(fx->node, sizeof fx->node, fx->dir, "node.key");
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *fx = *state;
    tu_rmtree(fx->dir);
    free(fx);
    return 0;
}

static void
seq_seed(uint8_t seed[KEYS_SEED])
{
    for (int i = 0; i < KEYS_SEED; i++) {
        seed[i] = (uint8_t)i;
    }
}

static void
assert_hex(const uint8_t *p, size_t n, const char *want)
{
    char hex[2 * 64 + 1];
    assert_true(2 * n < sizeof hex);
    sodium_bin2hex(hex, sizeof hex, p, n);
    assert_string_equal(hex, want);
}

static void
assert_zero(const void *p, size_t n)
{
    assert_true(sodium_is_zero(p, n));
}

/* Reads path whole; the test fails if it cannot. */
static uint8_t *
slurp(const char *path, size_t *len)
{
    char *p = tu_read_file(path, len);
    assert_non_null(p);
    return (uint8_t *)p;
}

/* Replaces the file at path by p[0..len), mode 0600. */
static void
rewrite(const char *path, const uint8_t *p, size_t len)
{
    unlink(path);
    tu_write_file(path, p, len);
}

static bool
exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void
test_vector(void **state)
{
    (void)state;
    uint8_t seed[KEYS_SEED];
    char t[KEYTEXT_BUFSZ];
    keys_author_t a, a2;
    keys_node_t n, n2;
    seq_seed(seed);
    keys_author_from_seed(&a, seed);
    assert_hex(a.pk, sizeof a.pk, VEC_AUTHOR_PK);
    assert_memory_equal(a.sk, seed, KEYS_SEED);
    assert_memory_equal(a.sk + KEYS_SEED, a.pk, KEYS_AUTHOR_PK);
    keytext_encode(t, KEYTEXT_AUTHOR, a.pk);
    assert_string_equal(t, VEC_AUTHOR_TEXT);
    keys_node_from_seed(&n, seed);
    assert_hex(n.sk, sizeof n.sk, VEC_NODE_SK);
    assert_hex(n.pk, sizeof n.pk, VEC_NODE_PK);
    keytext_encode(t, KEYTEXT_NODE, n.pk);
    assert_string_equal(t, VEC_NODE_TEXT);
    /* Deterministic: the same seed gives the same pairs. */
    keys_author_from_seed(&a2, seed);
    keys_node_from_seed(&n2, seed);
    assert_memory_equal(&a, &a2, sizeof a);
    assert_memory_equal(&n, &n2, sizeof n);
    seed[31] ^= 1;
    keys_author_from_seed(&a2, seed);
    keys_node_from_seed(&n2, seed);
    assert_memory_not_equal(a.pk, a2.pk, sizeof a.pk);
    assert_memory_not_equal(n.pk, n2.pk, sizeof n.pk);
}

static void
test_generate_and_wipe(void **state)
{
    (void)state;
    keys_author_t a, b;
    keys_node_t n, m;
    keys_author_generate(&a);
    keys_author_generate(&b);
    assert_memory_not_equal(a.pk, b.pk, sizeof a.pk);
    keys_node_generate(&n);
    keys_node_generate(&m);
    assert_memory_not_equal(n.pk, m.pk, sizeof n.pk);
    keys_author_wipe(&a);
    keys_node_wipe(&n);
    assert_zero(&a, sizeof a);
    assert_zero(&n, sizeof n);
    keys_author_wipe(NULL);
    keys_node_wipe(NULL);
}

static void
test_author_unsealed(void **state)
{
    fx_t *fx = *state;
    keys_author_t k, got;
    uint8_t pk[KEYS_AUTHOR_PK];
    bool sealed = true;
    keys_author_generate(&k);
    assert_int_equal(keys_author_save(fx->path, &k, NULL, NULL), KEYS_OK);
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    size_t len = 0;
    uint8_t *raw = slurp(fx->path, &len);
    assert_int_equal(len, PLAIN_SIZE);
    assert_memory_equal(raw, "SZAK\x01\x00", 6);
    assert_memory_equal(raw + 6, k.sk, KEYS_SEED);
    assert_memory_equal(raw + 38, k.pk, KEYS_AUTHOR_PK);
    free(raw);
    assert_int_equal(keys_author_load(fx->path, NULL, &got), KEYS_OK);
    assert_memory_equal(&got, &k, sizeof k);
    /* A passphrase given for an unsealed file is not needed and ignored. */
    assert_int_equal(keys_author_load(fx->path, "anything", &got), KEYS_OK);
    assert_memory_equal(&got, &k, sizeof k);
    assert_int_equal(keys_author_load_public(fx->path, pk, &sealed), KEYS_OK);
    assert_memory_equal(pk, k.pk, sizeof pk);
    assert_false(sealed);
    assert_int_equal(keys_author_load_public(fx->path, pk, NULL), KEYS_OK);
}

static void
test_author_sealed(void **state)
{
    fx_t *fx = *state;
    keys_author_t k, got;
    keys_pwhash_t fast = keys_pwhash_fast();
    uint8_t pk[KEYS_AUTHOR_PK];
    bool sealed = false;
    keys_author_generate(&k);
    assert_int_equal(keys_author_save(fx->path, &k, PASS, &fast), KEYS_OK);
    size_t len = 0;
    uint8_t *raw = slurp(fx->path, &len);
    assert_int_equal(len, SEALED_SIZE);
    assert_memory_equal(raw, "SZAK\x01\x01", 6);
    assert_true(bytes_be64_get(raw + OPS_OFF) == crypto_pwhash_OPSLIMIT_MIN);
    assert_true(bytes_be64_get(raw + MEM_OFF) == crypto_pwhash_MEMLIMIT_MIN);
    assert_memory_equal(raw + PK_OFF_SEALED, k.pk, KEYS_AUTHOR_PK);
    /* The seed must not appear in the clear anywhere. */
    for (size_t i = 0; i + KEYS_SEED <= len; i++) {
        assert_memory_not_equal(raw + i, k.sk, KEYS_SEED);
    }
    free(raw);
    assert_int_equal(keys_author_load(fx->path, PASS, &got), KEYS_OK);
    assert_memory_equal(&got, &k, sizeof k);
    memset(&got, 0xa5, sizeof got);
    assert_int_equal(keys_author_load(fx->path, "correct horse battery stapler", &got),
                     KEYS_EPASSPHRASE);
    assert_zero(&got, sizeof got);
    assert_int_equal(keys_author_load(fx->path, "", &got), KEYS_EPASSPHRASE);
    memset(&got, 0xa5, sizeof got);
    assert_int_equal(keys_author_load(fx->path, NULL, &got), KEYS_ENEEDPASS);
    assert_zero(&got, sizeof got);
    assert_int_equal(keys_author_load_public(fx->path, pk, &sealed), KEYS_OK);
    assert_memory_equal(pk, k.pk, sizeof pk);
    assert_true(sealed);
}

/* Two saves of one key with one passphrase differ: fresh salt and nonce. */
static void
test_sealed_fresh_salt(void **state)
{
    fx_t *fx = *state;
    keys_author_t k;
    keys_pwhash_t fast = keys_pwhash_fast();
    keys_author_generate(&k);
    assert_int_equal(keys_author_save(fx->path, &k, PASS, &fast), KEYS_OK);
    assert_int_equal(keys_author_save(fx->node, &k, PASS, &fast), KEYS_OK);
    uint8_t *a = slurp(fx->path, NULL);
    uint8_t *b = slurp(fx->node, NULL);
    assert_memory_not_equal(a + SALT_OFF, b + SALT_OFF, 16);
    assert_memory_not_equal(a + SALT_OFF + 16, b + SALT_OFF + 16, 24);
    free(a);
    free(b);
}

/* NULL costs mean the INTERACTIVE limits, stored in the file. */
static void
test_sealed_default_cost(void **state)
{
    fx_t *fx = *state;
    keys_author_t k, got;
    keys_pwhash_t def = keys_pwhash_default();
    assert_true(def.opslimit == crypto_pwhash_OPSLIMIT_INTERACTIVE);
    assert_true(def.memlimit == crypto_pwhash_MEMLIMIT_INTERACTIVE);
    keys_author_generate(&k);
    assert_int_equal(keys_author_save(fx->path, &k, PASS, NULL), KEYS_OK);
    uint8_t *raw = slurp(fx->path, NULL);
    assert_true(bytes_be64_get(raw + OPS_OFF) == def.opslimit);
    assert_true(bytes_be64_get(raw + MEM_OFF) == def.memlimit);
    free(raw);
    assert_int_equal(keys_author_load(fx->path, PASS, &got), KEYS_OK);
    assert_memory_equal(&got, &k, sizeof k);
}

static void
test_modes(void **state)
{
    fx_t *fx = *state;
    static const mode_t bad[] = {0644, 0640, 0604, 0660, 0601, 0610, 0700 | 0044};
    keys_author_t k, got;
    keys_node_t n, ngot;
    uint8_t pk[KEYS_AUTHOR_PK];
    keys_author_generate(&k);
    keys_node_generate(&n);
    assert_int_equal(keys_author_save(fx->path, &k, NULL, NULL), KEYS_OK);
    assert_int_equal(keys_node_save(fx->node, &n), KEYS_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(chmod(fx->path, bad[i]), 0);
        assert_int_equal(chmod(fx->node, bad[i]), 0);
        memset(&got, 0xa5, sizeof got);
        assert_int_equal(keys_author_load(fx->path, NULL, &got), KEYS_EMODE);
        assert_zero(&got, sizeof got);
        assert_int_equal(keys_author_load_public(fx->path, pk, NULL), KEYS_EMODE);
        assert_int_equal(keys_node_load(fx->node, &ngot), KEYS_EMODE);
    }
    /* Owner read-only is fine, as is owner execute. */
    assert_int_equal(chmod(fx->path, 0400), 0);
    assert_int_equal(chmod(fx->node, 0700), 0);
    assert_int_equal(keys_author_load(fx->path, NULL, &got), KEYS_OK);
    assert_int_equal(keys_node_load(fx->node, &ngot), KEYS_OK);
    assert_memory_equal(&ngot, &n, sizeof n);
}

/* Every proper prefix of a valid file, and a file one byte too long. */
static void
check_truncations(const char *path, const uint8_t *raw, size_t len, bool node)
{
    uint8_t buf[600];
    keys_author_t k;
    keys_node_t n;
    uint8_t pk[KEYS_AUTHOR_PK];
    for (size_t cut = 0; cut < len; cut++) {
        rewrite(path, raw, cut);
        if (node) {
            assert_int_equal(keys_node_load(path, &n), KEYS_ECORRUPT);
            assert_zero(&n, sizeof n);
        } else {
            assert_int_equal(keys_author_load(path, PASS, &k), KEYS_ECORRUPT);
            assert_int_equal(keys_author_load_public(path, pk, NULL), KEYS_ECORRUPT);
        }
    }
    memset(buf, 0, sizeof buf);
    memcpy(buf, raw, len);
    for (size_t extra = 1; len + extra <= sizeof buf; extra += (extra < 4) ? 1 : 97) {
        rewrite(path, buf, len + extra);
        keys_err_t err = node ? keys_node_load(path, &n) : keys_author_load(path, PASS, &k);
        assert_int_equal(err, KEYS_ECORRUPT);
    }
}

static void
test_truncated(void **state)
{
    fx_t *fx = *state;
    keys_author_t k;
    keys_node_t n;
    keys_pwhash_t fast = keys_pwhash_fast();
    size_t len = 0;
    keys_author_generate(&k);
    keys_node_generate(&n);
    assert_int_equal(keys_author_save(fx->path, &k, NULL, NULL), KEYS_OK);
    uint8_t *raw = slurp(fx->path, &len);
    check_truncations(fx->path, raw, len, false);
    free(raw);
    unlink(fx->path);
    assert_int_equal(keys_author_save(fx->path, &k, PASS, &fast), KEYS_OK);
    raw = slurp(fx->path, &len);
    check_truncations(fx->path, raw, len, false);
    free(raw);
    assert_int_equal(keys_node_save(fx->node, &n), KEYS_OK);
    raw = slurp(fx->node, &len);
    check_truncations(fx->node, raw, len, true);
    free(raw);
}

static void
test_bitflips_unsealed(void **state)
{
    fx_t *fx = *state;
    keys_author_t k, got;
    uint8_t pk[KEYS_AUTHOR_PK];
    size_t len = 0;
    keys_author_generate(&k);
    assert_int_equal(keys_author_save(fx->path, &k, NULL, NULL), KEYS_OK);
    uint8_t *raw = slurp(fx->path, &len);
    for (size_t bit = 0; bit < 8 * len; bit++) {
        raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        rewrite(fx->path, raw, len);
        raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(keys_author_load(fx->path, NULL, &got), KEYS_ECORRUPT);
        assert_int_equal(keys_author_load(fx->path, PASS, &got), KEYS_ECORRUPT);
        assert_int_equal(keys_author_load_public(fx->path, pk, NULL), KEYS_ECORRUPT);
    }
    free(raw);
}

/* What a flipped bit in a sealed file must give. Bits 16..29 of the memlimit
 * are skipped: they ask for up to 512 MiB, a legitimate (slow) cost. */
static bool
sealed_flip_expect(size_t bit, keys_err_t *want)
{
    size_t byte = bit / 8;
    if (byte < OPS_OFF) {
        *want = KEYS_ECORRUPT;
        return true;
    }
    if (byte < MEM_OFF) {
        /* opslimit 1: flipped to 0 or to 5 and more is refused; to 3 it opens
         * nothing. */
        uint64_t ops = (uint64_t)crypto_pwhash_OPSLIMIT_MIN ^ (1ull << (63 - (bit - 8 * OPS_OFF)));
        bool ok = ops >= crypto_pwhash_OPSLIMIT_MIN && ops <= crypto_pwhash_OPSLIMIT_SENSITIVE;
        *want = ok ? KEYS_EPASSPHRASE : KEYS_ECORRUPT;
        return true;
    }
    if (byte < SALT_OFF) {
        unsigned shift = (unsigned)(63 - (bit - 8 * MEM_OFF));
        uint64_t mem = (uint64_t)crypto_pwhash_MEMLIMIT_MIN ^ (1ull << shift);
        bool ok = mem >= crypto_pwhash_MEMLIMIT_MIN && mem <= crypto_pwhash_MEMLIMIT_SENSITIVE &&
                  mem % 1024 == 0;
        *want = ok ? KEYS_EPASSPHRASE : KEYS_ECORRUPT;
        return !(shift >= 16 && shift < 30);
    }
    *want = byte < PK_OFF_SEALED ? KEYS_EPASSPHRASE : KEYS_ECORRUPT;
    return true;
}

static void
test_bitflips_sealed(void **state)
{
    fx_t *fx = *state;
    keys_author_t k, got;
    keys_pwhash_t fast = keys_pwhash_fast();
    size_t len = 0;
    int checked = 0;
    keys_author_generate(&k);
    assert_int_equal(keys_author_save(fx->path, &k, PASS, &fast), KEYS_OK);
    uint8_t *raw = slurp(fx->path, &len);
    assert_int_equal(len, SEALED_SIZE);
    for (size_t bit = 0; bit < 8 * len; bit++) {
        keys_err_t want;
        if (!sealed_flip_expect(bit, &want)) {
            continue;
        }
        raw[bit / 8] ^= (uint8_t)(1u << (7 - bit % 8));
        rewrite(fx->path, raw, len);
        raw[bit / 8] ^= (uint8_t)(1u << (7 - bit % 8));
        memset(&got, 0xa5, sizeof got);
        keys_err_t err = keys_author_load(fx->path, PASS, &got);
        if (err != want) {
            fail_msg("bit %zu (byte %zu): got %d, want %d", bit, bit / 8, err, want);
        }
        assert_zero(&got, sizeof got);
        checked++;
    }
    assert_true(checked > 8 * (SEALED_SIZE - 8));
    free(raw);
}

/* Costs above the SENSITIVE limits (or below the minimum) are refused
 * before any hashing, so a crafted file cannot make us allocate gigabytes. */
static void
test_crafted_costs(void **state)
{
    fx_t *fx = *state;
    static const uint64_t mems[] = {UINT64_MAX,
                                    1ull << 63,
                                    (uint64_t)1 << 40,
                                    (uint64_t)crypto_pwhash_MEMLIMIT_SENSITIVE + 1,
                                    (uint64_t)crypto_pwhash_MEMLIMIT_MIN - 1,
                                    0,
                                    (uint64_t)crypto_pwhash_MEMLIMIT_MIN + 512};
    static const uint64_t ops[] = {UINT64_MAX, (uint64_t)crypto_pwhash_OPSLIMIT_SENSITIVE + 1, 0};
    keys_author_t k, got;
    keys_pwhash_t fast = keys_pwhash_fast();
    size_t len = 0;
    keys_author_generate(&k);
    assert_int_equal(keys_author_save(fx->path, &k, PASS, &fast), KEYS_OK);
    uint8_t *raw = slurp(fx->path, &len);
    double start = tu_now();
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++) {
        bytes_be64_put(raw + MEM_OFF, mems[i]);
        rewrite(fx->path, raw, len);
        assert_int_equal(keys_author_load(fx->path, PASS, &got), KEYS_ECORRUPT);
    }
    bytes_be64_put(raw + MEM_OFF, crypto_pwhash_MEMLIMIT_MIN);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        bytes_be64_put(raw + OPS_OFF, ops[i]);
        rewrite(fx->path, raw, len);
        assert_int_equal(keys_author_load(fx->path, PASS, &got), KEYS_ECORRUPT);
    }
    assert_true(tu_now() - start < 2.0);
    free(raw);
    /* The saver refuses such costs too, and writes nothing. */
    unlink(fx->path);
    keys_pwhash_t huge = {crypto_pwhash_OPSLIMIT_MIN, (uint64_t)1 << 40};
    assert_int_equal(keys_author_save(fx->path, &k, PASS, &huge), KEYS_ECORRUPT);
    keys_pwhash_t ragged = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN + 100};
    assert_int_equal(keys_author_save(fx->path, &k, PASS, &ragged), KEYS_ECORRUPT);
    keys_pwhash_t tiny = {0, crypto_pwhash_MEMLIMIT_MIN};
    assert_int_equal(keys_author_save(fx->path, &k, PASS, &tiny), KEYS_ECORRUPT);
    assert_false(exists(fx->path));
    /* Costs do not matter for an unsealed file. */
    assert_int_equal(keys_author_save(fx->path, &k, NULL, &huge), KEYS_OK);
}

static void
test_no_overwrite(void **state)
{
    fx_t *fx = *state;
    keys_author_t k, other, got;
    keys_node_t n, nother, ngot;
    keys_author_generate(&k);
    keys_author_generate(&other);
    keys_node_generate(&n);
    keys_node_generate(&nother);
    assert_int_equal(keys_author_save(fx->path, &k, NULL, NULL), KEYS_OK);
    assert_int_equal(keys_author_save(fx->path, &other, NULL, NULL), KEYS_EEXIST);
    assert_int_equal(keys_author_load(fx->path, NULL, &got), KEYS_OK);
    assert_memory_equal(&got, &k, sizeof k);
    assert_int_equal(keys_node_save(fx->node, &n), KEYS_OK);
    assert_int_equal(keys_node_save(fx->node, &nother), KEYS_EEXIST);
    assert_int_equal(keys_node_load(fx->node, &ngot), KEYS_OK);
    assert_memory_equal(&ngot, &n, sizeof n);
}

static void
test_symlinks(void **state)
{
    fx_t *fx = *state;
    char link[PATH_CAP], target[PATH_CAP];
    keys_author_t k, got;
    keys_node_t n;
    uint8_t pk[KEYS_AUTHOR_PK];
    keys_author_generate(&k);
    assert_int_equal(keys_author_save(fx->path, &k, NULL, NULL), KEYS_OK);
    join(link, sizeof link, fx->dir, "link.key");
    assert_int_equal(symlink(fx->path, link), 0);
    assert_int_equal(keys_author_load(link, NULL, &got), KEYS_EMODE);
    assert_int_equal(keys_author_load_public(link, pk, NULL), KEYS_EMODE);
    assert_int_equal(keys_node_load(link, &n), KEYS_EMODE);
    /* A dangling link planted where a key is to be written: nothing is
     * created at its target. */
    join(target, sizeof target, fx->dir, "elsewhere");
    assert_int_equal(symlink(target, fx->node), 0);
    keys_node_generate(&n);
    assert_int_equal(keys_node_save(fx->node, &n), KEYS_EEXIST);
    assert_int_equal(keys_author_save(fx->node, &k, NULL, NULL), KEYS_EEXIST);
    assert_false(exists(target));
}

static void
test_not_regular(void **state)
{
    fx_t *fx = *state;
    keys_author_t got;
    keys_node_t n;
    assert_int_equal(mkdir(fx->path, 0700), 0);
    assert_int_equal(keys_author_load(fx->path, NULL, &got), KEYS_ECORRUPT);
    /* A FIFO must be refused without blocking on the open. */
    assert_int_equal(mkfifo(fx->node, 0600), 0);
    assert_int_equal(keys_node_load(fx->node, &n), KEYS_ECORRUPT);
}

static void
test_missing(void **state)
{
    fx_t *fx = *state;
    char path[PATH_CAP];
    keys_author_t k, got;
    keys_node_t n;
    uint8_t pk[KEYS_AUTHOR_PK];
    assert_int_equal(keys_author_load(fx->path, NULL, &got), KEYS_ENOENT);
    assert_int_equal(keys_author_load_public(fx->path, pk, NULL), KEYS_ENOENT);
    assert_int_equal(keys_node_load(fx->node, &n), KEYS_ENOENT);
    keys_author_generate(&k);
    join(path, sizeof path, fx->dir, "no/such/dir/author.key");
    errno = 0;
    assert_int_equal(keys_author_save(path, &k, NULL, NULL), KEYS_EIO);
    assert_int_equal(errno, ENOENT);
}

static void
test_passphrase_length(void **state)
{
    fx_t *fx = *state;
    static char pass[KEYS_PASSPHRASE_MAX + 2];
    keys_author_t k, got;
    keys_pwhash_t fast = keys_pwhash_fast();
    keys_author_generate(&k);
    memset(pass, 'x', KEYS_PASSPHRASE_MAX + 1);
    pass[KEYS_PASSPHRASE_MAX + 1] = '\0';
    assert_int_equal(keys_author_save(fx->path, &k, pass, &fast), KEYS_ETOOLONG);
    assert_false(exists(fx->path));
    pass[KEYS_PASSPHRASE_MAX] = '\0';
    assert_int_equal(keys_author_save(fx->path, &k, pass, &fast), KEYS_OK);
    assert_int_equal(keys_author_load(fx->path, pass, &got), KEYS_OK);
    assert_memory_equal(&got, &k, sizeof k);
    pass[KEYS_PASSPHRASE_MAX] = 'x';
    assert_int_equal(keys_author_load(fx->path, pass, &got), KEYS_ETOOLONG);
    assert_zero(&got, sizeof got);
}

/* A pair whose halves disagree would make a file that never loads. */
static void
test_save_mismatched_pair(void **state)
{
    fx_t *fx = *state;
    keys_author_t k;
    keys_node_t n;
    keys_pwhash_t fast = keys_pwhash_fast();
    keys_author_generate(&k);
    k.pk[0] ^= 1;
    assert_int_equal(keys_author_save(fx->path, &k, NULL, NULL), KEYS_ECORRUPT);
    assert_int_equal(keys_author_save(fx->path, &k, PASS, &fast), KEYS_ECORRUPT);
    k.pk[0] ^= 1;
    k.sk[40] ^= 1; /* the copy of the public key inside sk */
    assert_int_equal(keys_author_save(fx->path, &k, NULL, NULL), KEYS_ECORRUPT);
    assert_false(exists(fx->path));
    keys_node_generate(&n);
    n.pk[5] ^= 1;
    assert_int_equal(keys_node_save(fx->node, &n), KEYS_ECORRUPT);
    assert_false(exists(fx->node));
}

/* A write that fails half way (here: the file size limit) leaves no file. */
static void
test_write_failure(void **state)
{
    fx_t *fx = *state;
    keys_author_t k;
    struct rlimit old, small;
    keys_author_generate(&k);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 10;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    errno = 0;
    keys_err_t err = keys_author_save(fx->path, &k, NULL, NULL);
    int saved = errno;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(err, KEYS_EIO);
    assert_int_equal(saved, EFBIG);
    assert_false(exists(fx->path));
}

static void
test_node_round_trip(void **state)
{
    fx_t *fx = *state;
    keys_node_t n, got;
    uint8_t seed[KEYS_SEED];
    seq_seed(seed);
    keys_node_from_seed(&n, seed);
    assert_int_equal(keys_node_save(fx->node, &n), KEYS_OK);
    size_t len = 0;
    uint8_t *raw = slurp(fx->node, &len);
    assert_int_equal(len, PLAIN_SIZE);
    assert_memory_equal(raw, "SZNK\x01\x00", 6);
    assert_hex(raw + 6, 32, VEC_NODE_SK);
    assert_hex(raw + 38, 32, VEC_NODE_PK);
    free(raw);
    assert_int_equal(keys_node_load(fx->node, &got), KEYS_OK);
    assert_memory_equal(&got, &n, sizeof n);
    /* A node file is not an author file, nor the other way round. */
    keys_author_t a;
    assert_int_equal(keys_author_load(fx->node, NULL, &a), KEYS_ECORRUPT);
    keys_author_from_seed(&a, seed);
    assert_int_equal(keys_author_save(fx->path, &a, NULL, NULL), KEYS_OK);
    assert_int_equal(keys_node_load(fx->path, &got), KEYS_ECORRUPT);
}

/* X25519 ignores the bits that clamping sets: bits 0-2 of the first secret
 * byte and bits 6-7 of the last. A flip there gives the same public key, so
 * such a file is as good as the original. Every other flip is refused. */
static bool
clamped_bit(size_t bit)
{
    size_t byte = bit / 8 - 6;
    unsigned b = (unsigned)(bit % 8);
    return bit / 8 >= 6 && bit / 8 < 38 && ((byte == 0 && b <= 2) || (byte == 31 && b >= 6));
}

static void
test_node_bitflips(void **state)
{
    fx_t *fx = *state;
    keys_node_t n, got;
    size_t len = 0;
    keys_node_generate(&n);
    assert_int_equal(keys_node_save(fx->node, &n), KEYS_OK);
    uint8_t *raw = slurp(fx->node, &len);
    for (size_t bit = 0; bit < 8 * len; bit++) {
        raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        rewrite(fx->node, raw, len);
        raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        keys_err_t err = keys_node_load(fx->node, &got);
        if (clamped_bit(bit)) {
            assert_int_equal(err, KEYS_OK);
            assert_memory_equal(got.pk, n.pk, sizeof n.pk);
        } else {
            assert_int_equal(err, KEYS_ECORRUPT);
            assert_zero(&got, sizeof got);
        }
    }
    free(raw);
}

static void
test_strerror(void **state)
{
    (void)state;
    const char *seen[KEYS_EIO + 1];
    for (int e = KEYS_OK; e <= KEYS_EIO; e++) {
        seen[e] = keys_strerror((keys_err_t)e);
        assert_non_null(seen[e]);
        assert_true(strlen(seen[e]) > 5);
        for (int f = 0; f < e; f++) {
            assert_string_not_equal(seen[e], seen[f]);
        }
    }
    assert_non_null(strstr(keys_strerror(KEYS_EMODE), "chmod 600"));
    assert_non_null(keys_strerror((keys_err_t)99));
}

#define FX_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_generate_and_wipe),
        FX_TEST(test_author_unsealed),
        FX_TEST(test_author_sealed),
        FX_TEST(test_sealed_fresh_salt),
        FX_TEST(test_sealed_default_cost),
        FX_TEST(test_modes),
        FX_TEST(test_truncated),
        FX_TEST(test_bitflips_unsealed),
        FX_TEST(test_bitflips_sealed),
        FX_TEST(test_crafted_costs),
        FX_TEST(test_no_overwrite),
        FX_TEST(test_symlinks),
        FX_TEST(test_not_regular),
        FX_TEST(test_missing),
        FX_TEST(test_passphrase_length),
        FX_TEST(test_save_mismatched_pair),
        FX_TEST(test_write_failure),
        FX_TEST(test_node_round_trip),
        FX_TEST(test_node_bitflips),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
