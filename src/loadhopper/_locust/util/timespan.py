"""`locust.util.timespan` for locustfiles run by loadhopper."""

from __future__ import annotations

from loadhopper.cli._timespan import parse_timespan as _parse_seconds

__all__ = ["parse_timespan"]


def parse_timespan(time_str: str) -> int | float:
    """Parse a time span such as `20`, `20s`, `3m`, `2h`, `1h20m` or `3h30m10s` into seconds.

    Every form Locust accepts gives Locust's result, a whole number of seconds as an int;
    loadhopper also accepts fractions (`0.5s`), which give a float.

    Raises:
        ValueError: the text is empty or not a time span.
    """
    if not isinstance(time_str, str):
        raise ValueError(f"{time_str!r} is not a time span; give a string such as '20s' or '3m'.")
    seconds = _parse_seconds(time_str)
    return int(seconds) if seconds.is_integer() else seconds
