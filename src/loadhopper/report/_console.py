"""The console tables: periodic stats, final summary, percentiles, errors and exceptions.

The layout follows Locust's (`Type | Name | # reqs | # fails(%) | Avg Min Max Med | rates`)
with two deliberate differences, both from reference/locust.md §5:

- The rate columns say which rate they hold. The periodic table shows *current* rates (the
  last 10 one-second windows) under `req/s (10s)`; the final summary shows whole-run averages
  under `req/s (run)`. Locust prints both under the same `req/s` header.
- Latencies are printed to 3 significant digits in milliseconds (`0.412`, `12.3`, `1234`),
  the precision the histograms guarantee, instead of Locust's rounded buckets that turn
  sub-millisecond responses into 0.

Both tables say when the load generator's event loop was blocked (a stall: blocking code in
a task), because the latencies measured meanwhile include the stall: the periodic table
adds a line for the stalls of its period, the final summary a "Generator health" section.
They also say when the generator itself was the bottleneck: above 90 % CPU, or its loop late
by more than 10 ms (`stats/_health.py`), with a line under the periodic table for the windows
of its period and the counts, peaks and bounds in the summary's section.

Under an open model (an arrival rate) both tables add an "Arrivals" line (iterations due,
started late and dropped: per second and counted) and, when the generator fell behind, a
one-line warning. Rows with samples that had an intended start get a second line in the
percentile table, "(corrected)": the latency from that intended start, which includes the
time the iteration waited (coordinated omission, reference/distributed.md §C2). The summary
opens with the load model when there is one and ends with the thresholds' verdicts. None of
these lines appear in a closed-model run without thresholds, whose tables stay as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from loadhopper.report._format import format_ms, format_rate, percentile_label, truncate_middle
from loadhopper.report._open_model import (
    RECENT_SECONDS,
    any_corrected,
    recent_arrivals,
    recent_seconds,
    shortfall_warning,
)
from loadhopper.report._run_info import RunInfo
from loadhopper.stats import ArrivalTotals, RowSnapshot, StatsSnapshot, ThresholdResult

__all__ = [
    "RateKind",
    "format_exceptions",
    "format_failures",
    "format_health",
    "format_percentiles_table",
    "format_stats_table",
    "format_summary",
    "format_thresholds",
    "threshold_value",
]

# The period the periodic table's stall line covers: the windows behind its current rates.
STALL_PERIOD_SECONDS = 10.0
_TYPE_WIDTH = 8
_MIN_NAME_WIDTH = 10
DEFAULT_NAME_WIDTH = 60
_CORRECTED_LABEL = "(corrected)"
_CORRECTED_NOTE = (
    "(corrected): from each iteration's intended start, so the time it waited for a free "
    "user counts (corrected for coordinated omission); # reqs: the samples that had one."
)


class RateKind(Enum):
    """Which request rate a stats table shows."""

    CURRENT = "current"  # the last (up to) 10 closed one-second windows
    TOTAL = "total"  # the average over the whole run so far


_RATE_HEADERS = {
    RateKind.CURRENT: ("req/s (10s)", "fail/s (10s)"),
    RateKind.TOTAL: ("req/s (run)", "fail/s (run)"),
}
_RATE_NOTES = {
    RateKind.CURRENT: "req/s (10s), fail/s (10s): over the last 10 seconds; "
    "latencies (ms, successful requests) since the start.",
    RateKind.TOTAL: "req/s (run), fail/s (run): averages over the whole run; "
    "latencies in ms, over successful requests.",
}


def _name_width(snapshot: StatsSnapshot, max_width: int) -> int:
    longest = max((len(row.name) for row in snapshot.rows), default=0)
    return max(_MIN_NAME_WIDTH, min(longest, max(max_width, _MIN_NAME_WIDTH)))


def _type_name(row: RowSnapshot, name_width: int) -> str:
    return f"{row.method:<{_TYPE_WIDTH}} {truncate_middle(row.name, name_width):<{name_width}}"


def _fails(row: RowSnapshot) -> str:
    ratio = 100.0 * row.num_failures / row.num_requests if row.num_requests else 0.0
    return f"{row.num_failures}({ratio:.2f}%)"


def _stats_line(row: RowSnapshot, name_width: int, rates: RateKind) -> str:
    if rates is RateKind.CURRENT:
        rps, fps = row.current_rps, row.current_fail_per_sec
    else:
        rps, fps = row.total_rps, row.total_fail_per_sec
    latencies = " ".join(
        f"{format_ms(value):>7}"
        for value in (
            row.avg_response_time,
            row.min_response_time,
            row.max_response_time,
            row.median_response_time,
        )
    )
    return (
        f"{_type_name(row, name_width)} {row.num_requests:>7} {_fails(row):>13} | "
        f"{latencies} | {format_rate(rps):>11} {format_rate(fps):>12}"
    )


def format_stats_table(
    snapshot: StatsSnapshot,
    *,
    rates: RateKind,
    max_name_width: int = DEFAULT_NAME_WIDTH,
    stall_period: float = STALL_PERIOD_SECONDS,
) -> str:
    """Format the per-request stats table with its Aggregated row.

    Args:
        snapshot: the stats to show.
        rates: `RateKind.CURRENT` for the periodic table, `RateKind.TOTAL` for the summary.
        max_name_width: names longer than this are shortened in the middle.
        stall_period: for `RateKind.CURRENT`, the seconds (back from the snapshot's end)
            whose event-loop stalls get a line under the table.

    Returns:
        The table as lines joined by newlines, ending with a note on what the rates mean
        (and, in the periodic table, a line when the event loop stalled in the period).
    """
    width = _name_width(snapshot, max_name_width)
    rps_header, fps_header = _RATE_HEADERS[rates]
    header = (
        f"{'Type':<{_TYPE_WIDTH}} {'Name':<{width}} {'# reqs':>7} {'# fails(%)':>13} | "
        f"{'Avg':>7} {'Min':>7} {'Max':>7} {'Med':>7} | {rps_header:>11} {fps_header:>12}"
    )
    # One "|" under each column gap, so that the rule lines up with the header.
    rule = "|".join("-" * n for n in (_TYPE_WIDTH, width, 7, 14, 8, 7, 7, 8, 12, 12))
    lines = [header, rule]
    lines.extend(_stats_line(row, width, rates) for row in snapshot.rows)
    lines.append(rule)
    lines.append(_stats_line(snapshot.total, width, rates))
    lines.append(_RATE_NOTES[rates])
    if snapshot.overflowed:
        lines.append(
            "The row limit was reached: further names are counted together in one row "
            "(raise it with --max-stats-rows)."
        )
    if snapshot.arrivals.active:
        lines.extend(_arrival_lines(snapshot, rates))
    if rates is RateKind.CURRENT:
        stall = _stall_line(snapshot, stall_period)
        if stall:
            lines.append(stall)
        busy = _busy_line(snapshot, stall_period)
        if busy:
            lines.append(busy)
    return "\n".join(lines)


def _busy_line(snapshot: StatsSnapshot, period: float) -> str:
    since = snapshot.end_time - period
    health = snapshot.health
    recent = [p for p in snapshot.timeline if p.time > since and p.cpu_percent is not None]
    hot = [p.cpu_percent for p in recent if (p.cpu_percent or 0.0) > health.cpu_bound_percent]
    late = [p.loop_lag_ms for p in recent if (p.loop_lag_ms or 0.0) > health.lag_bound_ms]
    if not hot and not late:
        return ""
    causes = []
    if hot:
        causes.append(
            f"above {health.cpu_bound_percent:g} % CPU in {len(hot)} s (up to "
            f"{max(c or 0.0 for c in hot):.0f} %)"
        )
    if late:
        causes.append(
            f"its event loop more than {health.lag_bound_ms:g} ms late in {len(late)} s (up "
            f"to {max(lag or 0.0 for lag in late):.0f} ms)"
        )
    return (
        f"The generator was the bottleneck in the last {period:g} s: {' and '.join(causes)}; "
        "latencies then include its own delay (add --processes or reduce users)."
    )


def _counts(totals: ArrivalTotals, seconds: float) -> str:
    return (
        f"{totals.due:,} due ({format_rate(totals.due / seconds)}/s), "
        f"{totals.late:,} started late ({format_rate(totals.late / seconds)}/s), "
        f"{totals.dropped:,} dropped ({format_rate(totals.dropped / seconds)}/s)"
    )


def _arrival_lines(snapshot: StatsSnapshot, rates: RateKind) -> list[str]:
    # The periodic table's rates are over its last 10 seconds, like its req/s (10s); the
    # summary's over the whole run, like its req/s (run).
    total = snapshot.arrivals
    if rates is RateKind.CURRENT:
        recent = recent_arrivals(snapshot)
        lines = [
            f"Arrivals in the last {RECENT_SECONDS:g} s: "
            f"{_counts(recent, recent_seconds(snapshot))}; since the start: {total.due:,} due, "
            f"{total.late:,} started late, {total.dropped:,} dropped.",
            shortfall_warning(recent, when=f" in the last {RECENT_SECONDS:g} s"),
        ]
    else:
        seconds = max(snapshot.end_time - snapshot.start_time, 1e-9)
        lines = [f"Arrivals over the run: {_counts(total, seconds)}.", shortfall_warning(total)]
    return [line for line in lines if line]


def _stall_line(snapshot: StatsSnapshot, period: float) -> str:
    since = snapshot.end_time - period
    stalled = [p for p in snapshot.timeline if p.stalled_ms > 0 and p.time > since]
    if not stalled:
        return ""
    blocked = sum(p.stalled_ms for p in stalled)
    where = max(stalled, key=lambda p: p.stalled_ms).stall_site
    return (
        f"Latencies in the last {period:g} s include {blocked:,.0f} ms in which the event "
        f"loop was blocked at {where} (see the warning above)."
    )


def format_percentiles_table(
    snapshot: StatsSnapshot, *, max_name_width: int = DEFAULT_NAME_WIDTH
) -> str:
    """Format the "Response time percentiles" table: exact values, 3 significant digits, ms."""
    width = _name_width(snapshot, max_name_width)
    corrected = any_corrected(snapshot)
    if corrected:
        width = max(width, len(_CORRECTED_LABEL))
    labels = [percentile_label(p) for p in snapshot.percentiles]
    column = max([7, *(len(label) for label in labels)])
    header = (
        f"{'Type':<{_TYPE_WIDTH}} {'Name':<{width}} "
        + " ".join(f"{label:>{column}}" for label in labels)
        + f" {'# reqs':>7}"
    )
    rule = "|".join("-" * n for n in (_TYPE_WIDTH, width, *([column] * len(labels)), 7))

    def line(row: RowSnapshot) -> str:
        values = " ".join(f"{format_ms(value):>{column}}" for value in row.percentiles)
        text = f"{_type_name(row, width)} {values} {row.num_requests:>7}"
        if not row.corrected_count:
            return text
        # The corrected line sits right under its row, so the two read as a pair.
        fixed = " ".join(f"{format_ms(value):>{column}}" for value in row.corrected_percentiles)
        label = f"{'':<{_TYPE_WIDTH}} {_CORRECTED_LABEL:<{width}}"
        return f"{text}\n{label} {fixed} {row.corrected_count:>7}"

    lines = ["Response time percentiles (ms, successful requests, 3 significant digits)"]
    lines += [header, rule]
    lines.extend(line(row) for row in snapshot.rows)
    lines += [rule, line(snapshot.total)]
    if corrected:
        lines.append(_CORRECTED_NOTE)
    return "\n".join(lines)


def _counted_table(title: str, what: str, entries: Sequence[tuple[int, str]]) -> str:
    lines = [title, f"{'# occurrences':<20} {what}", "-" * 20 + "|" + "-" * 60]
    lines.extend(f"{count:<20} {text}" for count, text in entries)
    lines.append("-" * 20 + "|" + "-" * 60)
    return "\n".join(lines)


def format_failures(snapshot: StatsSnapshot) -> str:
    """Format the "Error report": failures grouped by method, name and error, most first.

    Returns:
        The table, or an empty string when nothing failed.
    """
    if not snapshot.failures:
        return ""
    entries = [(f.occurrences, f"{f.method} {f.name}: {f.error}") for f in snapshot.failures]
    return _counted_table("Error report", "Error", entries)


def format_exceptions(snapshot: StatsSnapshot) -> str:
    """Format the exceptions raised by user code (messages only; tracebacks go to the files).

    Returns:
        The table, or an empty string when user code raised nothing.
    """
    if not snapshot.exceptions:
        return ""
    entries = [
        (e.count, e.message.splitlines()[0] if e.message else "") for e in snapshot.exceptions
    ]
    return _counted_table("Exceptions", "Exception", entries)


def _busy_lines(snapshot: StatsSnapshot) -> list[str]:
    # The generator's CPU and loop lag over the run: said only when a window was above a
    # bound, since a healthy run's numbers need no comment.
    h = snapshot.health
    if not (h.hot_windows or h.lagging_windows):
        return []
    lines = []
    if h.hot_windows:
        lines.append(
            f"The generator was above {h.cpu_bound_percent:g} % CPU in {h.hot_windows} of "
            f"{h.measured_windows} one-second windows ({h.hot_seconds:.0f} s, peak "
            f"{h.cpu_peak_percent or 0.0:.0f} % of a core): the latencies measured then include "
            "its own queueing; add --processes or reduce users."
        )
    if h.lagging_windows:
        lines.append(
            f"Its event loop ran more than {h.lag_bound_ms:g} ms late in {h.lagging_windows} of "
            f"{h.measured_windows} one-second windows (up to {h.lag_max_ms or 0.0:.0f} ms; "
            f"mean {h.lag_mean_ms or 0.0:.1f} ms over the run): the latencies measured then are "
            "inflated by up to that."
        )
    shown = h.flagged[:_MAX_BUSY_WINDOWS]
    lines.append(f"{'At (s)':>8} {'CPU (%)':>8} {'lag (ms)':>9}")
    for w in shown:
        lines.append(
            f"{w.time - snapshot.start_time:>8.0f} {w.cpu_percent:>8.0f} {w.loop_lag_ms:>9.1f}"
        )
    if len(h.flagged) > len(shown):
        lines.append(f"(the first {len(shown)} such windows; the JSON summary lists more)")
    return lines


_MAX_BUSY_WINDOWS = 10  # windows listed one by one in the console's health section


def format_health(snapshot: StatsSnapshot) -> str:
    """Format the "Generator health" section: the generator's CPU and loop lag, the stalls.

    Returns:
        The section, or an empty string when the generator was never hot, late or stalled.
    """
    health = snapshot.health
    busy = _busy_lines(snapshot)
    if not health.stall_sites:
        return "\n".join(["Generator health", *busy]) if busy else ""
    count, windows = health.stall_count, health.stalled_windows
    lines = [
        "Generator health",
        *busy,
        f"The event loop stalled {count} {'time' if count == 1 else 'times'} for "
        f"{health.stalled_ms / 1000:.2f} s in total, in {windows} one-second "
        f"{'window' if windows == 1 else 'windows'}: the latencies measured in "
        f"{'it' if windows == 1 else 'them'} include the stalls. Run blocking calls with "
        "loadhopper.run_blocking(fn, *args).",
        f"{'# stalls':>8} {'total (ms)':>11} {'longest (ms)':>13}  Where",
        "-" * 8 + "|" + "-" * 12 + "|" + "-" * 14 + "|" + "-" * 40,
    ]
    for site in health.stall_sites:
        where = f"{site.location} in {site.function}()" if site.function else site.location
        lines.append(
            f"{site.count:>8} {format_ms(site.total_ms):>11} {format_ms(site.longest_ms):>13}"
            f"  {where}"
        )
    return "\n".join(lines)


def threshold_value(result: ThresholdResult) -> str:
    """A threshold's observed value with its unit: `212 ms`, `0.0125`, `98.20/s`, `3`."""
    value = result.value
    if value is None:
        return "no data"
    metric = result.metric.removeprefix("corrected ")
    if metric in _LATENCY_METRICS or (metric[:1] == "p" and metric[1:2].isdigit()):
        return f"{format_ms(value)} ms"
    if metric.endswith("rps") or metric.endswith("per_sec"):
        return f"{format_rate(value)}/s"
    if metric.endswith("ratio"):
        return f"{value:.4g}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:.4g}"


# Metrics measured in milliseconds besides the percentiles ("p95", "p99.9").
_LATENCY_METRICS = frozenset({"avg", "min", "max", "med", "median"})


def format_thresholds(results: Sequence[ThresholdResult], *, start_time: float) -> str:
    """Format the "Thresholds" table: each threshold's row, observed value and verdict.

    Args:
        results: the verdicts, in the order the thresholds were given.
        start_time: the run's start (epoch seconds), to say when a breach was first seen.

    Returns:
        The table ending with "N of M thresholds failed", or "" when there are none.
    """
    if not results:
        return ""
    cells = [
        (
            r.expression,
            r.row,
            threshold_value(r),
            "pass" if r.passed else "FAIL",
            "-" if r.first_breach is None else f"+{max(0.0, r.first_breach - start_time):.1f} s",
            "aborted the run" if r.aborted else "",
        )
        for r in results
    ]
    heads = ("Threshold", "Row", "Value", "Result", "First failed at")
    widths = [max(len(head), *(len(c[i]) for c in cells)) for i, head in enumerate(heads)]

    def line(columns: Sequence[str], note: str = "") -> str:
        text = " ".join(f"{col:<{w}}" for col, w in zip(columns, widths, strict=True))
        return f"{text} {note}".rstrip()

    rule = "|".join("-" * w for w in widths)
    failed = sum(not r.passed for r in results)
    lines = ["Thresholds", line(heads), rule]
    lines.extend(line(c[:5], c[5]) for c in cells)
    lines += [
        rule,
        f"{failed} of {len(results)} {'threshold' if len(results) == 1 else 'thresholds'} failed.",
    ]
    return "\n".join(lines)


def format_summary(
    snapshot: StatsSnapshot,
    *,
    max_name_width: int = DEFAULT_NAME_WIDTH,
    run: RunInfo | None = None,
) -> str:
    """Format the final summary: whole-run stats, percentiles, errors, exceptions, health.

    Args:
        snapshot: the stats to show.
        max_name_width: names longer than this are shortened in the middle.
        run: what the run was; its load model (when set) opens the summary and its
            thresholds' verdicts (when any) close it.
    """
    load_model = f"Load model: {run.load_model}" if run is not None and run.load_model else ""
    thresholds = (
        format_thresholds(run.thresholds, start_time=run.start_time) if run is not None else ""
    )
    parts = [
        load_model,
        format_stats_table(snapshot, rates=RateKind.TOTAL, max_name_width=max_name_width),
        format_percentiles_table(snapshot, max_name_width=max_name_width),
        format_failures(snapshot),
        format_exceptions(snapshot),
        format_health(snapshot),
        thresholds,
    ]
    return "\n\n".join(part for part in parts if part) + "\n"
