/* keys: key pairs and the key files (formats in docs/PROTOCOL.md, section 3).
 *
 * A key file is small and of a fixed size per form, so it is read whole into
 * a stack buffer, parsed with the bounds-checked reader and checked against
 * itself (the stored public key must be the one the secret gives) before
 * anything is returned. Every stack buffer that held a secret is wiped before
 * the function returns, on every path. */
#include "keys.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"

enum {
    FILE_MAX = 512,   /* bytes read at most: more than any valid key file */
    HEADER_LEN = 6,   /* magic(4) version(1) mode(1) */
    PLAIN_LEN = 70,   /* header, secret(32), public(32) */
    SEALED_LEN = 142, /* header, ops(8), mem(8), salt(16), nonce(24), box(48), public(32) */
    FORMAT_VERSION = 1,
    MODE_PLAIN = 0,
    MODE_SEALED = 1,
    SALT_LEN = crypto_pwhash_SALTBYTES,
    NONCE_LEN = crypto_secretbox_NONCEBYTES,
    BOX_LEN = KEYS_SEED + crypto_secretbox_MACBYTES,
    BOX_KEY_LEN = crypto_secretbox_KEYBYTES,
};

_Static_assert(SALT_LEN == 16 && NONCE_LEN == 24 && BOX_LEN == 48 && BOX_KEY_LEN == 32,
               "the sealed file layout assumes these libsodium sizes");
_Static_assert(SEALED_LEN == HEADER_LEN + 8 + 8 + SALT_LEN + NONCE_LEN + BOX_LEN + KEYS_AUTHOR_PK,
               "sealed layout");

static const uint8_t AUTHOR_MAGIC[4] = {'S', 'Z', 'A', 'K'};
static const uint8_t NODE_MAGIC[4] = {'S', 'Z', 'N', 'K'};

/* An author key file as parsed, before the secret is checked or opened. */
typedef struct {
    bool sealed;
    uint8_t seed[KEYS_SEED]; /* unsealed only */
    keys_pwhash_t pw;        /* sealed only, from here on */
    uint8_t salt[SALT_LEN];
    uint8_t nonce[NONCE_LEN];
    uint8_t box[BOX_LEN];
    uint8_t pk[KEYS_AUTHOR_PK];
} author_file_t;

keys_pwhash_t
keys_pwhash_default(void)
{
    keys_pwhash_t pw = {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
    return pw;
}

keys_pwhash_t
keys_pwhash_fast(void)
{
    keys_pwhash_t pw = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    return pw;
}

/* The costs a sealed file may ask for: above SENSITIVE a crafted file could
 * make us spend unbounded memory or time. Argon2 counts memory in 1 KiB
 * blocks and libsodium rounds memlimit down to them, so only whole KiB are
 * allowed: otherwise several files would describe one sealing. */
static bool
pwhash_in_range(const keys_pwhash_t *pw)
{
    return pw->memlimit % 1024 == 0 && pw->opslimit >= crypto_pwhash_OPSLIMIT_MIN &&
           pw->opslimit <= crypto_pwhash_OPSLIMIT_SENSITIVE &&
           pw->memlimit >= crypto_pwhash_MEMLIMIT_MIN &&
           pw->memlimit <= crypto_pwhash_MEMLIMIT_SENSITIVE;
}

const char *
keys_strerror(keys_err_t err)
{
    switch (err) {
    case KEYS_OK:
        return "no error";
    case KEYS_ENOENT:
        return "the key file does not exist";
    case KEYS_EEXIST:
        return "a key file already exists there; refusing to overwrite it";
    case KEYS_EMODE:
        return "the key file is readable by other users, owned by someone else, or a symbolic "
               "link; fix with chmod 600";
    case KEYS_ECORRUPT:
        return "the key file is damaged or is not a samizdat key file of this kind";
    case KEYS_ENEEDPASS:
        return "the key file is sealed with a passphrase and none was given";
    case KEYS_EPASSPHRASE:
        return "wrong passphrase (or the sealed key was altered)";
    case KEYS_ETOOLONG:
        return "the passphrase is too long (at most 1024 bytes)";
    case KEYS_ENOMEM:
        return "not enough memory to derive the key from the passphrase";
    case KEYS_EIO:
        return "the key file could not be read or written";
    }
    return "unknown key error";
}

void
keys_author_generate(keys_author_t *out)
{
    crypto_sign_keypair(out->pk, out->sk);
}

void
keys_node_generate(keys_node_t *out)
{
    crypto_box_keypair(out->pk, out->sk);
}

void
keys_author_from_seed(keys_author_t *out, const uint8_t seed[static KEYS_SEED])
{
    crypto_sign_seed_keypair(out->pk, out->sk, seed);
}

void
keys_node_from_seed(keys_node_t *out, const uint8_t seed[static KEYS_SEED])
{
    crypto_box_seed_keypair(out->pk, out->sk, seed);
}

void
keys_author_wipe(keys_author_t *k)
{
    if (k != NULL) {
        sodium_memzero(k, sizeof *k);
    }
}

void
keys_node_wipe(keys_node_t *k)
{
    if (k != NULL) {
        sodium_memzero(k, sizeof *k);
    }
}

/* ---- files ---- */

/* Removes the partial file after a failed write (closing fd first unless it
 * is -1), keeping the errno of the failure: keys.h promises that KEYS_EIO
 * leaves errno set to the cause, so the CLI can print it. */
static keys_err_t
abandon(int fd, const char *path)
{
    int saved = errno;
    if (fd >= 0) {
        close(fd);
    }
    unlink(path);
    errno = saved;
    return KEYS_EIO;
}

static bool
write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EIO;
            }
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Creates path (never over an existing file or through a symbolic link) with
 * mode 0600 and writes buf to it durably. On error no file is left. */
static keys_err_t
write_file(const char *path, const uint8_t *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno == EEXIST ? KEYS_EEXIST : KEYS_EIO;
    }
    /* The umask may have taken the owner's read bit away; the file must be
     * exactly 0600 to be loaded again. */
    if (fchmod(fd, 0600) != 0 || !write_all(fd, buf, len) || fsync(fd) != 0) {
        return abandon(fd, path);
    }
    return close(fd) == 0 ? KEYS_OK : abandon(-1, path);
}

/* Checks that the open file is a regular file that only its owner, who must
 * be us, can read, and not larger than any key file can be. */
static keys_err_t
check_file(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return KEYS_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        return KEYS_ECORRUPT;
    }
    if ((st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
        return KEYS_EMODE;
    }
    return st.st_size > FILE_MAX ? KEYS_ECORRUPT : KEYS_OK;
}

static keys_err_t
read_all(int fd, uint8_t buf[static FILE_MAX], size_t *len)
{
    size_t got = 0;
    while (got < FILE_MAX) {
        ssize_t n = read(fd, buf + got, FILE_MAX - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return KEYS_EIO;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    *len = got;
    return KEYS_OK;
}

/* Reads the whole key file at path into buf (at most FILE_MAX bytes).
 * O_NONBLOCK keeps a FIFO planted at the path from blocking the open; it is
 * then refused as not a regular file. */
static keys_err_t
read_file(const char *path, uint8_t buf[static FILE_MAX], size_t *len)
{
    *len = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) {
            return KEYS_ENOENT;
        }
        return errno == ELOOP ? KEYS_EMODE : KEYS_EIO;
    }
    keys_err_t err = check_file(fd);
    if (err == KEYS_OK) {
        err = read_all(fd, buf, len);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return err;
}

/* Reads magic, version and mode, and checks that the length fits the mode.
 * Returns false for anything we did not write. */
static bool
read_header(bytes_reader_t *r, const uint8_t magic[static 4], size_t len, bool *sealed)
{
    uint8_t m[4];
    bytes_get(r, m, sizeof m);
    uint8_t version = bytes_get_u8(r);
    uint8_t mode = bytes_get_u8(r);
    if (!bytes_reader_ok(r) || memcmp(m, magic, sizeof m) != 0 || version != FORMAT_VERSION) {
        return false;
    }
    *sealed = (mode == MODE_SEALED);
    return (mode == MODE_PLAIN && len == PLAIN_LEN) || (mode == MODE_SEALED && len == SEALED_LEN);
}

static keys_err_t
parse_author(author_file_t *f, const uint8_t *buf, size_t len)
{
    bytes_reader_t r;
    bytes_reader_init(&r, buf, len);
    if (!read_header(&r, AUTHOR_MAGIC, len, &f->sealed)) {
        return KEYS_ECORRUPT;
    }
    if (f->sealed) {
        f->pw.opslimit = bytes_get_u64(&r);
        f->pw.memlimit = bytes_get_u64(&r);
        bytes_get(&r, f->salt, sizeof f->salt);
        bytes_get(&r, f->nonce, sizeof f->nonce);
        bytes_get(&r, f->box, sizeof f->box);
    } else {
        bytes_get(&r, f->seed, sizeof f->seed);
    }
    bytes_get(&r, f->pk, sizeof f->pk);
    if (!bytes_reader_done(&r) || (f->sealed && !pwhash_in_range(&f->pw))) {
        return KEYS_ECORRUPT;
    }
    return KEYS_OK;
}

/* Reads and parses the author file; on error f holds nothing secret. */
static keys_err_t
load_author_file(const char *path, author_file_t *f)
{
    uint8_t buf[FILE_MAX];
    size_t len = 0;
    keys_err_t err = read_file(path, buf, &len);
    if (err == KEYS_OK) {
        err = parse_author(f, buf, len);
    }
    sodium_memzero(buf, sizeof buf);
    if (err != KEYS_OK) {
        sodium_memzero(f, sizeof *f);
    }
    return err;
}

/* Makes the key pair from seed and requires it to give the stored public key. */
static keys_err_t
author_from_checked_seed(keys_author_t *out, const uint8_t seed[static KEYS_SEED],
                         const uint8_t pk[static KEYS_AUTHOR_PK])
{
    keys_author_from_seed(out, seed);
    return sodium_memcmp(out->pk, pk, KEYS_AUTHOR_PK) == 0 ? KEYS_OK : KEYS_ECORRUPT;
}

static keys_err_t
check_passphrase(const char *passphrase)
{
    return strnlen(passphrase, KEYS_PASSPHRASE_MAX + 1) > KEYS_PASSPHRASE_MAX ? KEYS_ETOOLONG
                                                                              : KEYS_OK;
}

/* Argon2id of the passphrase into a secretbox key. */
static keys_err_t
derive_key(uint8_t key[static BOX_KEY_LEN], const char *passphrase,
           const uint8_t salt[static SALT_LEN], const keys_pwhash_t *pw)
{
    if (crypto_pwhash(key, BOX_KEY_LEN, passphrase, strlen(passphrase), salt,
                      (unsigned long long)pw->opslimit, (size_t)pw->memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return KEYS_ENOMEM;
    }
    return KEYS_OK;
}

/* Opens the sealed seed of f with passphrase into out. */
static keys_err_t
unseal(keys_author_t *out, const author_file_t *f, const char *passphrase)
{
    if (passphrase == NULL) {
        return KEYS_ENEEDPASS;
    }
    keys_err_t err = check_passphrase(passphrase);
    if (err != KEYS_OK) {
        return err;
    }
    uint8_t key[BOX_KEY_LEN];
    uint8_t seed[KEYS_SEED];
    err = derive_key(key, passphrase, f->salt, &f->pw);
    if (err == KEYS_OK &&
        crypto_secretbox_open_easy(seed, f->box, sizeof f->box, f->nonce, key) != 0) {
        err = KEYS_EPASSPHRASE;
    }
    if (err == KEYS_OK) {
        err = author_from_checked_seed(out, seed, f->pk);
    }
    sodium_memzero(key, sizeof key);
    sodium_memzero(seed, sizeof seed);
    return err;
}

keys_err_t
keys_author_load(const char *path, const char *passphrase, keys_author_t *out)
{
    author_file_t f;
    keys_err_t err = load_author_file(path, &f);
    if (err == KEYS_OK) {
        err = f.sealed ? unseal(out, &f, passphrase) : author_from_checked_seed(out, f.seed, f.pk);
    }
    sodium_memzero(&f, sizeof f);
    if (err != KEYS_OK) {
        keys_author_wipe(out);
    }
    return err;
}

keys_err_t
keys_author_load_public(const char *path, uint8_t pk[static KEYS_AUTHOR_PK], bool *sealed)
{
    author_file_t f;
    keys_author_t k;
    keys_err_t err = load_author_file(path, &f);
    /* An unsealed file can be checked against itself here too, so a damaged
     * file is reported the same way by every command. A sealed one cannot
     * without the passphrase. */
    if (err == KEYS_OK && !f.sealed) {
        err = author_from_checked_seed(&k, f.seed, f.pk);
        keys_author_wipe(&k);
    }
    if (err == KEYS_OK) {
        memcpy(pk, f.pk, KEYS_AUTHOR_PK);
        if (sealed != NULL) {
            *sealed = f.sealed;
        }
    }
    sodium_memzero(&f, sizeof f);
    return err;
}

static void
put_header(bytes_writer_t *w, const uint8_t magic[static 4], uint8_t mode)
{
    bytes_put(w, magic, 4);
    bytes_put_u8(w, FORMAT_VERSION);
    bytes_put_u8(w, mode);
}

/* Seals the seed of k into w with a fresh salt and nonce. */
static keys_err_t
put_sealed(bytes_writer_t *w, const keys_author_t *k, const char *passphrase,
           const keys_pwhash_t *pw)
{
    uint8_t salt[SALT_LEN];
    uint8_t nonce[NONCE_LEN];
    uint8_t box[BOX_LEN];
    uint8_t key[BOX_KEY_LEN];
    randombytes_buf(salt, sizeof salt);
    randombytes_buf(nonce, sizeof nonce);
    keys_err_t err = derive_key(key, passphrase, salt, pw);
    if (err == KEYS_OK) {
        crypto_secretbox_easy(box, k->sk, KEYS_SEED, nonce, key);
        put_header(w, AUTHOR_MAGIC, MODE_SEALED);
        bytes_put_u64(w, pw->opslimit);
        bytes_put_u64(w, pw->memlimit);
        bytes_put(w, salt, sizeof salt);
        bytes_put(w, nonce, sizeof nonce);
        bytes_put(w, box, sizeof box);
        bytes_put(w, k->pk, KEYS_AUTHOR_PK);
    }
    sodium_memzero(key, sizeof key);
    return err;
}

/* Refuses a key pair whose halves do not match: its file would never load. */
static keys_err_t
check_author_pair(const keys_author_t *k)
{
    keys_author_t again;
    keys_err_t err = author_from_checked_seed(&again, k->sk, k->pk);
    if (err == KEYS_OK && sodium_memcmp(again.sk, k->sk, KEYS_AUTHOR_SK) != 0) {
        err = KEYS_ECORRUPT;
    }
    keys_author_wipe(&again);
    return err;
}

keys_err_t
keys_author_save(const char *path, const keys_author_t *k, const char *passphrase,
                 const keys_pwhash_t *pw)
{
    keys_pwhash_t def = keys_pwhash_default();
    pw = (pw != NULL) ? pw : &def;
    keys_err_t err = (passphrase != NULL) ? check_passphrase(passphrase) : KEYS_OK;
    /* Costs the loader refuses would make a file that never opens again. */
    if (err == KEYS_OK && passphrase != NULL && !pwhash_in_range(pw)) {
        err = KEYS_ECORRUPT;
    }
    if (err == KEYS_OK) {
        err = check_author_pair(k);
    }
    if (err != KEYS_OK) {
        return err;
    }
    uint8_t buf[SEALED_LEN];
    bytes_writer_t w;
    bytes_writer_init(&w, buf, sizeof buf);
    if (passphrase != NULL) {
        err = put_sealed(&w, k, passphrase, pw);
    } else {
        put_header(&w, AUTHOR_MAGIC, MODE_PLAIN);
        bytes_put(&w, k->sk, KEYS_SEED);
        bytes_put(&w, k->pk, KEYS_AUTHOR_PK);
    }
    if (err == KEYS_OK) {
        assert(bytes_writer_ok(&w) && w.len == (passphrase != NULL ? SEALED_LEN : PLAIN_LEN));
        err = write_file(path, buf, w.len);
    }
    sodium_memzero(buf, sizeof buf);
    return err;
}

/* Requires the node public key to be the one the secret gives. */
static keys_err_t
check_node_pair(const keys_node_t *k)
{
    uint8_t pk[KEYS_NODE_PK];
    if (crypto_scalarmult_base(pk, k->sk) != 0) {
        return KEYS_ECORRUPT;
    }
    return sodium_memcmp(pk, k->pk, KEYS_NODE_PK) == 0 ? KEYS_OK : KEYS_ECORRUPT;
}

keys_err_t
keys_node_save(const char *path, const keys_node_t *k)
{
    keys_err_t err = check_node_pair(k);
    if (err != KEYS_OK) {
        return err;
    }
    uint8_t buf[PLAIN_LEN];
    bytes_writer_t w;
    bytes_writer_init(&w, buf, sizeof buf);
    put_header(&w, NODE_MAGIC, MODE_PLAIN);
    bytes_put(&w, k->sk, KEYS_NODE_SK);
    bytes_put(&w, k->pk, KEYS_NODE_PK);
    assert(bytes_writer_ok(&w) && w.len == PLAIN_LEN);
    err = write_file(path, buf, w.len);
    sodium_memzero(buf, sizeof buf);
    return err;
}

static keys_err_t
parse_node(keys_node_t *out, const uint8_t *buf, size_t len)
{
    bytes_reader_t r;
    bool sealed = false;
    bytes_reader_init(&r, buf, len);
    if (!read_header(&r, NODE_MAGIC, len, &sealed) || sealed) {
        return KEYS_ECORRUPT;
    }
    bytes_get(&r, out->sk, KEYS_NODE_SK);
    bytes_get(&r, out->pk, KEYS_NODE_PK);
    if (!bytes_reader_done(&r)) {
        return KEYS_ECORRUPT;
    }
    return check_node_pair(out);
}

keys_err_t
keys_node_load(const char *path, keys_node_t *out)
{
    uint8_t buf[FILE_MAX];
    size_t len = 0;
    keys_err_t err = read_file(path, buf, &len);
    if (err == KEYS_OK) {
        err = parse_node(out, buf, len);
    }
    sodium_memzero(buf, sizeof buf);
    if (err != KEYS_OK) {
        keys_node_wipe(out);
    }
    return err;
}
