"""The Response object user code reads: requests' names, built cheaply.

Everything a task rarely reads (the header mapping, the reason string, `elapsed` as a
timedelta, the text) is computed on first access from what the protocol layer produced.

`iter_content` and its kin read the body here through `_pieces` / `_apieces`, which slice
`content`; a `stream=True` response is a `_streamed.StreamedResponse`, which overrides them
to read from the network. Streaming lives in that subclass so that an ordinary Response
keeps `content` a plain slot: a `__getattr__` or a property here would slow every attribute
read of every response (CPython does not specialize attribute access on such a class).
"""

from __future__ import annotations

import codecs
import datetime
import json as jsonlib
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any, Literal, overload

from loadhopper._exceptions import HTTPError, LocustError, RequestError
from loadhopper.http._headers import Headers
from loadhopper.http._prepared import PreparedRequest, from_wire
from loadhopper.http._protocol import body_too_large

__all__ = ["STRICT_WITH_MESSAGE", "Response", "StrictResponse"]

_EMPTY_HEADERS: list[tuple[bytes, bytes]] = []


class Response:
    """The response to one request (after redirects), or the stand-in when none arrived.

    When no response arrived (refused connection, timeout, name that does not resolve...),
    `status_code` is 0, `content` is empty and `error` holds the exception, so that task code
    that reads `resp.text` keeps working and the failure is recorded, as in Locust.

    With `stream=True` the body is read only when asked: `iter_content()`, `iter_lines()`,
    `content` (the rest of it, within max_body_size), or their `aiter_...`/`aread()` twins
    in `async def` tasks; `close()` drops an unread body. Reading raises the
    `RequestError` that stopped it (the sample was recorded when the headers came). On any
    other response these read `content`.

    Attributes:
        status_code: the HTTP status, or 0 when no response arrived.
        content: the body, already decoded from gzip or deflate.
        url: the final URL, after redirects.
        history: the redirect responses that led here, oldest first.
        error: the exception when the request failed without a response, else None.
        encoding: the charset used by `text`; settable, as in requests.
    """

    __slots__ = (
        "_cookies",
        "_elapsed",
        "_encoding",
        "_headers",
        "_raw_headers",
        "_reason",
        "_request",
        "_sent",
        "content",
        "error",
        "history",
        "status_code",
        "url",
    )

    _request: PreparedRequest  # built on first read of `request`

    def __init__(
        self,
        status_code: int,
        reason: bytes,
        raw_headers: list[tuple[bytes, bytes]],
        content: bytes,
        url: str,
        elapsed: float,
        sent: bytes,
        error: RequestError | None = None,
    ) -> None:
        self.status_code = status_code
        self._reason = reason
        self._raw_headers = raw_headers
        self._headers: Headers | None = None
        self.content = content
        self.url = url
        self._elapsed = elapsed
        # The request's bytes as sent (shared with the prepared call, not copied):
        # `request` and `request_method` are read from them only when asked for.
        self._sent = sent
        self.error = error
        self.history: list[Response] = []
        self._cookies: dict[str, str] | None = None
        self._encoding: str | None = None

    @classmethod
    def failed(cls, sent: bytes, url: str, error: RequestError, elapsed: float) -> Response:
        """The stand-in Response for a request that got no response (`sent`: its bytes)."""
        return cls(0, b"", _EMPTY_HEADERS, b"", url, elapsed, sent, error)

    @property
    def request(self) -> PreparedRequest:
        """The request this is the response to (the last one, after redirects).

        Its `method`, `url`, `headers` (as sent, Host included) and `body` (None when
        empty), as requests' PreparedRequest names them.
        """
        try:
            return self._request
        except AttributeError:
            request = self._request = from_wire(self._sent, self.url)
            return request

    @property
    def request_method(self) -> str:
        """The method of the request (the last one, after redirects)."""
        return self._sent.partition(b" ")[0].decode("ascii")

    @property
    def reason(self) -> str:
        """The reason phrase of the status line ("OK", "Not Found"), possibly empty."""
        return self._reason.decode("latin-1")

    @property
    def ok(self) -> bool:
        """True when there was a response and its status is below 400."""
        return self.error is None and 0 < self.status_code < 400

    @property
    def is_redirect(self) -> bool:
        """True for a 3xx response that carries a Location header."""
        return 300 <= self.status_code < 400 and "location" in self.headers

    @property
    def headers(self) -> Headers:
        """The headers, case-insensitive; repeated headers are joined with ", "."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers(self._raw_headers)
        return headers

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies this response set, by name."""
        return dict(self._cookies) if self._cookies else {}

    @property
    def elapsed(self) -> datetime.timedelta:
        """Time from sending the request to the end of this response."""
        return datetime.timedelta(seconds=self._elapsed)

    @property
    def encoding(self) -> str:
        """The charset `text` decodes with: Content-Type's charset, else UTF-8."""
        if self._encoding is None:
            self._encoding = _charset(self.headers.get("content-type", "")) or "utf-8"
        return self._encoding

    @encoding.setter
    def encoding(self, value: str) -> None:
        self._encoding = value

    @property
    def text(self) -> str:
        """The body as text; undecodable bytes become U+FFFD rather than an error."""
        if not self.content:
            return ""
        try:
            return self.content.decode(self.encoding, errors="replace")
        except LookupError:  # an unknown charset name from the server
            return self.content.decode("utf-8", errors="replace")

    def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON (raises `json.JSONDecodeError` when it is not JSON)."""
        return jsonlib.loads(self.content, **kwargs)

    # --- the body, piece by piece (requests' streaming API) -----------------------------------

    @overload
    def iter_content(
        self, chunk_size: int | None = 1, decode_unicode: Literal[False] = False
    ) -> Iterator[bytes]: ...

    @overload
    def iter_content(
        self, chunk_size: int | None, decode_unicode: Literal[True]
    ) -> Iterator[str]: ...

    @overload
    def iter_content(
        self, chunk_size: int | None = 1, *, decode_unicode: Literal[True]
    ) -> Iterator[str]: ...

    def iter_content(
        self, chunk_size: int | None = 1, decode_unicode: bool = False
    ) -> Iterator[bytes] | Iterator[str]:
        """The body in pieces of `chunk_size` bytes (the last may be shorter), as requests.

        `chunk_size=None` gives the pieces as they arrive. With `decode_unicode`, text
        decoded with `encoding`. A streamed body is read from the network as it goes
        (blocking: in a task; `aiter_content` in an `async def` task).
        """
        _check_chunk_size(chunk_size)
        pieces = self._pieces(chunk_size)
        return _decoded(pieces, self._text_encoding()) if decode_unicode else pieces

    def _pieces(self, chunk_size: int | None) -> Iterator[bytes]:
        return _slices(self.content, chunk_size)

    async def _apieces(self, chunk_size: int | None) -> AsyncIterator[bytes]:
        for piece in _slices(self.content, chunk_size):
            yield piece

    @overload
    def iter_lines(
        self,
        chunk_size: int | None = 512,
        decode_unicode: Literal[False] = False,
        delimiter: bytes | None = None,
    ) -> Iterator[bytes]: ...

    @overload
    def iter_lines(
        self, chunk_size: int | None, decode_unicode: Literal[True], delimiter: str | None = None
    ) -> Iterator[str]: ...

    @overload
    def iter_lines(
        self,
        chunk_size: int | None = 512,
        *,
        decode_unicode: Literal[True],
        delimiter: str | None = None,
    ) -> Iterator[str]: ...

    def iter_lines(
        self,
        chunk_size: int | None = 512,
        decode_unicode: bool = False,
        delimiter: Any = None,
    ) -> Iterator[bytes] | Iterator[str]:
        """The body line by line, as requests splits it (`splitlines`, or on `delimiter`).

        Raises:
            ResponseTooLarge: a streamed body has a line longer than max_body_size.
        """
        pieces = self.iter_content(chunk_size, decode_unicode)  # type: ignore[call-overload]
        return _lines(pieces, _LineSplitter(delimiter, self._line_limit()))

    async def aread(self) -> bytes:
        """The body (the rest of a streamed one, within max_body_size), for `async def` tasks."""
        return self.content

    def aiter_content(self, chunk_size: int | None = 1) -> AsyncIterator[bytes]:
        """`iter_content` for `async def` tasks: `async for piece in resp.aiter_content(...)`."""
        _check_chunk_size(chunk_size)
        return self._apieces(chunk_size)

    async def aiter_lines(
        self, chunk_size: int | None = 512, delimiter: bytes | None = None
    ) -> AsyncIterator[bytes]:
        """`iter_lines` for `async def` tasks (bytes lines)."""
        splitter = _LineSplitter(delimiter, self._line_limit())
        async for piece in self.aiter_content(chunk_size):
            for line in splitter.feed(piece):
                yield line
        for line in splitter.end():
            yield line

    def close(self) -> None:
        """Drop a streamed body that was not read to its end (its connection is closed)."""

    async def aclose(self) -> None:
        """`close`, for `async def` tasks."""
        self.close()

    def _line_limit(self) -> int | None:
        """How long a line may grow in `iter_lines` (a streamed body may never end)."""
        return None

    def _text_encoding(self) -> str:
        try:
            codecs.lookup(self.encoding)
        except LookupError:  # an unknown charset name from the server
            return "utf-8"
        return self.encoding

    def raise_for_status(self) -> None:
        """Raise the request's error, or `HTTPError` when the status is 400 or above."""
        if self.error is not None:
            raise self.error
        if self.status_code >= 400:
            raise status_error(self)

    # Locust's ResponseContextManager has these; on a plain response they explain the fix.
    def success(self) -> None:
        """Only valid inside `with client.get(..., catch_response=True) as resp:`."""
        raise LocustError(_NOT_CATCHING)

    def failure(self, exc: Exception | str) -> None:
        """Only valid inside `with client.get(..., catch_response=True) as resp:`."""
        raise LocustError(_NOT_CATCHING)

    # `with self.client.post(...) as resp:` works without catch_response (the seed's
    # locustfile does this); Locust raises there. At exit a streamed body is closed, as
    # requests' Response does.
    def __enter__(self) -> Response:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        if self.error is not None:
            return f"<Response [0] {type(self.error).__name__}>"
        return f"<Response [{self.status_code}]>"


STRICT_WITH_MESSAGE = (
    "In order to use a with-block for requests, you must also pass catch_response=True"
)
"""Locust's own words for a `with` block without catch_response (kept for --strict-locust)."""


class StrictResponse(Response):
    """A Response under `--strict-locust`: a `with` block without catch_response raises
    LocustError, as Locust does (the request is recorded already, as there)."""

    __slots__ = ()

    def __enter__(self) -> Response:
        raise LocustError(STRICT_WITH_MESSAGE)


_NOT_CATCHING = (
    "success() and failure() need catch_response: use "
    "`with self.client.get(url, catch_response=True) as resp:` and call them inside the block"
)


def status_error(response: Response) -> HTTPError:
    """The HTTPError for a status >= 400: only status and reason, so failures group by name."""
    reason = response.reason
    message = f"{response.status_code} {reason}" if reason else str(response.status_code)
    return HTTPError(message, response)


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


def _check_chunk_size(chunk_size: int | None) -> None:
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise TypeError(f"chunk_size must be a positive int or None, not {chunk_size!r}")


def _slices(content: bytes, chunk_size: int | None) -> Iterator[bytes]:
    if chunk_size is None or chunk_size >= len(content):
        if content:
            yield content
        return
    for start in range(0, len(content), chunk_size):
        yield content[start : start + chunk_size]


def _decoded(pieces: Iterator[bytes], encoding: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    for piece in pieces:
        text = decoder.decode(piece)
        if text:
            yield text
    text = decoder.decode(b"", final=True)
    if text:
        yield text


class _LineSplitter:
    """requests' `iter_lines` algorithm, for bytes or text pieces: a line cut by a piece
    boundary is held back until the rest of it arrives (up to `limit` characters)."""

    __slots__ = ("_delimiter", "_limit", "_pending")

    def __init__(self, delimiter: Any, limit: int | None) -> None:
        self._delimiter = delimiter
        self._limit = limit
        self._pending: Any = None

    def feed(self, piece: Any) -> list[Any]:
        if self._pending is not None:
            piece = self._pending + piece
        lines = piece.split(self._delimiter) if self._delimiter else piece.splitlines()
        if lines and lines[-1] and piece and lines[-1][-1] == piece[-1]:
            self._pending = lines.pop()
            if self._limit is not None and len(self._pending) > self._limit:
                raise body_too_large(self._limit)
        else:
            self._pending = None
        return list(lines)

    def end(self) -> list[Any]:
        pending, self._pending = self._pending, None
        return [] if pending is None else [pending]


def _lines(pieces: Iterator[Any], splitter: _LineSplitter) -> Iterator[Any]:
    for piece in pieces:
        yield from splitter.feed(piece)
    yield from splitter.end()
