"""WebController: the test lifecycle behind the web UI, on the runner's event loop.

Theory of operation. One runner (any `Runner`) runs one test at a time; `start()` begins a
test as an asyncio task that awaits `runner.run(...)` with the form's parameters (host and
classes included: the environment is never changed), `edit()` retargets it with
`runner.start()`,
`stop()` asks it to end, and after it has ended `start()` may begin the next one. The
controller listens to the runner's one-second windows and keeps, across tests and stats
resets, what a reopened browser tab needs: the chart timeline (bounded), the marks where each
test began, and the history CSV rows. Every window's snapshot is taken once and shared with
the SSE feed and with the CLI's outputs (`window_listeners`), so an open UI adds no second
snapshot per second.

A distributed run's runner is a `MasterRunner`: the controller drives it through the same
`Runner` calls, and `workers()` tells the page who runs the users. `warm_up()` starts the
workers as soon as the UI serves, so that the page lists them before the first test (as
Locust's master shows its connected workers); a test started meanwhile waits for them.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from loadhopper import __version__
from loadhopper._exceptions import ConfigError, LoadhopperError
from loadhopper.distributed import MasterRunner, WorkerInfo
from loadhopper.report import RunInfo, history_csv_header, history_csv_rows
from loadhopper.runtime import Environment, Runner, RunnerState
from loadhopper.stats import StatsSnapshot, ThresholdResult, TimelinePoint
from loadhopper.user import User
from loadhopper.web._forms import check_class_settings, resolve_options, setting_of
from loadhopper.web._logs import LogBuffer
from loadhopper.web._parameters import ClassSetting, CustomOption, EditParameters, StartParameters

__all__ = ["ControllerStatus", "FinishedTest", "WebController"]

logger = logging.getLogger(__name__)

# The chart history a tab can show: one hour of one-second points, the same capacity as the
# collector's own timeline (stats/_timeline.py).
TIMELINE_LIMIT = 3600
# History CSV rows (Aggregated only) kept for the download: six hours at one row a second,
# about 1.5 MB of text. The --csv file on disk has no such cap.
HISTORY_LIMIT = 6 * 3600
# States in which a test can no longer be changed.
_ENDED = frozenset({RunnerState.STOPPING, RunnerState.CLEANUP, RunnerState.STOPPED})


@dataclass(frozen=True, slots=True)
class ControllerStatus:
    """What the header bar shows, at one moment.

    Attributes:
        running: True from a start until that test has ended.
        state: the runner's state (READY before the first test).
        user_count: users running now.
        target_users: the users the test is heading for (0 before the first test).
        spawn_rate: the current ramp's users per second.
        host: the target host of the current or last test (None: each class's own).
        run_time: the current or last test's run-time limit in seconds, or None.
        test_start: when the current or last test started (epoch seconds), or None.
        tests_started: how many tests this process has started.
        error: the last test's unexpected error, one line, or None.
        generation: grows with every change; a page keeps the status with the highest one,
            since a control's answer and the event stream can arrive in either order.
        load_model: the open model's one-line description, "" for the closed model.
        class_counts: (class name, users running now) pairs, in the classes' order.
    """

    running: bool
    state: RunnerState
    user_count: int
    target_users: int
    spawn_rate: float
    host: str | None
    run_time: float | None
    test_start: float | None
    tests_started: int
    error: str | None
    generation: int
    load_model: str = ""
    class_counts: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class FinishedTest:
    """A test that has ended: its final statistics and its run information."""

    snapshot: StatsSnapshot
    run: RunInfo


def _class_host(classes: list[type[User]]) -> str | None:
    hosts = {getattr(cls, "host", None) for cls in classes} - {None, ""}
    return str(next(iter(hosts))) if len(hosts) == 1 else None


class WebController:
    """Starts, changes, stops and resets tests for the web UI; one per process.

    Every method must be called on the event loop the runner runs on (Starlette endpoints
    are). The constructor starts nothing.

    Attributes:
        environment: the test environment (its runner is created if missing).
        runner: the environment's runner.
        window_listeners: called with each closed window's snapshot and point, for outputs
            that want them (the CLI's CSV files); the snapshot is shared, never retaken.
        test_end_listeners: called with each finished test.
        load_model: one line on the open model driving the load (RunInfo.load_model), ""
            for the closed model; set by whoever configures the run.
        threshold_source: returns the thresholds' verdicts now (as evaluated so far, on the
            merged statistics), or None when the run has no thresholds; read by the page
            each second and once more when a test ends, for its RunInfo.
        class_picker: the start form edits each class's weight and fixed count
            (`--class-picker`); choosing which classes run needs no flag.
        custom_options: the locustfile's own options the start form shows; a start sets
            them on `environment.parsed_options`.
        logs: the Logs tab's lines, or None when nothing collects them.
    """

    def __init__(
        self,
        environment: Environment,
        *,
        locustfile: str = "locustfile.py",
        locustfile_source: str | None = None,
        full_history: bool = False,
        defaults: StartParameters | None = None,
        load_model: str = "",
    ) -> None:
        """Prepare the controller.

        Args:
            environment: the environment to run tests in.
            locustfile: the locustfile's path as given, for the reports.
            locustfile_source: the locustfile's text, shown in the HTML report.
            full_history: the history download gets every row each second, not only the
                Aggregated row (as `--csv-full-history`).
            defaults: what the start form shows first (the command line's -u, -r, -t, -H).
            load_model: the open model's one-line description ("" for the closed model).
        """
        self.environment = environment
        self.runner: Runner = environment.runner or environment.create_local_runner()
        self.locustfile = locustfile
        self.locustfile_source = locustfile_source
        self.all_classes: tuple[type[User], ...] = tuple(environment.user_classes)
        self.default_host = environment.host
        self.defaults = defaults or StartParameters(users=1, spawn_rate=1.0, host=environment.host)
        self.window_listeners: list[Callable[[StatsSnapshot, TimelinePoint], None]] = []
        self.test_end_listeners: list[Callable[[FinishedTest], None]] = []
        self.load_model = load_model
        self.threshold_source: Callable[[], tuple[ThresholdResult, ...]] | None = None
        self.class_picker = False
        self.custom_options: tuple[CustomOption, ...] = ()
        self.logs: LogBuffer | None = None
        self._full_history = full_history
        self._timeline: collections.deque[TimelinePoint] = collections.deque(maxlen=TIMELINE_LIMIT)
        self._history: collections.deque[list[str]] = collections.deque(maxlen=HISTORY_LIMIT)
        self._test_starts: list[float] = []
        self._latest: StatsSnapshot | None = None
        self._task: asyncio.Task[None] | None = None
        self._active = False
        self._parameters: StartParameters | None = None
        self._test_start: float | None = None
        self._error: str | None = None
        self.finished: FinishedTest | None = None
        self.generation = 0  # bumped on every change the page should see at once
        self._changed = asyncio.Event()
        self._warm_up: asyncio.Task[None] | None = None
        self._stop_early = False
        self._entered_run = False
        self._workers_error: str | None = None
        self.runner.window_listeners.append(self._on_window)

    # ---- reading --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True from `start()` until the test's `runner.run()` has returned."""
        return self._active

    def status(self) -> ControllerStatus:
        """The state, users and parameters now."""
        runner = self.runner
        params = self._parameters
        state = runner.state
        if self.running and state in (RunnerState.READY, RunnerState.STOPPED):
            state = RunnerState.SPAWNING  # the test's task has not entered run() yet
        return ControllerStatus(
            running=self.running,
            state=state,
            user_count=runner.user_count,
            target_users=runner.target_user_count if params else 0,
            spawn_rate=runner.spawn_rate,
            host=self._host(),
            run_time=params.run_time if params else None,
            test_start=self._test_start,
            tests_started=len(self._test_starts),
            error=self._error or self._workers_error,
            generation=self.generation,
            load_model=self.load_model,
            class_counts=self._class_counts(),
        )

    def _class_counts(self) -> tuple[tuple[str, int], ...]:
        counts = self.runner.user_classes_count
        return tuple((cls.__name__, counts.get(cls.__name__, 0)) for cls in self.all_classes)

    def class_settings(self) -> tuple[tuple[str, ClassSetting], ...]:
        """Each class's weight and fixed count now (the picker's last change stays)."""
        return tuple((cls.__name__, setting_of(cls)) for cls in self.all_classes)

    def workers(self) -> tuple[WorkerInfo, ...] | None:
        """A distributed run's workers, lost ones included, by index; None for one process."""
        runner = self.runner
        if not isinstance(runner, MasterRunner):
            return None
        return tuple(runner.workers)

    def snapshot(self) -> StatsSnapshot:
        """The statistics now (the last window's snapshot while a test runs)."""
        if self.running and self._latest is not None:
            return self._latest
        return self.environment.stats.snapshot(time.time())

    def timeline(self) -> tuple[TimelinePoint, ...]:
        """The chart history: closed windows of every test so far, oldest first (bounded)."""
        return tuple(self._timeline)

    def test_starts(self) -> tuple[float, ...]:
        """When each test started, epoch seconds, for the charts' marks."""
        return tuple(self._test_starts)

    def thresholds(self) -> tuple[ThresholdResult, ...]:
        """The thresholds' verdicts: live while a test runs, the final ones after it."""
        if self.finished is not None and not self.running:
            return self.finished.run.thresholds
        return self.threshold_source() if self.threshold_source is not None else ()

    def history_csv_rows(self) -> list[list[str]]:
        """The history CSV (header first): one row set per closed window, across tests."""
        header = history_csv_header(self.environment.stats.percentiles)
        return [header, *self._history]

    def run_info(self, now: float | None = None) -> RunInfo | None:
        """The current or last test's run information (end time: now while it runs)."""
        if self.finished is not None and not self.running:
            return self.finished.run
        if self._parameters is None or self._test_start is None:
            return None
        params = self._parameters
        return RunInfo(
            start_time=self._test_start,
            end_time=time.time() if now is None else now,
            users=params.users,
            spawn_rate=params.spawn_rate,
            run_time=params.run_time,
            host=self._host(),
            locustfile=self.locustfile,
            version=__version__,
            load_model=self.load_model,
            thresholds=self.thresholds(),
        )

    def _host(self) -> str | None:
        params = self._parameters
        if params is not None and params.host:
            return params.host
        if self.default_host:
            return self.default_host
        return _class_host(list(self._classes(params.user_classes if params else ())))

    async def wait_for_change(self, timeout: float) -> None:
        """Return at the next window or control action, or after `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def _notify(self) -> None:
        self.generation += 1
        self._changed.set()
        self._changed = asyncio.Event()

    # ---- acting ---------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Start a distributed run's workers now, in the background (nothing for one process)."""
        runner = self.runner
        if not isinstance(runner, MasterRunner) or self._warm_up is not None:
            return
        self._warm_up = asyncio.get_running_loop().create_task(
            runner.start_workers(), name="start-workers"
        )
        self._warm_up.add_done_callback(self._warmed_up)

    def _warmed_up(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            # Retrieved here so that it is reported once, now; each start re-raises it.
            logger.error("The workers did not start: %s", exc)
            self._workers_error = f"{type(exc).__name__}: {exc}"
        self._notify()

    def start(self, parameters: StartParameters) -> None:
        """Start a new test; the previous one must have ended.

        Raises:
            LoadhopperError: a test is still running (stop it first).
            ConfigError: an unknown User class.
        """
        if self.running:
            raise LoadhopperError("A test is already running; stop it before starting a new one.")
        # Everything is checked before anything changes: an unknown class or option, a bad
        # value, or a choice of classes none of which would get a user.
        chosen = self._classes(parameters.user_classes)
        settings = check_class_settings(parameters.class_settings, self.all_classes, chosen)
        option_values = resolve_options(parameters.options, self.custom_options)
        self._apply(settings, option_values)
        self._parameters = parameters
        self._error = None
        self.finished = None
        self._latest = None
        self._test_start = time.time()
        self._test_starts.append(self._test_start)
        self._active = True
        self._entered_run = False
        self._stop_early = False
        coroutine = self._run(parameters, self._test_start)
        self._task = asyncio.get_running_loop().create_task(coroutine, name="web-test")
        self._notify()

    def edit(self, parameters: EditParameters) -> None:
        """Change the running test's user count, ramping at the given rate.

        Raises:
            LoadhopperError: no test is running.
        """
        if not self.running or (self._entered() and self.runner.state in _ENDED):
            raise LoadhopperError("No test is running; start one before changing its users.")
        if self._entered():
            self.runner.start(parameters.users, parameters.spawn_rate)
        # else the test still waits for its workers: it will start with these numbers.
        if self._parameters is not None:
            old = self._parameters
            self._parameters = dataclasses.replace(
                old, users=parameters.users, spawn_rate=parameters.spawn_rate
            )
        self._notify()

    def stop(self) -> None:
        """Ask the running test to stop (users get the stop timeout); safe when idle."""
        if self.running and not self._entered():
            self._stop_early = True  # the runner has no test to stop yet: it will not begin
        self.runner.stop()
        self._notify()

    def quit(self) -> None:
        """Stop the running test because the process is about to exit (`runner.quit()`)."""
        if self.running and not self._entered():
            self._stop_early = True
        self.runner.quit()
        self._notify()

    def _entered(self) -> bool:
        # False from start() until its task calls runner.run(): the task has not run yet,
        # or it waits for the workers. The runner has no test to change or stop until then.
        return self._entered_run

    def reset(self) -> None:
        """Reset the statistics now (the charts keep their history)."""
        self.runner.reset_stats()
        self._latest = None
        self._notify()

    async def wait(self) -> None:
        """Return once no test is running and its end listeners have run."""
        task = self._task
        if task is not None:
            await asyncio.wait([task])

    def cancel(self) -> None:
        """Cancel the running test at once (a second Ctrl-C)."""
        if self._task is not None:
            self._task.cancel()

    def close(self) -> None:
        """Stop listening to the runner's windows (and stop starting the workers)."""
        if self._warm_up is not None and not self._warm_up.done():
            self._warm_up.cancel()
        if self._on_window in self.runner.window_listeners:
            self.runner.window_listeners.remove(self._on_window)

    # ---- internals ------------------------------------------------------------------------

    def _classes(self, names: tuple[str, ...]) -> tuple[type[User], ...]:
        if not names:
            return self.all_classes
        by_name = {cls.__name__: cls for cls in self.all_classes}
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise ConfigError(
                f"Unknown User class {unknown[0]!r}; choose from {', '.join(by_name)}."
            )
        return tuple(by_name[name] for name in dict.fromkeys(names))

    def _apply(self, settings: dict[type[User], ClassSetting], options: dict[str, object]) -> None:
        # As Locust's picker does, the classes themselves take the new weight and count: the
        # user pool and a master's split both read them from the class, and the next test's
        # form starts from them.
        for cls, setting in settings.items():
            cls.weight = setting.weight
            cls.fixed_count = setting.fixed_count
        if options:
            # Locust's /swarm also updates parsed_options in place: a listener or a user
            # that kept a reference to it sees the new values.
            if self.environment.parsed_options is None:
                self.environment.parsed_options = argparse.Namespace()
            for dest, value in options.items():
                setattr(self.environment.parsed_options, dest, value)

    async def _run(self, parameters: StartParameters, start: float) -> None:
        try:
            if self._warm_up is not None:
                # The master's run() would start the workers itself, but not while the
                # warm-up is still doing it: wait for that (its error is this test's).
                await asyncio.shield(self._warm_up)
            parameters = self._parameters or parameters  # as edited before it began
            if not self._stop_early:
                self._entered_run = True
                await self.runner.run(
                    parameters.users,
                    parameters.spawn_rate,
                    parameters.run_time,
                    # An empty host field means "as the command line said": -H, else each
                    # class's own; the runner falls back to the environment's host on None.
                    host=parameters.host or None,
                    user_classes=self._classes(parameters.user_classes),
                )
        except asyncio.CancelledError:
            logger.warning("The test was cancelled before its users had stopped.")
        except Exception as exc:
            # A bug in loadhopper (user-code errors are recorded, not raised): keep serving
            # the UI, show the error, and let the CLI exit with its internal-error code.
            logger.exception("The test ended with an unexpected error.")
            self._error = f"{type(exc).__name__}: {exc}"
        finally:
            self._active = False
        end = time.time()
        parameters = self._parameters or parameters  # as last edited
        snapshot = self.environment.stats.snapshot(end)
        self._latest = snapshot
        run = RunInfo(
            start_time=start,
            end_time=end,
            users=parameters.users,
            spawn_rate=parameters.spawn_rate,
            run_time=parameters.run_time,
            host=self._host(),
            locustfile=self.locustfile,
            version=__version__,
            load_model=self.load_model,
            # The last evaluation, taken after the test ended (the source judges its end).
            thresholds=self.threshold_source() if self.threshold_source is not None else (),
        )
        self.finished = FinishedTest(snapshot, run)
        for listener in list(self.test_end_listeners):
            listener(self.finished)
        self._notify()

    def _on_window(self, point: TimelinePoint) -> None:
        snapshot = self.environment.stats.snapshot(point.time)
        self._latest = snapshot
        self._timeline.append(point)
        self._history.extend(
            history_csv_rows(snapshot, point.user_count, full_history=self._full_history)
        )
        for listener in list(self.window_listeners):
            listener(snapshot, point)
        self._notify()

    @property
    def error(self) -> str | None:
        """The last test's unexpected error, one line, or None."""
        return self._error
