"""HTTP proxies as requests takes them: `proxies={"http": "http://127.0.0.1:3128", ...}`.

What is supported, and how it goes on the wire:

- An `http://` URL through a proxy is sent to the proxy with the request line in absolute
  form (`GET http://host:port/path HTTP/1.1`, RFC 9112 §3.2.2), with `Proxy-Authorization:
  Basic ...` when the proxy URL carries credentials (`http://user:pw@proxy:3128`).
- An `https://` URL opens a `CONNECT host:port` tunnel through the proxy (RFC 9110 §9.3.6),
  then TLS to the target through it; the credentials go on the CONNECT only. A proxy that
  answers the CONNECT with anything but 2xx fails the request, naming the proxy and status.
- Keys are looked up as requests does: "scheme://host", then "scheme", then "all://host",
  then "all"; a key whose value is None (or no key) means no proxy for those URLs.

What is not: SOCKS proxies (`socks5://`), a TLS connection to the proxy itself (an
`https://` proxy URL), proxy authentication other than Basic, and the environment
(`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`, which requests reads when `trust_env` is on):
a load test should go where its locustfile says, not where the shell it was started from
happens to point. The `no_proxy` key of the mapping is ignored, as requests ignores it for
explicit proxies (it only filters the environment's).

A `ProxyMap` is hashable and compares by value, so the pool can file connections under it:
connections through a proxy are never reused for direct requests, nor the other way round.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

__all__ = ["ProxiesArg", "Proxy", "ProxyMap", "SessionProxies", "parse_proxies", "parse_proxy"]

# requests' `proxies=`: a proxy URL, or None for "no proxy", per scheme or scheme and host.
ProxiesArg = Mapping[str, str | None]

_IGNORED_KEYS = frozenset(("no_proxy",))
_PARSED_CACHE_SIZE = 64  # distinct `proxies=` mappings whose parsed form is kept


@dataclass(frozen=True, slots=True)
class Proxy:
    """One HTTP proxy.

    Attributes:
        host: the proxy's host name or address (IPv6 without brackets).
        port: its port (80 when the URL has none, as urllib3 defaults it).
        authorization: the `Proxy-Authorization` value, or None without credentials.
    """

    host: str
    port: int
    authorization: str | None = field(default=None, repr=False)  # kept out of reprs

    @property
    def address(self) -> str:
        """`host:port`, for messages (never the credentials)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_proxy(url: str) -> Proxy:
    """The Proxy for a proxy URL; a URL without a scheme is taken as http://, as requests does.

    Raises:
        ValueError: the URL is not an http:// proxy URL with a host (SOCKS and https://
            proxies are not supported).
    """
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme.startswith("socks"):
        raise ValueError(
            f"SOCKS proxies are not supported (got {_masked(parts)}); use an http:// proxy"
        )
    if scheme != "http":
        raise ValueError(
            f"the proxy URL {_masked(parts)} must start with http:// (TLS to the proxy itself "
            "is not supported; https:// targets still go through an http:// proxy)"
        )
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise ValueError(f"the proxy URL {_masked(parts)} has a bad port") from exc
    if not parts.hostname:
        raise ValueError(f"the proxy URL {_masked(parts)} has no host")
    authorization = None
    if parts.username is not None:
        authorization = _basic(unquote(parts.username), unquote(parts.password or ""))
    return Proxy(parts.hostname, port, authorization)


@dataclass(frozen=True, slots=True)
class ProxyMap:
    """A parsed `proxies=` mapping: which proxy, if any, each origin goes through.

    Compares and hashes by its entries only (sorted key and URL pairs), so that equal
    mappings file their connections together in the pool.
    """

    entries: tuple[tuple[str, str], ...]
    _proxies: dict[str, Proxy] = field(compare=False, hash=False, repr=False)

    def select(self, scheme: str, host: str) -> Proxy | None:
        """The proxy for URLs of `scheme` on `host`, or None to connect directly."""
        proxies = self._proxies
        for key in (f"{scheme}://{host}", scheme, f"all://{host}", "all"):
            proxy = proxies.get(key)
            if proxy is not None:
                return proxy
        return None


def parse_proxies(proxies: ProxiesArg | None) -> ProxyMap | None:
    """The ProxyMap of a requests-style mapping, or None when it names no proxy.

    Parsed mappings are cached by their contents, so a task that passes the same
    `proxies=` on every request parses it once.

    Raises:
        ValueError: a key is not a string, or a proxy URL is not supported (see `parse_proxy`).
    """
    if not proxies:
        return None
    items = []
    for key, url in proxies.items():
        if not isinstance(key, str):
            raise ValueError(f"proxies keys must be strings such as 'http' (got {key!r})")
        if url is None or key.lower() in _IGNORED_KEYS:
            continue
        if not isinstance(url, str):
            raise ValueError(f"the proxy for {key!r} must be a URL string (got {url!r})")
        items.append((key.lower(), url))
    if not items:
        return None
    return _parsed(tuple(sorted(items)))


@functools.lru_cache(maxsize=_PARSED_CACHE_SIZE)
def _parsed(entries: tuple[tuple[str, str], ...]) -> ProxyMap:
    return ProxyMap(entries, {key: parse_proxy(url) for key, url in entries})


class SessionProxies(dict[str, str | None]):
    """`session.proxies`, requests' dict: changes made in place reach the pool at once.

    Each change is checked (a bad or unsupported URL raises ValueError and leaves the dict as
    it was) and the parsed map handed to `on_change`, so that no request pays for noticing.
    """

    __slots__ = ("_on_change",)

    def __init__(
        self, on_change: Callable[[ProxyMap | None], None], initial: ProxiesArg | None = None
    ) -> None:
        super().__init__()
        self._on_change = on_change
        if initial:
            self.update(initial)

    def _changed(self, before: dict[str, str | None]) -> None:
        try:
            parsed = parse_proxies(self)
        except ValueError:
            super().clear()
            super().update(before)
            raise
        self._on_change(parsed)

    def __setitem__(self, key: str, value: str | None) -> None:
        before = dict(self)
        super().__setitem__(key, value)
        self._changed(before)

    def __delitem__(self, key: str) -> None:
        before = dict(self)
        super().__delitem__(key)
        self._changed(before)

    def update(self, *args: Any, **kwargs: str | None) -> None:  # dict's overloads, in one
        before = dict(self)
        super().update(*args, **kwargs)
        self._changed(before)

    def __ior__(self, other: Any) -> SessionProxies:  # type: ignore[override,misc]
        self.update(other)
        return self

    def setdefault(self, key: str, default: str | None = None) -> str | None:
        if key in self:
            return self[key]
        self[key] = default
        return default

    def pop(self, key: str, *default: Any) -> Any:
        before = dict(self)
        value = super().pop(key, *default)
        self._changed(before)
        return value

    def popitem(self) -> tuple[str, str | None]:
        before = dict(self)
        item = super().popitem()
        self._changed(before)
        return item

    def clear(self) -> None:
        before = dict(self)
        super().clear()
        self._changed(before)

    def __reduce__(self) -> Any:  # a copy (copy.copy, pickle) is a plain dict
        return (dict, (dict(self),))


def _basic(user: str, password: str) -> str:
    """The Basic credentials value (latin-1 when possible, as requests encodes them)."""
    raw = f"{user}:{password}"
    try:
        encoded = raw.encode("latin-1")
    except UnicodeEncodeError:
        encoded = raw.encode("utf-8")
    return "Basic " + base64.b64encode(encoded).decode("ascii")


def _masked(parts: SplitResult) -> str:
    """A proxy URL for a message, its password replaced."""
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    return f"{parts.scheme}://{netloc}" if parts.scheme else netloc
