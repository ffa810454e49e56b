"""HttpSession: requests' API on the loadhopper HTTP/1.1 client, one sample per call.

Theory of operation. `arequest` is the one real implementation; every blocking method is
`await_(self.arequest(...))` through the greenlet bridge, so sync and `async def` tasks share
the same code and the same numbers. A call goes:

1. resolve the URL to (origin, request target): for a plain relative path this is one string
   concatenation with the base path (`_url.BaseURL.join`);
2. serialize the request: the session's constant header lines (Host, User-Agent, Accept...)
   are serialized once per origin and reused, and only Cookie, Content-Type and
   Content-Length are added per request;
3. exchange it on an idle keep-alive connection of the pool, or a new one; a reused
   connection that fails before any byte of the response came back was most likely closed
   by the server while idle, so the request is sent once more on a fresh connection;
4. build the Response, store cookies, follow redirects;
5. hand one sample to `request_sink` (Locust's `events.request` payload, positional), or,
   with `catch_response=True`, hand the task a ResponseContextManager that records it when
   its `with` block exits.

Network failures never raise out of a request: they become a Response with status 0 and
`error` set, recorded as a failed sample, as Locust's HttpSession does. Programming errors
(a bad URL, an unsupported argument) do raise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import urljoin

from loadhopper._bridge import await_
from loadhopper._exceptions import InvalidURL, ReadTimeout, RequestError, TooManyRedirects
from loadhopper.http._body import Data, encode_body
from loadhopper.http._catch import RequestSink, ResponseContextManager
from loadhopper.http._connection import Connection
from loadhopper.http._cookies import CookieJar
from loadhopper.http._headers import MutableHeaders
from loadhopper.http._options import (
    TimeoutArg,
    split_timeout,
)
from loadhopper.http._pool import ConnectionPool, Origin
from loadhopper.http._protocol import (
    DEFAULT_MAX_HEADER_BYTES,
    RawResponse,
)
from loadhopper.http._response import Response, decode_body, status_error
from loadhopper.http._url import BaseURL, Params, ResolvedURL, add_params, parse_absolute
from loadhopper.http._verbs import RequestVerbs
from loadhopper.http._writer import RequestWriter

__all__ = ["HttpSession"]

_USER_AGENT = "loadhopper/0.1"
_REDIRECTS = frozenset((301, 302, 303, 307, 308))
_NAME_CACHE_SIZE = 10_000  # distinct request targets whose names are remembered
_NAMES: dict[tuple[Callable[[str], str], str], str] = {}

_DEFAULT_HEADERS = MutableHeaders(
    {
        "User-Agent": _USER_AGENT,
        "Accept-Encoding": "gzip, deflate",
        "Accept": "*/*",
        "Connection": "keep-alive",
    }
)
_UNSET: Any = object()


class HttpSession(RequestVerbs, RequestWriter):
    """A user's HTTP client: requests-compatible methods, keep-alive connections, cookies.

    Args:
        base_url: where relative paths go, e.g. "http://localhost:5001/"; credentials in it
            (`http://user:pw@host`) become Basic auth. May be "" if every URL is absolute.
        request_sink: called once per request with Locust's `events.request` payload.
        url_namer: turns a path with query into a stats name (e.g. "/17/delete" into
            "/[id]/delete"); None names requests by the path itself.
        verify: TLS verification: True (system CAs), False, or a CA bundle path.
        timeout: default for every request: seconds, a (connect, read) pair, or None.
        default_headers: headers sent on every request, over the built-in defaults.
        max_redirects: redirects followed before the request fails with TooManyRedirects.
        max_header_bytes: largest response header section accepted.
    """

    def __init__(
        self,
        base_url: str,
        *,
        request_sink: RequestSink,
        url_namer: Callable[[str], str] | None = None,
        verify: bool | str = True,
        timeout: TimeoutArg = None,
        default_headers: Mapping[str, str] | None = None,
        max_redirects: int = 30,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    ) -> None:
        self.request_sink = request_sink
        self.url_namer = url_namer
        self.max_redirects = max_redirects
        self.request_name: str | None = None
        self.auth: tuple[str, str] | None = None
        self.cookies = CookieJar()
        self.headers = MutableHeaders.sharing(_DEFAULT_HEADERS)
        if default_headers:
            self.headers.update(default_headers)
        self._timeouts = split_timeout(timeout)
        self._pool = ConnectionPool(verify, max_header_bytes)
        self._blocks: dict[Origin, bytes] = {}
        self._blocks_key: tuple[int, tuple[str, str] | None] = (-1, None)
        self._base: BaseURL | None = None
        self._repeat: _Repeat | None = None
        self.base_url = base_url

    @property
    def verify(self) -> bool | str:
        """TLS verification, as in requests: True, False, or a CA bundle path.

        `self.client.verify = False` in `on_start` turns verification off for this user's
        connections from then on (the requests idiom Locust's HttpUser users know).
        """
        return self._pool.verify

    @verify.setter
    def verify(self, value: bool | str) -> None:
        self._pool.verify = value

    @property
    def base_url(self) -> str:
        """The base URL; assigning a new one applies to the following requests."""
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._base_url = value or ""
        self._base = BaseURL.parse(value) if value else None
        if self._base is not None and self._base.resolved.auth is not None:
            self.auth = self._base.resolved.auth

    # --- the core ------------------------------------------------------------------------------
    # `request` and `arequest` are the same steps; `request` awaits the connection's future
    # directly through the bridge instead of running `arequest` as a coroutine, which saves two
    # coroutine frames (about 3 µs, a fifth of a request's CPU) on every blocking call.

    def request(
        self,
        method: str,
        url: str,
        *,
        name: str | None = None,
        catch_response: bool = False,
        context: dict[str, Any] | None = None,
        params: Params = None,
        data: Data = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        allow_redirects: bool = True,
        timeout: TimeoutArg = _UNSET,
    ) -> Response:
        """Send one request and record one sample; blocks the calling user's greenlet.

        Returns:
            The Response (a ResponseContextManager when `catch_response` is true). When no
            response arrived its `status_code` is 0 and `error` holds the reason.

        Raises:
            InvalidURL: the URL cannot be requested (nothing is recorded).
            BridgeError: called outside a user's greenlet (use `arequest` in async code).
        """
        method = method.upper()
        call = self._prepare(method, url, name, params, data, json, headers, cookies, auth)
        timeouts = self._timeouts if timeout is _UNSET else split_timeout(timeout)
        start_time = time.time()
        started = time.perf_counter()
        try:
            origin = call.origin
            pool = self._pool
            connection = pool.take_idle(origin)
            if connection is None:
                raw = await_(self._exchange_fresh(origin, call.wire, call.head, timeouts))
            else:
                try:
                    raw = await_(connection.send(call.wire, call.head, timeouts[1]))
                except RequestError as exc:
                    pool.discard(connection)
                    if not _retriable(connection, exc):
                        raise
                    raw = await_(self._exchange_fresh(origin, call.wire, call.head, timeouts))
                except BaseException:
                    pool.discard(connection)  # cancelled mid-request: out of step
                    raise
                else:
                    pool.release(origin, connection)
            response = self._response(raw, method, call.origin, call.target, call.url, None)
            if allow_redirects and raw.location is not None and raw.status in _REDIRECTS:
                response = await_(self._follow(response, raw, call, timeouts))
        except RequestError as exc:
            if isinstance(exc, InvalidURL):
                raise
            response = Response.failed(method, call.url, exc, time.perf_counter() - started)
        return self._record(call, response, catch_response, context, start_time, started)

    async def arequest(
        self,
        method: str,
        url: str,
        *,
        name: str | None = None,
        catch_response: bool = False,
        context: dict[str, Any] | None = None,
        params: Params = None,
        data: Data = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        allow_redirects: bool = True,
        timeout: TimeoutArg = _UNSET,
    ) -> Response:
        """The awaitable form of `request`, for `async def` tasks (same arguments and result)."""
        method = method.upper()
        call = self._prepare(method, url, name, params, data, json, headers, cookies, auth)
        timeouts = self._timeouts if timeout is _UNSET else split_timeout(timeout)
        start_time = time.time()
        started = time.perf_counter()
        try:
            raw = await self._exchange(call.origin, call.wire, call.head, timeouts)
            response = self._response(raw, method, call.origin, call.target, call.url, None)
            if allow_redirects and raw.location is not None and raw.status in _REDIRECTS:
                response = await self._follow(response, raw, call, timeouts)
        except RequestError as exc:
            if isinstance(exc, InvalidURL):
                raise
            response = Response.failed(method, call.url, exc, time.perf_counter() - started)
        return self._record(call, response, catch_response, context, start_time, started)

    def _prepare(
        self,
        method: str,
        url: str,
        name: str | None,
        params: Params,
        data: Data,
        json: Any,
        headers: Mapping[str, str] | None,
        cookies: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
    ) -> _Call:
        plain = (
            name is None
            and params is None
            and data is None
            and json is None
            and headers is None
            and cookies is None
            and auth is None
            and not self.cookies.has_cookies()
        )
        if plain:
            # A task usually repeats the request it made last time (`GET /` in a loop): if
            # nothing that goes into the request changed, the prepared call is reused as is.
            repeat = self._repeat
            if (
                repeat is not None
                and repeat.url == url
                and repeat.method == method
                and repeat.request_name is self.request_name
                and repeat.headers is self.headers
                and repeat.version == self.headers.version
                and repeat.auth is self.auth
                and repeat.base is self._base
                and repeat.url_namer is self.url_namer
            ):
                return repeat.call
        call = self._prepare_anew(method, url, name, params, data, json, headers, cookies, auth)
        if plain:
            self._repeat = _Repeat(
                method, url, self.request_name, self.headers, self.headers.version,
                self.auth, self._base, self.url_namer, call,
            )  # fmt: skip
        return call

    def _prepare_anew(
        self,
        method: str,
        url: str,
        name: str | None,
        params: Params,
        data: Data,
        json: Any,
        headers: Mapping[str, str] | None,
        cookies: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
    ) -> _Call:
        base = self._base
        if params is None and base is not None and url[:1] == "/" and _plain(url):
            # The hot path: a relative path on the base origin, nothing to parse.
            origin = base.resolved.origin
            target = base.join(url)
            full_url = base.resolved.origin_text + target
        else:
            resolved = self._resolve(url, params)
            origin, target = resolved.origin, resolved.target
            full_url = resolved.origin_text + target
            if auth is None and resolved.auth is not None:
                auth = resolved.auth
        if name is None:
            name = self.request_name or self._name_for(target)
        body, content_type = encode_body(data, json) if data or json is not None else (b"", None)
        wire = self._serialize(method, origin, target, body, content_type, headers, cookies, auth)
        return _new_call(
            _Call,
            (
                method,
                origin,
                target,
                full_url,
                name,
                body,
                content_type,
                headers,
                cookies,
                auth,
                wire,
                method == "HEAD",
            ),
        )

    def _record(
        self,
        call: _Call,
        response: Response,
        catch_response: bool,
        context: dict[str, Any] | None,
        start_time: float,
        started: float,
    ) -> Response:
        """Hand the sample to the sink, or to a ResponseContextManager with catch_response."""
        elapsed = time.perf_counter() - started
        if not response._elapsed:
            response._elapsed = elapsed
        response_time = elapsed * 1000.0
        if context is None:
            context = {}
        length = len(response.content)
        if catch_response:
            sample = (call.method, call.name, response_time, length, context, start_time, call.url)
            return ResponseContextManager(response, self.request_sink, sample)
        status = response.status_code
        error = status_error(response) if status >= 400 else response.error
        self.request_sink(
            call.method, call.name, response_time, length, response if status else None,
            context, error, start_time, call.url,
        )  # fmt: skip
        return response

    def _resolve(self, url: str, params: Params) -> ResolvedURL:
        """The slow path of URL resolution: absolute URLs, params, odd characters."""
        if url.startswith(("http://", "https://", "HTTP://", "HTTPS://")):
            resolved = parse_absolute(url)
        elif "://" in url.partition("?")[0]:
            raise InvalidURL(f"the URL {url!r} must start with http:// or https://")
        elif self._base is None:
            raise InvalidURL(
                f"the relative URL {url!r} needs a base URL: set `host` on the User class "
                "or pass --host"
            )
        else:
            base = self._base.resolved
            resolved = parse_absolute(base.origin_text + self._base.join(url))
            resolved = ResolvedURL(base.origin, resolved.target, base.origin_text, None)
        if params is None:
            return resolved
        target = add_params(resolved.target, params)
        return ResolvedURL(resolved.origin, target, resolved.origin_text, resolved.auth)

    def _name_for(self, target: str) -> str:
        namer = self.url_namer
        if namer is None:
            return target
        # One cache for every session in the process: users of a test request the same few
        # URLs, and a per-session cache would cost each of thousands of users its own copy.
        key = (namer, target)
        name = _NAMES.get(key)
        if name is None:
            name = namer(target)
            if len(_NAMES) < _NAME_CACHE_SIZE:  # bounded: unique URLs must not grow it
                _NAMES[key] = name
        return name

    # --- exchanging --------------------------------------------------------------------------

    async def _exchange(
        self,
        origin: Origin,
        wire: bytes,
        head: bool,
        timeouts: tuple[float | None, float | None],
    ) -> RawResponse:
        pool = self._pool
        connection = pool.take_idle(origin)
        if connection is None:
            return await self._exchange_fresh(origin, wire, head, timeouts)
        try:
            raw = await connection.send(wire, head, timeouts[1])
        except RequestError as exc:
            pool.discard(connection)
            if not _retriable(connection, exc):
                raise
            return await self._exchange_fresh(origin, wire, head, timeouts)
        except BaseException:
            pool.discard(connection)  # cancelled mid-request: the connection is out of step
            raise
        pool.release(origin, connection)
        return raw

    async def _exchange_fresh(
        self,
        origin: Origin,
        wire: bytes,
        head: bool,
        timeouts: tuple[float | None, float | None],
    ) -> RawResponse:
        connection: Connection = await self._pool.connect(origin, timeouts[0])
        try:
            raw = await connection.send(wire, head, timeouts[1])
        except BaseException:
            self._pool.discard(connection)
            raise
        self._pool.release(origin, connection)
        return raw

    def _response(
        self,
        raw: RawResponse,
        method: str,
        origin: Origin,
        target: str,
        url: str,
        started: float | None,
    ) -> Response:
        body = raw.body
        if raw.content_encoding is not None and body:
            body = decode_body(body, raw.content_encoding)
        # `started` is None on the first hop: _record sets its elapsed from the sample's clock
        # read, one perf_counter call fewer per request.
        elapsed = 0.0 if started is None else time.perf_counter() - started
        response = Response(raw.status, raw.reason, raw.headers, body, url, elapsed, method)
        if raw.set_cookies is not None:
            path = target.partition("?")[0]
            response._cookies = self.cookies.extract(
                raw.set_cookies, origin.host, path, time.time()
            )
        return response

    async def _follow(
        self,
        response: Response,
        raw: RawResponse,
        call: _Call,
        timeouts: tuple[float | None, float | None],
    ) -> Response:
        """Follow redirects from `response`; return the final one with its history.

        301, 302 and 303 turn into a GET without a body (HEAD stays HEAD); 307 and 308 repeat
        the method and body. Credentials are dropped when the redirect leaves the origin.
        """
        method, body, content_type, auth = call.method, call.body, call.content_type, call.auth
        first_origin = call.origin
        history: list[Response] = []
        while raw.location is not None and raw.status in _REDIRECTS:
            if len(history) >= self.max_redirects:
                raise TooManyRedirects(
                    f"more than {self.max_redirects} redirects; raise max_redirects or "
                    "pass allow_redirects=False"
                )
            history.append(response)
            location = urljoin(response.url, raw.location.decode("latin-1").strip())
            resolved = parse_absolute(location)
            origin, target = resolved.origin, resolved.target
            if raw.status in (301, 302, 303) and method != "HEAD":
                method, body, content_type = "GET", b"", None
            if origin != first_origin:
                auth = None
            started = time.perf_counter()
            wire = self._serialize(
                method, origin, target, body, content_type, call.headers, call.cookies, auth
            )
            raw = await self._exchange(origin, wire, method == "HEAD", timeouts)
            url = resolved.origin_text + target
            response = self._response(raw, method, origin, target, url, started)
        response.history = history
        return response

    def close(self) -> None:
        """Close every connection (safe to call from anywhere, any number of times)."""
        self._pool.close()

    async def aclose(self) -> None:
        """Close every connection, and let the loop run the transports' close callbacks."""
        self._pool.close()
        await asyncio.sleep(0)


def _plain(path: str) -> bool:
    """Whether a path can go on the request line as it is (no encoding, no fragment)."""
    return path.isascii() and path.isprintable() and " " not in path and "#" not in path


def _retriable(connection: Connection, exc: RequestError) -> bool:
    """Whether a failed request may be sent again on a new connection.

    Only when the connection was a reused one and failed before any byte of the response
    came back: the server most likely closed it while it sat idle (urllib3 and httpx retry
    the same way). A timeout is never retried: the server may be working on the request.
    """
    return (
        connection.responses > 0
        and not connection.received_any
        and not isinstance(exc, ReadTimeout)
    )


class _Call(NamedTuple):
    """One request as prepared: what sending, recording and redirecting it need."""

    method: str
    origin: Origin
    target: str
    url: str
    name: str
    body: bytes
    content_type: str | None
    headers: Mapping[str, str] | None
    cookies: Mapping[str, str] | None
    auth: tuple[str, str] | None
    wire: bytes
    head: bool


_new_call = tuple.__new__  # skips NamedTuple's Python-level __new__ on the hot path


class _Repeat(NamedTuple):
    """The last plain request's call, and everything of the session it was built from."""

    method: str
    url: str
    request_name: str | None
    headers: MutableHeaders
    version: int
    auth: tuple[str, str] | None
    base: BaseURL | None
    url_namer: Callable[[str], str] | None
    call: _Call
