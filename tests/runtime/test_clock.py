"""The clocks: the fake one moves only when told, waking what is due in order."""

import asyncio

import pytest

from loadhopper.runtime import REAL_CLOCK, Clock, FakeClock, RealClock
from runtime.conftest import run_bounded


def test_both_clocks_are_clocks() -> None:
    assert isinstance(REAL_CLOCK, RealClock)
    clocks: list[Clock] = [REAL_CLOCK, FakeClock()]
    assert all(clock.monotonic() >= 0 for clock in clocks)


def test_a_fake_clock_stands_still_until_advanced() -> None:
    clock = FakeClock(start=500.0)
    woken: list[float] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        woken.append(clock.monotonic())

    async def main() -> None:
        tasks = [asyncio.create_task(sleeper(s)) for s in (2.0, 0.5, 1.0, 1.0)]
        await clock.settle()
        assert woken == [] and clock.time() == 500.0 and clock.pending == 4
        await clock.advance(0.99)
        assert woken == [0.5]
        await clock.advance(1.01)
        assert woken == [0.5, 1.0, 1.0, 2.0]  # each at its own deadline, in order
        assert clock.monotonic() == 2.0 and clock.time() == 502.0
        await asyncio.gather(*tasks)

    run_bounded(main)


def test_a_sleeper_woken_during_an_advance_can_sleep_again_within_it() -> None:
    clock = FakeClock()
    ticks: list[float] = []

    async def ticker() -> None:
        for _ in range(4):
            await clock.sleep(0.5)
            ticks.append(clock.monotonic())

    async def main() -> None:
        task = asyncio.create_task(ticker())
        await clock.advance(2.0)
        assert ticks == [0.5, 1.0, 1.5, 2.0]
        await task

    run_bounded(main)


def test_a_cancelled_timer_does_not_fire_and_a_cancelled_sleep_leaves_no_timer() -> None:
    clock = FakeClock()
    fired: list[str] = []

    async def main() -> None:
        handle = clock.call_later(1.0, lambda: fired.append("cancelled"))
        clock.call_later(1.0, lambda: fired.append("kept"))
        handle.cancel()
        sleeper = asyncio.create_task(clock.sleep(5.0))
        await clock.settle()
        sleeper.cancel()
        await clock.settle()
        assert clock.pending == 1
        await clock.advance(10.0)
        assert fired == ["kept"] and clock.pending == 0

    run_bounded(main)


def test_a_fake_clock_does_not_go_back() -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match="advance by 0 or more"):
            await FakeClock().advance(-1.0)

    run_bounded(main)


def test_the_real_clock_sleeps_and_calls_later_on_the_loop() -> None:
    called: list[bool] = []

    async def main() -> None:
        done = asyncio.Event()

        def call() -> None:
            called.append(True)
            done.set()

        REAL_CLOCK.call_later(0, call)
        await REAL_CLOCK.sleep(0)
        await done.wait()

    run_bounded(main)
    assert called == [True]
