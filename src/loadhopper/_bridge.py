"""The greenlet bridge: synchronous task code that awaits on the event loop.

Theory of operation. A user's synchronous code (`self.client.get("/")`) runs inside a
*worker* greenlet whose parent is the greenlet that runs the asyncio event loop. When that
code needs I/O it calls `await_(awaitable)`, which switches to the parent, handing it the
awaitable. The *driver*, a coroutine on the loop, awaits it and switches back into the
worker with the result, or throws the exception into it. From the task code's point of
view the call simply blocked; from the loop's point of view it was one more coroutine. No
thread, no monkey-patching: one switch out and one switch in per await.

Workers are pooled. A user waiting between two tasks holds no greenlet: its life is a
coroutine, and only the synchronous code it runs (a task body, a hook) borrows a worker,
for as long as that code runs. A parked greenlet costs about 6 KB (its saved C stack and a
page of Python data stack, measured on Python 3.11), so the greenlets alive at one moment
are the calls in progress (tens), not the users (thousands). A worker loops: it runs the
function it is handed, records the outcome on itself (`busy`, `result`, `error`), switches
to its parent, and waits there for its next function. The driver tells an `await_`
request from the end of the function by `worker.busy`.

A worker goes back to the free list only when it finished its function (returned or
raised, cancellation included): that is its one clean state. A driver that leaves while
its worker is still inside the function (the coroutine was closed, the greenlet died)
abandons the worker; greenlet then kills it with `GreenletExit` when it is collected, which
runs the function's `finally` blocks. The free list is bounded, so memory comes back after
a burst of concurrent calls.

Every greenlet has its own `contextvars` context. A pooled worker starts each function in
the context its borrower hands it (`acquire(context)`), none by default, and is reset on
release, so context variables never leak from one user to another through a worker.

Parking. The general `await_` costs, per response, an asyncio Future, a wake-up of the
driver's Task one loop iteration later, and a pass through the driver's loop. A worker
waiting for something that a protocol callback will deliver (the HTTP connection's
response) can instead *park*: it registers itself as that callback's waiter (`Worker` has
a Future's `done` / `set_result` / `set_exception`) and switches out with `PARKED`. The
callback then switches straight back into it, on the loop's greenlet, with no Future and no
Task step. The driver only hears of it when the worker switches out with anything other
than `PARKED` (an awaitable, or the end of its function): the driver awaits one *park*
Future per run of such callbacks, not one per response, so the worker of a user whose tasks
follow one another with no wait (user/_taskset.py) can run many tasks in a row from the
connection's callbacks. Cancelling the driver while the worker is parked throws the
`CancelledError` into the worker at its `park()`, as with `await_`.

Where a worker starts. greenlet copies, at each switch, whatever of the switching greenlet's
C stack lies below the point where the target was first started (see `_stackroom.c`). A
parked worker is resumed from a protocol callback, deep in the loop's C frames, and was
first started from a Task step higher up: every response copied 14.6 KB of the loop's stack
out and back in. So a worker's first switch goes through `_stackroom.call_below`, with
`STACK_ROOM` bytes of unused stack beneath the caller: the loop's greenlet then has nothing
below the worker's start to copy, and a switch moves only the worker's own 2 KB. Without
the compiled module (or with LOADHOPPER_PURE_PYTHON=1) workers start where they are.

This module sits below `http/` (not in `runtime/` as DESIGN.md first drew it) because the
HTTP session's blocking methods call `await_`, and imports only flow downwards.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from contextvars import Context
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar, cast

import greenlet

from loadhopper._exceptions import BridgeError

# asyncio's own bookkeeping of the running Task (public in effect: every event loop that
# runs Tasks calls them). A callback that resumes a parked worker runs outside any Task
# step, so it marks the driver's Task as current for that time.
_enter_task = asyncio.tasks._enter_task
_leave_task = asyncio.tasks._leave_task

STACK_ROOM = 64 * 1024
"""Bytes of stack reserved beneath a worker's first switch: several times the 14.6 KB that
a protocol callback runs below a Task step under uvloop, and address space only."""


def _load_call_below() -> Callable[..., Any] | None:
    """`_stackroom.call_below`, or None without it (see "Where a worker starts")."""
    if os.environ.get("LOADHOPPER_PURE_PYTHON"):
        return None
    try:
        from loadhopper._stackroom import call_below
    except ImportError:  # built without a compiler: workers start where they are
        return None
    return call_below


_call_below = _load_call_below()

# The running greenlet, typed as what `park` knows it to be (a Worker): no `cast` call there.
_getcurrent: Callable[[], Any] = greenlet.getcurrent

__all__ = [
    "MAX_IDLE_WORKERS",
    "PARKED",
    "BridgeStatistics",
    "Worker",
    "WorkerPool",
    "await_",
    "await_park",
    "bridge_statistics",
    "call_in_worker",
    "cancel_parked",
    "current_worker",
    "in_bridge",
    "park",
    "run_in_greenlet",
    "worker_pool",
]

T = TypeVar("T")

MAX_IDLE_WORKERS = 256
"""Idle workers kept per thread; more than this many finishing at once are dropped."""


class _Parked:
    """The type of `PARKED`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PARKED"


PARKED: Any = _Parked()
"""What a parked worker switches out with: a callback will resume it (see "Parking")."""


class Worker(greenlet.greenlet):  # type: ignore[misc]
    """A pooled bridge greenlet; only code running in one may call `await_`.

    Attributes:
        busy: True from `WorkerPool.acquire` until the function it runs has finished.
        result: what the function returned (read and cleared by `WorkerPool.finish`).
        error: what the function raised, or None (read and cleared by `WorkerPool.finish`).
    """

    __slots__ = (
        "busy",
        "error",
        "handoff",
        "park_future",
        "park_task",
        "parked",
        "parks",
        "result",
    )

    def __init__(self) -> None:
        super().__init__(_serve)
        self.busy = False
        self.result: Any = None
        self.error: BaseException | None = None
        # Parking (see the module docstring): whether a callback holds this worker as its
        # waiter now; the driver's Future to hand the next non-PARKED switch to; that value
        # when the Future was cancelled first; and how many times it parked (task code
        # reads it to learn whether a call did I/O).
        self.parked = False
        self.park_future: asyncio.Future[Any] | None = None
        self.park_task: asyncio.Task[Any] | None = None
        self.handoff: Any = PARKED
        self.parks = 0

    # A Future's waiter interface, for the protocol callback that resumes a parked worker.

    def done(self) -> bool:
        """Whether the wait is over (a callback must not resume the worker then)."""
        return not self.parked

    def set_result(self, value: Any) -> None:
        """Resume the parked worker with `value`, from the callback that has it."""
        self.parked = False
        task = self.park_task
        if task is None:
            value = self.switch(value)
            if value is not PARKED:  # `_hand_over`'s first test, inlined: once per response
                self._hand_over(value)
            return
        # The worker's code runs as its driver's Task, as it would after an `await_`:
        # `asyncio.current_task()` is what gevent.Timeout (runtime/_gevent) cancels.
        loop = task.get_loop()
        _enter_task(loop, task)
        try:
            value = self.switch(value)
        finally:
            _leave_task(loop, task)
        if value is not PARKED:
            self._hand_over(value)

    def set_exception(self, exc: BaseException) -> None:
        """Resume the parked worker by raising `exc` at its `park()`."""
        self.parked = False
        task = self.park_task
        if task is None:
            self._hand_over(self.throw(exc))
            return
        loop = task.get_loop()
        _enter_task(loop, task)
        try:
            value = self.throw(exc)
        finally:
            _leave_task(loop, task)
        self._hand_over(value)

    def _hand_over(self, value: Any) -> None:
        """Pass the worker's next switch to its driver, unless it parked again."""
        if value is PARKED:
            return
        future = self.park_future
        self.park_future = None
        if future is not None and not future.done():
            future.set_result(value)
        else:
            self.handoff = value  # the driver was cancelled meanwhile: it takes it from here

    # Why these three wrappers: greenlet keeps a frame object for the frame that switches
    # out of the loop's greenlet, and on Python 3.11 that object is as big as the frame
    # (about 340 bytes for the task loop). Switched from the task loop itself, every
    # user's loop coroutine would keep one for its whole life; switched from here, one
    # short-lived frame object is made per switch and freed soon after.

    def start(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """Hand the worker `fn(*args)`; returns its first awaitable, or `()` when it finished."""
        if self or _call_below is None:  # started already (or no room to give): just switch
            return self.switch(fn, args)
        return _call_below(STACK_ROOM, self.switch, fn, args)

    def resume(self, value: Any) -> Any:
        """Send the worker the result of its awaitable; returns as `start` does."""
        return self.switch(value)

    def fail(self, exc: BaseException) -> Any:
        """Raise `exc` in the worker at its `await_`; returns as `start` does."""
        return self.throw(exc)


def _serve(fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """A worker's whole life: run each function handed to it, report, park, repeat."""
    while True:
        error: BaseException | None = None
        try:
            result = fn(*args)
        except greenlet.GreenletExit:
            raise  # the worker was abandoned and is being collected: die
        except BaseException as exc:
            result = None
            error = exc
        worker = cast(Worker, greenlet.getcurrent())
        worker.result = result
        worker.error = error
        worker.busy = False
        parent = worker.parent
        # Park outside the except block, holding nothing. An exception still "being
        # handled" would become the __context__ of the next function's errors; these
        # locals would keep the last user alive in the free list; and a reference from
        # a suspended greenlet's frame to the greenlet itself is a cycle that the garbage
        # collector cannot break, so a dropped worker would never be killed and freed.
        fn = args = result = error = worker = None  # type: ignore[assignment]
        fn, args = parent.switch()


@dataclass(frozen=True, slots=True)
class BridgeStatistics:
    """A snapshot of this thread's worker pool (Trio's `statistics()` habit).

    Attributes:
        workers_created: worker greenlets created since the pool was made.
        workers_busy: workers running a function now (handed out, not yet back).
        workers_idle: workers parked in the free list, ready for reuse.
        workers_discarded: workers dropped: abandoned mid-function, dead, or beyond the
            free list's bound.
    """

    workers_created: int
    workers_busy: int
    workers_idle: int
    workers_discarded: int


class WorkerPool:
    """The worker greenlets of one thread (so of the event loop that runs in it)."""

    __slots__ = ("_busy", "_created", "_discarded", "_free", "_max_idle")

    def __init__(self, max_idle: int = MAX_IDLE_WORKERS) -> None:
        self._free: list[Worker] = []
        self._max_idle = max_idle
        self._created = 0
        self._busy = 0
        self._discarded = 0

    def acquire(self, context: Context | None = None) -> Worker:
        """A worker ready to run one function; give it back with `finish` or `abandon`.

        Args:
            context: the contextvars context the function runs in (None: a fresh one).
        """
        free = self._free
        if free:
            worker = free.pop()
        else:
            worker = Worker()
            self._created += 1
        current = greenlet.getcurrent()
        # The worker switches back to its parent: that must be the greenlet driving it,
        # which is the loop's, unless a loop runs inside some other greenlet.
        if worker.parent is not current:
            worker.parent = current
        worker.gr_context = context
        worker.busy = True
        self._busy += 1
        return worker

    def finish(self, worker: Worker) -> Any:
        """Take the outcome of a worker whose function has finished, and free the worker.

        Returns:
            What the function returned.

        Raises:
            BaseException: whatever the function raised, with its traceback.
        """
        error = worker.error
        result = worker.result
        worker.error = None
        worker.result = None
        self._busy -= 1
        if len(self._free) < self._max_idle and not worker.dead:
            worker.gr_context = None
            self._free.append(worker)
        else:
            self._discarded += 1
        if error is not None:
            try:
                raise error
            finally:
                del error  # no reference cycle through this frame
        return result

    def abandon(self, worker: Worker) -> None:
        """Drop a worker whose driver left before its function finished (never reused)."""
        self._busy -= 1
        self._discarded += 1

    def statistics(self) -> BridgeStatistics:
        """The pool's counters now."""
        return BridgeStatistics(
            workers_created=self._created,
            workers_busy=self._busy,
            workers_idle=len(self._free),
            workers_discarded=self._discarded,
        )


_local = threading.local()


def worker_pool() -> WorkerPool:
    """This thread's worker pool (greenlets cannot cross threads, so one per thread)."""
    try:
        return cast(WorkerPool, _local.pool)
    except AttributeError:
        pool = _local.pool = WorkerPool()
        return pool


def bridge_statistics() -> BridgeStatistics:
    """The counters of this thread's worker pool."""
    return worker_pool().statistics()


def in_bridge() -> bool:
    """Whether the caller runs inside a bridge worker (and so may call `await_`)."""
    return isinstance(greenlet.getcurrent(), Worker)


def await_(awaitable: Awaitable[T]) -> T:
    """Block the current worker greenlet until `awaitable` completes on the event loop.

    Raises:
        BridgeError: when called outside a bridge worker, for example from an `async def`
            task (which should `await` the async method instead).
    """
    current = greenlet.getcurrent()
    if not isinstance(current, Worker):
        close = getattr(awaitable, "close", None)
        if close is not None:
            close()  # avoid "coroutine was never awaited" on top of the real error
        raise BridgeError(
            "a blocking call was made outside a user's task; in an `async def` task, "
            "await the async form instead (for example `await self.client.aget(...)`)"
        )
    parent = current.parent
    # Not kept while suspended: the worker's own frame must not refer to the worker (see
    # `_serve`), or an abandoned worker could never be collected.
    del current
    return cast(T, parent.switch(awaitable))


def current_worker() -> Worker:
    """The worker the caller runs in, to hand to a callback before `park()`.

    Raises:
        BridgeError: when called outside a bridge worker.
    """
    current = greenlet.getcurrent()
    if type(current) is Worker:
        return current
    raise BridgeError(
        "a blocking call was made outside a user's task; in an `async def` task, "
        "await the async form instead (for example `await self.client.aget(...)`)"
    )


def park() -> Any:
    """Suspend the caller's worker (handed to a callback first) until the callback resumes it.

    Returns:
        What the callback passed to `Worker.set_result`.

    Raises:
        BaseException: what it passed to `Worker.set_exception`, or `CancelledError`
            when the driver is cancelled meanwhile.
    """
    worker: Worker = _getcurrent()
    worker.parked = True
    worker.parks += 1
    parent = worker.parent
    del worker  # not kept while suspended (see `await_`)
    return parent.switch(PARKED)


async def await_park(worker: Worker) -> Any:
    """The driver's side of `PARKED`: wait until the worker switches out with anything else.

    Returns:
        That switch's value (an awaitable for the driver, or what a finished worker gives).

    Raises:
        CancelledError: the driver was cancelled; the worker is left to `cancel_parked`.
    """
    future = asyncio.get_running_loop().create_future()
    worker.park_future = future
    worker.park_task = asyncio.current_task()
    try:
        return await future
    finally:
        worker.park_future = None
        worker.park_task = None


def cancel_parked(worker: Worker, exc: BaseException) -> Any:
    """After `await_park` was cancelled: deliver `exc` to the worker if it still runs.

    Returns:
        The worker's next switch, as `Worker.start` returns it; `()` if it had already
        finished its function (the caller then raises `exc` itself, after `finish`).
    """
    value = worker.handoff
    worker.handoff = PARKED
    if value is PARKED:  # still parked (or abandoned by a closed coroutine): throw there
        worker.parked = False
        return worker.fail(exc)
    if worker.busy:  # it switched out with an awaitable nobody will await
        close = getattr(value, "close", None)
        if close is not None:
            close()
        return worker.fail(exc)
    return value


async def call_in_worker(
    fn: Callable[..., Any], args: tuple[Any, ...], context: Context | None = None
) -> tuple[Any, Context | None]:
    """Run `fn(*args)` on a pooled worker, serving its `await_` calls on this loop.

    Args:
        fn: the synchronous function.
        args: its positional arguments.
        context: the contextvars context it runs in (None: a fresh, empty one).

    Returns:
        What `fn` returned, and the context it ended in (pass it back in next time to
        keep context variables across calls).

    Raises:
        BaseException: what `fn` raised. Cancelling the caller throws `CancelledError`
            into `fn` at its current `await_`, so its `finally` blocks run.
    """
    pool = worker_pool()
    worker = pool.acquire(context)
    try:
        value = worker.start(fn, args)
        # The same loop is inlined in TaskSet's task loop (user/_taskset.py), the hot path.
        cancelled: BaseException | None = None
        while worker.busy:
            if value is PARKED:
                try:
                    value = await await_park(worker)
                except GeneratorExit:
                    worker.parked = False  # no callback may resume it any more
                    raise
                except BaseException as exc:
                    value = cancel_parked(worker, exc)
                    if not worker.busy:
                        cancelled = exc
                continue
            try:
                result = await value
            except GeneratorExit:
                raise  # the coroutine is being closed: abandon the worker
            except BaseException as exc:  # every other outcome goes back into the worker
                value = worker.fail(exc)
            else:
                value = worker.resume(result)
    except BaseException:
        pool.abandon(worker)
        raise
    context = worker.gr_context
    result = pool.finish(worker)
    if cancelled is not None:
        raise cancelled
    return result, context


async def run_in_greenlet(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` on a pooled worker greenlet, serving its `await_` calls.

    Exceptions raised by `fn` propagate to the caller. Cancelling the caller throws
    `CancelledError` into `fn` at its current `await_`, so its `finally` blocks run.
    """
    if kwargs:
        fn = partial(fn, **kwargs)
    result, _ = await call_in_worker(fn, args)
    return cast(T, result)
