#!/bin/sh
# Checks that everything samizdat builds against is there, and installs only
# what is missing. It asks the tools the build itself uses (pkg-config, the C
# compiler, cmake), not a package manager, so on any Linux that has the
# libraries it installs nothing, needs no root and no dpkg. Only when
# something is missing does it fall back to apt-get (Debian, Ubuntu); without
# apt-get it names what is missing and the packages that provide it on
# Debian/Ubuntu, Fedora and Arch, and exits 1.
#
# SAMIZDAT_WANT_CLANG=1 also requires clang (fuzzing, the Release check).
# SAMIZDAT_WANT_WEB_TESTS=1 (make test) also requires Node.js, npm and
# Chromium for the web UI's browser tests, and installs their one npm
# package, playwright-core, at the version of tests/web/package-lock.json.
set -eu

# What the build needs: a name, how to find it, and its package on
# Debian/Ubuntu, Fedora and Arch.
#   name        check              debian            fedora               arch
NEEDS='
cmake         tool:cmake          cmake             cmake                cmake
C-compiler    compiler            build-essential   gcc                  gcc
pkg-config    tool:pkg-config     pkg-config        pkgconf-pkg-config   pkgconf
scdoc         tool:scdoc          scdoc             scdoc                scdoc
libsodium     pc:libsodium        libsodium-dev     libsodium-devel      libsodium
libzmq        pc:libzmq           libzmq3-dev       zeromq-devel         zeromq
libuv         pc:libuv            libuv1-dev        libuv-devel          libuv
libqrencode   pc:libqrencode      libqrencode-dev   qrencode-devel       qrencode
cmocka        pc:cmocka           libcmocka-dev     libcmocka-devel      cmocka
tor           tool:tor            tor               tor                  tor
leveldb       leveldb             libleveldb-dev    leveldb-devel        leveldb
libnatpmp     natpmp              libnatpmp-dev     libnatpmp-devel      libnatpmp
miniupnpc     pc:miniupnpc        libminiupnpc-dev  miniupnpc-devel      miniupnpc
libmicrohttpd pc:libmicrohttpd    libmicrohttpd-dev libmicrohttpd-devel  libmicrohttpd
'
if [ "${SAMIZDAT_WANT_WEB_TESTS:-0}" = 1 ]; then
    NEEDS="$NEEDS
node          tool:node           nodejs            nodejs               nodejs
npm           tool:npm            npm               npm                  npm
chromium      tool:chromium       chromium          chromium             chromium
"
fi
# The network-namespace tests, which run only as root, build their NAT
# routers with nftables (tests/multi/test_relay_netns.sh).
if [ "$(id -u)" = 0 ]; then
    NEEDS="$NEEDS
nft           tool:nft            nftables          nftables             nftables
"
fi
if [ "${SAMIZDAT_WANT_CLANG:-0}" = 1 ]; then
    NEEDS="$NEEDS
clang         tool:clang          clang             clang                clang
"
fi

# The compiler CMake will pick: $CC, else cc.
cc=${CC:-cc}

# LevelDB ships no pkg-config file on Debian: compile and link a program
# against it, which finds the header and the library the way the build will.
have_leveldb() {
    command -v "${cc%% *}" >/dev/null 2>&1 || return 1
    dir=$(mktemp -d) || return 1
    printf '%s\n' '#include <leveldb/c.h>' \
        'int main(void) { leveldb_options_destroy(leveldb_options_create()); return 0; }' \
        >"$dir/t.c"
    ok=0
    # shellcheck disable=SC2086
    $cc "$dir/t.c" -o "$dir/t" -lleveldb >/dev/null 2>&1 || ok=1
    rm -rf "$dir"
    return $ok
}

# libnatpmp ships no pkg-config file either.
have_natpmp() {
    command -v "${cc%% *}" >/dev/null 2>&1 || return 1
    dir=$(mktemp -d) || return 1
    printf '%s\n' '#include <natpmp.h>' \
        'int main(void) { natpmp_t n; return closenatpmp(&n) == 0 ? 0 : 0; }' >"$dir/t.c"
    ok=0
    # shellcheck disable=SC2086
    $cc "$dir/t.c" -o "$dir/t" -lnatpmp >/dev/null 2>&1 || ok=1
    rm -rf "$dir"
    return $ok
}

have() {
    case $1 in
    tool:*) command -v "${1#tool:}" >/dev/null 2>&1 ;;
    compiler) command -v "${cc%% *}" >/dev/null 2>&1 ;;
    pc:*) command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "${1#pc:}" ;;
    leveldb) have_leveldb ;;
    natpmp) have_natpmp ;;
    *) return 1 ;;
    esac
}

missing=""
debian=""
fedora=""
arch=""
while read -r name check deb fed arc; do
    [ -n "$name" ] || continue
    if ! have "$check"; then
        missing="$missing $name"
        debian="$debian $deb"
        fedora="$fedora $fed"
        arch="$arch $arc"
    fi
done <<EOF
$NEEDS
EOF

# The browser tests' npm package, once the tools are there. npm ci
# installs exactly the locked version and checks its hash.
web_tests_npm() {
    [ "${SAMIZDAT_WANT_WEB_TESTS:-0}" = 1 ] || return 0
    web="$(dirname "$0")/../tests/web"
    [ -d "$web/node_modules/playwright-core" ] && return 0
    echo "samizdat: installing the browser tests' npm package (tests/web)"
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
}

if [ -z "$missing" ]; then
    web_tests_npm
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "samizdat: missing:$missing" >&2
    echo "samizdat: install them with your package manager, for example:" >&2
    echo "    Debian, Ubuntu: apt-get install$debian" >&2
    echo "    Fedora:         dnf install$fedora" >&2
    echo "    Arch:           pacman -S$arch" >&2
    exit 1
fi

echo "samizdat: missing:$missing; installing:$debian"
SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# An update first: on a fresh machine the package lists may be empty.
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $debian
web_tests_npm
