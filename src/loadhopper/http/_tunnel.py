"""The CONNECT handshake that opens a tunnel to an https:// origin through an HTTP proxy.

RFC 9110 §9.3.6: the client sends `CONNECT host:port HTTP/1.1`, the proxy answers with a
status line and headers, and after a 2xx the connection carries the client's bytes to the
target and back (here: a TLS handshake, then HTTP/1.1). A 2xx reply has no body (the RFC
forbids Content-Length and Transfer-Encoding on it), so any byte after its blank line is
the proxy out of step. The reply is read into a bounded buffer; the bytes are parsed by
`parse_reply`, which knows nothing of sockets.
"""

from __future__ import annotations

import asyncio

from loadhopper._exceptions import ConnectError, ReadError, RemoteProtocolError, RequestError
from loadhopper.http._proxy import Proxy

__all__ = ["connect_request", "open_tunnel", "parse_reply"]

# The largest CONNECT reply head accepted: the bound the client puts on response headers.
_MAX_REPLY = 64 * 1024


def connect_request(host: str, port: int, proxy: Proxy) -> bytes:
    """The CONNECT request for `host:port`, with the proxy's credentials if it has any."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy.authorization is not None:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_reply(head: bytes) -> tuple[int, str]:
    """The status code and reason of a CONNECT reply head (up to its blank line).

    Raises:
        RemoteProtocolError: the head does not start with an HTTP/1.x status line.
    """
    line = head.split(b"\r\n", 1)[0]
    version, _, rest = line.partition(b" ")
    code, _, reason = rest.partition(b" ")
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise RemoteProtocolError(
            f"the proxy's reply to CONNECT is not an HTTP/1.1 status line ({line[:80]!r})"
        )
    return int(code), reason.decode("latin-1").strip()


class _Handshake(asyncio.Protocol):
    """Collects the proxy's reply to CONNECT; `reply` resolves with (status, reason, extra)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.reply: asyncio.Future[tuple[int, str, bool]] = loop.create_future()
        self._buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        if self.reply.done():
            return
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_REPLY:
                self._fail(RemoteProtocolError("the proxy's reply to CONNECT is over 64 KiB"))
            return
        try:
            status, reason = parse_reply(bytes(self._buffer[:end]))
        except RemoteProtocolError as exc:
            self._fail(exc)
            return
        self.reply.set_result((status, reason, end + 4 < len(self._buffer)))

    def connection_lost(self, exc: Exception | None) -> None:
        cause = f" ({exc})" if exc is not None else ""
        self._fail(ReadError(f"the proxy closed the connection before answering CONNECT{cause}"))

    def _fail(self, error: RequestError) -> None:
        if not self.reply.done():
            self.reply.set_exception(error)


async def open_tunnel(
    proxy: Proxy, host: str, port: int, route: tuple[str, str] | None = None
) -> asyncio.Transport:
    """A TCP transport to the proxy, tunnelled to `host:port`, ready for TLS.

    `route`, when given, is (the proxy's address, the local address to connect from), as
    `--local-ips` chose them.

    Raises:
        ConnectError: the proxy refused the tunnel (its status is in the message).
        ReadError, RemoteProtocolError: the proxy closed or answered out of step.
        OSError, socket.gaierror: the proxy cannot be reached (the caller translates them).
    """
    loop = asyncio.get_running_loop()
    if route is None:
        transport, handshake = await loop.create_connection(
            lambda: _Handshake(loop), proxy.host, proxy.port
        )
    else:
        address, local = route
        transport, handshake = await loop.create_connection(
            lambda: _Handshake(loop), address, proxy.port, local_addr=(local, 0)
        )
    try:
        transport.write(connect_request(host, port, proxy))
        status, reason, extra = await handshake.reply
        if not 200 <= status < 300:
            hint = (
                "check the credentials in the proxy URL (only Basic is supported)"
                if status == 407
                else "check that the proxy allows tunnels to this host and port"
            )
            answer = f"{status} {reason}".rstrip()
            raise ConnectError(
                f"the proxy {proxy.address} refused the tunnel to {host}:{port} with "
                f"{answer}; {hint}"
            )
        if extra:
            raise RemoteProtocolError(
                f"the proxy {proxy.address} sent bytes after its 2xx reply to CONNECT"
            )
    except BaseException:
        transport.close()
        raise
    return transport
