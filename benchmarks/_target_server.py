"""A minimal HTTP/1.1 target for the benchmarks, run as its own process.

It answers every request with a fixed 2-byte keep-alive response, either at once (case 1, when
nginx is not installed) or after a fixed delay (case 2: the "true" latency the load tools should
report). It counts requests and prints the running total on stdout at a fixed interval, so that
the harness can measure the rate it actually received, independently of what each tool reports.

Protocol on stdout, one line each:
    READY <port>                 once listening on 127.0.0.1
    <epoch seconds> <total>      every --report-interval seconds

Usage: python _target_server.py [--port 0] [--delay-ms 10] [--report-interval 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from typing import cast

import httptools

_KEEP_ALIVE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
_CLOSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
    b"Connection: close\r\n\r\nok"
)
# 10,000 clients connect within ~10 s in case 2; the kernel caps this at net.core.somaxconn.
_BACKLOG = 4096


class _Counter:
    """The process-wide request count (one event loop, so no locking)."""

    def __init__(self) -> None:
        self.total = 0


class _TargetProtocol(asyncio.Protocol):
    """One connection: parse requests with httptools, answer each after `delay` seconds."""

    def __init__(self, loop: asyncio.AbstractEventLoop, counter: _Counter, delay: float) -> None:
        self._loop = loop
        self._counter = counter
        self._delay = delay
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    # httptools callback: a whole request (headers and body) has arrived.
    def on_message_complete(self) -> None:
        self._counter.total += 1
        keep_alive = self._parser.should_keep_alive()
        if self._delay > 0.0:
            self._loop.call_later(self._delay, self._respond, keep_alive)
        else:
            self._respond(keep_alive)

    def _respond(self, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if keep_alive:
            transport.write(_KEEP_ALIVE)
        else:
            transport.write(_CLOSE)
            transport.close()


async def _report(counter: _Counter, interval: float) -> None:
    while True:
        sys.stdout.write(f"{time.time():.3f} {counter.total}\n")
        sys.stdout.flush()
        await asyncio.sleep(interval)


async def _serve(port: int, delay: float, interval: float) -> None:
    loop = asyncio.get_running_loop()
    counter = _Counter()
    server = await loop.create_server(
        lambda: _TargetProtocol(loop, counter, delay), "127.0.0.1", port, backlog=_BACKLOG
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bound_port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"READY {bound_port}\n")
    sys.stdout.flush()
    reporter = asyncio.create_task(_report(counter, interval))
    await stop.wait()
    reporter.cancel()
    server.close()
    sys.stdout.write(f"{time.time():.3f} {counter.total}\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--report-interval", type=float, default=0.25)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # the default loop still works, only slower
        asyncio.run(_serve(args.port, args.delay_ms / 1000.0, args.report_interval))
    else:
        uvloop.run(_serve(args.port, args.delay_ms / 1000.0, args.report_interval))


if __name__ == "__main__":
    main()
