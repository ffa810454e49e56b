"""IterationDispatcher: hands each due arrival to a free user, or keeps it in a backlog.

Theory of operation. Under an arrival rate a free user waits on a future of its own (it
asked `take()`, found nothing waiting, and went to the free pool). When the load model says
an iteration is due (`offer`), the dispatcher resolves the oldest free user's future with
the iteration's intended start: no task per iteration, one future per free user. An
iteration that finds no free user of its class goes to a FIFO backlog, and a user is started
for it if the pool is below `max_users`; a user that frees up takes the oldest backlog item
first (`take`). An item that has waited `backlog_timeout` seconds since its intended start
is dropped, and so is every item still waiting when the test stops (`close`).

Counting, batched: `due` (every offered iteration), `late` (started from the backlog by a
user that was busy when it came; an iteration that started a new user is not late, since
starting users on demand is the pool working as asked), `dropped`. The runner flushes them
into the statistics once per window (`flush`), not per arrival. The first late or dropped
iteration logs one warning: the generator cannot keep the rate.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import Any

from loadhopper.runtime._clock import Clock
from loadhopper.stats import StatsCollector
from loadhopper.user import User

__all__ = ["IterationDispatcher"]

logger = logging.getLogger(__name__)


class IterationDispatcher:
    """The free users and the backlog of one test under an arrival rate.

    Args:
        clock: the run's clock (intended starts are on its monotonic time).
        stats: where the arrival counts go (`record_arrivals`).
        spawn: starts one user of a class now (the pool's `spawn`).
        user_count: how many users run now.
        max_users: the most users that may run at once.
        backlog_timeout: seconds an iteration may wait before it is dropped.
    """

    def __init__(
        self,
        clock: Clock,
        stats: StatsCollector,
        spawn: Callable[[type[User]], object],
        user_count: Callable[[], int],
        max_users: int,
        backlog_timeout: float,
    ) -> None:
        self._clock = clock
        self._stats = stats
        self._spawn = spawn
        self._user_count = user_count
        self.max_users = max_users
        self._timeout = backlog_timeout
        self._free: dict[type[User], collections.deque[asyncio.Future[Any]]] = {}
        self._backlog: dict[type[User], collections.deque[float]] = {}
        # Backlog items that a user started for them will take: not late when taken.
        self._covered: collections.Counter[type[User]] = collections.Counter()
        self._due = 0
        self._late = 0
        self._dropped = 0
        self._closed = False
        self._warned = False

    # ---- the users' side ------------------------------------------------------------------

    def now(self) -> float:
        return self._clock.monotonic()

    def take(self, user: User) -> float | asyncio.Future[Any]:
        """The intended start of `user`'s next iteration, or a future that will hold it."""
        cls = type(user)
        backlog = self._backlog.get(cls)
        if backlog:
            self._expire(backlog)
            if backlog:
                if self._covered[cls] > 0:
                    self._covered[cls] -= 1
                else:
                    self._late += 1
                    self._warn()
                return backlog.popleft()
        self._covered[cls] = 0  # nothing left to cover: a failed start must not hide lateness
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not self._closed:
            self._free.setdefault(cls, collections.deque()).append(future)
        return future

    # ---- the load model's side -----------------------------------------------------------

    def offer(self, user_class: type[User], intended_start: float) -> None:
        """Run one iteration of `user_class` that was due at `intended_start`."""
        if self._closed:
            return
        self._due += 1
        free = self._free.get(user_class)
        while free:
            future = free.popleft()
            if not future.done():  # done: its user was woken to stop
                future.set_result(intended_start)
                return
        backlog = self._backlog.setdefault(user_class, collections.deque())
        self._expire(backlog)
        backlog.append(intended_start)
        if self._user_count() < self.max_users:
            self._covered[user_class] += 1
            self._spawn(user_class)

    def _expire(self, backlog: collections.deque[float]) -> None:
        deadline = self._clock.monotonic() - self._timeout
        dropped = 0
        while backlog and backlog[0] <= deadline:
            backlog.popleft()
            dropped += 1
        if dropped:
            self._dropped += dropped
            self._warn()

    def _warn(self) -> None:
        if self._warned:
            return
        self._warned = True
        users = self._user_count()
        free = sum(1 for q in self._free.values() for f in q if not f.done())
        logger.warning(
            "The arrival rate cannot be kept: %d of %d users are busy (at most %d may run), "
            "so iterations start late or are dropped; raise --max-users or lower the rate.",
            users - free,
            users,
            self.max_users,
        )

    # ---- the runner's side ---------------------------------------------------------------

    @property
    def backlog(self) -> int:
        """Iterations waiting for a free user now."""
        return sum(len(q) for q in self._backlog.values())

    def flush(self) -> None:
        """Hand the counts so far to the statistics (once per window)."""
        for backlog in self._backlog.values():
            self._expire(backlog)
        if self._due or self._late or self._dropped:
            self._stats.record_arrivals(due=self._due, late=self._late, dropped=self._dropped)
            self._due = self._late = self._dropped = 0

    def close(self) -> None:
        """The test stops: drop what still waits, offer nothing more, flush."""
        self._closed = True
        waiting = self.backlog
        if waiting:
            self._dropped += waiting
            self._backlog.clear()
        self._free.clear()
        self.flush()
