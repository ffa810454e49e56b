"""An ArrivalShape in a locustfile, the JSON's open-model sections, and the flags' usage errors."""

from __future__ import annotations

import json
from pathlib import Path

from cli_target import serve
from test_main_e2e import run_cli, write

SHAPED = """
from loadhopper import ArrivalShape
from locust import HttpUser, task

class Ramp(ArrivalShape):
    # 0 -> 40/s over 1 s, 40/s for 1 s, 40 -> 0 over 1 s: 20 + 40 + 20 = 80 iterations.
    stages = [(1, 40), (1, 40), (1, 0)]
    max_users = 4

class Visitor(HttpUser):
    @task
    def visit(self):
        self.client.get("/")
"""


def test_an_arrival_shape_runs_its_stages_and_ends_by_itself(tmp_path: Path) -> None:
    write(tmp_path, "locustfile.py", SHAPED)
    with serve() as server:
        # No -t: the stages end the test. The timeout of run_cli only catches a hang.
        done = run_cli(
            tmp_path, "--headless", "-H", server.url, "--json-file", "out", "--only-summary"
        )
        received = server.settled()[("GET", "/")]
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "out.json").read_text())
    arrivals = summary["arrivals"]
    # The integral of the rate over the stages is 80; the instant of k = 80 is the end.
    assert 79 <= arrivals["due"] <= 81, arrivals
    assert arrivals["dropped"] == 0 and received == arrivals["due"]
    assert summary["run"]["load_model"].startswith("arrival stages")
    assert summary["aggregated"]["corrected"]["count"] == received


def _usage_error(tmp_path: Path, *args: str) -> str:
    done = run_cli(tmp_path, "--headless", "-H", "http://127.0.0.1:9", "-t", "1s", *args)
    assert done.returncode == 2, done.stderr[-2000:]
    # One sentence, without a traceback (a warning about ignored flags may come first).
    lines = [line for line in done.stderr.splitlines() if line.startswith("loadhopper: ")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_bad_rates_and_stages_are_usage_errors(tmp_path: Path) -> None:
    write(tmp_path, "locustfile.py", SHAPED.replace("class Ramp(ArrivalShape)", "class R(object)"))
    assert "not an arrival rate" in _usage_error(tmp_path, "--arrival-rate", "fast")
    assert "DURATION:RATE" in _usage_error(tmp_path, "--arrival-stages", "30s")
    assert "at least 1" in _usage_error(tmp_path, "--arrival-rate", "5", "--max-users", "0")
    assert "--arrival-rate" in _usage_error(tmp_path, "--max-users", "5")


def test_an_arrival_rate_with_a_load_shape_is_a_usage_error(tmp_path: Path) -> None:
    write(
        tmp_path,
        "locustfile.py",
        """
from locust import HttpUser, LoadTestShape, task

class Steps(LoadTestShape):
    def tick(self):
        return (1, 1)

class Visitor(HttpUser):
    @task
    def visit(self):
        self.client.get("/")
""",
    )
    line = _usage_error(tmp_path, "--arrival-rate", "10/s")
    assert "LoadTestShape" in line or "shape" in line, line


PLAIN = """
from locust import HttpUser, constant, task

class Visitor(HttpUser):
    wait_time = constant(0)

    @task
    def visit(self):
        self.client.get("/")
"""


def test_the_web_mode_runs_an_arrival_rate_and_judges_thresholds(tmp_path: Path) -> None:
    """--autostart runs the test the UI would start: the schedule, the load-model line and
    the thresholds (judged during the test by the watch the UI shows) reach the outputs."""
    write(tmp_path, "locustfile.py", PLAIN)
    with serve() as server:
        done = run_cli(
            tmp_path,
            *("-H", server.url, "-P", "0", "--autostart", "--autoquit", "0", "-t", "3s"),
            *("--arrival-rate", "50/s", "-u", "2", "--max-users", "4"),
            *("--threshold", "p99<5000", "--threshold", "requests>100000"),
            *("--json-file", "out"),
        )
        received = server.settled()[("GET", "/")]
    summary = json.loads((tmp_path / "out.json").read_text())
    assert done.returncode == 99, done.stderr[-2000:]  # requests>100000 fails
    # 50/s for 3 s: iterations k = 0 .. 149 (k / 50 < 3).
    assert abs(summary["arrivals"]["due"] - 150) <= 3, summary["arrivals"]
    assert received == summary["aggregated"]["num_requests"] == summary["arrivals"]["due"]
    assert summary["run"]["load_model"] == "arrival rate 50/s, up to 4 users"
    verdicts = {t["expression"]: t["passed"] for t in summary["thresholds"]}
    assert verdicts == {"p99<5000": True, "requests>100000": False}
