"""Micro-benchmark of the HTTP client's hot path: requests per CPU-second of the client.

Starts a minimal uvloop HTTP server in a child process on 127.0.0.1, then drives N sequential
GETs through `HttpSession` from 10 greenlet users on one event loop, and prints the client
process's requests per CPU-second (time.process_time, so the server's CPU is not counted).

Usage: python benchmarks/micro_http.py [--requests 200000] [--users 10]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from typing import Any, cast

import uvloop

from loadhopper._bridge import run_in_greenlet
from loadhopper.http import HttpSession

_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    b"Server: bench\r\n\r\nHello, world!"
)


class _ServerProtocol(asyncio.Protocol):
    """Answers every request (one per blank line; the benchmark sends bodiless GETs)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        data = self.pending + data
        count = data.count(b"\r\n\r\n")
        self.pending = data[data.rfind(b"\r\n\r\n") + 4 :] if count else data
        if count:
            self.transport.write(_RESPONSE * count)


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_ServerProtocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    # Serve until the parent closes our stdin (or the bound below passes).
    await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.read), timeout=600)


async def _drive(port: int, total: int, users: int) -> tuple[int, float, float]:
    count = 0

    def sink(*_: Any) -> None:
        nonlocal count
        count += 1

    sessions = [HttpSession(f"http://127.0.0.1:{port}/", request_sink=sink) for _ in range(users)]

    def user(session: HttpSession, n: int) -> None:
        get = session.get
        for _ in range(n):
            get("/")

    # Warm up: connections open, caches filled.
    await asyncio.gather(*(run_in_greenlet(user, s, 100) for s in sessions))
    count = 0
    per_user = total // users
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(run_in_greenlet(user, s, per_user) for s in sessions))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    for session in sessions:
        await session.aclose()
    return count, cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        uvloop.run(_serve())
        return
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        count, cpu, wall = uvloop.run(_drive(port, args.requests, args.users))
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)
    print(f"requests:            {count}")
    print(f"client CPU seconds:  {cpu:.3f}")
    print(f"wall seconds:        {wall:.3f}")
    print(f"requests/CPU-second: {count / cpu:,.0f}  ({cpu / count * 1e6:.2f} us CPU each)")


if __name__ == "__main__":
    main()
