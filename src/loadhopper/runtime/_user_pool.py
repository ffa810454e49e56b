"""UserPool: starts, stops and counts the users of one test, per class.

The pool decides *which* users to start or stop to reach a number (the weights,
`fixed_count`, `--equal-weights`, a shape's choice of classes: see `_dispatch.py`), runs
each user as a task of the run's task group, and stops them: a waiting user at once, a user
inside a task after that task or after its grace, whichever comes first. It does not decide
*when*: the runner's ramp calls `spawn()` and `stop()` at the spawn rate.

The grace of a running user is `--stop-timeout`, or `DRAIN_SECONDS` when that is 0: a
request already on the wire is then still given a short time to be answered and recorded,
instead of being cut off with the sample lost (Locust loses it, issues #1936 and #3010).
One still unanswered when the grace ends is cancelled; the HTTP session records it once, as
a failure "interrupted at stop".
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loadhopper._exceptions import StopTest
from loadhopper.runtime._clock import Clock
from loadhopper.runtime._dispatch import run_sequence, smooth_weighted_order
from loadhopper.user import User
from loadhopper.user._schedule import Arrivals, IterationCell

if TYPE_CHECKING:
    from loadhopper.runtime._environment import Environment

__all__ = ["DRAIN_SECONDS", "ON_STOP_GRACE_SECONDS", "STOP_SLICE_USERS", "UserPool"]

logger = logging.getLogger(__name__)

DRAIN_SECONDS = 2.0
"""With `--stop-timeout 0`, how long a user stopped inside a task gets to finish it, so that
a request on the wire is answered and counted. Two seconds covers the answer of any target
that is not overloaded; a slower one is recorded as interrupted."""

STOP_SLICE_USERS = 10
"""At the end of a test, users are stopped this many per turn of the loop. Each woken user
ends in the next turn (its cleanup, its connection closed), and the requests still in
flight are read only between turns: with 500 per turn, the turns held the loop long enough
that 396 of the 837 responses read in the last half second of a 10,000-user run came late
by 4-16 ms (benchmarks/README.md, case 2); with 10, none did."""

ON_STOP_GRACE_SECONDS = 5.0
"""After its grace ends and its task is cancelled, how long a user still gets for on_stop."""


@dataclass(eq=False, slots=True)
class _Slot:
    """One live user and the asyncio task that runs it."""

    user: User
    task: asyncio.Task[None] | None = None


class UserPool:
    """The users of one test. Created by the runner inside its task group.

    Args:
        environment: the test's environment (classes, weights, stop timeout).
        group: the run's task group; every user is one task in it.
        clock: the run's clock, for the stop timeout.
        on_stop_test: called when a user raises StopTest (the runner stops the test).
    """

    def __init__(
        self,
        environment: Environment,
        group: asyncio.TaskGroup,
        clock: Clock,
        on_stop_test: Callable[[], None],
    ) -> None:
        self._environment = environment
        self._group = group
        self._clock = clock
        self._on_stop_test = on_stop_test
        self._slots: list[_Slot] = []
        self._stopping: set[asyncio.Task[None]] = set()
        # Set by the runner for a test under a schedule: each user then gets a cell for
        # its iterations' lag, and under an arrival rate the dispatcher to wait on.
        self.scheduled = False
        self.arrivals: Arrivals | None = None

    # ---- counting ----------------------------------------------------------------------

    @property
    def user_count(self) -> int:
        """How many users are running (stopping ones are no longer counted)."""
        return len(self._slots)

    def classes_count(self) -> dict[str, int]:
        """How many users of each class are running, by class name."""
        return dict(Counter(type(slot.user).__name__ for slot in self._slots))

    def users(self) -> list[User]:
        """The running users, oldest first."""
        return [slot.user for slot in self._slots]

    @property
    def grace(self) -> float:
        """Seconds a user stopped inside a task gets before it is cancelled."""
        return self._environment.stop_timeout or DRAIN_SECONDS

    # ---- planning ----------------------------------------------------------------------

    def plan(
        self, user_count: int, classes: Sequence[type[User]]
    ) -> tuple[list[type[User]], list[_Slot]]:
        """Which classes to start and which users to stop to run `user_count` of `classes`.

        The users to start come in spawn order (fixed counts first, then by weight); the
        users to stop are the newest of each class in excess.
        """
        wanted = run_sequence(classes, user_count, self._environment.weight_of)
        if len(wanted) < user_count:
            logger.warning(
                "only %d users can run: every user class has a fixed_count; "
                "raise a fixed_count or add a class without one",
                len(wanted),
            )
        have = Counter(type(slot.user) for slot in self._slots)
        to_start: list[type[User]] = []
        seen: Counter[type[User]] = Counter()
        for cls in wanted:
            seen[cls] += 1
            if seen[cls] > have[cls]:
                to_start.append(cls)
        excess = {cls: have[cls] - seen[cls] for cls in have if have[cls] > seen[cls]}
        to_stop: list[_Slot] = []
        for slot in reversed(self._slots):  # newest first
            cls = type(slot.user)
            if excess.get(cls, 0) > 0:
                excess[cls] -= 1
                to_stop.append(slot)
        return to_start, to_stop

    def plan_targets(self, targets: dict[str, int]) -> tuple[list[type[User]], list[_Slot]]:
        """Which users to start and stop to run exactly `targets` users per class name.

        A worker's plan: its master has already applied the weights and fixed counts over
        the whole run. Names that are not among the environment's classes are ignored. The
        users to start interleave the classes (smooth weighted round-robin), so that a ramp
        keeps the mix all the way up; the users to stop are the newest of each class in
        excess, classes left out of `targets` included.
        """
        by_name = {cls.__name__: cls for cls in self._environment.user_classes}
        have = Counter(type(slot.user).__name__ for slot in self._slots)
        wanted = {name: n for name, n in targets.items() if name in by_name}
        deficits = [(name, n - have[name]) for name, n in wanted.items() if n > have[name]]
        names = smooth_weighted_order(
            [name for name, _ in deficits],
            [float(n) for _, n in deficits],
            sum(n for _, n in deficits),
        )
        excess = {name: n - wanted.get(name, 0) for name, n in have.items()}
        to_stop: list[_Slot] = []
        for slot in reversed(self._slots):  # newest first
            name = type(slot.user).__name__
            if excess.get(name, 0) > 0:
                excess[name] -= 1
                to_stop.append(slot)
        return [by_name[name] for name in names], to_stop

    # ---- starting and stopping ---------------------------------------------------------

    def spawn(self, cls: type[User]) -> User:
        """Start one user of `cls` now."""
        slot = _Slot(cls(self._environment))
        if self.scheduled:
            slot.user._iteration = IterationCell()
            slot.user._arrivals = self.arrivals
        self._slots.append(slot)
        slot.task = self._group.create_task(self._run(slot), name=cls.__name__)
        return slot.user

    async def _run(self, slot: _Slot) -> None:
        try:
            await slot.user._life()
        except StopTest:
            logger.warning("%s raised StopTest: stopping the test", type(slot.user).__name__)
            self._on_stop_test()
        finally:
            if slot in self._slots:
                self._slots.remove(slot)

    def stop(self, slot: _Slot) -> None:
        """Stop one user: at once if it waits, else after its task or its grace."""
        if slot in self._slots:
            self._slots.remove(slot)
        self._halt(slot)

    def _halt(self, slot: _Slot) -> None:
        """Stop a user no longer among the running ones."""
        was_waiting = slot.user._request_stop()
        task = slot.task
        if task is None or task.done() or was_waiting:
            return
        # A cancel at the end of the grace; a no-op if the task ended before that.
        self._stopping.add(task)

        def cut() -> None:
            task.cancel()

        timer = self._clock.call_later(self.grace, cut)

        def ended(done: asyncio.Task[None]) -> None:
            timer.cancel()
            self._stopping.discard(done)

        task.add_done_callback(ended)

    async def stop_all(self) -> int:
        """Stop every user and wait until each has ended; return how many were running.

        A user that has not ended `ON_STOP_GRACE_SECONDS` after its grace (its on_stop
        hangs, or it swallowed the cancellation) is cancelled again and left behind.
        """
        # All leave the running list at once: removing 10,000 slots one by one from a list
        # of 10,000 cost a scan each, and held the loop at the stop while the last requests
        # in flight waited to be read. Then they stop in slices, with the loop turning
        # between, so that each slice's users end (and close their connections) before the
        # next is woken.
        slots, self._slots = self._slots, []
        for index, slot in enumerate(slots, 1):
            self._halt(slot)
            if index % STOP_SLICE_USERS == 0 and index < len(slots):
                await asyncio.sleep(0)
        tasks = [slot.task for slot in slots if slot.task is not None and not slot.task.done()]
        tasks += [task for task in self._stopping if task not in tasks]
        if tasks:
            pending = await _wait(tasks, self._clock, self.grace + ON_STOP_GRACE_SECONDS)
            for task in pending:
                task.cancel()
        return len(slots)


async def _wait(
    tasks: Sequence[asyncio.Task[None]], clock: Clock, timeout: float
) -> set[asyncio.Task[None]]:
    """Wait until every task has ended or `timeout` seconds on `clock`; return those left."""
    loop = asyncio.get_running_loop()
    expired: asyncio.Future[None] = loop.create_future()

    def expire() -> None:
        if not expired.done():
            expired.set_result(None)

    timer = clock.call_later(timeout, expire)
    everything: asyncio.Future[None] = asyncio.ensure_future(_all_ended(tasks))
    try:
        await asyncio.wait([everything, expired], return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        everything.cancel()
        expired.cancel()
    return {task for task in tasks if not task.done()}


async def _all_ended(tasks: Sequence[asyncio.Task[None]]) -> None:
    await asyncio.wait(tasks)
