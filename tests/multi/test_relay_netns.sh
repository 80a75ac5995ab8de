#!/bin/sh
# Two homes behind NAT, joined through a relay (issue 11, section 4).
#
# An "internet" namespace holds a bridge; on it are two reachable nodes, R1
# and R2, and the "public" side of two home routers. Each router is a
# namespace doing NAT with nftables: home A's with plain `masquerade`, home
# B's with `masquerade random,fully-random` (the port-randomising kind).
# Neither forwards a port, and neither lets a connection in from outside.
# Every address is a private one of the test's own; nothing leaves.
#
#            R1 172.16.50.11      R2 172.16.50.12
#                    \                /
#                   [ bridge in "internet" ]
#                    /                \
#   router A 172.16.50.21        router B 172.16.50.22   (NAT)
#            192.168.51.1                 192.168.52.1
#                  |                           |
#   home A   192.168.51.2        home B   192.168.52.2
#
# First the test shows the NAT is real: the homes cannot dial each other
# and R1, R2 cannot dial into the homes, while the homes can dial out.
# Then, as a new user would: the homes start with a bootstrap list naming R1
# and R2, and wait until `status` says they are reachable through a relay;
# B's DHT lookup of A's author key names A at a relayed endpoint (found by
# its key alone); `samizdat invite` on A, `samizdat join` on B, and the other way; they
# follow each other, and posts flow both ways. Propagation through the relay
# is printed against a direct link (R1 to R2) measured in the same run.
# Then the relay whose circuit they use is killed: they must recover through
# the other relay, and the time that took is printed.
#
# Needs root (for `ip netns`) and nft; exits 77 (ctest: skipped) otherwise.
# SAMIZDAT_KEEP_TEST_DIRS=1 keeps the folders (data, logs).
set -eu
BIN=${1:?usage: test_relay_netns.sh SAMIZDAT_BINARY}
# Bounds, in seconds.
REACH_S=${RELAY_REACH_SECONDS:-40}    # until both homes are reachable through a relay
POST_S=${RELAY_POST_SECONDS:-20}      # until one post has arrived
RECOVER_S=${RELAY_RECOVER_SECONDS:-45} # after the relay is killed, until posts flow again

if [ "$(id -u)" != 0 ]; then
    echo "SKIPPED: the relay test needs root for network namespaces"
    exit 77
fi
if ! command -v ip >/dev/null 2>&1 || ! ip netns list >/dev/null 2>&1; then
    echo "SKIPPED: iproute2 with network namespace support is not available"
    exit 77
fi
if ! command -v nft >/dev/null 2>&1; then
    echo "SKIPPED: the relay test needs nft (Debian: nftables) for its NAT routers"
    exit 77
fi
if ! command -v bash >/dev/null 2>&1 || ! command -v timeout >/dev/null 2>&1; then
    echo "SKIPPED: the relay test needs bash and timeout to probe connections"
    exit 77
fi

tag=$$
ns_inet=sznat-inet-$tag
ns_r1=sznat-r1-$tag
ns_r2=sznat-r2-$tag
ns_ga=sznat-gwa-$tag
ns_gb=sznat-gwb-$tag
ns_a=sznat-ha-$tag
ns_b=sznat-hb-$tag
all_ns="$ns_a $ns_b $ns_ga $ns_gb $ns_r1 $ns_r2 $ns_inet"
ip_r1=172.16.50.11
ip_r2=172.16.50.12
ip_ga=172.16.50.21
ip_gb=172.16.50.22
ip_a=192.168.51.2
ip_b=192.168.52.2
port=7470
tmp=$(mktemp -d)
net="relay-test-$tag"
pid_r1=""
pid_r2=""
pid_a=""
pid_b=""

cleanup() {
    for p in $pid_a $pid_b $pid_r1 $pid_r2; do kill -INT "$p" 2>/dev/null || true; done
    for p in $pid_a $pid_b $pid_r1 $pid_r2; do
        # A node that does not stop within 10 s is killed.
        n=0
        while kill -0 "$p" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    for ns in $all_ns; do ip netns del "$ns" 2>/dev/null || true; done
    if [ -z "${SAMIZDAT_KEEP_TEST_DIRS:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

say() { echo "relay: $*"; }

fail() {
    echo "relay: FAILED: $*" >&2
    for n in a b r1 r2; do
        eval "p=\$pid_$n"
        if [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; then
            echo "relay: node $n has died (see the end of its log)" >&2
        fi
    done
    for n in a b r1 r2; do
        echo "--- $n: status" >&2
        "$BIN" --data "$tmp/$n" status >&2 2>/dev/null || true
        echo "--- $n: peers" >&2
        "$BIN" --data "$tmp/$n" peers >&2 2>/dev/null || true
        echo "--- $n.log (last 40 lines)" >&2
        tail -40 "$tmp/$n.log" >&2 2>/dev/null || true
    done
    exit 1
}

# Milliseconds since the epoch.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Waits up to $1 seconds for command $2... to succeed, polling every 0.1 s.
wait_for() {
    limit=$(($(now_ms) + $1 * 1000))
    shift
    while :; do
        if "$@"; then return 0; fi
        [ "$(now_ms)" -lt "$limit" ] || return 1
        sleep 0.1
    done
}

# ---------------------------------------------------------------- topology

for ns in $all_ns; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done
ip -n "$ns_inet" link add br0 type bridge
ip -n "$ns_inet" link set br0 up

# wire NS IFNAME ADDR/LEN: a veth from NS (named IFNAME there) to the bridge.
wire() {
    ip -n "$1" link add "$2" type veth peer name "p-$(echo "$1" | cut -d- -f2)" netns "$ns_inet"
    ip -n "$1" addr add "$3" dev "$2"
    ip -n "$1" link set "$2" up
    ip -n "$ns_inet" link set "p-$(echo "$1" | cut -d- -f2)" master br0 up
}
wire "$ns_r1" eth0 "$ip_r1/24"
wire "$ns_r2" eth0 "$ip_r2/24"
wire "$ns_ga" wan "$ip_ga/24"
wire "$ns_gb" wan "$ip_gb/24"

# home NS ROUTER-NS HOME-ADDR ROUTER-LAN-ADDR MASQUERADE-OPTIONS
home() {
    ip -n "$1" link add eth0 type veth peer name lan netns "$2"
    ip -n "$1" addr add "$3/24" dev eth0
    ip -n "$2" addr add "$4/24" dev lan
    ip -n "$1" link set eth0 up
    ip -n "$2" link set lan up
    ip -n "$1" route add default via "$4"
    ip netns exec "$2" sysctl -qw net.ipv4.ip_forward=1
    # A home router: NAT out of the WAN side; from outside, only replies in.
    ip netns exec "$2" nft -f - <<EOF
table ip sznat {
    chain nat_out {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan" masquerade $5
    }
    chain forward_in {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "lan" oifname "wan" accept
    }
}
EOF
}
home "$ns_a" "$ns_ga" "$ip_a" 192.168.51.1 ""
home "$ns_b" "$ns_gb" "$ip_b" 192.168.52.1 "random,fully-random"

# ------------------------------------------------------------------ nodes

sz() { n=$1; shift; "$BIN" --data "$tmp/$n" "$@"; }
for n in a b r1 r2; do sz "$n" init >/dev/null; done
key_r1=$(sz r1 whoami --node)
key_r2=$(sz r2 whoami --node)
echo "tcp://$ip_r2:$port $key_r2" >"$tmp/r1.list"
echo "tcp://$ip_r1:$port $key_r1" >"$tmp/r2.list"
# What a newcomer would be given: the two reachable nodes.
cat "$tmp/r2.list" "$tmp/r1.list" >"$tmp/home.list"

# start NAME NS BOOTSTRAP: the node's pid is in pid_NAME. Every node listens
# where a node does by default (port 7470 on every address); the homes'
# UPnP and NAT-PMP requests find no router that answers.
start() {
    ip netns exec "$2" "$BIN" --data "$tmp/$1" run --no-lan \
        --network "$net" --bootstrap "$3" --log-level debug --no-web >"$tmp/$1.log" 2>&1 &
    eval "pid_$1=$!"
}
start r1 "$ns_r1" "$tmp/r1.list"
start r2 "$ns_r2" "$tmp/r2.list"
start a "$ns_a" "$tmp/home.list"
start b "$ns_b" "$tmp/home.list"
# The control sockets are files, so the CLI reaches every node from here.
for n in r1 r2 a b; do
    wait_for 15 sz "$n" status >/dev/null 2>&1 || fail "node $n did not start"
done

# The direct link to compare with: R2 follows R1. R1 and R2 follow no home,
# so a home's post reaches the other home only from its author, through
# the relay.
author_r1=$(sz r1 whoami)
sz r2 follow "$author_r1" >/dev/null

# ------------------------------------------------------------- the NAT is real

# can_dial NS HOST PORT: a TCP connection from NS to HOST:PORT opens within
# 2 s (a router that drops a packet makes the dial wait that long).
can_dial() {
    ip netns exec "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}
listening() { ip netns exec "$1" ss -tlnH "( sport = :$port )" | grep -q .; }
for pair in "$ns_a:a" "$ns_b:b" "$ns_r1:r1" "$ns_r2:r2"; do
    wait_for 10 listening "${pair%%:*}" || fail "node ${pair##*:} does not listen"
done
# Out is open: the homes reach R1 and R2, R1 reaches R2.
for ns in "$ns_a" "$ns_b"; do
    for ip in "$ip_r1" "$ip_r2"; do
        can_dial "$ns" "$ip" "$port" || fail "$ns cannot dial out to $ip:$port"
    done
done
can_dial "$ns_r1" "$ip_r2" "$port" || fail "R1 cannot dial R2"
# In is closed: neither home reaches the other, at its home address or at
# its router's public one; R1 and R2 reach neither home.
can_dial "$ns_a" "$ip_b" "$port" && fail "home A dialled home B at $ip_b"
can_dial "$ns_a" "$ip_gb" "$port" && fail "home A dialled home B's router at $ip_gb"
can_dial "$ns_b" "$ip_a" "$port" && fail "home B dialled home A at $ip_a"
can_dial "$ns_b" "$ip_ga" "$port" && fail "home B dialled home A's router at $ip_ga"
for ns in "$ns_r1" "$ns_r2"; do
    can_dial "$ns" "$ip_ga" "$port" && fail "$ns dialled home A's router"
    can_dial "$ns" "$ip_gb" "$port" && fail "$ns dialled home B's router"
done
# Even with a route to the homes, the routers let nothing in.
ip -n "$ns_r1" route add 192.168.51.0/24 via "$ip_ga"
ip -n "$ns_r1" route add 192.168.52.0/24 via "$ip_gb"
can_dial "$ns_r1" "$ip_a" "$port" && fail "R1 dialled into home A through its router"
can_dial "$ns_r1" "$ip_b" "$port" && fail "R1 dialled into home B through its router"
ip -n "$ns_r1" route del 192.168.51.0/24
ip -n "$ns_r1" route del 192.168.52.0/24
say "NAT: the homes dial out, but not each other; R1 and R2 cannot dial into them"

# What R1 sees of the homes' connections: their routers' address, and for
# home B a port its router chose at random.
# seen_ports NS-HOME ROUTER-ADDR: "home's port -> the ports R1 sees" of its
# connections to R1.
seen_ports() {
    lp=$(ip netns exec "$1" ss -tnH state established "( dst $ip_r1:$port )" |
        awk '{print $3}' | sed 's/.*://' | head -1)
    [ -n "$lp" ] || return 1
    rp=$(ip netns exec "$ns_r1" ss -tnH state established "( src $ip_r1:$port and dst $2 )" |
        awk '{print $4}' | sed 's/.*://' | sort -n | tr '\n' ' ' | sed 's/ $//')
    [ -n "$rp" ] || return 1
    echo "$lp -> $rp"
}
wait_for 20 seen_ports "$ns_a" "$ip_ga" >/dev/null || fail "home A has no connection to R1"
wait_for 20 seen_ports "$ns_b" "$ip_gb" >/dev/null || fail "home B has no connection to R1"
if ip netns exec "$ns_r1" ss -tnH state established "( src $ip_r1:$port )" | grep -q "192\.168\."; then
    fail "R1 sees a home address: the routers do not translate"
fi
say "R1 sees home A from $ip_ga (home port -> seen ports: $(seen_ports "$ns_a" "$ip_ga"))"
say "R1 sees home B from $ip_gb (home port -> seen ports: $(seen_ports "$ns_b" "$ip_gb"), fully random)"
# A router's mapping lets in only the replies of the host it was made for:
# a node that learnt it (R1 tells peers the address it sees) cannot use it.
map_a=$(seen_ports "$ns_a" "$ip_ga" | awk '{print $3}')
map_b=$(seen_ports "$ns_b" "$ip_gb" | awk '{print $3}')
for ns in "$ns_b" "$ns_r1" "$ns_r2"; do
    can_dial "$ns" "$ip_ga" "$map_a" && fail "$ns dialled home A through its mapping $ip_ga:$map_a"
done
for ns in "$ns_a" "$ns_r1" "$ns_r2"; do
    can_dial "$ns" "$ip_gb" "$map_b" && fail "$ns dialled home B through its mapping $ip_gb:$map_b"
done
say "NAT: nobody gets in through the homes' mappings ($ip_ga:$map_a, $ip_gb:$map_b)"

# ------------------------------------------------------------------ relays
# Everything below needs the relays of issue 11 section 4; a samizdat
# without them (no --no-relay option) stops here, skipped.
if ! "$BIN" --help 2>&1 | grep -q -- "--no-relay"; then
    echo "SKIPPED: this samizdat has no relays (no --no-relay in --help): only the NAT part ran"
    exit 77
fi

through_relay() { sz "$1" status 2>/dev/null | grep -q "through relay relay://"; }
wait_for "$REACH_S" through_relay a || fail "home A is not reachable through a relay after ${REACH_S} s"
wait_for "$REACH_S" through_relay b || fail "home B is not reachable through a relay after ${REACH_S} s"
# log_line_ms NODE TEXT: the time of NODE's first log line holding TEXT.
log_line_ms() {
    ts=$(grep -m1 -- "$2" "$tmp/$1.log" | cut -d' ' -f1)
    [ -n "$ts" ] && date -d "$ts" +%s%3N
}
for n in a b; do
    s0=$(log_line_ms "$n" "info  node started") || s0=""
    s1=$(log_line_ms "$n" "reachable through relay") || s1=""
    [ -n "$s0" ] && [ -n "$s1" ] && say "home $n reachable through a relay $((s1 - s0)) ms after its node started"
done
sz a status | grep "relay://" | sed 's/^/relay:   A: /'
sz b status | grep "relay://" | sed 's/^/relay:   B: /'
for n in r1 r2; do
    sz "$n" status | grep -q "reachable:  directly at tcp://" || fail "$n is not reachable directly"
done
for n in a b; do
    sz "$n" --json status | grep -q '"reachability":{"state":"through relay","relays":\["relay://' ||
        fail "$n's status --json does not say \"through relay\" with its relays"
done

# Found by its key alone: A's provider record, stored by R1 and R2 after
# their probe through A's relay, names a relayed endpoint, and B's lookup
# of A's author key finds it (a follower who has no invite).
node_a=$(sz a status | sed -n 's/^node key: *//p')
author_a=$(sz a whoami)
provider_a() { sz b dht lookup "$author_a" 2>/dev/null | grep -q "$node_a relay://"; }
wait_for 30 provider_a || fail "B's lookup of A's author key does not name A at a relayed endpoint: $(sz b dht lookup "$author_a" 2>&1)"
sz b dht lookup "$author_a" | grep "$node_a" | sed 's/^ */relay:   B looks up A by its author key: /'

# Invites, as a new user would: A's invite joined on B, B's on A.
inv_a=$(sz a invite 2>"$tmp/inv_a.err") || fail "samizdat invite on A failed"
inv_b=$(sz b invite 2>"$tmp/inv_b.err") || fail "samizdat invite on B failed"
grep -q "relay://" "$tmp/inv_a.err" || fail "A's invite names no relay endpoint: $(cat "$tmp/inv_a.err")"
grep -q "relay://" "$tmp/inv_b.err" || fail "B's invite names no relay endpoint: $(cat "$tmp/inv_b.err")"
say "A's invite: $(sed -n 's/^It names //p' "$tmp/inv_a.err")"
sz b join "$inv_a" --timeout 20 >"$tmp/join_b.out" 2>&1 ||
    fail "B could not join A's invite: $(cat "$tmp/join_b.out")"
sed 's/^/relay:   B joins: /' "$tmp/join_b.out"
grep -q "^connected to relay://" "$tmp/join_b.out" || fail "B did not join A through a relay"
# A is connected to B by then (B dialled it); joining must still succeed.
sz a join "$inv_b" --timeout 20 >"$tmp/join_a.out" 2>&1 ||
    fail "A could not join B's invite: $(cat "$tmp/join_a.out")"
sed 's/^/relay:   A joins: /' "$tmp/join_a.out"
key_a=$(sz a whoami --node)
key_b=$(sz b whoami --node)

author_a=$(sz a whoami)
author_b=$(sz b whoami)
sz a following | grep -q "$author_b" || fail "A does not follow B after joining B's invite"
sz b following | grep -q "$author_a" || fail "B does not follow A after joining A's invite"

# seq_of NODE AUTHOR: the highest post number NODE has of AUTHOR.
seq_of() {
    s=$(sz "$1" --json feed "$2" --limit 1 2>/dev/null | sed -n 's/.*"seq":\([0-9]*\).*/\1/p' | head -1)
    echo "${s:-0}"
}
has_seq() { [ "$(seq_of "$1" "$2")" -ge "$3" ]; }

# stored_ms NODE AUTHOR SEQ: when NODE's log says it stored that post (ms
# since the epoch; the log's clock is the machine's, as here).
stored_ms() {
    ts=$(grep -m1 "debug stored post #$3 of $2\$" "$tmp/$1.log" | cut -d' ' -f1)
    [ -n "$ts" ] && date -d "$ts" +%s%3N
}

# propagate FROM TO AUTHOR-OF-FROM TEXT: FROM posts; prints the ms from the
# start of the `post` command to the moment TO's log says it stored the
# post. Each figure includes the command's own run (the same for every
# path): that is written to $tmp/post_ms, to be printed apart.
propagate() {
    want=$(($(seq_of "$1" "$3") + 1))
    start_ms=$(now_ms)
    sz "$1" post "$4" >/dev/null || return 1
    echo $(($(now_ms) - start_ms)) >>"$tmp/post_ms"
    wait_for "$POST_S" has_seq "$2" "$3" "$want" || return 1
    got=$(stored_ms "$2" "$3" "$want") || got=$(now_ms)
    echo $((got - start_ms))
}

# As a new user would: A posts, B sees it, and back.
propagate a b "$author_a" "hello from A" >/dev/null || fail "A's first post did not reach B"
propagate b a "$author_b" "hello from B" >/dev/null || fail "B's first post did not reach A"
propagate r1 r2 "$author_r1" "hello from R1" >/dev/null || fail "R1's first post did not reach R2"
say "A's post reached B and B's reached A, through the relay"
# Then the figures: the first post on each link is left out (it comes
# while the follower is still setting up its subscription).
relayed=""
direct=""
: >"$tmp/post_ms"
for k in 1 2 3; do
    ms=$(propagate a b "$author_a" "from A through the relay, $k") || fail "A's post $k did not reach B"
    relayed="$relayed $ms"
    ms=$(propagate b a "$author_b" "from B through the relay, $k") || fail "B's post $k did not reach A"
    relayed="$relayed $ms"
    ms=$(propagate r1 r2 "$author_r1" "from R1 to R2 directly, $k") || fail "R1's post $k did not reach R2"
    direct="$direct $ms"
done
say "propagation through the relay (A->B, B->A, 3 rounds):$relayed ms"
say "propagation over a direct link (R1->R2, same run):     $direct ms"
say "  (from the start of \`samizdat post\` to the receiver storing it; the"
say "  post command itself took $(tr '\n' ' ' <"$tmp/post_ms")ms)"

# ------------------------------------------------------ the relay dies

# link_of NODE KEY: NODE's line in `peers` for the node KEY.
link_of() { sz "$1" peers 2>/dev/null | grep "^$2 " | head -1; }
# The relay their connection goes through: the one A's peers list names for
# B, else the one B dialled when it joined.
say "A's link to B: $(link_of a "$key_b")"
say "B's link to A: $(link_of b "$key_a")"
used=$(link_of a "$key_b" | sed -n 's|.*relay://\([0-9.]*\):.*|\1|p')
[ -n "$used" ] || used=$(link_of b "$key_a" | sed -n 's|.*relay://\([0-9.]*\):.*|\1|p')
[ -n "$used" ] || used=$(sed -n 's|^connected to relay://\([0-9.]*\):.*|\1|p' "$tmp/join_b.out" | head -1)
case $used in
"$ip_r1") dead=r1; alive=r2; ip_alive=$ip_r2 ;;
"$ip_r2") dead=r2; alive=r1; ip_alive=$ip_r1 ;;
*) fail "B's join names no relay of the test's: $(cat "$tmp/join_b.out")" ;;
esac
for n in a b; do
    sz "$n" status | grep -q "through relay relay://$ip_alive:" ||
        fail "$n keeps no reservation on the other relay ($alive) before $dead dies"
done
say "killing $dead (the relay of the homes' circuit); $alive is left"
t0=$(now_ms)
eval "kill -KILL \$pid_$dead"
eval "wait \$pid_$dead" 2>/dev/null || true
eval "pid_$dead="

only_alive() {
    st=$(sz "$1" status 2>/dev/null) || return 1
    echo "$st" | grep -q "through relay relay://$ip_alive:" &&
        ! echo "$st" | grep -q "through relay relay://$used:"
}
wait_for "$RECOVER_S" only_alive a || fail "A's status still names the dead relay or not $alive"
wait_for "$RECOVER_S" only_alive b || fail "B's status still names the dead relay or not $alive"
t_status=$(($(now_ms) - t0))
say "$dead killed: A's and B's status name only $alive after ${t_status} ms"
ms_ab=$(propagate a b "$author_a" "from A after the relay died") || fail "after $dead died, A's post did not reach B"
ms_ba=$(propagate b a "$author_b" "from B after the relay died") || fail "after $dead died, B's post did not reach A"
t_total=$(($(now_ms) - t0))
[ "$t_total" -le $((RECOVER_S * 1000)) ] || fail "recovery took ${t_total} ms, over ${RECOVER_S} s"
say "A's link to B now: $(link_of a "$key_b")"
say "recovered through $alive: posts flow again both ways ${t_total} ms after the kill"
say "  (then A->B ${ms_ab} ms, B->A ${ms_ba} ms)"
echo "1 passed, 0 failed"
