"""The OpenTelemetry mapping: which values each metric reports, from a real collector."""

from __future__ import annotations

from loadhopper.report._latency_buckets import LATENCY_BOUNDS_SECONDS, latency_bucket_counts
from loadhopper.report._otel import (
    DURATION,
    METRICS,
    MetricKind,
    Reading,
    otel_readings,
)
from loadhopper.stats import StatsCollector
from loadhopper.stats._histogram import Histogram

START = 1_700_000_000.0


def _collector() -> StatsCollector:
    stats = StatsCollector(start_time=START)
    for ms in (0.5, 3.0, 150.0):
        stats.record("GET", "/", ms, 100, None)
    stats.record("POST", "/login", 20.0, 10, None)
    stats.record("POST", "/login", 5.0, 0, "HTTPError: 500")
    stats.record("POST", "/login", 6.0, 0, "HTTPError: 500")
    return stats


def _values(stats: StatsCollector, name: str, **kwargs: object) -> tuple[Reading, ...]:
    readings = otel_readings(stats, START + 2.0, {"Web": 3, "Api": 1}, **kwargs)  # type: ignore[arg-type]
    return readings.values.get("loadhopper." + name, ())


def test_counters_per_row_match_the_snapshot() -> None:
    stats = _collector()
    rows = {(("method", "GET"), ("name", "/")), (("method", "POST"), ("name", "/login"))}
    requests = {r.attributes: r.value for r in _values(stats, "requests")}
    assert set(requests) == rows
    get, post = (("method", "GET"), ("name", "/")), (("method", "POST"), ("name", "/login"))
    assert (requests[get], requests[post]) == (3, 3)
    failures = {r.attributes: r.value for r in _values(stats, "request_failures")}
    assert (failures[get], failures[post]) == (0, 2)
    (errors,) = _values(stats, "request_errors")
    assert errors == Reading(2, (*post, ("error", "HTTPError: 500")))
    body = {r.attributes: r.value for r in _values(stats, "response_body_bytes")}
    assert (body[get], body[post]) == (300, 10)


def test_histograms_cover_successes_in_seconds() -> None:
    readings = otel_readings(_collector(), START + 2.0, {})
    by_row = {dict(h.attributes)["name"]: h for h in readings.histograms}
    get = by_row["/"]
    assert get.count == 3 and sum(get.bucket_counts) == 3
    assert abs(get.sum - 0.1535) < 1e-6
    assert (get.min, get.max) == (0.0005, 0.15)
    assert len(get.bucket_counts) == len(LATENCY_BOUNDS_SECONDS) + 1
    assert by_row["/login"].count == 1  # the two failures are not latencies


def test_latency_buckets_put_values_under_their_bound() -> None:
    hist = Histogram()
    for ms in (1.0, 1.001, 3.0, 150.0, 70_000.0):
        hist.record_ms(ms)
    counts = latency_bucket_counts(hist)
    bounds = dict(zip((*LATENCY_BOUNDS_SECONDS, float("inf")), counts, strict=True))
    # 1 ms exactly is "le 0.001"; below 2.048 ms each microsecond is its own bucket.
    assert bounds[0.001] == 1 and bounds[0.0025] == 1
    assert bounds[0.005] == 1 and bounds[0.25] == 1
    assert bounds[float("inf")] == 1  # 70 s is above the last bound (60 s)
    assert sum(counts) == hist.count


def test_users_rates_and_run_wide_counts() -> None:
    stats = _collector()
    users = {r.attributes: r.value for r in _values(stats, "users")}
    assert users == {(("user_class", "Api"),): 1, (("user_class", "Web"),): 3}
    assert _values(stats, "target_users", target_users=10) == (Reading(10),)
    assert _values(stats, "target_users") == ()
    assert _values(stats, "user_exceptions") == (Reading(0),)
    (rps,) = _values(stats, "current_requests")
    assert rps.value >= 0.0


def test_open_model_counts_only_when_an_open_model_ran() -> None:
    stats = _collector()
    assert _values(stats, "iterations_due") == ()
    stats.record_arrivals(due=5, late=2, dropped=1)
    stats.close_window(START + 1.0, 4)
    assert _values(stats, "iterations_due") == (Reading(5),)
    assert _values(stats, "iterations_late") == (Reading(2),)
    assert _values(stats, "iterations_dropped") == (Reading(1),)


def test_generator_health_from_the_last_measured_window() -> None:
    stats = _collector()
    assert _values(stats, "generator_cpu") == ()
    stats.record_health(cpu_percent=42.0, lag_max_ms=12.0, lag_mean_ms=3.0)
    stats.close_window(START + 1.0, 4)
    assert _values(stats, "generator_cpu") == (Reading(0.42),)
    assert _values(stats, "event_loop_lag_max") == (Reading(0.012),)
    assert _values(stats, "event_loop_lag_mean") == (Reading(0.003),)


def test_every_metric_is_named_once_and_read_by_its_name() -> None:
    names = [spec.name for spec in METRICS]
    assert len(names) == len(set(names))
    assert all(name.startswith("loadhopper.") and not name.endswith("_total") for name in names)
    histograms = [spec for spec in METRICS if spec.kind is MetricKind.HISTOGRAM]
    assert [(s.name, s.unit) for s in histograms] == [(DURATION, "s")]
    stats = _collector()
    stats.record_arrivals(due=1)
    stats.record_health(cpu_percent=1.0, lag_max_ms=1.0, lag_mean_ms=1.0)
    stats.close_window(START + 1.0, 4)
    readings = otel_readings(stats, START + 2.0, {"Web": 1}, 1)
    assert set(readings.values) == set(names) - {DURATION}
