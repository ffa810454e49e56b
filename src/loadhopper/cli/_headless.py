"""The headless run: the test on uvloop, the periodic table, signals, and the final outputs.

Stopping. The first SIGINT (Ctrl-C) or SIGTERM asks the runner to stop: users get
`--stop-timeout` seconds to finish their task. A second one cancels the run at once. Either
way `run()` returns normally, so the summary is printed and every file is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from loadhopper import __version__
from loadhopper.cli._distributed import close_workers
from loadhopper.cli._options import Options
from loadhopper.cli._otel import OtelExport
from loadhopper.cli._outputs import Outputs
from loadhopper.cli._prometheus_server import start_metrics
from loadhopper.report import RunInfo
from loadhopper.runtime import Environment, new_event_loop
from loadhopper.stats import StatsSnapshot, TimelinePoint

__all__ = ["HeadlessResult", "run_headless"]

logger = logging.getLogger(__name__)

# Locust prints the console table every 2 s (stats.CONSOLE_STATS_INTERVAL_SEC).
CONSOLE_INTERVAL_SECONDS = 2.0
# Headless defaults when -u / -r are not given, as Locust's.
DEFAULT_USERS = 1
DEFAULT_SPAWN_RATE = 1.0


@dataclass(frozen=True, slots=True)
class HeadlessResult:
    """What a finished headless run leaves behind.

    Attributes:
        snapshot: the final statistics.
        run: the run's identity, for the reports.
        forced: True if a second signal cut the stop short.
        internal_error: the exception that ended the run when loadhopper itself failed
            (already logged with its traceback); None when the test ended normally.
    """

    snapshot: StatsSnapshot
    run: RunInfo
    forced: bool
    internal_error: Exception | None = None


class _Quittable(Protocol):
    # All the stopper needs of a runner, whichever runner the environment made.
    def quit(self) -> None: ...


class _Stopper:
    """Counts stop signals: the first stops the runner gently, the second cancels the run."""

    def __init__(self, runner: _Quittable, run_task: asyncio.Task[None]) -> None:
        self.runner = runner
        self.run_task = run_task
        self.count = 0

    def __call__(self, signum: int) -> None:
        self.count += 1
        name = signal.Signals(signum).name
        if self.count == 1:
            logger.info("%s received: stopping the test (send it again to stop at once).", name)
            self.runner.quit()
        else:
            logger.warning("%s received again: stopping at once.", name)
            self.run_task.cancel()


async def _print_periodically(env: Environment, outputs: Outputs) -> None:
    while True:
        await asyncio.sleep(CONSOLE_INTERVAL_SECONDS)
        outputs.print_periodic(env.stats.snapshot(time.time()))


def _host_of(env: Environment) -> str | None:
    if env.host:
        return env.host
    hosts = {getattr(cls, "host", None) for cls in env.user_classes} - {None, ""}
    return str(next(iter(hosts))) if len(hosts) == 1 else None


async def _run(env: Environment, options: Options, outputs: Outputs) -> HeadlessResult:
    runner = env.runner or env.create_local_runner()
    plan = env.arrival_plan
    if plan is None:
        users = options.num_users if options.num_users is not None else DEFAULT_USERS
        rate = options.spawn_rate if options.spawn_rate is not None else DEFAULT_SPAWN_RATE
    else:
        # Under an arrival rate -u only pre-starts users (none unless given: they start on
        # demand), within a second unless -r says otherwise.
        users = options.num_users or 0
        rate = options.spawn_rate if options.spawn_rate is not None else float(max(users, 1))

    def on_window(point: TimelinePoint) -> None:
        outputs.on_window(env.stats.snapshot(point.time), point)

    try:
        # Bound before the test begins, so a port in use is one line and no test runs.
        metrics = await start_metrics(env, options)
    except BaseException:
        await close_workers(env)
        raise
    otel = OtelExport(env) if options.otel else None
    try:
        if otel is not None:
            otel.start()  # without the `otel` extra: a usage error, before the test
    except BaseException:
        if metrics is not None:
            await metrics.close()
        await close_workers(env)
        raise
    runner.window_listeners.append(on_window)
    loop = asyncio.get_running_loop()
    start = time.time()
    run_task = asyncio.create_task(runner.run(users, rate, options.run_time), name="test")
    stopper = _Stopper(runner, run_task)
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows loops have no signal handlers
            loop.add_signal_handler(signum, stopper, signum)
    printer = None
    if not options.only_summary:
        printer = asyncio.create_task(_print_periodically(env, outputs), name="console")
    internal_error: Exception | None = None
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await run_task
    except Exception as error:
        # A bug in loadhopper (user-code errors are recorded, not raised). The statistics so
        # far are still true, so the run ends like any other and every output is written;
        # the exit code says what happened.
        logger.exception("The test ended with an internal error; the results so far are kept.")
        internal_error = error
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(signum)
        if printer is not None:
            printer.cancel()
        runner.window_listeners.remove(on_window)
        await close_workers(env)
        if otel is not None:
            await otel.stop()  # the final statistics, workers' last reports merged
        if metrics is not None:
            await metrics.close()
    end = time.time()
    run = RunInfo(
        start_time=start,
        end_time=end,
        users=users,
        spawn_rate=rate,
        run_time=options.run_time,
        host=_host_of(env),
        locustfile=options.locustfile,
        version=__version__,
        load_model="" if plan is None else plan.describe(),
    )
    return HeadlessResult(env.stats.snapshot(end), run, stopper.count > 1, internal_error)


def run_headless(env: Environment, options: Options, outputs: Outputs) -> HeadlessResult:
    """Run the test on a fresh uvloop event loop until it ends or is stopped by a signal.

    Args:
        env: the environment, with its User classes and events.
        options: the parsed options (`-u`, `-r`, `-t`, `--only-summary`, ...).
        outputs: where the periodic tables and history rows go.

    Returns:
        The final statistics and run information; nothing has been printed or written
        for the end of the run yet (see `Outputs.finish`).
    """
    coroutine: Coroutine[Any, Any, HeadlessResult] = _run(env, options, outputs)
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(coroutine)
