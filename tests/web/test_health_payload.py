"""The generator's CPU and loop lag in the UI's payload: chart points and the health section.

Fed by a real `StatsCollector`: each window gets `record_health(...)` before `close_window`,
as the runtime does once a second.
"""

from __future__ import annotations

import pytest

from loadhopper.stats import CPU_BOUND_PERCENT, LAG_BOUND_MS, StatsCollector, StatsSnapshot
from loadhopper.web._payload import POINT_FIELDS, health_dict, point_row, stats_dict

T0 = 1_700_000_000.0


def _snapshot(seconds: int = 20, hot_from: int = 5, hot_until: int = 8) -> StatsSnapshot:
    """`seconds` one-second windows; the first carries no sample (as a run's first does not
    always), windows hot_from..hot_until-1 ran at 97 % CPU with 25 ms of lag, the rest idle."""
    c = StatsCollector(start_time=T0)
    for k in range(seconds):
        c.record("GET", "/", 5.0, 10, None)
        if hot_from <= k < hot_until:
            c.record_health(97.0, 25.0, 6.0)
        elif k > 0:
            c.record_health(20.0, 1.5, 0.5)
        c.close_window(T0 + k + 1, user_count=4)
    return c.snapshot(T0 + seconds)


def test_chart_points_carry_cpu_and_loop_lag_and_null_when_not_measured() -> None:
    snapshot = _snapshot()
    points = [dict(zip(POINT_FIELDS, point_row(p), strict=True)) for p in snapshot.timeline]
    assert POINT_FIELDS[-3:] == ("cpu_percent", "loop_lag_ms", "loop_lag_mean_ms")
    first, hot, idle = points[0], points[5], points[-1]
    assert (first["cpu_percent"], first["loop_lag_ms"], first["loop_lag_mean_ms"]) == (
        None,
        None,
        None,
    )
    assert (hot["cpu_percent"], hot["loop_lag_ms"], hot["loop_lag_mean_ms"]) == (97.0, 25.0, 6.0)
    assert (idle["cpu_percent"], idle["loop_lag_ms"]) == (20.0, 1.5)


def test_health_has_the_runs_peaks_counts_and_bounds() -> None:
    health = health_dict(_snapshot())
    assert stats_dict(_snapshot())["health"] == health
    assert health["measured"] is True and health["measured_windows"] == 19
    assert (health["cpu_bound_percent"], health["lag_bound_ms"]) == (
        CPU_BOUND_PERCENT,
        LAG_BOUND_MS,
    )
    assert health["cpu_peak_percent"] == 97.0 and health["lag_max_ms"] == 25.0
    assert health["cpu_mean_percent"] == pytest.approx((3 * 97.0 + 16 * 20.0) / 19)
    assert health["lag_mean_ms"] == pytest.approx((3 * 6.0 + 16 * 0.5) / 19)
    assert (health["hot_windows"], health["hot_seconds"], health["lagging_windows"]) == (3, 3.0, 3)
    # The header's numbers are the latest measured window's.
    assert (health["current_cpu_percent"], health["current_lag_ms"]) == (20.0, 1.5)


def test_the_banner_counts_only_the_last_ten_seconds() -> None:
    # Hot at seconds 6..8 of 20: more than 10 s ago, so no banner, though the run counts them.
    old = health_dict(_snapshot())
    assert old["recent_health_seconds"] == 10.0
    assert old["recent_hot_seconds"] == 0.0 and old["recent_lagging_seconds"] == 0.0
    assert old["recent_cpu_peak_percent"] == 20.0 and old["recent_lag_max_ms"] == 1.5
    assert old["hot_windows"] == 3
    # Hot at seconds 14..17 of 20: within the last 10 s, each window counted for its length.
    now = health_dict(_snapshot(hot_from=13, hot_until=17))
    assert now["recent_hot_seconds"] == 4.0 and now["recent_lagging_seconds"] == 4.0
    assert now["recent_cpu_peak_percent"] == 97.0 and now["recent_lag_max_ms"] == 25.0


def test_a_run_that_measured_nothing_says_so_with_nulls() -> None:
    c = StatsCollector(start_time=T0)
    for k in range(3):
        c.record("GET", "/", 5.0, 10, None)
        c.close_window(T0 + k + 1, user_count=1)
    health = health_dict(c.snapshot(T0 + 3))
    assert health["measured"] is False and health["measured_windows"] == 0
    assert health["cpu_peak_percent"] is None and health["lag_max_ms"] is None
    assert health["current_cpu_percent"] is None and health["current_lag_ms"] is None
    assert health["recent_cpu_peak_percent"] is None
    assert health["recent_hot_seconds"] == health["recent_lagging_seconds"] == 0.0
