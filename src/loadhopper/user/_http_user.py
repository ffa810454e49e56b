"""HttpUser and FastHttpUser: users whose `self.client` is an HttpSession of their own.

Both run on the same engine (loadhopper's HTTP/1.1 client); FastHttpUser exists so that
locustfiles written for Locust's FastHttpUser run unchanged, with its class attributes and
`rest()`. One deliberate difference: Locust's FastHttpUser does not verify TLS
certificates by default (`insecure = True`); here `insecure` defaults to False, so both
classes verify certificates unless a locustfile opts out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar

from loadhopper._exceptions import ControlFlowSignal, InvalidURL, StopTest
from loadhopper.http import BodyLimits, HttpSession
from loadhopper.user._user import User
from loadhopper.user._user_environment import RequestSink, UserEnvironment

__all__ = ["NO_HOST_MESSAGE", "FastHttpUser", "HttpUser"]

NO_HOST_MESSAGE = "no host: set `host` on the User class or pass -H/--host"


class HttpUser(User):
    """A user with an HTTP client: `self.client.get("/")` and the other requests methods.

    The client keeps cookies and keep-alive connections per user. Requests go to the
    class's `host`, or to the `-H/--host` given for the run (which wins, without changing
    the class). TLS certificates are verified. Under `--strict-locust` the client fails
    where Locust's does (a path without a leading slash, a `with` block without
    catch_response).

    Attributes:
        max_body_size: the largest response body accepted off the wire, in bytes; None
            (the default) takes the run's `--max-body-size` (64 MiB unless set).
        max_decoded_size: the largest body accepted after gzip or deflate decoding, in
            bytes; None takes the run's `--max-decoded-size` (64 MiB unless set).
    """

    abstract: ClassVar[bool] = True
    max_body_size: ClassVar[int | None] = None
    max_decoded_size: ClassVar[int | None] = None
    client: HttpSession

    def __init__(self, environment: UserEnvironment) -> None:
        super().__init__(environment)
        self.client = HttpSession(self.effective_host or "", **self._session_options())

    @property
    def effective_host(self) -> str | None:
        """The host requests go to: the run's `-H/--host` if given, else the class's."""
        return self.environment.host or type(self).host

    def _session_options(self) -> dict[str, Any]:
        return {
            "request_sink": self._request_sink(),
            "url_namer": self.environment.url_namer,
            "verify": True,
            "body_limits": self._body_limits(),
            # `--strict-locust`; read with a default, as environments built by tools or
            # tests may predate the flag.
            "strict_locust": self.environment.strict_locust,
            # `--local-ips`: not part of UserEnvironment, so environments built by tools or
            # tests need not have it.
            "source_addresses": getattr(self.environment, "source_addresses", None),
        }

    def _body_limits(self) -> BodyLimits:
        """The run's bounds, with this class's own `max_body_size` / `max_decoded_size` over."""
        limits = self.environment.body_limits
        cls = type(self)
        if cls.max_body_size is None and cls.max_decoded_size is None:
            return limits  # the common case: every user shares the run's one object
        return BodyLimits(
            max_body_size=limits.max_body_size if cls.max_body_size is None else cls.max_body_size,
            max_decoded_size=(
                limits.max_decoded_size if cls.max_decoded_size is None else cls.max_decoded_size
            ),
        )

    def _request_sink(self) -> RequestSink:
        sink = self.environment.request_sink
        if type(self).context is User.context:
            return sink  # the common case: nothing to merge, no extra call per request
        user_context = self.context

        def merging_sink(
            request_type: str,
            name: str,
            response_time: float,
            response_length: int,
            response: object | None,
            context: dict[str, Any],
            exception: BaseException | None,
            start_time: float,
            url: str,
        ) -> None:
            # As in Locust, the request's own context= entries win over the user's.
            merged = {**user_context(), **context}
            sink(
                request_type,
                name,
                response_time,
                response_length,
                response,
                merged,
                exception,
                start_time,
                url,
            )

        return merging_sink

    def _signal_for(self, exception: BaseException) -> ControlFlowSignal | None:
        if isinstance(exception, InvalidURL) and not self.effective_host:
            return StopTest(NO_HOST_MESSAGE)
        return None

    def _close_client(self) -> None:
        self.client.close()


class FastHttpUser(HttpUser):
    """Locust's FastHttpUser API on the same client: its class attributes, plus `rest()`.

    Attributes:
        network_timeout: the longest wait for the next byte of a response, in seconds
            (Locust's meaning and default, 60): a per-read timeout, not a deadline.
        connection_timeout: seconds to wait for a connection (Locust's default, 60).
        deadline: seconds from sending a request to the end of its response, redirects
            included, for every request (a request's own `deadline=` wins); None, the
            default, for none.
        max_redirects: redirects followed before a request fails.
        insecure: True skips TLS certificate verification. The default is False (verify),
            unlike Locust's FastHttpUser: a deliberate difference, see the module docstring.
        default_headers: headers sent with every request.
    """

    abstract: ClassVar[bool] = True
    network_timeout: ClassVar[float] = 60.0
    connection_timeout: ClassVar[float] = 60.0
    deadline: ClassVar[float | None] = None
    max_redirects: ClassVar[int] = 30
    insecure: ClassVar[bool] = False
    default_headers: ClassVar[Mapping[str, str] | None] = None

    def _session_options(self) -> dict[str, Any]:
        options = super()._session_options()
        cls = type(self)
        options["verify"] = not cls.insecure
        options["timeout"] = (cls.connection_timeout, cls.network_timeout)
        options["deadline"] = cls.deadline
        options["max_redirects"] = cls.max_redirects
        if cls.default_headers:
            options["default_headers"] = dict(cls.default_headers)
        return options

    def rest(
        self, method: str, url: str, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> AbstractContextManager[Any]:
        """A JSON request as a context manager (Locust's `FastHttpUser.rest`).

        Yields the response with `.js` (the parsed JSON body); a response that is not JSON,
        an `AssertionError` or another exception in the block marks the request failed.
        """
        return self.client.rest(method, url, headers=headers, **kwargs)

    @contextmanager
    def rest_(
        self,
        method: str,
        url: str,
        name: str | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """`rest()` with a `_=<milliseconds>` query parameter, to defeat caches.

        The statistics name keeps a literal `_=...`, so the calls group in one row.
        """
        separator = "&" if "?" in url else "?"
        if name is None:
            name = f"{url}{separator}_=..."
        stamped = f"{url}{separator}_={int(time.time() * 1000)}"
        with self.rest(method, stamped, headers=headers, name=name, **kwargs) as response:
            yield response
