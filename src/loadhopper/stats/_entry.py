"""One stats row's mutable state, per (method, name): what the hot path writes into.

Theory of operation. A row has two tiers of histograms. The hot path records into the
*window* histograms only (one for successes, one for failures) and adds the response bytes
to the window's byte count: one increment per request. When the collector closes a window
(once a second), each row hands its window over as a `RowDelta` and starts an empty one
(`take_window`); the collector then folds the delta into the row's *cumulative* state
(`add`), exactly as it folds a delta merged from another process. So the per-second cost is
the number of buckets touched in that second, not the number of requests, and a row's
cumulative state is the sum of the deltas it was given. Live totals are cumulative + window.

Under a schedule (an arrival rate, a pacing wait) successful requests also count their latency
from the iteration's intended start in the *corrected* histograms (coordinated omission),
along the same two tiers; rows without a schedule leave them empty.

Counts need no separate counters: a row's successes are its success histograms' counts and
its failures its failure histograms' counts. The request and failure counts of the last
`RING_SLOTS` windows sit in a ring, one slot per window index modulo `RING_SLOTS`, for the
"current" rates; the collector clears a slot when its window leaves the ring.
"""

from __future__ import annotations

from loadhopper.stats._delta import RowDelta
from loadhopper.stats._histogram import Histogram

__all__ = ["RING_SLOTS", "Entry"]

# Locust's "current" rates average the last 10 seconds (CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW).
RING_SLOTS = 10


class Entry:
    """The live state of one (method, name) row."""

    __slots__ = (
        "content_length",
        "content_length_window",
        "corrected",
        "corrected_window",
        "failures",
        "failures_window",
        "method",
        "name",
        "ring_failures",
        "ring_requests",
        "successes",
        "successes_window",
    )

    def __init__(self, method: str, name: str) -> None:
        self.method = method
        self.name = name
        self.successes = Histogram()  # closed windows, successful requests
        self.failures = Histogram()  # closed windows, failed requests (their latencies)
        self.successes_window = Histogram()  # the open window
        self.failures_window = Histogram()
        self.corrected = Histogram()  # closed windows, successes from the intended start
        self.corrected_window = Histogram()
        self.content_length = 0  # response bytes, closed windows
        self.content_length_window = 0  # response bytes, the open window
        self.ring_requests = [0] * RING_SLOTS
        self.ring_failures = [0] * RING_SLOTS

    @property
    def total_content_length(self) -> int:
        """Response bytes over every request, the open window included."""
        return self.content_length + self.content_length_window

    @property
    def num_requests(self) -> int:
        """Successes plus failures, the open window included."""
        return (
            self.successes.count
            + self.successes_window.count
            + self.failures.count
            + self.failures_window.count
        )

    @property
    def num_failures(self) -> int:
        """Failures, the open window included."""
        return self.failures.count + self.failures_window.count

    def success_histogram(self) -> Histogram:
        """Every successful latency so far, the open window included (a new object)."""
        merged = self.successes.copy()
        merged.merge(self.successes_window)
        return merged

    def failure_histogram(self) -> Histogram:
        """Every failed request's latency so far, the open window included (a new object)."""
        merged = self.failures.copy()
        merged.merge(self.failures_window)
        return merged

    def corrected_histogram(self) -> Histogram:
        """Every corrected latency so far, the open window included (a new object)."""
        merged = self.corrected.copy()
        merged.merge(self.corrected_window)
        return merged

    def ring_totals(self) -> tuple[int, int]:
        """Requests and failures over the last `RING_SLOTS` closed windows."""
        return sum(self.ring_requests), sum(self.ring_failures)

    def take_window(self) -> RowDelta | None:
        """Hand the open window over as a delta record and start an empty one.

        None when the window saw no request. The histograms change hands (new empty ones
        take their place), so the record is not touched again by this row.
        """
        ok, failed = self.successes_window, self.failures_window
        if not ok.count and not failed.count:
            return None
        corrected = self.corrected_window
        row = RowDelta(
            self.method,
            self.name,
            ok,
            failed,
            self.content_length_window,
            corrected if corrected.count else None,
        )
        self.successes_window = Histogram()
        self.failures_window = Histogram()
        if corrected.count:
            self.corrected_window = Histogram()
        self.content_length_window = 0
        return row

    def add(self, row: RowDelta, slot: int) -> None:
        """Fold a closed window's record (this row's own, or another process's) in.

        Its requests and failures also count in ring slot `slot`.
        """
        self.successes.merge(row.successes)
        self.failures.merge(row.failures)
        if row.corrected is not None:
            self.corrected.merge(row.corrected)
        self.content_length += row.content_length
        self.ring_requests[slot] += row.num_requests
        self.ring_failures[slot] += row.num_failures

    def clear_slot(self, slot: int) -> None:
        """Forget ring slot `slot` (its window left the ring)."""
        self.ring_requests[slot] = 0
        self.ring_failures[slot] = 0
