"""Failure grouping: errors normalised into stable text, counted per (method, name, error).

Locust keys failures by the error's `repr`, which embeds full URLs and object addresses, so
one failing endpoint hit with many ids makes many groups, and the table grows without bound
(reference/locust.md §5.4, Locust issue #2328). Here the text is normalised first
(`normalise_error`), and the number of groups is capped: past the cap, new groups are
counted in one overflow group, so memory stays bounded however the target fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from loadhopper.stats._naming import template_url
from loadhopper.stats._snapshot import FailureSnapshot

__all__ = ["OVERFLOW_ERROR", "FailureLog", "normalise_error"]

MAX_ERROR_CHARS = 300
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
    text = _SPACE.sub(" ", text).strip()
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    return text


def raw_error_text(error: BaseException | str) -> str:
    """The un-normalised text of an error: `TypeName: message`, or the string itself."""
    if isinstance(error, str):
        return error
    message = str(error)
    name = type(error).__name__
    return f"{name}: {message}" if message else name


def normalise_error(error: BaseException | str) -> str:
    """A short, stable text for an error, so that failures of the same kind group together.

    Exceptions become `TypeName: message` (not their repr). In the text, object addresses
    (`at 0x7f…`) are removed, the path of every URL goes through `template_url` (so ids do not
    split groups), whitespace runs become one space, and the result is capped at 300
    characters.

    Args:
        error: The exception a request failed with, or a failure message.

    Returns:
        The normalised text, e.g. `HTTPError: 404 Not Found for url: http://h/[id]/delete`.
    """
    return _normalise_text(raw_error_text(error))


@dataclass(slots=True)
class _FailureGroup:
    method: str
    name: str
    error: str
    occurrences: int
    first_seen: float
    last_seen: float


class FailureLog:
    """Failures counted per (method, name, normalised error), with a cap on the group count.

    Past `max_groups` distinct groups, new ones are all counted in a single overflow group
    (method "", name "", error `OVERFLOW_ERROR`); existing groups keep counting.
    """

    __slots__ = ("_groups", "_max_groups", "_text_cache", "overflowed")

    # Normalising runs regular expressions; a failure storm repeats a handful of raw texts,
    # so remember recent ones. Bounded: the cache is dropped when it reaches this size.
    _TEXT_CACHE_SIZE = 4096

    def __init__(self, max_groups: int = 1000) -> None:
        if max_groups < 1:
            raise ValueError(f"max_groups must be at least 1, got {max_groups}.")
        self._max_groups = max_groups
        self._groups: dict[tuple[str, str, str], _FailureGroup] = {}
        self._text_cache: dict[str, str] = {}
        self.overflowed = False

    def record(self, method: str, name: str, error: BaseException | str, seen: float) -> None:
        """Count one failure; `seen` is the start of the window it happened in."""
        raw = raw_error_text(error)
        text = self._text_cache.get(raw)
        if text is None:
            if len(self._text_cache) >= self._TEXT_CACHE_SIZE:
                self._text_cache.clear()
            text = self._text_cache[raw] = _normalise_text(raw)
        key = (method, name, text)
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= self._max_groups:
                self.overflowed = True
                key = ("", "", OVERFLOW_ERROR)
                group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _FailureGroup(*key, 0, seen, seen)
        group.occurrences += 1
        group.last_seen = seen

    def snapshot(self) -> tuple[FailureSnapshot, ...]:
        """Every group, most frequent first (ties: first seen first, then by key)."""
        groups = sorted(
            self._groups.values(),
            key=lambda g: (-g.occurrences, g.first_seen, g.method, g.name, g.error),
        )
        return tuple(
            FailureSnapshot(g.method, g.name, g.error, g.occurrences, g.first_seen, g.last_seen)
            for g in groups
        )

    def clear(self) -> None:
        """Forget every group."""
        self._groups.clear()
        self.overflowed = False
