"""The recent windows, by index: where deltas land, what timeline points and "current" rates read.

Theory of operation. Every delta a collector folds in (its own closed window, or another
process's) lands in the *open window* of its `window_index`. The collector keeps the
windows of the last `RING_SLOTS` indexes open, so that the deltas of several processes for
the same second, arriving a little apart, make one window: their requests, failures and
success histograms add up, their user counts add up, and the window's length and end are
the longest and latest of theirs (N processes over the same second ran for one second,
not N), and so do their iteration counts and corrected histograms. An index older than
those is final. A window's event-loop stalls add up too (the
time is summed over processes, the site named is the one of the longest stall), and
`stalled_windows` counts the windows that had any, once each however many processes
stalled in them. A window's generator health (CPU, loop lag: `_health.py`) is the worst
process's, field by field; the run's health tallies (`health`) count each window once, from
the windows that left the ring and the open ones as merged so far.

Each open window's timeline point is appended to the `Timeline` when the window opens and
replaced in place whenever a later delta changes it, so the timeline always shows every
window as merged so far, in index order, and stays bounded by its own decimation. A point's
`total_requests` and `total_failures` count every delta folded into that window or an
earlier one.

A delta whose index has no open window but is older than the newest one (a process that
skipped an index, or reports more than `RING_SLOTS` windows late) joins the first open
window after its index: its requests stay counted, in the nearest later point. It adds no
users and no length there: its process's own delta for that window brings those.

The open windows are also the ring behind the "current" rates: their lengths and counts are
the last (up to) `RING_SLOTS` windows'. The collector keeps each row's share in the row's
ring (`Entry.ring_requests`), slot `index % RING_SLOTS`; `fold` says which slots windows
leaving the ring freed.
"""

from __future__ import annotations

import dataclasses

from loadhopper.stats._delta import WindowDelta
from loadhopper.stats._entry import RING_SLOTS
from loadhopper.stats._health import MAX_FLAGGED_WINDOWS, HealthDelta
from loadhopper.stats._histogram import Histogram
from loadhopper.stats._snapshot import GeneratorHealth, HealthWindow, TimelinePoint
from loadhopper.stats._timeline import Timeline

__all__ = ["OpenWindows"]

_POINT_PERCENTILES = (0.50, 0.95, 0.99)


def _ms(value_us: float | None) -> float | None:
    return None if value_us is None else value_us / 1000.0


class _Window:
    """One open window's sums, and its point as last computed."""

    __slots__ = (
        "corrected",
        "dropped",
        "due",
        "duration",
        "end",
        "failures",
        "health",
        "index",
        "late",
        "point",
        "requests",
        "seq",
        "stall_longest_ms",
        "stall_site",
        "stalled_ms",
        "successes",
        "user_count",
    )

    def __init__(self, index: int, end: float) -> None:
        self.index = index
        self.end = end
        self.duration = 0.0
        self.user_count = 0
        self.requests = 0
        self.failures = 0
        self.successes = Histogram()
        self.corrected: Histogram | None = None
        self.due = 0
        self.late = 0
        self.dropped = 0
        self.stalled_ms = 0.0
        self.stall_longest_ms = 0.0
        self.stall_site = ""
        self.health: HealthDelta | None = None
        self.seq = -1  # its place in the timeline; -1 until the point is appended
        self.point: TimelinePoint | None = None


class _HealthTally:
    """The health of the windows that left the ring (final), summed."""

    __slots__ = (
        "cpu_peak",
        "cpu_sum",
        "flagged",
        "hot_seconds",
        "hot_windows",
        "lag_max",
        "lag_mean_sum",
        "lagging_windows",
        "measured",
    )

    def __init__(self) -> None:
        self.measured = 0
        self.cpu_peak = 0.0
        self.cpu_sum = 0.0
        self.hot_windows = 0
        self.hot_seconds = 0.0
        self.lag_max = 0.0
        self.lag_mean_sum = 0.0
        self.lagging_windows = 0
        self.flagged: list[HealthWindow] = []

    def add(self, window: _Window) -> None:
        h = window.health
        if h is None:
            return
        self.measured += 1
        self.cpu_peak = max(self.cpu_peak, h.cpu_percent)
        self.cpu_sum += h.cpu_percent
        self.lag_max = max(self.lag_max, h.lag_max_ms)
        self.lag_mean_sum += h.lag_mean_ms
        hot, lagging = h.hot, h.lagging
        if hot:
            self.hot_windows += 1
            self.hot_seconds += window.duration
        if lagging:
            self.lagging_windows += 1
        if (hot or lagging) and len(self.flagged) < MAX_FLAGGED_WINDOWS:
            self.flagged.append(HealthWindow(window.end, h.cpu_percent, h.lag_max_ms, hot, lagging))

    def copy(self) -> _HealthTally:
        other = _HealthTally()
        for name in _HealthTally.__slots__:
            setattr(other, name, getattr(self, name))
        other.flagged = list(self.flagged)
        return other


class OpenWindows:
    """The windows of the last `RING_SLOTS` indexes, feeding one `Timeline`."""

    __slots__ = (
        "_closed_failures",
        "_closed_health",
        "_closed_requests",
        "_open",
        "_stalled_windows",
        "_timeline",
    )

    def __init__(self, timeline: Timeline) -> None:
        self._timeline = timeline
        self._open: dict[int, _Window] = {}  # by index, oldest first
        self._closed_requests = 0  # requests of the windows that left
        self._closed_failures = 0
        self._stalled_windows = 0
        self._closed_health = _HealthTally()

    def health(self, stalls: GeneratorHealth) -> GeneratorHealth:
        """`stalls` (the stall part) completed with the CPU and lag of every window so far."""
        tally = self._closed_health.copy()
        for w in self._open.values():
            tally.add(w)
        if not tally.measured:
            return stalls
        return dataclasses.replace(
            stalls,
            cpu_peak_percent=tally.cpu_peak,
            cpu_mean_percent=tally.cpu_sum / tally.measured,
            hot_windows=tally.hot_windows,
            hot_seconds=tally.hot_seconds,
            lag_max_ms=tally.lag_max,
            lag_mean_ms=tally.lag_mean_sum / tally.measured,
            lagging_windows=tally.lagging_windows,
            measured_windows=tally.measured,
            flagged=tuple(tally.flagged),
        )

    @property
    def stalled_windows(self) -> int:
        """How many windows had an event-loop stall (each counted once)."""
        return self._stalled_windows

    def fold(
        self,
        delta: WindowDelta,
        requests: int,
        failures: int,
        successes: Histogram,
        corrected: Histogram | None = None,
    ) -> tuple[int, list[int]]:
        """Add one delta's window-wide sums, given by the caller (it has the rows in hand).

        The window may keep `successes` and `corrected` themselves rather than copies: the
        caller must not change them afterwards.

        Returns:
            The ring slot the delta's requests count in, and the slots of the windows that
            left the ring to make room (the caller clears its rows' shares of them first).
        """
        index = delta.window_index
        window = self._open.get(index)
        freed: list[int] = []
        if window is not None:
            own = True
        elif self._open and index < next(reversed(self._open)):
            window = next(w for w in self._open.values() if w.index > index)
            own = False
        else:
            freed = self._leave_before(index - RING_SLOTS + 1)
            window = self._open[index] = _Window(index, delta.end)
            own = True
        window.requests += requests
        window.failures += failures
        window.due += delta.due
        window.late += delta.late
        window.dropped += delta.dropped
        if corrected is not None:
            if window.corrected is None:
                window.corrected = corrected
            else:
                window.corrected.merge(corrected)
        if delta.stalls:
            self._fold_stalls(window, delta)
        if delta.health is not None and own:
            # A late delta's sample describes another second than the window it joins.
            h = window.health
            window.health = delta.health if h is None else h.worst(delta.health)
        if window.successes.count:
            window.successes.merge(successes)
        else:
            window.successes = successes  # the first delta of a window: no copy needed
        if own:
            window.user_count += delta.user_count
            window.duration = max(window.duration, delta.duration)
            window.end = max(window.end, delta.end)
        self._refresh_from(window.index)
        return window.index % RING_SLOTS, freed

    def _fold_stalls(self, window: _Window, delta: WindowDelta) -> None:
        if not window.stalled_ms:
            self._stalled_windows += 1
        window.stalled_ms += delta.stalled_ms
        for stall in delta.stalls:
            site = f"{stall.file}:{stall.line}" if stall.line else stall.file
            # The longest stall names the window; ties go to the first site by name, so
            # that the order in which deltas arrive does not matter.
            longest = window.stall_longest_ms
            if stall.longest_ms > longest or (
                stall.longest_ms == longest and (not window.stall_site or site < window.stall_site)
            ):
                window.stall_longest_ms = stall.longest_ms
                window.stall_site = site

    def _leave_before(self, index: int) -> list[int]:
        """Close every open window older than `index`; their ring slots."""
        freed = []
        while self._open:
            oldest = next(iter(self._open.values()))
            if oldest.index >= index:
                break
            del self._open[oldest.index]
            self._closed_requests += oldest.requests
            self._closed_failures += oldest.failures
            self._closed_health.add(oldest)
            freed.append(oldest.index % RING_SLOTS)
        return freed

    def _refresh_from(self, index: int) -> None:
        """Recompute the point of window `index` and the running totals of later ones."""
        requests, failures = self._closed_requests, self._closed_failures
        for w in self._open.values():
            requests += w.requests
            failures += w.failures
            if w.index < index:
                continue
            if w.index == index or w.point is None:
                point = self._point(w, requests, failures)
            else:
                point = dataclasses.replace(
                    w.point, total_requests=requests, total_failures=failures
                )
            w.point = point
            if w.seq < 0:
                w.seq = self._timeline.append(point)
            else:
                self._timeline.replace(w.seq, point)

    @staticmethod
    def _point(w: _Window, total_requests: int, total_failures: int) -> TimelinePoint:
        seconds = w.duration
        p50, p95, p99 = (_ms(v) for v in w.successes.percentiles(_POINT_PERCENTILES))
        corrected_p95 = corrected_p99 = None
        if w.corrected is not None:
            corrected_p95, corrected_p99 = (
                _ms(v) for v in w.corrected.percentiles(_POINT_PERCENTILES[1:])
            )
        return TimelinePoint(
            time=w.end,
            user_count=w.user_count,
            rps=w.requests / seconds if seconds > 0 else 0.0,
            fail_per_sec=w.failures / seconds if seconds > 0 else 0.0,
            p50=p50,
            p95=p95,
            p99=p99,
            avg_response_time=_ms(w.successes.mean),
            total_requests=total_requests,
            total_failures=total_failures,
            stalled_ms=w.stalled_ms,
            stall_site=w.stall_site,
            due=w.due,
            late=w.late,
            dropped=w.dropped,
            corrected_p95=corrected_p95,
            corrected_p99=corrected_p99,
            cpu_percent=None if w.health is None else w.health.cpu_percent,
            loop_lag_ms=None if w.health is None else w.health.lag_max_ms,
            loop_lag_mean_ms=None if w.health is None else w.health.lag_mean_ms,
        )

    def point(self, index: int) -> TimelinePoint:
        """The point, as merged so far, of the open window that holds window `index`'s requests.

        Raises:
            KeyError: `index` is newer than every open window or older than the oldest.
        """
        for w in self._open.values():
            if w.index >= index:
                if w.point is None or index < next(iter(self._open)):
                    break
                return w.point
        raise KeyError(f"No open stats window holds window index {index}.")

    def ring_seconds(self) -> float:
        """The summed length of the open windows, for the "current" rates."""
        return sum(w.duration for w in self._open.values())

    def ring_totals(self) -> tuple[int, int]:
        """Requests and failures in the open windows."""
        return (
            sum(w.requests for w in self._open.values()),
            sum(w.failures for w in self._open.values()),
        )

    def clear(self) -> None:
        """Forget every window (the caller clears the timeline)."""
        self._open.clear()
        self._closed_requests = 0
        self._closed_failures = 0
        self._stalled_windows = 0
        self._closed_health = _HealthTally()
