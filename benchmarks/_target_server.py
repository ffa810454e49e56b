"""A minimal HTTP/1.1 target for the benchmarks, run as its own process.

It answers every request with a fixed 2-byte keep-alive response, either at once (case 1, when
nginx is not installed) or after a fixed delay (case 2: the "true" latency the load tools should
report). It counts requests and prints the running total on stdout at a fixed interval, so that
the harness can measure the rate it actually received, independently of what each tool reports.

Protocol on stdout, one line each:
    READY <port>                 once listening on 127.0.0.1
    <epoch seconds> <total>      every --report-interval seconds

It also keeps its own record of every request it answers: when the request was complete
(epoch seconds) and its service time, from the request complete to the response written, which
is the 10 ms delay plus however late this process's loop ran the timer. A tool's latency can
then be set beside the target's own, request for request. `GET /__record` answers (and clears)
the record so far, uncounted: a little-endian uint64 count n, then n float64 arrival times,
then n float64 service times in seconds (`read_record` parses it).

Usage: python _target_server.py [--port 0] [--delay-ms 10] [--report-interval 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import struct
import sys
import time
from array import array
from typing import cast

import httptools

_KEEP_ALIVE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
_CLOSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
    b"Connection: close\r\n\r\nok"
)
# 10,000 clients connect within ~10 s in case 2; the kernel caps this at net.core.somaxconn.
_BACKLOG = 4096
RECORD_PATH = b"/__record"


class _Counter:
    """The process-wide request count and service record (one event loop, so no locking)."""

    def __init__(self) -> None:
        self.total = 0
        self.arrivals = array("d")
        self.services = array("d")

    def take_record(self) -> bytes:
        """The record since the last call, in the `/__record` format; then clear it."""
        arrivals, services = self.arrivals, self.services
        self.arrivals, self.services = array("d"), array("d")
        if sys.byteorder != "little":
            arrivals.byteswap()
            services.byteswap()
        return struct.pack("<Q", len(arrivals)) + arrivals.tobytes() + services.tobytes()


def read_record(body: bytes) -> tuple[array[float], array[float]]:
    """(arrival epoch seconds, service seconds) from a `/__record` body.

    Raises:
        ValueError: the body is not in the record format.
    """
    if len(body) < 8:
        raise ValueError("the target's record is shorter than its 8-byte count.")
    (count,) = struct.unpack_from("<Q", body)
    if len(body) != 8 + 16 * count:
        raise ValueError(f"the target's record holds {len(body)} bytes, not 8 + 16 * {count}.")
    arrivals, services = array("d"), array("d")
    arrivals.frombytes(body[8 : 8 + 8 * count])
    services.frombytes(body[8 + 8 * count :])
    if sys.byteorder != "little":
        arrivals.byteswap()
        services.byteswap()
    return arrivals, services


class _TargetProtocol(asyncio.Protocol):
    """One connection: parse requests with httptools, answer each after `delay` seconds."""

    def __init__(self, loop: asyncio.AbstractEventLoop, counter: _Counter, delay: float) -> None:
        self._loop = loop
        self._counter = counter
        self._delay = delay
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._control = False  # the request is GET /__record

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

    # httptools callback: the request target.
    def on_url(self, url: bytes) -> None:
        self._control = url == RECORD_PATH

    # httptools callback: a whole request (headers and body) has arrived.
    def on_message_complete(self) -> None:
        keep_alive = self._parser.should_keep_alive()
        if self._control:
            self._send_record(keep_alive)
            return
        counter = self._counter
        counter.total += 1
        if self._delay > 0.0:
            # perf_counter, not loop.time(): uvloop's loop time has a resolution of 1 ms.
            now = time.perf_counter()
            self._loop.call_later(self._delay, self._respond, keep_alive, now, time.time())
        else:
            self._respond(keep_alive, time.perf_counter(), time.time())

    def _send_record(self, keep_alive: bool) -> None:
        if self._transport is None:
            return
        body = self._counter.take_record()
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n"
        self._transport.write(
            head.encode() + (b"\r\n" if keep_alive else b"Connection: close\r\n\r\n")
        )
        self._transport.write(body)
        if not keep_alive:
            self._transport.close()

    def _respond(self, keep_alive: bool, complete: float, arrival: float) -> None:
        # Recorded before the write, even to a closed connection: the target did the work.
        counter = self._counter
        counter.arrivals.append(arrival)
        counter.services.append(time.perf_counter() - complete)
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
    # No cyclic collector in the target: with 10,000 connections (a protocol and a parser
    # each, in a cycle) its full collections held this loop for tens of ms while clients
    # connected, which showed in its own record as service times of 40-70 ms (case 2). Its
    # cyclic garbage is the few connections closed during a run.
    gc.disable()
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
