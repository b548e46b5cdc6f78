#!/usr/bin/env bash
# Produces the real ruleset listings under Fixtures/rulesets/ that RulesetTests parse.
#
# Needs root, iproute2, iptables (legacy and nft variants) and nftables. Everything happens inside
# three throw-away network namespaces whose names start with `ptr`; the initial namespace's firewall
# is never touched, and the namespaces are deleted on exit, even on failure.
#
#   scripts/capture-ruleset-fixtures.sh [OUTDIR]      (default: Fixtures/rulesets)
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:-Fixtures/rulesets}
mkdir -p "$OUT"

NS_LEGACY=ptr-rs-legacy-$$
NS_NFT=ptr-rs-nft-$$
NS_XNFT=ptr-rs-xnft-$$

cleanup() {
    for ns in "$NS_LEGACY" "$NS_NFT" "$NS_XNFT"; do
        ip netns delete "$ns" 2>/dev/null || true
    done
}
trap cleanup EXIT

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

setup_ns() {
    local ns=$1
    ip netns add "$ns"
    in_ns "$ns" ip link set lo up
    in_ns "$ns" ip link add eth0 type veth peer name eth0p
    in_ns "$ns" ip link set eth0p up
    in_ns "$ns" ip link set eth0 up
    in_ns "$ns" ip addr add 203.0.113.10/24 dev eth0
    in_ns "$ns" ip link add virbr0 type bridge
    in_ns "$ns" ip link set virbr0 up
    in_ns "$ns" ip addr add 192.168.122.1/24 dev virbr0
    in_ns "$ns" ip -6 addr add fd00::1/64 dev virbr0 nodad
}

# Writes the command as a shell-prompt comment, then its output, as a user would paste it.
capture() {
    local ns=$1 file=$2; shift 2
    local shown=${*/-legacy/}
    shown=${shown/-nft/}
    echo "# $shown" >>"$file"
    in_ns "$ns" "$@" >>"$file"
    echo >>"$file"
}

# ---------------------------------------------------------------- iptables-legacy, IPv4 and IPv6
setup_ns "$NS_LEGACY"
ipt() { in_ns "$NS_LEGACY" iptables-legacy "$@"; }
ip6t() { in_ns "$NS_LEGACY" ip6tables-legacy "$@"; }

# raw: conntrack exemptions and a user chain
ipt -t raw -N NOTRACK-LAN
ipt -t raw -A PREROUTING -i lo -j CT --notrack
ipt -t raw -A PREROUTING -i virbr0 -p udp --dport 53 -j NOTRACK-LAN
ipt -t raw -A PREROUTING -p tcp --dport 3128 -m comment --comment "trace proxy" -j ACCEPT
ipt -t raw -A OUTPUT -o lo -j CT --notrack
ipt -t raw -A NOTRACK-LAN -s 192.168.122.0/24 -j CT --notrack
ipt -t raw -A NOTRACK-LAN -j RETURN

# mangle: marks and a user chain
ipt -t mangle -N MARKING
ipt -t mangle -A PREROUTING -i virbr0 -j MARKING
ipt -t mangle -A PREROUTING -p tcp --dport 22 -j MARK --set-mark 0x22
ipt -t mangle -A MARKING -s 192.168.122.10 -j MARK --set-xmark 0x100/0xff00
ipt -t mangle -A MARKING -p udp -j MARK --or-mark 0x4
ipt -t mangle -A MARKING -j CONNMARK --save-mark
ipt -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
ipt -t mangle -A OUTPUT -m owner --uid-owner 0 -j MARK --set-mark 7
ipt -t mangle -A POSTROUTING -o virbr0 -p udp --dport 68 -j CHECKSUM --checksum-fill

# nat: every NAT target, user chains like Docker's
ipt -t nat -N DOCKER
ipt -t nat -N PORTMAP
ipt -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
ipt -t nat -A PREROUTING -i eth0 -j PORTMAP
ipt -t nat -A PREROUTING -i virbr0 -p tcp --dport 80 -j REDIRECT --to-ports 3128
ipt -t nat -A PREROUTING -i virbr0 -p tcp --dport 8443 -j REDIRECT
ipt -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
ipt -t nat -A OUTPUT -p tcp -d 198.51.100.7 --dport 25 -j DNAT --to-destination 192.168.122.25
ipt -t nat -A DOCKER -i docker0 -j RETURN
ipt -t nat -A DOCKER ! -i docker0 -p tcp --dport 8080 -j DNAT --to-destination 10.5.0.11:8765
ipt -t nat -A DOCKER ! -i docker0 -p tcp --dport 8081 -j DNAT --to-destination 10.5.0.12
ipt -t nat -A PORTMAP -p tcp --dport 2222 -j DNAT --to-destination 192.168.122.10:22
ipt -t nat -A PORTMAP -p udp --dport 5000:5010 -j DNAT --to-destination 192.168.122.11:6000-6010
ipt -t nat -A PORTMAP -p tcp --dport 9000 -j DNAT --to-destination 192.168.122.20-192.168.122.29
ipt -t nat -A PORTMAP -p tcp --dport 9898 -m comment --comment "podinfo/frontend-podinfo:http" -j DNAT --to-destination 10.42.54.194:9898
ipt -t nat -A PORTMAP -j RETURN
ipt -t nat -A INPUT -p tcp --dport 3128 -j SNAT --to-source 192.168.122.1
ipt -t nat -A POSTROUTING -s 192.168.122.0/24 -d 224.0.0.0/24 -j RETURN
ipt -t nat -A POSTROUTING -s 192.168.122.0/24 -d 255.255.255.255/32 -j RETURN
ipt -t nat -A POSTROUTING -s 192.168.122.0/24 ! -d 192.168.122.0/24 -p tcp -j MASQUERADE --to-ports 1024-65535
ipt -t nat -A POSTROUTING -s 192.168.122.0/24 ! -d 192.168.122.0/24 -p udp -j MASQUERADE --to-ports 1024-65535
ipt -t nat -A POSTROUTING -s 192.168.122.0/24 ! -d 192.168.122.0/24 -j MASQUERADE
ipt -t nat -A POSTROUTING -s 10.5.0.0/16 -o eth0 -j SNAT --to-source 203.0.113.10
ipt -t nat -A POSTROUTING -s 10.6.0.0/16 -o eth0 -p tcp -j SNAT --to-source 203.0.113.20-203.0.113.29:20000-30000
ipt -t nat -A POSTROUTING -s 10.7.0.0/16 -o eth0 -j SNAT --to-source 203.0.113.30 --random --persistent
ipt -t nat -A POSTROUTING -s 10.8.0.0/16

# filter: libvirt-like rules, a logging user chain, goto, empty target, comments
ipt -N LOG_DROP
ipt -N SSH
ipt -N DOCKER-USER
ipt -A INPUT -i lo -j ACCEPT
ipt -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
ipt -A INPUT -i virbr0 -p udp -m udp --dport 53 -j ACCEPT
ipt -A INPUT -i virbr0 -p tcp -m tcp --dport 53 -j ACCEPT
ipt -A INPUT -i virbr0 -p udp -m udp --dport 67 -j ACCEPT
ipt -A INPUT -p tcp --dport 22 -j SSH
ipt -A INPUT -s 10.9.9.9
ipt -A INPUT -p icmp --icmp-type echo-request -m limit --limit 5/second -j ACCEPT
ipt -A INPUT -m comment --comment "drop # the rest" -g LOG_DROP
ipt -A SSH -s 192.168.122.0/24 -j ACCEPT
ipt -A SSH -m recent --name ssh --set
ipt -A SSH -m recent --name ssh --update --seconds 60 --hitcount 4 -j LOG_DROP
ipt -A SSH -j ACCEPT
ipt -A LOG_DROP -m limit --limit 2/min -j LOG --log-prefix "IPT DROP: " --log-level 4
ipt -A LOG_DROP -j DROP
ipt -A FORWARD -j DOCKER-USER
ipt -A FORWARD -d 192.168.122.0/24 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
ipt -A FORWARD -s 192.168.122.0/24 -i virbr0 -j ACCEPT
ipt -A FORWARD -i virbr0 -o virbr0 -j ACCEPT
ipt -A FORWARD -o virbr0 -j REJECT --reject-with icmp-port-unreachable
ipt -A FORWARD -i virbr0 -j REJECT --reject-with icmp-port-unreachable
ipt -A FORWARD -p tcp -m multiport --dports 80,443 -j ACCEPT
ipt -A DOCKER-USER -j RETURN
ipt -A OUTPUT -o virbr0 -p udp -m udp --dport 68 -j ACCEPT
ipt -A OUTPUT -p tcp --tcp-flags ALL NONE -j DROP
ipt -P FORWARD DROP
ipt -P INPUT ACCEPT

# IPv6: a small nat and filter ruleset
ip6t -t nat -A PREROUTING -i eth0 -p tcp --dport 80 -j DNAT --to-destination '[fd00::2]:8080'
ip6t -t nat -A PREROUTING -i eth0 -p tcp --dport 81 -j DNAT --to-destination fd00::3
ip6t -t nat -A POSTROUTING -s fd00::/64 -o eth0 -j MASQUERADE
ip6t -t nat -A OUTPUT -p tcp --dport 3128 -j REDIRECT --to-ports 3129
ip6t -A INPUT -p ipv6-icmp -j ACCEPT
ip6t -A INPUT -s fd00::/64 -p tcp --dport 22 -j ACCEPT
ip6t -A FORWARD -o virbr0 -j REJECT --reject-with icmp6-port-unreachable
ip6t -P FORWARD DROP

# some traffic so that counters are not all zero
in_ns "$NS_LEGACY" ping -c 2 -W 1 127.0.0.1 >/dev/null || true
in_ns "$NS_LEGACY" ping -c 1 -W 1 192.168.122.1 >/dev/null || true

rm -f "$OUT"/legacy.save "$OUT"/legacy6.save "$OUT"/legacy.nvL "$OUT"/legacy-plain.L "$OUT"/legacy6.nvL
in_ns "$NS_LEGACY" iptables-legacy-save -c >"$OUT/legacy.save"
in_ns "$NS_LEGACY" ip6tables-legacy-save >"$OUT/legacy6.save"
for t in raw mangle nat filter; do
    capture "$NS_LEGACY" "$OUT/legacy.nvL" iptables-legacy -t "$t" -nvL --line-numbers
done
capture "$NS_LEGACY" "$OUT/legacy-plain.L" iptables-legacy -t nat -L -n
capture "$NS_LEGACY" "$OUT/legacy-plain.L" iptables-legacy -L -n --line-numbers
for t in nat filter; do
    capture "$NS_LEGACY" "$OUT/legacy6.nvL" ip6tables-legacy -t "$t" -nvL --line-numbers
done

# ---------------------------------------------------------------- native nftables
setup_ns "$NS_NFT"
cat >"/tmp/$NS_NFT.nft" <<'NFT'
table inet filter {
	set blocked4 {
		type ipv4_addr
		flags interval
		elements = { 10.66.0.0/16, 198.51.100.0/24 }
	}
	set allowed_ports {
		type inet_service
		elements = { 22, 80, 443, 3128 }
	}
	map port_verdicts {
		type inet_service : verdict
		elements = { 23 : drop, 25 : jump log_drop, 8080 : accept }
	}
	chain log_drop {
		limit rate 2/minute log prefix "NFT DROP: " level warn
		drop
	}
	chain lan_in {
		ip saddr 192.168.122.0/24 tcp dport @allowed_ports accept comment "lan # services"
		udp dport { 53, 67 } accept
		return
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iifname "lo" accept
		ip saddr @blocked4 drop
		tcp dport vmap @port_verdicts
		iifname "virbr0" jump lan_in
		meta l4proto { icmp, ipv6-icmp } accept
		tcp dport 22 ct state new limit rate 4/minute accept
		counter jump log_drop
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state vmap { established : accept, related : accept, invalid : drop }
		oifname "virbr0" ip daddr 192.168.122.0/24 ct status dnat accept
		iifname "virbr0" ip saddr 192.168.122.0/24 accept
		iifname "virbr0" reject with icmp type port-unreachable
	}
	chain output {
		type filter hook output priority filter; policy accept;
	}
}
table ip nat {
	map dnat_ports {
		type inet_service : ipv4_addr . inet_service
		elements = { 2222 : 192.168.122.10 . 22, 8081 : 10.5.0.12 . 80 }
	}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "eth0" tcp dport 873 counter dnat to 172.29.0.5:873
		iifname "eth0" tcp dport 8080 dnat to 10.5.0.11:8765
		iifname "eth0" tcp dport 9000 dnat to 192.168.122.20-192.168.122.29
		iifname "eth0" meta l4proto tcp dnat to tcp dport map @dnat_ports
		iifname "virbr0" tcp dport 80 redirect to :3128
		iifname "virbr0" tcp dport 8443 redirect
		jump portmap
	}
	chain portmap {
		udp dport 5000-5010 dnat to 192.168.122.11:6000-6010
		return
	}
	chain output {
		type nat hook output priority -100; policy accept;
		ip daddr 198.51.100.7 tcp dport 25 dnat to 192.168.122.25
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 192.168.122.0/24 ip daddr 224.0.0.0/24 return
		ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 meta l4proto tcp masquerade to :1024-65535
		ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 masquerade
		ip saddr 10.5.0.0/16 oifname "eth0" snat to 203.0.113.10
		ip saddr 10.6.0.0/16 oifname "eth0" meta l4proto tcp snat to 203.0.113.20-203.0.113.29:20000-30000 persistent
	}
}
table ip6 nat6 {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "eth0" tcp dport 80 dnat to [fd00::2]:80
		iifname "eth0" tcp dport 81 dnat to fd00::3
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip6 saddr fd00::/64 oifname "eth0" masquerade
	}
}
table inet nat46 {
	chain prerouting {
		type nat hook prerouting priority dstnat + 10; policy accept;
		iifname "eth0" meta nfproto ipv4 tcp dport 8088 dnat ip to 10.0.0.2:80
		iifname "eth0" meta nfproto ipv6 tcp dport 8088 dnat ip6 to [fd00::5]:80
	}
}
table ip raw {
	chain prerouting {
		type filter hook prerouting priority raw; policy accept;
		tcp dport 3128 meta nftrace set 1
		iifname "lo" notrack
	}
}
table netdev ingress0 {
	chain ingress {
		type filter hook ingress device "eth0" priority -500; policy accept;
		ether type arp accept
	}
}
table bridge brfilter {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ether type ip6 drop
	}
}
NFT
in_ns "$NS_NFT" nft -f "/tmp/$NS_NFT.nft"
rm -f "/tmp/$NS_NFT.nft"
in_ns "$NS_NFT" ping -c 1 -W 1 127.0.0.1 >/dev/null || true
in_ns "$NS_NFT" nft -a list ruleset >"$OUT/nft-handles.nft"
in_ns "$NS_NFT" nft list ruleset >"$OUT/nft-plain.nft"

# ---------------------------------------------------------------- iptables-nft
setup_ns "$NS_XNFT"
xt() { in_ns "$NS_XNFT" iptables-nft "$@"; }
xt -t raw -A PREROUTING -p tcp --dport 3128 -j TRACE
xt -t mangle -A PREROUTING -i virbr0 -j MARK --set-mark 0x8000
xt -t nat -N DOCKER
xt -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
xt -t nat -A DOCKER -i docker0 -j RETURN
xt -t nat -A DOCKER ! -i br-c4974cabc2ec -p tcp --dport 873 -j DNAT --to-destination 172.29.0.5:873
xt -t nat -A PREROUTING -i virbr0 -p tcp --dport 80 -j REDIRECT --to-ports 3128
xt -t nat -A POSTROUTING -s 172.29.0.0/16 ! -o br-c4974cabc2ec -j MASQUERADE
xt -t nat -A POSTROUTING -s 10.5.0.0/16 -o eth0 -j SNAT --to-source 203.0.113.10
xt -N DOCKER-USER
xt -A FORWARD -j DOCKER-USER
xt -A FORWARD -o br-c4974cabc2ec -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
xt -A FORWARD -i br-c4974cabc2ec ! -o br-c4974cabc2ec -j ACCEPT
xt -A FORWARD -o virbr0 -j REJECT --reject-with icmp-port-unreachable
xt -A DOCKER-USER -j RETURN
xt -A INPUT -p tcp --dport 22 -m comment --comment "ssh in" -j ACCEPT
xt -P FORWARD DROP

rm -f "$OUT"/iptables-nft.save "$OUT"/iptables-nft.nft "$OUT"/iptables-nft.nvL
in_ns "$NS_XNFT" iptables-nft-save >"$OUT/iptables-nft.save"
in_ns "$NS_XNFT" nft -a list ruleset >"$OUT/iptables-nft.nft"
for t in nat filter; do
    capture "$NS_XNFT" "$OUT/iptables-nft.nvL" iptables-nft -t "$t" -nvL --line-numbers
done

echo "wrote:" "$OUT"/*
