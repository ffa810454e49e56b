"""`time.sleep` that pauses only the user calling it, for the length of a run.

Locust monkey-patches the standard library at import, so a locustfile's `time.sleep(1)`
pauses one user and the others run on. loadhopper patches nothing on import; without this
module such a sleep would block the whole event loop (every user sleeping one after
another, and the blocked time counted in whatever request was on the wire).

`yielding_sleep` is the replacement: called inside a bridge worker (a task, on_start,
on_stop, a spawned greenlet) it parks that worker on the loop's shared sleep queue, so only
that user waits; called anywhere else (module level, a listener, another thread) it is the
real `time.sleep`. `sleep_patch()` puts it in `time.sleep` while a test runs (the runner
uses it) and while a locustfile is imported (so that `from time import sleep` binds it),
then puts the real function back. Set `LOADHOPPER_NO_SLEEP_PATCH=1` to leave `time.sleep`
alone; `gevent.sleep` in a locustfile still yields either way.

Nothing here runs per request: the check is made in the sleep call itself.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import SupportsIndex

import greenlet

from loadhopper._bridge import Worker, await_
from loadhopper.user._sleep_queue import sleep_queue

__all__ = [
    "NO_SLEEP_PATCH_ENV",
    "park",
    "real_sleep",
    "sleep_patch",
    "sleep_patch_enabled",
    "yielding_sleep",
]

NO_SLEEP_PATCH_ENV = "LOADHOPPER_NO_SLEEP_PATCH"
"""Set to 1 (or true, yes) to keep the real `time.sleep` during runs."""

real_sleep = time.sleep
"""The real `time.sleep`, taken at import: the patch must never end up calling itself."""

_depth = 0  # nested sleep_patch() scopes (a locustfile import inside a run, two runners)


def park(seconds: float) -> None:
    """Pause the calling bridge worker for `seconds` on its loop; the caller checked it is one.

    Zero still yields once, as `gevent.sleep(0)` does, so a loop that sleeps 0 between
    steps lets the other users run.
    """
    if seconds > 0:
        await_(sleep_queue(asyncio.get_running_loop()).sleep(seconds))
    else:
        await_(asyncio.sleep(0))


def yielding_sleep(seconds: float | SupportsIndex) -> None:
    """`time.sleep` that, inside a user's greenlet, pauses that user only.

    Raises:
        ValueError: `seconds` is negative (as the real `time.sleep` does).
    """
    if isinstance(greenlet.getcurrent(), Worker):
        delay = float(seconds)
        if delay < 0:
            raise ValueError("sleep length must be non-negative")
        park(delay)
    else:
        real_sleep(seconds)


def sleep_patch_enabled() -> bool:
    """Whether runs patch `time.sleep` (not when LOADHOPPER_NO_SLEEP_PATCH is set)."""
    value = os.environ.get(NO_SLEEP_PATCH_ENV, "").strip().lower()
    return value not in ("1", "true", "yes", "on")


@contextmanager
def sleep_patch() -> Iterator[None]:
    """Make `time.sleep` the yielding sleep inside the block (unless opted out)."""
    global _depth
    if not sleep_patch_enabled():
        yield
        return
    if _depth == 0:
        time.sleep = yielding_sleep
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        # Only ours is undone: code that replaced time.sleep meanwhile keeps its own.
        if _depth == 0 and time.sleep is yielding_sleep:
            time.sleep = real_sleep
