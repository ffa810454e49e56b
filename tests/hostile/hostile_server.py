"""A loopback HTTP/1.1 server that misbehaves on purpose, one behaviour per path.

It runs its own event loop in a thread of the test process (the load generator under test is
a separate process, so its memory is measured apart from this server's), listens on
127.0.0.1 on a free port, and counts every complete request head it reads, per
(method, request target), before it misbehaves: that count is what the load generator's
statistics must agree with.

Paths (the query string is ignored when choosing the behaviour, but kept in the count, so a
test can tell two uses of one behaviour apart):

    /ok                 200 with a small body
    /reset              read the request, then RST (SO_LINGER 0 and close)
    /close              read the request, close without answering
    /stall              never answer until the client goes away (at most STALL_SECONDS)
    /drip-headers       the status line and headers one byte every DRIP_INTERVAL seconds
    /drip-body          valid headers, then the body one byte every DRIP_INTERVAL seconds
    /short              Content-Length 100, 10 bytes, close
    /bad-status         a garbage status line, then silence until the client goes away
    /huge-header        one header of HUGE_HEADER_BYTES
    /many-headers       MANY_HEADERS tiny headers (under 64 KiB in all: a count, not a size)
    /huge-body          Content-Length 2 GiB, generated as fast as the client reads
    /endless            a chunked body that never ends (at most STREAM_SECONDS)
    /bomb               gzip whose body (about 10.6 MB) expands to 10 GiB of zeros
    /redirect-loop      302 to itself
    /redirect-chain/N   302 to /redirect-chain/N-1; /redirect-chain/0 is a 200
    /http10             an HTTP/1.0 response without Content-Length, ended by closing
    /continue           100 Continue, then 200
    /junk               a valid 200 followed by stray bytes in the same write
    /random             one of the above, chosen by a seeded random generator

Every wait and every loop is bounded in time, and the whole server stops by itself after
`lifetime` seconds, so that no test can leave it running.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType

from hostile.gzip_bomb import gzip_bomb

__all__ = ["BODY", "HostileServer"]

BODY = b"ok"
STALL_SECONDS = 30.0
STREAM_SECONDS = 30.0
DRIP_INTERVAL = 0.05
HUGE_HEADER_BYTES = 1 << 20
MANY_HEADERS = 10_000
HUGE_BODY_BYTES = 2 << 30
BOMB_DECODED_BYTES = 10 << 30
CHAIN_FROM_RANDOM = 3  # /random's redirect chain starts at /redirect-chain/3
_HEAD_LIMIT = 64 * 1024  # the largest request head read; a client sends far less
_STREAM_CHUNK = bytes(256 * 1024)
_DRIPPED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"  # 38 bytes: 1.9 s
_DRIPPED_BODY = b"x" * 30  # 1.5 s
_JUNK = b"stray bytes that no request asked for\r\n"


def response(status: int, reason: str, body: bytes = b"", headers: str = "") -> bytes:
    """A complete HTTP/1.1 response with a Content-Length; `headers` are extra lines."""
    head = f"HTTP/1.1 {status} {reason}\r\n{headers}Content-Length: {len(body)}\r\n\r\n"
    return head.encode("latin-1") + body


@dataclass
class _Io:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    rng: random.Random

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def hold(self, seconds: float) -> None:
        """Wait until the client closes the connection, or `seconds` have passed."""
        try:
            async with asyncio.timeout(seconds):
                while await self.reader.read(65536):
                    pass  # whatever a broken client sends now is not a request we count
        except TimeoutError:
            pass


# A behaviour gets the connection and the path; it returns whether to keep the connection.
Mode = Callable[[_Io, str], Awaitable[bool]]


async def _ok(io: _Io, path: str) -> bool:
    await io.send(response(200, "OK", BODY))
    return True


async def _reset(io: _Io, path: str) -> bool:
    sock = io.writer.get_extra_info("socket")
    # A zero linger time makes close() send RST instead of FIN (socket(7)).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return False


async def _close(io: _Io, path: str) -> bool:
    return False


async def _stall(io: _Io, path: str) -> bool:
    await io.hold(STALL_SECONDS)
    return False


async def _drip_headers(io: _Io, path: str) -> bool:
    for index in range(len(_DRIPPED_HEAD)):
        await io.send(_DRIPPED_HEAD[index : index + 1])
        await asyncio.sleep(DRIP_INTERVAL)
    await io.send(b"drips")
    return True


async def _drip_body(io: _Io, path: str) -> bool:
    await io.send(f"HTTP/1.1 200 OK\r\nContent-Length: {len(_DRIPPED_BODY)}\r\n\r\n".encode())
    for index in range(len(_DRIPPED_BODY)):
        await asyncio.sleep(DRIP_INTERVAL)
        await io.send(_DRIPPED_BODY[index : index + 1])
    return True


async def _short(io: _Io, path: str) -> bool:
    await io.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"0123456789")
    return False


async def _bad_status(io: _Io, path: str) -> bool:
    await io.send(b"HTPT/1.1 !!! not a status line\r\nContent-Length: 0\r\n\r\n")
    # Keep the connection open: the client must give up on the garbage, not on a close.
    await io.hold(STALL_SECONDS)
    return False


async def _huge_header(io: _Io, path: str) -> bool:
    await io.send(response(200, "OK", BODY, "X-Huge: " + "h" * HUGE_HEADER_BYTES + "\r\n"))
    return True


async def _many_headers(io: _Io, path: str) -> bool:
    # The same tiny line 10,000 times: 60,000 bytes, under a 64 KiB size cap, so only a cap
    # on the number of headers stops the client from building 10,000 header tuples.
    await io.send(response(200, "OK", BODY, "X: y\r\n" * MANY_HEADERS))
    return True


async def _huge_body(io: _Io, path: str) -> bool:
    await io.send(f"HTTP/1.1 200 OK\r\nContent-Length: {HUGE_BODY_BYTES}\r\n\r\n".encode())
    await _stream(io, HUGE_BODY_BYTES, framed=False)
    return False


async def _endless(io: _Io, path: str) -> bool:
    await io.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    await _stream(io, None, framed=True)
    return False  # the last chunk never comes


async def _stream(io: _Io, total: int | None, *, framed: bool) -> None:
    """Send zeros as fast as the client reads (drain waits on it) for STREAM_SECONDS at most."""
    chunk = _STREAM_CHUNK
    if framed:
        chunk = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    sent, deadline = 0, time.monotonic() + STREAM_SECONDS
    while (total is None or sent < total) and time.monotonic() < deadline:
        piece = chunk if total is None else chunk[: total - sent]
        await io.send(piece)
        sent += len(piece)


async def _bomb(io: _Io, path: str) -> bool:
    body = gzip_bomb(BOMB_DECODED_BYTES)
    await io.send(
        f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    )
    view = memoryview(body)
    for start in range(0, len(body), len(_STREAM_CHUNK)):
        await io.send(view[start : start + len(_STREAM_CHUNK)].tobytes())
    return True


async def _redirect_loop(io: _Io, path: str) -> bool:
    await io.send(response(302, "Found", headers="Location: /redirect-loop\r\n"))
    return True


async def _redirect_chain(io: _Io, path: str) -> bool:
    step = path.rpartition("/")[2]
    hops = int(step) if step.isdigit() else CHAIN_FROM_RANDOM
    if hops == 0:
        await io.send(response(200, "OK", b"end of the chain"))
    else:
        location = f"Location: /redirect-chain/{hops - 1}\r\n"
        await io.send(response(302, "Found", headers=location))
    return True


async def _http10(io: _Io, path: str) -> bool:
    await io.send(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + BODY)
    return False


async def _continue(io: _Io, path: str) -> bool:
    await io.send(b"HTTP/1.1 100 Continue\r\n\r\n")
    await asyncio.sleep(0.01)  # so that the interim response most likely arrives on its own
    await io.send(response(200, "OK", BODY))
    return True


async def _junk(io: _Io, path: str) -> bool:
    await io.send(response(200, "OK", BODY) + _JUNK)  # one write: both arrive together
    return True


async def _random(io: _Io, path: str) -> bool:
    mode = io.rng.choice(_RANDOM_MODES)
    return await mode(io, "/random")


_MODES: dict[str, Mode] = {
    "/ok": _ok,
    "/reset": _reset,
    "/close": _close,
    "/stall": _stall,
    "/drip-headers": _drip_headers,
    "/drip-body": _drip_body,
    "/short": _short,
    "/bad-status": _bad_status,
    "/huge-header": _huge_header,
    "/many-headers": _many_headers,
    "/huge-body": _huge_body,
    "/endless": _endless,
    "/bomb": _bomb,
    "/redirect-loop": _redirect_loop,
    "/http10": _http10,
    "/continue": _continue,
    "/junk": _junk,
}
_RANDOM_MODES: tuple[Mode, ...] = (*_MODES.values(), _redirect_chain)
_MODES["/random"] = _random


def _route(path: str) -> Mode | None:
    if path.startswith("/redirect-chain/"):
        return _redirect_chain
    return _MODES.get(path)


async def _not_found(io: _Io, path: str) -> bool:
    await io.send(response(404, "Not Found", b"no such behaviour"))
    return True


class HostileServer:
    """The misbehaving server, in a thread of its own; a context manager.

    Args:
        seed: seeds /random's choices.
        lifetime: seconds after which the server stops by itself.
    """

    def __init__(self, seed: int = 0, lifetime: float = 120.0) -> None:
        self.port = 0
        self._seed = seed
        self._lifetime = lifetime
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._open: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="hostile-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def counts(self) -> dict[tuple[str, str], int]:
        """Complete request heads read so far, per (method, request target)."""
        with self._lock:
            return dict(self._counts)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no connection is open (every client went away); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._open:  # len() of a set is atomic; it is only changed on the loop
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def __enter__(self) -> HostileServer:
        gzip_bomb(BOMB_DECODED_BYTES)  # built once, before any client waits for it
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile server did not start within 10 s")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            # RuntimeError: the loop closed in between, because the lifetime ran out.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        rng = random.Random(self._seed)

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(_Io(reader, writer, rng))

        server = await asyncio.start_server(serve, "127.0.0.1", 0, limit=_HEAD_LIMIT)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            async with asyncio.timeout(self._lifetime):
                await self._stop.wait()
        except TimeoutError:
            pass
        server.close()
        for task in list(self._open):
            task.cancel()
        await asyncio.gather(*self._open, return_exceptions=True)

    async def _serve(self, io: _Io) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._open.add(task)
        try:
            while True:
                head = await io.reader.readuntil(b"\r\n\r\n")
                method, target, length = _parse_head(head)
                with self._lock:
                    self._counts[(method, target)] += 1
                if length:
                    await io.reader.readexactly(length)
                path = target.partition("?")[0]
                if not await (_route(path) or _not_found)(io, path):
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError, ValueError):
            pass  # the client went away, or sent something that is not a request head
        finally:
            self._open.discard(task)
            io.writer.close()


def _parse_head(head: bytes) -> tuple[str, str, int]:
    """(method, target, Content-Length) of a request head."""
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return method, target, length
