"""End to end: a task that burns CPU or blocks the loop makes the generator warn about itself.

Real time, real processes: the CLI runs a locustfile for a few seconds. The CPU burner uses
helper threads that release the GIL (hashing), so that the process stays above 90 % of a
core even on a machine shared with other work; the blocker sleeps 30 ms on the loop (below
the 100 ms stall threshold, far above the 10 ms lag bound). An idle run must not warn.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_main_e2e import run_cli, write

BURNER = """
import asyncio, hashlib, time
from locust import User, task, constant

BLOCK = b"x" * (1 << 20)
THREADS = 8


def burn(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        hashlib.sha256(BLOCK).digest()  # releases the GIL: threads burn in parallel


class Burner(User):
    wait_time = constant(0)

    @task
    async def burn(self):
        await asyncio.gather(*(asyncio.to_thread(burn, 0.2) for _ in range(THREADS)))
"""

BLOCKER = """
import asyncio, time
from locust import User, task, constant


class Blocker(User):
    wait_time = constant(0)

    @task
    async def block(self):
        time.sleep(0.03)  # real sleep in an async task: the whole loop waits
        await asyncio.sleep(0.02)
"""

IDLE = """
from locust import User, task, constant


class Idle(User):
    wait_time = constant(0.2)

    @task
    def think(self):
        sum(range(1000))
"""


def _health(tmp_path: Path) -> dict[str, Any]:
    summary = json.loads((tmp_path / "summary.json").read_text())
    health: dict[str, Any] = summary["generator_health"]
    return health


def _cpu_share(seconds: float = 0.5, threads: int = 8) -> float:
    """The CPU (percent of one core) this process gets burning `threads` hashing threads."""
    block = b"x" * (1 << 20)

    def burn() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            hashlib.sha256(block).digest()

    cpu, wall = time.process_time(), time.monotonic()
    workers = [threading.Thread(target=burn) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    return 100.0 * (time.process_time() - cpu) / (time.monotonic() - wall)


def test_a_task_that_burns_cpu_raises_the_cpu_warning(tmp_path: Path) -> None:
    # On a machine whose cores other work saturates, no process reaches 90 % of a core, and
    # the warning is rightly absent: then this test cannot tell anything, and says so.
    share = _cpu_share()
    if share < 150.0:
        pytest.skip(f"the machine is oversubscribed: 8 burning threads got {share:.0f} % CPU")
    write(tmp_path, "locustfile.py", BURNER)
    result = run_cli(
        tmp_path, "--headless", "-H", "http://127.0.0.1:9", "-u", "2", "-r", "10", "-t", "4s",
        "--json-file", "summary",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Warned once when it started (not every second), and summed up at the end.
    assert result.stderr.count("of a core in the last second") == 1, result.stderr
    assert "The generator was above 90 % CPU in" in result.stderr
    assert "Generator health" in result.stdout
    cpu = _health(tmp_path)["cpu"]
    assert cpu["hot_windows"] >= 1 and cpu["peak_percent"] > 90
    assert cpu["windows"] and all(w["cpu_percent"] > 90 for w in cpu["windows"])


def test_a_task_that_blocks_the_loop_raises_the_lag_warning(tmp_path: Path) -> None:
    write(tmp_path, "locustfile.py", BLOCKER)
    result = run_cli(
        tmp_path, "--headless", "-H", "http://127.0.0.1:9", "-u", "1", "-r", "10", "-t", "4s",
        "--json-file", "summary",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("late in the last second") == 1, result.stderr
    assert "event loop ran more than 10 ms late in" in result.stderr
    lag = _health(tmp_path)["loop_lag"]
    assert lag["lagging_windows"] >= 1 and lag["max_ms"] > 10
    assert lag["windows"] and all(w["lag_ms"] > 10 for w in lag["windows"])


def test_an_idle_run_does_not_warn(tmp_path: Path) -> None:
    write(tmp_path, "locustfile.py", IDLE)
    result = run_cli(
        tmp_path, "--headless", "-H", "http://127.0.0.1:9", "-u", "2", "-r", "10", "-t", "3s",
        "--json-file", "summary",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    health = _health(tmp_path)
    assert health["cpu"]["hot_windows"] == 0, result.stderr
    assert "of a core in the last second" not in result.stderr
    # No claim about the loop's lag here: it is how late the OS ran this process, which on a
    # shared machine a quiet calibration before or after cannot vouch for (it failed so in
    # CI). The lag warning's own test is the blocking task above.
