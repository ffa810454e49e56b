"""Start child processes pinned to one CPU, and measure a generator's CPU time and peak memory.

CPU time and peak RSS come from `os.wait4`, the kernel's own accounting for the child (user +
system time of all its threads, plus any descendants it reaped; `ru_maxrss` in KB on Linux).
Nothing is sampled, so nothing is missed between samples.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

__all__ = [
    "MeasuredRun",
    "Probe",
    "allowed_cpus",
    "pinned",
    "raise_open_file_limit",
    "run_measured",
    "stop_process",
]

# Spawning under a changed affinity must not race with another thread spawning.
_SPAWN_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Probe:
    """The child's CPU time and the target's request count read at the same moment.

    Attributes:
        time: epoch seconds.
        elapsed: seconds since spawn.
        cpu_seconds: user + system CPU of the child so far (psutil).
        count: the target's request count then, or None when it cannot say.
        run_delay_seconds: time the child's threads spent runnable but waiting for a CPU
            (/proc/PID/task/*/schedstat), None where the kernel does not say. On a shared
            machine this tells "the tool was slow" from "the tool was starved".
    """

    time: float
    elapsed: float
    cpu_seconds: float
    count: int | None
    run_delay_seconds: float | None


@dataclass(frozen=True, slots=True)
class MeasuredRun:
    """How one generator process ran.

    Attributes:
        returncode: the exit code (negative: killed by that signal).
        timed_out: True when the harness had to kill it at its deadline.
        wall_seconds: from spawn to exit.
        cpu_seconds: user + system CPU time of the process tree.
        max_rss_kb: peak resident set size, KB.
        probes: the probes taken while it ran (those it outlived).
    """

    returncode: int
    timed_out: bool
    wall_seconds: float
    cpu_seconds: float
    max_rss_kb: int
    probes: tuple[Probe, ...] = ()


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on, in order (all of them where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@contextlib.contextmanager
def pinned(cpu: int | None) -> Iterator[None]:
    """Within the block, the calling thread (and so any child it forks) runs on `cpu` only.

    A forked child inherits its parent thread's affinity, which avoids `preexec_fn` (unsafe
    when the harness has threads running).
    """
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        yield
        return
    with _SPAWN_LOCK:
        previous = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})
        try:
            yield
        finally:
            os.sched_setaffinity(0, previous)


def raise_open_file_limit() -> int:
    """Raise this process's open-file soft limit to its hard limit; children inherit it.

    10,000 users hold 10,000 sockets on each side. Raising the hard limit needs privileges a
    container usually lacks, so the soft limit goes as high as the hard one allows.

    Returns:
        The new soft limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1_048_576
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft if soft != resource.RLIM_INFINITY else target
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def stop_process(process: subprocess.Popen[bytes], grace_seconds: float = 5.0) -> None:
    """Stop a child this harness started, by its pid: SIGTERM, then SIGKILL after the grace."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_measured(
    argv: Sequence[str],
    *,
    cpu: int | None,
    timeout: float,
    stdout_path: Path,
    stderr_path: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    probe_at: Sequence[float] = (),
    count: Callable[[], int | None] | None = None,
) -> MeasuredRun:
    """Run a generator to completion on one CPU and measure it.

    Args:
        argv: the command.
        cpu: the CPU to pin it to, or None to leave it unpinned.
        timeout: seconds after which it is sent SIGINT (as Ctrl-C would), then SIGKILL 10 s
            later; the result is then marked `timed_out`.
        stdout_path: where its stdout goes.
        stderr_path: where its stderr goes.
        cwd: its working directory.
        env: its environment (the harness's when None).
        probe_at: seconds after spawn at which to take a `Probe`.
        count: reads the target's request count for the probes.
    """
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        start = time.perf_counter()
        with pinned(cpu):
            process = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd, env=env)
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
    probes: list[Probe] = []
    exited = threading.Event()
    prober = threading.Thread(
        target=_take_probes,
        args=(process.pid, start, probe_at, count, exited, probes),
        daemon=True,
    )
    prober.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except BaseException:
        # Interrupted (Ctrl-C): never leave a generator running behind us.
        timer.cancel()
        exited.set()
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(process.pid, 0)
        process.returncode = -signal.SIGKILL
        raise
    wall = time.perf_counter() - start
    timer.cancel()
    exited.set()
    prober.join()
    # os.wait4 reaped it; tell Popen so it does not try to reap it again.
    process.returncode = os.waitstatus_to_exitcode(status)
    return MeasuredRun(
        returncode=process.returncode,
        timed_out=timed_out.is_set(),
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        max_rss_kb=usage.ru_maxrss,
        probes=tuple(probes),
    )


def _take_probes(
    pid: int,
    start: float,
    offsets: Sequence[float],
    count: Callable[[], int | None] | None,
    exited: threading.Event,
    out: list[Probe],
) -> None:
    """Read the child's CPU time and the target's count at each offset, until the child ends."""
    try:
        child = psutil.Process(pid)
    except psutil.Error:
        return
    for offset in sorted(offsets):
        if exited.wait(max(0.0, start + offset - time.perf_counter())):
            return  # the child has been reaped; its pid may already be someone else's
        try:
            times = child.cpu_times()
        except psutil.Error:
            return  # it has exited (or been reaped): later probes would see nothing
        # The count is read right after the CPU time, both within a millisecond or so.
        total = count() if count is not None else None
        cpu = times.user + times.system + times.children_user + times.children_system
        elapsed = time.perf_counter() - start
        out.append(Probe(time.time(), elapsed, cpu, total, _run_delay(pid)))


def _run_delay(pid: int) -> float | None:
    """Seconds the process's threads have waited on a run queue (schedstat's second field)."""
    total_ns = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            fields = (task / "schedstat").read_text().split()
            total_ns += int(fields[1])
    except (OSError, IndexError, ValueError):
        return None
    return total_ns / 1e9
