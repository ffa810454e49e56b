"""The life-cycle state of one running user, which the runner reads to stop it well."""

from __future__ import annotations

import enum

__all__ = ["UserState"]


class UserState(enum.Enum):
    """Where a user is in its life: the runner stops WAITING users at once, RUNNING ones
    after their current task."""

    READY = "ready"
    RUNNING = "running"
    WAITING = "waiting"
    STOPPING = "stopping"
    STOPPED = "stopped"
