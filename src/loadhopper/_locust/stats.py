"""`locust.stats` for locustfiles run by loadhopper: the collector and its percentiles.

Locust's module globals (PERCENTILES_TO_REPORT and friends) are not provided: loadhopper
takes its settings as parameters, not by patching module attributes.
"""

from loadhopper.stats import DEFAULT_PERCENTILES, StatsCollector

RequestStats = StatsCollector

__all__ = ["DEFAULT_PERCENTILES", "RequestStats", "StatsCollector"]
