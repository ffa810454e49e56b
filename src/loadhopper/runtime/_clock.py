"""Clock: the one place the run core reads time, with a real and a fake implementation.

Everything in runtime/ that waits or reads the time (the ramp, `-t`, `--stop-timeout`, the
shape's ticks, the one-second windows) asks the `Clock` it was given, never `time` or the
loop directly. `RealClock` is the event loop's time and timers; `FakeClock` only moves when
a test calls `advance()`, which wakes the sleepers due in that interval in deadline order
(ties in the order they went to sleep), so a test about time is deterministic and takes
no real time.

The users' own waits (`wait_time`) are not on this clock: they go through the shared sleep
queue of user/, on the loop's time, because a user's wait is the hot path and one loop timer
for all users is what keeps an idle user small. Tests of the runner use users that wait
"forever" (and are woken by the stop) or do not wait at all.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["REAL_CLOCK", "Clock", "FakeClock", "RealClock", "TimerHandle"]


class TimerHandle(Protocol):
    """A callback scheduled with `Clock.call_later`."""

    def cancel(self) -> None:
        """Do not run the callback (nothing happens if it already ran)."""


class Clock(Protocol):
    """Wall time, monotonic time, sleeping and timers, for one run."""

    def time(self) -> float:
        """Seconds since the epoch (what reports and timeline points carry)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for durations and deadlines)."""

    async def sleep(self, seconds: float) -> None:
        """Return after `seconds` (at once for 0 or less, after yielding to the loop)."""

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle:
        """Call `callback` on the running loop after `seconds`."""


class RealClock:
    """The real time: `time.time()`, the running loop's clock and its timers."""

    __slots__ = ()

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, seconds), callback)


REAL_CLOCK = RealClock()
"""The real clock: stateless, so one instance serves every run."""


class _FakeTimer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that moves only when told to, for tests: `await clock.advance(1.5)`.

    Args:
        start: the wall time (epoch seconds) the clock shows at first.
        settle_steps: how many times `settle()` yields to the loop: enough for a woken task
            to run up to its next wait, through the greenlet bridge included.
    """

    def __init__(self, start: float = 1_000_000.0, settle_steps: int = 50) -> None:
        self._epoch = start
        self._now = 0.0
        self._settle_steps = settle_steps
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._sequence = itertools.count()

    def time(self) -> float:
        return self._epoch + self._now

    def monotonic(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(seconds, wake)
        try:
            await future
        finally:
            timer.cancel()

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _FakeTimer(callback)
        deadline = self._now + max(0.0, seconds)
        heapq.heappush(self._timers, (deadline, next(self._sequence), timer))
        return timer

    @property
    def pending(self) -> int:
        """Timers and sleepers not yet due (cancelled ones excluded)."""
        return sum(1 for _, _, timer in self._timers if not timer.cancelled)

    async def settle(self) -> None:
        """Let every task that can run do so, without moving the clock."""
        for _ in range(self._settle_steps):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move the clock `seconds` forward, waking what falls due on the way, in order.

        Each due timer fires at its own deadline (so `monotonic()` reads that deadline in
        its callback and in the task it wakes), then the loop settles before the next one:
        a task woken at 1.0 s that sleeps 0.5 s more is woken again at 1.5 s within the
        same `advance(2)`.
        """
        if seconds < 0:
            raise ValueError(f"cannot move a clock back ({seconds} s); advance by 0 or more")
        target = self._now + seconds
        await self.settle()
        while self._timers and self._timers[0][0] <= target:
            deadline, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, deadline)
            timer.callback()
            await self.settle()
        self._now = target
        await self.settle()
