"""A session's connections, kept open and reused per origin (scheme, host, port) and route.

A *route* is how a connection reaches its origin: its TLS settings (`verify=`, `cert=`) and
the proxies it may go through. Two connections to one origin made with different routes are
never reused for one another, so the route is part of the key idle connections are filed
under, but only when it is not the pool's default: a request without per-request settings
passes `route=None`, and its connections are filed by origin alone, as before routes
existed. That is the hot path, and it pays one `is None` test for them.

    take_idle(origin)              -> filed under origin          (the session's settings)
    take_idle(origin, route)       -> filed under (origin, route) (a request's own settings)

`route()` turns a request's `verify=`, `cert=` and `proxies=` into a Route, or into None
when they come to the pool's default, so that a request that restates the session's
settings shares the session's connections.

Changing the default (`pool.verify = False`, `pool.cert = ...`, `pool.proxies[...] = ...`)
closes the idle connections filed under the old default, and the in-use ones when their
request ends, like `close()`, so none made with the old settings serves a later request.
"""

from __future__ import annotations

from typing import NamedTuple

from loadhopper.http._connect import open_connection
from loadhopper.http._connection import Connection
from loadhopper.http._protocol import DEFAULT_MAX_HEADER_BYTES
from loadhopper.http._proxy import ProxiesArg, ProxyMap, SessionProxies, parse_proxies
from loadhopper.http._source import SourceAddresses
from loadhopper.http._tls import CertArg, TLSSettings, VerifyArg, merge_tls, tls_settings

__all__ = ["ConnectionPool", "Origin", "Route"]


class Origin(NamedTuple):
    """Where a connection goes; the pool's key."""

    scheme: str  # "http" or "https"
    host: str
    port: int


class Route(NamedTuple):
    """How a connection reaches its origin: TLS settings and proxies (hashable, by value)."""

    tls: TLSSettings
    proxies: ProxyMap | None


# A key is an Origin (3 fields) or (Origin, Route) (2 fields): tuples of different
# lengths, so the two kinds never collide.
_Key = Origin | tuple[Origin, Route]


class ConnectionPool:
    """Idle keep-alive connections of one session, by origin and route.

    A user normally has one request in flight, so each origin usually holds one connection;
    concurrent requests from `async def` tasks open more, and all of them are kept.

    Args:
        verify: the default TLS verification (see `verify`).
        max_header_bytes: the largest response header section accepted.
        cert: the default client certificate (see `cert`).
        proxies: the default proxies (see `proxies`).
        source: the local addresses new connections are made from (`--local-ips`); None
            for the kernel's choice.
    """

    __slots__ = ("_default", "_generation", "_idle", "_max_header_bytes", "_proxies", "_source")

    def __init__(
        self,
        verify: VerifyArg = True,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        *,
        cert: CertArg | None = None,
        proxies: ProxiesArg | None = None,
        source: SourceAddresses | None = None,
    ) -> None:
        self._max_header_bytes = max_header_bytes
        self._source = source
        self._idle: dict[_Key, list[Connection]] = {}
        # In-use connections are not tracked (a set add and discard per request). Instead each
        # connection carries the generation it was opened in, and close() starts a new one: a
        # request that ends after close() sees an old generation and closes its connection.
        self._generation = 0
        self._default = Route(tls_settings(verify, cert), parse_proxies(proxies))
        self._proxies = SessionProxies(self._proxies_changed, proxies)

    # --- the default route ---------------------------------------------------------------------

    @property
    def default_route(self) -> Route:
        """The route of requests that pass `route=None`."""
        return self._default

    @default_route.setter
    def default_route(self, route: Route) -> None:
        if route == self._default:
            return
        self._default = route
        self._generation += 1
        for key, idle in list(self._idle.items()):
            if type(key) is Origin:  # made with the old default: never serves the new one
                for connection in idle:
                    connection.close()
                del self._idle[key]
            else:  # a request's own route, still good: it lives on in the new generation
                for connection in idle:
                    connection.generation = self._generation

    @property
    def verify(self) -> bool | str:
        """The default TLS verification, as requests takes it: True (the system's CAs),
        False, or the path of a CA bundle file or directory. Applies from the next request."""
        return self._default.tls.verify

    @verify.setter
    def verify(self, value: VerifyArg) -> None:
        self.default_route = self._default._replace(tls=merge_tls(self._default.tls, value, None))

    @property
    def cert(self) -> str | tuple[str, str] | None:
        """The default client certificate: a PEM file with its key, a (cert, key) pair, or
        None. Applies from the next request."""
        pair = self._default.tls.cert
        if pair is None:
            return None
        certfile, keyfile = pair
        return certfile if keyfile is None else (certfile, keyfile)

    @cert.setter
    def cert(self, value: CertArg | None) -> None:
        tls = tls_settings(self._default.tls.verify, value)
        self.default_route = self._default._replace(tls=tls)

    @property
    def proxies(self) -> SessionProxies:
        """The default proxies: requests' `session.proxies` dict, changes seen at once."""
        return self._proxies

    @proxies.setter
    def proxies(self, value: ProxiesArg | None) -> None:
        replacement = SessionProxies(self._proxies_changed, value)  # raises if value is bad
        self._proxies._on_change = _ignore  # a dict the caller kept no longer steers the pool
        self._proxies = replacement
        self._proxies_changed(parse_proxies(replacement))

    def _proxies_changed(self, proxies: ProxyMap | None) -> None:
        self.default_route = self._default._replace(proxies=proxies)

    def route(
        self,
        verify: VerifyArg | None = None,
        cert: CertArg | None = None,
        proxies: ProxiesArg | None = None,
    ) -> Route | None:
        """The route of a request's `verify=`, `cert=` and `proxies=`, over the defaults as
        requests merges them (None keeps the default; a proxies key set to None removes the
        default's proxy for it); None when that is the default route.

        Raises:
            TypeError: `verify` or `cert` is not a form requests takes.
            ValueError: a proxy URL is bad or not supported (SOCKS, https:// proxies).
        """
        default = self._default
        tls = default.tls
        if verify is not None or cert is not None:
            tls = merge_tls(tls, verify, cert)
        proxy_map = default.proxies
        if proxies is not None:
            merged = dict(self._proxies)
            merged.update(proxies)
            proxy_map = parse_proxies(merged)
        route = Route(tls, proxy_map)
        return None if route == default else route

    # --- connections ---------------------------------------------------------------------------

    def take_idle(self, origin: Origin, route: Route | None = None) -> Connection | None:
        """An open idle connection to `origin` by `route` (None: the default), or None; the
        most recently used first."""
        idle = self._idle.get(origin if route is None else (origin, route))
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
        return None

    async def connect(
        self, origin: Origin, connect_timeout: float | None, route: Route | None = None
    ) -> Connection:
        """Open a new connection to `origin` by `route` (see `open_connection` for the errors)."""
        generation = self._generation  # before the await: close() may come meanwhile
        settings = self._default if route is None else route
        proxies = settings.proxies
        connection = await open_connection(
            origin.scheme,
            origin.host,
            origin.port,
            settings.tls,
            connect_timeout,
            self._max_header_bytes,
            None if proxies is None else proxies.select(origin.scheme, origin.host),
            self._source,
        )
        connection.generation = generation
        return connection

    def release(self, origin: Origin, connection: Connection, route: Route | None = None) -> None:
        """Give a connection back after its response, under the route it was opened by;
        closed ones are dropped."""
        if connection.closed:
            return
        if connection.generation != self._generation:
            connection.close()
            return
        key = origin if route is None else (origin, route)
        idle = self._idle.get(key)
        if idle is None:
            self._idle[key] = [connection]
        else:
            idle.append(connection)

    def discard(self, connection: Connection) -> None:
        """Drop a connection that failed or whose request was abandoned.

        No route: a discarded connection is closed, not filed anywhere.
        """
        connection.abort()

    def idle_count(self, origin: Origin, route: Route | None = None) -> int:
        """How many open idle connections `origin` has by `route` (for tests and statistics)."""
        key = origin if route is None else (origin, route)
        return sum(1 for c in self._idle.get(key, ()) if not c.closed)

    def close(self) -> None:
        """Close every idle connection now, and each in-use one when its request ends.

        The pool stays usable: later requests open new connections.
        """
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        self._generation += 1


def _ignore(_: ProxyMap | None) -> None:
    pass
