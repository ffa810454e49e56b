"""The Response object user code reads: requests' names, built cheaply.

Everything a task rarely reads (the header mapping, the reason string, `elapsed` as a
timedelta, the text) is computed on first access from what the protocol layer produced.
"""

from __future__ import annotations

import datetime
import json as jsonlib
import zlib
from types import TracebackType
from typing import Any

from loadhopper._exceptions import HTTPError, LocustError, RemoteProtocolError, RequestError
from loadhopper.http._headers import Headers

__all__ = ["Response", "decode_body"]

_EMPTY_HEADERS: list[tuple[bytes, bytes]] = []


class Response:
    """The response to one request (after redirects), or the stand-in when none arrived.

    When no response arrived (refused connection, timeout, name that does not resolve...),
    `status_code` is 0, `content` is empty and `error` holds the exception, so that task code
    that reads `resp.text` keeps working and the failure is recorded, as in Locust.

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
        "content",
        "error",
        "history",
        "request_method",
        "status_code",
        "url",
    )

    def __init__(
        self,
        status_code: int,
        reason: bytes,
        raw_headers: list[tuple[bytes, bytes]],
        content: bytes,
        url: str,
        elapsed: float,
        request_method: str,
        error: RequestError | None = None,
    ) -> None:
        self.status_code = status_code
        self._reason = reason
        self._raw_headers = raw_headers
        self._headers: Headers | None = None
        self.content = content
        self.url = url
        self._elapsed = elapsed
        self.request_method = request_method
        self.error = error
        self.history: list[Response] = []
        self._cookies: dict[str, str] | None = None
        self._encoding: str | None = None

    @classmethod
    def failed(cls, method: str, url: str, error: RequestError, elapsed: float) -> Response:
        """The stand-in Response for a request that got no response."""
        return cls(0, b"", _EMPTY_HEADERS, b"", url, elapsed, method, error)

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
    # locustfile does this); Locust raises there, but nothing needs to happen at exit.
    def __enter__(self) -> Response:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        if self.error is not None:
            return f"<Response [0] {type(self.error).__name__}>"
        return f"<Response [{self.status_code}]>"


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


def decode_body(body: bytes, encoding: bytes) -> bytes:
    """Undo a Content-Encoding of gzip or deflate; other codings are left as they are.

    Raises:
        RemoteProtocolError: the body is not valid data for its declared coding.
    """
    try:
        if encoding == b"gzip" or encoding == b"x-gzip":
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if encoding == b"deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                # Some servers send raw deflate without the zlib wrapper (RFC 9110 §8.4.1.2).
                return zlib.decompress(body, -zlib.MAX_WBITS)
    except zlib.error as exc:
        coding = encoding.decode("latin-1")
        raise RemoteProtocolError(f"the response body is not valid {coding} data ({exc})") from exc
    return body
