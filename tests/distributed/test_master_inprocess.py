"""The master against in-process workers: dispatch, merging, the stop, losses, messages."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

import pytest

from loadhopper.distributed import MasterRunner, WorkerSpec, WorkerState
from loadhopper.distributed._inprocess import InProcessTransport
from loadhopper.runtime import Environment, WorkerRunner
from loadhopper.stats import StatsCollector
from loadhopper.user import User, constant, task

SPEC = WorkerSpec(argv=(), cwd=".", locustfile="inline")
TIMEOUT = 30.0  # a hung run fails instead of hanging the suite

RECORDED: list[tuple[str, float]] = []
_values = itertools.count()


class Alpha(User):
    wait_time = constant(0.01)
    weight = 3

    @task
    def t(self) -> None:
        value = float(next(_values) % 997) + 0.25
        RECORDED.append(("/a", value))
        self.environment.events.request.fire(
            request_type="GET",
            name="/a",
            response_time=value,
            response_length=1,
            exception=None,
            context={},
        )


class Beta(User):
    wait_time = constant(0.01)
    weight = 1

    @task
    def t(self) -> None:
        value = float(next(_values) % 89) + 0.5
        RECORDED.append(("/b", value))
        self.environment.events.request.fire(
            request_type="GET",
            name="/b",
            response_time=value,
            response_length=1,
            exception=None,
            context={},
        )


class Fixed(User):
    wait_time = constant(3600)
    fixed_count = 1

    @task
    def t(self) -> None:
        pass


def _factory(classes: list[type[User]], init: Any = None) -> Any:
    def build(spec: WorkerSpec) -> Environment:
        env = Environment(user_classes=classes)
        if init is not None:
            env.events.init.add_listener(init)
        return env

    return build


async def _run(master: MasterRunner, users: int, rate: float, run_time: float) -> None:
    try:
        await asyncio.wait_for(master.run(users, rate, run_time), TIMEOUT)
    finally:
        await master.aclose()


def test_merged_counts_and_percentiles_equal_one_process_and_users_split() -> None:
    RECORDED.clear()
    env = Environment(user_classes=[Alpha, Beta, Fixed])
    transport = InProcessTransport(_factory([Alpha, Beta, Fixed]))
    master = MasterRunner(env, transport, SPEC, 3)
    seen: dict[str, Any] = {}

    def on_window(point: Any) -> None:
        if master.user_count == 9 and "users" not in seen:
            seen["classes"] = master.user_classes_count
            seen["users"] = master.user_count
            seen["per_worker"] = [w.user_count for w in master.workers]

    master.window_listeners.append(on_window)
    asyncio.run(_run(master, 9, 100.0, 2.5))

    # 9 users: Fixed once globally (fixed_count), then 3:1 by weight, dealt evenly.
    assert seen["users"] == 9
    assert sorted(seen["per_worker"]) == [3, 3, 3]
    assert seen["classes"] == {"Fixed": 1, "Alpha": 6, "Beta": 2}
    # Every sample any worker recorded was merged, final windows included: exactly.
    one = StatsCollector(0.0, env.stats.percentiles, 500)
    for name, value in RECORDED:
        one.record("GET", name, value, 1, None)
    one.close_window(1.0, 0)
    assert env.stats.num_requests == len(RECORDED) > 100
    for name in ("/a", "/b"):
        merged, single = env.stats.get(name, "GET"), one.get(name, "GET")
        assert merged.num_requests == single.num_requests
        for p in (0.5, 0.9, 0.99, 0.999, 1.0):
            assert merged.get_response_time_percentile(p) == single.get_response_time_percentile(p)
    assert [w.state for w in master.workers] == [WorkerState.STOPPED] * 3


def test_a_lost_worker_is_reported_and_its_users_move_to_the_others() -> None:
    env = Environment(user_classes=[Alpha])
    transport = InProcessTransport(_factory([Alpha]))
    master = MasterRunner(env, transport, SPEC, 2)
    counts: list[int] = []
    before: list[int] = []

    async def scenario() -> None:
        test = asyncio.create_task(master.run(4, 100.0, 4.0))
        # The users run (spawning_complete) and a first window of theirs was merged.
        while master.user_count < 4 or env.stats.num_requests == 0:
            await asyncio.sleep(0.05)
        before.append(env.stats.num_requests)
        transport.kill(1)
        await asyncio.sleep(2.0)
        counts.append(master.user_count)
        await test

    async def main() -> None:
        try:
            await asyncio.wait_for(scenario(), TIMEOUT)
        finally:
            await master.aclose()

    asyncio.run(main())
    lost = master.workers[1]
    assert lost.state is WorkerState.LOST and lost.lost_cause == "killed by the test"
    assert counts == [4]  # all 4 users now on worker 0
    assert master.workers[0].state is WorkerState.STOPPED
    assert env.stats.num_requests >= before[0] > 0


def test_custom_messages_go_both_ways_and_reports_fire_worker_report() -> None:
    got_on_workers: list[tuple[int, Any]] = []
    acks: list[tuple[str, Any]] = []
    reports: list[dict[str, Any]] = []

    def on_init(environment: Environment, runner: Any, **_: Any) -> None:
        assert isinstance(runner, WorkerRunner)

        def on_data(environment: Environment, msg: Any, **_: Any) -> None:
            got_on_workers.append((environment.runner.worker_index, msg.data))  # type: ignore[union-attr]
            environment.runner.send_message("ack", len(msg.data))  # type: ignore[union-attr]

        runner.register_message("data", on_data)
        environment.events.report_to_master.add_listener(
            lambda client_id, data: data.update(extra=runner.worker_index)
        )

    env = Environment(user_classes=[Alpha])
    master = MasterRunner(env, InProcessTransport(_factory([Alpha], on_init)), SPEC, 2)
    master.register_message("ack", lambda environment, msg: acks.append((msg.node_id, msg.data)))
    env.events.worker_report.add_listener(lambda client_id, data: reports.append(data))

    def on_start(environment: Environment, **_: Any) -> None:
        assert master.worker_count == 2
        for i, client in enumerate(master.clients):
            master.send_message("data", list(range(i + 1)), client)

    env.events.test_start.add_listener(on_start)
    asyncio.run(_run(master, 2, 50.0, 2.0))
    assert sorted(got_on_workers) == [(0, [0]), (1, [0, 1])]
    assert sorted(data for _, data in acks) == [1, 2]
    assert {r["extra"] for r in reports} == {0, 1}
    with pytest.raises(Exception, match="already registered"):
        master.register_message("ack", print)


def test_dispatch_is_even_and_fixed_count_global() -> None:
    env = Environment(user_classes=[Alpha, Beta, Fixed])
    transport = InProcessTransport(_factory([Alpha, Beta, Fixed]))
    master = MasterRunner(env, transport, SPEC, 4)
    per_worker: list[Counter[str]] = []

    def on_window(point: Any) -> None:
        if master.user_count == 10 and not per_worker:
            for worker in master._workers:
                per_worker.append(Counter(worker.classes))

    master.window_listeners.append(on_window)
    asyncio.run(_run(master, 10, 200.0, 2.0))
    assert sorted(sum(c.values()) for c in per_worker) == [2, 2, 3, 3]
    assert sum(c["Fixed"] for c in per_worker) == 1
    assert sum(c["Alpha"] for c in per_worker) == 7 and sum(c["Beta"] for c in per_worker) == 2
