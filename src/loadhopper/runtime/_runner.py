"""LocalRunner: runs one test at a time in this process, on the running event loop.

Theory of operation. `run()` owns one `asyncio.TaskGroup`; everything the test does lives
in it. The runner itself only sequences; each concern is a seam of its own:

- the `Clock` (`_clock.py`) is the only source of time: the ramp, `-t`, the shape's ticks,
  the stop timeout and the one-second windows all wait on it, so tests run on a fake one;
- the `UserPool` (`_user_pool.py`) starts, stops and counts the users (one task each);
- the `LoadModel` (`_load_model.py`) says what to run: the `-u/-r` ramp or a LoadTestShape
  today, an arrival rate later; the runner follows its commands without knowing which it is;
- the `GcGuard` (`_gc_guard.py`) keeps the cyclic collector off what the test has built: the
  ramp starts users in slices and freezes each slice, so no full collection holds the loop
  while thousands of users start.

Background tasks are held in two `_Background` sets, by when they must end: the *drivers*,
which change the load (the model's commands, the ramp that starts or stops users at the
spawn rate, the run-time timer), and the *upkeep* (the one-second stats window). `run()`
waits for a stop request (`stop()`, `quit()`, the timer, the model's StopTest, a user's
StopTest), then ends the test in one order, whichever request it was:

1. STOPPING: the drivers end, so that nothing starts or retargets users while they stop;
2. the users stop: waiting users at once, running users after their current task or after
   their grace (`--stop-timeout`, or the pool's short drain bound when that is 0, so that a
   request on the wire is still answered and counted);
3. CLEANUP: the upkeep ends (windows keep closing during a long stop) and the last, partial
   window is closed.

The group then has no task left, the state is STOPPED and `run()` returns. A background
task started any other way would keep the group open forever after the stop (a shape run
once did exactly that), so every one goes through a `_Background`. Any unexpected exception
in a task cancels the group and reaches the caller of `run()`.

Locust's way, for scripts. `start()` outside a running test *begins* one: a task that awaits
`run()`, on the running loop, or, from a plain script with no loop, on the library hub
(`_library.py`), which runs the loop whenever the script blocks. From the script's main
code `stop()` and `quit()` then block until the test has ended, as Locust's do, and
`runner.greenlet.join()` (`_runner_greenlet.py`) waits until the runner has quit. Inside
the loop (the CLI, the web UI, a user, a listener) `stop()` and `quit()` only ask.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, assert_never

from loadhopper._exceptions import LoadhopperError
from loadhopper.runtime._arrival import ArrivalModel
from loadhopper.runtime._clock import REAL_CLOCK, Clock, RealClock
from loadhopper.runtime._dispatch import spawn_schedule
from loadhopper.runtime._gc_guard import TICK_SECONDS, GcGuard
from loadhopper.runtime._gevent._hub import GreenletScope, block, running_loop
from loadhopper.runtime._iterations import IterationDispatcher
from loadhopper.runtime._library import current_hub, library_hub, waiting_hub
from loadhopper.runtime._limits import raise_open_file_limit
from loadhopper.runtime._load_model import (
    LoadModel,
    SetUsers,
    StartIteration,
    StopTest,
    model_of_test,
)
from loadhopper.runtime._runner_greenlet import RunnerGreenlet
from loadhopper.runtime._sleep_patch import sleep_patch
from loadhopper.runtime._stall_watch import StallWatch
from loadhopper.runtime._state import RunnerState
from loadhopper.runtime._usage import HealthMonitor, UsageMonitor
from loadhopper.runtime._user_pool import UserPool
from loadhopper.stats import StatsCollector, TimelinePoint
from loadhopper.user import TaskSet, User
from loadhopper.user._schedule import pacing_of

if TYPE_CHECKING:
    from loadhopper.runtime._environment import Environment

__all__ = ["HISTORY_POINTS", "WINDOW_SECONDS", "LocalRunner", "RunnerState"]

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 1.0
"""The stats window: Locust's per-second rates and timeline points."""

RAMP_SLICE_USERS = 20
"""At most this many users start in one turn of the loop, however late the ramp is. At
2,000 users a second a slice is usually one or two users; when the loop falls behind, a
slice of 20 (a few ms of work, case 2) still leaves the loop to read responses in between."""

HISTORY_POINTS = 6 * 3600
"""Points `runner.history` keeps: six hours of windows, about 2 MB (Locust's is unbounded)."""

_ENDED = frozenset({RunnerState.STOPPING, RunnerState.CLEANUP, RunnerState.STOPPED})

# What `start()` outside a test asked for, until the test's task runs it.
_Begun = tuple[int, float, tuple[type[User], ...] | None]


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


class LocalRunner:
    """Runs a test in this process, on the running event loop.

    Attributes:
        environment: the environment of the test.
        clock: the environment's clock, where every wait of the run happens.
        state: the runner's state.
        window_listeners: callbacks given each closed one-second stats window.
        spawn_rate: users per second of the current ramp.
        target_user_count: the number of users the runner is heading for.
        quitting: True once `quit()` was called.
        greenlet: Locust's `runner.greenlet`: joined to wait until the runner has quit.
        history: the timeline point of every window closed while `stats_history(runner)`
            ran (Locust's `stats.history`), oldest first, the last `HISTORY_POINTS`;
            kept across tests and stats resets.
    """

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.clock: Clock = environment.clock
        self.state = RunnerState.READY
        self.window_listeners: list[Callable[[TimelinePoint], None]] = []
        self.spawn_rate = 0.0
        self.target_user_count = 0
        self.quitting = False
        self._pool: UserPool | None = None
        self._drivers: _Background | None = None
        self._ramp: asyncio.Task[None] | None = None
        self._iterations: IterationDispatcher | None = None
        self._stop_requested: asyncio.Event | None = None
        self._stats_reset_done = False
        self._test_classes: tuple[type[User], ...] = ()
        self._active_classes: tuple[type[User], ...] | None = None
        self.greenlet = RunnerGreenlet(self)
        self.history: collections.deque[TimelinePoint] = collections.deque(maxlen=HISTORY_POINTS)
        self._begun: _Begun | None = None
        self._begun_task: asyncio.Task[None] | None = None
        self._spawn_waiters: list[asyncio.Future[None]] = []
        self._gc_guard: GcGuard | None = None

    @property
    def stats(self) -> StatsCollector:
        """The environment's statistics."""
        return self.environment.stats

    @property
    def worker_index(self) -> int:
        """This process's index among the test's workers: 0 in a local run, as in Locust."""
        return 0

    @property
    def worker_count(self) -> int:
        """How many processes run users: 1 in a local run, as in Locust."""
        return 1

    @property
    def user_count(self) -> int:
        """How many users are running now."""
        return 0 if self._pool is None else self._pool.user_count

    @property
    def user_classes_count(self) -> dict[str, int]:
        """How many users of each class are running now, by class name."""
        return {} if self._pool is None else self._pool.classes_count()

    @property
    def users(self) -> list[User]:
        """The running users, oldest first."""
        return [] if self._pool is None else self._pool.users()

    @property
    def test_pending(self) -> bool:
        """True from a `start()` that begins a test until that test's task runs it."""
        return self._begun is not None

    async def run(
        self,
        user_count: int,
        spawn_rate: float,
        run_time: float | None = None,
        *,
        host: str | None = None,
        user_classes: Sequence[type[User]] | None = None,
    ) -> None:
        """Run one test: spawn `user_count` users at `spawn_rate` per second, until stopped.

        A LoadTestShape in the environment drives the users instead of `user_count` and
        `spawn_rate`.

        Args:
            user_count: how many users to run.
            spawn_rate: users started (or stopped) per second.
            run_time: seconds after which the test stops, counted from its start
                (ramp-up included, as in Locust); None runs until `stop()`.
            host: the target of this test, instead of the environment's `host`.
            user_classes: run only these of the environment's classes; None runs all.
        """
        if self.state not in (RunnerState.READY, RunnerState.STOPPED):
            raise LoadhopperError("this runner is already running a test; call stop() first")
        spawn_schedule(user_count, spawn_rate)  # validates both before anything starts
        env = self.environment
        classes = tuple(env.user_classes if user_classes is None else user_classes)
        limit = raise_open_file_limit(user_count)
        problem = limit.problem(user_count)
        if problem:
            logger.warning(problem)
        env.task_filter.warn_empty(list(classes))
        model = self._model(user_count, spawn_rate)
        plan = model.plan if isinstance(model, ArrivalModel) else None
        # Decided once per test: only a schedule pays for reading each request's lag.
        scheduled = plan is not None or _paces(classes)
        env.use_schedule(scheduled)
        self._test_classes = classes
        self._active_classes = None
        self._stop_requested = asyncio.Event()
        self._stats_reset_done = False
        self.quitting = False
        clock = self.clock
        # The sleep patch and the greenlet scope: Locust's gevent idioms in locustfiles
        # (`time.sleep` in a task, `gevent.spawn`) for the length of this test only.
        with (
            env.events.request.recording_into(env.stats.record),
            env.testing_host(host),
            sleep_patch(),
            GreenletScope(env.report_user_error) as greenlets,
            # Entered last: the environment and the locustfile are built, so they are frozen.
            GcGuard() as self._gc_guard,
        ):
            env.stats.reset(clock.time())
            self.state = RunnerState.SPAWNING
            env.events.test_start.fire(environment=env)
            try:
                async with asyncio.TaskGroup() as group:
                    pool = self._pool = UserPool(env, group, clock, self.stop)
                    pool.scheduled = scheduled
                    drivers = self._drivers = _Background(group)
                    iterations = None
                    if plan is not None:
                        iterations = self._iterations = IterationDispatcher(
                            clock,
                            env.stats,
                            pool.spawn,
                            lambda: pool.user_count,
                            plan.max_users,
                            plan.backlog_timeout,
                        )
                        pool.arrivals = iterations
                        # -u users are started first (at -r), and used first.
                        self.start(min(user_count, plan.max_users), spawn_rate)
                    upkeep = _Background(group)
                    upkeep.start(self._window_loop(), "stats-window")
                    if isinstance(clock, RealClock):
                        upkeep.start(self._gc_ticks(), "gc-guard")
                    if run_time is not None and model.honours_run_time:
                        drivers.start(self._stop_after(run_time), "run-time")
                    drivers.start(self._follow(model), "load-model")
                    await self._stop_requested.wait()
                    self.state = RunnerState.STOPPING
                    env.events.test_stopping.fire(environment=env)
                    await drivers.close()
                    if iterations is not None:
                        iterations.close()  # what still waits is dropped, and counted
                    stopped_count = await pool.stop_all()
                    # After the users: a greenlet a stopping user still waits on finishes.
                    await greenlets.close()
                    self.state = RunnerState.CLEANUP
                    await upkeep.close()
                    # The last, partial window: its requests belong in the timeline too.
                    self._close_window(stopped_count)
            except BaseExceptionGroup as group_error:
                # One failure is the usual case: hand it over as itself, not wrapped.
                if len(group_error.exceptions) == 1:
                    raise group_error.exceptions[0] from None
                raise
            finally:
                self._drivers = None
                self._ramp = None
                self._pool = None
                self._iterations = None
                self._gc_guard = None
                self.state = RunnerState.STOPPED
                self._release_spawn_waiters()
                env.events.test_stop.fire(environment=env)
                self.greenlet.changed()

    async def _follow(self, model: LoadModel) -> None:
        async for command in model.commands(self.clock):
            if isinstance(command, SetUsers):
                self.start(
                    command.user_count, command.spawn_rate, user_classes=command.user_classes
                )
            elif isinstance(command, StopTest):
                logger.info("%s: stopping", command.reason)
                self.stop()
                return
            elif isinstance(command, StartIteration):
                iterations = self._iterations
                if iterations is None:
                    raise LoadhopperError(
                        "this load model starts single iterations, but the test has no "
                        "arrival plan; set `environment.arrival_plan` before the test"
                    )
                iterations.offer(command.user_class, command.intended_start)
            else:
                assert_never(command)

    def start(
        self,
        user_count: int,
        spawn_rate: float,
        wait: bool = False,
        user_classes: Sequence[type[User]] | None = None,
    ) -> None:
        """Change the number of users of the running test, or begin a test, as Locust's.

        During a test the users ramp to `user_count` at `spawn_rate` per second. Outside
        one, a test begins (a task awaiting `run(user_count, spawn_rate)`): on the running
        loop, or, from a plain script, on the library hub, which runs once the script
        blocks (`runner.greenlet.join()`, `time.sleep`, `gevent.sleep`, ...).

        Args:
            user_count: the users wanted.
            spawn_rate: users started or stopped per second.
            wait: block (where the caller can) until the ramp has finished.
            user_classes: run only these classes (a LoadTestShape's choice); None: all of
                the test's classes.

        Raises:
            LoadhopperError: the test is stopping, and the caller cannot wait for its end;
                or there is no loop and the environment's clock is not the real one.
        """
        spawn_schedule(user_count, spawn_rate)
        drivers = self._drivers
        if drivers is None or self.state in _ENDED:
            self._begin(user_count, spawn_rate, user_classes)
        else:
            if self._ramp is not None:
                self._ramp.cancel()
            self.target_user_count = user_count
            self.spawn_rate = spawn_rate
            self._active_classes = None if user_classes is None else tuple(user_classes)
            self.state = RunnerState.SPAWNING
            self._ramp = drivers.start(self._ramp_to(user_count, spawn_rate), "ramp")
        if wait:
            self._wait_spawned()

    def _begin(
        self, user_count: int, spawn_rate: float, user_classes: Sequence[type[User]] | None
    ) -> None:
        begun: _Begun = (
            user_count,
            spawn_rate,
            None if user_classes is None else tuple(user_classes),
        )
        if self._begun is not None:  # begun, not run yet: the last call wins
            self._begun = begun
            return
        if self._drivers is not None or self.state not in (RunnerState.READY, RunnerState.STOPPED):
            # The test is stopping (or entering run()). The script's main code can wait
            # for its end and begin the next; anything on the loop would wait on itself.
            task = self._begun_task
            if task is None or task.done() or waiting_hub() is None:
                raise LoadhopperError(
                    "start() cannot change a test that is stopping; begin a test with "
                    "`await runner.run(user_count, spawn_rate)` once it has stopped"
                )
            block(asyncio.wait([task]), "runner.start()")
        loop = running_loop()
        hub = current_hub()
        if loop is None:
            if self.clock is not REAL_CLOCK:
                # Nothing would ever advance a fake clock on the hub: the test would hang.
                raise LoadhopperError(
                    "start() outside a running test runs it on the real clock, and this "
                    "environment has a fake one; begin a test with `await runner.run(...)`"
                )
            hub = library_hub()
        self._begun = begun
        coroutine = self._run_begun()
        if hub is not None and (loop is None or loop is hub.loop):
            task = hub.spawn(coroutine, "test", stop=self.quit)
        else:
            assert loop is not None
            task = loop.create_task(coroutine, name="test")
        self._begun_task = task  # also what keeps a task on a foreign loop alive
        task.add_done_callback(self._begun_ended)

    async def _run_begun(self) -> None:
        begun, self._begun = self._begun, None
        assert begun is not None
        user_count, spawn_rate, user_classes = begun
        try:
            await self.run(user_count, spawn_rate, user_classes=user_classes)
        except Exception as exc:
            # A bug in loadhopper (user-code errors are recorded, not raised): nobody
            # awaits this task, so log it, and end runner.greenlet so that a join returns.
            logger.exception("The test begun by runner.start() ended with an internal error.")
            self.greenlet.exception = exc

    def _begun_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            self._begun = None  # stopped before it ran
        if self._begun_task is task:
            self._begun_task = None
        self.greenlet.changed()

    def _wait_spawned(self) -> None:
        """Block the caller (where it can) until the current ramp has finished."""
        if self.state is RunnerState.RUNNING and self._begun is None:
            return
        loop = running_loop() or getattr(current_hub(), "loop", None)
        if loop is None:
            return
        future: asyncio.Future[None] = loop.create_future()
        self._spawn_waiters.append(future)
        block(future, "runner.start(wait=True)")

    def _release_spawn_waiters(self) -> None:
        waiters, self._spawn_waiters = self._spawn_waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)

    def stop(self) -> None:
        """Stop the test; `run()` returns once the users have stopped. Safe to call twice.

        From a script's main code (library mode) it returns once the test has stopped.
        """
        task = self._begun_task
        if self._begun is not None and task is not None:
            task.cancel()  # begun but not run yet: it never runs
        if self._stop_requested is not None:
            self._stop_requested.set()
        if task is not None and not task.done() and waiting_hub() is not None:
            block(asyncio.wait([task]), "runner.stop()")

    def quit(self) -> None:
        """Stop the test and mark the runner as quitting (the process is about to exit).

        `runner.greenlet.join()` returns once the test has stopped.
        """
        self.quitting = True
        self.stop()
        self.greenlet.changed()

    def reset_stats(self) -> None:
        """Reset the statistics now and fire `reset_stats`."""
        self.environment.stats.reset(self.clock.time())
        self.environment.events.reset_stats.fire()

    # ---- ramping -------------------------------------------------------------------------

    # A worker's stats are reset by its master, on the merged data, not by itself.
    _resets_own_stats = True
    # A worker leaves the CPU warning to its master, which names the worker.
    _warns_own_cpu = True

    def _model(self, user_count: int, spawn_rate: float) -> LoadModel:
        """What drives this test's load (a worker follows its master instead)."""
        return model_of_test(self, user_count, spawn_rate)

    def _plan(
        self, pool: UserPool, user_count: int, classes: Sequence[type[User]]
    ) -> tuple[list[type[User]], list[Any]]:
        """Which users to start and stop to reach `user_count` (a worker plans per class)."""
        return pool.plan(user_count, classes)

    async def _ramp_to(self, user_count: int, spawn_rate: float) -> None:
        pool = self._pool
        assert pool is not None
        classes = self._test_classes if self._active_classes is None else self._active_classes
        to_start, to_stop = self._plan(pool, user_count, classes)
        spawn: Callable[[type[User]], object] = pool.spawn
        iterations = self._iterations
        if iterations is not None:
            limit = iterations.max_users

            def spawn(cls: type[User]) -> object:
                # Users started on demand count too: the pool never exceeds --max-users.
                return pool.spawn(cls) if pool.user_count < limit else None

        steps: list[Callable[[], object]] = [partial(spawn, cls) for cls in to_start]
        steps += [partial(pool.stop, slot) for slot in to_stop]
        offsets = spawn_schedule(len(steps), spawn_rate)
        clock = self.clock
        guard = self._gc_guard
        start = clock.monotonic()
        done = 0
        # In slices: each wake starts the users due by now, at most RAMP_SLICE_USERS, then
        # yields, so that responses waiting on the loop are read before the next slice.
        # A ramp that fell behind (the loop was busy) used to start every overdue user in
        # one go and hold the loop for as long (benchmarks/README.md, case 2).
        while done < len(steps):
            delay = start + offsets[done] - clock.monotonic()
            if delay > 0:
                await clock.sleep(delay)
            now = clock.monotonic() - start
            end = min(len(steps), done + RAMP_SLICE_USERS)
            first = done
            steps[done]()  # the one this wake is for (a real timer may fire a hair early)
            done += 1
            while done < end and offsets[done] <= now:
                steps[done]()
                done += 1
            if guard is not None and first < len(to_start):
                guard.settle()  # what this slice built leaves the collector's scans
            if done < len(steps) and offsets[done] <= clock.monotonic() - start:
                await clock.sleep(0)  # behind: let the loop read before the next slice
        if to_stop and guard is not None:
            guard.release()  # the stopped users' cycles go back to the collector
        self.state = RunnerState.RUNNING
        self._release_spawn_waiters()
        env = self.environment
        env.events.spawning_complete.fire(user_count=self.user_count)
        if env.reset_stats and self._resets_own_stats and not self._stats_reset_done:
            self._stats_reset_done = True
            self.reset_stats()

    # ---- time ------------------------------------------------------------------------------

    async def _gc_ticks(self) -> None:
        clock = self.clock
        while (guard := self._gc_guard) is not None:
            await clock.sleep(TICK_SECONDS)
            guard.tick()

    async def _stop_after(self, run_time: float) -> None:
        await self.clock.sleep(run_time)
        logger.info("run time of %s s reached: stopping", run_time)
        self.stop()

    async def _window_loop(self) -> None:
        clock = self.clock
        # The stall watch lives exactly as long as the windows it marks. It reads real
        # time, so a run on a fake clock (tests) has none.
        watch = StallWatch(self.environment.stats) if isinstance(clock, RealClock) else None
        usage = UsageMonitor(self.environment)
        # The generator's CPU and loop lag, measured on real time only, like the watch. A
        # worker leaves the CPU warning to its master (`_warns_own_cpu`): one per cause.
        health = (
            None if watch is None else HealthMonitor(self.environment, warn_cpu=self._warns_own_cpu)
        )
        next_close = clock.monotonic() + WINDOW_SECONDS
        if watch is not None:
            watch.start()
        try:
            while True:
                await clock.sleep(next_close - clock.monotonic())
                # Advance from the schedule, not from now, so that windows do not drift.
                next_close += WINDOW_SECONDS
                if watch is not None and health is not None:
                    # A stall that just ended counts in the window it happened in, even
                    # when this timer ran before the heartbeat's.
                    watch.check()
                    health.window(*watch.take_lag())
                if self._iterations is not None:
                    self._iterations.flush()
                self._close_window(self.user_count)
                usage.window_closed()
        finally:
            if watch is not None:
                watch.stop()
            if health is not None:
                health.finish()

    def _close_window(self, user_count: int) -> None:
        stats = self.environment.stats
        # The collector hands back the window's delta (what a worker ships to a master); the
        # listeners want the timeline point that window made.
        delta = stats.close_window(self.clock.time(), user_count)
        point = stats.window_point(delta.window_index)
        for listener in list(self.window_listeners):
            listener(point)


def _paces(classes: Sequence[type[User]]) -> bool:
    """Whether any class, or any TaskSet it nests, waits with constant_pacing/throughput."""
    seen: set[type] = set()
    stack: list[type] = list(classes)
    while stack:
        holder = stack.pop()
        if holder in seen:
            continue
        seen.add(holder)
        if pacing_of(getattr(holder, "wait_time", None)) is not None:
            return True
        for entry, _weight in getattr(holder, "tasks", ()):
            if isinstance(entry, type) and issubclass(entry, TaskSet):
                stack.append(entry)
    return False
