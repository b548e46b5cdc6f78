#!/usr/bin/env python3
"""Writes N kernel-log TRACE lines (raw dmesg form) of interleaved packets, for the replay benchmark.

Each packet walks a real path (forward with MASQUERADE, input, output) with the fields nf_log prints
for TRACE (SEQ/ACK, TCP options, UID/GID on locally generated packets); up to 8 packets are in flight
at once so their lines interleave as they do on a busy host.
"""
import random
import sys

FORWARD = [("raw", "PREROUTING", "policy", 3), ("mangle", "PREROUTING", "policy", 1),
           ("nat", "PREROUTING", "policy", 1), ("mangle", "FORWARD", "policy", 1),
           ("filter", "FORWARD", "rule", 2), ("mangle", "POSTROUTING", "policy", 4),
           ("nat", "POSTROUTING", "rule", 3)]
INPUT = [("raw", "PREROUTING", "policy", 3), ("mangle", "PREROUTING", "policy", 1),
         ("mangle", "INPUT", "policy", 1), ("filter", "INPUT", "rule", 4), ("filter", "INPUT", "policy", 7)]
OUTPUT = [("raw", "OUTPUT", "policy", 2), ("mangle", "OUTPUT", "policy", 1), ("filter", "OUTPUT", "rule", 1),
          ("mangle", "POSTROUTING", "policy", 4), ("nat", "POSTROUTING", "policy", 6)]


def packet(rng, ipid):
    kind = rng.random()
    sport = rng.randint(1024, 65535)
    seq = rng.randint(0, 2**32 - 1)
    vm = f"192.168.122.{rng.randint(2, 254)}"
    srv = f"10.44.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if kind < 0.6:
        steps, src, dst, iface = FORWARD, vm, srv, ("virbr0", "bond0")
    elif kind < 0.85:
        steps, src, dst, iface = INPUT, srv, "10.44.0.1", ("bond0", "")
    else:
        steps, src, dst, iface = OUTPUT, "10.44.0.1", srv, ("", "bond0")
    flags = rng.choice(["SYN", "ACK", "ACK PSH", "ACK FIN"])
    ack = 0 if flags == "SYN" else rng.randint(0, 2**32 - 1)
    length = rng.choice([60, 52, 52, 1500, 112])
    lines = []
    for table, chain, typ, num in steps:
        hook = chain
        if hook in ("PREROUTING", "INPUT"):
            ifs = f"IN={iface[0]} OUT= MAC=52:54:00:da:ec:4f:52:54:00:a4:5e:56:08:00 "
        elif hook == "FORWARD":
            ifs = f"IN={iface[0]} OUT={iface[1]} MAC=52:54:00:da:ec:4f:52:54:00:a4:5e:56:08:00 "
        else:
            ifs = f"IN= OUT={iface[1]} "
        ttl = 63 if steps is FORWARD and hook in ("FORWARD", "POSTROUTING") else 64
        uid = " UID=0 GID=0" if steps is OUTPUT else ""
        opt = " OPT (020405B40402080A10B629170000000001030307)" if flags == "SYN" else ""
        lines.append(
            f"TRACE: {table}:{chain}:{typ}:{num} {ifs}SRC={src} DST={dst} LEN={length} TOS=0x00 PREC=0x00 "
            f"TTL={ttl} ID={ipid} DF PROTO=TCP SPT={sport} DPT=3128 SEQ={seq} ACK={ack} WINDOW=29200 "
            f"RES=0x00 {flags} URGP=0{opt}{uid} ")
    return lines


def main():
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rng = random.Random(42)
    out = sys.stdout
    t = 5121056.0
    ipid = 1
    active = []
    written = 0
    buf = []
    while written < total:
        while len(active) < 8:
            active.append(packet(rng, ipid))
            ipid = ipid % 65535 + 1
        i = rng.randrange(len(active))
        line = active[i].pop(0)
        if not active[i]:
            active.pop(i)
        t += 0.000003
        buf.append(f"[{t:14.6f}] {line}\n")
        written += 1
        if len(buf) >= 10000:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))


if __name__ == "__main__":
    main()
