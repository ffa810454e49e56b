from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadhopper.stats import (
    ExceptionDelta,
    FailureDelta,
    HealthDelta,
    Histogram,
    RowDelta,
    StatsCollector,
    WindowDelta,
)
from loadhopper.stats._delta import MAGIC, VERSION
from loadhopper.stats._errors import MAX_ERROR_CHARS
from loadhopper.stats._exceptions_log import MAX_MESSAGE_CHARS, MAX_TRACEBACK_CHARS

T0 = 1_700_000_000.0
ONE_HOUR_US = 3_600_000_000


def histogram_of(values: list[int]) -> Histogram:
    hist = Histogram()
    for v in values:
        hist.record(v)
    return hist


def traffic(c: StatsCollector) -> None:
    """The same requests every window: three rows, two kinds of failure, one exception."""
    for i in range(200):
        name = ("/", "/cats", "/[id]/delete")[i % 3]
        error = None if i % 7 else ("HTTPError: 500" if i % 2 else ConnectionResetError("reset"))
        lag = float(i % 4) * 250.0 if i % 2 else None  # half the requests under a schedule
        c.record("GET" if i % 5 else "POST", name, 0.5 + i * 13.7, 1000 + i, error, lag)
    c.record_arrivals(due=120, late=7, dropped=2)
    c.record_exception("KeyError: 'pk'", '  File "locustfile.py", line 9, in task\n')


def a_delta() -> WindowDelta:
    c = StatsCollector(start_time=T0)
    traffic(c)
    return c.close_window(T0 + 1, user_count=7)


# ---- round trip ----------------------------------------------------------------------------


def test_a_collectors_delta_survives_the_wire() -> None:
    delta = a_delta()
    data = delta.to_bytes()
    again = WindowDelta.from_bytes(data)
    assert again == delta
    assert again.to_bytes() == data
    assert data.startswith(MAGIC + bytes([VERSION]))
    assert (again.num_requests, again.num_failures) == (200, delta.num_failures)
    assert delta.num_failures > 0 and delta.failures and delta.exceptions
    assert (again.due, again.late, again.dropped) == (120, 7, 2)
    assert all(row.corrected is not None and row.corrected.count for row in again.rows)
    assert [r.corrected.bucket_counts() for r in again.rows if r.corrected] == [
        r.corrected.bucket_counts() for r in delta.rows if r.corrected
    ]


texts = st.text(alphabet=st.characters(exclude_categories=()), max_size=40)
histograms = st.lists(
    st.one_of(st.integers(0, 3000), st.integers(1, ONE_HOUR_US), st.integers(0, 1 << 40)),
    max_size=60,
).map(histogram_of)
rows = (
    st.builds(
        RowDelta,
        texts,
        texts,
        histograms,
        histograms,
        st.integers(0, 1 << 50),
        st.sampled_from([None, "same"]),
    )
    .map(
        # A corrected histogram holds at most the successes' count: a copy of theirs.
        lambda r: (
            r
            if r.corrected is None
            else RowDelta(
                r.method,
                r.name,
                r.successes,
                r.failures,
                r.content_length,
                r.successes.copy() if r.successes.count else None,
            )
        )
    )
    .filter(lambda r: r.num_requests > 0)
)
failures = st.builds(
    FailureDelta, texts, texts, texts, st.integers(1, 1 << 40), st.integers(0, 1 << 30)
)
exceptions = st.builds(
    ExceptionDelta,
    texts,
    texts,
    st.integers(1, 1 << 40),
    st.integers(0, 1 << 30),
    st.integers(0, 1 << 30),
)
deltas = st.builds(
    WindowDelta,
    st.integers(-(1 << 60), 1 << 60),
    st.floats(-1e12, 1e12),
    st.floats(-1e12, 1e12),
    st.integers(0, 1 << 40),
    st.lists(rows, max_size=5).map(tuple),
    st.lists(failures, max_size=5).map(tuple),
    st.lists(exceptions, max_size=5).map(tuple),
    st.just(()),
    st.integers(0, 1 << 40),
    st.integers(0, 1 << 40),
    st.integers(0, 1 << 40),
    st.one_of(
        st.none(),
        st.tuples(st.floats(0, 3200), st.floats(0, 1e6), st.floats(0, 1)).map(
            lambda t: HealthDelta(t[0], t[1], t[1] * t[2])
        ),
    ),
)


@settings(max_examples=200, deadline=None)
@given(deltas)
def test_any_delta_survives_the_wire(delta: WindowDelta) -> None:
    data = delta.to_bytes()
    again = WindowDelta.from_bytes(data)
    assert again == delta
    for mine, theirs in zip(again.rows, delta.rows, strict=True):
        assert mine.successes.bucket_counts() == theirs.successes.bucket_counts()
        assert (mine.successes.min, mine.successes.max) == (
            theirs.successes.min,
            theirs.successes.max,
        )
    assert again.to_bytes() == data


def test_an_empty_window_is_a_few_bytes() -> None:
    c = StatsCollector(start_time=T0)
    data = c.close_window(T0 + 1, user_count=0).to_bytes()
    assert WindowDelta.from_bytes(data).rows == ()
    assert len(data) <= 4 + 1 + 5 + 16 + 1 + 3 + 1 + 3 + 1


# ---- what is refused ---------------------------------------------------------------------


def test_other_versions_are_refused() -> None:
    data = a_delta().to_bytes()
    other = MAGIC + bytes([VERSION + 1]) + data[len(MAGIC) + 1 :]
    with pytest.raises(ValueError, match=f"version {VERSION + 1}.*same loadhopper version"):
        WindowDelta.from_bytes(other)


@pytest.mark.parametrize("data", [b"", b"LH", b"LHWX\x01", b'{"rows": []}', b"\x00" * 64])
def test_data_without_the_tag_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="does not start with the delta tag"):
        WindowDelta.from_bytes(data)


def test_every_truncation_is_refused() -> None:
    data = a_delta().to_bytes()
    for end in range(len(data)):
        with pytest.raises(ValueError, match=r"tag|ends too early"):
            WindowDelta.from_bytes(data[:end])


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(ValueError, match="1 bytes past its end"):
        WindowDelta.from_bytes(a_delta().to_bytes() + b"\x00")


def _header(index: int = 0, start: float = T0, end: float = T0 + 1, users: int = 0) -> bytes:
    zigzag = index * 2
    assert zigzag < 128
    head = MAGIC + bytes([VERSION, zigzag]) + struct.pack("<dd", start, end) + bytes([users])
    return head + b"\x00\x00\x00\x00"  # no iterations due, late or dropped; no health


def test_more_corrected_samples_than_successes_are_refused() -> None:
    one = histogram_of([5])
    row = RowDelta("GET", "/", one, Histogram(), 0, histogram_of([5, 6]))
    data = WindowDelta(0, T0, T0 + 1, 0, (row,)).to_bytes()
    with pytest.raises(ValueError, match="more corrected samples than successes"):
        WindowDelta.from_bytes(data)


def _health_header(flag: int, cpu: float, lag_max: float, lag_mean: float) -> bytes:
    base = _header()[:-1]  # up to the health flag
    return base + bytes([flag]) + struct.pack("<ddd", cpu, lag_max, lag_mean) + b"\x00" * 4


def test_a_health_sample_round_trips_and_an_unmeasured_window_has_none() -> None:
    delta = WindowDelta(3, T0, T0 + 1, 5, health=HealthDelta(97.5, 42.0, 3.25))
    assert WindowDelta.from_bytes(delta.to_bytes()).health == HealthDelta(97.5, 42.0, 3.25)
    assert WindowDelta.from_bytes(WindowDelta(3, T0, T0 + 1, 5).to_bytes()).health is None
    assert WindowDelta.from_bytes(_health_header(1, 50.0, 2.0, 1.0)).health == HealthDelta(
        50.0, 2.0, 1.0
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_health_header(2, 50.0, 2.0, 1.0), "health flag of 2"),
        (_health_header(1, -1.0, 2.0, 1.0), "health sample out of range"),
        (_health_header(1, float("nan"), 2.0, 1.0), "health sample out of range"),
        (_health_header(1, 50.0, float("inf"), 1.0), "health sample out of range"),
        (_health_header(1, 50.0, 2.0, 3.0), "health sample out of range"),
    ],
)
def test_health_samples_out_of_range_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WindowDelta.from_bytes(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_header(start=float("nan")) + b"\x00\x00\x00", "not a finite time"),
        (_header(end=float("inf")) + b"\x00\x00\x00", "not a finite time"),
        # one row, GET /, no bytes, two empty histograms
        (
            _header() + b"\x01\x03GET\x01/\x00" + b"\x01\x00\x00\x00\x00" * 3 + b"\x00\x00",
            "no requests",
        ),
        # a histogram of layout 2
        (_header() + b"\x01\x03GET\x01/\x00\x02\x00\x00\x00\x00", "layout 2"),
        # two buckets, the second at the same index as the first
        (
            _header() + b"\x01\x03GET\x01/\x00\x01\x02\x01\x05\x00\x01\x01\x01\x02\x05\x05",
            "do not increase",
        ),
        # one bucket with a count of 0
        (_header() + b"\x01\x03GET\x01/\x00\x01\x01\x01\x05\x01\x00\x05\x05\x05", "malformed"),
        # one bucket whose minimum is above its maximum
        (_header() + b"\x01\x03GET\x01/\x00\x01\x01\x01\x05\x01\x01\x05\x06\x05", "minimum"),
        # a failure group with no occurrences
        (_header() + b"\x00\x01\x03GET\x01/\x01e\x00\x00\x00", "no occurrences"),
        (_header() + b"\x00\x00\x01\x01m\x01t\x00\x00\x00", "no occurrences"),
    ],
)
def test_fields_out_of_range_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WindowDelta.from_bytes(body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_after_the_tag_is_refused_with_a_value_error_or_read_as_a_delta(
    garbage: bytes,
) -> None:
    # Bytes that happen to be a well-formed delta may decode; nothing else may escape.
    try:
        delta = WindowDelta.from_bytes(MAGIC + bytes([VERSION]) + garbage)
    except ValueError as exc:
        assert str(exc).startswith("Window delta data ")
    else:
        assert isinstance(delta, WindowDelta)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_corrupted_byte_is_refused_with_a_value_error_or_read_as_a_delta(
    data: st.DataObject,
) -> None:
    good = bytearray(a_delta().to_bytes())
    at = data.draw(st.integers(len(MAGIC) + 1, len(good) - 1))
    good[at] ^= data.draw(st.integers(1, 255))
    try:
        WindowDelta.from_bytes(bytes(good))
    except ValueError as exc:
        assert str(exc).startswith("Window delta data ")


# ---- bounded -------------------------------------------------------------------------------


def test_the_size_of_a_delta_does_not_grow_with_the_run_length() -> None:
    short = StatsCollector(start_time=T0)
    traffic(short)
    one = short.close_window(T0 + 1, user_count=10).to_bytes()

    long_run = StatsCollector(start_time=T0)
    sizes = set()
    for second in range(1000):
        traffic(long_run)
        sizes.add(len(long_run.close_window(T0 + second + 1, user_count=10).to_bytes()))
    assert sizes == {len(one)}
    assert long_run.num_requests == 200_000


def test_one_window_of_endless_distinct_failures_is_bounded_by_the_caps() -> None:
    def window_of(distinct: int) -> WindowDelta:
        c = StatsCollector(
            start_time=T0, max_rows=20, max_failure_groups=30, max_exception_groups=30
        )
        for i in range(distinct):
            c.record("GET", f"/page/{i:06d}", 1.0 + i % 50, 10, f"Error {i:06d}: " + "x" * 5000)
            c.record_exception(f"E{i:06d}: " + "m" * 5000, f"tb {i:06d}\n" + "t" * 9000)
        return c.close_window(T0 + 1, user_count=1)

    small, large = window_of(200), window_of(4000)
    for delta in (small, large):
        assert len(delta.rows) == 20 + 1  # the cap, and the GET overflow row
        assert len(delta.failures) == 30 + 1  # the cap, and the overflow group
        assert len(delta.exceptions) == 30 + 1
        assert all(len(f.error) <= MAX_ERROR_CHARS for f in delta.failures)
        assert all(
            len(e.message) <= MAX_MESSAGE_CHARS and len(e.traceback) <= MAX_TRACEBACK_CHARS
            for e in delta.exceptions
        )
    # Twenty times the distinct texts: the same groups, one overflow count a byte longer.
    assert abs(len(large.to_bytes()) - len(small.to_bytes())) <= 8
    assert len(large.to_bytes()) < 30 * 400 + 31 * (500 + 4096 + 20) + 21 * 300
