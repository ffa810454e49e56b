"""A minimal HTTP/1.1 target for the benchmarks, run as its own process.

It answers every request with a fixed 2-byte keep-alive response, either at once (case 1, when
nginx is not installed) or after a fixed delay (case 2: the "true" latency the load tools should
report). It counts requests and prints the running total on stdout at a fixed interval, so that
the harness can measure the rate it actually received, independently of what each tool reports.

Protocol on stdout, one line each:
    READY <port>                 once listening on 127.0.0.1
    <epoch seconds> <total>      every --report-interval seconds

It also keeps its own record of every request it answers: when the request was complete
(epoch seconds), its service time, from the request complete to the response written (the
10 ms delay plus however late this process's loop ran the timer), and, with `--stamps`, its
wait: from the kernel's receive timestamp of the request's first bytes (`SO_TIMESTAMPNS`) to
this process reading them. The wait is the target's too: bytes that sit in its socket while
its loop is busy (accepting 2,000 connections a second during a ramp, say) are late because of
the target, and no client can tell that from its own lateness in reading the response. A
tool's latency can then be set beside the target's own, request for request: what exceeds
wait + service happened outside the target, on loopback and in the tool. `GET /__record`
answers (and clears) the record so far, uncounted: a little-endian uint64 count n, then n
float64 arrival times, n float64 service times and n float64 waits in seconds (NaN where no
stamp was read; `read_record` parses it).

Usage: python _target_server.py [--port 0] [--delay-ms 10] [--report-interval 0.25] [--stamps]
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import math
import signal
import socket
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
_READ_SIZE = 65536

# Linux's receive timestamps (asm-generic/socket.h; Python's socket module does not name
# them): with SO_TIMESTAMPNS set, each recvmsg carries an SCM_TIMESTAMPNS control message,
# a struct timespec of CLOCK_REALTIME (the clock of time.time()) taken as the bytes arrived.
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@qq")
_ANCILLARY_SIZE = socket.CMSG_SPACE(_TIMESPEC.size)


class _Counter:
    """The process-wide request count and service record (one event loop, so no locking)."""

    def __init__(self) -> None:
        self.total = 0
        self.arrivals = array("d")
        self.services = array("d")
        self.waits = array("d")

    def take_record(self) -> bytes:
        """The record since the last call, in the `/__record` format; then clear it."""
        columns = self.arrivals, self.services, self.waits
        self.arrivals, self.services, self.waits = array("d"), array("d"), array("d")
        if sys.byteorder != "little":
            for column in columns:
                column.byteswap()
        return struct.pack("<Q", len(columns[0])) + b"".join(c.tobytes() for c in columns)


def read_record(body: bytes) -> tuple[array[float], array[float], array[float]]:
    """(arrival epoch seconds, service seconds, wait seconds) from a `/__record` body.

    Raises:
        ValueError: the body is not in the record format.
    """
    if len(body) < 8:
        raise ValueError("the target's record is shorter than its 8-byte count.")
    (count,) = struct.unpack_from("<Q", body)
    if len(body) != 8 + 24 * count:
        raise ValueError(f"the target's record holds {len(body)} bytes, not 8 + 24 * {count}.")
    columns = array("d"), array("d"), array("d")
    for index, column in enumerate(columns):
        column.frombytes(body[8 + 8 * count * index : 8 + 8 * count * (index + 1)])
        if sys.byteorder != "little":
            column.byteswap()
    return columns


def _kernel_stamp(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The receive timestamp (epoch seconds) in a recvmsg's control messages, NaN if none."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            return float(seconds) + float(nanoseconds) * 1e-9
    return math.nan


def _ask_for_stamps(sock: socket.socket) -> bool:
    """Ask the kernel to stamp what `sock` receives; False where it cannot (not Linux: the
    waits are then NaN, and the rest of the record stands)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


class _Requests:
    """One connection's requests, whatever reads them: parsed with httptools, each answered
    after `delay` seconds and recorded. The I/O side sets `_request_wait` and provides
    `_send`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, counter: _Counter, delay: float) -> None:
        self._loop = loop
        self._counter = counter
        self._delay = delay
        self._parser = httptools.HttpRequestParser(self)
        self._control = False  # the request is GET /__record
        self._request_wait = math.nan  # the current request's wait in the socket, if known

    def _send(self, data: bytes, close: bool = False) -> None:
        raise NotImplementedError

    def _feed(self, data: bytes) -> bool:
        """Parse received bytes; False when they are not HTTP (the caller closes)."""
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            return False
        return True

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
        wait = self._request_wait
        if self._delay > 0.0:
            # perf_counter, not loop.time(): uvloop's loop time has a resolution of 1 ms.
            now = time.perf_counter()
            self._loop.call_later(self._delay, self._respond, keep_alive, now, time.time(), wait)
        else:
            self._respond(keep_alive, time.perf_counter(), time.time(), wait)

    def _send_record(self, keep_alive: bool) -> None:
        body = self._counter.take_record()
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n"
        self._send(head.encode() + (b"\r\n" if keep_alive else b"Connection: close\r\n\r\n"))
        self._send(body, close=not keep_alive)

    def _respond(self, keep_alive: bool, complete: float, arrival: float, wait: float) -> None:
        # Recorded before the write, even to a closed connection: the target did the work.
        counter = self._counter
        counter.arrivals.append(arrival)
        counter.services.append(time.perf_counter() - complete)
        counter.waits.append(wait)
        self._send(_KEEP_ALIVE if keep_alive else _CLOSE, close=not keep_alive)


class _TransportConnection(_Requests, asyncio.Protocol):
    """The fast front end, on uvloop's transports (cases 1, 4, 5, 6: the target must not be
    what limits the rate). Its reads carry no kernel stamps, so its waits are NaN."""

    def __init__(self, loop: asyncio.AbstractEventLoop, counter: _Counter, delay: float) -> None:
        super().__init__(loop, counter, delay)
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        if not self._feed(data) and self._transport is not None:
            self._transport.close()

    def _send(self, data: bytes, close: bool = False) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        if close:
            transport.close()


class _StampedConnection(_Requests):
    """The stamped front end (case 2, `--stamps`): an accepted socket read with recvmsg for
    the kernel's receive timestamps, which uvloop's plain reads do not carry. It costs about
    twice the CPU per request of the transport front end, far within case 2's rate."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        counter: _Counter,
        delay: float,
    ) -> None:
        super().__init__(loop, counter, delay)
        self._sock = sock
        self._fd = sock.fileno()
        self._unsent = bytearray()  # what the socket did not take yet
        self._close_after_send = False
        self._closed = False
        # The kernel's stamp of the bytes being parsed, and when this process read them;
        # a request's wait is taken from the read in which its first byte came.
        self._chunk_stamp = math.nan
        self._chunk_read = 0.0
        loop.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        try:
            data, ancillary, _flags, _address = self._sock.recvmsg(_READ_SIZE, _ANCILLARY_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close()
            return
        if not data:
            self._close()
            return
        self._chunk_stamp = _kernel_stamp(ancillary)
        self._chunk_read = time.time()
        if not self._feed(data):
            self._close()

    # httptools callback: the first byte of a request.
    def on_message_begin(self) -> None:
        wait = self._chunk_read - self._chunk_stamp
        self._request_wait = 0.0 if wait < 0.0 else wait  # NaN (no stamp) stays NaN

    def _send(self, data: bytes, close: bool = False) -> None:
        if self._closed:
            return
        if not self._unsent:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._close()
                return
            data = data[sent:]
            if data:
                self._loop.add_writer(self._fd, self._writable)
        self._unsent += data
        self._close_after_send = self._close_after_send or close
        if self._close_after_send and not self._unsent:
            self._close()

    def _writable(self) -> None:
        try:
            sent = self._sock.send(self._unsent)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close()
            return
        del self._unsent[:sent]
        if not self._unsent:
            self._loop.remove_writer(self._fd)
            if self._close_after_send:
                self._close()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fd)
        self._loop.remove_writer(self._fd)
        self._sock.close()


class _StampedListener:
    """The stamped front end's listening socket: accepts every pending connection when it
    is readable."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, port: int, counter: _Counter, delay: float
    ) -> None:
        self._loop = loop
        self._counter = counter
        self._delay = delay
        sock = self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        # Set on the listener too, before any client comes: Linux stamps arriving packets
        # only while some socket asks for stamps, so a request sent before its connection
        # was accepted would otherwise carry none.
        self.stamped = _ask_for_stamps(sock)
        sock.listen(_BACKLOG)
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._acceptable)

    def _acceptable(self) -> None:
        while True:
            try:
                client, _address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    return  # out of descriptors: the connection waits in the backlog
                raise
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.stamped:
                _ask_for_stamps(client)
            _StampedConnection(self._loop, client, self._counter, self._delay)

    def port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    def close(self) -> None:
        self._loop.remove_reader(self.sock.fileno())
        self.sock.close()


async def _report(counter: _Counter, interval: float) -> None:
    while True:
        sys.stdout.write(f"{time.time():.3f} {counter.total}\n")
        sys.stdout.flush()
        await asyncio.sleep(interval)


async def _serve(port: int, delay: float, interval: float, stamps: bool) -> None:
    # No cyclic collector in the target: with 10,000 connections (a protocol and a parser
    # each, in a cycle) its full collections held this loop for tens of ms while clients
    # connected, which showed in its own record as service times of 40-70 ms (case 2). Its
    # cyclic garbage is the few connections closed during a run.
    gc.disable()
    loop = asyncio.get_running_loop()
    counter = _Counter()
    listener: _StampedListener | asyncio.Server
    if stamps:
        listener = _StampedListener(loop, port, counter, delay)
        bound_port = listener.port()
    else:
        listener = await loop.create_server(
            lambda: _TransportConnection(loop, counter, delay), "127.0.0.1", port, backlog=_BACKLOG
        )
        bound_port = listener.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sys.stdout.write(f"READY {bound_port}\n")
    sys.stdout.flush()
    reporter = asyncio.create_task(_report(counter, interval))
    await stop.wait()
    reporter.cancel()
    listener.close()
    sys.stdout.write(f"{time.time():.3f} {counter.total}\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--report-interval", type=float, default=0.25)
    parser.add_argument(
        "--stamps",
        action="store_true",
        help="read with recvmsg for the kernel's receive stamps: each request's wait is known",
    )
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # the default loop still works, only slower
        asyncio.run(_serve(args.port, args.delay_ms / 1000.0, args.report_interval, args.stamps))
    else:
        uvloop.run(_serve(args.port, args.delay_ms / 1000.0, args.report_interval, args.stamps))


if __name__ == "__main__":
    main()
