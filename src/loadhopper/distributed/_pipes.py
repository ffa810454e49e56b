"""The pipe transport of `--processes N`: forked children, one socketpair each.

Why fork. The CLI forks after the locustfile is loaded and the Environment built, before
any event loop exists (as Locust forks), so a child is a copy of the run at once: no
import of the locustfile again, no argument parsing, and its `init` listeners registered.
A child starts in a few milliseconds; spawning `python -m` children would pay an
interpreter start and the locustfile's import (hundreds of ms) each. Fork is unsafe with
threads or a running loop in the parent: `fork_workers` refuses once a loop runs, and the
CLI calls it before it creates one. Not on Windows (no fork), as Locust.

Frames travel length-prefixed (`_framing.py`) over a Unix socketpair. A child that
ends without saying goodbye shows up as the end of its socket; the parent then reaps it
with `waitpid` and reports a `WorkerLost` saying how it ended (exit code or signal).
Children ignore SIGINT: Ctrl-C reaches the whole process group, and it is the master that
decides how the test stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator

from loadhopper._exceptions import LoadhopperError
from loadhopper.distributed._framing import framed, read_frames, serve_on_socket
from loadhopper.distributed._transport import Link, WorkerLost, WorkerSpec, exit_cause
from loadhopper.distributed._worker import EnvironmentFactory, serve
from loadhopper.runtime import new_event_loop

__all__ = ["PipeTransport"]

CLOSE_TIMEOUT = 5.0
"""Seconds children get to exit after the master's Quit before they are killed."""


def _child(sock: socket.socket, spec: WorkerSpec, factory: EnvironmentFactory) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(
            serve_on_socket(
                sock,
                lambda frames, send: serve(spec, frames, send, environment_factory=factory),
            )
        )


class _PipeLink:
    def __init__(self, name: str, pid: int, sock: socket.socket) -> None:
        self.name = name
        self.pid = pid
        self.sock = sock
        self.writer: asyncio.StreamWriter | None = None
        self.status: int | None = None

    def send(self, frame: bytes) -> None:
        writer = self.writer
        if writer is not None and not writer.is_closing():
            writer.write(framed(frame))


class PipeTransport:
    """`count` forked workers; built with `fork_workers` before any event loop runs."""

    def __init__(self, links: list[_PipeLink]) -> None:
        self._links = links
        self._inbox: asyncio.Queue[tuple[Link, bytes | WorkerLost]] = asyncio.Queue()
        self._readers: list[asyncio.Task[None]] = []

    @classmethod
    def fork_workers(
        cls, spec: WorkerSpec, count: int, factory: EnvironmentFactory
    ) -> PipeTransport:
        """Fork `count` children that each serve one worker; the parent returns.

        Raises:
            LoadhopperError: an event loop runs already, or this system cannot fork.
        """
        if not hasattr(os, "fork"):
            raise LoadhopperError(
                "--processes needs fork(), which this system lacks; use --ray local"
            )
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop()
            raise LoadhopperError("workers must be forked before the event loop starts")
        links: list[_PipeLink] = []
        sys.stdout.flush()
        sys.stderr.flush()
        for index in range(count):
            parent_end, child_end = socket.socketpair()
            pid = os.fork()
            if pid == 0:  # the child: serve, then leave without running the parent's code
                code = 1
                try:
                    parent_end.close()
                    for link in links:
                        link.sock.close()
                    code = _child(child_end, spec, factory)
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            child_end.close()
            links.append(_PipeLink(f"worker {index} (pid {pid})", pid, parent_end))
        return cls(links)

    async def start(self, spec: WorkerSpec, count: int) -> list[Link]:
        for link in self._links:
            reader, writer = await asyncio.open_connection(sock=link.sock)
            link.writer = writer
            self._readers.append(asyncio.create_task(self._read(link, reader), name=link.name))
        return list(self._links)

    async def _read(self, link: _PipeLink, reader: asyncio.StreamReader) -> None:
        async for frame in read_frames(reader):
            self._inbox.put_nowait((link, frame))
        self._inbox.put_nowait((link, WorkerLost(await self._reap(link))))

    async def _reap(self, link: _PipeLink, timeout: float = 2.0) -> str:
        """How the child ended, once it has (the socket closes a moment before)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while link.status is None:
            with contextlib.suppress(ChildProcessError):
                pid, status = os.waitpid(link.pid, os.WNOHANG)
                if pid == 0:
                    if loop.time() > deadline:
                        return "its connection closed while the process still ran"
                    await asyncio.sleep(0.02)
                    continue
                link.status = status
            if link.status is None:
                return "its process was already reaped"
        return exit_cause(os.waitstatus_to_exitcode(link.status))

    async def inbox(self) -> AsyncIterator[tuple[Link, bytes | WorkerLost]]:
        while True:
            yield await self._inbox.get()

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_TIMEOUT
        for link in self._links:
            if link.writer is not None:
                with contextlib.suppress(ConnectionError):
                    await asyncio.wait_for(link.writer.drain(), 1.0)
        for link in self._links:
            while link.status is None and loop.time() < deadline:
                try:
                    pid, status = os.waitpid(link.pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid:
                    link.status = status
                else:
                    await asyncio.sleep(0.02)
            if link.status is None:
                with contextlib.suppress(ProcessLookupError, ChildProcessError):
                    os.kill(link.pid, signal.SIGKILL)  # only our own child, by its pid
                    os.waitpid(link.pid, 0)
            if link.writer is not None:
                link.writer.close()
        for task in self._readers:
            task.cancel()
