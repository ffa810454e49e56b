"""Thresholds: pass/fail conditions over the merged statistics (`--threshold p95<200`).

Pure: `parse_threshold` turns the text into a `Threshold`, `evaluate_thresholds` judges
thresholds on a collector and its snapshot at a time the caller passes. No I/O, no clock;
the runtime's `ThresholdWatch` calls it once per window and the CLI once at the end.

Grammar (what a k6 user types, with Locust's rows)::

    [ROW:]METRIC OP NUMBER          spaces are allowed around every part

    ROW     "Aggregated" (the default), a request name ("/api/items"), or
            "METHOD NAME" ("GET /api/items"). A row may contain ':' itself: the text is
            split at the last ':' whose right side parses as METRIC OP NUMBER.
    METRIC  pNN, pNN.N, p(NN)   percentile of the successful responses, ms (0 <= NN <= 100)
            corrected_pNN       the same, measured from each iteration's intended start
                                (coordinated-omission corrected); also corrected_p(NN)
            avg, min, max, med  of the successful responses, ms
            corrected_avg, corrected_max, corrected_med
            fail_ratio          failures / requests (0..1)
            failures, requests  counts over the run
            rps                 requests per second over the run
            dropped, late       open-model iterations over the whole run (no ROW)
    OP      <  <=  >  >=  ==
    NUMBER  plain; latencies are in ms and may carry a unit: 200ms, 1.5s

Metric names are case-insensitive. A name given without a method matches the row of that
name when only one method used it. A threshold with no data to judge (a row that never
ran, a corrected percentile without a schedule, fail_ratio without requests) fails, with
value None and its `reason` saying why. During the run, "no data" is not a breach: only a
measured value on the wrong side of the limit is (so `--threshold-abort` never stops a
test because its first request has not been answered yet).
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from loadhopper.stats._collector import AGGREGATED_NAME, StatsCollector
from loadhopper.stats._snapshot import RowSnapshot, StatsSnapshot

__all__ = [
    "Measure",
    "Threshold",
    "ThresholdResult",
    "evaluate_thresholds",
    "parse_threshold",
]


@dataclass(frozen=True, slots=True)
class ThresholdResult:
    """One threshold's verdict.

    Attributes:
        expression: the threshold as the user wrote it, e.g. "GET /api:p99<500".
        row: the row it is judged on: "Aggregated", or "METHOD NAME"; "" for the
            run-wide open-model counts (dropped, late); the row as written when no such
            row ran.
        metric: what is measured, as shown, e.g. "p95", "corrected p99", "fail_ratio".
        operator: "<", "<=", ">", ">=" or "==".
        limit: the number on the right-hand side (milliseconds for latencies).
        value: the value observed at the end (None: no data to judge, which fails).
        passed: whether the threshold held at the end of the run.
        first_breach: epoch seconds at which a continuous evaluation first saw it fail
            (None if it never failed during the run).
        aborted: True when this threshold's breach stopped the run (`--threshold-abort`).
        unit: "ms" for latencies, "/s" for rps, "" otherwise (for showing value and limit).
        reason: why there was no data, when value is None (e.g. "no request named
            '/x' ran"); "" otherwise.
    """

    expression: str
    row: str
    metric: str
    operator: str
    limit: float
    value: float | None
    passed: bool
    first_breach: float | None = None
    aborted: bool = False
    unit: str = ""
    reason: str = ""

    @property
    def value_text(self) -> str:
        """The value as a report shows it: "212.4 ms", "0.0123", "no data (why)"."""
        if self.value is None:
            return f"no data ({self.reason})" if self.reason else "no data"
        return _shown(self.value, self.unit)

    @property
    def limit_text(self) -> str:
        """The limit as a report shows it: "200 ms", "0.01"."""
        return _shown(self.limit, self.unit)


def _shown(number: float, unit: str) -> str:
    if number.is_integer() and abs(number) < 1e15:
        text = str(int(number))
    elif unit == "ms":
        text = f"{number:.1f}" if abs(number) >= 10 else f"{number:.3g}"
    else:
        text = f"{number:.4g}"
    return f"{text} ms" if unit == "ms" else text + unit


class Measure(StrEnum):
    """What a threshold measures (the METRIC of the grammar, without its percentile)."""

    PERCENTILE = "p"
    CORRECTED_PERCENTILE = "corrected_p"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    MED = "med"
    CORRECTED_AVG = "corrected_avg"
    CORRECTED_MAX = "corrected_max"
    CORRECTED_MED = "corrected_med"
    FAIL_RATIO = "fail_ratio"
    FAILURES = "failures"
    REQUESTS = "requests"
    RPS = "rps"
    DROPPED = "dropped"
    LATE = "late"


_LATENCIES = frozenset(
    {
        Measure.PERCENTILE,
        Measure.CORRECTED_PERCENTILE,
        Measure.AVG,
        Measure.MIN,
        Measure.MAX,
        Measure.MED,
        Measure.CORRECTED_AVG,
        Measure.CORRECTED_MAX,
        Measure.CORRECTED_MED,
    }
)
_ROWLESS = frozenset({Measure.DROPPED, Measure.LATE})
_NAMED = {
    m.value: m for m in Measure if m not in (Measure.PERCENTILE, Measure.CORRECTED_PERCENTILE)
}
_EXPECTED_METRICS = (
    "pNN, p(NN), corrected_pNN, avg, min, max, med, corrected_avg, corrected_max, "
    "corrected_med, fail_ratio, failures, requests, rps, dropped or late"
)
# Words a k6 (or Locust) user may type for one of ours: suggested, not accepted, so that
# one spelling is shown everywhere.
_ALIASES = {
    "rate": "fail_ratio",
    "http_req_failed": "fail_ratio",
    "fail_rate": "fail_ratio",
    "failure_ratio": "fail_ratio",
    "error_rate": "fail_ratio",
    "count": "requests",
    "http_reqs": "requests",
    "reqs": "requests",
    "num_requests": "requests",
    "num_failures": "failures",
    "errors": "failures",
    "dropped_iterations": "dropped",
    "median": "med",
    "mean": "avg",
    "average": "avg",
    "value": "avg",
}
_SUGGESTIONS = ("p95", "p(95)", "corrected_p95", *_NAMED)

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}
_COMPARISON = re.compile(r"^(?P<metric>.*?)(?P<op><=|>=|==|!=|=<|=>|<|>|=)(?P<number>.*)$", re.S)
_PERCENTILE = re.compile(
    r"^(?P<corrected>corrected_)?p(?:\((?P<paren>[^()]*)\)|(?P<bare>[0-9.]+))$"
)
_NUMBER = re.compile(
    r"^(?P<value>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<unit>ms|s)?$", re.I
)


@dataclass(frozen=True, slots=True)
class Threshold:
    """One parsed threshold (see the module docstring for the grammar).

    Attributes:
        expression: the text as given (stripped).
        row: the row as written, or None for the default (Aggregated, or the whole run
            for dropped/late).
        measure: what is measured.
        quantile: for percentiles, the quantile in [0, 1] (0.999 for p99.9); else None.
        metric: the metric as shown in results, e.g. "p99.9", "corrected p95", "avg".
        operator: "<", "<=", ">", ">=" or "==".
        limit: the number, in ms for latencies.
    """

    expression: str
    row: str | None
    measure: Measure
    quantile: float | None
    metric: str
    operator: str
    limit: float

    @property
    def unit(self) -> str:
        """ "ms" for latencies, "/s" for rps, "" otherwise."""
        if self.measure in _LATENCIES:
            return "ms"
        return "/s" if self.measure is Measure.RPS else ""

    def holds(self, value: float) -> bool:
        """Whether `value` is on the right side of the limit."""
        return _OPERATORS[self.operator](value, self.limit)


class _Malformed(ValueError):
    """A part of the expression does not parse (the message names the part)."""


def parse_threshold(text: str) -> Threshold:
    """Parse `[ROW:]METRIC OP NUMBER` (see the module docstring).

    Raises:
        ValueError: the text is not a threshold; the message names it and says what was
            expected, in one sentence.
    """
    expression = text.strip()
    if not expression:
        raise ValueError(
            "A threshold is empty; write [ROW:]METRIC OP NUMBER, e.g. 'p95<200' or "
            "'GET /api:fail_ratio<0.01'."
        )
    # The row may contain ':' itself: try the splits from the last ':' leftwards, and the
    # whole text as a row-less threshold last. The first error (the one for the text after
    # the last ':', the likely metric) is the one reported when nothing parses.
    first_error: _Malformed | None = None
    cuts = [i for i, char in enumerate(expression) if char == ":"]
    for cut in reversed(cuts):
        try:
            parsed = _parse_comparison(expression, expression[cut + 1 :])
        except _Malformed as exc:
            first_error = first_error or exc
            continue
        row = expression[:cut].strip()
        if not row:
            raise ValueError(
                f"Threshold {expression!r} has nothing before ':'; name a row, e.g. "
                f"'GET /api{expression[cut:]}', or drop the ':' for the Aggregated row."
            )
        if parsed.measure in _ROWLESS:
            raise ValueError(
                f"Threshold {expression!r} gives a row, but {parsed.metric} counts the "
                f"whole run's iterations; write {expression[cut + 1 :].strip()!r}."
            )
        return _with_row(parsed, row)
    try:
        return _parse_comparison(expression, expression)
    except _Malformed as exc:
        raise ValueError(str(first_error or exc)) from None


def _with_row(parsed: Threshold, row: str) -> Threshold:
    return Threshold(
        parsed.expression,
        None if row == AGGREGATED_NAME else row,
        parsed.measure,
        parsed.quantile,
        parsed.metric,
        parsed.operator,
        parsed.limit,
    )


def _parse_comparison(expression: str, part: str) -> Threshold:
    match = _COMPARISON.match(part.strip())
    if match is None:
        raise _Malformed(
            f"Threshold {expression!r} has no comparison; expected METRIC OP NUMBER with "
            "OP one of <, <=, >, >=, ==, e.g. 'p95<200'."
        )
    op = match["op"]
    if op not in _OPERATORS:
        hint = {"=": "==", "=<": "<=", "=>": ">="}.get(op)
        instead = f"; write {hint!r}" if hint else ""
        raise _Malformed(
            f"Threshold {expression!r} uses the operator {op!r}{instead} "
            "(expected one of <, <=, >, >=, ==)."
        )
    measure, quantile, shown = _parse_metric(expression, match["metric"].strip())
    limit = _parse_number(expression, match["number"].strip(), measure)
    return Threshold(expression, None, measure, quantile, shown, op, limit)


def _parse_metric(expression: str, text: str) -> tuple[Measure, float | None, str]:
    name = text.lower()
    if not name:
        raise _Malformed(
            f"Threshold {expression!r} has no metric before its operator; expected one of "
            f"{_EXPECTED_METRICS}."
        )
    named = _NAMED.get(name)
    if named is not None:
        return named, None, named.value
    match = _PERCENTILE.match(name)
    if match is not None:
        number = match["paren"] if match["paren"] is not None else match["bare"]
        quantile, digits = _percentile(expression, text, number.strip())
        if match["corrected"]:
            return Measure.CORRECTED_PERCENTILE, quantile, f"corrected p{digits}"
        return Measure.PERCENTILE, quantile, f"p{digits}"
    raise _Malformed(
        f"Threshold {expression!r} has an unknown metric {text!r}{_suggestion(name)}; "
        f"expected one of {_EXPECTED_METRICS}."
    )


def _percentile(expression: str, text: str, number: str) -> tuple[float, str]:
    try:
        value = Decimal(number)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or not 0 <= value <= 100:
        raise _Malformed(
            f"Threshold {expression!r} asks for the percentile {text!r}; expected a number "
            "from 0 to 100 after 'p', e.g. p95, p99.9 or p(99)."
        )
    # Decimal keeps p99.9 at exactly 0.999 (99.9 / 100 in floats is 0.9990000000000001).
    return float(value / 100), format(value.normalize(), "f")


def _suggestion(name: str) -> str:
    squeezed = re.sub(r"[\s-]+", "_", name)
    alias = _ALIASES.get(squeezed)
    if alias is not None:
        return f" (did you mean {alias!r}?)"
    for base in (squeezed.removesuffix("_corrected"), squeezed.removeprefix("corrected")):
        base = base.strip("_")
        if base != squeezed.strip("_") and (
            _PERCENTILE.match(base) or base in ("avg", "max", "med")
        ):
            return f" (did you mean {'corrected_' + base!r}?)"
    close = difflib.get_close_matches(squeezed, _SUGGESTIONS, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _parse_number(expression: str, text: str, measure: Measure) -> float:
    if not text:
        raise _Malformed(
            f"Threshold {expression!r} has no number after its operator; expected e.g. 'p95<200'."
        )
    match = _NUMBER.match(text)
    if match is None:
        raise _Malformed(
            f"Threshold {expression!r} compares with {text!r}, which is not a number; "
            "expected e.g. 200, 0.01, 200ms or 1.5s."
        )
    value = float(match["value"])
    if not math.isfinite(value):
        raise _Malformed(f"Threshold {expression!r} compares with {text!r}; give a finite number.")
    unit = (match["unit"] or "").lower()
    if unit and measure not in _LATENCIES:
        raise _Malformed(
            f"Threshold {expression!r} gives a time ({text!r}) but {measure.value} is not "
            "a latency; write a plain number."
        )
    return value * 1000.0 if unit == "s" else value


# ---- evaluation ----------------------------------------------------------------------------


def evaluate_thresholds(
    thresholds: Sequence[Threshold],
    collector: StatsCollector,
    snapshot: StatsSnapshot,
    now: float,
    previous: Sequence[ThresholdResult] = (),
) -> tuple[ThresholdResult, ...]:
    """Judge each threshold on the statistics so far.

    Args:
        thresholds: what to judge, in the order to report.
        collector: where exact percentiles at any quantile come from (in a master, the
            merged data).
        snapshot: the collector's snapshot at `now` (rows, counts, rates, arrivals).
        now: the time of this evaluation, epoch seconds (a breach seen now has it as its
            `first_breach`).
        previous: this evaluation's predecessor (same thresholds, same order), whose first
            breaches and abort marks are carried over; empty for the first.

    Returns:
        One result per threshold, in order.
    """
    rows = _Rows(snapshot)
    results: list[ThresholdResult] = []
    for index, threshold in enumerate(thresholds):
        before = previous[index] if index < len(previous) else None
        row_shown, value, reason = _measure(threshold, collector, snapshot, rows)
        passed = value is not None and threshold.holds(value)
        first_breach = before.first_breach if before is not None else None
        if first_breach is None and value is not None and not passed:
            first_breach = now
        results.append(
            ThresholdResult(
                expression=threshold.expression,
                row=row_shown,
                metric=threshold.metric,
                operator=threshold.operator,
                limit=threshold.limit,
                value=value,
                passed=passed,
                first_breach=first_breach,
                aborted=before.aborted if before is not None else False,
                unit=threshold.unit,
                reason=reason if value is None else "",
            )
        )
    return tuple(results)


class _Rows:
    """A snapshot's rows found by (method, name) and by name alone."""

    def __init__(self, snapshot: StatsSnapshot) -> None:
        self.total = snapshot.total
        self.by_key = {(row.method, row.name): row for row in snapshot.rows}
        self.by_name: dict[str, list[RowSnapshot]] = {}
        for row in snapshot.rows:
            self.by_name.setdefault(row.name, []).append(row)

    def find(self, written: str | None) -> tuple[RowSnapshot | None, str]:
        """The row a threshold names, or None with the reason."""
        if written is None:
            return self.total, ""
        named = self.by_name.get(written, [])
        if len(named) == 1:
            return named[0], ""
        if named:
            methods = ", ".join(sorted(row.method for row in named))
            return None, f"{written!r} names {len(named)} rows ({methods}); put the method first"
        method, _, name = written.partition(" ")
        row = self.by_key.get((method, name.strip()))
        if row is not None:
            return row, ""
        return None, f"no request named {written!r} ran"


def _measure(
    threshold: Threshold, collector: StatsCollector, snapshot: StatsSnapshot, rows: _Rows
) -> tuple[str, float | None, str]:
    """(row as shown, value or None, why None) for one threshold."""
    measure = threshold.measure
    if measure in _ROWLESS:
        arrivals = snapshot.arrivals
        if not arrivals.active:
            return "", None, "no arrival-rate schedule ran"
        return "", float(arrivals.dropped if measure is Measure.DROPPED else arrivals.late), ""
    row, reason = rows.find(threshold.row)
    if row is None:
        return threshold.row or AGGREGATED_NAME, None, reason
    shown = f"{row.method} {row.name}" if row.method else row.name
    value = _row_value(threshold, collector, row)
    if value is not None:
        return shown, value, ""
    if measure is Measure.FAIL_RATIO:
        return shown, None, "no requests"
    if measure.value.startswith("corrected_"):
        return (
            shown,
            None,
            "no request had an intended start, which needs an arrival rate or pacing",
        )
    return shown, None, "no successful response"


def _row_value(threshold: Threshold, collector: StatsCollector, row: RowSnapshot) -> float | None:
    measure = threshold.measure
    if threshold.quantile is not None:
        corrected = measure is Measure.CORRECTED_PERCENTILE
        return collector.percentile(row.method, row.name, threshold.quantile, corrected=corrected)
    if measure is Measure.FAIL_RATIO:
        return row.fail_ratio if row.num_requests else None
    if measure is Measure.FAILURES:
        return float(row.num_failures)
    if measure is Measure.REQUESTS:
        return float(row.num_requests)
    if measure is Measure.RPS:
        return row.total_rps
    return {
        Measure.AVG: row.avg_response_time,
        Measure.MIN: row.min_response_time,
        Measure.MAX: row.max_response_time,
        Measure.MED: row.median_response_time,
        Measure.CORRECTED_AVG: row.corrected_avg,
        Measure.CORRECTED_MAX: row.corrected_max,
        Measure.CORRECTED_MED: row.corrected_median,
    }[measure]
