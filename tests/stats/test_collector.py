from __future__ import annotations

import dataclasses

import pytest

from loadhopper.stats import (
    DEFAULT_PERCENTILES,
    FailureSnapshot,
    Histogram,
    RowSnapshot,
    StatsCollector,
    TimelinePoint,
)
from loadhopper.stats._collector import MAX_OVERFLOW_METHODS, OVERFLOW_NAME

T0 = 1_700_000_000.0


def row(snap_rows: tuple[RowSnapshot, ...], method: str, name: str) -> RowSnapshot:
    (found,) = [r for r in snap_rows if (r.method, r.name) == (method, name)]
    return found


def close(c: StatsCollector, now: float, user_count: int) -> TimelinePoint:
    """Close a window and return its timeline point, as the runner does."""
    return c.window_point(c.close_window(now, user_count).window_index)


def test_rows_count_requests_and_take_latencies_from_successes_only() -> None:
    # Latencies below 2.048 ms sit in 1 µs-wide buckets, so every column here is exact.
    c = StatsCollector(start_time=T0, percentiles=(0.5, 1.0))
    c.record("GET", "/", 1.0, 100, None)
    c.record("GET", "/", 2.0, 300, None)
    c.record("GET", "/", 5000.0, 0, ConnectionResetError("reset"))  # slow failure
    c.record("POST", "/login", 1.5, 10, None)
    snap = c.snapshot(T0 + 2.0)
    get = row(snap.rows, "GET", "/")
    assert (get.num_requests, get.num_failures) == (3, 1)
    assert (get.min_response_time, get.max_response_time) == (1.0, 2.0)
    assert get.avg_response_time == 1.5
    assert get.median_response_time == 1.0
    assert get.percentiles == (1.0, 2.0)
    assert get.avg_content_length == pytest.approx(400 / 3)
    assert get.total_rps == 1.5
    assert get.total_fail_per_sec == 0.5
    assert get.fail_ratio == pytest.approx(1 / 3)
    assert snap.percentiles == (0.5, 1.0)
    assert [(r.name, r.method) for r in snap.rows] == [("/", "GET"), ("/login", "POST")]
    assert (snap.start_time, snap.end_time, snap.overflowed) == (T0, T0 + 2.0, False)


def test_a_row_with_only_failures_has_no_latencies() -> None:
    c = StatsCollector(start_time=T0)
    c.record("GET", "/down", 3.0, 0, "boom")
    r = c.snapshot(T0 + 1).rows[0]
    assert (r.num_requests, r.num_failures) == (1, 1)
    assert r.min_response_time is r.max_response_time is r.avg_response_time is None
    assert r.median_response_time is None
    assert r.percentiles == (None,) * len(DEFAULT_PERCENTILES)


def test_aggregated_row_is_the_merge_of_every_row() -> None:
    c = StatsCollector(start_time=T0)
    expected = Histogram()
    for i in range(300):
        ms = (i * 37 % 1000) / 7
        c.record("GET" if i % 3 else "POST", f"/n{i % 5}", ms, i, None if i % 4 else "bad")
        if i % 4:
            expected.record_ms(ms)
        if i % 50 == 0:
            c.close_window(T0 + i / 50 + 1, user_count=3)  # part closed, part open
    snap = c.snapshot(T0 + 10)
    total = snap.total
    assert (total.method, total.name) == ("", "Aggregated")
    assert total.num_requests == 300 == sum(r.num_requests for r in snap.rows)
    assert total.num_failures == 75 == sum(r.num_failures for r in snap.rows)
    assert total.avg_content_length == sum(range(300)) / 300
    want = tuple(None if p is None else p / 1000 for p in expected.percentiles(DEFAULT_PERCENTILES))
    assert total.percentiles == want
    assert total.max_response_time == expected.max / 1000  # type: ignore[operator]
    assert c.num_requests == 300
    assert c.num_failures == 75


def test_rows_past_the_cap_go_into_one_overflow_row_per_method() -> None:
    c = StatsCollector(start_time=T0, max_rows=2)
    c.record("GET", "/a", 1.0, 0, None)
    c.record("GET", "/b", 1.0, 0, None)
    assert not c.overflowed
    c.record("GET", "/c", 1.0, 0, None)
    c.record("GET", "/d", 1.0, 0, "bad")
    c.record("POST", "/e", 1.0, 0, None)
    c.record("GET", "/a", 1.0, 0, None)  # existing rows keep counting
    snap = c.snapshot(T0 + 1)
    assert c.overflowed and snap.overflowed
    counts = {(r.method, r.name): (r.num_requests, r.num_failures) for r in snap.rows}
    assert counts == {
        ("GET", "/a"): (2, 0),
        ("GET", "/b"): (1, 0),
        ("GET", OVERFLOW_NAME): (2, 1),
        ("POST", OVERFLOW_NAME): (1, 0),
    }
    assert snap.failures[0].name == OVERFLOW_NAME
    assert snap.total.num_requests == 6


def test_overflow_methods_are_capped_too() -> None:
    c = StatsCollector(start_time=T0, max_rows=1)
    c.record("GET", "/", 1.0, 0, None)
    for i in range(MAX_OVERFLOW_METHODS + 5):
        c.record(f"M{i}", "/x", 1.0, 0, None)
    rows = c.snapshot(T0 + 1).rows
    assert len(rows) == 1 + MAX_OVERFLOW_METHODS + 1
    assert row(rows, OVERFLOW_NAME, OVERFLOW_NAME).num_requests == 5


def test_failures_are_grouped_with_the_window_start_as_seen_time() -> None:
    c = StatsCollector(start_time=T0)
    c.record("GET", "/[id]", 1.0, 0, OSError("refused by http://h/users/1"))
    c.close_window(T0 + 1, 1)
    c.record("GET", "/[id]", 1.0, 0, OSError("refused by http://h/users/2"))
    c.record("GET", "/[id]", 1.0, 0, "CatchResponseError: wrong body")
    c.close_window(T0 + 2, 1)
    c.record("GET", "/[id]", 1.0, 0, OSError("refused by http://h/users/3"))
    assert c.snapshot(T0 + 2.5).failures == (
        FailureSnapshot("GET", "/[id]", "OSError: refused by http://h/users/[id]", 3, T0, T0 + 2),
        FailureSnapshot("GET", "/[id]", "CatchResponseError: wrong body", 1, T0 + 1, T0 + 1),
    )


def test_failure_and_exception_groups_are_capped() -> None:
    c = StatsCollector(start_time=T0, max_failure_groups=3, max_exception_groups=2)
    for i in range(10):
        c.record("GET", "/", 1.0, 0, f"error {chr(65 + i)}")
        c.record_exception(f"message {i}", "traceback")
    snap = c.snapshot(T0 + 1)
    assert len(snap.failures) == 4
    assert snap.failures[0].occurrences == 7
    assert len(snap.exceptions) == 3
    assert snap.exceptions[0].count == 8


def test_huge_failure_and_exception_texts_are_cut_and_grouped_on_what_is_kept() -> None:
    c = StatsCollector(start_time=T0)
    body = "<html>" + "b" * 1_000_000
    for i in range(3):  # errors that differ only far past the cut (a traceback keeps its end)
        c.record("POST", "/api", 1.0, 0, ValueError(f"bad reply {body} #{i}"))
        c.record_exception(f"KeyError: {body} #{i}", f"outer frame #{i}\n{body}\n")
    snap = c.snapshot(T0 + 1)
    (failure,) = snap.failures
    assert failure.occurrences == 3
    assert failure.error.startswith("ValueError: bad reply <html>bbb")
    assert failure.error.endswith(" more characters)") and len(failure.error) < 400
    (exception,) = snap.exceptions
    assert exception.count == 3
    assert exception.message.startswith("KeyError: <html>bbb")
    assert len(exception.message) < 600 and len(exception.traceback) < 4200
    assert exception.traceback.endswith("bbb\n")
    assert list(c.errors) == [f"POST /api: {failure.error}"]


def test_exceptions_are_grouped() -> None:
    c = StatsCollector(start_time=T0)
    c.record_exception("ZeroDivisionError: division by zero", "File x, line 3")
    c.record_exception("ZeroDivisionError: division by zero", "File x, line 3")
    (only,) = c.snapshot(T0).exceptions
    assert (only.count, only.message, only.traceback) == (
        2,
        "ZeroDivisionError: division by zero",
        "File x, line 3",
    )


def test_close_window_reports_this_window_only() -> None:
    c = StatsCollector(start_time=T0)
    for ms in (0.1, 0.2, 0.3, 0.4):
        c.record("GET", "/", ms, 0, None)
    first = close(c, T0 + 1, user_count=4)
    assert first == TimelinePoint(
        time=T0 + 1,
        user_count=4,
        rps=4.0,
        fail_per_sec=0.0,
        p50=0.2,
        p95=0.4,
        p99=0.4,
        avg_response_time=0.25,
        total_requests=4,
        total_failures=0,
    )
    c.record("GET", "/", 1.0, 0, None)
    c.record("GET", "/", 9.0, 0, "bad")
    second = close(c, T0 + 3, user_count=5)  # a two-second window
    assert (second.rps, second.fail_per_sec) == (1.0, 0.5)
    assert (second.p50, second.p99, second.avg_response_time) == (1.0, 1.0, 1.0)
    assert (second.total_requests, second.total_failures) == (6, 1)
    empty = close(c, T0 + 4, user_count=5)
    assert (empty.rps, empty.p50, empty.avg_response_time) == (0.0, None, None)
    assert c.snapshot(T0 + 4).timeline == (first, second, empty)


def test_window_percentiles_above_two_ms_are_bucket_midpoints() -> None:
    c = StatsCollector(start_time=T0)
    for ms in (100.0, 200.0, 300.0):
        c.record("GET", "/", ms, 0, None)
    point = close(c, T0 + 1, user_count=1)
    assert point.p50 == pytest.approx(200.0, rel=1 / 2048)
    assert point.p99 == 300.0  # rank N is the exact max
    assert point.avg_response_time == 200.0  # the mean is exact


def test_a_window_of_no_length_reports_zero_rates() -> None:
    c = StatsCollector(start_time=T0)
    c.record("GET", "/", 1.0, 0, None)
    point = close(c, T0, user_count=1)
    assert (point.rps, point.total_requests) == (0.0, 1)


def test_current_rates_cover_the_last_ten_windows_and_total_rates_the_whole_run() -> None:
    c = StatsCollector(start_time=T0)
    for second in range(15):
        n = 100 if second < 5 else 10  # a burst, then a steady 10/s for ten windows
        for _ in range(n):
            c.record("GET", "/", 1.0, 0, None)
        c.record("GET", "/", 1.0, 0, "bad")
        c.close_window(T0 + second + 1, user_count=1)
    r = c.snapshot(T0 + 15).rows[0]
    assert r.current_rps == 11.0
    assert r.current_fail_per_sec == 1.0
    assert r.total_rps == (5 * 101 + 10 * 11) / 15
    assert r.total_fail_per_sec == 1.0
    assert c.snapshot(T0 + 15).total.current_rps == 11.0


def test_current_rates_before_ten_windows_use_the_windows_so_far() -> None:
    c = StatsCollector(start_time=T0)
    for _ in range(6):
        c.record("GET", "/", 1.0, 0, None)
    c.close_window(T0 + 2, 1)
    c.record("GET", "/", 1.0, 0, None)  # open window: not in "current" yet
    assert c.snapshot(T0 + 2.5).rows[0].current_rps == 3.0
    assert c.snapshot(T0 + 2.5).rows[0].num_requests == 7


def test_a_row_created_late_has_no_phantom_current_rate() -> None:
    c = StatsCollector(start_time=T0)
    for second in range(3):
        c.record("GET", "/old", 1.0, 0, None)
        c.close_window(T0 + second + 1, 1)
    c.record("GET", "/new", 1.0, 0, None)
    c.close_window(T0 + 4, 1)
    assert row(c.snapshot(T0 + 4).rows, "GET", "/new").current_rps == 0.25


def test_reset_clears_everything_and_restarts_the_clock() -> None:
    c = StatsCollector(start_time=T0, max_rows=1)
    c.record("GET", "/", 1.0, 0, None)
    c.record("GET", "/other", 1.0, 0, "bad")
    c.record_exception("boom", "tb")
    c.close_window(T0 + 1, 1)
    c.record("GET", "/", 1.0, 0, None)
    c.reset(T0 + 5)
    snap = c.snapshot(T0 + 6)
    assert snap.rows == snap.failures == snap.exceptions == snap.timeline == ()
    assert snap.total.num_requests == 0
    assert snap.total.current_rps == 0.0
    assert (snap.start_time, snap.overflowed, c.overflowed) == (T0 + 5, False, False)
    c.record("GET", "/", 2.0, 0, None)
    point = close(c, T0 + 7, 1)
    assert (point.rps, point.total_requests) == (0.5, 1)
    assert c.snapshot(T0 + 7).total.total_rps == 0.5


def test_snapshot_is_frozen_and_detached_from_later_records() -> None:
    c = StatsCollector(start_time=T0)
    c.record("GET", "/", 1.0, 0, None)
    snap = c.snapshot(T0 + 1)
    c.record("GET", "/", 1.0, 0, None)
    c.close_window(T0 + 1, 1)
    assert snap.rows[0].num_requests == 1
    assert snap.timeline == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.rows[0].num_requests = 5  # type: ignore[misc]


def test_empty_collector_snapshot() -> None:
    snap = StatsCollector(start_time=T0).snapshot(T0)
    assert snap.rows == ()
    assert snap.total.num_requests == 0
    assert snap.total.total_rps == 0.0
    assert snap.total.avg_content_length == 0.0
    assert snap.total.fail_ratio == 0.0


@pytest.mark.parametrize("kwargs", [{"percentiles": (95,)}, {"max_rows": 0}])
def test_bad_configuration_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        StatsCollector(start_time=T0, **kwargs)  # type: ignore[arg-type]
