"""The live feed: server-sent events, pushed as each one-second window closes.

One `GET /api/stream` per open tab. It first sends a `hello` event with everything (the
whole chart timeline, so that a reopened tab shows the history), then an `update` event at
each closed window or control action, and at least once a second while no test runs. Each
update carries the status, the statistics, and the chart points this tab has not seen yet.

The status and statistics JSON is built once per change and shared by every open tab; only
the few new points are per tab. EventSource reconnects by itself after a network error, and
a reconnect gets a fresh `hello`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from loadhopper.web._controller import WebController
from loadhopper.web._payload import full_payload, point_row, update_payload

__all__ = ["EventStream", "format_event"]

IDLE_INTERVAL = 1.0  # seconds between updates while no window closes (idle, or stopped)
# While a test runs the windows drive the updates; this only covers a stalled loop.
RUNNING_INTERVAL = 2.0
_RECONNECT_MS = 2000  # EventSource's retry delay after a dropped connection


def format_event(event: str, data: object) -> bytes:
    """One SSE message: `event: NAME` and the JSON on one `data:` line."""
    text = json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {text}\n\n".encode()


class EventStream:
    """The ASGI endpoint of the event stream.

    Args:
        controller: the controller whose tests the stream reports.
    """

    def __init__(self, controller: WebController) -> None:
        self.controller = controller
        self._closing = asyncio.Event()
        self._cache_key: tuple[int, int] | None = None
        self._cache: str = ""

    def close(self) -> None:
        """End every open stream (the server is shutting down)."""
        self._closing.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream events until the client goes away or `close()` is called."""
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"x-accel-buffering", b"no"),  # proxies must not hold events back
                ],
            }
        )
        gone = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            await self._pump(send, gone)
        finally:
            gone.cancel()
        with contextlib.suppress(OSError):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _pump(self, send: Send, gone: asyncio.Future[None]) -> None:
        controller = self.controller
        hello = full_payload(controller)
        seen = hello["points"][-1][0] if hello["points"] else 0.0
        await _body(send, f"retry: {_RECONNECT_MS}\n".encode() + format_event("hello", hello))
        while not (gone.done() or self._closing.is_set()):
            interval = RUNNING_INTERVAL if controller.running else IDLE_INTERVAL
            changed: asyncio.Future[None] = asyncio.ensure_future(
                controller.wait_for_change(interval)
            )
            closing: asyncio.Future[bool] = asyncio.ensure_future(self._closing.wait())
            waiting: set[asyncio.Future[Any]] = {changed, closing, gone}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()
            closing.cancel()
            if gone.done() or self._closing.is_set():
                return
            points = [p for p in controller.timeline() if p.time > seen]
            if points:
                seen = points[-1].time
            shared = self._shared_update()
            extra = json.dumps(
                {
                    "points": [point_row(p) for p in points],
                    "test_starts": list(controller.test_starts()),
                },
                separators=(",", ":"),
            )
            # Splice the per-tab part into the shared JSON object instead of re-encoding it.
            data = f"{shared[:-1]},{extra[1:]}"
            await _body(send, f"event: update\ndata: {data}\n\n".encode())

    def _shared_update(self) -> str:
        loop_second = int(asyncio.get_running_loop().time())
        key = (self.controller.generation, loop_second)
        if key != self._cache_key:
            payload: dict[str, Any] = update_payload(self.controller)
            self._cache = json.dumps(payload, separators=(",", ":"))
            self._cache_key = key
        return self._cache


async def _body(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return
