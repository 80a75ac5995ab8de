#!/bin/sh
# check-layers.sh [--table FILE] [SOURCE_ROOT]
#
# Checks that every .c and .h file of the library folders (crypto/, store/,
# dht/, node/*/) includes only what its layer may. The include paths of the
# build already hide the headers of a project library a target does not link,
# but system headers (<uv.h>, <zmq.h>, <leveldb/c.h>) are found from
# everywhere; this script is what keeps, for example, gossip free of the
# event loop. The build runs it (target check_layers), so a wrong include
# fails `cmake --build`.
#
# Prints one line per wrong include to stderr (file:line: error: what, and
# the rule) and exits 1; exits 0 when every include is allowed, 2 on a usage or table error.
# --table FILE reads the layer table from FILE instead of LAYERS below (the
# test uses it to show that a cycle is refused).
set -eu

# The layers of samizdat, lowest first: the one place they are written down
# (docs/ARCHITECTURE.md draws them). Each row names a folder, then what its
# files may include besides the headers of their own folder and the C
# library: project folders (their headers) and system libraries (see
# LIBRARIES). "-" means nothing more.
#
# A row may only name folders of the rows above it. The script refuses a
# table that breaks this, so the allowed includes between folders have no
# cycle by construction, and the actual includes, a subset of them, have
# none either.
LAYERS='
crypto       sodium
store        crypto sodium leveldb
dht          crypto sodium
node/util    -
node/gossip  crypto sodium
node/net     dht crypto node/util sodium zmq uv natpmp miniupnpc
node/core    node/net node/gossip dht store crypto node/util sodium uv
node/app     node/core node/net node/gossip dht store crypto node/util sodium uv
node/web     node/app node/core node/net dht store crypto node/util sodium uv qrencode microhttpd
node/cli     node/web node/app node/core node/net dht store crypto node/util sodium uv
'

# The system libraries a layer may be allowed, by the headers they install.
# "dir/*" is every header below dir/.
LIBRARIES='
sodium    sodium.h sodium/*
leveldb   leveldb/*
zmq       zmq.h zmq_utils.h
uv        uv.h uv/*
qrencode  qrencode.h
natpmp    natpmp.h
miniupnpc miniupnpc/*
microhttpd microhttpd.h
'

# The C library (C11, POSIX and the Linux headers glibc ships): allowed
# everywhere. A system header in neither list is refused until someone adds
# it to one of them, so a new dependency cannot slip in unnoticed.
LIBC='
assert.h complex.h ctype.h errno.h fenv.h float.h inttypes.h iso646.h limits.h
locale.h math.h setjmp.h signal.h stdalign.h stdarg.h stdatomic.h stdbool.h
stddef.h stdint.h stdio.h stdlib.h stdnoreturn.h string.h tgmath.h threads.h
time.h uchar.h wchar.h wctype.h
aio.h dirent.h dlfcn.h endian.h fcntl.h fnmatch.h ftw.h glob.h grp.h iconv.h
ifaddrs.h langinfo.h libgen.h netdb.h nl_types.h poll.h pthread.h pwd.h
regex.h sched.h search.h semaphore.h spawn.h strings.h syslog.h termios.h
unistd.h utime.h wordexp.h
sys/* arpa/* net/* netinet/* linux/*
'

table_file=""
if [ "${1:-}" = "--table" ]; then
    [ $# -ge 2 ] || { echo "usage: check-layers.sh [--table FILE] [SOURCE_ROOT]" >&2; exit 2; }
    table_file=$2
    shift 2
fi
if [ $# -gt 1 ]; then
    echo "usage: check-layers.sh [--table FILE] [SOURCE_ROOT]" >&2
    exit 2
fi
root=${1:-$(dirname "$0")/..}
if [ -n "$table_file" ]; then
    LAYERS=$(cat "$table_file")
fi
cd "$root"

# Every source file of the library folders; node/ itself counts as a folder
# so that a file put straight into it is reported (it has no row).
files=$(find crypto store dht node -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | LC_ALL=C sort)
if [ -z "$files" ]; then
    echo "check-layers: no sources under $(pwd)" >&2
    exit 2
fi

export LAYERS LIBRARIES LIBC
# shellcheck disable=SC2086
printf '%s\n' $files | LC_ALL=C awk '
function dir_of(path) {
    sub(/\/[^\/]*$/, "", path)
    return path
}
function base_of(path) {
    sub(/^.*\//, "", path)
    return path
}
# The library group a system header belongs to, "libc", or "" if unknown.
function group_of(h,    i) {
    if (h in libhdr) {
        return libhdr[h]
    }
    for (i = 1; i <= nprefix; i++) {
        if (index(h, prefix[i]) == 1) {
            return prefixgroup[i]
        }
    }
    return ""
}
function fail(where, text) {
    print where ": error: " text > "/dev/stderr"
    bad++
    badfile[where_file] = 1
}
BEGIN {
    # The table: rows in order; a row may name only folders of earlier rows.
    n = split(ENVIRON["LAYERS"], rows, "\n")
    for (r = 1; r <= n; r++) {
        k = split(rows[r], w, /[ \t]+/)
        first = (w[1] == "") ? 2 : 1
        if (k < first) {
            continue
        }
        folder = w[first]
        if (folder in row) {
            printf "check-layers: table: %s has two rows\n", folder > "/dev/stderr"
            tableerr = 1
        }
        row[folder] = 1
        allowed_text[folder] = ""
        for (j = first + 1; j <= k; j++) {
            if (w[j] == "-" || w[j] == "") {
                continue
            }
            may[folder, w[j]] = 1
            allowed_text[folder] = allowed_text[folder] " " w[j]
            if (w[j] ~ /^[a-z]+(\/[a-z]+)?$/ && !(w[j] in row) && !(w[j] in libname)) {
                later[folder, w[j]] = 1
            }
        }
        if (allowed_text[folder] == "") {
            allowed_text[folder] = " nothing but its own headers and the C library"
        }
    }
    # System libraries and their headers.
    n = split(ENVIRON["LIBRARIES"], rows, "\n")
    for (r = 1; r <= n; r++) {
        k = split(rows[r], w, /[ \t]+/)
        first = (w[1] == "") ? 2 : 1
        if (k < first) {
            continue
        }
        libname[w[first]] = 1
        for (j = first + 1; j <= k; j++) {
            if (w[j] ~ /\/\*$/) {
                prefix[++nprefix] = substr(w[j], 1, length(w[j]) - 1)
                prefixgroup[nprefix] = w[first]
            } else {
                libhdr[w[j]] = w[first]
            }
        }
    }
    k = split(ENVIRON["LIBC"], w, /[ \t\n]+/)
    for (j = 1; j <= k; j++) {
        if (w[j] == "") {
            continue
        }
        if (w[j] ~ /\/\*$/) {
            prefix[++nprefix] = substr(w[j], 1, length(w[j]) - 1)
            prefixgroup[nprefix] = "libc"
        } else {
            libhdr[w[j]] = "libc"
        }
    }
    # A name in a row that is neither a system library nor a folder of an
    # earlier row: a later row (an upward edge, which could close a cycle)
    # or a typo. Either way the table is wrong.
    for (key in later) {
        split(key, p, SUBSEP)
        if (p[2] in libname) {
            continue
        }
        if (p[2] in row) {
            printf "check-layers: table: %s names %s, which is not below it: " \
                   "a row may name only the rows above it, so that no cycle can form\n",
                   p[1], p[2] > "/dev/stderr"
        } else {
            printf "check-layers: table: %s names %s, which is neither a folder above it " \
                   "nor a system library\n", p[1], p[2] > "/dev/stderr"
        }
        tableerr = 1
    }
    if (tableerr) {
        exit 2
    }
}
{
    files[++nfiles] = $0
    if ($0 ~ /\.h$/) {
        h = base_of($0)
        if ((h in owner) && owner[h] != dir_of($0)) {
            dup[h] = owner[h] " and " dir_of($0)
        }
        owner[h] = dir_of($0)
    }
}
END {
    if (tableerr) {
        exit 2
    }
    for (h in dup) {
        printf "check-layers: header %s exists in %s: the include paths cannot tell " \
               "them apart; rename one\n", h, dup[h] > "/dev/stderr"
        bad++
    }
    for (i = 1; i <= nfiles; i++) {
        f = files[i]
        where_file = f
        folder = dir_of(f)
        if (!(folder in row)) {
            fail(f ":1", "folder " folder " has no row in the layer table of " \
                         "scripts/check-layers.sh; add one (or move the file)")
            continue
        }
        line = 0
        while ((getline text < f) > 0) {
            line++
            if (text !~ /^[ \t]*#[ \t]*include[ \t]*[<"]/) {
                continue
            }
            sub(/^[ \t]*#[ \t]*include[ \t]*/, "", text)
            quote = substr(text, 1, 1)
            close_at = index(substr(text, 2), quote == "<" ? ">" : "\"")
            if (close_at == 0) {
                fail(f ":" line, "cannot read this #include")
                continue
            }
            h = substr(text, 2, close_at - 1)
            where = f ":" line
            if (quote == "\"") {
                if (index(h, "/") > 0) {
                    fail(where, "#include \"" h "\": include project headers by name " \
                                "only; the include paths of the build decide what a layer sees")
                } else if (!(h in owner)) {
                    fail(where, "#include \"" h "\": no such header in crypto/, store/, dht/ " \
                                "or node/*/")
                } else if (owner[h] != folder && !((folder, owner[h]) in may)) {
                    fail(where, "#include \"" h "\" (" owner[h] "): " folder " may not use " \
                                owner[h] "; it may use:" allowed_text[folder])
                }
            } else {
                g = group_of(h)
                if (g == "") {
                    fail(where, "#include <" h ">: a system header the layer table does " \
                                "not know; add it to LIBC or LIBRARIES in " \
                                "scripts/check-layers.sh, and to the rows that may use it")
                } else if (g != "libc" && !((folder, g) in may)) {
                    fail(where, "#include <" h "> (" g "): " folder " may not use " g \
                                "; it may use:" allowed_text[folder])
                }
            }
        }
        close(f)
    }
    if (bad) {
        nbad = 0
        for (x in badfile) {
            nbad++
        }
        printf "check-layers: %d wrong include%s in %d file%s; the layer table is in " \
               "scripts/check-layers.sh, the picture in docs/ARCHITECTURE.md\n",
               bad, bad == 1 ? "" : "s", nbad, nbad == 1 ? "" : "s" > "/dev/stderr"
        exit 1
    }
}
'
