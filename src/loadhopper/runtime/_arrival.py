"""Arrival rates: the open workload model's schedule, and the model that follows it.

Theory of operation. An *iteration* is one task run by a free user. Under an arrival rate
the schedule, not the users, decides when iterations start (k6's arrival-rate executors):

- constant rate r: iteration k (k = 0, 1, ...) is due at exactly t0 + k / r;
- stages: the rate is piecewise linear, starting from `start_rate` (`--arrival-rate`, or 0)
  and ramping linearly to each stage's target over the stage's duration; iteration k is due
  at the instant t where the integral of the rate from t0 reaches k (k6's
  ramping-arrival-rate). Each instant is solved from k itself, so nothing drifts however
  long the run. The test ends when the last stage ends.

`ArrivalPlan` is that schedule as a frozen value, with the pool's bounds (`max_users`,
`backlog_timeout`). It splits exactly across processes: part i of n keeps the iterations
with k % n == i of the same schedule, so the parts' union is the whole schedule, not "about
the rate" per worker. `ArrivalModel` yields a `StartIteration` at each due instant of its
part; the runner hands it to the iteration dispatcher (`_iterations.py`), which finds it a
user. Several User classes share the schedule by weight (smooth weighted round-robin over
k, so a split keeps the mix); `fixed_count` has no meaning under an arrival rate.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from loadhopper.runtime._clock import Clock
from loadhopper.runtime._load_model import Command, StartIteration, StopTest
from loadhopper.user import User

__all__ = [
    "DEFAULT_MAX_USERS",
    "ArrivalModel",
    "ArrivalPlan",
    "ArrivalShape",
    "arrival_offsets",
    "format_seconds",
]

DEFAULT_MAX_USERS = 100
"""`--max-users` when neither it nor `-u` is given (k6's examples use maxVUs of this order)."""


class ArrivalShape:
    """Staged arrival rates declared in a locustfile, beside the User classes.

    Subclass it and set `stages`, a list of `(duration_seconds, target_rate_per_second)`:
    each stage ramps the rate linearly from the previous target (`start_rate` for the
    first) to its own over its duration. The test ends when the last stage ends.

    Attributes:
        stages: `(seconds, target iterations per second)` pairs, in order.
        start_rate: the rate at the start of the first stage (iterations per second).
        max_users: the most users that may run at once; `--max-users` wins over it.
        abstract: True for a base class that is not used itself.
    """

    stages: ClassVar[Sequence[tuple[float, float]]] = ()
    start_rate: ClassVar[float] = 0.0
    max_users: ClassVar[int | None] = None
    abstract: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "abstract" not in vars(cls):
            cls.abstract = False


@dataclass(frozen=True, slots=True)
class ArrivalPlan:
    """An arrival schedule and the bounds of the users that run it.

    Attributes:
        start_rate: iterations per second at t0 (the constant rate when `stages` is empty).
        stages: `(seconds, target per second)` linear ramps after t0; empty: constant.
        max_users: the most users this process may run at once.
        backlog_timeout: seconds an iteration may wait for a free user before it is dropped.
        part: which residue of k this process runs (0 .. parts - 1).
        parts: how many processes share the schedule.
    """

    start_rate: float
    stages: tuple[tuple[float, float], ...] = ()
    max_users: int = DEFAULT_MAX_USERS
    backlog_timeout: float = 10.0
    part: int = 0
    parts: int = 1

    def __post_init__(self) -> None:
        rates = [self.start_rate, *(target for _, target in self.stages)]
        if not all(math.isfinite(r) and r >= 0 for r in rates):
            raise ValueError(f"arrival rates must be finite and 0 or more, got {rates}.")
        if any(not (math.isfinite(d) and d > 0) for d, _ in self.stages):
            raise ValueError("every arrival stage needs a finite duration above 0 seconds.")
        if not self.stages and self.start_rate <= 0:
            raise ValueError("a constant arrival rate must be above 0; give one like 200/s.")
        if self.max_users < 1:
            raise ValueError(f"max_users must be at least 1, got {self.max_users}.")
        if not 0 <= self.part < self.parts:
            raise ValueError(f"part {self.part} of {self.parts} is not a part of the schedule.")

    @property
    def duration(self) -> float | None:
        """Seconds from t0 to the end of the last stage; None for a constant rate."""
        return sum(d for d, _ in self.stages) if self.stages else None

    def split(self, index: int, count: int) -> ArrivalPlan:
        """Part `index` of `count` of this (whole) plan, with its share of `max_users`."""
        share = self.max_users // count + (1 if index < self.max_users % count else 0)
        return replace(self, max_users=max(1, share), part=index, parts=count)

    def describe(self) -> str:
        """One line for the reports, e.g. "arrival rate 200/s, up to 50 users"."""
        users = f"up to {self.max_users} users"
        if not self.stages:
            return f"arrival rate {_rate(self.start_rate)}, {users}"
        stages = ", ".join(f"{format_seconds(d)}->{_rate(r)}" for d, r in self.stages)
        start = f" from {_rate(self.start_rate)}" if self.start_rate else ""
        return f"arrival stages{start} {stages}; {users}"


def _rate(per_second: float) -> str:
    return f"{per_second:g}/s"


def format_seconds(seconds: float) -> str:
    """`90` -> "1m30s", `30` -> "30s", `3600` -> "1h" (the shape `-t` accepts)."""
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"


def arrival_offsets(plan: ArrivalPlan) -> Iterator[tuple[int, float]]:
    """`(k, seconds after t0)` of every iteration of `plan`'s part, in order.

    Constant: k / rate. Staged: the t solving the integral of the rate from 0 to t = k,
    found within the stage holding the k-th unit of area (a quadratic on a linear ramp).
    """
    ks = itertools.count(plan.part, plan.parts)
    if not plan.stages:
        rate = plan.start_rate
        for k in ks:
            yield k, k / rate
        return
    # (start offset, duration, rate at start, rate at end, iterations before the stage)
    segments: list[tuple[float, float, float, float, float]] = []
    begin = 0.0
    before = 0.0
    rate = plan.start_rate
    for duration, target in plan.stages:
        segments.append((begin, duration, rate, target, before))
        before += (rate + target) / 2 * duration
        begin += duration
        rate = target
    total = before
    index = 0
    for k in ks:
        if k >= total:
            return
        while index < len(segments):
            start, duration, r0, r1, n0 = segments[index]
            if k < n0 + (r0 + r1) / 2 * duration:
                break
            index += 1
        else:
            return
        yield k, start + _solve(r0, r1, duration, k - n0)


def _solve(r0: float, r1: float, duration: float, m: float) -> float:
    """The t in [0, duration] where r0*t + (r1-r0)/duration * t^2/2 = m."""
    slope = (r1 - r0) / duration
    if abs(slope) < 1e-12:
        t = m / r0
    else:
        # 2m / (r0 + sqrt(r0^2 + 2*slope*m)): the root of the quadratic in a form that
        # stays exact when r0 is 0 or the slope is tiny (no cancellation).
        root = math.sqrt(max(0.0, r0 * r0 + 2 * slope * m))
        t = 2 * m / (r0 + root) if r0 + root > 0 else 0.0
    return min(max(t, 0.0), duration)


class ArrivalModel:
    """The open model: a `StartIteration` at every due instant of `plan`, on the clock.

    Args:
        plan: the schedule (this process's part of it).
        classes: the User classes iterations run, each picked by `weights`.
        weights: the classes' weights (smooth weighted round-robin over the global k).
        stop_at_end: yield StopTest when the stages end (a worker's master stops it instead).
    """

    honours_run_time = True

    def __init__(
        self,
        plan: ArrivalPlan,
        classes: Sequence[type[User]],
        weights: Sequence[float],
        *,
        stop_at_end: bool = True,
    ) -> None:
        self.plan = plan
        self._classes = [c for c, w in zip(classes, weights, strict=True) if w > 0]
        self._weights = [w for w in weights if w > 0]
        self._stop_at_end = stop_at_end

    def _class_of(self) -> Iterator[type[User]]:
        """The class of iteration k, for every k of the whole schedule (not only ours)."""
        classes, weights = self._classes, self._weights
        if len(classes) == 1:
            only = classes[0]
            while True:
                yield only
        total = sum(weights)
        scores = [0.0] * len(classes)
        while True:
            for i, w in enumerate(weights):
                scores[i] += w
            best = max(range(len(scores)), key=scores.__getitem__)
            scores[best] -= total
            yield classes[best]

    async def commands(self, clock: Clock) -> AsyncIterator[Command]:
        if not self._classes:
            yield StopTest("no User class has a weight above 0 for the arrival rate")
            return
        t0 = clock.monotonic()
        picks = self._class_of()
        next_k = 0
        for k, offset in arrival_offsets(self.plan):
            user_class = next(itertools.islice(picks, k - next_k, None))
            next_k = k + 1
            due = t0 + offset
            delay = due - clock.monotonic()
            if delay > 0:
                await clock.sleep(delay)
            yield StartIteration(user_class, due)
        if self._stop_at_end:
            duration = self.plan.duration or 0.0
            remaining = t0 + duration - clock.monotonic()
            if remaining > 0:
                await clock.sleep(remaining)
            yield StopTest("the arrival stages ended")
