"""HTTP/1.1 without I/O: a response reader on httptools and a request serializer.

Theory of operation. `ResponseReader` is fed the bytes of one response in whatever pieces the
network delivers (`feed`), and the end of the stream when the peer closes (`feed_eof`). It
returns a `RawResponse` once the response is complete, `None` while more bytes are needed,
and raises a `RequestError` (`RemoteProtocolError`, `ResponseTooLarge`) when the bytes cannot
be a valid response or break a bound. It owns no socket and reads no clock, so every framing
rule and every bound is tested with scripted bytes.

llhttp (inside httptools) does the byte-level work: status line, headers, Content-Length and
chunked framing (extensions and trailers included), and the rule that 1xx, 204 and 304
responses have no body. On top of it this module adds what a parser cannot know alone:

* A response to HEAD has no body whatever its headers say. llhttp does not know the request
  method, so the reader stops the parser at the end of the headers (by raising from the
  callback) and starts a fresh parser for the next response.
* Interim `1xx` responses (`100 Continue`) are skipped; the final response follows them.
* A body with neither Content-Length nor chunked framing ends when the server closes the
  connection (RFC 9112 §6.3 rule 8); any other close before completion is an error.
* Bytes after a complete response (a broken server's stray output) do not fail it: the
  response is returned, and marked not reusable (`keep_alive` False, `trailing_garbage`),
  as requests and Locust treat it. `on_message_begin` is how the reader sees them: llhttp
  calls it at the first byte of a new message (it skips bare CRLFs, which are harmless).
* Every bound is enforced while parsing (in the callbacks, or once per feed), so that a
  hostile server cannot make the client hold more than the bound plus one network read:
  - header bytes (64 KiB by default, as h11) and header count (`MAX_HEADERS`);
  - body bytes (`max_body`, from `BodyLimits.max_body_size`): a Content-Length over it fails
    at the headers, before any body byte is read, and a chunked or close-delimited body
    fails in the feed that takes it past the bound;
  - chunk framing and trailers without body data (an endless chunk extension or trailer).
* In stream mode (`start_stream(head, chunks)`) the response is returned as soon as its
  headers are complete, with an empty body; body pieces go into the caller's `chunks` as
  they are parsed, and `complete` tells when the message has ended.
* A whole response that arrives in one read, framed by a Content-Length (nearly every
  response of a load test), is read in one call by the C fast path (`_speedups.c`), with no
  parser callbacks into Python; it declines anything else, and llhttp reads the same bytes.
  Without a compiler, or with LOADHOPPER_PURE_PYTHON=1, llhttp reads every response.
* The few headers the client itself acts on (Content-Encoding, Set-Cookie, Location,
  Content-Length) are picked out while parsing; all headers are kept as raw `(name, value)`
  bytes pairs, and the case-insensitive view is built only if user code asks for it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, MutableSequence
from typing import Any, NamedTuple, NoReturn

import httptools

from loadhopper._exceptions import RemoteProtocolError, RequestError, ResponseTooLarge
from loadhopper.http._limits import DEFAULT_MAX_BODY_SIZE

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "MAX_HEADERS",
    "NO_BODY_LIMIT",
    "RawResponse",
    "ResponseReader",
    "body_too_large",
    "build_header_block",
    "serialize_request",
]

DEFAULT_MAX_HEADER_BYTES = 64 * 1024  # h11's default max_incomplete_event_size

MAX_HEADERS = 100
"""Most header lines accepted in one response: http.client's `_MAXHEADERS`, which urllib3
(and so requests and Locust's HttpUser) inherit."""

NO_BODY_LIMIT = sys.maxsize
"""`max_body` for a streamed body: the task reads it piece by piece, so no bound applies."""

RawHeaders = list[tuple[bytes, bytes]]


class RawResponse(NamedTuple):
    """One complete response, as bytes (in stream mode: its head, with an empty body).

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

FastParse = Callable[[bytes, int, int, int], RawResponse | None]


def _load_fast_path() -> FastParse | None:
    """The C fast path's `parse_complete`, or None without it (see the module docstring)."""
    if os.environ.get("LOADHOPPER_PURE_PYTHON"):
        return None
    try:
        from loadhopper.http import _speedups
    except ImportError:  # built without a compiler: the pure-Python reader does it all
        return None
    _speedups.configure(RawResponse)
    return _speedups.parse_complete


def _decline(data: bytes, max_body: int, max_header_bytes: int, max_headers: int) -> None:
    """Without the fast path: never called, since no reader's `_fast` is ever set."""
    return None


_loaded = _load_fast_path()
_FAST = _loaded is not None
_parse_complete: FastParse = _loaded or _decline


def fast_path_enabled() -> bool:
    """Whether responses are read by the C fast path (the tests ask; the README explains)."""
    return _FAST


# What a finished reader holds until `start()`: nothing (see `feed`). A tuple, so that a
# callback arriving out of turn fails loudly instead of appending to a shared object.
_RELEASED: Any = ()

# Stream states: not streaming, streaming with the head not yet returned, head returned.
_NOT_STREAMING, _HEAD_PENDING, _HEAD_RETURNED = 0, 1, 2

# Header bytes below which neither header bound can be reached: a header line is at least
# 4 bytes ("a:" and CRLF), so MAX_HEADERS + 1 lines need more, and the byte bound is far off.
_SMALL_HEAD = 4 * MAX_HEADERS

# The lengths of the header names the reader picks out: Location, Set-Cookie,
# Content-Length, Content-Encoding.
_PICKED_SIZES = frozenset((8, 10, 14, 16))


class _StopAtHeaders(Exception):
    """Raised from `on_headers_complete` to end a HEAD response before llhttp expects a body."""


class _StrayBytes(Exception):
    """Raised from `on_message_begin` when a message starts after the complete response."""


def body_too_large(limit: int) -> ResponseTooLarge:
    """The failure for a body over `max_body_size`: one message per bound, so it groups."""
    return ResponseTooLarge(
        f"the response body is larger than {limit} bytes (max_body_size); raise it with "
        "--max-body-size or max_body_size on the User class, or pass stream=True"
    )


def _too_many_headers() -> RemoteProtocolError:
    return RemoteProtocolError(
        f"the response has more than {MAX_HEADERS} header lines, which is more than "
        "http.client accepts; the server is sending too many headers"
    )


class ResponseReader:
    """Parses one response at a time from the bytes of a keep-alive connection.

    Call `start(head=...)` before each request's response, then `feed` every chunk received
    and `feed_eof` when the peer closes. One reader serves a connection for its whole life.

    This class runs for every response, so its callbacks do the least they can, and each
    bound is paid for only where it can be reached. Before parsing a feed, `feed` looks at
    how many bytes it could bring:

    * with the bytes before it, at most `_small_feed` (`_SMALL_HEAD`, 400, or less under a
      tiny body bound): no bound can be reached (a header line takes at least 4 bytes, so
      there is no room for `MAX_HEADERS` of them, the header byte bound is far off, and the
      body cannot pass its bound), so nothing is counted: `_watch` is 0, and the body is
      not measured. Nearly every small response is read this way;
    * more: `_watch` counts down the header lines still allowed (a decrement per header),
      and the body pieces are measured once the feed is parsed (`_count_body`);
    * more than the header byte bound: every header also goes through `_check_header`,
      which adds up its bytes (`_exact`); only then could they pass the bound in one feed.

    After the headers `_watch` is -1, so trailers take the slow path and are ignored, and
    every later feed is measured.
    """

    __slots__ = (
        "_body",
        "_body_counted",
        "_complete",
        "_content_encoding",
        "_exact",
        "_fast",
        "_framing",
        "_head",
        "_header_bytes",
        "_headers",
        "_headers_done",
        "_keep_alive",
        "_location",
        "_max_body",
        "_max_digits",
        "_max_header_bytes",
        "_parser",
        "_pending",
        "_pieces_counted",
        "_reason",
        "_set_cookies",
        "_small_feed",
        "_status",
        "_stream",
        "_watch",
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
        self._exact = False
        self._header_bytes = 0
        self._framing = 0
        self._pieces_counted = 0
        self._max_body = self._max_digits = self._small_feed = -1
        self._reset()
        self.start(False)

    def start(self, head: bool = False, max_body: int = DEFAULT_MAX_BODY_SIZE) -> None:
        """Prepare for the response to the next request.

        Args:
            head: the request is a HEAD (its response has no body).
            max_body: the most body bytes accepted (`ResponseTooLarge` beyond).

        A reader that saw stray bytes after a response (`trailing_garbage`) keeps saying so:
        its connection is out of step and must not carry another request.
        """
        self._head = head
        if max_body != self._max_body:
            self._max_body = max_body
            self._max_digits = len(str(max_body)) - 1  # 10**digits <= max_body
            # A feed this small, with nothing before it, can pass neither a header bound
            # nor the body bound, so `feed` need not count anything (see `_SMALL_HEAD`).
            self._small_feed = min(_SMALL_HEAD, max_body)
        self.started = False  # whether any byte of this response arrived
        self._complete = False
        if _FAST and not head:
            # The next feed goes to the C fast path first (not for HEAD: no body). The
            # fields llhttp's path needs are reset only if it declines (`_reset`).
            self._fast = True
        else:
            self._fast = False
            self._reset()

    def _reset(self) -> None:
        """The rest of `start`, for the llhttp path."""
        self._headers_done = False
        self._headers: RawHeaders = []
        self._body: MutableSequence[bytes] = []
        self._reason = b""
        self._pending = 0  # bytes fed while the headers were incomplete
        self._watch = 0
        self._body_counted = 0  # body bytes of earlier feeds (see `_count_body`)
        self._stream = _NOT_STREAMING
        if self._location is not None or self._set_cookies is not None:
            self._set_cookies = self._location = None
        self._content_encoding = None

    def _without_fast_path(self) -> None:
        """After `start`: this response is read by llhttp whatever its bytes."""
        if self._fast:
            self._fast = False
            self._reset()

    def start_stream(self, head: bool, chunks: MutableSequence[bytes]) -> None:
        """Prepare for a streamed response: `feed` returns it at the end of its headers,
        with an empty body, and appends the body pieces to `chunks` as they are parsed
        (see `complete`; the returned head's `keep_alive` is final only if the message was
        already complete). A streamed body has no bound: the reader of `chunks` decides.
        """
        self.start(head, NO_BODY_LIMIT)
        self._without_fast_path()
        self._body = chunks
        self._stream = _HEAD_PENDING

    @property
    def complete(self) -> bool:
        """Whether the current response has ended (in stream mode: its body too)."""
        return self._complete

    @property
    def keep_alive(self) -> bool:
        """Whether the connection may carry another request after the complete response."""
        return self._keep_alive and not self.trailing_garbage

    def _restart_after_interim(self) -> None:
        head, started, body, watch = self._head, self.started, self._body, self._watch
        if self._stream:
            self.start_stream(head, body)
        else:
            self.start(head, self._max_body)
            self._without_fast_path()  # the final response follows in the same bytes
        self.started = started
        if self._exact:
            self._watch = watch  # still inside a large feed: keep counting header bytes
        elif watch:
            self._watch = MAX_HEADERS

    # --- httptools callbacks (called from inside feed_data) -------------------------------

    def on_message_begin(self) -> None:
        if self._complete:
            # A new message after the complete response, with no request for it: a broken
            # server's stray bytes. The response stands; the connection is out of step.
            self.trailing_garbage = True
            raise _StrayBytes

    def on_status(self, reason: bytes) -> None:
        if self._reason:  # llhttp hands the reason over in pieces when it spans two reads
            reason = self._reason + reason
        self._reason = reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._watch:  # see the class docstring: 0 for nearly every response
            watch = self._watch
            if watch > 0:
                self._watch = (watch - 1) or -1  # the last line allowed: the next one checks
            elif self._check_header(name, value):
                return
        self._headers.append((name, value))
        # Only four headers matter to the client itself; the length test skips the rest
        # without lower-casing them (a set test costs less than a chain of comparisons).
        size = len(name)
        if size in _PICKED_SIZES:
            if size == 14:
                # Content-Length: its value only matters when it has many digits.
                if len(value) > self._max_digits:
                    self._check_length(name, value)
                return
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

    def _check_header(self, name: bytes, value: bytes) -> bool:
        """The slow path of `on_header`; returns True for a trailer (to be ignored).

        Raises:
            RemoteProtocolError: one header line too many, or too many header bytes.
        """
        if self._headers_done:
            return True  # a chunked trailer: allowed, and ignored as requests does
        if len(self._headers) >= MAX_HEADERS:
            raise _too_many_headers()
        if self._exact:
            size = self._header_bytes + len(name) + len(value) + 4  # ": " and CRLF
            if size > self._max_header_bytes:
                raise self._headers_too_large()
            self._header_bytes = size
        return False

    def _check_length(self, name: bytes, value: bytes) -> None:
        """A Content-Length with as many digits as the body bound: fail now if it is over."""
        if name.lower() != b"content-length" or self._head:
            return
        status = self._parser.get_status_code()
        # llhttp has already checked that the value is a number; 1xx, 204, 304: no body.
        if status >= 200 and status != 204 and status != 304 and int(value) > self._max_body:
            raise body_too_large(self._max_body)

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            return  # interim response: on_message_complete skips it
        self._headers_done = True
        self._watch = -1  # from now on on_header sees trailers
        self._status = status
        if self._head:
            self._keep_alive = self._parser.should_keep_alive()
            self._complete = True
            raise _StopAtHeaders

    def on_body(self, body: bytes) -> None:
        # Counted against max_body by `feed`, once per feed rather than once per piece.
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

        In stream mode the response is returned once, when its headers are complete; later
        calls return `None` and add body pieces to the stream container.

        Raises:
            RemoteProtocolError: the bytes are not a valid HTTP/1.1 response.
            ResponseTooLarge: the body is larger than `max_body`.
        """
        if self._fast:  # the first bytes of a response: perhaps all of it, plainly framed
            self._fast = False
            raw = _parse_complete(data, self._max_body, self._max_header_bytes, MAX_HEADERS)
            if raw is not None:
                self.started = self._complete = True
                self._keep_alive = raw.keep_alive
                return raw
            self._reset()
        self.started = True
        size = len(data)
        # -1: nothing to count in this feed (nearly always); -2: count the body at the
        # end; >= 0: the pieces before it, for the framing bound too.
        if self._headers_done:
            pieces_before = len(self._body)
        elif self._pending + size > self._small_feed:
            pieces_before = -2
            self._watch_headers(size)
        else:
            pieces_before = -1
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            error = self._parse_error(exc)
            if error is not None:
                self._fail(error)
        if self._exact:
            self._end_exact()
        if self._complete:
            if self._stream:
                return self._stream_head()
            body = self._body
            if pieces_before != -1:
                self._count_body()  # this feed may have carried the body past the bound
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
        if not self._headers_done:
            pending = self._pending + size
            if pending > self._max_header_bytes:
                self._fail(self._headers_too_large())
            self._pending = pending
            return None
        if not self._stream:
            self._count_body()
        if pieces_before < 0:
            self._framing = 0  # the headers ended in this feed: framing is counted from here
        elif len(self._body) == pieces_before:
            self._count_framing(size)
        else:
            self._framing = 0
        return self._stream_head() if self._stream else None

    def _parse_error(self, exc: httptools.HttpParserError) -> RequestError | None:
        """The error to raise for what httptools raised, or None for a deliberate stop."""
        if isinstance(exc, httptools.HttpParserCallbackError):
            cause = exc.__context__
            exc.__context__ = None  # httptools links the two both ways: break the cycle
            if isinstance(cause, _StopAtHeaders | _StrayBytes):
                # The parser stopped mid-message on purpose: a new one for the next response.
                self._parser = httptools.HttpResponseParser(self)
                return None
            if isinstance(cause, RequestError):
                cause.__context__ = None
                return cause
            return RemoteProtocolError(f"the response could not be parsed ({cause})")
        if isinstance(exc, httptools.HttpParserInvalidStatusError):
            return RemoteProtocolError("the server sent a malformed status line")
        return RemoteProtocolError(f"the server sent a malformed response ({exc})")

    def _fail(self, error: RequestError) -> NoReturn:
        """Raise `error`, letting go of the body first.

        The error's traceback holds this reader's frames, and the failed sample may keep
        the error for a while: it must not keep a body of up to max_body_size with it.
        """
        if not self._stream:
            body = self._body
            if body is not _RELEASED:
                body.clear()  # emptied in place: whatever holds the list holds nothing
        raise error

    def _count_body(self) -> None:
        """Add the body pieces of this feed to the count; past `max_body`, fail.

        Once per feed, not per piece: a single feed can overshoot the bound by at most its
        own size (one socket read) before the response fails. In stream mode there is no
        bound and nothing to count.
        """
        body = self._body
        counted = self._body_counted
        # `_pieces_counted` belongs to an earlier response until this one's first count.
        for index in range(self._pieces_counted if counted else 0, len(body)):
            counted += len(body[index])
        if counted > self._max_body:
            self._fail(body_too_large(self._max_body))
        self._body_counted = counted
        self._pieces_counted = len(body)

    def _watch_headers(self, size: int) -> None:
        """Before a feed after which more than `_SMALL_HEAD` header bytes could be in hand."""
        if self._pending + size > self._max_header_bytes:
            self._exact = True
            self._header_bytes = self._pending
            self._watch = -1
        elif not self._watch:
            self._watch = MAX_HEADERS - len(self._headers) or -1

    def _end_exact(self) -> None:
        self._exact = False
        # The status line is counted here: llhttp hands it over whole or in pieces.
        if self._header_bytes + len(self._reason) > self._max_header_bytes:
            raise self._headers_too_large()
        if not self._headers_done:
            self._watch = MAX_HEADERS - len(self._headers) or -1

    def _count_framing(self, size: int) -> None:
        """Bound the bytes that carry no body data: chunk framing, extensions, trailers.

        llhttp skips chunk extensions without holding them, but httptools gathers each
        trailer line in memory, so an endless trailer must be cut off here.
        """
        framing = self._framing + size
        if framing > self._max_header_bytes:
            self._fail(
                RemoteProtocolError(
                    f"the response sent more than {self._max_header_bytes} bytes of chunk "
                    "framing or trailers without body data; the server is misbehaving"
                )
            )
        self._framing = framing

    def _stream_head(self) -> RawResponse | None:
        if self._stream == _HEAD_RETURNED:
            return None
        self._stream = _HEAD_RETURNED
        return self._head_only(self._complete and self.keep_alive)

    def _head_only(self, keep_alive: bool) -> RawResponse:
        return RawResponse(
            self._status,
            self._reason,
            self._headers,
            b"",
            keep_alive,
            self._content_encoding,
            self._set_cookies,
            self._location,
        )

    def _headers_too_large(self) -> RemoteProtocolError:
        return RemoteProtocolError(
            f"the response headers exceed {self._max_header_bytes} bytes; "
            "the server is sending too much header data"
        )

    def feed_eof(self) -> RawResponse:
        """Signal that the peer closed the connection; return the response it completed.

        In stream mode the body stays in the stream container (the returned body is empty).

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
        self._keep_alive = False
        if self._stream:
            return self._head_only(False)
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
