"""Blocking code is named, not hidden: the stall watch, custom waits that sleep, run_blocking.

These block the event loop for real (a blocking HTTP call, a CPU loop), so they live here
rather than in tests/runtime, whose tests run on the fake clock.
"""

from __future__ import annotations

import inspect
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from loadhopper import HttpUser, constant, task
from loadhopper.runtime import Environment
from loadhopper.runtime._blocking import run_blocking
from loadhopper.runtime._sleep_patch import real_sleep
from loadhopper.stats import StatsSnapshot
from runtime.conftest import run_bounded
from user.loopback_server import LoopbackServer

WATCH_LOGGER = "loadhopper.runtime._stall_watch"


def _run(*classes: type[HttpUser], users: int, seconds: float) -> StatsSnapshot:
    env = Environment(user_classes=list(classes))
    runner = env.create_local_runner()
    run_bounded(lambda: runner.run(users, 100, run_time=seconds), bound=30.0)
    return env.stats.snapshot(time.time())


def _line_of(fn: object, text: str) -> int:
    """The line number of the first line of `fn`'s source containing `text`."""
    lines, first = inspect.getsourcelines(fn)  # type: ignore[arg-type]
    return first + next(i for i, line in enumerate(lines) if text in line)


def _warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == WATCH_LOGGER and r.levelno == logging.WARNING and text in r.getMessage()
    ]


# ---- item 1: a custom wait function that sleeps -------------------------------------------


def test_a_custom_wait_that_sleeps_pauses_only_its_user(server: LoopbackServer) -> None:
    class Patient(HttpUser):
        host = server.url

        def wait_time(self) -> float:  # the locustfile's own wait: it sleeps, then waits 0
            time.sleep(0.5)
            return 0.0

        @task
        def index(self) -> None:
            self.client.get("/")

    snapshot = _run(Patient, users=4, seconds=2.0)
    total = snapshot.total
    # Side by side (as in Locust), 4 users each make a request every 0.5 s: about 16 in 2 s
    # (4 start at once, then one per user per sleep; the stop may cut the last round).
    # Sleeping on the loop, one user after another, they made one per 2 s round: 4.
    assert 10 <= total.num_requests <= 4 * (2.0 / 0.5 + 1)
    # No response waited out a sleep, and the sleeping wait blocked nothing.
    assert total.max_response_time is not None and total.max_response_time < 500
    assert snapshot.health.stall_count == 0


def test_a_builtin_wait_still_runs_on_the_loop(server: LoopbackServer) -> None:
    # constant() is loadhopper's own: no worker is borrowed for it (nothing to observe
    # but the result, so this only checks that the direct path still works).
    class Quick(HttpUser):
        host = server.url
        wait_time = constant(0.1)

        @task
        def index(self) -> None:
            self.client.get("/")

    assert _run(Quick, users=2, seconds=0.6).total.num_requests >= 4


# ---- item 2: the watch names the call site -------------------------------------------------


def test_a_blocking_call_in_a_task_is_named_at_its_line_once(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=WATCH_LOGGER)

    class Blocker(HttpUser):
        host = server.url
        wait_time = constant(0.05)

        @task
        def fetch(self) -> None:
            self.client.get("/")
            requests.get(f"{server.url}/slow?ms=150", timeout=10)  # blocks the loop

    line = _line_of(Blocker.fetch, "requests.get(")
    snapshot = _run(Blocker, users=2, seconds=2.0)
    health = snapshot.health
    site = health.stall_sites[0]
    assert (site.file.endswith("test_stall_watch.py"), site.line, site.function) == (
        True,
        line,
        "fetch",
    )
    assert site.count >= 2 and site.longest_ms >= 100
    # One warning for the site, whatever the count; the summary at the end.
    warned = _warnings(caplog, "was blocked for")
    assert len(warned) == 1 and f"test_stall_watch.py:{line}, in fetch()" in warned[0]
    assert "run_blocking" in warned[0]
    summary = _warnings(caplog, "The event loop stalled")
    assert len(summary) == 1 and f"at {site.location}" in summary[0]
    # The windows are marked, with the site.
    marked = [p for p in snapshot.timeline if p.stalled_ms > 0]
    assert marked and all(p.stall_site.endswith(f":{line}") for p in marked)
    assert health.stalled_windows == len(marked)


def test_a_cpu_heavy_loop_is_named_at_its_line(server: LoopbackServer) -> None:
    class Cruncher(HttpUser):
        host = server.url
        wait_time = constant(0.05)

        @task
        def crunch(self) -> None:
            end = time.perf_counter() + 0.15
            while time.perf_counter() < end:
                pass

    line = _line_of(Cruncher.crunch, "while time.perf_counter()")
    sites = _run(Cruncher, users=1, seconds=1.5).health.stall_sites
    assert sites and (sites[0].line, sites[0].function) == (line, "crunch")


def test_the_watch_runs_only_during_a_test(server: LoopbackServer) -> None:
    def watchers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "loadhopper-stall-watch"]

    seen: list[int] = []

    class Looker(HttpUser):
        host = server.url
        wait_time = constant(0.05)

        @task
        def look(self) -> None:
            seen.append(len(watchers()))

    assert watchers() == []
    _run(Looker, users=1, seconds=0.5)
    assert seen and set(seen) == {1}
    assert watchers() == []
    code = (
        "import threading, loadhopper, loadhopper.runtime._stall_watch\n"
        "print(len(threading.enumerate()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.stdout.strip() == "1", result.stderr


_STOPPED_PROCESS = """
import asyncio, sys, time
from loadhopper.runtime._stall_watch import StallWatch
from loadhopper.stats import StatsCollector

async def main():
    stats = StatsCollector(time.time())
    watch = StallWatch(stats)
    watch.start()
    print("ready", flush=True)
    for _ in range(300):  # about 3 s of an idle, healthy loop
        await asyncio.sleep(0.01)
    watch.stop()
    print("stalls", stats.snapshot(time.time()).health.stall_count, flush=True)

asyncio.run(main())
"""


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
def test_a_process_the_system_did_not_run_is_not_a_stall() -> None:
    # SIGSTOP freezes every thread of the process, as an overloaded machine would: the
    # heartbeat comes late, but no code blocked the loop.
    process = subprocess.Popen(
        [sys.executable, "-c", _STOPPED_PROCESS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        real_sleep(0.3)
        os.kill(process.pid, signal.SIGSTOP)
        real_sleep(0.4)
        os.kill(process.pid, signal.SIGCONT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert out.strip() == "stalls 0", err


# ---- item 4: run_blocking -------------------------------------------------------------------


def test_run_blocking_pauses_only_its_user_and_stalls_nothing(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=WATCH_LOGGER)

    class Careful(HttpUser):
        host = server.url
        wait_time = constant(0)

        @task
        def fetch(self) -> None:
            response = run_blocking(requests.get, f"{server.url}/slow?ms=150", timeout=10)
            assert response.status_code == 200
            run_blocking(real_sleep, 0.15)  # the real, blocking sleep, in a thread
            self.client.get("/")

    snapshot = _run(Careful, users=4, seconds=2.0)
    # Side by side, each user's round takes about 0.3 s: about 4 * 2 / 0.3 = 26 requests.
    # Blocking the loop, the four rounds ran one after another: about 6.
    assert snapshot.total.num_requests >= 12
    assert snapshot.health.stall_count == 0
    assert _warnings(caplog, "blocked") == []


def test_run_blocking_outside_a_user_just_calls() -> None:
    assert run_blocking(sum, [1, 2, 3]) == 6
    assert run_blocking(dict, a=1) == {"a": 1}
    with pytest.raises(ZeroDivisionError):
        run_blocking(lambda: 1 / 0)
