#!/bin/sh
# A partition that heals. Two hosts, each a network namespace with its own
# address, joined by one link; three nodes on each. The author is on host A;
# every other node follows it. The link goes down for 30 s (longer than the
# heartbeat timeout, so connections break) while the author publishes; the
# followers on host B get nothing. Once the link is back, every follower
# must have every post.
# Needs root (for `ip netns`); exits 77 (ctest: skipped) otherwise.
set -eu
BIN=${1:?usage: test_partition.sh SAMIZDAT_BINARY}
CUT_S=${PARTITION_SECONDS:-30}
HEAL_DEADLINE_S=120

if [ "$(id -u)" != 0 ]; then
    echo "SKIPPED: the partition test needs root for network namespaces"
    exit 77
fi
if ! command -v ip >/dev/null 2>&1 || ! ip netns list >/dev/null 2>&1; then
    echo "SKIPPED: iproute2 with network namespace support is not available"
    exit 77
fi

tag=$$
nsa=szpart-a-$tag
nsb=szpart-b-$tag
va=spa$tag
vb=spb$tag
tmp=$(mktemp -d)
net="partition-$tag"
pids=""

cleanup() {
    for p in $pids; do kill -INT "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    ip netns del "$nsa" 2>/dev/null || true
    ip netns del "$nsb" 2>/dev/null || true
    if [ -z "${SAMIZDAT_KEEP_TEST_DIRS:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT INT TERM

ip netns add "$nsa"
ip netns add "$nsb"
ip link add "$va" type veth peer name "$vb"
ip link set "$va" netns "$nsa"
ip link set "$vb" netns "$nsb"
# Addresses of our own two test hosts, on a link that exists only here.
ip -n "$nsa" addr add 10.214.61.1/24 dev "$va"
ip -n "$nsb" addr add 10.214.61.2/24 dev "$vb"
for ns in "$nsa" "$nsb"; do ip -n "$ns" link set lo up; done
ip -n "$nsa" link set "$va" up
ip -n "$nsb" link set "$vb" up

# Node i: host A for 0..2, host B for 3..5; port 7480 + i.
host_of() { if [ "$1" -lt 3 ]; then echo 10.214.61.1; else echo 10.214.61.2; fi; }
ns_of() { if [ "$1" -lt 3 ]; then echo "$nsa"; else echo "$nsb"; fi; }
sz() { i=$1; shift; "$BIN" --data "$tmp/n$i" "$@"; }

start() {
    i=$1
    ip netns exec "$(ns_of "$i")" "$BIN" --data "$tmp/n$i" run \
        --listen "tcp://$(host_of "$i"):$((7480 + i))" --no-lan --network "$net" \
        --bootstrap "$tmp/list" --log-level debug >"$tmp/n$i.log" 2>&1 &
    pids="$pids $!"
}

for i in 0 1 2 3 4 5; do sz "$i" init >/dev/null; done
echo "tcp://10.214.61.1:7480 $(sz 0 whoami --node)" >"$tmp/list"
for i in 0 1 2 3 4 5; do start "$i"; done
# The control sockets are files, so the CLI reaches every node from here.
for i in 0 1 2 3 4 5; do
    n=0
    until sz "$i" status >/dev/null 2>&1; do
        n=$((n + 1)); [ $n -lt 100 ] || { echo "node $i did not start" >&2; exit 1; }
        sleep 0.1
    done
done

author=$(sz 1 whoami)
followers="0 2 3 4 5"
for i in $followers; do sz "$i" follow "$author" >/dev/null; done

head_of() {
    sz "$1" --json feed "$author" --limit 1 2>/dev/null |
        sed -n 's/.*"seq":\([0-9]*\).*/\1/p' | head -1
}

# Every follower has posts 1..$1 within $2 seconds; prints how long it took.
wait_all() {
    want=$1
    limit=$2
    start_s=$(date +%s)
    while :; do
        behind=""
        for i in $followers; do
            h=$(head_of "$i")
            [ "${h:-0}" -ge "$want" ] || behind="$behind $i"
        done
        now=$(date +%s)
        if [ -z "$behind" ]; then
            echo $((now - start_s))
            return 0
        fi
        if [ $((now - start_s)) -ge "$limit" ]; then
            echo "nodes behind:$behind" >&2
            return 1
        fi
        sleep 0.5
    done
}

sz 1 post "before the partition" >/dev/null
wait_all 1 60 >/dev/null
echo "partition: every follower has post 1; cutting the link for ${CUT_S} s"

ip -n "$nsa" link set "$va" down
ip -n "$nsb" link set "$vb" down
for k in 2 3 4 5 6 7 8 9 10 11; do sz 1 post "during the partition, $k" >/dev/null; done
# The followers on host A get the posts; by then the author's node has sent
# them on every link it has, so a copy through the cut link would have
# been sent too. Then host B must still be at post 1.
followers_all="$followers"
followers="0 2"
wait_all 11 60 >/dev/null || { echo "partition: host A did not get the posts" >&2; exit 1; }
followers="$followers_all"
for i in 3 4 5; do
    h=$(head_of "$i")
    if [ "${h:-0}" -ne 1 ]; then
        echo "partition: node $i on host B got post ${h} through a cut link" >&2
        exit 1
    fi
done
for i in 0 2; do
    h=$(head_of "$i")
    [ "${h:-0}" -eq 11 ] || { echo "partition: node $i on host A has only ${h:-0}" >&2; exit 1; }
done
sleep "$CUT_S"

ip -n "$nsa" link set "$va" up
ip -n "$nsb" link set "$vb" up
echo "partition: link restored"
if took=$(wait_all 11 "$HEAL_DEADLINE_S"); then
    echo "partition: every follower had all 11 posts ${took} s after the link came back"
    echo "1 passed, 0 failed"
    exit 0
fi
echo "partition: not healed in ${HEAL_DEADLINE_S} s" >&2
for i in $followers; do echo "--- n$i.log" >&2; tail -15 "$tmp/n$i.log" >&2; done
exit 1
