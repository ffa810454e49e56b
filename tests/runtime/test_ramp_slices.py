"""The ramp starts users in slices that never hold the loop, and keeps the collector off them.

On a fake clock: a ramp that finds itself late (the clock jumped without the loop running, as
when the loop was busy) must start the overdue users at most `RAMP_SLICE_USERS` per turn of
the loop; the stop wakes them at most `STOP_SLICE_USERS` per turn; and while the test runs,
what it built is frozen (`gc.freeze`), until the end.
"""

import asyncio
import gc
import weakref
from collections import Counter

from loadhopper import User, constant, task
from loadhopper.runtime import Environment, FakeClock, LocalRunner
from loadhopper.runtime._gc_guard import GcGuard
from loadhopper.runtime._runner import RAMP_SLICE_USERS
from loadhopper.runtime._user_pool import STOP_SLICE_USERS
from runtime.conftest import run_bounded


class _JumpClock(FakeClock):
    """A fake clock that can also move without firing anything, like a loop held busy."""

    def jump(self, seconds: float) -> None:
        self._now += seconds


def _idle_class(turn_of: list[int]) -> type[User]:
    class Idle(User):
        wait_time = constant(3600)

        def __init__(self, environment: Environment) -> None:
            super().__init__(environment)
            turn_of.append(turns[0])

        @task
        def t(self) -> None:
            pass

    return Idle


turns = [0]


async def _count_turns() -> None:
    while True:
        await asyncio.sleep(0)
        turns[0] += 1


def test_a_late_ramp_starts_the_overdue_users_in_slices_with_the_loop_turning_between() -> None:
    started_on: list[int] = []
    clock = _JumpClock()
    env = Environment(user_classes=[_idle_class(started_on)], clock=clock)
    runner = LocalRunner(env)
    users = 5 * RAMP_SLICE_USERS + 3

    async def main() -> None:
        ticker = asyncio.create_task(_count_turns())
        run = asyncio.create_task(runner.run(users, 100.0))
        await clock.settle()
        assert runner.user_count == 1  # the first user starts at once
        clock.jump(10.0)  # every other user is now overdue
        await clock.advance(0)
        assert runner.user_count == users
        runner.stop()
        await run
        ticker.cancel()
        await asyncio.wait([ticker])

    run_bounded(main)
    per_turn = Counter(started_on[1:])
    assert max(per_turn.values()) == RAMP_SLICE_USERS
    assert len(per_turn) == 6  # 103 overdue users: five full slices and one of 2
    assert sum(per_turn.values()) == users - 1


def test_an_on_time_ramp_still_starts_each_user_at_its_moment() -> None:
    started_on: list[int] = []
    clock = FakeClock()
    env = Environment(user_classes=[_idle_class(started_on)], clock=clock)
    runner = LocalRunner(env)
    counts: list[int] = []

    async def main() -> None:
        run = asyncio.create_task(runner.run(50, 1000.0))
        await clock.settle()
        for _ in range(5):
            await clock.advance(0.01)
            counts.append(runner.user_count)
        runner.stop()
        await run

    run_bounded(main)
    assert counts == [11, 21, 31, 41, 50]


def test_the_run_freezes_what_it_built_and_unfreezes_it_at_the_end() -> None:
    clock = FakeClock()
    env = Environment(user_classes=[_idle_class([])], clock=clock)
    runner = LocalRunner(env)
    frozen: list[int] = []
    assert gc.get_freeze_count() == 0

    async def main() -> None:
        run = asyncio.create_task(runner.run(10, 100.0))
        await clock.advance(1.0)
        frozen.append(gc.get_freeze_count())
        runner.stop()
        await run

    run_bounded(main)
    assert frozen[0] > 0
    assert gc.get_freeze_count() == 0


def test_a_ramp_down_gives_the_stopped_users_back_to_the_collector() -> None:
    clock = FakeClock()
    env = Environment(user_classes=[_idle_class([])], clock=clock)
    runner = LocalRunner(env)
    frozen: list[int] = []

    async def main() -> None:
        run = asyncio.create_task(runner.run(10, 100.0))
        await clock.advance(1.0)
        frozen.append(gc.get_freeze_count())
        runner.start(4, 100.0)
        await clock.advance(1.0)
        assert runner.user_count == 4
        frozen.append(gc.get_freeze_count())
        runner.stop()
        await run

    run_bounded(main)
    assert frozen[0] > 0
    assert frozen[1] == 0


def test_a_guard_leaves_a_disabled_collector_disabled_and_settles_only_while_open() -> None:
    guard = GcGuard()
    guard.settle()  # not entered: nothing happens
    assert guard.freezes == 0
    assert gc.get_freeze_count() == 0
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with guard:
            kept = [object() for _ in range(10)] + [[] for _ in range(10)]
            assert gc.get_freeze_count() >= len(kept) // 2
            guard.settle()
            assert guard.freezes == 2
        assert not gc.isenabled()
        assert gc.get_freeze_count() == 0
    finally:
        if was_enabled:
            gc.enable()


def test_the_stop_wakes_the_users_in_slices_with_the_loop_turning_between() -> None:
    stopped_on: list[int] = []

    class Idle(User):
        wait_time = constant(3600)

        @task
        def t(self) -> None:
            pass

        def on_stop(self) -> None:
            stopped_on.append(turns[0])

    clock = FakeClock()
    runner = LocalRunner(Environment(user_classes=[Idle], clock=clock))
    users = 2 * STOP_SLICE_USERS + 7

    async def main() -> None:
        ticker = asyncio.create_task(_count_turns())
        run = asyncio.create_task(runner.run(users, 10_000.0))
        await clock.advance(1.0)
        assert runner.user_count == users
        runner.stop()
        await clock.advance(0)
        await run
        ticker.cancel()
        await asyncio.wait([ticker])

    run_bounded(main)
    per_turn = Counter(stopped_on)
    assert sum(per_turn.values()) == users
    assert max(per_turn.values()) <= STOP_SLICE_USERS
    assert len(per_turn) >= 3


def test_a_guard_leaves_what_someone_else_froze_frozen() -> None:
    kept = [[] for _ in range(10)]
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        assert before >= len(kept)
        with GcGuard() as guard:
            guard.release()
            assert gc.get_freeze_count() >= before
        assert gc.get_freeze_count() >= before
    finally:
        gc.unfreeze()


class _Cycle:
    """An object in a reference cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


def _young_cycle() -> weakref.ref[_Cycle]:
    return weakref.ref(_Cycle())


def test_a_tick_frees_young_cycles_and_freezes_what_survived() -> None:
    with GcGuard() as guard:
        dead = _young_cycle()  # garbage since it was made, in the young generation
        alive = _Cycle()
        before = gc.get_freeze_count()
        guard.tick()
        assert dead() is None  # the young collection freed it
        assert gc.get_freeze_count() > before  # the survivors left the collector's scans
        assert not any(obj is alive for obj in gc.get_objects(generation=0))
        del alive
    assert gc.get_freeze_count() == 0


def test_after_a_ramp_down_the_next_tick_collects_the_stopped_users_cycles() -> None:
    with GcGuard() as guard:
        user = _Cycle()
        stopped = weakref.ref(user)
        guard.settle()  # a started user: frozen with the slice that started it
        del user  # the user stops: its cycle is garbage, but frozen
        gc.collect()
        assert stopped() is not None  # no collection sees a frozen cycle
        guard.release()  # what the ramp does after stopping users
        guard.tick()
        assert stopped() is None  # the tick after a release collects every generation
        assert gc.get_freeze_count() > 0  # and freezes again what is alive
    assert gc.get_freeze_count() == 0


def test_a_tick_outside_a_test_or_with_the_collector_off_does_nothing() -> None:
    guard = GcGuard()
    guard.tick()  # not entered
    assert gc.get_freeze_count() == 0
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with guard:
            dead = _young_cycle()
            frozen = gc.get_freeze_count()
            guard.tick()
            assert dead() is not None and gc.get_freeze_count() == frozen
    finally:
        if was_enabled:
            gc.enable()
