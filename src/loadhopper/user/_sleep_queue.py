"""SleepQueue: every user's wait on one event-loop timer.

Theory of operation. Thousands of users spend most of their life waiting between two
tasks. A `loop.call_later` per wait costs about 600 bytes on uvloop (a Python TimerHandle
plus a libuv timer, measured with tracemalloc on Python 3.11), more than the rest of an
idle user's coroutine. Here a wait is a future and one heap entry `(deadline, sequence,
future)`, about 120 bytes; a single loop timer is armed for the earliest deadline, and
when it fires it resolves every future that is due and re-arms for the next one.

A future resolved early (the user was asked to stop) or cancelled (its task was) stays in
the heap until its deadline and is then skipped: removing it from the middle of the heap
would cost more than it saves.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import weakref

__all__ = ["SleepQueue", "sleep_queue"]

# uvloop's timers have millisecond resolution: a timer can fire up to half a millisecond
# before the deadline it was armed for. Futures this close to due are resolved with the
# others rather than re-arming a timer for a fraction of a millisecond.
_EARLY_SECONDS = 0.001


class SleepQueue:
    """The waits of one event loop, on one timer."""

    __slots__ = ("__weakref__", "_armed_for", "_handle", "_heap", "_loop", "_sequence")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        # The tie-breaker: two waits with the same deadline never compare their futures.
        self._sequence = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for = 0.0

    def __len__(self) -> int:
        """Entries in the heap, stale ones (woken or cancelled early) included."""
        return len(self._heap)

    def sleep(self, seconds: float) -> asyncio.Future[None]:
        """A future that resolves (to None) `seconds` from now; resolve it earlier to wake."""
        loop = self._loop
        deadline = loop.time() + seconds
        future: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._heap, (deadline, next(self._sequence), future))
        if self._handle is None or deadline < self._armed_for:
            self._arm(deadline)
        return future

    def _arm(self, deadline: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_for = deadline
        self._handle = self._loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._handle = None
        heap = self._heap
        due = self._loop.time() + _EARLY_SECONDS
        while heap and heap[0][0] <= due:
            future = heapq.heappop(heap)[2]
            if not future.done():
                future.set_result(None)
        if heap:
            self._arm(heap[0][0])


# Weak values: a queue lives while its timer is armed or a user's loop holds it, and goes
# with its loop when the loop is closed (a strong value would keep every loop alive).
_QUEUES: weakref.WeakValueDictionary[asyncio.AbstractEventLoop, SleepQueue] = (
    weakref.WeakValueDictionary()
)


def sleep_queue(loop: asyncio.AbstractEventLoop) -> SleepQueue:
    """The sleep queue of `loop`, created on first use."""
    queue = _QUEUES.get(loop)
    if queue is None:
        queue = SleepQueue(loop)
        _QUEUES[loop] = queue
    return queue
