"""Opening a connection: directly, through an HTTP proxy, or through a proxy's tunnel.

Three ways, chosen once per connection (never per request):

- direct: TCP to the origin, TLS on it for https://;
- forwarded (an http:// origin through a proxy): TCP to the proxy, and a `ForwardConnection`
  that puts each request line in absolute form and adds the proxy's credentials;
- tunnelled (an https:// origin through a proxy): TCP to the proxy, `CONNECT`
  (`_tunnel.open_tunnel`), then TLS to the origin inside the tunnel; from then on it is an
  ordinary `Connection`.

Errors are translated here, at the boundary, into the loadhopper family: OSError and ssl
errors never leak past this module, and a failure to reach a proxy names the proxy.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from collections.abc import Callable

from loadhopper._exceptions import ConnectError, ConnectTimeout, NameResolutionError, TLSError
from loadhopper.http._connection import Connection, Deadline
from loadhopper.http._limits import DEFAULT_MAX_BODY_SIZE
from loadhopper.http._protocol import DEFAULT_MAX_HEADER_BYTES, RawResponse
from loadhopper.http._proxy import Proxy
from loadhopper.http._source import SourceAddresses, route_from
from loadhopper.http._tls import TLSSettings, tls_context
from loadhopper.http._tunnel import open_tunnel

__all__ = ["ForwardConnection", "open_connection"]


class ForwardConnection(Connection):
    """A connection to an HTTP proxy that forwards requests to one http:// origin.

    The session serializes requests in origin form (`GET /path HTTP/1.1`); a proxy needs the
    absolute form (`GET http://host:port/path HTTP/1.1`, RFC 9112 §3.2.2), so `send` splices
    the origin in after the method, and the `Proxy-Authorization` line after the request
    line. A subclass, so that direct connections do not pay a test for it on every request.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        max_header_bytes: int,
        origin_prefix: bytes,
        authorization: str | None,
    ) -> None:
        super().__init__(loop, max_header_bytes)
        self._prefix = origin_prefix
        self._auth_line = (
            b"" if authorization is None else f"Proxy-Authorization: {authorization}\r\n".encode()
        )

    def send(
        self,
        data: bytes,
        head: bool,
        read_timeout: float | None,
        max_body: int = DEFAULT_MAX_BODY_SIZE,
        deadline: Deadline | None = None,
        stream: bool = False,
    ) -> asyncio.Future[RawResponse]:
        target = data.index(b" ") + 1
        if self._auth_line:
            headers = data.index(b"\r\n", target) + 2
            data = b"".join(
                (data[:target], self._prefix, data[target:headers], self._auth_line, data[headers:])
            )
        else:
            data = b"".join((data[:target], self._prefix, data[target:]))
        return super().send(data, head, read_timeout, max_body, deadline, stream)


def absolute_prefix(host: str, port: int) -> bytes:
    """`http://host[:port]`, what goes before an origin-form target to make it absolute."""
    name = f"[{host}]" if ":" in host else host
    return (f"http://{name}" if port == 80 else f"http://{name}:{port}").encode("ascii")


async def open_connection(
    scheme: str,
    host: str,
    port: int,
    tls: TLSSettings,
    connect_timeout: float | None,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    proxy: Proxy | None = None,
    source: SourceAddresses | None = None,
) -> Connection:
    """Open a connection to `host:port` (TLS when `scheme` is "https"), maybe via `proxy`.

    The connect timeout bounds all of it: TCP, the CONNECT exchange and the TLS handshake.
    With `source`, the TCP connection (to the origin or the proxy) is made from the next of
    its addresses (`--local-ips`).

    Raises:
        NameResolutionError, ConnectError, TLSError, ConnectTimeout: as their names say;
        ConnectError too when a proxy refuses the tunnel.
    """
    loop = asyncio.get_running_loop()
    context = tls_context(tls) if scheme == "https" else None
    try:
        async with asyncio.timeout(connect_timeout):
            if proxy is None:
                connection = await _tcp(
                    lambda: Connection(loop, max_header_bytes), host, port, source, context, host
                )
            elif context is None:
                prefix = absolute_prefix(host, port)
                connection = await _tcp(
                    lambda: ForwardConnection(loop, max_header_bytes, prefix, proxy.authorization),
                    proxy.host,
                    proxy.port,
                    source,
                )
            else:
                connection = await _tunnelled(proxy, host, port, context, max_header_bytes, source)
    except socket.gaierror as exc:
        name = host if proxy is None else proxy.host
        what = "host" if proxy is None else "proxy host"
        raise NameResolutionError(
            f"the {what} name {name!r} does not resolve ({exc.strerror}); check the {what}"
        ) from exc
    except ssl.SSLCertVerificationError as exc:
        raise TLSError(
            f"the TLS certificate of {host}:{port} did not verify ({exc.verify_message}); "
            "pass verify='ca.pem' to trust its CA, or verify=False to skip the check"
        ) from exc
    except ssl.SSLError as exc:
        raise TLSError(f"the TLS handshake with {host}:{port} failed ({exc.reason})") from exc
    except TimeoutError as exc:  # ours from asyncio.timeout, or the kernel's ETIMEDOUT
        limit = "the connect timeout" if connect_timeout is None else f"{connect_timeout:g} s"
        via = "" if proxy is None else f" through the proxy {proxy.address}"
        raise ConnectTimeout(f"no connection to {host}:{port}{via} within {limit}") from exc
    except OSError as exc:
        reason = exc.strerror or exc
        if exc.errno == errno.EADDRNOTAVAIL:
            # connect() found no free local port (the source address itself was checked
            # by `route_from`): too many connections from too few addresses.
            to = f"{host}:{port}" if proxy is None else f"the proxy {proxy.address}"
            raise ConnectError(
                f"no local port is free for another connection to {to} ({reason}); spread "
                "the connections with --local-ips or widen net.ipv4.ip_local_port_range"
            ) from exc
        if proxy is None:
            message = f"cannot connect to {host}:{port} ({reason}); is the server running?"
        else:
            message = f"cannot connect to the proxy {proxy.address} ({reason}); is it running?"
        raise ConnectError(message) from exc
    return connection


async def _tcp(
    factory: Callable[[], Connection],
    host: str,
    port: int,
    source: SourceAddresses | None,
    context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> Connection:
    """A connection over TCP to `host:port` (TLS with `context`), from the next address of
    `source` when given (`--local-ips`)."""
    loop = asyncio.get_running_loop()
    hostname = server_hostname if context is not None else None
    if source is None:
        _, connection = await loop.create_connection(
            factory, host, port, ssl=context, server_hostname=hostname
        )
        return connection
    address, local = await route_from(source, host, port)
    _, connection = await loop.create_connection(
        factory, address, port, local_addr=(local, 0), ssl=context, server_hostname=hostname
    )
    return connection


async def _tunnelled(
    proxy: Proxy,
    host: str,
    port: int,
    context: ssl.SSLContext,
    max_header_bytes: int,
    source: SourceAddresses | None,
) -> Connection:
    """A TLS connection to `host:port` inside a CONNECT tunnel through `proxy` (from the next
    address of `source` when given)."""
    loop = asyncio.get_running_loop()
    if source is None:
        transport = await open_tunnel(proxy, host, port)
    else:
        transport = await open_tunnel(
            proxy, host, port, await route_from(source, proxy.host, proxy.port)
        )
    connection = Connection(loop, max_header_bytes)
    try:
        secure = await loop.start_tls(transport, connection, context, server_hostname=host)
    except BaseException:
        transport.close()
        raise
    if secure is None:  # typeshed allows it; only a transport already closing gives it
        raise ConnectError(f"the tunnel to {host}:{port} through {proxy.address} closed")
    # start_tls hands the new transport back instead of calling connection_made.
    connection.connection_made(secure)
    return connection
