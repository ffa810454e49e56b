"""`gevent.pool` for locustfiles run by loadhopper: `Group` and `Pool`.

A Group tracks greenlets until they finish; a Pool is a Group of bounded size whose
`spawn` waits for a free slot (a `Semaphore` of `size` units, taken when a greenlet joins
and given back when it finishes). `map` and `imap` return results in input order,
`imap_unordered` as they finish; a function's exception is raised to the caller when its
result is reached, as gevent does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from greenlet import GreenletExit

from loadhopper.runtime._gevent._hub import can_wait
from loadhopper.runtime._gevent.greenlet import Greenlet, joinall
from loadhopper.runtime._gevent.lock import Semaphore
from loadhopper.runtime._gevent.queue import Queue
from loadhopper.runtime._gevent.timeout import Timeout

__all__ = ["Group", "Pool", "PoolFull"]


class PoolFull(Exception):
    """`Pool.add(..., blocking=False)` found no free slot."""


class Group:
    """A set of greenlets, joined and killed together; `spawn` starts one in the set."""

    greenlet_class = Greenlet

    def __init__(self, *args: Any) -> None:
        self.greenlets: set[Greenlet] = set()
        # A greenlet is left out of the set when it finishes; only then is its slot free.
        self._discard_link = self._discard
        for greenlet_ in args[0] if args else ():
            self.add(greenlet_)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} greenlets={len(self.greenlets)}>"

    def __len__(self) -> int:
        return len(self.greenlets)

    def __contains__(self, item: object) -> bool:
        return item in self.greenlets

    def __iter__(self) -> Iterator[Greenlet]:
        return iter(list(self.greenlets))

    def add(self, greenlet_: Greenlet) -> None:
        """Track a greenlet until it finishes."""
        if greenlet_ in self.greenlets:
            return
        self.greenlets.add(greenlet_)
        greenlet_.rawlink(self._discard_link)

    def _discard(self, greenlet_: Greenlet) -> None:
        if greenlet_ in self.greenlets:
            self.greenlets.discard(greenlet_)
            self._slot_freed()

    def _slot_freed(self) -> None:
        """A tracked greenlet left (the Pool gives its slot back)."""

    def discard(self, greenlet_: Greenlet) -> None:
        """Stop tracking a greenlet."""
        greenlet_.unlink(self._discard_link)
        self._discard(greenlet_)

    def start(self, greenlet_: Greenlet) -> None:
        """Track a greenlet and start it."""
        self.add(greenlet_)
        greenlet_.start()

    def spawn(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Greenlet:
        """Start `function(*args, **kwargs)` in a new greenlet of this group."""
        greenlet_ = self.greenlet_class(function, *args, **kwargs)
        self.start(greenlet_)
        return greenlet_

    def full(self) -> bool:
        """A Group is never full."""
        return False

    def free_count(self) -> int:
        """Greenlets that may still start without waiting (a Group: 1, it never fills)."""
        return 1

    def wait_available(self, timeout: float | None = None) -> int:
        """Wait until a greenlet may start; returns `free_count()`."""
        return self.free_count()

    def join(self, timeout: float | None = None, raise_error: bool = False) -> bool:
        """Wait until every greenlet of the group finished; True if they all did."""
        if timeout is not None:
            joinall(list(self.greenlets), timeout=timeout, raise_error=raise_error)
        while timeout is None and self.greenlets:
            # Again until empty: a greenlet of the group may spawn more into it.
            joinall(list(self.greenlets), raise_error=raise_error)
        return not self.greenlets

    def kill(
        self, exception: Any = GreenletExit, block: bool = True, timeout: float | None = None
    ) -> None:
        """Kill every greenlet of the group; with `block`, wait (where one can) for them."""
        listed = list(self.greenlets)
        for greenlet_ in listed:
            greenlet_.kill(exception, block=False)
        if block and can_wait():
            joinall(listed, timeout=timeout)

    def killone(
        self,
        greenlet_: Greenlet,
        exception: Any = GreenletExit,
        block: bool = True,
        timeout: float | None = None,
    ) -> None:
        """Kill one greenlet of the group."""
        if greenlet_ in self.greenlets:
            greenlet_.kill(exception, block=block, timeout=timeout)

    # ---- mapping -----------------------------------------------------------------------

    def apply(
        self, function: Callable[..., Any], args: Iterable[Any] = (), kwds: Any = None
    ) -> Any:
        """Run `function` in a greenlet of the group and return its result."""
        return self.spawn(function, *args, **(kwds or {})).get()

    def apply_async(
        self,
        function: Callable[..., Any],
        args: Iterable[Any] = (),
        kwds: Any = None,
        callback: Callable[[Any], object] | None = None,
    ) -> Greenlet:
        """Start `function` in a greenlet of the group; `callback(result)` on success."""
        greenlet_ = self.spawn(function, *args, **(kwds or {}))
        if callback is not None:
            greenlet_.link_value(lambda done: callback(done.value))
        return greenlet_

    def map(self, function: Callable[..., Any], iterable: Iterable[Any]) -> list[Any]:
        """`function` over every item in greenlets of the group; results in input order."""
        return list(self.imap(function, iterable))

    def map_async(self, function: Callable[..., Any], iterable: Iterable[Any]) -> Greenlet:
        """`map` in a greenlet of its own; its `get()` is the list of results."""
        return Greenlet.spawn(self.map, function, iterable)

    def imap(self, function: Callable[..., Any], *iterables: Iterable[Any]) -> Iterator[Any]:
        """`function` over the items, in greenlets of the group; results in input order."""
        started = [self.spawn(function, *args) for args in zip(*iterables, strict=False)]
        for greenlet_ in started:
            yield greenlet_.get()

    def imap_unordered(
        self, function: Callable[..., Any], *iterables: Iterable[Any]
    ) -> Iterator[Any]:
        """`function` over the items, in greenlets of the group; results as they finish."""
        finished = Queue()
        running = 0
        for args in zip(*iterables, strict=False):
            # While the pool is full, hand out results already in: the consumer may be
            # what frees a slot, and a finished greenlet's result should not wait.
            while running and self.full():
                yield finished.get().get()
                running -= 1
            self.spawn(function, *args).rawlink(finished.put)
            running += 1
        while running:
            yield finished.get().get()
            running -= 1


class Pool(Group):
    """A Group of at most `size` running greenlets; `spawn` waits for a free slot.

    Args:
        size: the bound; None makes it unbounded (a Group).
    """

    def __init__(
        self, size: int | None = None, greenlet_class: type[Greenlet] | None = None
    ) -> None:
        if size is not None and size < 0:
            raise ValueError(f"a Pool's size must be 0 or more, not {size}")
        super().__init__()
        self.size = size
        if greenlet_class is not None:
            self.greenlet_class = greenlet_class
        self._slots: Semaphore | None = None if size is None else Semaphore(size)

    def full(self) -> bool:
        """True when `size` greenlets run."""
        return self.free_count() <= 0

    def free_count(self) -> int:
        """Greenlets that may still start without waiting."""
        if self.size is None:
            return 1
        return max(0, self.size - len(self.greenlets))

    def wait_available(self, timeout: float | None = None) -> int:
        """Wait until a slot is free (or `timeout` seconds); returns `free_count()`."""
        if self._slots is not None:
            self._slots.wait(timeout)
        return self.free_count()

    def add(self, greenlet_: Greenlet, blocking: bool = True, timeout: float | None = None) -> None:
        """Track a greenlet, waiting for a free slot first.

        Raises:
            Timeout: no slot came free within `timeout` seconds.
            PoolFull: no free slot, with `blocking=False`.
        """
        if greenlet_ in self.greenlets:
            return
        if self._slots is not None and not self._slots.acquire(blocking, timeout):
            if not blocking:
                raise PoolFull()
            raise Timeout(timeout)
        super().add(greenlet_)

    def _slot_freed(self) -> None:
        if self._slots is not None:
            self._slots.release()
