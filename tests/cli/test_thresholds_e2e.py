"""Thresholds end to end: the real CLI against a loopback server, exit codes 0, 99 and 2.

Every run is bounded by `-t` and a timeout on the subprocess (`run_cli`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_main_e2e import FAILING, SIMPLE, run_cli, write


def _run(tmp_path: Path, target: Any, *args: str, seconds: str = "1") -> tuple[int, str, Any]:
    result = run_cli(
        tmp_path,
        "--headless",
        "-u",
        "2",
        "-r",
        "100",
        "-t",
        seconds,
        "-H",
        target.url,
        "--only-summary",
        "--json-file",
        "out",
        *args,
    )
    out = tmp_path / "out.json"
    summary = json.loads(out.read_text()) if out.exists() else None
    return result.returncode, result.stderr, summary


def _verdicts(summary: Any) -> list[tuple[str, bool]]:
    return [(t["expression"], t["passed"]) for t in summary["thresholds"]]


def test_passing_thresholds_exit_0(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    code, stderr, summary = _run(
        tmp_path, target, "--threshold", "p95<5s", "--threshold", "GET /:fail_ratio<0.01"
    )
    assert code == 0, stderr
    assert _verdicts(summary) == [("p95<5s", True), ("GET /:fail_ratio<0.01", True)]
    assert "All 2 thresholds passed." in stderr


def test_a_failing_threshold_exits_99_and_logs_one_line(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    code, stderr, summary = _run(
        tmp_path, target, "--threshold", "p95<5s", "--threshold", "requests<1"
    )
    assert code == 99, stderr
    assert _verdicts(summary) == [("p95<5s", True), ("requests<1", False)]
    lines = [line for line in stderr.splitlines() if "Threshold 'requests<1' failed" in line]
    assert len(lines) == 1 and "on Aggregated: requests was" in lines[0]
    assert "(limit < 1)" in lines[0]


def test_no_data_fails_with_its_reason(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    code, stderr, summary = _run(tmp_path, target, "--threshold", "/never:p95<100")
    assert code == 99, stderr
    (verdict,) = summary["thresholds"]
    assert (verdict["value"], verdict["passed"]) == (None, False)
    assert "no data to judge p95 (no request named '/never' ran)" in stderr


def test_a_malformed_threshold_is_a_usage_error_before_the_test(
    tmp_path: Path, target: Any
) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    code, stderr, summary = _run(tmp_path, target, "--threshold", "p95_corrected<200")
    assert code == 2
    assert summary is None  # nothing ran
    assert "Threshold 'p95_corrected<200' has an unknown metric 'p95_corrected' " in stderr
    assert "(did you mean 'corrected_p95'?)" in stderr
    assert sum(target.requests.values()) == 0


def test_a_failed_threshold_beats_exit_code_on_error(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", FAILING)
    code, stderr, _ = _run(tmp_path, target, "--threshold", "fail_ratio<0.5")
    assert code == 99, stderr
    code, stderr, _ = _run(tmp_path, target, "--threshold", "fail_ratio<=1")
    assert code == 1, stderr  # the thresholds held: the failed requests decide


LISTENER_EXIT = (
    SIMPLE
    + """
from locust import events

@events.quitting.add_listener
def decide(environment, **_kwargs):
    environment.process_exit_code = 3
"""
)


def test_a_listeners_process_exit_code_beats_a_failed_threshold(
    tmp_path: Path, target: Any
) -> None:
    write(tmp_path, "locustfile.py", LISTENER_EXIT)
    code, stderr, summary = _run(tmp_path, target, "--threshold", "requests<1")
    assert code == 3, stderr
    assert _verdicts(summary) == [("requests<1", False)]


DECLARED = (
    SIMPLE
    + """
thresholds = ["p99<5s", "requests<1"]
"""
)


def test_the_locustfile_declares_thresholds_and_the_command_line_adds_to_them(
    tmp_path: Path, target: Any
) -> None:
    write(tmp_path, "locustfile.py", DECLARED)
    code, stderr, summary = _run(tmp_path, target, "--threshold", "rps>0")
    assert code == 99, stderr
    assert _verdicts(summary) == [("p99<5s", True), ("requests<1", False), ("rps>0", True)]


def test_a_malformed_declared_threshold_is_a_usage_error(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", SIMPLE + '\nthresholds = ["p95 200"]\n')
    code, stderr, _ = _run(tmp_path, target)
    assert code == 2
    assert "Threshold 'p95 200' has no comparison" in stderr


def test_threshold_abort_stops_the_run_early(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    code, stderr, summary = _run(
        tmp_path,
        target,
        "--threshold",
        "p95<5s",
        "--threshold",
        "requests<2",
        "--threshold-abort",
        "--threshold-abort-delay",
        "1",
        seconds="30",
    )
    assert code == 99, stderr
    # A breach from the first window, judged from 1 s on: far below -t 30 (a generous
    # bound that only says the abort happened; the stop itself drains for up to 2 s).
    assert summary["run"]["duration"] < 15
    assert [(t["passed"], t["aborted"]) for t in summary["thresholds"]] == [
        (True, False),
        (False, True),
    ]
    assert "Threshold 'requests<2' failed" in stderr and "stopping the test" in stderr


COUNTED = """
from locust import HttpUser, task, constant
from locust.exception import StopUser

class Counted(HttpUser):
    wait_time = constant(0.01)
    made = 0

    @task
    def index(self):
        if self.made == 5:
            raise StopUser()
        self.made += 1
        self.client.get("/")
"""


def test_with_two_processes_a_count_is_judged_on_the_merged_total(
    tmp_path: Path, target: Any
) -> None:
    """Each of the two workers runs one user that makes exactly 5 requests.

    `requests<8` holds for either worker's share (5) and fails for the merged total (10): a
    verdict of 99 can only come from the master judging the merged data.
    """
    write(tmp_path, "locustfile.py", COUNTED)
    code, stderr, summary = _run(
        tmp_path, target, "--processes", "2", "--threshold", "requests<8", seconds="3"
    )
    assert code == 99, stderr
    assert sum(target.settled().values()) == 10
    (verdict,) = summary["thresholds"]
    assert (verdict["value"], verdict["passed"]) == (10.0, False)


SPLIT = """
from locust import HttpUser, task, constant

class Fast(HttpUser):
    fixed_count = 1
    wait_time = constant(0.02)

    @task
    def index(self):
        self.client.get("/", name="fast")

class Slow(HttpUser):
    fixed_count = 1
    wait_time = constant(0.1)

    @task
    def delay(self):
        self.client.get("/delay", name="slow")
"""


def test_with_two_processes_p99_is_judged_on_the_merged_histogram(
    tmp_path: Path, target: Any
) -> None:
    """The master's p99 is the merged histogram's, not an average of the workers'.

    A percentile of merged data always lies between the workers' own percentiles, so "each
    worker passes alone, the merge fails" cannot happen for p99. What can be shown is that
    the merged p99 is not what averaging the workers' p99s would give: the two classes are
    dealt one to each worker by `fixed_count`, one hitting a fast route (about 1 ms), the
    other `/delay` (30 ms). The slow requests are far more than 1 % of the total, so the
    merged p99 is a slow one (>= 30 ms), while the average of the two workers' p99s (each
    class's row is one worker's data) is about (1 + 31) / 2. `p99<29` fails on the merge,
    where the average would pass.
    """
    write(tmp_path, "locustfile.py", SPLIT)
    code, stderr, summary = _run(
        tmp_path, target, "--processes", "2", "--threshold", "p99<29", seconds="3"
    )
    assert code == 99, stderr
    rows = {row["name"]: row for row in summary["rows"]}
    slow, fast = rows["slow"], rows["fast"]
    assert slow["num_requests"] > 0.02 * (slow["num_requests"] + fast["num_requests"])
    average = (slow["percentiles"]["99"] + fast["percentiles"]["99"]) / 2
    assert average < 29  # what a per-worker average would have judged: a pass
    (verdict,) = summary["thresholds"]
    assert verdict["passed"] is False
    assert verdict["value"] == summary["aggregated"]["percentiles"]["99"] >= 30
