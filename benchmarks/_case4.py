"""Case 4: sleeping users, the acceptance line of issue 9.

Twenty users each do `GET /` and then `time.sleep(0.5)`, with `constant(0)` and no other wait,
for 10 s, against a target that answers at once. Locust's monkey-patching makes that sleep
pause one user; loadhopper must do the same without patching on import. If the sleep blocked
the loop instead, users would sleep one after another (a twentieth of the requests) and the
blocked time would land in response times (medians of hundreds of milliseconds). So the case
compares, tool against tool in one run: the requests each made (issue 9 wants loadhopper at
90 % of Locust or more) and each one's median (within 2 ms of Locust's).

Besides each tool's own totals, the target's count gives a steady-state rate: the requests it
received per second after every user has started and before the run ends. With every user
sleeping on its own that is users / (sleep + response time), 40/s here; a blocking sleep gives
about 2/s. It leaves out how each tool spreads its ramp (Locust starts `-r` users per batch,
loadhopper one every `1 / -r` s), which shifts the totals by up to one request per user.

Nothing here asserts anything: it prints a verdict, and tests check only the arithmetic.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from _locustfiles import UserClass, write_sleep_locustfile
from _metrics import first_activity, last_activity, offered_rate, rate_between, ratio
from _targets import Target, own_target
from _tool_run import RunStatus, ToolRun, run_tool, skipped
from _tools import Availability, LoadSpec, Tool

__all__ = [
    "CASE4_TOOLS",
    "MEDIAN_GOAL_MS",
    "REQUESTS_GOAL",
    "SLEEP_SECONDS",
    "Case4Result",
    "Case4Row",
    "SleepComparison",
    "compare",
    "run_case4",
    "steady_bounds",
]

CASE4_TOOLS = (Tool.LOADHOPPER, Tool.LOCUST_HTTP, Tool.LOCUST_FAST)
SLEEP_SECONDS = 0.5
# Issue 9, "Acceptance": at least 90 % of Locust's requests, a median within 2 ms of Locust's.
REQUESTS_GOAL = 0.90
MEDIAN_GOAL_MS = 2.0
# The steady window starts this long after the first request (the ramp of `users / -r` s has
# ended by then at -r = users) and ends this long before the run's end. Both are whole
# multiples of the 0.5 s cycle, so the window spans whole cycles and a tool whose users
# request in bursts (Locust starts them together) is not flattered or hurt by where a burst
# falls relative to the window's edges.
STEADY_START_SECONDS = 2.0
STEADY_TAIL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Case4Row:
    """One tool's result in case 4.

    Attributes:
        tool: the generator.
        status: ok, skipped or failed.
        note: why skipped or failed, or warnings.
        requests: the tool's own total request count.
        failures: the tool's own failure count.
        median_ms: the tool's reported median (loadhopper's JSON; Locust's CSV Aggregated row).
        avg_ms: the tool's reported average.
        target_requests: what the target counted during the run (a cross-check).
        steady_rate: requests per second the target received in the steady window.
        cpu_seconds: user + system CPU of the generator, startup included.
        wall_seconds: spawn to exit.
    """

    tool: Tool
    status: RunStatus
    note: str
    requests: int | None = None
    failures: int | None = None
    median_ms: float | None = None
    avg_ms: float | None = None
    target_requests: int | None = None
    steady_rate: float | None = None
    cpu_seconds: float | None = None
    wall_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class SleepComparison:
    """loadhopper's row against one Locust row, with issue 9's two goals.

    Attributes:
        other: the Locust user class compared with.
        ours_requests: loadhopper's total.
        their_requests: the other tool's total.
        requests_ratio: ours / theirs.
        ours_median_ms: loadhopper's median.
        their_median_ms: the other tool's median (Locust rounds it to whole milliseconds).
        median_difference_ms: ours - theirs; negative when loadhopper's is lower.
    """

    other: Tool
    ours_requests: int
    their_requests: int
    requests_ratio: float
    ours_median_ms: float
    their_median_ms: float
    median_difference_ms: float

    @property
    def requests_ok(self) -> bool:
        """Whether loadhopper made at least REQUESTS_GOAL of the other tool's requests."""
        return self.requests_ratio >= REQUESTS_GOAL

    @property
    def median_ok(self) -> bool:
        """Whether the medians are within MEDIAN_GOAL_MS of each other, either way."""
        return abs(self.median_difference_ms) <= MEDIAN_GOAL_MS

    @property
    def verdict(self) -> str:
        """One phrase: both goals met, or which ones were missed."""
        missed = [
            name
            for name, ok in (("requests", self.requests_ok), ("median", self.median_ok))
            if not ok
        ]
        if not missed:
            return "meets both goals"
        verdict = "MISSES the " + " and ".join(missed) + (" goals" if len(missed) > 1 else " goal")
        if not self.median_ok and self.median_difference_ms < 0:
            # Lower than Locust's is not a sleep leaking into response times; it is Locust's
            # own client time (its median includes more of its CPU per request).
            verdict += " (loadhopper's median is the lower one)"
        return verdict


def compare(ours: Case4Row, theirs: Case4Row) -> SleepComparison | None:
    """Compare loadhopper's row with another tool's; None when either lacks a number."""
    if ours.status is not RunStatus.OK or theirs.status is not RunStatus.OK:
        return None
    if ours.requests is None or theirs.requests is None:
        return None
    if ours.median_ms is None or theirs.median_ms is None:
        return None
    requests_ratio = ratio(float(ours.requests), float(theirs.requests))
    if requests_ratio is None:
        return None
    return SleepComparison(
        other=theirs.tool,
        ours_requests=ours.requests,
        their_requests=theirs.requests,
        requests_ratio=requests_ratio,
        ours_median_ms=ours.median_ms,
        their_median_ms=theirs.median_ms,
        median_difference_ms=ours.median_ms - theirs.median_ms,
    )


def steady_bounds(load_start: float, stopped: float, seconds: float) -> tuple[float, float] | None:
    """The steady window of a run, (start, end) in epoch seconds; None when it is too short.

    Args:
        load_start: when the first request reached the target.
        stopped: when the target's count last rose.
        seconds: the tool's -t.
    """
    start = load_start + STEADY_START_SECONDS
    end = min(load_start + seconds, stopped) - STEADY_TAIL_SECONDS
    if end - start < 1.0:
        return None
    return start, end


@dataclass(frozen=True, slots=True)
class Case4Result:
    """Case 4 as a whole."""

    users: int
    seconds: int
    spawn_rate: float
    sleep_seconds: float
    ideal_rate: float
    target: str
    generator_cpu: int | None
    target_cpu: int | None
    rows: tuple[Case4Row, ...]
    elapsed_seconds: float

    def row(self, tool: Tool) -> Case4Row | None:
        """The tool's row, if it was run."""
        return next((row for row in self.rows if row.tool is tool), None)

    def comparisons(self) -> list[SleepComparison]:
        """loadhopper against each Locust row that has numbers."""
        ours = self.row(Tool.LOADHOPPER)
        if ours is None:
            return []
        found = [compare(ours, row) for row in self.rows if row.tool is not Tool.LOADHOPPER]
        return [comparison for comparison in found if comparison is not None]


def _measure(
    tool: Tool, spec: LoadSpec, target: Target, workdir: Path, cpu: int | None
) -> Case4Row:
    print(f"case4: running {tool.label} for {spec.seconds} s ...", flush=True)
    before = target.request_count() or 0
    run: ToolRun = run_tool(tool, spec, workdir, cpu, "case4")
    time.sleep(0.6)  # our server reports its count every 0.25 s
    measured, summary = run.measured, run.summary
    samples = [s for s in target.samples() if s.time >= run.started_at]
    steady = None
    load_start, stopped = first_activity(samples, before), last_activity(samples)
    if run.status is RunStatus.OK and load_start is not None and stopped is not None:
        bounds = steady_bounds(load_start, stopped, spec.seconds)
        steady = rate_between(samples, *bounds) if bounds else None
    return Case4Row(
        tool=tool,
        status=run.status,
        note=run.note,
        requests=summary.requests if summary else None,
        failures=summary.failures if summary else None,
        median_ms=summary.median_ms if summary else None,
        avg_ms=summary.avg_ms if summary else None,
        target_requests=samples[-1].total - before if samples else None,
        steady_rate=steady,
        cpu_seconds=measured.cpu_seconds if measured else None,
        wall_seconds=measured.wall_seconds if measured else None,
    )


def run_case4(
    tools: Sequence[Tool],
    available: Mapping[Tool, Availability],
    users: int,
    seconds: int,
    cpus: tuple[int | None, int | None],
    workdir: Path,
    spawn_rate: float | None = None,
) -> Case4Result:
    """Run loadhopper and Locust (HttpUser, FastHttpUser) one after the other on one target.

    Every tool gets the same command line, `-u users -r users -t seconds` by default, so that
    all users have started within the first second.

    Args:
        tools: the tools requested; only those in CASE4_TOOLS run.
        available: each tool's availability.
        users: concurrent users.
        seconds: run time of each tool.
        cpus: (generator CPU, target CPU); None leaves that side unpinned.
        workdir: a temporary directory.
        spawn_rate: users started per second; None means `users` (one second of ramp).
    """
    began = time.monotonic()
    generator_cpu, target_cpu = cpus
    rate = float(users) if spawn_rate is None else spawn_rate
    locustfiles = {cls: write_sleep_locustfile(workdir, cls, SLEEP_SECONDS) for cls in UserClass}
    target_dir = workdir / "target4"
    target_dir.mkdir()
    rows = []
    # Our own server rather than nginx: it reports its count four times a second, which the
    # steady rate needs, and it answers at once.
    with own_target(target_dir, target_cpu, delay_ms=0.0) as target:
        spec = LoadSpec(target.url, users, rate, seconds, locustfiles, UserClass.HTTP)
        for tool in (t for t in tools if t in CASE4_TOOLS):
            if not available[tool].ok:
                print(f"case4: skipping {tool.label}: {available[tool].detail}")
                skip = skipped(tool, available[tool].detail)
                rows.append(Case4Row(tool, skip.status, skip.note))
                continue
            rows.append(_measure(tool, spec, target, workdir, generator_cpu))
        kind = str(target.kind)
    return Case4Result(
        users=users,
        seconds=seconds,
        spawn_rate=rate,
        sleep_seconds=SLEEP_SECONDS,
        ideal_rate=offered_rate(users, SLEEP_SECONDS, 0.0),
        target=kind,
        generator_cpu=generator_cpu,
        target_cpu=target_cpu,
        rows=tuple(rows),
        elapsed_seconds=time.monotonic() - began,
    )
