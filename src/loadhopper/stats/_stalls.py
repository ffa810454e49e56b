"""Event-loop stalls: how long the load generator's loop was blocked, and where.

Theory of operation. While a test runs, the runtime's stall watch (`runtime/_stall_watch.py`)
notices when the event loop was blocked past its threshold and names the call site that
blocked it (a locustfile's line). Each such stall is recorded here with `record`; it belongs
to the window in which the loop resumed, because the latencies it inflated are recorded
then. Like the rows, stalls leave the collector only through its window deltas
(`take_window` per window, as `StallDelta`s, one per call site) and reach the run's totals
only by being folded back in (`fold`), so a master merging its workers' deltas holds the
same sites, counts, sums and maxima that one process would.

This is the first part of the "generator health" of a run (`GeneratorHealth` in
`_snapshot.py`): what the generator itself did to the measurements, beside what the target
did. Memory is bounded: at most `MAX_STALL_SITES` sites, then one overflow site.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from loadhopper.stats._snapshot import StallSite

__all__ = ["MAX_STALL_SITES", "OVERFLOW_SITE", "StallDelta", "StallLog"]

MAX_STALL_SITES = 100
OVERFLOW_SITE = "[other]"  # the file of the site that counts every site past the cap


@dataclass(frozen=True, slots=True)
class StallDelta:
    """One call site's stalls in one window."""

    file: str  # as shown to the user: relative to the working directory when under it
    line: int
    function: str
    count: int
    total_ms: float  # the summed length of the stalls
    longest_ms: float


_Key = tuple[str, int, str]


class _Sums:
    __slots__ = ("count", "longest_ms", "total_ms")

    def __init__(self) -> None:
        self.count = 0
        self.total_ms = 0.0
        self.longest_ms = 0.0

    def add(self, count: int, total_ms: float, longest_ms: float) -> None:
        self.count += count
        self.total_ms += total_ms
        self.longest_ms = max(self.longest_ms, longest_ms)


def _bounded(sums: dict[_Key, _Sums], key: _Key) -> _Sums:
    found = sums.get(key)
    if found is None:
        if len(sums) >= MAX_STALL_SITES:
            key = (OVERFLOW_SITE, 0, "")
            found = sums.get(key)
        if found is None:
            found = sums[key] = _Sums()
    return found


class StallLog:
    """The stalls of the open window, and of the run as folded from deltas."""

    __slots__ = ("_run", "_window")

    def __init__(self) -> None:
        self._window: dict[_Key, _Sums] = {}
        self._run: dict[_Key, _Sums] = {}

    def record(self, file: str, line: int, function: str, duration_ms: float) -> None:
        """Count one stall of `duration_ms` at a call site, in the open window."""
        _bounded(self._window, (file, line, function)).add(1, duration_ms, duration_ms)

    def take_window(self) -> tuple[StallDelta, ...]:
        """The open window's stalls, one per site; the next window starts empty."""
        if not self._window:
            return ()
        taken = tuple(
            StallDelta(file, line, function, s.count, s.total_ms, s.longest_ms)
            for (file, line, function), s in self._window.items()
        )
        self._window = {}
        return taken

    def fold(self, stalls: Iterable[StallDelta]) -> None:
        """Add a delta's stalls (this collector's own, or another process's) to the run."""
        for s in stalls:
            _bounded(self._run, (s.file, s.line, s.function)).add(s.count, s.total_ms, s.longest_ms)

    def snapshot(self) -> tuple[StallSite, ...]:
        """The run's sites, the most blocked time first."""
        sites = [
            StallSite(file, line, function, s.count, s.total_ms, s.longest_ms)
            for (file, line, function), s in self._run.items()
        ]
        sites.sort(key=lambda site: (-site.total_ms, site.file, site.line, site.function))
        return tuple(sites)

    def clear(self) -> None:
        """Forget every stall."""
        self._window.clear()
        self._run.clear()
