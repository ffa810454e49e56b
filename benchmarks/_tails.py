"""Case 2's tails: the target's own record of each request's service time, and the tool's.

The target (`_target_server.py`) keeps, for every request it answers, when the request was
complete and how long it took to answer it. Its percentiles are the yardstick: a generator's
p99 can only be "true" within what the target itself took. The record is split by phase,
the ramp (users starting) and the steady window, so that a tail made while users start shows
as such; the tool's own percentiles come from its summary files.

Pure functions apart from `fetch_record`, which asks the running target for its record.
"""

from __future__ import annotations

import csv
import io
import json
import math
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from _target_server import RECORD_PATH, read_record

__all__ = [
    "Record",
    "Tails",
    "fetch_record",
    "loadhopper_tails",
    "locust_tails",
    "nearest_rank",
    "tails_of",
]

_FETCH_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Tails:
    """Percentiles of one set of latencies, in milliseconds (None when unknown)."""

    count: int
    p50_ms: float | None
    p99_ms: float | None
    p999_ms: float | None
    max_ms: float | None


NO_TAILS = Tails(0, None, None, None, None)


def nearest_rank(ordered: Sequence[float], fraction: float) -> float:
    """The value at rank ceil(fraction * n) (1-based) of an ascending, non-empty sequence."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def tails_of(seconds: Sequence[float]) -> Tails:
    """Exact nearest-rank p50, p99, p99.9 and max of latencies given in seconds."""
    if not seconds:
        return NO_TAILS
    ordered = sorted(seconds)
    return Tails(
        count=len(ordered),
        p50_ms=1000.0 * nearest_rank(ordered, 0.50),
        p99_ms=1000.0 * nearest_rank(ordered, 0.99),
        p999_ms=1000.0 * nearest_rank(ordered, 0.999),
        max_ms=1000.0 * ordered[-1],
    )


@dataclass(frozen=True, slots=True)
class Record:
    """The target's record of one run, paired by request: arrival epoch seconds, service
    seconds (request complete to response written) and wait seconds (the kernel's receive
    stamp of the request's first bytes to the target reading them; NaN without a stamp)."""

    arrivals: Sequence[float]
    services: Sequence[float]
    waits: Sequence[float]

    def between(self, start: float, end: float) -> list[float]:
        """Service times of the requests that arrived in [start, end)."""
        return [s for a, s in zip(self.arrivals, self.services, strict=True) if start <= a < end]

    def whole(self) -> Tails:
        """Every request of the run."""
        return tails_of(self.services)

    def whole_from_socket(self) -> Tails:
        """Every request of the run, timed from its arrival in the target's socket (wait +
        service): everything the target took. NO_TAILS when a wait is unknown."""
        if any(math.isnan(w) for w in self.waits):
            return NO_TAILS
        return tails_of([s + w for s, w in zip(self.services, self.waits, strict=True)])


def fetch_record(base_url: str) -> Record:
    """Ask the running target for its record since the last fetch (which it then clears).

    Raises:
        OSError: the target did not answer.
        ValueError: the answer is not a record.
    """
    with urllib.request.urlopen(
        base_url + RECORD_PATH.decode(), timeout=_FETCH_TIMEOUT
    ) as response:
        body = response.read()
    arrivals, services, waits = read_record(body)
    return Record(arrivals, services, waits)


def _ms(row: dict[str, Any], key: str) -> float | None:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def loadhopper_tails(summary_json: str) -> Tails:
    """The Aggregated row's percentiles from loadhopper's `--json-file` summary."""
    document: Any = json.loads(summary_json)
    row = document.get("aggregated") if isinstance(document, dict) else None
    if not isinstance(row, dict):
        return NO_TAILS
    percentiles = row.get("percentiles")
    if not isinstance(percentiles, dict):
        return NO_TAILS
    count = row.get("num_requests")
    return Tails(
        count=count if isinstance(count, int) else 0,
        p50_ms=_ms(percentiles, "50"),
        p99_ms=_ms(percentiles, "99"),
        p999_ms=_ms(percentiles, "99.9"),
        max_ms=_ms(percentiles, "100"),
    )


def _csv_ms(row: dict[str, str], key: str) -> float | None:
    value = row.get(key, "").strip()
    if value in ("", "N/A"):
        return None
    return float(value)


def locust_tails(stats_csv: str) -> Tails:
    """The Aggregated row's percentiles from Locust's `<prefix>_stats.csv`.

    Locust rounds its percentiles to two significant digits above 100 ms.
    """
    for row in csv.DictReader(io.StringIO(stats_csv)):
        if row.get("Name") == "Aggregated":
            return Tails(
                count=int(row.get("Request Count") or 0),
                p50_ms=_csv_ms(row, "50%"),
                p99_ms=_csv_ms(row, "99%"),
                p999_ms=_csv_ms(row, "99.9%"),
                max_ms=_csv_ms(row, "100%"),
            )
    return NO_TAILS
