"""Sizes on the command line: `1000000` (bytes), `64KB`, `64KiB`, `10MB`, `10MiB`, `1GB`, `1GiB`."""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["format_size", "parse_size"]

# Decimal units are powers of 1000 and binary ones powers of 1024 (IEC 80000-13), so that
# `10MB` means what a disk vendor means and `10MiB` what a programmer means. A bare `K`, `M`
# or `G` is refused: it is exactly the ambiguity the two spellings remove.
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_LARGEST_FIRST = (
    ("GiB", 1024**3), ("GB", 1000**3), ("MiB", 1024**2), ("MB", 1000**2),
    ("KiB", 1024), ("KB", 1000),
)  # fmt: skip
_SIZE = re.compile(r"^(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[a-z]*)$")
_EXAMPLES = "write it like 1000000, 64KB, 64KiB, 10MB, 10MiB, 1GB or 1GiB"


def parse_size(text: str) -> int:
    """Parse a size into bytes.

    Args:
        text: a whole number of bytes (`1000000`), or a number with a unit (`64KB`, `1.5GiB`;
            the unit's case does not matter). A fraction of a byte is rounded down.

    Returns:
        The size in bytes, at least 1.

    Raises:
        ValueError: the text is not a size, or is not above 0 bytes.
    """
    match = _SIZE.match(text.strip().lower())
    if match is None or match["unit"] not in _UNITS:
        raise ValueError(f"{text!r} is not a size; {_EXAMPLES}")
    number, unit = match["number"], match["unit"]
    if unit in ("", "b") and "." in number:
        raise ValueError(f"{text!r} is not a whole number of bytes; {_EXAMPLES}")
    size = int(Decimal(number) * _UNITS[unit])
    if size < 1:
        raise ValueError(f"{text!r} is not above 0 bytes; {_EXAMPLES}")
    return size


def format_size(size: int) -> str:
    """A size the way a person would write it: `64MiB`, `10MB`, `1234567 bytes`."""
    for unit, factor in _LARGEST_FIRST:
        if size % factor == 0 and size >= factor:
            return f"{size // factor}{unit}"
    return f"{size} byte" if size == 1 else f"{size} bytes"
