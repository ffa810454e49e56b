"""`gevent.queue` for locustfiles run by loadhopper: `Queue`, `JoinableQueue`, `Empty`, `Full`.

`Empty` and `Full` are the standard library's, as in gevent. A `put` that has room and a
`get` that has an item never wait, and so work anywhere; waiting works inside a user or a
spawned greenlet (see `_hub.block`).
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Iterable, Iterator
from queue import Empty, Full
from typing import Any

# `block` is also the parameter name of put/get/peek (gevent's API), hence the alias.
from loadhopper.runtime._gevent._hub import block as _block
from loadhopper.runtime._gevent._hub import wait_future

__all__ = ["Empty", "Full", "JoinableQueue", "LifoQueue", "PriorityQueue", "Queue"]


def _wake_one(waiters: deque[asyncio.Future[None]]) -> None:
    while waiters:
        future = waiters.popleft()
        if not future.done():
            future.set_result(None)
            return


async def _wait_turn(waiters: deque[asyncio.Future[None]], timeout: float | None) -> bool:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waiters.append(future)
    try:
        return await wait_future(future, timeout)
    finally:
        if not future.done():
            future.cancel()
            waiters.remove(future)


class Queue:
    """A FIFO queue between greenlets; `maxsize` None (or 0) means unbounded, as in gevent."""

    def __init__(self, maxsize: int | None = None, items: Iterable[Any] = ()) -> None:
        self._maxsize = maxsize if maxsize else None
        self.queue: Any = self._make(items)
        self._getters: deque[asyncio.Future[None]] = deque()
        self._putters: deque[asyncio.Future[None]] = deque()

    def _make(self, items: Iterable[Any]) -> Any:
        return deque(items)

    def _put(self, item: Any) -> None:
        self.queue.append(item)

    def _get(self) -> Any:
        return self.queue.popleft()

    def _peek(self) -> Any:
        return self.queue[0]

    @property
    def maxsize(self) -> int | None:
        """The bound (None: unbounded)."""
        return self._maxsize

    def __repr__(self) -> str:
        return f"<{type(self).__name__} size={self.qsize()} maxsize={self._maxsize}>"

    def __len__(self) -> int:
        return self.qsize()

    def __bool__(self) -> bool:
        # gevent's rule: a queue is always true, even empty (so `if queue:` tests existence).
        return True

    def qsize(self) -> int:
        """Items in the queue now."""
        return len(self.queue)

    def empty(self) -> bool:
        """True when there is no item."""
        return not self.qsize()

    def full(self) -> bool:
        """True when a bounded queue has no room."""
        return self._maxsize is not None and self.qsize() >= self._maxsize

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Add an item, waiting up to `timeout` seconds for room.

        Raises:
            Full: still no room (at once, with block=False).
        """
        if self.full():
            if not block or timeout == 0:
                raise Full
            _block(self._wait_room(timeout), "Queue.put()")
        self._put(item)
        _wake_one(self._getters)

    async def _wait_room(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self.full():
            remaining = None if deadline is None else deadline - loop.time()
            if not await _wait_turn(self._putters, remaining):
                raise Full

    def put_nowait(self, item: Any) -> None:
        """Add an item if there is room, else raise Full."""
        self.put(item, block=False)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Take the next item, waiting up to `timeout` seconds for one.

        Raises:
            Empty: still no item (at once, with block=False).
        """
        if self.empty():
            if not block or timeout == 0:
                raise Empty
            _block(self._wait_item(timeout), "Queue.get()")
        item = self._get()
        _wake_one(self._putters)
        return item

    async def _wait_item(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self.empty():
            remaining = None if deadline is None else deadline - loop.time()
            if not await _wait_turn(self._getters, remaining):
                raise Empty

    def get_nowait(self) -> Any:
        """Take the next item if there is one, else raise Empty."""
        return self.get(block=False)

    def peek(self, block: bool = True, timeout: float | None = None) -> Any:
        """The next item, left in the queue, waiting as `get` does."""
        if self.empty():
            if not block or timeout == 0:
                raise Empty
            _block(self._wait_item(timeout), "Queue.peek()")
            _wake_one(self._getters)  # peeking consumed no item: pass the wake-up on
        return self._peek()

    def peek_nowait(self) -> Any:
        """The next item if there is one, else raise Empty."""
        return self.peek(block=False)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        # As gevent: iteration takes items until one is StopIteration.
        item = self.get()
        if item is StopIteration:
            raise StopIteration
        return item


class LifoQueue(Queue):
    """A queue that hands out the newest item first."""

    def _get(self) -> Any:
        return self.queue.pop()

    def _peek(self) -> Any:
        return self.queue[-1]


class PriorityQueue(Queue):
    """A queue that hands out the smallest item first."""

    def _make(self, items: Iterable[Any]) -> Any:
        heap = list(items)
        heapq.heapify(heap)
        return heap

    def _put(self, item: Any) -> None:
        heapq.heappush(self.queue, item)

    def _get(self) -> Any:
        return heapq.heappop(self.queue)

    def _peek(self) -> Any:
        return self.queue[0]


class JoinableQueue(Queue):
    """A Queue that counts unfinished items: `task_done()` per item, `join()` waits for all."""

    def __init__(self, maxsize: int | None = None, items: Iterable[Any] = ()) -> None:
        super().__init__(maxsize, items)
        self.unfinished_tasks = self.qsize()
        self._joiners: deque[asyncio.Future[None]] = deque()

    def _put(self, item: Any) -> None:
        super()._put(item)
        self.unfinished_tasks += 1

    def task_done(self) -> None:
        """Mark one item taken with `get()` as processed.

        Raises:
            ValueError: called more times than there were items.
        """
        if self.unfinished_tasks <= 0:
            raise ValueError("task_done() called more times than there were items")
        self.unfinished_tasks -= 1
        if self.unfinished_tasks == 0:
            joiners, self._joiners = self._joiners, deque()
            for future in joiners:
                if not future.done():
                    future.set_result(None)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every item was processed, or `timeout` seconds; True if all were."""
        if self.unfinished_tasks == 0:
            return True
        if timeout == 0:
            return False
        return _block(self._join(timeout), "JoinableQueue.join()")

    async def _join(self, timeout: float | None) -> bool:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._joiners.append(future)
        try:
            await wait_future(future, timeout)
        finally:
            if not future.done():
                future.cancel()
                self._joiners.remove(future)
        return self.unfinished_tasks == 0
