"""`--strict-locust` end to end: the same locustfiles under `loadhopper --strict-locust` and
under Locust fail the same way, and without the flag loadhopper accepts them.

Each file runs through both command lines against the same loopback server; every run is
bounded by `-t` and by a timeout on the subprocess.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from test_main_e2e import read_csv, run_cli, run_locust, write

NO_SLASH = """
from locust import HttpUser, constant, task

class NoSlash(HttpUser):
    wait_time = constant(0.2)

    @task
    def index(self):
        self.client.get("delay")
"""

WITH_BLOCK = """
from locust import HttpUser, constant, task

class WithBlock(HttpUser):
    wait_time = constant(0.2)

    @task
    def index(self):
        with self.client.get("/") as response:
            assert response.status_code == 200
"""

LOCUSTS_WITH_MESSAGE = (
    "In order to use a with-block for requests, you must also pass catch_response=True"
)


class Outcome:
    """One tool's run: exit code, aggregated request and failure counts, exceptions."""

    def __init__(self, result: subprocess.CompletedProcess[str], directory: Path) -> None:
        self.returncode = result.returncode
        self.stderr = result.stderr
        total = next(r for r in read_csv(directory / "out_stats.csv") if r["Name"] == "Aggregated")
        self.requests = int(total["Request Count"])
        self.failures = int(total["Failure Count"])
        self.exceptions = [row["Message"] for row in read_csv(directory / "out_exceptions.csv")]


def _run(tmp_path: Path, tool: str, text: str, host: str, *flags: str) -> Outcome:
    directory = tmp_path / tool
    directory.mkdir()
    write(directory, "locustfile.py", text)
    args = ("-f", "locustfile.py", "--headless", "--only-summary", "--csv", "out")
    args += ("-H", host, "-u", "1", "-r", "1", "-t", "2s", *flags)
    run = run_locust if tool == "locust" else run_cli
    return Outcome(run(directory, *args), directory)


def test_a_path_without_a_leading_slash_fails_as_in_locust(tmp_path: Path, target: Any) -> None:
    ours = _run(tmp_path, "loadhopper", NO_SLASH, target.url, "--strict-locust")
    theirs = _run(tmp_path, "locust", NO_SLASH, target.url)
    # Locust joins "delay" to the host into "http://127.0.0.1:PORTdelay" and raises: no
    # request is made, the exception is counted once per task, and the run exits 1.
    assert theirs.returncode == ours.returncode == 1, ours.stderr
    assert theirs.requests == ours.requests == 0
    assert theirs.exceptions and ours.exceptions
    port = target.url.rsplit(":", 1)[1]
    assert f"127.0.0.1:{port}delay" in theirs.exceptions[0]
    assert f"127.0.0.1:{port}delay" in ours.exceptions[0]
    assert "no leading slash" in ours.exceptions[0]
    assert target.settled() == {}


def test_a_with_block_without_catch_response_fails_as_in_locust(
    tmp_path: Path, target: Any
) -> None:
    ours = _run(tmp_path, "loadhopper", WITH_BLOCK, target.url, "--strict-locust")
    theirs = _run(tmp_path, "locust", WITH_BLOCK, target.url)
    # Locust records the request, then raises LocustError at the `with`.
    assert theirs.returncode == ours.returncode == 1, ours.stderr
    assert theirs.requests > 0 and ours.requests > 0
    assert theirs.failures == ours.failures == 0
    # loadhopper's exceptions table names the exception's type before its message.
    assert theirs.exceptions == [LOCUSTS_WITH_MESSAGE]
    assert ours.exceptions == [f"LocustError: {LOCUSTS_WITH_MESSAGE}"]
    # Every counted request reached the server (Locust may count fewer than it sent).
    assert target.settled()[("GET", "/")] >= theirs.requests + ours.requests


def test_without_the_flag_both_files_run_cleanly(tmp_path: Path, target: Any) -> None:
    for name, text in (("no_slash", NO_SLASH), ("with_block", WITH_BLOCK)):
        (tmp_path / name).mkdir()
        outcome = _run(tmp_path / name, "loadhopper", text, target.url)
        assert outcome.returncode == 0, outcome.stderr
        assert outcome.requests > 0 and outcome.failures == 0
        assert outcome.exceptions == []
    counts = target.settled()
    assert counts[("GET", "/delay")] > 0 and counts[("GET", "/")] > 0
