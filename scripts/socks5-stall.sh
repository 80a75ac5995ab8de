#!/bin/sh
# socks5-stall.sh BUILD_DIR [TRIES]: runs test_socks5_posts TRIES times
# (default 41) in a network namespace of its own (loopback only) whose DNS
# server takes no answer: a blackhole on 127.0.0.1:53. A name lookup there
# hangs for the resolver's full timeout, as it does now and then against a
# slow or unreachable DNS server; nothing leaves this computer. This is
# how the 35 s stall of issue 11 (section 5) was reproduced: a node that
# dials a peer's .onion endpoint back directly makes libzmq look the name
# up, in its I/O thread, and every connection of that node waits.
set -eu
build=$(cd "$1" && pwd)
tries=${2:-41}
if [ "$(id -u)" != 0 ] || [ "${SOCKS5_STALL_INSIDE:-}" != 1 ]; then
    exec env SOCKS5_STALL_INSIDE=1 unshare -rnm sh "$0" "$build" "$tries"
fi
ip link set lo up
conf=$(mktemp)
echo "nameserver 127.0.0.1" >"$conf"
mount --bind "$conf" /etc/resolv.conf
# The blackhole: reads queries and answers none.
python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
while True:
    s.recv(2048)
' &
hole=$!
trap 'kill $hole; rm -f "$conf"' EXIT
SAMIZDAT_SOCKS5_TRIES=$tries "$build/tests/test_socks5_posts" || true
