"""The comparison as one self-contained HTML page (`loadhopper compare --html FILE`).

As the run report (`_html.py`), the page opens with no network: plotly.js is inlined from
the installed `plotly` package, and the charts' data sit in a JSON script element escaped
so that no row name can end it. The charts overlay the two runs: the Aggregated row's
percentile spectrum, requests per second and p95 per row (the rows with the most requests
first, capped), and, when both summaries carry a `timeline` section, requests per second
and p50/p95/p99 over the seconds since each run's start. The table below is the text
comparison's, with worse changes in red and better ones in green.
"""

from __future__ import annotations

import html
import os
import string
from collections.abc import Mapping, Sequence
from typing import Any

from loadhopper.report._compare import (
    Comparison,
    Direction,
    MetricChange,
    RowComparison,
    RowSummary,
    change_text,
    mark_text,
    relative_text,
    value_text,
)
from loadhopper.report._fail_on import FailOnResult
from loadhopper.report._files import replace_file
from loadhopper.report._html import _plotly_js, script_json

__all__ = ["MAX_CHART_ROWS", "render_comparison_html", "write_comparison_html"]

# Bars for more rows than this are unreadable; the table below holds every row.
MAX_CHART_ROWS = 40
# The timeline series a chart overlays, as `_html.py`'s timeline payload names them.
_SERIES = ("rps", "fail_per_sec", "p50", "p95", "p99", "users")

_PAGE = string.Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>loadhopper comparison</title>
<style>
:root { --fg: #1f2933; --muted: #616e7c; --line: #d9e2ec; --band: #f5f7fa;
        --bad: #b42318; --good: #1e7a3c; }
body { margin: 0; color: var(--fg); font: 14px/1.45 system-ui, -apple-system, sans-serif; }
header { padding: 20px 32px 14px; border-bottom: 1px solid var(--line); background: var(--band); }
header h1 { margin: 0 0 6px; font-size: 22px; font-weight: 600; }
header p { margin: 2px 0; color: var(--muted); }
header b { color: var(--fg); }
main { padding: 8px 32px 32px; max-width: 1600px; }
h2 { font-size: 17px; font-weight: 600; margin: 24px 0 8px; }
p.note { color: var(--muted); font-size: 13px; margin: 6px 0; }
.chart { width: 100%; height: 340px; margin-bottom: 12px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: right;
         font-variant-numeric: tabular-nums; white-space: nowrap; }
th { background: var(--band); font-weight: 600; }
td.row { text-align: left; white-space: normal; word-break: break-all; font-weight: 600; }
td.metric { text-align: left; }
tr.worse td.mark, tr.worse td.change { color: var(--bad); font-weight: 600; }
tr.better td.mark, tr.better td.change { color: var(--good); }
p.fail { color: var(--bad); font-weight: 600; } p.pass { color: var(--good); font-weight: 600; }
ul { margin: 4px 0; }
</style>
</head>
<body>
<header>
<h1>loadhopper comparison</h1>
<p><b>base</b> $base</p>
<p><b>new</b> $new</p>
$verdict
</header>
<main>
<h2>Charts</h2>
<p class="note">Base dashed, new solid. Drag to zoom, double-click to reset.</p>
<h3>Aggregated response time percentiles</h3><div class="chart" id="lh-cmp-spectrum"></div>
<h3>Requests per second per row</h3><div class="chart" id="lh-cmp-rps"></div>
<h3>$row_metric per row</h3><div class="chart" id="lh-cmp-latency"></div>
$timeline_charts
<h2>Changes</h2>
$table
$unmatched
</main>
<script>
$plotly_js
</script>
<script type="application/json" id="lh-cmp-data">$data</script>
<script>
(function () {
  "use strict";
  var d = JSON.parse(document.getElementById("lh-cmp-data").textContent);
  if (typeof Plotly === "undefined") { return; }
  var config = {responsive: true, displaylogo: false};
  var colors = {base: "#8a94a6", new: "#2f6f9f"};
  function layout(x, y, extra) {
    var l = {margin: {l: 64, r: 24, t: 24, b: 64}, hovermode: "x unified",
             legend: {orientation: "h", x: 0, y: 1.15}, xaxis: {title: {text: x}},
             yaxis: {title: {text: y}, rangemode: "tozero"},
             font: {family: "system-ui, sans-serif", size: 12}};
    Object.keys(extra || {}).forEach(function (k) { l[k] = extra[k]; });
    return l;
  }
  function line(name, x, y, color, dash) {
    return {x: x, y: y, name: name, type: "scatter", mode: "lines+markers",
            line: {color: color, width: 1.8, dash: dash || "solid"}, connectgaps: false};
  }
  function bars(name, x, y, color) {
    return {x: x, y: y, name: name, type: "bar", marker: {color: color}};
  }
  Plotly.newPlot("lh-cmp-spectrum", [
    line("base", d.spectrum.labels, d.spectrum.base, colors.base, "dash"),
    line("new", d.spectrum.labels, d.spectrum.new, colors.new)
  ], layout("percentile", "response time (ms)", {yaxis: {title: {text: "response time (ms)"},
    type: "log"}}), config);
  var grouped = {barmode: "group"};
  Plotly.newPlot("lh-cmp-rps", [bars("base", d.rows.labels, d.rows.base_rps, colors.base),
    bars("new", d.rows.labels, d.rows.new_rps, colors.new)],
    layout("row", "requests/s", grouped), config);
  Plotly.newPlot("lh-cmp-latency", [bars("base", d.rows.labels, d.rows.base_latency, colors.base),
    bars("new", d.rows.labels, d.rows.new_latency, colors.new)],
    layout("row", "ms", grouped), config);
  if (d.timeline) {
    var b = d.timeline.base, n = d.timeline.new;
    Plotly.newPlot("lh-cmp-t-rps", [line("base requests/s", b.t, b.rps, colors.base, "dash"),
      line("new requests/s", n.t, n.rps, colors.new)],
      layout("seconds since start", "requests/s"), config);
    var latency = [];
    [["p50", "#3f8f5f"], ["p95", "#d08a1a"], ["p99", "#b42318"]].forEach(function (s) {
      if (b[s[0]]) { latency.push(line("base " + s[0], b.t, b[s[0]], s[1], "dash")); }
      if (n[s[0]]) { latency.push(line("new " + s[0], n.t, n[s[0]], s[1])); }
    });
    Plotly.newPlot("lh-cmp-t-latency", latency, layout("seconds since start", "ms"), config);
  }
})();
</script>
</body>
</html>
""")


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _run_line(source: str, start: str, duration: float, host: str) -> str:
    parts = [source, start or "unknown start", f"{duration:.1f} s"] + ([host] if host else [])
    return _esc(" · ".join(parts))


def _row_metric(comparison: Comparison) -> str:
    # p95 is what most gates watch (k6's default summary shows it); else the highest kept.
    keys = [k for k in comparison.percentiles if k != "100"] or list(comparison.percentiles)
    return "p95" if "95" in keys else (f"p{keys[-1]}" if keys else "")


def _chart_rows(comparison: Comparison) -> Sequence[RowComparison]:
    return sorted(comparison.rows, key=lambda r: -(r.base.num_requests + r.new.num_requests))[
        :MAX_CHART_ROWS
    ]


def _change(row: RowComparison, metric: str) -> MetricChange | None:
    return next((c for c in row.changes if c.metric == metric), None)


def _timeline(series: Mapping[str, Any] | None) -> dict[str, Any] | None:
    # Only what a chart draws, and only lists of numbers: the file is not trusted to be ours.
    if series is None or not isinstance(series.get("t"), list) or not series["t"]:
        return None  # no section, or a run shorter than one window: nothing to draw
    kept: dict[str, Any] = {"t": [v for v in series["t"] if _is_number(v)]}
    for name in _SERIES:
        values = series.get(name)
        if isinstance(values, list) and len(values) == len(series["t"]):
            kept[name] = [v if _is_number(v) else None for v in values]
    return kept


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _data(comparison: Comparison) -> dict[str, Any]:
    keys = comparison.percentiles
    rows = _chart_rows(comparison)
    metric = _row_metric(comparison)
    data: dict[str, Any] = {
        "spectrum": {
            "labels": [f"p{k}" for k in keys],
            "base": [comparison.base.aggregated.percentiles[k] for k in keys],
            "new": [comparison.new.aggregated.percentiles[k] for k in keys],
        },
        "rows": {
            "labels": [r.label for r in rows],
            "base_rps": [r.base.rps for r in rows],
            "new_rps": [r.new.rps for r in rows],
            "base_latency": [(c.base if (c := _change(r, metric)) else None) for r in rows],
            "new_latency": [(c.new if (c := _change(r, metric)) else None) for r in rows],
        },
    }
    base, new = _timeline(comparison.base.timeline), _timeline(comparison.new.timeline)
    if base is not None and new is not None:
        data["timeline"] = {"base": base, "new": new}
    return data


def _table(comparison: Comparison) -> str:
    head = (
        "<tr><th>Row</th><th>Metric</th><th>Base</th><th>New</th><th>Change</th>"
        "<th>Relative</th><th></th></tr>"
    )
    body: list[str] = []
    for row in (comparison.aggregated, *comparison.rows):
        for index, change in enumerate(row.changes):
            name = (
                f'<td class="row" rowspan="{len(row.changes)}">{_esc(row.label)}</td>'
                if index == 0
                else ""
            )
            direction = change.direction
            css = direction.value if direction in (Direction.WORSE, Direction.BETTER) else ""
            mark = mark_text(change)
            body.append(
                f'<tr class="{css}">{name}<td class="metric">{_esc(change.metric)}</td>'
                f"<td>{_esc(value_text(change.base, change.unit))}</td>"
                f"<td>{_esc(value_text(change.new, change.unit))}</td>"
                f'<td class="change">{_esc(change_text(change))}</td>'
                f'<td class="change">{_esc(relative_text(change))}</td>'
                f'<td class="mark">{_esc(mark)}</td></tr>'
            )
    return f'<table id="lh-cmp-table"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def _unmatched(title: str, rows: Sequence[RowSummary]) -> str:
    if not rows:
        return ""
    items = "".join(
        f"<li>{_esc(r.label)} ({r.num_requests} requests, {r.rps:.2f}/s)</li>" for r in rows
    )
    return f"<h2>{_esc(title)}</h2><ul>{items}</ul>"


def _verdict(results: Sequence[FailOnResult]) -> str:
    if not results:
        return ""
    failed = [r for r in results if r.holds]
    if not failed:
        return f'<p class="pass">None of the {len(results)} --fail-on conditions holds.</p>'
    lines = "".join(f'<p class="fail">{_esc(r.text)}</p>' for r in failed)
    return lines


def render_comparison_html(comparison: Comparison, results: Sequence[FailOnResult] = ()) -> str:
    """The comparison as one HTML page (see the module docstring).

    Args:
        comparison: the two runs, compared.
        results: the `--fail-on` verdicts, shown under the title when given.

    Raises:
        LoadhopperError: the `plotly` package is not installed.
    """
    base, new = comparison.base, comparison.new
    timeline = ""
    if "timeline" in (data := _data(comparison)):
        timeline = (
            '<h3>Requests per second over time</h3><div class="chart" id="lh-cmp-t-rps"></div>'
            '<h3>Response times over time</h3><div class="chart" id="lh-cmp-t-latency"></div>'
        )
    else:
        timeline = (
            '<p class="note">No charts over time: the summaries have no per-second '
            "timeline section.</p>"
        )
    return _PAGE.substitute(
        base=_run_line(base.source, base.start, base.duration, base.host),
        new=_run_line(new.source, new.start, new.duration, new.host),
        verdict=_verdict(results),
        row_metric=_esc(_row_metric(comparison) or "latency"),
        timeline_charts=timeline,
        table=_table(comparison),
        unmatched=_unmatched("Rows only in the new run (added)", comparison.added)
        + _unmatched("Rows only in the base run (removed)", comparison.removed),
        plotly_js=_plotly_js(),
        data=script_json(data),
    )


def write_comparison_html(
    path: str | os.PathLike[str], comparison: Comparison, results: Sequence[FailOnResult] = ()
) -> None:
    """Write `render_comparison_html(...)` to `path`, replacing it whole (see `replace_file`).

    Raises:
        LoadhopperError: the `plotly` package is not installed.
        OSError: the file could not be written.
    """
    replace_file(path, render_comparison_html(comparison, results))
