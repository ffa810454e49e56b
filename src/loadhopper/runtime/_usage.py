"""This process's CPU and memory, for `events.usage_monitor` and the workers' reports.

Locust fires `usage_monitor(environment, cpu_usage, memory_usage)` every 5 seconds in every
runner (master, workers, a local run); locustfiles use it to log or to stop a test that
saturates the generator. Here the runner's one-second window drives it, so it costs one
modulo per second and nothing per request.
"""

from __future__ import annotations

import os
import resource
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadhopper.runtime._environment import Environment

__all__ = ["USAGE_MONITOR_WINDOWS", "CpuMeter", "UsageMonitor", "rss_bytes"]

USAGE_MONITOR_WINDOWS = 5
"""Windows (seconds) between two `usage_monitor` events: Locust's CPU_MONITOR_INTERVAL."""


class CpuMeter:
    """This process's CPU use between two reads, in percent of one core."""

    def __init__(self) -> None:
        self._cpu = time.process_time()
        self._wall = time.monotonic()

    def read(self) -> float:
        cpu, wall = time.process_time(), time.monotonic()
        spent, elapsed = cpu - self._cpu, wall - self._wall
        self._cpu, self._wall = cpu, wall
        return 100.0 * spent / elapsed if elapsed > 0 else 0.0


def rss_bytes() -> int:
    """This process's resident memory now (Linux); elsewhere its peak, the best known."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class UsageMonitor:
    """Fires `usage_monitor` once every `USAGE_MONITOR_WINDOWS` closed windows."""

    def __init__(self, environment: Environment) -> None:
        self._environment = environment
        self._meter = CpuMeter()
        self._windows = 0

    def window_closed(self) -> None:
        self._windows += 1
        if self._windows % USAGE_MONITOR_WINDOWS:
            return
        env = self._environment
        env.events.usage_monitor.fire(
            environment=env, cpu_usage=self._meter.read(), memory_usage=rss_bytes()
        )
