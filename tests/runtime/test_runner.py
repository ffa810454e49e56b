# Locustfile-style class attributes are the API under test.
import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest
import uvloop

from loadhopper import HttpUser, LoadTestShape, StopTest, User, constant, task
from loadhopper._bridge import bridge_statistics
from loadhopper._exceptions import LoadhopperError
from loadhopper.runtime import Environment, LocalRunner, RunnerState
from loadhopper.stats import TimelinePoint
from user.loopback_server import LoopbackServer


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    # A bound on every test, so that a bug shows as a failure rather than a hang.
    return asyncio.run(asyncio.wait_for(coro, timeout=15))


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.005)


def _http_user(server: LoopbackServer, path: str = "/", wait: float = 0.0) -> type[HttpUser]:
    class Web(HttpUser):
        host = server.url
        wait_time = constant(wait)

        @task
        def t(self) -> None:
            self.client.get(path)

    return Web


def test_a_run_fires_its_events_and_records_requests(server: LoopbackServer) -> None:
    web = _http_user(server, wait=0.01)
    env = Environment(user_classes=[web])
    runner = env.create_local_runner()
    log: list[Any] = []
    for name in ("test_start", "test_stopping", "test_stop"):
        getattr(env.events, name).add_listener(
            lambda name=name, **kw: log.append((name, runner.state))
        )
    env.events.spawning_complete.add_listener(
        lambda user_count: log.append(("spawning_complete", user_count, runner.user_classes_count))
    )
    points: list[TimelinePoint] = []
    runner.window_listeners.append(points.append)

    _run(runner.run(user_count=10, spawn_rate=1000, run_time=0.3))

    assert log == [
        ("test_start", RunnerState.SPAWNING),
        ("spawning_complete", 10, {"Web": 10}),
        ("test_stopping", RunnerState.STOPPING),
        ("test_stop", RunnerState.STOPPED),
    ]
    assert runner.state is RunnerState.STOPPED and runner.user_count == 0
    assert env.stats.snapshot(0).total.num_requests > 0
    assert points and points[-1].total_requests == env.stats.snapshot(0).total.num_requests
    assert points[-1].user_count == 10


def test_weights_and_fixed_counts_distribute_users(server: LoopbackServer) -> None:
    class Base(User):
        abstract = True
        wait_time = constant(60)

        @task
        def idle(self) -> None:
            pass

    class A(Base):
        weight = 3

    class B(Base):
        weight = 1

    class F(Base):
        fixed_count = 2

    env = Environment(user_classes=[A, B, F])
    runner = env.create_local_runner()
    counts: list[dict[str, int]] = []

    def done(user_count: int) -> None:
        counts.append(runner.user_classes_count)
        runner.stop()

    env.events.spawning_complete.add_listener(done)
    _run(runner.run(10, 1000))
    assert counts == [{"F": 2, "A": 6, "B": 2}]


def test_stop_test_from_a_user_ends_the_run() -> None:
    stopped: list[str] = []

    class U(User):
        @task
        def t(self) -> None:
            raise StopTest("enough")

        def on_stop(self) -> None:
            stopped.append("x")

    env = Environment(user_classes=[U])
    runner = env.create_local_runner()
    _run(runner.run(3, 1000))
    assert runner.state is RunnerState.STOPPED and stopped


def test_a_running_request_is_cancelled_without_stop_timeout(server: LoopbackServer) -> None:
    web = _http_user(server, "/slow?ms=3000")
    stopped: list[bool] = []
    web.on_stop = lambda self: stopped.append(True)  # type: ignore[method-assign]
    env = Environment(user_classes=[web])
    runner = env.create_local_runner()

    async def main() -> None:
        run = asyncio.create_task(runner.run(1, 100))
        await _until(lambda: ("GET", "/slow?ms=3000") in server.log)
        runner.stop()
        await run

    server.log.clear()
    _run(main())
    assert stopped == [True]
    assert env.stats.snapshot(0).total.num_requests == 0  # the cancelled request never finished


def test_with_stop_timeout_the_current_task_finishes(server: LoopbackServer) -> None:
    web = _http_user(server, "/slow?ms=150")
    env = Environment(user_classes=[web], stop_timeout=10)
    runner = env.create_local_runner()

    async def main() -> None:
        run = asyncio.create_task(runner.run(1, 100))
        await _until(lambda: ("GET", "/slow?ms=150") in server.log)
        runner.stop()
        await run

    server.log.clear()
    _run(main())
    # The request in flight completed and was recorded; no new task started after stop().
    assert env.stats.snapshot(0).total.num_requests == 1
    assert server.log.count(("GET", "/slow?ms=150")) == 1


def test_waiting_users_stop_at_once_and_run_on_stop() -> None:
    log: list[str] = []

    class U(User):
        wait_time = constant(3600)

        @task
        def t(self) -> None:
            log.append("task")

        def on_stop(self) -> None:
            log.append("stop")

    env = Environment(user_classes=[U], stop_timeout=3600)
    runner = env.create_local_runner()

    async def main() -> None:
        run = asyncio.create_task(runner.run(5, 1000))
        await _until(lambda: log.count("task") == 5)
        runner.stop()
        await run

    _run(main())
    assert log.count("stop") == 5


def test_start_while_running_ramps_down_and_up() -> None:
    class U(User):
        wait_time = constant(3600)

        @task
        def t(self) -> None:
            pass

    env = Environment(user_classes=[U])
    runner = env.create_local_runner()
    completions: list[int] = []

    def on_complete(user_count: int) -> None:
        completions.append(user_count)
        if len(completions) == 1:
            runner.start(2, 1000)
        elif len(completions) == 2:
            runner.start(6, 1000)
        else:
            runner.stop()

    env.events.spawning_complete.add_listener(on_complete)
    _run(runner.run(4, 1000))
    assert completions == [4, 2, 6]
    assert runner.target_user_count == 6 and runner.spawn_rate == 1000


def test_reset_stats_after_spawning(server: LoopbackServer) -> None:
    web = _http_user(server)
    env = Environment(user_classes=[web], reset_stats=True)
    runner = env.create_local_runner()
    resets: list[bool] = []
    env.events.reset_stats.add_listener(lambda: resets.append(True))
    env.events.spawning_complete.add_listener(lambda user_count: runner.stop())
    _run(runner.run(2, 1000))
    assert resets == [True]


def test_without_catch_exceptions_the_error_reaches_the_caller_of_run() -> None:
    class U(User):
        @task
        def t(self) -> None:
            raise KeyError("unhandled")

    env = Environment(user_classes=[U], catch_exceptions=False)
    runner = env.create_local_runner()
    with pytest.raises(KeyError):
        _run(runner.run(2, 1000))
    assert runner.state is RunnerState.STOPPED


def test_a_runner_runs_again_after_stopping_but_not_twice_at_once() -> None:
    class U(User):
        wait_time = constant(3600)

        @task
        def t(self) -> None:
            pass

    env = Environment(user_classes=[U])
    runner = env.create_local_runner()
    with pytest.raises(LoadhopperError, match="begin a test"):
        runner.start(1, 1)

    async def main() -> None:
        first = asyncio.create_task(runner.run(1, 100))
        await _until(lambda: runner.user_count == 1)
        with pytest.raises(LoadhopperError, match="already running"):
            await runner.run(1, 100)
        runner.stop()
        await first
        second = asyncio.create_task(runner.run(2, 100))
        await _until(lambda: runner.user_count == 2)
        runner.quit()
        await second

    _run(main())
    assert runner.quitting and runner.state is RunnerState.STOPPED


def test_a_load_shape_drives_the_users_and_ends_the_test() -> None:
    class U(User):
        wait_time = constant(3600)

        @task
        def t(self) -> None:
            pass

    class V(U):
        pass

    seen: list[dict[str, int]] = []

    class Shape(LoadTestShape):
        calls = 0

        def tick(self) -> Any:
            Shape.calls += 1
            if Shape.calls == 1:
                return (3, 1000, [V])
            seen.append(self.runner.user_classes_count if self.runner else {})
            return None

    env = Environment(user_classes=[U, V], shape_class=Shape)
    runner = env.create_local_runner()
    _run(runner.run(0, 1))
    assert seen == [{"V": 3}]


def test_the_runner_works_on_uvloop(server: LoopbackServer) -> None:
    web = _http_user(server)
    env = Environment(user_classes=[web])
    runner = env.create_local_runner()
    env.events.spawning_complete.add_listener(lambda user_count: runner.stop())
    uvloop.run(runner.run(5, 1000))
    assert runner.state is RunnerState.STOPPED


def test_runner_validates_its_arguments() -> None:
    runner = LocalRunner(Environment())
    with pytest.raises(ValueError):
        _run(runner.run(1, 0))


def test_a_user_waiting_inside_its_task_stops_at_once() -> None:
    log: list[str] = []

    class U(User):
        wait_time = constant(3600)

        @task
        def t(self) -> None:
            log.append("task")
            try:
                self.wait()  # blocks this task's worker; a stopping user stops here
            finally:
                log.append("finally")

        def on_stop(self) -> None:
            log.append("stop")

    env = Environment(user_classes=[U], stop_timeout=3600)
    runner = env.create_local_runner()

    async def main() -> None:
        run = asyncio.create_task(runner.run(3, 1000))
        await _until(lambda: log.count("task") == 3)
        runner.stop()
        await run

    _run(main())
    assert log.count("finally") == 3 and log.count("stop") == 3
    assert bridge_statistics().workers_busy == 0


def test_a_cancelled_task_runs_its_finally_and_returns_its_worker(server: LoopbackServer) -> None:
    cleaned: list[bool] = []

    class Web(HttpUser):
        host = server.url

        @task
        def t(self) -> None:
            try:
                self.client.get("/slow?ms=3000")
            finally:
                cleaned.append(True)

    env = Environment(user_classes=[Web])
    runner = env.create_local_runner()

    async def main() -> None:
        run = asyncio.create_task(runner.run(2, 100))
        await _until(lambda: server.log.count(("GET", "/slow?ms=3000")) == 2)
        assert bridge_statistics().workers_busy == 2
        runner.stop()
        await run

    server.log.clear()
    _run(main())
    assert cleaned == [True, True]
    assert bridge_statistics().workers_busy == 0
