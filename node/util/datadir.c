#include "datadir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *
datadir_strerror(datadir_err_t err)
{
    switch (err) {
    case DATADIR_OK:
        return "ok";
    case DATADIR_ENOHOME:
        return "no data directory: set --data, SAMIZDAT_DATA or HOME";
    case DATADIR_ETOOLONG:
        return "data directory path is too long";
    case DATADIR_EIO:
        return "cannot create or read the data directory";
    case DATADIR_ENOTDIR:
        return "data directory path exists and is not a directory";
    case DATADIR_EMODE:
        return "data directory is writable by other users or owned by someone else";
    }
    return "unknown data directory error";
}

static datadir_err_t
fit(char *out, size_t cap, int n)
{
    return (n < 0 || (size_t)n >= cap) ? DATADIR_ETOOLONG : DATADIR_OK;
}

static bool
set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

datadir_err_t
datadir_resolve(char *out, size_t cap, const char *option)
{
    if (set(option)) {
        return fit(out, cap, snprintf(out, cap, "%s", option));
    }
    const char *env = getenv("SAMIZDAT_DATA");
    if (set(env)) {
        return fit(out, cap, snprintf(out, cap, "%s", env));
    }
    const char *xdg = getenv("XDG_DATA_HOME");
    if (set(xdg)) {
        return fit(out, cap, snprintf(out, cap, "%s/samizdat", xdg));
    }
    const char *home = getenv("HOME");
    if (set(home)) {
        return fit(out, cap, snprintf(out, cap, "%s/.local/share/samizdat", home));
    }
    return DATADIR_ENOHOME;
}

/* mkdir -p for the parents of path, with the default mode. */
static datadir_err_t
make_parents(const char *path)
{
    char buf[DATADIR_PATH_MAX];
    if (fit(buf, sizeof buf, snprintf(buf, sizeof buf, "%s", path)) != DATADIR_OK) {
        return DATADIR_ETOOLONG;
    }
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            return DATADIR_EIO;
        }
        *p = '/';
    }
    return DATADIR_OK;
}

datadir_err_t
datadir_ensure(const char *dir)
{
    datadir_err_t err = make_parents(dir);
    if (err != DATADIR_OK) {
        return err;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return DATADIR_EIO;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        return DATADIR_EIO;
    }
    if (!S_ISDIR(st.st_mode)) {
        return DATADIR_ENOTDIR;
    }
    /* Someone else able to write here could swap our key files. */
    if ((st.st_mode & 022) != 0 || st.st_uid != geteuid()) {
        return DATADIR_EMODE;
    }
    return DATADIR_OK;
}

datadir_err_t
datadir_path(char *out, size_t cap, const char *dir, const char *name)
{
    return fit(out, cap, snprintf(out, cap, "%s/%s", dir, name));
}
