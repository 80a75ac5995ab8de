#!/bin/sh
# Local-network discovery between two hosts: two network namespaces joined by
# a veth pair, each with its own address, each running a node with an empty
# bootstrap list. They must find each other by beacon and connect, twice:
# with a default route, and on a network with no router (no default route:
# a plain switch, or a cable between two computers).
# Needs root (for `ip netns`); exits 77 (ctest: skipped) otherwise.
set -eu
BIN=${1:?usage: test_lan_netns.sh SAMIZDAT_BINARY}

if [ "$(id -u)" != 0 ]; then
    echo "SKIPPED: local-network discovery test needs root for network namespaces"
    exit 77
fi
if ! command -v ip >/dev/null 2>&1 || ! ip netns list >/dev/null 2>&1; then
    echo "SKIPPED: iproute2 with network namespace support is not available"
    exit 77
fi

tag=$$
nsa=szlan-a-$tag
nsb=szlan-b-$tag
va=sza$tag
vb=szb$tag
tmp=$(mktemp -d)
pida=""
pidb=""

cleanup() {
    [ -n "$pida" ] && kill "$pida" 2>/dev/null || true
    [ -n "$pidb" ] && kill "$pidb" 2>/dev/null || true
    sleep 0.5
    ip netns del "$nsa" 2>/dev/null || true
    ip netns del "$nsb" 2>/dev/null || true
    if [ -z "${SAMIZDAT_KEEP_TEST_DIRS:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT INT TERM

run_case() {
    case=$1
    ip netns add "$nsa"
    ip netns add "$nsb"
    ip link add "$va" type veth peer name "$vb"
    ip link set "$va" netns "$nsa"
    ip link set "$vb" netns "$nsb"
    # Addresses of our own two test hosts, on a link that exists only here.
    ip -n "$nsa" addr add 10.213.47.1/24 dev "$va"
    ip -n "$nsb" addr add 10.213.47.2/24 dev "$vb"
    for ns in "$nsa" "$nsb"; do
        ip -n "$ns" link set lo up
    done
    ip -n "$nsa" link set "$va" up
    ip -n "$nsb" link set "$vb" up
    if [ "$case" = router ]; then
        ip -n "$nsa" route add default dev "$va"
        ip -n "$nsb" route add default dev "$vb"
    fi

    rm -rf "$tmp/a" "$tmp/b"
    : > "$tmp/empty.list"
    "$BIN" --data "$tmp/a" init >/dev/null
    "$BIN" --data "$tmp/b" init >/dev/null
    keyb=$("$BIN" --data "$tmp/b" whoami --node)
    keya=$("$BIN" --data "$tmp/a" whoami --node)

    ip netns exec "$nsa" "$BIN" --data "$tmp/a" run --listen tcp://10.213.47.1:7470 \
        --network lan-test --bootstrap "$tmp/empty.list" --log-level debug >"$tmp/a.log" 2>&1 &
    pida=$!
    ip netns exec "$nsb" "$BIN" --data "$tmp/b" run --listen tcp://10.213.47.2:7470 \
        --network lan-test --bootstrap "$tmp/empty.list" --log-level debug >"$tmp/b.log" 2>&1 &
    pidb=$!

    # The control sockets are files, so the CLI reaches both nodes from here.
    i=0
    found=no
    while [ $i -lt 60 ]; do
        pa=$("$BIN" --data "$tmp/a" --json peers 2>/dev/null || true)
        pb=$("$BIN" --data "$tmp/b" --json peers 2>/dev/null || true)
        if echo "$pa" | grep -q "\"node\":\"$keyb\".*\"ready\":true" &&
            echo "$pb" | grep -q "\"node\":\"$keya\".*\"ready\":true"; then
            found=yes
            break
        fi
        sleep 0.5
        i=$((i + 1))
    done
    if [ $found = yes ] && grep -q "cannot send discovery beacons" "$tmp/a.log" "$tmp/b.log"; then
        echo "lan ($case): found each other, but a node warned it cannot send beacons" >&2
        found=no
    fi
    kill "$pida" "$pidb" 2>/dev/null || true
    wait "$pida" "$pidb" 2>/dev/null || true
    pida=""
    pidb=""
    ip netns del "$nsa"
    ip netns del "$nsb"
    if [ $found = yes ]; then
        echo "lan ($case): the two hosts found each other with no bootstrap list in $((i / 2)) s"
        return 0
    fi
    echo "lan ($case): the nodes did not find each other in 30 s" >&2
    echo "--- a.log" >&2
    tail -30 "$tmp/a.log" >&2
    echo "--- b.log" >&2
    tail -30 "$tmp/b.log" >&2
    return 1
}

failed=0
run_case router || failed=$((failed + 1))
run_case "no-router" || failed=$((failed + 1))
echo "$((2 - failed)) passed, $failed failed"
[ $failed -eq 0 ] || exit 1
