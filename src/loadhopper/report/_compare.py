"""Comparing two runs: two JSON summaries in, the change of every row and a CI verdict out.

Pure: `load_summary` reads a file that `--json-file` wrote (schema `loadhopper.summary/1`,
see `_json.py`) into a `RunSummary`, `compare_runs` pairs the rows of two summaries by
method and name, `format_comparison` prints the result (`_fail_on.py` judges
`--fail-on` conditions on it). No clock, no I/O beyond `load_summary`.

What is compared, per row and for the Aggregated row: requests per second over the whole
run (`total_rps`), the failure ratio, and each percentile that both files report. Higher
latency or failure ratio is worse; lower requests per second is worse. A change is
`new - base` (absolute) and `(new - base) / base` (relative; infinite when the base is 0
and the new value is not, undefined when a value is missing).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from loadhopper.report._format import format_ms
from loadhopper.report._json import SCHEMA

__all__ = [
    "Comparison",
    "Direction",
    "MetricChange",
    "RowComparison",
    "RowSummary",
    "RunSummary",
    "change_text",
    "compare_runs",
    "format_comparison",
    "glyphs_for",
    "load_summary",
    "mark_text",
    "parse_summary",
    "relative_text",
    "value_text",
]

AGGREGATED = "Aggregated"
_SCHEMA_FAMILY = SCHEMA.rsplit("/", 1)[0] + "/"  # "loadhopper.summary/"


# ---- the summaries ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowSummary:
    """One row of a summary, as far as comparing needs it (latencies in ms, None: none)."""

    method: str
    name: str
    num_requests: int
    fail_ratio: float
    rps: float
    avg: float | None
    min: float | None
    max: float | None
    med: float | None
    percentiles: Mapping[str, float | None]

    @property
    def label(self) -> str:
        """ "Aggregated", or "METHOD NAME"."""
        return self.name if self.method == "" else f"{self.method} {self.name}"


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A run's JSON summary, checked.

    Attributes:
        source: where it was read from (shown in the comparison).
        start: the run's start, ISO 8601 UTC; duration: its seconds; host: its -H.
        percentiles: the percentile keys every row has ("50", "99.9", ...).
        timeline: the per-second series (`t`, `rps`, `p50`, `p95`, `p99`, ...), when the
            file has a `timeline` section; None otherwise.
    """

    source: str
    start: str
    duration: float
    host: str
    percentiles: tuple[str, ...]
    aggregated: RowSummary
    rows: tuple[RowSummary, ...]
    timeline: Mapping[str, Any] | None = None


def _refuse(source: str, why: str) -> ValueError:
    return ValueError(
        f"{source} is not a loadhopper JSON summary ({why}); give files written by "
        "`--json-file` or `--json`."
    )


def load_summary(path: str | Path) -> RunSummary:
    """Read and check a JSON summary file.

    Raises:
        ValueError: the file cannot be read or is not a summary this version reads; the
            message is one sentence naming the file.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(
            f"Cannot read {source}: {exc.strerror or exc}; give the path of a JSON summary."
        ) from None
    except UnicodeDecodeError:
        raise _refuse(source, "it is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _refuse(source, f"not JSON: {exc.msg} at line {exc.lineno}") from None
    return parse_summary(data, source)


def parse_summary(data: object, source: str = "the summary") -> RunSummary:
    """Check decoded JSON as a summary (see `load_summary`)."""
    if not isinstance(data, dict):
        raise _refuse(source, "its top level is not an object")
    schema = data.get("schema")
    if not isinstance(schema, str) or not schema.startswith(_SCHEMA_FAMILY):
        raise _refuse(source, f"its schema is {schema!r}, not {SCHEMA!r}")
    if schema != SCHEMA:
        raise ValueError(
            f"{source} has the schema {schema!r}, which this loadhopper does not read "
            f"(it reads {SCHEMA!r}); compare it with the loadhopper version that wrote it."
        )
    try:
        keys = tuple(_strings(data["percentiles"]))
        run = data.get("run") or {}
        aggregated = _row_of(data["aggregated"], keys)
        rows = tuple(_row_of(row, keys) for row in _list(data["rows"]))
        timeline = data.get("timeline")
        return RunSummary(
            source=source,
            start=str(run.get("start", "")),
            duration=float(run.get("duration") or 0.0),
            host=str(run.get("host") or ""),
            percentiles=keys,
            aggregated=aggregated,
            rows=rows,
            timeline=timeline if isinstance(timeline, dict) else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise _refuse(source, what) from None


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("a list is expected where it has " + type(value).__name__)
    return value


def _strings(value: object) -> list[str]:
    items = _list(value)
    if not all(isinstance(item, str) for item in items):
        raise TypeError("its percentiles are not strings")
    return items


def _number(value: object, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{field} is not a number")
    if not math.isfinite(value):
        raise ValueError(f"{field} is {value}, not a finite number")
    return float(value)


def _row_of(raw: object, keys: tuple[str, ...]) -> RowSummary:
    if not isinstance(raw, dict):
        raise TypeError("a row is not an object")
    percentiles = raw["percentiles"]
    if not isinstance(percentiles, dict):
        raise TypeError("a row's percentiles are not an object")
    return RowSummary(
        method=str(raw["method"]),
        name=str(raw["name"]),
        num_requests=int(_number(raw["num_requests"], "num_requests") or 0),
        fail_ratio=_number(raw["fail_ratio"], "fail_ratio") or 0.0,
        rps=_number(raw["total_rps"], "total_rps") or 0.0,
        avg=_number(raw.get("avg_response_time"), "avg_response_time"),
        min=_number(raw.get("min_response_time"), "min_response_time"),
        max=_number(raw.get("max_response_time"), "max_response_time"),
        med=_number(raw.get("median_response_time"), "median_response_time"),
        percentiles={key: _number(percentiles[key], f"p{key}") for key in keys},
    )


# ---- the comparison ---------------------------------------------------------------------


class Direction(Enum):
    """Which way a change goes for the one who runs the test."""

    WORSE = "worse"
    BETTER = "better"
    SAME = "same"
    UNKNOWN = "unknown"  # a value is missing on one side


@dataclass(frozen=True, slots=True)
class MetricChange:
    """One metric of one row, base -> new.

    Attributes:
        metric: "rps", "fail_ratio" or a percentile "p95".
        unit: "ms", "/s" or "" (for showing the numbers).
        base, new: the values (None: not measured, e.g. no successful request).
        higher_is_worse: False for rps.
    """

    metric: str
    unit: str
    base: float | None
    new: float | None
    higher_is_worse: bool = True

    @property
    def absolute(self) -> float | None:
        """`new - base`, None when either is missing."""
        if self.base is None or self.new is None:
            return None
        return self.new - self.base

    @property
    def relative(self) -> float | None:
        """`(new - base) / base` as a fraction; +-inf when base is 0 and new is not."""
        change = self.absolute
        if change is None or self.base is None:
            return None
        if self.base == 0:
            return 0.0 if change == 0 else math.copysign(math.inf, change)
        return change / abs(self.base)

    @property
    def direction(self) -> Direction:
        """Worse, better, the same, or unknown (a missing value)."""
        change = self.absolute
        if change is None:
            return Direction.UNKNOWN
        if change == 0:
            return Direction.SAME
        return Direction.WORSE if (change > 0) == self.higher_is_worse else Direction.BETTER


@dataclass(frozen=True, slots=True)
class RowComparison:
    """A row present in both runs, and its metrics' changes (rps, fail_ratio, pNN...)."""

    label: str
    base: RowSummary
    new: RowSummary
    changes: tuple[MetricChange, ...]


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two runs side by side: the Aggregated row, the common rows, and the unmatched ones."""

    base: RunSummary
    new: RunSummary
    percentiles: tuple[str, ...]
    aggregated: RowComparison
    rows: tuple[RowComparison, ...]
    added: tuple[RowSummary, ...]  # only in the new run
    removed: tuple[RowSummary, ...]  # only in the base run


def _changes(base: RowSummary, new: RowSummary, keys: Sequence[str]) -> tuple[MetricChange, ...]:
    return (
        MetricChange("rps", "/s", base.rps, new.rps, higher_is_worse=False),
        MetricChange("fail_ratio", "", base.fail_ratio, new.fail_ratio),
        *(MetricChange(f"p{k}", "ms", base.percentiles[k], new.percentiles[k]) for k in keys),
    )


def compare_runs(base: RunSummary, new: RunSummary) -> Comparison:
    """Pair the rows of two summaries by (method, name) and compute every change."""
    common = set(new.percentiles)
    keys = tuple(k for k in base.percentiles if k in common)
    new_rows = {(r.method, r.name): r for r in new.rows}
    base_keys = {(r.method, r.name) for r in base.rows}
    pairs = [(r, new_rows[(r.method, r.name)]) for r in base.rows if (r.method, r.name) in new_rows]
    return Comparison(
        base=base,
        new=new,
        percentiles=keys,
        aggregated=RowComparison(
            AGGREGATED,
            base.aggregated,
            new.aggregated,
            _changes(base.aggregated, new.aggregated, keys),
        ),
        rows=tuple(RowComparison(b.label, b, n, _changes(b, n, keys)) for b, n in pairs),
        added=tuple(r for r in new.rows if (r.method, r.name) not in base_keys),
        removed=tuple(r for r in base.rows if (r.method, r.name) not in new_rows),
    )


# ---- text -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Glyphs:
    arrow: str
    up: str
    down: str


_UNICODE = _Glyphs(arrow="→", up="▲", down="▼")
_ASCII = _Glyphs(arrow="->", up="^", down="v")


def glyphs_for(encoding: str | None) -> bool:
    """Whether text in `encoding` can carry the arrows (a pipe in a C locale cannot)."""
    try:
        "".join((_UNICODE.arrow, _UNICODE.up, _UNICODE.down)).encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def value_text(value: float | None, unit: str) -> str:
    """A value as the comparison shows it: "12.3 ms", "101.25/s", "0.0100", "-"."""
    if value is None:
        return "-"
    if unit == "ms":
        return f"{format_ms(value)} ms"
    if unit == "/s":
        return f"{value:.2f}/s"
    return f"{value:.4f}"


def change_text(change: MetricChange) -> str:
    """The absolute change with its sign: "+2.10 ms", "-50.00/s", "+0.0100", "0", "" (unknown)."""
    absolute = change.absolute
    if absolute is None:
        return ""
    if absolute == 0:
        return "0"
    return ("+" if absolute > 0 else "-") + value_text(abs(absolute), change.unit)


def relative_text(change: MetricChange) -> str:
    """The relative change: "+12.3%", "-50.0%", "from 0" (a zero base), "" if unknown."""
    relative = change.relative
    if relative is None:
        return ""
    if math.isinf(relative):
        return "from 0"
    return f"{relative * 100:+.1f}%"


def mark_text(change: MetricChange, *, unicode: bool = True) -> str:
    """ "▲ worse", "▼ better", "=" or "" (unknown); ASCII arrows when `unicode` is False."""
    glyphs = _UNICODE if unicode else _ASCII
    direction = change.direction
    if direction is Direction.SAME:
        return "="
    if direction is Direction.UNKNOWN:
        return ""
    absolute = change.absolute or 0.0
    return f"{glyphs.up if absolute > 0 else glyphs.down} {direction.value}"


def _table(lines: list[list[str]], right: frozenset[int]) -> list[str]:
    widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]
    out = []
    for row in lines:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
    return out


def _row_block(row: RowComparison, unicode: bool) -> list[str]:
    arrow = (_UNICODE if unicode else _ASCII).arrow
    lines = [["", "base", "", "new", "change", "relative", ""]]
    for c in row.changes:
        lines.append(
            [
                c.metric,
                value_text(c.base, c.unit),
                arrow,
                value_text(c.new, c.unit),
                change_text(c),
                relative_text(c),
                mark_text(c, unicode=unicode),
            ]
        )
    requests = f"{row.base.num_requests} {arrow} {row.new.num_requests} requests"
    return [
        f"{row.label}  ({requests})",
        *("  " + line for line in _table(lines, frozenset({1, 3, 4, 5}))),
    ]


def _run_line(word: str, run: RunSummary) -> str:
    host = f", {run.host}" if run.host else ""
    return f"{word}: {run.source} ({run.start or 'unknown start'}, {run.duration:.1f} s{host})"


def format_comparison(comparison: Comparison, *, unicode: bool = True) -> str:
    """The comparison as text: the two runs, the Aggregated row, each common row, then the
    rows only one run has; `unicode=False` draws the arrows in ASCII."""
    out = [_run_line("base", comparison.base), _run_line("new ", comparison.new), ""]
    out += _row_block(comparison.aggregated, unicode)
    for row in comparison.rows:
        out += ["", *_row_block(row, unicode)]
    for word, rows in (
        ("added (only in new)", comparison.added),
        ("removed (only in base)", comparison.removed),
    ):
        if rows:
            out += ["", f"Rows {word}:"]
            out += [f"  {r.label}  ({r.num_requests} requests, {r.rps:.2f}/s)" for r in rows]
    missing = sorted(set(comparison.base.percentiles) ^ set(comparison.new.percentiles), key=float)
    if missing:
        out += [
            "",
            "Percentiles only one file has (not compared): " + ", ".join(f"p{k}" for k in missing),
        ]
    return "\n".join(out) + "\n"
