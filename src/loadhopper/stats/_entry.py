"""One stats row's mutable state, per (method, name): what the hot path writes into.

Theory of operation. A row has two tiers of histograms. The hot path records into the
*window* histograms only (one for successes, one for failures): one increment per request.
When the collector closes a window (once a second), each row merges its window histograms
into its *cumulative* ones and clears them, so the per-second cost is the number of buckets
touched in that second, not the number of requests. Live totals are cumulative + window.

Counts need no separate counters: a row's successes are its success histograms' counts and
its failures its failure histograms' counts. The per-window request and failure counts go
into a ring of the last `RING_SLOTS` windows, for the "current" rates.
"""

from __future__ import annotations

from loadhopper.stats._histogram import Histogram

__all__ = ["RING_SLOTS", "Entry"]

# Locust's "current" rates average the last 10 seconds (CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW).
RING_SLOTS = 10


class Entry:
    """The live state of one (method, name) row."""

    __slots__ = (
        "failures",
        "failures_window",
        "method",
        "name",
        "ring_failures",
        "ring_requests",
        "successes",
        "successes_window",
        "total_content_length",
    )

    def __init__(self, method: str, name: str) -> None:
        self.method = method
        self.name = name
        self.successes = Histogram()  # closed windows, successful requests
        self.failures = Histogram()  # closed windows, failed requests (their latencies)
        self.successes_window = Histogram()  # the open window
        self.failures_window = Histogram()
        self.total_content_length = 0  # bytes, over every request (live)
        self.ring_requests = [0] * RING_SLOTS
        self.ring_failures = [0] * RING_SLOTS

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

    def ring_totals(self) -> tuple[int, int]:
        """Requests and failures over the last `RING_SLOTS` closed windows."""
        return sum(self.ring_requests), sum(self.ring_failures)

    def close_window(self, slot: int, window_successes: Histogram) -> tuple[int, int]:
        """Fold the open window into the cumulative state and the ring slot `slot`.

        The window's successes are also merged into `window_successes`, the collector's
        aggregate for the window. Returns (requests, failures) in the window.
        """
        ok = self.successes_window.count
        failed = self.failures_window.count
        self.ring_requests[slot] = ok + failed
        self.ring_failures[slot] = failed
        if ok:
            self.successes.merge(self.successes_window)
            window_successes.merge(self.successes_window)
            self.successes_window.clear()
        if failed:
            self.failures.merge(self.failures_window)
            self.failures_window.clear()
        return ok + failed, failed
