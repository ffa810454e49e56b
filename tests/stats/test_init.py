from __future__ import annotations

import loadhopper.stats as stats


def test_public_names_are_exactly_these() -> None:
    assert sorted(stats.__all__) == [
        "ArrivalTotals",
        "CPU_BOUND_PERCENT",
        "DEFAULT_PERCENTILES",
        "EntryView",
        "ExceptionDelta",
        "ExceptionSnapshot",
        "FailureDelta",
        "FailureSnapshot",
        "GeneratorHealth",
        "HealthDelta",
        "HealthWindow",
        "Histogram",
        "LAG_BOUND_MS",
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
    for name in stats.__all__:
        assert getattr(stats, name) is not None


def test_default_percentiles_are_locusts_columns() -> None:
    assert stats.DEFAULT_PERCENTILES == (
        0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
    )  # fmt: skip
