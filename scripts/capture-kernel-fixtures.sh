#!/usr/bin/env bash
# Reproduces the real kernel trace captures in Fixtures/captures/.
#
# Every scenario is built in fresh network namespaces named ptc-*, traced with
# iptables-legacy TRACE / LOG (and one nft `log` rule), and torn down again.
# The only change made to the initial namespace is net.netfilter.nf_log_all_netns=1,
# set just around each capture window (nf_log_syslog mutes other namespaces
# without it) and always restored, also on failure or Ctrl-C.
#
# Usage: sudo scripts/capture-kernel-fixtures.sh [SCENARIO...]
#   SCENARIO: libvirt-nat dnat-portmap drop output ipv6 log-rules bridge interleaved
#   (default: all).  OUT_DIR overrides the output folder (default Fixtures/captures).
#
# Per scenario it writes <name>.dmesg (dmesg form), <name>.kmsg (/dev/kmsg records),
# <name>.dmesg-T (dmesg -T form), <name>.rules (iptables-save), <name>.nvL (listings)
# and, where nft is used, <name>.nft.
set -euo pipefail

readonly ALL_SCENARIOS=(libvirt-nat dnat-portmap drop output ipv6 log-rules bridge interleaved)
readonly ALL_NETNS_SYSCTL=/proc/sys/net/netfilter/nf_log_all_netns
readonly PY=/usr/bin/python3
readonly TABLES=(raw mangle nat filter)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
OUT_DIR=${OUT_DIR:-$REPO_DIR/Fixtures/captures}

ORIG_ALL_NETNS=""
WORK=""
MARK_SEQ=0
CREATED_NS=()
BG_PIDS=()

log() { printf '[capture] %s\n' "$*" >&2; }
die() {
    printf '[capture] error: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------------------
# Clean-up: runs on every exit path.
# ---------------------------------------------------------------------------
kill_bg() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${BG_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    BG_PIDS=()
}

delete_namespaces() {
    local ns pid
    for ns in "${CREATED_NS[@]}"; do
        # Processes still inside one of our namespaces were started by us.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill "$pid" 2>/dev/null || true
        done
        ip netns del "$ns" 2>/dev/null || true
    done
    CREATED_NS=()
}

restore_sysctl() {
    if [[ -n "$ORIG_ALL_NETNS" && -w "$ALL_NETNS_SYSCTL" ]]; then
        if [[ "$(cat "$ALL_NETNS_SYSCTL")" != "$ORIG_ALL_NETNS" ]]; then
            printf '%s\n' "$ORIG_ALL_NETNS" >"$ALL_NETNS_SYSCTL" || true
        fi
    fi
}

cleanup() {
    local rc=$?
    set +e
    restore_sysctl
    kill_bg
    delete_namespaces
    restore_sysctl
    [[ -n "$WORK" && -d "$WORK" ]] && rm -rf "$WORK"
    if [[ $rc -ne 0 ]]; then
        log "failed (exit $rc); namespaces removed, nf_log_all_netns restored to $ORIG_ALL_NETNS"
    fi
    exit "$rc"
}

# ---------------------------------------------------------------------------
# Namespace helpers
# ---------------------------------------------------------------------------
ns_add() {
    local ns=$1
    [[ $ns == ptc* ]] || die "namespace name must start with ptc: $ns"
    ip netns add "$ns"
    CREATED_NS+=("$ns")
    ip -n "$ns" link set lo up
}

nsx() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

# veth NS1 IF1 MAC1 NS2 IF2 MAC2: a veth pair created directly inside the namespaces.
veth() {
    ip -n "$1" link add "$2" address "$3" type veth peer name "$5" address "$6" netns "$4"
    ip -n "$1" link set "$2" up
    ip -n "$4" link set "$5" up
}

ipt() {
    local ns=$1
    shift
    nsx "$ns" iptables-legacy "$@"
}

ip6t() {
    local ns=$1
    shift
    nsx "$ns" ip6tables-legacy "$@"
}

# Instantiate the four usual tables so that every hook has its legacy chains,
# as on a host where they are all in use.
load_tables() {
    local ns=$1 cmd=$2 t
    for t in "${TABLES[@]}"; do
        nsx "$ns" "$cmd" -t "$t" -S >/dev/null
    done
}

# Background job, remembered so the trap can stop it.
bg() {
    "$@" &
    BG_PIDS+=("$!")
}

wait_listen() {
    local ns=$1 port=$2 i
    for ((i = 0; i < 50; i++)); do
        if nsx "$ns" ss -Hltn "sport = :$port" | grep -q .; then
            return 0
        fi
        sleep 0.1
    done
    die "nothing listens on port $port in $ns"
}

wait_bg() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        wait "$pid" || die "background job $pid failed"
    done
    BG_PIDS=()
}

teardown() {
    kill_bg
    delete_namespaces
}

# ---------------------------------------------------------------------------
# Traffic generator (TCP server/client, UDP sender) in Python, stdlib only.
# ---------------------------------------------------------------------------
write_traffic_helper() {
    cat >"$WORK/traffic.py" <<'EOF'
import socket, sys, threading, time

def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET

def serve(host, port, count, timeout):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(16)
    s.settimeout(timeout)
    def handle(c):
        c.settimeout(timeout)
        n = 0
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            n += len(chunk)
        c.sendall(b"ok %d\n" % n)
        c.close()
    threads = []
    for _ in range(count):
        c, _ = s.accept()
        t = threading.Thread(target=handle, args=(c,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(timeout)
    s.close()

def client(host, port, sport, chunks, delay, timeout, expect_fail):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if sport:
        s.bind(("::" if ":" in host else "0.0.0.0", sport))
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except OSError as e:
        if expect_fail:
            print("connect %s:%d failed as expected: %s" % (host, port, e))
            return
        raise
    if expect_fail:
        sys.exit("connect %s:%d unexpectedly succeeded" % (host, port))
    for i in range(chunks):
        s.sendall(b"ptc-%d\n" % i)
        time.sleep(delay)
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    s.close()
    print("reply from %s:%d: %r" % (host, port, reply))

def burst(host, port, sport, count, chunks, timeout):
    """count connections from sport, sport+1, ...; once all are open, one thread per
    connection, pinned to CPU i % ncpu, sends its chunks at the same moment."""
    import os
    ncpu = os.cpu_count() or 1
    socks = []
    for i in range(count):
        s = socket.socket(family(host), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.bind(("0.0.0.0", sport + i))
        s.settimeout(timeout)
        s.connect((host, port))
        socks.append(s)
    barrier = threading.Barrier(count)
    def run(i, s):
        os.sched_setaffinity(0, {i % ncpu})
        barrier.wait(timeout)
        for j in range(chunks):
            s.send(b"ptc-%d-%d\n" % (i, j))
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass
        s.close()
    threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate(socks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    print("burst of %d connections to %s:%d done" % (count, host, port))

def udp(host, port, sport):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    if sport:
        s.bind(("::" if ":" in host else "0.0.0.0", sport))
    s.sendto(b"ptc\n", (host, port))
    s.close()

mode = sys.argv[1]
if mode == "serve":
    serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
elif mode == "client":
    client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
           float(sys.argv[6]), float(sys.argv[7]), sys.argv[8] == "fail")
elif mode == "burst":
    burst(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
          float(sys.argv[7]))
elif mode == "udp":
    udp(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
else:
    sys.exit("unknown mode " + mode)
EOF
    chmod 0755 "$WORK"
    chmod 0644 "$WORK/traffic.py"
}

# serve NS HOST PORT COUNT: background TCP server for COUNT connections (bounded).
serve() {
    bg nsx "$1" timeout 30 "$PY" "$WORK/traffic.py" serve "$2" "$3" "$4" 20
    wait_listen "$1" "$3"
}

# client NS HOST PORT SPORT [CHUNKS] [DELAY] [ok|fail] [timeout]
client() {
    nsx "$1" timeout 15 "$PY" "$WORK/traffic.py" client "$2" "$3" "$4" "${5:-1}" "${6:-0.05}" \
        "${8:-5}" "${7:-ok}"
}

udp_send() {
    nsx "$1" timeout 5 "$PY" "$WORK/traffic.py" udp "$2" "$3" "$4"
}

# ---------------------------------------------------------------------------
# Kernel log capture
# ---------------------------------------------------------------------------
# All records currently in the ring buffer, in /dev/kmsg form (non-blocking read).
kmsg_dump() {
    dd if=/dev/kmsg iflag=nonblock bs=16384 count=200000 status=none 2>/dev/null || true
}

kmsg_last_seq() {
    kmsg_dump | awk -F'[,;]' '/^[0-9]+,[0-9]+,/ { s = $2 } END { print s + 0 }'
}

capture_begin() {
    MARK_SEQ=$(kmsg_last_seq)
    printf '1\n' >"$ALL_NETNS_SYSCTL"
}

# capture_end NAME ADDR_REGEX: keep the new records that are TRACE/LOG lines of
# this scenario and write them in kmsg, dmesg and dmesg -T form.
capture_end() {
    local name=$1 addr_re=$2
    local kmsg=$OUT_DIR/$name.kmsg dm=$OUT_DIR/$name.dmesg dmt=$OUT_DIR/$name.dmesg-T
    local keys=$WORK/keys n i
    sleep 0.5
    restore_sysctl
    kmsg_dump | PTC_RE=$addr_re awk -v mark="$MARK_SEQ" '
        /^[0-9]+,[0-9]+,/ {
            split($0, f, /[,;]/)
            if (f[2] + 0 <= mark) next
            msg = substr($0, index($0, ";") + 1)
            if (msg !~ /(TRACE: |\[PT [A-Z]+\] |pt nft )/) next
            if (msg !~ ENVIRON["PTC_RE"]) next
            print
        }' >"$kmsg"
    n=$(wc -l <"$kmsg")
    [[ $n -gt 0 ]] || die "$name: no trace lines captured"
    # The dmesg line each record must produce: "[%5u.%06u] text".
    awk '{
        split($0, f, /[,;]/)
        us = f[3]
        printf "[%5d.%06d] %s\n", int(us / 1000000), us % 1000000, substr($0, index($0, ";") + 1)
    }' "$kmsg" >"$keys"
    # Take the real dmesg and dmesg -T output (same records, same order) and keep
    # the lines that correspond to the captured records.
    for ((i = 0; i < 5; i++)); do
        dmesg --color=never >"$WORK/dmesg.all"
        dmesg --color=never -T >"$WORK/dmesg-T.all"
        if [[ $(wc -l <"$WORK/dmesg.all") -eq $(wc -l <"$WORK/dmesg-T.all") ]]; then
            break
        fi
    done
    awk -v out_t="$dmt" '
        FILENAME == ARGV[1] { want[$0] = 1; next }
        FILENAME == ARGV[2] { plain[FNR] = $0; next }
        (plain[FNR] in want) { print plain[FNR]; print > out_t }
    ' "$keys" "$WORK/dmesg.all" "$WORK/dmesg-T.all" >"$dm"
    if ! cmp -s "$dm" "$keys"; then
        diff "$keys" "$dm" | head -5 >&2 || true
        die "$name: dmesg output does not match the /dev/kmsg records"
    fi
    log "$name: $n lines"
}

# expect NAME REGEX...: every extended regex must match a line of NAME.dmesg.
expect() {
    local name=$1 re
    shift
    for re in "$@"; do
        grep -Eq -- "$re" "$OUT_DIR/$name.dmesg" || die "$name: no line matches: $re"
    done
}

# expect_no NAME REGEX...: no line of NAME.dmesg may match.
expect_no() {
    local name=$1 re
    shift
    for re in "$@"; do
        if grep -Eq -- "$re" "$OUT_DIR/$name.dmesg"; then
            die "$name: unexpected line matches: $re"
        fi
    done
}

# expect_count NAME N REGEX: exactly N lines of NAME.dmesg match.
expect_count() {
    local n
    n=$(grep -Ec -- "$3" "$OUT_DIR/$1.dmesg" || true)
    [[ $n -eq $2 ]] || die "$1: $n lines match $3, expected $2"
}

# Number of packets in FILE whose TRACE lines are not contiguous, i.e. whose walk
# is interrupted by lines of another packet.  A packet is keyed by the header
# fields that no chain rewrites: LEN TOS PREC and everything from ID= on.
count_interleaved() {
    awk '/TRACE: / {
        s = $0
        sub(/ \[SRC=.*/, "", s)
        if (!match(s, / LEN=[0-9]+ TOS=0x[0-9A-F]+ PREC=0x[0-9A-F]+/)) next
        a = substr(s, RSTART, RLENGTH)
        if (!match(s, / TTL=[0-9]+ /)) next
        key = a substr(s, RSTART + RLENGTH)
        if ((key in last) && last[key] != NR - 1) split_walk[key] = 1
        last[key] = NR
    }
    END { n = 0; for (k in split_walk) n++; print n }' "$1"
}

# save_rules NAME NS [ip6]: iptables-save output and -nvL listings of NS.
save_rules() {
    local name=$1 ns=$2 fam=${3:-ip} cmd save label t
    if [[ $fam == ip6 ]]; then
        cmd=ip6tables-legacy save=ip6tables-legacy-save label=ip6tables
    else
        cmd=iptables-legacy save=iptables-legacy-save label=iptables
    fi
    {
        printf '# netns %s (%s)\n' "$ns" "$save"
        nsx "$ns" "$save"
    } >"$OUT_DIR/$name.rules"
    {
        printf '# netns %s\n' "$ns"
        for t in "${TABLES[@]}"; do
            printf '# %s -t %s -nvL --line-numbers\n' "$label" "$t"
            nsx "$ns" "$cmd" -t "$t" -nvL --line-numbers
            printf '\n'
        done
    } >"$OUT_DIR/$name.nvL"
}

# ---------------------------------------------------------------------------
# Topologies
# ---------------------------------------------------------------------------
# The libvirt host of seed 001: VM behind virbr0, uplink bond0, proxy 10.44.32.217:3128.
build_libvirt() {
    ns_add ptc-vm
    ns_add ptc-host
    ns_add ptc-wan
    veth ptc-vm eth0 52:54:00:a4:5e:56 ptc-host vnet0 fe:54:00:a4:5e:56
    veth ptc-host bond0 02:00:0a:2c:00:01 ptc-wan eth0 02:00:0a:2c:00:fe

    ip -n ptc-host link add virbr0 address 52:54:00:da:ec:4f type bridge stp_state 0
    ip -n ptc-host link set vnet0 master virbr0
    ip -n ptc-host link set virbr0 up
    ip -n ptc-host addr add 192.168.122.1/24 dev virbr0
    ip -n ptc-host addr add 10.44.0.1/24 dev bond0
    ip -n ptc-host route add default via 10.44.0.254
    nsx ptc-host sysctl -qw net.ipv4.ip_forward=1
    # The seed's host shows no PHYSIN=: br_netfilter was not calling iptables there.
    nsx ptc-host sysctl -qw net.bridge.bridge-nf-call-iptables=0

    ip -n ptc-vm addr add 192.168.122.17/24 dev eth0
    ip -n ptc-vm route add default via 192.168.122.1

    ip -n ptc-wan addr add 10.44.0.254/24 dev eth0
    ip -n ptc-wan addr add 10.44.32.217/24 dev eth0

    local h=ptc-host
    load_tables "$h" iptables-legacy
    # libvirt's rules, as listed in the seed.
    ipt $h -A INPUT -i virbr0 -p udp -m udp --dport 53 -j ACCEPT
    ipt $h -A INPUT -i virbr0 -p tcp -m tcp --dport 53 -j ACCEPT
    ipt $h -A INPUT -i virbr0 -p udp -m udp --dport 67 -j ACCEPT
    ipt $h -A INPUT -i virbr0 -p tcp -m tcp --dport 67 -j ACCEPT
    ipt $h -A FORWARD -d 192.168.122.0/24 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    ipt $h -A FORWARD -s 192.168.122.0/24 -i virbr0 -j ACCEPT
    ipt $h -A FORWARD -i virbr0 -o virbr0 -j ACCEPT
    ipt $h -A FORWARD -o virbr0 -j REJECT --reject-with icmp-port-unreachable
    ipt $h -A FORWARD -i virbr0 -j REJECT --reject-with icmp-port-unreachable
    ipt $h -A OUTPUT -o virbr0 -p udp -m udp --dport 68 -j ACCEPT
    ipt $h -t nat -A POSTROUTING -s 192.168.122.0/24 -d 224.0.0.0/24 -j RETURN
    ipt $h -t nat -A POSTROUTING -s 192.168.122.0/24 -d 255.255.255.255/32 -j RETURN
    ipt $h -t nat -A POSTROUTING -s 192.168.122.0/24 ! -d 192.168.122.0/24 -p tcp -j MASQUERADE --to-ports 1024-65535
    ipt $h -t nat -A POSTROUTING -s 192.168.122.0/24 ! -d 192.168.122.0/24 -p udp -j MASQUERADE --to-ports 1024-65535
    ipt $h -t nat -A POSTROUTING -s 192.168.122.0/24 ! -d 192.168.122.0/24 -j MASQUERADE
    # The trace rules.
    ipt $h -t raw -A PREROUTING -p tcp --dport 3128 -j TRACE
    ipt $h -t raw -A PREROUTING -p tcp --sport 3128 -j TRACE
}

# client -- rtr -- srv, IPv4.  rtr: eth0 (client side), eth1 (server side).
build_routed() {
    local c_net=$1 s_net=$2 cli_mac=$3
    ns_add ptc-cli
    ns_add ptc-rtr
    ns_add ptc-srv
    veth ptc-cli eth0 "$cli_mac":10 ptc-rtr eth0 "$cli_mac":01
    veth ptc-rtr eth1 "$cli_mac":81 ptc-srv eth0 "$cli_mac":82
    ip -n ptc-cli addr add "$c_net.10/24" dev eth0
    ip -n ptc-cli route add default via "$c_net.1"
    ip -n ptc-rtr addr add "$c_net.1/24" dev eth0
    ip -n ptc-rtr addr add "$s_net.1/24" dev eth1
    nsx ptc-rtr sysctl -qw net.ipv4.ip_forward=1
    ip -n ptc-srv addr add "$s_net.$4/24" dev eth0
    if [[ ${5:-route} == route ]]; then
        ip -n ptc-srv route add default via "$s_net.1"
    fi
    load_tables ptc-rtr iptables-legacy
}

# ---------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------
scenario_libvirt_nat() {
    build_libvirt
    serve ptc-wan 10.44.32.217 3128 1
    capture_begin
    client ptc-vm 10.44.32.217 3128 42954 1
    wait_bg
    capture_end libvirt-nat '(192\.168\.122\.17|10\.44\.)'
    expect libvirt-nat \
        '^\[ *[0-9.]+\] TRACE: raw:PREROUTING:policy:3 IN=virbr0 OUT= MAC=52:54:00:da:ec:4f:52:54:00:a4:5e:56:08:00 SRC=192\.168\.122\.17 DST=10\.44\.32\.217 .*TTL=64 .*SYN' \
        'mangle:FORWARD:policy:1 IN=virbr0 OUT=bond0 .*TTL=63 .*SYN' \
        'nat:POSTROUTING:rule:3 .*SRC=192\.168\.122\.17 .*SPT=42954 DPT=3128 .*SYN' \
        'raw:PREROUTING:policy:3 IN=bond0 .*SRC=10\.44\.32\.217 DST=10\.44\.0\.1 .*SPT=3128 DPT=42954' \
        'filter:FORWARD:rule:1 IN=bond0 OUT=virbr0 .*DST=192\.168\.122\.17 .*SPT=3128 DPT=42954'
    expect_count libvirt-nat 2 'TRACE: nat:'
    save_rules libvirt-nat ptc-host
    teardown
}

scenario_dnat_portmap() {
    # The server has no route back: SNAT to 10.77.0.1 makes the replies return.
    build_routed 172.31.1 10.77.0 02:00:ac:1f:01 80 noroute
    local r=ptc-rtr
    ipt $r -t raw -A PREROUTING -p tcp --dport 8765 -j TRACE
    ipt $r -t raw -A PREROUTING -p tcp --sport 80 -j TRACE
    ipt $r -t nat -A PREROUTING -d 172.31.1.1/32 -i eth0 -p tcp --dport 8765 -j DNAT --to-destination 10.77.0.80:80
    ipt $r -t nat -A POSTROUTING -d 10.77.0.80/32 -o eth1 -p tcp --dport 80 -j SNAT --to-source 10.77.0.1
    ipt $r -N AUDIT-FWD
    ipt $r -N WEB
    ipt $r -A AUDIT-FWD -m conntrack --ctstate NEW -j LOG --log-prefix "[PT AUDIT] "
    ipt $r -A AUDIT-FWD -m conntrack --ctstate ESTABLISHED -j RETURN
    ipt $r -A WEB -s 172.31.1.0/24 -p tcp --dport 80 -j ACCEPT
    ipt $r -P FORWARD DROP
    ipt $r -A FORWARD -j AUDIT-FWD
    ipt $r -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    ipt $r -A FORWARD -i eth0 -o eth1 -d 10.77.0.80/32 -p tcp -j WEB

    serve ptc-srv 10.77.0.80 80 1
    capture_begin
    client ptc-cli 172.31.1.1 8765 41234 1
    wait_bg
    capture_end dnat-portmap '(172\.31\.1\.|10\.77\.0\.)'
    expect dnat-portmap 'nat:PREROUTING:rule:1 IN=eth0 .*DST=172\.31\.1\.1 .*DPT=8765 .*SYN' \
        'mangle:FORWARD:policy:1 IN=eth0 OUT=eth1 .*DST=10\.77\.0\.80 .*TTL=63 .*DPT=80 .*SYN' \
        'filter:AUDIT-FWD:rule:1 ' '^\[ *[0-9.]+\] \[PT AUDIT\] IN=eth0 OUT=eth1 ' 'filter:AUDIT-FWD:return:3 ' \
        'filter:WEB:rule:1 ' 'nat:POSTROUTING:rule:1 .*DST=10\.77\.0\.80 ' 'filter:AUDIT-FWD:rule:2 ' \
        'mangle:FORWARD:policy:1 IN=eth1 OUT=eth0 .*SRC=10\.77\.0\.80 DST=172\.31\.1\.10 '
    expect_count dnat-portmap 2 'TRACE: nat:'
    save_rules dnat-portmap $r
    teardown
}

scenario_drop() {
    build_routed 172.31.3 10.78.0 02:00:ac:1f:03 20
    local r=ptc-rtr
    # Fail neighbour resolution quickly for the missing host 10.78.0.99.
    nsx $r sysctl -qw net.ipv4.neigh.eth1.mcast_solicit=1 net.ipv4.neigh.eth1.retrans_time_ms=300
    ipt $r -t raw -A PREROUTING -p udp -m multiport --dports 9996,9997,9999 -j TRACE
    ipt $r -t raw -A PREROUTING -p tcp --dport 9998 -j TRACE
    ipt $r -t raw -A PREROUTING -p icmp -j TRACE
    ipt $r -t raw -A OUTPUT -p icmp -j TRACE
    ipt $r -A FORWARD -p udp --dport 9999 -j DROP
    ipt $r -A FORWARD -p tcp --dport 9998 -j REJECT --reject-with icmp-port-unreachable
    # A conntrack user: without one the namespace has no conntrack and the nat
    # chains are never traversed.
    ipt $r -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    ipt $r -A INPUT -p icmp -j ACCEPT
    ipt $r -P INPUT DROP

    capture_begin
    # 1. UDP to 9999: dropped in filter FORWARD.
    udp_send ptc-cli 10.78.0.20 9999 40999
    sleep 0.2
    # 2. TCP to 9998: rejected, the router sends ICMP port unreachable.
    client ptc-cli 10.78.0.20 9998 40998 1 0 fail 3
    sleep 0.2
    # 3. UDP to 9997: forwarded, the server answers ICMP port unreachable.
    udp_send ptc-cli 10.78.0.20 9997 40997
    sleep 0.3
    # 4. TTL 1: the router answers ICMP time exceeded.
    nsx ptc-cli timeout 5 ping -n -c 1 -t 1 -W 2 10.78.0.20 || true
    sleep 0.2
    # 5. A missing host: the router answers ICMP host unreachable.
    nsx ptc-cli timeout 8 ping -n -c 1 -W 5 10.78.0.99 || true
    sleep 0.2
    # 6. UDP to the router itself: dropped by the filter INPUT policy.
    udp_send ptc-cli 172.31.3.1 9996 40996
    capture_end drop '(172\.31\.3\.|10\.78\.0\.)'
    expect drop 'filter:FORWARD:rule:1 .*DPT=9999' 'filter:FORWARD:rule:2 .*DPT=9998' \
        'raw:OUTPUT:.* TYPE=3 CODE=3 \[SRC=172\.31\.3\.10 DST=10\.78\.0\.20 .*DPT=9998' \
        'filter:FORWARD:rule:3 IN=eth1 OUT=eth0 .* TYPE=3 CODE=3 \[SRC=.*DPT=9997' \
        'TTL=1 .*TYPE=8' 'raw:OUTPUT:.* TYPE=11 CODE=0 \[SRC=' \
        'raw:OUTPUT:.* TYPE=3 CODE=1 \[SRC=172\.31\.3\.10 DST=10\.78\.0\.99 ' \
        'filter:INPUT:policy:2 .*DPT=9996'
    expect_no drop 'TRACE: filter:FORWARD:.*TTL=1 ' 'TRACE: nat:(OUTPUT|POSTROUTING):.*PROTO=ICMP TYPE=(3|11) '
    save_rules drop $r
    teardown
}

scenario_output() {
    ns_add ptc-rtr
    ns_add ptc-srv
    veth ptc-rtr eth0 02:00:ac:1f:04:01 ptc-srv eth0 02:00:ac:1f:04:14
    ip -n ptc-rtr addr add 172.31.4.1/24 dev eth0
    ip -n ptc-srv addr add 172.31.4.20/24 dev eth0
    local r=ptc-rtr
    load_tables $r iptables-legacy
    ipt $r -t raw -A OUTPUT -p tcp -m multiport --dports 80,8080 -j TRACE
    ipt $r -t raw -A OUTPUT -p icmp -j TRACE
    ipt $r -t raw -A PREROUTING -p tcp --sport 80 -j TRACE
    ipt $r -t raw -A PREROUTING -p icmp -j TRACE
    ipt $r -t nat -A OUTPUT -d 172.31.4.80/32 -p tcp --dport 8080 -j DNAT --to-destination 172.31.4.20:80
    ipt $r -A OUTPUT -m owner --uid-owner 65534 -j ACCEPT
    ipt $r -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    ipt $r -A INPUT -p icmp -j ACCEPT

    serve ptc-srv 172.31.4.20 80 2
    capture_begin
    # 1. root: TCP 172.31.4.1:41000 -> 172.31.4.20:80
    client $r 172.31.4.20 80 41000 1
    sleep 0.2
    # 2. uid/gid 65534: TCP to 172.31.4.80:8080, DNAT in nat OUTPUT to 172.31.4.20:80
    nsx $r timeout 15 setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$PY" "$WORK/traffic.py" client 172.31.4.80 8080 41001 1 0.05 5 ok
    sleep 0.2
    # 3. root: one ping
    nsx $r timeout 5 ping -n -c 1 -W 2 172.31.4.20
    wait_bg
    capture_end output '172\.31\.4\.'
    expect output 'raw:OUTPUT:policy:3 IN= OUT=eth0 SRC=172\.31\.4\.1 DST=172\.31\.4\.20 .*SYN .*UID=0 GID=0' \
        'raw:OUTPUT:policy:3 .*DST=172\.31\.4\.80 .*DPT=8080 .*UID=65534 GID=65534' \
        'nat:OUTPUT:rule:1 .*DST=172\.31\.4\.80 ' \
        'filter:OUTPUT:rule:1 .*DST=172\.31\.4\.20 .*DPT=80 .*UID=65534 GID=65534' \
        'PROTO=ICMP TYPE=8 .*UID=0 GID=0' 'filter:INPUT:rule:1 .*PROTO=ICMP TYPE=0'
    save_rules output $r
    teardown
}

scenario_ipv6() {
    ns_add ptc-cli
    ns_add ptc-rtr
    ns_add ptc-srv
    veth ptc-cli eth0 02:00:fd:00:01:10 ptc-rtr eth0 02:00:fd:00:01:01
    veth ptc-rtr eth1 02:00:fd:00:02:01 ptc-srv eth0 02:00:fd:00:02:20
    ip -n ptc-cli addr add fd00:1::10/64 dev eth0 nodad
    ip -n ptc-cli route add default via fd00:1::1
    ip -n ptc-rtr addr add fd00:1::1/64 dev eth0 nodad
    ip -n ptc-rtr addr add fd00:2::1/64 dev eth1 nodad
    nsx ptc-rtr sysctl -qw net.ipv6.conf.all.forwarding=1
    ip -n ptc-srv addr add fd00:2::20/64 dev eth0 nodad
    ip -n ptc-srv route add default via fd00:2::1
    local r=ptc-rtr
    load_tables $r ip6tables-legacy
    ip6t $r -t raw -A PREROUTING -p tcp -m multiport --dports 80,8080 -j TRACE
    ip6t $r -t raw -A PREROUTING -p tcp --sport 80 -j TRACE
    ip6t $r -t raw -A PREROUTING -p ipv6-icmp --icmpv6-type echo-request -j TRACE
    ip6t $r -t raw -A PREROUTING -p ipv6-icmp --icmpv6-type echo-reply -j TRACE
    ip6t $r -t nat -A PREROUTING -d fd00:1::1/128 -i eth0 -p tcp --dport 8080 -j DNAT --to-destination '[fd00:2::20]:80'
    ip6t $r -t nat -A POSTROUTING -s fd00:1::/64 -o eth1 -j MASQUERADE
    ip6t $r -P FORWARD DROP
    ip6t $r -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    ip6t $r -A FORWARD -i eth0 -o eth1 -p tcp --dport 80 -j ACCEPT
    ip6t $r -A FORWARD -i eth0 -o eth1 -p ipv6-icmp --icmpv6-type echo-request -j ACCEPT

    # Let neighbour discovery settle so it does not delay the first packets.
    nsx ptc-cli timeout 5 ping -6 -n -c 1 -W 2 fd00:1::1 >/dev/null
    nsx ptc-srv timeout 5 ping -6 -n -c 1 -W 2 fd00:2::1 >/dev/null
    serve ptc-srv fd00:2::20 80 2
    capture_begin
    # 1. direct TCP [fd00:1::10]:43000 -> [fd00:2::20]:80 (MASQUERADE on the way out)
    client ptc-cli fd00:2::20 80 43000 1
    sleep 0.2
    # 2. TCP to [fd00:1::1]:8080, DNAT to [fd00:2::20]:80 plus MASQUERADE
    client ptc-cli fd00:1::1 8080 43001 1
    sleep 0.2
    # 3. one ping6
    nsx ptc-cli timeout 5 ping -6 -n -c 1 -W 2 fd00:2::20
    wait_bg
    capture_end ipv6 'fd00:000[12]:'
    expect ipv6 'nat:PREROUTING:rule:1 .*DST=fd00:0001:0000:0000:0000:0000:0000:0001 .*DPT=8080' \
        'mangle:FORWARD:.*DST=fd00:0002:0000:0000:0000:0000:0000:0020 .*HOPLIMIT=63 .*SPT=43001 DPT=80 ' \
        'nat:POSTROUTING:rule:1 ' 'PROTO=ICMPv6 TYPE=128 ' 'filter:FORWARD:rule:1 .*PROTO=ICMPv6 TYPE=129 '
    expect_count ipv6 6 'TRACE: nat:'
    save_rules ipv6 $r ip6
    teardown
}

scenario_log_rules() {
    build_routed 172.31.6 10.80.0 02:00:ac:1f:06 20
    local r=ptc-rtr s=ptc-srv
    ipt $r -A FORWARD -p tcp --dport 23 -j LOG --log-prefix "[PT BLOCK] "
    ipt $r -A FORWARD -p tcp --dport 23 -j DROP
    ipt $r -A FORWARD -p udp --dport 5000 -j LOG --log-prefix "[PT MAC] " --log-level info --log-macdecode
    ipt $r -A FORWARD -p icmp --icmp-type echo-request -j LOG --log-prefix "[PT RR] " --log-ip-options
    ipt $r -A OUTPUT -p tcp --dport 80 -j LOG --log-prefix "[PT OPTS] " --log-ip-options --log-tcp-options --log-uid
    nsx $s nft -f - <<'EOF'
table inet ptc_log {
    chain input {
        type filter hook input priority filter; policy accept;
        udp dport 5001 log prefix "pt nft "
        tcp dport 80 tcp flags syn log prefix "pt nft all " flags all
    }
}
EOF
    serve $s 10.80.0.20 80 1
    capture_begin
    # 1. TCP to 23: logged "[PT BLOCK] " and dropped (client gives up before any retransmission)
    client ptc-cli 10.80.0.20 23 40023 1 0 fail 0.5
    # 2. UDP to 5000: logged with --log-macdecode at level info
    udp_send ptc-cli 10.80.0.20 5000 40500
    # 3. ping with the record-route IP option: logged with --log-ip-options
    nsx ptc-cli timeout 5 ping -n -R -c 1 -W 2 10.80.0.20 >/dev/null
    # 4. UDP to 5001: nft "pt nft " in ptc-srv input
    udp_send ptc-cli 10.80.0.20 5001 40501
    # 5. router-local TCP as uid/gid 65534: OUTPUT LOG with ip/tcp options and uid,
    #    and nft "pt nft all " (flags all) on the SYN at ptc-srv input
    nsx $r timeout 15 setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$PY" "$WORK/traffic.py" client 10.80.0.20 80 41080 1 0.05 5 ok
    wait_bg
    capture_end log-rules '(172\.31\.6\.|10\.80\.0\.)'
    expect log-rules '\] \[PT BLOCK\] IN=eth0 OUT=eth1 MAC=.*DPT=23 ' \
        '\] \[PT MAC\] IN=eth0 OUT=eth1 MACSRC=.* MACPROTO=0800 ' \
        '\] \[PT RR\] .* OPT \(01072' \
        '\] \[PT OPTS\] IN= OUT=eth1 .*SYN URGP=0 OPT \(.*\) UID=65534 GID=65534 ' \
        '\] pt nft IN=eth0 ' '\] pt nft all IN=eth0 OUT= MACSRC='
    expect_no log-rules 'TRACE: '
    save_rules log-rules $r
    {
        printf '# netns %s (nft list ruleset)\n' "$s"
        nsx $s nft list ruleset
    } >"$OUT_DIR/log-rules.nft"
    teardown
}

scenario_bridge() {
    ns_add ptc-br
    ns_add ptc-a
    ns_add ptc-b
    if ! nsx ptc-br test -w /proc/sys/net/bridge/bridge-nf-call-iptables; then
        log "bridge: bridge-nf-call-iptables is not per-netns on this kernel; scenario skipped"
        teardown
        return 0
    fi
    local init_brnf
    init_brnf=$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo absent)
    veth ptc-a eth0 02:00:0a:4f:00:01 ptc-br veth-a 02:00:0a:4f:00:a1
    veth ptc-b eth0 02:00:0a:4f:00:02 ptc-br veth-b 02:00:0a:4f:00:b1
    ip -n ptc-br link add br0 address 02:00:0a:4f:00:ff type bridge stp_state 0
    ip -n ptc-br link set veth-a master br0
    ip -n ptc-br link set veth-b master br0
    ip -n ptc-br link set br0 up
    nsx ptc-br sysctl -qw net.bridge.bridge-nf-call-iptables=1
    ip -n ptc-a addr add 10.79.0.1/24 dev eth0
    ip -n ptc-b addr add 10.79.0.2/24 dev eth0
    local b=ptc-br
    load_tables $b iptables-legacy
    ipt $b -t raw -A PREROUTING -p icmp -j TRACE
    ipt $b -A FORWARD -m physdev --physdev-is-bridged -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    ipt $b -A FORWARD -m physdev --physdev-in veth-a --physdev-out veth-b -j ACCEPT

    # Resolve ARP first so that only the traced ping is in the window.
    nsx ptc-a timeout 5 ping -n -c 1 -W 2 10.79.0.2 >/dev/null
    nsx ptc-b timeout 5 ping -n -c 1 -W 2 10.79.0.1 >/dev/null
    nsx $b conntrack -F >/dev/null 2>&1 || true
    local t
    for t in "${TABLES[@]}"; do
        ipt $b -t "$t" -Z
    done
    capture_begin
    nsx ptc-a timeout 5 ping -n -c 2 -i 0.2 -W 2 10.79.0.2
    capture_end bridge '10\.79\.0\.'
    expect bridge 'raw:PREROUTING:policy:2 IN=br0 OUT= PHYSIN=veth-a MAC=' \
        'filter:FORWARD:rule:2 IN=br0 OUT=br0 PHYSIN=veth-a PHYSOUT=veth-b ' \
        'mangle:POSTROUTING:policy:1 IN= OUT=br0 PHYSIN=veth-a PHYSOUT=veth-b SRC=' \
        'filter:FORWARD:rule:1 IN=br0 OUT=br0 PHYSIN=veth-b PHYSOUT=veth-a '
    save_rules bridge $b
    if [[ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo absent)" != "$init_brnf" ]]; then
        die "initial namespace bridge-nf-call-iptables changed"
    fi
    teardown
}

scenario_interleaved() {
    local attempt n cpus
    cpus=$(nproc)
    for attempt in 1 2 3; do
        build_libvirt
        ipt ptc-host -t raw -A PREROUTING -p icmp -j TRACE
        serve ptc-wan 10.44.32.217 3128 3
        capture_begin
        # Three connections whose threads send on both CPUs at the same moment, and
        # two pings pinned to different CPUs: walks of different packets interleave.
        bg taskset -c $((1 % cpus)) ip netns exec ptc-vm timeout 5 ping -n -c 3 -i 0.02 -W 2 10.44.32.217
        bg taskset -c 0 ip netns exec ptc-vm timeout 5 ping -n -c 3 -i 0.02 -W 2 10.44.0.254
        bg ip netns exec ptc-vm timeout 15 "$PY" "$WORK/traffic.py" burst 10.44.32.217 3128 40001 3 3 5
        wait_bg
        capture_end interleaved '(192\.168\.122\.17|10\.44\.)'
        save_rules interleaved ptc-host
        teardown
        expect_count interleaved 3 'TRACE: nat:POSTROUTING:rule:3 '
        expect_count interleaved 2 'TRACE: nat:POSTROUTING:rule:5 '
        n=$(count_interleaved "$OUT_DIR/interleaved.dmesg")
        log "interleaved: attempt $attempt: $n packets with interrupted walks"
        if [[ $n -gt 0 ]]; then
            return 0
        fi
        if [[ $cpus -lt 2 ]]; then
            log "interleaved: one CPU only: walks interleave per packet, not within a walk"
            return 0
        fi
    done
    log "interleaved: no walk was interrupted in 3 attempts; keeping packet-level interleaving"
}

# ---------------------------------------------------------------------------
main() {
    [[ $EUID -eq 0 ]] || die "must run as root"
    [[ -w $ALL_NETNS_SYSCTL ]] || die "$ALL_NETNS_SYSCTL is not writable"
    local s
    for s in iptables-legacy ip6tables-legacy iptables-legacy-save ip6tables-legacy-save nft ip ss dmesg ping setpriv taskset conntrack "$PY"; do
        command -v "$s" >/dev/null || die "missing tool: $s"
    done
    if ip netns list | grep -q '^ptc'; then
        die "ptc* namespaces exist already; remove them first"
    fi
    local scenarios=("$@")
    [[ ${#scenarios[@]} -gt 0 ]] || scenarios=("${ALL_SCENARIOS[@]}")
    for s in "${scenarios[@]}"; do
        [[ " ${ALL_SCENARIOS[*]} " == *" $s "* ]] || die "unknown scenario: $s"
    done

    ORIG_ALL_NETNS=$(cat "$ALL_NETNS_SYSCTL")
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    WORK=$(mktemp -d)
    write_traffic_helper
    mkdir -p "$OUT_DIR"

    for s in "${scenarios[@]}"; do
        log "scenario $s"
        "scenario_${s//-/_}"
    done
}

main "$@"
