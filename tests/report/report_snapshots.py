"""Snapshots built field by field, so every expected number in the report tests is known.

A plain module (not conftest.py) because the tests import its builders by name."""

from __future__ import annotations

from loadhopper.stats import (
    DEFAULT_PERCENTILES,
    ExceptionSnapshot,
    FailureSnapshot,
    RowSnapshot,
    StatsSnapshot,
)


def make_row(
    method: str,
    name: str,
    *,
    requests: int = 10,
    failures: int = 0,
    latency: float | None = 12.345,
    total_rps: float = 2.0,
    current_rps: float = 3.5,
) -> RowSnapshot:
    """A row whose latencies are all derived from `latency` (None: no successful sample)."""
    percentiles = tuple(
        None if latency is None else latency * (1 + i / 10) for i in range(len(DEFAULT_PERCENTILES))
    )
    return RowSnapshot(
        method=method,
        name=name,
        num_requests=requests,
        num_failures=failures,
        min_response_time=None if latency is None else latency / 2,
        max_response_time=None if latency is None else latency * 3,
        avg_response_time=None if latency is None else latency * 1.1,
        median_response_time=latency,
        avg_content_length=512.0,
        total_rps=total_rps,
        total_fail_per_sec=0.25,
        current_rps=current_rps,
        current_fail_per_sec=0.5,
        percentiles=percentiles,
    )


def make_snapshot(
    rows: tuple[RowSnapshot, ...] | None = None,
    *,
    failures: tuple[FailureSnapshot, ...] = (),
    exceptions: tuple[ExceptionSnapshot, ...] = (),
    overflowed: bool = False,
) -> StatsSnapshot:
    if rows is None:
        rows = (make_row("GET", "/"), make_row("POST", "/[id]/update", failures=2, latency=0.4123))
    total = make_row(
        "",
        "Aggregated",
        requests=sum(r.num_requests for r in rows),
        failures=sum(r.num_failures for r in rows),
        latency=1234.5,
        total_rps=4.0,
        current_rps=7.0,
    )
    return StatsSnapshot(
        start_time=1_700_000_000.0,
        end_time=1_700_000_005.7,
        percentiles=DEFAULT_PERCENTILES,
        rows=rows,
        total=total,
        failures=failures,
        exceptions=exceptions,
        timeline=(),
        overflowed=overflowed,
    )


FAILURE = FailureSnapshot(
    method="POST",
    name="/[id]/update",
    error="ConnectionRefusedError: refused",
    occurrences=2,
    first_seen=1_700_000_001.2,
    last_seen=1_700_000_004.9,
)
EXCEPTION = ExceptionSnapshot(
    count=3,
    message="ValueError: no pk yet\nsecond line",
    traceback='Traceback (most recent call last):\n  File "x.py", line 1\nValueError: no pk yet\n',
)
