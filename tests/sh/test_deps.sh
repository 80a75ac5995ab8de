#!/bin/sh
# test_deps.sh SOURCE_ROOT: scripts/deps.sh installs nothing when the tools
# and libraries are found, even on a system without dpkg or apt-get, and
# names the missing pieces with their packages otherwise. It runs the script
# with a PATH of every program of this machine except dpkg, apt and sudo, so
# it can neither ask dpkg nor install anything.
set -eu
root=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/bin"
for d in /usr/local/bin /usr/bin /bin /usr/sbin /sbin; do
    [ -d "$d" ] || continue
    for x in "$d"/*; do
        b=${x##*/}
        case $b in
        dpkg* | apt* | sudo) continue ;;
        esac
        [ -e "$work/bin/$b" ] || ln -s "$x" "$work/bin/$b"
    done
done
failures=0

rc=0
PATH=$work/bin sh "$root/scripts/deps.sh" >"$work/out" 2>&1 || rc=$?
if [ $rc -eq 0 ] && [ ! -s "$work/out" ]; then
    echo "ok   everything found, no dpkg: exit 0, nothing installed or printed"
else
    echo "FAIL everything found, no dpkg: exit $rc, output:"
    sed 's/^/     | /' "$work/out"
    failures=$((failures + 1))
fi

# pkg-config that finds no library: the libraries are missing.
rc=0
PATH=$work/bin PKG_CONFIG_LIBDIR=$work/none PKG_CONFIG_PATH="" sh "$root/scripts/deps.sh" \
    >"$work/out" 2>&1 || rc=$?
ok=1
[ $rc -eq 1 ] || ok=0
for p in "missing: libsodium libzmq libuv libqrencode cmocka miniupnpc" \
    "apt-get install libsodium-dev libzmq3-dev libuv1-dev libqrencode-dev libcmocka-dev libminiupnpc-dev" \
    "dnf install libsodium-devel zeromq-devel libuv-devel qrencode-devel libcmocka-devel miniupnpc-devel" \
    "pacman -S libsodium zeromq libuv qrencode cmocka miniupnpc"; do
    grep -qF -- "$p" "$work/out" || ok=0
done
if [ $ok = 1 ]; then
    echo "ok   libraries missing, no apt-get: exit 1, names them and their packages"
else
    echo "FAIL libraries missing, no apt-get: exit $rc, output:"
    sed 's/^/     | /' "$work/out"
    failures=$((failures + 1))
fi

if [ $failures -ne 0 ]; then
    exit 1
fi
echo "all checks passed"
