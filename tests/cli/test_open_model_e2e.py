"""The open workload model end to end: `loadhopper --arrival-rate` against loopback targets.

Each locustfile writes what the run measured (the collector's exact percentiles, corrected
and not, and the arrival counts) to a JSON file from a `test_stop` listener; each target
counts what it received.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cli_target import serve
from test_main_e2e import run_cli, write

_REPORTER = """
import json, os, time
from locust import HttpUser, task, events

@events.test_stop.add_listener
def _report(environment, **_kwargs):
    runner = environment.runner
    worker = type(runner).__name__ == "WorkerRunner"
    if worker and runner.worker_index < 0:
        return
    stats = environment.stats
    totals = stats.snapshot(time.time()).arrivals
    q = lambda p, c: stats.percentile("", "Aggregated", p, corrected=c)
    out = {
        "due": totals.due, "late": totals.late, "dropped": totals.dropped,
        "p50": q(0.5, False), "p90": q(0.9, False), "p99": q(0.99, False),
        "cp90": q(0.9, True), "cp99": q(0.99, True),
        "count": stats.snapshot(time.time()).total.num_requests,
    }
    name = "result.json"
    if worker:
        name = f"worker-{runner.worker_index}.json"
    with open(os.path.join(os.path.dirname(__file__), name), "w") as f:
        json.dump(out, f)

class Visitor(HttpUser):
    @task
    def visit(self):
        self.client.get("PATH")
"""


def _locustfile(path: str) -> str:
    return _REPORTER.replace("PATH", path)


# ---- the stalling target ----------------------------------------------------------------

SERVICE = 0.010  # seconds per answer
STALL = 1.0  # seconds each stall lasts
PERIOD = 5.0  # seconds from one stall's start to the next
FIRST_STALL = 1.5  # seconds after the first request (whole periods fit in the run)


class _StallHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _StallServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        arrived = time.monotonic()
        answer = self.server.answer_time(arrived)
        time.sleep(max(0.0, answer - time.monotonic()))
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _StallServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _StallHandler)
        self._lock = threading.Lock()
        self.first: float | None = None
        self.received = 0

    def answer_time(self, arrived: float) -> float:
        """10 ms after arrival, unless a stall covers that: then the stall's end.

        A request that arrives during a stall, or would be answered during one, is answered
        when the stall ends.
        """
        with self._lock:
            if self.first is None:
                self.first = arrived
            self.received += 1
            first = self.first
        done = arrived + SERVICE
        since = done - first - FIRST_STALL
        if since >= 0:
            into = since % PERIOD
            if into < STALL:
                return done + (STALL - into)
        return done

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


@contextmanager
def _stalling() -> Iterator[_StallServer]:
    server = _StallServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _run(tmp_path: Path, url: str, path: str, *args: str) -> dict[str, Any]:
    write(tmp_path, "locustfile.py", _locustfile(path))
    result = run_cli(tmp_path, "-f", "locustfile.py", "--headless", "-H", url, *args)
    assert result.returncode in (0, 1), result.stderr
    data: dict[str, Any] = json.loads((tmp_path / "result.json").read_text())
    data["stderr"] = result.stderr
    return data


def test_corrected_percentiles_match_the_analytic_ones_of_a_stalling_target(
    tmp_path: Path,
) -> None:
    """A target answering in s = 10 ms that stalls D = 1 s every P = 5 s, loaded at a
    constant R = 200/s by a pool of N = 4 users.

    Derivation. The pool's capacity is C = N / s (s measured: the run's uncorrected median,
    which includes loopback and the client). During a stall all N users are stuck and the
    arrivals queue in the backlog; after it the pool serves the backlog at C while new ones
    come at R, so it drains in R*D/(C-R). An arrival t seconds after the stall's start
    (0 <= t <= U = D + R*D/(C-R) = D*C/(C-R)) starts when the backlog in front of it is
    served, at D + R*t/C, so its corrected latency is D + s - t*(1 - R/C): linear in t,
    that is uniform on [s, D+s] over the window U. Every other arrival sees s. A fraction
    U/P of all arrivals falls in such windows, so for q > 1 - U/P the corrected quantile
    is L_q = s + D*(1 - (1-q)*P/U). With s = 10 ms, C = 400/s: U = 2 s, L_0.9 = 0.76 s,
    L_0.99 = 0.985 s. Only the requests in flight at each stall see a long uncorrected
    latency: the N stuck in it and the few sent in the s before it, about 6 of each 1000
    (0.6 % < 1 %), so the uncorrected p90 and p99 stay near s. (The bound on them leaves
    room for a loaded machine during the drain, when both sides run flat out; what the test
    shows is the gap: tens of milliseconds against a second.)
    The run lasts three whole periods (the stalls start 1.5 s after the first request).
    """
    with _stalling() as server:
        got = _run(
            tmp_path,
            server.url,
            "/",
            "--arrival-rate",
            "200/s",
            "-u",
            "4",
            "--max-users",
            "4",
            "-t",
            "15s",
            "--only-summary",
        )
    s = got["p50"] / 1000.0
    capacity = 4 / s
    rate = 200.0
    window = STALL * capacity / (capacity - rate)

    def analytic(q: float) -> float:
        return 1000.0 * (s + STALL * (1 - (1 - q) * PERIOD / window))

    assert 0.009 <= s <= 0.013, got
    assert abs(got["cp90"] - analytic(0.9)) <= 0.10 * analytic(0.9), (got, analytic(0.9))
    assert abs(got["cp99"] - analytic(0.99)) <= 0.10 * analytic(0.99), (got, analytic(0.99))
    assert got["p90"] < 20.0 and got["p99"] < 50.0, got
    assert got["dropped"] == 0, got


def test_the_achieved_rate_at_a_healthy_target_is_the_asked_one(tmp_path: Path) -> None:
    # 200/s for 5 s: iterations k = 0 .. 999 are due before the stop (k / 200 < 5).
    with serve() as server:
        got = _run(
            tmp_path,
            server.url,
            "/",
            "--arrival-rate",
            "200/s",
            "-u",
            "10",
            "-t",
            "5s",
            "--only-summary",
        )
        received = server.settled()[("GET", "/")]
    assert abs(received - 1000) <= 10, received
    assert got["count"] == received
    assert abs(got["due"] - 1000) <= 10 and got["late"] == 0 and got["dropped"] == 0, got


def test_late_and_dropped_counts_follow_from_the_pool_size(tmp_path: Path) -> None:
    """A target answering in 100 ms (the cli target's /delay is 30 ms; this one is its own),
    a pool of N = 5, R = 100/s for T = 5 s, backlog timeout 1 s.

    The pool serves C = N / s ~ 50/s. The first N arrivals start the users (not late);
    from then the backlog never empties (R > C), so every later iteration is started late
    from it, as a user frees up: late = C*T - N. Every arrival the pool could not reach
    within the 1 s bound is dropped, and those waiting at the stop too: dropped = R*T -
    C*T. s is measured (the uncorrected median), the edges get a 5 % slack.
    """
    with _slow_target(0.1) as url:
        got = _run(
            tmp_path,
            url,
            "/",
            "--arrival-rate",
            "100/s",
            "-u",
            "5",
            "--max-users",
            "5",
            "--backlog-timeout",
            "1",
            "-t",
            "5s",
            "--only-summary",
        )
    s = got["p50"] / 1000.0
    started = 5 * 5.0 / s
    assert abs(got["due"] - 500) <= 5, got
    assert abs(got["late"] - (started - 5)) <= 0.05 * started, (got, started)
    assert abs(got["dropped"] - (500 - started)) <= 0.05 * started, (got, started)
    assert got["late"] + got["dropped"] + 5 >= got["due"] - 6, got
    assert "The arrival rate cannot be kept" in got["stderr"]
    assert got["stderr"].count("The arrival rate cannot be kept") == 1


@contextmanager
def _slow_target(seconds: float) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            time.sleep(seconds)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
