"""`gevent.timeout` for locustfiles run by loadhopper: `Timeout` and `with_timeout`.

`with Timeout(5):` around blocking code in a user or spawned greenlet raises the Timeout
when the block is still waiting after 5 seconds. Underneath, the timer cancels the asyncio
task driving the greenlet (so the wait in progress ends at once, its `finally` blocks run)
and the `with` turns that cancellation back into the Timeout on the way out, as
`asyncio.timeout` does. Outside a running loop a Timeout never fires.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any

from loadhopper.runtime._gevent._hub import running_loop

__all__ = ["Timeout", "with_timeout"]

_NO_VALUE: Any = object()


class Timeout(BaseException):
    """Raise an exception in the current greenlet after `seconds` (gevent's `Timeout`).

    Args:
        seconds: the delay; None never fires.
        exception: what to raise: None raises this Timeout, an exception class or
            instance raises that, False makes the `with` block end silently.
    """

    def __init__(
        self,
        seconds: float | None = None,
        exception: Any = None,
        ref: bool = True,
        priority: int = -1,
    ) -> None:
        super().__init__(seconds)
        self.seconds = seconds
        self.exception = exception
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[Any] | None = None
        self._fired = False

    @property
    def pending(self) -> bool:
        """True while the timer is armed."""
        return self._handle is not None

    def start(self) -> None:
        """Arm the timer for the greenlet (the asyncio task) running now."""
        self.cancel()
        loop = running_loop()
        if self.seconds is None or loop is None:
            return
        task = asyncio.current_task(loop)
        if task is None:
            return
        self._task = task
        self._fired = False
        self._handle = loop.call_later(max(self.seconds, 0.0), self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._fired = True
        if self._task is not None:
            self._task.cancel()

    def cancel(self) -> None:
        """Disarm the timer (nothing happens if it is not armed)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    close = cancel

    @classmethod
    def start_new(
        cls, timeout: float | Timeout | None = None, exception: Any = None, ref: bool = True
    ) -> Timeout:
        """A started Timeout (or `timeout` itself, started, when it is one)."""
        if isinstance(timeout, Timeout):
            if not timeout.pending:
                timeout.start()
            return timeout
        started = cls(timeout, exception)
        started.start()
        return started

    def __enter__(self) -> Timeout:
        if not self.pending:
            self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        self.cancel()
        if not self._fired or not isinstance(value, asyncio.CancelledError):
            return False
        self._fired = False
        task = self._task
        self._task = None
        if task is not None and task.uncancel() > 0:
            return False  # the task was also cancelled for real (the test stops): go on
        if self.exception is False:
            return True
        raise self._raised() from None

    def _raised(self) -> BaseException:
        exception = self.exception
        if exception is None:
            return self
        if isinstance(exception, type) and issubclass(exception, BaseException):
            return exception()
        if isinstance(exception, BaseException):
            return exception
        return self

    def __str__(self) -> str:
        if self.seconds is None:
            return ""
        suffix = "" if self.seconds == 1 else "s"
        return f"{self.seconds} second{suffix}"

    def __repr__(self) -> str:
        return f"<Timeout seconds={self.seconds!r} exception={self.exception!r}>"


def with_timeout(seconds: float, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `function(*args, **kwargs)`; after `seconds`, raise Timeout (or return the
    keyword `timeout_value` when given)."""
    timeout_value = kwargs.pop("timeout_value", _NO_VALUE)
    timeout = Timeout(seconds)
    try:
        with timeout:
            return function(*args, **kwargs)
    except Timeout as exc:
        if exc is timeout and timeout_value is not _NO_VALUE:
            return timeout_value
        raise
