"""The load models: the closed ramp and a LoadTestShape, as commands on a fake clock."""

import asyncio
from typing import Any

import pytest

from loadhopper import LoadTestShape, StopTest, User
from loadhopper.runtime import (
    SHAPE_POLL_SECONDS,
    ClosedRamp,
    Command,
    FakeClock,
    LoadModel,
    SetUsers,
    ShapeModel,
)
from loadhopper.runtime import _load_model as load_model
from loadhopper.stats import DEFAULT_PERCENTILES, StatsCollector
from runtime.conftest import run_bounded


class _V(User):
    pass


async def _collect(
    model: LoadModel, clock: FakeClock, seconds: float
) -> list[tuple[float, Command]]:
    seen: list[tuple[float, Command]] = []

    async def consume() -> None:
        async for command in model.commands(clock):
            seen.append((clock.monotonic(), command))

    task = asyncio.create_task(consume())
    await clock.advance(seconds)
    if not task.done():
        task.cancel()
    await asyncio.wait([task])
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
    return seen


def _stats() -> StatsCollector:
    return StatsCollector(0.0, DEFAULT_PERCENTILES, 10)


def test_the_closed_ramp_says_its_users_once_and_honours_the_run_time() -> None:
    clock = FakeClock()
    ramp = ClosedRamp(10, 2.5)

    async def main() -> None:
        assert await _collect(ramp, clock, 5.0) == [(0.0, SetUsers(10, 2.5))]

    run_bounded(main)
    assert ramp.honours_run_time


def test_a_shape_is_polled_every_second_and_changes_are_commands() -> None:
    clock = FakeClock()

    class Stages(LoadTestShape):
        def tick(self) -> Any:
            t = self.get_run_time()
            if t < 2:
                return (5, 10)
            if t < 3:
                return (8, 10, [_V])
            return None

    shape = Stages()
    shape._clock = clock
    shape.reset_time()
    model = ShapeModel(shape, _stats(), catch_exceptions=True)

    async def main() -> None:
        seen = await _collect(model, clock, 10.0)
        assert seen == [
            (0.0, SetUsers(5, 10.0)),
            (2.0, SetUsers(8, 10.0, (_V,))),
            (3.0, load_model.StopTest("the load shape returned None")),
        ]

    run_bounded(main)
    assert SHAPE_POLL_SECONDS == 1.0 and not model.honours_run_time


def test_a_shape_that_raises_stop_test_or_fails_ends_the_test() -> None:
    class Quits(LoadTestShape):
        def tick(self) -> Any:
            raise StopTest("enough")

    class Fails(LoadTestShape):
        def tick(self) -> Any:
            return "ten users"

    stats = _stats()

    async def main() -> None:
        clock = FakeClock()
        (quit_,) = await _collect(ShapeModel(Quits(), stats, True), clock, 1.0)
        assert quit_[1] == load_model.StopTest("Quits raised StopTest")
        (fail,) = await _collect(ShapeModel(Fails(), stats, True), clock, 1.0)
        assert fail[1] == load_model.StopTest("Fails.tick() failed")
        with pytest.raises(TypeError, match="returned 'ten users'"):
            await _collect(ShapeModel(Fails(), stats, False), clock, 1.0)

    run_bounded(main)
    assert [e.message.split(":")[0] for e in stats.snapshot(0).exceptions] == ["TypeError"]
    assert stats.snapshot(0).exceptions[0].count == 2
