"""A LoadTestShape run ends on every stop, end to end: `python -m loadhopper` in a subprocess.

Whatever ends the test (Ctrl-C, SIGTERM as `timeout` sends it, `-t` with
`use_common_options`, the shape returning None or failing), the process must exit by itself,
print the summary and write complete `--csv`, `--json-file` and `--html` outputs. Each run
is bounded: a process that is still alive `HANG_BOUND` seconds after its stop fails the test
and is killed.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

STOP_TIMEOUT = 2  # -s: users get this long to finish their task at the stop
HANG_BOUND = STOP_TIMEOUT + 15  # seconds from the stop to the exit, before we call it a hang
STARTUP_BOUND = 30  # seconds for the first stats window, on a busy machine

USER = """
import math

from locust import HttpUser, LoadTestShape, constant, task

class Web(HttpUser):
    wait_time = constant(0.05)

    @task
    def index(self):
        self.client.get("/")
"""

STEADY = (
    USER
    + """
class Steady(LoadTestShape):
    def tick(self):
        return (2, 10)
"""
)

COMMON_OPTIONS = (
    USER
    + """
class WithRunTime(LoadTestShape):
    use_common_options = True  # -t/--run-time applies alongside the shape

    def tick(self):
        return (2, 10)
"""
)

ENDS_ITSELF = (
    USER
    + """
class TwoThenStop(LoadTestShape):
    def tick(self):
        return (2, 10) if self.get_run_time() < 1.5 else None
"""
)

NOTHING = (
    USER
    + """
class Nothing(LoadTestShape):
    def tick(self):
        return None
"""
)

BROKEN = (
    USER
    + """
class Broken(LoadTestShape):
    def tick(self):
        if self.get_run_time() < 1.5:
            return (2, 10)
        return self.stages[0]  # there is no such attribute
"""
)

# Locust's own examples (examples/custom_shape/stages.py and double_wave.py), with shorter
# stages and smaller peaks so that the test takes seconds.
STAGES = (
    USER
    + """
class StagesShape(LoadTestShape):
    stages = [
        {"duration": 1.5, "users": 2, "spawn_rate": 10},
        {"duration": 3.5, "users": 4, "spawn_rate": 10},
        {"duration": 4.5, "users": 1, "spawn_rate": 10},
    ]

    def tick(self):
        run_time = self.get_run_time()
        for stage in self.stages:
            if run_time < stage["duration"]:
                tick_data = (stage["users"], stage["spawn_rate"])
                return tick_data
        return None
"""
)

DOUBLE_WAVE = (
    USER
    + """
class DoubleWave(LoadTestShape):
    min_users = 2
    peak_one_users = 6
    peak_two_users = 4
    time_limit = 600

    def tick(self):
        run_time = round(self.get_run_time())
        if run_time < self.time_limit:
            user_count = (
                (self.peak_one_users - self.min_users)
                * math.e ** -(((run_time / (self.time_limit / 10 * 2 / 3)) - 5) ** 2)
                + (self.peak_two_users - self.min_users)
                * math.e ** -(((run_time / (self.time_limit / 10 * 2 / 3)) - 10) ** 2)
                + self.min_users
            )
            return (round(user_count), round(user_count))
        else:
            return None
"""
)


@dataclass
class Finished:
    """A run that exited by itself, with what it printed."""

    returncode: int
    stdout: str
    stderr: str


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "LOADHOPPER_"))}
    env["HOME"] = str(home)  # no ~/.locust.conf from the machine running the tests
    return env


def _start(cwd: Path, locustfile: str, host: str, *args: str) -> subprocess.Popen[str]:
    (cwd / "locustfile.py").write_text(locustfile)
    command = [
        sys.executable, "-m", "loadhopper", "--headless", "-H", host, "-s", str(STOP_TIMEOUT),
        "--csv", "out", "--json-file", "out", "--html", "out.html", *args,
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=_env(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str], bound: float) -> Finished:
    """Wait up to `bound` seconds for the process to exit by itself; kill it if it does not."""
    try:
        stdout, stderr = process.communicate(timeout=bound)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        raise AssertionError(
            f"the run did not exit within {bound:g} s; it hung.\n{stderr}"
        ) from None
    return Finished(process.returncode, stdout, stderr)


def _run(cwd: Path, locustfile: str, host: str, *args: str, lasts: float) -> Finished:
    """A run that ends by itself after about `lasts` seconds."""
    process = _start(cwd, locustfile, host, *args)
    try:
        return _finish(process, STARTUP_BOUND + lasts + HANG_BOUND)
    finally:
        process.kill()  # a no-op once it has exited


def _signalled(cwd: Path, locustfile: str, host: str, signum: signal.Signals) -> Finished:
    """A run stopped by `signum` once its first stats window has closed."""
    process = _start(cwd, locustfile, host)
    try:
        _wait_for_first_window(cwd / "out_stats_history.csv", process)
        process.send_signal(signum)
        return _finish(process, HANG_BOUND)
    finally:
        process.kill()


def _wait_for_first_window(history: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + STARTUP_BOUND
    while time.monotonic() < deadline and process.poll() is None:
        if history.exists() and len(history.read_text().splitlines()) >= 2:
            return
        time.sleep(0.05)
    raise AssertionError("the run never closed its first stats window")


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _assert_complete_outputs(cwd: Path, finished: Finished, target: Any) -> int:
    """Check the summary and every output file; return the number of requests they hold."""
    assert "Response time percentiles" in finished.stdout  # the final summary was printed
    stats = _read_csv(cwd / "out_stats.csv")
    assert [(row["Type"], row["Name"]) for row in stats] == [("GET", "/"), ("", "Aggregated")]
    requests = int(stats[-1]["Request Count"])
    assert requests > 0
    # With a stop timeout, the requests in flight at the stop finish and are counted too.
    assert target.requests[("GET", "/")] == requests
    assert len(_read_csv(cwd / "out_stats_history.csv")) >= 2
    assert _read_csv(cwd / "out_failures.csv") == []
    summary = json.loads((cwd / "out.json").read_text())
    assert summary["aggregated"]["num_requests"] == requests
    assert [row["name"] for row in summary["rows"]] == ["/"]
    report = (cwd / "out.html").read_text()
    assert "loadhopper report" in report and "class Web(HttpUser)" in report
    return requests


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signal_ends_a_shape_run_with_its_outputs(
    tmp_path: Path, target: Any, signum: signal.Signals
) -> None:
    finished = _signalled(tmp_path, STEADY, target.url, signum)
    assert finished.returncode == 0, finished.stderr
    assert f"{signum.name} received" in finished.stderr
    _assert_complete_outputs(tmp_path, finished, target)
    assert _read_csv(tmp_path / "out_exceptions.csv") == []


def test_the_run_time_ends_a_shape_that_uses_the_common_options(
    tmp_path: Path, target: Any
) -> None:
    finished = _run(tmp_path, COMMON_OPTIONS, target.url, "-t", "2s", lasts=2)
    assert finished.returncode == 0, finished.stderr
    assert "run time of 2.0 s reached: stopping" in finished.stderr
    assert "are ignored" not in finished.stderr  # this shape takes -t
    _assert_complete_outputs(tmp_path, finished, target)


def test_a_shape_returning_none_ends_the_run_with_its_outputs(tmp_path: Path, target: Any) -> None:
    finished = _run(tmp_path, ENDS_ITSELF, target.url, lasts=1.5)
    assert finished.returncode == 0, finished.stderr
    assert "the load shape returned None: stopping" in finished.stderr
    _assert_complete_outputs(tmp_path, finished, target)


def test_a_shape_returning_none_at_once_still_writes_every_output(
    tmp_path: Path, target: Any
) -> None:
    finished = _run(tmp_path, NOTHING, target.url, lasts=0)
    assert finished.returncode == 0, finished.stderr
    assert "the load shape returned None: stopping" in finished.stderr
    assert "Response time percentiles" in finished.stdout
    assert int(_read_csv(tmp_path / "out_stats.csv")[-1]["Request Count"]) == 0
    assert json.loads((tmp_path / "out.json").read_text())["aggregated"]["num_requests"] == 0
    assert "loadhopper report" in (tmp_path / "out.html").read_text()
    assert target.requests == {}


def test_a_failing_tick_ends_the_run_with_the_error_in_the_outputs(
    tmp_path: Path, target: Any
) -> None:
    finished = _run(tmp_path, BROKEN, target.url, lasts=1.5)
    # The error counts like an exception in a task: the default --exit-code-on-error.
    assert finished.returncode == 1, finished.stderr
    assert "The load shape Broken failed (AttributeError" in finished.stderr
    _assert_complete_outputs(tmp_path, finished, target)
    (exception,) = _read_csv(tmp_path / "out_exceptions.csv")
    assert "'Broken' object has no attribute 'stages'" in exception["Message"]
    summary = json.loads((tmp_path / "out.json").read_text())
    assert "object has no attribute 'stages'" in summary["exceptions"][0]["message"]


def test_locusts_stages_example_runs_to_its_end(tmp_path: Path, target: Any) -> None:
    finished = _run(tmp_path, STAGES, target.url, lasts=5)
    assert finished.returncode == 0, finished.stderr
    assert "the load shape returned None: stopping" in finished.stderr
    _assert_complete_outputs(tmp_path, finished, target)
    # The stages were followed. The shape is polled on whole seconds and the stages change
    # half-way between, so the windows closed at 1 s and 3 s see 2 and 4 users for sure.
    counts = {int(row["User Count"]) for row in _read_csv(tmp_path / "out_stats_history.csv")}
    assert {2, 4} <= counts


def test_locusts_double_wave_example_stops_on_sigterm(tmp_path: Path, target: Any) -> None:
    # `timeout 60 loadhopper ...` sends SIGTERM; this shape never ends by itself that soon.
    finished = _signalled(tmp_path, DOUBLE_WAVE, target.url, signal.SIGTERM)
    assert finished.returncode == 0, finished.stderr
    _assert_complete_outputs(tmp_path, finished, target)
