#!/usr/bin/env bash
# Captures the traces behind issue 8 §1 and §3 (Fixtures/captures/MONITOR-README.md, "Joins and
# verdicts"): a packet whose trace id changes at FORWARD, and legacy TRACE walks whose last step is a
# matched rule.
#
# Everything happens inside network namespaces this script creates (names start with `ptj`); the
# initial namespace's firewall, interfaces and sysctls are never touched. The namespaces are deleted
# on exit, also on failure.
#
# (a) docker-bridge: a Docker-like host. The container's veth is a port of bridge br0 (br_netfilter,
#     bridge-nf-call-iptables=1 in the host namespace), iptables-nft rules (MASQUERADE out of up0,
#     FORWARD accepts), traced with `xtables-monitor --trace` and `nft monitor trace` at once. The
#     kernel gives the packet one trace id at PREROUTING (skb_iif is the bridge port) and another at
#     FORWARD and POSTROUTING (skb_iif is br0).
#
#   ptjct-$$ (eth0) 172.30.0.2/24 -- veth0 [br0 172.30.0.1/24] ptjhost-$$ (up0) 10.78.0.1/24 -- ptjsrv-$$ 10.78.0.2
#
# (b) verdicts-legacy: a gateway with iptables-legacy rules, traced by `pathtrace trace --backend
#     legacy --save` (nfnetlink_log inside the namespace). A TCP SYN to port 8080 matches a DROP in
#     filter INPUT (nat INPUT would have printed next); the gateway pings the client and the echo reply
#     matches an ACCEPT in filter INPUT, after which nothing prints for a reply.
#
# Usage: sudo scripts/capture-join-fixtures.sh [output-dir]   (default: Fixtures/captures)
# Needs: ip, bridge support with br_netfilter, iptables-nft, iptables-legacy, xtables-monitor, nft,
# python3, stdbuf, timeout, and a built pathtrace (PATHTRACE, default .build/debug/pathtrace).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-"$REPO/Fixtures/captures"}
PATHTRACE=${PATHTRACE:-$REPO/.build/debug/pathtrace}

if [ "$(id -u)" != 0 ]; then
    echo "needs root (network namespaces)" >&2
    exit 1
fi
for tool in ip nft iptables-nft iptables-nft-save iptables-legacy iptables-legacy-save xtables-monitor python3 \
    stdbuf timeout "$PATHTRACE"; do
    command -v "$tool" >/dev/null || {
        echo "missing: $tool" >&2
        exit 1
    }
done
mkdir -p "$OUT"

CT=ptjct-$$
HOST=ptjhost-$$
SRV=ptjsrv-$$
PIDS=()

# SIGKILL, not SIGTERM: a caller (a test runner's thread) may pass on a signal mask that blocks
# SIGTERM, and every output is line-buffered already.
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
    for ns in "$CT" "$HOST" "$SRV"; do
        # What still runs inside our namespaces was started here (the server under `timeout`).
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

tcp_get() {
    local ns=$1 host=$2 port=$3
    in_ns "$ns" timeout -s KILL 5 bash -c \
        'exec 3<>"/dev/tcp/$0/$1"; printf "GET / HTTP/1.0\r\n\r\n" >&3; head -c 64 <&3 | head -1' "$host" "$port"
}

# One ICMP echo request with a fixed identifier (no ping binary needed).
ping_once() {
    local ns=$1 dst=$2 seq=${3:-1}
    in_ns "$ns" timeout -s KILL 5 python3 - "$dst" "$seq" <<'EOF'
import socket, struct, sys
dst, seq = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
payload = b"pathtrace-ping!!"
def csum(data):
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF
hdr = struct.pack("!BBHHH", 8, 0, 0, 0x7074, seq)
s.settimeout(2)
s.sendto(struct.pack("!BBHHH", 8, 0, csum(hdr + payload), 0x7074, seq) + payload, (dst, 0))
try:
    s.recv(2048)
except socket.timeout:
    print("no echo reply from", dst)
EOF
}

# The three namespaces, the container behind bridge br0 of the host, the server behind up0.
setup() {
    ip netns add "$CT"
    ip netns add "$HOST"
    ip netns add "$SRV"
    ip link add eth0 netns "$CT" type veth peer name veth0 netns "$HOST"
    ip link add eth0 netns "$SRV" type veth peer name up0 netns "$HOST"
    for ns in "$CT" "$HOST" "$SRV"; do in_ns "$ns" ip link set lo up; done
    in_ns "$HOST" ip link add br0 type bridge
    in_ns "$HOST" ip link set veth0 master br0
    in_ns "$HOST" ip addr add 172.30.0.1/24 dev br0
    in_ns "$HOST" ip link set br0 up
    in_ns "$HOST" ip link set veth0 up
    in_ns "$HOST" ip addr add 10.78.0.1/24 dev up0
    in_ns "$HOST" ip link set up0 up
    in_ns "$HOST" sysctl -qw net.ipv4.ip_forward=1
    in_ns "$CT" ip addr add 172.30.0.2/24 dev eth0
    in_ns "$CT" ip link set eth0 up
    in_ns "$CT" ip route add default via 172.30.0.1
    in_ns "$SRV" ip addr add 10.78.0.2/24 dev eth0
    in_ns "$SRV" ip link set eth0 up
    in_ns "$SRV" ip route add default via 10.78.0.1
    (cd /tmp && exec ip netns exec "$SRV" timeout -s KILL 60 python3 -m http.server 80 --bind 0.0.0.0 >/dev/null 2>&1) &
    PIDS+=($!)
    local i
    for i in $(seq 50); do
        if in_ns "$SRV" bash -c 'exec 3<>/dev/tcp/127.0.0.1/80' 2>/dev/null; then break; fi
        sleep 0.1
    done
    in_ns "$CT" bash -c 'echo warmup > /dev/udp/172.30.0.1/9' || true
    in_ns "$SRV" bash -c 'echo warmup > /dev/udp/10.78.0.1/9' || true
    sleep 0.5
}

scenario_docker_bridge() {
    setup
    # br_netfilter's switch is per namespace; the module is already loaded on this machine.
    in_ns "$HOST" sysctl -qw net.bridge.bridge-nf-call-iptables=1
    in_ns "$HOST" bash -e <<'EOF'
ipt=iptables-nft
$ipt -t raw -A PREROUTING -p tcp --dport 80 -j TRACE
$ipt -t raw -A PREROUTING -p tcp --sport 80 -j TRACE
$ipt -t raw -A PREROUTING -p icmp -j TRACE
$ipt -t nat -A POSTROUTING -s 172.30.0.0/24 ! -o br0 -j MASQUERADE
$ipt -A FORWARD -o br0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
$ipt -A FORWARD -i br0 ! -o br0 -j ACCEPT
EOF
    in_ns "$HOST" iptables-nft-save | grep -v '^#' >"$OUT/docker-bridge.ruleset"
    ip netns exec "$HOST" stdbuf -oL xtables-monitor --trace >"$OUT/docker-bridge-xtables-monitor.txt" 2>&1 &
    PIDS+=($!)
    local xm=$!
    ip netns exec "$HOST" stdbuf -oL nft monitor trace >"$OUT/docker-bridge-nft-monitor.txt" 2>&1 &
    PIDS+=($!)
    local nm=$!
    sleep 1
    tcp_get "$CT" 10.78.0.2 80
    ping_once "$CT" 10.78.0.2 1
    ping_once "$CT" 10.78.0.2 2
    sleep 1
    kill -KILL "$xm" "$nm" 2>/dev/null || true
    wait "$xm" "$nm" 2>/dev/null || true
    cleanup
}

scenario_verdicts_legacy() {
    setup
    in_ns "$HOST" iptables-legacy-restore <<'EOF'
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 172.30.0.0/24 -o up0 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 8080 -j DROP
-A INPUT -p icmp -m icmp --icmp-type 0 -j ACCEPT
COMMIT
EOF
    in_ns "$HOST" iptables-legacy-save | grep -v '^#' >"$OUT/verdicts-legacy.rules"
    "$PATHTRACE" trace --netns "$HOST" --backend legacy --src 172.30.0.2 --duration 6s --no-color \
        --save "$OUT/verdicts-legacy.events.jsonl" >/dev/null 2>&1 &
    PIDS+=($!)
    local pt=$!
    sleep 2
    # The SYN and its retransmission are dropped in filter INPUT; then the host pings the container:
    # its echo request leaves through OUTPUT (not traced: its source is the host), the reply comes in.
    in_ns "$CT" timeout -s KILL 2 bash -c 'exec 3<>/dev/tcp/172.30.0.1/8080' 2>/dev/null || true
    ping_once "$HOST" 172.30.0.2 1
    wait "$pt" || true
    cleanup
}

scenario_docker_bridge
scenario_verdicts_legacy
ls -l "$OUT"/docker-bridge* "$OUT"/verdicts-legacy*
