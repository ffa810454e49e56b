"""The JSON summary (`--json` to stdout, `--json-file BASE` to `BASE.json`).

Locust's `--json` dumps its raw per-endpoint internals (response-time buckets, per-second
dicts) and, as a side effect, resets every endpoint's stats (reference/locust.md §5 item 1).
loadhopper writes a summary instead: computed numbers a reader can use directly, built from a
frozen snapshot, so producing it changes nothing.

Schema `loadhopper.summary/1` (times are epoch seconds and ISO 8601 UTC strings; latencies
are milliseconds over successful requests, `null` when there was none; rates are per second)::

    {
      "schema": "loadhopper.summary/1",
      "run": {"start_time", "start", "end_time", "end", "duration", "users", "spawn_rate",
              "run_time", "host", "locustfile", "loadhopper_version",
              "load_model"},                   one line, under an open model only
      "stats_start_time": epoch seconds the statistics count from (later after a reset),
      "percentiles": ["50", "66", ..., "100"],         keys of every row's "percentiles"
      "aggregated": ROW,                                the Aggregated row
      "rows": [ROW, ...],                              sorted by (name, method)
      "rows_overflowed": bool,                         true if the row limit was reached
      "failures": [{"method", "name", "error", "occurrences", "first_seen", "last_seen"}],
      "exceptions": [{"count", "message", "traceback"}],
      "generator_health": {                            what the load generator did to the
                                                       measurements (absent in older files)
        "loop_stalls": {"count", "total_ms", "stalled_windows",
                        "sites": [{"file", "line", "function", "location", "count",
                                   "total_ms", "longest_ms"}]},   most blocked time first
        "windows": [{"time", "stalled_ms", "stall_site"}],         only the stalled windows
        "cpu": {"bound_percent", "peak_percent",        the generator's CPU per
                "mean_percent", "hot_windows", "hot_seconds",       second (% of one core,
                "windows": [{"time", "cpu_percent"}]},              the worst process's);
                                                                    windows above the bound
        "loop_lag": {"bound_ms", "max_ms", "mean_ms",   how late its event loop
                     "lagging_windows",                             ran, per second
                     "windows": [{"time", "lag_ms"}]}               windows above the bound
      },                                                 (cpu, loop_lag: absent when not
                                                          measured: a fake clock)
      "workers": [{"name", "index", "client_id", "host", "pid", "state", "user_count",
                   "cpu_percent", "lost_cause"}]     a distributed run's workers, by index
                                                     (absent in a one-process run); state
                                                     is starting, ready, spawning, running,
                                                     stopped or lost; lost_cause is one
                                                     sentence (Ray's reason) or null
      "arrivals": {"due", "late", "dropped",        the open model's iterations (absent
                   "late_ratio", "dropped_ratio",   under a closed model); ratios of due
                   "windows": [{"time", "due", "late", "dropped",
                                "corrected_p95", "corrected_p99"}]},   one per second
      "timeline": {"start", "t", "rps", "fail_per_sec", "p50", "p95", "p99", "users"},
                                                    one value per window of the whole run
                                                    (the collector keeps the last hour),
                                                    t in seconds from "start"; `loadhopper
                                                    compare --html` overlays two of them
      "thresholds": [{"expression", "row", "metric", "operator", "limit", "value",
                      "passed", "first_breach", "aborted"}],   in the order given
      "thresholds_passed": bool                     both absent without thresholds
    }

    ROW = {"method", "name", "num_requests", "num_failures", "fail_ratio",
           "min_response_time", "max_response_time", "avg_response_time",
           "median_response_time", "avg_content_length",
           "total_rps", "total_fail_per_sec",        whole-run averages
           "current_rps", "current_fail_per_sec",    last 10 one-second windows
           "percentiles": {"50": ms, ..., "99.9": ms, "100": ms},
           "corrected": {"count", "median", "avg", "max",      from the intended starts
                         "percentiles": {"50": ms, ...}}}      (absent without any)

The keys added since the first files (`generator_health`, `workers`, `arrivals`, `timeline`,
`thresholds`, `thresholds_passed`, `run.load_model`, a row's `corrected`) are additions a
reader of the older files can ignore, and the ones of the open model and thresholds appear
only when there is something in them; so the schema keeps its name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from loadhopper.distributed import WorkerInfo
from loadhopper.report._format import percentile_key
from loadhopper.report._run_info import RunInfo
from loadhopper.stats import RowSnapshot, StatsSnapshot, ThresholdResult

__all__ = ["SCHEMA", "format_json", "summary_dict"]

SCHEMA = "loadhopper.summary/1"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def _row(row: RowSnapshot, keys: list[str]) -> dict[str, Any]:
    return {
        "method": row.method,
        "name": row.name,
        "num_requests": row.num_requests,
        "num_failures": row.num_failures,
        "fail_ratio": row.num_failures / row.num_requests if row.num_requests else 0.0,
        "min_response_time": row.min_response_time,
        "max_response_time": row.max_response_time,
        "avg_response_time": row.avg_response_time,
        "median_response_time": row.median_response_time,
        "avg_content_length": row.avg_content_length,
        "total_rps": row.total_rps,
        "total_fail_per_sec": row.total_fail_per_sec,
        "current_rps": row.current_rps,
        "current_fail_per_sec": row.current_fail_per_sec,
        "percentiles": dict(zip(keys, row.percentiles, strict=True)),
        **_corrected(row, keys),
    }


def _corrected(row: RowSnapshot, keys: list[str]) -> dict[str, Any]:
    if not row.corrected_count:
        return {}
    return {
        "corrected": {
            "count": row.corrected_count,
            "median": row.corrected_median,
            "avg": row.corrected_avg,
            "max": row.corrected_max,
            "percentiles": dict(zip(keys, row.corrected_percentiles, strict=True)),
        }
    }


def _arrivals(snapshot: StatsSnapshot) -> dict[str, Any]:
    totals = snapshot.arrivals
    return {
        "due": totals.due,
        "late": totals.late,
        "dropped": totals.dropped,
        "late_ratio": totals.late / totals.due,
        "dropped_ratio": totals.dropped / totals.due,
        "windows": [
            {
                "time": p.time,
                "due": p.due,
                "late": p.late,
                "dropped": p.dropped,
                "corrected_p95": p.corrected_p95,
                "corrected_p99": p.corrected_p99,
            }
            for p in snapshot.timeline
        ],
    }


def _threshold(result: ThresholdResult) -> dict[str, Any]:
    return {
        "expression": result.expression,
        "row": result.row,
        "metric": result.metric,
        "operator": result.operator,
        "limit": result.limit,
        "value": result.value,
        "passed": result.passed,
        "first_breach": result.first_breach,
        "aborted": result.aborted,
    }


def summary_dict(
    snapshot: StatsSnapshot, run: RunInfo, workers: Sequence[WorkerInfo] | None = None
) -> dict[str, Any]:
    """Build the JSON summary as plain data (see the module docstring for the schema).

    Args:
        snapshot: the statistics to summarise.
        run: what the run was.
        workers: a distributed run's workers (`MasterRunner.workers`); None leaves the
            `workers` section out.
    """
    keys = [percentile_key(p) for p in snapshot.percentiles]
    run_section: dict[str, Any] = {
        "start_time": run.start_time,
        "start": _iso(run.start_time),
        "end_time": run.end_time,
        "end": _iso(run.end_time),
        "duration": run.duration,
        "users": run.users,
        "spawn_rate": run.spawn_rate,
        "run_time": run.run_time,
        "host": run.host,
        "locustfile": run.locustfile,
        "loadhopper_version": run.version,
    }
    if run.load_model:
        run_section["load_model"] = run.load_model
    summary = {
        "schema": SCHEMA,
        "run": run_section,
        "stats_start_time": snapshot.start_time,
        "percentiles": keys,
        "aggregated": _row(snapshot.total, keys),
        "rows": [_row(row, keys) for row in snapshot.rows],
        "rows_overflowed": snapshot.overflowed,
        "failures": [
            {
                "method": f.method,
                "name": f.name,
                "error": f.error,
                "occurrences": f.occurrences,
                "first_seen": f.first_seen,
                "last_seen": f.last_seen,
            }
            for f in snapshot.failures
        ],
        "exceptions": [
            {"count": e.count, "message": e.message, "traceback": e.traceback}
            for e in snapshot.exceptions
        ],
        "generator_health": _health(snapshot),
        "timeline": _timeline(snapshot),
    }
    if workers is not None:
        summary["workers"] = [_worker(info) for info in workers]
    if snapshot.arrivals.active:
        summary["arrivals"] = _arrivals(snapshot)
    if run.thresholds:
        summary["thresholds"] = [_threshold(result) for result in run.thresholds]
        summary["thresholds_passed"] = all(result.passed for result in run.thresholds)
    return summary


def _timeline(snapshot: StatsSnapshot) -> dict[str, Any]:
    points = snapshot.timeline
    start = points[0].time if points else snapshot.start_time
    return {
        "start": start,
        "t": [round(p.time - start, 2) for p in points],
        "rps": [round(p.rps, 2) for p in points],
        "fail_per_sec": [round(p.fail_per_sec, 2) for p in points],
        "p50": [p.p50 for p in points],
        "p95": [p.p95 for p in points],
        "p99": [p.p99 for p in points],
        "users": [p.user_count for p in points],
    }


def _worker(info: WorkerInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "index": info.index,
        "client_id": info.client_id,
        "host": info.host,
        "pid": info.pid,
        "state": str(info.state),
        "user_count": info.user_count,
        "cpu_percent": round(info.cpu_percent, 1),
        "lost_cause": info.lost_cause,
    }


def _health(snapshot: StatsSnapshot) -> dict[str, Any]:
    # A section of its own: the stalls, the generator's CPU and its loop's lag.
    health = snapshot.health
    section: dict[str, Any] = {
        "loop_stalls": {
            "count": health.stall_count,
            "total_ms": health.stalled_ms,
            "stalled_windows": health.stalled_windows,
            "sites": [
                {
                    "file": site.file,
                    "line": site.line,
                    "function": site.function,
                    "location": site.location,
                    "count": site.count,
                    "total_ms": site.total_ms,
                    "longest_ms": site.longest_ms,
                }
                for site in health.stall_sites
            ],
        },
        "windows": [
            {"time": p.time, "stalled_ms": p.stalled_ms, "stall_site": p.stall_site}
            for p in snapshot.timeline
            if p.stalled_ms > 0
        ],
    }
    if health.measured:
        section["cpu"] = {
            "bound_percent": health.cpu_bound_percent,
            "peak_percent": _round(health.cpu_peak_percent),
            "mean_percent": _round(health.cpu_mean_percent),
            "hot_windows": health.hot_windows,
            "hot_seconds": round(health.hot_seconds, 3),
            "windows": [
                {"time": w.time, "cpu_percent": round(w.cpu_percent, 1)}
                for w in health.flagged
                if w.hot
            ],
        }
        section["loop_lag"] = {
            "bound_ms": health.lag_bound_ms,
            "max_ms": _round(health.lag_max_ms),
            "mean_ms": _round(health.lag_mean_ms, 2),
            "lagging_windows": health.lagging_windows,
            "windows": [
                {"time": w.time, "lag_ms": round(w.loop_lag_ms, 1)}
                for w in health.flagged
                if w.lagging
            ],
        }
    return section


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def format_json(
    snapshot: StatsSnapshot, run: RunInfo, workers: Sequence[WorkerInfo] | None = None
) -> str:
    """The JSON summary as text, indented, with a trailing newline (see `summary_dict`)."""
    return json.dumps(summary_dict(snapshot, run, workers), indent=2) + "\n"
