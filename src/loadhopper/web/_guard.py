"""The UI's request guard: one ASGI middleware in front of every route.

Locust's UI has wildcard CORS, no CSRF protection, GETs that change state and no login by
default (reference/locust.md §5 item 10). Here, in this order, for every request:

1. Security headers on every response, errors included: a CSP that allows only this
   origin's scripts (no inline script anywhere), `nosniff`, no framing, no referrer. No
   CORS header is ever sent, so other origins can neither read responses nor send the
   custom CSRF header (it would need a preflight that nothing here answers).
2. The Host header must name an allowed host (when loopback-bound): a page on another site
   that rebinds its DNS name to 127.0.0.1 is then refused (DNS rebinding).
3. `--web-login`: HTTP Basic credentials on every route, downloads and the event stream
   included (401 otherwise). Guessing is throttled per client address (`LoginThrottle`):
   after 5 wrong credentials, a client must wait 1 s, then twice as long after each further
   wrong one, up to 60 s; while it waits, every request from it is refused with 429 and
   `Retry-After` before its credentials are looked at, so waiting cannot be skipped and a
   guess made meanwhile tells nothing. A request without credentials (a browser's first) is
   not a wrong guess; a right one resets the client's count.
4. Every method but GET and HEAD changes state, so it needs the per-process CSRF token in
   the `X-CSRF-Token` header (403), and its body may not exceed `max_body_bytes` (413).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loadhopper.web._login import LoginThrottle, WebLogin

__all__ = ["CSRF_HEADER", "DEFAULT_MAX_BODY_BYTES", "RequestGuard"]

CSRF_HEADER = "x-csrf-token"
# The forms are a few hundred bytes; 16 KiB leaves room and refuses anything else early.
DEFAULT_MAX_BODY_BYTES = 16 * 1024

# plotly.js sets element styles at run time, which CSP counts as inline style; scripts stay
# strictly same-origin. `data:`/`blob:` images are plotly's "download plot as PNG".
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = (
    ("Content-Security-Policy", _CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
_SAFE_METHODS = frozenset({"GET", "HEAD"})


class _BodyTooLarge(Exception):
    pass


class RequestGuard:
    """Wraps the app with the checks above.

    Args:
        app: the application to protect.
        csrf_token: the token every state-changing request must carry.
        login: the Basic credentials required on every route, or None.
        login_throttle: the per-client backoff on wrong credentials; a default
            `LoginThrottle` when None (used only with a login).
        allowed_hosts: host names (without port, lower case) the Host header may name;
            None allows any (the UI listens on a non-loopback interface).
        max_body_bytes: the largest request body accepted.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        csrf_token: str,
        login: WebLogin | None = None,
        login_throttle: LoginThrottle | None = None,
        allowed_hosts: Iterable[str] | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.csrf_token = csrf_token.encode("ascii")
        self.login = login
        # `is None`, not `or`: a throttle that remembers no client has len() 0, so is falsy.
        self.login_throttle = LoginThrottle() if login_throttle is None else login_throttle
        self.allowed_hosts = None if allowed_hosts is None else frozenset(allowed_hosts)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return  # websockets are not used: refuse by not accepting
        send = _with_security_headers(send, scope["path"])
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        if refusal is None and scope["method"] not in _SAFE_METHODS:
            try:
                receive = await self._buffered(headers, receive)
            except _BodyTooLarge:
                refusal = PlainTextResponse(
                    f"The request body is over {self.max_body_bytes} bytes; send less.", 413
                )
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, headers: Headers) -> PlainTextResponse | None:
        if self.allowed_hosts is not None:
            host = _host_name(headers.get("host", ""))
            if host not in self.allowed_hosts:
                return PlainTextResponse(
                    "This host name is not allowed; open the UI by the address loadhopper "
                    "printed (or start it with --web-host).",
                    400,
                )
        if self.login is not None:
            refusal = self._login_refusal(self.login, scope, headers.get("authorization"))
            if refusal is not None:
                return refusal
        if scope["method"] not in _SAFE_METHODS:
            token = headers.get(CSRF_HEADER, "").encode("utf-8", "replace")
            if not hmac.compare_digest(token, self.csrf_token):
                return PlainTextResponse(
                    "Missing or wrong CSRF token; reload the page and try again.", 403
                )
        return None

    def _login_refusal(
        self, login: WebLogin, scope: Scope, authorization: str | None
    ) -> PlainTextResponse | None:
        throttle = self.login_throttle
        # The peer address, without the port: a client opens a new connection (a new port)
        # for each guess if it likes. No address (a Unix socket) is one client.
        peer = scope.get("client")
        client = str(peer[0]) if peer else ""
        wait = throttle.retry_after(client)
        if wait:
            return PlainTextResponse(
                f"Too many wrong passwords from this address; wait {wait} s and log in again.",
                429,
                headers={"Retry-After": str(wait)},
            )
        if login.accepts(authorization):
            throttle.succeeded(client)
            return None
        if authorization:
            throttle.failed(client)
        return PlainTextResponse(
            "Log in with the --web-login user and password.",
            401,
            headers={"WWW-Authenticate": 'Basic realm="loadhopper", charset="UTF-8"'},
        )

    async def _buffered(self, headers: Headers, receive: Receive) -> Receive:
        """Read the whole body (at most `max_body_bytes`) and replay it to the app."""
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app will see an empty body
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as ASGI says

        return replay


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8089
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _with_security_headers(send: Send, path: str) -> Send:
    static = path.startswith("/static/")

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in _SECURITY_HEADERS:
                headers[name] = value
            if not static and "cache-control" not in headers:
                headers["Cache-Control"] = "no-store"  # live data and secrets: never cached
        await send(message)

    return wrapped
