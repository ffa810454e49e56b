"""What `import gevent` resolves to in a locustfile run by loadhopper (see `_locust_alias`).

The gevent idioms of locustfiles, scheduled on loadhopper's event loop: `spawn` and
`Greenlet`, `joinall`, `wait`, `killall`, `sleep`, `Timeout`, and the submodules `pool`,
`lock`, `event`, `queue`, `monkey` (see `_hub.py` for how it works). Only a locustfile run
by loadhopper sees these under the name `gevent`; `import loadhopper` aliases nothing.
"""

from __future__ import annotations

import asyncio

from greenlet import GreenletExit

from loadhopper._bridge import Worker
from loadhopper.runtime._gevent import event, lock, monkey, pool, queue, timeout
from loadhopper.runtime._gevent import greenlet as greenlet
from loadhopper.runtime._gevent.greenlet import (
    Greenlet,
    getcurrent,
    iwait,
    joinall,
    kill,
    killall,
    spawn,
    spawn_later,
    wait,
)
from loadhopper.runtime._gevent.timeout import Timeout, with_timeout
from loadhopper.runtime._library import waiting_hub
from loadhopper.runtime._sleep_patch import park, real_sleep

__all__ = [
    "Greenlet",
    "GreenletExit",
    "Timeout",
    "event",
    "getcurrent",
    "greenlet",
    "idle",
    "iwait",
    "joinall",
    "kill",
    "killall",
    "lock",
    "monkey",
    "pool",
    "queue",
    "sleep",
    "spawn",
    "spawn_later",
    "spawn_raw",
    "timeout",
    "wait",
    "with_timeout",
]

spawn_raw = spawn


def sleep(seconds: float = 0, ref: bool = True) -> None:
    """Pause the calling user or greenlet for `seconds` (0: let the others run once).

    In a script using loadhopper as a library, the script's sleep runs the loop meanwhile.
    Elsewhere outside a user or spawned greenlet (module level, a listener) it is
    `time.sleep`.
    """
    seconds = max(seconds, 0.0)  # gevent sleeps 0 for a negative delay
    if isinstance(getcurrent(), Worker):
        park(seconds)
        return
    hub = waiting_hub()
    if hub is not None:
        hub.wait(asyncio.sleep(seconds))
    else:
        real_sleep(seconds)


def idle(priority: int = 0) -> None:
    """Let the other users and greenlets run once."""
    sleep(0)
