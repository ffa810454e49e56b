"""The connection pool: keep-alive reuse per origin, Connection: close, closing."""

from __future__ import annotations

import asyncio

from _loopback import Recorder, Server, run_blocking

from loadhopper.http import HttpSession
from loadhopper.http._pool import Origin


def test_keep_alive_connections_are_reused(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    run_blocking(lambda: [session.get("/echo") for _ in range(5)])
    assert server.connections == 1
    assert session._pool.idle_count(Origin("http", "127.0.0.1", server.port)) == 1


def test_each_origin_has_its_own_connections(
    server: Server, other_server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    run_blocking(lambda: [session.get(u) for u in ("/echo", other_server.url + "/echo", "/echo")])
    assert server.connections == 1
    pool = session._pool
    assert pool.idle_count(Origin("http", "127.0.0.1", server.port)) == 1
    assert pool.idle_count(Origin("http", "127.0.0.1", other_server.port)) == 1


def test_connection_close_is_honoured(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    run_blocking(lambda: [session.get("/connection-close") for _ in range(3)])
    assert server.connections == 3
    assert [s[6] for s in sink.samples] == [None, None, None]


def test_close_and_aclose_drop_connections_and_the_session_stays_usable(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    origin = Origin("http", "127.0.0.1", server.port)

    def task() -> None:
        session.get("/echo")
        session.close()
        assert session._pool.idle_count(origin) == 0
        session.get("/echo")

    run_blocking(task)
    assert server.connections == 2

    async def atask() -> int:
        await session.aget("/echo")
        await session.aclose()
        return session._pool.idle_count(origin)

    assert asyncio.run(atask()) == 0


def test_a_connection_in_use_during_close_is_not_kept(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    origin = Origin("http", "127.0.0.1", server.port)

    async def task() -> int:
        pending = asyncio.ensure_future(session.aget("/echo"))
        await asyncio.sleep(0)  # the request is on its way
        session.close()
        await pending
        return session._pool.idle_count(origin)

    assert asyncio.run(task()) == 0


def test_a_cancelled_request_does_not_return_its_connection(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    origin = Origin("http", "127.0.0.1", server.port)

    async def task() -> int:
        await session.aget("/echo")
        pending = asyncio.ensure_future(session.aget("/slow"))
        await asyncio.sleep(0.01)
        pending.cancel()
        await asyncio.gather(pending, return_exceptions=True)
        return session._pool.idle_count(origin)

    assert asyncio.run(task()) == 0
    # The request was on the wire, so the server may have it: it is one failed sample.
    assert [(s[1], type(s[6]).__name__) for s in sink.samples] == [
        ("/echo", "NoneType"),
        ("/slow", "RequestInterrupted"),
    ]
    assert "interrupted at stop" in str(sink.samples[1][6])
