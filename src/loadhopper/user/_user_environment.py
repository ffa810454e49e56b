"""What a User needs from the environment that runs it.

`user/` sits below `runtime/`, so it cannot import the Environment class. This protocol
names the few things a user reads from it; `runtime.Environment` provides them, and tests
or tools may pass anything else of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from loadhopper.http import BodyLimits
from loadhopper.user._task import TagFilter

__all__ = ["RequestSink", "UrlNamer", "UserEnvironment"]

RequestSink = Callable[
    [str, str, float, int, object | None, dict[str, Any], BaseException | None, float, str],
    None,
]
"""Locust's `events.request` payload, positional (see docs/internals.md)."""

UrlNamer = Callable[[str], str]
"""Turns a path with its query string into a stats name (`/17/delete` -> `/[id]/delete`)."""


class UserEnvironment(Protocol):
    """The environment as seen from a User: host, request sink, filters, error reporting."""

    @property
    def host(self) -> str | None:
        """The `-H/--host` override, or None to use each User class's own `host`."""

    @property
    def catch_exceptions(self) -> bool:
        """Whether an exception in a task is recorded and the user goes on (Locust's default)."""

    @property
    def task_filter(self) -> TagFilter:
        """The `--tags` / `--exclude-tags` selection."""

    @property
    def request_sink(self) -> RequestSink:
        """Where HTTP clients report each request."""

    @property
    def url_namer(self) -> UrlNamer | None:
        """How a request without `name=` is named in the stats, or None for the raw path."""

    @property
    def body_limits(self) -> BodyLimits:
        """The run's default response size bounds (a User class's own attributes win)."""

    @property
    def strict_locust(self) -> bool:
        """Whether to fail where Locust fails (`--strict-locust`)."""

    def report_user_error(self, user: object, exception: BaseException) -> None:
        """Record an exception raised by user code, fire `user_error`, and log it."""
