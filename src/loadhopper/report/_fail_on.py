"""`--fail-on`: conditions on the change between two runs, for a CI exit code.

Pure, over a `Comparison` (`_compare.py`).

`--fail-on` grammar (a threshold's metric names, with a signed change instead of a limit)::

    [ROW:]METRIC OP SIGNED_CHANGE[%|ms|s]

    ROW     as in thresholds: "Aggregated" (the default), a name, or "METHOD NAME"; split
            at the last ':' whose right side parses; "*" for every row both runs measured
            (it holds when it holds on one; the worst such row is shown)
    METRIC  pNN, p(NN) (a percentile both files report), avg, min, max, med (ms),
            fail_ratio (0..1), rps (requests per second)
    OP      <  <=  >  >=
    CHANGE  a sign then a number: "+10%" relative, "+5ms" / "+0.5s" absolute (latencies),
            a bare number absolute in the metric's unit ("fail_ratio>+0.01", "rps<-50")

A condition *holds* (the comparison fails) when the change is on the OP side of the number:
`p95>+10%` holds when p95 grew by more than 10 %. A condition that cannot be judged (the
row is missing from a file, a value is null) holds too, with its reason, as a threshold
without data fails: a gate that cannot see must not pass.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from loadhopper.report._compare import (
    AGGREGATED,
    Comparison,
    MetricChange,
    RowSummary,
    change_text,
    relative_text,
    value_text,
)
from loadhopper.report._format import percentile_key

__all__ = [
    "EVERY_ROW",
    "FailOn",
    "FailOnResult",
    "check_fail_on",
    "evaluate_fail_on",
    "format_fail_on",
    "parse_fail_on",
]

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_CONDITION = re.compile(
    r"^(?P<metric>[^<>=!]*?)\s*(?P<op><=|>=|<|>|==|=|!=)\s*(?P<change>.*)$", re.S
)
_CHANGE = re.compile(
    r"^(?P<sign>[+-])\s*(?P<value>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<unit>%|ms|s)?$",
    re.I,
)
_PERCENTILE = re.compile(r"^p(?:\((?P<paren>[^()]*)\)|(?P<bare>[0-9.]+))$", re.I)
# The threshold metric names that have a value in a summary (stats/_thresholds.py).
_LATENCY_FIELDS = ("avg", "min", "max", "med")
EVERY_ROW = "*"
_METRICS = "pNN, p(NN), avg, min, max, med, fail_ratio or rps"
_EXAMPLE = "e.g. 'p95>+10%', 'Aggregated:p99>+5ms', 'rps<-20%' or 'fail_ratio>+0.01'"


@dataclass(frozen=True, slots=True)
class FailOn:
    """One parsed `--fail-on` condition (see the module docstring).

    Attributes:
        expression: as written (stripped).
        row: the row as written, or None for Aggregated.
        metric: "p95", "p99.9", "avg", "fail_ratio", "rps", ...
        operator: "<", "<=", ">" or ">=".
        change: the signed number: a fraction when `relative` (0.1 for +10%), else in the
            metric's unit (ms for latencies).
        relative: True for a "%" change.
    """

    expression: str
    row: str | None
    metric: str
    operator: str
    change: float
    relative: bool

    @property
    def unit(self) -> str:
        """ "ms", "/s" or ""."""
        return "/s" if self.metric == "rps" else "" if self.metric == "fail_ratio" else "ms"


@dataclass(frozen=True, slots=True)
class FailOnResult:
    """A condition judged on a comparison: `holds` means the comparison fails."""

    condition: FailOn
    row: str
    change: MetricChange | None
    holds: bool
    reason: str = ""  # why it could not be judged (then it holds)
    others: int = 0  # for ROW "*": how many more rows it holds on

    @property
    def text(self) -> str:
        """One sentence saying what was seen."""
        c = self.condition
        if self.reason:
            return f"--fail-on {c.expression!r} holds: {self.reason}."
        if self.change is None:
            return f"--fail-on {c.expression!r} does not hold on {self.row}."
        seen = relative_text(self.change) if c.relative else change_text(self.change)
        verb = "holds" if self.holds else "does not hold"
        more = (
            f" (and {self.others} more row{'s' if self.others > 1 else ''})" if self.others else ""
        )
        return (
            f"--fail-on {c.expression!r} {verb} on {self.row}{more}: {c.metric} went from "
            f"{value_text(self.change.base, c.unit)} to {value_text(self.change.new, c.unit)} "
            f"({seen or 'no change'})."
        )


def parse_fail_on(text: str) -> FailOn:
    """Parse `[ROW:]METRIC OP SIGNED_CHANGE[%|ms|s]`.

    Raises:
        ValueError: the text is not a condition; one sentence naming it and the grammar.
    """
    expression = text.strip()
    cuts = [i for i, char in enumerate(expression) if char == ":"]
    first_error: ValueError | None = None
    for cut in [*reversed(cuts), -1]:
        try:
            parsed = _parse_condition(expression, expression[cut + 1 :])
        except ValueError as exc:
            first_error = first_error or exc
            continue
        row = expression[:cut].strip() if cut >= 0 else None
        if cut >= 0 and not row:
            raise ValueError(
                f"--fail-on {expression!r} has nothing before ':'; name a row or drop the ':'."
            )
        return FailOn(expression, None if row == AGGREGATED else row, *parsed)
    assert first_error is not None
    raise first_error


def _parse_condition(expression: str, part: str) -> tuple[str, str, float, bool]:
    match = _CONDITION.match(part.strip())
    if match is None or not match["metric"]:
        raise ValueError(
            f"--fail-on {expression!r} is not [ROW:]METRIC OP SIGNED_CHANGE; write {_EXAMPLE}."
        )
    if match["op"] not in _OPERATORS:
        raise ValueError(f"--fail-on {expression!r} uses {match['op']!r}; use one of <, <=, >, >=.")
    metric = _metric(expression, match["metric"].strip().lower())
    change = _CHANGE.match(match["change"].strip())
    if change is None:
        raise ValueError(
            f"--fail-on {expression!r} compares with {match['change'].strip()!r}; give a signed "
            f"change such as +10%, -20%, +5ms or +0.01 ({_EXAMPLE})."
        )
    value = float(change["value"]) * (-1.0 if change["sign"] == "-" else 1.0)
    unit = (change["unit"] or "").lower()
    if unit in ("ms", "s") and metric in ("rps", "fail_ratio"):
        raise ValueError(
            f"--fail-on {expression!r} gives a time but {metric} "
            "is not a latency; write a plain number or a %."
        )
    if unit == "%":
        return metric, match["op"], value / 100.0, True
    return metric, match["op"], value * 1000.0 if unit == "s" else value, False


def _metric(expression: str, name: str) -> str:
    if name in ("rps", "fail_ratio", *_LATENCY_FIELDS):
        return name
    match = _PERCENTILE.match(name)
    if match is not None:
        number = match["paren"] if match["paren"] is not None else match["bare"]
        try:
            value = Decimal(number.strip())
        except InvalidOperation:
            value = Decimal("NaN")
        if value.is_finite() and 0 <= value <= 100:
            return "p" + percentile_key(float(value / 100))
    raise ValueError(
        f"--fail-on {expression!r} has the unknown metric {name!r}; expected one of {_METRICS}."
    )


def _find(rows: Sequence[RowSummary], aggregated: RowSummary, row: str | None) -> RowSummary | None:
    if row is None:
        return aggregated
    exact = [r for r in rows if r.label == row]
    if exact:
        return exact[0]
    named = [r for r in rows if r.name == row]
    return named[0] if len(named) == 1 else None


def _change_of(condition: FailOn, base: RowSummary, new: RowSummary) -> MetricChange:
    metric = condition.metric
    if metric == "rps":
        return MetricChange(metric, "/s", base.rps, new.rps, higher_is_worse=False)
    if metric == "fail_ratio":
        return MetricChange(metric, "", base.fail_ratio, new.fail_ratio)
    if metric in _LATENCY_FIELDS:
        return MetricChange(metric, "ms", getattr(base, metric), getattr(new, metric))
    key = metric[1:]
    return MetricChange(metric, "ms", base.percentiles[key], new.percentiles[key])


def check_fail_on(conditions: Sequence[FailOn], comparison: Comparison) -> None:
    """Refuse conditions on a percentile that not both files report.

    Raises:
        ValueError: one sentence naming the condition and the percentiles there are.
    """
    for condition in conditions:
        if condition.metric.startswith("p") and condition.metric[1:] not in comparison.percentiles:
            there = ", ".join(f"p{k}" for k in comparison.percentiles) or "none"
            raise ValueError(
                f"--fail-on {condition.expression!r} asks for {condition.metric}, which not both "
                f"files report; use one of {there}."
            )


def evaluate_fail_on(
    conditions: Sequence[FailOn], comparison: Comparison
) -> tuple[FailOnResult, ...]:
    """Judge each condition on the comparison, in order (call `check_fail_on` first)."""
    results = []
    for condition in conditions:
        if condition.row == EVERY_ROW:
            results.append(_judge_every_row(condition, comparison))
            continue
        shown = condition.row or AGGREGATED
        base = _find(comparison.base.rows, comparison.base.aggregated, condition.row)
        new = _find(comparison.new.rows, comparison.new.aggregated, condition.row)
        if base is None or new is None:
            where = " and ".join(
                run.source
                for run, row in ((comparison.base, base), (comparison.new, new))
                if row is None
            )
            reason = f"no single row {shown!r} in {where}"
            results.append(FailOnResult(condition, shown, None, True, reason))
            continue
        results.append(_judge(condition, base, new))
    return tuple(results)


def _judge(condition: FailOn, base: RowSummary, new: RowSummary) -> FailOnResult:
    change = _change_of(condition, base, new)
    seen = _seen(condition, change)
    if seen is None:
        reason = f"{condition.metric} of {base.label} has no value in one of the files"
        return FailOnResult(condition, base.label, change, True, reason)
    return FailOnResult(
        condition, base.label, change, _OPERATORS[condition.operator](seen, condition.change)
    )


def _seen(condition: FailOn, change: MetricChange) -> float | None:
    return change.relative if condition.relative else change.absolute


def _judge_every_row(condition: FailOn, comparison: Comparison) -> FailOnResult:
    # Rows with no value on one side (no successful request) are skipped: "every row" means
    # the rows both runs measured; a row that lost all its successes shows in fail_ratio.
    judged = [_judge(condition, row.base, row.new) for row in comparison.rows]
    holding = [r for r in judged if r.holds and not r.reason]
    if not holding:
        measured = sum(1 for r in judged if not r.reason)
        return FailOnResult(condition, f"any of {measured} rows", None, False)
    # The worst row is the one furthest past the number, on the OP side.
    larger = condition.operator in (">", ">=")

    def past(result: FailOnResult) -> float:
        seen = _seen(condition, result.change) if result.change is not None else None
        return 0.0 if seen is None else seen

    worst = (max if larger else min)(holding, key=past)
    return FailOnResult(condition, worst.row, worst.change, True, others=len(holding) - 1)


def format_fail_on(results: Sequence[FailOnResult]) -> str:
    """One line per condition that holds, then a verdict line; "" without conditions."""
    if not results:
        return ""
    failed = [r for r in results if r.holds]
    lines = [r.text for r in failed]
    if failed:
        lines.append(
            f"{len(failed)} of {len(results)} --fail-on conditions hold: the new run regressed."
        )
    else:
        lines.append(f"None of the {len(results)} --fail-on conditions holds.")
    return "\n".join(lines) + "\n"
