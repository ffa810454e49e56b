# Locustfile-style mutable class attributes (`tasks = [...]`) are the API under test.
# ruff: noqa: RUF012
"""A user's life as a coroutine: borrowed workers, zero waits, compatibility paths."""

import asyncio
import contextvars
import gc
from typing import Any

import pytest

from loadhopper import StopUser, TaskSet, User, constant, task
from loadhopper._bridge import Worker, await_, bridge_statistics, run_in_greenlet
from loadhopper.runtime import Environment
from loadhopper.runtime._runner import RAMP_SLICE_USERS
from loadhopper.user._taskset import DefaultTaskSet
from user.helpers import make_env, run_user


def _live_workers() -> int:
    gc.unfreeze()  # a running test freezes what it built (runtime/_gc_guard.py)
    return sum(1 for obj in gc.get_objects() if isinstance(obj, Worker) and not obj.dead)


def test_a_thousand_waiting_users_hold_no_worker() -> None:
    in_progress: list[int] = []
    first_tasks: list[int] = []

    class U(User):
        wait_time = constant(3600)

        @task
        def t(self) -> None:
            first_tasks.append(1)
            await_(asyncio.sleep(0))  # I/O: the tasks overlap, as requests do
            in_progress.append(bridge_statistics().workers_busy)
            await_(asyncio.sleep(0))

    env = Environment(user_classes=[U])
    runner = env.create_local_runner()
    seen: dict[str, Any] = {}

    async def main() -> None:
        before = bridge_statistics()
        run = asyncio.create_task(runner.run(1000, 1_000_000))
        while len(in_progress) < 1000 or bridge_statistics().workers_busy:
            await asyncio.sleep(0.001)
        seen["stats"] = bridge_statistics()
        seen["live"] = _live_workers()
        seen["created"] = seen["stats"].workers_created - before.workers_created
        runner.stop()
        await run

    asyncio.run(asyncio.wait_for(main(), timeout=15))
    stats = seen["stats"]
    assert len(first_tasks) == 1000 and max(in_progress) > 1  # tasks ran concurrently
    # Every user is waiting: no worker is lent out, and the only live workers are the idle
    # ones of the pool (bounded), however many users there are.
    assert stats.workers_busy == 0
    assert seen["live"] == stats.workers_idle <= 256
    # Workers are made only for tasks in progress at once, which the ramp's slices of
    # RAMP_SLICE_USERS bound (a few slices overlap while their I/O completes), not for users:
    # a fresh pool (this test alone) makes a few dozen, never one per user.
    assert seen["created"] <= 5 * RAMP_SLICE_USERS < 1000


def test_sequential_tasks_reuse_one_worker() -> None:
    calls: list[int] = []

    class U(User):
        @task
        def t(self) -> None:
            calls.append(1)
            await_(asyncio.sleep(0))
            if len(calls) == 300:
                raise StopUser()

    async def main() -> int:
        before = bridge_statistics().workers_created
        await U(make_env(U))._life()
        return bridge_statistics().workers_created - before

    assert asyncio.run(main()) <= 1
    assert len(calls) == 300


def test_a_task_without_io_cannot_starve_another_user() -> None:
    spins: list[int] = []
    seen_by_other: list[int] = []

    class Spinner(User):
        @task
        def spin(self) -> None:  # never awaits anything
            spins.append(1)
            if len(spins) == 1000:
                raise StopUser()

    class Other(User):
        @task
        def look(self) -> None:
            seen_by_other.append(len(spins))
            if len(seen_by_other) == 5:
                raise StopUser()

    async def main() -> None:
        env = make_env(Spinner, Other)
        await asyncio.gather(Spinner(env)._life(), Other(env)._life())

    asyncio.run(main())
    # The two users alternate: each zero wait after a task without I/O yields once.
    assert seen_by_other == [1, 2, 3, 4, 5]


def test_a_zero_wait_after_io_does_not_yield_again() -> None:
    tasks_done: list[int] = []
    ticks: list[int] = []

    class U(User):
        @task
        def t(self) -> None:
            await_(asyncio.sleep(0))  # one loop iteration, as a fast request takes
            tasks_done.append(1)
            if len(tasks_done) == 200:
                raise StopUser()

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            ticks.append(1)
            await asyncio.sleep(0)

    async def main() -> None:
        stop = asyncio.Event()
        counting = asyncio.create_task(ticker(stop))
        await U(make_env(U))._life()
        stop.set()
        await counting

    asyncio.run(main())
    # One loop iteration per task (its own await); a yielding zero wait would make it two.
    assert len(ticks) <= len(tasks_done) + 5


def test_an_async_task_without_io_still_yields_on_a_zero_wait() -> None:
    spins: list[int] = []
    seen_by_other: list[int] = []

    class Spinner(User):
        @task
        async def spin(self) -> None:
            spins.append(1)
            if len(spins) == 1000:
                raise StopUser()

    async def other() -> None:
        for _ in range(3):
            seen_by_other.append(len(spins))
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(Spinner(make_env(Spinner))._life(), other())

    asyncio.run(main())
    # The spinner (started first) runs one task, then yields on every zero wait.
    assert seen_by_other == [1, 2, 3]


def test_the_blocking_run_still_works_inside_a_worker() -> None:
    log: list[str] = []

    class Sub(TaskSet):
        @task
        def inner(self) -> None:
            log.append("inner")
            self.interrupt()

    class U(User):
        tasks = [Sub]

        def on_start(self) -> None:
            log.append("start")

        def on_stop(self) -> None:
            log.append("stop")

        @task
        def own(self) -> None:
            log.append("own")
            raise StopUser()

    # The old way of running a user (run_single_user and some tests still use it).
    user = U(make_env(U))
    asyncio.run(run_in_greenlet(user.run))
    assert log[0] == "start" and log[-1] == "stop" and log[-2] == "own"


def test_an_overridden_execute_task_is_called_for_every_task() -> None:
    log: list[str] = []

    class Sub(TaskSet):
        @task
        def work(self) -> None:
            log.append("work")
            if log.count("work") == 2:
                raise StopUser()

        def execute_task(self, task: Any) -> None:
            log.append("before")
            super().execute_task(task)

    class U(User):
        tasks = [Sub]

    run_user(U(make_env(U)))
    assert log == ["before", "work", "before", "work"]


def test_context_variables_persist_per_user_and_do_not_leak() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")
    seen: dict[str, list[str]] = {"a": [], "b": []}

    class U(User):
        name = ""

        def on_start(self) -> None:
            var.set(self.name)

        @task
        def t(self) -> None:
            seen[self.name].append(var.get())
            await_(asyncio.sleep(0))
            if len(seen[self.name]) == 3:
                raise StopUser()

    class A(U):
        name = "a"

    class B(U):
        name = "b"

    async def main() -> None:
        env = make_env(A, B)
        await asyncio.gather(A(env)._life(), B(env)._life())

    asyncio.run(main())
    assert seen == {"a": ["a"] * 3, "b": ["b"] * 3}


def test_per_user_task_loop_state_is_small_and_shared() -> None:
    class U(User):
        @task
        def t(self) -> None:
            pass

    env = make_env(U)
    first, second = DefaultTaskSet(U(env)), DefaultTaskSet(U(env))
    assert not hasattr(first, "__dict__")
    assert first._task_queue is None  # created only when something is scheduled
    assert first._tags is second._tags and first._picker is second._picker
    first.schedule_task(U.t)
    assert first._task_queue == [U.t]


def test_a_task_exception_is_reported_with_the_users_frames() -> None:
    class U(User):
        def helper(self) -> None:
            raise ValueError("from helper")

        @task
        def t(self) -> None:
            if getattr(self, "failed", False):
                raise StopUser()
            self.failed = True
            await_(asyncio.sleep(0))
            self.helper()

    env = make_env(U)
    run_user(U(env))
    (exc,) = env.stats.snapshot(0).exceptions
    assert "self.helper()" in exc.traceback and 'raise ValueError("from helper")' in exc.traceback
    assert "_bridge.py" not in exc.traceback and "loadhopper/user/" not in exc.traceback


@pytest.mark.parametrize("seconds", [0.0, 0.001])
def test_wait_inside_a_task_blocks_the_task(seconds: float) -> None:
    log: list[str] = []

    class U(User):
        wait_time = constant(seconds)

        @task
        def t(self) -> None:
            log.append("before")
            self.wait()
            log.append("after")
            raise StopUser()

    run_user(U(make_env(U)))
    assert log == ["before", "after"]
