#!/usr/bin/env bash
# compare-replay.sh OLD_BIN NEW_BIN: the "byte-identical before and after" oracle of a replay change.
#
# Runs both binaries' `pathtrace replay` over every trace file under Fixtures/ (seed, captures,
# real-captures: each as JSON and as text, with --explain, with each ruleset its tests pass beside
# it, and some through standard input) and over the generated 1,000,000-line benchmark file
# (bench-out/, scripts/gen-trace.py), and compares stdout, stderr and exit status byte for byte.
# Prints one line per case and, on the first difference of a case, the file and line where the two
# outputs part. Exit status: 0 when everything is identical, 1 on any difference, 2 on bad usage.
#
# COMPARE_LINES=N uses an N-line benchmark file instead (generated when missing); COMPARE_LINES=0
# leaves the benchmark file out.
set -uo pipefail
if [ $# -ne 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
  echo "usage: $0 OLD_BIN NEW_BIN   (two pathtrace executables)" >&2
  exit 2
fi
old=$(realpath "$1")
new=$(realpath "$2")
cd "$(dirname "$0")/.."
lines=${COMPARE_LINES:-1000000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/compare-replay.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cases=0
differ=0
first=""

# first_difference A B WHAT: says where files A and B part (cmp's byte and line), with both lines
# shortened; remembers the first difference of the whole run for the last line.
first_difference() {
  local where line
  where=$(cmp "$1" "$2" 2>&1 | head -1)
  where=${where#*differ: }
  where=${where/#cmp: EOF on $1/old output ends}
  where=${where/#cmp: EOF on $2/new output ends}
  line=$(sed -n 's/.*line \([0-9]*\).*/\1/p' <<<"$where")
  # cmp counts the lines before the end; the one missing from the shorter output is the next.
  [ "${where#* output ends}" != "$where" ] && line=$((line + 1))
  echo "    $3 differs at $where"
  [ -z "$first" ] && first="$label: $3 line ${line:-?}"
  if [ -n "$line" ]; then
    echo "    old $3 line $line: $(sed -n "${line}{p;q}" "$1" | cut -c1-300)"
    echo "    new $3 line $line: $(sed -n "${line}{p;q}" "$2" | cut -c1-300)"
  fi
}

# run BIN INPUT PREFIX ARGS...: BIN replay ARGS with INPUT piped to its standard input (a pipe, as
# `dmesg | pathtrace replay -` gives it); PREFIX.out/.err/.rc.
run() {
  local bin=$1 input=$2 prefix=$3
  shift 3
  cat "$input" | "$bin" replay "$@" >"$prefix.out" 2>"$prefix.err"
  echo $? >"$prefix.rc"
}

# check INPUT ARGS...: runs both binaries with the same arguments and input and compares everything.
check() {
  local input=$1
  shift
  cases=$((cases + 1))
  run "$old" "$input" "$tmp/old" "$@"
  run "$new" "$input" "$tmp/new" "$@"
  label="replay $*"
  [ "$input" != /dev/null ] && label="cat $input | $label"
  if cmp -s "$tmp/old.out" "$tmp/new.out" && cmp -s "$tmp/old.err" "$tmp/new.err" &&
    cmp -s "$tmp/old.rc" "$tmp/new.rc"; then
    echo "identical  $label ($(wc -c <"$tmp/new.out") bytes out)"
  else
    differ=$((differ + 1))
    echo "DIFFERENT  $label"
    cmp -s "$tmp/old.out" "$tmp/new.out" || first_difference "$tmp/old.out" "$tmp/new.out" stdout
    cmp -s "$tmp/old.err" "$tmp/new.err" || first_difference "$tmp/old.err" "$tmp/new.err" stderr
    cmp -s "$tmp/old.rc" "$tmp/new.rc" || echo "    exit status: old $(cat "$tmp/old.rc"), new $(cat "$tmp/new.rc")"
  fi
  rm -f "$tmp"/old.* "$tmp"/new.*
}

# every_form FILE [RULESET ARGS...]: JSON, text and --explain of FILE with the given rulesets.
every_form() {
  local file=$1
  shift
  check /dev/null "$file" --format json "$@"
  check /dev/null "$file" --no-color "$@"
  check /dev/null "$file" --no-color --explain "$@"
  check /dev/null "$file" --format json --explain "$@"
}

# Rulesets as the tests pass them: the seed's two listings by table, a capture's `.rules`, `.nvL`
# or `.ruleset` beside it, and log-rules' nft listing.
every_form Fixtures/seed/001-libvirt-nat.dmesg
every_form Fixtures/seed/001-libvirt-nat.dmesg --ruleset filter=Fixtures/seed/001-filter.nvL \
  --ruleset nat=Fixtures/seed/001-nat.nvL
every_form Fixtures/seed/001_83fd750653f71ea3.txt
for file in Fixtures/captures/* Fixtures/real-captures/*; do
  case "$file" in
  *.md | *.nvL | *.rules | *.ruleset | *.nft | *.topology.json) continue ;;
  esac
  every_form "$file"
  base=${file%.*}
  for ruleset in "$base.rules" "$base.nvL" "$base.ruleset" "$base.nft"; do
    [ -f "$ruleset" ] && every_form "$file" --ruleset "$ruleset"
  done
  [ "${file%-handles.txt}" != "$file" ] && every_form "$file" --ruleset "${file%-handles.txt}.ruleset"
done
every_form Fixtures/captures/journey-libvirt-nat.events.jsonl \
  --topology Fixtures/captures/journey-libvirt-nat.topology.json
# Several files in one run, a namespace per file, and standard input (a pipe, not a mapped file).
check /dev/null --format json Fixtures/captures/drop.dmesg Fixtures/captures/ipv6.kmsg
check /dev/null --no-color --netns a=Fixtures/captures/drop.dmesg --netns b=Fixtures/captures/output.kmsg
for file in Fixtures/seed/001-libvirt-nat.dmesg Fixtures/captures/interleaved.dmesg \
  Fixtures/captures/nft-monitor-forward.txt Fixtures/real-captures/08-vxlan-udp-local-out-and-in.log; do
  check "$file" --format json -
  check "$file" --no-color
done

if [ "$lines" != 0 ]; then
  trace="bench-out/trace-$lines.log"
  if [ ! -s "$trace" ]; then
    mkdir -p bench-out
    echo "generating $lines lines into $trace ..."
    python3 scripts/gen-trace.py "$lines" >"$trace"
  fi
  check /dev/null "$trace" --format json
  check /dev/null "$trace" --no-color
fi

if [ "$differ" = 0 ]; then
  echo "compare-replay: all $cases cases byte-identical"
  exit 0
fi
echo "compare-replay: $differ of $cases cases differ; the first: $first"
exit 1
