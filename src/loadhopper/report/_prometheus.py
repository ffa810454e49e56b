"""Prometheus metrics of a run: a custom collector that reads the statistics at scrape time.

Theory of operation. Nothing is recorded for Prometheus while the test runs: the hot path
gains no work. When a scraper asks, `metric_families` turns what the run already keeps
(the `StatsCollector`'s rows and their exact histograms, the users, the open model's
counts, the generator's health, the thresholds' verdicts) into metric families. Counters
are cumulative since the run (or the last `--reset-stats` / UI reset, which Prometheus sees
as a counter reset, as it does a restarted process). In a `--processes` or `--ray` master
the collector holds the merged numbers, so one scrape target speaks for every worker.

Latency buckets are folded from loadhopper's own histogram (3 significant digits: a
bucket is at most 1/1024 of its value wide). A bucket counts under a bound when its lowest
value is at or below it, so `le` never misses a sample at or below its bound (a latency of
exactly 250 ms is under `le="0.25"`); a sample less than 0.1 % above a bound may count
under it too. Below 2.048 ms every microsecond is its own bucket, so those bounds are exact.
The histograms and the exact percentiles cover successful requests, as every latency
column of loadhopper's reports does; failures are counted in their own counters.

Cardinality stays bounded by the statistics' own caps: at most `--max-stats-rows` rows
(then `[other]`), and the failure groups' cap for the `error` label.

Names follow Prometheus' conventions: the `loadhopper_` prefix, `_total` on counters, base
units (`_seconds`, `_bytes`, `_ratio`), labels `method`, `name`, `error`, `user_class`.
This module does no I/O (it reads the clock once per scrape): `cli/_prometheus_server.py`
and the web UI's `/metrics` serve it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from loadhopper.report._latency_buckets import LATENCY_BOUNDS_SECONDS, latency_bucket_counts
from loadhopper.runtime import Environment, RunnerState
from loadhopper.stats import StatsCollector, StatsSnapshot
from loadhopper.stats._histogram import Histogram
from loadhopper.stats._thresholds import ThresholdResult

__all__ = [
    "PREFIX",
    "RunMetrics",
    "ScrapeView",
    "environment_exposition",
    "environment_view",
    "exposition",
    "metric_families",
    "metrics_registry",
]

PREFIX = "loadhopper_"


@dataclass(frozen=True, slots=True)
class ScrapeView:
    """What one scrape reads, taken at once on the thread that owns the statistics.

    Attributes:
        stats: the run's statistics (merged from the workers in a master).
        now: the scrape's time, epoch seconds (rates over the whole run divide by it).
        users: running users by User class name.
        target_users: the users the test is heading for (None before any test).
        state: the runner's state (None when there is no runner yet).
        thresholds: the thresholds' latest verdicts (empty without thresholds).
    """

    stats: StatsCollector
    now: float
    users: Mapping[str, int]
    target_users: int | None = None
    state: RunnerState | None = None
    thresholds: Sequence[ThresholdResult] = ()


def environment_view(
    env: Environment,
    now: float,
    thresholds: Callable[[], Sequence[ThresholdResult]] | None = None,
) -> ScrapeView:
    """The view of `env`'s run: its statistics and, when it has one, its runner's users."""
    runner = env.runner
    verdicts = tuple(thresholds()) if thresholds is not None else ()
    if runner is None:
        return ScrapeView(stats=env.stats, now=now, users={}, thresholds=verdicts)
    return ScrapeView(
        stats=env.stats,
        now=now,
        users=dict(runner.user_classes_count),
        target_users=runner.target_user_count,
        state=runner.state,
        thresholds=verdicts,
    )


class RunMetrics:
    """A `prometheus_client` collector: each `collect()` reads a fresh `ScrapeView`.

    Args:
        read: returns the view of the run now; called once per scrape, on the thread that
            serves the scrape, which must be the one that owns the statistics (the run's
            event loop), since the collector's rows are not locked.
    """

    def __init__(self, read: Callable[[], ScrapeView]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        return metric_families(self._read())


def metrics_registry(read: Callable[[], ScrapeView]) -> CollectorRegistry:
    """A registry holding only the run's metrics (not the client's process defaults).

    The default registry's process and platform collectors are left out: they would
    describe the scraping process, which in a master is not where the users run, and the
    generator's own CPU is exported per window below.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunMetrics(read))
    return registry


def metric_families(view: ScrapeView) -> list[Metric]:
    """Every metric family of the run, as of `view.now` (a pure function of the view)."""
    snapshot = view.stats.snapshot(view.now)
    families = _request_families(view.stats, snapshot)
    families.extend(_run_families(view, snapshot))
    return families


def _request_families(stats: StatsCollector, snapshot: StatsSnapshot) -> list[Metric]:
    labels = ["method", "name"]
    requests = CounterMetricFamily(
        PREFIX + "requests", "Requests sent, failures included.", labels=labels
    )
    failures = CounterMetricFamily(PREFIX + "request_failures", "Failed requests.", labels=labels)
    body = CounterMetricFamily(
        PREFIX + "response_body_bytes", "Response body bytes received.", labels=labels
    )
    duration = HistogramMetricFamily(
        PREFIX + "request_duration_seconds",
        "Latency of successful requests, from loadhopper's exact histograms.",
        labels=labels,
    )
    quantiles = GaugeMetricFamily(
        PREFIX + "request_duration_quantile_seconds",
        "Exact latency percentiles of successful requests over the run; the Aggregated row "
        'has method="" and name="Aggregated".',
        labels=[*labels, "quantile"],
    )
    entries = stats.entries
    for row in snapshot.rows:
        key = [row.method, row.name]
        requests.add_metric(key, row.num_requests)
        failures.add_metric(key, row.num_failures)
        view = entries.get((row.name, row.method))
        if view is None:
            continue
        body.add_metric(key, view.total_content_length)
        # The row's merged success histogram (`EntryView.histogram`), folded at scrape time.
        duration.add_metric(key, *_buckets(view.histogram()))
    for row in (*snapshot.rows, snapshot.total):
        for q, value in zip(snapshot.percentiles, row.percentiles, strict=True):
            if value is not None:
                quantiles.add_metric([row.method, row.name, f"{q:g}"], value / 1000.0)
    errors = CounterMetricFamily(
        PREFIX + "request_errors",
        "Failed requests by error group (the groups are capped like the failures table).",
        labels=[*labels, "error"],
    )
    for failure in snapshot.failures:
        errors.add_metric([failure.method, failure.name, failure.error], failure.occurrences)
    return [requests, failures, errors, body, duration, quantiles]


def _buckets(hist: Histogram) -> tuple[list[tuple[str, float]], float]:
    """Cumulative (le, count) pairs, +Inf last, and the sum in seconds."""
    pairs: list[tuple[str, float]] = []
    running = 0
    # strict=False: the last count, above every bound, is only in +Inf (the total).
    for bound, count in zip(LATENCY_BOUNDS_SECONDS, latency_bucket_counts(hist), strict=False):
        running += count
        pairs.append((f"{bound:g}", running))
    pairs.append(("+Inf", hist.count))
    return pairs, hist.total / 1_000_000


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, doc, value=value)


def _run_families(view: ScrapeView, snapshot: StatsSnapshot) -> list[Metric]:
    total = snapshot.total
    families: list[Metric] = []
    users = GaugeMetricFamily(PREFIX + "users", "Running users.", labels=["user_class"])
    for name, count in sorted(view.users.items()):
        users.add_metric([name], count)
    families.append(users)
    if view.target_users is not None:
        families.append(_gauge("target_users", "Users the test is heading for.", view.target_users))
    if view.state is not None:
        state = GaugeMetricFamily(
            PREFIX + "runner_state", "1 for the runner's current state.", labels=["state"]
        )
        for value in RunnerState:
            state.add_metric([value.value], 1.0 if value is view.state else 0.0)
        families.append(state)
    families += [
        _gauge(
            "current_requests_per_second",
            "Requests per second over the last (up to) 10 closed windows.",
            total.current_rps,
        ),
        _gauge(
            "current_failures_per_second",
            "Failures per second over the last (up to) 10 closed windows.",
            total.current_fail_per_sec,
        ),
        _gauge(
            "stats_rows_overflowed",
            "1 once --max-stats-rows was reached (new rows then count in [other]).",
            1.0 if snapshot.overflowed else 0.0,
        ),
        _counter(
            "user_exceptions",
            "Exceptions raised by user code.",
            sum(exc.count for exc in snapshot.exceptions),
        ),
    ]
    families += _open_model_families(snapshot)
    families += _health_families(snapshot)
    families += _threshold_families(view.thresholds)
    return families


def _open_model_families(snapshot: StatsSnapshot) -> list[Metric]:
    arrivals = snapshot.arrivals
    if not arrivals.active:
        return []  # a closed model has no schedule: no due, late or dropped iterations
    return [
        _counter("iterations_due", "Open-model iterations whose instant came.", arrivals.due),
        _counter(
            "iterations_late", "Iterations that found no free user and started late.", arrivals.late
        ),
        _counter("iterations_dropped", "Iterations that never started.", arrivals.dropped),
    ]


def _health_families(snapshot: StatsSnapshot) -> list[Metric]:
    health = snapshot.health
    families: list[Metric] = [
        _counter(
            "event_loop_stalls", "Event-loop stalls caused by blocking code.", health.stall_count
        ),
        _counter(
            "event_loop_stalled_seconds",
            "Time the event loop was blocked by user code.",
            health.stalled_ms / 1000.0,
        ),
    ]
    # The last window that measured the generator (a fake clock measures none). In a
    # master each field is the worst process's, as the statistics merge them.
    latest = next((p for p in reversed(snapshot.timeline) if p.cpu_percent is not None), None)
    if latest is None:
        return families
    families.append(
        _gauge(
            "generator_cpu_ratio",
            "CPU of the load generator in the last window, 1.0 = one full core.",
            (latest.cpu_percent or 0.0) / 100.0,
        )
    )
    if latest.loop_lag_ms is not None:
        families.append(
            _gauge(
                "event_loop_lag_max_seconds",
                "Worst lateness of the 25 ms loop heartbeat in the last window.",
                latest.loop_lag_ms / 1000.0,
            )
        )
    if latest.loop_lag_mean_ms is not None:
        families.append(
            _gauge(
                "event_loop_lag_mean_seconds",
                "Mean lateness of the 25 ms loop heartbeat in the last window.",
                latest.loop_lag_mean_ms / 1000.0,
            )
        )
    return families


def _threshold_families(results: Sequence[ThresholdResult]) -> list[Metric]:
    if not results:
        return []
    passing = GaugeMetricFamily(
        PREFIX + "threshold_passing",
        "1 while the threshold holds, 0 once judged failing (no data yet fails).",
        labels=["threshold"],
    )
    observed = GaugeMetricFamily(
        PREFIX + "threshold_value",
        "The value the threshold is judged on (milliseconds for latencies, as written).",
        labels=["threshold"],
    )
    for result in results:
        passing.add_metric([result.expression], 1.0 if result.passed else 0.0)
        if result.value is not None:
            observed.add_metric([result.expression], result.value)
    return [passing, observed]


def exposition(registry: CollectorRegistry, accept: str) -> tuple[bytes, str]:
    """The registry's metrics in the format an `Accept` header asks for, and its media type.

    The Prometheus text format unless the scraper asks for OpenMetrics (as Prometheus
    itself does by default since 2.5).
    """
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


def environment_exposition(
    env: Environment,
    accept: str,
    thresholds: Callable[[], Sequence[ThresholdResult]] | None = None,
) -> tuple[bytes, str]:
    """`env`'s run as one scrape's body and media type (the web UI's `/metrics`)."""
    registry = metrics_registry(lambda: environment_view(env, time.time(), thresholds))
    return exposition(registry, accept)
