"""The worker side of the Ray transport: one actor class, run as one Ray worker process.

Theory of operation. The master (the Ray driver) talks to each actor through three sync
actor methods, so the actor runs them one at a time, in the order the driver submitted them:

- `begin()` starts `serve` on an asyncio loop in a thread of this actor, and says where the
  actor runs (host, pid). Ray never runs actor code on a main-thread loop, so the worker owns
  its loop here, as a forked worker does.
- `push(frames)` hands the master's frames, in order, to `serve`'s `frames` iterator and
  returns how many frames `serve` has not taken yet (the master stops pushing above
  `INBOUND_LIMIT`: that is the back-pressure on the way in).
- `pull()` takes what `serve` sent since the last pull (at most `PULL_MAX_BYTES`), with the
  inbound backlog and, once `serve` has ended and everything is taken, how it ended. The
  master calls it every few hundred milliseconds; a pull that raises is the master's news
  that the actor is gone.

The way out is bounded too: `send` blocks `serve`'s loop while `OUTBOX_LIMIT` bytes wait for
the master, so a master that stops pulling slows the worker down instead of filling its
memory (a window delta is kilobytes, so the bound is met only by a master that is stuck).

Nothing here imports `ray`: the transport wraps this class with `ray.remote` when it runs.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import socket
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NamedTuple, cast

from loadhopper.distributed._transport import WorkerSpec

__all__ = [
    "INBOUND_LIMIT",
    "OUTBOX_LIMIT",
    "PULL_MAX_BYTES",
    "Ending",
    "Pulled",
    "RayWorkerActor",
]

# The master's frames are commands (targets, custom messages): a few per second. 10,000
# unread ones mean `serve` is stuck; the master holds the rest on its side.
INBOUND_LIMIT = 10_000
# Ray returns values up to 100 KB inline and larger ones through the object store; 8 MiB per
# pull keeps one answer small next to the object store's 75 MiB minimum (ray_constants.py).
PULL_MAX_BYTES = 8 * 1024 * 1024
OUTBOX_LIMIT = 64 * 1024 * 1024

Serve = Callable[[WorkerSpec, AsyncIterator[bytes], Callable[[bytes], None]], Awaitable[int]]


class Ending(NamedTuple):
    """How `serve` ended: its exit code, or the exception that ended it (one line)."""

    code: int | None
    error: str | None


class Pulled(NamedTuple):
    """One pull's answer."""

    frames: list[bytes]
    backlog: int  # the master's frames `serve` has not taken yet
    ending: Ending | None  # set once `serve` has ended and every frame was pulled


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # Windows, where uvloop does not exist
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def _resolve(entry_point: str) -> Serve:
    module_name, _, attribute = entry_point.partition(":")
    return cast(Serve, getattr(importlib.import_module(module_name), attribute))


class RayWorkerActor:
    """One worker: `serve` on its own loop, with bounded buffers both ways."""

    def __init__(self, spec: WorkerSpec, entry_point: str) -> None:
        self._spec = spec
        self._entry_point = entry_point
        self._loop = _new_loop()
        self._inbound: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._pushed = 0  # written by Ray's task thread only
        self._taken = 0  # written by the loop thread only
        self._outbox: deque[bytes] = deque()
        self._outbox_bytes = 0
        self._room = threading.Condition()
        self._ending: Ending | None = None
        self._thread: threading.Thread | None = None

    def begin(self) -> tuple[str, int]:
        """Start `serve` (once) and say where this worker runs."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="loadhopper-worker", daemon=True)
            self._thread.start()
        return socket.gethostname(), os.getpid()

    def push(self, frames: list[bytes]) -> int:
        """Queue the master's frames for `serve`, in order; return the unread count."""
        self._pushed += len(frames)
        self._loop.call_soon_threadsafe(self._feed, frames)
        return self._pushed - self._taken

    def end_frames(self) -> None:
        """End `serve`'s frames iterator: the master has nothing more to say."""
        self._loop.call_soon_threadsafe(self._inbound.put_nowait, None)

    def pull(self) -> Pulled:
        """Take what `serve` sent since the last pull, oldest first."""
        taken: list[bytes] = []
        size = 0
        with self._room:
            while self._outbox and size < PULL_MAX_BYTES:
                frame = self._outbox.popleft()
                size += len(frame)
                taken.append(frame)
            self._outbox_bytes -= size
            self._room.notify_all()
            ending = self._ending if not self._outbox else None
        return Pulled(taken, self._pushed - self._taken, ending)

    # The loop thread's side.

    def _feed(self, frames: list[bytes]) -> None:
        for frame in frames:
            self._inbound.put_nowait(frame)

    async def _frames(self) -> AsyncIterator[bytes]:
        while (frame := await self._inbound.get()) is not None:
            self._taken += 1
            yield frame

    def _send(self, frame: bytes) -> None:
        with self._room:
            # Back-pressure: wait for the master's next pull rather than grow without end.
            while self._outbox_bytes >= OUTBOX_LIMIT:
                self._room.wait()
            self._outbox.append(frame)
            self._outbox_bytes += len(frame)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            code = self._loop.run_until_complete(self._serve())
            ending = Ending(code, None)
        except BaseException as exc:  # whatever ended the worker, the master must hear of it
            ending = Ending(None, f"{type(exc).__name__}: {exc}".splitlines()[0])
        with self._room:
            self._ending = ending

    async def _serve(self) -> int:
        serve = _resolve(self._entry_point)
        return await serve(self._spec, self._frames(), self._send)
