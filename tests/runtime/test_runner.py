"""LocalRunner on a fake clock: pacing, -t, windows, the stop and its grace, the states.

Time is the FakeClock's: a test moves it with `advance()`; nothing here waits in real time
except for real I/O with the loopback server (and every test is bounded, `run_bounded`).
"""

# Locustfile-style class attributes are the API under test.
import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import uvloop

from loadhopper import HttpUser, StopTest, User, constant, task
from loadhopper._bridge import bridge_statistics
from loadhopper._exceptions import LoadhopperError
from loadhopper.runtime import (
    DRAIN_SECONDS,
    Environment,
    FakeClock,
    LocalRunner,
    Runner,
    RunnerState,
    class_sequence,
)
from loadhopper.stats import TimelinePoint
from runtime.conftest import drive, run_bounded, until
from user.loopback_server import LoopbackServer


def _http_user(server: LoopbackServer, path: str = "/", wait: float = 0.0) -> type[HttpUser]:
    class Web(HttpUser):
        host = server.url
        wait_time = constant(wait)

        @task
        def t(self) -> None:
            self.client.get(path)

    return Web


class _Idle(User):
    """Waits "forever" between tasks (a stop wakes it): no real time passes in a test."""

    abstract = True
    wait_time = constant(3600)

    @task
    def t(self) -> None:
        pass


def _runner(*classes: type[User], **kwargs: Any) -> tuple[LocalRunner, FakeClock]:
    clock = FakeClock()
    env = Environment(user_classes=list(classes), clock=clock, **kwargs)
    return env.create_local_runner(), clock


def _started(runner: LocalRunner, *args: Any, **kwargs: Any) -> Callable[[], asyncio.Task[None]]:
    return lambda: asyncio.create_task(runner.run(*args, **kwargs))


def test_a_local_runner_is_a_runner() -> None:
    runner, _ = _runner()
    assert isinstance(runner, Runner)


def test_spawning_is_paced_on_the_clock_in_the_order_of_the_weights() -> None:
    class A(_Idle):
        weight = 2

    class B(_Idle):
        weight = 1

    runner, clock = _runner(A, B)
    counts: list[int] = []

    async def main() -> None:
        run = _started(runner, 100, 10)()
        await clock.settle()
        counts.append(runner.user_count)  # the first user starts at once
        for _ in range(10):
            await clock.advance(0.95)
            counts.append(runner.user_count)
            await clock.advance(0.05)
        assert runner.state is RunnerState.RUNNING
        runner.stop()
        await run

    run_bounded(main)
    # -u 100 -r 10: exactly 10 users a second (at 0.0, 0.1, ... 0.9 of each second).
    assert counts == [1] + [10 * k for k in range(1, 11)]


def test_users_start_in_the_order_of_the_weights() -> None:
    class A(_Idle):
        weight = 2

    class B(_Idle):
        weight = 1

    runner, clock = _runner(A, B)
    order: list[str] = []

    async def main() -> None:
        run = _started(runner, 6, 2)()
        await clock.advance(3.0)
        order[:] = [type(user).__name__ for user in runner.users]
        runner.stop()
        await run

    run_bounded(main)
    assert order == [
        c.__name__ for c in class_sequence([A, B], 6, weights=[2, 1], fixed_counts=[0, 0])
    ]
    assert order == ["A", "B", "A", "A", "B", "A"]


def test_the_run_time_stops_the_test_on_the_clock_ramp_up_included() -> None:
    runner, clock = _runner(type("U", (_Idle,), {}))

    async def main() -> None:
        run = _started(runner, 3, 1, run_time=5.0)()
        await clock.advance(4.99)
        assert not run.done() and runner.user_count == 3
        await clock.advance(0.01)
        await run

    run_bounded(main)
    assert runner.state is RunnerState.STOPPED


def test_a_window_closes_every_second_and_a_last_one_at_the_stop() -> None:
    runner, clock = _runner(type("U", (_Idle,), {}))
    points: list[TimelinePoint] = []
    runner.window_listeners.append(points.append)

    async def main() -> None:
        start = clock.time()
        run = _started(runner, 2, 100, run_time=3.5)()
        await clock.advance(3.5)
        await run
        assert [p.time - start for p in points] == [1.0, 2.0, 3.0, 3.5]
        assert [p.user_count for p in points] == [2, 2, 2, 2]

    run_bounded(main)


def test_usage_monitor_fires_every_five_windows_with_cpu_and_memory() -> None:
    runner, clock = _runner(type("U", (_Idle,), {}))
    seen: list[tuple[Any, float, int]] = []
    runner.environment.events.usage_monitor.add_listener(
        lambda environment, cpu_usage, memory_usage: seen.append(
            (environment, cpu_usage, memory_usage)
        )
    )

    async def main() -> None:
        run = _started(runner, 1, 100, run_time=11.5)()
        await clock.advance(11.5)
        await run

    run_bounded(main)
    # Locust's interval: 5 s; windows at 1..11 s (and the last, partial one at the stop).
    assert len(seen) == 2
    for environment, cpu_usage, memory_usage in seen:
        assert environment is runner.environment
        assert cpu_usage >= 0.0 and memory_usage > 1_000_000  # a Python process: MBs


def test_a_run_fires_its_events_and_records_requests(server: LoopbackServer) -> None:
    runner, clock = _runner(_http_user(server, wait=0.01))
    env = runner.environment
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

    async def main() -> None:
        run = _started(runner, 10, 1000, run_time=1.5)()
        await until(clock, lambda: env.stats.num_requests >= 20)
        await clock.advance(1.5)
        await run

    run_bounded(main)
    assert log == [
        ("test_start", RunnerState.SPAWNING),
        ("spawning_complete", 10, {"Web": 10}),
        ("test_stopping", RunnerState.STOPPING),
        ("test_stop", RunnerState.STOPPED),
    ]
    assert runner.state is RunnerState.STOPPED and runner.user_count == 0
    total = env.stats.snapshot(0).total.num_requests
    assert total >= 20 and points[-1].total_requests == total
    assert points[-1].user_count == 10
    # Every request the server answered was counted, the ones in flight at the stop too.
    assert server.log.count(("GET", "/")) >= total


def test_weights_and_fixed_counts_distribute_users() -> None:
    class A(_Idle):
        weight = 3

    class B(_Idle):
        weight = 1

    class F(_Idle):
        fixed_count = 2

    runner, clock = _runner(A, B, F)
    counts: list[dict[str, int]] = []

    def done(user_count: int) -> None:
        counts.append(runner.user_classes_count)
        runner.stop()

    runner.environment.events.spawning_complete.add_listener(done)
    run_bounded(lambda: drive(clock, runner.run(10, 1000)))
    assert counts == [{"F": 2, "A": 6, "B": 2}]


def test_the_test_may_run_other_classes_and_another_host_than_the_environment() -> None:
    seen: list[tuple[str, str | None]] = []

    class A(_Idle):
        def on_start(self) -> None:
            seen.append(("A", self.environment.host))

    class B(_Idle):
        def on_start(self) -> None:
            seen.append(("B", self.environment.host))

    runner, clock = _runner(A, B, host="http://127.0.0.1:1")
    runner.environment.events.spawning_complete.add_listener(lambda user_count: runner.stop())
    run_bounded(
        lambda: drive(clock, runner.run(2, 1000, host="http://127.0.0.1:2", user_classes=[B]))
    )
    assert seen == [("B", "http://127.0.0.1:2")] * 2
    env = runner.environment
    assert env.host == "http://127.0.0.1:1" and env.user_classes == [A, B]  # unchanged


def test_stop_test_from_a_user_ends_the_run() -> None:
    stopped: list[str] = []

    class U(User):
        @task
        def t(self) -> None:
            raise StopTest("enough")

        def on_stop(self) -> None:
            stopped.append("x")

    runner, clock = _runner(U)
    run_bounded(lambda: drive(clock, runner.run(3, 1000)))
    assert runner.state is RunnerState.STOPPED and stopped


class _Blocked(User):
    """A user whose task never ends by itself (no I/O, no real time)."""

    abstract = True
    log: list[str]

    @task
    async def t(self) -> None:
        self.log.append("task")
        try:
            await asyncio.Event().wait()
        finally:
            self.log.append("cancelled")

    def on_stop(self) -> None:
        self.log.append("on_stop")


@pytest.mark.parametrize(
    ("stop_timeout", "grace"), [(None, DRAIN_SECONDS), (0, DRAIN_SECONDS), (30, 30)]
)
def test_a_running_task_gets_the_stop_timeout_or_the_drain_bound(
    stop_timeout: float | None, grace: float
) -> None:
    log: list[str] = []
    blocked = type("B", (_Blocked,), {"log": log})
    runner, clock = _runner(blocked, stop_timeout=stop_timeout)

    async def main() -> None:
        run = _started(runner, 1, 100)()
        await until(clock, lambda: log == ["task"])
        runner.stop()
        await clock.advance(grace - 0.01)
        assert not run.done() and log == ["task"]  # no new task, the current one continues
        assert runner.state is RunnerState.STOPPING
        await clock.advance(0.01)
        await run

    run_bounded(main)
    assert log == ["task", "cancelled", "on_stop"]


def test_a_request_in_flight_at_the_stop_is_answered_and_counted_once(
    server: LoopbackServer,
) -> None:
    # --stop-timeout 0: the request on the wire still gets the drain bound to complete.
    runner, clock = _runner(_http_user(server, "/slow?ms=150"), stop_timeout=0)
    env = runner.environment

    async def main() -> None:
        run = _started(runner, 1, 100)()
        await until(clock, lambda: ("GET", "/slow?ms=150") in server.log)
        runner.stop()
        await run

    server.log.clear()
    run_bounded(main)
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

    runner, clock = _runner(U, stop_timeout=3600)

    async def main() -> None:
        run = _started(runner, 5, 1000)()
        await until(clock, lambda: log.count("task") == 5, 0.01)
        runner.stop()
        await run

    run_bounded(main)
    assert log.count("stop") == 5


def test_start_while_running_ramps_down_and_up() -> None:
    runner, clock = _runner(type("U", (_Idle,), {}))
    completions: list[int] = []

    def on_complete(user_count: int) -> None:
        completions.append(user_count)
        if len(completions) == 1:
            runner.start(2, 1000)
        elif len(completions) == 2:
            runner.start(6, 1000)
        else:
            runner.stop()

    runner.environment.events.spawning_complete.add_listener(on_complete)
    run_bounded(lambda: drive(clock, runner.run(4, 1000)))
    assert completions == [4, 2, 6]
    assert runner.target_user_count == 6 and runner.spawn_rate == 1000


def test_reset_stats_after_spawning() -> None:
    runner, clock = _runner(type("U", (_Idle,), {}), reset_stats=True)
    env = runner.environment
    resets: list[bool] = []
    env.events.reset_stats.add_listener(lambda: resets.append(True))
    env.events.spawning_complete.add_listener(lambda user_count: runner.stop())
    run_bounded(lambda: drive(clock, runner.run(2, 1000)))
    assert resets == [True]


def test_without_catch_exceptions_the_error_reaches_the_caller_of_run() -> None:
    class U(User):
        @task
        def t(self) -> None:
            raise KeyError("unhandled")

    runner, clock = _runner(U, catch_exceptions=False)
    with pytest.raises(KeyError):
        run_bounded(lambda: drive(clock, runner.run(2, 1000)))
    assert runner.state is RunnerState.STOPPED


def test_a_runner_runs_again_after_stopping_but_not_twice_at_once() -> None:
    runner, clock = _runner(type("U", (_Idle,), {}))
    with pytest.raises(LoadhopperError, match="begin a test"):
        runner.start(1, 1)

    async def main() -> None:
        first = _started(runner, 1, 100)()
        await until(clock, lambda: runner.user_count == 1, 0.01)
        with pytest.raises(LoadhopperError, match="already running"):
            await runner.run(1, 100)
        runner.stop()
        await first
        second = _started(runner, 2, 100)()
        await until(clock, lambda: runner.user_count == 2, 0.01)
        runner.quit()
        await second

    run_bounded(main)
    assert runner.quitting and runner.state is RunnerState.STOPPED


def test_the_states_are_locusts_strings() -> None:
    assert [s.value for s in RunnerState] == [
        "ready",
        "spawning",
        "running",
        "cleanup",
        "stopping",
        "stopped",
        "missing",
    ]
    assert RunnerState.STOPPED == "stopped"


def test_the_runner_works_on_uvloop(server: LoopbackServer) -> None:
    # The real clock: a fake one only moves inside a test's own coroutine.
    runner = Environment(user_classes=[_http_user(server)]).create_local_runner()
    runner.environment.events.spawning_complete.add_listener(lambda user_count: runner.stop())
    uvloop.run(asyncio.wait_for(runner.run(5, 1000), timeout=15))
    assert runner.state is RunnerState.STOPPED


def test_runner_validates_its_arguments() -> None:
    runner, clock = _runner()
    with pytest.raises(ValueError):
        run_bounded(lambda: drive(clock, runner.run(1, 0)))


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

    runner, clock = _runner(U, stop_timeout=3600)

    async def main() -> None:
        run = _started(runner, 3, 1000)()
        await until(clock, lambda: log.count("task") == 3, 0.01)
        runner.stop()
        await run

    run_bounded(main)
    assert log.count("finally") == 3 and log.count("stop") == 3
    assert bridge_statistics().workers_busy == 0


def test_a_task_cancelled_mid_request_runs_its_finally_and_returns_its_worker(
    server: LoopbackServer,
) -> None:
    cleaned: list[bool] = []

    class Web(HttpUser):
        host = server.url

        @task
        def t(self) -> None:
            try:
                self.client.get("/slow?ms=3000")
            finally:
                cleaned.append(True)

    runner, clock = _runner(Web)

    async def main() -> None:
        run = _started(runner, 2, 100)()
        await until(clock, lambda: server.log.count(("GET", "/slow?ms=3000")) == 2, 0.01)
        assert bridge_statistics().workers_busy == 2
        runner.stop()
        await clock.advance(DRAIN_SECONDS)  # the drain ends before the server answers
        await run

    server.log.clear()
    run_bounded(main)
    assert cleaned == [True, True]
    assert bridge_statistics().workers_busy == 0
    # Both requests reached the server, so both are counted, once, as interrupted failures.
    total = runner.environment.stats.total
    assert (total.num_requests, total.num_failures) == (2, 2)
    [failure] = runner.environment.stats.errors.values()
    assert failure.occurrences == 2 and "interrupted at stop" in failure.error
