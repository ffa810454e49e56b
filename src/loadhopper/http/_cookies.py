"""A per-session cookie jar: Set-Cookie in, Cookie header out (RFC 6265, without I/O).

The jar is also a mapping from cookie name to value, as requests' jar is, because locustfiles
read and write `self.client.cookies["session"]` directly. A cookie set that way has no domain
and is sent to every host.
"""

from __future__ import annotations

import email.utils
import ipaddress
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass

__all__ = ["Cookie", "CookieJar"]


@dataclass(slots=True)
class Cookie:
    """One stored cookie.

    Attributes:
        domain: lower-case host or domain without a leading dot; "" matches every host.
        host_only: true when the cookie came without a Domain attribute (exact host match).
        expires: epoch seconds, or None for a session cookie.
    """

    name: str
    value: str
    domain: str
    path: str
    host_only: bool
    secure: bool
    expires: float | None


class CookieJar(MutableMapping[str, str]):
    """The cookies of one session, keyed by (domain, path, name)."""

    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str, str], Cookie] = {}

    # --- the mapping view (by name, whatever the domain) --------------------------------------

    def __getitem__(self, name: str) -> str:
        for cookie in self._cookies.values():
            if cookie.name == name:
                return cookie.value
        raise KeyError(name)

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        keys = [key for key, cookie in self._cookies.items() if cookie.name == name]
        if not keys:
            raise KeyError(name)
        for key in keys:
            del self._cookies[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(dict.fromkeys(cookie.name for cookie in self._cookies.values())))

    def __len__(self) -> int:
        return len(self._cookies)

    def has_cookies(self) -> bool:
        """Whether any cookie is stored (cheaper than `len()`, which goes through the ABC)."""
        return bool(self._cookies)

    def clear(self) -> None:
        """Remove every cookie."""
        self._cookies.clear()

    def get_dict(self) -> dict[str, str]:
        """The cookies as a plain `{name: value}` dict (requests' method of the same name)."""
        return {cookie.name: cookie.value for cookie in self._cookies.values()}

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        """Store a cookie by hand; with no domain it is sent to every host."""
        domain = domain.lstrip(".").lower()
        self._cookies[(domain, path, name)] = Cookie(
            name, value, domain, path, host_only=False, secure=False, expires=None
        )

    def cookies(self) -> list[Cookie]:
        """Every stored cookie (expired ones included until the next request purges them)."""
        return list(self._cookies.values())

    # --- the protocol side -----------------------------------------------------------------

    def extract(
        self, set_cookies: list[bytes], host: str, request_path: str, now: float
    ) -> dict[str, str]:
        """Store the cookies of a response's Set-Cookie values; return those it set.

        A cookie whose Domain does not cover `host` is ignored, as browsers do. A cookie that
        is already expired (Max-Age <= 0 or Expires in the past) deletes the stored one.
        """
        accepted: dict[str, str] = {}
        for raw in set_cookies:
            cookie = _parse_set_cookie(raw.decode("latin-1"), host, request_path, now)
            if cookie is None:
                continue
            key = (cookie.domain, cookie.path, cookie.name)
            if cookie.expires is not None and cookie.expires <= now:
                self._cookies.pop(key, None)
                continue
            self._cookies[key] = cookie
            accepted[cookie.name] = cookie.value
        return accepted

    def header_for(self, host: str, path: str, secure: bool, now: float) -> str | None:
        """The Cookie header value for a request, or None when no cookie applies."""
        matched: list[Cookie] = []
        expired: list[tuple[str, str, str]] = []
        for key, cookie in self._cookies.items():
            if cookie.expires is not None and cookie.expires <= now:
                expired.append(key)
            elif (
                (not cookie.secure or secure)
                and _domain_matches(cookie, host)
                and _path_matches(cookie.path, path)
            ):
                matched.append(cookie)
        for key in expired:
            del self._cookies[key]
        if not matched:
            return None
        # RFC 6265 §5.4: cookies with longer paths first.
        matched.sort(key=lambda c: len(c.path), reverse=True)
        return "; ".join(f"{c.name}={c.value}" for c in matched)


def _domain_matches(cookie: Cookie, host: str) -> bool:
    domain = cookie.domain
    if not domain or host == domain:
        return True
    return not cookie.host_only and host.endswith("." + domain) and not _is_ip(host)


def _path_matches(cookie_path: str, path: str) -> bool:
    """RFC 6265 §5.1.4: equal, or a prefix ending at a `/` boundary."""
    if path == cookie_path:
        return True
    if path.startswith(cookie_path):
        return cookie_path.endswith("/") or path[len(cookie_path)] == "/"
    return False


def _default_path(request_path: str) -> str:
    """RFC 6265 §5.1.4: the request path up to, not including, its last `/`."""
    if not request_path.startswith("/"):
        return "/"
    cut = request_path.rfind("/")
    return "/" if cut == 0 else request_path[:cut]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _parse_set_cookie(text: str, host: str, request_path: str, now: float) -> Cookie | None:
    """Parse one Set-Cookie value (RFC 6265 §5.2); None when it must be ignored."""
    pair, *attributes = text.split(";")
    name, sep, value = pair.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name:
        return None
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    domain, path, secure, expires, max_age = "", "", False, None, None
    for attribute in attributes:
        key, _, arg = attribute.partition("=")
        key, arg = key.strip().lower(), arg.strip()
        if key == "domain" and arg:
            domain = arg.lstrip(".").lower()
        elif key == "path" and arg.startswith("/"):
            path = arg
        elif key == "secure":
            secure = True
        elif key == "max-age":
            try:
                seconds = int(arg)
            except ValueError:
                continue
            max_age = now + seconds if seconds > 0 else now  # <= 0 means "delete it now"
        elif key == "expires":
            expires = _parse_http_date(arg)
    if domain and not (host == domain or (host.endswith("." + domain) and not _is_ip(host))):
        return None  # a server may not set cookies for a domain it is not part of
    return Cookie(
        name,
        value,
        domain or host,
        path or _default_path(request_path),
        host_only=not domain,
        secure=secure,
        expires=max_age if max_age is not None else expires,  # Max-Age wins (§5.3 step 3)
    )


def _parse_http_date(text: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
