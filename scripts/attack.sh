#!/bin/sh
# The attack runs at full length (minutes; not part of `make test`, which
# runs each briefly). Each test attacks real nodes with the defence on and
# again with it switched off, and prints both figures; docs/SECURITY.md
# lists them. NAME... runs only those (e.g. attack_flood).
set -eu
build=${1:-build}
shift || true
status=0
for t in "$build"/tests/attack_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    if [ $# -gt 0 ]; then
        case " $* " in *" $name "*) ;; *) continue ;; esac
    fi
    echo "== $name (long)"
    SAMIZDAT_ATTACK_LONG=1 "$t" || status=1
done
exit $status
