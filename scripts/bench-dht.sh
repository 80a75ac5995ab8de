#!/bin/sh
# DHT lookups on 100 real processes on loopback, samizdat (bench_dht) and
# hyperdht (tests/bench/hyperdht) side by side, alternating, RUNS times each
# (default 3). Installs what the hyperdht side needs: Node.js from the
# distribution (apt-get, as root) when `node` is missing, and hyperdht at
# the version pinned in tests/bench/hyperdht/package-lock.json (npm ci).
# Results go in docs/BENCHMARKS.md by hand, with the machine and this
# command.
#
#     sh scripts/bench-dht.sh [BUILD_DIR] [RUNS]
set -eu
build=${1:-build}
runs=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
dir="$here/tests/bench/hyperdht"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        apt-get install -y nodejs npm
    else
        echo "bench-dht: needs node and npm (Debian/Ubuntu: nodejs npm; Fedora: nodejs npm; Arch: nodejs npm)" >&2
        exit 1
    fi
fi
if [ ! -x "$build/tests/bench_dht" ]; then
    echo "bench-dht: $build/tests/bench_dht is not built (make, or cmake --build $build)" >&2
    exit 1
fi
(cd "$dir" && npm ci --no-audit --no-fund)

i=1
while [ "$i" -le "$runs" ]; do
    echo "== samizdat, run $i"
    "$build/tests/bench_dht"
    echo "== hyperdht, run $i"
    node "$dir/lookup.js" --nodes 100 --authors 30 --settle 5
    i=$((i + 1))
done
