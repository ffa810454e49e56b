"""A session's connections, kept open and reused per origin (scheme, host, port)."""

from __future__ import annotations

from typing import NamedTuple

from loadhopper.http._connection import Connection, open_connection
from loadhopper.http._protocol import DEFAULT_MAX_HEADER_BYTES

__all__ = ["ConnectionPool", "Origin"]


class Origin(NamedTuple):
    """Where a connection goes; the pool's key."""

    scheme: str  # "http" or "https"
    host: str
    port: int


class ConnectionPool:
    """Idle keep-alive connections of one session, by origin.

    A user normally has one request in flight, so each origin usually holds one connection;
    concurrent requests from `async def` tasks open more, and all of them are kept.
    """

    __slots__ = ("_generation", "_idle", "_max_header_bytes", "verify")

    def __init__(
        self, verify: bool | str = True, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    ) -> None:
        self.verify = verify  # for connections opened from now on
        self._max_header_bytes = max_header_bytes
        self._idle: dict[Origin, list[Connection]] = {}
        # In-use connections are not tracked (a set add and discard per request). Instead each
        # connection carries the generation it was opened in, and close() starts a new one: a
        # request that ends after close() sees an old generation and closes its connection.
        self._generation = 0

    def take_idle(self, origin: Origin) -> Connection | None:
        """An open idle connection to `origin`, or None (the most recently used first)."""
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
        return None

    async def connect(self, origin: Origin, connect_timeout: float | None) -> Connection:
        """Open a new connection to `origin` (see `open_connection` for the errors)."""
        generation = self._generation  # before the await: close() may come meanwhile
        connection = await open_connection(
            origin.scheme,
            origin.host,
            origin.port,
            self.verify,
            connect_timeout,
            self._max_header_bytes,
        )
        connection.generation = generation
        return connection

    def release(self, origin: Origin, connection: Connection) -> None:
        """Give a connection back after its response; closed ones are dropped."""
        if connection.closed:
            return
        if connection.generation != self._generation:
            connection.close()
            return
        idle = self._idle.get(origin)
        if idle is None:
            self._idle[origin] = [connection]
        else:
            idle.append(connection)

    def discard(self, connection: Connection) -> None:
        """Drop a connection that failed or whose request was abandoned."""
        connection.abort()

    def idle_count(self, origin: Origin) -> int:
        """How many open idle connections `origin` has (for tests and statistics)."""
        return sum(1 for c in self._idle.get(origin, ()) if not c.closed)

    def close(self) -> None:
        """Close every idle connection now, and each in-use one when its request ends.

        The pool stays usable: later requests open new connections.
        """
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        self._generation += 1
