/* datadir: where a node keeps its keys and store.
 *
 * The directory is chosen by, in order: the --data option, $SAMIZDAT_DATA,
 * $XDG_DATA_HOME/samizdat, ~/.local/share/samizdat. It is created with mode
 * 0700 (parents with the default mode). Layout:
 *
 *     author.key   the author key file (keys.h)
 *     node.key     the node key file
 *     store/       the LevelDB database (store.h) */
#ifndef SAMIZDAT_DATADIR_H
#define SAMIZDAT_DATADIR_H

#include <stdbool.h>
#include <stddef.h>

enum { DATADIR_PATH_MAX = 4096 };

typedef enum {
    DATADIR_OK = 0,
    DATADIR_ENOHOME,   /* no option, no environment variable and no $HOME */
    DATADIR_ETOOLONG,  /* the path does not fit DATADIR_PATH_MAX */
    DATADIR_EIO,       /* mkdir or stat failed; errno is set */
    DATADIR_ENOTDIR,   /* the path exists and is not a directory */
    DATADIR_EMODE,     /* group or others may write it, or another user owns it */
} datadir_err_t;

const char *datadir_strerror(datadir_err_t err);

/* Picks the directory (see above) into out. option may be NULL. Does not
 * touch the file system. */
datadir_err_t datadir_resolve(char *out, size_t cap, const char *option);

/* Creates dir (mode 0700) and missing parents, or checks an existing one. */
datadir_err_t datadir_ensure(const char *dir);

/* Joins dir and name into out. DATADIR_ETOOLONG when it does not fit. */
datadir_err_t datadir_path(char *out, size_t cap, const char *dir, const char *name);

#endif
