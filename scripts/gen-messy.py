#!/usr/bin/env python3
"""Writes N lines of messy replay input made from the real capture lines under Fixtures/.

  gen-messy.py mutated N   random edits of fixture lines: characters replaced, deleted or duplicated,
                           digits changed, runs duplicated, whitespace-separated fields swapped
  gen-messy.py shuffled N  fixture lines in random order (drawn with replacement), so timestamps
                           jump back and forth and a packet's lines are scattered

The benchmark (scripts/bench-replay.sh) replays both to check that memory stays bounded on input
that is not a tidy log: nearly every mutated line is a packet nothing else joins, with its own
addresses, ids and names. Seeded, so the same N gives the same file.
"""
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "Fixtures"
# Trace records in every format replay reads; rulesets, labs and notes are left out.
PATTERNS = ["captures/*.dmesg", "captures/*.dmesg-T", "captures/*.kmsg", "captures/*.txt",
            "captures/*.jsonl", "real-captures/*.log", "seed/*.dmesg"]


def pool():
    lines = []
    for pattern in PATTERNS:
        for path in sorted(ROOT.glob(pattern)):
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.strip():
                    lines.append(line)
    return lines


PRINTABLE = "0123456789abcdefABCDEF:.=-_ []()xyzTRACE"


def mutate(rng, line):
    for _ in range(rng.randint(1, 4)):
        if not line:
            break
        op = rng.random()
        i = rng.randrange(len(line))
        if op < 0.30:  # a digit changed: new ids, addresses, ports, times
            digits = [k for k, c in enumerate(line) if c.isdigit()]
            if digits:
                k = rng.choice(digits)
                line = line[:k] + str(rng.randrange(10)) + line[k + 1:]
        elif op < 0.45:  # a character replaced
            line = line[:i] + rng.choice(PRINTABLE) + line[i + 1:]
        elif op < 0.60:  # a run deleted
            line = line[:i] + line[i + rng.randint(1, 8):]
        elif op < 0.75:  # a run duplicated
            j = min(len(line), i + rng.randint(1, 12))
            line = line[:j] + line[i:j] + line[j:]
        else:  # two fields swapped
            fields = line.split(" ")
            if len(fields) > 2:
                a, b = rng.randrange(len(fields)), rng.randrange(len(fields))
                fields[a], fields[b] = fields[b], fields[a]
                line = " ".join(fields)
    return line


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("mutated", "shuffled"):
        sys.exit("usage: gen-messy.py mutated|shuffled N")
    kind, total = sys.argv[1], int(sys.argv[2])
    lines = pool()
    rng = random.Random(8 if kind == "mutated" else 5)
    out = sys.stdout
    buf = []
    for n in range(total):
        line = rng.choice(lines)
        buf.append((mutate(rng, line) if kind == "mutated" else line) + "\n")
        if len(buf) >= 10000:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))


if __name__ == "__main__":
    main()
