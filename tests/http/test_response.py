"""Response: requests' attributes on real responses from the loopback server."""

from __future__ import annotations

import datetime
import json

import pytest
from _loopback import Recorder, Server, run_blocking

from loadhopper._exceptions import HTTPError, LocustError, RequestError
from loadhopper.http import HttpSession, Response


def get(server: Server, sink: Recorder, path: str) -> Response:
    session = HttpSession(server.url, request_sink=sink)
    response: Response = run_blocking(lambda: session.get(path))
    return response


def test_status_reason_ok_content_url_elapsed(server: Server, sink: Recorder) -> None:
    response = get(server, sink, "/status/201")
    assert (response.status_code, response.reason, response.ok) == (201, "Created", True)
    assert response.content == b"status 201"
    assert response.url == server.url + "/status/201"
    assert isinstance(response.elapsed, datetime.timedelta)
    assert response.elapsed.total_seconds() > 0
    assert response.history == []
    assert response.error is None
    assert bool(response) is True
    assert repr(response) == "<Response [201]>"
    response.raise_for_status()


def test_text_uses_the_charset_of_content_type_else_utf8(server: Server, sink: Recorder) -> None:
    latin = get(server, sink, "/text-latin1")
    assert latin.encoding == "iso-8859-1" and latin.text == "café"
    plain = get(server, sink, "/text-plain")
    assert plain.encoding == "utf-8" and plain.text == "café ✓"
    plain.encoding = "latin-1"  # settable, as in requests
    assert plain.text == "café ✓".encode().decode("latin-1")


def test_undecodable_text_is_replaced_not_raised(server: Server, sink: Recorder) -> None:
    latin = get(server, sink, "/text-latin1")
    latin.encoding = "utf-8"
    assert latin.text == "caf\ufffd"
    latin.encoding = "no-such-charset"
    assert latin.text == "caf\ufffd"


def test_json(server: Server, sink: Recorder) -> None:
    assert get(server, sink, "/json").json() == {"a": 1, "items": [1, 2]}
    with pytest.raises(json.JSONDecodeError):
        get(server, sink, "/text-plain").json()


def test_headers_are_case_insensitive_and_duplicates_joined(server: Server, sink: Recorder) -> None:
    headers = get(server, sink, "/dup-headers").headers
    assert headers["x-dup"] == "a, b" and headers["X-DUP"] == "a, b"
    assert headers.get_list("X-Dup") == ["a", "b"]
    assert "x-one" in headers and "missing" not in headers
    assert headers.get("missing") is None
    assert set(headers) == {"X-Dup", "X-One", "Content-Length"}
    assert ("x-dup", "b") in headers.items_raw()


def test_raise_for_status(server: Server, sink: Recorder) -> None:
    response = get(server, sink, "/status/500")
    with pytest.raises(HTTPError, match=r"^500 Internal Server Error$") as info:
        response.raise_for_status()
    assert info.value.response is response
    assert repr(response) == "<Response [500]>"


def test_a_stand_in_response_for_a_failed_request() -> None:
    error = RequestError("boom")
    response = Response.failed("GET", "http://h/x", error, 0.5)
    assert (response.status_code, response.content, response.text) == (0, b"", "")
    assert response.headers.get("content-type") is None
    assert response.cookies == {}
    assert response.elapsed == datetime.timedelta(seconds=0.5)
    assert repr(response) == "<Response [0] RequestError>"
    assert not response.ok


def test_a_plain_response_is_a_context_manager_that_never_swallows(
    server: Server, sink: Recorder
) -> None:
    response = get(server, sink, "/json")
    with response as inside:
        assert inside is response
    with pytest.raises(KeyError), response:
        raise KeyError("propagates")


def test_success_and_failure_without_catch_response_explain_the_fix(
    server: Server, sink: Recorder
) -> None:
    response = get(server, sink, "/json")
    with pytest.raises(LocustError, match="catch_response=True"):
        response.success()
    with pytest.raises(LocustError, match="catch_response=True"):
        response.failure("nope")
