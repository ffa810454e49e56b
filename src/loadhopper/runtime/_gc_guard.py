"""GcGuard: keeps CPython's cyclic collector off the long-lived objects of a running test.

Why. A user is a few dozen long-lived objects the collector tracks (the user, its task set,
its session, its connection, their dicts and buffers). CPython's collector scans the whole
oldest generation each time it has grown by a quarter, so while 10,000 users start, full
collections come ever larger and ever more often: measured in benchmark case 2 (10,000 users
at 2,000 per second, Python 3.11), six full collections in the five-second ramp took 82, 104,
143, 229, 212 and 274 ms, found nothing to free, and held the event loop meanwhile, so every
response that arrived then was read that much late. That was most of the ramp's tail
(benchmarks/README.md, case 2).

How. `gc.freeze()` moves every object the collector tracks into a permanent generation that
no collection scans, in constant time. The guard freezes once when the test begins (the
locustfile, the environment) and again after each slice of users the ramp starts, so the
collector only ever scans what was made since the last slice: per-request garbage, which
generation 0 frees as before. Reference counting still frees frozen objects that nothing
refers to; only frozen *cycles* wait, until the guard is closed at the end of the test and
`gc.unfreeze()` hands everything back to the collector. A user stopped during the test (a
ramp down, a shape) is such a cycle, so after a ramp that stopped users the guard unfreezes,
and the collector reclaims them in its own time.

Between slices, and once every user runs. CPython starts a young collection when the tracked
objects allocated minus those freed pass 700, and frees count too, even of objects that are
old or frozen. A running test allocates, for each wait of each user, a few objects that live
seconds (the wait's future, its heap entry, the task's wake-up), and frees the ones of the
wait before: the count hardly moves, the young generation fills with tens of thousands of
live waits, and the collection that finally comes scans them all. Measured in case 2 (10,000
users, steady state): 10-35 ms young collections that found nothing, at random seconds, each
holding the loop. So while the test runs the runner calls `tick()` every `TICK_SECONDS`:
a young collection (0.1 s of objects, well under a millisecond), which frees what became
cyclic garbage since the last tick, then a freeze of what survived it. What a tick freezes
and later dies by reference counting is freed as usual; only a cycle alive at a tick and
dropped later waits for the end of the test (or for a ramp down: after `release()` the next
tick collects every generation once, a full pause, as the unfrozen users need). Measured:
the same number of objects reclaimed at the end of a 15 s run of 10,000 users with ticks as
without (250,000 against 255,000, nearly all the users themselves), and of 100 users whose
every request failed (42,000 failures and user exceptions in 12 s: 2,036 against 1,886).

A locustfile that turned the collector off (`gc.disable()`) keeps it off: freezing changes
nothing then, and the guard never enables it. One that froze objects itself before the test
(`gc.freeze()` at import, as a forking server does) keeps them frozen: the guard then never
unfreezes, since unfreezing is all or nothing.
"""

from __future__ import annotations

import gc
from types import TracebackType

__all__ = ["TICK_SECONDS", "GcGuard"]

TICK_SECONDS = 0.1  # how often a running test's young survivors are frozen


class GcGuard:
    """Freezes what a test has built so far; the collector gets it all back on close.

    Use as a context manager around the test; call `settle()` after starting users and
    `release()` after stopping some. Each call is constant time.
    """

    __slots__ = ("_active", "_collect_all", "_owns_freeze", "freezes")

    def __init__(self) -> None:
        self._active = False
        self._collect_all = False  # the next tick collects everything (see `release`)
        self._owns_freeze = True
        self.freezes = 0  # how many times it froze: read by tests

    def __enter__(self) -> GcGuard:
        self._active = True
        self._owns_freeze = gc.get_freeze_count() == 0
        self.settle()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._active = False
        self.release()

    def settle(self) -> None:
        """Move every object alive now out of the collector's scans, until `release()`."""
        if self._active:
            gc.freeze()
            self.freezes += 1

    def tick(self) -> None:
        """Collect the young generation, then freeze what survived it (the runner calls
        this every `TICK_SECONDS`: see "Between slices" in the module docstring)."""
        if self._active and self._owns_freeze and gc.isenabled():
            if self._collect_all:
                # Users were stopped since the last tick: their cycles, just unfrozen, are
                # collected now, or this freeze would keep them until the test ends.
                self._collect_all = False
                gc.collect()
            else:
                gc.collect(0)
            gc.freeze()

    def release(self) -> None:
        """Give frozen objects back to the collector (users were stopped: their cycles)."""
        if self._owns_freeze:
            gc.unfreeze()
            self._collect_all = True
