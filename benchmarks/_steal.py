"""Steal time: how long the machine's virtual CPUs were ready to run but the host ran others.

On a virtual machine the hypervisor can take a CPU away from the guest for milliseconds at a
time. A process on that CPU is then neither running nor counted as waiting by its own
scheduler statistics, and every latency it measures across the gap grows by the gap: a
generator's tail, or the target's own service time, inflated by the machine rather than by
either program. Linux counts this per CPU (the eighth value of each `cpuN` line of
`/proc/stat`, in clock ticks), so a run can say how much of it there was, on the generator's
CPU and on the target's, beside the tails it reports (case 2). Measured on the project's
shared 2-CPU machine: 1.46 s stolen from the generator's CPU in one 25 s run of 10,000 users
gave a p99 of 26 ms against 16 ms in a run with 30 ms stolen, minutes apart, same code.

Pure functions apart from `read_steal`, which reads `/proc/stat`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["parse_steal", "read_steal", "stolen_seconds"]

_PROC_STAT = Path("/proc/stat")
_STEAL_FIELD = 8  # cpuN user nice system idle iowait irq softirq steal ...


def parse_steal(text: str, ticks_per_second: float) -> dict[int, float]:
    """Seconds stolen from each CPU since boot, from the text of `/proc/stat`.

    A kernel that does not count steal (too few fields) gives no entry for that CPU.
    """
    stolen: dict[int, float] = {}
    for line in text.splitlines():
        fields = line.split()
        if not fields or not fields[0].startswith("cpu") or fields[0] == "cpu":
            continue
        number = fields[0][3:]
        if not number.isdigit() or len(fields) <= _STEAL_FIELD:
            continue
        stolen[int(number)] = int(fields[_STEAL_FIELD]) / ticks_per_second
    return stolen


def read_steal() -> dict[int, float] | None:
    """Seconds stolen from each CPU since boot; None where the system does not say (not
    Linux, or no `/proc`)."""
    try:
        text = _PROC_STAT.read_text()
        ticks = float(os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError):
        return None
    stolen = parse_steal(text, ticks)
    return stolen or None


def stolen_seconds(
    before: Mapping[int, float] | None, after: Mapping[int, float] | None, cpu: int | None
) -> float | None:
    """Seconds stolen between two readings from `cpu`, or from all CPUs when it is None
    (a process left unpinned may have run on any); None when either reading is missing."""
    if before is None or after is None:
        return None
    cpus = sorted(after) if cpu is None else [cpu]
    if any(c not in before or c not in after for c in cpus):
        return None
    return sum(max(0.0, after[c] - before[c]) for c in cpus)
