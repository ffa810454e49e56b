"""Exact, bounded, mergeable request statistics: pure data, no I/O and no clock reads.

The runtime feeds a `StatsCollector` (one `record` per request, one `close_window` per
second) and reads `StatsSnapshot`s from it; reports and the web UI read only the snapshot
records. `close_window` returns a `WindowDelta`, what the window added, with a versioned
wire form; a master `merge`s its workers' deltas. See docs/internals.md for the contract.
"""

from loadhopper.stats._collector import DEFAULT_PERCENTILES, StatsCollector
from loadhopper.stats._delta import (
    ExceptionDelta,
    FailureDelta,
    HealthDelta,
    RowDelta,
    StallDelta,
    WindowDelta,
)
from loadhopper.stats._entry_view import EntryView
from loadhopper.stats._errors import normalise_error
from loadhopper.stats._exceptions_log import capped_message
from loadhopper.stats._health import CPU_BOUND_PERCENT, LAG_BOUND_MS
from loadhopper.stats._histogram import Histogram
from loadhopper.stats._naming import template_url
from loadhopper.stats._snapshot import (
    ArrivalTotals,
    ExceptionSnapshot,
    FailureSnapshot,
    GeneratorHealth,
    HealthWindow,
    RowSnapshot,
    StallSite,
    StatsSnapshot,
    TimelinePoint,
)
from loadhopper.stats._thresholds import (
    Measure,
    Threshold,
    ThresholdResult,
    evaluate_thresholds,
    parse_threshold,
)

__all__ = [
    "CPU_BOUND_PERCENT",
    "DEFAULT_PERCENTILES",
    "LAG_BOUND_MS",
    "ArrivalTotals",
    "EntryView",
    "ExceptionDelta",
    "ExceptionSnapshot",
    "FailureDelta",
    "FailureSnapshot",
    "GeneratorHealth",
    "HealthDelta",
    "HealthWindow",
    "Histogram",
    "Measure",
    "RowDelta",
    "RowSnapshot",
    "StallDelta",
    "StallSite",
    "StatsCollector",
    "StatsSnapshot",
    "Threshold",
    "ThresholdResult",
    "TimelinePoint",
    "WindowDelta",
    "capped_message",
    "evaluate_thresholds",
    "normalise_error",
    "parse_threshold",
    "template_url",
]
