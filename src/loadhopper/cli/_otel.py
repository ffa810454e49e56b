"""`--otel`: the run's metrics to an OpenTelemetry collector, over OTLP/HTTP (protobuf).

The SDK does what it already knows how to do, from its standard variables: the endpoint
(`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`), headers
(`OTEL_EXPORTER_OTLP_HEADERS`), timeout, compression and temporality preference are read
by `OTLPMetricExporter`; the export interval (`OTEL_METRIC_EXPORT_INTERVAL`, 60 s by
default) by `PeriodicExportingMetricReader`; the service name and resource attributes
(`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`) by `Resource.create`. loadhopper only
names the service "loadhopper" when nothing else did.

Nothing is recorded per request. At each export the reader's thread asks the event loop
for one `OtelReadings` (report/_otel.py: the statistics' rows and exact histograms, the
users, the open model's counts, the generator's health), waiting at most a few seconds; the
observable counters and gauges report its values, and the latency histograms, which the
SDK has no observable instrument for, are added to what it collected before the OTLP
exporter sends it. At the end of the run the final readings are taken on the loop and the
SDK is shut down, which exports them once more: a run shorter than the interval loses
nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from loadhopper import __version__
from loadhopper._exceptions import ConfigError
from loadhopper.report._latency_buckets import LATENCY_BOUNDS_SECONDS
from loadhopper.report._otel import (
    DURATION,
    METRICS,
    MetricKind,
    MetricSpec,
    OtelReadings,
    otel_readings,
)
from loadhopper.runtime import Environment

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricExportResult, MetricsData

__all__ = ["OtelExport", "require_otel"]

logger = logging.getLogger(__name__)

# How long an export waits for the event loop to take the readings; a loop busier than this
# is reported with the previous readings rather than holding the export up.
READ_TIMEOUT_SECONDS = 5.0
# The final export's bound: the SDK's own default export timeout (10 s), so that an
# unreachable collector delays the end of the run by about that at most.
FLUSH_TIMEOUT_MILLIS = 10_000

MISSING = (
    "--otel needs the OpenTelemetry SDK, which is not installed: "
    "run `pip install 'loadhopper[otel]'`."
)


def require_otel() -> None:
    """Check that the `otel` extra is installed, before the test starts.

    Raises:
        ConfigError: the OpenTelemetry SDK or its OTLP/HTTP exporter is missing.
    """
    try:
        import opentelemetry.exporter.otlp.proto.http.metric_exporter
        import opentelemetry.sdk.metrics  # noqa: F401
    except ImportError:
        raise ConfigError(MISSING) from None


class OtelExport:
    """The exporter of one run: started on the run's event loop, stopped at its end.

    Args:
        env: the run's environment; its statistics (merged from the workers in a master)
            and its runner's users are read on the event loop, at each export.
    """

    def __init__(self, env: Environment) -> None:
        self._env = env
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._provider: MeterProvider | None = None
        self._current: OtelReadings | None = None  # what this export reports
        self._stale = True  # the next collection takes new readings
        self._final: OtelReadings | None = None  # set at the end: no more reads on the loop

    def start(self) -> None:
        """Build the SDK's pipeline; its reader thread exports every interval from now.

        Raises:
            ConfigError: the `otel` extra is missing, or an OTEL_* variable is invalid.
        """
        require_otel()
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource

        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        resource = Resource.create()
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: "loadhopper"}))
        try:
            exporter = _with_histograms(OTLPMetricExporter(), self._exported)
            reader = PeriodicExportingMetricReader(exporter)
        except ValueError as exc:  # e.g. a malformed OTEL_METRIC_EXPORT_INTERVAL
            raise ConfigError(f"--otel cannot start: {exc}; check the OTEL_* variables.") from None
        # Shut down by `stop()`, at the end of the test, not at the interpreter's exit.
        provider = MeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False)
        meter = provider.get_meter("loadhopper", __version__)
        for spec in METRICS:
            if spec.kind is MetricKind.COUNTER:
                meter.create_observable_counter(
                    spec.name, [self._callback(spec)], unit=spec.unit, description=spec.description
                )
            elif spec.kind is MetricKind.GAUGE:
                meter.create_observable_gauge(
                    spec.name, [self._callback(spec)], unit=spec.unit, description=spec.description
                )
        self._provider = provider

    async def stop(self) -> None:
        """Take the final readings and send them; returns once the SDK has shut down."""
        provider = self._provider
        if provider is None:
            return
        self._provider = None
        self._final = self._read_now()
        # Off the loop: the export is a blocking HTTP request (bounded by its timeout).
        await asyncio.to_thread(_flush, provider)

    def _callback(self, spec: MetricSpec) -> Callable[[CallbackOptions], Iterable[Observation]]:
        from opentelemetry.metrics import Observation

        def observe(options: CallbackOptions) -> Iterable[Observation]:
            # The first callback of a collection takes the readings; the others, and the
            # histograms added at the export, report the same instant.
            if self._stale:
                self._stale = False
                self._refresh()
            readings = self._current
            if readings is None:
                return []
            return [
                Observation(r.value, dict(r.attributes)) for r in readings.values.get(spec.name, ())
            ]

        return observe

    def _exported(self) -> OtelReadings | None:
        # The exporter asks for the histograms once the collection is done: the next
        # collection must read again.
        self._stale = True
        return self._current

    def _refresh(self) -> None:
        # On the reader's thread (or the caller's, for the final flush, when the final
        # readings are already taken).
        if self._final is not None:
            self._current = self._final
            return
        loop = self._loop
        if loop is None or threading.get_ident() == self._loop_thread:
            self._current = self._read_now()
            return
        future: concurrent.futures.Future[OtelReadings] = concurrent.futures.Future()

        def read() -> None:
            try:
                future.set_result(self._read_now())
            except BaseException as exc:  # reaches the reader's thread, which logs it
                future.set_exception(exc)

        try:
            loop.call_soon_threadsafe(read)
            self._current = future.result(timeout=READ_TIMEOUT_SECONDS)
        except (RuntimeError, concurrent.futures.TimeoutError):
            # The loop is closed or too busy: this export repeats the previous readings.
            logger.debug("OpenTelemetry export: the event loop did not answer in time.")

    def _read_now(self) -> OtelReadings:
        env = self._env
        runner = env.runner
        # Every class, so that a class with no user left reports 0 rather than vanishing.
        users = {cls.__name__: 0 for cls in env.user_classes}
        if runner is not None:
            users.update(runner.user_classes_count)
        target = runner.target_user_count if runner is not None else None
        return otel_readings(env.stats, time.time(), users, target)


def _flush(provider: MeterProvider) -> None:
    # The reader's shutdown makes one last collection and export (the final readings),
    # then stops its thread. A force_flush first would send them twice, and against a
    # collector that is down would retry twice as long before the run can end.
    provider.shutdown(FLUSH_TIMEOUT_MILLIS)


def _with_histograms(exporter: Any, readings: Callable[[], OtelReadings | None]) -> Any:
    """A MetricExporter that adds the latency histograms to what it sends, then `exporter`."""
    from opentelemetry.sdk.metrics.export import MetricExporter

    class _WithHistograms(MetricExporter):
        def __init__(self) -> None:
            # The SDK's reader takes the temporality and aggregation from these attributes
            # of its exporter (it reads them the same way); pass the OTLP exporter's on.
            super().__init__(
                preferred_temporality=exporter._preferred_temporality,
                preferred_aggregation=exporter._preferred_aggregation,
            )

        def export(
            self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
        ) -> MetricExportResult:
            current = readings()
            if current is not None:
                metrics_data = _add_histograms(metrics_data, current)
            result: MetricExportResult = exporter.export(
                metrics_data, timeout_millis=timeout_millis, **kwargs
            )
            return result

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return bool(exporter.force_flush(timeout_millis=timeout_millis))

        def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
            exporter.shutdown(timeout_millis=timeout_millis, **kwargs)

    return _WithHistograms()


def _add_histograms(metrics_data: MetricsData, readings: OtelReadings) -> MetricsData:
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        Histogram,
        HistogramDataPoint,
        Metric,
    )

    if not readings.histograms or not metrics_data.resource_metrics:
        return metrics_data
    spec = next(s for s in METRICS if s.name == DURATION)
    start, now = int(readings.start_time * 1e9), int(readings.time * 1e9)
    points = [
        HistogramDataPoint(
            attributes=dict(h.attributes),
            start_time_unix_nano=start,
            time_unix_nano=now,
            count=h.count,
            sum=h.sum,
            bucket_counts=list(h.bucket_counts),
            explicit_bounds=list(LATENCY_BOUNDS_SECONDS),
            min=h.min,
            max=h.max,
        )
        for h in readings.histograms
    ]
    # Cumulative whatever the exporter prefers: the readings are totals since the start.
    data = Histogram(data_points=points, aggregation_temporality=AggregationTemporality.CUMULATIVE)
    metric = Metric(name=spec.name, description=spec.description, unit=spec.unit, data=data)
    first, *rest = metrics_data.resource_metrics
    if not first.scope_metrics:
        return metrics_data
    scope, *others = first.scope_metrics
    scope = dataclasses.replace(scope, metrics=[*scope.metrics, metric])
    first = dataclasses.replace(first, scope_metrics=[scope, *others])
    return dataclasses.replace(metrics_data, resource_metrics=[first, *rest])
