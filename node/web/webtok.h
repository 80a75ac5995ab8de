/* webtok: the API's bearer tokens, in DATA/api-tokens.
 *
 * A token is shown once, when it is created, and only its hash is kept
 * (BLAKE2b-256 of the token text): a copy of the data directory does not
 * give access to the API. Each token has a name (unique) and scopes:
 * read (GET endpoints), post (publish: post, reply, delete, profile) and
 * admin (everything, follows and peers included). `samizdat token
 * create|list|revoke` and the running node share the file; the node reads
 * it at each API request, so a revoked token stops working at once.
 *
 * The file: one token per line, "1 HASH SCOPES CREATED NAME\n": HASH 64
 * lowercase hex digits, SCOPES a comma list, CREATED wall-clock ms, NAME
 * to the end of the line. Written whole to a temporary file and renamed,
 * mode 0600. docs/INTERNALS.md describes it. */
#ifndef SAMIZDAT_WEBTOK_H
#define SAMIZDAT_WEBTOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    WEBTOK_SCOPE_READ = 1,
    WEBTOK_SCOPE_POST = 2,
    WEBTOK_SCOPE_ADMIN = 4,
    WEBTOK_MAX = 64,          /* tokens in the file */
    WEBTOK_NAME_MAX = 64,     /* bytes of a name: printable ASCII, no space at ends */
    WEBTOK_TEXT_LEN = 4 + 64, /* "szt_" and 64 hex digits */
    WEBTOK_TEXT_SIZE = WEBTOK_TEXT_LEN + 1,
};

typedef enum {
    WEBTOK_OK = 0,
    WEBTOK_EIO,       /* the file could not be read or written */
    WEBTOK_EINVAL,    /* a bad name or scope */
    WEBTOK_EEXISTS,   /* a token of that name exists */
    WEBTOK_ENOTFOUND, /* no token of that name / the token is not valid */
    WEBTOK_EFULL,     /* WEBTOK_MAX tokens already */
    WEBTOK_ECORRUPT,  /* the file holds a line that is not a token */
} webtok_err_t;

typedef struct {
    char name[WEBTOK_NAME_MAX + 1];
    unsigned scopes;
    uint64_t created_ms;
} webtok_info_t;

const char *webtok_strerror(webtok_err_t err);

/* "read", "post", "admin" (or a comma list) into a scope mask; false for
 * an unknown word. */
bool webtok_scopes_parse(const char *s, unsigned *out);
/* The comma list of a mask into out (at least 24 bytes). */
void webtok_scopes_format(unsigned scopes, char *out, size_t cap);
/* Whether name is a usable token name. */
bool webtok_name_valid(const char *name);

/* Creates a token: its text (NUL-terminated) goes into token; only its
 * hash is saved. */
webtok_err_t webtok_create(const char *dir, const char *name, unsigned scopes, uint64_t now_ms,
                           char token[static WEBTOK_TEXT_SIZE]);
/* The tokens, at most max into out; *n is how many there are. */
webtok_err_t webtok_list(const char *dir, webtok_info_t *out, size_t max, size_t *n);
webtok_err_t webtok_revoke(const char *dir, const char *name);
/* Whether text is a saved token: its info (scopes) into out. ENOTFOUND
 * when it is not. Compares hashes in constant time. */
webtok_err_t webtok_check(const char *dir, const char *text, webtok_info_t *out);

#endif
