#include "webtok.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datadir.h"

enum { HASH_SIZE = 32, LINE_MAX_ = 256 };

static const char FILE_NAME[] = "api-tokens";

typedef struct {
    webtok_info_t info;
    uint8_t hash[HASH_SIZE];
} entry_t;

typedef struct {
    size_t n;
    entry_t e[WEBTOK_MAX];
} table_t;

const char *
webtok_strerror(webtok_err_t err)
{
    switch (err) {
    case WEBTOK_OK:
        return "ok";
    case WEBTOK_EIO:
        return "cannot read or write the token file";
    case WEBTOK_EINVAL:
        return "a bad token name or scope";
    case WEBTOK_EEXISTS:
        return "a token of that name exists";
    case WEBTOK_ENOTFOUND:
        return "no such token";
    case WEBTOK_EFULL:
        return "too many tokens (revoke one first)";
    case WEBTOK_ECORRUPT:
        return "the token file holds a line that is not a token";
    }
    return "?";
}

static const char *const SCOPE_NAMES[] = {"read", "post", "admin"};

bool
webtok_scopes_parse(const char *s, unsigned *out)
{
    *out = 0;
    while (*s != '\0') {
        size_t n = strcspn(s, ",");
        bool known = false;
        for (unsigned i = 0; i < 3; i++) {
            if (strlen(SCOPE_NAMES[i]) == n && memcmp(s, SCOPE_NAMES[i], n) == 0) {
                *out |= 1u << i;
                known = true;
            }
        }
        if (!known) {
            return false;
        }
        s += n;
        if (*s == ',') {
            s++;
        }
    }
    return *out != 0;
}

void
webtok_scopes_format(unsigned scopes, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < 3; i++) {
        if (scopes & (1u << i)) {
            int n = snprintf(out + o, cap - o, "%s%s", o ? "," : "", SCOPE_NAMES[i]);
            if (n < 0 || (size_t)n >= cap - o) {
                return;
            }
            o += (size_t)n;
        }
    }
}

bool
webtok_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > WEBTOK_NAME_MAX || name[0] == ' ' || name[n - 1] == ' ') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (name[i] < 0x20 || name[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

static void
hash_text(uint8_t out[HASH_SIZE], const char *text)
{
    crypto_generichash(out, HASH_SIZE, (const unsigned char *)text, strlen(text), NULL, 0);
}

static bool
parse_line(char *line, entry_t *e)
{
    char hex[2 * HASH_SIZE + 1], scopes[32];
    unsigned long long created = 0;
    int used = 0;
    if (sscanf(line, "1 %64s %31s %llu %n", hex, scopes, &created, &used) != 3 || used == 0) {
        return false;
    }
    char *name = line + used;
    name[strcspn(name, "\n")] = '\0';
    size_t bin = 0;
    if (sodium_hex2bin(e->hash, HASH_SIZE, hex, strlen(hex), NULL, &bin, NULL) != 0 ||
        bin != HASH_SIZE || !webtok_scopes_parse(scopes, &e->info.scopes) ||
        !webtok_name_valid(name)) {
        return false;
    }
    snprintf(e->info.name, sizeof e->info.name, "%s", name);
    e->info.created_ms = created;
    return true;
}

static webtok_err_t
load(const char *dir, table_t *t)
{
    memset(t, 0, sizeof *t);
    char path[DATADIR_PATH_MAX];
    if (datadir_path(path, sizeof path, dir, FILE_NAME) != DATADIR_OK) {
        return WEBTOK_EIO;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return errno == ENOENT ? WEBTOK_OK : WEBTOK_EIO;
    }
    char line[LINE_MAX_];
    webtok_err_t err = WEBTOK_OK;
    while (err == WEBTOK_OK && fgets(line, sizeof line, f) != NULL) {
        if (t->n == WEBTOK_MAX || !parse_line(line, &t->e[t->n])) {
            err = WEBTOK_ECORRUPT;
        } else {
            t->n++;
        }
    }
    if (ferror(f)) {
        err = WEBTOK_EIO;
    }
    fclose(f);
    return err;
}

static webtok_err_t
save(const char *dir, const table_t *t)
{
    char path[DATADIR_PATH_MAX], tmp[DATADIR_PATH_MAX];
    if (datadir_path(path, sizeof path, dir, FILE_NAME) != DATADIR_OK ||
        datadir_path(tmp, sizeof tmp, dir, "api-tokens.tmp") != DATADIR_OK) {
        return WEBTOK_EIO;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return WEBTOK_EIO;
    }
    for (size_t i = 0; i < t->n; i++) {
        char hex[2 * HASH_SIZE + 1], scopes[32];
        sodium_bin2hex(hex, sizeof hex, t->e[i].hash, HASH_SIZE);
        webtok_scopes_format(t->e[i].info.scopes, scopes, sizeof scopes);
        fprintf(f, "1 %s %s %llu %s\n", hex, scopes, (unsigned long long)t->e[i].info.created_ms,
                t->e[i].info.name);
    }
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return WEBTOK_EIO;
    }
    return WEBTOK_OK;
}

static entry_t *
find_name(table_t *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->e[i].info.name, name) == 0) {
            return &t->e[i];
        }
    }
    return NULL;
}

webtok_err_t
webtok_create(const char *dir, const char *name, unsigned scopes, uint64_t now_ms,
              char token[static WEBTOK_TEXT_SIZE])
{
    token[0] = '\0';
    if (!webtok_name_valid(name) || scopes == 0 || scopes > 7) {
        return WEBTOK_EINVAL;
    }
    table_t t;
    webtok_err_t err = load(dir, &t);
    if (err != WEBTOK_OK) {
        return err;
    }
    if (find_name(&t, name) != NULL) {
        return WEBTOK_EEXISTS;
    }
    if (t.n == WEBTOK_MAX) {
        return WEBTOK_EFULL;
    }
    uint8_t secret[32];
    randombytes_buf(secret, sizeof secret);
    memcpy(token, "szt_", 4);
    sodium_bin2hex(token + 4, WEBTOK_TEXT_SIZE - 4, secret, sizeof secret);
    sodium_memzero(secret, sizeof secret);
    entry_t *e = &t.e[t.n++];
    memset(e, 0, sizeof *e);
    snprintf(e->info.name, sizeof e->info.name, "%s", name);
    e->info.scopes = scopes;
    e->info.created_ms = now_ms;
    hash_text(e->hash, token);
    err = save(dir, &t);
    if (err != WEBTOK_OK) {
        sodium_memzero(token, WEBTOK_TEXT_SIZE);
    }
    return err;
}

webtok_err_t
webtok_list(const char *dir, webtok_info_t *out, size_t max, size_t *n)
{
    table_t t;
    *n = 0;
    webtok_err_t err = load(dir, &t);
    if (err != WEBTOK_OK) {
        return err;
    }
    for (size_t i = 0; i < t.n && i < max; i++) {
        out[i] = t.e[i].info;
    }
    *n = t.n;
    return WEBTOK_OK;
}

webtok_err_t
webtok_revoke(const char *dir, const char *name)
{
    table_t t;
    webtok_err_t err = load(dir, &t);
    if (err != WEBTOK_OK) {
        return err;
    }
    entry_t *e = find_name(&t, name);
    if (e == NULL) {
        return WEBTOK_ENOTFOUND;
    }
    *e = t.e[--t.n];
    return save(dir, &t);
}

webtok_err_t
webtok_check(const char *dir, const char *text, webtok_info_t *out)
{
    if (strlen(text) != WEBTOK_TEXT_LEN || strncmp(text, "szt_", 4) != 0) {
        return WEBTOK_ENOTFOUND;
    }
    table_t t;
    webtok_err_t err = load(dir, &t);
    if (err != WEBTOK_OK) {
        return err;
    }
    uint8_t h[HASH_SIZE];
    hash_text(h, text);
    bool found = false;
    for (size_t i = 0; i < t.n; i++) {
        if (sodium_memcmp(h, t.e[i].hash, HASH_SIZE) == 0) {
            *out = t.e[i].info;
            found = true;
        }
    }
    return found ? WEBTOK_OK : WEBTOK_ENOTFOUND;
}
