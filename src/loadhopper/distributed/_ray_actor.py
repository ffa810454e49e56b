"""The worker side of the Ray transport: one actor class, run as one Ray worker process.

Theory of operation. The master (the Ray driver) talks to each actor through three sync
actor methods, so the actor runs them one at a time, in the order the driver submitted them:

- `begin()` starts the worker process (`_ray_child.py`: `serve` alone in a clean
  interpreter, which measured cheaper per request than a loop in a thread of Ray's busy
  worker process) and a relay loop in a thread of this actor, and says where the worker runs
  (host, and the child's pid: that is the process that sends the requests).
- `push(frames)` hands the master's frames, in order, to the relay, which writes them to the
  child, and returns how many the relay has not written yet (the master stops pushing above
  `INBOUND_LIMIT`: that is the back-pressure on the way in).
- `pull()` takes what the child sent since the last pull (at most `PULL_MAX_BYTES`), with
  the inbound backlog and, once the child has ended and everything is taken, how it ended.
  The master calls it every few hundred milliseconds; a pull that raises is the master's
  news that the actor is gone.

The way out is bounded here too: the relay stops reading from the child while `OUTBOX_LIMIT`
bytes wait for the master, and the rest waits in the child (a window delta is kilobytes, so
the bound is met only by a master that is stuck, and one that pulls nothing for 60 s has
lost the worker anyway).

Nothing here imports `ray`: the transport wraps this class with `ray.remote` when it runs.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import socket
import subprocess
import sys
import threading
from collections import deque
from typing import NamedTuple

from loadhopper.distributed._framing import framed, read_frames
from loadhopper.distributed._ray_child import CHILD_MODULE, ENDING_TAG, FRAME_TAG, Ending
from loadhopper.distributed._transport import WorkerSpec
from loadhopper.runtime import new_event_loop

__all__ = [
    "INBOUND_LIMIT",
    "OUTBOX_LIMIT",
    "PULL_MAX_BYTES",
    "Ending",
    "Pulled",
    "RayWorkerActor",
]

# The master's frames are commands (targets, custom messages): a few per second. 10,000
# unread ones mean the worker is stuck; the master holds the rest on its side.
INBOUND_LIMIT = 10_000
# Ray returns values up to 100 KB inline and larger ones through the object store; 8 MiB per
# pull keeps one answer small next to the object store's 75 MiB minimum (ray_constants.py).
PULL_MAX_BYTES = 8 * 1024 * 1024
OUTBOX_LIMIT = 64 * 1024 * 1024


class Pulled(NamedTuple):
    """One pull's answer."""

    frames: list[bytes]
    backlog: int  # the master's frames not yet written to the worker process
    ending: Ending | None  # set once the worker has ended and every frame was pulled


def _child_environment() -> dict[str, str]:
    # The child imports what this actor can: Ray puts the shipped working directory (and
    # any py_modules) on sys.path rather than in PYTHONPATH.
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
    return environment


class RayWorkerActor:
    """One worker: a child process running `serve`, relayed with bounded buffers both ways."""

    def __init__(self, spec: WorkerSpec, entry_point: str) -> None:
        self._spec = spec
        self._entry_point = entry_point
        self._loop = new_event_loop()
        self._inbound: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._pushed = 0  # written by Ray's task thread only
        self._taken = 0  # written by the loop thread only
        self._outbox: deque[bytes] = deque()
        self._outbox_bytes = 0
        self._room = threading.Condition()
        self._ending: Ending | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    def begin(self) -> tuple[str, int]:
        """Start the worker process (once) and say where it runs."""
        if self._thread is None:
            started: list[subprocess.Popen[bytes] | BaseException] = []
            ready = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(started, ready), name="loadhopper-relay", daemon=True
            )
            self._thread.start()
            ready.wait()
            if isinstance(started[0], BaseException):
                raise started[0]
            self._child = started[0]
        assert self._child is not None
        return socket.gethostname(), self._child.pid

    def push(self, frames: list[bytes]) -> int:
        """Queue the master's frames for the worker, in order; return the unwritten count."""
        self._pushed += len(frames)
        self._loop.call_soon_threadsafe(self._feed, frames)
        return self._pushed - self._taken

    def end_frames(self) -> None:
        """End the worker's frames: the master has nothing more to say."""
        self._loop.call_soon_threadsafe(self._inbound.put_nowait, None)

    def pull(self) -> Pulled:
        """Take what the worker sent since the last pull, oldest first."""
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

    # The relay thread's side.

    def _feed(self, frames: list[bytes]) -> None:
        for frame in frames:
            self._inbound.put_nowait(frame)

    def _keep(self, frame: bytes) -> None:
        with self._room:
            # Back-pressure: wait for the master's next pull rather than grow without end.
            while self._outbox_bytes >= OUTBOX_LIMIT:
                self._room.wait()
            self._outbox.append(frame)
            self._outbox_bytes += len(frame)

    def _run(
        self, started: list[subprocess.Popen[bytes] | BaseException], ready: threading.Event
    ) -> None:
        # The child is started from this thread, which lives as long as the relay: on Linux
        # the kernel's parent-death signal follows the thread that forked, not the process.
        try:
            ours, theirs = socket.socketpair()
            with theirs:
                child = subprocess.Popen(
                    [sys.executable, "-m", CHILD_MODULE, str(theirs.fileno()), str(os.getpid())],
                    pass_fds=(theirs.fileno(),),
                    env=_child_environment(),
                )
        except BaseException as exc:  # begin() raises it in Ray's task thread
            started.append(exc)
            ready.set()
            return
        started.append(child)
        ready.set()
        asyncio.set_event_loop(self._loop)
        try:
            ending = self._loop.run_until_complete(self._relay(ours, child))
        except BaseException as exc:  # whatever ended the relay, the master must hear of it
            ending = Ending(None, f"{type(exc).__name__}: {exc}".splitlines()[0])
        with self._room:
            self._ending = ending

    async def _relay(self, sock: socket.socket, child: subprocess.Popen[bytes]) -> Ending:
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(framed(pickle.dumps((self._spec, self._entry_point))))
        forward = asyncio.create_task(self._forward(writer))
        ending: Ending | None = None
        async for frame in read_frames(reader):
            tag, body = frame[:1], frame[1:]
            if tag == FRAME_TAG:
                self._keep(body)
            elif tag == ENDING_TAG:
                ending = Ending(*pickle.loads(body))
        forward.cancel()
        writer.close()
        returncode = child.wait()  # its socket closed: it has ended, or is about to
        # Without its ending the child died (a signal, or an exit before `serve` ran): its
        # exit code says how.
        return ending if ending is not None else Ending(returncode, None)

    async def _forward(self, writer: asyncio.StreamWriter) -> None:
        try:
            while (frame := await self._inbound.get()) is not None:
                writer.write(framed(frame))
                await writer.drain()
                self._taken += 1
            writer.write_eof()
        except ConnectionError:
            pass  # the child is gone; its ending (or exit status) says why
