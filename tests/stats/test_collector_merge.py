"""StatsCollector.close_window's deltas and StatsCollector.merge: N processes equal one."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadhopper.stats import (
    ExceptionDelta,
    FailureDelta,
    FailureSnapshot,
    Histogram,
    RowDelta,
    StatsCollector,
    StatsSnapshot,
    WindowDelta,
)
from loadhopper.stats._collector import OVERFLOW_NAME
from loadhopper.stats._errors import OVERFLOW_ERROR
from loadhopper.stats._exceptions_log import OVERFLOW_EXCEPTION

T0 = 1_700_000_000.0
SECOND = int(T0)  # the window index of [T0, T0 + 1)

ERRORS: tuple[BaseException | str, ...] = (
    "HTTPError: 500 Server Error for url: http://h/cats/17",
    "HTTPError: 500 Server Error for url: http://h/cats/18",  # the same group, normalised
    ConnectionResetError("reset by peer"),
    "CatchResponseError: " + "x" * 400,  # cut to the kept length
)
EXCEPTIONS = (
    ("KeyError: 'pk'", '  File "locustfile.py", line 3, in task\n'),
    ("ValueError: " + "v" * 600, '  File "locustfile.py", line 9, in task\n' * 200),  # both cut
    ("KeyError: 'pk'", '  File "locustfile.py", line 5, in other\n'),
)

latencies_ms = st.one_of(
    st.integers(1, 3000),  # the exact region, 1 µs wide buckets
    st.integers(1, 200_000),
    st.integers(1, 3_600_000_000),  # up to an hour
).map(lambda us: us / 1000.0)
samples = st.tuples(
    st.integers(0, 3),  # which process records it (modulo the process count)
    st.sampled_from(("GET", "POST")),
    st.sampled_from(("/", "/cats", "/[id]/delete", "/search?q=[v]")),
    latencies_ms,
    st.integers(0, 100_000),  # response bytes
    st.one_of(st.none(), st.integers(0, len(ERRORS) - 1)),
    st.one_of(st.none(), st.integers(0, len(EXCEPTIONS) - 1)),  # the task then raised
)
windows = st.tuples(
    # Window lengths: repeated indexes (0 and 0.4 s), gaps (2.5 s) and a jump past the ring.
    st.sampled_from((0.0, 0.4, 1.0, 1.0, 1.0, 1.6, 2.5, 13.0)),
    st.lists(samples, max_size=25),
    st.lists(st.integers(0, 50), min_size=4, max_size=4),  # each process's users
)


def assert_same(merged: StatsSnapshot, single: StatsSnapshot) -> None:
    # Piece by piece first, so that a failure names the part that differs.
    for mine, want in zip(merged.rows, single.rows, strict=True):
        assert mine == want, (mine.method, mine.name)
        assert mine.percentiles == want.percentiles
        assert (mine.min_response_time, mine.max_response_time, mine.median_response_time) == (
            want.min_response_time,
            want.max_response_time,
            want.median_response_time,
        )
    assert merged.total == single.total
    assert merged.failures == single.failures
    assert merged.exceptions == single.exceptions
    assert merged.timeline == single.timeline
    assert merged == single


@settings(max_examples=150, deadline=None)
@given(
    processes=st.integers(1, 4),
    run=st.lists(windows, min_size=1, max_size=14),
    capacity=st.sampled_from((2, 3, 3600)),
    mixed=st.booleans(),
    through_bytes=st.booleans(),
    data=st.data(),
)
def test_merged_deltas_equal_one_collector_fed_every_sample(
    processes: int,
    run: list[
        tuple[float, list[tuple[int, str, str, float, int, int | None, int | None]], list[int]]
    ],
    capacity: int,
    mixed: bool,
    through_bytes: bool,
    data: st.DataObject,
) -> None:
    single = StatsCollector(start_time=T0, timeline_capacity=capacity)
    workers = [StatsCollector(start_time=T0, timeline_capacity=capacity) for _ in range(processes)]
    # Mixed: worker 0 is also the master, recording its own samples and merging the others'.
    master = workers[0] if mixed else StatsCollector(start_time=T0, timeline_capacity=capacity)
    now = T0
    fed = 0
    for length, window_samples, users in run:
        for who, method, name, ms, size, error, exception in window_samples:
            for c in (single, workers[who % processes]):
                c.record(method, name, ms, size, None if error is None else ERRORS[error])
                if exception is not None:
                    c.record_exception(*EXCEPTIONS[exception])
            fed += 1
        now += length
        single.close_window(now, sum(users[:processes]))
        handed = [0, 0, 0]  # requests, failures, exceptions
        for i in data.draw(st.permutations(range(processes))):  # deltas arrive in any order
            delta = workers[i].close_window(now, users[i])
            handed[0] += delta.num_requests
            handed[1] += sum(f.occurrences for f in delta.failures)
            handed[2] += sum(e.count for e in delta.exceptions)
            if mixed and i == 0:
                continue  # the master's own window folded itself in
            master.merge(WindowDelta.from_bytes(delta.to_bytes()) if through_bytes else delta)
        # Every request, failure and exception is handed out once, and only once.
        assert handed == [
            len(window_samples),
            sum(s[5] is not None for s in window_samples),
            sum(s[6] is not None for s in window_samples),
        ]
    assert master.num_requests == single.num_requests == fed
    assert master.last_window_time == single.last_window_time
    assert_same(master.snapshot(now), single.snapshot(now))


def delta_of(index: int, *rows: tuple[str, str, int, int]) -> WindowDelta:
    """A delta with rows of (method, name, successes at 1 ms, failures at 2 ms)."""
    built = []
    failures = []
    for method, name, ok, failed in rows:
        good, bad = Histogram(), Histogram()
        for _ in range(ok):
            good.record(1000)
        for _ in range(failed):
            bad.record(2000)
        built.append(RowDelta(method, name, good, bad, 10 * (ok + failed)))
        if failed:
            failures.append(FailureDelta(method, name, "bad", failed))
    start = float(index)
    return WindowDelta(index, start, start + 1, 1, tuple(built), tuple(failures))


# ---- what a window hands out ----------------------------------------------------------------


def test_close_window_hands_out_what_the_window_added_and_nothing_more() -> None:
    c = StatsCollector(start_time=T0)
    c.record("GET", "/", 1.0, 100, None)
    c.record("GET", "/", 2.0, 50, "boom")
    c.record_exception("KeyError: 'x'", "tb")
    first = c.close_window(T0 + 1, user_count=3)
    assert (first.window_index, first.start, first.end, first.user_count) == (SECOND, T0, T0 + 1, 3)
    (row,) = first.rows
    assert (row.method, row.name, row.num_requests, row.num_failures) == ("GET", "/", 2, 1)
    assert row.content_length == 150
    assert (row.successes.count, row.successes.max, row.failures.max) == (1, 1000, 2000)
    assert first.failures == (FailureDelta("GET", "/", "boom", 1),)
    assert first.exceptions == (ExceptionDelta("KeyError: 'x'", "tb", 1),)

    c.record("GET", "/", 3.0, 10, "boom")
    second = c.close_window(T0 + 2, user_count=3)
    assert (second.window_index, second.num_requests, second.num_failures) == (SECOND + 1, 1, 1)
    assert second.failures == (FailureDelta("GET", "/", "boom", 1),)
    assert second.exceptions == ()
    empty = c.close_window(T0 + 3, user_count=3)
    assert (empty.rows, empty.failures, empty.exceptions) == ((), (), ())
    # The collector still holds everything.
    assert c.snapshot(T0 + 3).rows[0].num_requests == 3
    assert c.snapshot(T0 + 3).failures[0].occurrences == 2


def test_what_was_merged_is_never_handed_out_again() -> None:
    worker = StatsCollector(start_time=T0)
    worker.record("GET", "/", 1.0, 10, "boom")
    worker.record("GET", "/", 1.0, 10, None)
    worker.record_exception("E", "tb")
    both = StatsCollector(start_time=T0)  # records and merges
    both.record("GET", "/", 2.0, 20, "boom")
    both.merge(worker.close_window(T0 + 1, user_count=1))
    own = both.close_window(T0 + 1, user_count=1)
    assert (own.num_requests, own.num_failures) == (1, 1)
    assert own.rows[0].content_length == 20
    assert own.failures == (FailureDelta("GET", "/", "boom", 1),)
    assert own.exceptions == ()
    snap = both.snapshot(T0 + 1)
    assert (snap.total.num_requests, snap.total.num_failures) == (3, 2)
    assert snap.failures[0].occurrences == 2
    assert snap.exceptions[0].count == 1
    assert snap.timeline[0].user_count == 2
    assert both.close_window(T0 + 2, user_count=1).rows == ()


# ---- window indexes and points --------------------------------------------------------------


def test_the_window_index_numbers_windows_by_their_start_and_never_repeats() -> None:
    c = StatsCollector(start_time=T0 + 0.5)
    assert c.close_window(T0 + 1.5, 1).window_index == SECOND  # started at T0 + 0.5
    assert c.close_window(T0 + 1.7, 1).window_index == SECOND + 1
    # Started at T0 + 1.7, in second SECOND + 1 again: one process never repeats an index.
    assert c.close_window(T0 + 2.1, 1).window_index == SECOND + 2
    assert c.close_window(T0 + 5.0, 1).window_index == SECOND + 3  # started at T0 + 2.1
    assert c.close_window(T0 + 6.0, 1).window_index == SECOND + 5

    tens = StatsCollector(start_time=T0 + 25, window_seconds=10.0)
    assert tens.window_seconds == 10.0
    assert tens.close_window(T0 + 35, 1).window_index == (SECOND + 25) // 10


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan"), float("inf")])
def test_a_window_length_must_be_a_positive_number(seconds: float) -> None:
    with pytest.raises(ValueError, match="window_seconds"):
        StatsCollector(start_time=T0, window_seconds=seconds)


def two_workers_one_second() -> tuple[WindowDelta, WindowDelta]:
    a, b = StatsCollector(start_time=T0), StatsCollector(start_time=T0 + 0.2)
    for ms in (1.0, 2.0, 3.0):
        a.record("GET", "/", ms, 0, None)
    b.record("GET", "/", 9.0, 0, None)
    b.record("GET", "/", 9.0, 0, "bad")
    return a.close_window(T0 + 1.0, user_count=5), b.close_window(T0 + 1.1, user_count=7)


def test_deltas_of_one_window_index_make_one_point() -> None:
    from_a, from_b = two_workers_one_second()
    assert from_a.window_index == from_b.window_index == SECOND
    master = StatsCollector(start_time=T0)
    master.merge(from_a)
    assert master.window_point(SECOND).user_count == 5
    master.merge(from_b)
    (point,) = master.snapshot(T0 + 1.1).timeline
    assert point == master.window_point(SECOND)
    assert point.user_count == 12
    assert point.time == T0 + 1.1  # the latest end
    # Two processes over one second ran for one second: the longest length, not the sum.
    assert point.rps == pytest.approx(5 / 1.0)
    assert point.fail_per_sec == pytest.approx(1 / 1.0)
    assert (point.p50, point.p99, point.avg_response_time) == (2.0, 9.0, 3.75)
    assert (point.total_requests, point.total_failures) == (5, 1)


def test_a_delta_for_an_index_with_no_window_joins_the_next_window() -> None:
    master = StatsCollector(start_time=T0)
    master.merge(delta_of(SECOND, ("GET", "/", 1, 0)))
    master.merge(delta_of(SECOND + 2, ("GET", "/", 1, 0)))  # a process that skipped an index
    master.merge(delta_of(SECOND + 1, ("GET", "/", 3, 1)))  # no window of its own is open
    timeline = master.snapshot(T0 + 3).timeline
    assert [p.total_requests for p in timeline] == [1, 6]
    assert master.window_point(SECOND + 1) == master.window_point(SECOND + 2) == timeline[1]
    assert timeline[1].user_count == 1  # its process's own delta for that window brings users
    assert (timeline[1].rps, timeline[1].fail_per_sec) == (5.0, 1.0)
    assert master.num_requests == 6


def test_a_delta_later_than_the_ring_still_counts_in_the_oldest_open_window() -> None:
    master = StatsCollector(start_time=T0)
    late = StatsCollector(start_time=T0)
    late.record("POST", "/slow", 1.0, 0, "bad")
    stale = late.close_window(T0 + 1, user_count=3)
    worker = StatsCollector(start_time=T0)
    for second in range(15):
        worker.record("GET", "/", 1.0, 0, None)
        master.merge(worker.close_window(T0 + second + 1, user_count=1))
    oldest = SECOND + 5  # windows SECOND + 5 .. SECOND + 14 are open
    with pytest.raises(KeyError):
        master.window_point(oldest - 1)
    with pytest.raises(KeyError):
        master.window_point(SECOND + 15)
    before = master.window_point(oldest)
    master.merge(stale)
    after = master.window_point(oldest)
    assert (after.total_requests, after.total_failures) == (
        before.total_requests + 1,
        before.total_failures + 1,
    )
    assert after.user_count == before.user_count
    snap = master.snapshot(T0 + 15)
    assert snap.timeline[-1].total_requests == 16
    assert snap.total.current_rps == pytest.approx(11 / 10)  # it counts in the ring too
    assert snap.failures == (FailureSnapshot("POST", "/slow", "bad", 1, T0, T0),)


def test_current_rates_of_a_master_cover_its_last_ten_window_indexes() -> None:
    master = StatsCollector(start_time=T0)
    workers = [StatsCollector(start_time=T0) for _ in range(3)]
    for second in range(12):
        for w in workers:
            for _ in range(10 if second < 2 else 1):
                w.record("GET", "/", 1.0, 0, None)
            master.merge(w.close_window(T0 + second + 1, user_count=1))
    snap = master.snapshot(T0 + 12)
    assert snap.rows[0].current_rps == pytest.approx(3.0)  # three processes at 1/s
    assert snap.total.current_rps == pytest.approx(3.0)
    assert snap.total.total_rps == pytest.approx((2 * 30 + 10 * 3) / 12)
    assert [p.user_count for p in snap.timeline] == [3] * 12


# ---- caps ---------------------------------------------------------------------------------


def test_merged_rows_obey_the_row_cap_and_their_failures_follow_them() -> None:
    master = StatsCollector(start_time=T0, max_rows=1)
    master.merge(delta_of(SECOND, ("GET", "/a", 1, 0), ("GET", "/b", 2, 1), ("POST", "/c", 1, 0)))
    snap = master.snapshot(T0 + 1)
    assert master.overflowed and snap.overflowed
    assert [(r.method, r.name, r.num_requests) for r in snap.rows] == [
        ("GET", "/a", 1),
        ("GET", OVERFLOW_NAME, 3),
        ("POST", OVERFLOW_NAME, 1),
    ]
    assert snap.failures == (FailureSnapshot("GET", OVERFLOW_NAME, "bad", 1, SECOND, SECOND),)


def test_another_processs_overflow_row_is_this_ones_overflow_row() -> None:
    worker = StatsCollector(start_time=T0, max_rows=1)
    for name in ("/a", "/b", "/c"):
        worker.record("GET", name, 1.0, 0, None)
    master = StatsCollector(start_time=T0)  # room for 500 rows
    master.merge(worker.close_window(T0 + 1, user_count=1))
    master.record("GET", "/d", 1.0, 0, None)  # a regular row: the cap is not reached
    rows = master.snapshot(T0 + 1).rows
    assert [(r.name, r.num_requests) for r in rows] == [("/a", 1), ("/d", 1), (OVERFLOW_NAME, 2)]
    assert master.overflowed


def test_merged_failure_and_exception_groups_obey_the_caps() -> None:
    master = StatsCollector(start_time=T0, max_failure_groups=2, max_exception_groups=2)
    hist = Histogram()
    hist.record(1)
    failures = tuple(FailureDelta("GET", "/", f"error {i}", 1) for i in range(5))
    exceptions = tuple(ExceptionDelta(f"E{i}", "tb", 2) for i in range(5))
    row = RowDelta("GET", "/", Histogram(), hist, 0)
    master.merge(WindowDelta(SECOND, T0, T0 + 1, 1, (row,), failures, exceptions))
    other = (FailureDelta("", "", OVERFLOW_ERROR, 4),)  # a worker's own overflow group
    master.merge(WindowDelta(SECOND + 1, T0 + 1, T0 + 2, 1, (row,), other))
    snap = master.snapshot(T0 + 2)
    assert [(f.error, f.occurrences) for f in snap.failures] == [
        (OVERFLOW_ERROR, 7),
        ("error 0", 1),
        ("error 1", 1),
    ]
    assert [(e.message, e.count) for e in snap.exceptions] == [
        (OVERFLOW_EXCEPTION, 6),
        ("E0", 2),
        ("E1", 2),
    ]


def test_merged_texts_are_cut_to_the_logs_lengths() -> None:
    master = StatsCollector(start_time=T0)
    hist = Histogram()
    hist.record(1)
    row = RowDelta("GET", "/", Histogram(), hist, 0)
    failure = FailureDelta("GET", "/", "e" * 10_000, 1)
    exception = ExceptionDelta("m" * 10_000, "t" * 10_000, 1)
    master.merge(WindowDelta(SECOND, T0, T0 + 1, 1, (row,), (failure,), (exception,)))
    snap = master.snapshot(T0 + 1)
    assert snap.failures[0].error.endswith("(9,700 more characters)")
    assert len(snap.exceptions[0].message) < 600 and len(snap.exceptions[0].traceback) < 4200


def test_reset_forgets_the_open_windows() -> None:
    c = StatsCollector(start_time=T0)
    c.record("GET", "/", 1.0, 0, None)
    c.close_window(T0 + 1, user_count=1)
    c.reset(T0 + 5)
    with pytest.raises(KeyError):
        c.window_point(SECOND)
    c.record("GET", "/", 1.0, 0, None)
    delta = c.close_window(T0 + 6, user_count=1)
    assert delta.window_index == SECOND + 5
    point = c.window_point(delta.window_index)
    assert (point.total_requests, point.rps) == (1, 1.0)
    assert c.snapshot(T0 + 6).timeline == (point,)
