"""Failure grouping: errors normalised into stable text, counted per (method, name, error).

Locust keys failures by the error's `repr`, which embeds full URLs and object addresses, so
one failing endpoint hit with many ids makes many groups, and the table grows without bound
(reference/locust.md §5.4, Locust issue #2328). Here the text is normalised first
(`normalise_error`), and the number of groups is capped: past the cap, new groups are
counted in one overflow group.

Every text is bounded too, in memory and in CPU. Normalising reads only the first
`SCAN_CHARS` characters of an error (a 10 MB response body pasted into an exception costs
no more than a short one), a group keeps only the first `MAX_ERROR_CHARS` characters of the
normalised text, and groups are keyed on that kept text: errors that differ only past the
cut count as one group. A cut text ends in a visible mark, `… (N more characters)`. So the
table holds at most `max_groups * MAX_ERROR_CHARS` characters of error text, however the
target fails.

Windows. Each group remembers how many of its occurrences were already handed out in a
window delta (`reported`), so `take_window` gives exactly what the window added, by one
pass over the groups once a second, with nothing added to the per-failure path. Groups
merged in from another process's delta (`merge`) count as reported at once: a collector
that both records and merges hands on only what it recorded itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from loadhopper.stats._delta import FailureDelta
from loadhopper.stats._naming import template_url
from loadhopper.stats._snapshot import FailureSnapshot

__all__ = ["OVERFLOW_ERROR", "FailureLog", "cut_mark", "normalise_error"]

# The kept text of one failure group. 300 characters hold a status line with a full URL
# (`HTTPError: 404 Client Error: Not Found for url: ...`) and one line of a server's error
# message; more than that is a response body, which belongs in a log, not in a table row.
MAX_ERROR_CHARS = 300
# How much of a raw error text normalising reads. Normalising mostly shrinks text (object
# addresses and whitespace runs go), so four times the kept length is enough to fill it for
# any ordinary error; what lies past this is never read, so its cost is bounded.
SCAN_CHARS = 4 * MAX_ERROR_CHARS
OVERFLOW_ERROR = "[other errors]"

# "<Foo object at 0x7f3a9c2b1e50>" -> "<Foo object>"; a bare "0x7f3a9c2b1e50" is dropped too.
# Six or more hex digits: short hex literals in messages ("flags 0x1f") are data, not addresses.
_ADDRESS = re.compile(r"(?:\s+at)?\s*0x[0-9a-fA-F]{6,}")
_URL = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s'\"<>()]+)(/[^\s'\"<>()]*)?")
_SPACE = re.compile(r"\s+")


def _template_url_match(match: re.Match[str]) -> str:
    origin, path = match.group(1), match.group(2)
    return origin + template_url(path) if path else origin


def _normalise_text(text: str) -> str:
    if "0x" in text:
        text = _ADDRESS.sub("", text)
    if "://" in text:
        text = _URL.sub(_template_url_match, text)
    return _SPACE.sub(" ", text).strip()


def _cut_normalised(scanned: str) -> tuple[str, int]:
    """The kept normalised text of an error's scanned prefix, and how many characters it cut."""
    text = _normalise_text(scanned)
    over = len(text) - MAX_ERROR_CHARS
    return (text[:MAX_ERROR_CHARS], over) if over > 0 else (text, 0)


def cut_mark(more: int) -> str:
    """The visible end of a text that was cut: `… (1,234 more characters)`."""
    return f"… ({more:,} more characters)"


def raw_error_text(error: BaseException | str) -> str:
    """The un-normalised text of an error: `TypeName: message`, or the string itself."""
    if isinstance(error, str):
        return error
    message = str(error)
    name = type(error).__name__
    return f"{name}: {message}" if message else name


def _kept_text(raw: str) -> tuple[str, int]:
    """The kept normalised text of a raw error and how many characters were not kept.

    The count is the normalised characters cut past `MAX_ERROR_CHARS` plus the raw
    characters past `SCAN_CHARS`, which are never read (so never normalised either).
    """
    beyond = len(raw) - SCAN_CHARS
    if beyond <= 0:
        return _cut_normalised(raw)
    text, over = _cut_normalised(raw[:SCAN_CHARS])
    return text, over + beyond


def normalise_error(error: BaseException | str) -> str:
    """A short, stable text for an error, so that failures of the same kind group together.

    Exceptions become `TypeName: message` (not their repr). In the text, object addresses
    (`at 0x7f…`) are removed, the path of every URL goes through `template_url` (so ids do not
    split groups) and whitespace runs become one space. Only the first 1,200 characters are
    read, and at most 300 of the result are kept; a cut text ends in
    `… (N more characters)`.

    Args:
        error: The exception a request failed with, or a failure message.

    Returns:
        The normalised text, e.g. `HTTPError: 404 Not Found for url: http://h/[id]/delete`.
    """
    text, more = _kept_text(raw_error_text(error))
    return text + cut_mark(more) if more else text


@dataclass(slots=True)
class _FailureGroup:
    method: str
    name: str
    error: str  # the kept text, without the cut mark
    occurrences: int
    first_seen: float
    last_seen: float
    more: int = 0  # characters cut from the longest occurrence; 0 when none was cut
    reported: int = 0  # occurrences already handed out in a window delta

    def snapshot(self) -> FailureSnapshot:
        error = self.error + cut_mark(self.more) if self.more else self.error
        return FailureSnapshot(
            self.method, self.name, error, self.occurrences, self.first_seen, self.last_seen
        )


class FailureLog:
    """Failures counted per (method, name, normalised error), with a cap on the group count.

    Past `max_groups` distinct groups, new ones are all counted in a single overflow group
    (method "", name "", error `OVERFLOW_ERROR`); existing groups keep counting. Groups are
    keyed on the kept (cut) text, so errors that differ only past the cut are one group; its
    cut mark counts the characters cut from the longest of them.
    """

    __slots__ = ("_groups", "_max_groups", "_text_cache", "overflowed")

    # Normalising runs regular expressions; a failure storm repeats a handful of raw texts,
    # so remember recent ones. Bounded: the cache is dropped when it reaches this size, and
    # its keys are scanned prefixes (at most SCAN_CHARS each), so it holds at most about
    # 1024 * (1,200 + 300) characters whatever the errors are.
    _TEXT_CACHE_SIZE = 1024

    def __init__(self, max_groups: int = 1000) -> None:
        if max_groups < 1:
            raise ValueError(f"max_groups must be at least 1, got {max_groups}.")
        self._max_groups = max_groups
        self._groups: dict[tuple[str, str, str], _FailureGroup] = {}
        self._text_cache: dict[str, tuple[str, int]] = {}
        self.overflowed = False

    def record(self, method: str, name: str, error: BaseException | str, seen: float) -> None:
        """Count one failure; `seen` is the start of the window it happened in."""
        raw = raw_error_text(error)
        beyond = len(raw) - SCAN_CHARS
        if beyond > 0:
            raw = raw[:SCAN_CHARS]  # the rest is never read: see SCAN_CHARS
        cached = self._text_cache.get(raw)
        if cached is None:
            if len(self._text_cache) >= self._TEXT_CACHE_SIZE:
                self._text_cache.clear()
            cached = self._text_cache[raw] = _cut_normalised(raw)
        text, more = cached
        if beyond > 0:
            more += beyond
        key = (method, name, text)
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= self._max_groups:
                self.overflowed = True
                key = ("", "", OVERFLOW_ERROR)
                more = 0  # the overflow group's text is its own, never cut
                group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _FailureGroup(*key, 0, seen, seen)
        group.occurrences += 1
        group.last_seen = seen
        if more > group.more:
            group.more = more

    def take_window(self) -> tuple[FailureDelta, ...]:
        """What the groups gained since the last call (the window's failures, grouped)."""
        added = []
        for g in self._groups.values():
            if g.occurrences > g.reported:
                added.append(
                    FailureDelta(g.method, g.name, g.error, g.occurrences - g.reported, g.more)
                )
                g.reported = g.occurrences
        return tuple(added)

    def merge(self, failures: Iterable[FailureDelta], seen: float) -> None:
        """Count failure groups from another process's window that started at `seen`.

        The same cap applies: a group new past it counts in the overflow group, and so does
        the other process's own overflow group. Texts are cut again, so that a delta built
        by hand cannot grow the table either.
        """
        overflow_key = ("", "", OVERFLOW_ERROR)
        for f in failures:
            error, more = f.error, f.more
            if len(error) > MAX_ERROR_CHARS:
                error, more = error[:MAX_ERROR_CHARS], more + len(error) - MAX_ERROR_CHARS
            key = (f.method, f.name, error)
            group = self._groups.get(key)
            if group is None:
                if key == overflow_key or len(self._groups) >= self._max_groups:
                    self.overflowed = True
                    key, more = overflow_key, 0
                    group = self._groups.get(key)
                if group is None:
                    group = self._groups[key] = _FailureGroup(*key, 0, seen, seen)
            group.occurrences += f.occurrences
            group.reported += f.occurrences
            group.first_seen = min(group.first_seen, seen)
            group.last_seen = max(group.last_seen, seen)
            if more > group.more:
                group.more = more

    def snapshot(self) -> tuple[FailureSnapshot, ...]:
        """Every group, most frequent first (ties: first seen first, then by key)."""
        groups = sorted(
            self._groups.values(),
            key=lambda g: (-g.occurrences, g.first_seen, g.method, g.name, g.error),
        )
        return tuple(g.snapshot() for g in groups)

    def clear(self) -> None:
        """Forget every group."""
        self._groups.clear()
        self.overflowed = False
