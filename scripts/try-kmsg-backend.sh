#!/usr/bin/env bash
# The kmsg backend end to end on the real kernel: `pathtrace lab run libvirt-nat --backend kmsg`.
#
# The kernel prints TRACE lines of a namespace other than the initial one only while
# net.netfilter.nf_log_all_netns is 1 in the initial namespace. Tests may not touch that sysctl, so
# this script is the check a developer runs by hand: it sets the sysctl for the lab run only and
# restores the old value on every way out (also on failure or Ctrl-C).
#
# Usage: sudo scripts/try-kmsg-backend.sh [LAB]   (default libvirt-nat; the release build is used)
set -euo pipefail

readonly SYSCTL=/proc/sys/net/netfilter/nf_log_all_netns
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${PATHTRACE:-$REPO_DIR/.build/release/pathtrace}
LAB=${1:-libvirt-nat}

[[ -x $BIN ]] || { echo "build first: swift build -c release" >&2; exit 1; }
old=$(cat "$SYSCTL")
restore() { echo "$old" > "$SYSCTL"; echo "try-kmsg-backend: nf_log_all_netns restored to $old" >&2; }
trap restore EXIT
echo 1 > "$SYSCTL"
"$BIN" lab run "$LAB" --backend kmsg
