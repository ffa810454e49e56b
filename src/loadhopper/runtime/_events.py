"""The event bus: Locust's `events.*` hooks, with the same names and payloads.

Nothing here is global state that the runtime depends on: an Environment is given its own
`Events` (a fresh one by default in tests, the module-level `events` for locustfiles that
do `from locust import events`).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from loadhopper._exceptions import ControlFlowSignal

__all__ = ["EventHook", "Events", "RequestEventHook", "RequestRecorder", "events"]

logger = logging.getLogger(__name__)

H = TypeVar("H", bound=Callable[..., Any])

RequestRecorder = Callable[[str, str, float, int, BaseException | str | None], None]
"""Records one sample into the stats: method, name, response time (ms), length, error."""


class EventHook:
    """A list of listeners called, in order, with the keyword arguments of `fire()`."""

    def __init__(self) -> None:
        # A plain list, so that "is anybody listening?" is one truthiness test.
        self._handlers: list[Callable[..., Any]] = []

    def add_listener(self, handler: H) -> H:
        """Add a listener; returns it, so this also works as a decorator."""
        self._handlers.append(handler)
        return handler

    def remove_listener(self, handler: Callable[..., Any]) -> None:
        """Remove a listener added before."""
        self._handlers.remove(handler)

    def __bool__(self) -> bool:
        return bool(self._handlers)

    def fire(self, *, reverse: bool = False, **kwargs: Any) -> None:
        """Call every listener with `kwargs`.

        A listener's exception is logged and the others still run; the control-flow signals
        (StopUser, StopTest, RescheduleTask, InterruptTaskSet) propagate, so a listener
        can steer the run as user code does.
        """
        handlers = reversed(self._handlers) if reverse else list(self._handlers)
        for handler in handlers:
            try:
                handler(**kwargs)
            except ControlFlowSignal:
                raise
            except Exception:
                logger.error(
                    "a listener of an event raised; it was skipped:\n%s", traceback.format_exc()
                )


class RequestEventHook(EventHook):
    """`events.request`: firing it also records the sample into the environment's stats.

    Custom clients report requests by firing this event (or with `measure()`), as in
    Locust; the Environment binds `recorder` so that those samples reach the statistics.
    The built-in HTTP clients record directly and call `notify()` only when someone listens.
    """

    def __init__(self) -> None:
        super().__init__()
        self.recorder: RequestRecorder | None = None

    def fire(self, *, reverse: bool = False, **kwargs: Any) -> None:
        """Record the sample (request_type, name, response_time, response_length, exception)
        and call the listeners."""
        recorder = self.recorder
        if recorder is not None:
            recorder(
                kwargs.get("request_type", ""),
                kwargs.get("name", ""),
                float(kwargs.get("response_time", 0.0) or 0.0),
                int(kwargs.get("response_length", 0) or 0),
                kwargs.get("exception"),
            )
        super().fire(reverse=reverse, **kwargs)

    @contextmanager
    def recording_into(self, recorder: RequestRecorder) -> Iterator[None]:
        """Record fired samples with `recorder` inside the block (one test), then as before."""
        previous = self.recorder
        self.recorder = recorder
        try:
            yield
        finally:
            self.recorder = previous

    def notify(self, **kwargs: Any) -> None:
        """Call the listeners only (the sample was already recorded)."""
        EventHook.fire(self, **kwargs)

    @contextmanager
    def measure(
        self, request_type: str, name: str, response_length: int = 0, context: Any = None
    ) -> Iterator[dict[str, Any]]:
        """Time a block of code and fire this event for it, as one request.

        Yields a dict holding the payload; set `response_length` (or `exception`) in it
        from inside the block. An exception raised in the block is recorded as the
        failure and does not propagate.

        Args:
            request_type: the method column, e.g. "grpc".
            name: the name column.
            response_length: the response size in bytes, if known up front.
            context: the event's context dict.
        """
        start_time = time.time()
        start = time.perf_counter()
        meta: dict[str, Any] = {
            "request_type": request_type,
            "name": name,
            "response_length": response_length,
            "response": None,
            "context": {} if context is None else context,
            "exception": None,
            "start_time": start_time,
            "url": "",
        }
        try:
            yield meta
        except Exception as exc:
            meta["exception"] = exc
        finally:
            meta["response_time"] = (time.perf_counter() - start) * 1000.0
            self.fire(**meta)


class Events:
    """Every hook a locustfile or plugin can listen to (Locust's names and payloads).

    Attributes:
        init: `(environment, runner, web_ui)` once the environment and runner exist.
        init_command_line_parser: `(parser)` before the command line is parsed.
        test_start: `(environment)` when a test starts.
        test_stopping: `(environment)` when a test starts stopping.
        test_stop: `(environment)` when a test has stopped.
        request: `(request_type, name, response_time, response_length, response, context,
            exception, start_time, url)` for each request.
        spawning_complete: `(user_count)` when the target number of users is running.
        quitting: `(environment)` when the process is about to exit.
        quit: `(exit_code)` after the exit code is known.
        user_error: `(user_instance, exception, tb)` for each exception from user code.
        reset_stats: `()` when the statistics are reset.
        report_to_master: `(client_id, data)` in a worker, before each report.
        worker_report: `(client_id, data)` in the master, for each report.
        heartbeat_sent: `(client_id, timestamp)` in the master, once a second per live
            worker, when it sends that worker its heartbeat.
        heartbeat_received: `(client_id, timestamp)` in a worker, for each heartbeat.
        cpu_warning: `(environment, cpu_usage)` when the CPU is saturated.
        usage_monitor: `(environment, cpu_usage, memory_usage)` periodically.
    """

    def __init__(self) -> None:
        self.init = EventHook()
        self.init_command_line_parser = EventHook()
        self.test_start = EventHook()
        self.test_stopping = EventHook()
        self.test_stop = EventHook()
        self.request = RequestEventHook()
        self.spawning_complete = EventHook()
        self.quitting = EventHook()
        self.quit = EventHook()
        self.user_error = EventHook()
        self.reset_stats = EventHook()
        self.report_to_master = EventHook()
        self.worker_report = EventHook()
        self.heartbeat_sent = EventHook()
        self.heartbeat_received = EventHook()
        self.cpu_warning = EventHook()
        self.usage_monitor = EventHook()


events = Events()
"""The default bus, for `from locust import events` in locustfiles run by loadhopper."""
