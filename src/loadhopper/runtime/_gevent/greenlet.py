"""`gevent.greenlet` for locustfiles run by loadhopper: `Greenlet` and its module helpers.

A Greenlet here is an asyncio task of the run whose function runs in a borrowed bridge
worker (see `_hub.py`): it blocks, sleeps and makes requests as a user's task does. `kill()`
cancels the task, which raises `CancelledError` at the point where the function waits, so
its `finally` blocks run; the greenlet then ends with `GreenletExit` as in gevent. An
exception that ends a greenlet is reported like a user's exception (into the run's stats
and the log) and kept for `get()`, `exception` and the links.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

from greenlet import GreenletExit, getcurrent

from loadhopper._bridge import call_in_worker
from loadhopper.runtime._gevent._hub import (
    Linkable,
    add_link,
    can_wait,
    launch,
    notify_links,
    report_error,
    wait_ready,
)
from loadhopper.runtime._gevent.timeout import Timeout

__all__ = [
    "Greenlet",
    "GreenletExit",
    "getcurrent",
    "iwait",
    "joinall",
    "kill",
    "killall",
    "spawn",
    "spawn_later",
    "wait",
]

_names = itertools.count(1)


class Greenlet:
    """A function run concurrently with the user that spawned it (gevent's `Greenlet`).

    Args:
        run: the function to run; a subclass may override `_run` instead.
        *args: its positional arguments.
        **kwargs: its keyword arguments.
    """

    def __init__(self, run: Callable[..., Any] | None = None, *args: Any, **kwargs: Any) -> None:
        if run is not None:
            # gevent's way: the function shadows the `_run` method on this instance.
            self._run = run  # type: ignore[method-assign]
        self.args = args
        self.kwargs = kwargs
        self.value: Any = None
        self.name = f"Greenlet-{next(_names)}"
        self._exception: BaseException | None = None
        self._started = False
        self._dead = False
        self._running = False
        self._delay = 0.0
        self._kill_with: BaseException | None = None
        self._links: list[Callable[[Any], object]] = []
        self._task: asyncio.Task[None] | None = None

    def _run(self, *args: Any, **kwargs: Any) -> Any:
        """The greenlet's body, for subclasses that do not pass `run`."""
        return None

    # ---- starting ----------------------------------------------------------------------

    @classmethod
    def spawn(cls, *args: Any, **kwargs: Any) -> Greenlet:
        """Create a greenlet and start it."""
        greenlet_ = cls(*args, **kwargs)
        greenlet_.start()
        return greenlet_

    @classmethod
    def spawn_later(cls, seconds: float, *args: Any, **kwargs: Any) -> Greenlet:
        """Create a greenlet and start it in `seconds`."""
        greenlet_ = cls(*args, **kwargs)
        greenlet_.start_later(seconds)
        return greenlet_

    def start(self) -> None:
        """Schedule the greenlet to run (once the current code waits or ends)."""
        if not self._started:
            self._started = True
            launch(self, self.name)

    def start_later(self, seconds: float) -> None:
        """Schedule the greenlet to run in `seconds`."""
        if not self._started:
            self._delay = max(seconds, 0.0)
            self.start()

    async def _drive(self) -> None:
        if self._dead:  # killed before it ran
            return
        self._task = asyncio.current_task()
        try:
            if self._delay:
                await asyncio.sleep(self._delay)
            self._running = True
            result, _ = await call_in_worker(self._call, ())
            if result is not None and inspect.isawaitable(result):
                result = await result
        except asyncio.CancelledError:
            # Swallowed on purpose: this task is the greenlet's own, and its end is told
            # through the greenlet's state, as gevent tells it.
            self._finish(None, self._kill_with or GreenletExit())
        except GreenletExit as exc:
            self._finish(None, exc)
        except BaseException as exc:
            self._finish(None, exc)
            report_error(self, exc)
        else:
            self._finish(result, None)

    def _call(self) -> Any:
        return self._run(*self.args, **self.kwargs)

    def _finish(self, value: Any, exception: BaseException | None) -> None:
        self.value = value
        self._exception = exception
        self._dead = True
        self._running = False
        self._task = None
        links, self._links = self._links, []
        notify_links(self, links)

    # ---- state -------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        """True once start() was called."""
        return self._started

    @property
    def dead(self) -> bool:
        """True once the greenlet has finished (or was killed before it started)."""
        return self._dead

    @property
    def exception(self) -> BaseException | None:
        """What ended the greenlet (GreenletExit when killed), or None."""
        return self._exception

    def ready(self) -> bool:
        """True once the greenlet has finished."""
        return self._dead

    def successful(self) -> bool:
        """True if it finished without an exception (a kill counts as success, as in gevent)."""
        return self._dead and (self._exception is None or isinstance(self._exception, GreenletExit))

    def __bool__(self) -> bool:
        # gevent's rule: a greenlet is true while it is active (started and not dead).
        return self._started and not self._dead

    def __repr__(self) -> str:
        state = "dead" if self._dead else "running" if self._started else "new"
        return f"<Greenlet {self.name!r} {state} {getattr(self._run, '__name__', '')}>"

    # ---- links -------------------------------------------------------------------------

    def rawlink(self, callback: Callable[[Any], object]) -> None:
        """Call `callback(self)` when the greenlet finishes (soon, if it already has)."""
        add_link(self, self._links, self._dead, callback)

    link = rawlink

    def link_value(self, callback: Callable[[Any], object]) -> None:
        """Call `callback(self)` when the greenlet finishes successfully."""
        self.rawlink(_only(callback, lambda g: g.successful()))

    def link_exception(self, callback: Callable[[Any], object]) -> None:
        """Call `callback(self)` when the greenlet finishes with an exception."""
        self.rawlink(_only(callback, lambda g: not g.successful()))

    def unlink(self, callback: Callable[[Any], object]) -> None:
        """Remove a callback given to `link` or `rawlink`."""
        self._links = [link for link in self._links if link != callback]

    # ---- waiting -----------------------------------------------------------------------

    def join(self, timeout: float | None = None) -> None:
        """Wait until the greenlet finishes, or `timeout` seconds."""
        wait_ready([self], None, timeout, "Greenlet.join()")

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """The greenlet's return value, waiting for it; re-raises what ended it.

        Raises:
            Timeout: it has not finished after `timeout` seconds (or at once, with
                `block=False`).
        """
        if not self._dead:
            if not block:
                raise Timeout()
            wait_ready([self], None, timeout, "Greenlet.get()")
            if not self._dead:
                raise Timeout(timeout)
        if self._exception is not None:
            raise self._exception
        return self.value

    def kill(
        self, exception: Any = GreenletExit, block: bool = True, timeout: float | None = None
    ) -> None:
        """End the greenlet; with `block`, wait (where the caller can wait) until it has."""
        if self._dead:
            return
        killed = exception() if isinstance(exception, type) else exception
        if self._task is None:
            # Not started, or started but not yet running: it never runs.
            self._finish(None, killed)
            return
        self._kill_with = killed
        self._task.cancel()
        if block and can_wait():
            self.join(timeout)


def _only(
    callback: Callable[[Any], object], condition: Callable[[Greenlet], bool]
) -> Callable[[Any], object]:
    def link(greenlet_: Greenlet) -> None:
        if condition(greenlet_):
            callback(greenlet_)

    return link


def spawn(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Greenlet:
    """Run `function(*args, **kwargs)` in a new greenlet; returns it."""
    return Greenlet.spawn(function, *args, **kwargs)


def spawn_later(
    seconds: float, function: Callable[..., Any], *args: Any, **kwargs: Any
) -> Greenlet:
    """Run `function(*args, **kwargs)` in a new greenlet in `seconds`; returns it."""
    return Greenlet.spawn_later(seconds, function, *args, **kwargs)


def joinall(
    greenlets: Iterable[Greenlet],
    timeout: float | None = None,
    raise_error: bool = False,
    count: int | None = None,
) -> list[Greenlet]:
    """Wait until the greenlets (or `count` of them) finish; return those that did.

    Raises:
        BaseException: with `raise_error`, the exception of the first one that failed.
    """
    listed = list(greenlets)
    done = wait_ready(cast(list[Linkable], listed), count, timeout, "gevent.joinall()")
    if raise_error:
        for greenlet_ in listed:
            if greenlet_.dead and not greenlet_.successful() and greenlet_.exception:
                raise greenlet_.exception
    return [g for g in listed if g in done]


def wait(
    objects: Iterable[Any] | None = None, timeout: float | None = None, count: int | None = None
) -> list[Any]:
    """Wait until the objects (greenlets, events, async results) are ready; return those.

    Without objects there is nothing to wait for here (gevent would wait for its whole
    loop to run dry, which a test never does): it returns at once.
    """
    listed = list(objects) if objects is not None else []
    return wait_ready(listed, count, timeout, "gevent.wait()")


def iwait(
    objects: Iterable[Any], timeout: float | None = None, count: int | None = None
) -> Iterator[Any]:
    """Yield the objects as they become ready (at most `count`, within `timeout` each)."""
    remaining = list(objects)
    wanted = len(remaining) if count is None else count
    while remaining and wanted > 0:
        done = wait_ready(remaining, 1, timeout, "gevent.iwait()")
        if not done:
            return
        for obj in done:
            remaining.remove(obj)
            wanted -= 1
            yield obj
            if wanted <= 0:
                return


def kill(greenlet_: Greenlet, exception: Any = GreenletExit) -> None:
    """Kill one greenlet without waiting for it."""
    greenlet_.kill(exception, block=False)


def killall(
    greenlets: Iterable[Greenlet],
    exception: Any = GreenletExit,
    block: bool = True,
    timeout: float | None = None,
) -> None:
    """Kill the greenlets; with `block`, wait (where the caller can wait) until they end."""
    listed = list(greenlets)
    for greenlet_ in listed:
        greenlet_.kill(exception, block=False)
    if block and can_wait():
        joinall(listed, timeout)
