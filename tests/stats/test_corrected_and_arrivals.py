"""Latency corrected for coordinated omission, and the open model's iteration counts."""

from __future__ import annotations

import pytest

from loadhopper.stats import ArrivalTotals, StatsCollector

T0 = 1_700_000_000.0


def test_a_lag_adds_to_the_corrected_latency_of_successes_only() -> None:
    c = StatsCollector(start_time=T0)
    c.record("GET", "/", 10.0, 0, None, 990.0)  # started 990 ms late: 1000 ms from the intent
    c.record("GET", "/", 10.0, 0, None, 0.0)
    c.record("GET", "/", 10.0, 0, "HTTPError: 500", 500.0)  # a failure: no latency column
    c.record("GET", "/", 10.0, 0, None)  # no schedule: uncorrected only
    row = c.snapshot(T0 + 1).rows[0]
    assert row.corrected_count == 2
    assert row.corrected_max == pytest.approx(1000.0, rel=1e-3)
    assert row.corrected_median == pytest.approx(10.0, rel=1e-3)
    assert row.max_response_time == pytest.approx(10.0, rel=1e-3)
    assert len(row.corrected_percentiles) == len(c.percentiles)
    assert c.percentile("GET", "/", 1.0, corrected=True) == pytest.approx(1000.0, rel=1e-3)
    assert c.percentile("", "Aggregated", 1.0) == pytest.approx(10.0, rel=1e-3)
    assert c.percentile("GET", "/missing", 0.5) is None


def test_rows_without_a_schedule_have_no_corrected_fields() -> None:
    c = StatsCollector(start_time=T0)
    c.record("GET", "/", 10.0, 0, None)
    snapshot = c.snapshot(T0 + 1)
    assert (snapshot.total.corrected_count, snapshot.total.corrected_percentiles) == (0, ())
    assert c.percentile("", "Aggregated", 0.99, corrected=True) is None
    assert snapshot.arrivals == ArrivalTotals() and not snapshot.arrivals.active


def test_merged_collectors_hold_what_one_would_have_recorded() -> None:
    one = StatsCollector(start_time=T0)
    workers = [StatsCollector(start_time=T0) for _ in range(2)]
    master = StatsCollector(start_time=T0)
    for second in range(3):
        for i in range(300):
            lag = float((i * 37) % 1000) if i % 3 else None
            args = ("GET", f"/{i % 2}", 5.0 + i % 17, 10, None if i % 11 else "boom", lag)
            one.record(*args)
            workers[i % 2].record(*args)
        one.record_arrivals(due=200, late=10 + second, dropped=second)
        workers[0].record_arrivals(due=100, late=10 + second, dropped=0)
        workers[1].record_arrivals(due=100, dropped=second)
        now = T0 + second + 1
        one.close_window(now, 4)
        for worker in workers:
            master.merge(worker.close_window(now, 2))
    mine, merged = one.snapshot(T0 + 3), master.snapshot(T0 + 3)
    assert merged.arrivals == mine.arrivals == ArrivalTotals(due=600, late=33, dropped=3)
    assert merged.total.corrected_percentiles == mine.total.corrected_percentiles
    assert [r.corrected_percentiles for r in merged.rows] == [
        r.corrected_percentiles for r in mine.rows
    ]
    for q in (0.5, 0.9, 0.99, 0.999):
        assert master.percentile("", "Aggregated", q, corrected=True) == one.percentile(
            "", "Aggregated", q, corrected=True
        )
    points = merged.timeline
    assert [(p.due, p.late, p.dropped) for p in points] == [
        (200, 10, 0),
        (200, 11, 1),
        (200, 12, 2),
    ]
    assert [p.corrected_p99 for p in points] == [p.corrected_p99 for p in mine.timeline]
    assert all(p.corrected_p99 is not None for p in points)


def test_the_open_window_counts_and_a_reset_forgets() -> None:
    c = StatsCollector(start_time=T0)
    c.record_arrivals(due=5, late=1)
    assert c.snapshot(T0 + 0.5).arrivals == ArrivalTotals(due=5, late=1, dropped=0)
    c.record("GET", "/", 1.0, 0, None, 3.0)
    c.reset(T0 + 1)
    snapshot = c.snapshot(T0 + 2)
    assert snapshot.arrivals == ArrivalTotals()
    assert snapshot.total.corrected_count == 0


def test_bad_counts_and_quantiles_are_refused() -> None:
    c = StatsCollector(start_time=T0)
    with pytest.raises(ValueError, match="cannot be negative"):
        c.record_arrivals(due=-1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        c.percentile("", "Aggregated", 95)
