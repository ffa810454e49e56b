"""One HTTP/1.1 connection: an asyncio Protocol that drives the sans-IO ResponseReader.

An `asyncio.Protocol` rather than streams: the loop calls `data_received` directly with
each chunk, with no StreamReader buffer and no extra coroutine hop per read (streams cost
several microseconds more per request on uvloop). One request is in flight at a time; its
result is a future that `data_received` resolves when the reader says the response is
complete.

Errors are translated here, at the boundary, into the loadhopper family: OSError and
ssl errors never leak past this module.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from typing import cast

from loadhopper._exceptions import (
    ConnectError,
    ConnectTimeout,
    NameResolutionError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    RequestError,
    TLSError,
)
from loadhopper.http._protocol import DEFAULT_MAX_HEADER_BYTES, RawResponse, ResponseReader

__all__ = ["Connection", "open_connection", "ssl_context"]


class Connection(asyncio.Protocol):
    """A keep-alive connection carrying one request at a time.

    Attributes:
        closed: the connection can carry no further request (peer closed, error, or the last
            response said `Connection: close`).
        responses: how many complete responses it has delivered; a connection with
            `responses > 0` is a reused one, so a failure before the first byte of the next
            response may just mean the server dropped it while idle.
        generation: the pool's generation when it was opened (see ConnectionPool.close).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, max_header_bytes: int) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._reader = ResponseReader(max_header_bytes)
        self._waiter: asyncio.Future[RawResponse] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.responses = 0
        self.generation = 0  # set by the pool that opened it

    @property
    def received_any(self) -> bool:
        """Whether any byte of the current response has arrived."""
        return self._reader.started

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports do not subclass asyncio's.
        self._transport = cast(asyncio.Transport, transport)

    def send(
        self, data: bytes, head: bool, read_timeout: float | None
    ) -> asyncio.Future[RawResponse]:
        """Write one request; the future resolves with its response or a RequestError.

        Raises:
            ReadError: the connection is already closed (nothing was sent).
        """
        self._reader.start(head)
        transport = self._transport
        try:
            if transport is None or transport.is_closing():
                raise RuntimeError("closed")
            transport.write(data)
        except RuntimeError as exc:
            # Closed under us: the peer's FIN not yet seen, or the connection's event loop is
            # gone (uvloop raises RuntimeError for a closed handle).
            self.closed = True
            raise ReadError("the connection closed before the request could be sent") from exc
        waiter = self._loop.create_future()
        self._waiter = waiter
        if read_timeout is not None:
            self._timer = self._loop.call_later(read_timeout, self._on_read_timeout, read_timeout)
        return waiter

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None:
            # Bytes nobody asked for: the connection is out of step and cannot be reused.
            self.close()
            return
        try:
            response = self._reader.feed(data)
        except RemoteProtocolError as exc:
            self._finish(exc)
            self.close()
            return
        if response is not None:
            self.responses += 1
            if not response.keep_alive:
                self.close()
            self._finish(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is None:
            return
        if exc is not None:
            self._finish(ReadError(f"the connection was reset while awaiting the response ({exc})"))
            return
        try:
            self._finish(self._reader.feed_eof())
        except RemoteProtocolError as error:
            self._finish(error)

    def _on_read_timeout(self, seconds: float) -> None:
        self._timer = None
        self._finish(ReadTimeout(f"no response within the read timeout of {seconds:g} s"))
        self.close()

    def _finish(self, outcome: RawResponse | RequestError) -> None:
        waiter, self._waiter = self._waiter, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if waiter is None or waiter.done():
            return
        if isinstance(outcome, RequestError):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)

    def close(self) -> None:
        """Close the connection now (idempotent)."""
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Drop the connection without flushing, e.g. when its request was cancelled."""
        self.closed = True
        self._waiter = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.abort()


@functools.lru_cache(maxsize=16)
def ssl_context(verify: bool | str) -> ssl.SSLContext:
    """The TLS context for a `verify` setting, shared by every session that uses it.

    `True` verifies against the system's CAs, a string is a CA bundle path (as requests
    takes it), `False` turns verification off. Built once: loading the system CAs takes
    milliseconds, and 10,000 users must not each pay that.
    """
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif verify is True:
        context = ssl.create_default_context()
    else:
        try:
            context = ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as exc:
            raise TLSError(
                f"cannot load the CA bundle {verify!r} ({exc}); pass the path of a PEM file"
            ) from exc
    context.set_alpn_protocols(["http/1.1"])
    return context


async def open_connection(
    scheme: str,
    host: str,
    port: int,
    verify: bool | str,
    connect_timeout: float | None,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
) -> Connection:
    """Open a connection to `host:port` (TLS when `scheme` is "https").

    Raises:
        NameResolutionError, ConnectError, TLSError, ConnectTimeout: as their names say.
    """
    loop = asyncio.get_running_loop()
    context = ssl_context(verify) if scheme == "https" else None
    try:
        async with asyncio.timeout(connect_timeout):
            _, connection = await loop.create_connection(
                lambda: Connection(loop, max_header_bytes),
                host,
                port,
                ssl=context,
                server_hostname=host if context is not None else None,
            )
    except socket.gaierror as exc:
        raise NameResolutionError(
            f"the host name {host!r} does not resolve ({exc.strerror}); check the host"
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
        raise ConnectTimeout(f"no connection to {host}:{port} within {limit}") from exc
    except OSError as exc:
        raise ConnectError(
            f"cannot connect to {host}:{port} ({exc.strerror or exc}); is the server running?"
        ) from exc
    return connection
