"""`gevent.lock` for locustfiles run by loadhopper: `Semaphore`, `BoundedSemaphore`, `RLock`.

Waiters are futures on the running loop, made when a greenlet first has to wait, so a
semaphore made at a locustfile's module level (before any loop exists) works in every
test. Taking or giving back a free unit never waits, and so works anywhere; waiting works
inside a user or a spawned greenlet (see `_hub.block`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any

from greenlet import getcurrent

from loadhopper.runtime._gevent._hub import block, notify_links, wait_future

__all__ = ["BoundedSemaphore", "DummySemaphore", "Lock", "RLock", "Semaphore"]


class Semaphore:
    """A counter of free units; `acquire` takes one (waiting while none), `release` gives one.

    `wait()` waits until a unit is free without taking it: every greenlet waiting there
    wakes at the next `release` (Locust's `semaphore_wait.py` relies on that).
    """

    def __init__(self, value: int = 1) -> None:
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self.counter = value
        self._acquirers: deque[asyncio.Future[None]] = deque()
        self._watchers: list[asyncio.Future[None]] = []
        self._links: list[Callable[[Any], object]] = []

    def __repr__(self) -> str:
        waiting = len(self._acquirers) + len(self._watchers)
        return f"<{type(self).__name__} counter={self.counter} waiters={waiting}>"

    def locked(self) -> bool:
        """True when no unit is free."""
        return self.counter <= 0

    def ready(self) -> bool:
        """True when a unit is free."""
        return self.counter > 0

    def rawlink(self, callback: Callable[[Any], object]) -> None:
        """Call `callback(self)` at each release."""
        self._links.append(callback)

    def unlink(self, callback: Callable[[Any], object]) -> None:
        """Remove a callback given to `rawlink`."""
        self._links = [link for link in self._links if link != callback]

    def release(self) -> int:
        """Give a unit back, waking the watchers and one acquirer; returns the counter."""
        self.counter += 1
        watchers, self._watchers = self._watchers, []
        for future in watchers:
            if not future.done():
                future.set_result(None)
        self._wake_acquirer()
        if self._links:
            notify_links(self, self._links)
        return self.counter

    def _wake_acquirer(self) -> None:
        while self._acquirers:
            future = self._acquirers.popleft()
            if not future.done():
                future.set_result(None)
                return

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take a unit, waiting up to `timeout` seconds (forever: None); True if taken."""
        if self.counter > 0:
            self.counter -= 1
            return True
        if not blocking or timeout == 0:
            return False
        return block(self._acquire(timeout), f"{type(self).__name__}.acquire()")

    async def _acquire(self, timeout: float | None) -> bool:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self.counter <= 0:
            future: asyncio.Future[None] = loop.create_future()
            self._acquirers.append(future)
            remaining = None if deadline is None else deadline - loop.time()
            try:
                woken = await wait_future(future, remaining)
            except BaseException:
                # Cancelled after being woken: hand the wake-up on, or a unit stays idle.
                if future.done() and not future.cancelled() and self.counter > 0:
                    self._wake_acquirer()
                raise
            finally:
                if not future.done():
                    future.cancel()
                    self._acquirers.remove(future)
            if not woken:
                return False
        self.counter -= 1
        return True

    def wait(self, timeout: float | None = None) -> int:
        """Wait until a unit is free (without taking it); returns the counter."""
        if self.counter > 0 or timeout == 0:
            return self.counter
        return block(self._wait(timeout), f"{type(self).__name__}.wait()")

    async def _wait(self, timeout: float | None) -> int:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._watchers.append(future)
        try:
            await wait_future(future, timeout)
        finally:
            if not future.done():
                future.cancel()
                self._watchers.remove(future)
        return self.counter

    def __enter__(self) -> Semaphore:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


class BoundedSemaphore(Semaphore):
    """A Semaphore that refuses to be released above its initial value."""

    def __init__(self, value: int = 1) -> None:
        super().__init__(value)
        self._initial = value

    def release(self) -> int:
        """Give a unit back.

        Raises:
            ValueError: more releases than acquires.
        """
        if self.counter >= self._initial:
            raise ValueError("BoundedSemaphore released more often than it was acquired")
        return super().release()


class Lock(Semaphore):
    """A Semaphore of one unit (gevent's `Lock`)."""

    def __init__(self) -> None:
        super().__init__(1)


class DummySemaphore(Semaphore):
    """A semaphore that never blocks (gevent's stand-in for an unbounded pool)."""

    def __init__(self, value: int | None = None) -> None:
        super().__init__(0)

    def locked(self) -> bool:
        """Never locked."""
        return False

    def ready(self) -> bool:
        """Always ready."""
        return True

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Always succeeds at once."""
        return True

    def release(self) -> int:
        """Does nothing."""
        return 0

    def wait(self, timeout: float | None = None) -> int:
        """Returns at once."""
        return 1


class RLock:
    """A lock the greenlet holding it may take again (released as often as taken)."""

    def __init__(self) -> None:
        self._block = Semaphore(1)
        self._owner: Any = None
        self._count = 0

    def __repr__(self) -> str:
        return f"<RLock owner={self._owner!r} count={self._count}>"

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take the lock (again, if this greenlet holds it); True if taken."""
        me = getcurrent()
        if self._owner is me:
            self._count += 1
            return True
        if not self._block.acquire(blocking, timeout):
            return False
        self._owner = me
        self._count = 1
        return True

    def release(self) -> None:
        """Give back one hold of the lock.

        Raises:
            RuntimeError: the calling greenlet does not hold it.
        """
        if self._owner is not getcurrent():
            raise RuntimeError("cannot release an RLock that this greenlet does not hold")
        self._count -= 1
        if self._count == 0:
            self._owner = None
            self._block.release()

    def locked(self) -> bool:
        """True while some greenlet holds the lock."""
        return self._block.locked()

    def _is_owned(self) -> bool:
        return self._owner is getcurrent()

    def __enter__(self) -> RLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
