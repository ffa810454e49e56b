"""The in-process transport: workers as tasks on the master's loop, for tests.

Each worker is `serve` fed from a queue, with an Environment from the factory the test
gives, so that the master's logic (dispatch, merging, the stop, lost workers, messages)
runs exactly as with processes, minus the processes. `kill(index)` ends a worker the way a
dead process ends: no goodbye, a `WorkerLost` in the inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from loadhopper.distributed._transport import Link, WorkerLost, WorkerSpec
from loadhopper.distributed._worker import serve
from loadhopper.runtime import Environment

__all__ = ["InProcessTransport"]

_END = b""  # never a real frame: a pickle is never empty


class _QueueLink:
    def __init__(self, name: str) -> None:
        self.name = name
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.exit_code: int | None = None

    def send(self, frame: bytes) -> None:
        self.queue.put_nowait(frame)

    async def frames(self) -> AsyncIterator[bytes]:
        while True:
            frame = await self.queue.get()
            if frame == _END:
                return
            yield frame


class InProcessTransport:
    """Workers as tasks calling `serve`, each with an Environment from `factory`.

    Args:
        factory: builds one worker's Environment (called once per worker, with the spec).
    """

    def __init__(self, factory: Callable[[WorkerSpec], Environment]) -> None:
        self._factory = factory
        self._links: list[_QueueLink] = []
        self._inbox: asyncio.Queue[tuple[Link, bytes | WorkerLost]] = asyncio.Queue()

    async def start(self, spec: WorkerSpec, count: int) -> list[Link]:
        for index in range(count or 2):
            link = _QueueLink(f"worker {index} (in-process)")
            self._links.append(link)
            link.task = asyncio.create_task(self._serve(link, spec), name=link.name)
        return list(self._links)

    async def _serve(self, link: _QueueLink, spec: WorkerSpec) -> None:
        def send(frame: bytes) -> None:
            self._inbox.put_nowait((link, frame))

        try:
            link.exit_code = await serve(
                spec, link.frames(), send, environment_factory=self._factory
            )
        except asyncio.CancelledError:
            self._inbox.put_nowait((link, WorkerLost("killed by the test")))
            raise
        except Exception as exc:
            self._inbox.put_nowait((link, WorkerLost(f"it failed: {exc}")))
            return
        self._inbox.put_nowait((link, WorkerLost(f"it exited with code {link.exit_code}")))

    def kill(self, index: int) -> None:
        """End worker `index` at once, as SIGKILL ends a process."""
        task = self._links[index].task
        assert task is not None
        task.cancel()

    async def inbox(self) -> AsyncIterator[tuple[Link, bytes | WorkerLost]]:
        while True:
            yield await self._inbox.get()

    async def close(self) -> None:
        for link in self._links:
            link.send(_END)
        tasks = [link.task for link in self._links if link.task is not None]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=10.0)
            for task in pending:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*pending, return_exceptions=True)
