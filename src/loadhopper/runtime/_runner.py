"""LocalRunner: spawns the users, keeps time, closes stats windows, stops the test.

Theory of operation. `run()` owns one `asyncio.TaskGroup`; everything the test does lives
in it: one task per user (the user's life as a coroutine; its synchronous code borrows a
worker greenlet from the bridge only while it runs, so a waiting user holds none), and the
runner's own background tasks. Those are held in two `_Background` sets, by when they must
end: the *drivers*, which change the load (the ramp that spawns or stops users at the spawn
rate, the LoadTestShape follower, the run-time timer), and the *upkeep* (the one-second
stats window). `run()` itself waits for a stop request (`stop()`, `quit()`, the timer, the
shape returning None or failing, or a user's `StopTest`), then ends the test in one order,
whichever request it was:

1. the drivers end, so that nothing starts or retargets users while they stop;
2. the users stop: waiting users at once, running users after their current task or after
   `stop_timeout` seconds, whichever comes first;
3. the upkeep ends (windows keep closing during a long stop timeout), and the last, partial
   window is closed.

The group then has no task left and `run()` returns. A background task started any other
way would keep the group open forever after the stop (a shape run once did exactly that),
so every one goes through a `_Background`. Any unexpected exception in a task cancels the
group and reaches the caller of `run()`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import traceback
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from loadhopper._exceptions import LoadhopperError, StopTest
from loadhopper.runtime._dispatch import class_sequence, spawn_schedule
from loadhopper.runtime._environment import user_frames
from loadhopper.runtime._limits import raise_open_file_limit
from loadhopper.runtime._shape import LoadTestShape, ShapeTarget, read_tick
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


class _Background:
    """Background tasks of the runner that end together, so that none is forgotten at a stop.

    The tasks live in the run's task group, so an error in one still cancels the run and
    reaches the caller of `run()`; this set only remembers which are alive, so that `close()`
    ends every one of them, those a later feature adds included, without a cancel call of
    its own. Once closed, it starts nothing more.
    """

    __slots__ = ("_closed", "_group", "_tasks")

    def __init__(self, group: asyncio.TaskGroup) -> None:
        self._group = group
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def start(self, coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run `coroutine` as a task of the run until it returns or `close()` is called."""
        if self._closed:
            coroutine.close()  # never awaited: close it, or Python warns about it
            raise LoadhopperError(
                f"cannot start {name!r} because the test is stopping; "
                "begin a new test with `await runner.run(...)`"
            )
        task = self._group.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Cancel every task and wait until each has ended."""
        # The cancels happen before the first await: no task runs a step in between.
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


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
        self._drivers: _Background | None = None
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
        shape = self._shape()
        self._stop_requested = asyncio.Event()
        self._stats_reset_done = False
        self.quitting = False
        env.stats.reset(time.time())
        self.state = RunnerState.SPAWNING
        env.events.test_start.fire(environment=env)
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                drivers = self._drivers = _Background(group)
                upkeep = _Background(group)
                upkeep.start(self._window_loop(), "stats-window")
                if run_time is not None and (shape is None or shape.use_common_options):
                    drivers.start(self._stop_after(run_time), "run-time")
                if shape is None:
                    self.start(user_count, spawn_rate)
                else:
                    drivers.start(self._follow_shape(shape), "shape")
                await self._stop_requested.wait()
                self.state = RunnerState.STOPPING
                env.events.test_stopping.fire(environment=env)
                await drivers.close()
                stopped_count = await self._stop_users()
                await upkeep.close()
                # The last, partial window: its requests belong in the timeline too.
                self._close_window(stopped_count)
        except BaseExceptionGroup as group_error:
            # One failure is the usual case: hand it over as itself, not wrapped.
            if len(group_error.exceptions) == 1:
                raise group_error.exceptions[0] from None
            raise
        finally:
            self._group = None
            self._drivers = None
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
        drivers = self._drivers
        if drivers is None or self.state in (RunnerState.STOPPING, RunnerState.STOPPED):
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
        self._ramp = drivers.start(self._ramp_to(user_count, spawn_rate), "ramp")

    def _shape(self) -> LoadTestShape | None:
        shape = self.environment.shape_class
        if shape is None:
            return None
        instance: LoadTestShape = shape() if isinstance(shape, type) else shape
        instance.runner = self
        instance.reset_time()
        return instance

    async def _follow_shape(self, shape: LoadTestShape) -> None:
        """Poll the shape once a second and retarget when its answer changes.

        The shape ends the test by returning None, by raising StopTest, or by failing. A
        failure (an exception in tick(), or an answer that is not a load) is reported like
        an error in a task and stops the test, so that the summary and the reports still
        come out: keeping the last load would run forever, and calling a broken tick()
        again every second would only repeat its error.
        """
        last: ShapeTarget | None = None
        while True:
            try:
                target = read_tick(shape, shape.tick())
                if target is not None and target != last:
                    self.start(target.user_count, target.spawn_rate, target.user_classes)
            except StopTest:
                logger.warning("%s raised StopTest: stopping the test", type(shape).__name__)
                self.stop()
                return
            except Exception as error:
                self._report_shape_error(shape, error)
                if not self.environment.catch_exceptions:
                    raise
                self.stop()
                return
            if target is None:
                logger.info("the load shape returned None: stopping")
                self.stop()
                return
            last = target
            await asyncio.sleep(SHAPE_POLL_SECONDS)

    def _report_shape_error(self, shape: LoadTestShape, error: Exception) -> None:
        """Log a failed tick() and record it, for the exceptions table and the exit code."""
        frames = user_frames(error)
        message = f"{type(error).__name__}: {error}"
        self.environment.stats.record_exception(message, "".join(traceback.format_list(frames)))
        logger.error(
            "The load shape %s failed (%s), so the test stops; fix its tick(), which must "
            "return (users, spawn_rate) or None.",
            type(shape).__name__,
            message,
            exc_info=error,
        )

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

    async def _stop_users(self) -> int:
        """Stop every user (see `_stop_user`) and wait for them; return how many there were."""
        env = self.environment
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
        return user_count

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
