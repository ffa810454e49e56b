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
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from loadhopper.report._format import format_ms, format_rate, percentile_label, truncate_middle
from loadhopper.stats import RowSnapshot, StatsSnapshot

__all__ = [
    "RateKind",
    "format_exceptions",
    "format_failures",
    "format_health",
    "format_percentiles_table",
    "format_stats_table",
    "format_summary",
]

# The period the periodic table's stall line covers: the windows behind its current rates.
STALL_PERIOD_SECONDS = 10.0
_TYPE_WIDTH = 8
_MIN_NAME_WIDTH = 10
DEFAULT_NAME_WIDTH = 60


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
    if rates is RateKind.CURRENT:
        stall = _stall_line(snapshot, stall_period)
        if stall:
            lines.append(stall)
    return "\n".join(lines)


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
        return f"{_type_name(row, width)} {values} {row.num_requests:>7}"

    lines = ["Response time percentiles (ms, successful requests, 3 significant digits)"]
    lines += [header, rule]
    lines.extend(line(row) for row in snapshot.rows)
    lines += [rule, line(snapshot.total)]
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


def format_health(snapshot: StatsSnapshot) -> str:
    """Format the "Generator health" section: the event loop's stalls, by call site.

    Returns:
        The section, or an empty string when the loop never stalled.
    """
    health = snapshot.health
    if not health.stall_sites:
        return ""
    count, windows = health.stall_count, health.stalled_windows
    lines = [
        "Generator health",
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


def format_summary(snapshot: StatsSnapshot, *, max_name_width: int = DEFAULT_NAME_WIDTH) -> str:
    """Format the final summary: whole-run stats, percentiles, errors, exceptions, health."""
    parts = [
        format_stats_table(snapshot, rates=RateKind.TOTAL, max_name_width=max_name_width),
        format_percentiles_table(snapshot, max_name_width=max_name_width),
        format_failures(snapshot),
        format_exceptions(snapshot),
        format_health(snapshot),
    ]
    return "\n\n".join(part for part in parts if part) + "\n"
