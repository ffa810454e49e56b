"""URLs: the base URL of a session, joining paths to it, and query strings.

The common case (a relative path like "/cats/17", no `params`) never touches urllib.parse:
it is one string concatenation, because it runs on every request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlencode, urlsplit

from loadhopper._exceptions import InvalidURL
from loadhopper.http._pool import Origin

__all__ = ["BaseURL", "Params", "ResolvedURL", "add_params", "parse_absolute", "quote_target"]

Params = Mapping[str, object] | Iterable[tuple[str, object]] | str | bytes | None

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left as they are in a request target: RFC 3986 reserved and unreserved, and "%"
# so that escapes the user already wrote are not escaped twice (requests' requote_uri rule).
_SAFE = "!$%&'()*+,/:;=?@[]~"


@dataclass(frozen=True, slots=True)
class ResolvedURL:
    """An absolute URL split the way the client needs it."""

    origin: Origin
    target: str  # path and query, percent-encoded, no fragment: what goes on the request line
    origin_text: str  # "http://host:port", port omitted when default
    auth: tuple[str, str] | None  # from user:password@ in the URL


@dataclass(frozen=True, slots=True)
class BaseURL:
    """A session's base URL: where relative paths go.

    Attributes:
        prefix: the base path without its trailing slash ("" or "/api"), so that joining
            gives exactly one slash whatever the user wrote on either side.
    """

    resolved: ResolvedURL
    prefix: str

    @classmethod
    def parse(cls, url: str) -> BaseURL:
        """Parse a base URL such as "http://user:pw@localhost:5001/api/".

        Raises:
            InvalidURL: not an absolute http or https URL.
        """
        resolved = parse_absolute(url)
        path = resolved.target.partition("?")[0]
        return cls(resolved, path.rstrip("/"))

    def join(self, path: str) -> str:
        """The request target for a relative path: exactly one slash between base and path."""
        if path[:1] == "/" and path[1:2] != "/":
            return self.prefix + path
        return self.prefix + "/" + path.lstrip("/")


def parse_absolute(url: str) -> ResolvedURL:
    """Split an absolute http(s) URL into origin, request target and credentials.

    Raises:
        InvalidURL: the URL has no host, a scheme other than http/https, or a bad port.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"the URL {url!r} is malformed ({exc}); check it") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidURL(
            f"the URL {url!r} must start with http:// or https:// (set the host, e.g. -H)"
        )
    host = parts.hostname
    if not host:
        raise InvalidURL(f"the URL {url!r} has no host name; add one after the scheme")
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    default = _DEFAULT_PORTS[scheme]
    if port is None:
        port = default
    shown_host = f"[{host}]" if ":" in host else host
    origin_text = f"{scheme}://{shown_host}" + ("" if port == default else f":{port}")
    target = quote_target(parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    auth = None
    if parts.username is not None:
        auth = (unquote(parts.username), unquote(parts.password or ""))
    return ResolvedURL(Origin(scheme, host, port), target, origin_text, auth)


def quote_target(target: str) -> str:
    """Percent-encode what may not appear raw in a request target; drop any fragment."""
    target = target.partition("#")[0]
    if target.isascii() and " " not in target and target.isprintable():
        return target
    return quote(target, safe=_SAFE)


def add_params(target: str, params: Params) -> str:
    """Append a query string built from `params` (dict, list of pairs, or str).

    List values repeat the key (`{"a": [1, 2]}` gives `a=1&a=2`) and None values are left
    out, as requests does.
    """
    if params is None:
        return target
    if isinstance(params, bytes):
        params = params.decode("ascii")
    query = params.lstrip("?") if isinstance(params, str) else urlencode(list(form_pairs(params)))
    if not query:
        return target
    return target + ("&" if "?" in target else "?") + query


def form_pairs(
    fields: Mapping[str, object] | Iterable[tuple[str, object]],
) -> Iterable[tuple[str, str]]:
    """Flatten a dict or list of pairs into (key, value) strings for a form or query."""
    items = fields.items() if isinstance(fields, Mapping) else fields
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, list | tuple):
            for item in value:
                if item is not None:
                    yield key, _text(item)
        else:
            yield key, _text(value)


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
