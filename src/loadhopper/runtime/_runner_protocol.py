"""Runner: what the web UI and the CLI may ask of a runner, whichever runs the users.

`LocalRunner` runs them in this process; the master and worker runners of distributed runs
will offer the same. Code above runtime/ types against this protocol, never against one class.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from loadhopper.runtime._clock import Clock
from loadhopper.runtime._runner_greenlet import RunnerGreenlet
from loadhopper.runtime._state import RunnerState
from loadhopper.stats import StatsCollector, TimelinePoint
from loadhopper.user import User

if TYPE_CHECKING:
    from loadhopper.runtime._environment import Environment

__all__ = ["Runner"]


@runtime_checkable
class Runner(Protocol):
    """One test at a time: `await run(...)`, changed by `start()`, ended by `stop()`.

    Attributes:
        environment: the environment of the test.
        clock: where the runner reads time.
        state: where the runner is in the test's life.
        window_listeners: callbacks given each closed one-second stats window.
        quitting: True once `quit()` was called.
        target_user_count: the users the test is heading for.
        spawn_rate: users per second of the current ramp.
        greenlet: joined by a script to wait until the runner has quit (Locust's).
        history: timeline points kept while `stats_history(runner)` runs.
    """

    environment: Environment
    clock: Clock
    state: RunnerState
    window_listeners: list[Callable[[TimelinePoint], None]]
    quitting: bool
    target_user_count: int
    spawn_rate: float
    greenlet: RunnerGreenlet
    history: collections.deque[TimelinePoint]

    @property
    def stats(self) -> StatsCollector:
        """The test's statistics."""

    @property
    def user_count(self) -> int:
        """How many users run now."""

    @property
    def user_classes_count(self) -> dict[str, int]:
        """How many users of each class run now, by class name."""

    async def run(
        self,
        user_count: int,
        spawn_rate: float,
        run_time: float | None = None,
        *,
        host: str | None = None,
        user_classes: Sequence[type[User]] | None = None,
    ) -> None:
        """Run one test until it ends (see `LocalRunner.run`)."""

    def start(
        self,
        user_count: int,
        spawn_rate: float,
        wait: bool = False,
        user_classes: Sequence[type[User]] | None = None,
    ) -> None:
        """Change the number of users of the running test, or begin a test outside one."""

    def stop(self) -> None:
        """Stop the test; `run()` returns once the users have stopped (from a script's
        main code, `stop()` itself returns then)."""

    def quit(self) -> None:
        """Stop the test because the process is about to exit."""

    def reset_stats(self) -> None:
        """Reset the statistics now."""
