"""Pure parsers for what each load generator (and the target) reports about a finished run.

Every parser takes the text a tool wrote and returns a `ToolSummary`, or raises `ParseError`
with one sentence saying what was missing. Nothing here touches a process or a file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ParseError",
    "ToolSummary",
    "WorkerSummary",
    "parse_loadhopper_json",
    "parse_loadhopper_workers",
    "parse_locust_json",
    "parse_locust_stats_csv",
    "parse_stub_status",
    "parse_wrk_output",
]


class ParseError(ValueError):
    """A tool's output did not contain what the benchmark needs."""


@dataclass(frozen=True, slots=True)
class ToolSummary:
    """The totals a tool reported for a whole run, in its own words.

    Attributes:
        requests: every request the tool counted, failures included.
        failures: requests the tool counted as failed (wrk: socket errors plus non-2xx/3xx).
        median_ms: the tool's own median response time in milliseconds, when it reports one.
        avg_ms: the tool's own average response time in milliseconds, when it reports one.
    """

    requests: int
    failures: int
    median_ms: float | None
    avg_ms: float | None


# wrk prints e.g. "  1603046 requests in 15.10s, 143.70MB read".
_WRK_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", re.MULTILINE)
# "  Socket errors: connect 0, read 2, write 0, timeout 5"
_WRK_SOCKET_ERRORS = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)
_WRK_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
# "    Latency   112.45us   50.31us   2.10ms   91.23%" (avg, stdev, max, +/- stdev)
_WRK_LATENCY = re.compile(r"^\s*Latency\s+([\d.]+)(us|ms|s|m|h)\s", re.MULTILINE)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_wrk_output(text: str) -> ToolSummary:
    """Read the totals from wrk's standard report (stdout).

    wrk reports no median without `--latency`, so `median_ms` is None.

    Args:
        text: everything wrk printed on stdout.

    Returns:
        The request count, errors, and the average latency wrk measured.

    Raises:
        ParseError: the "N requests in T" line is missing (wrk failed before the run).
    """
    total = _WRK_TOTAL.search(text)
    if total is None:
        raise ParseError("wrk's output has no 'N requests in T' line; read its stderr for why.")
    failures = 0
    socket_errors = _WRK_SOCKET_ERRORS.search(text)
    if socket_errors is not None:
        failures += sum(int(group) for group in socket_errors.groups())
    non_2xx = _WRK_NON_2XX.search(text)
    if non_2xx is not None:
        failures += int(non_2xx.group(1))
    latency = _WRK_LATENCY.search(text)
    avg_ms = None
    if latency is not None:
        avg_ms = float(latency.group(1)) * _UNIT_MS[latency.group(2)]
    return ToolSummary(
        requests=int(total.group(1)), failures=failures, median_ms=None, avg_ms=avg_ms
    )


def _optional_float(value: str) -> float | None:
    value = value.strip()
    if value in ("", "N/A"):
        return None
    return float(value)


def parse_locust_stats_csv(text: str) -> ToolSummary:
    """Read the Aggregated row of a `<prefix>_stats.csv` file (Locust's column names).

    Args:
        text: the whole CSV file.

    Returns:
        The Aggregated row's request and failure counts, median and average.

    Raises:
        ParseError: the file has no Aggregated row or lacks Locust's column names.
    """
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        if row.get("Name") != "Aggregated":
            continue
        try:
            return ToolSummary(
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                median_ms=_optional_float(row["Median Response Time"]),
                avg_ms=_optional_float(row["Average Response Time"]),
            )
        except (KeyError, ValueError) as exc:
            raise ParseError(
                f"the stats CSV's Aggregated row is not in Locust's format ({exc}); "
                "check the tool version."
            ) from exc
    raise ParseError("the stats CSV has no Aggregated row; the run probably ended before it began.")


def _number(mapping: dict[str, Any], key: str) -> float | None:
    value = mapping.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _summary_from_row(row: dict[str, Any]) -> ToolSummary | None:
    requests = _number(row, "num_requests")
    if requests is None:
        return None
    failures = _number(row, "num_failures") or 0.0
    return ToolSummary(
        requests=int(requests),
        failures=int(failures),
        median_ms=_number(row, "median_response_time"),
        avg_ms=_number(row, "avg_response_time"),
    )


def parse_loadhopper_json(text: str) -> ToolSummary:
    """Read the totals from loadhopper's `--json-file` summary.

    The summary (schema `loadhopper.summary/1`) holds the Aggregated row under `aggregated`,
    with `num_requests`, `num_failures`, `median_response_time` and `avg_response_time` as in
    the StatsSnapshot contract (docs/internals.md). A row under `total` (top level or under
    `stats`) is accepted too, and a Locust-style list of per-endpoint entries is read as
    `parse_locust_json` reads it.

    Args:
        text: the whole JSON file.

    Returns:
        The aggregated request and failure counts, median and average.

    Raises:
        ParseError: the text is not JSON or holds no aggregated request count.
    """
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"loadhopper's JSON summary is not valid JSON ({exc}).") from exc
    candidates: list[Any] = []
    if isinstance(document, dict):
        candidates.append(document.get("aggregated"))
        candidates.append(document.get("total"))
        stats = document.get("stats")
        if isinstance(stats, dict):
            candidates.append(stats.get("total"))
    for candidate in candidates:
        if isinstance(candidate, dict):
            summary = _summary_from_row(candidate)
            if summary is not None:
                return summary
    if isinstance(document, list):
        # A Locust-style per-endpoint list: totals without a median.
        return parse_locust_json(text)
    keys = sorted(document) if isinstance(document, dict) else type(document).__name__
    raise ParseError(
        f"loadhopper's JSON summary has no aggregated.num_requests (top level: {keys}); "
        "update benchmarks/_parse.py to its format."
    )


def parse_locust_json(text: str) -> ToolSummary:
    """Read the final totals from Locust's `--json-file` (a list of per-endpoint entries).

    Locust writes this file once, after its users have stopped, so its counts are complete;
    its `_stats.csv` is only rewritten once a second and can miss the last second. The list
    carries no aggregate median, so `median_ms` and `avg_ms` are None here.

    Raises:
        ParseError: the text is not a JSON list of entries with `num_requests`.
    """
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"Locust's JSON file is not valid JSON ({exc}).") from exc
    if not isinstance(document, list) or not all(isinstance(e, dict) for e in document):
        raise ParseError("Locust's JSON file is not a list of per-endpoint entries.")
    requests = failures = 0
    for entry in document:
        row = _summary_from_row(entry)
        if row is None:
            raise ParseError("an entry in Locust's JSON file has no num_requests.")
        requests += row.requests
        failures += row.failures
    return ToolSummary(requests=requests, failures=failures, median_ms=None, avg_ms=None)


# nginx stub_status: "Active connections: 1 \nserver accepts handled requests\n 5 5 9 \n..."
_STUB_STATUS = re.compile(r"server accepts handled requests\s+(\d+)\s+(\d+)\s+(\d+)")


def parse_stub_status(text: str) -> int:
    """Return the total number of requests nginx has served, from its stub_status page.

    Raises:
        ParseError: the page is not a stub_status page.
    """
    match = _STUB_STATUS.search(text)
    if match is None:
        raise ParseError("nginx's status page has no 'accepts handled requests' counters.")
    return int(match.group(3))


@dataclass(frozen=True, slots=True)
class WorkerSummary:
    """One worker of a distributed run, as loadhopper's JSON summary lists it under `workers`.

    Attributes:
        name: e.g. "worker 0 (pid 123)".
        state: its last state ("stopped" after a clean run, "lost" when it died).
        cpu_percent: its process's CPU over its last one-second window (100 = one core).
        lost_cause: why it was lost, or None.
    """

    name: str
    state: str
    cpu_percent: float | None
    lost_cause: str | None


def parse_loadhopper_workers(text: str) -> tuple[WorkerSummary, ...]:
    """Read the `workers` section of loadhopper's `--json-file` summary.

    A one-process run has no such section (or null): that gives an empty tuple.

    Raises:
        ParseError: the text is not JSON, or `workers` is not a list of worker records.
    """
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"loadhopper's JSON summary is not valid JSON ({exc}).") from exc
    workers = document.get("workers") if isinstance(document, dict) else None
    if workers is None:
        return ()
    if not isinstance(workers, list) or not all(isinstance(w, dict) for w in workers):
        raise ParseError("loadhopper's JSON summary has a `workers` entry that is not a list.")
    out = []
    for worker in workers:
        name, state, cause = worker.get("name"), worker.get("state"), worker.get("lost_cause")
        if not isinstance(name, str) or not isinstance(state, str):
            raise ParseError("a worker in loadhopper's JSON summary has no name or state.")
        out.append(
            WorkerSummary(
                name=name,
                state=state,
                cpu_percent=_number(worker, "cpu_percent"),
                lost_cause=cause if isinstance(cause, str) else None,
            )
        )
    return tuple(out)
