"""`locust.stats` for locustfiles run by loadhopper: the collector, its percentiles, printers.

`PERCENTILES_TO_REPORT` is Locust's module setting: assigning it (in a locustfile at module
level, or in a script before it builds its Environment) sets the percentiles that an
Environment built without `percentiles=` reports, in every table, file and the UI. The
assignment is checked at once: a value that is not a list of fractions in (0, 1] raises.
`stats_printer` and `stats_history` are the greenlet functions of Locust's library use.
"""

from __future__ import annotations

import sys
import types

from loadhopper.runtime._script_stats import (
    CONSOLE_STATS_INTERVAL_SEC,
    stats_history,
    stats_printer,
)
from loadhopper.stats import DEFAULT_PERCENTILES, StatsCollector
from loadhopper.stats._settings import report_percentiles_setting, set_report_percentiles

RequestStats = StatsCollector

__all__ = [
    "CONSOLE_STATS_INTERVAL_SEC",
    "DEFAULT_PERCENTILES",
    "PERCENTILES_TO_REPORT",
    "RequestStats",
    "StatsCollector",
    "stats_history",
    "stats_printer",
]


class _StatsModule(types.ModuleType):
    # A module's attribute assignment cannot be intercepted except through its class:
    # this property turns `locust.stats.PERCENTILES_TO_REPORT = [...]` into the setting.
    @property
    def PERCENTILES_TO_REPORT(self) -> object:  # Locust's name
        """The percentiles an Environment built from now on reports (fractions)."""
        return report_percentiles_setting()

    @PERCENTILES_TO_REPORT.setter
    def PERCENTILES_TO_REPORT(self, values: object) -> None:
        set_report_percentiles(values)


sys.modules[__name__].__class__ = _StatsModule
PERCENTILES_TO_REPORT: object  # declared for `__all__` and type checkers; the class holds it
