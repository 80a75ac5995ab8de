#!/bin/sh
# test_systemd_unit.sh BUILD_DIR: the installed systemd user unit passes
# `systemd-analyze verify`, which also checks that ExecStart names an
# installed executable and that the man page of Documentation= is there. It
# installs into a temporary prefix, so the unit names a binary that exists.
# Exits 77 (skipped) without systemd-analyze.
set -eu
build=$1
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd-analyze not found: skipped"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"; rm -f "$build/install_manifest_samizdat.txt"' EXIT INT TERM
# The component's own manifest (install_manifest_samizdat.txt), so that the
# developer's install_manifest.txt, what `make uninstall` reads, is kept.
cmake --install "$build" --component samizdat --prefix "$work/p" >"$work/install.log"
unit=$work/p/lib/systemd/user/samizdat.service
if grep -q '@bindir@' "$unit" || ! grep -qx "ExecStart=$work/p/bin/samizdat run" "$unit"; then
    echo "FAIL the installed unit does not name the installed binary:"
    grep ExecStart "$unit"
    exit 1
fi
mkdir -m 700 "$work/run"
rc=0
XDG_RUNTIME_DIR=$work/run MANPATH=$work/p/share/man \
    systemd-analyze verify --user "$unit" >"$work/out" 2>&1 || rc=$?
cat "$work/out"
if [ $rc -ne 0 ] || grep -q 'samizdat.service' "$work/out"; then
    echo "FAIL systemd-analyze verify: exit $rc"
    exit 1
fi
echo "ok: systemd-analyze verify --user passes on the installed samizdat.service"
