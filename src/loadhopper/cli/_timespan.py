"""Time spans as Locust writes them on the command line: `20`, `20s`, `3m`, `1h30m`."""

from __future__ import annotations

import re

__all__ = ["parse_timespan"]

# Units in descending order, each at most once, as Locust accepts them (util/timespan.py);
# a bare number means seconds. Fractions (`0.5s`, `1.5`) are accepted too: short runs are
# useful in tests and demos, and nothing is lost by not truncating to whole seconds.
_SPAN = re.compile(
    r"^(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s?)?$"
)
_SECONDS_PER_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_timespan(text: str) -> float:
    """Parse a time span into seconds.

    Args:
        text: `20` or `20s` (seconds), `3m`, `1h30m`, `1h30m15s`, or with fractions, `0.5s`.

    Returns:
        The span in seconds.

    Raises:
        ValueError: the text is empty or not a time span.
    """
    cleaned = text.strip().lower().replace(" ", "")
    match = _SPAN.match(cleaned)
    if not cleaned or match is None or not any(match.groupdict().values()):
        raise ValueError(f"{text!r} is not a time span; write it like 20, 20s, 3m or 1h30m.")
    return sum(
        float(value) * _SECONDS_PER_UNIT[unit]
        for unit, value in match.groupdict().items()
        if value is not None
    )
