#!/bin/sh
# Port mapping against a router: a "home" namespace whose default route
# points at a "router" namespace, where tests/util/natpmpd answers NAT-PMP
# (RFC 6886) with a public address of the test's own (private range) and
# leases of 4 s. The node must get its port mapped and show it in status,
# renew the lease before it runs out, remove the mapping when it stops, and
# ask nothing with --no-upnp. Its relay port (--relay-listen 7471) is
# mapped, shown and removed the same way. Then the router speaks only UPnP-IGD
# (tests/util/upnpd): the node falls back to it, maps, and removes the
# mapping when it stops.
# Needs root (for `ip netns`); exits 77 (ctest: skipped) otherwise.
set -eu
usage="usage: test_portmap_netns.sh SAMIZDAT_BINARY NATPMPD_BINARY UPNPD_BINARY"
BIN=${1:?$usage}
NATPMPD=${2:?$usage}
UPNPD=${3:?$usage}

if [ "$(id -u)" != 0 ]; then
    echo "SKIPPED: the port mapping test needs root for network namespaces"
    exit 77
fi
if ! command -v ip >/dev/null 2>&1 || ! ip netns list >/dev/null 2>&1; then
    echo "SKIPPED: iproute2 with network namespace support is not available"
    exit 77
fi

tag=$$
home=szpm-home-$tag
router=szpm-rtr-$tag
vh=szph$tag
vr=szpr$tag
tmp=$(mktemp -d)
node=""
rpid=""

cleanup() {
    [ -n "$node" ] && kill "$node" 2>/dev/null || true
    [ -n "$rpid" ] && kill "$rpid" 2>/dev/null || true
    sleep 0.3
    ip netns del "$home" 2>/dev/null || true
    ip netns del "$router" 2>/dev/null || true
    if [ -z "${SAMIZDAT_KEEP_TEST_DIRS:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT INT TERM

fail() {
    echo "portmap: $*" >&2
    echo "--- node log" >&2
    tail -20 "$tmp/node.log" >&2 || true
    echo "--- router log" >&2
    cat "$tmp/router.log" >&2 || true
    exit 1
}

# Waits up to $1 half-seconds for command $2 to succeed.
wait_for() {
    n=$1
    shift
    while [ "$n" -gt 0 ]; do
        if "$@"; then return 0; fi
        sleep 0.5
        n=$((n - 1))
    done
    return 1
}

ip netns add "$home"
ip netns add "$router"
ip link add "$vh" type veth peer name "$vr"
ip link set "$vh" netns "$home"
ip link set "$vr" netns "$router"
ip -n "$home" addr add 10.214.9.2/24 dev "$vh"
ip -n "$router" addr add 10.214.9.1/24 dev "$vr"
for ns in "$home" "$router"; do ip -n "$ns" link set lo up; done
ip -n "$home" link set "$vh" up
ip -n "$router" link set "$vr" up
ip -n "$home" route add default via 10.214.9.1

# The "public" address is a private one of our own: nothing leaves.
ip netns exec "$router" "$NATPMPD" --external 172.16.99.1 --lifetime 4 \
    --log "$tmp/router.log" >/dev/null 2>&1 &
rpid=$!
wait_for 20 grep -q listening "$tmp/router.log" 2>/dev/null || fail "the responder did not start"

: > "$tmp/empty.list"
"$BIN" --data "$tmp/n" init >/dev/null
start_node() {
    ip netns exec "$home" "$BIN" --data "$tmp/n" run --port 7470 --relay-listen 7471 --no-lan \
        --network portmap-test --bootstrap "$tmp/empty.list" --log-level debug "$@" \
        >"$tmp/node.log" 2>&1 &
    node=$!
}

mapped() {
    "$BIN" --data "$tmp/n" --json status 2>/dev/null |
        grep -q '"port_mapping":{"state":"mapped","method":"NAT-PMP","external":"tcp://172.16.99.1:7470","lease_s":4,"behind_nat":true'
}
maps() { grep -c "^map tcp internal=7470 external=7470 lifetime=7200" "$tmp/router.log" || true; }
renewed() { [ "$(maps)" -ge 2 ]; }
removed() { grep -q "^map tcp internal=7470 external=0 lifetime=0" "$tmp/router.log"; }
relay_mapped() {
    "$BIN" --data "$tmp/n" --json status 2>/dev/null |
        grep -q '"relay_port":7471,"relay_port_mapped":"tcp://172.16.99.1:7471"'
}
relay_removed() { grep -q "^map tcp internal=7471 external=0 lifetime=0" "$tmp/router.log"; }
status_says() { "$BIN" --data "$tmp/n" status 2>/dev/null | grep -q "$1"; }

start_node
wait_for 20 mapped || fail "status does not show the mapping"
status_says "router:     forwards tcp://172.16.99.1:7470" || fail "status text lacks the mapping"
echo "portmap: mapped tcp://172.16.99.1:7470 (lease 4 s)"
wait_for 20 relay_mapped || fail "status does not show the relay port's mapping"
grep -q "^map tcp internal=7471 external=7471 lifetime=7200" "$tmp/router.log" ||
    fail "the relay port was not asked for"
echo "portmap: relay port mapped too (tcp://172.16.99.1:7471)"
"$BIN" --data "$tmp/n" --json invite | grep -q '"endpoints":\["tcp://172.16.99.1:7470"' ||
    fail "the invite does not name the mapped endpoint first"
wait_for 20 renewed || fail "the 4 s lease was not renewed"
echo "portmap: renewed before the lease ran out ($(maps) requests)"
kill -INT "$node"
wait "$node" || fail "the node did not stop cleanly"
node=""
wait_for 10 removed || fail "the mapping was not removed at exit"
wait_for 10 relay_removed || fail "the relay port's mapping was not removed at exit"
echo "portmap: removed at exit (both ports)"

before=$(wc -l <"$tmp/router.log")
start_node --no-upnp
wait_for 20 status_says "uptime" || fail "the node did not start with --no-upnp"
"$BIN" --data "$tmp/n" --json status | grep -q '"port_mapping":null' ||
    fail "--no-upnp: status shows a port mapping"
kill -INT "$node"
wait "$node" || fail "the node did not stop cleanly"
node=""
# A probe sent from the home after the node stopped: once it is answered,
# anything the node sent reached the responder before it and is logged.
ip netns exec "$home" "$NATPMPD" --probe 10.214.9.1 || fail "the probe got no answer"
after=$(($(wc -l <"$tmp/router.log") - 1))
[ "$before" = "$after" ] || fail "--no-upnp: the node still asked the router"
echo "portmap: --no-upnp asks nothing"

# The router now answers UPnP-IGD only (NAT-PMP requests get ICMP port
# unreachable, as from a router without it). Its "public" address is a
# private one of our own, as for a router behind another NAT: the node maps
# all the same and says the address is private.
kill "$rpid"
wait "$rpid" 2>/dev/null || true
ip netns exec "$router" "$UPNPD" --addr 10.214.9.1 --external 172.16.99.2 \
    --log "$tmp/upnp.log" >/dev/null 2>&1 &
rpid=$!
wait_for 20 grep -q listening "$tmp/upnp.log" 2>/dev/null || fail "the UPnP router did not start"
upnp_mapped() {
    "$BIN" --data "$tmp/n" --json status 2>/dev/null |
        grep -q '"port_mapping":{"state":"mapped","method":"UPnP-IGD","external":"tcp://172.16.99.2:7470"'
}
start_node
wait_for 30 upnp_mapped || { cat "$tmp/upnp.log" >&2; fail "no mapping by UPnP-IGD"; }
grep -q "^add TCP external=7470 internal=7470 client=10.214.9.2 lease=7200" "$tmp/upnp.log" ||
    fail "the UPnP request is not what the node should ask"
grep -q "that address is private: another NAT" "$tmp/node.log" ||
    fail "the node does not say the router's public address is private"
echo "portmap: mapped tcp://172.16.99.2:7470 by UPnP-IGD after NAT-PMP failed"
kill -INT "$node"
wait "$node" || fail "the node did not stop cleanly"
node=""
grep -q "^delete TCP external=7470" "$tmp/upnp.log" || fail "the UPnP mapping was not removed at exit"
echo "portmap: UPnP mapping removed at exit"
echo "8 passed, 0 failed"
