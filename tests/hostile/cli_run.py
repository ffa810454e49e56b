"""One run of the real CLI (`python -m loadhopper --headless ...`) against its own hostile server.

The run is a subprocess with every output switched on (CSV, JSON, HTML). The harness waits
for it with `os.wait4`, which also gives the process's peak RSS (`ru_maxrss`, KiB on Linux),
so the memory bound is the kernel's figure, not a sample. Two guards keep a broken client
from hurting the machine the suite runs on: the run is killed when it outlives its hang
bound or when its RSS passes RUNAWAY_RSS (polled), and its address space is capped at
ADDRESS_SPACE_LIMIT, so that a 10 GiB decompression fails inside the client instead of
taking the memory other processes need.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import psutil

from hostile.hostile_server import HostileServer

__all__ = ["HANG_BOUND", "Outcome", "Scenario", "run_scenario"]

HANG_BOUND = 15.0  # seconds past -t plus the stop timeout before a run counts as hung
RUNAWAY_RSS = 1536 << 20  # far above any bound a test asserts: only a runaway gets here
ADDRESS_SPACE_LIMIT = 6 << 30  # a normal run maps well under 1 GiB
CSV_FILES = ("out_stats.csv", "out_stats_history.csv", "out_failures.csv", "out_exceptions.csv")

_LOCUSTFILE = """\
from locust import HttpUser, constant, task


class Hostile(HttpUser):
    wait_time = constant(0.05)

    @task
    def hit(self):
{body}
"""


@dataclass(frozen=True)
class Scenario:
    """One CLI run: the body of its locustfile's only task, and the run's settings.

    Attributes:
        name: names the run's directory; unique in the suite.
        task: the statements of the task, e.g. `self.client.get("/reset", name="/reset")`.
    """

    name: str
    task: str
    users: int = 2
    run_time: float = 3.0
    stop_timeout: float = 5.0
    seed: int = 7

    @property
    def hang_bound(self) -> float:
        return self.run_time + self.stop_timeout + HANG_BOUND

    def locustfile(self) -> str:
        lines = self.task.strip().splitlines()
        return _LOCUSTFILE.format(body="\n".join("        " + line for line in lines))


@dataclass(frozen=True)
class Outcome:
    """What one run did, as the process, the server and the output files tell it."""

    scenario: Scenario
    directory: Path
    returncode: int
    wall: float
    peak_rss_mib: float
    stdout: str
    stderr: str
    killed: str | None  # why the harness killed the run, or None if it ended by itself
    received: dict[tuple[str, str], int]  # the server's count of request heads
    server_idle: bool  # every connection was closed by the time the counts were taken

    @cached_property
    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.directory / "out.json").read_text())
        return data

    def row(self, method: str, name: str) -> dict[str, Any]:
        for row in self.summary["rows"]:
            if row["method"] == method and row["name"] == name:
                return dict(row)
        rows = [(row["method"], row["name"]) for row in self.summary["rows"]]
        raise AssertionError(f"no row for {method} {name} in the summary; rows: {rows}")

    def csv(self, name: str) -> list[dict[str, str]]:
        with (self.directory / name).open(newline="") as handle:
            return list(csv.DictReader(handle))

    def describe(self) -> str:
        """The tail of the run's output, for assertion messages."""
        return f"exit {self.returncode}, killed={self.killed}\n{self.stderr[-3000:]}"


def run_scenario(scenario: Scenario, directory: Path) -> Outcome:
    """Serve a fresh hostile server, run the CLI against it, and collect what happened."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "locustfile.py").write_text(scenario.locustfile())
    with HostileServer(seed=scenario.seed, lifetime=scenario.hang_bound + 30) as server:
        returncode, wall, rss_kib, killed = _run_cli(scenario, directory, server.url)
        # The process is gone, so the kernel has closed its sockets; once the server has seen
        # every close, it has also read every request head that was sent.
        idle = server.wait_idle(10)
        received = server.counts()
    return Outcome(
        scenario=scenario,
        directory=directory,
        returncode=returncode,
        wall=wall,
        peak_rss_mib=rss_kib / 1024,
        stdout=(directory / "stdout.txt").read_text(errors="replace"),
        stderr=(directory / "stderr.txt").read_text(errors="replace"),
        killed=killed,
        received=received,
        server_idle=idle,
    )


def _run_cli(scenario: Scenario, directory: Path, url: str) -> tuple[int, float, int, str | None]:
    users = str(scenario.users)
    args = [
        sys.executable, "-m", "loadhopper", "-f", "locustfile.py", "--headless",
        "-u", users, "-r", users, "-t", f"{scenario.run_time:g}s",
        "--stop-timeout", f"{scenario.stop_timeout:g}", "-H", url,
        "--csv", "out", "--json-file", "out", "--html", "out.html",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "LOADHOPPER_"))}
    env["HOME"] = str(directory)  # no ~/.locust.conf from the machine running the tests
    killed: str | None = None
    started = time.monotonic()
    with (directory / "stdout.txt").open("wb") as out, (directory / "stderr.txt").open("wb") as err:
        process = subprocess.Popen(args, cwd=directory, env=env, stdout=out, stderr=err)
    try:
        limit = (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT)
        psutil.Process(process.pid).rlimit(psutil.RLIMIT_AS, limit)
    except psutil.NoSuchProcess:
        pass  # it has already ended: wait4 below still reaps it
    deadline = started + scenario.hang_bound
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if killed is None:
            killed = _reason_to_kill(process.pid, deadline, scenario.hang_bound)
            if killed is not None:
                process.kill()
        time.sleep(0.05)
    wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return process.returncode, wall, usage.ru_maxrss, killed


def _reason_to_kill(pid: int, deadline: float, bound: float) -> str | None:
    if time.monotonic() > deadline:
        return f"still running after {bound:g} s"
    try:
        rss = psutil.Process(pid).memory_info().rss
    except psutil.NoSuchProcess:
        return None
    if rss > RUNAWAY_RSS:
        return f"its RSS reached {rss >> 20} MiB"
    return None
