"""A small HTTP proxy on loopback for the tests: forwards absolute-form requests, tunnels
CONNECT, and records what it saw, in its own thread and event loop.

Forwarding reads each request from the client (head, then a Content-Length body), turns its
absolute-form target back into origin form, drops Proxy-Authorization, and writes it to one
upstream connection per client connection; the upstream's bytes are piped back as they come.
Every connection is bounded: a pipe gives up after `_PIPE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_PIPE_SECONDS = 10.0


@dataclass
class ProxyServer:
    """What the running proxy saw, and how it behaves."""

    port: int = 0
    connections: int = 0
    peers: list[str] = field(default_factory=list)  # each client connection's address
    # (method, target as received, Proxy-Authorization or None), one per forwarded request
    forwarded: list[tuple[str, str, str | None]] = field(default_factory=list)
    # (authority, Proxy-Authorization or None), one per CONNECT that was accepted
    tunnels: list[tuple[str, str | None]] = field(default_factory=list)
    required_auth: str | None = None  # when set, anything else is answered 407
    refuse_connect: int | None = None  # when set, every CONNECT is answered with this status

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_with(self, userinfo: str) -> str:
        return f"http://{userinfo}@127.0.0.1:{self.port}"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, TimeoutError, asyncio.IncompleteReadError):
        async with asyncio.timeout(_PIPE_SECONDS):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
    writer.close()


class _Handler:
    def __init__(self, proxy: ProxyServer) -> None:
        self.proxy = proxy

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.proxy.connections += 1
        self.proxy.peers.append(writer.get_extra_info("peername")[0])
        upstream: asyncio.StreamWriter | None = None
        piping: asyncio.Task[None] | None = None
        try:
            async with asyncio.timeout(_PIPE_SECONDS):
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    lines = head.decode("latin-1").split("\r\n")
                    method, target, version = lines[0].split(" ", 2)
                    headers = [line.split(": ", 1) for line in lines[1:] if line]
                    auth = next((v for n, v in headers if n.lower() == "proxy-authorization"), None)
                    required = self.proxy.required_auth
                    if required is not None and auth != required:
                        writer.write(
                            b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                            b'Proxy-Authenticate: Basic realm="test"\r\n'
                            b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                        )
                        await writer.drain()
                        return
                    if method == "CONNECT":
                        await self.tunnel(target, auth, reader, writer)
                        return
                    parts = urlsplit(target)
                    assert parts.scheme == "http", f"not absolute form: {target}"
                    self.proxy.forwarded.append((method, target, auth))
                    if upstream is None:
                        up_reader, upstream = await asyncio.open_connection(
                            parts.hostname, parts.port or 80
                        )
                        piping = asyncio.ensure_future(_pipe(up_reader, writer))
                    length = next((int(v) for n, v in headers if n.lower() == "content-length"), 0)
                    body = await reader.readexactly(length) if length else b""
                    path = parts.path + (f"?{parts.query}" if parts.query else "")
                    kept = [f"{n}: {v}" for n, v in headers if n.lower() != "proxy-authorization"]
                    request = "\r\n".join([f"{method} {path} {version}", *kept]) + "\r\n\r\n"
                    upstream.write(request.encode("latin-1") + body)
                    await upstream.drain()
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            if upstream is not None:
                upstream.close()
            if piping is not None:
                piping.cancel()
            writer.close()

    async def tunnel(
        self,
        authority: str,
        auth: str | None,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        refuse = self.proxy.refuse_connect
        if refuse is not None:
            writer.write(f"HTTP/1.1 {refuse} Refused\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
            return
        host, _, port = authority.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        self.proxy.tunnels.append((authority, auth))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


class _ProxyThread:
    def __init__(self, proxy: ProxyServer) -> None:
        self.proxy = proxy
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(_Handler(self.proxy), "127.0.0.1", 0)
        self.proxy.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()

    def start(self) -> ProxyServer:
        self._thread.start()
        assert self._ready.wait(10)
        return self.proxy

    def stop(self) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@contextlib.contextmanager
def running_proxy(**behaviour: object) -> Iterator[ProxyServer]:
    """A proxy of this test alone (so that its counts are this test's)."""
    thread = _ProxyThread(ProxyServer(**behaviour))  # type: ignore[arg-type]
    try:
        yield thread.start()
    finally:
        thread.stop()
