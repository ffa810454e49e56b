"""`gevent.event` for locustfiles run by loadhopper: `Event` and `AsyncResult`.

Setting never waits and works anywhere (a listener on the loop, module level); waiting
works inside a user or a spawned greenlet (see `_hub.block`).
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable
from typing import Any

from loadhopper.runtime._gevent._hub import block, notify_links, running_loop, wait_future
from loadhopper.runtime._gevent.timeout import Timeout

__all__ = ["AsyncResult", "Event"]


class _Flag(abc.ABC):
    """The waiting and links that Event and AsyncResult share."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []
        self._links: list[Callable[[Any], object]] = []

    @abc.abstractmethod
    def ready(self) -> bool:
        """Whether waiting would return at once (set, or holding a value or an exception)."""

    def rawlink(self, callback: Callable[[Any], object]) -> None:
        """Call `callback(self)` when this becomes ready (soon, if it is already)."""
        self._links.append(callback)
        if self.ready():
            loop = running_loop()
            if loop is None:
                notify_links(self, [callback])
            else:
                loop.call_soon(notify_links, self, [callback])

    def unlink(self, callback: Callable[[Any], object]) -> None:
        """Remove a callback given to `rawlink`."""
        self._links = [link for link in self._links if link != callback]

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)
        if self._links and self.ready():
            notify_links(self, self._links)

    def _wait(self, timeout: float | None, operation: str) -> bool:
        if self.ready() or timeout == 0:
            return self.ready()
        return block(self._wait_async(timeout), operation)

    async def _wait_async(self, timeout: float | None) -> bool:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await wait_future(future, timeout)
        finally:
            if not future.done():
                future.cancel()
                self._waiters.remove(future)
        return self.ready()


class Event(_Flag):
    """A flag greenlets wait on: `set()` wakes every waiter until `clear()`."""

    def __init__(self) -> None:
        super().__init__()
        self._flag = False

    def __repr__(self) -> str:
        return f"<Event {'set' if self._flag else 'clear'} waiters={len(self._waiters)}>"

    def is_set(self) -> bool:
        """True while set."""
        return self._flag

    isSet = is_set

    def ready(self) -> bool:
        """True while set."""
        return self._flag

    def set(self) -> None:
        """Set the flag and wake every waiter."""
        self._flag = True
        self._notify()

    def clear(self) -> None:
        """Clear the flag; later `wait()` calls wait again."""
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until set, or `timeout` seconds; returns the flag."""
        return self._wait(timeout, "Event.wait()")


class AsyncResult(_Flag):
    """A value (or exception) one greenlet sets and others wait for."""

    def __init__(self) -> None:
        super().__init__()
        self.value: Any = None
        self._exception: BaseException | None = None
        self._set = False

    def __repr__(self) -> str:
        return f"<AsyncResult {'ready' if self._set else 'pending'}>"

    @property
    def exception(self) -> BaseException | None:
        """The exception set, or None."""
        return self._exception

    def ready(self) -> bool:
        """True once a value or an exception was set."""
        return self._set

    def successful(self) -> bool:
        """True once a value was set."""
        return self._set and self._exception is None

    def set(self, value: Any = None) -> None:
        """Store the value and wake every waiter."""
        self.value = value
        self._exception = None
        self._set = True
        self._notify()

    def set_exception(self, exception: BaseException, exc_info: Any = None) -> None:
        """Store an exception (raised by `get()`) and wake every waiter."""
        self._exception = exception
        self._set = True
        self._notify()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """The value, waiting for it; raises the exception set instead of a value.

        Raises:
            Timeout: nothing was set after `timeout` seconds (at once, with block=False).
        """
        if not self._wait(timeout if block else 0, "AsyncResult.get()"):
            raise Timeout(timeout)
        if self._exception is not None:
            raise self._exception
        return self.value

    def get_nowait(self) -> Any:
        """The value if set, else raise Timeout."""
        return self.get(block=False)

    def wait(self, timeout: float | None = None) -> Any:
        """Wait until set, or `timeout` seconds; returns the value (None if not set)."""
        self._wait(timeout, "AsyncResult.wait()")
        return self.value

    def __call__(self, source: Any) -> None:
        # A link target, as in gevent: `greenlet.link(result)` passes the greenlet's outcome.
        if source.successful():
            self.set(source.value)
        else:
            self.set_exception(source.exception)
