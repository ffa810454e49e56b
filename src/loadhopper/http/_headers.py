"""Case-insensitive header mappings: read-only for responses, mutable for a session."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping

__all__ = ["Headers", "MutableHeaders"]


class Headers(Mapping[str, str]):
    """A response's headers: case-insensitive; repeated headers joined with ", ".

    Built from the raw `(name, value)` bytes pairs only when user code first reads
    `response.headers`, so responses nobody inspects never pay for it.
    """

    __slots__ = ("_map", "_raw")

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self._raw = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in raw]
        merged: dict[str, tuple[str, str]] = {}
        for name, value in self._raw:
            key = name.lower()
            if key in merged:
                merged[key] = (merged[key][0], merged[key][1] + ", " + value)
            else:
                merged[key] = (name, value)
        self._map = merged

    def __getitem__(self, name: str) -> str:
        return self._map[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._map

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._map.values())

    def __len__(self) -> int:
        return len(self._map)

    def get_list(self, name: str) -> list[str]:
        """Every value of a header, unjoined (useful for Set-Cookie)."""
        key = name.lower()
        return [value for n, value in self._raw if n.lower() == key]

    def items_raw(self) -> list[tuple[str, str]]:
        """Every header line in arrival order, duplicates kept."""
        return list(self._raw)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


class MutableHeaders(MutableMapping[str, str]):
    """A session's default headers: case-insensitive, and versioned.

    The session serializes its default headers once into bytes and reuses them on every
    request; `version` changes on every mutation so that it knows when to rebuild them
    (locustfiles often do `self.client.headers["Authorization"] = ...` in `on_start`).
    """

    __slots__ = ("_map", "_shared", "version")

    def __init__(self, initial: Mapping[str, str] | None = None) -> None:
        self._map: dict[str, tuple[str, str]] = {}
        self._shared = False
        self.version = 0
        if initial:
            self.update(initial)

    @classmethod
    def sharing(cls, other: MutableHeaders) -> MutableHeaders:
        """A copy that shares `other`'s entries until its first change (copy on write).

        Thousands of users start with the same default headers; sharing one dict saves
        about half a kilobyte per user. `other` must not change afterwards.
        """
        headers = cls()
        headers._map = other._map
        headers._shared = True
        return headers

    def _own(self) -> dict[str, tuple[str, str]]:
        if self._shared:
            self._map = dict(self._map)
            self._shared = False
        return self._map

    def __getitem__(self, name: str) -> str:
        return self._map[name.lower()][1]

    def __setitem__(self, name: str, value: str) -> None:
        self._own()[name.lower()] = (name, str(value))
        self.version += 1

    def __delitem__(self, name: str) -> None:
        del self._own()[name.lower()]
        self.version += 1

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._map

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in list(self._map.values()))

    def __len__(self) -> int:
        return len(self._map)

    def pairs(self) -> list[tuple[str, str]]:
        """The headers as `(name, value)` pairs, in insertion order, original spelling."""
        return list(self._map.values())

    def __repr__(self) -> str:
        return f"MutableHeaders({dict(self.items())!r})"
