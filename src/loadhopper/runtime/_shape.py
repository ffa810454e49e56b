"""LoadTestShape: a locustfile-defined load curve, polled once a second by the runner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from loadhopper.runtime._clock import REAL_CLOCK, Clock
from loadhopper.user import User

if TYPE_CHECKING:
    from loadhopper.runtime._runner_protocol import Runner

__all__ = ["LoadTestShape", "ShapeTarget", "ShapeTick", "read_tick"]

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


@dataclass(frozen=True, slots=True)
class ShapeTarget:
    """One checked answer of `tick()`: the load the shape wants now.

    Attributes:
        user_count: the users wanted.
        spawn_rate: users started or stopped per second on the way there.
        user_classes: run only these classes; None runs every class of the test.
    """

    user_count: int
    spawn_rate: float
    user_classes: tuple[type[User], ...] | None = None


def read_tick(shape: LoadTestShape, answer: object) -> ShapeTarget | None:
    """Check what `shape.tick()` returned; None means the shape ends the test.

    Raises:
        TypeError: the answer is not (users, spawn_rate), (users, spawn_rate, classes) or None.
        ValueError: the user count is negative or the spawn rate is not above 0.
    """
    if answer is None:
        return None
    name = type(shape).__name__
    expected = "return (users, spawn_rate), (users, spawn_rate, [UserClass, ...]) or None"
    if isinstance(answer, str | bytes) or not isinstance(answer, Sequence):
        raise TypeError(f"{name}.tick() returned {answer!r}; {expected}.")
    if len(answer) not in (2, 3):
        raise TypeError(f"{name}.tick() returned {len(answer)} values; {expected}.")
    try:
        user_count = int(answer[0])
        spawn_rate = float(answer[1])
    except (TypeError, ValueError):
        raise TypeError(f"{name}.tick() returned {answer!r}; {expected}.") from None
    if user_count < 0 or not spawn_rate > 0:  # `not >` also refuses NaN
        raise ValueError(
            f"{name}.tick() asked for {user_count} users at {spawn_rate:g} per second; "
            "return 0 or more users and a spawn rate above 0."
        )
    classes = answer[2] if len(answer) == 3 else None
    if classes is None:  # Locust's runner accepts an explicit None as "every class" too
        return ShapeTarget(user_count, spawn_rate)
    if (
        isinstance(classes, str | bytes)
        or not isinstance(classes, Sequence)
        or not all(isinstance(cls, type) and issubclass(cls, User) for cls in classes)
    ):
        raise TypeError(
            f"{name}.tick() returned {classes!r} as its user classes; "
            "give a list of User classes, or return only (users, spawn_rate) to run them all."
        )
    return ShapeTarget(user_count, spawn_rate, tuple(classes))
