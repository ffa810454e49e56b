"""The intended start of a user's iterations, for latency corrected for coordinated omission.

Under a schedule (an arrival rate, or a `constant_pacing` / `constant_throughput` wait) each
iteration has an *intended* start, and its *lag* is how late it actually started:
max(0, actual - intended). Every request of that iteration is recorded with the lag, so
that the corrected histogram counts `response_time + lag`: what a user arriving on schedule
would have waited (wrt2's correction, applied per iteration).

The lag travels from the task loop to the runtime's request sink in an `IterationCell`, one
per user, that the `CURRENT_ITERATION` context variable points at. The cell is mutable so
that the variable is set once per user, in the two contexts its code runs in (the user's
asyncio task, where the HTTP session records; and `user._context`, where its synchronous
code runs in worker greenlets), and each iteration costs one attribute store.

`Arrivals` is what a user under an arrival rate asks for its next iteration (the runtime's
dispatcher); `pacing_of` tells the task loop that a wait function paces.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from loadhopper.user._user import User

__all__ = [
    "CURRENT_ITERATION",
    "PACING_ATTR",
    "Arrivals",
    "IterationCell",
    "Pacing",
    "pacing_of",
]


class IterationCell:
    """The lag of the iteration a user is running, in ms (None: no intended start known)."""

    __slots__ = ("lag_ms",)

    def __init__(self) -> None:
        self.lag_ms: float | None = None


CURRENT_ITERATION: ContextVar[IterationCell | None] = ContextVar(
    "loadhopper_iteration", default=None
)
"""The running user's cell; read by the request sink only while a schedule is active."""


class Arrivals(Protocol):
    """Hands a free user its next iteration (the runtime's iteration dispatcher)."""

    def take(self, user: User) -> float | asyncio.Future[Any]:
        """The intended start of `user`'s next iteration, or a future resolved with it
        (or with None when the user is woken to stop)."""

    def now(self) -> float:
        """The run's monotonic clock, which intended starts are on."""


# (period in seconds, the monotonic clock the wait function reads)
Pacing = tuple[float, Callable[[], float]]

PACING_ATTR = "_loadhopper_pacing_period"
"""Set on the wait functions of constant_pacing / constant_throughput: their `Pacing`."""


def pacing_of(wait: object) -> Pacing | None:
    """The pacing of a wait function (bound or not), or None if it does not pace."""
    pacing: Pacing | None = getattr(getattr(wait, "__func__", wait), PACING_ATTR, None)
    return pacing
