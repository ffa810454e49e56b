"""The frozen records that reports, the web UI and the CLI read (docs/internals.md).

Times are epoch seconds; latencies are milliseconds, or None when there is no successful
sample. Latency columns cover successful requests only; "total" rates are over the whole
run, "current" rates over the last (up to) 10 closed one-second windows.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ExceptionSnapshot",
    "FailureSnapshot",
    "RowSnapshot",
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
