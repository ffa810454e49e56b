"""Run a generator that starts other processes, and measure the CPU of its whole process tree.

Case 1 reads one process's CPU from `os.wait4`. A distributed run is a tree: the master and
its forked workers, or the Ray driver with the gcs_server, raylet, agents and actor processes
that `ray.init` starts. `wait4` on the root counts the root plus every descendant that was
reaped inside the tree (a parent's rusage gathers its reaped children's), but not a process
orphaned by its parent's exit: the kernel hands it to init, and its CPU time leaves with it.

So, for the length of a run, this harness becomes a child subreaper (Linux prctl
PR_SET_CHILD_SUBREAPER): orphans of the tree are re-parented to the harness instead of init,
and the harness reaps each one with `wait4` too. The tree's CPU is then the root's `wait4`
plus each orphan's `wait4`, the kernel's accounting, with nothing lost between samples.
Without prctl (not Linux) only the root's `wait4` is counted and the result says so.

A sampler thread reads the tree with psutil meanwhile, for what `wait4` cannot tell: when the
target saw the first request (start-up time), the CPU split by role (master, workers, Ray's
own services; sampled, so approximate), and two probes inside the run for a steady-state
rate without start-up and shutdown.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import psutil

from _process import pinned

__all__ = ["Role", "TreeProbe", "TreeRun", "role_of", "run_tree_measured"]

_PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
_SAMPLE_INTERVAL = 0.1  # seconds between psutil sweeps of the tree (the role split)
_POLL_INTERVAL = 0.01  # seconds between target reads until the first request (start-up)
_ORPHAN_GRACE = 30.0  # how long orphans may outlive the root before they are stopped


class Role(StrEnum):
    """What a process in the tree is, for the sampled CPU split."""

    MASTER = "master"  # the process the harness started (the Ray driver, for Ray)
    WORKERS = "workers"  # forked workers, or Ray's actor processes
    RAY = "ray services"  # gcs_server, raylet, agents, monitors: Ray's own cost
    OTHER = "other"


def role_of(pid: int, root_pid: int, name: str, cmdline: Sequence[str], root_cmd: str) -> Role:
    """The role of one process of the tree, from what psutil says about it.

    Forked workers are copies of the master, so they have its command line; Ray names its
    actor processes `ray::<ClassName>`, and loadhopper's actor class ends in "Actor"; each
    actor starts one worker process, `python -m loadhopper.distributed._ray_child`.
    """
    if pid == root_pid:
        return Role.MASTER
    command = " ".join(cmdline)
    if command == root_cmd:
        return Role.WORKERS
    if (command.startswith("ray::") and "WorkerActor" in command) or name.startswith(
        "ray::RayWorker"
    ):
        return Role.WORKERS
    if "loadhopper.distributed._ray_child" in command:
        return Role.WORKERS
    if "ray" in command or name.startswith(("ray", "gcs_server", "raylet")):
        return Role.RAY
    return Role.OTHER


@dataclass(frozen=True, slots=True)
class TreeProbe:
    """The tree's CPU time and the target's count read at one moment inside the run.

    Attributes:
        elapsed: seconds since spawn.
        cpu_seconds: user + system CPU of the processes alive in the tree then (psutil).
        count: the target's request count then.
    """

    elapsed: float
    cpu_seconds: float
    count: int | None


@dataclass(frozen=True, slots=True)
class TreeRun:
    """How one generator's process tree ran.

    Attributes:
        returncode: the root's exit code (negative: killed by that signal).
        timed_out: True when the harness had to stop it at its deadline.
        wall_seconds: from spawn to the root's exit.
        cpu_seconds: user + system CPU of the whole tree: `kernel_cpu_seconds` plus
            `unreaped_cpu_seconds`.
        kernel_cpu_seconds: the root's wait4 plus every orphan's wait4: exact for every
            process whose parent reaped it with a wait (see the module docstring).
        unreaped_cpu_seconds: the sampled CPU of the processes whose parent ignores SIGCHLD,
            which the kernel leaves out of any wait4 (a lower bound: each one's last sample
            interval, and any that lived less than one, are missed).
        unreaped_processes: how many processes that is.
        orphans: how many processes of the tree outlived their parent and were reaped here.
        exact: False when the harness could not become a subreaper (orphans not counted).
        processes: how many distinct processes the sampler saw in the tree.
        sampled_by_role: each role's CPU seconds as last sampled (approximate, a lower bound).
        startup_seconds: from spawn to the first request the target saw (None: never seen).
        probes: two probes inside the run, after start-up (fewer when the run was short).
    """

    returncode: int
    timed_out: bool
    wall_seconds: float
    cpu_seconds: float
    kernel_cpu_seconds: float
    unreaped_cpu_seconds: float
    unreaped_processes: int
    orphans: int
    exact: bool
    processes: int
    sampled_by_role: dict[str, float]
    startup_seconds: float | None
    probes: tuple[TreeProbe, ...] = ()


def _set_subreaper(on: bool) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


@contextlib.contextmanager
def _subreaper() -> Iterator[bool]:
    """Within the block this process adopts orphaned descendants (True when it could)."""
    ok = _set_subreaper(True)
    try:
        yield ok
    finally:
        if ok:
            _set_subreaper(False)


@dataclass(frozen=True, slots=True)
class _Seen:
    """One process of the tree as last sampled."""

    role: Role
    cpu_seconds: float  # its own user + system time then
    unreaped: bool  # True when the kernel drops its times at exit (see `_ignores_sigchld`)


def _ignores_sigchld(pid: int) -> bool:
    """Whether `pid` ignores SIGCHLD, so its children are reaped without their times counted.

    Ray's raylet does this (its actor and agent processes vanish from any `wait4`), which is
    why their CPU comes from sampling.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGCHLD - 1)))
    except (OSError, ValueError, IndexError):
        pass
    return False


def _children() -> set[int]:
    return {child.pid for child in psutil.Process().children()}


@dataclass(slots=True)
class _Sampler:
    """The psutil side: start-up detection, probes and the role split, on one thread."""

    root: int
    start: float
    count: Callable[[], int | None]
    probe_offsets: tuple[float, float]  # seconds after the first request
    count_includes_reads: bool  # nginx counts each status read as a request
    stop: threading.Event = field(default_factory=threading.Event)
    first_request: float | None = None  # seconds after spawn
    reads: int = 0  # how many times the target was asked (nginx counts those too)
    last_cpu: dict[tuple[int, float], _Seen] = field(default_factory=dict)
    probes: list[TreeProbe] = field(default_factory=list)

    def _read(self) -> int | None:
        self.reads += 1
        return self.count()

    def _sweep(self) -> float:
        """Record each live tree process's own CPU; return their sum."""
        try:
            root = psutil.Process(self.root)
            root_cmd = " ".join(root.cmdline())
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0.0
        by_pid = {process.pid: process for process in processes}
        unreaped: dict[int, bool] = {}

        def is_unreaped(pid: int) -> bool:
            # A process whose parent ignores SIGCHLD is reaped by the kernel itself and its
            # times vanish; so do those of everything it reaped. Walk up to the root.
            if pid not in unreaped:
                unreaped[pid] = False  # a cycle cannot happen; this only guards recursion
                process = by_pid[pid]
                try:
                    parent = process.ppid()
                except psutil.Error:
                    parent = 0
                if pid != self.root and parent in by_pid:
                    unreaped[pid] = _ignores_sigchld(parent) or is_unreaped(parent)
            return unreaped[pid]

        total = 0.0
        for process in processes:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    key = (process.pid, process.create_time())
                    known = self.last_cpu.get(key)
                    # Asked every time: Ray starts idle workers ("ray::IDLE") and renames
                    # one when it becomes an actor.
                    role = role_of(
                        process.pid, self.root, process.name(), process.cmdline(), root_cmd
                    )
            except psutil.Error:
                continue  # gone between the listing and the read
            own = times.user + times.system
            lost = is_unreaped(process.pid) or (known.unreaped if known else False)
            self.last_cpu[key] = _Seen(role, own, lost)
            total += own
        return total

    def run(self) -> None:
        previous = self._read()
        # Start-up: read the target as often as it is cheap until the count moves by more
        # than this harness's own reads (nginx counts its status requests).
        while self.first_request is None and not self.stop.is_set():
            self.stop.wait(_POLL_INTERVAL)
            now = self._read()
            own_reads = 1 if self.count_includes_reads else 0
            if previous is not None and now is not None and now - previous > own_reads:
                self.first_request = time.perf_counter() - self.start
            elif now is not None:
                previous = now
            if self.reads % 10 == 0:
                self._sweep()
        if self.first_request is None:
            return
        due = [self.first_request + offset for offset in self.probe_offsets]
        while not self.stop.is_set():
            elapsed = time.perf_counter() - self.start
            if due and elapsed >= due[0]:
                due.pop(0)
                cpu = self._sweep()
                self.probes.append(TreeProbe(time.perf_counter() - self.start, cpu, self._read()))
                continue
            self._sweep()
            wait = _SAMPLE_INTERVAL if not due else min(_SAMPLE_INTERVAL, due[0] - elapsed)
            self.stop.wait(max(0.0, wait))


def _reap_orphans(known: set[int], root: int, grace: float) -> tuple[float, int]:
    """Reap the tree's orphans now re-parented to this process; (their CPU, how many)."""
    cpu, reaped = 0.0, 0
    deadline = time.monotonic() + grace
    while True:
        orphans = _children() - known - {root}
        if not orphans:
            return cpu, reaped
        for pid in orphans:
            try:
                done, _, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                known.add(pid)  # reaped elsewhere (a Popen of ours): not the tree's
                continue
            if done == pid:
                cpu += usage.ru_utime + usage.ru_stime
                reaped += 1
        if time.monotonic() > deadline:
            # Processes the run started and that outlived it by the grace: stop them by
            # pid, then reap them on the next pass.
            for pid in orphans:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def run_tree_measured(
    argv: Sequence[str],
    *,
    cpu: int | None,
    timeout: float,
    stdout_path: Path,
    stderr_path: Path,
    count: Callable[[], int | None],
    count_includes_reads: bool,
    probe_offsets: tuple[float, float],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> tuple[TreeRun, int]:
    """Run a generator to completion with its whole tree on `cpu`, and measure the tree.

    Args:
        argv: the command.
        cpu: the CPU the tree runs on (children inherit the affinity), or None: unpinned.
        timeout: seconds after which the root gets SIGINT, then SIGKILL 10 s later.
        stdout_path: where its stdout goes.
        stderr_path: where its stderr goes.
        count: reads the target's cumulative request count.
        count_includes_reads: True when each read is itself counted by the target (nginx).
        probe_offsets: seconds after the first request at which to take the two probes.
        cwd: its working directory.
        env: its environment (the harness's when None).

    Returns:
        The measurement, and how many times the target was read during the run (so the
        caller can take those reads out of the target's count).
    """
    with _subreaper() as exact:
        known = _children()
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            start = time.perf_counter()
            with pinned(cpu):
                process = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd, env=env)
        sampler = _Sampler(process.pid, start, count, probe_offsets, count_includes_reads)
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        timed_out = threading.Event()

        def on_deadline() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGINT)
            time.sleep(10.0)
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, on_deadline)
        timer.daemon = True
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            timer.cancel()
            sampler.stop.set()
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(process.pid, 0)
            process.returncode = -signal.SIGKILL
            raise
        wall = time.perf_counter() - start
        timer.cancel()
        sampler.stop.set()
        thread.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        root_cpu = usage.ru_utime + usage.ru_stime
        orphan_cpu, orphans = _reap_orphans(known, process.pid, _ORPHAN_GRACE)
    by_role: dict[str, float] = {}
    for seen in sampler.last_cpu.values():
        by_role[seen.role.value] = by_role.get(seen.role.value, 0.0) + seen.cpu_seconds
    unreaped = [seen.cpu_seconds for seen in sampler.last_cpu.values() if seen.unreaped]
    run = TreeRun(
        returncode=process.returncode,
        timed_out=timed_out.is_set(),
        wall_seconds=wall,
        cpu_seconds=root_cpu + orphan_cpu + sum(unreaped),
        kernel_cpu_seconds=root_cpu + orphan_cpu,
        unreaped_cpu_seconds=sum(unreaped),
        unreaped_processes=len(unreaped),
        orphans=orphans,
        exact=exact,
        processes=len(sampler.last_cpu),
        sampled_by_role=by_role,
        startup_seconds=sampler.first_request,
        probes=tuple(sampler.probes),
    )
    return run, sampler.reads
