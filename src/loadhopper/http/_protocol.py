"""HTTP/1.1 without I/O: a response reader on httptools and a request serializer.

Theory of operation. `ResponseReader` is fed the bytes of one response in whatever pieces the
network delivers (`feed`), and the end of the stream when the peer closes (`feed_eof`). It
returns a `RawResponse` once the response is complete, `None` while more bytes are needed,
and raises `RemoteProtocolError` when the bytes cannot be a valid response. It owns no socket
and reads no clock, so every framing rule is tested with scripted bytes.

llhttp (inside httptools) does the byte-level work: status line, headers, Content-Length and
chunked framing (extensions and trailers included), and the rule that 1xx, 204 and 304
responses have no body. On top of it this module adds what a parser cannot know alone:

* A response to HEAD has no body whatever its headers say. llhttp does not know the request
  method, so the reader stops the parser at the end of the headers (by raising from the
  callback) and starts a fresh parser for the next response.
* Interim `1xx` responses (`100 Continue`) are skipped; the final response follows them.
* A body with neither Content-Length nor chunked framing ends when the server closes the
  connection (RFC 9112 §6.3 rule 8); any other close before completion is an error.
* Headers are capped (64 KiB by default, as h11 does) so that a broken server cannot make
  the client buffer without bound.
* The few headers the client itself acts on (Content-Encoding, Set-Cookie, Location) are
  picked out while parsing; all headers are kept as raw `(name, value)` bytes pairs, and the
  case-insensitive view is built only if user code asks for it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import httptools

from loadhopper._exceptions import RemoteProtocolError

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "RawResponse",
    "ResponseReader",
    "build_header_block",
    "serialize_request",
]

DEFAULT_MAX_HEADER_BYTES = 64 * 1024  # h11's default max_incomplete_event_size

RawHeaders = list[tuple[bytes, bytes]]


class RawResponse(NamedTuple):
    """One complete response, as bytes.

    A NamedTuple rather than a frozen dataclass: it is built once per request on the hot
    path, and a tuple costs a fraction of a frozen dataclass's `object.__setattr__` calls.
    """

    status: int
    reason: bytes
    headers: RawHeaders
    body: bytes
    keep_alive: bool
    content_encoding: bytes | None  # lower-cased, e.g. b"gzip"
    set_cookies: list[bytes] | None
    location: bytes | None


# tuple.__new__ skips NamedTuple's Python-level __new__: 0.2 µs instead of 0.5 µs per response.
_new_raw = tuple.__new__


# What a finished reader holds until `start()`: nothing (see `feed`). A tuple, so that a
# callback arriving out of turn fails loudly instead of appending to a shared object.
_RELEASED: Any = ()


class _StopAtHeaders(Exception):
    """Raised from `on_headers_complete` to end a HEAD response before llhttp expects a body."""


class ResponseReader:
    """Parses one response at a time from the bytes of a keep-alive connection.

    Call `start(head=...)` before each request's response, then `feed` every chunk received
    and `feed_eof` when the peer closes. One reader serves a connection for its whole life.

    This class runs for every response, so its callbacks do the least they can: no
    `on_message_begin`, no per-header byte count (the header limit is checked against the
    bytes fed, and headers are summed only when that bound is exceeded).
    """

    __slots__ = (
        "_body",
        "_complete",
        "_content_encoding",
        "_head",
        "_headers",
        "_headers_done",
        "_keep_alive",
        "_location",
        "_max_header_bytes",
        "_parser",
        "_pending",
        "_reason",
        "_set_cookies",
        "_status",
        "started",
        "trailing_garbage",
    )

    def __init__(self, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> None:
        self._max_header_bytes = max_header_bytes
        self._parser = httptools.HttpResponseParser(self)
        self.trailing_garbage = False  # bytes arrived after a complete response
        self._content_encoding: bytes | None = None
        self._set_cookies: list[bytes] | None = None
        self._location: bytes | None = None
        self._status = 0
        self._keep_alive = False
        self.start(False)

    def start(self, head: bool = False) -> None:
        """Prepare for the response to the next request; `head` if that request is a HEAD."""
        self._head = head
        self.started = False  # whether any byte of this response arrived
        self._complete = False
        self._headers_done = False
        self._headers: RawHeaders = []
        self._body: list[bytes] = []
        self._reason = b""
        self._pending = 0  # bytes fed while the headers were incomplete
        if self._location is not None or self._set_cookies is not None:
            self._set_cookies = self._location = None
        self._content_encoding = None

    def _restart_after_interim(self) -> None:
        head, started = self._head, self.started
        self.start(head)
        self.started = started

    # --- httptools callbacks (called from inside feed_data) -------------------------------

    def on_status(self, reason: bytes) -> None:
        self._reason = reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._headers_done:
            return  # a chunked trailer: allowed, and ignored as requests does
        self._headers.append((name, value))
        # Only three headers matter to the client itself; the length test skips the rest
        # without lower-casing them (Location=8, Set-Cookie=10, Content-Encoding=16).
        size = len(name)
        if size == 10 or size == 16 or size == 8:
            lname = name.lower()
            if lname == b"set-cookie":
                if self._set_cookies is None:
                    self._set_cookies = [value]
                else:
                    self._set_cookies.append(value)
            elif lname == b"content-encoding":
                self._content_encoding = value.strip().lower()
            elif lname == b"location":
                self._location = value

    def on_headers_complete(self) -> None:
        if self._complete:
            # A second response with no request for it: the connection is out of step.
            self.trailing_garbage = True
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            return  # interim response: on_message_complete skips it
        self._headers_done = True
        self._status = status
        if self._head:
            self._keep_alive = self._parser.should_keep_alive()
            self._complete = True
            raise _StopAtHeaders

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if not self._headers_done:  # the end of an interim 1xx response
            if self._parser.get_status_code() == 101:
                raise RemoteProtocolError(
                    "the server switched protocols (101), which this HTTP/1.1 client cannot follow"
                )
            self._restart_after_interim()
            return
        self._keep_alive = self._parser.should_keep_alive()
        self._complete = True

    # --- feeding -----------------------------------------------------------------------------

    def feed(self, data: bytes) -> RawResponse | None:
        """Feed received bytes; return the response once it is complete, else `None`.

        Raises:
            RemoteProtocolError: the bytes are not a valid HTTP/1.1 response.
        """
        self.started = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _StopAtHeaders):
                # The parser stopped mid-message on purpose: a new one for the next response.
                self._parser = httptools.HttpResponseParser(self)
            elif isinstance(cause, RemoteProtocolError):
                raise cause from None
            else:
                raise RemoteProtocolError(f"the response could not be parsed ({cause})") from exc
        except httptools.HttpParserInvalidStatusError as exc:
            raise RemoteProtocolError("the server sent a malformed status line") from exc
        except httptools.HttpParserError as exc:
            raise RemoteProtocolError(f"the server sent a malformed response ({exc})") from exc
        if self._pending or not self._headers_done or len(data) > self._max_header_bytes:
            self._check_header_size(len(data))
        if self._complete:
            body = self._body
            raw = _new_raw(
                RawResponse,
                (
                    self._status,
                    self._reason,
                    self._headers,
                    body[0] if len(body) == 1 else b"".join(body),
                    self._keep_alive and not self.trailing_garbage,
                    self._content_encoding,
                    self._set_cookies,
                    self._location,
                ),
            )
            # Let go of the response: a keep-alive connection can sit idle for seconds, and
            # ten thousand of them holding their last headers and body add up. `start()`
            # makes new lists before the next response can arrive.
            self._headers = self._body = _RELEASED
            return raw
        return None

    def _check_header_size(self, fed: int) -> None:
        """Enforce the header limit; the cheap bound (bytes fed) first, the exact sum if needed."""
        if self._headers_done:
            if self._pending + fed <= self._max_header_bytes:
                self._pending = 0
                return
            size = sum(len(n) + len(v) + 4 for n, v in self._headers) + len(self._reason)
            self._pending = 0
        else:
            self._pending += fed
            size = self._pending
        if size > self._max_header_bytes:
            raise RemoteProtocolError(
                f"the response headers exceed {self._max_header_bytes} bytes; "
                "the server is sending too much header data"
            )

    def feed_eof(self) -> RawResponse:
        """Signal that the peer closed the connection; return the response it completed.

        Raises:
            RemoteProtocolError: no response, or only part of one, had arrived.
        """
        if not self.started:
            raise RemoteProtocolError("the server closed the connection without sending a response")
        if not self._complete:
            if not (self._headers_done and self._is_close_delimited()):
                raise RemoteProtocolError(
                    "the server closed the connection before the response was complete"
                )
            self._complete = True
        body = self._body
        return RawResponse(
            self._status,
            self._reason,
            self._headers,
            b"".join(body),
            False,
            self._content_encoding,
            self._set_cookies,
            self._location,
        )

    def _is_close_delimited(self) -> bool:
        status = self._status
        if self._head or status == 204 or status == 304:
            return False
        for name, _ in self._headers:
            lname = name.lower()
            if lname == b"content-length" or lname == b"transfer-encoding":
                return False
        return True


def build_header_block(headers: list[tuple[str, str]]) -> bytes:
    """Serialize header lines once (`Name: value\\r\\n` each), to be reused on every request.

    Raises:
        ValueError: a name or value contains a line break or a NUL, which would let it inject
            headers of its own.
    """
    parts = []
    for name, value in headers:
        if _has_forbidden(name) or _has_forbidden(value) or ":" in name or not name:
            raise ValueError(f"the header {name!r} has a line break, NUL or colon in it; remove it")
        parts.append(f"{name}: {value}\r\n")
    # Latin-1 as http.client does: header bytes outside ASCII are rare and legal as obs-text.
    return "".join(parts).encode("latin-1")


def _has_forbidden(text: str) -> bool:
    return "\r" in text or "\n" in text or "\0" in text


def serialize_request(method: bytes, target: bytes, header_block: bytes, body: bytes) -> bytes:
    """Serialize one request: request line, the prepared header block, blank line, body.

    `header_block` already holds every header line, Host and Content-Length included.
    """
    return method + b" " + target + b" HTTP/1.1\r\n" + header_block + b"\r\n" + body
