/* keys: author and node key pairs, and the files that hold them.
 *
 * Author key: Ed25519 (crypto_sign). It signs posts; its public half, in the
 * text form of keytext.h, is what people follow.
 * Node key: X25519 (crypto_box / crypto_scalarmult), used as the node's
 * CurveZMQ key. Keeping it apart means the network address does not name the
 * author.
 *
 * Key files are created with O_CREAT | O_EXCL | O_NOFOLLOW and mode 0600, and
 * refused on load when group or others may read them or when another user
 * owns them. The author secret may be sealed with a passphrase: Argon2id
 * (crypto_pwhash) derives a key that opens an XSalsa20-Poly1305 secretbox.
 * The file formats are in docs/PROTOCOL.md. */
#ifndef SAMIZDAT_KEYS_H
#define SAMIZDAT_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    /* Every public key, author or node, is this long: the one name for a
     * 32-byte key where the kind does not matter (tables, wire, DHT). */
    KEYS_PUBLIC_SIZE = 32,
    KEYS_AUTHOR_PK = KEYS_PUBLIC_SIZE,
    KEYS_AUTHOR_SK = 64, /* libsodium's form: seed || public key */
    KEYS_SEED = 32,
    KEYS_NODE_PK = KEYS_PUBLIC_SIZE,
    KEYS_NODE_SK = 32,
    KEYS_PASSPHRASE_MAX = 1024, /* bytes; longer passphrases are refused */
};

typedef struct {
    uint8_t pk[KEYS_AUTHOR_PK];
    uint8_t sk[KEYS_AUTHOR_SK];
} keys_author_t;

typedef struct {
    uint8_t pk[KEYS_NODE_PK];
    uint8_t sk[KEYS_NODE_SK];
} keys_node_t;

/* Cost of the passphrase hash. Stored in the sealed file, so a file sealed
 * with one setting opens with any. Loading refuses costs above
 * crypto_pwhash's SENSITIVE limits, so a crafted file cannot make us
 * allocate without bound. */
typedef struct {
    uint64_t opslimit;
    uint64_t memlimit;
} keys_pwhash_t;

/* crypto_pwhash_OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE (64 MiB). */
keys_pwhash_t keys_pwhash_default(void);
/* crypto_pwhash's minimum: for tests only. */
keys_pwhash_t keys_pwhash_fast(void);

typedef enum {
    KEYS_OK = 0,
    KEYS_ENOENT,      /* the file does not exist */
    KEYS_EEXIST,      /* refusing to overwrite an existing key file */
    KEYS_EMODE,       /* readable by group/others, or owned by another user */
    KEYS_ECORRUPT,    /* wrong size, magic, version, or a key that does not match itself */
    KEYS_ENEEDPASS,   /* the file is sealed and no passphrase was given */
    KEYS_EPASSPHRASE, /* wrong passphrase (or the sealed part was altered) */
    KEYS_ETOOLONG,    /* passphrase longer than KEYS_PASSPHRASE_MAX */
    KEYS_ENOMEM,      /* crypto_pwhash could not get its memory */
    KEYS_EIO,         /* any other I/O error; errno is left set to the cause */
} keys_err_t;

const char *keys_strerror(keys_err_t err);

/* Fresh random key pairs. Cannot fail. */
void keys_author_generate(keys_author_t *out);
void keys_node_generate(keys_node_t *out);
/* Deterministic key pairs, for test vectors. Cannot fail. */
void keys_author_from_seed(keys_author_t *out, const uint8_t seed[static KEYS_SEED]);
void keys_node_from_seed(keys_node_t *out, const uint8_t seed[static KEYS_SEED]);

/* Wipes a key pair with sodium_memzero. Accepts NULL. */
void keys_author_wipe(keys_author_t *k);
void keys_node_wipe(keys_node_t *k);

/* Writes the author key file at path (mode 0600, fsync'd). passphrase NULL:
 * unsealed. Otherwise sealed with pw (NULL pw means keys_pwhash_default()).
 * On error no file is left behind. passphrase borrowed for the call.
 * A key pair whose public half does not match its secret, or (when sealing)
 * pw costs the loader would refuse (outside crypto_pwhash's MIN..SENSITIVE
 * range, or a memlimit that is not a multiple of 1024), gives KEYS_ECORRUPT
 * and writes nothing. KEYS_EIO leaves errno set. */
keys_err_t keys_author_save(const char *path, const keys_author_t *k, const char *passphrase,
                            const keys_pwhash_t *pw);

/* Reads the author key file. passphrase may be NULL for an unsealed file; a
 * sealed one then gives KEYS_ENEEDPASS. On error *out is wiped. */
keys_err_t keys_author_load(const char *path, const char *passphrase, keys_author_t *out);

/* Reads only the public key, which both file forms hold in the clear, so
 * `whoami` never needs the passphrase. Same checks on mode and format. */
keys_err_t keys_author_load_public(const char *path, uint8_t pk[static KEYS_AUTHOR_PK],
                                   bool *sealed);

keys_err_t keys_node_save(const char *path, const keys_node_t *k);
keys_err_t keys_node_load(const char *path, keys_node_t *out);

#endif
