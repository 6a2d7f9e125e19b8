"""Benchmark helper: run a command and print, once a second, how many cores it and its
worker processes keep busy and their resident memory together.

Shows where a run leaves a core idle (a single-threaded step) and where both are busy,
which a total CPU time does not: docs/memory.md, "The referral store", used it on the
300,000-provider report from the store.

Usage::

    python benchmarks/cpu_timeline.py referral-graph report --store STORE \\
        --providers PROVIDERS.csv --focus "Riverside Health" -q --out DIR

Each line: seconds since the start, cores busy over the last second (user + system time
of the process tree), resident memory of the tree in GB; the last line sums the idle
core-seconds (against the machine's cores).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc)."""
    found = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found += _tree(int(child))
    return found


def _usage(pid: int) -> tuple[int, int]:
    """CPU ticks (user + system) and resident bytes of one process (0, 0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0, 0
    return int(fields[11]) + int(fields[12]), int(fields[21]) * os.sysconf("SC_PAGE_SIZE")


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    ticks = os.sysconf("SC_CLK_TCK")
    cores = os.cpu_count() or 1
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    started = last_time = time.perf_counter()
    last: dict[int, int] = {}
    idle = 0.0
    while child.poll() is None:
        time.sleep(1.0)
        now = time.perf_counter()
        used, rss = 0, 0
        for pid in _tree(child.pid):
            cpu, resident = _usage(pid)
            used += cpu - last.get(pid, 0)
            last[pid] = cpu
            rss += resident
        busy = used / ticks / (now - last_time)
        idle += max(0.0, cores - busy) * (now - last_time)
        last_time = now
        print(f"{now - started:7.1f} s  cores {busy:4.2f}  rss {rss / 1e9:5.2f} GB", flush=True)
    print(f"total {time.perf_counter() - started:.1f} s, idle core-seconds about {idle:.0f}")
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
