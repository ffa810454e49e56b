"""LocalRunner: spawns the users, keeps time, closes stats windows, stops the test.

Theory of operation. `run()` owns one `asyncio.TaskGroup`; everything the test does lives
in it: one task per user (the user's life as a coroutine; its synchronous code borrows a
worker greenlet from the bridge only while it runs, so a waiting user holds none), the
ramp that spawns or stops users at the spawn rate, the one-second stats window, and the
run-time timer. `run()` itself waits for a stop request (`stop()`, `quit()`, the timer, or a user's
`StopTest`), then stops the users: waiting users at once, running users after their
current task or after `stop_timeout` seconds, whichever comes first. Any unexpected
exception in those tasks cancels the group and reaches the caller of `run()`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from loadhopper._exceptions import LoadhopperError, StopTest
from loadhopper.runtime._dispatch import class_sequence, spawn_schedule
from loadhopper.runtime._limits import raise_open_file_limit
from loadhopper.runtime._shape import LoadTestShape
from loadhopper.stats import StatsCollector, TimelinePoint
from loadhopper.user import User

if TYPE_CHECKING:
    from loadhopper.runtime._environment import Environment

__all__ = ["LocalRunner", "RunnerState"]

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 1.0
"""The stats window: Locust's per-second rates and timeline points."""

SHAPE_POLL_SECONDS = 1.0
"""How often a LoadTestShape's tick() is called (Locust polls about once a second)."""

# After a forced stop, users still run their on_stop; this bounds how long that may take.
_ON_STOP_GRACE_SECONDS = 5.0


class RunnerState(enum.Enum):
    """Where a runner is in a test's life."""

    READY = "ready"
    SPAWNING = "spawning"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


@dataclass(eq=False, slots=True)
class _Slot:
    """One live user and the asyncio task that runs it."""

    user: User
    task: asyncio.Task[None] | None = None


class LocalRunner:
    """Runs a test in this process, on the running event loop.

    Attributes:
        environment: the environment of the test.
        state: the runner's state.
        window_listeners: callbacks given each closed one-second stats window.
        spawn_rate: users per second of the current ramp.
        target_user_count: the number of users the runner is heading for.
    """

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.state = RunnerState.READY
        self.window_listeners: list[Callable[[TimelinePoint], None]] = []
        self.spawn_rate = 0.0
        self.target_user_count = 0
        self.quitting = False
        self._slots: list[_Slot] = []
        self._group: asyncio.TaskGroup | None = None
        self._ramp: asyncio.Task[None] | None = None
        self._stop_requested: asyncio.Event | None = None
        self._stats_reset_done = False
        self._active_classes: list[type[User]] | None = None

    @property
    def stats(self) -> StatsCollector:
        """The environment's statistics."""
        return self.environment.stats

    @property
    def user_count(self) -> int:
        """How many users are running now."""
        return len(self._slots)

    @property
    def user_classes_count(self) -> dict[str, int]:
        """How many users of each class are running now, by class name."""
        return dict(Counter(type(slot.user).__name__ for slot in self._slots))

    @property
    def users(self) -> list[User]:
        """The running users, oldest first."""
        return [slot.user for slot in self._slots]

    async def run(self, user_count: int, spawn_rate: float, run_time: float | None = None) -> None:
        """Run one test: spawn `user_count` users at `spawn_rate` per second, until stopped.

        Args:
            user_count: how many users to run.
            spawn_rate: users started (or stopped) per second.
            run_time: seconds after which the test stops, counted from its start
                (ramp-up included, as in Locust); None runs until `stop()`.
        """
        if self.state not in (RunnerState.READY, RunnerState.STOPPED):
            raise LoadhopperError("this runner is already running a test; call stop() first")
        spawn_schedule(user_count, spawn_rate)  # validates both before anything starts
        limit = raise_open_file_limit(user_count)
        problem = limit.problem(user_count)
        if problem:
            logger.warning(problem)
        env = self.environment
        env.task_filter.warn_empty(env.user_classes)
        self._stop_requested = asyncio.Event()
        self._stats_reset_done = False
        self.quitting = False
        env.stats.reset(time.time())
        self.state = RunnerState.SPAWNING
        env.events.test_start.fire(environment=env)
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                window = group.create_task(self._window_loop(), name="stats-window")
                shape = self._shape()
                timer = None
                if run_time is not None and (shape is None or shape.use_common_options):
                    timer = group.create_task(self._stop_after(run_time), name="run-time")
                if shape is None:
                    self.start(user_count, spawn_rate)
                else:
                    group.create_task(self._follow_shape(shape), name="shape")
                await self._stop_requested.wait()
                await self._stop_everything()
                for task in (window, timer):
                    if task is not None:
                        task.cancel()
        except BaseExceptionGroup as group_error:
            # One failure is the usual case: hand it over as itself, not wrapped.
            if len(group_error.exceptions) == 1:
                raise group_error.exceptions[0] from None
            raise
        finally:
            self._group = None
            self._ramp = None
            self._slots.clear()
            self.state = RunnerState.STOPPED
            env.events.test_stop.fire(environment=env)

    def start(
        self,
        user_count: int,
        spawn_rate: float,
        user_classes: Sequence[type[User]] | None = None,
    ) -> None:
        """Change the number of users of the running test, ramping at `spawn_rate`/s.

        Args:
            user_count: the users wanted.
            spawn_rate: users started or stopped per second.
            user_classes: run only these classes (a LoadTestShape's choice); None: all.

        Raises:
            LoadhopperError: no test is running (use `await run(...)` to start one).
        """
        spawn_schedule(user_count, spawn_rate)
        group = self._group
        if group is None or self.state in (RunnerState.STOPPING, RunnerState.STOPPED):
            raise LoadhopperError(
                "start() changes the users of a running test; begin a test with "
                "`await runner.run(user_count, spawn_rate)`"
            )
        if self._ramp is not None:
            self._ramp.cancel()
        self.target_user_count = user_count
        self.spawn_rate = spawn_rate
        self._active_classes = None if user_classes is None else list(user_classes)
        self.state = RunnerState.SPAWNING
        self._ramp = group.create_task(self._ramp_to(user_count, spawn_rate), name="ramp")

    def _shape(self) -> LoadTestShape | None:
        shape = self.environment.shape_class
        if shape is None:
            return None
        instance: LoadTestShape = shape() if isinstance(shape, type) else shape
        instance.runner = self
        instance.reset_time()
        return instance

    async def _follow_shape(self, shape: LoadTestShape) -> None:
        """Poll the shape once a second; retarget when its answer changes, stop on None."""
        last: tuple[int, float, tuple[type[User], ...] | None] | None = None
        while True:
            tick = shape.tick()
            if tick is None:
                logger.info("the load shape returned None: stopping")
                self.stop()
                return
            classes = tuple(tick[2]) if len(tick) == 3 else None
            wanted = (int(tick[0]), float(tick[1]), classes)
            if wanted != last:
                last = wanted
                self.start(wanted[0], wanted[1], user_classes=classes)
            await asyncio.sleep(SHAPE_POLL_SECONDS)

    def stop(self) -> None:
        """Stop the test; `run()` returns once the users have stopped. Safe to call twice."""
        if self._stop_requested is not None:
            self._stop_requested.set()

    def quit(self) -> None:
        """Stop the test and mark the runner as quitting (the process is about to exit)."""
        self.quitting = True
        self.stop()

    def reset_stats(self) -> None:
        """Reset the statistics now and fire `reset_stats`."""
        self.environment.stats.reset(time.time())
        self.environment.events.reset_stats.fire()

    # ---- ramping -------------------------------------------------------------------------

    def _plan(self, user_count: int) -> tuple[list[type[User]], list[_Slot]]:
        """Which classes to spawn and which users to stop to reach `user_count` users."""
        env = self.environment
        pool = env.user_classes if self._active_classes is None else self._active_classes
        classes = [c for c in pool if c.fixed_count > 0 or env.weight_of(c) > 0]
        wanted_sequence = class_sequence(
            classes,
            user_count,
            weights=[env.weight_of(c) for c in classes],
            fixed_counts=[c.fixed_count for c in classes],
        )
        if len(wanted_sequence) < user_count:
            logger.warning(
                "only %d users can run: every user class has a fixed_count; "
                "raise a fixed_count or add a class without one",
                len(wanted_sequence),
            )
        have = Counter(type(slot.user) for slot in self._slots)
        to_spawn: list[type[User]] = []
        seen: Counter[type[User]] = Counter()
        for cls in wanted_sequence:
            seen[cls] += 1
            if seen[cls] > have[cls]:
                to_spawn.append(cls)
        excess = {cls: have[cls] - seen[cls] for cls in have if have[cls] > seen[cls]}
        to_stop: list[_Slot] = []
        for slot in reversed(self._slots):  # newest first
            cls = type(slot.user)
            if excess.get(cls, 0) > 0:
                excess[cls] -= 1
                to_stop.append(slot)
        return to_spawn, to_stop

    async def _ramp_to(self, user_count: int, spawn_rate: float) -> None:
        to_spawn, to_stop = self._plan(user_count)
        loop = asyncio.get_running_loop()
        start = loop.time()
        steps: list[Callable[[], None]] = [partial(self._spawn, cls) for cls in to_spawn]
        steps += [partial(self._stop_user, slot) for slot in to_stop]
        for offset, step in zip(spawn_schedule(len(steps), spawn_rate), steps, strict=True):
            delay = start + offset - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            step()
        self.state = RunnerState.RUNNING
        env = self.environment
        env.events.spawning_complete.fire(user_count=self.user_count)
        if env.reset_stats and not self._stats_reset_done:
            self._stats_reset_done = True
            self.reset_stats()

    def _spawn(self, cls: type[User]) -> None:
        assert self._group is not None
        slot = _Slot(cls(self.environment))
        self._slots.append(slot)
        slot.task = self._group.create_task(self._run_user(slot), name=cls.__name__)

    async def _run_user(self, slot: _Slot) -> None:
        try:
            await slot.user._life()
        except StopTest:
            logger.warning("%s raised StopTest: stopping the test", type(slot.user).__name__)
            self.stop()
        finally:
            if slot in self._slots:
                self._slots.remove(slot)

    def _stop_user(self, slot: _Slot) -> None:
        """Stop one user: at once if waiting, else after its task or `stop_timeout`."""
        if slot in self._slots:
            self._slots.remove(slot)
        was_waiting = slot.user._request_stop()
        task = slot.task
        if task is None or task.done() or was_waiting:
            return
        timeout = self.environment.stop_timeout
        if not timeout:
            task.cancel()
        else:
            asyncio.get_running_loop().call_later(timeout, task.cancel)

    async def _stop_everything(self) -> None:
        env = self.environment
        self.state = RunnerState.STOPPING
        env.events.test_stopping.fire(environment=env)
        if self._ramp is not None:
            self._ramp.cancel()
        slots = list(self._slots)
        user_count = len(slots)
        tasks = [slot.task for slot in slots if slot.task is not None]
        for slot in slots:
            self._stop_user(slot)
        if tasks:
            timeout = env.stop_timeout or 0.0
            _, pending = await asyncio.wait(tasks, timeout=timeout + _ON_STOP_GRACE_SECONDS)
            for task in pending:
                task.cancel()
        # The last, partial window: its requests belong in the timeline too.
        self._close_window(user_count)

    # ---- time ------------------------------------------------------------------------------

    async def _stop_after(self, run_time: float) -> None:
        await asyncio.sleep(run_time)
        logger.info("run time of %s s reached: stopping", run_time)
        self.stop()

    async def _window_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_close = loop.time() + WINDOW_SECONDS
        while True:
            await asyncio.sleep(max(0.0, next_close - loop.time()))
            # Advance from the schedule, not from now, so that windows do not drift.
            next_close += WINDOW_SECONDS
            self._close_window(self.user_count)

    def _close_window(self, user_count: int) -> None:
        point = self.environment.stats.close_window(time.time(), user_count)
        for listener in list(self.window_listeners):
            listener(point)
