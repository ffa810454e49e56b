"""`locust.runners`: Locust's runner names and states, and a threshold checker written as
Locust's `stop_on_threshold.py` example writes it (its loop started from `test_start` here:
loadhopper has no `gevent.spawn` yet)."""

# Locustfile-style code is the API under test.
import asyncio
import importlib
from typing import Any

import pytest

from loadhopper import User, constant, task
from loadhopper._exceptions import LoadhopperError
from loadhopper.runtime import (
    Environment,
    Events,
    FakeClock,
    install_locust_alias,
    uninstall_locust_alias,
)
from runtime.conftest import drive, run_bounded, until

pytestmark = pytest.mark.usefixtures("clean_locust_modules")


def _runners() -> Any:
    previous = install_locust_alias()
    try:
        return importlib.import_module("locust.runners")
    finally:
        uninstall_locust_alias(previous)


def test_locust_runners_has_locusts_names() -> None:
    runners = _runners()
    assert set(runners.__all__) >= {
        "LocalRunner",
        "MasterRunner",
        "WorkerRunner",
        "Runner",
        "STATE_INIT",
        "STATE_SPAWNING",
        "STATE_RUNNING",
        "STATE_CLEANUP",
        "STATE_STOPPING",
        "STATE_STOPPED",
        "STATE_MISSING",
    }
    states = [getattr(runners, f"STATE_{n}") for n in ("INIT", "SPAWNING", "RUNNING")]
    assert states == ["ready", "spawning", "running"]  # Locust's strings
    runner = Environment().create_local_runner()
    assert isinstance(runner, runners.Runner) and isinstance(runner, runners.LocalRunner)
    assert not isinstance(runner, runners.MasterRunner | runners.WorkerRunner)
    assert runner.state == runners.STATE_INIT
    assert (runner.worker_index, runner.worker_count) == (0, 1)  # Locust's local values


def test_library_master_and_worker_runners_refuse_with_one_sentence() -> None:
    env = Environment()
    for create in (env.create_master_runner, env.create_worker_runner):
        with pytest.raises(LoadhopperError, match=r"command line only; .*--processes N.*\.$"):
            create()


class _Failing(User):
    wait_time = constant(3600)

    @task
    def t(self) -> None:
        self.environment.events.request.fire(  # type: ignore[attr-defined]
            request_type="GET",
            name="/",
            response_time=5.0,
            response_length=0,
            exception=ValueError("down"),
            context={},
        )


def test_a_threshold_checker_sets_the_exit_code_and_quits_the_runner() -> None:
    runners = _runners()
    clock = FakeClock()
    bus = Events()
    env = Environment(user_classes=[_Failing], events=bus, clock=clock)
    checks: list[float] = []

    async def checker(environment: Any) -> None:
        # stop_on_threshold.py's loop, with the run's clock for gevent.sleep.
        while environment.runner.state not in [
            runners.STATE_STOPPING,
            runners.STATE_STOPPED,
            runners.STATE_CLEANUP,
        ]:
            await clock.sleep(1)
            checks.append(clock.monotonic())
            total = environment.runner.stats.total
            if total.fail_ratio > 0.01 or (total.avg_response_time or 0) > 200:
                environment.process_exit_code = 1
                environment.runner.quit()

    tasks: list[asyncio.Task[None]] = []

    def on_test_start(environment: Any, **_: Any) -> None:
        if not isinstance(environment.runner, runners.WorkerRunner):
            tasks.append(asyncio.ensure_future(checker(environment)))

    bus.test_start.add_listener(on_test_start)
    runner = env.create_local_runner()

    async def main() -> None:
        await drive(clock, runner.run(3, 10), step=0.25)
        # The checker sees the end on its next round, one second later.
        await until(clock, lambda: all(t.done() for t in tasks), step=0.25)
        await asyncio.gather(*tasks)

    run_bounded(main)
    # Events fired by a custom client reach the stats of the run (the events are shared).
    assert env.stats.snapshot(0).total.num_failures == 3
    assert checks[0] == 1.0 and env.process_exit_code == 1 and runner.quitting
