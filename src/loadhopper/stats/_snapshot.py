"""The frozen records that reports, the web UI and the CLI read (docs/internals.md).

Times are epoch seconds; latencies are milliseconds, or None when there is no successful
sample. Latency columns cover successful requests only; "total" rates are over the whole
run, "current" rates over the last (up to) 10 closed one-second windows.
"""

from __future__ import annotations

from dataclasses import dataclass

from loadhopper.stats._health import CPU_BOUND_PERCENT, LAG_BOUND_MS

__all__ = [
    "ArrivalTotals",
    "ExceptionSnapshot",
    "FailureSnapshot",
    "GeneratorHealth",
    "HealthWindow",
    "RowSnapshot",
    "StallSite",
    "StatsSnapshot",
    "TimelinePoint",
]


@dataclass(frozen=True, slots=True)
class RowSnapshot:
    """One stats row: a (method, name) pair, or the Aggregated total (method "")."""

    method: str
    name: str
    num_requests: int
    num_failures: int
    min_response_time: float | None
    max_response_time: float | None
    avg_response_time: float | None
    median_response_time: float | None
    avg_content_length: float
    total_rps: float
    total_fail_per_sec: float
    current_rps: float
    current_fail_per_sec: float
    percentiles: tuple[float | None, ...]
    # Latency corrected for coordinated omission: from each iteration's *intended* start
    # (open model, constant_pacing/constant_throughput) rather than from the send. Only
    # samples that had an intended start count; empty (0, ()) for rows without any.
    corrected_count: int = 0
    corrected_percentiles: tuple[float | None, ...] = ()  # aligned with `percentiles`
    corrected_median: float | None = None
    corrected_avg: float | None = None
    corrected_max: float | None = None

    @property
    def fail_ratio(self) -> float:
        """Failures over requests (0.0 when there were no requests)."""
        return self.num_failures / self.num_requests if self.num_requests else 0.0


@dataclass(frozen=True, slots=True)
class FailureSnapshot:
    """One failure group: how often (method, name) failed with this normalised error."""

    method: str
    name: str
    error: str
    occurrences: int
    first_seen: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class ExceptionSnapshot:
    """One group of exceptions raised by user code, by message and traceback."""

    count: int
    message: str
    traceback: str


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """One closed window (normally one second) of the whole run."""

    time: float
    user_count: int
    rps: float
    fail_per_sec: float
    p50: float | None
    p95: float | None
    p99: float | None
    avg_response_time: float | None
    total_requests: int
    total_failures: int
    # Generator health (`GeneratorHealth`): the time the load generator's event loop was
    # blocked in this window, summed over its processes, and the call site that blocked it
    # longest ("" when it was not blocked). The latencies measured then include it.
    stalled_ms: float = 0.0
    stall_site: str = ""
    # The open model (`ArrivalTotals`): iterations due in this window, those that started
    # late (no free user when due) and those dropped (never started).
    due: int = 0
    late: int = 0
    dropped: int = 0
    corrected_p95: float | None = None  # from the intended starts (coordinated omission)
    corrected_p99: float | None = None
    # Generator health (`stats/_health.py`): the generator's CPU over the window (percent of
    # one core) and how late its event loop's heartbeat fired (the latest beat, and the
    # mean), the worst process's; None when not measured (a fake clock, the last window).
    cpu_percent: float | None = None
    loop_lag_ms: float | None = None
    loop_lag_mean_ms: float | None = None


@dataclass(frozen=True, slots=True)
class StallSite:
    """A call site that blocked the event loop past the stall threshold, over the run."""

    file: str  # relative to the working directory when under it
    line: int
    function: str
    count: int
    total_ms: float
    longest_ms: float

    @property
    def location(self) -> str:
        """`file:line`, as a warning names it (just the file for a site without a line)."""
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, slots=True)
class HealthWindow:
    """A window in which the generator was hot (CPU) or lagging (loop), as merged."""

    time: float  # the window's end
    cpu_percent: float
    loop_lag_ms: float  # the latest heartbeat
    hot: bool  # CPU above `cpu_bound_percent`
    lagging: bool  # lag above `lag_bound_ms`


@dataclass(frozen=True, slots=True)
class GeneratorHealth:
    """What the load generator itself did to the measurements, over the run.

    Event-loop stalls (blocking calls in user code), and per window the generator's CPU and
    loop lag (`stats/_health.py`). A stalled, hot or lagging window's latencies include the
    generator's own delay, so a reader must know which windows they are.
    """

    stall_sites: tuple[StallSite, ...] = ()  # the most blocked time first
    stalled_windows: int = 0  # windows (merged by index) in which the loop was blocked
    # CPU and lag: None (peaks) and 0 when nothing was measured (a fake clock).
    cpu_bound_percent: float = CPU_BOUND_PERCENT
    lag_bound_ms: float = LAG_BOUND_MS
    cpu_peak_percent: float | None = None
    cpu_mean_percent: float | None = None  # over the measured windows
    hot_windows: int = 0  # windows above cpu_bound_percent
    hot_seconds: float = 0.0  # their summed length
    lag_max_ms: float | None = None
    lag_mean_ms: float | None = None  # the mean of the windows' mean lags
    lagging_windows: int = 0  # windows above lag_bound_ms
    measured_windows: int = 0
    flagged: tuple[HealthWindow, ...] = ()  # hot or lagging windows, the earliest, in order

    @property
    def measured(self) -> bool:
        """Whether the generator's CPU and lag were measured at all."""
        return self.measured_windows > 0

    @property
    def stall_count(self) -> int:
        """How many stalls, every site."""
        return sum(site.count for site in self.stall_sites)

    @property
    def stalled_ms(self) -> float:
        """The summed length of every stall."""
        return sum(site.total_ms for site in self.stall_sites)

    @property
    def longest_stall(self) -> StallSite | None:
        """The site of the longest stall, or None without stalls."""
        return max(self.stall_sites, key=lambda site: site.longest_ms, default=None)


@dataclass(frozen=True, slots=True)
class ArrivalTotals:
    """The open model's iterations over the run (all zero under a closed model).

    Attributes:
        due: iterations whose scheduled instant has come.
        late: iterations that found no free user when due and started later.
        dropped: iterations that were never started (they waited past the bound, or the
            test ended while they waited).
    """

    due: int = 0
    late: int = 0
    dropped: int = 0

    @property
    def active(self) -> bool:
        """Whether an open model ran (any iteration was due)."""
        return self.due > 0


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """Everything the collector knows at `end_time`, frozen."""

    start_time: float
    end_time: float
    percentiles: tuple[float, ...]
    rows: tuple[RowSnapshot, ...]
    total: RowSnapshot
    failures: tuple[FailureSnapshot, ...]
    exceptions: tuple[ExceptionSnapshot, ...]
    timeline: tuple[TimelinePoint, ...]
    overflowed: bool
    health: GeneratorHealth = GeneratorHealth()
    arrivals: ArrivalTotals = ArrivalTotals()
