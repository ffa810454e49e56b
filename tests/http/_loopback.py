"""A scripted HTTP/1.1 server on loopback, in its own thread and event loop, for the tests.

Each path is one behaviour (echo, status, cookies, redirects, compression, chunked, slow,
reset, close...), so a test names what it needs in the URL. The server counts the
connections it accepted, so tests can see reuse.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import ssl
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
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
    requests: list[tuple[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


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
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

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
            write(_response(404, b"no such page"))
        return True


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
