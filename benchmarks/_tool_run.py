"""One tool, one run: start it pinned, measure it, read its summary, keep a note of what failed."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from _parse import ParseError, ToolSummary
from _process import MeasuredRun, run_measured
from _tools import LoadSpec, Tool, build, summary

__all__ = ["RunStatus", "ToolRun", "run_tool", "skipped"]

# Beyond -t, how long a tool may take to start up and shut down before it is stopped.
_GRACE_SECONDS = 60.0


class RunStatus(StrEnum):
    """How a tool's run went."""

    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ToolRun:
    """A finished run (or the reason there is none).

    Attributes:
        tool: the generator.
        status: OK when the tool ran and its summary was read.
        note: why it was skipped or failed, or a warning (non-zero exit, failures).
        measured: the process's CPU, memory and wall time; None when it never ran.
        summary: the tool's own totals; None when unreadable.
        started_at: epoch seconds at spawn.
    """

    tool: Tool
    status: RunStatus
    note: str
    measured: MeasuredRun | None
    summary: ToolSummary | None
    started_at: float


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


def skipped(tool: Tool, reason: str) -> ToolRun:
    """A run that did not happen, with the reason."""
    return ToolRun(tool, RunStatus.SKIPPED, reason, None, None, time.time())


def run_tool(
    tool: Tool,
    spec: LoadSpec,
    workdir: Path,
    cpu: int | None,
    tag: str,
    probe_at: Sequence[float] = (),
    count: Callable[[], int | None] | None = None,
) -> ToolRun:
    """Run `spec` through `tool` on `cpu`, with its files in `workdir` under names from `tag`.

    `probe_at` and `count` are passed to `run_measured` (CPU time and target count together).
    """
    rundir = workdir / f"{tag}-{tool.value}"
    rundir.mkdir(parents=True, exist_ok=True)
    invocation = build(tool, spec, rundir)
    stdout_path, stderr_path = rundir / "stdout.txt", rundir / "stderr.txt"
    started_at = time.time()
    measured = run_measured(
        invocation.argv,
        cpu=cpu,
        timeout=spec.seconds + _GRACE_SECONDS,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        cwd=rundir,
        probe_at=probe_at,
        count=count,
    )
    if measured.timed_out:
        note = f"did not stop within {spec.seconds + _GRACE_SECONDS:.0f} s and was killed"
        return ToolRun(tool, RunStatus.FAILED, note, measured, None, started_at)
    try:
        tool_summary = summary(invocation, stdout_path)
    except (ParseError, OSError) as exc:
        note = f"exit code {measured.returncode}; {exc}; stderr: {_tail(stderr_path)}"
        return ToolRun(tool, RunStatus.FAILED, note, measured, None, started_at)
    notes = []
    if measured.returncode != 0:
        # Locust exits 1 whenever any request failed; the numbers are still its numbers.
        notes.append(f"exit code {measured.returncode}")
    status = RunStatus.OK
    if tool_summary.failures:
        notes.append(f"{tool_summary.failures} failed requests; stderr: {_tail(stderr_path)}")
        # A run that mostly failed measured error handling, not the load it was asked for.
        if 2 * tool_summary.failures > tool_summary.requests:
            status = RunStatus.FAILED
    if tool_summary.requests == 0:
        notes.append("no requests")
        status = RunStatus.FAILED
    return ToolRun(tool, status, "; ".join(notes), measured, tool_summary, started_at)
