#!/bin/sh
# Runs every libFuzzer target in BUILD_DIR for SECONDS on a copy of its seed
# corpus (tests/fuzz/corpus/NAME), so the tree's corpus is never rewritten.
set -eu
build=${1:-build-fuzz}
seconds=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for bin in "$build"/tests/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin" | sed 's/^fuzz_//')
    work=$(mktemp -d)
    if [ -d "$root/tests/fuzz/corpus/$name" ]; then
        cp "$root/tests/fuzz/corpus/$name"/* "$work"/ 2>/dev/null || true
    fi
    echo "fuzz: $name for ${seconds}s"
    if ! "$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$build/" \
        "$work" >"$build/fuzz_$name.log" 2>&1; then
        echo "fuzz: $name FAILED; see $build/fuzz_$name.log" >&2
        tail -40 "$build/fuzz_$name.log" >&2
        status=1
    else
        grep -E 'stat::number_of_executed_runs' "$build/fuzz_$name.log" || true
    fi
    rm -rf "$work"
done
exit $status
