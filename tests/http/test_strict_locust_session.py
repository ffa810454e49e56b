"""`strict_locust`: the session fails where Locust's HttpSession fails, and only then."""

from __future__ import annotations

import pytest
from _loopback import Recorder, Server, run_blocking

from loadhopper import FastHttpUser, HttpUser
from loadhopper._exceptions import InvalidURL, LocustError
from loadhopper.http import HttpSession
from loadhopper.runtime import Environment

LOCUSTS_MESSAGE = (
    "In order to use a with-block for requests, you must also pass catch_response=True"
)


def target_of(session: HttpSession, path: str, server: Server) -> str:
    """The request target the server read for `session.get(path)`."""
    run_blocking(lambda: session.get(path))
    return server.requests[-1][1]


def test_a_path_without_a_slash_on_a_bare_host_fails_as_in_locust(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink, strict_locust=True)
    with pytest.raises(InvalidURL) as caught:
        run_blocking(lambda: session.get("echo"))
    message = str(caught.value)
    assert "has no leading slash" in message and f"'{server.url}echo'" in message
    assert sink.samples == []
    assert target_of(session, "/echo", server) == "/echo"  # a leading slash is what Locust wants


@pytest.mark.parametrize(
    ("base", "path", "target"),
    [("{}/", "echo", "/echo"), ("{}/api", "echo", "/apiecho"), ("{}/", "", "/")],
)
def test_a_path_without_a_slash_is_appended_as_it_is(
    server: Server, sink: Recorder, base: str, path: str, target: str
) -> None:
    # What Locust requests for these, joining by string concatenation.
    session = HttpSession(base.format(server.url), request_sink=sink, strict_locust=True)
    assert target_of(session, path, server) == target


def test_without_the_flag_paths_are_joined_with_one_slash(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url + "/api", request_sink=sink)
    assert target_of(session, "echo", server) == "/api/echo"
    session.strict_locust = True
    assert target_of(session, "echo", server) == "/apiecho"
    session.strict_locust = False
    assert target_of(session, "echo", server) == "/api/echo"


def test_a_with_block_without_catch_response_raises_locusts_error_after_recording(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink, strict_locust=True)

    def plain() -> None:
        with session.get("/echo"):
            pass

    with pytest.raises(LocustError, match=LOCUSTS_MESSAGE):
        run_blocking(plain)
    assert len(sink.samples) == 1 and sink.last["exception"] is None

    def streamed() -> None:
        with session.get("/lines?n=3", stream=True):
            pass

    with pytest.raises(LocustError, match=LOCUSTS_MESSAGE):
        run_blocking(streamed)
    refused = HttpSession("http://127.0.0.1:9", request_sink=sink, strict_locust=True)

    def failed() -> None:
        with refused.get("/"):
            pass

    with pytest.raises(LocustError, match=LOCUSTS_MESSAGE):
        run_blocking(failed)
    assert len(sink.samples) == 3


def test_catch_response_and_plain_calls_work_under_the_flag(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink, strict_locust=True)

    def task() -> int:
        with session.get("/status/404", catch_response=True) as response:
            response.success()
        with session.get("/echo", catch_response=True, stream=True) as streamed:
            streamed.failure("checked")
        return session.get("/echo").status_code

    assert run_blocking(task) == 200
    assert [sample[6] is None for sample in sink.samples] == [True, False, True]


def test_without_the_flag_a_with_block_is_accepted(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> int:
        with session.get("/echo") as response:
            return response.status_code

    assert run_blocking(task) == 200


def test_http_users_take_the_flag_from_the_environment(server: Server) -> None:
    class Plain(HttpUser):
        host = server.url

    class Fast(FastHttpUser):
        host = server.url

    strict = Environment(user_classes=[Plain, Fast], strict_locust=True)
    tolerant = Environment(user_classes=[Plain, Fast])
    assert Plain(strict).client.strict_locust and Fast(strict).client.strict_locust
    assert not Plain(tolerant).client.strict_locust
    assert not Fast(tolerant).client.strict_locust
