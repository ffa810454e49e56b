"""Turn case results into the printed table, the ratio lines and the saved JSON document."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from _case1 import Case1Result, Case1Row
from _case2 import Case2Result, Case2Row
from _case4 import MEDIAN_GOAL_MS, REQUESTS_GOAL, Case4Result, Case4Row, SleepComparison
from _case5 import CPU_PER_REQUEST_GOAL, Case5Result, Case5Row, Pinning, Variant
from _case6 import HOLD_TOLERANCE, Case6Result, OpenRun
from _metrics import ratio
from _tails import Tails
from _tool_run import RunStatus
from _tools import Availability, Tool

__all__ = [
    "case1_lines",
    "case2_lines",
    "case4_lines",
    "case5_lines",
    "case6_lines",
    "comparison_line",
    "document",
    "open_line",
    "scale_line",
]

# DESIGN.md, "The numbers it must reach": loadhopper / other tool, requests per CPU-second.
# Issue 12's bars (DESIGN.md's were 5x and 25x): 10x Locust FastHttpUser, half of wrk.
CASE1_GOALS = {Tool.LOCUST_FAST: 10.0, Tool.LOCUST_HTTP: 25.0, Tool.WRK: 0.5}

# Steal above this share of a run's wall time is called out (`_steal.py`): the run's numbers
# are then the machine's as much as the tools'.
STEAL_WARN_SHARE = 0.01


def _num(value: float | None, spec: str = ",.0f", missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def _pct(share: float | None) -> float | None:
    return None if share is None else 100.0 * share


def _cpu_label(cpu: int | None) -> str:
    return "unpinned" if cpu is None else f"CPU {cpu}"


def _table_row(row: Case1Row) -> str:
    busy = None
    if row.cpu_seconds is not None and row.wall_seconds:
        busy = 100.0 * row.cpu_seconds / row.wall_seconds
    cells = (
        f"{row.tool.label:<16}",
        f"{row.status.value:<8}",
        f"{_num(row.requests):>11}",
        f"{_num(row.failures):>6}",
        f"{_num(row.target_requests):>11}",
        f"{_num(row.wall_seconds, '.1f'):>6}",
        f"{_num(row.cpu_seconds, '.2f'):>7}",
        f"{_num(busy, '.0f'):>4}",
        f"{_num(row.requests_per_cpu_second):>10}",
        f"{_num(row.steady_per_cpu_second):>10}",
    )
    note = f"  {row.note}" if row.note else ""
    return " ".join(cells) + note


def case1_lines(result: Case1Result) -> list[str]:
    """The case 1 table and its `case1 ...` summary lines."""
    lines = [
        f"case 1: requests per CPU-second: GET /, constant(0), {result.users} users, "
        f"{result.seconds} s per tool; target {result.target} on {_cpu_label(result.target_cpu)}, "
        f"generator on {_cpu_label(result.generator_cpu)}",
        f"{'tool':<16} {'status':<8} {'requests':>11} {'fails':>6} {'target saw':>11} "
        f"{'wall s':>6} {'CPU s':>7} {'CPU%':>4} {'req/CPU-s':>10} {'steady':>10}",
    ]
    lines += [_table_row(row) for row in result.rows]
    lines += _case1_steal(result)
    lines.append("")
    loadhopper_rate = result.rate(Tool.LOADHOPPER)
    for row in result.rows:
        if row.status is not RunStatus.OK:
            lines.append(f"case1 {row.tool.label} {row.status.value}: {row.note}")
            continue
        line = f"case1 {row.tool.label} {_num(row.requests_per_cpu_second, '.0f')} req/CPU-s"
        if row.tool is Tool.LOADHOPPER:
            parts = []
            for other in (Tool.LOCUST_FAST, Tool.LOCUST_HTTP, Tool.WRK):
                value = result.ratio_vs(other)
                if value is not None:
                    parts.append(f"vs {other.label} {value:.2f}x (goal >= {CASE1_GOALS[other]:g}x)")
            if parts:
                line += "  ratio " + "  ".join(parts)
            steady = [
                f"vs {other.label} {value:.2f}x"
                for other in (Tool.LOCUST_FAST, Tool.LOCUST_HTTP, Tool.WRK)
                if (value := result.steady_ratio_vs(other)) is not None
            ]
            if steady:
                line += "\n      steady-state ratio (startup excluded) " + "  ".join(steady)
        lines.append(line)
    if loadhopper_rate is None:
        lines.append("case1 ratios: none, since loadhopper did not run")
    return lines


def _case1_steal(result: Case1Result) -> list[str]:
    """The steal on the generator's CPU during each tool's run: CPU time is what the ratios
    count, and the hypervisor's is not the tool's, but a CPU shared with other guests also
    runs each tool with colder caches, so a run with much of it is worth repeating."""
    parts, warn = [], False
    for row in result.rows:
        if row.steal_seconds is None or not row.wall_seconds:
            continue
        share = row.steal_seconds / row.wall_seconds
        warn = warn or share > STEAL_WARN_SHARE
        parts.append(f"{row.tool.label} {1000 * row.steal_seconds:.0f} ms ({100 * share:.1f}%)")
    if not parts:
        return []
    line = "steal on the generator's CPU (the hypervisor ran other guests): " + ", ".join(parts)
    if warn:
        line += (
            f"; WARNING: past {100 * STEAL_WARN_SHARE:g}% of a run's wall time, the machine "
            "was busy: run it again"
        )
    return [line]


def _case2_line(row: Case2Row, true_latency_ms: float) -> list[str]:
    label = row.tool.label
    if row.status is not RunStatus.OK:
        return [f"case2 {label} {row.status.value}: {row.note}"]
    fraction = row.achieved_fraction
    percent = None if fraction is None else 100.0 * fraction
    main = (
        f"case2 {label} offered {row.offered_rate:.0f}/s "
        f"achieved {_num(row.achieved_rate, '.0f')}/s ({_num(percent, '.1f')}%) "
        f"median {_num(row.median_ms, '.1f')} ms (true {true_latency_ms:.1f}) "
        f"mem {_num(row.memory_per_user_kb, '.1f')} KB/user"
    )
    busy = None
    if row.cpu_seconds is not None and row.wall_seconds:
        busy = 100 * row.cpu_seconds / row.wall_seconds
    detail = (
        f"      steady window {_num(row.window_seconds, '.0f')} s; "
        f"tool counted {_num(row.tool_requests)}, target counted {_num(row.target_requests)}; "
        f"avg {_num(row.avg_ms, '.1f')} ms; CPU {_num(row.cpu_seconds, '.1f')} s of "
        f"{_num(row.wall_seconds, '.1f')} s wall ({_num(busy, '.0f')}%); "
        f"peak RSS {_num(row.peak_rss_kb and row.peak_rss_kb / 1024, '.1f')} MB, "
        f"one-user RSS {_num(row.baseline_rss_kb and row.baseline_rss_kb / 1024, '.1f')} MB"
    )
    cpu_share, wait_share = row.steady_cpu_share, row.steady_wait_share
    steady = (
        f"      in the steady window the generator used {_num(_pct(cpu_share), '.0f')}% of a "
        f"core and waited for its core {_num(_pct(wait_share), '.0f')}% of the time "
        "(waiting = starved by other processes, not slow)"
    )
    lines = [main, *_case2_tails(row), detail, steady, *_steal_lines(row)]
    if row.note:
        lines.append(f"      note: {row.note}")
    return lines


def _steal_lines(row: Case2Row) -> list[str]:
    generator, target, wall = (
        row.generator_steal_seconds,
        row.target_steal_seconds,
        row.wall_seconds,
    )
    if generator is None and target is None:
        return []
    line = (
        f"      the hypervisor took {_num(generator and 1000 * generator, '.0f')} ms from the "
        f"generator's CPU and {_num(target and 1000 * target, '.0f')} ms from the target's "
        "during the run (steal time)"
    )
    worst = max(generator or 0.0, target or 0.0)
    if wall and worst > STEAL_WARN_SHARE * wall:
        line += (
            f": WARNING, {100 * worst / wall:.1f}% of the run's wall time; latencies across "
            "those gaps are inflated by the machine, not by the tools: run it again"
        )
    return [line]


def _tails_cells(tails: Tails) -> str:
    return (
        f"p50 {_num(tails.p50_ms, '.1f')} p99 {_num(tails.p99_ms, '.1f')} "
        f"p99.9 {_num(tails.p999_ms, '.1f')} max {_num(tails.max_ms, '.1f')} ms"
    )


def _gaps(tool: Tails, target: Tails) -> str:
    if tool.p99_ms is None or target.p99_ms is None:
        return ""
    gaps = f"p99 gap {tool.p99_ms - target.p99_ms:+.1f} ms (goal <= 2)"
    if tool.p999_ms is not None and target.p999_ms is not None:
        gaps += f", p99.9 gap {tool.p999_ms - target.p999_ms:+.1f} ms (goal <= 10)"
    return gaps


def _case2_tails(row: Case2Row) -> list[str]:
    """The tool's whole-run percentiles beside the target's own record (issue 12): its
    service times, and the same timed from each request's arrival in its socket."""
    tool, target, socket = row.tool_tails, row.target_tails, row.target_from_socket
    service_gaps = _gaps(tool, target)
    lines = [
        f"      whole run: tool {_tails_cells(tool)}; target's own service {_tails_cells(target)}"
        + (f"; {service_gaps}" if service_gaps else ""),
    ]
    if socket.count:
        socket_gaps = _gaps(tool, socket)
        lines.append(
            f"      target's own from its socket (its wait to read included) "
            f"{_tails_cells(socket)}" + (f"; {socket_gaps}" if socket_gaps else "")
        )
    lines.append(
        f"      target's own service by phase: ramp {_tails_cells(row.target_ramp)} "
        f"({row.target_ramp.count} requests); steady {_tails_cells(row.target_steady)} "
        f"({row.target_steady.count} requests)"
    )
    return lines


def case2_lines(result: Case2Result) -> list[str]:
    """The case 2 lines: one per tool, then the memory ratio."""
    lines = [
        f"case 2: {result.users} users, between(2, 5), ramp {result.spawn_rate:g} users/s, "
        f"{result.seconds} s per tool; target answers after {result.true_latency_ms:g} ms; "
        f"generator on {_cpu_label(result.generator_cpu)}, "
        f"target on {_cpu_label(result.target_cpu)}",
    ]
    for row in result.rows:
        lines += _case2_line(row, result.true_latency_ms)
    ours, theirs = result.row(Tool.LOADHOPPER), result.row(Tool.LOCUST_FAST)
    if ours and theirs:
        mem = ratio(ours.memory_per_user_kb, theirs.memory_per_user_kb)
        if mem is not None:
            lines.append(f"case2 ratio memory/user loadhopper/locust-fasthttp {mem:.2f}")
    return lines


def _case4_table_row(row: Case4Row) -> str:
    cells = (
        f"{row.tool.label:<16}",
        f"{row.status.value:<8}",
        f"{_num(row.requests):>8}",
        f"{_num(row.failures):>6}",
        f"{_num(row.target_requests):>11}",
        f"{_num(row.steady_rate, '.1f'):>9}",
        f"{_num(row.median_ms, '.2f'):>10}",
        f"{_num(row.avg_ms, '.2f'):>7}",
        f"{_num(row.cpu_seconds, '.2f'):>6}",
    )
    note = f"  {row.note}" if row.note else ""
    return " ".join(cells) + note


def comparison_line(comparison: SleepComparison) -> str:
    """The `case4 ...` line for loadhopper against one Locust user class."""
    c = comparison
    return (
        f"case4 sleep: loadhopper {c.ours_requests} requests vs {c.other.label} "
        f"{c.their_requests}: ratio {c.requests_ratio:.3f} (goal >= {REQUESTS_GOAL:.2f}); "
        f"median {c.ours_median_ms:.2f} ms vs {c.their_median_ms:.2f} ms: "
        f"{c.median_difference_ms:+.2f} ms (goal within {MEDIAN_GOAL_MS:g} ms); {c.verdict}"
    )


def case4_lines(result: Case4Result) -> list[str]:
    """The case 4 table and its `case4 sleep: ...` lines, one per Locust user class."""
    lines = [
        f"case 4: sleeping users: GET / then time.sleep({result.sleep_seconds:g}), constant(0), "
        f"{result.users} user{'s' if result.users != 1 else ''} at {result.spawn_rate:g}/s, "
        f"{result.seconds} s per tool; "
        f"target {result.target} on {_cpu_label(result.target_cpu)}, generator on "
        f"{_cpu_label(result.generator_cpu)}; steady rate if every user sleeps on its own "
        f"{result.ideal_rate:.1f}/s",
        f"{'tool':<16} {'status':<8} {'requests':>8} {'fails':>6} {'target saw':>11} "
        f"{'steady/s':>9} {'median ms':>10} {'avg ms':>7} {'CPU s':>6}",
    ]
    lines += [_case4_table_row(row) for row in result.rows]
    lines.append("")
    for row in result.rows:
        if row.status is not RunStatus.OK:
            lines.append(f"case4 {row.tool.label} {row.status.value}: {row.note}")
    comparisons = result.comparisons()
    lines += [comparison_line(comparison) for comparison in comparisons]
    if not comparisons:
        lines.append("case4 sleep: no comparison, since loadhopper or every Locust run is missing")
    return lines


def _case5_table_row(row: Case5Row, workers: int) -> str:
    busy = None
    if row.cpu_seconds is not None and row.wall_seconds:
        busy = 100.0 * row.cpu_seconds / row.wall_seconds
    cells = (
        f"{row.variant.label(workers):<29}",
        f"{row.status.value:<8}",
        f"{_num(row.requests):>9}",
        f"{_num(row.target_requests):>11}",
        f"{_num(row.wall_seconds, '.1f'):>6}",
        f"{_num(row.cpu_seconds, '.2f'):>6}",
        f"{_num(busy, '.0f'):>4}",
        f"{_num(row.requests_per_cpu_second):>9}",
        f"{_num(row.steady_per_cpu_second):>7}",
        f"{_num(row.startup_seconds, '.2f'):>10}",
        f"{_num(row.processes):>5}",
    )
    note = f"  {row.note}" if row.note else ""
    return " ".join(cells) + note


def _verdict(value: float | None) -> str:
    if value is None:
        return "no verdict"
    return "meets the goal" if value <= CPU_PER_REQUEST_GOAL else "MISSES the goal"


def _cpu_parts(row: Case5Row) -> str:
    """What the CPU seconds hold: the sampled split by role, and how much was sampled."""
    roles = row.cpu_by_role or {}
    split = ", ".join(f"{name} {seconds:.2f}" for name, seconds in sorted(roles.items()))
    sampled = row.unreaped_cpu_seconds or 0.0
    how = f"{sampled:.2f} s of it sampled" if sampled else "all of it from wait4"
    return f"{split}; {how}" if split else how


def scale_line(result: Case5Result, row: Case5Row) -> str:
    """The `case5 scale ...` line of one variant."""
    label = row.variant.label(result.workers)
    if row.status is not RunStatus.OK:
        return f"case5 scale {label} {row.status.value}: {row.note}"
    line = (
        f"case5 scale {label}: {_num(row.requests)} requests, "
        f"{_num(row.cpu_seconds, '.2f')} CPU s ({_cpu_parts(row)}), "
        f"{_num(row.requests_per_cpu_second)} req/CPU-s, "
        f"start-up {_num(row.startup_seconds, '.2f')} s"
    )
    if row.variant is Variant.ONE:
        return line
    value = result.cpu_per_request_ratio(row.variant)
    steady = result.steady_cpu_per_request_ratio(row.variant)
    return (
        f"{line}; CPU per request {_num(value, '.2f')}x one process "
        f"(goal <= {CPU_PER_REQUEST_GOAL:g}x; steady {_num(steady, '.2f')}x); {_verdict(value)}"
    )


def case5_lines(result: Case5Result) -> list[str]:
    """The case 5 table and one `case5 scale ...` line per variant."""
    where = (
        f"generator tree on {_cpu_label(result.generator_cpu)} (master and workers share it)"
        if result.pinning is Pinning.SHARED
        else "generator tree unpinned (its workers compete with the target for its CPU)"
    )
    lines = [
        f"case 5: scale: GET /, constant(0), {result.users} users, {result.seconds} s per "
        f"variant, {result.workers} workers; target {result.target} on "
        f"{_cpu_label(result.target_cpu)}, {where}",
        f"{'variant':<29} {'status':<8} {'requests':>9} {'target saw':>11} {'wall s':>6} "
        f"{'CPU s':>6} {'CPU%':>4} {'req/CPU-s':>9} {'steady':>7} {'start-up s':>10} {'procs':>5}",
    ]
    lines += [_case5_table_row(row, result.workers) for row in result.rows]
    lines.append("")
    lines += [scale_line(result, row) for row in result.rows]
    return lines


def _held(run: OpenRun) -> str:
    return "not measured" if run.held is None else ("yes" if run.held else "NO")


def _micros(cpu_seconds: float | None) -> str:
    return _num(None if cpu_seconds is None else 1e6 * cpu_seconds, ".1f")


def _case6_table_row(run: OpenRun) -> str:
    achieved_ratio = run.achieved_ratio
    cells = (
        f"{run.asked:>9,}",
        f"{_num(run.achieved):>9}",
        f"{_num(achieved_ratio, '.4f'):>7}",
        f"{_num(run.due):>9}",
        f"{_num(run.late):>8}",
        f"{_num(run.dropped):>8}",
        f"{_num(run.cpu_seconds, '.2f'):>6}",
        f"{_micros(run.cpu_per_iteration):>8}",
        f"{_num(_pct(run.wait_share), '.0f'):>5}",
        f"{_num(run.p99_ms, '.2f'):>7}",
        f"{_num(run.corrected_p99_ms, '.2f'):>9}",
        f"{_held(run):<5}",
    )
    note = f"  {run.note}" if run.note else ""
    return " ".join(cells) + note


def open_line(result: Case6Result) -> str:
    """The `case6 open: ...` line: the highest arrival rate held, beside the closed model."""
    closed = result.closed
    if closed.status is not RunStatus.OK or closed.rate is None:
        status = closed.status.value
        return f"case6 open: no figure, since the closed-model run {status}: {closed.note}"
    within = f"within {100 * HOLD_TOLERANCE:g} %"
    runs = f"{len(result.runs)} run{'s' if len(result.runs) != 1 else ''}"
    closed_part = f"closed model {closed.rate:,.0f}/s with {closed.users} users"
    best = result.best
    unmeasured = result.unmeasured
    if best is None:
        if unmeasured is not None:
            return f"case6 open: not measured ({unmeasured.note}); {closed_part}"
        lowest = min((run.asked for run in result.runs), default=None)
        return (
            f"case6 open: no arrival rate held {within} ({runs}, the lowest {_num(lowest)}/s); "
            f"{closed_part}"
        )
    # Without a failure above the best rate, the search ran out of runs (or was cut short)
    # before finding the limit: the figure is a lower bound.
    holds = "holds" if result.bracketed else "holds at least"
    line = (
        f"case6 open: one process {holds} {best.asked:,}/s {within} ({runs}); {closed_part}; "
        f"ratio {_num(result.ratio_to_closed(), '.2f')}"
    )
    cpu = ratio(best.cpu_per_iteration, closed.cpu_per_request)
    line += (
        f"\n      CPU per iteration at {best.asked:,}/s {_micros(best.cpu_per_iteration)} us vs "
        f"the closed model's {_micros(closed.cpu_per_request)} us per request "
        f"({_num(cpu, '.2f')}x; steady window, start-up excluded)"
    )
    if unmeasured is not None:
        line += f"\n      the search stopped at {unmeasured.asked:,}/s: {unmeasured.note}"
    return line


def case6_lines(result: Case6Result) -> list[str]:
    """The case 6 table (one row per arrival rate tried) and its `case6 open: ...` line."""
    closed = result.closed
    lines = [
        f"case 6: open model: GET /, constant(0), --arrival-rate R/s --max-users "
        f"{result.max_users} -u {result.max_users}, {result.seconds} s per run; target "
        f"{result.target} on {_cpu_label(result.target_cpu)}, generator on "
        f"{_cpu_label(result.generator_cpu)}; held = the target's rate within "
        f"{100 * HOLD_TOLERANCE:g} % of R and nothing dropped",
        f"closed model: {closed.users} users {closed.status.value}: "
        f"{_num(closed.rate)}/s at the target, {_num(closed.requests)} requests, "
        f"{_num(closed.cpu_seconds, '.2f')} CPU s, {_micros(closed.cpu_per_request)} us CPU "
        f"per request, p99 {_num(closed.p99_ms, '.2f')} ms, waited for its CPU "
        f"{_num(_pct(closed.wait_share), '.0f')}% of the steady window"
        + (f"  {closed.note}" if closed.note else ""),
        f"{'asked/s':>9} {'achieved':>9} {'ratio':>7} {'due':>9} {'late':>8} {'dropped':>8} "
        f"{'CPU s':>6} {'us/iter':>8} {'wait%':>5} {'p99':>7} {'corr p99':>9} {'held?':<5}",
    ]
    lines += [_case6_table_row(run) for run in result.runs]
    lines += ["", open_line(result)]
    return lines


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def document(
    started: str,
    options: Mapping[str, Any],
    environment: Mapping[str, Any],
    available: Mapping[Tool, Availability],
    case1: Case1Result | None,
    case2: Case2Result | None,
    case4: Case4Result | None = None,
    case5: Case5Result | None = None,
    case6: Case6Result | None = None,
) -> dict[str, Any]:
    """The JSON-ready record of a benchmark run, derived ratios included."""
    out: dict[str, Any] = {
        "started": started,
        "options": dict(options),
        "environment": dict(environment),
        "tools": {tool.value: _plain(status) for tool, status in available.items()},
    }
    if case1 is not None:
        out["case1"] = _plain(case1)
        out["case1"]["ratios_loadhopper_vs"] = {
            tool.value: case1.ratio_vs(tool) for tool in CASE1_GOALS
        }
        out["case1"]["steady_ratios_loadhopper_vs"] = {
            tool.value: case1.steady_ratio_vs(tool) for tool in CASE1_GOALS
        }
    if case2 is not None:
        out["case2"] = _plain(case2)
        for row_json, row in zip(out["case2"]["rows"], case2.rows, strict=True):
            row_json["achieved_fraction"] = row.achieved_fraction
        ours, theirs = case2.row(Tool.LOADHOPPER), case2.row(Tool.LOCUST_FAST)
        out["case2"]["ratio_memory_per_user"] = (
            ratio(ours.memory_per_user_kb, theirs.memory_per_user_kb) if ours and theirs else None
        )
    if case4 is not None:
        out["case4"] = _plain(case4)
        out["case4"]["comparisons"] = [
            {
                **_plain(comparison),
                "requests_ok": comparison.requests_ok,
                "median_ok": comparison.median_ok,
            }
            for comparison in case4.comparisons()
        ]
    if case5 is not None:
        out["case5"] = _plain(case5)
        distributed = [variant for variant in Variant if variant is not Variant.ONE]
        out["case5"]["cpu_per_request_vs_one_process"] = {
            variant.value: case5.cpu_per_request_ratio(variant) for variant in distributed
        }
        out["case5"]["steady_cpu_per_request_vs_one_process"] = {
            variant.value: case5.steady_cpu_per_request_ratio(variant) for variant in distributed
        }
        out["case5"]["goal"] = CPU_PER_REQUEST_GOAL
    if case6 is not None:
        out["case6"] = _plain(case6)
        best = case6.best
        out["case6"]["max_held_rate"] = best.asked if best is not None else None
        out["case6"]["bracketed"] = case6.bracketed
        out["case6"]["ratio_to_closed"] = case6.ratio_to_closed()
        out["case6"]["hold_tolerance"] = HOLD_TOLERANCE
    return out
