from __future__ import annotations

import pytest

from loadhopper.cli import parse_timespan


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("20", 20.0),
        ("20s", 20.0),
        ("3m", 180.0),
        ("1h30m", 5400.0),
        ("1h30m15s", 5415.0),
        ("2h", 7200.0),
        ("1m30", 90.0),
        ("0.5s", 0.5),
        (" 10S ", 10.0),
    ],
)
def test_parse_timespan(text: str, seconds: float) -> None:
    assert parse_timespan(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "soon", "3x", "1m1h", "-5", "1.2.3s"])
def test_parse_timespan_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="time span"):
        parse_timespan(text)
