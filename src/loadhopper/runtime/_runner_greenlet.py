"""`runner.greenlet`: what a script joins to wait until the runner has quit, as in Locust.

Locust's runner keeps its greenlets in a gevent group (`runner.greenlet`) that lives until
`runner.quit()` kills it, so a script's `runner.greenlet.join()` returns once the runner
has quit, and not at a mere `runner.stop()`. Here the runner's work is asyncio tasks, so
this object only tells that story: it is *dead* once the runner has quit and its test has
ended (or once a test begun by `runner.start()` failed inside loadhopper), and it is
linkable, so `join`, `gevent.joinall` and `gevent.wait` block on it as on a greenlet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loadhopper.runtime._gevent._hub import add_link, notify_links, running_loop, wait_ready
from loadhopper.runtime._library import library_hub, waiting_hub
from loadhopper.runtime._state import RunnerState

if TYPE_CHECKING:
    from loadhopper.runtime._runner import LocalRunner

__all__ = ["RunnerGreenlet"]

_IDLE = frozenset({RunnerState.READY, RunnerState.STOPPED})


class RunnerGreenlet:
    """A runner's life as one greenlet: alive until the runner has quit.

    Attributes:
        exception: the internal error that ended a test begun by `runner.start()`, or None.
    """

    def __init__(self, runner: LocalRunner) -> None:
        self._runner = runner
        self._links: list[Callable[[Any], object]] = []
        self.exception: BaseException | None = None

    @property
    def dead(self) -> bool:
        """True once the runner has quit and no test runs or is about to."""
        if self.exception is not None:
            return True
        runner = self._runner
        return runner.quitting and runner.state in _IDLE and not runner.test_pending

    def ready(self) -> bool:
        """The same as `dead` (gevent's name)."""
        return self.dead

    def successful(self) -> bool:
        """True once dead without an internal error."""
        return self.dead and self.exception is None

    def __bool__(self) -> bool:
        # gevent's rule for a greenlet (and Locust's use of its group): true while alive.
        return not self.dead

    def __repr__(self) -> str:
        return f"<runner greenlet {'dead' if self.dead else 'alive'}>"

    # ---- links -----------------------------------------------------------------------------

    def rawlink(self, callback: Callable[[Any], object]) -> None:
        """Call `callback(self)` once the runner has quit (soon, if it already has)."""
        add_link(self, self._links, self.dead, callback)

    link = rawlink

    def unlink(self, callback: Callable[[Any], object]) -> None:
        """Remove a callback given to `link` or `rawlink`."""
        self._links = [link for link in self._links if link != callback]

    def changed(self) -> None:
        """The runner's state changed (the runner calls this): notify the links if dead."""
        if self._links and self.dead:
            links, self._links = self._links, []
            notify_links(self, links)

    # ---- waiting ---------------------------------------------------------------------------

    def join(self, timeout: float | None = None, raise_error: bool = False) -> bool:
        """Wait until the runner has quit, or `timeout` seconds; True if it has.

        From a script's main code this runs loadhopper's loop meanwhile (it starts the
        library mode if needed); in a user or a spawned greenlet only the caller waits.

        Raises:
            BaseException: with `raise_error`, the internal error that ended the test.
        """
        if not self.dead and waiting_hub() is None and running_loop() is None:
            library_hub()  # a plain script joining before anything started the hub
        wait_ready([self], None, timeout, "runner.greenlet.join()")
        if raise_error and self.exception is not None:
            raise self.exception
        return self.dead

    def kill(self, exception: Any = None, block: bool = True, timeout: float | None = None) -> None:
        """Quit the runner (Locust's `runner.greenlet.kill()` ends the runner's greenlets)."""
        self._runner.quit()
        if block and not self.dead and (waiting_hub() is not None):
            self.join(timeout)
