#!/usr/bin/env bash
# Replay benchmark: wall time (the median of BENCH_RUNS runs, default 5), MB/s and peak RSS of
# `pathtrace replay --format json > /dev/null` on a generated 1,000,000-line TRACE file, on one core
# and on two, beside `grep -c` and an awk field scan of the same file, the peak RSS for the same
# input ten times over (memory must not grow with input size), and the peak RSS on input that is not
# a tidy log: as many mutated fixture lines and as many shuffled ones (scripts/gen-messy.py), each of
# which must stay at or under 64 MB.
# Issue 10's awk ID scan runs in the same run, and the ratio of json's MB/s to it. BENCH_BIN=PATH
# measures another build.
# grep and awk write into a pipe, not /dev/null: GNU grep notices when its output is /dev/null and
# stops at the first match (nothing it prints can be seen), which made `grep -c` look absurdly fast.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${BENCH_LINES:-1000000}
out=bench-out
mkdir -p "$out"
trace="$out/trace-$lines.log"
bin=${BENCH_BIN:-.build/release/pathtrace}
[ -x "$bin" ] || swift build ${RELEASE_FLAGS:--c release --experimental-lto-mode=full --static-swift-stdlib} --product pathtrace >/dev/null
if [ ! -s "$trace" ]; then
  echo "generating $lines lines into $trace ..."
  python3 scripts/gen-trace.py "$lines" > "$trace"
fi
for kind in mutated shuffled; do
  if [ ! -s "$out/$kind-$lines.log" ]; then
    echo "generating $lines $kind lines into $out/$kind-$lines.log ..."
    python3 scripts/gen-messy.py "$kind" "$lines" > "$out/$kind-$lines.log"
  fi
done
bytes=$(stat -c %s "$trace")
# The VM's speed swings by a third within minutes: each speed line is the median of BENCH_RUNS runs.
runs=${BENCH_RUNS:-5}
# Each measured line's MB/s, for the ratio at the end.
export BENCH_RESULTS="$out/bench-results.tsv"
: >"$BENCH_RESULTS"

# measure NAME CMD... : runs CMD with stdin from $input, stdout to /dev/null, $RUNS times (default 1);
# prints the median wall time and its MB/s, the slowest and fastest run's MB/s when there were several,
# and the highest peak RSS.
measure() {
  local name=$1; shift
  python3 - "$name" "$bytes" "${RUNS:-1}" "$@" <<'PY'
import os, resource, statistics, subprocess, sys, time
name, size, runs, cmd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
walls = []
for _ in range(runs):
    t0 = time.monotonic()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    walls.append(time.monotonic() - t0)
wall = statistics.median(walls)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
limit = float(os.environ.get("RSS_LIMIT_MB", "inf"))
over = f"   over the {limit:.0f} MB bound" if rss > limit else ""
spread = f"   ({size / max(walls) / 1e6:.0f}-{size / min(walls) / 1e6:.0f} in {runs} runs)" if runs > 1 else ""
print(f"{name:34s} wall {wall:7.3f} s   {size / wall / 1e6:8.1f} MB/s   peak RSS {rss:7.1f} MB{over}{spread}")
open(os.environ["BENCH_RESULTS"], "a").write(f"{name}\t{size / wall / 1e6:.1f}\n")
sys.exit(1 if over else 0)
PY
}

echo "input: $trace, $lines lines, $((bytes / 1000000)) MB"
# Read once first: otherwise the first line measures the disk (its pages evicted since the last run).
cat "$trace" "$out"/mutated-"$lines".log "$out"/shuffled-"$lines".log > /dev/null
RUNS=$runs measure "pathtrace replay --format json" taskset -c 0 "$bin" replay --format json "$trace"
RUNS=$runs measure "pathtrace replay (text)" taskset -c 0 "$bin" replay --no-color "$trace"
# With a second core replay parses on a thread of its own (ReplayPipeline.parsesAhead).
RUNS=$runs measure "replay --format json, 2 cores" taskset -c 0,1 "$bin" replay --format json "$trace"
RUNS=$runs measure "replay (text), 2 cores" taskset -c 0,1 "$bin" replay --no-color "$trace"
RUNS=$runs measure "grep -c TRACE" taskset -c 0 bash -c "grep -c TRACE '$trace' | cat > /dev/null"
RUNS=$runs measure "awk field scan" taskset -c 0 bash -c "awk '{n += NF} END {print n}' '$trace' | cat > /dev/null"
# Issue 10's yardstick, exactly as the issue quotes it: pathtrace json should run at 4x this or more.
RUNS=$runs measure "awk ID scan (issue 10)" taskset -c 0 bash -c "awk '{for(i=1;i<=NF;i++){split(\$i,a,\"=\"); if(a[1]==\"ID\") c[a[2]]++}} END{print length(c)}' '$trace' | cat > /dev/null"
awk -F'\t' '$1 == "pathtrace replay --format json" {j = $2} $1 == "awk ID scan (issue 10)" {a = $2}
  END {if (a > 0) printf "replay --format json / awk ID scan: %.2fx (issue 10 asks for 4x or more)\n", j / a}' "$BENCH_RESULTS"
# Ten times the input through stdin: peak RSS must stay where it was.
bytes=$((bytes * 10))
measure "pathtrace replay json, 10x input" bash -c "for i in 1 2 3 4 5 6 7 8 9 10; do cat '$trace'; done | taskset -c 0 '$bin' replay --format json - > /dev/null"
# Input that is not a tidy log: nearly every line a packet of its own, or a packet's lines scattered
# with the clock jumping back and forth. Walks are cut off within the correlator's windows.
status=0
for kind in mutated shuffled; do
  bytes=$(stat -c %s "$out/$kind-$lines.log")
  RSS_LIMIT_MB=64 measure "pathtrace replay json, $kind" taskset -c 0 "$bin" replay --format json \
    "$out/$kind-$lines.log" || status=1
done
exit $status
