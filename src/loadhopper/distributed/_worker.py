"""The worker side of every transport: `serve` answers one master until it says quit.

A transport calls `serve` in the worker process (or Ray actor) with the frames from the
master and a function that sends frames back. `serve` builds the run's Environment (the
locustfile loaded relative to `spec.cwd`, `spec.argv` parsed as the CLI parses it, unless
the transport already has one, as a forked child does), makes a `WorkerRunner`, says
`Hello`, and then follows the master: `Configure`, `SetTargets` (which begins the test the
first time), `SetArrivals` (which begins a test under an arrival rate, with this worker's
part of the schedule), `StopTest` (answered with `Stopped` and the last window), custom
messages, and `Quit`. Each closed window goes to the master as a `WindowReport` after
`events.report_to_master` has had its say, as Locust does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from loadhopper.distributed._messages import (
    Configure,
    CustomMessage,
    Failed,
    Heartbeat,
    Hello,
    MasterMessage,
    Quit,
    ResetStats,
    SetArrivals,
    SetTargets,
    SpawningComplete,
    Stopped,
    StopTest,
    WindowReport,
    WorkerMessage,
    decode,
    encode,
)
from loadhopper.distributed._transport import WorkerSpec
from loadhopper.runtime import Environment, WorkerRunner
from loadhopper.runtime._usage import CpuMeter
from loadhopper.stats import WindowDelta

__all__ = ["EXIT_WORKER_FAILED", "EnvironmentFactory", "serve"]

logger = logging.getLogger(__name__)

EnvironmentFactory = Callable[[WorkerSpec], Environment]

EXIT_WORKER_FAILED = 1
"""A worker's exit code when it could not run (it said why in a `Failed` message)."""


async def serve(
    spec: WorkerSpec,
    frames: AsyncIterator[bytes],
    send: Callable[[bytes], None],
    *,
    environment_factory: EnvironmentFactory,
) -> int:
    """Answer the master's frames until it says quit; return the worker's exit code.

    Args:
        spec: what makes this worker a copy of the run.
        frames: the master's frames, in order; their end means the master is gone.
        send: sends one frame to the master (non-blocking).
        environment_factory: builds the run's Environment (a forked child already has
            it; a Ray actor loads `spec` as the CLI does; tests build theirs).

    Returns:
        0 after `Quit` or the end of `frames`, `EXIT_WORKER_FAILED` if the run could not
        be built (the master was told why).
    """

    def tell(message: WorkerMessage) -> None:
        send(encode(message))

    try:
        environment = environment_factory(spec)
    except BaseException as exc:  # SystemExit from an argument error included
        tell(Failed(f"the worker could not load the run: {type(exc).__name__}: {exc}"))
        return EXIT_WORKER_FAILED
    host = socket.gethostname()
    pid = os.getpid()
    runner = WorkerRunner(environment, client_id=f"{host}_{pid}_{id(environment):x}")
    environment.runner = runner
    worker = _Worker(runner, tell)
    environment.events.init.fire(environment=environment, runner=runner, web_ui=None)
    tell(Hello(runner.client_id, host, pid))
    try:
        async for frame in frames:
            message = decode(frame)
            if isinstance(message, Quit):
                break
            await worker.handle(message)  # type: ignore[arg-type]
    finally:
        await worker.end()
        environment.events.quitting.fire(reverse=True, environment=environment)
    return 0


class _Worker:
    """One worker's state between messages: its runner and the test task."""

    def __init__(self, runner: WorkerRunner, tell: Callable[[WorkerMessage], None]) -> None:
        self.runner = runner
        self._tell = tell
        self._test: asyncio.Task[None] | None = None
        self._final: WindowReport | None = None
        self._cpu = CpuMeter()
        self._generation = 0
        runner.window_sink = self._on_window
        runner.message_sink = lambda name, data: tell(CustomMessage(name, data))
        runner.environment.events.spawning_complete.add_listener(self._on_spawned)

    def _on_spawned(self, user_count: int, **_kwargs: Any) -> None:
        classes = tuple(sorted(self.runner.user_classes_count.items()))
        self._tell(SpawningComplete(user_count, classes))

    def _on_window(self, delta: WindowDelta, final: bool) -> None:
        runner = self.runner
        data: dict[str, Any] = {}
        # Locust's hook: listeners add their own keys to what goes to the master.
        runner.environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
        report = WindowReport(
            delta=delta.to_bytes(),
            user_count=delta.user_count,
            classes=tuple(sorted(runner.user_classes_count.items())),
            cpu_percent=self._cpu.read(),
            data=data,
            generation=self._generation,
        )
        if final:
            self._final = report  # sent with Stopped, once the test has ended
        else:
            self._tell(report)

    async def handle(self, message: MasterMessage) -> None:
        runner = self.runner
        if isinstance(message, Configure):
            runner.configure(message.index, message.count)
        elif isinstance(message, SetTargets):
            _apply_options(runner.environment, message.options)
            targets = dict(message.targets)
            runner.set_targets(targets)
            runner.target_user_count = message.user_count_total
            total = sum(targets.values())
            if self._test is None or self._test.done():
                self._test = asyncio.create_task(
                    self._run(total, message.spawn_rate, message.host), name="worker-test"
                )
            else:
                runner.start(total, message.spawn_rate)
        elif isinstance(message, SetArrivals):
            # This worker's part of the schedule; its master ends the test.
            _apply_options(runner.environment, message.options)
            runner.environment.arrival_plan = message.plan
            targets = dict(message.targets)
            runner.set_targets(targets)
            runner.target_user_count = message.user_count_total
            if self._test is None or self._test.done():
                total = sum(targets.values())
                self._test = asyncio.create_task(
                    self._run(total, message.spawn_rate, message.host), name="worker-test"
                )
        elif isinstance(message, ResetStats):
            self._generation = message.generation
            runner.reset_stats()
        elif isinstance(message, StopTest):
            await self._stop()
        elif isinstance(message, Heartbeat):
            runner.environment.events.heartbeat_received.fire(
                client_id=runner.client_id, timestamp=time.time()
            )
        elif isinstance(message, CustomMessage):
            runner.handle_message(message.name, message.data)

    async def _run(self, total: int, rate: float, host: str | None) -> None:
        self._final = None
        try:
            await self.runner.run(total, rate, host=host)
        except Exception as exc:
            logger.exception("The worker's test ended with an internal error.")
            self._tell(Failed(f"the worker's test failed: {type(exc).__name__}: {exc}"))

    async def _stop(self) -> None:
        test = self._test
        if test is None:
            self._tell(Stopped(None))
            return
        await asyncio.sleep(0)  # a test task created just now enters run() first
        self.runner.stop()
        await asyncio.wait([test])
        self._test = None
        self._tell(Stopped(self._final))
        self._final = None

    async def end(self) -> None:
        if self._test is not None and not self._test.done():
            self.runner.quit()
            with contextlib.suppress(Exception):
                await asyncio.wait([self._test])


def _apply_options(environment: Environment, options: tuple[tuple[str, Any], ...]) -> None:
    """Set the master's shared option values on this worker's `parsed_options`, in place
    (as the web UI sets them on the master's: a user that kept the namespace sees them)."""
    if not options:
        return
    if environment.parsed_options is None:
        environment.parsed_options = argparse.Namespace()
    for name, value in options:
        setattr(environment.parsed_options, name, value)
