"""The generator's CPU and loop lag per window: record, merge by index, snapshot."""

from __future__ import annotations

import pytest

from loadhopper.stats import (
    CPU_BOUND_PERCENT,
    LAG_BOUND_MS,
    HealthDelta,
    HealthWindow,
    StatsCollector,
    WindowDelta,
)

T0 = 1_700_000_000.0


def test_a_window_carries_the_health_recorded_before_it_closed() -> None:
    c = StatsCollector(start_time=T0)
    c.record_health(55.0, 4.0, 1.5)
    delta = c.close_window(T0 + 1, user_count=3)
    assert delta.health == HealthDelta(55.0, 4.0, 1.5)
    point = c.window_point(delta.window_index)
    assert (point.cpu_percent, point.loop_lag_ms, point.loop_lag_mean_ms) == (55.0, 4.0, 1.5)
    # The next window starts unmeasured.
    assert c.close_window(T0 + 2, user_count=3).health is None


def test_an_unmeasured_run_has_no_health_values() -> None:
    c = StatsCollector(start_time=T0)
    c.record("GET", "/", 5.0, 10, None)
    c.close_window(T0 + 1, user_count=1)
    snap = c.snapshot(T0 + 1)
    assert snap.timeline[0].cpu_percent is None and snap.timeline[0].loop_lag_ms is None
    health = snap.health
    assert not health.measured
    assert health.cpu_peak_percent is None and health.lag_max_ms is None
    assert (health.hot_windows, health.lagging_windows, health.flagged) == (0, 0, ())


@pytest.mark.parametrize(
    ("cpu", "lag_max", "lag_mean"),
    [(-1.0, 1.0, 0.5), (50.0, float("nan"), 0.5), (50.0, 1.0, 2.0), (float("inf"), 1.0, 0.5)],
)
def test_impossible_health_values_are_refused(cpu: float, lag_max: float, lag_mean: float) -> None:
    c = StatsCollector(start_time=T0)
    with pytest.raises(ValueError, match="Health values must be finite"):
        c.record_health(cpu, lag_max, lag_mean)


def test_the_snapshot_tallies_hot_and_lagging_windows_and_lists_them() -> None:
    c = StatsCollector(start_time=T0)
    samples = [(20.0, 1.0), (97.0, 3.0), (99.5, 25.0), (30.0, 40.0), (10.0, 0.5)]
    for second, (cpu, lag) in enumerate(samples, start=1):
        c.record_health(cpu, lag, lag / 2)
        c.close_window(T0 + second, user_count=1)
    health = c.snapshot(T0 + 5).health
    assert health.measured_windows == 5
    assert health.cpu_peak_percent == 99.5
    assert health.cpu_mean_percent == pytest.approx(sum(s[0] for s in samples) / 5)
    assert health.hot_windows == 2 and health.hot_seconds == pytest.approx(2.0)
    assert health.lag_max_ms == 40.0
    assert health.lagging_windows == 2
    assert (health.cpu_bound_percent, health.lag_bound_ms) == (CPU_BOUND_PERCENT, LAG_BOUND_MS)
    assert health.flagged == (
        HealthWindow(T0 + 2, 97.0, 3.0, hot=True, lagging=False),
        HealthWindow(T0 + 3, 99.5, 25.0, hot=True, lagging=True),
        HealthWindow(T0 + 4, 30.0, 40.0, hot=False, lagging=True),
    )


def test_windows_that_left_the_ring_still_count_once() -> None:
    # 10 windows stay open; 25 hot ones must count 25 times, not more, not fewer.
    c = StatsCollector(start_time=T0)
    for second in range(1, 26):
        c.record_health(95.0, 12.0, 2.0)
        c.close_window(T0 + second, user_count=1)
    health = c.snapshot(T0 + 25).health
    assert (health.hot_windows, health.lagging_windows, len(health.flagged)) == (25, 25, 25)
    assert [w.time for w in health.flagged] == [T0 + s for s in range(1, 26)]


def test_merged_processes_give_the_worst_of_each_window() -> None:
    master = StatsCollector(start_time=T0)
    a = WindowDelta(int(T0), T0, T0 + 1, 2, health=HealthDelta(40.0, 30.0, 2.0))
    b = WindowDelta(int(T0), T0, T0 + 1, 2, health=HealthDelta(96.0, 5.0, 3.0))
    unmeasured = WindowDelta(int(T0), T0, T0 + 1, 2)
    for delta in (a, unmeasured, b):
        master.merge(delta)
    point = master.window_point(int(T0))
    assert (point.cpu_percent, point.loop_lag_ms, point.loop_lag_mean_ms) == (96.0, 30.0, 3.0)
    health = master.snapshot(T0 + 1).health
    # Two processes were hot or lagging in one second: that is one window, not two.
    assert (health.hot_windows, health.lagging_windows, health.measured_windows) == (1, 1, 1)
    assert health.flagged == (HealthWindow(T0 + 1, 96.0, 30.0, hot=True, lagging=True),)


def test_the_merge_order_does_not_change_the_result() -> None:
    samples = [(10.0, 1.0), (91.0, 2.0), (50.0, 11.0), (5.0, 50.0)]
    deltas = [
        WindowDelta(
            int(T0) + i % 3, T0 + i % 3, T0 + i % 3 + 1, 1, health=HealthDelta(cpu, lag, lag / 3)
        )
        for i, (cpu, lag) in enumerate(samples)
    ]
    one, other = StatsCollector(start_time=T0), StatsCollector(start_time=T0)
    for d in deltas:
        one.merge(d)
    for d in (deltas[3], deltas[0], deltas[1], deltas[2]):
        other.merge(d)
    assert one.snapshot(T0 + 3).health == other.snapshot(T0 + 3).health
    assert one.snapshot(T0 + 3).timeline == other.snapshot(T0 + 3).timeline
    assert one.snapshot(T0 + 3).health.cpu_peak_percent == 91.0


def test_reset_forgets_the_health() -> None:
    c = StatsCollector(start_time=T0)
    c.record_health(99.0, 50.0, 5.0)
    c.close_window(T0 + 1, user_count=1)
    c.record_health(99.0, 50.0, 5.0)  # recorded, then reset before its window closed
    c.reset(T0 + 1.5)
    c.close_window(T0 + 2, user_count=1)
    assert not c.snapshot(T0 + 2).health.measured
