"""The stats collector: one per process, written by every request, read by reports and the UI.

Theory of operation. `record` is the per-request hot path: one dict lookup for the row, one
integer add, one histogram increment into the row's *open-window* histogram (and, only for a
failure, the failure log). Everything else happens once a second in `close_window`, which
folds each row's open window into its cumulative histograms and into the window's aggregate
(whose percentiles become the timeline point), then adds the aggregate to the run's total
histogram. That keeps the Aggregated row's merge cost off the hot path: per second it is the
number of buckets touched, not the number of requests.

The collector never reads a clock: the caller passes `now` (epoch seconds) to every method
that needs a time. Failures' first/last seen are the start of the window they happened in.

Rows are capped at `max_rows`. Past the cap a new (method, name) is counted in an overflow
row named `[other]` with the request's method (one per method, so GET and POST stay apart;
past `MAX_OVERFLOW_METHODS` distinct methods the method also becomes `[other]`), and
`overflowed` turns True.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from loadhopper.stats._entry import RING_SLOTS, Entry
from loadhopper.stats._entry_view import EntryView, RowSource
from loadhopper.stats._errors import FailureLog
from loadhopper.stats._exceptions_log import ExceptionLog
from loadhopper.stats._histogram import Histogram
from loadhopper.stats._snapshot import (
    FailureSnapshot,
    RowSnapshot,
    StatsSnapshot,
    TimelinePoint,
)
from loadhopper.stats._timeline import DEFAULT_TIMELINE_CAPACITY, Timeline

__all__ = ["DEFAULT_PERCENTILES", "OVERFLOW_NAME", "StatsCollector"]

# Locust's PERCENTILES_TO_REPORT, the columns of its console table and _stats.csv.
DEFAULT_PERCENTILES = (0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0)

OVERFLOW_NAME = "[other]"
MAX_OVERFLOW_METHODS = 16  # HTTP has 9 methods; custom clients may invent a few more
AGGREGATED_NAME = "Aggregated"  # Locust's name for the total row

_WINDOW_PERCENTILES = (0.50, 0.95, 0.99)


def _ms(value_us: float | None) -> float | None:
    return None if value_us is None else value_us / 1000.0


class _Aggregate:
    """The Aggregated row's live state, as the same `RowSource` an `Entry` offers."""

    __slots__ = ("_collector",)

    def __init__(self, collector: StatsCollector) -> None:
        self._collector = collector

    @property
    def num_requests(self) -> int:
        c = self._collector
        return c._closed_requests + sum(
            e.successes_window.count + e.failures_window.count for e in c._all_entries()
        )

    @property
    def num_failures(self) -> int:
        c = self._collector
        return c._closed_failures + sum(e.failures_window.count for e in c._all_entries())

    @property
    def total_content_length(self) -> int:
        return sum(e.total_content_length for e in self._collector._all_entries())

    def success_histogram(self) -> Histogram:
        merged = self._collector._successes_total.copy()
        for entry in self._collector._all_entries():
            merged.merge(entry.successes_window)
        return merged

    def ring_totals(self) -> tuple[int, int]:
        c = self._collector
        return sum(c._ring_requests), sum(c._ring_failures)


class StatsCollector:
    """Exact, bounded request statistics for one process.

    Args:
        start_time: When the run started (epoch seconds).
        percentiles: The quantiles (0..1) every row reports, e.g. `DEFAULT_PERCENTILES`.
        max_rows: How many distinct (method, name) rows to keep before new ones are
            counted in the `[other]` overflow row.
        max_failure_groups: How many distinct failure groups to keep before new ones are
            counted in one overflow group.
        max_exception_groups: The same cap for user-code exceptions.
        timeline_capacity: The most points the timeline holds before it is decimated.

    Raises:
        ValueError: a percentile is outside [0, 1] or a cap is below 1.
    """

    def __init__(
        self,
        start_time: float,
        percentiles: Sequence[float] = DEFAULT_PERCENTILES,
        max_rows: int = 500,
        *,
        max_failure_groups: int = 1000,
        max_exception_groups: int = 1000,
        timeline_capacity: int = DEFAULT_TIMELINE_CAPACITY,
    ) -> None:
        bad = [q for q in percentiles if not 0.0 <= q <= 1.0]
        if bad:
            raise ValueError(f"Percentiles must be between 0 and 1 (0.95 for p95), got {bad}.")
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}.")
        self.percentiles: tuple[float, ...] = tuple(float(q) for q in percentiles)
        self._max_rows = max_rows
        self._rows: dict[tuple[str, str], Entry] = {}
        self._overflow_rows: dict[str, Entry] = {}
        self._failures = FailureLog(max_failure_groups)
        self._exceptions = ExceptionLog(max_exception_groups)
        self._timeline = Timeline(timeline_capacity)
        self._window_successes = Histogram()  # reused every window
        self._successes_total = Histogram()  # closed windows, every row
        self._aggregate = _Aggregate(self)
        self._start(start_time)

    def _start(self, now: float) -> None:
        self._start_time = now
        self._window_start = now
        self._last_time = now
        self._closed_requests = 0
        self._closed_failures = 0
        self._ring_slot = 0
        self._ring_durations = [0.0] * RING_SLOTS
        self._ring_requests = [0] * RING_SLOTS
        self._ring_failures = [0] * RING_SLOTS
        self.overflowed = False

    # ---- writing ---------------------------------------------------------------------------

    def record(
        self,
        method: str,
        name: str,
        response_time_ms: float,
        length: int,
        error: BaseException | str | None,
    ) -> None:
        """Count one request (the per-request hot path).

        Args:
            method: "GET", "POST", ... (any request type a client reports).
            name: The stats name, e.g. `/[id]/delete`.
            response_time_ms: The latency in milliseconds.
            length: The response body's length in bytes.
            error: None on success; otherwise the exception or failure message.
        """
        try:
            entry = self._rows[(method, name)]
        except KeyError:
            entry = self._entry_for_new_key(method, name)
        entry.total_content_length += length
        if error is None:
            entry.successes_window.record_ms(response_time_ms)
        else:
            entry.failures_window.record_ms(response_time_ms)
            self._failures.record(entry.method, entry.name, error, self._window_start)

    def _entry_for_new_key(self, method: str, name: str) -> Entry:
        if len(self._rows) < self._max_rows:
            entry = self._rows[(method, name)] = Entry(method, name)
            return entry
        self.overflowed = True
        overflow = self._overflow_rows.get(method)
        if overflow is None:
            if len(self._overflow_rows) >= MAX_OVERFLOW_METHODS:
                method = OVERFLOW_NAME
                overflow = self._overflow_rows.get(method)
            if overflow is None:
                overflow = self._overflow_rows[method] = Entry(method, OVERFLOW_NAME)
        return overflow

    def record_exception(self, message: str, traceback: str) -> None:
        """Count one exception raised by user code (grouped by message and traceback)."""
        self._exceptions.record(message, traceback)

    def close_window(self, now: float, user_count: int) -> TimelinePoint:
        """Close the current window (normally one second long) and start the next.

        The window's counts go into the 10-window ring behind the "current" rates, its
        successful latencies give the point's percentiles and average, and the point is
        appended to the timeline. A window of zero or negative length reports 0 rates.

        Args:
            now: The end of the window (epoch seconds).
            user_count: How many users were running.

        Returns:
            The closed window as a timeline point.
        """
        slot = self._ring_slot
        window = self._window_successes
        requests = failures = 0
        for entry in self._all_entries():
            r, f = entry.close_window(slot, window)
            requests += r
            failures += f
        duration = now - self._window_start
        self._ring_durations[slot] = max(duration, 0.0)
        self._ring_requests[slot] = requests
        self._ring_failures[slot] = failures
        self._ring_slot = (slot + 1) % RING_SLOTS
        self._closed_requests += requests
        self._closed_failures += failures
        p50, p95, p99 = (_ms(v) for v in window.percentiles(_WINDOW_PERCENTILES))
        point = TimelinePoint(
            time=now,
            user_count=user_count,
            rps=requests / duration if duration > 0 else 0.0,
            fail_per_sec=failures / duration if duration > 0 else 0.0,
            p50=p50,
            p95=p95,
            p99=p99,
            avg_response_time=_ms(window.mean),
            total_requests=self._closed_requests,
            total_failures=self._closed_failures,
        )
        self._successes_total.merge(window)
        window.clear()
        self._timeline.append(point)
        self._window_start = now
        self._last_time = now
        return point

    def reset(self, now: float) -> None:
        """Forget everything (rows, failures, exceptions, timeline) and restart at `now`."""
        self._rows.clear()
        self._overflow_rows.clear()
        self._failures.clear()
        self._exceptions.clear()
        self._timeline.clear()
        self._window_successes.clear()
        self._successes_total.clear()
        self._start(now)

    # ---- reading ---------------------------------------------------------------------------

    def snapshot(self, now: float) -> StatsSnapshot:
        """Everything so far, the open window included, as frozen records.

        Args:
            now: The time of the snapshot (epoch seconds); rates over the whole run divide
                by `now - start_time`.
        """
        rows = sorted(self._all_entries(), key=lambda e: (e.name, e.method))
        return StatsSnapshot(
            start_time=self._start_time,
            end_time=now,
            percentiles=self.percentiles,
            rows=tuple(self.row_snapshot(e, e.method, e.name, now) for e in rows),
            total=self.row_snapshot(self._aggregate, "", AGGREGATED_NAME, now),
            failures=self._failures.snapshot(),
            exceptions=self._exceptions.snapshot(),
            timeline=self._timeline.points(),
            overflowed=self.overflowed,
        )

    def row_snapshot(self, source: RowSource, method: str, name: str, now: float) -> RowSnapshot:
        """One row's frozen record at `now` (used by `snapshot` and the compat views)."""
        hist = source.success_histogram()
        *percentiles, median = hist.percentiles((*self.percentiles, 0.5))
        requests, failures = source.num_requests, source.num_failures
        elapsed = now - self._start_time
        ring_requests, ring_failures = source.ring_totals()
        ring_seconds = sum(self._ring_durations)
        return RowSnapshot(
            method=method,
            name=name,
            num_requests=requests,
            num_failures=failures,
            min_response_time=_ms(hist.min),
            max_response_time=_ms(hist.max),
            avg_response_time=_ms(hist.mean),
            median_response_time=_ms(median),
            avg_content_length=source.total_content_length / requests if requests else 0.0,
            total_rps=requests / elapsed if elapsed > 0 else 0.0,
            total_fail_per_sec=failures / elapsed if elapsed > 0 else 0.0,
            current_rps=ring_requests / ring_seconds if ring_seconds > 0 else 0.0,
            current_fail_per_sec=ring_failures / ring_seconds if ring_seconds > 0 else 0.0,
            percentiles=tuple(_ms(p) for p in percentiles),
        )

    def _all_entries(self) -> Iterator[Entry]:
        yield from self._rows.values()
        yield from self._overflow_rows.values()

    @property
    def start_time(self) -> float:
        """When the run (or the last reset) started, in epoch seconds."""
        return self._start_time

    @property
    def last_window_time(self) -> float:
        """The end of the last closed window (the start time before any closed)."""
        return self._last_time

    # ---- Locust-compatible views (environment.stats.*); they read live state ---------------

    @property
    def total(self) -> EntryView:
        """The Aggregated row, like Locust's `environment.stats.total`."""
        return EntryView(self, self._aggregate, "", AGGREGATED_NAME)

    @property
    def entries(self) -> Mapping[tuple[str, str], EntryView]:
        """Every row keyed by (name, method), like Locust's `environment.stats.entries`."""
        return {
            (e.name, e.method): EntryView(self, e, e.method, e.name) for e in self._all_entries()
        }

    def get(self, name: str, method: str) -> EntryView:
        """The row for (name, method), like Locust's `stats.get`; empty if never recorded.

        Unlike Locust, asking does not create a row: the view looks the row up on every
        read, so it shows the requests recorded after it was taken too.
        """
        return EntryView(self, None, method, name)

    def _source(self, method: str, name: str) -> Entry | None:
        return self._rows.get((method, name))

    @property
    def errors(self) -> Mapping[str, FailureSnapshot]:
        """Failure groups keyed by "method name: error" (Locust's `stats.errors` holds these)."""
        return {f"{f.method} {f.name}: {f.error}": f for f in self._failures.snapshot()}

    @property
    def num_requests(self) -> int:
        """Requests so far, every row (Locust's `stats.num_requests`)."""
        return self._aggregate.num_requests

    @property
    def num_failures(self) -> int:
        """Failed requests so far, every row (Locust's `stats.num_failures`)."""
        return self._aggregate.num_failures
