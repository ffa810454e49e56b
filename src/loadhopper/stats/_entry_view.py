"""Locust-compatible, read-only views of live rows: `environment.stats.total.fail_ratio`.

Locustfiles read Locust's `StatsEntry` attributes in listeners, most often
`environment.stats.total.fail_ratio > 0.01` or `.avg_response_time` in a `quitting` or
`test_stop` handler. An `EntryView` answers those names from the collector's live state. It
is not on the hot path: every read computes from the row's histograms.

Where Locust is inexact, the view is not: latencies are over successful requests only, in
milliseconds with microsecond resolution. Empty values follow Locust (0 for averages, the
median, percentiles and max; None for min), so that comparisons in user code do not fail.
Time-based rates use the end of the last closed window as "now", as Locust uses its last
request's time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from loadhopper.stats._histogram import Histogram
from loadhopper.stats._snapshot import RowSnapshot

if TYPE_CHECKING:
    from loadhopper.stats._collector import StatsCollector

__all__ = ["EntryView", "RowSource"]


class RowSource(Protocol):
    """What a row offers its readers: live counts, a merged histogram, ring totals."""

    @property
    def num_requests(self) -> int: ...

    @property
    def num_failures(self) -> int: ...

    @property
    def total_content_length(self) -> int: ...

    def success_histogram(self) -> Histogram: ...

    def corrected_histogram(self) -> Histogram: ...

    def ring_totals(self) -> tuple[int, int]: ...


class EntryView:
    """One row (or the Aggregated total) under the attribute names of Locust's StatsEntry."""

    __slots__ = ("_collector", "_fixed", "method", "name")

    def __init__(
        self, collector: StatsCollector, source: RowSource | None, method: str, name: str
    ) -> None:
        self._collector = collector
        self._fixed = source  # None: look the row up on every read (it may appear later)
        self.method = method
        self.name = name

    def _source(self) -> RowSource | None:
        if self._fixed is not None:
            return self._fixed
        return self._collector._source(self.method, self.name)

    def snapshot(self) -> RowSnapshot | None:
        """This row as a frozen record at the end of the last closed window (None if absent)."""
        source = self._source()
        if source is None:
            return None
        now = self._collector.last_window_time
        return self._collector.row_snapshot(source, self.method, self.name, now)

    def histogram(self) -> Histogram:
        """The row's latency histogram of successful requests, in ms (the live one: read it,
        do not record into it; exporters fold its buckets at scrape time)."""
        source = self._source()
        return source.success_histogram() if source is not None else Histogram()

    @property
    def num_requests(self) -> int:
        """Requests, failures included."""
        source = self._source()
        return source.num_requests if source is not None else 0

    @property
    def num_failures(self) -> int:
        """Failed requests."""
        source = self._source()
        return source.num_failures if source is not None else 0

    @property
    def num_none_requests(self) -> int:
        """Always 0: every request recorded here has a response time (Locust compatibility)."""
        return 0

    @property
    def fail_ratio(self) -> float:
        """Failures over requests, 0.0 when there were none."""
        requests = self.num_requests
        return self.num_failures / requests if requests else 0.0

    @property
    def total_content_length(self) -> int:
        """Response bytes over every request."""
        source = self._source()
        return source.total_content_length if source is not None else 0

    @property
    def avg_content_length(self) -> float:
        """Mean response bytes per request, 0.0 when there were none."""
        requests = self.num_requests
        return self.total_content_length / requests if requests else 0.0

    @property
    def total_response_time(self) -> float:
        """The sum of successful latencies, in milliseconds."""
        return self.histogram().total / 1000.0

    @property
    def min_response_time(self) -> float | None:
        """The fastest successful latency in ms, None when there is none (as in Locust)."""
        low = self.histogram().min
        return None if low is None else low / 1000.0

    @property
    def max_response_time(self) -> float:
        """The slowest successful latency in ms, 0.0 when there is none (as in Locust)."""
        return (self.histogram().max or 0) / 1000.0

    @property
    def avg_response_time(self) -> float:
        """The mean successful latency in ms, 0.0 when there is none."""
        return (self.histogram().mean or 0.0) / 1000.0

    @property
    def median_response_time(self) -> float:
        """The median successful latency in ms, 0.0 when there is none."""
        return self.get_response_time_percentile(0.5)

    def get_response_time_percentile(self, percent: float) -> float:
        """The latency (ms) under which `percent` (0..1) of successful requests finished.

        Raises:
            ValueError: percent is outside [0, 1].
        """
        value = self.histogram().percentile(percent)
        return 0.0 if value is None else value / 1000.0

    @property
    def total_rps(self) -> float:
        """Requests per second over the whole run."""
        snap = self.snapshot()
        return snap.total_rps if snap is not None else 0.0

    @property
    def total_fail_per_sec(self) -> float:
        """Failures per second over the whole run."""
        snap = self.snapshot()
        return snap.total_fail_per_sec if snap is not None else 0.0

    @property
    def current_rps(self) -> float:
        """Requests per second over the last (up to) 10 closed windows."""
        snap = self.snapshot()
        return snap.current_rps if snap is not None else 0.0

    @property
    def current_fail_per_sec(self) -> float:
        """Failures per second over the last (up to) 10 closed windows."""
        snap = self.snapshot()
        return snap.current_fail_per_sec if snap is not None else 0.0

    @property
    def start_time(self) -> float:
        """When the run (or the last reset) started, in epoch seconds."""
        return self._collector.start_time

    def __repr__(self) -> str:
        return f"EntryView({self.method!r}, {self.name!r}, num_requests={self.num_requests})"
