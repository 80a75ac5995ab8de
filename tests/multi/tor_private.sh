#!/bin/sh
# tor_private.sh SAMIZDAT [WORKDIR]: samizdat over a private Tor network
# made offline on this computer (make test-tor-private; not in make test).
#
# Starts, with Debian's tor and torrc files of its own (chutney's templates
# were the model): 3 directory authorities (keys made with tor-gencert),
# 5 relays and 2 client Tors, all on 127.0.0.1 with distinct ports, and
# TestingTorNetwork with the rapid options (AssumeReachable, every relay
# voted Guard, Exit and HSDir, a 10 s voting interval). Nothing is sent
# anywhere but loopback: the authorities named are the test's own.
#
# Then node A runs with --tor against the first client Tor (reachable only
# as an onion service), posts, and node B, with --tor against
# the second client Tor, joins A's invite (its onion endpoint): B fetches
# A's post through Tor, then receives A's next post as it is published.
# Prints the figures: time for the Tor network to bootstrap, for A's onion
# service to be up, for B to connect, for the first post (fetched) and the
# second (pushed). Throughout, `ss` is asked for the two nodes' sockets:
# none may be UDP (a DNS lookup, a LAN beacon: --tor alone must stop them)
# nor TCP to anything but the node's own Tor (SOCKS and control ports) or
# from it. Exit 0 when both posts arrived and nothing leaked, 77 when tor or
# tor-gencert is missing, 1 otherwise (the logs are kept in WORKDIR).
set -eu

bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=${2:-}
if [ -z "$work" ]; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/samizdat-torpriv-XXXXXX")
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)

tor=
for t in /usr/bin/tor /usr/sbin/tor; do
    [ -x "$t" ] && tor=$t && break
done
if [ -z "$tor" ] || ! command -v tor-gencert >/dev/null 2>&1; then
    echo "skipped: tor and tor-gencert are needed (Debian package tor)"
    exit 77
fi

now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{printf "%.1f", $1 - $2}'; }

# Ports: a block of 50 nobody listens on, from a random start.
in_use() { ss -Hltn 2>/dev/null | awk '{print $4}' | sed 's/.*://' | grep -qx "$1"; }
base=
tries=0
while [ -z "$base" ] && [ $tries -lt 50 ]; do
    b=$((20000 + ($(od -An -N2 -tu2 /dev/urandom) % 400) * 50))
    ok=1
    p=$b
    while [ $p -lt $((b + 50)) ]; do
        if in_use $p; then
            ok=0
            break
        fi
        p=$((p + 1))
    done
    [ $ok = 1 ] && base=$b
    tries=$((tries + 1))
done
[ -n "$base" ] || { echo "no free block of ports"; exit 1; }

pids=
cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null || true
    done
    sleep 1
    for p in $pids; do
        kill -9 "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT INT TERM

AUTHS="0 1 2"
RELAYS="3 4 5 6 7"
CLIENTS="8 9"
orport() { echo $((base + $1)); }
dirport() { echo $((base + 10 + $1)); }
socksport() { echo $((base + 20 + $1)); }
ctlport() { echo $((base + 30 + $1)); }

# Authority keys and the DirAuthority lines every Tor of the network uses.
dirauths=$work/dirauths
: >"$dirauths"
for i in $AUTHS; do
    d=$work/tor$i
    mkdir -p "$d/keys"
    chmod 700 "$d"
    echo "" | tor-gencert --create-identity-key -m 12 -a "127.0.0.1:$(dirport $i)" \
        -i "$d/keys/authority_identity_key" -s "$d/keys/authority_signing_key" \
        -c "$d/keys/authority_certificate" --passphrase-fd 0 >"$d/gencert.log" 2>&1
    "$tor" --quiet --ignore-missing-torrc -f /dev/null --list-fingerprint --DataDirectory "$d" \
        --ORPort "$(orport $i)" --Nickname "auth$i" >"$d/fingerprint.out" 2>&1
    fp=$(awk '{print $2$3$4$5$6$7$8$9$10$11}' "$d/fingerprint")
    v3=$(awk '/^fingerprint /{print $2}' "$d/keys/authority_certificate")
    echo "DirAuthority auth$i orport=$(orport $i) no-v2 v3ident=$v3 127.0.0.1:$(dirport $i) $fp" \
        >>"$dirauths"
done

common() { # $1: number, $2: nickname
    cat <<EOF
TestingTorNetwork 1
AssumeReachable 1
PathsNeededToBuildCircuits 0.25
TestingDirAuthVoteExit *
TestingDirAuthVoteGuard *
TestingDirAuthVoteHSDir *
TestingMinExitFlagThreshold 0
V3AuthNIntervalsValid 2
DataDirectory $work/tor$1
Nickname $2
RunAsDaemon 0
ShutdownWaitLength 0
ConnLimit 60
Log notice file $work/tor$1/notice.log
SafeLogging 0
ProtocolWarnings 1
DisableDebuggerAttachment 0
$(cat "$dirauths")
EOF
}

relay() { # $1: number
    cat <<EOF
Address 127.0.0.1
ORPort $(orport $1)
DirPort $(dirport $1)
SocksPort 0
ContactInfo relay$1@test.test
ExitRelay 1
ExitPolicy accept 127.0.0.0/8:*
ExitPolicyRejectPrivate 0
EOF
}

for i in $AUTHS; do
    {
        common $i "auth$i"
        relay $i
        cat <<EOF
AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
TestingV3AuthInitialVotingInterval 10
TestingV3AuthInitialVoteDelay 2
TestingV3AuthInitialDistDelay 2
V3AuthVotingInterval 10
V3AuthVoteDelay 2
V3AuthDistDelay 2
EOF
    } >"$work/tor$i/torrc"
done
for i in $RELAYS; do
    mkdir -p "$work/tor$i"
    chmod 700 "$work/tor$i"
    { common $i "relay$i"; relay $i; } >"$work/tor$i/torrc"
done
for i in $CLIENTS; do
    mkdir -p "$work/tor$i"
    chmod 700 "$work/tor$i"
    {
        common $i "client$i"
        cat <<EOF
SocksPort 127.0.0.1:$(socksport $i)
ControlPort 127.0.0.1:$(ctlport $i)
CookieAuthentication 1
# Vanguards-lite keeps 4 second-hop relays apart from the rest for onion
# service circuits: a network this small cannot fill that set ("Could not
# find a node that matches the configured _HSLayer2Nodes set").
VanguardsLiteEnabled 0
EOF
    } >"$work/tor$i/torrc"
done

t0=$(now)
for i in $AUTHS $RELAYS $CLIENTS; do
    "$tor" -f "$work/tor$i/torrc" >"$work/tor$i/stdout.log" 2>&1 &
    pids="$pids $!"
done
echo "tor-private: 3 authorities, 5 relays, 2 clients on 127.0.0.1 ports $base-$((base + 49)); files in $work"

# Bootstrapped: both clients have a consensus and circuits.
boot_limit=${SAMIZDAT_TOR_BOOT_S:-300}
for i in $CLIENTS; do
    while ! grep -q "Bootstrapped 100%" "$work/tor$i/notice.log" 2>/dev/null; do
        if [ "$(since "$t0" | cut -d. -f1)" -ge "$boot_limit" ]; then
            echo "tor-private: client $i did not bootstrap in $boot_limit s; its last lines:"
            tail -n 15 "$work/tor$i/notice.log" 2>/dev/null || true
            exit 1
        fi
        sleep 0.5
    done
done
boot=$(since "$t0")
echo "tor-private: the Tor network bootstrapped in $boot s"

network=priv-$$
sz() { d=$1; shift; "$bin" --data "$work/$d" "$@"; }
for n in a b; do
    sz $n init >"$work/$n.init" 2>&1
done

json_field() { # $1 key: the first string value of "key":"..."
    sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" | head -n 1
}

# A: reachable only as an onion service.
t1=$(now)
"$bin" --data "$work/a" run --tor --tor-control "127.0.0.1:$(ctlport 8)" --port $((base + 40)) \
    --no-web --network "$network" --bootstrap /dev/null --log-level debug \
    >"$work/a.log" 2>&1 &
pid_a=$!
pids="$pids $!"
invite=
while [ -z "$invite" ]; do
    invite=$(sz a --json invite 2>/dev/null | json_field invite || true)
    if [ "$(since "$t1" | cut -d. -f1)" -ge 60 ]; then
        echo "tor-private: node A did not come up; the end of its log:"
        tail -n 15 "$work/a.log"
        exit 1
    fi
    [ -n "$invite" ] || sleep 0.3
done
onion=$(sz a --json invite | sed -n 's/.*"endpoints":\["\([^"]*\)".*/\1/p')
echo "tor-private: A is up as $onion after $(since "$t1") s"
sz a post "first post, over Tor" >/dev/null
author_a=$(sz a --json whoami | json_field author)

"$bin" --data "$work/b" run --tor --tor-control "127.0.0.1:$(ctlport 9)" --port $((base + 41)) \
    --no-web --network "$network" --bootstrap /dev/null --log-level debug \
    >"$work/b.log" 2>&1 &
pid_b=$!
pids="$pids $!"
t2=$(now)
# `status` answers from the data folder while the node is not running:
# `peers` needs the running node.
while ! sz b peers >/dev/null 2>&1; do
    [ "$(since "$t2" | cut -d. -f1)" -lt 60 ] || { tail -n 15 "$work/b.log"; exit 1; }
    sleep 0.3
done

# leaks PID LISTEN-PORT SOCKS-PORT CONTROL-PORT: the sockets of that node
# that go anywhere but its Tor: any UDP socket (a DNS lookup, a LAN
# beacon, port mapping), and any TCP connection other than to its Tor's
# SOCKS or control port or from Tor to its own listener.
leaks() {
    ss -tunapH 2>/dev/null | grep "pid=$1," | while read -r proto state _ _ local peer _; do
        case "$proto:$state" in
        udp:*) echo "UDP $local $peer" ;;
        tcp:LISTEN) ;;
        tcp:*)
            [ "${local##*:}" = "$2" ] && continue
            host=${peer%:*}
            host=${host#\[::ffff:}
            host=${host%\]}
            if [ "$host" = "127.0.0.1" ] && { [ "${peer##*:}" = "$3" ] || [ "${peer##*:}" = "$4" ]; }; then
                continue
            fi
            echo "TCP $local -> $peer" ;;
        esac
    done
}
checks=0
check_leaks() {
    la=$(leaks "$pid_a" $((base + 40)) "$(socksport 8)" "$(ctlport 8)")
    lb=$(leaks "$pid_b" $((base + 41)) "$(socksport 9)" "$(ctlport 9)")
    if [ -n "$la$lb" ]; then
        echo "tor-private: a node talks to something other than its Tor ($1):"
        [ -z "$la" ] || printf '%s\n' "$la" | sed 's/^/  A: /'
        [ -z "$lb" ] || printf '%s\n' "$lb" | sed 's/^/  B: /'
        exit 1
    fi
    checks=$((checks + 1))
}

# B joins A's invite: it dials the onion endpoint through its Tor.
t3=$(now)
if ! sz b join "$invite" --timeout 120 >"$work/b.join" 2>&1; then
    echo "tor-private: B could not join A: $(cat "$work/b.join")"
    echo "tor-private: A's Tor:"
    tail -n 10 "$work/tor8/notice.log"
    exit 1
fi
echo "tor-private: B connected to A's onion service in $(since "$t3") s"
check_leaks "after B joined"

wait_post() { # $1: text; the seconds until B holds it
    start=$(now)
    while ! sz b --json feed "$author_a" 2>/dev/null | grep -q "$1"; do
        if [ "$(since "$start" | cut -d. -f1)" -ge 120 ]; then
            echo "tor-private: B did not receive '$1' in 120 s"
            exit 1
        fi
        check_leaks "while B waits for a post"
        sleep 0.2
    done
}
wait_post "first post, over Tor"
echo "tor-private: B fetched A's first post $(since "$t3") s after it joined"
t4=$(now)
sz a post "second post, over Tor" >/dev/null
wait_post "second post, over Tor"
echo "tor-private: A's second post reached B in $(since "$t4") s"
echo "tor-private: B's status: $(sz b status | grep '^tor:')"
check_leaks "at the end"
echo "tor-private: no socket of A or B went anywhere but its own Tor ($checks looks with ss)"
echo "tor-private: ok (bootstrap $boot s)"
