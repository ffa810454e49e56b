"""LoadTestShape: a locustfile-defined load curve, polled once a second by the runner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from loadhopper.runtime._clock import REAL_CLOCK, Clock
from loadhopper.user import User

if TYPE_CHECKING:
    from loadhopper.runtime._runner_protocol import Runner

__all__ = ["LoadTestShape", "ShapeTick"]

ShapeTick = tuple[int, float] | tuple[int, float, Sequence[type[User]] | None] | None
"""What `tick()` returns: (users, spawn rate), optionally the user classes, or None to stop."""


class LoadTestShape:
    """Subclass this and define `tick()` to drive the number of users over time.

    The runner calls `tick()` about once a second; it returns `(user_count, spawn_rate)`,
    `(user_count, spawn_rate, [UserClass, ...])` to run only those classes, or None to end
    the test.

    Attributes:
        runner: the runner driving this shape (set when the test starts).
        abstract: True for a base shape not to be used itself; False on subclasses
            unless they set it.
        use_common_options: when True, `-t/--run-time` still applies alongside the shape.
    """

    abstract: ClassVar[bool] = True
    use_common_options: ClassVar[bool] = False
    # The run's clock, given by the runner when the test starts (a class default, so that
    # a subclass whose __init__ skips ours still has one).
    _clock: Clock = REAL_CLOCK

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "abstract" not in vars(cls):
            cls.abstract = False

    def __init__(self) -> None:
        self.runner: Runner | None = None
        self.start_time = self._clock.monotonic()

    def reset_time(self) -> None:
        """Restart the shape's clock (the runner does this when the test starts)."""
        self.start_time = self._clock.monotonic()

    def get_run_time(self) -> float:
        """Seconds since the test (or the last `reset_time()`) started."""
        return self._clock.monotonic() - self.start_time

    def get_current_user_count(self) -> int:
        """How many users run now."""
        return self.runner.user_count if self.runner is not None else 0

    def tick(self) -> ShapeTick:
        """The users and spawn rate wanted now, or None to stop the test."""
        raise NotImplementedError(
            f"{type(self).__name__} must define tick() returning (users, spawn_rate) or None"
        )
