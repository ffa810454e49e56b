"""The transport seam: how a master reaches its workers, whatever carries the frames.

A transport starts workers that become copies of this run (`WorkerSpec`), hands the master
one `Link` per worker to send frames on, and one inbox of what the workers send back, or
of their loss (`WorkerLost`). Frames are opaque here (`_messages.py` gives them meaning).
Each worker process (or Ray actor) runs `_worker.serve` on its side. Implementations:
`_pipes.py` (forked processes, `--processes`), `_inprocess.py` (tasks, for tests), and
`_ray.py` (actors, `--ray`).
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol

__all__ = ["Link", "Transport", "WorkerLost", "WorkerSpec", "exit_cause"]


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to become a copy of this run."""

    argv: tuple[str, ...]  # the CLI arguments of the run (the worker parses them itself)
    cwd: str  # the directory the run was started in
    locustfile: str  # the -f value, as given


class WorkerLost(NamedTuple):
    """A worker that is gone, and why."""

    cause: str  # one sentence: "killed by signal 9", Ray's reason, ...


def exit_cause(code: int) -> str:
    """How a worker process ended, from its exit code (negative: the signal that killed it)."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown"
        return f"killed by signal {-code} ({name})"
    return f"its process exited with code {code}"


class Link(Protocol):
    """The master's handle on one worker."""

    name: str  # "worker 2 (pid 4242 on host-a)"

    def send(self, frame: bytes) -> None:
        """Queue `frame` for the worker: non-blocking, delivered in order."""
        ...


class Transport(Protocol):
    """Starts the workers and carries frames to and from them."""

    async def start(self, spec: WorkerSpec, count: int) -> list[Link]:
        """Start `count` workers (0: as many as the transport offers); one link each."""
        ...

    def inbox(self) -> AsyncIterator[tuple[Link, bytes | WorkerLost]]:
        """Every frame a worker sends, in its order, and each worker's loss, once."""
        ...

    async def close(self) -> None:
        """End every worker (waits a bounded time)."""
        ...
