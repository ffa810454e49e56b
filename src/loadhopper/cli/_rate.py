"""Arrival rates and stages as written on the command line: `200/s`, `30s:100/s,1m:0`."""

from __future__ import annotations

import math
import re

from loadhopper.cli._timespan import parse_timespan

__all__ = ["parse_rate", "parse_stages"]

_RATE = re.compile(r"^(?P<n>\d+(?:\.\d+)?|\.\d+)(?:/(?P<unit>s|sec|second|m|min|minute))?$")
_PER_SECOND = {None: 1.0, "s": 1.0, "sec": 1.0, "second": 1.0}  # the rest: per minute


def parse_rate(text: str) -> float:
    """Parse an arrival rate into iterations per second.

    Args:
        text: `200/s`, `200` (per second), `90/m` or `90/min` (per minute).

    Raises:
        ValueError: not a rate, or a rate that is not a finite number 0 or above.
    """
    cleaned = text.strip().lower().replace(" ", "")
    match = _RATE.match(cleaned)
    if match is None:
        raise ValueError(f"{text!r} is not an arrival rate; write it like 200/s, 200 or 90/m.")
    value = float(match["n"])
    rate = value * _PER_SECOND[match["unit"]] if match["unit"] in _PER_SECOND else value / 60.0
    if not math.isfinite(rate):
        raise ValueError(f"{text!r} is not a finite arrival rate.")
    return rate


def parse_stages(text: str) -> tuple[tuple[float, float], ...]:
    """Parse stages `DURATION:RATE,...` into (seconds, target iterations per second) pairs.

    Raises:
        ValueError: an empty list, or a stage that is not `DURATION:RATE` with a duration
            above 0.
    """
    stages: list[tuple[float, float]] = []
    for part in text.split(","):
        duration, sep, rate = part.strip().partition(":")
        if not sep:
            raise ValueError(
                f"the stage {part.strip()!r} has no ':'; write each stage as DURATION:RATE, "
                "like 30s:100/s,1m:100/s,30s:0."
            )
        seconds = parse_timespan(duration)
        if seconds <= 0:
            raise ValueError(f"the stage {part.strip()!r} has no duration; give it one above 0.")
        stages.append((seconds, parse_rate(rate)))
    return tuple(stages)
