"""`run_blocking`: call blocking code from a task without stalling the other users.

Every user of a process shares one event loop, so a blocking call in a task (a database
driver, `requests.get`, a file read, hashing a large file) stops them all until it returns,
and the stall watch reports it. `run_blocking(fn, *args, **kwargs)` runs `fn` in a thread
of the loop's default executor instead, and parks only the calling user until it returns:
the others go on. An `async def` task does the same with `await asyncio.to_thread(fn, ...)`.

The executor is asyncio's default one, bounded (Python's default: min(32, CPUs + 4)
threads); calls beyond that queue. A user stopped while it waits stops waiting, but the
thread runs `fn` to its end (threads cannot be interrupted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from loadhopper._bridge import await_, in_bridge

__all__ = ["run_blocking"]

P = ParamSpec("P")
T = TypeVar("T")


def run_blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking call in a thread, pausing only the calling user until it returns.

    From a task, `on_start`, `on_stop` or a wait function, only that user waits; the
    event loop and every other user go on. Anywhere else (module level, another thread)
    `fn` is simply called. In an `async def` task use `await asyncio.to_thread(fn, ...)`.

    Args:
        fn: the blocking function.
        *args: its positional arguments.
        **kwargs: its keyword arguments.

    Returns:
        What `fn` returned.

    Raises:
        Exception: what `fn` raised.

    Example:
        ```python
        @task
        def report(self):
            rows = run_blocking(database.query, "select 1")
        ```
    """
    if in_bridge():
        # to_thread copies the user's context variables into the thread, as a task sees them.
        return await_(asyncio.to_thread(fn, *args, **kwargs))
    return fn(*args, **kwargs)
