#!/bin/sh
# bench-web.sh BUILD_DIR [RUNS]: the web UI's benchmark (tests/bench/bench_web.mjs)
# RUNS times (default 3): the timeline page of a node holding 100,000 posts
# of 1,000 authors, and the event stream to 10 headless Chromium pages.
# Installs what it needs first (Node.js, Chromium, playwright-core: the
# same as the browser tests).
set -eu
build=${1:-build}
runs=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
SAMIZDAT_WANT_WEB_TESTS=1 sh "$here/scripts/deps.sh"
i=1
while [ "$i" -le "$runs" ]; do
    echo "== bench_web, run $i"
    node "$here/tests/bench/bench_web.mjs" "$build" "$build/bench-web"
    i=$((i + 1))
done
