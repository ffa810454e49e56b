"""RunnerState: where a runner is in a test's life, with Locust's state names and values."""

from __future__ import annotations

import enum

__all__ = ["RunnerState"]


class RunnerState(enum.StrEnum):
    """Where a runner is in a test's life.

    A `StrEnum` whose values are Locust's strings, so that a locustfile comparing
    `runner.state` with `locust.runners.STATE_STOPPED` (or with "stopped") still works.

    Members:
        READY: no test has run yet (Locust's STATE_INIT, "ready").
        SPAWNING: users are being started or stopped toward a target.
        RUNNING: the target is reached; the users run.
        STOPPING: the test is ending: nothing new starts, the users are stopping.
        CLEANUP: the users have stopped; the last window is being closed.
        STOPPED: the test has ended; another may start.
        MISSING: a worker the master no longer hears from (distributed runs).
    """

    READY = "ready"
    SPAWNING = "spawning"
    RUNNING = "running"
    CLEANUP = "cleanup"
    STOPPING = "stopping"
    STOPPED = "stopped"
    MISSING = "missing"
