"""The Workers part of the UI's JSON, without a browser: a master over in-process workers.

The controller drives a real `MasterRunner` whose workers are `serve` tasks on the same loop
(`InProcessTransport`), running HTTP users against a loopback target; the payload is what
`/api/state` and every stream update send.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import uvloop
from web_support import IndexUser

from loadhopper.distributed import MasterRunner, WorkerSpec
from loadhopper.distributed._inprocess import InProcessTransport
from loadhopper.runtime import Environment, Events
from loadhopper.web import EditParameters, StartParameters, WebController
from loadhopper.web._payload import full_payload, update_payload

SPEC = WorkerSpec(argv=(), cwd=".", locustfile="inline")
DEADLINE = 30.0  # a condition not met by then fails the test instead of hanging it


def _master(host: str) -> tuple[WebController, InProcessTransport]:
    def worker_environment(spec: WorkerSpec) -> Environment:
        return Environment(user_classes=[IndexUser], events=Events(), host=host)

    env = Environment(user_classes=[IndexUser], events=Events(), host=host)
    transport = InProcessTransport(worker_environment)
    env.runner = MasterRunner(env, transport, SPEC, 2)
    return WebController(env, locustfile="lf.py"), transport


async def _until(check: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(DEADLINE):
            while not check():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def _workers(controller: WebController) -> dict[str, Any]:
    workers = update_payload(controller)["workers"]
    assert workers is not None
    result: dict[str, Any] = workers
    return result


def _users(controller: WebController) -> list[int]:
    return [w["user_count"] for w in _workers(controller)["workers"]]


def test_the_payload_lists_the_workers_through_start_edit_loss_and_stop(target: Any) -> None:
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        controller, transport = _master(target.url)
        runner = controller.runner
        assert isinstance(runner, MasterRunner)
        try:
            controller.warm_up()
            await _until(lambda: len(_workers(controller)["workers"]) == 2, "two workers")
            await _until(
                lambda: [w["state"] for w in _workers(controller)["workers"]] == ["ready"] * 2,
                "two ready workers",
            )
            seen["ready"] = full_payload(controller)["workers"]

            controller.start(StartParameters(4, 100.0))
            await _until(lambda: _users(controller) == [2, 2], "2 users on each worker")
            controller.edit(EditParameters(6, 100.0))
            await _until(lambda: _users(controller) == [3, 3], "3 users on each worker")
            seen["edited"] = _workers(controller)
            seen["status_users"] = update_payload(controller)["status"]["user_count"]

            transport.kill(1)
            await _until(lambda: _workers(controller)["lost"] == 1, "the lost worker")
            await _until(lambda: _users(controller) == [6, 0], "its users on the other")
            seen["lost"] = _workers(controller)

            controller.stop()
            await asyncio.wait_for(controller.wait(), DEADLINE)
            seen["stopped"] = _workers(controller)
            seen["requests"] = update_payload(controller)["stats"]["total"]["num_requests"]
            # The next test runs on the one live worker.
            controller.start(StartParameters(2, 100.0))
            await _until(lambda: _users(controller) == [2, 0], "the second test's users")
            controller.stop()
            await asyncio.wait_for(controller.wait(), DEADLINE)
            seen["error"] = controller.error
        finally:
            controller.close()
            await runner.aclose()

    asyncio.Runner(loop_factory=uvloop.new_event_loop).run(scenario())

    ready = seen["ready"]
    assert ready["live"] == 2 and ready["lost"] == 0 and ready["cpu_warning_percent"] == 90.0
    first, second = ready["workers"]
    assert [first["index"], second["index"]] == [0, 1]
    assert first["name"] != second["name"] and first["client_id"] and first["pid"] > 0
    assert first["host"] and first["lost_cause"] is None and first["cpu_warning"] is False
    json.dumps(ready)  # what the stream sends must be JSON as it is

    assert [w["state"] for w in seen["edited"]["workers"]] == ["running", "running"]
    assert seen["status_users"] == 6

    lost = seen["lost"]
    assert lost["live"] == 1 and lost["lost"] == 1
    assert lost["workers"][1]["state"] == "lost"
    assert lost["workers"][1]["lost_cause"] == "killed by the test"
    assert lost["workers"][0]["state"] in ("spawning", "running")

    stopped = seen["stopped"]
    assert [w["state"] for w in stopped["workers"]] == ["stopped", "lost"]
    assert stopped["workers"][1]["lost_cause"] == "killed by the test"  # still shown
    assert seen["requests"] > 0 and seen["error"] is None


def test_a_one_process_run_has_no_workers_in_the_payload(target: Any) -> None:
    async def scenario() -> tuple[Any, Any]:
        env = Environment(user_classes=[IndexUser], events=Events(), host=target.url)
        controller = WebController(env, locustfile="lf.py")
        controller.warm_up()  # nothing to start for one process
        try:
            return full_payload(controller)["workers"], controller.workers()
        finally:
            controller.close()

    workers, infos = asyncio.Runner(loop_factory=uvloop.new_event_loop).run(scenario())
    assert workers is None and infos is None


def test_workers_that_cannot_start_are_the_first_tests_error(target: Any) -> None:
    class NoWorkers(InProcessTransport):
        async def start(self, spec: WorkerSpec, count: int) -> list[Any]:
            return []

    async def scenario() -> tuple[str | None, str | None]:
        env = Environment(user_classes=[IndexUser], events=Events(), host=target.url)
        runner = MasterRunner(env, NoWorkers(lambda spec: env), SPEC, 2)
        env.runner = runner
        controller = WebController(env, locustfile="lf.py")
        try:
            controller.warm_up()
            await _until(lambda: controller.status().error is not None, "the start error")
            before = controller.status().error
            controller.start(StartParameters(1, 1.0))
            await asyncio.wait_for(controller.wait(), DEADLINE)
            return before, controller.error
        finally:
            controller.close()
            await runner.aclose()

    before, after = asyncio.Runner(loop_factory=uvloop.new_event_loop).run(scenario())
    assert before is not None and "started no worker" in before
    assert after is not None and "started no worker" in after


def test_an_edit_or_a_stop_while_the_workers_start_is_not_lost(target: Any) -> None:
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        controller, _transport = _master(target.url)
        runner = controller.runner
        try:
            # The same tick as the start: the test still waits for the workers' hello.
            controller.warm_up()
            controller.start(StartParameters(2, 100.0))
            controller.edit(EditParameters(4, 100.0))
            await _until(lambda: _users(controller) == [2, 2], "the edited count, split")
            seen["target"] = controller.status().target_users
            seen["error"] = controller.error
            controller.stop()
            await asyncio.wait_for(controller.wait(), DEADLINE)
            seen["first_requests"] = runner.stats.num_requests

            controller.start(StartParameters(2, 100.0))
            controller.stop()  # before the task began: the test must not begin at all
            await asyncio.wait_for(controller.wait(), DEADLINE)
            await asyncio.sleep(0.3)  # a test wrongly begun would have spawned by now
            seen["after_early_stop"] = (controller.running, runner.state.value, _users(controller))
            finished = controller.finished
            seen["requests"] = None if finished is None else finished.snapshot.total.num_requests
            seen["second_error"] = controller.error
        finally:
            controller.close()
            await runner.aclose()

    asyncio.Runner(loop_factory=uvloop.new_event_loop).run(scenario())
    assert seen["target"] == 4 and seen["error"] is None
    assert seen["after_early_stop"] == (False, "stopped", [0, 0])
    # Nothing ran: the statistics are still the first test's.
    assert seen["requests"] == seen["first_requests"] and seen["second_error"] is None
