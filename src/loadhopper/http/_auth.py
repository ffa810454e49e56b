"""`auth=` objects: requests' auth protocol (`AuthBase`), called once per request.

requests calls an auth object with the PreparedRequest just before sending it; the object
changes what it needs (nearly always a header: `r.headers["Authorization"] = ...`; signers
also read `r.method`, `r.url`, `r.body` and may rewrite the URL or the body) and returns the
request. The same happens here, on a `PreparedRequest` holding the session's and the
request's headers, Content-Type and Content-Length (Cookie and Host are added afterwards),
and whatever it leaves is what is sent. `requests.auth.HTTPBasicAuth` and `HTTPProxyAuth`
work through that protocol; `HTTPDigestAuth` does not (it needs response hooks and a second
request), and saying so is the PreparedRequest's `register_hook`.

A `(user, password)` tuple stays on the cheaper path of Basic credentials folded into the
session's prepared header lines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from loadhopper.http._headers import MutableHeaders
from loadhopper.http._prepared import PreparedRequest

__all__ = ["AuthArg", "AuthCallable", "Signed", "check_auth", "sign"]

AuthCallable = Callable[[PreparedRequest], Any]
AuthArg = tuple[str, str] | AuthCallable | None


def check_auth(auth: object) -> None:
    """Refuse at once what is neither Basic credentials nor an auth object.

    Raises:
        TypeError: `auth` is not a (user, password) tuple or a callable auth object.
    """
    if auth is None or callable(auth):
        return
    if isinstance(auth, tuple) and len(auth) == 2:
        return
    raise TypeError(
        f"auth of type {type(auth).__name__} cannot be used; pass a (user, password) tuple "
        "or an auth object such as requests.auth.HTTPBasicAuth"
    )


class Signed:
    """What an auth object left of a request: its URL, header pairs and body."""

    __slots__ = ("body", "headers", "url")

    def __init__(self, url: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.url = url
        self.headers = headers
        self.body = body


def sign(
    auth: AuthCallable, method: str, url: str, headers: list[tuple[str, str]], body: bytes
) -> Signed:
    """Call `auth` on the request as requests does, and read back what it changed.

    Raises:
        TypeError: the auth object left a URL that is not a str or a body that is not bytes
            or str.
    """
    view = MutableHeaders()
    for name, value in headers:
        view[name] = value
    request = PreparedRequest(method, url, view, body or None)
    result = auth(request)
    # requests uses what the object returns; an object that forgets to return it changed
    # the request in place, which is just as clear.
    done = request if result is None else result
    new_url = getattr(done, "url", url)
    if not isinstance(new_url, str):
        raise TypeError(f"the auth object set the URL to a {type(new_url).__name__}; set a str")
    new_body = getattr(done, "body", None)
    if new_body is None:
        new_body = b""
    elif isinstance(new_body, str):
        new_body = new_body.encode("utf-8")
    elif not isinstance(new_body, bytes):
        raise TypeError(
            f"the auth object set a body of type {type(new_body).__name__}; set bytes or str"
        )
    new_headers: Mapping[str, Any] = getattr(done, "headers", view)
    pairs = [(str(name), str(value)) for name, value in new_headers.items()]
    return Signed(new_url, pairs, new_body)
