"""The self-contained HTML report (`--html FILE` and the web UI's download link).

Locust's HTML report embeds every failure row, so a long run against a failing target can
produce a file of a gigabyte or more (reference/locust.md §4, Locust issues #1712 and #2328).
This report is one file that opens with no network and whose size is bounded whatever the
run: plotly.js, inlined from the installed `plotly` package (about 4.8 MB for plotly.js 4),
plus content in which every section has its own byte budget. Past a budget or a row cap, a
section stops and says how much it left out ("… and 812 more groups (40211 occurrences)").
The budgets below add up to about 1 MB, which keeps the whole file under `MAX_REPORT_BYTES`;
a test renders the worst case (every cap reached with hostile text) to hold that promise.

Everything that comes from user traffic or user code (names, errors, tracebacks, the
locustfile) is HTML-escaped, and the JSON behind the charts is escaped so that no string in
it can close its `<script>` element.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import string
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import TypeVar

from loadhopper._exceptions import LoadhopperError
from loadhopper.report._files import replace_file
from loadhopper.report._format import format_ms, format_rate, percentile_label, truncate_middle
from loadhopper.report._run_info import RunInfo
from loadhopper.report._spectrum import LatencySpectrum, spectrum_dict
from loadhopper.stats import (
    CPU_BOUND_PERCENT,
    LAG_BOUND_MS,
    ExceptionSnapshot,
    FailureSnapshot,
    RowSnapshot,
    StatsSnapshot,
    ThresholdResult,
    TimelinePoint,
)

__all__ = ["MAX_REPORT_BYTES", "render_html_report", "write_html_report"]

_T = TypeVar("_T")

MAX_REPORT_BYTES = 6_000_000  # the bound: "under 6 MB" whatever the run

# Row caps: enough to read, few enough to scroll. The CSV and JSON reports hold every row.
MAX_FAILURE_GROUPS = 200
MAX_EXCEPTION_GROUPS = 200
MAX_TIMELINE_POINTS = 3600  # the collector's own timeline capacity: one hour at 1 s
# Text caps, in characters, before escaping.
MAX_NAME_CHARS = 200
MAX_METHOD_CHARS = 24  # HTTP methods are short; custom request types may be a few words
MAX_MESSAGE_CHARS = 500
MAX_TRACEBACK_CHARS = 3000
MAX_PARAM_CHARS = 500

# Byte budgets (UTF-8, after escaping) per section. Escaping can grow text sixfold (`"` is
# `&quot;`), so caps in characters alone would not bound the file; these do.
_LOCUSTFILE_BUDGET = 48_000
_STATS_TABLE_BUDGET = 200_000
_PERCENTILES_TABLE_BUDGET = 200_000
_FAILURES_BUDGET = 100_000
_EXCEPTIONS_BUDGET = 128_000
_TIMELINE_BUDGET = 260_000
_CORRECTED_TABLE_BUDGET = 120_000
_THRESHOLDS_BUDGET = 32_000
MAX_THRESHOLDS = 200  # far more than anyone writes; a cap keeps the budget honest
MAX_EXPRESSION_CHARS = 300

# The one phrase that says what "corrected" means, everywhere the report uses the word.
CORRECTED_LABEL = "corrected for coordinated omission (from each iteration's intended start)"

# What a browser would otherwise read as the end of the <script> element (or the start of
# an HTML comment inside it, which changes how the element ends), and their JSON escapes.
_SCRIPT_BREAKERS = re.compile(r"<(?=/script|!--)", re.IGNORECASE)
_SCRIPT_JSON_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


# ---- assets ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    try:
        source = (resources.files("plotly") / "package_data" / "plotly.min.js").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise LoadhopperError(
            "The HTML report needs plotly.js from the `plotly` package, which is not "
            "installed; install it with `pip install plotly`."
        ) from exc
    return safe_inline_script(source)


@lru_cache(maxsize=1)
def _template() -> string.Template:
    text = (resources.files("loadhopper.report") / "_html_template.html").read_text("utf-8")
    return string.Template(text)


def safe_inline_script(source: str) -> str:
    """Make JavaScript safe to place between `<script>` and `</script>`.

    An HTML parser ends a script element at the first `</script` whatever the JavaScript
    means, and `<!--` changes that rule, so a backslash goes after their `<`: inside
    JavaScript strings and regular expressions, where these can occur, `\\/` means `/`.
    """
    return _SCRIPT_BREAKERS.sub("<\\\\", source)


def script_json(value: object) -> str:
    """JSON for a `<script type="application/json">` element that no string can break out of."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return text.translate(_SCRIPT_JSON_ESCAPES)


# ---- text helpers ---------------------------------------------------------------------


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _cap_end(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cap_middle(text: str, limit: int) -> str:
    """Keep the start and, mostly, the end of a long text (a traceback's last frames and its
    exception line say the most), with a note of how much was cut."""
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n… ({cut} characters cut) …\n{text[-tail:]}"


def _escaped_prefix(text: str, budget: int) -> tuple[str, int]:
    """The escaped form of the longest prefix of `text` that fits in `budget` bytes, and its
    length in characters. Escaped UTF-8 size only grows with the prefix, so bisect."""
    escaped = _esc(text)
    if _size(escaped) <= budget:
        return escaped, len(text)
    lo, hi = 0, min(len(text), budget)  # a prefix longer than the budget cannot fit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _size(_esc(text[:mid])) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return _esc(text[:lo]), lo


def _utc(epoch: float) -> str:
    try:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return str(epoch)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _take_within(
    items: Sequence[_T], render: Callable[[_T], str], *, max_items: int, budget: int
) -> list[str]:
    """Render items in order until `max_items` are shown or the next would pass `budget`."""
    out: list[str] = []
    used = 0
    for item in items[:max_items]:
        piece = render(item)
        used += _size(piece)
        if used > budget:
            break
        out.append(piece)
    return out


def _more_row(columns: int, text: str) -> str:
    return f'<tr class="more"><td colspan="{columns}">{_esc(text)}</td></tr>'


# ---- sections -------------------------------------------------------------------------


def _run_section(snapshot: StatsSnapshot, run: RunInfo) -> str:
    run_time = _duration(run.run_time) if run.run_time is not None else "none (until stopped)"
    params: list[tuple[str, str]] = [
        ("Host", run.host or "not set (each User class's own host)"),
        ("Locustfile", run.locustfile),
        ("Users", str(run.users)),
        ("Spawn rate", f"{run.spawn_rate:g} users/s"),
        ("Run time limit", run_time),
    ]
    if run.load_model:
        params.append(("Load model", run.load_model))
    params += [
        ("Start", f"{_utc(run.start_time)} UTC"),
        ("End", f"{_utc(run.end_time)} UTC"),
        ("Duration", _duration(run.duration)),
    ]
    # After --reset-stats (or a reset from the UI) the numbers cover less than the run.
    if abs(snapshot.start_time - run.start_time) >= 1.0:
        params.append(("Statistics since", f"{_utc(snapshot.start_time)} UTC"))
    params.append(("loadhopper version", run.version))
    rows = "".join(
        f"<tr><th>{_esc(key)}</th><td>{_esc(_cap_end(value, MAX_PARAM_CHARS))}</td></tr>"
        for key, value in params
    )
    return f'<section id="run"><h2>Run</h2><table class="params">{rows}</table></section>'


def _name_cells(row: RowSnapshot) -> str:
    name = _esc(truncate_middle(row.name, MAX_NAME_CHARS))
    method = _esc(_cap_end(row.method, MAX_METHOD_CHARS))
    return f'<td>{method}</td><td class="name">{name}</td>'


def _stats_row(row: RowSnapshot, css: str = "") -> str:
    numbers = (
        str(row.num_requests),
        str(row.num_failures),
        format_ms(row.median_response_time),
        format_ms(row.avg_response_time),
        format_ms(row.min_response_time),
        format_ms(row.max_response_time),
        f"{row.avg_content_length:.0f}",
        format_rate(row.total_rps),
        format_rate(row.total_fail_per_sec),
    )
    cells = "".join(f"<td>{value}</td>" for value in numbers)
    return f"<tr{css}>{_name_cells(row)}{cells}</tr>"


def _percentiles_row(row: RowSnapshot, css: str = "") -> str:
    cells = "".join(f"<td>{format_ms(value)}</td>" for value in row.percentiles)
    return f"<tr{css}>{_name_cells(row)}{cells}<td>{row.num_requests}</td></tr>"


def _rows_table(
    snapshot: StatsSnapshot,
    headers: Sequence[str],
    render: Callable[[RowSnapshot, str], str],
    budget: int,
) -> str:
    rows = snapshot.rows
    shown = _take_within(rows, lambda r: render(r, ""), max_items=len(rows), budget=budget)
    body = "".join(shown)
    left_out = len(rows) - len(shown)
    if left_out:
        body += _more_row(
            len(headers),
            f"… and {left_out} more rows, left out to keep this file small; "
            "the CSV and JSON reports list every row.",
        )
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    total = render(snapshot.total, ' class="total"')
    return (
        f'<div class="scroll"><table class="num"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}{total}</tbody></table></div>"
    )


def _stats_section(snapshot: StatsSnapshot) -> str:
    headers = (
        "Type", "Name", "# Requests", "# Fails", "Median (ms)", "Average (ms)", "Min (ms)",
        "Max (ms)", "Average size (bytes)", "RPS (run)", "Failures/s (run)",
    )  # fmt: skip
    notes = [
        "Latencies are over successful requests, exact to 3 significant digits; "
        "RPS and Failures/s are averages over the whole run."
    ]
    if snapshot.overflowed:
        notes.append(
            "The row limit was reached: requests to names seen after it are counted "
            "in the [other] rows."
        )
    note_html = "".join(f'<p class="note">{_esc(n)}</p>' for n in notes)
    table = _rows_table(snapshot, headers, _stats_row, _STATS_TABLE_BUDGET)
    return f'<section id="stats"><h2>Request statistics</h2>{note_html}{table}</section>'


def _percentiles_section(snapshot: StatsSnapshot) -> str:
    headers = ["Type", "Name", *(percentile_label(q) for q in snapshot.percentiles), "# Requests"]
    table = _rows_table(snapshot, headers, _percentiles_row, _PERCENTILES_TABLE_BUDGET)
    return (
        '<section id="percentiles"><h2>Response time percentiles (ms)</h2>'
        '<p class="note">Exact percentiles of successful requests, to 3 significant digits; '
        "100% is the maximum.</p>"
        f"{table}</section>"
    )


def _failure_row(failure: FailureSnapshot) -> str:
    name = _esc(truncate_middle(failure.name, MAX_NAME_CHARS))
    error = _esc(_cap_end(failure.error, MAX_MESSAGE_CHARS))
    method = _esc(_cap_end(failure.method, MAX_METHOD_CHARS))
    return (
        f'<tr><td class="n">{failure.occurrences}</td><td>{method}</td>'
        f'<td class="name">{name}</td><td class="error">{error}</td>'
        f"<td>{_utc(failure.first_seen)}</td><td>{_utc(failure.last_seen)}</td></tr>"
    )


def _exception_row(exception: ExceptionSnapshot) -> str:
    message = _esc(_cap_end(exception.message, MAX_MESSAGE_CHARS))
    traceback = _esc(_cap_middle(exception.traceback, MAX_TRACEBACK_CHARS))
    return (
        f'<tr><td class="n">{exception.count}</td><td class="error">{message}</td>'
        f"<td><pre>{traceback}</pre></td></tr>"
    )


def _grouped_section(
    section_id: str,
    title: str,
    headers: Sequence[str],
    rows: list[str],
    left_out: int,
    left_out_count: int,
    empty: str,
) -> str:
    if not rows and not left_out:
        return f'<section id="{section_id}"><h2>{title}</h2><p class="note">{empty}</p></section>'
    body = "".join(rows)
    if left_out:
        body += _more_row(
            len(headers), f"… and {left_out} more groups ({left_out_count} occurrences)"
        )
    head = "".join(
        f"<th{' class=n' if i == 0 else ''}>{_esc(h)}</th>" for i, h in enumerate(headers)
    )
    return (
        f'<section id="{section_id}"><h2>{title}</h2><div class="scroll"><table>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></section>"
    )


def _failures_section(snapshot: StatsSnapshot) -> str:
    failures = snapshot.failures
    rows = _take_within(
        failures, _failure_row, max_items=MAX_FAILURE_GROUPS, budget=_FAILURES_BUDGET
    )
    rest = failures[len(rows) :]
    headers = ("# Occurrences", "Method", "Name", "Error", "First seen (UTC)", "Last seen (UTC)")
    return _grouped_section(
        "failures", "Failures", headers, rows, len(rest), sum(f.occurrences for f in rest),
        "No failures.",
    )  # fmt: skip


def _exceptions_section(snapshot: StatsSnapshot) -> str:
    exceptions = snapshot.exceptions
    rows = _take_within(
        exceptions, _exception_row, max_items=MAX_EXCEPTION_GROUPS, budget=_EXCEPTIONS_BUDGET
    )
    rest = exceptions[len(rows) :]
    headers = ("Count", "Message", "Traceback")
    return _grouped_section(
        "exceptions", "Exceptions", headers, rows, len(rest), sum(e.count for e in rest),
        "No exceptions were raised in tasks.",
    )  # fmt: skip


def _health_section(snapshot: StatsSnapshot) -> str:
    # "Generator health": what the load generator itself did to the numbers: its CPU and
    # its loop's lag per second, and the event loop's stalls.
    health = snapshot.health
    busy = _busy_paragraphs(snapshot)
    if not health.stall_sites:
        return (
            f'<section id="health"><h2>Generator health</h2>{busy}<p class="note">The event '
            "loop was never blocked past the stall threshold: no latency includes a stall.</p>"
            "</section>"
        )
    count, windows = health.stall_count, health.stalled_windows
    words = (
        f"The load generator's event loop was blocked {count} "
        f"{'time' if count == 1 else 'times'} for {health.stalled_ms / 1000:.2f} s in total, "
        f"in {windows} one-second {'window' if windows == 1 else 'windows'}. Every user "
        "waited meanwhile, so the latencies measured in those windows include the stalls; "
        "they are shaded on the charts. Run blocking calls with "
        "loadhopper.run_blocking(fn, *args), or `await asyncio.to_thread(fn, *args)` in an "
        "async task."
    )
    rows = "".join(
        f"<tr><td>{_esc(_cap_middle(site.location, MAX_NAME_CHARS))}</td>"
        f"<td>{_esc(_cap_end(site.function, MAX_NAME_CHARS))}</td><td>{site.count}</td>"
        f"<td>{format_ms(site.total_ms)}</td><td>{format_ms(site.longest_ms)}</td></tr>"
        for site in health.stall_sites
    )
    head = "".join(
        f"<th>{h}</th>" for h in ("Where", "Function", "# Stalls", "Total (ms)", "Longest (ms)")
    )
    return (
        f'<section id="health"><h2>Generator health</h2>{busy}<p class="stall">{_esc(words)}</p>'
        f'<div class="scroll"><table class="num"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def _busy_paragraphs(snapshot: StatsSnapshot) -> str:
    # The CPU and lag in words, one paragraph each; a warning when a window was above a bound.
    h = snapshot.health
    if not h.measured:
        return (
            '<p class="note">The generator\'s CPU and event-loop lag were not measured '
            "(a run on a fake clock).</p>"
        )
    cpu = (
        f"The generator's CPU peaked at {h.cpu_peak_percent or 0.0:.0f} % of a core (mean "
        f"{h.cpu_mean_percent or 0.0:.0f} %)"
    )
    lag = (
        f"Its event loop ran up to {h.lag_max_ms or 0.0:.1f} ms late (mean "
        f"{h.lag_mean_ms or 0.0:.2f} ms)"
    )
    if h.hot_windows:
        cpu += (
            f"; it was above {h.cpu_bound_percent:g} % in {h.hot_windows} of "
            f"{h.measured_windows} one-second windows ({h.hot_seconds:.0f} s): the latencies "
            "measured then include its own queueing. Add --processes or reduce users."
        )
    else:
        cpu += f", never above {h.cpu_bound_percent:g} %."
    if h.lagging_windows:
        lag += (
            f"; more than {h.lag_bound_ms:g} ms in {h.lagging_windows} of {h.measured_windows} "
            "one-second windows: the latencies measured then are inflated by up to that."
        )
    else:
        lag += f", never more than {h.lag_bound_ms:g} ms."
    shaded = " Those windows are shaded purple on the charts." if h.flagged else ""
    return (
        f'<p class="{"stall" if h.hot_windows else "note"}" id="health-cpu">{_esc(cpu)}</p>'
        f'<p class="{"stall" if h.lagging_windows else "note"}" id="health-lag">'
        f"{_esc(lag)}{_esc(shaded)}</p>"
    )


# ---- the open model and thresholds ----------------------------------------------------


def _corrected_rows(snapshot: StatsSnapshot) -> list[RowSnapshot]:
    return [row for row in snapshot.rows if row.corrected_count]


def _has_corrected(snapshot: StatsSnapshot) -> bool:
    return snapshot.total.corrected_count > 0 or bool(_corrected_rows(snapshot))


def _corrected_pair(row: RowSnapshot, css: str = "") -> str:
    # Two lines per row, one above the other in the same columns, so that each corrected
    # percentile sits right under the one measured from the send.
    measured = "".join(f"<td>{format_ms(v)}</td>" for v in row.percentiles)
    corrected = "".join(f"<td>{format_ms(v)}</td>" for v in row.corrected_percentiles)
    name = _name_cells(row)
    return (
        f'<tr class="measured{css}">{name}<td class="from">the send</td>{measured}'
        f"<td>{format_ms(row.avg_response_time)}</td>"
        f"<td>{row.num_requests - row.num_failures}</td></tr>"
        f'<tr class="corrected{css}">{name}<td class="from">intended start</td>{corrected}'
        f"<td>{format_ms(row.corrected_avg)}</td><td>{row.corrected_count}</td></tr>"
    )


def _corrected_section(snapshot: StatsSnapshot) -> str:
    """Measured and corrected percentiles side by side; "" when nothing had a schedule."""
    if not _has_corrected(snapshot):
        return ""
    headers = [
        "Type", "Name", "Latency from", *(percentile_label(q) for q in snapshot.percentiles),
        "Average", "# Samples",
    ]  # fmt: skip
    rows = _corrected_rows(snapshot)
    shown = _take_within(rows, _corrected_pair, max_items=len(rows), budget=_CORRECTED_TABLE_BUDGET)
    body = "".join(shown)
    if len(shown) < len(rows):
        body += _more_row(
            len(headers),
            f"… and {len(rows) - len(shown)} more rows, left out to keep this file small; "
            "the JSON report lists every row.",
        )
    if snapshot.total.corrected_count:
        body += _corrected_pair(snapshot.total, " total")
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    return (
        '<section id="corrected"><h2>Response times corrected for coordinated omission (ms)'
        "</h2>"
        f'<p class="note">Each row twice: latency measured from the send, and latency '
        f"{_esc(CORRECTED_LABEL)}. When the generator or the target falls behind, the "
        "corrected figures include the time each iteration waited to start, which the "
        "measured ones leave out. Successful requests only; # Samples counts those with an "
        "intended start.</p>"
        f'<div class="scroll"><table class="num corrected"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div></section>"
    )


def _count_word(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def arrivals_warning(snapshot: StatsSnapshot) -> str:
    """The one-line warning when the generator could not keep the asked rate ("" if it did)."""
    arrivals = snapshot.arrivals
    if not (arrivals.late or arrivals.dropped):
        return ""
    return (
        f"The generator could not keep the arrival rate: {_count_word(arrivals.late, 'iteration')}"
        f" started late and {arrivals.dropped} {'was' if arrivals.dropped == 1 else 'were'} "
        f"dropped of {arrivals.due} due, because no user was free; raise --max-users, or "
        "lower the rate."
    )


def _arrivals_section(snapshot: StatsSnapshot) -> str:
    """Due, late and dropped iterations of an open model; "" under a closed model."""
    arrivals = snapshot.arrivals
    if not arrivals.active:
        return ""
    due = arrivals.due
    items = (
        ("Due", str(due), "iterations whose scheduled instant came"),
        ("Late", str(arrivals.late), "found no free user and started later"),
        ("Dropped", str(arrivals.dropped), "never started"),
        ("Late ratio", f"{arrivals.late / due:.2%}", "late / due"),
        ("Dropped ratio", f"{arrivals.dropped / due:.2%}", "dropped / due"),
    )
    rows = "".join(
        f'<tr><th>{key}</th><td class="n">{value}</td><td class="why">{why}</td></tr>'
        for key, value, why in items
    )
    warning = arrivals_warning(snapshot)
    said = (
        f'<p class="warn">{_esc(warning)}</p>'
        if warning
        else '<p class="note">Every iteration started at its scheduled instant.</p>'
    )
    return (
        '<section id="arrivals"><h2>Arrivals</h2>'
        '<p class="note">The open model: iterations are started on a schedule, whether or not '
        "earlier ones have finished. Late and dropped iterations per second are on the "
        "charts.</p>"
        f'{said}<table class="params arrivals">{rows}</table></section>'
    )


def _threshold_row(result: ThresholdResult) -> str:
    verdict = "PASS" if result.passed else "FAIL"
    css = "pass" if result.passed else "fail"
    breach = f"{_utc(result.first_breach)} UTC" if result.first_breach is not None else "-"
    row = truncate_middle(result.row, MAX_NAME_CHARS) if result.row else "the whole run"
    return (
        f'<tr class="{css}"><td class="expr">'
        f"{_esc(_cap_end(result.expression, MAX_EXPRESSION_CHARS))}</td>"
        f'<td class="name">{_esc(row)}</td>'
        f"<td>{_esc(_cap_end(result.metric, MAX_EXPRESSION_CHARS))}</td>"
        f"<td>{_esc(result.operator)} {_esc(result.limit_text)}</td>"
        f"<td>{_esc(_cap_end(result.value_text, MAX_MESSAGE_CHARS))}</td>"
        f'<td class="verdict">{verdict}</td><td>{breach}</td>'
        f"<td>{'yes' if result.aborted else ''}</td></tr>"
    )


def thresholds_verdict(results: Sequence[ThresholdResult]) -> str:
    """One line over every threshold: how many failed, and whether one stopped the run."""
    failed = [r for r in results if not r.passed]
    if not failed:
        return f"PASS: all {_count_word(len(results), 'threshold')} held."
    aborted = next((r for r in results if r.aborted), None)
    stop = f" The run was stopped early by {aborted.expression}." if aborted else ""
    return f"FAIL: {len(failed)} of {_count_word(len(results), 'threshold')} failed.{stop}"


def _thresholds_section(run: RunInfo) -> str:
    """The pass/fail table of `--threshold`s; "" when none were given."""
    results = run.thresholds
    if not results:
        return ""
    passed = all(r.passed for r in results)
    shown = _take_within(
        results, _threshold_row, max_items=MAX_THRESHOLDS, budget=_THRESHOLDS_BUDGET
    )
    body = "".join(shown)
    if len(shown) < len(results):
        body += _more_row(8, f"… and {len(results) - len(shown)} more thresholds.")
    headers = ("Threshold", "Row", "Metric", "Limit", "Value", "Result", "First breach",
               "Aborted the run")  # fmt: skip
    head = "".join(f"<th>{h}</th>" for h in headers)
    verdict = thresholds_verdict(results)
    return (
        f'<section id="thresholds"><h2>Thresholds</h2>'
        f'<p class="verdict {"pass" if passed else "fail"}">{_esc(verdict)}</p>'
        '<p class="note">Judged on the statistics at the end of the run; "First breach" is '
        "when the evaluation during the run first saw a threshold fail.</p>"
        f'<div class="scroll"><table class="thresholds"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div></section>"
    )


def _charts_section(snapshot: StatsSnapshot) -> str:
    if not snapshot.timeline:
        body = (
            '<p class="note">No chart: the run ended before its first one-second window closed.</p>'
        )
    else:
        body = (
            '<p class="note">One point per closed window (normally one second; long runs are '
            "thinned evenly). Response times are each window's own percentiles of successful "
            "requests. Drag to zoom, double-click to reset. Shaded seconds: the event loop "
            "was blocked in them (see Generator health), so their latencies include it.</p>"
            "<h3>Requests and failures per second</h3>"
            '<div class="chart" id="lh-chart-rps"></div>'
            '<h3>Response times</h3><div class="chart" id="lh-chart-latency"></div>'
        )
        if _timeline_has_corrected(snapshot.timeline):
            body += f'<p class="note">Dashed: p95 and p99 {_esc(CORRECTED_LABEL)}.</p>'
        if snapshot.arrivals.active:
            body += (
                "<h3>Arrivals per second</h3>"
                '<p class="note">Iterations due each second, and those that started late or '
                "were dropped because no user was free.</p>"
                '<div class="chart" id="lh-chart-arrivals"></div>'
            )
        body += '<h3>Users</h3><div class="chart" id="lh-chart-users"></div>'
    return f'<section id="charts"><h2>Charts</h2>{body}</section>'


def _distribution_section(spectra: Sequence[LatencySpectrum]) -> str:
    """The percentile spectrum of the Aggregated row and a chosen row; "" without data."""
    if not spectra:
        return ""
    data = [spectrum_dict(s) for s in spectra]
    options = "".join(
        f'<option value="{i}">{_esc(s.label)}</option>' for i, s in enumerate(spectra) if i
    )
    picker = (
        '<p><label>Compare with <select id="lh-distribution-row">'
        f'<option value="">(none)</option>{options}</select></label></p>'
        if options
        else ""
    )
    return (
        '<section id="distribution"><h2>Response time distribution</h2>'
        '<p class="note">The latency at each percentile of successful requests, exact to 3 '
        "significant digits, on a logarithmic axis of 1/(1-q) as HdrHistogram plots it: "
        "p90, p99, p99.9 and p99.99 sit one step apart, so the tail is as wide as the median. "
        "Each line ends at the row's maximum.</p>"
        f'{picker}<div class="chart" id="lh-chart-distribution" '
        f'data-spectra="{_esc(json.dumps(data, separators=(",", ":")))}"></div></section>'
    )


def _timeline_has_corrected(points: Sequence[TimelinePoint]) -> bool:
    return any(p.corrected_p95 is not None or p.corrected_p99 is not None for p in points)


def _locustfile_section(source: str | None) -> str:
    if source is None:
        return (
            '<section id="locustfile"><h2>Locustfile</h2>'
            '<p class="note">The locustfile source was not available.</p></section>'
        )
    escaped, kept = _escaped_prefix(source, _LOCUSTFILE_BUDGET)
    note = ""
    if kept < len(source):
        note = (
            f'<p class="note">Truncated: the first {kept} of {len(source)} characters '
            "are shown.</p>"
        )
    lines = source.count("\n") + (0 if source.endswith("\n") or not source else 1)
    return (
        '<section id="locustfile"><h2>Locustfile</h2>'
        f"<details><summary>Show the source ({lines} line{'' if lines == 1 else 's'})</summary>"
        f"{note}"
        f"<pre><code>{escaped}</code></pre></details></section>"
    )


# ---- the timeline's JSON --------------------------------------------------------------


def _thin(points: Sequence[TimelinePoint], limit: int) -> Sequence[TimelinePoint]:
    """At most `limit` points, evenly spaced, always keeping the first and the last."""
    n = len(points)
    if n <= limit:
        return points
    return [points[round(i * (n - 1) / (limit - 1))] for i in range(limit)]


def _compact(value: float | None, digits: int | None = None) -> float | int | None:
    """A number in few JSON characters: 3 significant digits (the histograms' precision),
    or `digits` decimals; integral values lose their `.0`; NaN and infinities become null."""
    if value is None or not math.isfinite(value):
        return None
    value = float(value)
    rounded = round(value, digits) if digits is not None else float(f"{value:.3g}")
    return int(rounded) if rounded.is_integer() and abs(rounded) < 1e15 else rounded


def _timeline_payload(start: float, points: Sequence[TimelinePoint]) -> dict[str, object]:
    payload: dict[str, object] = {
        "start": start,
        "t": [_compact(p.time - start, 2) for p in points],
        "rps": [_compact(p.rps, 2) for p in points],
        "fail_per_sec": [_compact(p.fail_per_sec, 2) for p in points],
        "p50": [_compact(p.p50) for p in points],
        "p95": [_compact(p.p95) for p in points],
        "p99": [_compact(p.p99) for p in points],
        "users": [p.user_count for p in points],
        "stalled_ms": [_compact(p.stalled_ms, 0) for p in points],
    }
    if any(p.cpu_percent is not None for p in points):
        payload["cpu_percent"] = [_compact(p.cpu_percent, 0) for p in points]
        payload["loop_lag_ms"] = [_compact(p.loop_lag_ms, 1) for p in points]
        payload["health_bounds"] = {"cpu": CPU_BOUND_PERCENT, "lag": LAG_BOUND_MS}
    # Only what the run had: a closed-model run's page carries no empty series.
    if any(p.due or p.late or p.dropped for p in points):
        payload["due"] = [p.due for p in points]
        payload["late"] = [p.late for p in points]
        payload["dropped"] = [p.dropped for p in points]
    if _timeline_has_corrected(points):
        payload["corrected_p95"] = [_compact(p.corrected_p95) for p in points]
        payload["corrected_p99"] = [_compact(p.corrected_p99) for p in points]
    return payload


def _timeline_json(snapshot: StatsSnapshot) -> str:
    start = snapshot.timeline[0].time if snapshot.timeline else snapshot.start_time
    limit = MAX_TIMELINE_POINTS
    while True:
        text = script_json(_timeline_payload(start, _thin(snapshot.timeline, limit)))
        # Values are rounded, so 3600 points fit easily; only absurd values need more thinning.
        if _size(text) <= _TIMELINE_BUDGET or limit <= 2:
            return text
        limit //= 2


# ---- header and navigation ------------------------------------------------------------

_NAV = (
    ("run", "Run"),
    ("thresholds", "Thresholds"),
    ("stats", "Statistics"),
    ("percentiles", "Percentiles"),
    ("corrected", "Corrected"),
    ("arrivals", "Arrivals"),
    ("failures", "Failures"),
    ("exceptions", "Exceptions"),
    ("health", "Generator health"),
    ("charts", "Charts"),
    ("distribution", "Distribution"),
    ("locustfile", "Locustfile"),
)


def _nav(sections: Sequence[str]) -> str:
    present = {section.split('"', 2)[1] for section in sections}  # `<section id="...">`
    return "\n".join(f'<a href="#{key}">{label}</a>' for key, label in _NAV if key in present)


def _header_extra(snapshot: StatsSnapshot, run: RunInfo) -> str:
    """The load model and the thresholds' verdict under the title, when there are any."""
    lines = []
    if run.load_model:
        model = _esc(_cap_end(run.load_model, MAX_PARAM_CHARS))
        lines.append(f'<p class="model">Load model: {model}</p>')
    if run.thresholds:
        passed = all(r.passed for r in run.thresholds)
        lines.append(
            f'<p class="verdict {"pass" if passed else "fail"}">Thresholds: '
            f"{_esc(thresholds_verdict(run.thresholds))}</p>"
        )
    if warning := arrivals_warning(snapshot):
        lines.append(f'<p class="warn">{_esc(warning)}</p>')
    return "".join(lines)


# ---- public API -----------------------------------------------------------------------


def render_html_report(
    snapshot: StatsSnapshot,
    run_info: RunInfo,
    *,
    locustfile_source: str | None,
    spectra: Sequence[LatencySpectrum] = (),
) -> str:
    """Render the whole run as one self-contained HTML page.

    The page needs no network: plotly.js (read once from the installed `plotly` package)
    and the chart data are inlined. It shows the run parameters, the statistics and
    percentile tables, failures and exceptions (grouped and capped), charts over the whole
    run from `snapshot.timeline`, and the locustfile source. Only when the run had them: the
    thresholds' verdicts (`run_info.thresholds`), the load model line, percentiles corrected
    for coordinated omission beside the measured ones (rows with `corrected_count`), and the
    open model's arrivals (due, late, dropped, with a warning and a per-second chart). Its
    size stays under `MAX_REPORT_BYTES` (UTF-8) however large the snapshot. The same inputs
    always give the same page: no clock is read.

    Args:
        snapshot: The final statistics.
        run_info: The run's parameters and time range.
        locustfile_source: The locustfile's text, or None when it is not available.
        spectra: The response-time distributions to chart (`report_spectra(stats)`: the
            Aggregated row first); none, no distribution section.

    Returns:
        The HTML document.

    Raises:
        LoadhopperError: the `plotly` package is not installed.
    """
    # Sections that only exist when the run had something to show render as "".
    sections = [
        _run_section(snapshot, run_info),
        _thresholds_section(run_info),
        _stats_section(snapshot),
        _percentiles_section(snapshot),
        _corrected_section(snapshot),
        _arrivals_section(snapshot),
        _failures_section(snapshot),
        _exceptions_section(snapshot),
        _health_section(snapshot),
        _charts_section(snapshot),
        _distribution_section(spectra),
        _locustfile_section(locustfile_source),
    ]
    sections = [section for section in sections if section]
    host = _cap_end(run_info.host, MAX_PARAM_CHARS) if run_info.host else ""
    time_range = (
        f"{_utc(run_info.start_time)} &ndash; {_utc(run_info.end_time)} UTC "
        f"&middot; {_duration(run_info.duration)}"
    )
    return _template().substitute(
        title=_esc(f"loadhopper report: {host}" if host else "loadhopper report"),
        host=_esc(host) if host else "(each User class's host)",
        time_range=time_range,
        version=_esc(_cap_end(run_info.version, MAX_PARAM_CHARS)),
        header_extra=_header_extra(snapshot, run_info),
        nav=_nav(sections),
        sections="\n".join(sections),
        plotly_js=_plotly_js(),
        timeline_json=_timeline_json(snapshot),
    )


def write_html_report(
    path: str | os.PathLike[str],
    snapshot: StatsSnapshot,
    run_info: RunInfo,
    *,
    locustfile_source: str | None,
    spectra: Sequence[LatencySpectrum] = (),
) -> None:
    """Write `render_html_report(...)` to `path` (UTF-8), replacing any existing file.

    The page is written to a temporary file beside `path` and then renamed, so a reader
    never sees half a report.

    Args:
        path: Where to write the report.
        snapshot: The final statistics.
        run_info: The run's parameters and time range.
        locustfile_source: The locustfile's text, or None when it is not available.
        spectra: The response-time distributions to chart (see `render_html_report`).

    Raises:
        LoadhopperError: the `plotly` package is not installed.
        OSError: the file could not be written.
    """
    page = render_html_report(
        snapshot, run_info, locustfile_source=locustfile_source, spectra=spectra
    )
    replace_file(path, page)
