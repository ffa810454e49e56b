"""The greenlet bridge: synchronous task code that awaits on the event loop.

Theory of operation. A user's synchronous code (`self.client.get("/")`) runs inside a
greenlet whose parent is the greenlet that runs the asyncio event loop. When that code needs
I/O it calls `await_(awaitable)`, which switches to the parent, handing it the awaitable. The
driver coroutine `run_in_greenlet` (an ordinary asyncio task on the loop) awaits it and
switches back into the child with the result, or throws the exception into it. From the
task code's point of view the call simply blocked; from the loop's point of view it was one
more coroutine. No thread, no monkey-patching: one switch out and one switch in per await.

This module sits below `http/` (not in `runtime/` as DESIGN.md first drew it) because the
HTTP session's blocking methods call `await_`, and imports only flow downwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import greenlet

from loadhopper._exceptions import BridgeError

__all__ = ["await_", "in_bridge", "run_in_greenlet"]

T = TypeVar("T")


class _BridgeGreenlet(greenlet.greenlet):  # type: ignore[misc]
    """A greenlet started by `run_in_greenlet`; only these may call `await_`."""


def in_bridge() -> bool:
    """Whether the caller runs inside a bridge greenlet (and so may call `await_`)."""
    return isinstance(greenlet.getcurrent(), _BridgeGreenlet)


def await_(awaitable: Awaitable[T]) -> T:
    """Block the current user greenlet until `awaitable` completes on the event loop.

    Raises:
        BridgeError: when called outside a greenlet started by `run_in_greenlet`, for
            example from an `async def` task (which should `await` the async method instead).
    """
    current = greenlet.getcurrent()
    if not isinstance(current, _BridgeGreenlet):
        close = getattr(awaitable, "close", None)
        if close is not None:
            close()  # avoid "coroutine was never awaited" on top of the real error
        raise BridgeError(
            "a blocking call was made outside a user's task; in an `async def` task, "
            "await the async form instead (for example `await self.client.aget(...)`)"
        )
    return cast(T, current.parent.switch(awaitable))


async def run_in_greenlet(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` in a new greenlet, serving its `await_` calls on this loop.

    Exceptions raised by `fn` propagate to the caller. Cancelling the caller throws
    `CancelledError` into `fn` at its current `await_`, so its `finally` blocks run.
    """
    child = _BridgeGreenlet(fn)
    value: Any = child.switch(*args, **kwargs)
    while not child.dead:
        try:
            result = await value
        except BaseException as exc:  # every outcome goes back into the child
            value = child.throw(exc)
        else:
            value = child.switch(result)
    return cast(T, value)
