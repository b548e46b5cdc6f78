#!/usr/bin/env python3
"""Which of two builds replays faster, on a VM whose speed swings by a third within minutes.

    scripts/ab-pairs.py N OLD_BIN NEW_BIN     (TEXT=1: text replay; FILE=PATH: another input)

Runs `replay --format json` of the benchmark file on one core N times with each build, in pairs whose
order alternates, and prints the median of NEW's CPU time (user and system) over OLD's per pair, with
its quartiles: a pair runs within seconds, so both of its runs see the VM at one speed. Below 1, NEW
is faster. 20 pairs or more: single ratios still spread by a tenth.
"""
import os
import resource
import statistics
import subprocess
import sys

if len(sys.argv) != 4:
    sys.exit(__doc__)
n, old, new = int(sys.argv[1]), sys.argv[2], sys.argv[3]
path = os.environ.get("FILE", "bench-out/trace-1000000.log")
if not os.path.exists(path):
    sys.exit(f"ab-pairs: no {path} (make bench generates it)")
mode = ["--no-color"] if os.environ.get("TEXT") else ["--format", "json"]


def cpu(binary):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["taskset", "-c", "0", binary, "replay", *mode, path],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


ratios, olds, news = [], [], []
for i in range(n):
    if i % 2 == 0:
        a = cpu(old)
        b = cpu(new)
    else:
        b = cpu(new)
        a = cpu(old)
    olds.append(a)
    news.append(b)
    ratios.append(b / a)
q = statistics.quantiles(ratios, n=4) if n >= 2 else [ratios[0]] * 3
print(f"old cpu s: median {statistics.median(olds):.3f}, min {min(olds):.3f}")
print(f"new cpu s: median {statistics.median(news):.3f}, min {min(news):.3f}")
print(f"new/old: median {statistics.median(ratios):.3f} (quartiles {q[0]:.3f} to {q[2]:.3f}), {n} pairs")
