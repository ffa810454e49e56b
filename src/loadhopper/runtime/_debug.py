"""run_single_user: run one user in this process, printing each request (for debuggers).

Put this at the bottom of a locustfile and run the file with Python (or a debugger):

    if __name__ == "__main__":
        run_single_user(MyUser)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import Any, TextIO

from loadhopper._bridge import run_in_greenlet
from loadhopper._exceptions import StopTest
from loadhopper.runtime._environment import Environment
from loadhopper.runtime._events import Events, events
from loadhopper.runtime._gevent._hub import GreenletScope
from loadhopper.runtime._sleep_patch import sleep_patch
from loadhopper.user import User

__all__ = ["run_single_user"]


class _RequestPrinter:
    """An `events.request` listener that prints one line per request."""

    def __init__(
        self,
        out: TextIO,
        *,
        include_length: bool,
        include_time: bool,
        include_context: bool,
        include_payload: bool,
    ) -> None:
        self.out = out
        self.include_length = include_length
        self.include_time = include_time
        self.include_context = include_context
        self.include_payload = include_payload

    def header(self) -> None:
        columns = [f"{'type':<8}", f"{'name':<40}", f"{'resp_ms':>9}", f"{'exception':<20}"]
        if self.include_length:
            columns.append(f"{'size':>8}")
        if self.include_time:
            columns.append(f"{'start_time':<18}")
        if self.include_context:
            columns.append("context")
        if self.include_payload:
            columns.append("payload")
        print(" ".join(columns), file=self.out)

    def __call__(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        exception: BaseException | None = None,
        context: Any = None,
        start_time: float | None = None,
        response: Any = None,
        **_: Any,
    ) -> None:
        error = "" if exception is None else f"{type(exception).__name__}: {exception}"
        columns = [
            f"{request_type:<8}",
            f"{name[:40]:<40}",
            f"{response_time:>9.1f}",
            f"{error[:20]:<20}",
        ]
        if self.include_length:
            columns.append(f"{response_length:>8}")
        if self.include_time:
            columns.append(f"{start_time or 0.0:<18.3f}")
        if self.include_context:
            columns.append(repr(context))
        if self.include_payload:
            columns.append(repr(getattr(response, "text", None)))
        print(" ".join(columns), file=self.out)


def run_single_user(
    user_class: type[User],
    include_length: bool = False,
    include_time: bool = False,
    include_context: bool = False,
    include_payload: bool = False,
    loglevel: str | None = "WARNING",
    *,
    host: str | None = None,
    event_hooks: Events | None = None,
    out: TextIO | None = None,
) -> None:
    """Run one user of `user_class` until it stops, printing every request it makes.

    Exceptions in tasks are not caught, so a debugger stops where they are raised. The
    module-level `events` are used, so listeners a locustfile adds to them are fired
    (`init` included).

    Args:
        user_class: the User class to run.
        include_length: print each response's size.
        include_time: print each request's start time.
        include_context: print each request's context dict.
        include_payload: print each response's body.
        loglevel: logging level to set up, or None to leave logging alone.
        host: overrides the class's `host`.
        event_hooks: the event hooks to use instead of the module-level `events`.
        out: where to print (standard output by default).
    """
    if loglevel is not None:
        logging.basicConfig(level=loglevel.upper())
    hooks = events if event_hooks is None else event_hooks
    env = Environment(user_classes=[user_class], events=hooks, host=host, catch_exceptions=False)
    printer = _RequestPrinter(
        sys.stdout if out is None else out,
        include_length=include_length,
        include_time=include_time,
        include_context=include_context,
        include_payload=include_payload,
    )
    hooks.request.add_listener(printer)
    # The module-level events outlive this run: they record into it only while it runs.
    try:
        # As in a run: `time.sleep` in the user's code pauses the user, not the loop.
        with hooks.request.recording_into(env.stats.record), sleep_patch():
            hooks.init.fire(environment=env, runner=None, web_ui=None)
            printer.header()
            _run_loop(_run_user(user_class(env)))
    finally:
        hooks.request.remove_listener(printer)


async def _run_user(user: User) -> None:
    # Greenlets the locustfile spawns (from `init` or its tasks) run with the user, as in a
    # test, and end with it.
    with GreenletScope(user.environment.report_user_error) as greenlets:
        # The only user asking for the end of the test is a normal end here.
        with contextlib.suppress(StopTest):
            await run_in_greenlet(user.run)
        await greenlets.close()


def _run_loop(main: Any) -> None:
    try:
        import uvloop
    except ImportError:  # not on Windows
        asyncio.run(main)
    else:
        uvloop.run(main)
