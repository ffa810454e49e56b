"""Case 1: requests per CPU-second, one `GET /` task with no wait, against a fast local target."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from _locustfiles import UserClass, write_locustfile
from _metrics import per_cpu_second, ratio, steady_per_cpu_second
from _steal import read_steal, stolen_seconds
from _targets import Target, nginx_target, own_target
from _tool_run import RunStatus, ToolRun, run_tool, skipped
from _tools import Availability, LoadSpec, Tool

__all__ = ["Case1Result", "Case1Row", "run_case1"]


@dataclass(frozen=True, slots=True)
class Case1Row:
    """One tool's result in case 1.

    Attributes:
        tool: the generator.
        status: ok, skipped or failed.
        note: why skipped or failed, or warnings.
        requests: the tool's own total request count.
        failures: the tool's own failure count.
        target_requests: what the target counted during the run (a cross-check).
        wall_seconds: spawn to exit.
        cpu_seconds: user + system CPU of the generator process tree, startup included.
        requests_per_cpu_second: requests / cpu_seconds.
        steady_per_cpu_second: requests per CPU-second between two probes inside the run
            (target's count over the generator's CPU time), without startup and shutdown.
        steal_seconds: CPU time the hypervisor took from the generator's CPU during the
            run (`_steal.py`), None where the system does not say.
    """

    tool: Tool
    status: RunStatus
    note: str
    requests: int | None
    failures: int | None
    target_requests: int | None
    wall_seconds: float | None
    cpu_seconds: float | None
    requests_per_cpu_second: float | None
    steady_per_cpu_second: float | None
    steal_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Case1Result:
    """Case 1 as a whole."""

    target: str
    users: int
    seconds: int
    generator_cpu: int | None
    target_cpu: int | None
    rows: tuple[Case1Row, ...]
    elapsed_seconds: float

    def rate(self, tool: Tool) -> float | None:
        """The tool's requests per CPU-second, None when it did not run."""
        for row in self.rows:
            if row.tool is tool:
                return row.requests_per_cpu_second
        return None

    def ratio_vs(self, tool: Tool) -> float | None:
        """loadhopper's requests per CPU-second over `tool`'s."""
        return ratio(self.rate(Tool.LOADHOPPER), self.rate(tool))

    def steady_rate(self, tool: Tool) -> float | None:
        """The tool's steady-state requests per CPU-second, None when not measured."""
        for row in self.rows:
            if row.tool is tool:
                return row.steady_per_cpu_second
        return None

    def steady_ratio_vs(self, tool: Tool) -> float | None:
        """loadhopper's steady-state requests per CPU-second over `tool`'s."""
        return ratio(self.steady_rate(Tool.LOADHOPPER), self.steady_rate(tool))


def _row(run: ToolRun, target_requests: int | None, steal: float | None = None) -> Case1Row:
    measured, summary = run.measured, run.summary
    requests = summary.requests if summary else None
    cpu = measured.cpu_seconds if measured else None
    rate = per_cpu_second(requests, cpu) if requests is not None and cpu is not None else None
    steady = None
    probes = measured.probes if measured else ()
    if run.status is RunStatus.OK and len(probes) == 2:
        first, last = probes
        if first.count is not None and last.count is not None:
            steady = steady_per_cpu_second(
                first.count, first.cpu_seconds, last.count, last.cpu_seconds
            )
    return Case1Row(
        tool=run.tool,
        status=run.status,
        note=run.note,
        requests=requests,
        failures=summary.failures if summary else None,
        target_requests=target_requests,
        wall_seconds=measured.wall_seconds if measured else None,
        cpu_seconds=cpu,
        requests_per_cpu_second=rate,
        steady_per_cpu_second=steady,
        steal_seconds=steal,
    )


def _one(
    tool: Tool, spec: LoadSpec, target: Target, workdir: Path, cpu: int | None
) -> tuple[ToolRun, int | None, float | None]:
    """Run one tool; with the target's count of its requests and the steal on `cpu`."""
    before = target.request_count()
    steal_before = read_steal()
    # Probes well inside the run: after every tool's startup (Locust's takes ~1 s) and
    # before its -t ends (its timer starts after startup, so spawn + seconds is still load).
    probe_at = (min(3.0, spec.seconds * 0.3), spec.seconds - 0.5) if spec.seconds >= 4 else ()
    run = run_tool(tool, spec, workdir, cpu, "case1", probe_at, target.request_count)
    steal = stolen_seconds(steal_before, read_steal(), cpu)
    time.sleep(0.6)  # our server reports its count every 0.25 s
    after = target.request_count()
    counted = after - before if before is not None and after is not None else None
    return run, counted, steal


def run_case1(
    tools: Sequence[Tool],
    available: Mapping[Tool, Availability],
    users: int,
    seconds: int,
    cpus: tuple[int | None, int | None],
    workdir: Path,
) -> Case1Result:
    """Run every tool in turn against one target and collect the rows.

    Args:
        tools: the tools to run, in order.
        available: each tool's availability (a missing tool gets a skipped row).
        users: users (wrk: connections).
        seconds: run time of each tool.
        cpus: (generator CPU, target CPU); None leaves that side unpinned.
        workdir: a temporary directory for configs, locustfiles and outputs.
    """
    began = time.monotonic()
    generator_cpu, target_cpu = cpus
    locustfiles = {cls: write_locustfile(workdir, cls, "constant(0)") for cls in UserClass}
    target_dir = workdir / "target1"
    target_dir.mkdir()
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        context = nginx_target(target_dir, target_cpu)
    else:
        print("case1: nginx is not installed; using our own uvloop server as the target")
        context = own_target(target_dir, target_cpu, delay_ms=0.0)
    rows = []
    with context as target:
        spec = LoadSpec(target.url, users, float(users), seconds, locustfiles, UserClass.HTTP)
        for tool in tools:
            if not available[tool].ok:
                print(f"case1: skipping {tool.label}: {available[tool].detail}")
                rows.append(_row(skipped(tool, available[tool].detail), None))
                continue
            print(f"case1: running {tool.label} for {seconds} s ...", flush=True)
            run, counted, steal = _one(tool, spec, target, workdir, generator_cpu)
            rows.append(_row(run, counted, steal))
            sys.stdout.flush()
        kind = str(target.kind)
    return Case1Result(
        target=kind,
        users=users,
        seconds=seconds,
        generator_cpu=generator_cpu,
        target_cpu=target_cpu,
        rows=tuple(rows),
        elapsed_seconds=time.monotonic() - began,
    )
