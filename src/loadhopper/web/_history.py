"""Per-row history for the page's row charts, kept only for the rows someone looks at.

The controller's timeline holds the whole run's points, the Aggregated row only. Keeping
every row's history each second would cost memory and time in proportion to the rows (up
to `--max-stats-rows`), for charts nobody opens. So a row is *watched* from the first time
the page asks for its chart: from then on each closed window appends one point for it,
taken from the snapshot the controller has already made. At most `MAX_WATCHED_ROWS` rows
are watched (asking for another forgets the one asked for longest ago), and each keeps the
newest `MAX_ROW_POINTS` points, so the memory is bounded whatever the run.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

from loadhopper.stats import RowSnapshot, StatsSnapshot, TimelinePoint

if TYPE_CHECKING:
    from loadhopper.runtime import Environment

__all__ = ["MAX_ROW_POINTS", "MAX_WATCHED_ROWS", "ROW_POINT_FIELDS", "RowHistory"]

MAX_WATCHED_ROWS = 8
MAX_ROW_POINTS = 3600  # one hour of one-second windows, as the controller's timeline
AGGREGATED = "Aggregated"  # the total row's name in the tables
# The fields of one row point, in order. Rates are the row's last 10 seconds (the table's
# "current" columns); latencies are the row's percentiles since the test started or the
# last reset, exact from its histogram.
ROW_POINT_FIELDS = ("time", "rps", "fail_per_sec", "p50", "p95", "p99")

RowKey = tuple[str, str]  # (method, name); ("", "Aggregated") for the total row
RowPoint = tuple[float, float, float, float | None, float | None, float | None]


class RowHistory:
    """The watched rows' points; `on_window` is a `WebController.window_listeners` entry."""

    def __init__(
        self,
        environment: Environment,
        *,
        max_rows: int = MAX_WATCHED_ROWS,
        max_points: int = MAX_ROW_POINTS,
    ) -> None:
        self._environment = environment  # its `stats` is read each window, never kept
        self._max_rows = max_rows
        self._max_points = max_points
        # Insertion order is recency of asking: the first key is the one to forget.
        self._watched: dict[RowKey, collections.deque[RowPoint]] = {}

    @property
    def watched(self) -> tuple[RowKey, ...]:
        """The rows being recorded, the one asked for longest ago first."""
        return tuple(self._watched)

    def points(self, method: str, name: str) -> tuple[RowPoint, ...]:
        """The row's points so far, and watch it from now on (it becomes the newest asked)."""
        key = (method, name)
        watch = self._watched.pop(key, None)
        if watch is None:
            watch = collections.deque(maxlen=self._max_points)
            while len(self._watched) >= self._max_rows:
                del self._watched[next(iter(self._watched))]
        self._watched[key] = watch
        return tuple(watch)

    def clear(self) -> None:
        """Forget every point (a new test or a stats reset); the rows stay watched."""
        for watch in self._watched.values():
            watch.clear()

    def on_window(self, snapshot: StatsSnapshot, point: TimelinePoint) -> None:
        """Append one point per watched row that exists in this window's snapshot."""
        if not self._watched:
            return  # nobody looks: no per-window work at all
        rows: dict[RowKey, RowSnapshot] = {(r.method, r.name): r for r in snapshot.rows}
        rows[("", AGGREGATED)] = snapshot.total
        stats = self._environment.stats
        for key, watch in self._watched.items():
            row = rows.get(key)
            if row is None:
                continue
            method, name = key
            p95 = stats.percentile(method, name, 0.95)
            p99 = stats.percentile(method, name, 0.99)
            watch.append(
                (
                    point.time,
                    row.current_rps,
                    row.current_fail_per_sec,
                    row.median_response_time,
                    p95,
                    p99,
                )
            )
