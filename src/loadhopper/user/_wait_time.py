"""Wait-time functions: how long a user pauses between two tasks.

Each factory returns a function of one argument, the User or TaskSet instance, so that it
can be assigned as a class attribute (`wait_time = between(1, 3)`) and called as a method,
exactly as in Locust. Any other callable of that shape works too.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from loadhopper.user._schedule import PACING_ATTR

__all__ = [
    "WaitTime",
    "between",
    "constant",
    "constant_pacing",
    "constant_throughput",
    "poisson",
]

WaitTime = Callable[[Any], float]
"""A wait-time function: given the User or TaskSet instance, the seconds to wait."""


def between(min_wait: float, max_wait: float) -> WaitTime:
    """Wait a uniformly random time between `min_wait` and `max_wait` seconds.

    Args:
        min_wait: the shortest wait, in seconds.
        max_wait: the longest wait, in seconds.

    Returns:
        A wait-time function for `wait_time = between(...)`.
    """
    if min_wait < 0 or max_wait < min_wait:
        raise ValueError(
            f"between({min_wait}, {max_wait}) is not a range; "
            "give 0 <= min_wait <= max_wait, in seconds"
        )

    def wait_time(_instance: Any) -> float:
        return min_wait + random.random() * (max_wait - min_wait)

    return wait_time


def constant(wait: float) -> WaitTime:
    """Always wait `wait` seconds.

    Args:
        wait: the wait, in seconds.

    Returns:
        A wait-time function for `wait_time = constant(...)`.
    """
    if wait < 0:
        raise ValueError(f"constant({wait}) is negative; give a wait of 0 or more seconds")

    def wait_time(_instance: Any) -> float:
        return wait

    return wait_time


def constant_pacing(period: float, *, clock: Callable[[], float] = time.monotonic) -> WaitTime:
    """Start a task every `period` seconds, per user, whatever the task took.

    The wait is `period` minus the time the last task ran. When a task runs longer than
    `period`, the next one starts at once and the lost time is NOT made up later: there is
    no catch-up, as in Locust (so a slow target still lowers the rate). The next task's
    intended start is the last one's start plus `period`: a task that starts later than
    that has a lag, which the corrected latency counts (coordinated omission).

    Args:
        period: seconds from the start of one task to the start of the next.
        clock: a monotonic clock in seconds (a parameter so tests can drive it).

    Returns:
        A wait-time function for `wait_time = constant_pacing(...)`.
    """
    if period < 0:
        raise ValueError(f"constant_pacing({period}) is negative; give a period in seconds")
    # The function is shared by every instance of the class, so each user's timing lives on
    # the instance itself, in a private attribute.
    attr = "_loadhopper_pacing"

    def wait_time(instance: Any) -> float:
        now = clock()
        last: tuple[float, float] | None = getattr(instance, attr, None)
        if last is None:
            # First call: the task that just ran started at an unknown time; treat it as
            # instantaneous, so the first wait is a full period (Locust does the same).
            run_time = 0.0
        else:
            last_call, last_wait = last
            run_time = now - last_call - last_wait
        wait = max(0.0, period - run_time)
        setattr(instance, attr, (now, wait))
        return wait

    # The task loop reads this to give each task its intended start (user/_schedule.py).
    setattr(wait_time, PACING_ATTR, (period, clock))
    return wait_time


def constant_throughput(task_runs_per_second: float) -> WaitTime:
    """Run at most `task_runs_per_second` tasks per second, per user.

    The same as `constant_pacing(1 / task_runs_per_second)`.

    Args:
        task_runs_per_second: the per-user task rate to aim for.

    Returns:
        A wait-time function for `wait_time = constant_throughput(...)`.
    """
    if task_runs_per_second <= 0:
        raise ValueError(
            f"constant_throughput({task_runs_per_second}) must be positive; "
            "give the tasks per second each user should run"
        )
    return constant_pacing(1.0 / task_runs_per_second)


def poisson(rate: float) -> WaitTime:
    """Wait an exponentially distributed time of mean `1 / rate` seconds.

    When tasks are short next to the waits, each user's tasks then start as a Poisson
    process: about `rate` per second, as with `constant_throughput(rate)`, but with random
    gaps, so bursts and lulls happen as they do with real visitors. Unlike
    constant_throughput, the time a task took is not subtracted from the wait. This is
    Locust's definition, `random.expovariate(rate)`, drawn from the same generator.

    Args:
        rate: the mean number of tasks per second each user aims at.

    Returns:
        A wait-time function for `wait_time = poisson(...)`.
    """
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
        raise ValueError(
            f"poisson({rate!r}) needs a positive rate; give the mean tasks per second "
            "each user should run"
        )
    expovariate = random.expovariate

    def wait_time(_instance: Any) -> float:
        return expovariate(rate)

    return wait_time
