"""The stats collector: one per process, written by every request, read by reports and the UI.

Theory of operation. `record` is the per-request hot path: one dict lookup for the row, one
integer add, one histogram increment into the row's *open-window* histogram (and, only for a
failure, the failure log). Everything else happens once a second in `close_window`, which
takes every row's open window out as a `WindowDelta` (`_delta.py`) and folds that delta into
the cumulative state: each row's cumulative histograms, the run's total histogram behind the
Aggregated row, and the open window of the delta's index (`_windows.py`), whose merged
histogram gives the timeline point. That keeps the Aggregated row's merge cost off the hot
path: per second it is the number of buckets touched, not the number of requests.

`merge` folds in a delta from another collector along the very same path, so N merged
processes hold exactly what one process fed every request would hold: the same rows, the
same histograms and so the same percentiles, the same failure and exception groups, the
same timeline points (deltas of one window index make one point). A collector may both
record and merge (nothing is counted twice): its own requests reach the cumulative state
only through its own deltas, and what it merged is never handed out again in its deltas.
Failures and exceptions are grouped as they happen (the logs keep what each window added).
Event-loop stalls (`record_stall`, from the runtime's stall watch), the generator's CPU and
loop lag (`record_health`) and the open model's iteration counts (`record_arrivals`) follow
the rows' path: out in the window's delta, into the run's totals only when a delta is
folded. A request recorded with a `lag_ms` (its
iteration started that late against its intended start) also counts, when successful, in
its row's corrected histogram: latency corrected for coordinated omission.

The collector never reads a clock: the caller passes `now` (epoch seconds) to every method
that needs a time. Failures' first/last seen are the start of the window they happened in.

Rows are capped at `max_rows`. Past the cap a new (method, name) is counted in an overflow
row named `[other]` with the request's method (one per method, so GET and POST stay apart;
past `MAX_OVERFLOW_METHODS` distinct methods the method also becomes `[other]`), and
`overflowed` turns True. A merged delta's rows obey the same cap, and another process's
overflow row counts in this collector's overflow row of the same method.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence

from loadhopper.stats._delta import FailureDelta, RowDelta, WindowDelta
from loadhopper.stats._entry import Entry
from loadhopper.stats._entry_view import EntryView, RowSource
from loadhopper.stats._errors import FailureLog
from loadhopper.stats._exceptions_log import ExceptionLog
from loadhopper.stats._health import HealthDelta
from loadhopper.stats._histogram import Histogram
from loadhopper.stats._snapshot import (
    ArrivalTotals,
    FailureSnapshot,
    GeneratorHealth,
    RowSnapshot,
    StatsSnapshot,
    TimelinePoint,
)
from loadhopper.stats._stalls import StallLog
from loadhopper.stats._timeline import DEFAULT_TIMELINE_CAPACITY, Timeline
from loadhopper.stats._windows import OpenWindows

__all__ = ["DEFAULT_PERCENTILES", "OVERFLOW_NAME", "StatsCollector"]

# Locust's PERCENTILES_TO_REPORT, the columns of its console table and _stats.csv.
DEFAULT_PERCENTILES = (0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0)

OVERFLOW_NAME = "[other]"
MAX_OVERFLOW_METHODS = 16  # HTTP has 9 methods; custom clients may invent a few more
AGGREGATED_NAME = "Aggregated"  # Locust's name for the total row


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

    def corrected_histogram(self) -> Histogram:
        merged = self._collector._corrected_total.copy()
        for entry in self._collector._all_entries():
            merged.merge(entry.corrected_window)
        return merged

    def ring_totals(self) -> tuple[int, int]:
        return self._collector._windows.ring_totals()


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
        window_seconds: The length of a window, which numbers them: a window that starts
            at epoch time t has index floor(t / window_seconds). Every process whose
            deltas are merged together must use the same length.

    Raises:
        ValueError: a percentile is outside [0, 1], a cap is below 1, or the window length
            is not a positive number of seconds.
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
        window_seconds: float = 1.0,
    ) -> None:
        bad = [q for q in percentiles if not 0.0 <= q <= 1.0]
        if bad:
            raise ValueError(f"Percentiles must be between 0 and 1 (0.95 for p95), got {bad}.")
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}.")
        if not (math.isfinite(window_seconds) and window_seconds > 0):
            raise ValueError(
                f"window_seconds must be a positive number of seconds, got {window_seconds}."
            )
        self.percentiles: tuple[float, ...] = tuple(float(q) for q in percentiles)
        self._max_rows = max_rows
        self._rows: dict[tuple[str, str], Entry] = {}
        self._overflow_rows: dict[str, Entry] = {}
        self._failures = FailureLog(max_failure_groups)
        self._exceptions = ExceptionLog(max_exception_groups)
        self._stalls = StallLog()
        self._timeline = Timeline(timeline_capacity)
        self._windows = OpenWindows(self._timeline)
        self._window_seconds = float(window_seconds)
        self._successes_total = Histogram()  # folded deltas, every row
        self._corrected_total = Histogram()
        self._aggregate = _Aggregate(self)
        self._start(start_time)

    def _start(self, now: float) -> None:
        self._start_time = now
        self._window_start = now
        self._last_index: int | None = None  # of this collector's own last closed window
        self._last_time = now
        self._closed_requests = 0  # folded deltas, every row
        self._closed_failures = 0
        self._window_arrivals = [0, 0, 0]  # due, late, dropped in the open window
        self._window_health: HealthDelta | None = None
        self._arrivals = [0, 0, 0]  # folded deltas
        self.overflowed = False

    # ---- writing ---------------------------------------------------------------------------

    def record(
        self,
        method: str,
        name: str,
        response_time_ms: float,
        length: int,
        error: BaseException | str | None,
        lag_ms: float | None = None,
    ) -> None:
        """Count one request (the per-request hot path).

        Args:
            method: "GET", "POST", ... (any request type a client reports).
            name: The stats name, e.g. `/[id]/delete`.
            response_time_ms: The latency in milliseconds.
            length: The response body's length in bytes.
            error: None on success; otherwise the exception or failure message.
            lag_ms: Under a schedule, how late (ms, 0 or more) the request's iteration
                started against its intended start; None without a schedule.
        """
        try:
            entry = self._rows[(method, name)]
        except KeyError:
            entry = self._entry_for_new_key(method, name)
        entry.content_length_window += length
        if error is None:
            entry.successes_window.record_ms(response_time_ms)
            if lag_ms is not None:
                entry.corrected_window.record_ms(response_time_ms + max(lag_ms, 0.0))
        else:
            entry.failures_window.record_ms(response_time_ms)
            self._failures.record(entry.method, entry.name, error, self._window_start)

    def _entry_for_new_key(self, method: str, name: str) -> Entry:
        if len(self._rows) < self._max_rows:
            entry = self._rows[(method, name)] = Entry(method, name)
            return entry
        return self._overflow_entry(method)

    def _overflow_entry(self, method: str) -> Entry:
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
        self._exceptions.record(message, traceback, seen=self._window_start)

    def record_stall(self, file: str, line: int, function: str, duration_ms: float) -> None:
        """Count one event-loop stall of `duration_ms` at a call site, in the open window.

        Args:
            file: the call site's file, as shown to the user.
            line: its line.
            function: the function it is in.
            duration_ms: how long the loop was blocked, in milliseconds.
        """
        self._stalls.record(file, line, function, duration_ms)

    def record_health(self, cpu_percent: float, lag_max_ms: float, lag_mean_ms: float) -> None:
        """Set the open window's generator health (once a second, by the runtime).

        Args:
            cpu_percent: this process's CPU over the window, in percent of one core.
            lag_max_ms: how late the event loop's latest heartbeat of the window fired.
            lag_mean_ms: the mean lateness of the window's heartbeats.

        Raises:
            ValueError: a value is negative or not finite, or the mean is above the max.
        """
        values = (cpu_percent, lag_max_ms, lag_mean_ms)
        if not all(0.0 <= v < math.inf for v in values) or lag_mean_ms > lag_max_ms:
            raise ValueError(
                f"Health values must be finite, 0 or more, with the mean lag at most the max "
                f"(cpu_percent={cpu_percent}, lag_max_ms={lag_max_ms}, "
                f"lag_mean_ms={lag_mean_ms})."
            )
        self._window_health = HealthDelta(cpu_percent, lag_max_ms, lag_mean_ms)

    def record_arrivals(self, due: int = 0, late: int = 0, dropped: int = 0) -> None:
        """Count the open model's iterations in the open window.

        Args:
            due: iterations whose scheduled instant has come.
            late: iterations that found no free user when due and started later.
            dropped: iterations that will never start.

        Raises:
            ValueError: a count is negative.
        """
        if due < 0 or late < 0 or dropped < 0:
            raise ValueError(
                f"Iteration counts cannot be negative (due={due}, late={late}, dropped={dropped})."
            )
        counts = self._window_arrivals
        counts[0] += due
        counts[1] += late
        counts[2] += dropped

    def close_window(self, now: float, user_count: int) -> WindowDelta:
        """Close the current window (normally one second long) and start the next.

        The window is taken out as a delta and folded in like a merged one: its counts go
        into the rows and the ring behind the "current" rates, and its successful
        latencies into the timeline point of its index (`window_point`). A window of zero
        or negative length reports 0 rates.

        Args:
            now: The end of the window (epoch seconds).
            user_count: How many users were running.

        Returns:
            What the window added, to ship to a master (`merge` on the other side). Its
            index is floor(start / window_seconds), or one past this collector's previous
            window when that would repeat an index (two windows of one process never
            share a point).
        """
        start = self._window_start
        index = math.floor(start / self._window_seconds)
        if self._last_index is not None and index <= self._last_index:
            index = self._last_index + 1
        self._last_index = index
        taken = [(e, row) for e in self._all_entries() if (row := e.take_window()) is not None]
        due, late, dropped = self._window_arrivals
        self._window_arrivals = [0, 0, 0]
        health, self._window_health = self._window_health, None
        delta = WindowDelta(
            window_index=index,
            start=start,
            end=now,
            user_count=user_count,
            rows=tuple(row for _, row in taken),
            failures=self._failures.take_window(),
            exceptions=self._exceptions.take_window(),
            stalls=self._stalls.take_window(),
            due=due,
            late=late,
            dropped=dropped,
            health=health,
        )
        # The failures and exceptions are in the logs already: only the rows fold in.
        self._fold(delta, taken)
        self._window_start = now
        return delta

    def merge(self, delta: WindowDelta) -> None:
        """Fold in a window delta from another collector (a master merges its workers').

        Rows obey this collector's row cap; deltas of one window index make one timeline
        point (their user counts add up). What is merged here is never part of this
        collector's own deltas.
        """
        taken = [(self._entry_for_merged_row(r.method, r.name), r) for r in delta.rows]
        self._fold(delta, taken)
        renamed = {(r.method, r.name): (e.method, e.name) for e, r in taken}
        failures = [_renamed(f, renamed) for f in delta.failures]
        self._failures.merge(failures, delta.start)
        self._exceptions.merge(delta.exceptions, delta.start)

    def _entry_for_merged_row(self, method: str, name: str) -> Entry:
        entry = self._rows.get((method, name))
        if entry is not None:
            return entry
        if name == OVERFLOW_NAME:  # another process's overflow row is this one's too
            return self._overflow_entry(method)
        return self._entry_for_new_key(method, name)

    def _fold(self, delta: WindowDelta, taken: Sequence[tuple[Entry, RowDelta]]) -> None:
        successes = Histogram()
        corrected: Histogram | None = None
        requests = failures = 0
        for _, row in taken:
            successes.merge(row.successes)
            if row.corrected is not None:
                if corrected is None:
                    corrected = Histogram()
                corrected.merge(row.corrected)
            requests += row.num_requests
            failures += row.num_failures
        self._successes_total.merge(successes)
        if corrected is not None:
            self._corrected_total.merge(corrected)
        arrivals = self._arrivals
        arrivals[0] += delta.due
        arrivals[1] += delta.late
        arrivals[2] += delta.dropped
        # The window keeps both histograms: neither is changed afterwards.
        slot, freed = self._windows.fold(delta, requests, failures, successes, corrected)
        for gone in freed:
            for entry in self._all_entries():
                entry.clear_slot(gone)
        for entry, row in taken:
            entry.add(row, slot)
        self._closed_requests += requests
        self._closed_failures += failures
        self._stalls.fold(delta.stalls)
        self._last_time = max(self._last_time, delta.end)

    def window_point(self, window_index: int) -> TimelinePoint:
        """The timeline point, as merged so far, that window `window_index` counts in.

        That is the window's own point, unless its delta joined a later window (see
        `_windows.py`). After `delta = close_window(...)`, `window_point(delta.window_index)`
        is the point of the window just closed.

        Raises:
            KeyError: the index is newer than every window closed or merged so far, or
                older than the last 10 (whose points are final: read them in `snapshot`).
        """
        return self._windows.point(window_index)

    def reset(self, now: float) -> None:
        """Forget everything (rows, failures, exceptions, timeline) and restart at `now`."""
        self._rows.clear()
        self._overflow_rows.clear()
        self._failures.clear()
        self._exceptions.clear()
        self._stalls.clear()
        self._timeline.clear()
        self._windows.clear()
        self._successes_total.clear()
        self._corrected_total.clear()
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
            health=self._windows.health(
                GeneratorHealth(
                    stall_sites=self._stalls.snapshot(),
                    stalled_windows=self._windows.stalled_windows,
                )
            ),
            arrivals=self.arrival_totals(),
        )

    def arrival_totals(self) -> ArrivalTotals:
        """The open model's iterations so far, the open window included."""
        due, late, dropped = (
            a + w for a, w in zip(self._arrivals, self._window_arrivals, strict=True)
        )
        return ArrivalTotals(due=due, late=late, dropped=dropped)

    def percentile(
        self, method: str, name: str, q: float, *, corrected: bool = False
    ) -> float | None:
        """The exact percentile `q` (0..1) of a row's successful latencies, in ms.

        Args:
            method: the row's method; "" with name "Aggregated" for the total row.
            name: the row's name.
            q: the quantile, 0.99 for p99; any value in [0, 1].
            corrected: from the intended starts (coordinated omission) instead of the sends.

        Returns:
            The latency, or None when the row has no such sample (or does not exist).

        Raises:
            ValueError: `q` is outside [0, 1].
        """
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"A percentile must be between 0 and 1 (0.95 for p95), got {q}.")
        source: RowSource | None
        if method == "" and name == AGGREGATED_NAME:
            source = self._aggregate
        else:
            source = self._rows.get((method, name))
            if source is None and name == OVERFLOW_NAME:
                source = self._overflow_rows.get(method)
        if source is None:
            return None
        hist = source.corrected_histogram() if corrected else source.success_histogram()
        return _ms(hist.percentiles((q,))[0])

    def row_snapshot(self, source: RowSource, method: str, name: str, now: float) -> RowSnapshot:
        """One row's frozen record at `now` (used by `snapshot` and the compat views)."""
        hist = source.success_histogram()
        *percentiles, median = hist.percentiles((*self.percentiles, 0.5))
        requests, failures = source.num_requests, source.num_failures
        elapsed = now - self._start_time
        ring_requests, ring_failures = source.ring_totals()
        ring_seconds = self._windows.ring_seconds()
        snapshot = RowSnapshot(
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
        corrected = source.corrected_histogram()
        if not corrected.count:
            return snapshot
        *values, corrected_median = corrected.percentiles((*self.percentiles, 0.5))
        return dataclasses.replace(
            snapshot,
            corrected_count=corrected.count,
            corrected_percentiles=tuple(_ms(v) for v in values),
            corrected_median=_ms(corrected_median),
            corrected_avg=_ms(corrected.mean),
            corrected_max=_ms(corrected.max),
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
        """The latest end of a closed or merged window (the start time before any)."""
        return self._last_time

    @property
    def window_seconds(self) -> float:
        """The length of a window, which numbers them (see `close_window`)."""
        return self._window_seconds

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


def _renamed(
    failure: FailureDelta, rows: Mapping[tuple[str, str], tuple[str, str]]
) -> FailureDelta:
    """The failure under the row its requests were merged into (an overflow row, maybe)."""
    key = (failure.method, failure.name)
    method, name = rows.get(key, key)
    if (method, name) == key:
        return failure
    return dataclasses.replace(failure, method=method, name=name)
