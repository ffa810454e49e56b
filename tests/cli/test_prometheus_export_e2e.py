"""`--prometheus-port` end to end: the real CLI against a loopback target, scraped over HTTP
while the test runs and parsed with the Prometheus client's own parser.

Every run is bounded by `-t` and by a deadline on the subprocess; the scraping loops are
bounded by a deadline too.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_main_e2e import SIMPLE, run_cli, write

from loadhopper._exceptions import ConfigError
from loadhopper.cli._prometheus_server import PrometheusServer
from loadhopper.report._prometheus import ScrapeView, metrics_registry
from loadhopper.stats import StatsCollector

DEADLINE = 60.0  # a hang fails the test instead of blocking the suite
URL_LINE = re.compile(r"Prometheus metrics at http://127\.0\.0\.1:(\d+)/metrics")

TWO_CLASSES = """
from locust import HttpUser, task, constant

class Reader(HttpUser):
    wait_time = constant(0.05)
    fixed_count = 1

    @task
    def index(self):
        self.client.get("/")

class Breaker(HttpUser):
    wait_time = constant(0.05)

    @task
    def fail(self):
        self.client.get("/fail")
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "LOADHOPPER_"))}
    env["HOME"] = str(home)
    return env


@contextmanager
def headless(cwd: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], int, list[str]]]:
    """Start a headless run; yield the process, the metrics port, and its stderr lines so far.

    stderr is read by a thread (into the list yielded) so the child never blocks on a full
    pipe; the port is taken from the log line the server writes once bound.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "loadhopper", "--headless", *args],
        cwd=cwd,
        env=_env(cwd),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    found: queue.Queue[int | None] = queue.Queue()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            match = URL_LINE.search(line)
            if match:
                found.put(int(match.group(1)))
        found.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        port = found.get(timeout=DEADLINE)
        assert port is not None, "".join(lines)
        yield process, port, lines
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(DEADLINE)
        reader.join(DEADLINE)


def _scrape(port: int) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        body = response.read().decode()
        assert response.status == 200, body
        assert response.getheader("Content-Type", "").startswith("text/plain")
    finally:
        connection.close()
    return {family.name: family for family in text_string_to_metric_families(body)}


def _scrape_until(port: int, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    end = time.monotonic() + DEADLINE
    while True:
        families = _scrape(port)
        if check(families):
            return families
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.1)


def _value(family: Any, sample_name: str, **labels: str) -> float:
    (value,) = [
        s.value
        for s in family.samples
        if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return float(value)


def _total(families: dict[str, Any], name: str) -> float:
    return float(sum(s.value for s in families[name].samples))


def test_a_headless_run_is_scraped_while_it_runs(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", TWO_CLASSES)
    args = ("-H", target.url, "-u", "3", "-r", "100", "-t", "4s", "--prometheus-port", "0",
            "--only-summary", "--json-file", "out", "--threshold", "GET /:p99<10s")  # fmt: skip
    with headless(tmp_path, *args) as (process, port, lines):

        def spawned(families: dict[str, Any]) -> bool:
            failed = _total(families, "loadhopper_request_failures")
            return _total(families, "loadhopper_users") == 3 and failed > 0

        families = _scrape_until(port, spawned, "3 users and a failure")
        users = families["loadhopper_users"]
        assert _value(users, "loadhopper_users", user_class="Reader") == 1
        assert _value(users, "loadhopper_users", user_class="Breaker") == 2
        requests = families["loadhopper_requests"]
        reads = _value(requests, "loadhopper_requests_total", method="GET", name="/")
        failures = families["loadhopper_request_failures"]
        assert _value(failures, "loadhopper_request_failures_total", name="/fail") > 0
        assert _value(failures, "loadhopper_request_failures_total", name="/") == 0
        (error,) = families["loadhopper_request_errors"].samples
        assert error.labels["name"] == "/fail" and "500" in error.labels["error"]
        duration = families["loadhopper_request_duration_seconds"]
        inf = _value(duration, "loadhopper_request_duration_seconds_bucket", name="/", le="+Inf")
        assert 0 < inf <= reads
        # The runtime measures itself once a window, and the watch judges then: wait for both.
        later = _scrape_until(
            port,
            lambda f: "loadhopper_generator_cpu_ratio" in f and "loadhopper_threshold_passing" in f,
            "the generator's health and the threshold's verdict",
        )
        cpu, lag = (
            later["loadhopper_generator_cpu_ratio"],
            later["loadhopper_event_loop_lag_max_seconds"],
        )
        assert _value(cpu, cpu.name) > 0  # it sent requests in that window
        assert _value(lag, lag.name) >= 0
        passing = later["loadhopper_threshold_passing"]
        assert _value(passing, "loadhopper_threshold_passing", threshold="GET /:p99<10s") == 1
        assert "loadhopper_iterations_due" not in later  # no arrival rate
        process.wait(DEADLINE)
    assert process.returncode == 1, "".join(lines)  # /fail's failures, as without metrics
    summary = json.loads((tmp_path / "out.json").read_text())
    final = {(row["method"], row["name"]): row["num_requests"] for row in summary["rows"]}
    assert final[("GET", "/")] >= reads
    # The endpoint ends with the run.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_an_arrival_rate_exposes_its_iterations(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    args = ("-H", target.url, "--arrival-rate", "20", "-t", "3s", "--prometheus-port", "0",
            "--only-summary")  # fmt: skip
    with headless(tmp_path, *args) as (process, port, lines):
        families = _scrape_until(
            port,
            lambda f: (
                "loadhopper_iterations_due" in f
                and _value(f["loadhopper_iterations_due"], "loadhopper_iterations_due_total") >= 10
            ),
            "10 due iterations",
        )
        for name in ("late", "dropped"):
            family = families[f"loadhopper_iterations_{name}"]
            assert _value(family, f"loadhopper_iterations_{name}_total") >= 0
        process.wait(DEADLINE)
    assert process.returncode == 0, "".join(lines)


def test_a_processes_master_exposes_the_merged_numbers(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    args = ("-H", target.url, "-u", "4", "-r", "100", "-t", "4s", "--processes", "2",
            "--prometheus-port", "0", "--only-summary")  # fmt: skip
    with headless(tmp_path, *args) as (process, port, lines):
        families = _scrape_until(
            port,
            lambda f: _total(f, "loadhopper_users") == 4 and _total(f, "loadhopper_requests") > 10,
            "4 users over 2 workers",
        )
        assert _value(families["loadhopper_users"], "loadhopper_users", user_class="Simple") == 4
        assert _value(families["loadhopper_target_users"], "loadhopper_target_users") == 4
        process.wait(DEADLINE)
    assert process.returncode == 0, "".join(lines)
    # One metrics server only: the forked workers did not try to bind one of their own.
    assert sum(1 for line in lines if URL_LINE.search(line)) == 1


def test_a_port_in_use_is_one_line_and_no_test(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_cli(
            tmp_path, "--headless", "-H", target.url, "-u", "1", "-t", "2s",
            "--prometheus-port", str(port), "--json-file", "out",
        )  # fmt: skip
    assert result.returncode == 2, result.stderr
    message = f"loadhopper: Port {port} is already in use on 127.0.0.1; choose another with "
    assert message + "--prometheus-port." in result.stderr
    assert not (tmp_path / "out.json").exists()
    assert target.requests == {}  # no request was sent


# ---- the exposition server itself, on a real loopback socket ------------------------------


async def _exchange(port: int, request: bytes, *, eof: bool = False) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        if eof:
            writer.write_eof()
        await writer.drain()
        return await asyncio.wait_for(reader.read(), DEADLINE)  # the server closes after one
    finally:
        writer.close()


def test_the_server_answers_only_get_and_head_on_metrics() -> None:
    stats = StatsCollector(start_time=time.time())
    stats.record("GET", "/x", 3.0, 0, None)
    view = ScrapeView(stats=stats, now=time.time(), users={"U": 1})

    async def scenario() -> list[bytes]:
        server = PrometheusServer(metrics_registry(lambda: view), "127.0.0.1", 0)
        await server.start()
        try:
            port = server.port
            return [
                await _exchange(port, b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"),
                await _exchange(port, b"HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n"),
                await _exchange(port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
                await _exchange(port, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
                await _exchange(port, b"nonsense\r\n\r\n"),
                await _exchange(port, b"GET /metrics HTTP/1.1\r\n", eof=True),  # cut short
            ]
        finally:
            await server.close()

    get, head, root, post, bad, unfinished = asyncio.run(scenario())
    status, _, body = get.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close" in status
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert _value(families["loadhopper_requests"], "loadhopper_requests_total", name="/x") == 1
    head_status, _, head_body = head.partition(b"\r\n\r\n")
    assert head_status.startswith(b"HTTP/1.1 200 OK") and head_body == b""
    assert f"Content-Length: {len(body)}".encode() in head_status
    assert root.startswith(b"HTTP/1.1 404 ") and root.endswith(b"Metrics are at /metrics.\n")
    assert post.startswith(b"HTTP/1.1 405 ") and b"Allow: GET, HEAD" in post
    assert bad.startswith(b"HTTP/1.1 400 ")
    assert unfinished == b""  # the request ended before its headers did: nothing to answer


def test_a_host_that_is_not_this_machine_is_one_sentence() -> None:
    server = PrometheusServer(metrics_registry(lambda: _idle_view()), "192.0.2.1", 0)
    with pytest.raises(ConfigError) as info:
        asyncio.run(server.start())
    message = str(info.value)
    assert message.startswith("Cannot serve Prometheus metrics on 192.0.2.1:0 (")
    assert message.endswith("); check --prometheus-host.")


def _idle_view() -> ScrapeView:
    return ScrapeView(stats=StatsCollector(start_time=0.0), now=0.0, users={})
