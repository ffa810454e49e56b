"""`loadhopper` without --headless, end to end: a real subprocess serving the real UI.

Every process is bounded: a short -t or a signal, and a timeout on the subprocess itself.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from web_support import Client, basic

TIMEOUT = 60
LOCUSTFILE = """
from locust import HttpUser, task, constant

class Index(HttpUser):
    wait_time = constant(0.05)

    @task
    def index(self):
        self.client.get("/")


class Failing(HttpUser):
    wait_time = constant(0.05)

    @task
    def fail(self):
        self.client.get("/fail")
"""
URL_LINE = re.compile(r"^web UI on http://127\.0\.0\.1:(\d+)$")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "LOADHOPPER_"))}
    env["HOME"] = str(home)
    return env


@contextmanager
def loadhopper(cwd: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """Start loadhopper's web mode on a free port; yield the process and the UI's port."""
    (cwd / "locustfile.py").write_text(LOCUSTFILE)
    process = subprocess.Popen(
        [sys.executable, "-m", "loadhopper", "-P", "0", *args],
        cwd=cwd,
        env=_env(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        match = URL_LINE.match(first)
        assert match, f"expected the URL line, got {first!r}; stderr: {_stderr(process)}"
        yield process, int(match.group(1))
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(TIMEOUT)


def _stderr(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.kill()
    assert process.stderr is not None
    return process.stderr.read()


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=TIMEOUT)
    return process.returncode, out, err


def test_autostart_autoquit_writes_every_output(tmp_path: Path, target: Any) -> None:
    with loadhopper(
        tmp_path, "-H", target.url, "--autostart", "-u", "2", "-r", "100", "-t", "1.5",
        "--autoquit", "0", "--csv", "out", "--json-file", "summary", "--html", "report.html",
        "Index",
    ) as (process, port):  # fmt: skip
        assert port > 0
        code, out, err = _finish(process)
    assert code == 0, err
    assert "Aggregated" in out  # the final summary, as headless prints it
    history = list(csv.DictReader((tmp_path / "out_stats_history.csv").open()))
    assert history and history[-1]["Name"] == "Aggregated"
    stats = list(csv.DictReader((tmp_path / "out_stats.csv").open()))
    assert [row["Name"] for row in stats] == ["/", "Aggregated"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["run"]["users"] == 2 and summary["run"]["run_time"] == 1.5
    assert int(stats[-1]["Request Count"]) == summary["aggregated"]["num_requests"] > 0
    assert "<html" in (tmp_path / "report.html").read_text()[:200].lower()


def test_signal_stops_the_ui_test_and_exits_with_its_code(tmp_path: Path, target: Any) -> None:
    with loadhopper(tmp_path, "-H", target.url, "--json-file", "summary") as (process, port):
        client = Client(port)
        page = client.get("/").text
        token = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert token
        client.token = token.group(1)
        form = {"users": 1, "spawn_rate": 100, "user_classes": ["Failing"]}
        assert client.post("/api/start", form).status == 200
        client.wait_for(lambda s: s["stats"]["total"]["num_failures"] > 0, "a failure")
        process.send_signal(signal.SIGTERM)
        code, _, err = _finish(process)
    assert code == 1, err  # --exit-code-on-error's default: there were failures
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["aggregated"]["num_failures"] > 0
    assert summary["rows"][0]["name"] == "/fail"


def test_ctrl_c_with_no_test_exits_cleanly(tmp_path: Path) -> None:
    with loadhopper(tmp_path) as (process, port):
        assert Client(port).state()["status"]["state"] == "ready"
        process.send_signal(signal.SIGINT)
        code, _, err = _finish(process)
    assert code == 0, err
    assert "No test was run" in err


def test_web_login_without_a_value_prints_a_random_password(tmp_path: Path) -> None:
    with loadhopper(tmp_path, "--web-login") as (process, port):
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        match = re.fullmatch(r"log in as loadhopper with password (\S+)", line)
        assert match, line
        assert Client(port).get("/").status == 401
        assert Client(port, auth=basic("loadhopper", match.group(1))).get("/").status == 200
        process.send_signal(signal.SIGINT)
        assert _finish(process)[0] == 0


def test_bad_web_login_and_busy_port_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "loadhopper", *args],
            cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=TIMEOUT,
        )  # fmt: skip

    bad = run("--web-login", "admin")
    assert bad.returncode == 2 and "--web-login takes USER:PASSWORD" in bad.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = run("-P", str(port))
    assert taken.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in taken.stderr
    assert "--web-port" in taken.stderr
