"""The hub of the `gevent` shim: where spawned greenlets run and how the shim blocks.

Theory of operation. Real gevent runs every greenlet on its own hub loop. Here there is one
loop, asyncio's, and synchronous user code runs in the bridge's pooled worker greenlets
(`_bridge.py`). The shim maps gevent's two ideas onto that:

- *Blocking* (`join`, `Semaphore.acquire`, `Queue.get`, `gevent.sleep`, ...) is `block()`:
  inside a bridge worker it hands a coroutine to `await_`, so only that worker waits while
  the loop runs everyone else; in a script that uses loadhopper as a library it runs the
  library hub's loop until the coroutine completes (`runtime/_library.py`); anywhere else
  (module level, a listener running on the loop itself) it cannot wait, and says so, unless
  the operation can complete at once.
- *A spawned greenlet* is an asyncio task of the run that borrows a bridge worker for its
  function (`call_in_worker`), so its requests go through `await_` like a task's and are
  recorded the same way. A greenlet spawned before any loop runs (a module-level spawn, an
  `init` listener) waits in this thread's pending list until the next test opens its
  `GreenletScope`, as Locust starts it once its hub runs. In a script using loadhopper as a
  library, the library hub holds the greenlets the script spawns (those pending included)
  for as long as it runs, across tests.

A `GreenletScope` is owned by one test (`LocalRunner.run`): it starts the pending
greenlets, holds every greenlet started during the test, reports their exceptions like a
user's, and cancels those still alive when the test stops. The state is per thread, as
gevent's hub is: greenlets cannot cross threads, and each thread runs at most one loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, Protocol, TypeVar

import greenlet

from loadhopper._bridge import Worker, await_
from loadhopper._exceptions import BridgeError
from loadhopper.runtime._library import LibraryHub, waiting_hub

__all__ = [
    "GreenletScope",
    "Linkable",
    "Startable",
    "add_link",
    "adopt_pending",
    "block",
    "can_wait",
    "launch",
    "notify_links",
    "report_error",
    "running_loop",
    "wait_future",
    "wait_ready",
]

T = TypeVar("T")

logger = logging.getLogger("loadhopper.gevent")

STOP_GRACE_SECONDS = 5.0
"""How long the greenlets cancelled at a test's stop get to run their `finally` blocks."""


class Startable(Protocol):
    """What the hub starts: a greenlet's coroutine body."""

    def _drive(self) -> Coroutine[Any, Any, None]: ...


class Linkable(Protocol):
    """What can be waited on: greenlets, events, async results (gevent's `rawlink` protocol)."""

    def ready(self) -> bool: ...

    def rawlink(self, callback: Callable[[Any], object]) -> None: ...

    def unlink(self, callback: Callable[[Any], object]) -> None: ...


ErrorReport = Callable[[object, BaseException], None]


class _Hub(threading.local):
    def __init__(self) -> None:
        self.pending: list[Startable] = []
        self.scope: GreenletScope | None = None
        # Greenlets started on a loop outside any test (a listener before the first test
        # in the web UI, a user run by run_single_user): held here so they are not
        # collected mid-run, since asyncio keeps only weak references to tasks.
        self.unscoped: set[asyncio.Task[None]] = set()


_hub = _Hub()


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running in this thread (seen from its greenlet and from bridge workers)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def block(awaitable: Awaitable[T], operation: str) -> T:
    """Wait for `awaitable` in the calling bridge worker; refuse anywhere else.

    Raises:
        BridgeError: the caller is not a bridge worker, so waiting would block the loop
            (or, with no loop, forever: gevent's `LoopExit`).
    """
    if isinstance(greenlet.getcurrent(), Worker):
        return await_(awaitable)
    hub = waiting_hub()
    if hub is not None:
        return hub.wait(awaitable)
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()  # a coroutine never awaited would add a warning to the real error
    raise BridgeError(
        f"{operation} has to wait, and only code running in a user (a task, on_start, "
        "on_stop), in a spawned greenlet or in a script's main code can wait; call it "
        "from there"
    )


def can_wait() -> bool:
    """Whether the caller may block: a bridge worker, or a script's main code."""
    return isinstance(greenlet.getcurrent(), Worker) or waiting_hub() is not None


async def wait_future(future: asyncio.Future[Any], timeout: float | None) -> bool:
    """Wait until `future` is done or `timeout` seconds pass; True if it is done.

    The future is not cancelled on timeout: its owner decides what a late result means.
    """
    if timeout is None:
        await future
        return True
    if timeout > 0:
        await asyncio.wait((future,), timeout=timeout)
    return future.done()


def notify_links(source: object, links: list[Callable[[Any], object]]) -> None:
    """Call each link with `source`; an error in one is logged and the others still run."""
    for link in list(links):
        try:
            link(source)
        except Exception:
            logger.exception("a gevent link callback (%r) failed", link)


def add_link(
    source: object,
    links: list[Callable[[Any], object]],
    done: bool,
    callback: Callable[[Any], object],
) -> None:
    """Keep `callback` in `links` for when `source` is done, or call it soon if it is."""
    if not done:
        links.append(callback)
        return
    loop = running_loop()
    if loop is None:
        notify_links(source, [callback])
    else:
        loop.call_soon(notify_links, source, [callback])


def wait_ready(
    objects: list[Linkable], count: int | None, timeout: float | None, operation: str
) -> list[Linkable]:
    """Wait until `count` of `objects` (all when None) are ready; return the ready ones.

    Completes without waiting (and so works anywhere) when enough are ready already.
    """
    wanted = len(objects) if count is None else min(count, len(objects))
    done = [obj for obj in objects if obj.ready()]
    if len(done) >= wanted or timeout == 0:
        return done
    return block(_wait_ready(objects, wanted, timeout, done), operation)


async def _wait_ready(
    objects: list[Linkable], wanted: int, timeout: float | None, done: list[Linkable]
) -> list[Linkable]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_ready(obj: Any) -> None:
        if obj not in done:
            done.append(obj)
        if len(done) >= wanted and not future.done():
            future.set_result(None)

    waiting = [obj for obj in objects if obj not in done]
    for obj in waiting:
        obj.rawlink(on_ready)
    try:
        await wait_future(future, timeout)
    finally:
        for obj in waiting:
            obj.unlink(on_ready)
    return done


def launch(greenlet_: Startable, name: str) -> None:
    """Start a greenlet's body on this thread's loop, or keep it for the next test."""
    loop = running_loop()
    if loop is None:
        hub = waiting_hub()
        if hub is None:
            _hub.pending.append(greenlet_)
        else:
            hub.spawn(greenlet_._drive(), name)
        return
    task = loop.create_task(greenlet_._drive(), name=name)
    scope = _hub.scope
    tasks = _hub.unscoped if scope is None else scope._tasks
    tasks.add(task)
    task.add_done_callback(tasks.discard)


def adopt_pending(hub: LibraryHub) -> None:
    """Start the greenlets spawned before any loop ran on a library hub that just opened."""
    pending, _hub.pending = _hub.pending, []
    for index, startable in enumerate(pending):
        hub.spawn(startable._drive(), f"greenlet-pending-{index}")


def report_error(source: object, exception: BaseException) -> None:
    """Report an exception that ended a greenlet: into the test's stats, or to the log."""
    scope = _hub.scope
    if scope is not None:
        scope._report(source, exception)
    else:
        logger.error("%r failed", source, exc_info=exception)


class GreenletScope:
    """The greenlets of one test: started on its loop, reported, cancelled at its stop.

    Use as `with GreenletScope(report) as scope:` on the running loop, and `await
    scope.close()` once the users have stopped.

    Args:
        report: called with (greenlet, exception) when a greenlet ends with an exception
            (the runner passes `Environment.report_user_error`).
    """

    def __init__(self, report: ErrorReport) -> None:
        self._report = report
        self._tasks: set[asyncio.Task[None]] = set()
        self._previous: GreenletScope | None = None

    def __enter__(self) -> GreenletScope:
        self._previous = _hub.scope
        _hub.scope = self
        pending, _hub.pending = _hub.pending, []
        for index, startable in enumerate(pending):
            launch(startable, f"greenlet-pending-{index}")
        return self

    async def close(self) -> None:
        """Cancel the greenlets still running and wait (a few seconds at most) for them."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Reached without close() when the run failed: cancel what is left, not wait.
        for task in list(self._tasks):
            task.cancel()
        _hub.scope = self._previous
        self._previous = None
