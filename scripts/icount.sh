#!/usr/bin/env bash
# Instructions one replay takes: callgrind's count for `pathtrace replay --format json` (or text) of
# bench-out/t10.log, the first 10 MB of the benchmark file (whole lines), on one core. Stable where
# wall time is not (a shared VM's speed swings by a third within minutes), so the source's comments
# quote it for changes a few percent wide: "callgrind, scripts/icount.sh on bench-out/t10.log".
#   scripts/icount.sh [BIN] [json|text] [FILE]     (BIN: .build/release/pathtrace)
# CG_OUT=FILE keeps the profile for callgrind_annotate. Debian's valgrind 3.19 cannot read the DWARF 5
# the Swift 6 toolchain writes, so a copy without debug info is measured: the count is the same.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release/pathtrace}
mode=${2:-json}
file=${3:-bench-out/t10.log}
command -v valgrind >/dev/null || { echo "icount: valgrind is missing (apt-get install -y valgrind)" >&2; exit 2; }
[ -x "$bin" ] || { echo "icount: no build at $bin (make build)" >&2; exit 2; }
if [ "$file" = bench-out/t10.log ] && [ ! -s "$file" ]; then
  mkdir -p bench-out
  [ -s bench-out/trace-1000000.log ] || python3 scripts/gen-trace.py 1000000 > bench-out/trace-1000000.log
  # The cut leaves a partial last line: dropped, so every line is one the generator wrote.
  head -c 10000000 bench-out/trace-1000000.log | sed '$d' > "$file"
fi
case "$mode" in
  json) args=(replay --format json "$file") ;;
  text) args=(replay --no-color "$file") ;;
  *) echo "icount: mode is json or text, not $mode" >&2; exit 2 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
strip --strip-debug -o "$work/pathtrace" "$bin"
out=${CG_OUT:-$work/callgrind.out}
taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$out" "$work/pathtrace" "${args[@]}" \
  > /dev/null 2> "$work/log"
count=$(grep -o "Collected : [0-9]*" "$work/log" | awk '{print $3}')
[ -n "$count" ] || { cat "$work/log" >&2; exit 1; }
awk -v n="$count" -v m="$mode" -v f="$file" 'BEGIN {printf "%.2f M instructions (%s, %s)\n", n / 1e6, m, f}'
