"""User-code exceptions, grouped by (message, traceback), with a cap on the group count."""

from __future__ import annotations

from loadhopper.stats._snapshot import ExceptionSnapshot

__all__ = ["OVERFLOW_EXCEPTION", "ExceptionLog"]

OVERFLOW_EXCEPTION = "[other exceptions]"


class ExceptionLog:
    """Counts of exceptions raised in tasks, one group per distinct (message, traceback).

    Past `max_groups` groups, new ones are counted in a single overflow group (message
    `OVERFLOW_EXCEPTION`, empty traceback), so a task that raises a new text every time
    cannot grow memory without bound.
    """

    __slots__ = ("_counts", "_max_groups", "overflowed")

    def __init__(self, max_groups: int = 1000) -> None:
        if max_groups < 1:
            raise ValueError(f"max_groups must be at least 1, got {max_groups}.")
        self._max_groups = max_groups
        # Insertion order is first-seen order, the tie-break in `snapshot`.
        self._counts: dict[tuple[str, str], int] = {}
        self.overflowed = False

    def record(self, message: str, traceback: str) -> None:
        """Count one exception."""
        key = (message, traceback)
        if key not in self._counts and len(self._counts) >= self._max_groups:
            self.overflowed = True
            key = (OVERFLOW_EXCEPTION, "")
        self._counts[key] = self._counts.get(key, 0) + 1

    def snapshot(self) -> tuple[ExceptionSnapshot, ...]:
        """Every group, most frequent first (ties in first-seen order)."""
        ordered = sorted(self._counts.items(), key=lambda item: -item[1])  # stable sort
        return tuple(ExceptionSnapshot(n, message, tb) for (message, tb), n in ordered)

    def clear(self) -> None:
        """Forget every group."""
        self._counts.clear()
        self.overflowed = False
