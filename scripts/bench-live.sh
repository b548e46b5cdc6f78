#!/usr/bin/env bash
# Live tracing benchmark: floods the libvirt-nat lab's forward path with a bounded number of UDP
# packets (only between the lab's namespaces) and prints, per backend and for `nft monitor trace`
# on the same traffic: packets sent, events received, walks reconstructed, events lost, CPU seconds.
#   sudo scripts/bench-live.sh [PACKETS] [RATE_NFT] [RATE_LEGACY]   (BENCH_BIN=PATH: another build)
set -euo pipefail
cd "$(dirname "$0")/.."
packets=${1:-200000}
rate_nft=${2:-20000}
rate_legacy=${3:-40000}
bin=${BENCH_BIN:-.build/release/pathtrace}
[ -x "$bin" ] || swift build ${RELEASE_FLAGS:--c release --experimental-lto-mode=full --static-swift-stdlib} --product pathtrace >/dev/null
work=$(mktemp -d)
cleanup() {
  # Every namespace this script's labs made starts with ptb.
  for ns in $(ip netns list | awk '{print $1}' | grep '^ptb'); do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# A private copy of a lab with its own prefix, so a lab left up elsewhere cannot collide.
lab_copy() {
  local name=$1 prefix=$2
  sed -E "s/\"prefix\": \"[a-z0-9]+\"/\"prefix\": \"$prefix\"/" "Fixtures/labs/$name.json" > "$work/$name.json"
  echo "$work/$name.json"
}

# measure NAME RATE PREFIX CMD...: runs CMD (a tracer) while flooding; prints one row.
row() { printf '%-26s %9s %9s %9s %9s %8s\n' "$@"; }
row "tracer" "sent" "events" "walks" "lost" "cpu s"

run_pathtrace() {
  local backend=$1 lab=$2 prefix=$3 rate=$4
  "$bin" lab up "$lab" >/dev/null 2>&1
  local duration=$(( packets / rate + 8 ))
  python3 - "$bin" "$prefix" "$backend" "$duration" "$work/$backend.err" <<'PY' &
import resource, subprocess, sys
bin, prefix, backend, duration, err = sys.argv[1:]
with open(err, "w") as e:
    subprocess.run([bin, "--netns", prefix + "-host", "--proto", "udp", "--dport", "3128", "--rate", "0",
                    "--backend", backend, "--format", "json", "--duration", duration + "s"],
                   stdout=subprocess.DEVNULL, stderr=e)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(err, "a") as e:
    e.write(f"cpu {u.ru_utime + u.ru_stime:.2f}\n")
PY
  local tracer=$!
  for _ in $(seq 50); do grep -q "Ctrl-C stops" "$work/$backend.err" 2>/dev/null && break; sleep 0.1; done
  local sent
  sent=$(ip netns exec "$prefix-vm" python3 scripts/flood.py 10.44.32.217 3128 "$packets" "$rate")
  wait "$tracer"
  local summary events walks lost cpu
  summary=$(grep -E '^pathtrace: [0-9]+ event' "$work/$backend.err" | tail -1)
  events=$(sed -E 's/^pathtrace: ([0-9]+) event.*/\1/' <<<"$summary")
  walks=$(sed -E 's/.*, ([0-9]+) walks?.*/\1/' <<<"$summary")
  lost=$(sed -E 's/.*, ([0-9]+) lost.*/\1/' <<<"$summary")
  if grep -q overrun <<<"$summary"; then lost="$lost+$(sed -E 's/.*lost, ([0-9]+) receive.*/\1/' <<<"$summary")ovr"; fi
  cpu=$(awk '/^cpu /{print $2}' "$work/$backend.err")
  row "pathtrace $backend @$rate/s" "$(awk '{print $2}' <<<"$sent")" "$events" "$walks" "$lost" "$cpu"
  "$bin" lab down "$lab" >/dev/null 2>&1
}

run_nft_monitor() {
  local lab=$1 prefix=$2 rate=$3
  "$bin" lab up "$lab" >/dev/null 2>&1
  ip netns exec "$prefix-host" nft -f - <<'NFT'
table inet ptbench {
	chain pre {
		type filter hook prerouting priority raw - 1; policy accept;
		udp dport 3128 meta nftrace set 1
	}
}
NFT
  python3 - "$prefix" "$work/monitor.out" "$work/monitor.cpu" "$(( packets / rate + 8 ))" <<'PY' &
import resource, subprocess, sys
prefix, out, cpu, duration = sys.argv[1:]
with open(out, "w") as o:
    subprocess.run(["timeout", duration, "ip", "netns", "exec", prefix + "-host", "nft", "monitor", "trace"], stdout=o)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
open(cpu, "w").write(f"{u.ru_utime + u.ru_stime:.2f}\n")
PY
  local tracer=$!
  sleep 1
  local sent
  sent=$(ip netns exec "$prefix-vm" python3 scripts/flood.py 10.44.32.217 3128 "$packets" "$rate")
  wait "$tracer" || true
  local events walks
  events=$(grep -c '^trace id' "$work/monitor.out" || true)
  walks=$("$bin" replay "$work/monitor.out" 2>&1 >/dev/null | head -1 | sed -E 's/.*, ([0-9]+) walks?.*/\1/')
  # nft prints, per packet, the chains of the lab's iptables-nft tables plus ptbench: what a full
  # capture would hold is measured by pathtrace's nft row; here the packet lines tell the loss.
  local packets_seen
  packets_seen=$(grep -c 'ptbench pre packet:' "$work/monitor.out" || true)
  row "nft monitor trace @$rate/s" "$(awk '{print $2}' <<<"$sent")" "$events" "$walks" \
    "$(( $(awk '{print $2}' <<<"$sent") - packets_seen ))p" "$(cat "$work/monitor.cpu")"
  "$bin" lab down "$lab" >/dev/null 2>&1
}

run_pathtrace nft "$(lab_copy libvirt-nat-nft ptbn)" ptbn "$rate_nft"
run_nft_monitor "$(lab_copy libvirt-nat-nft ptbm)" ptbm "$rate_nft"
run_pathtrace legacy "$(lab_copy libvirt-nat ptbl)" ptbl "$rate_legacy"
run_pathtrace nflog "$(lab_copy libvirt-nat ptbf)" ptbf "$rate_legacy"
echo "lost: events missing by sequence number, +N ovr = receive buffer overruns (each drops one or more"
echo "events; nft trace has no sequence numbers); for nft monitor, packets whose trace never printed (p)."
echo "walks = walks reconstructed: one per packet sent when nothing was lost."
