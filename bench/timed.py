#!/usr/bin/env python3
"""Runs a command and prints "CPU_SECONDS WALL_SECONDS" to the file named first: CPU is user +
system of the command and its children (getrusage, microseconds), wall a monotonic clock around
it (GNU time's %e has 10 ms steps, 0.6 % of a 1.6 s batch: more than the changes it measures).

    bench/timed.py OUT_FILE COMMAND [ARG...]     # exits with the command's status
"""
import resource
import subprocess
import sys
import time

out, cmd = sys.argv[1], sys.argv[2:]
before = resource.getrusage(resource.RUSAGE_CHILDREN)
start = time.perf_counter()
status = subprocess.call(cmd)
wall = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
with open(out, "w") as f:
    f.write(f"{cpu:.6f} {wall:.6f}\n")
sys.exit(status)
