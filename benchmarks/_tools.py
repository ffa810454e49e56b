"""The load generators compared: how to find each, how to run it, how to read what it said."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from _locustfiles import UserClass
from _parse import (
    ToolSummary,
    parse_loadhopper_json,
    parse_locust_json,
    parse_locust_stats_csv,
    parse_wrk_output,
)

__all__ = ["Availability", "Invocation", "LoadSpec", "Tool", "availability", "build", "summary"]

# The venv the harness runs in holds loadhopper and locust (./dev bench uses .venv/bin/python).
_BIN = Path(sys.executable).parent


class Tool(StrEnum):
    """A load generator, by its --tools name."""

    LOADHOPPER = "loadhopper"
    LOCUST_HTTP = "locust-http"
    LOCUST_FAST = "locust-fast"
    WRK = "wrk"

    @property
    def label(self) -> str:
        """The name printed in results."""
        return "locust-fasthttp" if self is Tool.LOCUST_FAST else self.value


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether a tool can run here; `detail` is its version, or why it cannot run."""

    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """One run's load, the same for every tool.

    Attributes:
        host: the target's base URL.
        users: concurrent users (wrk: connections).
        spawn_rate: users started per second (wrk opens all connections at once).
        seconds: the run time.
        locustfiles: the locustfile each user class runs.
        loadhopper_class: which of those locustfiles loadhopper runs.
        loadhopper_flags: flags only loadhopper gets (e.g. `--local-ips`, which Locust lacks).
    """

    host: str
    users: int
    spawn_rate: float
    seconds: int
    locustfiles: Mapping[UserClass, Path]
    loadhopper_class: UserClass
    loadhopper_flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Invocation:
    """A command to run, and where its summary will be."""

    tool: Tool
    argv: list[str]
    summary_path: Path | None  # None: the summary is on stdout


def _probe(argv: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def availability(tool: Tool) -> Availability:
    """Check that `tool` is installed and runs, without generating any load."""
    if tool is Tool.WRK:
        wrk = shutil.which("wrk")
        if wrk is None:
            return Availability(False, "wrk is not installed (apt-get install -y wrk)")
        probe = _probe([wrk, "-v"])  # prints its version and usage, exits 1
        first = probe.stdout.splitlines()[0] if probe and probe.stdout else "wrk"
        return Availability(True, first.split(" [")[0])
    name = "loadhopper" if tool is Tool.LOADHOPPER else "locust"
    executable = _BIN / name
    if not executable.exists():
        return Availability(False, f"{executable} does not exist (pip install -e '.[bench]')")
    probe = _probe([str(executable), "--help"])
    if probe is None or probe.returncode != 0:
        tail = (probe.stderr.strip().splitlines() or ["no output"])[-1] if probe else "timed out"
        return Availability(False, f"`{name} --help` fails ({tail})")
    if tool is Tool.LOADHOPPER and "--json-file" not in probe.stdout:
        return Availability(False, "loadhopper's CLI has no --json-file flag yet")
    version = _probe([str(executable), "--version"])
    detail = version.stdout.strip().split(" from ")[0] if version and version.stdout else name
    return Availability(True, detail)


def build(tool: Tool, spec: LoadSpec, workdir: Path) -> Invocation:
    """The command that runs `spec` through `tool`, writing its summary under `workdir`."""
    duration = f"{spec.seconds}s"
    if tool is Tool.WRK:
        # One thread: the same one core the Python tools get.
        argv = ["wrk", "-t1", f"-c{spec.users}", f"-d{duration}", spec.host + "/"]
        return Invocation(tool, argv, None)
    common = [
        "--headless",
        "-u",
        str(spec.users),
        "-r",
        f"{spec.spawn_rate:g}",
        "-t",
        duration,
        "-H",
        spec.host,
    ]
    if tool is Tool.LOADHOPPER:
        locustfile = spec.locustfiles[spec.loadhopper_class]
        base = workdir / "loadhopper"  # --json-file BASE writes BASE.json, as Locust does
        argv = [
            str(_BIN / "loadhopper"), "-f", str(locustfile), *common, *spec.loadhopper_flags,
            "--json-file", str(base),
        ]  # fmt: skip
        return Invocation(tool, argv, base.with_suffix(".json"))
    user_class = UserClass.HTTP if tool is Tool.LOCUST_HTTP else UserClass.FAST
    prefix = workdir / tool.value
    argv = [
        str(_BIN / "locust"),
        "-f",
        str(spec.locustfiles[user_class]),
        *common,
        # The JSON file is written once after the users stop: complete counts, but no
        # aggregate and no median. The CSV's Aggregated row has Locust's own median, but the
        # file is rewritten only once a second and misses the last second. So both.
        "--json-file",  # Locust appends ".json" to this name itself
        str(prefix),
        "--csv",
        str(prefix),
        "--only-summary",
    ]
    return Invocation(tool, argv, Path(f"{prefix}.json"))


def summary(invocation: Invocation, stdout_path: Path) -> ToolSummary:
    """Parse what the tool reported about its run.

    Raises:
        ParseError: the output lacks the totals.
        FileNotFoundError: the tool wrote no summary file.
    """
    if invocation.tool is Tool.WRK:
        return parse_wrk_output(stdout_path.read_text(errors="replace"))
    assert invocation.summary_path is not None
    text = invocation.summary_path.read_text()
    if invocation.tool is Tool.LOADHOPPER:
        return parse_loadhopper_json(text)
    totals = parse_locust_json(text)
    csv_path = invocation.summary_path.with_name(invocation.summary_path.stem + "_stats.csv")
    latencies = parse_locust_stats_csv(csv_path.read_text())
    return dataclasses.replace(totals, median_ms=latencies.median_ms, avg_ms=latencies.avg_ms)
