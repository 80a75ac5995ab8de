#!/bin/sh
# Runs the benchmarks in BUILD_DIR. Results go in docs/BENCHMARKS.md by hand,
# with the machine and this command.
set -eu
build=${1:-build}
for b in "$build"/tests/bench_*; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b")"
    "$b"
done
