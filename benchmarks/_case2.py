"""Case 2: 10,000 users with `between(2, 5)` against a target that answers after exactly 10 ms.

Four questions per tool: does it deliver the rate the users offer, do its median and its
tail (p99, p99.9, over the whole run, the ramp at 2,000 users a second included) match the
target's own record of what it took, and how much memory does each user cost.

The achieved rate is measured at the target, not taken from the tool: our server prints its
cumulative request count four times a second, and the rate is the count's rise across the
steady-state window (after the ramp-up and its burst of first requests, before shutdown)
divided by the window's length. That is the same yardstick for every tool, and it cannot be
flattered by how a tool computes its own rates.

The target also records each request's service time (`_tails.py`): the tool's percentiles are
set beside the target's, for the whole run, the ramp and the steady window.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from _locustfiles import UserClass, write_locustfile
from _metrics import (
    SteadyWindow,
    first_activity,
    last_activity,
    memory_per_user_kb,
    offered_rate,
    rate_between,
    ratio,
    share_of_wall,
    steady_window,
)
from _process import Probe
from _steal import read_steal, stolen_seconds
from _tails import (
    NO_TAILS,
    Record,
    Tails,
    fetch_record,
    loadhopper_tails,
    locust_tails,
    tails_of,
)
from _targets import Target, own_target
from _time_wait import time_wait_count, wait_for_time_wait
from _tool_run import RunStatus, ToolRun, run_tool, skipped
from _tools import Availability, LoadSpec, Tool
from loadhopper.http import connect_port_range, port_budget_warning

__all__ = ["CASE2_TOOLS", "Case2Result", "Case2Row", "run_case2"]

CASE2_TOOLS = (Tool.LOADHOPPER, Tool.LOCUST_FAST)
TRUE_LATENCY_MS = 10.0
WAIT_TIME = "between(2, 5)"
MEAN_WAIT_SECONDS = 3.5  # the mean of between(2, 5)
# Issue 12: users start at 2,000 a second, whatever their number.
SPAWN_RATE = 2000.0
# The source addresses loadhopper spreads its connections over past the port budget.
LOOPBACK_SOURCES = "127.0.0.1-127.0.0.4"
# After the ramp, the last users' first requests (sent on spawn) still bunch up until each has
# waited once: up to 5 s. Plus a second of margin.
SETTLE_SECONDS = 6.0
TAIL_SECONDS = 2.0
# The memory baseline: the same tool, same locustfile, one user.
BASELINE_SECONDS = 5
# Each run starts once at most this many sockets are in TIME_WAIT (an earlier run's, which
# Linux keeps 60 s), waiting at most this long: 60 s plus the kernel's sweep.
TIME_WAIT_LIMIT = 500
TIME_WAIT_TIMEOUT = 75.0


@dataclass(frozen=True, slots=True)
class Case2Row:
    """One tool's result in case 2.

    Attributes:
        tool: the generator.
        status: ok, skipped or failed.
        note: why skipped or failed, or warnings.
        offered_rate: users / (mean wait + true latency), requests/s.
        achieved_rate: requests/s the target received in the steady-state window.
        window_seconds: the steady-state window's length.
        tool_requests: the tool's own total count.
        target_requests: what the target counted during the run.
        median_ms: the tool's reported median.
        avg_ms: the tool's reported average.
        peak_rss_kb: peak RSS at full users.
        baseline_rss_kb: peak RSS of a one-user run.
        memory_per_user_kb: (peak - baseline) / (users - 1).
        cpu_seconds: generator CPU over the whole run.
        wall_seconds: generator wall time.
        steady_cpu_share: generator CPU per wall second in the steady window (1.0 = a core).
        steady_wait_share: generator time runnable but waiting for its CPU, per wall second in
            the steady window: high means other processes starved it (a shared machine).
        target_counts: (seconds since load start, requests the target had received), four
            a second: the raw series the achieved rate comes from, kept for the JSON.
        tool_tails: the tool's own percentiles over the whole run.
        target_tails: the target's service times over the whole run.
        target_from_socket: the whole run's requests timed by the target from their
            arrival in its socket (its wait to read them included): all the target took.
        target_ramp: the target's service times of requests that arrived during the ramp.
        target_steady: the target's service times in the steady window.
        generator_steal_seconds: CPU time the hypervisor took from the generator's CPU
            during the run (`_steal.py`); None where the system does not say.
        target_steal_seconds: the same for the target's CPU.
    """

    tool: Tool
    status: RunStatus
    note: str
    offered_rate: float
    achieved_rate: float | None = None
    window_seconds: float | None = None
    tool_requests: int | None = None
    target_requests: int | None = None
    median_ms: float | None = None
    avg_ms: float | None = None
    peak_rss_kb: int | None = None
    baseline_rss_kb: int | None = None
    memory_per_user_kb: float | None = None
    cpu_seconds: float | None = None
    wall_seconds: float | None = None
    steady_cpu_share: float | None = None
    steady_wait_share: float | None = None
    target_counts: tuple[tuple[float, int], ...] = ()
    tool_tails: Tails = NO_TAILS
    target_tails: Tails = NO_TAILS
    target_from_socket: Tails = NO_TAILS
    target_ramp: Tails = NO_TAILS
    target_steady: Tails = NO_TAILS
    generator_steal_seconds: float | None = None
    target_steal_seconds: float | None = None

    @property
    def achieved_fraction(self) -> float | None:
        """achieved / offered."""
        return ratio(self.achieved_rate, self.offered_rate)


@dataclass(frozen=True, slots=True)
class Case2Result:
    """Case 2 as a whole."""

    users: int
    seconds: int
    spawn_rate: float
    true_latency_ms: float
    generator_cpu: int | None
    target_cpu: int | None
    rows: tuple[Case2Row, ...]
    elapsed_seconds: float

    def row(self, tool: Tool) -> Case2Row | None:
        """The tool's row, if it was run."""
        return next((row for row in self.rows if row.tool is tool), None)


def _empty_row(run: ToolRun, offered: float, context: str = "") -> Case2Row:
    note = f"{context}: {run.note}" if context else run.note
    return Case2Row(run.tool, run.status, note, offered)


def _measure(
    tool: Tool,
    spec: LoadSpec,
    baseline: LoadSpec,
    target: Target,
    workdir: Path,
    cpus: tuple[int | None, int | None],
) -> Case2Row:
    cpu, target_cpu = cpus
    offered = offered_rate(spec.users, MEAN_WAIT_SECONDS, TRUE_LATENCY_MS / 1000.0)
    print(f"case2: {tool.label}: one-user baseline for {baseline.seconds} s ...", flush=True)
    base_run = run_tool(tool, baseline, workdir, cpu, "case2-baseline")
    if base_run.status is not RunStatus.OK or base_run.measured is None:
        return _empty_row(base_run, offered, "one-user baseline")
    time.sleep(0.6)
    _take_record(target)  # the baseline's requests: not this run's
    lingering = _let_time_wait_clear(tool)
    before = target.request_count() or 0
    print(f"case2: {tool.label}: {spec.users} users for {spec.seconds} s ...", flush=True)
    # A probe a second, so that the steady window (known only afterwards) has probes in it.
    probe_at = [float(second) for second in range(1, spec.seconds + 10)]
    steal_before = read_steal()
    run = run_tool(tool, spec, workdir, cpu, "case2", probe_at, target.request_count)
    steal_after = read_steal()
    time.sleep(0.6)  # let the target report its final count
    if run.status is not RunStatus.OK or run.measured is None or run.summary is None:
        return _empty_row(run, offered)
    samples = [s for s in target.samples() if s.time >= run.started_at]
    load_start, stopped = first_activity(samples, before), last_activity(samples)
    window = None
    if load_start is not None and stopped is not None:
        load_end = min(load_start + spec.seconds, stopped)
        ramp = spec.users / spec.spawn_rate
        window = steady_window(load_start, load_end, ramp, SETTLE_SECONDS, TAIL_SECONDS)
    achieved = rate_between(samples, window.start, window.end) if window else None
    note = "; ".join(
        filter(
            None,
            [
                run.note,
                None if window else "run too short to settle",
                lingering,
            ],
        )
    )
    measured = run.measured
    cpu_share, wait_share = _steady_shares(measured.probes, window)
    record = _take_record(target)
    ramp_start = load_start if load_start is not None else run.started_at
    ramp_end = ramp_start + spec.users / spec.spawn_rate
    return Case2Row(
        tool=tool,
        status=run.status,
        note=note,
        offered_rate=offered,
        achieved_rate=achieved,
        window_seconds=window.seconds if window else None,
        tool_requests=run.summary.requests,
        target_requests=samples[-1].total - before if samples else None,
        median_ms=run.summary.median_ms,
        avg_ms=run.summary.avg_ms,
        peak_rss_kb=measured.max_rss_kb,
        baseline_rss_kb=base_run.measured.max_rss_kb,
        memory_per_user_kb=memory_per_user_kb(
            measured.max_rss_kb, base_run.measured.max_rss_kb, spec.users
        ),
        cpu_seconds=measured.cpu_seconds,
        wall_seconds=measured.wall_seconds,
        steady_cpu_share=cpu_share,
        steady_wait_share=wait_share,
        target_counts=tuple(
            (round(sample.time - (load_start or run.started_at), 2), sample.total - before)
            for sample in samples
        ),
        tool_tails=_tool_tails(tool, workdir),
        target_tails=record.whole() if record else NO_TAILS,
        target_from_socket=record.whole_from_socket() if record else NO_TAILS,
        target_ramp=tails_of(record.between(ramp_start, ramp_end)) if record else NO_TAILS,
        target_steady=(
            tails_of(record.between(window.start, window.end)) if record and window else NO_TAILS
        ),
        generator_steal_seconds=stolen_seconds(steal_before, steal_after, cpu),
        target_steal_seconds=stolen_seconds(steal_before, steal_after, target_cpu),
    )


def _let_time_wait_clear(tool: Tool) -> str | None:
    """Wait (bounded) for the sockets an earlier run left in TIME_WAIT, which would crowd
    this run's local ports (`_time_wait.py`); a note when some are left, else None."""
    count = time_wait_count()
    if count is None or count <= TIME_WAIT_LIMIT:
        return None
    print(
        f"case2: {tool.label}: waiting up to {TIME_WAIT_TIMEOUT:.0f} s for {count:,} sockets "
        "in TIME_WAIT (an earlier run's) to clear ...",
        flush=True,
    )
    left = wait_for_time_wait(TIME_WAIT_LIMIT, TIME_WAIT_TIMEOUT)
    if left is None or left <= TIME_WAIT_LIMIT:
        return None
    return f"{left:,} sockets were still in TIME_WAIT at the start (connects cost more)"


def _source_flags(users: int) -> tuple[str, ...]:
    """`--local-ips` for loadhopper when one source address would run out of cheap ports.

    Past about 14,000 connections from one address Linux's connect() scans the ports in use
    (loadhopper's `http/_source.py`); that cost is the machine's, not the generator's, and
    loadhopper's answer to it is this flag. The target is on loopback, where all of
    127.0.0.0/8 is local. Locust has no such flag.
    """
    if port_budget_warning(users, None, connect_port_range()) is None:
        return ()
    return ("--local-ips", LOOPBACK_SOURCES)


def _take_record(target: Target) -> Record | None:
    """The target's service record since the last take, or None when it cannot give one."""
    try:
        return fetch_record(target.url)
    except (OSError, ValueError) as exc:
        print(f"case2: the target's service record is unavailable: {exc}", flush=True)
        return None


def _tool_tails(tool: Tool, workdir: Path) -> Tails:
    """The tool's own whole-run percentiles, from the files `run_tool` left (tag "case2")."""
    rundir = workdir / f"case2-{tool.value}"
    try:
        if tool is Tool.LOADHOPPER:
            return loadhopper_tails((rundir / "loadhopper.json").read_text())
        return locust_tails((rundir / f"{tool.value}_stats.csv").read_text())
    except (OSError, ValueError) as exc:
        print(f"case2: {tool.label}'s percentiles are unreadable: {exc}", flush=True)
        return NO_TAILS


def _steady_shares(
    probes: Sequence[Probe], window: SteadyWindow | None
) -> tuple[float | None, float | None]:
    """(CPU share, run-queue wait share) of the generator between the window's outer probes."""
    if window is None:
        return None, None
    inside = [p for p in probes if window.start <= p.time <= window.end]
    if len(inside) < 2:
        return None, None
    first, last = inside[0], inside[-1]
    cpu = share_of_wall(first.time, first.cpu_seconds, last.time, last.cpu_seconds)
    wait = None
    if first.run_delay_seconds is not None and last.run_delay_seconds is not None:
        wait = share_of_wall(first.time, first.run_delay_seconds, last.time, last.run_delay_seconds)
    return cpu, wait


def run_case2(
    tools: Sequence[Tool],
    available: Mapping[Tool, Availability],
    users: int,
    seconds: int,
    cpus: tuple[int | None, int | None],
    workdir: Path,
) -> Case2Result:
    """Run each tool (loadhopper and Locust FastHttpUser) one after the other at `users` users.

    Args:
        tools: the tools requested; only those in CASE2_TOOLS run.
        available: each tool's availability.
        users: users at full load.
        seconds: run time, ramp-up included.
        cpus: (generator CPU, target CPU); None leaves that side unpinned.
        workdir: a temporary directory.
    """
    began = time.monotonic()
    generator_cpu, target_cpu = cpus
    spawn_rate = SPAWN_RATE
    locustfiles = {UserClass.FAST: write_locustfile(workdir, UserClass.FAST, WAIT_TIME)}
    offered = offered_rate(users, MEAN_WAIT_SECONDS, TRUE_LATENCY_MS / 1000.0)
    target_dir = workdir / "target2"
    target_dir.mkdir()
    rows = []
    with own_target(target_dir, target_cpu, TRUE_LATENCY_MS, stamps=True) as target:
        spec = LoadSpec(
            target.url, users, spawn_rate, seconds, locustfiles, UserClass.FAST,
            _source_flags(users),
        )  # fmt: skip
        if spec.loadhopper_flags:
            print(
                f"case2: {users} users are past one address's cheap local ports; loadhopper "
                f"gets {' '.join(spec.loadhopper_flags)} (Locust has no such flag)",
                flush=True,
            )
        baseline = LoadSpec(target.url, 1, 1.0, BASELINE_SECONDS, locustfiles, UserClass.FAST)
        for tool in (t for t in tools if t in CASE2_TOOLS):
            if not available[tool].ok:
                print(f"case2: skipping {tool.label}: {available[tool].detail}")
                rows.append(_empty_row(skipped(tool, available[tool].detail), offered))
                continue
            rows.append(_measure(tool, spec, baseline, target, workdir, cpus))
    return Case2Result(
        users=users,
        seconds=seconds,
        spawn_rate=spawn_rate,
        true_latency_ms=TRUE_LATENCY_MS,
        generator_cpu=generator_cpu,
        target_cpu=target_cpu,
        rows=tuple(rows),
        elapsed_seconds=time.monotonic() - began,
    )
