"""A LoadTestShape run ends on every kind of stop, and leaves no task of the runner behind.

Each test runs on its own event loop under `asyncio.timeout`, so a run that never ends (the
defect these tests guard against) fails the test instead of hanging the suite. Time is a
FakeClock's: the shape's ticks, the ramps and `-t` move only when a test advances it.
"""

import asyncio
import inspect
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from loadhopper import LoadTestShape, StopTest, User, constant, task
from loadhopper._exceptions import LoadhopperError
from loadhopper.runtime import Environment, FakeClock, LocalRunner, RunnerState
from loadhopper.runtime import _runner as runner_module
from loadhopper.stats import TimelinePoint

HANG_BOUND = 10.0  # seconds; every test here ends in well under one


def _run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(HANG_BOUND):
            await main()
        # Whatever stopped the test, nothing the runner started may outlive run().
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(bounded())


def _clock(runner: LocalRunner) -> FakeClock:
    assert isinstance(runner.clock, FakeClock)
    return runner.clock


async def _until(runner: LocalRunner, predicate: Callable[[], bool]) -> None:
    # Moving the fake clock in small steps: the ramps (1000 users/s) and the shape's
    # once-a-second ticks go on while the test waits for what it needs.
    while not predicate():
        await _clock(runner).advance(0.01)


async def _run_to_end(runner: LocalRunner) -> None:
    run = asyncio.create_task(runner.run(0, 1))
    await _until(runner, run.done)
    await run


class _Log:
    """What happened in a run: users' on_stop calls and the runner's events, in order."""

    def __init__(self, env: Environment) -> None:
        self.events: list[str] = []
        self.stopped_users = 0
        for name in ("test_start", "test_stopping", "test_stop"):
            getattr(env.events, name).add_listener(
                lambda name=name, **kwargs: self.events.append(name)
            )
        env.events.spawning_complete.add_listener(
            lambda user_count: self.events.append(f"spawned {user_count}")
        )


def _idle_user(log: list[str] | None = None) -> type[User]:
    class Idle(User):
        wait_time = constant(3600)

        @task
        def t(self) -> None:
            pass

        def on_stop(self) -> None:
            if log is not None:
                log.append("on_stop")

    return Idle


def _steady(users: int) -> type[LoadTestShape]:
    class Steady(LoadTestShape):
        def tick(self) -> Any:
            return (users, 1000)

    return Steady


def _runner(shape: type[LoadTestShape], *users: type[User], **kwargs: Any) -> LocalRunner:
    env = Environment(
        user_classes=list(users) or [_idle_user()], shape_class=shape, clock=FakeClock(), **kwargs
    )
    return env.create_local_runner()


@pytest.mark.parametrize("how", ["stop", "quit"])
def test_stop_and_quit_end_a_shape_run(how: str) -> None:
    stops: list[str] = []
    runner = _runner(_steady(3), _idle_user(stops))
    log = _Log(runner.environment)
    points: list[TimelinePoint] = []
    runner.window_listeners.append(points.append)

    async def main() -> None:
        run = asyncio.create_task(runner.run(0, 1))
        await _until(runner, lambda: runner.state is RunnerState.RUNNING)
        getattr(runner, how)()
        await run

    _run(main)
    assert log.events == ["test_start", "spawned 3", "test_stopping", "test_stop"]
    assert stops == ["on_stop"] * 3
    assert runner.state is RunnerState.STOPPED and runner.user_count == 0
    assert runner.quitting is (how == "quit")
    assert points[-1].user_count == 3  # the last, partial window was still closed


def test_the_run_time_ends_a_shape_that_uses_the_common_options() -> None:
    class Common(LoadTestShape):
        use_common_options = True

        def tick(self) -> Any:
            return (2, 1000)

    runner = _runner(Common)
    log = _Log(runner.environment)

    async def main() -> None:
        run = asyncio.create_task(runner.run(0, 1, run_time=2.0))
        await _clock(runner).advance(1.99)
        assert not run.done()
        await _clock(runner).advance(0.01)
        await run

    _run(main)
    assert log.events == ["test_start", "spawned 2", "test_stopping", "test_stop"]


def test_without_the_common_options_the_run_time_is_left_to_the_shape() -> None:
    runner = _runner(_steady(1))

    async def main() -> None:
        run = asyncio.create_task(runner.run(0, 1, run_time=0.05))
        await _clock(runner).advance(5.0)
        assert not run.done()  # -t belongs to the shape, which has not ended the test
        runner.stop()
        await run

    _run(main)
    assert runner.state is RunnerState.STOPPED


def test_a_shape_returning_none_at_once_ends_the_run_without_users() -> None:
    class Nothing(LoadTestShape):
        def tick(self) -> Any:
            return None

    runner = _runner(Nothing)
    log = _Log(runner.environment)

    async def main() -> None:
        await _run_to_end(runner)

    _run(main)
    assert log.events == ["test_start", "test_stopping", "test_stop"]
    assert runner.environment.stats.snapshot(0).exceptions == ()


def test_a_shape_returning_none_later_stops_its_users() -> None:
    stops: list[str] = []

    class Stages(LoadTestShape):
        ticks = 0

        def tick(self) -> Any:
            Stages.ticks += 1
            return (2, 1000) if self.get_current_user_count() < 2 else None

    runner = _runner(Stages, _idle_user(stops))

    async def main() -> None:
        await _run_to_end(runner)

    _run(main)
    assert Stages.ticks >= 2 and stops == ["on_stop"] * 2


def test_stop_test_from_a_user_ends_a_shape_run() -> None:
    class Quitter(User):
        wait_time = constant(0)

        @task
        def t(self) -> None:
            raise StopTest("enough")

    runner = _runner(_steady(2), Quitter)
    log = _Log(runner.environment)

    async def main() -> None:
        await _run_to_end(runner)

    _run(main)
    assert log.events[0] == "test_start" and log.events[-2:] == ["test_stopping", "test_stop"]
    assert runner.environment.stats.snapshot(0).exceptions == ()  # a signal, not an error


def test_stop_test_from_tick_ends_the_run_quietly() -> None:
    class Enough(LoadTestShape):
        def tick(self) -> Any:
            if self.get_current_user_count() == 2:
                raise StopTest("enough")
            return (2, 1000)

    runner = _runner(Enough)

    async def main() -> None:
        await _run_to_end(runner)

    _run(main)
    assert runner.environment.stats.snapshot(0).exceptions == ()


def test_a_tick_that_raises_at_once_ends_the_run_with_the_error_recorded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(LoadTestShape):
        def tick(self) -> Any:
            raise ZeroDivisionError("division by zero in the stages")

    runner = _runner(Broken)
    log = _Log(runner.environment)

    async def main() -> None:
        await _run_to_end(runner)

    with caplog.at_level(logging.ERROR, logger="loadhopper.runtime"):
        _run(main)
    assert log.events == ["test_start", "test_stopping", "test_stop"]
    (recorded,) = runner.environment.stats.snapshot(0).exceptions
    assert recorded.message == "ZeroDivisionError: division by zero in the stages"
    assert "in tick" in recorded.traceback and "_runner.py" not in recorded.traceback
    assert "The load shape Broken failed (ZeroDivisionError" in caplog.text
    assert "fix its tick()" in caplog.text


def test_a_tick_that_raises_later_stops_the_users_gently() -> None:
    stops: list[str] = []

    class Later(LoadTestShape):
        def tick(self) -> Any:
            if self.get_current_user_count() == 3:
                raise KeyError("stage")
            return (3, 1000)

    runner = _runner(Later, _idle_user(stops))

    async def main() -> None:
        await _run_to_end(runner)

    _run(main)
    assert stops == ["on_stop"] * 3  # stopped as on any stop, not cancelled mid-air
    (recorded,) = runner.environment.stats.snapshot(0).exceptions
    assert recorded.message == "KeyError: 'stage'"


def test_a_tick_answer_that_is_not_a_load_ends_the_run_with_the_error_recorded() -> None:
    class Wrong(LoadTestShape):
        def tick(self) -> Any:
            return "ten users"

    runner = _runner(Wrong)

    async def main() -> None:
        await _run_to_end(runner)

    _run(main)
    (recorded,) = runner.environment.stats.snapshot(0).exceptions
    assert recorded.message.startswith("TypeError: Wrong.tick() returned 'ten users'")


def test_without_catch_exceptions_a_failing_tick_reaches_the_caller_of_run() -> None:
    class Broken(LoadTestShape):
        def tick(self) -> Any:
            raise ZeroDivisionError("stages")

    stops: list[str] = []
    runner = _runner(Broken, _idle_user(stops), catch_exceptions=False)

    async def main() -> None:
        with pytest.raises(ZeroDivisionError, match="stages"):
            await _run_to_end(runner)

    _run(main)
    assert runner.state is RunnerState.STOPPED


def test_stopping_during_a_slow_ramp_ends_the_ramp_too() -> None:
    class Slow(LoadTestShape):
        def tick(self) -> Any:
            return (100, 1)  # one user a second: the ramp would take 99 s more

    runner = _runner(Slow)

    async def main() -> None:
        run = asyncio.create_task(runner.run(0, 1))
        await _until(runner, lambda: runner.user_count == 1)
        runner.stop()
        await run

    _run(main)
    assert runner.state is RunnerState.STOPPED and runner.user_count == 0


def test_a_cancelled_shape_run_leaves_nothing_running() -> None:
    # What a second Ctrl-C does: the headless CLI cancels the task running run().
    runner = _runner(_steady(2))

    async def main() -> None:
        run = asyncio.create_task(runner.run(0, 1))
        await _until(runner, lambda: runner.user_count == 2)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run

    _run(main)
    assert runner.state is RunnerState.STOPPED


def test_a_shape_runner_runs_again_after_a_stop() -> None:
    runner = _runner(_steady(2))
    log = _Log(runner.environment)

    async def main() -> None:
        for _ in range(2):
            run = asyncio.create_task(runner.run(0, 1))
            await _until(runner, lambda: runner.state is RunnerState.RUNNING)
            runner.stop()
            await run

    _run(main)
    assert log.events.count("spawned 2") == 2 and log.events.count("test_stop") == 2


def test_nothing_can_start_the_users_again_once_the_stop_has_begun() -> None:
    runner = _runner(_steady(1))
    refused: list[str] = []

    def restart(**kwargs: Any) -> None:
        with pytest.raises(LoadhopperError, match="begin a test"):
            runner.start(5, 1000)
        refused.append("start")

    runner.environment.events.test_stopping.add_listener(restart)

    async def main() -> None:
        run = asyncio.create_task(runner.run(0, 1))
        await _until(runner, lambda: runner.user_count == 1)
        runner.stop()
        await run

    _run(main)
    assert refused == ["start"] and runner.user_count == 0


def test_the_background_set_ends_every_task_and_then_refuses_new_ones() -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    async def main() -> None:
        async with asyncio.TaskGroup() as group:
            background = runner_module._Background(group)
            tasks = [background.start(forever(), f"t{i}") for i in range(3)]
            await FakeClock().settle()
            await background.close()
            assert all(task.cancelled() for task in tasks)
            late = forever()
            with pytest.raises(LoadhopperError, match="the test is stopping"):
                background.start(late, "late")
            # Closed, so that Python does not warn that it was never awaited.
            assert inspect.getcoroutinestate(late) == inspect.CORO_CLOSED

    _run(main)
