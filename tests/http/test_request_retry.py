"""Sending a request again: never behind the user's back, and always counted.

The loopback server records every request it read; each test compares that with the
samples the session recorded, per method.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from _loopback import Recorder, Server, run_blocking

from loadhopper._exceptions import ReadError, StaleConnection
from loadhopper.http import HttpSession

STALE = (
    "the reused keep-alive connection broke before any byte of the response; "
    "the request was sent again on a new connection"
)
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


def sampled(sink: Recorder, path: str) -> Counter[str]:
    return Counter(s[0] for s in sink.samples if s[8].split("?")[0].endswith(path))


@pytest.mark.parametrize("path", ["/reset-reused", "/reset"])
def test_what_the_server_received_is_what_was_recorded(
    server: Server, sink: Recorder, path: str
) -> None:
    # GET /ok, then each method on the connection it left: /reset-reused resets only a
    # reused connection (so a second attempt on a new one succeeds), /reset resets always.
    session = HttpSession(server.url, request_sink=sink)

    def task() -> None:
        for method in METHODS:
            session.get("/ok")
            session.request(method, path, data=b"x")

    run_blocking(task)
    received = Counter(m for m, t in server.requests if t == path)
    assert sampled(sink, path) == received
    # Idempotent methods were sent twice (the first attempt failed and is recorded as such);
    # POST and PATCH once, their failure reported as it happened.
    assert received == {"GET": 2, "PUT": 2, "DELETE": 2, "POST": 1, "PATCH": 1}


def test_a_retried_attempt_is_a_failed_sample_with_a_groupable_message(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> list[bytes]:
        return [session.get("/reset-reused").content for _ in range(3)]

    assert run_blocking(task) == [b"first", b"first", b"first"]
    errors = [s[6] for s in sink.samples]
    # first: fresh connection, fine; then for each reuse: a stale attempt, then the resend.
    assert [type(e).__name__ for e in errors] == [
        "NoneType", "StaleConnection", "NoneType", "StaleConnection", "NoneType"
    ]  # fmt: skip
    stale = [e for e in errors if isinstance(e, StaleConnection)]
    assert {str(e) for e in stale} == {STALE}
    assert all(isinstance(e.__cause__, ReadError) for e in stale)
    assert server.received("GET", "/reset-reused") == len(sink.samples) == 5
    stale_sample = sink.samples[1]
    assert stale_sample[3] == 0 and stale_sample[4] is None  # no response, no bytes


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_non_idempotent_request_on_a_broken_reused_connection_fails_once(
    server: Server, sink: Recorder, method: str
) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> int:
        session.get("/ok")
        return session.request(method, "/reset-reused", data=b"x").status_code

    assert run_blocking(task) == 0
    assert server.received(method, "/reset-reused") == 1
    assert isinstance(sink.last["exception"], ReadError)
    assert not isinstance(sink.last["exception"], StaleConnection)


def test_a_request_never_written_is_sent_again_whatever_its_method(
    server: Server, sink: Recorder
) -> None:
    # The pooled connection's transport is already closing when the POST goes out (its
    # close callback has not run yet): the bytes provably never left, so sending them on a
    # new connection cannot make the server see the POST twice.
    session = HttpSession(server.url, request_sink=sink)

    def task() -> bytes:
        session.get("/ok")
        (idle,) = session._pool._idle[session._base.resolved.origin]  # type: ignore[union-attr]
        idle._transport.close()  # type: ignore[union-attr]
        assert not idle.closed  # connection_lost comes on a later turn of the loop
        return session.post("/count", data=b"x").content

    assert run_blocking(task) == b"POST 1"
    assert server.received("POST", "/count") == 1
    assert [s[6] for s in sink.samples] == [None, None]
    assert server.connections == 2


def test_the_async_path_follows_the_same_rule(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)

    async def task() -> None:
        for method in METHODS:
            await session.aget("/ok")
            await session.arequest(method, "/reset-reused", data=b"x")
        await session.aclose()

    asyncio.run(task())
    received = Counter(m for m, t in server.requests if t == "/reset-reused")
    assert sampled(sink, "/reset-reused") == received
    assert received == {"GET": 2, "PUT": 2, "DELETE": 2, "POST": 1, "PATCH": 1}


def test_a_redirect_hop_on_a_broken_reused_connection_is_counted_too(
    server: Server, sink: Recorder
) -> None:
    # GET /ok leaves a connection; the redirect, then its hop to /reset-reused, go out on
    # it. The hop breaks and is sent again on a new connection: the server reads it twice,
    # and both attempts are samples under the request's name.
    session = HttpSession(server.url, request_sink=sink)

    def task() -> bytes:
        session.get("/ok")
        return session.get("/redirect/302?to=/reset-reused", name="hop").content

    assert run_blocking(task) == b"first"
    hops = [s for s in sink.samples if s[1] == "hop"]
    assert [type(s[6]).__name__ for s in hops] == ["StaleConnection", "NoneType"]
    assert server.received("GET", "/reset-reused") == 2
