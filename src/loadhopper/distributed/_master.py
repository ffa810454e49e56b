"""MasterRunner: runs no users; splits them across workers and merges their windows.

Theory of operation. The master starts its workers through a `Transport` the first time a
test runs and keeps them across tests (the web UI runs many). One reader task reads the
transport's inbox for the master's whole life and turns each frame into state: a
`WindowReport` is merged into `environment.stats` (`StatsCollector.merge`, so the merged
record is exactly what one process would have recorded), a `WorkerLost` marks the worker
lost and gives its users to the others.

A test follows the same load model as a local one (`-u/-r`, or a LoadTestShape that the
master alone runs). Each `SetUsers` becomes per-class totals (`run_sequence`: fixed
counts first, then weights) dealt round-robin over the live workers by index, as Locust's
dispatcher deals them, so `fixed_count` holds globally and the spread is even; each worker
ramps at `rate / workers`, so the run ramps at the asked rate. Under an arrival rate the
master runs no schedule itself: each worker gets its exact part of it (`SetArrivals`,
`ArrivalPlan.split`) and runs it on its own clock; the master ends the test when the
stages end (or at `-t`).

Window listeners fire once per *round*: when every live worker has sent a window since the
last round, with the point of the newest index merged (worker windows of one second line
up on the same index). A worker that is late does not hold the timeline: after
`ROUND_PATIENCE` seconds the round fires with what arrived, from the master's own
`close_window` (0 users, so it adds nothing but the point).

At the stop every live worker gets `StopTest` and answers `Stopped` with its last, partial
window; the master waits for each answer, not for a fixed time. A worker silent for
`final_timeout` seconds (its users' grace plus `FINAL_WINDOW_SLACK`) is reported lost by
name, and the summary is made from what arrived.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from loadhopper._exceptions import LoadhopperError
from loadhopper.distributed._messages import (
    Configure,
    CustomMessage,
    Failed,
    Heartbeat,
    Hello,
    Quit,
    ResetStats,
    SetArrivals,
    SetTargets,
    SpawningComplete,
    Stopped,
    StopTest,
    WindowReport,
    decode,
)
from loadhopper.distributed._transport import Transport, WorkerLost, WorkerSpec
from loadhopper.distributed._workers import WorkerInfo, WorkerRecord, WorkerState
from loadhopper.runtime import Environment, RunnerState, spawn_schedule
from loadhopper.runtime import MasterRunner as _MasterBase
from loadhopper.runtime._arrival import ArrivalModel, ArrivalPlan
from loadhopper.runtime._dispatch import run_sequence
from loadhopper.runtime._distributed_names import CustomMessages, MessageHandler
from loadhopper.runtime._load_model import (
    LoadModel,
    SetUsers,
    model_of_test,
)
from loadhopper.runtime._load_model import (
    StopTest as StopCommand,
)
from loadhopper.runtime._runner import HISTORY_POINTS, WINDOW_SECONDS, _Background
from loadhopper.runtime._runner_greenlet import RunnerGreenlet
from loadhopper.runtime._usage import UsageMonitor
from loadhopper.runtime._user_pool import DRAIN_SECONDS, ON_STOP_GRACE_SECONDS
from loadhopper.stats import StatsCollector, TimelinePoint, WindowDelta
from loadhopper.user import User

__all__ = [
    "CPU_WARNING_PERCENT",
    "FINAL_WINDOW_SLACK",
    "HELLO_TIMEOUT",
    "MasterRunner",
]

logger = logging.getLogger(__name__)

HELLO_TIMEOUT = 60.0
"""Seconds the workers get to load the locustfile and say hello before the run fails."""

FINAL_WINDOW_SLACK = 5.0
"""Seconds, beyond its users' grace and on_stop time, a worker gets to send its last window."""

ROUND_PATIENCE = 1.5
"""Seconds a window round waits for a late worker before the listeners fire without it."""

CPU_WARNING_PERCENT = 90.0
"""Locust warns at 90 % CPU: above it, a worker's latencies include its own queueing."""

CPU_WARNING_WINDOWS = 3
"""Consecutive windows above `CPU_WARNING_PERCENT` before the warning (once per worker)."""


class MasterRunner(_MasterBase):
    """Drives workers through a transport; offers the `Runner` protocol to the CLI and UI.

    Args:
        environment: the run's environment (its stats receive the merged windows).
        transport: starts and carries the workers.
        spec: what makes a worker a copy of this run.
        count: how many workers to start (0: as many as the transport offers).
    """

    def __init__(
        self, environment: Environment, transport: Transport, spec: WorkerSpec, count: int
    ) -> None:
        self.environment = environment
        self.clock = environment.clock
        self.state = RunnerState.READY
        self.window_listeners: list[Callable[[TimelinePoint], None]] = []
        self.quitting = False
        self.target_user_count = 0
        self.spawn_rate = 0.0
        self.greenlet = RunnerGreenlet(self)  # type: ignore[arg-type]
        self.history: collections.deque[TimelinePoint] = collections.deque(maxlen=HISTORY_POINTS)
        self._transport = transport
        self._spec = spec
        self._count = count
        self._workers: list[WorkerRecord] = []
        self._by_link: dict[int, WorkerRecord] = {}
        self._reader: asyncio.Task[None] | None = None
        self._started = False
        self._messages = CustomMessages(environment)
        self._stop_requested: asyncio.Event | None = None
        self._drivers: _Background | None = None
        self._classes: tuple[type[User], ...] = ()
        self._active: tuple[type[User], ...] | None = None
        self._pending_round: set[int] = set()
        self._last_round = 0.0
        self._newest_index: int | None = None
        self._stats_reset_done = False
        self._closing = False
        self._generation = 0  # resets so far: older windows from a worker are dropped
        # `parsed_options` names whose values travel with every start (`SetTargets`,
        # `SetArrivals`): the web mode names the locustfile's own options here, so that what
        # its start form sets reaches the workers' users too.
        self.shared_options: tuple[str, ...] = ()

    # ---- what the UI and the CLI read ---------------------------------------------------

    @property
    def stats(self) -> StatsCollector:
        return self.environment.stats

    @property
    def user_count(self) -> int:
        """The users the live workers last reported."""
        return sum(w.user_count for w in self._workers if w.live)

    @property
    def user_classes_count(self) -> dict[str, int]:
        counts: collections.Counter[str] = collections.Counter()
        for worker in self._workers:
            if worker.live:
                counts.update(worker.classes)
        return dict(counts)

    @property
    def worker_count(self) -> int:
        """How many workers are live (Locust: ready, spawning or running)."""
        return sum(1 for w in self._workers if w.live and w.state is not WorkerState.STARTING)

    @property
    def workers(self) -> list[WorkerInfo]:
        """Every worker this master started, the lost ones included, by index."""
        return [w.info() for w in self._workers]

    @property
    def clients(self) -> list[str]:
        """The client ids of the live workers (Locust's `runner.clients`, iterated)."""
        return [w.client_id for w in self._workers if w.live]

    # ---- messages -------------------------------------------------------------------------

    def register_message(
        self, name: str, handler: MessageHandler, concurrent: bool = False
    ) -> None:
        """Call `handler(environment=..., msg=...)` for each message `name` from a worker."""
        self._messages.register(name, handler, concurrent)

    def send_message(self, name: str, data: Any = None, client_id: str | None = None) -> None:
        """Send a custom message to every live worker, or to the one with `client_id`."""
        targets = [w for w in self._workers if w.live and client_id in (None, w.client_id)]
        if client_id is not None and not targets:
            raise LoadhopperError(
                f"no live worker has the client id {client_id!r}; see runner.clients"
            )
        for worker in targets:
            worker.send(CustomMessage(name, data))

    # ---- workers --------------------------------------------------------------------------

    async def start_workers(self) -> None:
        """Start the workers and wait until each has said hello (done by the first `run`)."""
        if self._started:
            return
        self._started = True
        links = await self._transport.start(self._spec, self._count)
        if not links:
            raise LoadhopperError("the transport started no worker; ask for at least one")
        self._workers = [WorkerRecord(link, i) for i, link in enumerate(links)]
        self._by_link = {id(w.link): w for w in self._workers}
        self._reader = asyncio.create_task(self._read(), name="master-inbox")
        waits = [asyncio.ensure_future(w.hello.wait()) for w in self._workers]
        _done, pending = await asyncio.wait(waits, timeout=HELLO_TIMEOUT)
        for future in pending:
            future.cancel()
        for worker in self._workers:
            if worker.live and not worker.hello.is_set():
                self._lose(worker, f"it did not start within {HELLO_TIMEOUT:g} s")
        live = [w for w in self._workers if w.live]
        if not live:
            causes = "; ".join(f"{w.link.name}: {w.lost_cause}" for w in self._workers)
            raise LoadhopperError(f"no worker started ({causes}); fix the cause and run again")
        for worker in live:
            worker.send(Configure(worker.index, len(self._workers)))
        logger.info("%d workers ready.", len(live))

    async def aclose(self) -> None:
        """Tell every worker to quit and close the transport (bounded)."""
        self._closing = True  # workers that end from now on quit, they are not lost
        for worker in self._workers:
            worker.send(Quit())
        with contextlib.suppress(Exception):
            await self._transport.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader

    async def _read(self) -> None:
        async for link, item in self._transport.inbox():
            worker = self._by_link.get(id(link))
            if worker is None or not worker.live or self._closing:
                continue
            try:
                if isinstance(item, WorkerLost):
                    self._lose(worker, item.cause)
                else:
                    self._on_message(worker, item)
            except Exception:
                logger.exception("The master failed to handle a message from %s.", link.name)

    def _on_message(self, worker: WorkerRecord, frame: bytes) -> None:
        message = decode(frame)
        if isinstance(message, WindowReport):
            self._on_window(worker, message)
        elif isinstance(message, Hello):
            worker.client_id, worker.host, worker.pid = message.worker_id, message.host, message.pid
            worker.state = WorkerState.READY
            worker.hello.set()
        elif isinstance(message, SpawningComplete):
            # The master's spawning_complete says the users now running, not those of the
            # last window, which closed before the ramp ended.
            worker.user_count = message.user_count
            worker.classes = dict(message.classes)
            worker.spawned = True
            worker.state = WorkerState.RUNNING
            self._check_spawned()
        elif isinstance(message, Stopped):
            if message.final is not None:
                self._on_window(worker, message.final)
            worker.state = WorkerState.STOPPED
            worker.user_count = 0
            worker.classes = {}
            if worker.stopped is not None and not worker.stopped.done():
                worker.stopped.set_result(None)
        elif isinstance(message, Failed):
            self._lose(worker, message.reason)
        elif isinstance(message, CustomMessage):
            self._messages.handle(message.name, message.data, worker.client_id)
        else:
            raise ValueError(f"a worker sent a master's message ({type(message).__name__})")

    def _on_window(self, worker: WorkerRecord, report: WindowReport) -> None:
        delta = WindowDelta.from_bytes(report.delta)
        # A window the worker closed before it handled the last reset holds requests from
        # before it: dropped, so a reset is as exact as in one process.
        if report.generation == self._generation:
            self.environment.stats.merge(delta)
        worker.user_count = report.user_count
        worker.classes = dict(report.classes)
        worker.cpu_percent = report.cpu_percent
        self._watch_cpu(worker)
        self.environment.events.worker_report.fire(client_id=worker.client_id, data=report.data)
        if self._newest_index is None or delta.window_index > self._newest_index:
            self._newest_index = delta.window_index
        self._pending_round.discard(worker.index)
        if not self._pending_round:
            self._fire_round()

    def _watch_cpu(self, worker: WorkerRecord) -> None:
        if worker.cpu_percent <= CPU_WARNING_PERCENT:
            worker.hot_windows = 0
            return
        worker.hot_windows += 1
        if worker.hot_windows >= CPU_WARNING_WINDOWS and not worker.cpu_warned:
            worker.cpu_warned = True
            logger.warning(
                "%s is using %.0f%% CPU: its latencies include its own queueing; "
                "run fewer users per worker or more workers.",
                worker.link.name,
                worker.cpu_percent,
            )
            self.environment.events.cpu_warning.fire(
                environment=self.environment, cpu_usage=worker.cpu_percent
            )

    def _fire_round(self) -> None:
        self._beat()
        self._pending_round = {w.index for w in self._workers if w.live}
        self._last_round = self.clock.monotonic()
        index = self._newest_index
        self._newest_index = None
        if index is None:
            # Nobody reported in time: the master's own window (0 users) keeps the timeline.
            delta = self.stats.close_window(self.clock.time(), 0)
            index = delta.window_index
        try:
            point = self.stats.window_point(index)
        except KeyError:
            return
        for listener in list(self.window_listeners):
            listener(point)

    def _beat(self) -> None:
        events = self.environment.events
        for worker in self._workers:
            if worker.live:
                worker.send(Heartbeat())
                events.heartbeat_sent.fire(client_id=worker.client_id, timestamp=time.time())

    def _lose(self, worker: WorkerRecord, cause: str) -> None:
        if not worker.live:
            return
        worker.state = WorkerState.LOST
        worker.lost_cause = cause
        worker.user_count = 0
        worker.classes = {}
        logger.warning(
            "%s was lost: %s; its counted requests stay counted.", worker.link.name, cause
        )
        worker.hello.set()
        if worker.stopped is not None and not worker.stopped.done():
            worker.stopped.set_result(None)
        self._pending_round.discard(worker.index)
        if self._stop_requested is None or self.state in (
            RunnerState.STOPPING,
            RunnerState.CLEANUP,
        ):
            return
        if not any(w.live for w in self._workers):
            logger.error("Every worker was lost: stopping the test; the results so far are kept.")
            self.stop()
            return
        # Its users go to the others at once (Locust waits about a minute).
        logger.warning("Giving its users to the %d remaining workers.", self.worker_count)
        self._dispatch(self.target_user_count, self.spawn_rate)

    # ---- the test -----------------------------------------------------------------------

    async def run(
        self,
        user_count: int,
        spawn_rate: float,
        run_time: float | None = None,
        *,
        host: str | None = None,
        user_classes: Sequence[type[User]] | None = None,
    ) -> None:
        """Run one test on the workers until it stops (see `LocalRunner.run`)."""
        if self.state not in (RunnerState.READY, RunnerState.STOPPED):
            raise LoadhopperError("this runner is already running a test; call stop() first")
        spawn_schedule(user_count, spawn_rate)
        await self.start_workers()
        env = self.environment
        self._classes = tuple(env.user_classes if user_classes is None else user_classes)
        self._active = None
        self._host = host
        self._stop_requested = asyncio.Event()
        self._stats_reset_done = False
        self.quitting = False
        model = model_of_test(self, user_count, spawn_rate)
        # Locust's master knows the target before test_start fires: listeners deal data
        # to the workers by it (Locust's custom_messages.py example). A shape's first
        # tick comes after test_start, as the first window of a local shape run.
        self.target_user_count = user_count if env.shape_class is None else 0
        self.spawn_rate = spawn_rate
        with env.testing_host(host):
            env.stats.reset(self.clock.time())
            self._pending_round = {w.index for w in self._workers if w.live}
            self._last_round = self.clock.monotonic()
            self.state = RunnerState.SPAWNING
            env.events.test_start.fire(environment=env)
            try:
                async with asyncio.TaskGroup() as group:
                    drivers = self._drivers = _Background(group)
                    upkeep = _Background(group)
                    upkeep.start(self._round_timer(), "window-rounds")
                    if run_time is not None and model.honours_run_time:
                        drivers.start(self._stop_after(run_time), "run-time")
                    drivers.start(self._follow(model), "load-model")
                    await self._stop_requested.wait()
                    self.state = RunnerState.STOPPING
                    env.events.test_stopping.fire(environment=env)
                    await drivers.close()
                    await self._collect_final()
                    self.state = RunnerState.CLEANUP
                    await upkeep.close()
                    self._fire_round()
            except BaseExceptionGroup as group_error:
                if len(group_error.exceptions) == 1:
                    raise group_error.exceptions[0] from None
                raise
            finally:
                self._drivers = None
                self.state = RunnerState.STOPPED
                env.events.test_stop.fire(environment=env)
                self.greenlet.changed()

    async def _follow(self, model: LoadModel) -> None:
        if isinstance(model, ArrivalModel):
            await self._follow_arrivals(model.plan)
            return
        async for command in model.commands(self.clock):
            if isinstance(command, SetUsers):
                self.start(
                    command.user_count, command.spawn_rate, user_classes=command.user_classes
                )
            elif isinstance(command, StopCommand):
                logger.info("%s: stopping", command.reason)
                self.stop()
                return
            else:
                raise LoadhopperError(
                    "this load model starts single iterations, which distributed runs "
                    "cannot run yet; use a closed model (-u/-r or a LoadTestShape)"
                )

    async def _follow_arrivals(self, plan: ArrivalPlan) -> None:
        """Give each live worker its part of the schedule; stop when the stages end.

        Worker i of n runs the iterations k with k % n == i of the one schedule, so the
        total is exact, with its share of `max_users`; the `-u` users to pre-start are
        dealt as `_dispatch` deals users.
        """
        env = self.environment
        workers = [w for w in self._workers if w.live]
        if workers:
            user_count = self.target_user_count
            sequence = run_sequence(self._classes, user_count, env.weight_of)
            names = [c.__name__ for c in self._classes]
            self.state = RunnerState.SPAWNING
            count = len(workers)
            for position, worker in enumerate(workers):
                mine = collections.Counter(c.__name__ for c in sequence[position::count])
                worker.spawned = False
                worker.state = WorkerState.SPAWNING
                worker.send(
                    SetArrivals(
                        plan=plan.split(position, count),
                        targets=tuple((name, mine.get(name, 0)) for name in names),
                        spawn_rate=self.spawn_rate / count,
                        host=self._host,
                        user_count_total=user_count,
                        options=self._option_values(),
                    )
                )
        if plan.duration is not None:
            await self.clock.sleep(plan.duration)
            logger.info("the arrival stages ended: stopping")
            self.stop()

    async def _stop_after(self, run_time: float) -> None:
        await self.clock.sleep(run_time)
        logger.info("run time of %s s reached: stopping", run_time)
        self.stop()

    async def _round_timer(self) -> None:
        usage = UsageMonitor(self.environment)
        next_usage = self.clock.monotonic() + WINDOW_SECONDS
        while True:
            await self.clock.sleep(WINDOW_SECONDS / 2)
            now = self.clock.monotonic()
            if now - self._last_round >= ROUND_PATIENCE:
                self._fire_round()
            if now >= next_usage:  # the master's own second, whatever the workers do
                next_usage += WINDOW_SECONDS
                usage.window_closed()

    @property
    def final_timeout(self) -> float:
        """Seconds a worker gets to answer StopTest with its last window."""
        grace = self.environment.stop_timeout or DRAIN_SECONDS
        return grace + ON_STOP_GRACE_SECONDS + FINAL_WINDOW_SLACK

    async def _collect_final(self) -> None:
        loop = asyncio.get_running_loop()
        waiting = []
        for worker in self._workers:
            if worker.live:
                worker.stopped = loop.create_future()
                waiting.append(worker)
                worker.send(StopTest())
        if not waiting:
            return
        futures = [w.stopped for w in waiting if w.stopped is not None]
        await asyncio.wait(futures, timeout=self.final_timeout)
        for worker in waiting:
            if worker.live and worker.stopped is not None and not worker.stopped.done():
                self._lose(
                    worker,
                    f"it sent no last window within {self.final_timeout:g} s of the stop",
                )
            worker.stopped = None
            worker.spawned = False

    def start(
        self,
        user_count: int,
        spawn_rate: float,
        wait: bool = False,
        user_classes: Sequence[type[User]] | None = None,
    ) -> None:
        """Retarget the running test (or begin one, on the running loop)."""
        spawn_schedule(user_count, spawn_rate)
        if self._drivers is None or self.state in (RunnerState.STOPPING, RunnerState.CLEANUP):
            asyncio.get_running_loop().create_task(self.run(user_count, spawn_rate), name="test")
            return
        self._active = None if user_classes is None else tuple(user_classes)
        self._dispatch(user_count, spawn_rate)

    def _dispatch(self, user_count: int, spawn_rate: float) -> None:
        """Send every live worker its per-class targets for `user_count` users in all."""
        env = self.environment
        self.target_user_count = user_count
        self.spawn_rate = spawn_rate
        classes = self._classes if self._active is None else self._active
        sequence = run_sequence(classes, user_count, env.weight_of)
        workers = [w for w in self._workers if w.live]
        if not workers:
            return
        self.state = RunnerState.SPAWNING
        names = [c.__name__ for c in self._classes]
        for position, worker in enumerate(workers):
            mine = collections.Counter(c.__name__ for c in sequence[position :: len(workers)])
            worker.spawned = False
            worker.state = WorkerState.SPAWNING
            worker.send(
                SetTargets(
                    targets=tuple((name, mine.get(name, 0)) for name in names),
                    spawn_rate=spawn_rate / len(workers),
                    host=self._host,
                    user_count_total=user_count,
                    options=self._option_values(),
                )
            )

    def _option_values(self) -> tuple[tuple[str, Any], ...]:
        options = self.environment.parsed_options
        if options is None:
            return ()
        return tuple((n, getattr(options, n)) for n in self.shared_options if hasattr(options, n))

    def _check_spawned(self) -> None:
        if self.state is not RunnerState.SPAWNING:
            return
        if all(w.spawned for w in self._workers if w.live):
            self.state = RunnerState.RUNNING
            env = self.environment
            env.events.spawning_complete.fire(user_count=self.user_count)
            if env.reset_stats and not self._stats_reset_done:
                self._stats_reset_done = True
                self.reset_stats()

    def stop(self) -> None:
        """Stop the test; `run()` returns once every worker sent its last window."""
        if self._stop_requested is not None:
            self._stop_requested.set()

    def quit(self) -> None:
        """Stop the test because the process is about to exit."""
        self.quitting = True
        self.stop()
        self.greenlet.changed()

    def reset_stats(self) -> None:
        """Reset the merged statistics and every worker's unreported ones; fire `reset_stats`."""
        self._generation += 1
        self.environment.stats.reset(self.clock.time())
        for worker in self._workers:
            worker.send(ResetStats(self._generation))
        self.environment.events.reset_stats.fire()
