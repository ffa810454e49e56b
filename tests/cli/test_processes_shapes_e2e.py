"""`--processes 2` with the load shapes and ramps of a one-process run.

The master alone runs the LoadTestShape and the `-u/-r` ramp and sets the global per-class
targets; the workers follow. Each run is bounded by its shape or `-t`, and by `run_cli`'s
timeout.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from test_main_e2e import run_cli, write

# Locust's stages shape, with a class choice per stage: the master prints what its workers
# reported at each spawning_complete, so the test sees the global per-class targets.
STAGES = """
from locust import HttpUser, LoadTestShape, constant, events, task
from locust.runners import MasterRunner


class Cats(HttpUser):
    wait_time = constant(0.05)

    @task
    def index(self):
        self.client.get("/")


class Dogs(HttpUser):
    wait_time = constant(0.05)

    @task
    def one(self):
        self.client.get("/7")


class Stages(LoadTestShape):
    stages = [
        {"duration": 1.5, "users": 4, "spawn_rate": 100, "user_classes": [Cats]},
        {"duration": 3.0, "users": 6, "spawn_rate": 100, "user_classes": [Dogs]},
        {"duration": 4.0, "users": 3, "spawn_rate": 100},
    ]

    def tick(self):
        print(f"TICK {type(self.runner).__name__}", flush=True)
        run_time = self.get_run_time()
        for stage in self.stages:
            if run_time < stage["duration"]:
                return stage["users"], stage["spawn_rate"], stage.get("user_classes")
        return None


@events.spawning_complete.add_listener
def spawned(user_count, **_kwargs):
    runner = events_runner[0]
    if isinstance(runner, MasterRunner):
        print(f"MASTER {user_count} {sorted(runner.user_classes_count.items())}", flush=True)


events_runner = []


@events.init.add_listener
def keep(environment, **_kwargs):
    events_runner.append(environment.runner)
"""


def _summary(path: Path) -> Any:
    return json.loads(path.read_text())


def test_a_stages_shape_runs_on_the_master_and_sets_global_class_targets(
    tmp_path: Path, target: Any
) -> None:
    write(tmp_path, "locustfile.py", STAGES)
    # -t 1 is ignored with a shape, as in one process: the shape ends the test at 4 s.
    result = run_cli(
        tmp_path,
        *("--headless", "--processes", "2", "-H", target.url, "-t", "1"),
        *("--json-file", "out"),
    )
    assert result.returncode == 0, result.stderr
    assert "the load shape returned None: stopping" in result.stderr
    # The shape runs on the master only: a worker that ran it too would set its own users.
    ticks = set(re.findall(r"TICK (\w+)", result.stdout))
    assert ticks == {"MasterRunner"}, ticks
    masters = re.findall(r"MASTER [^\n]*\]", result.stdout)  # see the test below
    # Only the Cats, then only the Dogs (the Cats stopped), then the last stage's mix
    # of 3 over both classes (even weights: 2 and 1, in either order).
    assert masters[:2] == ["MASTER 4 [('Cats', 4)]", "MASTER 6 [('Dogs', 6)]"]
    last = re.fullmatch(r"MASTER 3 \[\('Cats', (\d)\), \('Dogs', (\d)\)\]", masters[2])
    assert last is not None and {last.group(1), last.group(2)} == {"1", "2"}
    summary = _summary(tmp_path / "out.json")
    counted = {row["name"]: row["num_requests"] for row in summary["rows"]}
    received = target.settled()
    assert counted == {"/": received[("GET", "/")], "/[id]": received[("GET", "/7")]}
    assert summary["run"]["duration"] > 3.5  # the shape's 4 s, not -t's 1 s


RAMPS = """
import os

import gevent
from locust import HttpUser, constant, events, task
from locust.runners import MasterRunner


class Simple(HttpUser):
    wait_time = constant(0.05)

    @task
    def index(self):
        self.client.get("/")


@events.test_start.add_listener
def begin(environment, **_kwargs):
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        print(f"TARGET {runner.target_user_count}", flush=True)
        # A ramp changed mid-test, as a Locust script does it.
        gevent.spawn_later(1.0, runner.start, 6, 100)


@events.spawning_complete.add_listener
def spawned(user_count, **_kwargs):
    print(f"SPAWNED {os.getpid()} {user_count}", flush=True)  # one write: see below


@events.reset_stats.add_listener
def reset(**_kwargs):
    print(f"RESET {os.getpid()}", flush=True)
"""


def test_a_ramp_changed_mid_test_and_reset_stats_work_with_the_master(
    tmp_path: Path, target: Any
) -> None:
    write(tmp_path, "locustfile.py", RAMPS)
    result = run_cli(
        tmp_path,
        *("--headless", "--processes", "2", "-H", target.url, "-u", "4", "-r", "8"),
        *("-t", "3", "--reset-stats", "--json-file", "out"),
    )
    assert result.returncode == 0, result.stderr
    # Found anywhere in stdout: the processes share it, each line is one write (print's
    # separate pieces would interleave), and it may land inside the master's table.
    out = result.stdout
    assert re.findall(r"TARGET (\d+)", out) == ["4"]  # known before test_start, as in Locust
    (master_pid,) = re.findall(r"RESET (\d+)", out)
    spawned = re.findall(r"SPAWNED (\d+) (\d+)", out)
    # The master saw 4 users, then 6; each worker ran its half of each.
    assert [n for pid, n in spawned if pid == master_pid] == ["4", "6"]
    workers = {pid for pid, _ in spawned if pid != master_pid}
    assert len(workers) == 2
    for pid in workers:
        assert [n for p, n in spawned if p == pid] == ["2", "3"], out
    # One reset, by the master, once the first ramp (0.25 s at 4 users/s per worker) was
    # done: the requests before it are gone, the windows still on their way included.
    summary = _summary(tmp_path / "out.json")
    counted = summary["aggregated"]["num_requests"]
    assert summary["stats_start_time"] > summary["run"]["start_time"]
    assert 0 < counted < sum(target.settled().values())


# Each user runs one task of 3.5 s: longer than the 2 s a stopped user gets by default,
# shorter than --stop-timeout 6, so every user's second request is made and counted.
STOP_TIMEOUT = """
import time

from locust import HttpUser, constant, task


class Slow(HttpUser):
    wait_time = constant(60)

    @task
    def long_task(self):
        self.client.get("/")
        time.sleep(3.5)
        self.client.get("/1")
"""


def test_stop_timeout_lets_every_workers_users_finish_their_task(
    tmp_path: Path, target: Any
) -> None:
    write(tmp_path, "locustfile.py", STOP_TIMEOUT)
    result = run_cli(
        tmp_path,
        *("--headless", "--processes", "2", "-H", target.url, "-u", "4", "-r", "100"),
        *("-t", "1", "--stop-timeout", "6", "--json-file", "out"),
    )
    assert result.returncode == 0, result.stderr
    summary = _summary(tmp_path / "out.json")
    counted = {row["name"]: row["num_requests"] for row in summary["rows"]}
    assert counted == {"/": 4, "/[id]": 4}
    assert target.settled() == {("GET", "/"): 4, ("GET", "/1"): 4}
