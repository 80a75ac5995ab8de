/* ownmark: see ownmark.h. The file is one line of text, so a person can
 * read it: "samizdat-own-seq-v1 <author key text> <seq>\n". */
#include "ownmark.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keytext.h"

#define MAGIC "samizdat-own-seq-v1"

enum {
    PATH_CAP = 1024,
    LINE_CAP = 256, /* the magic, a key text, a u64 and separators fit with room */
};

const char *
ownmark_strerror(ownmark_err_t err)
{
    switch (err) {
    case OWNMARK_OK:
        return "ok";
    case OWNMARK_EINVAL:
        return "invalid argument";
    case OWNMARK_EDAMAGED:
        return "the file is damaged";
    case OWNMARK_EIO:
        return "input/output error";
    }
    return "unknown error";
}

static bool
path_of(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_CAP, "%s/%s", dir, name);
    return n > 0 && n < PATH_CAP;
}

/* Parses a whole file's bytes; *seq = 0 for another author. */
static ownmark_err_t
parse(const char *buf, size_t len, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t *seq)
{
    size_t magic = strlen(MAGIC);
    if (len < magic + 4 || buf[len - 1] != '\n' || memcmp(buf, MAGIC, magic) != 0 ||
        buf[magic] != ' ' || memchr(buf, '\0', len) != NULL) {
        return OWNMARK_EDAMAGED;
    }
    const char *key = buf + magic + 1;
    const char *space = memchr(key, ' ', len - magic - 1);
    if (space == NULL) {
        return OWNMARK_EDAMAGED;
    }
    char text[KEYTEXT_BUFSZ];
    size_t key_len = (size_t)(space - key);
    if (key_len >= sizeof text) {
        return OWNMARK_EDAMAGED;
    }
    memcpy(text, key, key_len);
    text[key_len] = '\0';
    uint8_t pk[KEYS_PUBLIC_SIZE];
    if (keytext_decode(pk, KEYTEXT_AUTHOR, text) != KEYTEXT_OK) {
        return OWNMARK_EDAMAGED;
    }
    const char *num = space + 1;
    const char *end = buf + len - 1;
    if (num == end || (num[0] == '0' && end - num > 1)) {
        return OWNMARK_EDAMAGED;
    }
    uint64_t v = 0;
    for (const char *c = num; c < end; c++) {
        if (*c < '0' || *c > '9' || v > (UINT64_MAX - (uint64_t)(*c - '0')) / 10) {
            return OWNMARK_EDAMAGED;
        }
        v = v * 10 + (uint64_t)(*c - '0');
    }
    *seq = memcmp(pk, author, KEYS_PUBLIC_SIZE) == 0 ? v : 0;
    return OWNMARK_OK;
}

ownmark_err_t
ownmark_read(const char *dir, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t *seq)
{
    char path[PATH_CAP];
    if (dir == NULL || seq == NULL || !path_of(path, dir, OWNMARK_FILE)) {
        return OWNMARK_EINVAL;
    }
    *seq = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? OWNMARK_OK : OWNMARK_EIO;
    }
    char buf[LINE_CAP + 1];
    size_t len = 0;
    ssize_t got;
    while (len < sizeof buf && (got = read(fd, buf + len, sizeof buf - len)) != 0) {
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            close(fd);
            return OWNMARK_EIO;
        }
        len += (size_t)got;
    }
    close(fd);
    if (len > LINE_CAP) {
        return OWNMARK_EDAMAGED;
    }
    return parse(buf, len, author, seq);
}

static bool
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool
sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

ownmark_err_t
ownmark_write(const char *dir, const uint8_t author[static KEYS_PUBLIC_SIZE], uint64_t seq)
{
    char path[PATH_CAP], tmp[PATH_CAP];
    if (dir == NULL || !path_of(path, dir, OWNMARK_FILE) ||
        !path_of(tmp, dir, OWNMARK_FILE ".new")) {
        return OWNMARK_EINVAL;
    }
    char key[KEYTEXT_BUFSZ];
    keytext_encode(key, KEYTEXT_AUTHOR, author);
    char line[LINE_CAP];
    int n = snprintf(line, sizeof line, "%s %s %" PRIu64 "\n", MAGIC, key, seq);
    if (n <= 0 || n >= (int)sizeof line) {
        return OWNMARK_EINVAL;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return OWNMARK_EIO;
    }
    bool ok = write_all(fd, line, (size_t)n) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        (void)unlink(tmp);
        errno = e;
        return OWNMARK_EIO;
    }
    return sync_dir(dir) ? OWNMARK_OK : OWNMARK_EIO;
}
