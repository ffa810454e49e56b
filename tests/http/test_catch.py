"""catch_response and rest(): Locust's outcome rules, recorded when the block exits."""

from __future__ import annotations

import asyncio

import pytest
from _loopback import Recorder, Server, free_port, run_blocking

from loadhopper._exceptions import (
    CatchResponseError,
    ConnectError,
    HTTPError,
    LocustError,
    ResponseError,
)
from loadhopper.http import HttpSession, ResponseContextManager


@pytest.fixture
def session(server: Server, sink: Recorder) -> HttpSession:
    return HttpSession(server.url, request_sink=sink)


def test_nothing_is_recorded_until_the_block_exits(session: HttpSession, sink: Recorder) -> None:
    def task() -> None:
        with session.get("/echo", catch_response=True) as resp:
            assert isinstance(resp, ResponseContextManager)
            assert resp.status_code == 200 and resp.json()["method"] == "GET"
            assert sink.samples == []
        assert sink.last["exception"] is None
        assert sink.last["response"] is resp

    run_blocking(task)


def test_a_4xx_is_a_failure_unless_success_is_called(session: HttpSession, sink: Recorder) -> None:
    def task() -> None:
        with session.get("/status/404", catch_response=True):
            pass
        with session.get("/status/404", catch_response=True) as resp:
            resp.success()

    run_blocking(task)
    assert str(sink.samples[0][6]) == "404 Not Found"
    assert isinstance(sink.samples[0][6], HTTPError)
    assert sink.samples[1][6] is None


def test_failure_with_a_string_or_an_exception(session: HttpSession, sink: Recorder) -> None:
    def task() -> None:
        with session.get("/echo", catch_response=True) as resp:
            resp.failure("wrong body")
        with session.get("/echo", catch_response=True) as resp:
            resp.failure(ValueError("bad value"))

    run_blocking(task)
    first, second = sink.samples[0][6], sink.samples[1][6]
    assert isinstance(first, CatchResponseError) and str(first) == "wrong body"
    assert isinstance(second, ValueError)


def test_a_response_error_raised_in_the_block_is_recorded_and_swallowed(
    session: HttpSession, sink: Recorder
) -> None:
    def task() -> str:
        with session.get("/echo", catch_response=True):
            raise ResponseError("not what I wanted")
        return "went on"

    assert run_blocking(task) == "went on"
    assert str(sink.last["exception"]) == "not what I wanted"


def test_other_exceptions_propagate_and_record_nothing(
    session: HttpSession, sink: Recorder
) -> None:
    def task() -> None:
        with session.get("/echo", catch_response=True):
            raise KeyError("user bug")

    with pytest.raises(KeyError):
        run_blocking(task)
    assert sink.samples == []


def test_a_manual_outcome_is_recorded_even_if_the_block_then_raises(
    session: HttpSession, sink: Recorder
) -> None:
    def task() -> None:
        with session.get("/echo", catch_response=True) as resp:
            resp.success()
            raise KeyError("after deciding")

    with pytest.raises(KeyError):
        run_blocking(task)
    assert len(sink.samples) == 1 and sink.last["exception"] is None


def test_success_or_failure_outside_the_block_is_an_error(session: HttpSession) -> None:
    def task() -> None:
        resp = session.get("/echo", catch_response=True)
        with pytest.raises(LocustError, match="inside the `with` block"):
            resp.success()
        with resp:
            pass
        with pytest.raises(LocustError, match="inside the `with` block"):
            resp.failure("late")

    run_blocking(task)


def test_no_response_with_catch_response_is_a_failure(sink: Recorder) -> None:
    session = HttpSession(f"http://127.0.0.1:{free_port()}", request_sink=sink)

    def task() -> None:
        with session.get("/", catch_response=True) as resp:
            assert resp.status_code == 0 and resp.text == ""

    run_blocking(task)
    assert isinstance(sink.last["exception"], ConnectError)
    assert sink.last["response"] is None


def test_async_with(session: HttpSession, sink: Recorder) -> None:
    async def task() -> None:
        async with await session.aget("/status/404", catch_response=True) as resp:
            resp.success()

    asyncio.run(task())
    assert len(sink.samples) == 1 and sink.last["exception"] is None


def test_rest_parses_json_and_sends_json_headers(session: HttpSession, sink: Recorder) -> None:
    def task() -> None:
        with session.rest("POST", "/echo", json={"a": 1}) as resp:
            assert resp.js is not None
            headers = {n.lower(): v for n, v in resp.js["headers"]}
            assert headers["content-type"] == "application/json"
            assert headers["accept"] == "application/json"

    run_blocking(task)
    assert sink.last["exception"] is None


def test_rest_marks_a_non_json_body_as_a_failure(session: HttpSession, sink: Recorder) -> None:
    def task() -> None:
        with session.rest("GET", "/text-plain") as resp:
            assert resp.js is None

    run_blocking(task)
    assert str(sink.last["exception"]) == "the response is not JSON (status 200)"


def test_rest_turns_assertions_and_exceptions_into_failures(
    session: HttpSession, sink: Recorder
) -> None:
    def task() -> None:
        # Raised by hand: pytest rewrites `assert` statements in this file, locustfiles not.
        with session.rest("GET", "/json") as resp:
            if resp.js["a"] != 2:
                raise AssertionError("a should be 2")
        with session.rest("GET", "/json") as resp:
            if resp.js["a"] != 2:
                raise AssertionError
        with session.rest("GET", "/json") as resp:
            resp.js["missing"]

    run_blocking(task)
    messages = [str(sample[6]) for sample in sink.samples]
    assert messages == ["a should be 2", "assertion failed", "KeyError: 'missing'"]


def test_rest_with_no_response_is_a_failure(sink: Recorder) -> None:
    session = HttpSession(f"http://127.0.0.1:{free_port()}", request_sink=sink)

    def task() -> None:
        with session.rest("GET", "/") as resp:
            assert resp.js is None

    run_blocking(task)
    assert str(sink.last["exception"]).startswith("ConnectError: cannot connect")


def test_arest(session: HttpSession, sink: Recorder) -> None:
    async def task() -> None:
        async with session.arest("GET", "/json") as resp:
            assert resp.js == {"a": 1, "items": [1, 2]}

    asyncio.run(task())
    assert sink.last["exception"] is None
