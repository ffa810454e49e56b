"""HttpSession: requests' API on the loadhopper HTTP/1.1 client, one sample per call.

Theory of operation. `arequest` is the one real implementation; every blocking method is
`await_(self.arequest(...))` through the greenlet bridge, so sync and `async def` tasks share
the same code and the same numbers. A call goes:

1. resolve the URL to (origin, request target): for a plain relative path this is one string
   concatenation with the base path (`_url.BaseURL.join`);
2. serialize the request: the session's constant header lines (Host, User-Agent, Accept...)
   are serialized once per origin and reused, and only Cookie, Content-Type and
   Content-Length are added per request;
3. exchange it on an idle keep-alive connection of the pool, or a new one (see "Sending
   again" below);
4. decode the body within `BodyLimits` (`_decode`), build the Response, store cookies,
   follow redirects;
5. hand one sample to `request_sink` (Locust's `events.request` payload, positional), or,
   with `catch_response=True`, hand the task a ResponseContextManager that records it when
   its `with` block exits. With `stream=True` the sample is taken when the headers arrive
   (its length is the Content-Length, as in Locust) and the body stays on the connection
   (`_stream.BodyStream`) until the task reads it.

Sending again. A reused connection that fails before any byte of the response came back was
most likely closed by the server while it sat idle, but the server may also have received
the request. So a request is sent again on a fresh connection only when that is safe and
honest: its method is idempotent (RFC 9110 §9.2.2), it was not a timeout, and the failed
attempt is recorded as a failed sample of its own (`StaleConnection`), so that what the
server received is what the statistics count. A request whose bytes were never written
(the connection was already closed when it went out) is sent again whatever its method,
with nothing recorded for the attempt that did not happen.

The blocking `request` is the hot path and does these steps inline; `arequest` does the same
and is also the general path (streams, deadlines) that `request` hands over to.

Network failures never raise out of a request: they become a Response with status 0 and
`error` set, recorded as a failed sample, as Locust's HttpSession does. Programming errors
(a bad URL, an unsupported argument) do raise.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, NamedTuple, cast
from urllib.parse import urljoin

from loadhopper._bridge import await_, current_worker, park
from loadhopper._exceptions import (
    ConnectTimeout,
    InvalidURL,
    RequestError,
    RequestInterrupted,
    StaleConnection,
    Timeout,
    TooManyRedirects,
)
from loadhopper.http._adapters import check_adapter
from loadhopper.http._auth import AuthArg, AuthCallable, check_auth
from loadhopper.http._body import Data, encode_body
from loadhopper.http._brotli import AVAILABLE as BROTLI_AVAILABLE
from loadhopper.http._catch import RequestSink, ResponseContextManager
from loadhopper.http._connection import Connection, Deadline
from loadhopper.http._cookies import CookieJar
from loadhopper.http._decode import decode_body
from loadhopper.http._headers import MutableHeaders
from loadhopper.http._limits import BodyLimits
from loadhopper.http._multipart import Files, encode_multipart
from loadhopper.http._options import TimeoutArg, check_deadline, split_timeout
from loadhopper.http._pool import ConnectionPool, Origin, Route
from loadhopper.http._protocol import DEFAULT_MAX_HEADER_BYTES, RawResponse
from loadhopper.http._proxy import ProxiesArg, SessionProxies
from loadhopper.http._response import Response, StrictResponse, status_error
from loadhopper.http._source import SourceAddresses
from loadhopper.http._stream import BodyStream
from loadhopper.http._streamed import (
    StreamedResponse,
    StreamedResponseContextManager,
    StrictStreamedResponse,
)
from loadhopper.http._tls import CertArg, VerifyArg
from loadhopper.http._url import BaseURL, Params, ResolvedURL, add_params, parse_absolute
from loadhopper.http._verbs import RequestVerbs
from loadhopper.http._writer import RequestWriter

__all__ = ["HttpSession"]

_USER_AGENT = "loadhopper/0.1"
_REDIRECTS = frozenset((301, 302, 303, 307, 308))
# RFC 9110 §9.2.2: the methods whose repetition has the effect of one request.
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"))
# One fixed text, so that every interrupted request groups in one failure row.
_INTERRUPTED_MESSAGE = (
    "interrupted at stop: the test stopped (after its stop timeout or drain) before the "
    "response arrived"
)
_STALE_MESSAGE = (
    "the reused keep-alive connection broke before any byte of the response; "
    "the request was sent again on a new connection"
)
_NAME_CACHE_SIZE = 10_000  # distinct request targets whose names are remembered
_NAMES: dict[tuple[Callable[[str], str], str], str] = {}

_DEFAULT_HEADERS = MutableHeaders(
    {
        "User-Agent": _USER_AGENT,
        # br only when it can be decoded (within bounds): see `_brotli`.
        "Accept-Encoding": "gzip, deflate, br" if BROTLI_AVAILABLE else "gzip, deflate",
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
        verify: TLS verification: True (system CAs), False, or a CA bundle path (a PEM
            file or a directory of CA certificates).
        cert: the client certificate: a PEM file with its key, or a (cert, key) pair.
        proxies: HTTP proxies by scheme, as requests takes them (see `proxies`).
        timeout: default for every request: seconds, a (connect, read) pair, or None.
        default_headers: headers sent on every request, over the built-in defaults.
        max_redirects: redirects followed before the request fails with TooManyRedirects.
        max_header_bytes: largest response header section accepted.
        body_limits: the largest response body accepted, on the wire and decoded (the
            defaults: 64 MiB each).
        deadline: default for every request: seconds from sending it to the end of its
            response, redirects included, or None for none (see `request`).
        strict_locust: fail where Locust's HttpSession fails (`--strict-locust`): a path
            without a leading slash is appended to the base URL as it is, and a `with`
            block without catch_response raises LocustError.
        source_addresses: the local addresses new connections are made from, in turn
            (`--local-ips`); None for the kernel's choice.

    Attributes:
        deadline: the default `deadline=` of requests; settable.
        body_limits: the response size bounds of requests from now on; settable.
    """

    def __init__(
        self,
        base_url: str,
        *,
        request_sink: RequestSink,
        url_namer: Callable[[str], str] | None = None,
        verify: VerifyArg = True,
        cert: CertArg | None = None,
        proxies: ProxiesArg | None = None,
        timeout: TimeoutArg = None,
        default_headers: Mapping[str, str] | None = None,
        max_redirects: int = 30,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        body_limits: BodyLimits | None = None,
        deadline: float | None = None,
        strict_locust: bool = False,
        source_addresses: SourceAddresses | None = None,
    ) -> None:
        self.request_sink = request_sink
        self.url_namer = url_namer
        self.max_redirects = max_redirects
        self.request_name: str | None = None
        # Basic credentials (folded into the prepared header lines) and an auth object
        # (called on every request): `auth` sets one of them.
        self._auth: tuple[str, str] | None = None
        self._auth_object: AuthCallable | None = None
        self.cookies = CookieJar()
        self._headers = MutableHeaders.sharing(_DEFAULT_HEADERS)
        if default_headers:
            self._headers.update(default_headers)
        self._timeouts = split_timeout(timeout)
        self._pool = ConnectionPool(
            verify, max_header_bytes, cert=cert, proxies=proxies, source=source_addresses
        )
        self._blocks: dict[Origin, bytes] = {}
        self._blocks_key: tuple[int, tuple[str, str] | None] = (-1, None)
        self._base: BaseURL | None = None
        self._repeat: _Repeat | None = None
        # Streamed responses not yet read to their end, weakly: a dropped one closes itself.
        self._streams: list[weakref.ref[BodyStream]] = []
        # Whether requests must take the general path: a default deadline or open streams
        # (one flag, so that the blocking fast path tests one attribute for both).
        self._general = False
        # Requests cancelled while on the wire (sent, no response yet), not yet recorded:
        # the handler that sees the cancellation counts one, the request's top level
        # records it and lets the cancellation go on. A count, not a flag: an `async def`
        # task may have several requests in flight when it is cancelled.
        self._interrupted = 0
        self.base_url = base_url
        self.body_limits = BodyLimits() if body_limits is None else body_limits
        self.deadline = deadline
        self.strict_locust = strict_locust
        self.adapters: dict[str, object] = {}  # what `mount` accepted, by prefix (requests')

    @property
    def headers(self) -> MutableHeaders:
        """The headers sent with every request (case-insensitive, mutable).

        Assigning any mapping replaces them all, as in requests (`self.client.headers =
        {...}`: the built-in User-Agent, Accept and Accept-Encoding go too, unless the
        mapping has them); `update`, `del` and item assignment change them in place.
        """
        return self._headers

    @headers.setter
    def headers(self, value: Mapping[str, str]) -> None:
        if not isinstance(value, Mapping):
            raise TypeError(
                f"headers must be a mapping of names to values, not {type(value).__name__}"
            )
        self._headers = MutableHeaders(value)
        self._blocks_key = (-1, None)  # the prepared header lines were built from the old ones

    @property
    def auth(self) -> AuthArg:
        """The session's credentials: a (user, password) tuple, an auth object, or None.

        An auth object (requests' `AuthBase` protocol, e.g. `requests.auth.HTTPBasicAuth`)
        is called on every request, which then cannot reuse its prepared bytes.
        """
        return self._auth if self._auth_object is None else self._auth_object

    @auth.setter
    def auth(self, value: AuthArg) -> None:
        check_auth(value)
        if value is None or isinstance(value, tuple):
            self._auth, self._auth_object = value, None
        else:
            self._auth, self._auth_object = None, value
            self._repeat = None  # a repeated request must call the object again

    @property
    def strict_locust(self) -> bool:
        """Whether requests fail where Locust's fail (see the class docstring); settable."""
        return self._response_class is StrictResponse

    @strict_locust.setter
    def strict_locust(self, value: bool) -> None:
        # Decided here, once: the class of every response carries the `with` rule, and only
        # the slow path of URL resolution reads the flag, so no request tests it.
        self._response_class: type[Response] = StrictResponse if value else Response
        self._repeat = None

    @property
    def verify(self) -> bool | str:
        """TLS verification, as in requests: True, False, or a CA bundle path.

        `self.client.verify = False` in `on_start` turns verification off for this user's
        connections from then on (the requests idiom Locust's HttpUser users know).
        """
        return self._pool.verify

    @verify.setter
    def verify(self, value: VerifyArg) -> None:
        self._pool.verify = value

    @property
    def cert(self) -> str | tuple[str, str] | None:
        """The client certificate, as in requests: a PEM file holding the certificate and
        its key, a (cert, key) pair of paths, or None. Applies from the next request."""
        return self._pool.cert

    @cert.setter
    def cert(self, value: CertArg | None) -> None:
        self._pool.cert = value

    @property
    def proxies(self) -> SessionProxies:
        """HTTP proxies by scheme, as requests' `session.proxies`: {"http": url, "https":
        url}; "scheme://host" and "all" keys too. A dict: changes made in place apply from
        the next request. Only http:// proxies with Basic credentials; https:// URLs go
        through a CONNECT tunnel. SOCKS and the HTTP_PROXY environment are not used."""
        return self._pool.proxies

    @proxies.setter
    def proxies(self, value: ProxiesArg | None) -> None:
        self._pool.proxies = value

    @property
    def body_limits(self) -> BodyLimits:
        """The response size bounds (max_body_size, max_decoded_size) of the next requests."""
        return self._limits

    @body_limits.setter
    def body_limits(self, value: BodyLimits) -> None:
        self._limits = value
        self._max_body = value.max_body_size  # read on every request: one attribute, not two
        self._max_decoded = value.max_decoded_size

    @property
    def deadline(self) -> float | None:
        """The default `deadline=` of requests: seconds, or None for no deadline."""
        return self._deadline

    @deadline.setter
    def deadline(self, value: float | None) -> None:
        self._deadline = check_deadline(value)
        self._general = self._deadline is not None or bool(self._streams)

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
        files: Files | None = None,
        headers: Mapping[str, str | None] | None = None,
        cookies: Mapping[str, str] | None = None,
        auth: AuthArg = None,
        allow_redirects: bool = True,
        timeout: TimeoutArg = _UNSET,
        stream: bool = False,
        deadline: float | None = _UNSET,
        verify: VerifyArg | None = None,
        cert: CertArg | None = None,
        proxies: ProxiesArg | None = None,
    ) -> Response:
        """Send one request and record one sample; blocks the calling user's greenlet.

        Args:
            method: the HTTP method.
            url: a path (joined to the base URL) or an absolute URL.
            name: the name in the statistics (default: the path with its query).
            catch_response: return a ResponseContextManager; the task decides the outcome.
            context: the `context` of the sample (Locust's `events.request`).
            params: query parameters, added to the URL's own.
            data: the body: a dict or pairs (a form), str or bytes.
            json: a body sent as JSON (when `data` and `files` are empty).
            files: files to upload as multipart/form-data, by field name (a dict or
                pairs): a file object, bytes, str, or a tuple (filename, content[,
                content_type[, headers]]); the fields of `data` become parts first.
            headers: headers for this request, over the session's (None removes one).
            cookies: cookies for this request, besides the session's.
            auth: Basic credentials (user, password), or an auth object called with the
                prepared request (requests' `AuthBase` protocol).
            allow_redirects: follow 301, 302, 303, 307 and 308 responses.
            timeout: seconds, or a (connect, read) pair, as in requests: the read timeout
                is the longest wait for the next byte, not for the whole response.
            stream: record the request when its headers arrive and leave the body to be
                read by the task (`iter_content`, `iter_lines`, `content`), as requests.
            deadline: seconds from sending to the end of the response, redirects included
                (with `stream`: until the body has been read); None for none. Defaults to
                the session's `deadline`.
            verify: TLS verification for this request (None: the session's `verify`).
            cert: a client certificate for this request (None: the session's `cert`).
            proxies: proxies for this request, over the session's (a key set to None
                removes the session's proxy for it), as requests merges them.

        Returns:
            The Response (a ResponseContextManager when `catch_response` is true). When no
            response arrived its `status_code` is 0 and `error` holds the reason.

        Raises:
            InvalidURL: the URL cannot be requested (nothing is recorded).
            BridgeError: called outside a user's greenlet (use `arequest` in async code).
        """
        if (
            stream
            or deadline is not _UNSET
            or self._general
            or verify is not None
            or cert is not None
            or proxies is not None
        ):
            # The general path (streams, deadlines), awaited through the bridge.
            return await_(
                self.arequest(
                    method, url, name=name, catch_response=catch_response, context=context,
                    params=params, data=data, json=json, files=files, headers=headers,
                    cookies=cookies, auth=auth, allow_redirects=allow_redirects, timeout=timeout,
                    stream=stream, deadline=deadline, verify=verify, cert=cert, proxies=proxies,
                )
            )  # fmt: skip
        method = method.upper()
        call = self._prepare(method, url, name, params, data, json, files, headers, cookies, auth)
        timeouts = self._timeouts if timeout is _UNSET else split_timeout(timeout)
        start_time = time.time()
        started = time.perf_counter()
        try:
            origin = call.origin
            pool = self._pool
            connection = pool.take_idle(origin)
            if connection is None:
                # A new connection: the connect is awaited through the bridge, then the
                # response is parked for as on a reused one, so that it is timed in the
                # callback that completes it, not a loop turn later (a user's first request).
                connection = await_(pool.connect(origin, timeouts[0]))
                try:
                    connection.send_to(
                        current_worker(), call.wire, call.head, timeouts[1], self._max_body
                    )
                    raw = park()
                except BaseException as exc:
                    pool.discard(connection)
                    self._note_interrupted(exc)
                    raise
            else:
                # The worker itself waits for the response: the connection's callback resumes
                # it directly, with no Future and no Task step (see `_bridge`, "Parking").
                try:
                    connection.send_to(
                        current_worker(), call.wire, call.head, timeouts[1], self._max_body
                    )
                except RequestError:  # never written: safe to send again, whatever the method
                    raw, connection = await_(self._exchange_fresh(call, timeouts, None))
                else:
                    try:
                        raw = park()
                    except RequestError as exc:
                        pool.discard(connection)
                        if not _retriable(call.method, connection, exc):
                            raise
                        self._record_stale(call, context, exc, start_time, started)
                        raw, connection = await_(self._exchange_fresh(call, timeouts, None))
                    except BaseException as exc:
                        pool.discard(connection)  # cancelled mid-request: out of step
                        self._note_interrupted(exc)
                        raise
            body = raw.body
            if raw.content_encoding is not None and body:
                try:
                    decoded = decode_body(body, raw.content_encoding, self._max_decoded)
                    body = decoded if isinstance(decoded, bytes) else await_(decoded.finish())
                except BaseException as exc:
                    connection.close()  # a connection is never reused after a failure
                    self._note_interrupted(exc)
                    raise
            pool.release(origin, connection)
            response = self._response(raw, body, call.wire, origin, call.target, call.url, None)
            if allow_redirects and raw.location is not None and raw.status in _REDIRECTS:
                response = await_(self._follow(response, raw, call, context, timeouts, None, False))
        except RequestError as exc:
            if isinstance(exc, InvalidURL):
                raise
            response = self._failed(call.wire, call.url, exc, started)
        except asyncio.CancelledError:
            self._record_interrupted(call, context, start_time, started)
            raise
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
        files: Files | None = None,
        headers: Mapping[str, str | None] | None = None,
        cookies: Mapping[str, str] | None = None,
        auth: AuthArg = None,
        allow_redirects: bool = True,
        timeout: TimeoutArg = _UNSET,
        stream: bool = False,
        deadline: float | None = _UNSET,
        verify: VerifyArg | None = None,
        cert: CertArg | None = None,
        proxies: ProxiesArg | None = None,
    ) -> Response:
        """The awaitable form of `request`, for `async def` tasks (same arguments and result).

        A streamed body is read with `await response.aread()` or `async for piece in
        response.aiter_content(...)`.
        """
        method = method.upper()
        call = self._prepare(method, url, name, params, data, json, files, headers, cookies, auth)
        timeouts = self._timeouts if timeout is _UNSET else split_timeout(timeout)
        seconds = self._deadline if deadline is _UNSET else check_deadline(deadline)
        if verify is not None or cert is not None or proxies is not None:
            route = self._pool.route(verify, cert, proxies)
            if route is not None:  # None: the session's own settings after all
                call = call._replace(route=route)
        if self._streams:
            self._close_streams()
        start_time = time.time()
        started = time.perf_counter()
        limit = None
        if seconds is not None:
            limit = Deadline(asyncio.get_running_loop().time() + seconds, seconds)
        try:
            raw, connection = await self._exchange(
                call, call, context, timeouts, limit, stream, start_time, started
            )
            if stream:
                response = self._streamed(raw, connection, call, None)
            else:
                body = await self._decoded(raw, connection, call.origin, call.route)
                response = self._response(
                    raw, body, call.wire, call.origin, call.target, call.url, None
                )
            if allow_redirects and raw.location is not None and raw.status in _REDIRECTS:
                response = await self._follow(response, raw, call, context, timeouts, limit, stream)
        except RequestError as exc:
            if isinstance(exc, InvalidURL):
                raise
            response = self._failed(call.wire, call.url, exc, started)
        except asyncio.CancelledError:
            self._record_interrupted(call, context, start_time, started)
            raise
        return self._record(call, response, catch_response, context, start_time, started, stream)

    def _failed(self, sent: bytes, url: str, error: RequestError, started: float) -> Response:
        """The stand-in Response of a request that got no response.

        The error loses its traceback: its frames hold what the request held (a received
        body, a decoder's output), and through the Response, which refers to the error, a
        reference cycle that only the garbage collector would break, while tasks run on.
        A failure message needs no traceback; `raise_for_status()` raises afresh.
        """
        return self._response_class.failed(
            sent, url, error.with_traceback(None), time.perf_counter() - started
        )

    def _prepare(
        self,
        method: str,
        url: str,
        name: str | None,
        params: Params,
        data: Data,
        json: Any,
        files: Files | None,
        headers: Mapping[str, str | None] | None,
        cookies: Mapping[str, str] | None,
        auth: AuthArg,
    ) -> _Call:
        plain = (
            name is None
            and params is None
            and data is None
            and json is None
            and files is None
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
                and repeat.headers is self._headers
                and repeat.version == self._headers.version
                and repeat.auth is self._auth
                and repeat.base is self._base
                and repeat.url_namer is self.url_namer
            ):
                return repeat.call
        call = self._prepare_anew(
            method, url, name, params, data, json, files, headers, cookies, auth
        )
        if plain and self._auth_object is None:  # an auth object is called on every request
            self._repeat = _Repeat(
                method, url, self.request_name, self._headers, self._headers.version,
                self._auth, self._base, self.url_namer, call,
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
        files: Files | None,
        headers: Mapping[str, str | None] | None,
        cookies: Mapping[str, str] | None,
        auth: AuthArg,
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
        signer = self._auth_object
        if auth is not None:
            if isinstance(auth, tuple):
                signer = None  # the request's own credentials win over the session's
            else:
                check_auth(auth)
                signer = auth
                auth = None
        content_type: str | None
        if files is not None:
            body, content_type = encode_multipart(data, files)
        elif data or json is not None:
            body, content_type = encode_body(data, json)
        else:
            body, content_type = b"", None
        if signer is not None:
            signed = self._sign(signer, method, origin, full_url, body, content_type, headers)
            headers, body, content_type = signed.headers, signed.body, None
            if signed.url != full_url:
                resolved = parse_absolute(signed.url)
                origin, target = resolved.origin, resolved.target
                full_url = resolved.origin_text + target
        if name is None:
            name = self.request_name or self._name_for(target)
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
                None,
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
        stream: bool = False,
    ) -> Response:
        """Hand the sample to the sink, or to a ResponseContextManager with catch_response."""
        elapsed = time.perf_counter() - started
        if not response._elapsed:
            response._elapsed = elapsed
        response_time = elapsed * 1000.0
        if context is None:
            context = {}
        streamed = stream and isinstance(response, StreamedResponse)
        # A streamed response is recorded at its headers, as Locust does: the announced
        # length, else 0.
        length = cast(StreamedResponse, response).announced if streamed else len(response.content)
        if catch_response:
            sample = (call.method, call.name, response_time, length, context, start_time, call.url)
            if streamed:
                return StreamedResponseContextManager(
                    cast(StreamedResponse, response), self.request_sink, sample
                )
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
        elif url[:1] != "/" and self._response_class is StrictResponse:
            resolved = self._strict_join(url)
        else:
            base = self._base.resolved
            resolved = parse_absolute(base.origin_text + self._base.join(url))
            resolved = ResolvedURL(base.origin, resolved.target, base.origin_text, None)
        if params is None:
            return resolved
        target = add_params(resolved.target, params)
        return ResolvedURL(resolved.origin, target, resolved.origin_text, resolved.auth)

    def _strict_join(self, path: str) -> ResolvedURL:
        """Locust's join of a path without a leading slash: appended to the host as it is."""
        joined = self._base_url + path
        try:
            return parse_absolute(joined)
        except InvalidURL as exc:
            raise InvalidURL(
                f"the path {path!r} has no leading slash, and --strict-locust appends it to the "
                f"host as Locust does, giving {joined!r}, which is not a valid URL; start the "
                "path with '/'"
            ) from exc

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
        call: _Call,
        hop: _Call,
        context: dict[str, Any] | None,
        timeouts: tuple[float | None, float | None],
        deadline: Deadline | None,
        stream: bool,
        start_time: float,
        started: float,
    ) -> tuple[RawResponse, Connection]:
        """Send `hop` (the request itself, or a redirect of `call`) and await its response.

        Returns the connection too, still out of the pool: the caller gives it back once the
        body is decoded (`_decoded`), or a streamed body's reader does (see `_streamed`).
        `start_time` and `started` time the attempt, for the sample of a stale one.
        """
        pool = self._pool
        connection = pool.take_idle(hop.origin, hop.route)
        if connection is None:
            return await self._exchange_fresh(hop, timeouts, deadline, stream)
        try:
            waiter = connection.send(
                hop.wire, hop.head, timeouts[1], self._max_body, deadline, stream
            )
        except RequestError:  # never written: safe to send again, whatever the method
            return await self._exchange_fresh(hop, timeouts, deadline, stream)
        try:
            raw = await waiter
        except RequestError as exc:
            pool.discard(connection)
            if not _retriable(hop.method, connection, exc):
                raise
            self._record_stale(
                call._replace(method=hop.method, url=hop.url), context, exc, start_time, started
            )
            return await self._exchange_fresh(hop, timeouts, deadline, stream)
        except BaseException as exc:
            pool.discard(connection)  # cancelled mid-request: the connection is out of step
            self._note_interrupted(exc)
            raise
        return raw, connection

    async def _exchange_fresh(
        self,
        hop: _Call,
        timeouts: tuple[float | None, float | None],
        deadline: Deadline | None,
        stream: bool = False,
    ) -> tuple[RawResponse, Connection]:
        origin = hop.origin
        connect_timeout = timeouts[0]
        if deadline is None:
            connection: Connection = await self._pool.connect(origin, connect_timeout, hop.route)
        else:
            connection = await self._connect_before(deadline, origin, connect_timeout, hop.route)
        try:
            raw = await connection.send(
                hop.wire, hop.head, timeouts[1], self._max_body, deadline, stream
            )
        except BaseException as exc:
            self._pool.discard(connection)
            self._note_interrupted(exc)
            raise
        return raw, connection

    async def _connect_before(
        self,
        deadline: Deadline,
        origin: Origin,
        connect_timeout: float | None,
        route: Route | None,
    ) -> Connection:
        """Connect within the connect timeout and what is left of the deadline."""
        remaining = deadline.at - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise deadline.exceeded()
        if connect_timeout is not None and connect_timeout <= remaining:
            return await self._pool.connect(origin, connect_timeout, route)
        try:
            return await self._pool.connect(origin, remaining, route)
        except ConnectTimeout as exc:
            raise deadline.exceeded() from exc

    def _record_stale(
        self,
        attempt: _Call,
        context: dict[str, Any] | None,
        cause: RequestError,
        start_time: float,
        started: float,
    ) -> None:
        """Record the failed attempt of a request that is about to be sent again."""
        error = StaleConnection(_STALE_MESSAGE)
        error.__cause__ = cause
        self.request_sink(
            attempt.method, attempt.name, (time.perf_counter() - started) * 1000.0, 0, None,
            {} if context is None else context, error, start_time, attempt.url,
        )  # fmt: skip

    def _note_interrupted(self, exc: BaseException) -> None:
        """Count a request cancelled after its bytes were written (see `_interrupted`)."""
        if isinstance(exc, asyncio.CancelledError):
            self._interrupted += 1

    def _record_interrupted(
        self, call: _Call, context: dict[str, Any] | None, start_time: float, started: float
    ) -> None:
        """Record once a request cancelled on the wire: the server may have received it."""
        if not self._interrupted:
            return  # cancelled before anything was sent (e.g. while connecting)
        self._interrupted -= 1
        self.request_sink(
            call.method, call.name, (time.perf_counter() - started) * 1000.0, 0, None,
            {} if context is None else context, RequestInterrupted(_INTERRUPTED_MESSAGE),
            start_time, call.url,
        )  # fmt: skip

    async def _decoded(
        self, raw: RawResponse, connection: Connection, origin: Origin, route: Route | None = None
    ) -> bytes:
        """The decoded body; then the connection goes back to the pool (closed on failure)."""
        body = raw.body
        if raw.content_encoding is not None and body:
            try:
                decoded = decode_body(body, raw.content_encoding, self._max_decoded)
                body = decoded if isinstance(decoded, bytes) else await decoded.finish()
            except BaseException as exc:
                connection.close()  # a connection is never reused after a failure
                self._note_interrupted(exc)
                raise
        self._pool.release(origin, connection, route)
        return body

    def _response(
        self,
        raw: RawResponse,
        body: bytes,
        sent: bytes,
        origin: Origin,
        target: str,
        url: str,
        started: float | None,
    ) -> Response:
        # `started` is None on the first hop: _record sets its elapsed from the sample's clock
        # read, one perf_counter call fewer per request.
        elapsed = 0.0 if started is None else time.perf_counter() - started
        response = self._response_class(
            raw.status, raw.reason, raw.headers, body, url, elapsed, sent
        )
        if raw.set_cookies is not None:
            path = target.partition("?")[0]
            response._cookies = self.cookies.extract(
                raw.set_cookies, origin.host, path, time.time()
            )
        return response

    def _streamed(
        self,
        raw: RawResponse,
        connection: Connection,
        hop: _Call,
        started: float | None,
    ) -> Response:
        """The Response of a `stream=True` request: its body stays on `connection`."""
        body = BodyStream(
            connection,
            partial(self._pool.release, hop.origin, route=hop.route),
            raw.content_encoding,
            self._limits,
            _announced_length(raw.headers),
        )
        self._streams.append(weakref.ref(body))
        self._general = True
        response = self._response(raw, b"", hop.wire, hop.origin, hop.target, hop.url, started)
        if self._response_class is StrictResponse:
            return StrictStreamedResponse(response, body)
        return StreamedResponse(response, body)

    def _close_streams(self) -> None:
        """Close the streamed responses of earlier requests that were not read to the end."""
        streams, self._streams = self._streams, []
        self._general = self._deadline is not None
        for ref in streams:
            body = ref()
            if body is not None:
                body.close()

    async def _follow(
        self,
        response: Response,
        raw: RawResponse,
        call: _Call,
        context: dict[str, Any] | None,
        timeouts: tuple[float | None, float | None],
        deadline: Deadline | None,
        stream: bool,
    ) -> Response:
        """Follow redirects from `response`; return the final one with its history.

        301, 302 and 303 turn into a GET without a body (HEAD stays HEAD); 307 and 308 repeat
        the method and body. Credentials are dropped when the redirect leaves the origin.
        With `stream`, each redirect's own body is read (within the bounds) and dropped.
        """
        method, body, content_type, auth = call.method, call.body, call.content_type, call.auth
        headers = call.headers
        first_origin = call.origin
        history: list[Response] = []
        while raw.location is not None and raw.status in _REDIRECTS:
            if stream:
                await response.aread()  # gives the connection back to the pool
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
                headers = _without(headers, "Content-Type")  # as requests: the body is gone
            if origin != first_origin:
                auth = None
                headers = _without(headers, "Authorization")  # the session's one too
            start_time = time.time()
            started = time.perf_counter()
            wire = self._serialize(
                method, origin, target, body, content_type, headers, call.cookies, auth
            )
            url = resolved.origin_text + target
            hop = call._replace(
                method=method, origin=origin, target=target, url=url, wire=wire,
                head=method == "HEAD",
            )  # fmt: skip
            raw, connection = await self._exchange(
                call, hop, context, timeouts, deadline, stream, start_time, started
            )
            if stream:
                response = self._streamed(raw, connection, hop, started)
            else:
                decoded = await self._decoded(raw, connection, origin, hop.route)
                response = self._response(raw, decoded, wire, origin, target, url, started)
        response.history = history
        return response

    def mount(self, prefix: str, adapter: object) -> None:
        """Accept requests' `HTTPAdapter` for URLs starting with `prefix`, as requests does.

        Its pool sizes are accepted and change nothing (a user's pool keeps every
        connection it opens); `max_retries=0` is loadhopper's own behaviour. An adapter
        asking for retries, or replacing the transport (`send`, `init_poolmanager`...), is
        refused with an error saying which (see `_adapters`).

        Raises:
            TypeError: not an HTTPAdapter, or one that replaces the transport.
            ValueError: the adapter asks for retries.
        """
        check_adapter(prefix, adapter)
        self.adapters[prefix] = adapter

    def close(self) -> None:
        """Close every connection (safe to call from anywhere, any number of times)."""
        self._close_streams()
        self._pool.close()

    async def aclose(self) -> None:
        """Close every connection, and let the loop run the transports' close callbacks."""
        self.close()
        await asyncio.sleep(0)


def _plain(path: str) -> bool:
    """Whether a path can go on the request line as it is (no encoding, no fragment)."""
    return path.isascii() and path.isprintable() and " " not in path and "#" not in path


def _retriable(method: str, connection: Connection, exc: RequestError) -> bool:
    """Whether a request that failed after it was written may be sent again.

    Only an idempotent method (RFC 9110 §9.2.2: sending it twice has the effect of sending
    it once), on a reused connection that failed before any byte of the response came
    back: the server most likely closed it while it sat idle (urllib3 and httpx retry the
    same way). A timeout is never retried: the server may be working on the request.
    """
    return (
        method in _IDEMPOTENT
        and connection.responses > 0
        and not connection.received_any
        and not isinstance(exc, Timeout)
    )


def _without(headers: Mapping[str, str | None] | None, name: str) -> dict[str, str | None]:
    """`headers` with `name` removed, the session's header of that name included."""
    kept = {key: value for key, value in (headers or {}).items() if key.lower() != name.lower()}
    kept[name] = None
    return kept


def _announced_length(headers: list[tuple[bytes, bytes]]) -> int:
    """The Content-Length of a streamed response, else 0 (what Locust records for one)."""
    for name, value in headers:
        if len(name) == 14 and name.lower() == b"content-length":
            return int(value)
    return 0


class _Call(NamedTuple):
    """One request as prepared: what sending, recording and redirecting it need."""

    method: str
    origin: Origin
    target: str
    url: str
    name: str
    body: bytes
    content_type: str | None
    headers: Mapping[str, str | None] | None
    cookies: Mapping[str, str] | None
    auth: tuple[str, str] | None
    wire: bytes
    head: bool
    route: Route | None  # a request's own verify=, cert=, proxies=; None: the session's


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
