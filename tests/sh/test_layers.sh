#!/bin/sh
# test_layers.sh SOURCE_ROOT: shows that scripts/check-layers.sh fails on a
# wrong include, naming the file, the line and the rule. It runs the script on
# a copy of the library folders: first untouched (it must pass, so the
# failures below come from the includes this test adds), then with one wrong
# include at a time.
set -eu
root=$1
script=$root/scripts/check-layers.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
failures=0

fresh_copy() {
    rm -rf "$work/src"
    mkdir "$work/src"
    cp -R "$root/crypto" "$root/store" "$root/dht" "$root/node" "$work/src/"
}

# expect NAME RC PATTERN...: the script exits RC and its output has every
# PATTERN (fixed strings).
expect() {
    name=$1
    want=$2
    shift 2
    rc=0
    sh "$script" ${table:+--table "$table"} "$work/src" >"$work/out" 2>&1 || rc=$?
    ok=1
    if [ "$rc" != "$want" ]; then
        echo "FAIL $name: exit $rc, want $want"
        ok=0
    fi
    for p in "$@"; do
        if ! grep -qF -- "$p" "$work/out"; then
            echo "FAIL $name: output lacks: $p"
            ok=0
        fi
    done
    if [ $ok = 1 ]; then
        echo "ok   $name"
    else
        sed 's/^/     | /' "$work/out"
        failures=$((failures + 1))
    fi
}

# add_line FILE LINE TEXT: inserts TEXT as line LINE of FILE.
add_line() {
    awk -v n="$2" -v t="$3" 'NR == n { print t } { print }' "$1" >"$work/tmp"
    cat "$work/tmp" >"$1"
}

table=""
fresh_copy
expect "the tree as it is passes" 0

fresh_copy
add_line "$work/src/node/gossip/gossip.c" 5 '#include <uv.h>'
expect "gossip includes <uv.h>" 1 \
    "node/gossip/gossip.c:5: error: #include <uv.h> (uv): node/gossip may not use uv" \
    "1 wrong include in 1 file"

fresh_copy
add_line "$work/src/node/gossip/gossip.c" 7 '#include "store.h"'
expect "gossip includes store.h" 1 \
    "node/gossip/gossip.c:7: error: #include \"store.h\" (store): node/gossip may not use store"

fresh_copy
add_line "$work/src/dht/dht.c" 2 '#include <zmq.h>'
add_line "$work/src/node/util/log.h" 3 '#include <sodium.h>'
expect "two layers at once" 1 \
    "dht/dht.c:2: error: #include <zmq.h> (zmq): dht may not use zmq" \
    "node/util/log.h:3: error: #include <sodium.h> (sodium): node/util may not use sodium" \
    "2 wrong includes in 2 files"

fresh_copy
add_line "$work/src/node/net/wire.c" 1 '#include "../core/node.h"'
expect "a header reached by a relative path" 1 \
    "node/net/wire.c:1: error: #include \"../core/node.h\": include project headers by name"

fresh_copy
add_line "$work/src/store/store.c" 1 '#include <curl/curl.h>'
expect "a system header nobody declared" 1 \
    "store/store.c:1: error: #include <curl/curl.h>: a system header the layer table does not know"

fresh_copy
mkdir "$work/src/node/extra"
echo 'int extra;' >"$work/src/node/extra/extra.c"
expect "a folder without a row" 1 "node/extra/extra.c:1: error: folder node/extra has no row"

# A table in which a lower row names a higher one could allow a cycle: it is
# refused before any file is read.
fresh_copy
table=$work/table
printf 'crypto sodium\ndht crypto node/util\nnode/util dht\nstore crypto\nnode/gossip crypto\n' \
    >"$table"
expect "a table that allows a cycle" 2 "table: dht names node/util, which is not below it"
table=""

if [ $failures -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
