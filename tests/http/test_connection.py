"""Connections: network failures become status-0 responses with the right error; TLS."""

from __future__ import annotations

import pytest
from _loopback import Recorder, Server, TLSSetup, free_port, run_blocking

from loadhopper._exceptions import (
    ConnectError,
    NameResolutionError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    StaleConnection,
    TLSError,
)
from loadhopper.http import HttpSession, Response


def failed(response: Response, sink: Recorder, kind: type[Exception]) -> None:
    assert response.status_code == 0
    assert response.content == b"" and response.text == ""
    assert not response.ok
    assert isinstance(response.error, kind)
    assert isinstance(sink.last["exception"], kind)
    assert sink.last["response"] is None
    assert sink.last["response_length"] == 0
    with pytest.raises(kind):
        response.raise_for_status()


def test_a_refused_connection(sink: Recorder) -> None:
    session = HttpSession(f"http://127.0.0.1:{free_port()}", request_sink=sink)
    response = run_blocking(lambda: session.get("/"))
    failed(response, sink, ConnectError)
    assert "is the server running?" in str(response.error)


def test_a_name_that_does_not_resolve(sink: Recorder) -> None:
    session = HttpSession("http://no-such-host.invalid", request_sink=sink)
    response = run_blocking(lambda: session.get("/"))
    failed(response, sink, NameResolutionError)
    assert "'no-such-host.invalid' does not resolve" in str(response.error)


def test_a_read_timeout(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink, timeout=0.05)
    response = run_blocking(lambda: session.get("/slow"))
    failed(response, sink, ReadTimeout)
    assert str(response.error) == "no response within the read timeout of 0.05 s"


def test_a_per_request_timeout_pair_overrides_the_session_default(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink, timeout=60)
    response = run_blocking(lambda: session.get("/slow", timeout=(1.0, 0.02)))
    failed(response, sink, ReadTimeout)


def test_a_timeout_does_not_outlive_its_request(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink, timeout=0.05)

    def task() -> list[int]:
        first = session.get("/echo").status_code
        # The first request's timer was cancelled: waiting past it changes nothing.
        import asyncio

        from loadhopper._bridge import await_

        await_(asyncio.sleep(0.1))
        return [first, session.get("/echo").status_code]

    assert run_blocking(task) == [200, 200]
    assert server.connections == 1


def test_a_reset_connection(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.get("/reset"))
    failed(response, sink, ReadError)


def test_a_close_without_response_on_a_fresh_connection_is_not_retried(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.get("/close"))
    failed(response, sink, RemoteProtocolError)
    assert str(response.error) == "the server closed the connection without sending a response"
    assert server.requests == [("GET", "/close")]


def test_a_truncated_body_is_an_error(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.get("/truncated"))
    failed(response, sink, RemoteProtocolError)


def test_a_stale_keep_alive_connection_is_retried_once_on_a_fresh_one(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> list[bytes]:
        # /stale answers the first request on a connection and drops the second silently.
        return [session.get("/stale").content, session.get("/stale").content]

    assert run_blocking(task) == [b"fresh", b"fresh"]
    assert server.connections == 2
    # The server read three requests: the attempt it dropped is a failed sample of its own.
    assert server.requests == [("GET", "/stale")] * 3
    assert [type(s[6]) for s in sink.samples] == [type(None), StaleConnection, type(None)]


def test_https_verification_fails_by_default_with_a_clear_error(
    tls_server: TLSSetup, sink: Recorder
) -> None:
    session = HttpSession(tls_server.server.url, request_sink=sink)
    response = run_blocking(lambda: session.get("/echo"))
    failed(response, sink, TLSError)
    assert "did not verify" in str(response.error)
    assert "verify=False" in str(response.error)


def test_https_with_the_ca_bundle_path(tls_server: TLSSetup, sink: Recorder) -> None:
    session = HttpSession(tls_server.server.url, request_sink=sink, verify=str(tls_server.ca_path))
    response = run_blocking(lambda: session.get("/echo"))
    assert response.status_code == 200
    assert response.json()["method"] == "GET"
    assert sink.last["url"] == tls_server.server.url + "/echo"


def test_https_without_verification(tls_server: TLSSetup, sink: Recorder) -> None:
    session = HttpSession(tls_server.server.url, request_sink=sink, verify=False)
    response = run_blocking(lambda: (session.get("/echo"), session.get("/echo"))[1])
    assert response.status_code == 200
    assert tls_server.server.connections >= 1


def test_verification_can_be_turned_off_on_a_session(tls_server: TLSSetup, sink: Recorder) -> None:
    session = HttpSession(tls_server.server.url, request_sink=sink)
    assert session.verify is True
    session.verify = False  # the requests idiom, e.g. in a locustfile's on_start
    response = run_blocking(lambda: session.get("/echo"))
    assert response.status_code == 200


def test_a_missing_ca_bundle_says_what_to_pass(tls_server: TLSSetup, sink: Recorder) -> None:
    session = HttpSession(tls_server.server.url, request_sink=sink, verify="/no/such/ca.pem")
    response = run_blocking(lambda: session.get("/echo"))
    failed(response, sink, TLSError)
    assert "pass the path of a PEM file" in str(response.error)
