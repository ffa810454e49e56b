"""One GET through a ConnectionPool, as the session does it: take an idle connection of the
route or open one, send, await the response, give the connection back under that route."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import uvloop

from loadhopper.http._pool import ConnectionPool, Origin, Route
from loadhopper.http._protocol import RawResponse, build_header_block, serialize_request

T = TypeVar("T")


def origin_of(url: str) -> Origin:
    scheme, _, rest = url.partition("://")
    host, _, port = rest.partition(":")
    return Origin(scheme, host, int(port))


async def get(
    pool: ConnectionPool, origin: Origin, path: str, route: Route | None = None
) -> RawResponse:
    connection = pool.take_idle(origin, route)
    if connection is None:
        connection = await pool.connect(origin, 5.0, route)
    block = build_header_block([("Host", f"{origin.host}:{origin.port}"), ("Accept", "*/*")])
    try:
        raw = await connection.send(
            serialize_request(b"GET", path.encode(), block, b""), False, 5.0
        )
    except BaseException:
        pool.discard(connection)
        raise
    pool.release(origin, connection, route)
    return raw


def echoed(raw: RawResponse) -> dict[str, Any]:
    """What the loopback server's /echo saw of the request."""
    payload: dict[str, Any] = json.loads(raw.body)
    return payload


def run(make: Callable[[], Awaitable[T]], loop: str = "uvloop") -> T:
    """Run a coroutine on uvloop (what runs load tests) or on asyncio's own loop."""

    async def main() -> T:
        return await make()

    if loop == "uvloop":
        return uvloop.run(main())
    return asyncio.run(main())
