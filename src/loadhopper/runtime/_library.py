"""The library hub: loadhopper's event loop driven from a plain script, as gevent's hub is.

Theory of operation. Locust's docs teach a script that builds an `Environment`, calls
`runner.start(...)`, sleeps or spawns a stats printer, and waits on `runner.greenlet.join()`,
with no event loop in sight: gevent runs its loop in a *hub* greenlet and switches to it
whenever the script blocks. loadhopper does the same with its asyncio (uvloop) loop:

- The hub is one greenlet of the thread, started on first use, whose parent is the greenlet
  that started it, the *owner* (the script's main greenlet). It runs the loop, inside which
  one driver coroutine serves the owner: it awaits what the owner hands it, then switches
  back to the owner with the outcome. So the loop runs exactly while the owner is blocked,
  and the owner's code runs while the loop is suspended in the middle of a step: the
  bridge's `await_` (`_bridge.py`) turned the other way round.
- While the owner runs, the thread's "running loop" is unset (and set again when the owner
  blocks), so the script sees no running loop: `asyncio.run()` still works in it, and code
  that asks "am I on the loop?" answers no.
- The owner blocks through `LibraryHub.wait(awaitable)`. The gevent shim's blocking calls
  (`Greenlet.join`, `Event.wait`, `gevent.sleep`, ...), `runner.greenlet.join()`, a
  script's `runner.stop()`, and `time.sleep` while the library mode is active use it when
  called from the owner; from a user or a spawned greenlet they wait on the loop as usual.
- Greenlets the owner spawns, and tests `runner.start()` begins outside a running test, are
  tasks held by the hub (not by a test), so a stats printer outlives one test, as in
  Locust. Closing the hub stops those tests (their users get their usual stop), stops the
  other held tasks, cancels what is left after a bound, and closes the loop.

What the library mode installs, and for how long: `time.sleep` is the sleep that waits on
the hub (in the owner) or pauses one user (in a user), from the hub's start until it closes
(`LOADHOPPER_NO_SLEEP_PATCH=1` leaves `time.sleep` alone); nothing else is patched. The hub
starts on the first `runner.start()` outside a running test, `runner.greenlet.join()` or
`env.create_web_ui()` made outside any event loop, and closes at interpreter exit (or at the
end of `library_scope()`, which `loadhopper run-script` uses; inside it any blocking call of
the script starts the hub).

The CLI never starts a hub: it runs its own loop, and nothing here is on a request's path.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
import time
from asyncio import events as asyncio_events
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, SupportsIndex, TypeVar, cast

import greenlet

from loadhopper._bridge import Worker
from loadhopper._exceptions import BridgeError, LoadhopperError
from loadhopper.runtime._event_loop import new_event_loop
from loadhopper.runtime._sleep_patch import sleep_patch, yielding_sleep

__all__ = [
    "EXIT_GRACE_SECONDS",
    "LibraryHub",
    "close_library_hub",
    "current_hub",
    "library_hub",
    "library_scope",
    "library_sleep",
    "waiting_hub",
]

T = TypeVar("T")

logger = logging.getLogger("loadhopper.library")

EXIT_GRACE_SECONDS = 10.0
"""How long a closing hub waits for its tests and tasks to stop before cancelling them."""

_CLOSE = object()  # handed to the driver: leave the loop


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class LibraryHub:
    """This thread's event loop, run in a hub greenlet while its owner blocks.

    Made by `library_hub()`, not directly. Every method but `spawn` must be called from the
    owner greenlet.

    Attributes:
        owner: the greenlet that started the hub (the script's main greenlet); only it
            may `wait`.
        loop: the event loop the hub runs.
        closed: True once `close()` has run (or the loop ended with an exception).
    """

    def __init__(self, owner: greenlet.greenlet) -> None:
        self.owner = owner
        self.loop = new_event_loop()
        self.closed = False
        self._greenlet = greenlet.greenlet(self._serve, parent=owner)
        self._broken = False
        # Tasks the hub holds (asyncio keeps only weak references), each with what asks it
        # to end gently at close (a test's runner.quit, a web server's shutdown), or None.
        self._tasks: dict[asyncio.Task[Any], Callable[[], object] | None] = {}

    # ---- the owner's side -----------------------------------------------------------------

    def wait(self, awaitable: Awaitable[T]) -> T:
        """Run the loop until `awaitable` completes; return its result or raise its error.

        Raises:
            BridgeError: the caller is not the owner.
            LoadhopperError: the hub is closed.
        """
        if greenlet.getcurrent() is not self.owner:
            _close_quietly(awaitable)
            raise BridgeError(
                "only the greenlet that started loadhopper's library mode can wait on its "
                "loop; wait from the script's main code, a user, or a spawned greenlet"
            )
        if self.closed:
            _close_quietly(awaitable)
            raise LoadhopperError(
                "loadhopper's library mode has ended (its loop is closed); start a new "
                "script to run another test"
            )
        try:
            ok, value = self._greenlet.switch(awaitable)
        except BaseException:
            # Only an exception that escaped the loop itself gets here (Ctrl-C raised
            # between two steps): the loop can still be run, but not by this driver.
            self._broken = True
            self.closed = True
            raise
        if ok:
            return cast(T, value)
        raise cast(BaseException, value)

    def spawn(
        self,
        coroutine: Coroutine[Any, Any, Any],
        name: str,
        stop: Callable[[], object] | None = None,
    ) -> asyncio.Task[Any]:
        """Run `coroutine` as a task held by the hub until it ends or the hub closes.

        Args:
            coroutine: the task's body.
            name: the task's name.
            stop: asks the task to end gently when the hub closes (before it is cancelled).
        """
        if self.closed:
            coroutine.close()
            raise LoadhopperError(
                f"cannot start {name!r} because loadhopper's library mode has ended; "
                "start a new script to run another test"
            )
        task = self.loop.create_task(coroutine, name=name)
        self._tasks[task] = stop
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(task, None)

    def close(self) -> None:
        """Stop the held tests and tasks (bounded), then close the loop. Safe to call twice."""
        if self.closed and not self._broken:
            return
        if greenlet.getcurrent() is not self.owner:
            raise BridgeError("only the greenlet that started the library mode can close it")
        try:
            if self._broken:
                # The driver is gone; the loop is not running, so run it here one last time.
                self.loop.run_until_complete(self._shutdown())
            elif self._greenlet:
                self.wait(self._shutdown())
                self._greenlet.switch(_CLOSE)
            else:  # never started: nothing ever ran on the loop
                self.loop.run_until_complete(self._shutdown())
        finally:
            self.closed = True
            self._broken = False
            if not self.loop.is_closed() and not self.loop.is_running():
                self.loop.close()

    async def _shutdown(self) -> None:
        # Tasks that can end gently (tests, the web server) are asked to and get a grace;
        # the rest (spawned greenlets, a stats printer) are killed at once, as gevent's
        # are when a script ends.
        held = dict(self._tasks)
        gentle = [task for task, stop in held.items() if stop is not None]
        for task in held:
            stop = held[task]
            if stop is None:
                task.cancel()
                continue
            try:
                stop()
            except Exception:
                logger.exception("stopping %r at exit failed", task.get_name())
        if gentle:
            await asyncio.wait(gentle, timeout=EXIT_GRACE_SECONDS)
        left = [task for task in held if not task.done()]
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left, timeout=EXIT_GRACE_SECONDS)
        await self.loop.shutdown_asyncgens()

    # ---- the hub's side --------------------------------------------------------------------

    def _serve(self, awaitable: Awaitable[Any]) -> tuple[bool, Any]:
        """The hub greenlet's body: run the loop around the driver until told to leave."""
        self.loop.run_until_complete(self._drive(awaitable))
        return True, None

    async def _drive(self, awaitable: Awaitable[Any]) -> None:
        owner = self.owner
        while True:
            try:
                outcome: tuple[bool, Any] = (True, await awaitable)
            except BaseException as exc:  # every outcome goes back to the owner
                outcome = (False, exc)
            del awaitable
            if self._broken:
                return
            # The owner runs "off the loop": unset the running loop while it does.
            asyncio_events._set_running_loop(None)
            try:
                awaitable = owner.switch(outcome)
            finally:
                asyncio_events._set_running_loop(self.loop)
            del outcome
            if awaitable is _CLOSE:
                return


def _close_quietly(awaitable: Awaitable[Any]) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()  # a coroutine never awaited would add a warning to the real error


# ---- this thread's hub --------------------------------------------------------------------


class _State(threading.local):
    def __init__(self) -> None:
        self.hub: LibraryHub | None = None
        self.scopes = 0  # library_scope() blocks open: blocking there starts the hub


_state = _State()
_exit_hook_registered = False


def current_hub() -> LibraryHub | None:
    """This thread's open hub, or None."""
    hub = _state.hub
    return hub if hub is not None and not hub.closed else None


def _can_own(current: greenlet.greenlet) -> bool:
    # A user's worker or code on a running loop must not start a loop of its own.
    return not isinstance(current, Worker) and _running_loop() is None


def library_hub() -> LibraryHub:
    """This thread's hub, started now if needed (a script's first blocking call).

    Raises:
        LoadhopperError: called from a user, a spawned greenlet or a running event loop,
            where the test's own loop already runs everything.
    """
    hub = current_hub()
    if hub is not None:
        return hub
    current = greenlet.getcurrent()
    if not _can_own(current):
        raise LoadhopperError(
            "loadhopper's library mode starts from a plain script (outside any event loop); "
            "inside a running test or an async function, use `await runner.run(...)`"
        )
    hub = LibraryHub(current)
    _state.hub = hub
    _enter_patch()
    _register_exit_hook()
    # Greenlets a script spawned before any loop existed start on the hub now, as they do
    # once gevent's hub runs (not at the next test, as in a CLI run).
    from loadhopper.runtime._gevent._hub import adopt_pending

    adopt_pending(hub)
    return hub


def waiting_hub() -> LibraryHub | None:
    """The hub the calling greenlet may block on, or None (it then cannot block there).

    That is the open hub when the caller is its owner, running off the loop; inside a
    `library_scope()` such a caller starts the hub by blocking.
    """
    current = greenlet.getcurrent()
    hub = _state.hub
    if hub is not None and not hub.closed:
        if current is hub.owner and _running_loop() is None:
            return hub
        return None
    if _state.scopes and _can_own(current):
        return library_hub()
    return None


def close_library_hub() -> None:
    """Close this thread's hub (stopping its tests and tasks) and undo the patch it made."""
    hub = _state.hub
    if hub is None:
        return
    try:
        if not hub.closed or hub._broken:
            hub.close()
    finally:
        _state.hub = None
        _exit_patch()  # the one library_hub() entered


def _close_at_exit() -> None:
    hub = _state.hub
    if hub is None:
        return
    if greenlet.getcurrent() is not hub.owner:
        return  # the script's main greenlet is gone; the process ends anyway
    try:
        close_library_hub()
    except Exception:
        logger.exception("closing loadhopper's library mode at exit failed")


def _register_exit_hook() -> None:
    global _exit_hook_registered
    if not _exit_hook_registered:
        _exit_hook_registered = True
        atexit.register(_close_at_exit)


@contextlib.contextmanager
def library_scope() -> Iterator[None]:
    """Run a script in library mode: its blocking calls start the hub, closed at the end.

    `time.sleep` is the library sleep inside the block, so that `from time import sleep`
    in the script binds it; `loadhopper run-script` runs the script in this block.
    """
    _state.scopes += 1
    _enter_patch()
    try:
        yield
    finally:
        _state.scopes -= 1
        try:
            if _state.scopes == 0:
                close_library_hub()
        finally:
            _exit_patch()


# ---- time.sleep while the library mode is active -------------------------------------------

# `time.sleep` is one for the whole process, so its patch is counted process-wide.
_patch_depth = 0
_patch: contextlib.ExitStack | None = None


def _enter_patch() -> None:
    """Make `time.sleep` the library sleep (nested: counted), unless opted out."""
    global _patch_depth, _patch
    _patch_depth += 1
    if _patch_depth > 1:
        return
    stack = contextlib.ExitStack()
    # The runner's own sleep patch nests inside this one, so it neither replaces nor
    # removes the library sleep while a test runs.
    stack.enter_context(sleep_patch())
    if time.sleep is yielding_sleep:  # the patch is enabled (LOADHOPPER_NO_SLEEP_PATCH unset)
        time.sleep = library_sleep
    _patch = stack


def _exit_patch() -> None:
    global _patch_depth, _patch
    if _patch_depth == 0:
        return
    _patch_depth -= 1
    if _patch_depth > 0:
        return
    stack, _patch = _patch, None
    if time.sleep is library_sleep:
        time.sleep = yielding_sleep
    if stack is not None:
        stack.close()


def library_sleep(seconds: float | SupportsIndex) -> None:
    """`time.sleep` in library mode: the script's sleep runs the loop; a user's pauses it.

    Raises:
        ValueError: `seconds` is negative (as the real `time.sleep` does).
    """
    hub = waiting_hub()
    if hub is None:
        yielding_sleep(seconds)
        return
    delay = float(seconds)
    if delay < 0:
        raise ValueError("sleep length must be non-negative")
    hub.wait(asyncio.sleep(delay))
