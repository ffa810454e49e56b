"""What one closed stats window added, as a mergeable record with a compact wire form.

Theory of operation. `StatsCollector.close_window` hands out a `WindowDelta`: every row that
saw a request in the window (its success and failure histograms and its response bytes),
the corrected histogram of the rows under a schedule), the open model's iteration counts (due,
late, dropped), the generator's own CPU and loop lag (`_health.py`), the failure and
exception groups the window added to (with how often, in that window only), the event-loop
stalls by call site (`_stalls.py`), the user count, and the window's place in time.
`StatsCollector.merge` folds a delta in. A worker process ships its deltas to the master,
which merges them: since histograms merge bucket for bucket and every other field is a sum,
a maximum or a minimum, the master ends up with exactly what one process fed every request
would hold (DESIGN.md, "Window delta"); the generator's health, the worst process's.

`window_index` is floor(start / window length) in epoch seconds, so that deltas of several
processes line up by index whatever their clocks' phases. One process's indexes strictly
increase (the collector bumps an index that would repeat).

A delta is bounded whatever the run length: rows are at most the collector's `max_rows`
plus its overflow rows, failure and exception groups at most their logs' caps plus one
overflow group each, every text is cut to the logs' lengths, and a histogram holds at most
its 23 221 buckets. Nothing in it is cumulative.

Wire form, version 4 (little-endian; see `_wire.py` for the field encodings; version 2
added the stalls, version 3 the corrected histograms and the iteration counts, version 4
the generator's health):

    b"LHWD" magic, uint version
    sint window_index, double start, double end, uint user_count
    uint due, uint late, uint dropped
    uint has_health (0 or 1), then when 1: double cpu_percent, double lag_max_ms,
                                double lag_mean_ms
    uint n, then n rows:        text method, text name, uint content_length,
                                histogram successes, histogram failures,
                                histogram corrected (empty: none)
    uint n, then n failures:    text method, text name, text error, uint occurrences,
                                uint more
    uint n, then n exceptions:  text message, text traceback, uint count,
                                uint message_more, uint traceback_more
    uint n, then n stalls:      text file, uint line, text function, uint count,
                                double total_ms, double longest_ms

A histogram is the fields of `Histogram.to_wire()`: uint layout, uint n buckets, then (when
n > 0) the bucket indexes packed as gaps (the first index, then each index minus the one
before) and the counts packed, then uint total, uint min, uint max. Decoding goes through
`Histogram.from_wire`, so the histogram's own checks apply. Unknown versions, a wrong
magic, truncated data, trailing bytes and fields out of range are all refused with a
`ValueError` that says which.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from loadhopper.stats._health import HealthDelta
from loadhopper.stats._histogram import WIRE_LAYOUT, Histogram
from loadhopper.stats._stalls import StallDelta
from loadhopper.stats._wire import Reader, WireError, Writer

__all__ = [
    "MAGIC",
    "VERSION",
    "ExceptionDelta",
    "FailureDelta",
    "HealthDelta",
    "RowDelta",
    "StallDelta",
    "WindowDelta",
]

MAGIC = b"LHWD"  # "loadhopper window delta"
VERSION = 4  # 2: stalls; 3: corrected histograms, iteration counts; 4: health


@dataclass(frozen=True, slots=True)
class RowDelta:
    """One (method, name) row's requests in one window.

    The histograms are handed over, not copied: treat them as read-only.
    """

    method: str
    name: str
    successes: Histogram  # latencies of the successful requests, in microseconds
    failures: Histogram  # latencies of the failed ones
    content_length: int  # response bytes over every request of the window
    # Successful latencies from the intended start (a schedule's rows only; else None).
    corrected: Histogram | None = None

    @property
    def num_requests(self) -> int:
        """Successes plus failures."""
        return self.successes.count + self.failures.count

    @property
    def num_failures(self) -> int:
        """Failed requests."""
        return self.failures.count


@dataclass(frozen=True, slots=True)
class FailureDelta:
    """One failure group's occurrences in one window."""

    method: str
    name: str
    error: str  # the kept (normalised, cut) text, without the cut mark
    occurrences: int
    more: int = 0  # characters cut from the longest occurrence so far; 0 when none was cut


@dataclass(frozen=True, slots=True)
class ExceptionDelta:
    """One exception group's count in one window."""

    message: str  # the kept texts, without cut marks
    traceback: str
    count: int
    message_more: int = 0  # characters cut, as in `ExceptionLog`
    traceback_more: int = 0


@dataclass(frozen=True, slots=True)
class WindowDelta:
    """Everything one closed window added to a collector (see the module's docstring)."""

    window_index: int  # floor(start / window length)
    start: float  # epoch seconds
    end: float
    user_count: int
    rows: tuple[RowDelta, ...] = ()
    failures: tuple[FailureDelta, ...] = ()
    exceptions: tuple[ExceptionDelta, ...] = ()
    stalls: tuple[StallDelta, ...] = ()  # event-loop stalls, one per call site
    # The open model's iterations in the window (`ArrivalTotals`).
    due: int = 0
    late: int = 0
    dropped: int = 0
    health: HealthDelta | None = None  # the generator's CPU and loop lag; None: not measured

    @property
    def stalled_ms(self) -> float:
        """How long the event loop was blocked in the window, every site."""
        return sum(s.total_ms for s in self.stalls)

    @property
    def duration(self) -> float:
        """The window's length in seconds (0.0 for a window that ended before it started)."""
        return max(self.end - self.start, 0.0)

    @property
    def num_requests(self) -> int:
        """Requests in the window, every row."""
        return sum(row.num_requests for row in self.rows)

    @property
    def num_failures(self) -> int:
        """Failed requests in the window, every row."""
        return sum(row.num_failures for row in self.rows)

    def to_bytes(self) -> bytes:
        """The compact, versioned wire form (read back with `WindowDelta.from_bytes`).

        Raises:
            ValueError: a count is negative, or a number is beyond the wire form's range.
        """
        w = Writer()
        w.raw(MAGIC)
        w.uint(VERSION)
        w.sint(self.window_index)
        w.double(self.start)
        w.double(self.end)
        w.uint(self.user_count)
        w.uint(self.due)
        w.uint(self.late)
        w.uint(self.dropped)
        if self.health is None:
            w.uint(0)
        else:
            w.uint(1)
            w.double(self.health.cpu_percent)
            w.double(self.health.lag_max_ms)
            w.double(self.health.lag_mean_ms)
        w.uint(len(self.rows))
        for row in self.rows:
            w.text(row.method)
            w.text(row.name)
            w.uint(row.content_length)
            _write_histogram(w, row.successes)
            _write_histogram(w, row.failures)
            _write_histogram(w, row.corrected if row.corrected is not None else _EMPTY)
        w.uint(len(self.failures))
        for f in self.failures:
            w.text(f.method)
            w.text(f.name)
            w.text(f.error)
            w.uint(f.occurrences)
            w.uint(f.more)
        w.uint(len(self.exceptions))
        for e in self.exceptions:
            w.text(e.message)
            w.text(e.traceback)
            w.uint(e.count)
            w.uint(e.message_more)
            w.uint(e.traceback_more)
        w.uint(len(self.stalls))
        for s in self.stalls:
            w.text(s.file)
            w.uint(s.line)
            w.text(s.function)
            w.uint(s.count)
            w.double(s.total_ms)
            w.double(s.longest_ms)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> WindowDelta:
        """Rebuild a delta from `to_bytes()` output.

        Raises:
            ValueError: the bytes are not a whole delta of this version (another version,
                truncated, trailing bytes, or a field out of range).
        """
        if bytes(data[: len(MAGIC)]) != MAGIC:
            raise ValueError(
                "Window delta data does not start with the delta tag; pass exactly the bytes "
                "that WindowDelta.to_bytes() returned."
            )
        r = Reader(data, len(MAGIC))
        try:
            version = r.uint()
            if version != VERSION:
                raise ValueError(
                    f"Window delta data has version {version}, but this loadhopper reads "
                    f"version {VERSION}; run the same loadhopper version on every process."
                )
            delta = _read_delta(r)
            if r.remaining:
                raise WireError(f"has {r.remaining} bytes past its end")
        except WireError as exc:
            raise ValueError(
                f"Window delta data {exc}; pass exactly the bytes that WindowDelta.to_bytes() "
                "returned."
            ) from None
        return delta


_EMPTY = Histogram()  # written for a row without corrected samples; never changed


def _write_histogram(w: Writer, hist: Histogram) -> None:
    wire = hist.to_wire()
    flat, total, low, high = wire["buckets"], wire["total"], wire["min"], wire["max"]
    layout = wire["layout"]
    # to_wire's values are typed for JSON; these are what it always returns.
    assert isinstance(flat, list) and isinstance(layout, int)
    assert isinstance(total, int) and isinstance(low, int) and isinstance(high, int)
    indexes = flat[0::2]
    w.uint(layout)
    w.uint(len(indexes))
    if indexes:
        w.packed([indexes[0], *(b - a for a, b in itertools.pairwise(indexes))])
        w.packed(flat[1::2])
    w.uint(total)
    w.uint(low)
    w.uint(high)


def _read_histogram(r: Reader) -> Histogram:
    layout = r.uint()
    if layout != WIRE_LAYOUT:
        raise WireError(
            f"holds a histogram of layout {layout}, but this loadhopper reads layout "
            f"{WIRE_LAYOUT} (run the same loadhopper version on every process)"
        )
    n = r.count()
    gaps = r.packed(n)
    counts = r.packed(n)
    total, low, high = r.uint(), r.uint(), r.uint()
    if n > 1 and min(gaps[1:]) < 1:
        raise WireError("holds a histogram whose bucket indexes do not increase")
    if n and low > high:
        raise WireError("holds a histogram whose minimum is above its maximum")
    flat = [0] * (2 * n)
    flat[0::2] = itertools.accumulate(gaps)
    flat[1::2] = counts
    try:
        return Histogram.from_wire(
            {"layout": layout, "buckets": flat, "total": total, "min": low, "max": high}
        )
    except ValueError:
        raise WireError("holds a malformed histogram") from None


def _read_delta(r: Reader) -> WindowDelta:
    window_index = r.sint()
    start, end = r.double(), r.double()
    if not (math.isfinite(start) and math.isfinite(end)):
        raise WireError("has a window start or end that is not a finite time")
    user_count = r.uint()
    due, late, dropped = r.uint(), r.uint(), r.uint()
    health = _read_health(r)
    rows = []
    for _ in range(r.count()):
        method, name, content_length = r.text(), r.text(), r.uint()
        successes, failures_hist, corrected = (
            _read_histogram(r),
            _read_histogram(r),
            _read_histogram(r),
        )
        row = RowDelta(
            method,
            name,
            successes,
            failures_hist,
            content_length,
            corrected if corrected.count else None,
        )
        if not row.num_requests:
            raise WireError(f"has a row with no requests ({method} {name})")
        if corrected.count > successes.count:
            raise WireError(f"has more corrected samples than successes ({method} {name})")
        rows.append(row)
    failures = []
    for _ in range(r.count()):
        failure = FailureDelta(r.text(), r.text(), r.text(), r.uint(), r.uint())
        if failure.occurrences < 1:
            raise WireError("has a failure group with no occurrences")
        failures.append(failure)
    exceptions = []
    for _ in range(r.count()):
        exception = ExceptionDelta(r.text(), r.text(), r.uint(), r.uint(), r.uint())
        if exception.count < 1:
            raise WireError("has an exception group with no occurrences")
        exceptions.append(exception)
    stalls = []
    for _ in range(r.count()):
        stall = StallDelta(r.text(), r.uint(), r.text(), r.uint(), r.double(), r.double())
        if stall.count < 1:
            raise WireError("has a stall site with no stalls")
        if not (0.0 <= stall.longest_ms <= stall.total_ms < math.inf):
            raise WireError("has a stall site whose longest stall is not within its total")
        stalls.append(stall)
    return WindowDelta(
        window_index,
        start,
        end,
        user_count,
        tuple(rows),
        tuple(failures),
        tuple(exceptions),
        tuple(stalls),
        due,
        late,
        dropped,
        health,
    )


def _read_health(r: Reader) -> HealthDelta | None:
    flag = r.uint()
    if flag == 0:
        return None
    if flag != 1:
        raise WireError(f"has a health flag of {flag} (0 or 1 expected)")
    health = HealthDelta(r.double(), r.double(), r.double())
    values = (health.cpu_percent, health.lag_max_ms, health.lag_mean_ms)
    if not all(0.0 <= v < math.inf for v in values) or health.lag_mean_ms > health.lag_max_ms:
        raise WireError("has a health sample out of range (negative, infinite, or mean above max)")
    return health
