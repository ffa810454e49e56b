"""The JSON the page reads: status, stats rows, failures, exceptions, chart points, workers.

The same shapes go out in the event stream (`_stream.py`) and from `GET /api/state`. Chart
points are compact arrays rather than objects because a reopened tab receives up to an hour
of them at once.
"""

from __future__ import annotations

from typing import Any

from loadhopper.distributed import WorkerInfo, WorkerState
from loadhopper.distributed._master import CPU_WARNING_PERCENT
from loadhopper.report import percentile_label
from loadhopper.stats import RowSnapshot, StatsSnapshot, ThresholdResult, TimelinePoint
from loadhopper.web._controller import ControllerStatus, WebController
from loadhopper.web._parameters import CustomOption, OptionKind

__all__ = [
    "POINT_FIELDS",
    "arrivals_dict",
    "custom_option_dict",
    "full_payload",
    "health_dict",
    "point_row",
    "status_dict",
    "thresholds_list",
    "update_payload",
    "workers_dict",
]

# The fields of one chart point, in the order `point_row` writes them.
POINT_FIELDS = (
    "time", "users", "rps", "fail_per_sec", "p50", "p95", "p99", "avg", "stalled_ms",
    # the open model, and latency from each iteration's intended start (coordinated omission)
    "due", "late", "dropped", "corrected_p95", "corrected_p99",
    # the generator's own CPU (% of one core) and event-loop lag (ms); null when not measured
    "cpu_percent", "loop_lag_ms", "loop_lag_mean_ms",
)  # fmt: skip
# Enough to read in a table; the CSV and JSON downloads hold every group.
MAX_FAILURES = 500
MAX_EXCEPTIONS = 100
MAX_STALL_SITES = 20
# The banners warn of stalls, late and dropped iterations this recent: the windows behind
# the current rates.
RECENT_STALL_SECONDS = 10.0
RECENT_ARRIVAL_SECONDS = 10.0
RECENT_HEALTH_SECONDS = 10.0


def status_dict(status: ControllerStatus, snapshot: StatsSnapshot) -> dict[str, Any]:
    """The header bar: state, users, current RPS and failure ratio, and the test settings."""
    total = snapshot.total
    return {
        "running": status.running,
        "state": status.state.value,
        "user_count": status.user_count,
        "target_users": status.target_users,
        "spawn_rate": status.spawn_rate,
        "host": status.host,
        "load_model": status.load_model,
        "run_time": status.run_time,
        "test_start": status.test_start,
        "tests_started": status.tests_started,
        "error": status.error,
        "generation": status.generation,
        "current_rps": total.current_rps,
        "current_fail_per_sec": total.current_fail_per_sec,
        "fail_ratio": total.num_failures / total.num_requests if total.num_requests else 0.0,
    }


def _pick(snapshot: StatsSnapshot, fraction: float) -> int | None:
    for index, value in enumerate(snapshot.percentiles):
        if abs(value - fraction) < 1e-9:
            return index
    return None


def _row(row: RowSnapshot, p95: int | None, p99: int | None) -> dict[str, Any]:
    return {
        "method": row.method,
        "name": row.name,
        "num_requests": row.num_requests,
        "num_failures": row.num_failures,
        "median": row.median_response_time,
        "p95": None if p95 is None else row.percentiles[p95],
        "p99": None if p99 is None else row.percentiles[p99],
        "avg": row.avg_response_time,
        "min": row.min_response_time,
        "max": row.max_response_time,
        "avg_size": row.avg_content_length,
        "current_rps": row.current_rps,
        "current_fail_per_sec": row.current_fail_per_sec,
        "total_rps": row.total_rps,
        "percentiles": list(row.percentiles),
        # From each iteration's intended start; 0 and nulls for rows without a schedule.
        "corrected_count": row.corrected_count,
        "corrected_median": row.corrected_median,
        "corrected_p95": _at(row.corrected_percentiles, p95),
        "corrected_p99": _at(row.corrected_percentiles, p99),
        "corrected_avg": row.corrected_avg,
        "corrected_max": row.corrected_max,
        "corrected_percentiles": list(row.corrected_percentiles),
    }


def _at(values: tuple[float | None, ...], index: int | None) -> float | None:
    return None if index is None or index >= len(values) else values[index]


def stats_dict(snapshot: StatsSnapshot) -> dict[str, Any]:
    """The statistics table, failures and exceptions of one snapshot."""
    p95, p99 = _pick(snapshot, 0.95), _pick(snapshot, 0.99)
    return {
        "stats_start": snapshot.start_time,
        "percentiles": [percentile_label(p) for p in snapshot.percentiles],
        "rows": [_row(row, p95, p99) for row in snapshot.rows],
        "total": _row(snapshot.total, p95, p99),
        "overflowed": snapshot.overflowed,
        "failures": [
            {
                "method": f.method,
                "name": f.name,
                "error": f.error,
                "occurrences": f.occurrences,
                "first_seen": f.first_seen,
                "last_seen": f.last_seen,
            }
            for f in snapshot.failures[:MAX_FAILURES]
        ],
        "failures_left_out": max(0, len(snapshot.failures) - MAX_FAILURES),
        "exceptions": [
            {"count": e.count, "message": e.message, "traceback": e.traceback}
            for e in snapshot.exceptions[:MAX_EXCEPTIONS]
        ],
        "exceptions_left_out": max(0, len(snapshot.exceptions) - MAX_EXCEPTIONS),
        "health": health_dict(snapshot),
        "arrivals": arrivals_dict(snapshot),
    }


def arrivals_dict(snapshot: StatsSnapshot) -> dict[str, Any]:
    """The open model's iterations: over the run, and recent (for the banner)."""
    arrivals = snapshot.arrivals
    since = snapshot.end_time - RECENT_ARRIVAL_SECONDS
    recent = [p for p in snapshot.timeline if p.time > since]
    due = arrivals.due
    return {
        "active": arrivals.active,
        "due": due,
        "late": arrivals.late,
        "dropped": arrivals.dropped,
        "late_ratio": arrivals.late / due if due else 0.0,
        "dropped_ratio": arrivals.dropped / due if due else 0.0,
        "recent_seconds": RECENT_ARRIVAL_SECONDS,
        "recent_due": sum(p.due for p in recent),
        "recent_late": sum(p.late for p in recent),
        "recent_dropped": sum(p.dropped for p in recent),
    }


def health_dict(snapshot: StatsSnapshot) -> dict[str, Any]:
    """Generator health: stalls, CPU and loop lag, recent (for the banners) and over the run."""
    health = snapshot.health
    since = snapshot.end_time - RECENT_STALL_SECONDS
    recent = [p for p in snapshot.timeline if p.stalled_ms > 0 and p.time > since]
    return {
        "recent_stall_ms": sum(p.stalled_ms for p in recent),
        "recent_stall_site": max(recent, key=lambda p: p.stalled_ms).stall_site if recent else "",
        "recent_seconds": RECENT_STALL_SECONDS,
        "stall_count": health.stall_count,
        "stalled_ms": health.stalled_ms,
        "stalled_windows": health.stalled_windows,
        "stall_sites": [
            {
                "location": site.location,
                "function": site.function,
                "count": site.count,
                "total_ms": site.total_ms,
                "longest_ms": site.longest_ms,
            }
            for site in health.stall_sites[:MAX_STALL_SITES]
        ],
        # `GeneratorHealth`'s names; peaks and means are null when nothing was measured.
        "measured": health.measured,
        "cpu_bound_percent": health.cpu_bound_percent,
        "lag_bound_ms": health.lag_bound_ms,
        "cpu_peak_percent": health.cpu_peak_percent,
        "cpu_mean_percent": health.cpu_mean_percent,
        "hot_windows": health.hot_windows,
        "hot_seconds": health.hot_seconds,
        "lag_max_ms": health.lag_max_ms,
        "lag_mean_ms": health.lag_mean_ms,
        "lagging_windows": health.lagging_windows,
        "measured_windows": health.measured_windows,
        **_recent_busy(snapshot),
    }


def _recent_busy(snapshot: StatsSnapshot) -> dict[str, Any]:
    # The header's latest CPU and lag, and the banner's: the measured windows that ended in
    # the last RECENT_HEALTH_SECONDS, read from the timeline's end (an hour of points is
    # long; these are the last ten), each counted for its own length.
    timeline, health = snapshot.timeline, snapshot.health
    since = snapshot.end_time - RECENT_HEALTH_SECONDS
    latest: TimelinePoint | None = None
    cpu_peak: float | None = None
    lag_peak: float | None = None
    hot = lagging = 0.0
    for i in range(len(timeline) - 1, -1, -1):
        point = timeline[i]
        if point.time <= since:
            break
        if point.cpu_percent is None or point.loop_lag_ms is None:
            continue
        if latest is None:
            latest = point
        start = timeline[i - 1].time if i else snapshot.start_time
        length = max(0.0, point.time - start)
        cpu_peak = max(cpu_peak or 0.0, point.cpu_percent)
        lag_peak = max(lag_peak or 0.0, point.loop_lag_ms)
        if point.cpu_percent > health.cpu_bound_percent:
            hot += length
        if point.loop_lag_ms > health.lag_bound_ms:
            lagging += length
    if latest is None and health.measured:  # the header keeps the last measured window
        latest = next((p for p in reversed(timeline) if p.cpu_percent is not None), None)
    return {
        "current_cpu_percent": None if latest is None else latest.cpu_percent,
        "current_lag_ms": None if latest is None else latest.loop_lag_ms,
        "recent_health_seconds": RECENT_HEALTH_SECONDS,
        "recent_cpu_peak_percent": cpu_peak,
        "recent_lag_max_ms": lag_peak,
        "recent_hot_seconds": hot,
        "recent_lagging_seconds": lagging,
    }


def point_row(point: TimelinePoint) -> list[float | int | None]:
    """One chart point as an array in `POINT_FIELDS` order."""
    return [
        point.time,
        point.user_count,
        point.rps,
        point.fail_per_sec,
        point.p50,
        point.p95,
        point.p99,
        point.avg_response_time,
        point.stalled_ms,
        point.due,
        point.late,
        point.dropped,
        point.corrected_p95,
        point.corrected_p99,
        point.cpu_percent,
        point.loop_lag_ms,
        point.loop_lag_mean_ms,
    ]


def thresholds_list(results: tuple[ThresholdResult, ...]) -> list[dict[str, Any]]:
    """The Thresholds tab: each verdict, with `ThresholdResult`'s own field names."""
    return [
        {
            "expression": r.expression,
            "row": r.row,
            "metric": r.metric,
            "operator": r.operator,
            "limit": r.limit,
            "value": r.value,
            "passed": r.passed,
            "first_breach": r.first_breach,
            "aborted": r.aborted,
            "unit": r.unit,
            "reason": r.reason,
            # As every report shows them ("212.4 ms", "no data (why)"), so the page agrees.
            "value_text": r.value_text,
            "limit_text": r.limit_text,
        }
        for r in results
    ]


def _worker(info: WorkerInfo) -> dict[str, Any]:
    # The field names of the JSON summary's `workers` (cli/_main.py), so that a script
    # reading either finds the same record.
    return {
        "name": info.name,
        "index": info.index,
        "client_id": info.client_id,
        "host": info.host,
        "pid": info.pid,
        "state": info.state.value,
        "user_count": info.user_count,
        "cpu_percent": round(info.cpu_percent, 1),
        "lost_cause": info.lost_cause,
        "cpu_warning": info.state is not WorkerState.LOST
        and info.cpu_percent > CPU_WARNING_PERCENT,
    }


def workers_dict(workers: tuple[WorkerInfo, ...] | None) -> dict[str, Any] | None:
    """The Workers tab: every worker of a distributed run, or None for one process."""
    if workers is None:
        return None
    lost = sum(1 for w in workers if w.state is WorkerState.LOST)
    return {
        "workers": [_worker(info) for info in workers],
        "live": len(workers) - lost,
        "lost": lost,
        "cpu_warning_percent": CPU_WARNING_PERCENT,
    }


def update_payload(controller: WebController) -> dict[str, Any]:
    """Status, statistics and workers now, without chart points (the stream adds those)."""
    snapshot = controller.snapshot()
    status = controller.status()
    return {
        "status": status_dict(status, snapshot),
        "class_counts": dict(status.class_counts),
        "stats": stats_dict(snapshot),
        "workers": workers_dict(controller.workers()),
        "thresholds": thresholds_list(controller.thresholds()),
    }


def full_payload(controller: WebController) -> dict[str, Any]:
    """Everything a freshly opened tab needs: the update, the whole timeline, test marks."""
    payload = update_payload(controller)
    payload["point_fields"] = list(POINT_FIELDS)
    payload["points"] = [point_row(point) for point in controller.timeline()]
    payload["test_starts"] = list(controller.test_starts())
    payload["user_classes"] = [cls.__name__ for cls in controller.all_classes]
    defaults = controller.defaults
    payload["defaults"] = {
        "users": defaults.users,
        "spawn_rate": defaults.spawn_rate,
        "host": defaults.host or "",
        "run_time": defaults.run_time,
    }
    payload["class_picker"] = controller.class_picker
    payload["class_settings"] = [
        {"name": name, "weight": setting.weight, "fixed_count": setting.fixed_count}
        for name, setting in controller.class_settings()
    ]
    payload["custom_options"] = [custom_option_dict(o) for o in controller.custom_options]
    payload["logs_enabled"] = controller.logs is not None
    return payload


def _form_value(value: object) -> object:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return str(value)


def custom_option_dict(option: CustomOption) -> dict[str, Any]:
    """One field of the start form for a locustfile option (a secret's value is left out)."""
    secret = option.kind is OptionKind.SECRET
    return {
        "dest": option.dest,
        "flag": option.flag,
        "help": option.help,
        "kind": option.kind.value,
        # A secret is never sent to the page: an empty field keeps the command line's value.
        "default": None if secret else _form_value(option.default),
        "has_default": option.default not in (None, ""),
        "required": option.required,
        "multiple": option.multiple,
        "choices": list(option.choices),
    }
