#!/bin/sh
# Installs the Debian packages samizdat builds against, but only those that are
# missing, so a second run does nothing and needs no root.
set -eu

PKGS="build-essential cmake pkg-config libsodium-dev libzmq3-dev libleveldb-dev libuv1-dev libcmocka-dev"
if [ "${SAMIZDAT_WANT_CLANG:-0}" = 1 ]; then
    PKGS="$PKGS clang"
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "samizdat: missing packages:$missing" >&2
    echo "samizdat: this script knows apt-get only; install them by hand" >&2
    exit 1
fi

echo "samizdat: installing missing packages:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# An update first: on a fresh machine the package lists may be empty.
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
