"""End to end: blocking code in a locustfile is named, and the stalled windows are marked.

One run with a task that blocks the loop on a socket read against a slow loopback server
and one with a CPU-heavy loop; one ordinary run of 50 users with no wait that must report
no stall at all.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from test_main_e2e import run_cli, write

BLOCKING = """
import socket
from locust import HttpUser, task, constant

SLOW_PORT = {slow_port}


class Reader(HttpUser):
    wait_time = constant(0.05)

    @task
    def blocking_read(self):
        self.client.get("/")
        with socket.create_connection(("127.0.0.1", SLOW_PORT)) as sock:
            sock.recv(16)  # READ_LINE: blocks the whole loop until the server answers


class Cruncher(HttpUser):
    wait_time = constant(0.05)

    @task
    def crunch(self):
        self.client.get("/")
        sum(i * i for i in range(2_000_000))  # CPU_LINE
"""

ORDINARY = """
from locust import HttpUser, task, constant


class Busy(HttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/")
"""


@contextmanager
def slow_server(delay: float = 0.2) -> Iterator[int]:
    """A loopback TCP server that answers each connection with one line after `delay` s."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            if not stop.wait(delay):
                conn.sendall(b"late\n")

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def _line(source: str, marker: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if marker in line)


def test_blocking_code_is_named_and_its_windows_are_marked(tmp_path: Path, target: Any) -> None:
    with slow_server() as port:
        source = BLOCKING.replace("{slow_port}", str(port))
        write(tmp_path, "locustfile.py", source)
        result = run_cli(
            tmp_path, "--headless", "-H", target.url, "-u", "2", "-r", "10", "-t", "3s",
            "--json-file", "summary", "--html", "report.html",
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    read_at = f"locustfile.py:{_line(source, 'READ_LINE')}"
    cpu_at = f"locustfile.py:{_line(source, 'CPU_LINE')}"
    # One warning per call site, naming the line, the function and what to do.
    for where, function in ((read_at, "blocking_read"), (cpu_at, "crunch")):
        warned = re.findall(
            rf"event loop was blocked for \d+ ms at {where}, in {function}\(\)", result.stderr
        )
        assert len(warned) == 1, result.stderr
    assert result.stderr.count("loadhopper.run_blocking") >= 2
    assert "The event loop stalled" in result.stderr  # the summary line at the end
    # The final summary's section, and the periodic table's line.
    assert "Generator health" in result.stdout
    assert "Latencies in the last 10 s include" in result.stdout
    # The JSON: the sites and the stalled windows.
    summary = json.loads((tmp_path / "summary.json").read_text())
    stalls = summary["generator_health"]["loop_stalls"]
    locations = {site["location"] for site in stalls["sites"]}
    assert {read_at, cpu_at} <= locations
    assert stalls["count"] >= 2 and stalls["stalled_windows"] >= 1
    windows = summary["generator_health"]["windows"]
    assert windows and all(w["stalled_ms"] > 0 for w in windows)
    assert {w["stall_site"] for w in windows} <= locations
    # The HTML: the section in words, the per-second stall series the charts shade.
    page = (tmp_path / "report.html").read_text()
    assert 'id="health"' in page and "was blocked" in page and read_at in page
    series = json.loads(re.search(r'"stalled_ms":(\[[^\]]*\])', page).group(1))  # type: ignore[union-attr]
    assert any(ms and ms > 0 for ms in series)


def test_an_ordinary_busy_run_reports_no_stall(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", ORDINARY)
    result = run_cli(
        tmp_path, "--headless", "-H", target.url, "-u", "50", "-r", "50", "-t", "3s",
        "--json-file", "summary", "--html", "report.html",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["aggregated"]["num_requests"] > 100  # it was busy
    assert summary["generator_health"]["loop_stalls"]["count"] == 0, result.stderr
    assert summary["generator_health"]["windows"] == []
    # No stall warning (the per-second lag warning may appear on a loaded machine: it is
    # about the loop being late, not blocked by the locustfile).
    assert "The event loop was blocked" not in result.stderr
    assert "The event loop stalled" not in result.stderr
    # The summary's "Generator health" may list late seconds (the lag above): no stall.
    assert "was blocked" not in result.stdout and "stalled" not in result.stdout
    assert "Latencies in the last" not in result.stdout
    assert "never blocked" in (tmp_path / "report.html").read_text()
