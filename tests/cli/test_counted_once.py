"""Every request that reached the target is reported exactly once, whatever stopped the test.

For each way a test stops (`-t`, Ctrl-C, SIGTERM, a user's `StopTest`, a LoadTestShape
ending, the web UI's stop button), users with no wait hammer a route that answers after
30 ms, so that several requests are on the wire at the stop. The target counts every
request head it reads; the JSON summary must report exactly that many. A request still
unanswered after the drain is reported once, as a failure "interrupted at stop".
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from test_main_e2e import _start, run_cli, write

pytestmark = pytest.mark.timeout(120)

HAMMER = """
from locust import HttpUser, task, constant

class Hammer(HttpUser):
    wait_time = constant(0)

    @task
    def delay(self):
        self.client.get("/delay")
"""

STOPPING_USER = (
    HAMMER
    + """
from locust.exception import StopTest

class Stopper(HttpUser):
    wait_time = constant(0.2)
    fixed_count = 1
    count = 0

    @task
    def stop(self):
        Stopper.count += 1
        if Stopper.count > 5:
            raise StopTest("enough")
"""
)

SHAPE = (
    HAMMER
    + """
from locust import LoadTestShape

class TwoSeconds(LoadTestShape):
    def tick(self):
        return (6, 100) if self.get_run_time() < 2 else None
"""
)


def _received(target: Any) -> int:
    return sum(target.settled().values())


def _check(directory: Path, target: Any) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((directory / "s.json").read_text())
    received = _received(target)
    assert received > 0
    assert summary["aggregated"]["num_requests"] == received, (
        f"reported {summary['aggregated']['num_requests']}, the target received {received}"
    )
    return summary


def _wait_for_requests(target: Any, count: int) -> None:
    deadline = time.monotonic() + 30
    while sum(target.requests.values()) < count:
        assert time.monotonic() < deadline, "the load never reached the target"
        time.sleep(0.05)


@pytest.mark.parametrize("stop_timeout", ["0", "2s"])
def test_run_time(tmp_path: Path, target: Any, stop_timeout: str) -> None:
    write(tmp_path, "locustfile.py", HAMMER)
    result = run_cli(
        tmp_path, "--headless", "-H", target.url, "-u", "8", "-r", "100", "-t", "2s",
        "-s", stop_timeout, "--json-file", "s",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    _check(tmp_path, target)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signals(tmp_path: Path, target: Any, signum: signal.Signals) -> None:
    write(tmp_path, "locustfile.py", HAMMER)
    process = _start(
        tmp_path, "--headless", "-H", target.url, "-u", "8", "-r", "100", "-t", "60s",
        "--json-file", "s",
    )  # fmt: skip
    try:
        _wait_for_requests(target, 50)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    _check(tmp_path, target)


def test_stop_test_from_a_user(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", STOPPING_USER)
    result = run_cli(
        tmp_path, "--headless", "-H", target.url, "-u", "8", "-r", "100", "-t", "60s",
        "--json-file", "s",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    _check(tmp_path, target)


def test_a_shape_ending(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", SHAPE)
    result = run_cli(tmp_path, "--headless", "-H", target.url, "--json-file", "s")
    assert result.returncode == 0, result.stderr
    _check(tmp_path, target)


class _UI:
    """The few calls a browser makes to start and stop a test in the web UI."""

    def __init__(self, port: int) -> None:
        self.port = port
        page = self._call("GET", "/")
        token = re.search(rb'name="csrf-token" content="([^"]+)"', page)
        assert token, page[:200]
        self.token = token.group(1).decode()

    def _call(self, method: str, path: str, form: dict[str, Any] | None = None) -> bytes:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = {"Host": f"127.0.0.1:{self.port}"}
            body = None
            if form is not None:
                headers |= {"Content-Type": "application/json", "X-CSRF-Token": self.token}
                body = json.dumps(form).encode()
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            assert response.status == 200, data
            return data
        finally:
            connection.close()

    def post(self, path: str, form: dict[str, Any]) -> None:
        self._call("POST", path, form)

    def status(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self._call("GET", "/api/state"))["status"]
        return state


def test_the_web_uis_stop(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", HAMMER)
    process = _start(tmp_path, "-H", target.url, "-P", "0", "--json-file", "s")
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        match = re.match(r"^web UI on http://127\.0\.0\.1:(\d+)$", line)
        assert match, line
        ui = _UI(int(match.group(1)))
        ui.post("/api/start", {"users": 8, "spawn_rate": 100})
        _wait_for_requests(target, 50)
        ui.post("/api/stop", {})
        deadline = time.monotonic() + 30
        while ui.status()["state"] != "stopped":
            assert time.monotonic() < deadline, ui.status()
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)  # quit the UI; the summary is written then
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    _check(tmp_path, target)


def test_a_request_unanswered_after_the_drain_is_one_interrupted_failure(
    tmp_path: Path, target: Any
) -> None:
    write(
        tmp_path,
        "locustfile.py",
        """
from locust import HttpUser, task, constant

class Waiter(HttpUser):
    wait_time = constant(100)

    @task
    def slow(self):
        self.client.get("/slow")
""",
    )
    result = run_cli(
        tmp_path, "--headless", "-H", target.url, "-u", "3", "-r", "100", "-t", "1s",
        "--json-file", "s",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # the interrupted requests are failures
    summary = _check(tmp_path, target)
    assert summary["aggregated"]["num_failures"] == 3
    assert [f["error"] for f in summary["failures"]] == [
        f["error"] for f in summary["failures"] if "interrupted at stop" in f["error"]
    ]
    assert sum(f["occurrences"] for f in summary["failures"]) == 3
