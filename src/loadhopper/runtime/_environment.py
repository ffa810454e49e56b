"""Environment: what one test run is made of (user classes, stats, events, runner)."""

from __future__ import annotations

import importlib
import logging
import os
import traceback
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from loadhopper._exceptions import LoadhopperError
from loadhopper.http import BodyLimits, SourceAddresses
from loadhopper.runtime._clock import REAL_CLOCK, Clock
from loadhopper.runtime._events import Events
from loadhopper.stats import StatsCollector, capped_message, template_url
from loadhopper.stats._settings import report_percentiles
from loadhopper.user import User
from loadhopper.user._schedule import CURRENT_ITERATION
from loadhopper.user._task import TagFilter
from loadhopper.user._user_environment import RequestSink, UrlNamer

if TYPE_CHECKING:
    from loadhopper.runtime._arrival import ArrivalPlan
    from loadhopper.runtime._distributed_names import MasterRunner, WorkerRunner
    from loadhopper.runtime._runner import LocalRunner
    from loadhopper.runtime._runner_protocol import Runner

__all__ = ["Environment"]

logger = logging.getLogger(__name__)

# Frames from these directories are the runner's machinery, not the user's code: they are
# left out of the tracebacks shown in the exceptions table.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MACHINERY = tuple(os.path.join(_PACKAGE_DIR, part) for part in ("user", "runtime", "_bridge.py"))
_TRACEBACK_FRAMES = 8


def user_frames(exception: BaseException) -> list[traceback.FrameSummary]:
    """The innermost frames of an exception's traceback that are the locustfile's own.

    loadhopper's machinery (user/, runtime/, the bridge) is left out: the table shows where
    user code failed, not how the runner called it.
    """
    return [
        frame
        for frame in traceback.extract_tb(exception.__traceback__)
        if not frame.filename.startswith(_MACHINERY)
    ][-_TRACEBACK_FRAMES:]


class Environment:
    """One test run's setup: the user classes, statistics, event hooks and runner.

    Args:
        user_classes: the User classes to run.
        shape_class: a LoadTestShape class, or None.
        tags: run only tasks with at least one of these tags (None: all tasks).
        exclude_tags: skip tasks with any of these tags.
        events: the event hooks; a fresh `Events()` when None.
        host: overrides every User class's `host` (the class itself is left unchanged); a
            test may override it in turn (`runner.run(..., host=...)`).
        reset_stats: reset the statistics once spawning completes.
        stop_timeout: seconds users get to finish their current task when the test stops;
            None or 0 stops them at once (users that are waiting always stop at once).
        catch_exceptions: record an exception in a task and go on (True, Locust's default),
            or let it end the run (False, for debugging).
        parsed_options: the parsed command line, for locustfiles that read it.
        template_names: name requests without `name=` by URL template (`/[id]/delete`)
            rather than by the raw path.
        max_stats_rows: distinct (method, name) rows kept before the overflow row.
        percentiles: the percentiles every stats row reports (fractions, 0.95 for p95);
            None: the `PERCENTILES_TO_REPORT` setting as it is now (Locust's default
            unless a locustfile or script assigned `locust.stats.PERCENTILES_TO_REPORT`).
        strict_locust: fail where Locust fails (`--strict-locust`): HTTP users then refuse
            what loadhopper otherwise accepts, so that the locustfile stays portable.
        body_limits: the default response size bounds of HTTP users (`--max-body-size`,
            `--max-decoded-size`); a User class's own `max_body_size` or
            `max_decoded_size` wins over them.
        source_addresses: the local addresses HTTP users' connections are made from, in
            turn (`--local-ips`); None for the kernel's choice.
        clock: where the run reads time and waits; the real clock when None (tests pass a
            `FakeClock`).
    """

    def __init__(
        self,
        user_classes: Sequence[type[User]] | None = None,
        shape_class: Any = None,
        tags: Iterable[str] | None = None,
        exclude_tags: Iterable[str] | None = None,
        events: Events | None = None,
        host: str | None = None,
        reset_stats: bool = False,
        stop_timeout: float | None = None,
        catch_exceptions: bool = True,
        parsed_options: Any = None,
        template_names: bool = True,
        max_stats_rows: int = 500,
        percentiles: Sequence[float] | None = None,
        strict_locust: bool = False,
        body_limits: BodyLimits | None = None,
        clock: Clock | None = None,
        source_addresses: SourceAddresses | None = None,
    ) -> None:
        self.user_classes: list[type[User]] = list(user_classes or [])
        self.shape_class = shape_class
        self.tags = None if tags is None else frozenset(tags)
        self.exclude_tags = None if exclude_tags is None else frozenset(exclude_tags)
        self.task_filter = TagFilter(self.tags, self.exclude_tags)
        self.events = Events() if events is None else events
        self.clock: Clock = REAL_CLOCK if clock is None else clock
        self._host = host
        self._test_host: str | None = None
        self.reset_stats = reset_stats
        self.stop_timeout = stop_timeout
        self.catch_exceptions = catch_exceptions
        self.parsed_options = parsed_options
        self.template_names = template_names
        self.url_namer: UrlNamer | None = template_url if template_names else None
        if percentiles is None:
            percentiles = report_percentiles()  # read once: later edits do not change a run
        self.stats = StatsCollector(self.clock.time(), percentiles, max_stats_rows)
        self.runner: Runner | None = None
        self.web_ui: Any = None
        self.process_exit_code: int | None = None
        self.equal_weights = False
        self.strict_locust = strict_locust
        self.body_limits = BodyLimits() if body_limits is None else body_limits
        self.source_addresses = source_addresses
        if events is None:
            # Custom clients fire events.request; this makes their samples reach the stats.
            # These events are this environment's own, so binding them touches no one
            # else's; shared events (the module-level `events` of locustfiles) are bound
            # by the runner for the length of each test only.
            self.events.request.recorder = self.stats.record
        # The open workload model (`--arrival-rate`, `--arrival-stages`, an ArrivalShape):
        # None runs the closed model (-u/-r or a LoadTestShape).
        self.arrival_plan: ArrivalPlan | None = None
        self.request_sink: RequestSink = self._build_request_sink()

    def use_schedule(self, scheduled: bool) -> None:
        """Record each request's lag (True) or not (False) for the users started from now.

        The runner decides once per test: under a schedule (an arrival rate, a pacing
        wait) the sink reads the iteration's lag; otherwise the hot path stays as it was.
        """
        self.request_sink = self._build_request_sink(scheduled)

    @property
    def host(self) -> str | None:
        """The target host: the running test's own if it set one, else `-H/--host`."""
        return self._test_host if self._test_host is not None else self._host

    @host.setter
    def host(self, host: str | None) -> None:
        self._host = host

    @contextmanager
    def testing_host(self, host: str | None) -> Iterator[None]:
        """Make `host` (when not None) the target while one test runs (the runner's use)."""
        previous = self._test_host
        self._test_host = host
        try:
            yield
        finally:
            self._test_host = previous

    def create_local_runner(self) -> LocalRunner:
        """Create the runner for this environment (one per environment)."""
        from loadhopper.runtime._runner import LocalRunner

        if self.runner is not None:
            raise LoadhopperError(
                "this environment already has a runner; create a new Environment for another"
            )
        runner = LocalRunner(self)
        self.runner = runner
        return runner

    def create_web_ui(self, host: str = "", port: int = 8089, **kwargs: Any) -> Any:
        """Serve loadhopper's web UI for this environment (Locust's library use).

        It runs on the loop of this environment's tests: in a plain script, the library
        hub's, which runs while the script blocks. An empty `host` is loopback only; TLS
        is not supported. See `loadhopper.web._library.create_web_ui` for the arguments.

        Returns:
            The WebUI (also kept in `self.web_ui`); `web_ui.stop()` ends it.
        """
        # The web layer sits above this one: it is looked up by name, so that importing
        # loadhopper does not import Starlette and uvicorn (as install_locust_alias names
        # the shims by string).
        library: Any = importlib.import_module("loadhopper.web._library")
        if self.runner is None:
            self.create_local_runner()
        self.web_ui = library.create_web_ui(self, host, port, **kwargs)
        return self.web_ui

    def create_master_runner(self, *args: Any, **kwargs: Any) -> MasterRunner:
        """Locust's library master: refused, because loadhopper's masters reach their
        workers through the command line's transports, not a bound port."""
        raise LoadhopperError(
            "loadhopper starts distributed runs from the command line only; run "
            "`loadhopper -f FILE --processes N` (one machine) or `--ray auto` (a Ray cluster)."
        )

    def create_worker_runner(self, *args: Any, **kwargs: Any) -> WorkerRunner:
        """Locust's library worker: refused, as `create_master_runner`."""
        raise LoadhopperError(
            "loadhopper starts distributed runs from the command line only; run "
            "`loadhopper -f FILE --processes N` (one machine) or `--ray auto` (a Ray cluster)."
        )

    def assign_equal_weights(self) -> None:
        """Spawn every user class equally, whatever their `weight` (`--equal-weights`)."""
        self.equal_weights = True

    def weight_of(self, user_class: type[User]) -> float:
        """The spawn weight of a class in this run."""
        return 1.0 if self.equal_weights else float(user_class.weight)

    def _build_request_sink(self, scheduled: bool = False) -> RequestSink:
        record = self.stats.record
        hook = self.events.request
        notify = hook.notify
        # The hook's own list object: "does anybody listen?" is then one truthiness test
        # per request, and listeners added later are seen.
        listeners = hook._handlers
        iteration = CURRENT_ITERATION.get

        def request_sink(
            request_type: str,
            name: str,
            response_time: float,
            response_length: int,
            response: object | None,
            context: dict[str, Any],
            exception: BaseException | None,
            start_time: float,
            url: str,
        ) -> None:
            if scheduled:
                cell = iteration()
                lag = None if cell is None else cell.lag_ms
                record(request_type, name, response_time, response_length, exception, lag)
            else:
                record(request_type, name, response_time, response_length, exception)
            if listeners:
                notify(
                    request_type=request_type,
                    name=name,
                    response_time=response_time,
                    response_length=response_length,
                    response=response,
                    context=context,
                    exception=exception,
                    start_time=start_time,
                    url=url,
                )

        return request_sink

    def report_user_error(self, user: object, exception: BaseException) -> None:
        """Record an exception from user code, fire `user_error`, and log one line."""
        frames = user_frames(exception)
        message = f"{type(exception).__name__}: {exception}"
        self.stats.record_exception(message, "".join(traceback.format_list(frames)))
        self.events.user_error.fire(
            user_instance=user, exception=exception, tb=exception.__traceback__
        )
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        # The capped text, as the exception table keeps it: a 10 MB message is not logged whole.
        logger.error("%s in %s%s", capped_message(message), type(user).__name__, where)
