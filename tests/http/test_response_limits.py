"""Hostile responses end to end: each fails on its bound (or succeeds, for junk after a good
reply), as a failed sample with a short message, and the connection is never reused."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

import pytest
from _loopback import Recorder, Server, run_blocking, text_body

from loadhopper._bridge import await_
from loadhopper._exceptions import RemoteProtocolError, ResponseTooLarge
from loadhopper.http import BodyLimits, HttpSession, Response

MIB = 1 << 20
BODY_MESSAGE = (
    "the response body is larger than 1048576 bytes (max_body_size); raise it with "
    "--max-body-size or max_body_size on the User class, or pass stream=True"
)


def then_ok(session: HttpSession, path: str) -> tuple[Response, Response]:
    """The hostile request, then a plain one: the session must carry on."""
    return run_blocking(lambda: (session.get(path), session.get("/ok")))  # type: ignore[no-any-return]


def assert_failed(response: Response, sink: Recorder, kind: type[Exception], text: str) -> None:
    assert response.status_code == 0 and isinstance(response.error, kind)
    assert str(response.error) == text or text in str(response.error)
    failed = next(s for s in sink.samples if s[6] is response.error)
    assert failed[3] == 0 and failed[4] is None


def test_the_defaults_are_the_runs_defaults(sink: Recorder) -> None:
    session = HttpSession("http://127.0.0.1:9", request_sink=sink)
    assert session.body_limits == BodyLimits() == BodyLimits(64 * MIB, 64 * MIB)


def test_a_content_length_over_the_bound_fails_without_reading_the_body(
    own_server: Server, sink: Recorder
) -> None:
    session = HttpSession(own_server.url, request_sink=sink, body_limits=BodyLimits(MIB, MIB))

    def task() -> tuple[Response, int, Response]:
        huge = session.get("/huge-length")  # announces 2 GiB
        # The connection is dropped at once: the server sees it go (bounded wait).
        for _ in range(400):
            if own_server.open == 0:
                break
            await_(asyncio.sleep(0.005))
        return huge, own_server.open, session.get("/ok")

    huge, still_open, ok = run_blocking(task)
    assert_failed(huge, sink, ResponseTooLarge, BODY_MESSAGE)
    assert still_open == 0
    assert ok.content == b"ok" and own_server.connections == 2


def test_an_endless_chunked_body_fails_at_the_bound(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink, body_limits=BodyLimits(MIB, MIB))
    endless, ok = then_ok(session, "/endless")
    assert_failed(endless, sink, ResponseTooLarge, BODY_MESSAGE)
    assert ok.content == b"ok" and server.connections == 2


def test_a_gzip_bomb_fails_at_the_decoded_bound(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)  # the defaults: 64 MiB decoded
    bomb, ok = then_ok(session, "/bomb?mib=1024")  # 1 MiB of gzip, 1 GiB of zeros
    assert_failed(
        bomb,
        sink,
        ResponseTooLarge,
        "the response body decodes to more than 67108864 bytes (max_decoded_size); raise it "
        "with --max-decoded-size or max_decoded_size on the User class",
    )
    assert ok.content == b"ok"
    assert server.connections == 2  # not reused after the failure, though its framing held


def test_a_large_gzip_body_within_the_bound_decodes_off_the_loop(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.get("/gzip-text?n=3000000"))
    assert response.content == text_body(3_000_000)
    assert sink.last["response_length"] == 3_000_000 and sink.last["exception"] is None


def test_a_session_decoded_bound_below_the_body(server: Server, sink: Recorder) -> None:
    limits = BodyLimits(max_body_size=64 * MIB, max_decoded_size=100_000)
    session = HttpSession(server.url, request_sink=sink, body_limits=limits)
    response = run_blocking(lambda: session.get("/gzip-text?n=100001"))
    assert_failed(response, sink, ResponseTooLarge, "decodes to more than 100000 bytes")
    session.body_limits = BodyLimits()  # settable: the next requests use the new bounds
    assert run_blocking(lambda: session.get("/gzip-text?n=100001")).ok


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/many-headers?n=10000", "more than 100 header lines"),
        ("/endless-trailer", "chunk framing or trailers"),
    ],
)
def test_header_and_framing_floods_fail_on_their_bounds(
    server: Server, sink: Recorder, path: str, message: str
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    flood, ok = then_ok(session, path)
    assert_failed(flood, sink, RemoteProtocolError, message)
    assert ok.content == b"ok" and server.connections == 2


@pytest.mark.parametrize("path", ["/junk", "/junk-partial"])
def test_junk_after_a_complete_reply_keeps_the_reply_and_drops_the_connection(
    server: Server, sink: Recorder, path: str
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    junk, ok = then_ok(session, path)
    assert junk.status_code == 200 and junk.content == b"ok" and junk.error is None
    assert ok.content == b"ok"
    assert [s[6] for s in sink.samples] == [None, None]
    assert server.connections == 2  # the junk's connection was not reused


def test_junk_arriving_after_the_reply_closes_the_idle_connection(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> tuple[Response, int, Response]:
        junk = session.get("/junk-later")
        origin = session._base.resolved.origin  # type: ignore[union-attr]
        for _ in range(400):  # bounded: the junk comes 10 ms after the reply
            if session._pool.idle_count(origin) == 0:
                break
            await_(asyncio.sleep(0.005))
        return junk, session._pool.idle_count(origin), session.get("/ok")

    junk, idle, ok = run_blocking(task)
    assert junk.content == b"ok" and junk.error is None
    assert idle == 0  # the stray bytes closed the pooled connection
    assert ok.content == b"ok" and server.connections == 2


@pytest.mark.parametrize("path", ["/endless", "/bomb?mib=64"])
def test_a_failed_request_keeps_no_body_alive(server: Server, sink: Recorder, path: str) -> None:
    # The sink keeps every error and every failed Response (the runtime's listeners may
    # too): none of them may hold on to the body that failed, even without the cyclic GC.
    limits = BodyLimits(max_body_size=4 * MIB, max_decoded_size=4 * MIB)
    session = HttpSession(server.url, request_sink=sink, body_limits=limits)
    gc.disable()
    tracemalloc.start()
    try:
        responses = run_blocking(lambda: [session.get(path) for _ in range(3)])
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert all(isinstance(r.error, ResponseTooLarge) for r in responses)
    assert held < 4 * MIB  # three failed 4 MiB bodies would hold 12 MiB
