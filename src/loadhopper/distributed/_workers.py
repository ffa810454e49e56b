"""The master's record of each worker: identity, state, last report, and the UI's view of it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

from loadhopper.distributed._messages import MasterMessage, encode
from loadhopper.distributed._transport import Link

__all__ = ["WorkerInfo", "WorkerRecord", "WorkerState"]


class WorkerState(StrEnum):
    """Where one worker is (Locust's worker states, plus lost)."""

    STARTING = "starting"
    READY = "ready"
    SPAWNING = "spawning"
    RUNNING = "running"
    STOPPED = "stopped"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One worker as the UI and the JSON summary show it."""

    name: str
    index: int
    client_id: str
    host: str
    pid: int
    state: WorkerState
    user_count: int
    cpu_percent: float
    lost_cause: str | None


class WorkerRecord:
    """What the master knows of one worker: its link, identity, state and last report."""

    def __init__(self, link: Link, index: int) -> None:
        self.link = link
        self.index = index
        self.client_id = ""
        self.host = ""
        self.pid = 0
        self.state = WorkerState.STARTING
        self.user_count = 0
        self.classes: dict[str, int] = {}
        self.cpu_percent = 0.0
        self.lost_cause: str | None = None
        self.hot_windows = 0
        self.cpu_warned = False
        self.spawned = False
        self.hello = asyncio.Event()
        self.stopped: asyncio.Future[None] | None = None

    @property
    def live(self) -> bool:
        return self.state is not WorkerState.LOST

    def send(self, message: MasterMessage) -> None:
        if self.live:
            self.link.send(encode(message))

    def info(self) -> WorkerInfo:
        return WorkerInfo(
            self.link.name,
            self.index,
            self.client_id,
            self.host,
            self.pid,
            self.state,
            self.user_count,
            self.cpu_percent,
            self.lost_cause,
        )
