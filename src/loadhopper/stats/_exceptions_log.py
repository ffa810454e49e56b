"""User-code exceptions, grouped by (message, traceback), with caps on the groups and texts.

Memory stays bounded however user code fails: at most `max_groups` groups, each keeping at
most `MAX_MESSAGE_CHARS` of its message and `MAX_TRACEBACK_CHARS` of its traceback. Groups
are keyed on the kept texts, so exceptions that differ only in the cut part count as one
group, and cutting reads only the kept part (a 10 MB message costs no more than a short one).

What is kept differs by text. A message keeps its start: the exception type and the first
words say what went wrong. A traceback keeps its end: its last frame is where the exception
was raised (the runtime already passes only the innermost frames, for the same reason), so
a long traceback loses its outer frames first. A cut is marked where it happened:
`… (N more characters)` at the end of a message, on a line of its own at the start of a
traceback.

Windows work as in the failure log (`_errors.py`): each group remembers how much of its
count was already handed out in a window delta, `take_window` gives what the window added,
and counts merged in from another process are reported at once. Each group also keeps the
start of the window it was first seen in: the snapshot orders ties by it and then by text,
so the order does not depend on which process's delta a merge read first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from loadhopper.stats._delta import ExceptionDelta
from loadhopper.stats._errors import cut_mark
from loadhopper.stats._snapshot import ExceptionSnapshot

__all__ = [
    "MAX_MESSAGE_CHARS",
    "MAX_TRACEBACK_CHARS",
    "OVERFLOW_EXCEPTION",
    "ExceptionLog",
    "capped_message",
]

OVERFLOW_EXCEPTION = "[other exceptions]"

# A message is one line, `TypeName: text`; 500 characters hold a long one with a full URL
# and a JSON snippet (Locust's UI and the console table show the first line only anyway).
MAX_MESSAGE_CHARS = 500
# The runtime keeps the innermost 8 frames (runtime/_environment.py). A frame formats as
# 2-3 lines (`File "...", line N, in f`, the source line and, on Python 3.11+, a line of
# carets): measured on 3.11, 3 frames of a locustfile under /tmp/.../loadtests/ take 513
# characters, and frames in site-packages have longer paths, so 8 frames take about
# 1.5-3 KB. 4 KiB keeps every ordinary traceback whole and cuts only one with a huge source
# line (a generated or minified file, a long literal).
MAX_TRACEBACK_CHARS = 4096
_FRAME_START = '\n  File "'


def _message_kept(message: str) -> tuple[str, int]:
    over = len(message) - MAX_MESSAGE_CHARS
    return (message[:MAX_MESSAGE_CHARS], over) if over > 0 else (message, 0)


def capped_message(message: str) -> str:
    """The message as an exception group keeps it, cut mark included (for logs too)."""
    text, more = _message_kept(message)
    return text + cut_mark(more) if more else text


def _traceback_kept(traceback: str) -> tuple[str, int]:
    if len(traceback) <= MAX_TRACEBACK_CHARS:
        return traceback, 0
    tail = traceback[-MAX_TRACEBACK_CHARS:]
    # Start at a frame (`  File "..."`, as `traceback.format_list` writes it), else at a
    # line, rather than inside one; a kept part that is all one line stays as it is. Both
    # searches are within the kept 4 KiB, so they are bounded too.
    start = tail.find(_FRAME_START)
    if start < 0:
        start = tail.find("\n")
    if 0 <= start < len(tail) - 1:
        tail = tail[start + 1 :]
    return tail, len(traceback) - len(tail)


@dataclass(slots=True)
class _ExceptionGroup:
    first_seen: float  # the start of the window it was first seen in
    count: int = 0
    message_more: int = 0  # characters cut from the longest message; 0 when none was cut
    traceback_more: int = 0
    reported: int = 0  # the part of `count` already handed out in a window delta

    def snapshot(self, message: str, traceback: str) -> ExceptionSnapshot:
        if self.message_more:
            message += cut_mark(self.message_more)
        if self.traceback_more:
            traceback = cut_mark(self.traceback_more) + "\n" + traceback
        return ExceptionSnapshot(self.count, message, traceback)


class ExceptionLog:
    """Counts of exceptions raised in tasks, one group per distinct (message, traceback).

    Both texts are cut first (see the module's docstring). Past `max_groups` groups, new
    ones are counted in a single overflow group (message `OVERFLOW_EXCEPTION`, empty
    traceback), so a task that raises a new text every time cannot grow memory without
    bound: at most `max_groups * (MAX_MESSAGE_CHARS + MAX_TRACEBACK_CHARS)` characters.
    """

    __slots__ = ("_groups", "_max_groups", "overflowed")

    def __init__(self, max_groups: int = 1000) -> None:
        if max_groups < 1:
            raise ValueError(f"max_groups must be at least 1, got {max_groups}.")
        self._max_groups = max_groups
        # Keyed on the kept texts.
        self._groups: dict[tuple[str, str], _ExceptionGroup] = {}
        self.overflowed = False

    def record(self, message: str, traceback: str, *, seen: float = 0.0) -> None:
        """Count one exception; `seen` is the start of the window it happened in."""
        message, message_more = _message_kept(message)
        traceback, traceback_more = _traceback_kept(traceback)
        key = (message, traceback)
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= self._max_groups:
                self.overflowed = True
                key = (OVERFLOW_EXCEPTION, "")
                message_more = traceback_more = 0  # the overflow group's text is its own
                group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _ExceptionGroup(seen)
        group.count += 1
        # Exceptions that differ only in the cut part share a group; its mark counts the
        # longest of them.
        if message_more > group.message_more:
            group.message_more = message_more
        if traceback_more > group.traceback_more:
            group.traceback_more = traceback_more

    def take_window(self) -> tuple[ExceptionDelta, ...]:
        """What the groups gained since the last call (the window's exceptions, grouped)."""
        added = []
        for (message, traceback), g in self._groups.items():
            if g.count > g.reported:
                added.append(
                    ExceptionDelta(
                        message, traceback, g.count - g.reported, g.message_more, g.traceback_more
                    )
                )
                g.reported = g.count
        return tuple(added)

    def merge(self, exceptions: Iterable[ExceptionDelta], seen: float) -> None:
        """Count exception groups from another process's window that started at `seen`.

        The same caps apply as to `record`: texts are cut again (a no-op for what another
        collector kept) and a group new past the cap counts in the overflow group, as does
        the other process's own overflow group.
        """
        overflow_key = (OVERFLOW_EXCEPTION, "")
        for e in exceptions:
            message, message_cut = _message_kept(e.message)
            traceback, traceback_cut = _traceback_kept(e.traceback)
            message_more = e.message_more + message_cut
            traceback_more = e.traceback_more + traceback_cut
            key = (message, traceback)
            group = self._groups.get(key)
            if group is None:
                if key == overflow_key or len(self._groups) >= self._max_groups:
                    self.overflowed = True
                    key = overflow_key
                    message_more = traceback_more = 0
                    group = self._groups.get(key)
                if group is None:
                    group = self._groups[key] = _ExceptionGroup(seen)
            group.count += e.count
            group.reported += e.count
            group.first_seen = min(group.first_seen, seen)
            if message_more > group.message_more:
                group.message_more = message_more
            if traceback_more > group.traceback_more:
                group.traceback_more = traceback_more

    def snapshot(self) -> tuple[ExceptionSnapshot, ...]:
        """Every group, most frequent first; ties by first-seen window, then by text."""
        ordered = sorted(
            self._groups.items(), key=lambda item: (-item[1].count, item[1].first_seen, item[0])
        )
        return tuple(group.snapshot(message, tb) for (message, tb), group in ordered)

    def clear(self) -> None:
        """Forget every group."""
        self._groups.clear()
        self.overflowed = False
