"""The user pool: which users to start and stop for a count, per class, and the stop grace."""

# Locustfile-style class attributes are the API under test.
import asyncio

from loadhopper import User, constant, task
from loadhopper.runtime import DRAIN_SECONDS, Environment, FakeClock, UserPool
from runtime.conftest import run_bounded, until


class _Base(User):
    abstract = True
    wait_time = constant(3600)

    @task
    def idle(self) -> None:
        pass


class A(_Base):
    weight = 3


class B(_Base):
    weight = 1


class F(_Base):
    fixed_count = 2


def _names(classes: list[type[User]]) -> list[str]:
    return [cls.__name__ for cls in classes]


def _with_pool(env: Environment, body: "object") -> None:
    async def main() -> None:
        async with asyncio.TaskGroup() as group:
            pool = UserPool(env, group, env.clock, lambda: None)
            await body(pool)  # type: ignore[operator]
            await pool.stop_all()

    run_bounded(main)


def test_fixed_counts_come_first_then_the_weights() -> None:
    env = Environment(user_classes=[A, B, F], clock=FakeClock())

    async def body(pool: UserPool) -> None:
        to_start, to_stop = pool.plan(10, [A, B, F])
        assert _names(to_start) == ["F", "F", "A", "A", "B", "A", "A", "A", "B", "A"]
        assert to_stop == []

    _with_pool(env, body)


def test_equal_weights_ignore_the_weights() -> None:
    env = Environment(user_classes=[A, B], clock=FakeClock())
    env.assign_equal_weights()

    async def body(pool: UserPool) -> None:
        to_start, _ = pool.plan(4, [A, B])
        assert sorted(_names(to_start)) == ["A", "A", "B", "B"]

    _with_pool(env, body)


def test_shrinking_stops_the_newest_users_of_the_classes_in_excess() -> None:
    clock = FakeClock()
    env = Environment(user_classes=[A, B], clock=clock)

    async def body(pool: UserPool) -> None:
        started = [pool.spawn(cls) for cls in pool.plan(8, [A, B])[0]]
        await clock.settle()
        assert pool.classes_count() == {"A": 6, "B": 2}
        to_start, to_stop = pool.plan(4, [A, B])
        assert to_start == []
        newest_a = [u for u in reversed(started) if type(u) is A][:3]
        newest_b = [u for u in reversed(started) if type(u) is B][:1]
        assert {id(slot.user) for slot in to_stop} == {id(u) for u in newest_a + newest_b}
        for slot in to_stop:
            pool.stop(slot)
        assert pool.classes_count() == {"A": 3, "B": 1} and pool.user_count == 4

    _with_pool(env, body)


def test_a_user_stopped_inside_a_task_is_cancelled_when_its_grace_ends() -> None:
    log: list[str] = []
    clock = FakeClock()

    class Busy(User):
        @task
        async def forever(self) -> None:
            log.append("task")
            await asyncio.Event().wait()

        def on_stop(self) -> None:
            log.append("on_stop")

    for stop_timeout, grace in ((None, DRAIN_SECONDS), (7.0, 7.0)):
        log.clear()
        env = Environment(user_classes=[Busy], stop_timeout=stop_timeout, clock=clock)

        async def body(pool: UserPool, grace: float = grace) -> None:
            pool.spawn(Busy)
            await until(clock, lambda: log == ["task"])
            assert pool.grace == grace
            stopping = asyncio.create_task(pool.stop_all())
            await clock.advance(grace - 0.01)
            assert log == ["task"] and not stopping.done()  # still given its grace
            await clock.advance(0.01)
            assert await stopping == 1
            assert log == ["task", "on_stop"]

        _with_pool(env, body)


def test_plan_targets_reaches_exact_per_class_counts_mixed_and_newest_stopped_first() -> None:
    env = Environment(user_classes=[A, B, F], clock=FakeClock())

    async def body(pool: UserPool) -> None:
        # A worker's plan: the master already applied weights and fixed counts.
        to_start, to_stop = pool.plan_targets({"A": 2, "B": 4, "Unknown": 3})
        assert _names(to_start) == ["B", "A", "B", "B", "A", "B"]  # interleaved by count
        assert to_stop == []
        started = [pool.spawn(cls) for cls in to_start]
        assert pool.classes_count() == {"A": 2, "B": 4}
        # Down to one B and no A (left out of the targets): the newest of each go.
        to_start, to_stop = pool.plan_targets({"B": 1})
        assert to_start == []
        assert [slot.user for slot in to_stop] == [
            started[5],
            started[4],
            started[3],
            started[2],
            started[1],
        ]
        # Adding a class keeps what runs.
        to_start, to_stop = pool.plan_targets({"A": 2, "B": 4, "F": 1})
        assert sorted(_names(to_start)) == ["F"] and to_stop == []

    _with_pool(env, body)
