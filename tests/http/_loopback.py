"""A scripted HTTP/1.1 server on loopback, in its own thread and event loop, for the tests.

Each path is one behaviour (echo, status, cookies, redirects, compression, chunked, slow,
reset, close...), so a test names what it needs in the URL. The server counts the
connections it accepted and those still open, so tests can see reuse and closing, and
records every request it read, so tests can compare what it received with the samples.

The hostile paths (huge, endless, dripped, junk...) are bounded in time: each gives up after
`_HOSTILE_SECONDS` or as soon as the client goes away.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import socketserver
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import trustme
import uvloop

from loadhopper._bridge import run_in_greenlet


@dataclass
class Server:
    """A running test server."""

    port: int
    scheme: str = "http"
    connections: int = 0
    open: int = 0  # connections not yet closed by either side
    requests: list[tuple[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def received(self, method: str, path: str) -> int:
        """How many requests for `path` (query ignored) with `method` the server read."""
        return sum(1 for m, t in list(self.requests) if m == method and t.split("?")[0] == path)

    def wait_until_closed(self, timeout: float = 5.0) -> bool:
        """Wait (bounded, to detect a hang only) until no client connection is open."""
        deadline = time.monotonic() + timeout
        while self.open and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.open == 0


_HOSTILE_SECONDS = 10.0  # the longest any hostile behaviour goes on


def gzip_bomb(mebibytes: int) -> bytes:
    """A valid gzip member of `mebibytes` MiB of zeros, built in milliseconds.

    One MiB of zeros is compressed and ended with a full flush, which resets the compressor,
    so each further MiB compresses to the same bytes and can simply be repeated.
    """
    zeros = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    steady = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH) == steady
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (mebibytes << 20) & 0xFFFFFFFF)
    return header + first + steady * (mebibytes - 1) + compressor.flush() + trailer


def text_body(size: int) -> bytes:
    """`size` bytes of line-structured text that compresses like a real page."""
    line = b"<li class='row'>item %08d lorem ipsum dolor sit amet</li>\n"
    count = size // len(line % 0) + 1
    return b"".join(line % i for i in range(count))[:size]


def _response(
    status: int,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    length: bool = True,
) -> bytes:
    reason = HTTPStatus(status).phrase
    lines = [f"HTTP/1.1 {status} {reason}"]
    for name, value in headers or []:
        lines.append(f"{name}: {value}")
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Handler:
    def __init__(self, server: Server, other: Callable[[], Server | None]) -> None:
        self.server = server
        self.other = other

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server.connections += 1
        self.server.open += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = [tuple(line.split(": ", 1)) for line in lines[1:] if line]
                length = next((int(v) for n, v in headers if n.lower() == "content-length"), 0)
                body = await reader.readexactly(length) if length else b""
                self.server.requests.append((method, target))
                served += 1
                keep = await self.respond(method, target, headers, body, served, writer)
                await writer.drain()
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()
            self.server.open -= 1

    async def respond(
        self,
        method: str,
        target: str,
        headers: list[Any],
        body: bytes,
        served: int,
        writer: asyncio.StreamWriter,
    ) -> bool:
        parts = urlsplit(target)
        path, query = parts.path, parse_qsl(parts.query)
        write = writer.write
        if path == "/echo" or path.startswith("/echo/") or path.startswith("/api/"):
            payload = {
                "method": method,
                "target": target,
                "headers": [list(h) for h in headers],
                "body": body.decode("latin-1"),
            }
            data = b"" if method == "HEAD" else json.dumps(payload).encode()
            write(_response(200, data, [("Content-Type", "application/json")]))
        elif path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            write(_response(status, b"" if status in (204, 304) else f"status {status}".encode()))
        elif path == "/setcookie":
            write(_response(200, b"ok", [("Set-Cookie", v) for k, v in query if k == "c"]))
        elif path.startswith("/redirect/"):
            status = int(path.rsplit("/", 1)[1])
            location = dict(query)["to"]
            if location.startswith("OTHER"):
                other = self.other()
                assert other is not None
                location = other.url + location[5:]
            write(_response(status, b"moved", [("Location", location)]))
        elif path == "/loop":
            write(_response(302, b"", [("Location", "/loop")]))
        elif path == "/gzip":
            write(_response(200, gzip.compress(b"hello gzip"), [("Content-Encoding", "gzip")]))
        elif path == "/deflate":
            data = zlib.compress(b"hello deflate")
            write(_response(200, data, [("Content-Encoding", "deflate")]))
        elif path == "/deflate-raw":
            compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            data = compressor.compress(b"hello raw") + compressor.flush()
            write(_response(200, data, [("Content-Encoding", "deflate")]))
        elif path == "/bad-gzip":
            write(_response(200, b"not gzip at all", [("Content-Encoding", "gzip")]))
        elif path == "/chunked":
            write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n6;ext=1\r\n chunk\r\n0\r\nX-Trailer: t\r\n\r\n"
            )
        elif path == "/slow":
            await asyncio.sleep(5)
            write(_response(200, b"late"))
        elif path == "/reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        elif path == "/close":
            return False
        elif path == "/stale":
            if served > 1:
                return False  # the second request on a connection: drop it, say nothing
            write(_response(200, b"fresh"))
        elif path == "/connection-close":
            write(_response(200, b"bye", [("Connection", "close")]))
            return False
        elif path == "/close-delimited":
            write(_response(200, b"until the end", length=False))
            return False
        elif path == "/truncated":
            write(_response(200, b"short")[:-2].replace(b"Length: 5", b"Length: 50"))
            return False
        elif path == "/text-latin1":
            ctype = [("Content-Type", "text/plain; charset=iso-8859-1")]
            write(_response(200, "café".encode("latin-1"), ctype))
        elif path == "/text-plain":
            write(_response(200, "café ✓".encode(), [("Content-Type", "text/plain")]))
        elif path == "/json":
            write(
                _response(200, b'{"a": 1, "items": [1, 2]}', [("Content-Type", "application/json")])
            )
        elif path == "/dup-headers":
            write(_response(200, b"", [("X-Dup", "a"), ("x-dup", "b"), ("X-One", "1")]))
        elif path == "/continue":
            write(b"HTTP/1.1 100 Continue\r\n\r\n" + _response(200, b"after continue"))
        else:
            return await self.hostile(method, path, dict(query), served, writer)
        return True

    async def hostile(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        served: int,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """The misbehaving paths; each one is bounded in time (`_HOSTILE_SECONDS`)."""
        write = writer.write
        if path == "/ok":
            write(_response(200, b"ok"))
        elif path == "/reset-reused":
            # Answers the first request on a connection; resets after reading any later one
            # (as a server that dropped an idle keep-alive connection looks to the client).
            if served > 1:
                _reset_on_close(writer)
                return False
            write(_response(200, b"first"))
        elif path == "/junk":
            write(_response(200, b"ok") + b"stray bytes nobody asked for\r\n")
        elif path == "/junk-partial":
            write(_response(200, b"ok") + b"HTTP/1.1 2")  # the start of a second response
        elif path == "/junk-later":
            write(_response(200, b"ok"))
            await writer.drain()
            await asyncio.sleep(0.01)
            write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra")
        elif path == "/many-headers":
            count = int(query.get("n", "1000"))
            write(_response(200, b"ok", [("X-H", "v")] * count))
        elif path == "/big":
            size = int(query["n"])
            write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
            await _write_zeros(writer, size)
        elif path == "/huge-length":
            # Announces 2 GiB and sends zeros for as long as the client reads.
            write(b"HTTP/1.1 200 OK\r\nContent-Length: 2147483648\r\n\r\n")
            await _write_zeros(writer, 2 << 30)
            return False
        elif path == "/endless":
            write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            piece = b"%x\r\n%s\r\n" % (64 * 1024, bytes(64 * 1024))
            started = time.monotonic()
            while time.monotonic() - started < _HOSTILE_SECONDS:
                write(piece)
                await writer.drain()
            return False
        elif path == "/endless-trailer":
            write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: ")
            started = time.monotonic()
            while time.monotonic() - started < _HOSTILE_SECONDS:
                write(b"t" * 4096)
                await writer.drain()
            return False
        elif path == "/bomb":
            body = gzip_bomb(int(query.get("mib", "1024")))
            write(_response(200, body, [("Content-Encoding", "gzip")]))
        elif path == "/gzip-text":
            body = gzip.compress(text_body(int(query["n"])))
            write(_response(200, body, [("Content-Encoding", "gzip")]))
        elif path == "/gzip-stream":
            # A chunked gzip body, cut into small chunks: decoded as it streams.
            body = gzip.compress(text_body(int(query["n"])))
            write(
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            for start in range(0, len(body), 1000):
                piece = body[start : start + 1000]
                write(b"%x\r\n%s\r\n" % (len(piece), piece))
            write(b"0\r\n\r\n")
        elif path == "/lines":
            count = int(query.get("n", "100"))
            body = b"".join(b"line %d\n" % i for i in range(count))
            write(_response(200, body, [("Content-Type", "text/plain")]))
        elif path == "/drip":
            # `n` body bytes, one every `ms` milliseconds; `stall` ms of silence half-way.
            count, pause = int(query.get("n", "10")), float(query.get("ms", "20")) / 1000
            stall = float(query.get("stall", "0")) / 1000
            write(f"HTTP/1.1 200 OK\r\nContent-Length: {count}\r\n\r\n".encode())
            for index in range(count):
                await writer.drain()
                await asyncio.sleep(stall if stall and index == count // 2 else pause)
                write(b"d")
        elif path == "/slow-redirect":
            # Each hop takes `ms` milliseconds; `hops` of them end in a 200.
            hops, pause = int(query.get("hops", "3")), query.get("ms", "50")
            await asyncio.sleep(float(pause) / 1000)
            if hops:
                target = f"/slow-redirect?hops={hops - 1}&ms={pause}"
                write(_response(302, b"", [("Location", target)]))
            else:
                write(_response(200, b"arrived"))
        elif path == "/count":
            # Any method: says what it served, so a test sees which attempt succeeded.
            write(_response(200, f"{method} {served}".encode()))
        else:
            write(_response(404, b"no such page"))
        return True


def _reset_on_close(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    # A zero linger time makes close() send RST instead of FIN (socket(7)).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def _write_zeros(writer: asyncio.StreamWriter, size: int) -> None:
    """Write `size` zero bytes as fast as the client reads them (bounded in time)."""
    block = bytes(256 * 1024)
    started = time.monotonic()
    while size > 0 and time.monotonic() - started < _HOSTILE_SECONDS:
        piece = block if size >= len(block) else block[:size]
        writer.write(piece)
        size -= len(piece)
        await writer.drain()


class _ServerThread:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.server = Server(0, "https" if tls else "http")
        self.other: Server | None = None
        self._tls = tls
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Server:
        self._thread.start()
        assert self._ready.wait(10)
        return self.server

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        handler = _Handler(self.server, lambda: self.other)
        srv = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=self._tls)
        self.server.port = srv.sockets[0].getsockname()[1]
        self._ready.set()
        async with srv:
            await self._stop.wait()

    def stop(self) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture(scope="session")
def _servers() -> Iterator[tuple[Server, Server]]:
    first, second = _ServerThread(), _ServerThread()
    first.other, second.other = second.start(), first.start()
    yield first.server, second.server
    first.stop()
    second.stop()


@pytest.fixture
def server(_servers: tuple[Server, Server]) -> Server:
    """The main plain-HTTP test server (its counters reset for each test)."""
    _servers[0].connections = 0
    _servers[0].requests.clear()
    return _servers[0]


@pytest.fixture
def own_server() -> Iterator[Server]:
    """A server of this test alone, so that its `open` count sees only this test's clients."""
    thread = _ServerThread()
    yield thread.start()
    thread.stop()


@pytest.fixture
def other_server(_servers: tuple[Server, Server]) -> Server:
    """A second server on another port: another origin, for cross-origin redirects."""
    return _servers[1]


@dataclass(frozen=True)
class TLSSetup:
    server: Server
    ca_path: Path


@pytest.fixture(scope="session")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSSetup]:
    """An HTTPS test server whose certificate comes from a CA made for this test run."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    thread = _ServerThread(tls=context)
    server = thread.start()
    yield TLSSetup(server, ca_path)
    thread.stop()


@dataclass
class Recorder:
    """A request sink that keeps every sample (the runtime's sink records into stats)."""

    samples: list[tuple[Any, ...]] = field(default_factory=list)

    def __call__(self, *sample: Any) -> None:
        self.samples.append(sample)

    @property
    def last(self) -> dict[str, Any]:
        keys = [
            "request_type",
            "name",
            "response_time",
            "response_length",
            "response",
            "context",
            "exception",
            "start_time",
            "url",
        ]
        return dict(zip(keys, self.samples[-1], strict=True))


@pytest.fixture
def sink() -> Recorder:
    return Recorder()


def run_blocking(fn: Callable[[], Any]) -> Any:
    """Run `fn` as a user's task would run: in a bridge greenlet on a uvloop event loop."""
    return uvloop.run(run_in_greenlet(fn))


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def threaded_server(
    handler: type[socketserver.BaseRequestHandler],
    server_class: type[socketserver.TCPServer] = socketserver.ThreadingTCPServer,
) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 from a thread (one more thread per connection); yields
    the base URL, and stops the server after."""
    server = server_class(("127.0.0.1", 0), handler)
    server.daemon_threads = True  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
