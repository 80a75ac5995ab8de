#!/bin/sh
# test_install.sh BUILD_DIR SOURCE_ROOT: an install staged in DESTDIR with
# prefix /usr puts every file where a Debian package would, and the
# uninstall script removes exactly those files again.
set -eu
build=$1
root=$2
work=$(mktemp -d)
trap 'rm -rf "$work"; rm -f "$build/install_manifest_samizdat.txt"' EXIT INT TERM
stage=$work/stage
# The component's own manifest (install_manifest_samizdat.txt), so that the
# developer's install_manifest.txt, what `make uninstall` reads, is kept.
DESTDIR=$stage cmake --install "$build" --component samizdat --prefix /usr >"$work/log"
failures=0
fail() {
    echo "FAIL $*"
    failures=$((failures + 1))
}

for f in usr/bin/samizdat usr/share/man/man1/samizdat.1 usr/lib/systemd/user/samizdat.service \
    usr/share/bash-completion/completions/samizdat usr/share/samizdat/bootstrap.list \
    usr/share/doc/samizdat/README.md usr/share/doc/samizdat/PROTOCOL.md; do
    [ -f "$stage/$f" ] || fail "not installed: /$f"
done
[ -x "$stage/usr/bin/samizdat" ] || fail "/usr/bin/samizdat is not executable"
grep -qx 'ExecStart=/usr/bin/samizdat run' "$stage/usr/lib/systemd/user/samizdat.service" ||
    fail "the unit does not start /usr/bin/samizdat"
grep -q '^\.TH' "$stage/usr/share/man/man1/samizdat.1" || fail "the man page is not roff"
if grep -q '@[A-Z_a-z]*@' "$stage/usr/share/man/man1/samizdat.1"; then
    fail "the man page has an unfilled @...@"
fi

# Everything is below the prefix, and the manifest lists exactly what is there.
(cd "$stage" && find . -type f | sed 's|^\.||' | LC_ALL=C sort) >"$work/found"
LC_ALL=C sort "$build/install_manifest_samizdat.txt" >"$work/listed"
if ! cmp -s "$work/found" "$work/listed"; then
    fail "the manifest and the staged files differ:"
    diff "$work/listed" "$work/found" || true
fi
grep -v '^/usr/' "$work/found" && fail "files outside /usr"

DESTDIR=$stage cmake -DMANIFEST="$build/install_manifest_samizdat.txt" \
    -P "$root/cmake/uninstall.cmake" >"$work/log"
left=$(find "$stage" -type f)
[ -z "$left" ] || fail "left after uninstall: $left"

if [ $failures -ne 0 ]; then
    exit 1
fi
echo "ok: $(wc -l <"$work/listed") files installed below DESTDIR/usr and removed again"
