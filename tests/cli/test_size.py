from __future__ import annotations

import pytest

from loadhopper.cli._size import format_size, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1000000", 1_000_000),
        ("1", 1),
        ("1B", 1),
        ("64KB", 64_000),
        ("64KiB", 65_536),
        ("10MB", 10_000_000),
        ("10MiB", 10 * 1024 * 1024),
        ("1GB", 1_000_000_000),
        ("1GiB", 1024**3),
        ("64kb", 64_000),  # the unit's case does not matter
        ("64 KiB", 65_536),
        (" 2mib ", 2 * 1024 * 1024),
        ("1.5GiB", 3 * 512 * 1024 * 1024),  # exact: Decimal, not float
        ("0.5KB", 500),
        ("1.0009KB", 1000),  # a fraction of a byte is rounded down
    ],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not a size"),
        ("lots", "is not a size"),
        ("10K", "is not a size"),  # K alone: 1000 or 1024? refused
        ("10M", "is not a size"),
        ("10TB", "is not a size"),
        ("-5", "is not a size"),
        ("-5MB", "is not a size"),
        ("1e6", "is not a size"),
        ("1.5", "not a whole number of bytes"),
        ("1.5B", "not a whole number of bytes"),
        ("0", "not above 0 bytes"),
        ("0MiB", "not above 0 bytes"),
        ("0.0001KB", "not above 0 bytes"),
        ("MB", "is not a size"),
    ],
)
def test_bad_sizes(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_size(text)
    assert "64KiB" in str(info.value)  # says how to write one


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (64 * 1024 * 1024, "64MiB"),
        (10_000_000, "10MB"),
        (1024**3, "1GiB"),
        (2_000_000_000, "2GB"),
        (65_536, "64KiB"),
        (64_000, "64KB"),
        (1_234_567, "1234567 bytes"),
        (1, "1 byte"),
    ],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text
    if "byte" not in text:
        assert parse_size(text) == size  # what is shown can be typed back
