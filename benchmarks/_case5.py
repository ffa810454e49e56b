"""Case 5 ("scale"): CPU per request of a distributed run against one process (issue 10).

The case 1 workload (`GET /`, `constant(0)`, the same users, the same duration, the same
nginx) runs three times through loadhopper: as one process, as `--processes N` (a master and
N forked workers) and as `--ray local --workers N` (a Ray driver, a local Ray instance and N
actors). For each: the requests, the CPU of the whole process tree (`_tree.py` says how it is
counted and what is included), requests per CPU-second, CPU per request against one
process (issue 10's goal: at most 1.1x), and the start-up time from launch to the first
request the target saw.

Pinning. The machine this runs on has two cores. `shared` (the default) puts the whole
generator tree on the generator's CPU and nginx on the other, as in case 1: every variant
gets the same one core, so what differs is only what distribution costs, and N workers
split one core instead of scaling. `spread` leaves the generator tree unpinned while nginx
stays on its CPU: the workers can then use both cores, but they compete with nginx for the
second, so throughput says little and CPU per request includes contention. Neither is a
scaling measurement; that needs a core per worker plus one for the target.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from _locustfiles import UserClass, write_locustfile
from _metrics import per_cpu_second, ratio, steady_per_cpu_second
from _parse import ParseError, WorkerSummary, parse_loadhopper_json, parse_loadhopper_workers
from _targets import Target, TargetKind, nginx_target, own_target
from _tool_run import RunStatus
from _tools import Availability
from _tree import TreeRun, run_tree_measured

__all__ = [
    "CPU_PER_REQUEST_GOAL",
    "Case5Result",
    "Case5Row",
    "Pinning",
    "Variant",
    "loadhopper_argv",
    "ray_availability",
    "run_case5",
]

# Issue 10, "Acceptance": CPU per request of 2 workers at most 1.1x that of one process.
CPU_PER_REQUEST_GOAL = 1.1
_BIN = Path(sys.executable).parent
# Beyond -t: Ray's start-up (several seconds) and shutdown, before the run is stopped.
_GRACE_SECONDS = 90.0


class Variant(StrEnum):
    """How loadhopper is run."""

    ONE = "one"
    PROCESSES = "processes"
    RAY = "ray"

    def label(self, workers: int) -> str:
        """The name printed in results."""
        if self is Variant.ONE:
            return "one process"
        if self is Variant.PROCESSES:
            return f"--processes {workers}"
        return f"--ray local --workers {workers}"


class Pinning(StrEnum):
    """Where the generator's process tree runs (see the module docstring)."""

    SHARED = "shared"
    SPREAD = "spread"


@dataclass(frozen=True, slots=True)
class Case5Row:
    """One variant's result.

    Attributes:
        variant: how loadhopper ran.
        status: ok, skipped or failed.
        note: why skipped or failed, or warnings.
        requests: loadhopper's own total (its JSON summary).
        failures: its failure count.
        target_requests: what nginx counted during the run, the harness's own reads removed.
        wall_seconds: launch to the root's exit.
        cpu_seconds: user + system CPU of the whole process tree, start-up included.
        kernel_cpu_seconds: the part the kernel accounted exactly (wait4).
        unreaped_cpu_seconds: the part sampled, for processes the kernel drops (Ray's).
        cpu_by_role: sampled CPU seconds per role (master, workers, Ray services).
        processes: distinct processes seen in the tree.
        requests_per_cpu_second: requests / cpu_seconds.
        steady_per_cpu_second: the same between two probes inside the run (no start-up).
        startup_seconds: launch to the first request the target saw.
        workers: each worker as the JSON summary lists it (empty for one process).
    """

    variant: Variant
    status: RunStatus
    note: str
    requests: int | None = None
    failures: int | None = None
    target_requests: int | None = None
    wall_seconds: float | None = None
    cpu_seconds: float | None = None
    kernel_cpu_seconds: float | None = None
    unreaped_cpu_seconds: float | None = None
    cpu_by_role: dict[str, float] | None = None
    processes: int | None = None
    requests_per_cpu_second: float | None = None
    steady_per_cpu_second: float | None = None
    startup_seconds: float | None = None
    workers: tuple[WorkerSummary, ...] = ()


@dataclass(frozen=True, slots=True)
class Case5Result:
    """Case 5 as a whole."""

    target: str
    users: int
    seconds: int
    workers: int
    pinning: Pinning
    generator_cpu: int | None
    target_cpu: int | None
    rows: tuple[Case5Row, ...]
    elapsed_seconds: float

    def row(self, variant: Variant) -> Case5Row | None:
        """The variant's row when it ran."""
        for row in self.rows:
            if row.variant is variant and row.status is RunStatus.OK:
                return row
        return None

    def cpu_per_request_ratio(self, variant: Variant) -> float | None:
        """The variant's CPU per request over one process's (1.0 = just as cheap)."""
        one, other = self.row(Variant.ONE), self.row(variant)
        if one is None or other is None:
            return None
        return ratio(one.requests_per_cpu_second, other.requests_per_cpu_second)

    def steady_cpu_per_request_ratio(self, variant: Variant) -> float | None:
        """The same ratio between the probes inside each run, start-up and shutdown left out."""
        one, other = self.row(Variant.ONE), self.row(variant)
        if one is None or other is None:
            return None
        return ratio(one.steady_per_cpu_second, other.steady_per_cpu_second)


def ray_availability() -> Availability:
    """Whether the venv's Python can import Ray (without starting it)."""
    try:
        probe = subprocess.run(
            [str(_BIN / "python"), "-c", "import ray; print(ray.__version__)"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Availability(False, f"could not ask Python for Ray ({exc})")
    if probe.returncode != 0:
        return Availability(False, "Ray is not installed (pip install -e '.[ray]')")
    return Availability(True, f"ray {probe.stdout.strip()}")


def loadhopper_argv(
    variant: Variant,
    locustfile: Path,
    host: str,
    users: int,
    seconds: int,
    workers: int,
    base: Path,
) -> list[str]:
    """The command line of one variant (the case 1 run plus the distribution flags)."""
    argv = [str(_BIN / "loadhopper"), "-f", str(locustfile), "--headless", "-u", str(users)]
    argv += ["-r", str(users), "-t", f"{seconds}s", "-H", host, "--json-file", str(base)]
    if variant is Variant.PROCESSES:
        argv += ["--processes", str(workers)]
    elif variant is Variant.RAY:
        argv += ["--ray", "local", "--workers", str(workers)]
    return argv


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


def _steady(run: TreeRun, reads_counted: bool) -> float | None:
    if len(run.probes) != 2:
        return None
    first, last = run.probes
    if first.count is None or last.count is None:
        return None
    # The second probe's own read is in its count when the target counts reads (nginx).
    served = last.count - (1 if reads_counted else 0)
    return steady_per_cpu_second(first.count, first.cpu_seconds, served, last.cpu_seconds)


def _row(
    variant: Variant, run: TreeRun, json_path: Path, stderr: Path, counted: int | None, steady: bool
) -> Case5Row:
    measured = Case5Row(
        variant,
        RunStatus.FAILED,
        "",
        target_requests=counted,
        wall_seconds=run.wall_seconds,
        cpu_seconds=run.cpu_seconds,
        kernel_cpu_seconds=run.kernel_cpu_seconds,
        unreaped_cpu_seconds=run.unreaped_cpu_seconds,
        cpu_by_role=dict(run.sampled_by_role),
        processes=run.processes,
        startup_seconds=run.startup_seconds,
    )
    if run.timed_out:
        return replace(measured, note="did not stop within its deadline and was killed")
    try:
        text = json_path.read_text()
        summary = parse_loadhopper_json(text)
        workers = parse_loadhopper_workers(text)
    except (OSError, ParseError) as exc:
        return replace(measured, note=f"exit code {run.returncode}; {exc}; stderr: {_tail(stderr)}")
    notes, status = [], RunStatus.OK
    if run.returncode != 0:
        notes.append(f"exit code {run.returncode}")
    if not run.exact:
        notes.append("not a subreaper here: orphaned processes' CPU is not counted")
    lost = [f"{w.name} lost ({w.lost_cause})" for w in workers if w.state == "lost"]
    notes += lost
    if summary.failures:
        notes.append(f"{summary.failures} failed requests; stderr: {_tail(stderr)}")
        if 2 * summary.failures > summary.requests:
            status = RunStatus.FAILED
    if summary.requests == 0:
        notes.append("no requests")
        status = RunStatus.FAILED
    return replace(
        measured,
        status=status,
        note="; ".join(notes),
        requests=summary.requests,
        failures=summary.failures,
        requests_per_cpu_second=per_cpu_second(summary.requests, run.cpu_seconds),
        steady_per_cpu_second=_steady(run, steady),
        workers=workers,
    )


def _one(
    variant: Variant,
    target: Target,
    locustfile: Path,
    users: int,
    seconds: int,
    workers: int,
    cpu: int | None,
    workdir: Path,
) -> Case5Row:
    rundir = workdir / f"case5-{variant.value}"
    rundir.mkdir(parents=True, exist_ok=True)
    base = rundir / "loadhopper"
    argv = loadhopper_argv(variant, locustfile, target.url, users, seconds, workers, base)
    # No usage-stats report from a benchmark (Ray sends one by default).
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    reads_counted = target.kind is TargetKind.NGINX
    before = target.request_count()
    # Probes after every worker's first second and before -t ends, counted from the first
    # request (Ray's start-up takes seconds and -t starts after it).
    offsets = (min(3.0, seconds * 0.3), seconds - 0.5)
    run, reads = run_tree_measured(
        argv,
        cpu=cpu,
        timeout=seconds + _GRACE_SECONDS,
        stdout_path=rundir / "stdout.txt",
        stderr_path=rundir / "stderr.txt",
        count=target.request_count,
        count_includes_reads=reads_counted,
        probe_offsets=offsets,
        cwd=rundir,
        env=env,
    )
    time.sleep(0.6)  # our server (the fallback target) reports its count every 0.25 s
    after = target.request_count()
    counted = None
    if before is not None and after is not None:
        # nginx counts the harness's reads, the last one included.
        counted = after - before - (reads + 1 if reads_counted else 0)
    return _row(
        variant, run, base.with_suffix(".json"), rundir / "stderr.txt", counted, reads_counted
    )


def run_case5(
    loadhopper: Availability,
    ray: Availability,
    users: int,
    seconds: int,
    workers: int,
    cpus: tuple[int | None, int | None],
    pinning: Pinning,
    workdir: Path,
    variants: Sequence[Variant] = tuple(Variant),
) -> Case5Result:
    """Run each variant in turn against one target and collect the rows.

    Args:
        loadhopper: whether loadhopper runs here.
        ray: whether Ray is installed (the Ray variant is skipped otherwise).
        users: users, as in case 1.
        seconds: the run time of each variant (-t), as in case 1.
        workers: worker processes or Ray actors of the distributed variants.
        cpus: (generator CPU, target CPU); None leaves that side unpinned.
        pinning: `shared` pins the generator tree to the generator CPU, `spread` does not.
        workdir: a temporary directory for the locustfile, the target and the outputs.
        variants: which variants to run, in order.
    """
    began = time.monotonic()
    generator_cpu, target_cpu = cpus
    tree_cpu = generator_cpu if pinning is Pinning.SHARED else None
    locustfile = write_locustfile(workdir, UserClass.HTTP, "constant(0)")
    target_dir = workdir / "target5"
    target_dir.mkdir()
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        context = nginx_target(target_dir, target_cpu)
    else:
        print("case5: nginx is not installed; using our own uvloop server as the target")
        context = own_target(target_dir, target_cpu, delay_ms=0.0)
    rows = []
    with context as target:
        for variant in variants:
            label = variant.label(workers)
            reason = None if loadhopper.ok else loadhopper.detail
            if reason is None and variant is Variant.RAY and not ray.ok:
                reason = ray.detail
            if reason is not None:
                print(f"case5: skipping {label}: {reason}")
                rows.append(Case5Row(variant, RunStatus.SKIPPED, reason))
                continue
            print(f"case5: running {label} for {seconds} s ...", flush=True)
            rows.append(
                _one(variant, target, locustfile, users, seconds, workers, tree_cpu, workdir)
            )
        kind = str(target.kind)
    return Case5Result(
        target=kind,
        users=users,
        seconds=seconds,
        workers=workers,
        pinning=pinning,
        generator_cpu=tree_cpu,
        target_cpu=target_cpu,
        rows=tuple(rows),
        elapsed_seconds=time.monotonic() - began,
    )
