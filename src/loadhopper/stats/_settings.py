"""The percentiles reported when an Environment is not given any: Locust's module setting.

Locust reads `locust.stats.PERCENTILES_TO_REPORT`, a module global that locustfiles and
scripts assign (`locust.stats.PERCENTILES_TO_REPORT = [0.5, 0.95, 0.999]`). loadhopper takes
percentiles as a parameter (`Environment(percentiles=...)`), so this is the one place that
global lands: the `locust.stats` shim's attribute reads and writes it, and an Environment
built without `percentiles` reads it once, at construction. Every report (console tables,
CSV columns, JSON, HTML, the UI) then follows that Environment's snapshots. The CLI puts
the default back before it loads a locustfile, so a setting never leaks from one load to
the next.

The object assigned is kept as given, so that a locustfile that edits the list in place
(`PERCENTILES_TO_REPORT.append(0.42)`) is seen too; it is checked when assigned and again
when read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

from loadhopper._exceptions import ConfigError
from loadhopper.stats._collector import DEFAULT_PERCENTILES

__all__ = [
    "check_report_percentiles",
    "report_percentiles",
    "report_percentiles_setting",
    "reset_report_percentiles",
    "set_report_percentiles",
]

_setting: object = list(DEFAULT_PERCENTILES)


def check_report_percentiles(values: object) -> tuple[float, ...]:
    """The percentiles `values` names, as fractions.

    Raises:
        ConfigError: `values` is not a non-empty list of fractions in (0, 1].
    """
    if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
        raise ConfigError(
            f"PERCENTILES_TO_REPORT must be a non-empty list of fractions such as "
            f"[0.5, 0.95, 0.99], got {values!r}."
        )
    bad = [
        value
        for value in values
        if isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(float(value))
        or not 0.0 < float(value) <= 1.0
    ]
    if bad:
        raise ConfigError(
            f"PERCENTILES_TO_REPORT takes fractions in (0, 1] (0.95 for the 95th "
            f"percentile), got {bad!r}."
        )
    return tuple(float(value) for value in values)


def report_percentiles() -> tuple[float, ...]:
    """The percentiles an Environment built without `percentiles` reports.

    Raises:
        ConfigError: the setting was edited in place into something that is not a list
            of fractions in (0, 1].
    """
    return check_report_percentiles(_setting)


def report_percentiles_setting() -> object:
    """The object last assigned (what `locust.stats.PERCENTILES_TO_REPORT` reads)."""
    return _setting


def set_report_percentiles(values: object) -> None:
    """Make `values` the percentiles of the Environments built from now on.

    Raises:
        ConfigError: `values` is not a non-empty list of fractions in (0, 1].
    """
    global _setting
    check_report_percentiles(values)
    _setting = values


def reset_report_percentiles() -> None:
    """Put Locust's default percentiles back (a fresh list)."""
    global _setting
    _setting = list(DEFAULT_PERCENTILES)
