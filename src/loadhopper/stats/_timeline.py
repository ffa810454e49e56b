"""The run's timeline: one point per closed window, in bounded memory.

Locust keeps one history entry per interval forever (reference/locust.md §5.4). Here the
timeline holds at most `capacity` points. When it is full, it is decimated: every other
point is dropped (the first is kept), and from then on only every second window is kept,
then every fourth after the next decimation, and so on. The points therefore stay evenly
spaced and cover the whole run, at a resolution that halves each time the run doubles past
the capacity (3600 one-second points: full resolution for the first hour, 2 s for the next
hour, 4 s up to four hours...). A dropped window's counts are not lost: every point carries
the cumulative totals, and the window's values are a sample, not an average.

A point can be replaced after it was appended, while its window is still open to deltas
from other processes (`_windows.py`): `append` returns the window's sequence number and
`replace` swaps the point in if it is still kept.
"""

from __future__ import annotations

from loadhopper.stats._snapshot import TimelinePoint

__all__ = ["DEFAULT_TIMELINE_CAPACITY", "Timeline"]

DEFAULT_TIMELINE_CAPACITY = 3600  # one hour at one point per second


class Timeline:
    """An append-only, self-decimating sequence of `TimelinePoint`s."""

    __slots__ = ("_capacity", "_points", "_seen", "_stride")

    def __init__(self, capacity: int = DEFAULT_TIMELINE_CAPACITY) -> None:
        if capacity < 2:
            raise ValueError(f"Timeline capacity must be at least 2, got {capacity}.")
        self._capacity = capacity
        self._points: list[TimelinePoint] = []
        self._seen = 0  # windows offered so far; window k is kept when k % stride == 0
        self._stride = 1

    @property
    def stride(self) -> int:
        """How many windows each kept point stands for (1 until the first decimation)."""
        return self._stride

    def append(self, point: TimelinePoint) -> int:
        """Offer the next window's point; it is kept if it falls on the current stride.

        Returns:
            The window's sequence number (0 for the first), for `replace`.
        """
        seq = self._seen
        self._seen += 1
        if seq % self._stride:
            return seq
        if len(self._points) >= self._capacity:
            # The kept points are windows 0, s, 2s, ...; keeping every other one leaves
            # windows 0, 2s, 4s, ..., so the new stride is 2s.
            del self._points[1::2]
            self._stride *= 2
            if seq % self._stride:
                return seq
        self._points.append(point)
        return seq

    def replace(self, seq: int, point: TimelinePoint) -> None:
        """Put `point` in place of window `seq`'s point, if that one is still kept."""
        # Kept points are windows 0, stride, 2 * stride, ..., so window seq sits at
        # seq // stride when it is kept at all.
        position, off_stride = divmod(seq, self._stride)
        if not off_stride and 0 <= position < len(self._points):
            self._points[position] = point

    def points(self) -> tuple[TimelinePoint, ...]:
        """The kept points, oldest first."""
        return tuple(self._points)

    def __len__(self) -> int:
        return len(self._points)

    def clear(self) -> None:
        """Forget every point and return to full resolution."""
        self._points.clear()
        self._seen = 0
        self._stride = 1
