"""The byte-level pieces of the stats wire forms: varints, strings, packed integer arrays.

Theory of operation. A `Writer` appends to one `bytearray`; a `Reader` walks a read-only
view of the bytes with an offset and raises `WireError` (a `ValueError`) the moment the data
runs out or a field cannot be what a `Writer` wrote, so a caller turns every kind of bad
input into one clear message.

- Integers are LEB128 varints (7 bits a byte, low bits first): small counts take one byte.
  At most `MAX_VARINT_BYTES` bytes, so garbage cannot make the reader build a huge number.
  Signed integers are zigzag-mapped first (0, -1, 1, -2 ... become 0, 1, 2, 3 ...).
- Floats are IEEE 754 doubles, little-endian, 8 bytes.
- Strings are a varint byte length and UTF-8. Lone surrogates are carried as they are
  (`surrogatepass`): an error text decoded with `surrogateescape` must survive the trip.
- A run of non-negative integers (a histogram's bucket indexes or counts) is packed as one
  width byte (1, 2, 4 or 8: the smallest that holds the largest value) and then the values
  at that width, so a histogram of a thousand buckets is read with one `struct` call
  instead of a thousand varints.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

__all__ = ["MAX_VARINT_BYTES", "Reader", "WireError", "Writer"]

# 20 bytes hold 140 bits: more than any count, byte total or microsecond sum can reach.
MAX_VARINT_BYTES = 20
_VARINT_LIMIT = 1 << (7 * MAX_VARINT_BYTES)

_DOUBLE = struct.Struct("<d")
_WIDTH_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}


class WireError(ValueError):
    """The bytes are not what a `Writer` wrote (truncated, or a field out of range)."""


def _width_of(largest: int) -> int:
    for width in (1, 2, 4, 8):
        if largest < 1 << (8 * width):
            return width
    raise WireError(f"A packed value of {largest} does not fit in 8 bytes.")


class Writer:
    """Appends wire fields to one growing buffer."""

    __slots__ = ("_out",)

    def __init__(self) -> None:
        self._out = bytearray()

    def raw(self, data: bytes) -> None:
        """Append bytes as they are (a magic tag)."""
        self._out += data

    def uint(self, value: int) -> None:
        """Append a non-negative integer as a varint."""
        if not 0 <= value < _VARINT_LIMIT:
            raise WireError(f"Integer {value} is out of the wire form's range.")
        out = self._out
        while value > 0x7F:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)

    def sint(self, value: int) -> None:
        """Append a signed integer, zigzag-mapped, as a varint."""
        self.uint(value * 2 if value >= 0 else -value * 2 - 1)

    def double(self, value: float) -> None:
        """Append a float as 8 bytes."""
        self._out += _DOUBLE.pack(value)

    def text(self, value: str) -> None:
        """Append a string: its UTF-8 length, then its UTF-8 bytes."""
        data = value.encode("utf-8", "surrogatepass")
        self.uint(len(data))
        self._out += data

    def packed(self, values: Sequence[int]) -> None:
        """Append non-negative integers at one width; the caller writes how many there are."""
        if not values:
            return
        width = _width_of(max(values))
        self._out.append(width)
        self._out += struct.pack(f"<{len(values)}{_WIDTH_CODES[width]}", *values)

    def getvalue(self) -> bytes:
        """Everything written so far."""
        return bytes(self._out)


class Reader:
    """Reads wire fields from bytes, raising `WireError` on anything a `Writer` cannot write."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self._data = memoryview(data).toreadonly()
        self._pos = pos

    @property
    def remaining(self) -> int:
        """How many bytes are left."""
        return len(self._data) - self._pos

    def _take(self, n: int) -> memoryview:
        end = self._pos + n
        if end > len(self._data):
            raise WireError("The data ends too early.")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def raw(self, n: int) -> bytes:
        """The next n bytes."""
        return bytes(self._take(n))

    def uint(self) -> int:
        """The next varint."""
        data, pos = self._data, self._pos
        value = shift = 0
        for _ in range(MAX_VARINT_BYTES):
            if pos >= len(data):
                raise WireError("The data ends too early.")
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                self._pos = pos
                return value
            shift += 7
        raise WireError(f"A varint is longer than {MAX_VARINT_BYTES} bytes.")

    def sint(self) -> int:
        """The next zigzag varint."""
        value = self.uint()
        return value >> 1 if not value & 1 else -(value >> 1) - 1

    def count(self) -> int:
        """A varint that says how many items follow, each at least one byte long."""
        n = self.uint()
        if n > self.remaining:  # cheap check before anything is allocated for n items
            raise WireError("The data ends too early.")
        return n

    def double(self) -> float:
        """The next 8-byte float."""
        value: float = _DOUBLE.unpack(self._take(8))[0]
        return value

    def text(self) -> str:
        """The next string."""
        chunk = self._take(self.uint())
        try:
            return str(chunk, "utf-8", "surrogatepass")
        except UnicodeDecodeError as exc:
            raise WireError("A string is not valid UTF-8.") from exc

    def packed(self, n: int) -> tuple[int, ...]:
        """The next n packed integers (nothing is read when n is 0)."""
        if not n:
            return ()
        width = self._take(1)[0]
        code = _WIDTH_CODES.get(width)
        if code is None:
            raise WireError(f"A packed run has width {width}; expected 1, 2, 4 or 8.")
        values: tuple[int, ...] = struct.unpack(f"<{n}{code}", self._take(n * width))
        return values
