"""`--processes 2` end to end: forked workers against a loopback server, one killed mid-run.

Every run is bounded by `-t` and a timeout on the subprocess (`run_cli`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from test_main_e2e import TIMEOUT, _env, run_cli, write

PIDS = """
import os
from locust import HttpUser, task, constant, events
from locust.runners import WorkerRunner

@events.test_start.add_listener
def record_pid(environment, **_kwargs):
    if isinstance(environment.runner, WorkerRunner):
        path = f"worker-{environment.runner.worker_index}.pid"
        with open(path + ".tmp", "w") as handle:
            handle.write(str(os.getpid()))
        os.replace(path + ".tmp", path)

class Simple(HttpUser):
    wait_time = constant(0.02)

    @task
    def index(self):
        self.client.get("/")
"""


def _summary_count(path: Path) -> int:
    summary: Any = json.loads(path.read_text())
    return int(summary["aggregated"]["num_requests"])


def test_two_processes_count_exactly_what_the_server_received(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", PIDS)
    result = run_cli(
        tmp_path,
        "--headless",
        "-u",
        "4",
        "-r",
        "100",
        "-t",
        "3",
        "--processes",
        "2",
        "-H",
        target.url,
        "--json-file",
        "out",
    )
    assert result.returncode == 0, result.stderr
    counted = _summary_count(tmp_path / "out.json")
    received = sum(target.settled().values())
    assert counted == received > 0
    pids = {(tmp_path / f"worker-{i}.pid").read_text() for i in (0, 1)}
    assert len(pids) == 2 and str(os.getpid()) not in pids


def test_a_killed_worker_loses_no_counted_request_and_its_users_move(
    tmp_path: Path, target: Any
) -> None:
    write(tmp_path, "locustfile.py", PIDS)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loadhopper",
            "--headless",
            "-u",
            "4",
            "-r",
            "100",
            "-t",
            "6",
            "--processes",
            "2",
            "-H",
            target.url,
            "--json-file",
            "out",
        ],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        pid_file = tmp_path / "worker-1.pid"
        deadline = time.monotonic() + 20
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        victim = int(pid_file.read_text())
        time.sleep(1.5)
        before = sum(target.settled(quiet=0.0, limit=0.0).values())
        os.kill(victim, signal.SIGKILL)  # our own grandchild, by its pid
        _out, err = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err  # a lost worker does not change the exit code
    assert "worker 1" in err and "killed by signal 9" in err
    assert "Giving its users to the 1 remaining workers" in err
    counted = _summary_count(tmp_path / "out.json")
    received = sum(target.settled().values())
    workers = json.loads((tmp_path / "out.json").read_text())["workers"]
    assert [w["state"] for w in workers] == ["stopped", "lost"]
    assert workers[1]["lost_cause"] == "killed by signal 9 (SIGKILL)"
    # Its requests already counted stay counted; some it sent may have died unanswered.
    assert received >= counted >= before > 0


MESSAGES = """
from locust import HttpUser, task, constant, events
from locust.runners import MasterRunner, WorkerRunner

names = []

def take_names(environment, msg, **_kwargs):
    names.extend(msg.data)
    environment.runner.send_message("thanks", len(msg.data))

def on_thanks(msg, **_kwargs):
    print(f"THANKS {msg.data}", flush=True)

@events.init.add_listener
def on_init(environment, **_kwargs):
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message("names", take_names)
    elif isinstance(environment.runner, MasterRunner):
        environment.runner.register_message("thanks", on_thanks)

@events.test_start.add_listener
def deal_names(environment, **_kwargs):
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        everyone = [f"user{i}" for i in range(runner.target_user_count or 4)]
        for i, client in enumerate(runner.clients):
            runner.send_message("names", everyone[i::runner.worker_count], client)

class Named(HttpUser):
    wait_time = constant(0.1)

    def __init__(self, parent):
        self.name_ = names.pop()  # fails unless the names arrived before the users
        super().__init__(parent)

    @task
    def index(self):
        self.client.get("/")
"""


def test_custom_messages_reach_workers_before_their_users(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", MESSAGES)
    result = run_cli(
        tmp_path,
        "--headless",
        "-u",
        "4",
        "-r",
        "100",
        "-t",
        "2",
        "--processes",
        "2",
        "-H",
        target.url,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(line for line in result.stdout.splitlines() if line.startswith("THANKS")) == [
        "THANKS 2",
        "THANKS 2",
    ]
    assert "Error" not in result.stderr
