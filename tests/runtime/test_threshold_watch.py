"""ThresholdWatch on a LocalRunner with a fake clock: per-window verdicts, first breaches, abort.

The samples are recorded straight into the runner's statistics between clock moves (the
users are idle), so each window's verdict is known; no real time passes.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from loadhopper import User, constant, task
from loadhopper.runtime import Environment, FakeClock, LocalRunner, ThresholdWatch
from loadhopper.stats import parse_threshold
from runtime.conftest import run_bounded


class _Idle(User):
    wait_time = constant(3600)  # a stop wakes it

    @task
    def t(self) -> None:
        pass


def _runner() -> tuple[LocalRunner, FakeClock]:
    clock = FakeClock()
    env = Environment(user_classes=[_Idle], clock=clock)
    return env.create_local_runner(), clock


def _watch(*texts: str, abort: bool = False, delay: float = 0.0) -> ThresholdWatch:
    return ThresholdWatch([parse_threshold(t) for t in texts], abort=abort, abort_delay=delay)


async def _seconds_until_done(clock: FakeClock, run: asyncio.Task[None], limit: int) -> int:
    """Advance the clock a second at a time until the run ends (at most `limit` seconds)."""
    for second in range(1, limit + 1):
        await clock.advance(1.0)
        if run.done():
            await run
            return second
    return limit + 1


def test_each_window_is_judged_and_the_first_breach_remembered() -> None:
    runner, clock = _runner()
    watch = _watch("max<10", "requests<3")
    verdicts: list[list[bool]] = []

    async def main() -> None:
        watch.attach(runner)
        run = asyncio.create_task(runner.run(1, 1))
        await clock.settle()
        start = clock.time()
        runner.stats.record("GET", "/", 1.0, 0, None)
        for sample in (2.0, 50.0, 3.0):  # the max breaks in the 2nd second, requests in the 3rd
            await clock.advance(1.0)
            verdicts.append([r.passed for r in watch.results])
            runner.stats.record("GET", "/", sample, 0, None)
        await clock.advance(1.0)
        verdicts.append([r.passed for r in watch.results])
        runner.stop()
        await _seconds_until_done(clock, run, 10)
        final = watch.finish(runner.stats, runner.stats.snapshot(clock.time()), clock.time())
        assert [r.first_breach for r in final] == [start + 3.0, start + 3.0]
        assert not any(r.aborted for r in final) and not watch.aborted
        assert watch.on_window not in runner.window_listeners

    run_bounded(main)
    # Windows end at +1 (1 request), +2 (2), +3 (3, max 50), +4 (4): breaches are seen once a
    # window holds them; nothing stopped the run.
    assert verdicts == [[True, True], [True, True], [False, False], [False, False]]


def test_abort_stops_the_run_at_the_first_breach_after_the_delay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner, clock = _runner()
    watch = _watch("requests<100", "max<10", abort=True, delay=3.0)
    ended: list[int] = []

    async def main() -> None:
        watch.attach(runner)
        run = asyncio.create_task(runner.run(1, 1, run_time=60.0))
        await clock.settle()
        runner.stats.record("GET", "/", 25.0, 0, None)  # breaches max<10 at once
        ended.append(await _seconds_until_done(clock, run, 30))

    with caplog.at_level(logging.WARNING, logger="loadhopper.thresholds"):
        run_bounded(main)
    # Breached from the first window on, but judged for abort only from +3 s: the run stops
    # there (its users' stop is immediate), not at -t 60.
    assert ended == [3]
    assert watch.aborted
    results = watch.results
    assert [(r.passed, r.aborted) for r in results] == [(True, False), (False, True)]
    assert results[1].first_breach is not None
    lines = [r.getMessage() for r in caplog.records if "stopping the test" in r.getMessage()]
    assert lines == [
        "Threshold 'max<10' failed (max 25 ms, limit < 10 ms): stopping the test "
        "(--threshold-abort)."
    ]


def test_no_data_never_aborts_a_run() -> None:
    runner, clock = _runner()
    watch = _watch("p95<10", "corrected_p99<10", abort=True)
    ended: list[int] = []

    async def main() -> None:
        watch.attach(runner)
        run = asyncio.create_task(runner.run(1, 1, run_time=5.0))
        ended.append(await _seconds_until_done(clock, run, 30))

    run_bounded(main)
    assert ended == [5]  # -t ended it, not a breach
    assert not watch.aborted
    assert [(r.value, r.passed, r.first_breach) for r in watch.results] == [
        (None, False, None),
        (None, False, None),
    ]


def test_without_abort_a_breach_does_not_stop_the_run() -> None:
    runner, clock = _runner()
    watch = _watch("max<10")
    ended: list[int] = []

    async def main() -> None:
        watch.attach(runner)
        run = asyncio.create_task(runner.run(1, 1, run_time=4.0))
        await clock.settle()
        runner.stats.record("GET", "/", 25.0, 0, None)
        ended.append(await _seconds_until_done(clock, run, 30))

    run_bounded(main)
    assert ended == [4]
    assert [(r.passed, r.aborted) for r in watch.results] == [(False, False)]
