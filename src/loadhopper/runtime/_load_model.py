"""Load models: what decides when work starts. The runner asks one; it does not know which.

A model is an async iterator of *commands* to the runner, and it keeps its own time on the
run's clock between two commands:

- `SetUsers(n, rate, classes)`: a closed model's only command: run `n` users (of `classes`,
  or of every class), starting or stopping them at `rate` per second on the way there;
- `StartIteration(user_class, intended_start)`: an open model's command: run one iteration
  (one pass of a user's tasks) now, that was due at `intended_start`, so that its latency
  can be measured from when it should have started (coordinated omission);
- `StopTest(reason)`: end the test.

A model that runs out of commands is done *changing* the load, not done with the test: the
closed ramp says `SetUsers` once and then leaves the users running until `-t`, a stop, or a
user's StopTest. Three models exist: `ClosedRamp` (`-u/-r`), `ShapeModel` (a
LoadTestShape) and `ArrivalModel` (`_arrival.py`: an arrival rate, which yields
`StartIteration`s that the runner's iteration dispatcher hands to free users).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from loadhopper._exceptions import StopTest as StopTestSignal
from loadhopper.runtime._clock import Clock
from loadhopper.runtime._environment import user_frames
from loadhopper.runtime._shape import LoadTestShape
from loadhopper.stats import StatsCollector
from loadhopper.user import User

if TYPE_CHECKING:
    from loadhopper.runtime._runner_protocol import Runner

__all__ = [
    "SHAPE_POLL_SECONDS",
    "ClosedRamp",
    "Command",
    "LoadModel",
    "SetUsers",
    "ShapeModel",
    "StartIteration",
    "StopTest",
    "model_of_test",
    "read_tick",
]

logger = logging.getLogger(__name__)

SHAPE_POLL_SECONDS = 1.0
"""How often a LoadTestShape's tick() is called (Locust polls about once a second)."""


@dataclass(frozen=True, slots=True)
class SetUsers:
    """Run `user_count` users, ramping at `spawn_rate` per second.

    Attributes:
        user_count: the users wanted.
        spawn_rate: users started or stopped per second on the way there.
        user_classes: run only these classes; None runs every class of the test.
    """

    user_count: int
    spawn_rate: float
    user_classes: tuple[type[User], ...] | None = None


@dataclass(frozen=True, slots=True)
class StartIteration:
    """Run one iteration of a `user_class` user now (open models).

    Attributes:
        user_class: whose tasks the iteration runs.
        intended_start: when the schedule wanted it to start, on the run's monotonic clock.
    """

    user_class: type[User]
    intended_start: float


@dataclass(frozen=True, slots=True)
class StopTest:
    """End the test.

    Attributes:
        reason: one line for the log, e.g. "the load shape returned None".
    """

    reason: str


Command = SetUsers | StartIteration | StopTest
"""What a load model tells the runner."""


class LoadModel(Protocol):
    """Decides when work starts: the runner iterates `commands()` until the test ends."""

    @property
    def honours_run_time(self) -> bool:
        """Whether `-t/--run-time` ends the test (a shape without common options: no)."""

    def commands(self, clock: Clock) -> AsyncIterator[Command]:
        """The commands, each yielded when it is due on `clock`."""


class ClosedRamp:
    """The `-u/-r` model: `user_count` users, started at `spawn_rate` per second.

    Args:
        user_count: the users to run.
        spawn_rate: users started per second.
        user_classes: only these classes; None runs every class.
    """

    honours_run_time = True

    def __init__(
        self,
        user_count: int,
        spawn_rate: float,
        user_classes: tuple[type[User], ...] | None = None,
    ) -> None:
        self.target = SetUsers(user_count, spawn_rate, user_classes)

    async def commands(self, clock: Clock) -> AsyncIterator[Command]:
        yield self.target


class ShapeModel:
    """A LoadTestShape: `tick()` polled once a second on the clock, a change retargets.

    The shape ends the test by returning None, by raising StopTest, or by failing. A failure
    (an exception in tick(), or an answer that is not a load) is recorded like an error in
    a task and ends the test, so that the summary and the reports still come out: keeping
    the last load would run forever, and calling a broken tick() every second would only
    repeat its error. Without `catch_exceptions` the error propagates to `run()`'s caller.

    Args:
        shape: the shape, already attached to the runner.
        stats: where a failing tick() is recorded.
        catch_exceptions: record a failing tick() and stop (True), or raise it (False).
    """

    def __init__(self, shape: LoadTestShape, stats: StatsCollector, catch_exceptions: bool) -> None:
        self.shape = shape
        self._stats = stats
        self._catch = catch_exceptions

    @property
    def honours_run_time(self) -> bool:
        return self.shape.use_common_options

    async def commands(self, clock: Clock) -> AsyncIterator[Command]:
        shape = self.shape
        last: SetUsers | None = None
        while True:
            try:
                target = read_tick(shape, shape.tick())
            except StopTestSignal:
                logger.warning("%s raised StopTest: stopping the test", type(shape).__name__)
                yield StopTest(f"{type(shape).__name__} raised StopTest")
                return
            except Exception as error:
                self._report(error)
                if not self._catch:
                    raise
                yield StopTest(f"{type(shape).__name__}.tick() failed")
                return
            if target is None:
                logger.info("the load shape returned None: stopping")
                yield StopTest("the load shape returned None")
                return
            if target != last:
                yield target
            last = target
            await clock.sleep(SHAPE_POLL_SECONDS)

    def _report(self, error: Exception) -> None:
        """Log a failed tick() and record it, for the exceptions table and the exit code."""
        frames = user_frames(error)
        message = f"{type(error).__name__}: {error}"
        self._stats.record_exception(message, "".join(traceback.format_list(frames)))
        logger.error(
            "The load shape %s failed (%s), so the test stops; fix its tick(), which must "
            "return (users, spawn_rate) or None.",
            type(self.shape).__name__,
            message,
            exc_info=error,
        )


def read_tick(shape: LoadTestShape, answer: object) -> SetUsers | None:
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
        return SetUsers(user_count, spawn_rate)
    if (
        isinstance(classes, str | bytes)
        or not isinstance(classes, Sequence)
        or not all(isinstance(cls, type) and issubclass(cls, User) for cls in classes)
    ):
        raise TypeError(
            f"{name}.tick() returned {classes!r} as its user classes; "
            "give a list of User classes, or return only (users, spawn_rate) to run them all."
        )
    return SetUsers(user_count, spawn_rate, tuple(classes))


def model_of_test(runner: Runner, user_count: int, spawn_rate: float) -> LoadModel:
    """The load model of a test: the environment's LoadTestShape, else the `-u/-r` ramp.

    A shape class gets a fresh instance per test (an instance is used as it is); either way
    it is bound to `runner` and its clock, and its time starts now.
    """
    env = runner.environment
    plan = env.arrival_plan
    if plan is not None:
        # Imported here: the arrival model builds on this module's commands.
        from loadhopper.runtime._arrival import ArrivalModel

        classes = env.user_classes
        # A worker's part of a split plan ends when its master stops it, not by itself.
        weights = [env.weight_of(c) for c in classes]
        return ArrivalModel(plan, classes, weights, stop_at_end=plan.parts == 1)
    shape_class = env.shape_class
    if shape_class is None:
        return ClosedRamp(user_count, spawn_rate)
    shape: LoadTestShape = shape_class() if isinstance(shape_class, type) else shape_class
    shape.runner = runner
    shape._clock = runner.clock
    shape.reset_time()
    return ShapeModel(shape, env.stats, env.catch_exceptions)
