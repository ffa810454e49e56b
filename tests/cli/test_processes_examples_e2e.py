"""Locustfiles shaped like Locust's distributed examples, run with `--processes 2`.

`custom_messages.py`: the master deals each worker its own slice of test data by message at
test_start, and each user takes one item in `__init__`. `testdata_management.py`: test data
fetched at every stage (parse time, init, test start, user start, inside a task) and a print
at every event of the run's life. Both are written here in our own words, against the
loopback target; each run is bounded by `-t` and `run_cli`'s timeout.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from test_main_e2e import run_cli, write

# Every print is one string (one write): the master and the workers share stdout.
DEALT_DATA = """
from locust import HttpUser, between, events, task
from locust.runners import MasterRunner, WorkerRunner

accounts = []


def take_accounts(environment, msg, **_kwargs):
    accounts.extend(item["login"] for item in msg.data)
    environment.runner.send_message("accounts_taken", len(msg.data))


def on_taken(msg, **_kwargs):
    print(f"TAKEN {msg.data} by {msg.node_id}", flush=True)


@events.init.add_listener
def register(environment, **_kwargs):
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message("accounts", take_accounts)
    elif isinstance(environment.runner, MasterRunner):
        environment.runner.register_message("accounts_taken", on_taken)


@events.test_start.add_listener
def deal(environment, **_kwargs):
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    everyone = [{"login": f"login{i}"} for i in range(runner.target_user_count)]
    share = len(everyone) // runner.worker_count
    for i, client_id in enumerate(runner.clients):
        last = i + 1 == runner.worker_count
        runner.send_message(
            "accounts", everyone[i * share : None if last else (i + 1) * share], client_id
        )


class Customer(HttpUser):
    wait_time = between(2, 5)

    def __init__(self, parent):
        self.login = accounts.pop()  # an IndexError here if the data came too late
        super().__init__(parent)

    @task
    def visit(self):
        print(f"LOGIN {self.login}", flush=True)
        self.client.get("/")
"""


def test_data_dealt_by_message_reaches_each_worker_before_its_users(
    tmp_path: Path, target: Any
) -> None:
    write(tmp_path, "locustfile.py", DEALT_DATA)
    result = run_cli(
        tmp_path,
        # An even count: the example deals len // workers to each but the last, which
        # holds only when the users split evenly too (in Locust as here).
        *("--headless", "--processes", "2", "-u", "6", "-r", "100", "-t", "2"),
        *("-H", target.url),
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Error" not in result.stderr
    taken = re.findall(r"TAKEN (\d+) by (\S+)", result.stdout)
    assert sorted(n for n, _ in taken) == ["3", "3"]
    assert len({client for _, client in taken}) == 2
    # Every login was used by exactly one user (each user visits once within 2 s).
    logins = re.findall(r"LOGIN (login\d)", result.stdout)
    assert sorted(logins) == [f"login{i}" for i in range(6)]


STAGES_OF_DATA = """
import os

import requests
from locust import HttpUser, constant, events, task
from locust.runners import MasterRunner

TARGET = os.environ["TARGET_URL"]


def say(text):
    print(f"{text} [{os.getpid()}]", flush=True)


say("STAGE parse")
# Fetched once while the locustfile is imported, before the workers are forked.
shared_id = requests.post(TARGET + "/create", data="shared").text
run_id = None


@events.init.add_listener
def on_init(environment, **_kwargs):
    say("STAGE init")


@events.test_start.add_listener
def on_test_start(environment, **_kwargs):
    global run_id
    say("STAGE test_start")
    if not isinstance(environment.runner, MasterRunner):  # the master needs no data
        run_id = requests.post(TARGET + "/create", data="run").text


@events.usage_monitor.add_listener
def on_usage(environment, cpu_usage, memory_usage, **_kwargs):
    say("STAGE usage")


@events.test_stopping.add_listener
def on_stopping(environment, **_kwargs):
    say("STAGE test_stopping")


@events.test_stop.add_listener
def on_test_stop(environment, **_kwargs):
    say("STAGE test_stop")


@events.quitting.add_listener
def on_quitting(environment, **_kwargs):
    say("STAGE quitting")


@events.quit.add_listener
def on_quit(exit_code, **_kwargs):
    say(f"STAGE quit {exit_code}")


@events.heartbeat_sent.add_listener
def on_heartbeat_sent(client_id, timestamp, **_kwargs):
    say("STAGE heartbeat_sent")


@events.heartbeat_received.add_listener
def on_heartbeat_received(client_id, timestamp, **_kwargs):
    say("STAGE heartbeat_received")


class Fetcher(HttpUser):
    wait_time = constant(60)
    first_start = True

    def on_start(self):
        if Fetcher.first_start:  # once per process that runs users
            Fetcher.first_start = False
            say("STAGE first_user")
        say("STAGE user_start")
        self.user_id = self.client.post("/create", data="user").text

    @task
    def use_the_data(self):
        for cat in (shared_id, run_id, self.user_id):
            self.client.get(f"/{cat}")
        task_id = self.client.post("/create", data="task").text
        self.client.get(f"/{task_id}")
        say("STAGE task")

    def on_stop(self):
        say("STAGE user_stop")
"""


def test_test_data_at_every_stage_of_a_distributed_run(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", STAGES_OF_DATA)
    result = run_cli(
        tmp_path,
        *("--headless", "--processes", "2", "-u", "2", "-r", "100", "-t", "2"),
        *("-H", target.url),
        env={"TARGET_URL": target.url},
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Error" not in result.stderr
    stages = re.findall(r"STAGE ([a-z_]+(?: \d+)?) \[(\d+)\]", result.stdout)
    pids = {stage: {pid for s, pid in stages if s == stage} for stage, _ in stages}
    (master,) = pids["parse"]  # imported once, by the master; the workers are its forks
    workers = pids["user_start"]
    assert len(workers) == 2 and master not in workers
    counts = {stage: sum(1 for s, _ in stages if s == stage) for stage, _ in stages}
    every_process = {"init", "test_start", "test_stopping", "test_stop", "quitting"}
    for stage in every_process:
        assert pids[stage] == {master, *workers}, stage
        assert counts[stage] == 3, stage
    # One user per worker, each started, run once and stopped there.
    for stage in ("first_user", "user_start", "task", "user_stop"):
        assert pids[stage] == workers and counts[stage] == 2, stage
    assert pids["quit 0"] == {master}  # the exit code is the master's
    # Locust's heartbeat events: sent by the master, received by the workers.
    assert pids["heartbeat_sent"] == {master}
    assert pids["heartbeat_received"] and pids["heartbeat_received"] <= workers
    # shared (1) + one per worker at test_start (2) + one per user (2) + one per task (2).
    assert target.settled()[("POST", "/create")] == 7
