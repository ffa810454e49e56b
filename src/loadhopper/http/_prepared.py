"""`PreparedRequest`: a request as requests' PreparedRequest shows it, for auth and responses.

Two readers need one: an auth object (`auth=HTTPBasicAuth(...)`, a custom `AuthBase`), which
requests calls with the prepared request so that it can change its headers, URL or body
before it is sent; and `response.request`, which shows what was sent. The second is built
from the request's serialized bytes only when user code reads it, so that no request pays
for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loadhopper.http._headers import MutableHeaders

__all__ = ["PreparedRequest", "from_wire"]

_HOOKS_MESSAGE = (
    "response hooks are not supported (HTTPDigestAuth and other challenge-response auth "
    "need them); set the Authorization header yourself or use Basic auth"
)


class PreparedRequest:
    """A request's method, URL, headers and body, as requests' PreparedRequest names them.

    Attributes:
        method: the HTTP method ("GET").
        url: the absolute URL, query included.
        headers: the headers, case-insensitive and mutable (an auth object may add some).
        body: the body as bytes, or None when there is none.
    """

    __slots__ = ("body", "headers", "method", "url")

    def __init__(
        self, method: str, url: str, headers: MutableHeaders, body: bytes | str | None
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body

    @property
    def path_url(self) -> str:
        """The path and query of the URL, as on the request line."""
        rest = self.url.partition("://")[2]
        slash = rest.find("/")
        return "/" if slash < 0 else rest[slash:]

    def register_hook(self, event: str, hook: Callable[..., Any]) -> None:
        """Refused: loadhopper sends each request once, with no response hooks."""
        raise TypeError(_HOOKS_MESSAGE)

    def __repr__(self) -> str:
        return f"<PreparedRequest [{self.method}]>"


def from_wire(wire: bytes, url: str) -> PreparedRequest:
    """The PreparedRequest of a serialized request (the headers as sent, Host included)."""
    head, _, body = wire.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method = lines[0].partition(" ")[0]
    headers = MutableHeaders()
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name] = value.strip()
    headers.version = 0
    return PreparedRequest(method, url, headers, body or None)
