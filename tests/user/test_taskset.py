# Locustfile-style mutable class attributes (`tasks = [...]`) are the API under test.
# ruff: noqa: RUF012
import asyncio
from typing import Any

import pytest

from loadhopper import (
    InterruptTaskSet,
    MissingWaitTimeError,
    RescheduleTask,
    RescheduleTaskImmediately,
    SequentialTaskSet,
    StopTest,
    StopUser,
    TaskSet,
    User,
    constant,
    tag,
    task,
)
from loadhopper.runtime import Environment
from user.helpers import make_env, run_user


class _Counter:
    """Counts the calls of its `wait_time` function, which never waits."""

    def __init__(self) -> None:
        self.calls = 0

        def wait_time(_instance: Any) -> float:
            self.calls += 1
            return 0.0

        self.wait_time = wait_time


def test_sequential_taskset_runs_in_declaration_order_and_cycles() -> None:
    log: list[str] = []

    def listed(ts: Any) -> None:
        log.append("listed")

    class Seq(SequentialTaskSet):
        @task
        def one(self) -> None:
            log.append("one")

        tasks = [listed]

        @task(2)
        def two(self) -> None:
            log.append("two")
            if len(log) >= 8:
                raise StopUser()

    class U(User):
        tasks = [Seq]

    run_user(U(make_env(U)))
    assert log == ["one", "listed", "two", "two", "one", "listed", "two", "two"]


def test_nested_taskset_interrupt_returns_to_the_parent() -> None:
    log: list[str] = []

    class Sub(TaskSet):
        def on_start(self) -> None:
            log.append("sub-start")

        def on_stop(self) -> None:
            log.append("sub-stop")

        @task
        def work(self) -> None:
            assert isinstance(self.parent, U) and self.user is self.parent
            log.append("work")
            if log.count("work") % 2 == 0:
                self.interrupt()

    class U(User):
        tasks = [Sub]

        def on_stop(self) -> None:
            log.append("user-stop")

    user = U(make_env(U))
    original = Sub.on_start

    def on_start(self: Sub) -> None:
        original(self)
        if log.count("sub-start") == 3:
            raise StopUser()

    Sub.on_start = on_start  # type: ignore[method-assign]
    run_user(user)
    assert log == [
        "sub-start", "work", "work", "sub-stop",
        "sub-start", "work", "work", "sub-stop",
        "sub-start", "user-stop",
    ]  # fmt: skip


@pytest.mark.parametrize(("reschedule", "expected_waits"), [(True, 0), (False, 1)])
def test_interrupt_reschedule_controls_the_parents_wait(
    reschedule: bool, expected_waits: int
) -> None:
    waits = _Counter()
    entered: list[int] = []

    class Sub(TaskSet):
        wait_time = constant(0)

        def on_start(self) -> None:
            entered.append(1)
            if len(entered) == 2:
                raise StopUser()

        @task
        def leave(self) -> None:
            self.interrupt(reschedule=reschedule)

    class U(User):
        wait_time = waits.wait_time
        tasks = [Sub]

    run_user(U(make_env(U)))
    assert waits.calls == expected_waits


def test_nested_taskset_properties_reach_the_user() -> None:
    seen: dict[str, Any] = {}

    class Inner(TaskSet):
        @task
        def look(self) -> None:
            seen["user"] = self.user
            seen["parent"] = self.parent
            seen["client"] = self.client
            seen["environment"] = self.environment
            raise StopUser()

    class Outer(TaskSet):
        tasks = [Inner]

    class U(User):
        tasks = [Outer]

        def __init__(self, env: Any) -> None:
            super().__init__(env)
            self.client = "the-client"

    env = make_env(U)
    user = U(env)
    run_user(user)
    assert seen["user"] is user
    assert isinstance(seen["parent"], Outer)
    assert seen["client"] == "the-client"
    assert seen["environment"] is env


def test_start_and_stop_hooks_run_in_order_on_stop_user() -> None:
    log: list[str] = []

    class Sub(TaskSet):
        def on_start(self) -> None:
            log.append("set-start")

        def on_stop(self) -> None:
            log.append("set-stop")

        @task
        def t(self) -> None:
            log.append("task")
            raise StopUser()

    class U(User):
        tasks = [Sub]

        def on_start(self) -> None:
            log.append("user-start")

        def on_stop(self) -> None:
            log.append("user-stop")

    run_user(U(make_env(U)))
    assert log == ["user-start", "set-start", "task", "set-stop", "user-stop"]


@pytest.mark.parametrize(
    ("signal", "expected_waits"), [(RescheduleTask, 1), (RescheduleTaskImmediately, 0)]
)
def test_reschedule_task_waits_and_reschedule_immediately_does_not(
    signal: type[Exception], expected_waits: int
) -> None:
    waits = _Counter()
    calls: list[int] = []

    class U(User):
        wait_time = waits.wait_time

        @task
        def t(self) -> None:
            calls.append(1)
            if len(calls) == 2:
                raise StopUser()
            raise signal()

    run_user(U(make_env(U)))
    assert waits.calls == expected_waits


def test_a_task_exception_is_recorded_and_the_user_goes_on() -> None:
    calls: list[int] = []
    errors: list[tuple[Any, BaseException, Any]] = []

    class U(User):
        @task
        def t(self) -> None:
            calls.append(1)
            if len(calls) == 1:
                raise ValueError("bad value")
            raise StopUser()

    env = make_env(U)
    env.events.user_error.add_listener(
        lambda user_instance, exception, tb: errors.append((user_instance, exception, tb))
    )
    user = U(env)
    run_user(user)
    assert len(calls) == 2
    assert errors[0][0] is user and isinstance(errors[0][1], ValueError)
    (exc,) = env.stats.snapshot(0).exceptions
    assert exc.count == 1 and exc.message == "ValueError: bad value"
    assert "raise ValueError" in exc.traceback and "loadhopper/user/" not in exc.traceback


def test_without_catch_exceptions_a_task_exception_ends_the_user() -> None:
    class U(User):
        @task
        def t(self) -> None:
            raise KeyError("k")

    with pytest.raises(KeyError):
        run_user(U(make_env(U, catch_exceptions=False)))


def test_stop_test_unwinds_after_on_stop() -> None:
    log: list[str] = []

    class U(User):
        @task
        def t(self) -> None:
            raise StopTest()

        def on_stop(self) -> None:
            log.append("stop")

    with pytest.raises(StopTest):
        run_user(U(make_env(U)))
    assert log == ["stop"]


def test_async_def_tasks_and_hooks_run_on_the_loop() -> None:
    log: list[str] = []

    class Sub(TaskSet):
        @task
        async def in_set(self) -> None:
            await asyncio.sleep(0)
            log.append("set")
            self.interrupt()

    class U(User):
        tasks = [Sub]

        async def on_start(self) -> None:
            await asyncio.sleep(0)
            log.append("start")

        @task
        async def on_user(self) -> None:
            await asyncio.sleep(0)
            log.append("user")
            if len(log) > 6:
                raise StopUser()

    run_user(U(make_env(U)))
    assert log[0] == "start" and {"set", "user"} <= set(log)


def test_schedule_task_first_runs_before_the_queue() -> None:
    log: list[str] = []

    class S(TaskSet):
        def on_start(self) -> None:
            self.schedule_task(self.second)
            self.schedule_task(self.first, first=True)

        def first(self) -> None:
            log.append("first")

        def second(self) -> None:
            log.append("second")

        @task
        def regular(self) -> None:
            log.append("regular")
            raise StopUser()

    class U(User):
        tasks = [S]

    run_user(U(make_env(U)))
    assert log == ["first", "second", "regular"]


def test_taskset_wait_time_overrides_the_users() -> None:
    user_waits, set_waits = _Counter(), _Counter()

    class S(TaskSet):
        wait_time = set_waits.wait_time

        @task
        def t(self) -> None:
            if set_waits.calls == 2:
                raise StopUser()

    class U(User):
        wait_time = user_waits.wait_time
        tasks = [S]

    run_user(U(make_env(U)))
    assert set_waits.calls == 2 and user_waits.calls == 0


def test_user_wait_from_inside_a_task_uses_wait_time() -> None:
    waits = _Counter()

    class U(User):
        wait_time = waits.wait_time

        @task
        def t(self) -> None:
            self.wait()
            raise StopUser()

    run_user(U(make_env(U)))
    assert waits.calls == 1


def test_missing_wait_time_is_a_clear_error() -> None:
    class U(User):
        wait_time = None

        @task
        def t(self) -> None:
            pass

    env = make_env(U, catch_exceptions=False)
    with pytest.raises(MissingWaitTimeError, match="has no wait_time"):
        run_user(U(env))


def test_a_user_without_tasks_reports_once_and_stops() -> None:
    class U(User):
        pass

    env = make_env(U)
    run_user(U(env))
    (exc,) = env.stats.snapshot(0).exceptions
    assert exc.count == 1 and "U has no tasks" in exc.message


def test_tag_filtering_applies_to_a_running_user() -> None:
    log: list[str] = []

    class U(User):
        @tag("keep")
        @task
        def kept(self) -> None:
            log.append("kept")
            if len(log) == 20:
                raise StopUser()

        @task
        def dropped(self) -> None:
            log.append("dropped")
            if len(log) == 20:
                raise StopUser()

    run_user(U(Environment([U], tags=["keep"])))
    assert set(log) == {"kept"}
    log.clear()
    run_user(U(Environment([U], exclude_tags=["keep"])))
    assert set(log) == {"dropped"}


def test_interrupt_from_on_start_becomes_a_reschedule_for_the_parent() -> None:
    log: list[str] = []

    class S(TaskSet):
        def on_start(self) -> None:
            log.append("s")
            raise InterruptTaskSet(reschedule=True)

        @task
        def never(self) -> None:
            log.append("never")

    class U(User):
        tasks = [S]

        def on_start(self) -> None:
            pass

    def stop_on_third(self: S) -> None:
        log.append("s")
        if len(log) == 3:
            raise StopUser()
        raise InterruptTaskSet(reschedule=True)

    S.on_start = stop_on_third  # type: ignore[method-assign]
    run_user(U(make_env(U)))
    assert log == ["s", "s", "s"]


def test_a_broken_wait_time_ends_the_user_instead_of_spinning() -> None:
    class U(User):
        def wait_time(self) -> float:
            raise TypeError("broken")

        @task
        def t(self) -> None:
            pass

    env = make_env(U)
    run_user(U(env))
    (exc,) = env.stats.snapshot(0).exceptions
    assert exc.message == "TypeError: broken" and exc.count == 1


def test_interrupt_in_a_users_own_task_ends_that_user_with_a_report() -> None:
    class U(User):
        @task
        def t(self) -> None:
            raise InterruptTaskSet()

    env = make_env(U)
    run_user(U(env))
    (exc,) = env.stats.snapshot(0).exceptions
    assert "only makes sense inside a nested TaskSet" in exc.message
