"""This process's CPU and memory, for `events.usage_monitor`, the workers' reports and the
generator's health (`HealthMonitor`: CPU and loop lag per window, and their warnings).

Locust fires `usage_monitor(environment, cpu_usage, memory_usage)` every 5 seconds in every
runner (master, workers, a local run); locustfiles use it to log or to stop a test that
saturates the generator. Here the runner's one-second window drives it, so it costs one
modulo per second and nothing per request.
"""

from __future__ import annotations

import logging
import os
import resource
import time
from typing import TYPE_CHECKING

from loadhopper.stats import CPU_BOUND_PERCENT, LAG_BOUND_MS

if TYPE_CHECKING:
    from loadhopper.runtime._environment import Environment

__all__ = [
    "REWARN_WINDOWS",
    "USAGE_MONITOR_WINDOWS",
    "CpuMeter",
    "HealthMonitor",
    "UsageMonitor",
    "rss_bytes",
]

logger = logging.getLogger(__name__)

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


REWARN_WINDOWS = 60
"""Windows (seconds) before a cause warned about is warned about again (`finish` sums up)."""


class _Cause:
    __slots__ = ("last_warned", "peak", "windows")

    def __init__(self) -> None:
        self.windows = 0  # windows above the bound
        self.peak = 0.0
        self.last_warned: int | None = None  # the window of the last warning


class HealthMonitor:
    """Once a window: measures this process's CPU, records it with the loop's lag, warns.

    The CPU is this process's over the window, in percent of one core; the lag comes from
    the stall watch's heartbeat. A window above `CPU_BOUND_PERCENT` or `LAG_BOUND_MS` logs
    one warning when the cause starts (then at most once every `REWARN_WINDOWS` windows),
    and `finish` logs one summary line per cause seen. Per window: two clock reads, one
    record, two comparisons; nothing per request.

    Args:
        environment: whose stats receive the samples and whose `cpu_warning` fires.
        warn_cpu: False in a worker: its master warns about its CPU already, naming it.
    """

    def __init__(self, environment: Environment, *, warn_cpu: bool = True) -> None:
        self._environment = environment
        self._meter = CpuMeter()
        self._warn_cpu = warn_cpu
        self._window = 0
        self._cpu = _Cause()
        self._lag = _Cause()

    def window(self, lag_max_ms: float, lag_mean_ms: float) -> None:
        """Record the closing window's health (call right before it closes)."""
        self._window += 1
        cpu = self._meter.read()
        env = self._environment
        env.stats.record_health(cpu, lag_max_ms, lag_mean_ms)
        if cpu > CPU_BOUND_PERCENT and self._warn_cpu:
            if self._due(self._cpu, cpu):
                logger.warning(
                    "The generator used %.0f %% of a core in the last second: latencies "
                    "measured now include its own queueing; add --processes or reduce users.",
                    cpu,
                )
            env.events.cpu_warning.fire(environment=env, cpu_usage=cpu)
        if lag_max_ms > LAG_BOUND_MS and self._due(self._lag, lag_max_ms):
            logger.warning(
                "The generator's event loop ran %.0f ms late in the last second (mean %.1f ms): "
                "responses were read that late, so latencies measured now are inflated by up "
                "to that; add --processes, reduce users, or move CPU-heavy task code off the "
                "loop.",
                lag_max_ms,
                lag_mean_ms,
            )

    def _due(self, cause: _Cause, value: float) -> bool:
        cause.windows += 1
        cause.peak = max(cause.peak, value)
        last = cause.last_warned
        if last is not None and self._window - last < REWARN_WINDOWS:
            return False
        cause.last_warned = self._window
        return True

    def finish(self) -> None:
        """Log the summary of each cause seen during the run (nothing for a healthy run)."""
        if self._cpu.windows:
            logger.warning(
                "The generator was above %.0f %% CPU in %d of %d one-second windows (peak "
                "%.0f %%): the latencies measured then include its own queueing (marked in "
                "the reports).",
                CPU_BOUND_PERCENT,
                self._cpu.windows,
                self._window,
                self._cpu.peak,
            )
        if self._lag.windows:
            logger.warning(
                "The generator's event loop ran more than %.0f ms late in %d of %d one-second "
                "windows (up to %.0f ms): the latencies measured then are inflated by up to "
                "that (marked in the reports).",
                LAG_BOUND_MS,
                self._lag.windows,
                self._window,
                self._lag.peak,
            )
