"""The Prometheus collector (report/_prometheus.py): families built from a real collector,
exposed by the client library and read back with its own parser."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from loadhopper.report._latency_buckets import LATENCY_BOUNDS_SECONDS
from loadhopper.report._prometheus import (
    ScrapeView,
    exposition,
    metrics_registry,
)
from loadhopper.runtime import RunnerState
from loadhopper.stats import StatsCollector
from loadhopper.stats._thresholds import ThresholdResult

T0 = 1_700_000_000.0


def _scrape(view: ScrapeView) -> dict[str, Any]:
    body, content_type = exposition(metrics_registry(lambda: view), "")
    assert content_type.startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def _samples(family: Any, suffix: str = "", **labels: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for sample in family.samples
        if sample.name == family.name + suffix
        and all(sample.labels.get(k) == v for k, v in labels.items())
    ]


def _value(family: Any, suffix: str = "", **labels: str) -> float:
    (only,) = _samples(family, suffix, **labels)
    return only[1]


def _collector() -> StatsCollector:
    stats = StatsCollector(start_time=T0)
    for ms in (0.5, 1.0, 2.5, 30.0, 250.0, 3000.0, 100_000.0):
        stats.record("GET", "/a", ms, 10, None)
    stats.record("GET", "/a", 5.0, 0, "HTTPError('500 Server Error')")
    stats.record("POST", "/b", 12.0, 3, None)
    stats.close_window(T0 + 1.0, 2)
    return stats


def test_counters_per_row_with_failures_and_error_groups() -> None:
    families = _scrape(ScrapeView(stats=_collector(), now=T0 + 1.0, users={"Web": 2}))
    requests = families["loadhopper_requests"]
    assert requests.type == "counter"
    assert _value(requests, "_total", method="GET", name="/a") == 8
    assert _value(requests, "_total", method="POST", name="/b") == 1
    failures = families["loadhopper_request_failures"]
    assert _value(failures, "_total", method="GET", name="/a") == 1
    assert _value(failures, "_total", method="POST", name="/b") == 0
    (error,) = _samples(families["loadhopper_request_errors"], "_total")
    assert error[0]["method"] == "GET" and error[0]["name"] == "/a"
    assert "500 Server Error" in error[0]["error"] and error[1] == 1
    body = families["loadhopper_response_body_bytes"]
    assert _value(body, "_total", method="GET", name="/a") == 70
    # No Aggregated row among the per-row counters: sum() over rows gives it.
    assert not _samples(requests, "_total", name="Aggregated")


def test_latency_histogram_is_cumulative_with_inclusive_bounds() -> None:
    families = _scrape(ScrapeView(stats=_collector(), now=T0 + 1.0, users={}))
    duration = families["loadhopper_request_duration_seconds"]
    assert duration.type == "histogram"
    buckets = {
        labels["le"]: value
        for labels, value in _samples(duration, "_bucket", method="GET", name="/a")
    }
    assert list(buckets) == [f"{b:g}" for b in LATENCY_BOUNDS_SECONDS] + ["+Inf"]
    # Successes only: 0.5, 1, 2.5, 30, 250 ms, 3 s, 100 s (the failure is not a latency).
    assert buckets["0.001"] == 2  # 0.5 ms and exactly 1 ms (le is inclusive)
    assert buckets["0.0025"] == 3  # exactly 2.5 ms, above the exact linear range
    assert buckets["0.025"] == 3
    assert buckets["0.05"] == 4
    assert buckets["0.25"] == 5  # exactly 250 ms
    assert buckets["5"] == 6
    assert buckets["60"] == 6  # 100 s is only in +Inf
    assert buckets["+Inf"] == 7
    assert _value(duration, "_count", method="GET", name="/a") == 7
    total_s = (0.5 + 1.0 + 2.5 + 30.0 + 250.0 + 3000.0 + 100_000.0) / 1000.0
    assert abs(_value(duration, "_sum", method="GET", name="/a") - total_s) < 1e-9


def test_exact_percentiles_per_row_and_for_the_aggregated_row() -> None:
    stats = _collector()
    families = _scrape(ScrapeView(stats=stats, now=T0 + 1.0, users={}))
    quantiles = families["loadhopper_request_duration_quantile_seconds"]
    assert quantiles.type == "gauge"
    p95 = _value(quantiles, method="GET", name="/a", quantile="0.95")
    assert p95 == (stats.percentile("GET", "/a", 0.95) or 0.0) / 1000.0
    assert _value(quantiles, method="GET", name="/a", quantile="1") == 100.0
    total_p50 = _value(quantiles, method="", name="Aggregated", quantile="0.5")
    assert total_p50 == (stats.percentile("", "Aggregated", 0.5) or 0.0) / 1000.0
    labels = {sample.labels["quantile"] for sample in quantiles.samples}
    assert labels == {"0.5", "0.66", "0.75", "0.8", "0.9", "0.95", "0.98", "0.99", "0.999",
                      "0.9999", "1"}  # fmt: skip


def test_users_state_rates_and_no_open_model_without_an_arrival_rate() -> None:
    view = ScrapeView(
        stats=_collector(),
        now=T0 + 1.0,
        users={"Web": 3, "Api": 1},
        target_users=5,
        state=RunnerState.SPAWNING,
    )
    families = _scrape(view)
    users = families["loadhopper_users"]
    assert _value(users, user_class="Web") == 3 and _value(users, user_class="Api") == 1
    assert _value(families["loadhopper_target_users"]) == 5
    state = families["loadhopper_runner_state"]
    assert _value(state, state="spawning") == 1 and _value(state, state="running") == 0
    assert _value(families["loadhopper_current_requests_per_second"]) == 9.0  # one window
    assert _value(families["loadhopper_current_failures_per_second"]) == 1.0
    assert _value(families["loadhopper_stats_rows_overflowed"]) == 0
    assert "loadhopper_iterations_dropped" not in families
    assert "loadhopper_generator_cpu_ratio" not in families  # nothing measured it


def test_open_model_health_and_thresholds_when_present() -> None:
    stats = StatsCollector(start_time=T0)
    stats.record("GET", "/", 4.0, 0, None)
    stats.record_arrivals(due=10, late=3, dropped=2)
    stats.record_health(cpu_percent=45.0, lag_max_ms=12.0, lag_mean_ms=2.0)
    stats.close_window(T0 + 1.0, 1)
    verdicts = (
        ThresholdResult("p95<500", "Aggregated", "p95", "<", 500.0, 4.0, True),
        ThresholdResult("dropped<1", "", "dropped", "<", 1.0, 2.0, False),
        ThresholdResult("/x:p99<9", "/x", "p99", "<", 9.0, None, False),
    )
    families = _scrape(ScrapeView(stats=stats, now=T0 + 1.0, users={}, thresholds=verdicts))
    assert _value(families["loadhopper_iterations_due"], "_total") == 10
    assert _value(families["loadhopper_iterations_late"], "_total") == 3
    assert _value(families["loadhopper_iterations_dropped"], "_total") == 2
    assert _value(families["loadhopper_generator_cpu_ratio"]) == 0.45
    assert _value(families["loadhopper_event_loop_lag_max_seconds"]) == 0.012
    assert _value(families["loadhopper_event_loop_lag_mean_seconds"]) == 0.002
    passing = families["loadhopper_threshold_passing"]
    assert _value(passing, threshold="p95<500") == 1
    assert _value(passing, threshold="dropped<1") == 0
    assert _value(passing, threshold="/x:p99<9") == 0  # no data fails
    observed = families["loadhopper_threshold_value"]
    assert _value(observed, threshold="dropped<1") == 2.0
    assert not _samples(observed, threshold="/x:p99<9")  # no value to show


def test_rows_stay_capped_and_the_overflow_is_flagged() -> None:
    stats = StatsCollector(start_time=T0, max_rows=3)
    for i in range(50):
        stats.record("GET", f"/item/{i}", 1.0, 0, None)
    stats.close_window(T0 + 1.0, 1)
    families = _scrape(ScrapeView(stats=stats, now=T0 + 1.0, users={}))
    names = {labels["name"] for labels, _ in _samples(families["loadhopper_requests"], "_total")}
    assert len(names) == 4 and "[other]" in names
    assert _value(families["loadhopper_stats_rows_overflowed"]) == 1
    series = _samples(families["loadhopper_request_duration_seconds"], "_bucket")
    assert len(series) == 4 * (len(LATENCY_BOUNDS_SECONDS) + 1)


def test_openmetrics_when_the_scraper_asks_for_it() -> None:
    view = ScrapeView(stats=_collector(), now=T0 + 1.0, users={})
    body, content_type = exposition(
        metrics_registry(lambda: view), "application/openmetrics-text; version=1.0.0"
    )
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")
    assert b'loadhopper_requests_total{method="GET",name="/a"} 8.0' in body


def test_an_empty_run_exposes_zeroes_not_errors() -> None:
    families = _scrape(ScrapeView(stats=StatsCollector(start_time=T0), now=T0, users={}))
    assert _samples(families["loadhopper_requests"], "_total") == []
    assert _value(families["loadhopper_current_requests_per_second"]) == 0.0
    assert _samples(families["loadhopper_request_duration_quantile_seconds"]) == []
