"""OpenTelemetry metrics of a run, as plain values: what `--otel` exports, and how it is named.

Theory of operation. Nothing is recorded into the OpenTelemetry SDK per request (a call
costs microseconds, which the benchmark would see). Each export reads what the run already
keeps: `otel_readings` turns the `StatsCollector`'s rows and exact histograms, the users,
the open model's counts and the generator's health into one frozen `OtelReadings`. The
exporter that runs (`cli/_otel.py`) hands those values to the SDK's observable instruments
and adds the latency histograms to what the SDK collected. This module does no I/O and
does not import the SDK, so its mapping is tested without it.

The metrics are those of the Prometheus exporter (`report/_prometheus.py`), named the
OpenTelemetry way: dotted `loadhopper.` names, the unit apart (UCUM: `s`, `By`, `1`,
`{request}`), so that a collector's Prometheus exporter turns them back into the same
names (`loadhopper.requests` with unit `{request}` becomes `loadhopper_requests_total`,
`loadhopper.request_duration` in `s` becomes `loadhopper_request_duration_seconds`).
Counters are cumulative since the run started; the histograms cover successful requests,
as every latency column of the reports does, with the Prometheus exporter's bounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from loadhopper.report._latency_buckets import latency_bucket_counts
from loadhopper.stats import StatsCollector
from loadhopper.stats._histogram import Histogram

__all__ = [
    "DURATION",
    "METRICS",
    "REQUESTS",
    "HistogramReading",
    "MetricKind",
    "MetricSpec",
    "OtelReadings",
    "Reading",
    "otel_readings",
]


class MetricKind(StrEnum):
    """Which instrument a metric is exported as."""

    COUNTER = "counter"  # monotonic, cumulative: an observable counter
    GAUGE = "gauge"  # a value now: an observable gauge
    HISTOGRAM = "histogram"  # explicit-bucket histogram, cumulative


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One exported metric: its name, kind, unit and description."""

    name: str
    kind: MetricKind
    unit: str
    description: str


Attributes = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of a counter or gauge, with its attributes."""

    value: float
    attributes: Attributes = ()


@dataclass(frozen=True, slots=True)
class HistogramReading:
    """One row's latency histogram, in seconds.

    Attributes:
        attributes: the row's `method` and `name`.
        bucket_counts: counts per bucket (not cumulative), one more than the bounds: the
            last is above the last bound.
        count: successful requests.
        sum: their latencies' sum in seconds.
        min: the exact fastest, in seconds.
        max: the exact slowest, in seconds.
    """

    attributes: Attributes
    bucket_counts: tuple[int, ...]
    count: int
    sum: float
    min: float
    max: float


@dataclass(frozen=True, slots=True)
class OtelReadings:
    """Every metric's values at one instant.

    Attributes:
        start_time: when the statistics started counting (epoch seconds): the start of
            every cumulative value.
        time: the instant read (epoch seconds).
        values: readings per metric name (counters and gauges); a metric without a
            reading now (the open model's under a closed model) is absent or empty.
        histograms: each row's latency histogram.
    """

    start_time: float
    time: float
    values: Mapping[str, tuple[Reading, ...]] = field(default_factory=dict)
    histograms: tuple[HistogramReading, ...] = ()


_PREFIX = "loadhopper."
REQUESTS = _PREFIX + "requests"
DURATION = _PREFIX + "request_duration"

METRICS = (
    MetricSpec(REQUESTS, MetricKind.COUNTER, "{request}", "Requests sent, failures included."),
    MetricSpec(_PREFIX + "request_failures", MetricKind.COUNTER, "{request}", "Failed requests."),
    MetricSpec(
        _PREFIX + "request_errors",
        MetricKind.COUNTER,
        "{request}",
        "Failed requests by error group (the groups are capped like the failures table).",
    ),
    MetricSpec(
        _PREFIX + "response_body_bytes", MetricKind.COUNTER, "By", "Response body bytes received."
    ),
    MetricSpec(
        DURATION,
        MetricKind.HISTOGRAM,
        "s",
        "Latency of successful requests, from loadhopper's exact histograms.",
    ),
    MetricSpec(_PREFIX + "users", MetricKind.GAUGE, "{user}", "Running users, per User class."),
    MetricSpec(
        _PREFIX + "target_users", MetricKind.GAUGE, "{user}", "Users the test is heading for."
    ),
    MetricSpec(
        _PREFIX + "current_requests",
        MetricKind.GAUGE,
        "{request}/s",
        "Requests per second over the last (up to) 10 closed one-second windows.",
    ),
    MetricSpec(
        _PREFIX + "current_failures",
        MetricKind.GAUGE,
        "{request}/s",
        "Failures per second over the last (up to) 10 closed one-second windows.",
    ),
    MetricSpec(
        _PREFIX + "user_exceptions", MetricKind.COUNTER, "{exception}", "Exceptions in user code."
    ),
    MetricSpec(
        _PREFIX + "iterations_due",
        MetricKind.COUNTER,
        "{iteration}",
        "Open-model iterations whose instant came.",
    ),
    MetricSpec(
        _PREFIX + "iterations_late",
        MetricKind.COUNTER,
        "{iteration}",
        "Open-model iterations that found no free user and started late.",
    ),
    MetricSpec(
        _PREFIX + "iterations_dropped",
        MetricKind.COUNTER,
        "{iteration}",
        "Open-model iterations that never started.",
    ),
    MetricSpec(
        _PREFIX + "event_loop_stalls",
        MetricKind.COUNTER,
        "{stall}",
        "Event-loop stalls caused by blocking code.",
    ),
    MetricSpec(
        _PREFIX + "event_loop_stalled",
        MetricKind.COUNTER,
        "s",
        "Time the event loop was blocked by user code.",
    ),
    MetricSpec(
        _PREFIX + "generator_cpu",
        MetricKind.GAUGE,
        "1",
        "CPU of the load generator in the last window, 1.0 = one full core.",
    ),
    MetricSpec(
        _PREFIX + "event_loop_lag_max",
        MetricKind.GAUGE,
        "s",
        "Worst lateness of the 25 ms loop heartbeat in the last window.",
    ),
    MetricSpec(
        _PREFIX + "event_loop_lag_mean",
        MetricKind.GAUGE,
        "s",
        "Mean lateness of the 25 ms loop heartbeat in the last window.",
    ),
)


def otel_readings(
    stats: StatsCollector,
    now: float,
    users: Mapping[str, int],
    target_users: int | None = None,
) -> OtelReadings:
    """Every metric's values now (a pure function of the statistics and the users).

    Args:
        stats: the run's statistics (merged from the workers in a master). Read on the
            thread that owns them: their rows are not locked.
        now: the instant read, epoch seconds.
        users: running users by User class name.
        target_users: the users the test is heading for (None: not known).
    """
    snapshot = stats.snapshot(now)
    values: dict[str, tuple[Reading, ...]] = {}

    def put(name: str, *readings: Reading) -> None:
        values[_PREFIX + name] = readings

    put("requests", *(Reading(r.num_requests, _row(r.method, r.name)) for r in snapshot.rows))
    put(
        "request_failures",
        *(Reading(r.num_failures, _row(r.method, r.name)) for r in snapshot.rows),
    )
    put(
        "request_errors",
        *(
            Reading(f.occurrences, (*_row(f.method, f.name), ("error", f.error)))
            for f in snapshot.failures
        ),
    )
    entries = stats.entries
    histograms: list[HistogramReading] = []
    body: list[Reading] = []
    for row in snapshot.rows:
        view = entries.get((row.name, row.method))
        if view is None:
            continue
        body.append(Reading(view.total_content_length, _row(row.method, row.name)))
        # The row's merged success histogram (`EntryView.histogram`), as the Prometheus
        # exporter reads it.
        histogram = view.histogram()
        if histogram.count:
            histograms.append(_histogram_reading(_row(row.method, row.name), histogram))
    put("response_body_bytes", *body)
    put("users", *(Reading(n, (("user_class", c),)) for c, n in sorted(users.items())))
    if target_users is not None:
        put("target_users", Reading(target_users))
    put("current_requests", Reading(snapshot.total.current_rps))
    put("current_failures", Reading(snapshot.total.current_fail_per_sec))
    put("user_exceptions", Reading(sum(e.count for e in snapshot.exceptions)))
    arrivals = snapshot.arrivals
    if arrivals.active:  # a closed model has no schedule: no due, late or dropped iterations
        put("iterations_due", Reading(arrivals.due))
        put("iterations_late", Reading(arrivals.late))
        put("iterations_dropped", Reading(arrivals.dropped))
    health = snapshot.health
    put("event_loop_stalls", Reading(health.stall_count))
    put("event_loop_stalled", Reading(health.stalled_ms / 1000.0))
    # The last window that measured the generator (a fake clock measures none).
    latest = next((p for p in reversed(snapshot.timeline) if p.cpu_percent is not None), None)
    if latest is not None and latest.cpu_percent is not None:
        put("generator_cpu", Reading(latest.cpu_percent / 100.0))
        if latest.loop_lag_ms is not None:
            put("event_loop_lag_max", Reading(latest.loop_lag_ms / 1000.0))
        if latest.loop_lag_mean_ms is not None:
            put("event_loop_lag_mean", Reading(latest.loop_lag_mean_ms / 1000.0))
    return OtelReadings(snapshot.start_time, now, values, tuple(histograms))


def _row(method: str, name: str) -> Attributes:
    return (("method", method), ("name", name))


def _histogram_reading(attributes: Attributes, histogram: Histogram) -> HistogramReading:
    return HistogramReading(
        attributes=attributes,
        bucket_counts=latency_bucket_counts(histogram),
        count=histogram.count,
        sum=histogram.total / 1_000_000,
        min=(histogram.min or 0) / 1_000_000,
        max=(histogram.max or 0) / 1_000_000,
    )
