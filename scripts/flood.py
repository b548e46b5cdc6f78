#!/usr/bin/env python3
"""Sends COUNT UDP datagrams to HOST:PORT at RATE packets a second (paced in batches), then prints
what it sent and how long it took. Used by bench-live.sh inside a lab namespace only."""
import socket
import sys
import time


def main():
    host, port, count, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", 40000))
    payload = b"pathtrace flood"
    start = time.perf_counter()
    sent = 0
    batch = 200
    while sent < count:
        n = min(batch, count - sent)
        for _ in range(n):
            try:
                s.sendto(payload, (host, port))
            except OSError:
                pass
        sent += n
        due = start + sent / rate
        # Sleep rather than spin: on a 2-core machine a spinning sender takes the tracer's core.
        ahead = due - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
    elapsed = time.perf_counter() - start
    print(f"sent {sent} packets in {elapsed:.2f} s ({sent / elapsed:.0f}/s)")


if __name__ == "__main__":
    main()
