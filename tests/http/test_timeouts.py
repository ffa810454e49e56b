"""The read timeout (the longest gap between bytes) and the whole-response deadline.

Real time on loopback, with margins of several times the intervals involved; every wait is
bounded by the server's own pacing (`/drip`, `/slow-redirect`).
"""

from __future__ import annotations

import asyncio

import pytest
from _loopback import Recorder, Server, run_blocking

from loadhopper._exceptions import DeadlineExceeded, ReadTimeout
from loadhopper.http import HttpSession

# 8 bytes, one every 40 ms: 0.32 s in all, never a gap near 0.25 s.
DRIP = "/drip?n=8&ms=40"


def test_a_body_that_keeps_coming_outlasts_a_shorter_read_timeout(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink, timeout=0.25)
    response = run_blocking(lambda: session.get(DRIP))
    assert response.status_code == 200, response.error
    assert response.content == b"d" * 8
    assert sink.last["response_time"] > 250  # longer than the timeout, and still a success


def test_a_gap_longer_than_the_read_timeout_fails_mid_body(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink, timeout=0.25)
    response = run_blocking(lambda: session.get("/drip?n=6&ms=10&stall=800"))
    assert isinstance(response.error, ReadTimeout)
    assert str(response.error) == (
        "the response stalled: no byte for longer than the read timeout of 0.25 s"
    )


def test_a_deadline_bounds_the_whole_response(own_server: Server, sink: Recorder) -> None:
    session = HttpSession(own_server.url, request_sink=sink, timeout=0.25)
    response = run_blocking(lambda: session.get(DRIP, deadline=0.12))
    assert isinstance(response.error, DeadlineExceeded)
    assert str(response.error) == "the response did not complete within the deadline of 0.12 s"
    assert sink.last["response_time"] < 320  # it did not wait for the end of the body
    assert own_server.wait_until_closed()  # the connection was dropped, not kept


def test_a_deadline_includes_the_redirects(server: Server, sink: Recorder) -> None:
    # Four responses of 80 ms each: no single one is slow, the chain is.
    session = HttpSession(server.url, request_sink=sink)
    chain = "/slow-redirect?hops=3&ms=80"
    failed = run_blocking(lambda: session.get(chain, deadline=0.2))
    assert isinstance(failed.error, DeadlineExceeded)
    arrived = run_blocking(lambda: session.get(chain, deadline=5))
    assert arrived.content == b"arrived" and len(arrived.history) == 3


def test_the_session_deadline_is_the_default_and_a_request_may_lift_it(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink, deadline=0.12)
    assert session.deadline == 0.12

    def task() -> list[object]:
        return [session.get(DRIP).error, session.get(DRIP, deadline=None).error]

    first, second = run_blocking(task)
    assert isinstance(first, DeadlineExceeded) and second is None
    session.deadline = None
    assert run_blocking(lambda: session.get(DRIP)).error is None


def test_the_async_path_has_the_same_deadline(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)

    async def task() -> object:
        response = await session.aget(DRIP, deadline=0.12)
        await session.aclose()
        return response.error

    assert isinstance(asyncio.run(task()), DeadlineExceeded)


@pytest.mark.parametrize("bad", [0, -1.0])
def test_a_deadline_must_be_positive(sink: Recorder, bad: float) -> None:
    with pytest.raises(ValueError, match="deadline must be a positive number of seconds"):
        HttpSession("http://127.0.0.1:9", request_sink=sink, deadline=bad)
