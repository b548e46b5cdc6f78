#!/usr/bin/env bash
# Captures real `nft monitor trace` and `xtables-monitor --trace` output for the parser tests.
#
# Everything happens inside network namespaces this script creates (names start with `ptm`); the
# initial namespace's firewall, interfaces and sysctls are never touched. The namespaces are deleted
# on exit, also on failure.
#
# Topology (one fresh set of namespaces per scenario):
#
#   ptmcli-$$ (c0)  10.77.1.2/24  fd00:77:1::2/64
#        |
#   ptmrtr-$$ (r0)  10.77.1.1/24  fd00:77:1::1/64    ip_forward=1, ipv6 forwarding=1
#             (r1)  10.77.2.1/24  fd00:77:2::1/64
#        |
#   ptmsrv-$$ (s0)  10.77.2.2/24  fd00:77:2::2/64    HTTP server on port 80 (v4 and v6)
#
# Traffic, always from the client: a TCP connection to the router's 10.77.1.1:8080 (DNATed to
# 10.77.2.2:80), a UDP datagram to 10.77.2.2:5353 (dropped in forward), one ICMP echo to
# 10.77.2.2; over IPv6, a TCP connection to [fd00:77:1::1]:8080 (DNATed to [fd00:77:2::2]:80, nft
# scenario only) and an ICMPv6 echo to fd00:77:2::2.
#
# Usage: sudo scripts/capture-monitor-fixtures.sh [output-dir]   (default: Fixtures/captures)
# Needs: ip, nft, iptables-nft, ip6tables-nft, xtables-monitor, python3, stdbuf, timeout.
set -euo pipefail

OUT=${1:-"$(cd "$(dirname "$0")/.." && pwd)/Fixtures/captures"}

if [ "$(id -u)" != 0 ]; then
    echo "needs root (network namespaces)" >&2
    exit 1
fi
for tool in ip nft iptables-nft ip6tables-nft iptables-nft-save ip6tables-nft-save xtables-monitor python3 \
    stdbuf timeout; do
    command -v "$tool" >/dev/null || {
        echo "missing: $tool" >&2
        exit 1
    }
done
mkdir -p "$OUT"

CLI=ptmcli-$$
RTR=ptmrtr-$$
SRV=ptmsrv-$$
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
    for ns in "$CLI" "$RTR" "$SRV"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

setup_topology() {
    ip netns add "$CLI"
    ip netns add "$RTR"
    ip netns add "$SRV"
    ip link add c0 netns "$CLI" type veth peer name r0 netns "$RTR"
    ip link add s0 netns "$SRV" type veth peer name r1 netns "$RTR"
    for ns in "$CLI" "$RTR" "$SRV"; do in_ns "$ns" ip link set lo up; done

    in_ns "$CLI" ip addr add 10.77.1.2/24 dev c0
    in_ns "$CLI" ip -6 addr add fd00:77:1::2/64 dev c0 nodad
    in_ns "$CLI" ip link set c0 up
    in_ns "$CLI" ip route add default via 10.77.1.1
    in_ns "$CLI" ip -6 route add default via fd00:77:1::1

    in_ns "$RTR" ip addr add 10.77.1.1/24 dev r0
    in_ns "$RTR" ip -6 addr add fd00:77:1::1/64 dev r0 nodad
    in_ns "$RTR" ip addr add 10.77.2.1/24 dev r1
    in_ns "$RTR" ip -6 addr add fd00:77:2::1/64 dev r1 nodad
    in_ns "$RTR" ip link set r0 up
    in_ns "$RTR" ip link set r1 up
    in_ns "$RTR" sysctl -qw net.ipv4.ip_forward=1
    in_ns "$RTR" sysctl -qw net.ipv6.conf.all.forwarding=1

    in_ns "$SRV" ip addr add 10.77.2.2/24 dev s0
    in_ns "$SRV" ip -6 addr add fd00:77:2::2/64 dev s0 nodad
    in_ns "$SRV" ip link set s0 up
    in_ns "$SRV" ip route add default via 10.77.2.1
    in_ns "$SRV" ip -6 route add default via fd00:77:2::1

    # A dual-stack HTTP server (python's http.server binds :: with IPV6_V6ONLY off).
    (cd /tmp && exec ip netns exec "$SRV" timeout 120 python3 -m http.server 80 --bind :: >/dev/null 2>&1) &
    PIDS+=($!)
    local i
    for i in $(seq 50); do
        if in_ns "$SRV" bash -c 'exec 3<>/dev/tcp/127.0.0.1/80' 2>/dev/null; then break; fi
        sleep 0.1
    done
    # Resolve neighbours now so the traced packets are not delayed by ARP/ND.
    in_ns "$CLI" bash -c 'echo warmup > /dev/udp/10.77.1.1/9' || true
    in_ns "$SRV" bash -c 'echo warmup > /dev/udp/10.77.2.1/9' || true
    sleep 0.5
}

# One ICMP or ICMPv6 echo request with a fixed identifier, so captures are easy to read.
ping_once() {
    local ns=$1 dst=$2
    in_ns "$ns" timeout 5 python3 - "$dst" <<'EOF'
import socket, struct, sys
dst = sys.argv[1]
v6 = ":" in dst
if v6:
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    typ = 128
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    typ = 8
ident, seq = 0x7074, 1
payload = b"pathtrace-ping!!"
def csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF
hdr = struct.pack("!BBHHH", typ, 0, 0, ident, seq)
# The kernel fills in the ICMPv6 checksum for raw ICMPv6 sockets.
ck = 0 if v6 else csum(hdr + payload)
s.settimeout(2)
s.sendto(struct.pack("!BBHHH", typ, 0, ck, ident, seq) + payload, (dst, 0))
try:
    s.recv(2048)
    print("echo reply from", dst)
except socket.timeout:
    print("no echo reply from", dst)
EOF
}

tcp_get() {
    local ns=$1 host=$2 port=$3
    in_ns "$ns" timeout 5 bash -c \
        'exec 3<>"/dev/tcp/$0/$1"; printf "GET / HTTP/1.0\r\n\r\n" >&3; head -c 64 <&3 | head -1' "$host" "$port"
}

udp_send() {
    local ns=$1 host=$2 port=$3
    in_ns "$ns" bash -c 'echo pathtrace > "/dev/udp/$0/$1"' "$host" "$port"
}

# Starts a monitor in the router namespace, line-buffered into a file; its pid goes to MON_PIDS.
MON_PIDS=()
start_monitor() {
    local file=$1
    shift
    ip netns exec "$RTR" stdbuf -oL "$@" >"$file" 2>&1 &
    PIDS+=($!)
    MON_PIDS+=($!)
}

stop_monitors() {
    sleep 1
    local pid
    # SIGTERM, not SIGINT: a background job of a non-interactive shell ignores SIGINT. stdbuf -oL
    # has already flushed every line.
    for pid in "${MON_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${MON_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    MON_PIDS=()
}

# ---------------------------------------------------------------------------------------------
# (a) nft ruleset, `nft monitor trace` (and `nft -a monitor trace`, which adds rule handles)
# ---------------------------------------------------------------------------------------------
scenario_nft() {
    setup_topology
    in_ns "$RTR" nft -f - <<'EOF'
table inet pt {
    chain pre {
        type filter hook prerouting priority raw - 1; policy accept;
        tcp dport 8080 meta nftrace set 1
        udp dport 5353 meta nftrace set 1
        icmp type echo-request meta nftrace set 1
        icmpv6 type echo-request meta nftrace set 1
        tcp dport 8080 meta mark set 0x42
    }
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        meta nfproto ipv4 tcp dport 8080 dnat ip to 10.77.2.2:80
        meta nfproto ipv6 tcp dport 8080 dnat ip6 to [fd00:77:2::2]:80
    }
    chain checks {
        tcp dport 80 counter return
        counter
    }
    chain forward {
        type filter hook forward priority filter; policy accept;
        jump checks
        udp dport 5353 counter drop
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "r1" masquerade
    }
}
EOF
    in_ns "$RTR" nft -a list ruleset >"$OUT/nft-monitor-forward.ruleset"

    start_monitor "$OUT/nft-monitor-forward.txt" nft monitor trace
    start_monitor "$OUT/nft-monitor-forward-handles.txt" nft -a monitor trace
    sleep 1
    tcp_get "$CLI" 10.77.1.1 8080
    udp_send "$CLI" 10.77.2.2 5353
    ping_once "$CLI" 10.77.2.2
    tcp_get "$CLI" fd00:77:1::1 8080
    ping_once "$CLI" fd00:77:2::2
    stop_monitors
    cleanup
}

# ---------------------------------------------------------------------------------------------
# (b) iptables-nft / ip6tables-nft rules, `xtables-monitor --trace`
# ---------------------------------------------------------------------------------------------
scenario_xtables() {
    setup_topology
    in_ns "$RTR" bash -e <<'EOF'
ipt=iptables-nft
$ipt -t raw -A PREROUTING -p tcp --dport 8080 -j TRACE
$ipt -t raw -A PREROUTING -p udp --dport 5353 -j TRACE
$ipt -t raw -A PREROUTING -p icmp --icmp-type echo-request -j TRACE
$ipt -t mangle -A PREROUTING -p tcp --dport 8080 -j MARK --set-mark 0x42
$ipt -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.77.2.2:80
$ipt -t nat -A POSTROUTING -o r1 -j MASQUERADE
$ipt -N PT-CHECKS
$ipt -A PT-CHECKS -p tcp --dport 80 -j RETURN
$ipt -A PT-CHECKS -m comment --comment "count the rest"
$ipt -A FORWARD -j PT-CHECKS
$ipt -A FORWARD -p udp --dport 5353 -j DROP
# No icmp6 match here: xtables-monitor 1.8.9 cannot print it back ("match extension not found")
# and exits.
ip6tables-nft -t raw -A PREROUTING -d fd00:77:2::2 -p ipv6-icmp -j TRACE
ip6tables-nft -A FORWARD -p ipv6-icmp -j ACCEPT
EOF
    {
        in_ns "$RTR" iptables-nft-save
        in_ns "$RTR" ip6tables-nft-save
    } | grep -v '^#' >"$OUT/xtables-monitor-forward.ruleset"

    start_monitor "$OUT/xtables-monitor-forward.txt" xtables-monitor --trace
    sleep 1
    tcp_get "$CLI" 10.77.1.1 8080
    udp_send "$CLI" 10.77.2.2 5353
    ping_once "$CLI" 10.77.2.2
    ping_once "$CLI" fd00:77:2::2
    stop_monitors
    cleanup
}

scenario_nft
scenario_xtables
ls -l "$OUT"
