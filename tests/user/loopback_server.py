"""A tiny HTTP/1.1 server on 127.0.0.1, in a thread of its own, for end-to-end tests.

Routes: `GET /` ("hello"), `POST /create` (a new id), `POST /<id>/update`,
`GET /<id>/delete`, `GET /json` (a JSON object), `GET /status/<code>`,
`GET /slow?ms=<n>` (answers after n milliseconds). Every request line is kept in `log`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit


@dataclass
class LoopbackServer:
    host: str = "127.0.0.1"
    port: int = 0
    log: list[tuple[str, str]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def paths(self) -> list[str]:
        return [path for _, path in list(self.log)]

    async def _respond(self, method: str, target: str, body: bytes) -> tuple[int, bytes, str]:
        self.log.append((method, target))
        split = urlsplit(target)
        path = split.path
        parts = [p for p in path.split("/") if p]
        if path == "/":
            return 200, b"hello", "text/plain"
        if path == "/create" and method == "POST":
            return 200, str(next(self._ids)).encode(), "text/plain"
        if len(parts) == 2 and parts[1] == "update" and method == "POST":
            return 200, b"updated", "text/plain"
        if len(parts) == 2 and parts[1] == "delete":
            return 200, b"deleted", "text/plain"
        if path == "/json":
            return 200, json.dumps({"ok": True, "echo": body.decode()}).encode(), "application/json"
        if len(parts) == 2 and parts[0] == "status":
            return int(parts[1]), b"status", "text/plain"
        if path == "/slow":
            ms = int(parse_qs(split.query).get("ms", ["100"])[0])
            await asyncio.sleep(ms / 1000)
            return 200, b"slow", "text/plain"
        return 404, b"not found", "text/plain"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        key, value = line.split(":", 1)
                        headers[key.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                status, payload, content_type = await self._respond(method, target, body)
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextmanager
def running_server() -> Iterator[LoopbackServer]:
    """Start a LoopbackServer in a daemon thread; stop it on exit."""
    server = LoopbackServer()
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    holder: dict[str, asyncio.Server] = {}

    async def start() -> None:
        srv = await asyncio.start_server(server._handle, server.host, 0)
        server.port = srv.sockets[0].getsockname()[1]
        holder["server"] = srv
        ready.set()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield server
    finally:

        async def shutdown() -> None:
            holder["server"].close()
            current = asyncio.current_task()
            handlers = [t for t in asyncio.all_tasks() if t is not current]
            for handler in handlers:
                handler.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            loop.stop()

        loop.call_soon_threadsafe(lambda: loop.create_task(shutdown()))
        thread.join(5)
        loop.close()
