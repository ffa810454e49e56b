"""The generator's own CPU and event-loop lag, per window: is the generator the bottleneck?

Theory of operation. Once a second, before the window closes, the runtime measures two things
about its own process and records them (`StatsCollector.record_health`): the CPU it used over
the window, in percent of one core, and how late the stall watch's 25 ms heartbeat fired on
the event loop (the largest and the mean lateness of the window's beats). A loop that is late
reads every response that late, so the latencies measured then include the generator's own
queueing, not only the target's. The sample travels in the window's delta (`HealthDelta`) and
merges by window index like the rest: per window, each field is the *worst* process's (CPU
the max over processes, lag max the max, lag mean the largest mean), because one saturated
process inflates the latencies of all its users whatever its idle peers do.

A window is *hot* when its CPU is above `CPU_BOUND_PERCENT` and *lagging* when its loop lag
is above `LAG_BOUND_MS`. Why these bounds:

- 90 % CPU is Locust's own warning threshold (its runners' CPU monitor): a process that busy
  is queueing work on its loop, and the 10 % left absorbs no burst.
- 10 ms of lag: a healthy loop fires the heartbeat within about 1 ms (uvloop's timers have
  millisecond resolution); 10 ms is ten times that, far from scheduling noise, yet of the
  order of what a fast target answers in (the benchmark's target answers in 10 ms), so a
  reader must know latencies may be inflated by that much. Stalls (100 ms, `_stalls.py`) are
  the far end of the same scale, named by call site.

Runs on a fake clock measure nothing: their windows carry no sample (None), so they stay
deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CPU_BOUND_PERCENT", "LAG_BOUND_MS", "MAX_FLAGGED_WINDOWS", "HealthDelta"]

CPU_BOUND_PERCENT = 90.0
"""A window above this CPU (percent of one core) is hot (Locust warns at 90 %)."""

LAG_BOUND_MS = 10.0
"""A window whose loop was late by more than this (ms) is lagging (see the module)."""

MAX_FLAGGED_WINDOWS = 1000
"""The hot or lagging windows listed one by one over a run (the earliest); the rest are counted."""


@dataclass(frozen=True, slots=True)
class HealthDelta:
    """One window's generator health: the worst process's, once merged."""

    cpu_percent: float  # CPU over the window, 100 = one core
    lag_max_ms: float  # the latest heartbeat of the window
    lag_mean_ms: float  # the mean lateness of its heartbeats

    def worst(self, other: HealthDelta) -> HealthDelta:
        """Field by field, the larger of the two (the merge of one window's samples)."""
        return HealthDelta(
            max(self.cpu_percent, other.cpu_percent),
            max(self.lag_max_ms, other.lag_max_ms),
            max(self.lag_mean_ms, other.lag_mean_ms),
        )

    @property
    def hot(self) -> bool:
        """Whether the CPU was above `CPU_BOUND_PERCENT`."""
        return self.cpu_percent > CPU_BOUND_PERCENT

    @property
    def lagging(self) -> bool:
        """Whether the loop was late by more than `LAG_BOUND_MS`."""
        return self.lag_max_ms > LAG_BOUND_MS
