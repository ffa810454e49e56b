"""Serializing a session's requests: header blocks built once per origin, then reused.

A mixin of HttpSession: it reads the session's headers, auth, cookies and base URL. The
session's constant header lines (Host, User-Agent, Accept, Accept-Encoding, Connection and
any default headers) are serialized to bytes once per origin and reused until
`session.headers` or `session.auth` changes; a request with no headers of its own only adds
Cookie, Content-Type and Content-Length lines to them.

A request with an auth object (`_sign`) is serialized from what the object left: every
header it removed, the session's included, is left out.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import NamedTuple

from loadhopper.http._auth import AuthCallable, sign
from loadhopper.http._body import basic_auth
from loadhopper.http._cookies import CookieJar
from loadhopper.http._headers import MutableHeaders
from loadhopper.http._pool import Origin
from loadhopper.http._protocol import build_header_block, serialize_request
from loadhopper.http._url import BaseURL

__all__ = ["RequestWriter", "SignedRequest"]

_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))
_MAX_SHARED_BLOCKS = 1024
_SHARED_BLOCKS: dict[bytes, bytes] = {}


class SignedRequest(NamedTuple):
    """A request after its auth object: the headers to send over the session's, URL, body."""

    headers: dict[str, str | None]  # None: leave the session's header of that name out
    url: str
    body: bytes


class RequestWriter:
    """Turns a prepared request into bytes for the wire."""

    _headers: MutableHeaders
    _auth: tuple[str, str] | None
    cookies: CookieJar
    _base: BaseURL | None
    _blocks: dict[Origin, bytes]
    _blocks_key: tuple[int, tuple[str, str] | None]

    def _origin_block(self, origin: Origin) -> bytes:
        """Host and the session's headers as bytes, built once per origin and headers version."""
        key = (self._headers.version, self._auth)
        if key != self._blocks_key:
            self._blocks.clear()
            self._blocks_key = key
        block = self._blocks.get(origin)
        if block is None:
            block = build_header_block(self._header_pairs(origin, None, None))
            # Users of one test build equal blocks: keep one copy of each for all of them.
            if len(_SHARED_BLOCKS) < _MAX_SHARED_BLOCKS:
                block = _SHARED_BLOCKS.setdefault(block, block)
            self._blocks[origin] = block
        return block

    def _header_pairs(
        self,
        origin: Origin,
        headers: Mapping[str, str | None] | None,
        auth: tuple[str, str] | None,
    ) -> list[tuple[str, str]]:
        """Host, the session's headers, auth, then the request's headers over them."""
        merged: dict[str, tuple[str, str]] = {"host": ("Host", _host_header(origin))}
        for key, value in self._headers.pairs():
            merged[key.lower()] = (key, value)
        base = self._base
        if auth is None and self._auth is not None and base and origin == base.resolved.origin:
            auth = self._auth  # session credentials only go to the base origin
        if auth is not None:
            merged["authorization"] = ("Authorization", basic_auth(auth))
        if headers:
            for key, given in headers.items():
                if given is None:
                    merged.pop(key.lower(), None)  # requests: None removes a default header
                else:
                    merged[key.lower()] = (key, str(given))
        return list(merged.values())

    def _serialize(
        self,
        method: str,
        origin: Origin,
        target: str,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str | None] | None,
        cookies: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
    ) -> bytes:
        if headers or auth is not None:
            pairs = self._header_pairs(origin, headers, auth)
            explicit = {name.lower() for name, _ in pairs}
            block = build_header_block(pairs)
        else:
            explicit = None
            block = self._origin_block(origin)
        extra = []
        if self.cookies.has_cookies() or cookies:
            cookie = self._cookie_header(origin, target, cookies)
            if cookie and (explicit is None or "cookie" not in explicit):
                extra.append(f"Cookie: {cookie}\r\n")
        if content_type is not None:
            seen = explicit if explicit is not None else self._headers
            if "content-type" not in seen:
                extra.append(f"Content-Type: {content_type}\r\n")
        if body or method in _BODY_METHODS:
            extra.append(f"Content-Length: {len(body)}\r\n")
        if extra:
            block += "".join(extra).encode("latin-1")
        return serialize_request(method.encode("ascii"), target.encode("ascii"), block, body)

    def _sign(
        self,
        signer: AuthCallable,
        method: str,
        origin: Origin,
        url: str,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str | None] | None,
    ) -> SignedRequest:
        """Call an auth object on the request as requests prepares it (see `_auth`)."""
        merged: dict[str, tuple[str, str]] = {}
        for key, value in self._headers.pairs():
            merged[key.lower()] = (key, value)
        for key, given in (headers or {}).items():
            if given is None:
                merged.pop(key.lower(), None)
            else:
                merged[key.lower()] = (key, str(given))
        if content_type is not None and "content-type" not in merged:
            merged["content-type"] = ("Content-Type", content_type)
        if body or method in _BODY_METHODS:
            merged["content-length"] = ("Content-Length", str(len(body)))
        signed = sign(signer, method, url, list(merged.values()), body)
        # What the object left is the whole set: the session's headers it removed (and
        # the session's Basic credentials, which it replaces) are left out explicitly.
        final: dict[str, str | None] = {key: None for key, _ in self._headers.pairs()}
        final["Authorization"] = None
        lowered = {key.lower(): key for key in final}
        for key, value in signed.headers:
            if key.lower() == "content-length":
                continue  # counted again from the body the object left
            final.pop(lowered.get(key.lower(), key), None)
            final[key] = value
        return SignedRequest(final, signed.url, signed.body)

    def _cookie_header(
        self, origin: Origin, target: str, cookies: Mapping[str, str] | None
    ) -> str | None:
        path = target.partition("?")[0]
        stored = self.cookies.header_for(origin.host, path, origin.scheme == "https", time.time())
        if not cookies:
            return stored
        extra = "; ".join(f"{k}={v}" for k, v in cookies.items())
        return f"{stored}; {extra}" if stored else extra


def _host_header(origin: Origin) -> str:
    host = f"[{origin.host}]" if ":" in origin.host else origin.host
    default = 443 if origin.scheme == "https" else 80
    return host if origin.port == default else f"{host}:{origin.port}"
