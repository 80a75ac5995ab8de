#!/bin/sh
# make demo: a small swarm on this computer. Four nodes on loopback, in a
# network of their own so they never meet the real one: a hub to join
# through, two authors (Ana and Ben) who set their names and post, and Cleo,
# who follows both by key and sees their posts arrive. Every node started
# here is stopped on exit, Ctrl-C included.
set -eu
build=${1:-build}
bin=$(cd "$build" && pwd)/samizdat
tmp=$(mktemp -d "${TMPDIR:-/tmp}/samizdat-demo.XXXXXX")
network="demo-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
pids=""

cleanup() {
    trap - EXIT INT TERM
    for p in $pids; do
        kill -INT "$p" 2>/dev/null || true
    done
    for p in $pids; do
        wait "$p" 2>/dev/null || true
    done
    if [ -z "${SAMIZDAT_KEEP_DEMO:-}" ]; then
        rm -rf "$tmp"
    else
        echo "demo: kept $tmp"
    fi
    echo "demo: all nodes stopped"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sz() {
    who=$1
    shift
    "$bin" --data "$tmp/$who" "$@"
}

start() {
    who=$1
    list=$2
    sz "$who" init >/dev/null
    # The binary itself, not through sz: $! must be the node, and a
    # background subshell would ignore SIGINT.
    "$bin" --data "$tmp/$who" run --listen tcp://127.0.0.1:0 --no-lan --network "$network" \
        --bootstrap "$list" 2>"$tmp/$who.log" &
    pids="$pids $!"
    i=0
    until sz "$who" --json status 2>/dev/null | grep -q '"listen"'; do
        i=$((i + 1))
        if [ $i -gt 100 ]; then
            echo "demo: $who did not start; see $tmp/$who.log" >&2
            exit 1
        fi
        sleep 0.1
    done
}

endpoint() {
    sz "$1" --json status | sed 's/.*"listen":\["\([^"]*\)".*/\1/'
}

echo "demo: four nodes on this computer, network $network, data in $tmp"
: >"$tmp/empty.list"
start hub "$tmp/empty.list"
echo "$(endpoint hub) $(sz hub whoami --node)" >"$tmp/hub.list"
for who in ana ben cleo; do
    start "$who" "$tmp/hub.list"
done
sz ana profile --name "Ana" --bio "radio amateur" >/dev/null
sz ben profile --name "Ben" --bio "keeps bees" >/dev/null
ana=$(sz ana whoami)
ben=$(sz ben whoami)
echo "demo: Ana is $ana"
echo "demo: Ben is $ben"
echo
echo "demo: Cleo follows both by key (found through the DHT):"
sz cleo follow "$ana" | sed 's/^/  /'
sz cleo follow "$ben" | sed 's/^/  /'
echo
echo "demo: Ana and Ben post; Cleo's timeline, as the posts arrive (Ctrl-C stops the demo):"

# Prints the posts of Cleo's timeline not printed yet, oldest first.
seen="$tmp/seen"
: >"$seen"
show_new() {
    sz cleo timeline --limit 50 | awk -v seen="$seen" '
        BEGIN { while ((getline id < seen) > 0) have[id] = 1 }
        /^[0-9][0-9][0-9][0-9]-/ { id = $NF; head = $0; body = ""; next }
        /^    / { body = body "\n" $0; next }
        /^$/ { if (id != "" && !(id in have)) { out[n++] = head body; print id >> seen } id = "" }
        END { for (i = n - 1; i >= 0; i--) print "  " out[i] }'
}

posts="Ana|The radio mast on the hill is back up.
Ben|First honey of the year: 12 kg from the south hives.
Ana|Net on 145.500 MHz tonight at eight, all welcome.
Ben|Swarm caught in the apple tree, now in a new box.
Ana|Thanks to everyone who checked in.
Ben|Selling a few jars at the market on Saturday."
echo "$posts" | while IFS='|' read -r who text; do
    if [ "$who" = Ana ]; then node=ana; else node=ben; fi
    sz "$node" post "$text" >/dev/null
    sleep 1
    show_new
done
sleep 1
show_new
echo
sz cleo status | grep -E '^(peers|gossip|dht):' | sed 's/^/  cleo /'
