"""The request guard, against the real app on uvicorn: CSRF, login, body limit, Host check,
security headers and the absence of CORS headers; and the login throttle, on uvicorn too,
with a fake clock so that no test waits out a backoff."""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from web_support import DEADLINE, Client, Reply, basic, ui_server

from loadhopper.web import RequestGuard, WebLogin
from loadhopper.web._login import LoginThrottle

# Linux routes all of 127.0.0.0/8 to the loopback interface, so a connection bound to
# 127.0.0.2 is a second client with its own peer address.
OTHER_CLIENT = "127.0.0.2"


def request_from(source: str, port: int, method: str, path: str, headers: dict[str, str]) -> Reply:
    """One request whose peer address is `source` (a loopback address)."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=DEADLINE, source_address=(source, 0)
    )
    try:
        body = b"{}" if method == "POST" else None
        headers = {"Host": f"127.0.0.1:{port}", "Content-Type": "application/json", **headers}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        found = {name.lower(): value for name, value in response.getheaders()}
        return Reply(response.status, found, response.read())
    finally:
        connection.close()


GET_ROUTES = [
    "/",
    "/static/app.js",
    "/static/app.css",
    "/static/plotly.min.js",
    "/api/state",
    "/download/stats.csv",
    "/download/stats_history.csv",
    "/download/failures.csv",
    "/download/exceptions.csv",
    "/download/summary.json",
    "/download/report.html",
]
POST_ROUTES = ["/api/start", "/api/edit", "/api/stop", "/api/reset"]


def test_every_post_needs_the_csrf_token() -> None:
    with ui_server() as ui:
        for token in (None, "", "wrong-token", ui.csrf_token + "x"):
            client = Client(ui.port, token=token)
            for path in POST_ROUTES:
                reply = client.post(path, {"users": 1, "spawn_rate": 1})
                assert reply.status == 403, (path, token)
                assert "CSRF token" in reply.text
        assert Client(ui.port).state()["status"]["tests_started"] == 0


def test_the_page_carries_the_token_and_state_changes_are_never_gets() -> None:
    with ui_server() as ui:
        client = Client(ui.port)
        page = client.get("/")
        assert f'<meta name="csrf-token" content="{ui.csrf_token}">' in page.text
        for path in POST_ROUTES:
            assert client.get(path).status == 405


def test_login_protects_every_route() -> None:
    login = WebLogin("admin", "s3cret")
    with ui_server(login=login) as ui:
        # No credentials at all: a browser's first request, not a guess, so never throttled.
        anonymous = Client(ui.port, token=ui.csrf_token)
        for _ in range(2):
            for path in [*GET_ROUTES, "/api/stream", "/nowhere"]:
                reply = anonymous.get(path)
                assert reply.status == 401, path
                assert reply.headers["www-authenticate"].startswith('Basic realm="loadhopper"')
            for path in POST_ROUTES:
                assert anonymous.post(path, {"users": 1, "spawn_rate": 1}).status == 401, path
        # Wrong credentials, from a second client: the first five are checked and refused,
        # then the throttle refuses before checking (429), unless a backoff has passed.
        statuses = []
        for auth in (basic("admin", "wrong"), basic("other", "s3cret")):
            headers = {"Authorization": auth, "x-csrf-token": ui.csrf_token}
            for path in [*GET_ROUTES, "/api/stream", "/nowhere"]:
                statuses.append(request_from(OTHER_CLIENT, ui.port, "GET", path, headers).status)
            for path in POST_ROUTES:
                statuses.append(request_from(OTHER_CLIENT, ui.port, "POST", path, headers).status)
        assert statuses[:5] == [401] * 5
        assert set(statuses) <= {401, 429} and 429 in statuses
        # The throttled client is not this one: the right credentials work here at once.
        good = Client(ui.port, auth=basic("admin", "s3cret"), token=ui.csrf_token)
        assert good.get("/").status == 200
        assert good.get("/download/stats.csv").status == 200
        with good.events() as events:
            name, data = next(events)
        assert name == "hello" and "status" in data
        assert good.post("/api/reset").status == 200


def test_a_body_over_the_limit_is_refused() -> None:
    with ui_server() as ui:
        client = Client(ui.port, token=ui.csrf_token)
        big = {"users": 1, "spawn_rate": 1, "host": "http://a/" + "x" * 20_000}
        assert client.post("/api/start", big).status == 413
        # Without a Content-Length (chunked), the limit holds while reading.
        chunked = client.request(
            "POST",
            "/api/start",
            body=iter([b'{"users": 1, ', b" " * 17_000, b'"spawn_rate": 1}']),  # type: ignore[arg-type]
            headers={"Content-Type": "application/json", "x-csrf-token": ui.csrf_token},
        )
        assert chunked.status == 413
        assert client.state()["status"]["tests_started"] == 0


def test_forms_must_be_json() -> None:
    with ui_server() as ui:
        client = Client(ui.port, token=ui.csrf_token)
        reply = client.post(
            "/api/stop", headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert reply.status == 415
        bad = client.request(
            "POST", "/api/start", b"{not json",
            {"Content-Type": "application/json", "x-csrf-token": ui.csrf_token},
        )  # fmt: skip
        assert bad.status == 400 and "not valid JSON" in bad.json()["error"]


def test_host_header_must_be_allowed() -> None:
    with ui_server(allowed_hosts=("127.0.0.1", "localhost", "[::1]")) as ui:
        client = Client(ui.port)
        assert client.get("/").status == 200
        assert client.get("/", headers={"Host": f"localhost:{ui.port}"}).status == 200
        rebound = client.get("/", headers={"Host": f"attacker.example:{ui.port}"})
        assert rebound.status == 400
        assert "host name is not allowed" in rebound.text


@pytest.mark.parametrize("path", ["/", "/api/state", "/static/app.js", "/download/stats.csv"])
def test_security_headers_and_no_cors(path: str) -> None:
    with ui_server() as ui:
        client = Client(ui.port)
        reply = client.get(path, headers={"Origin": "http://evil.example"})
        assert reply.status == 200
        csp = reply.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self';" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["x-frame-options"] == "DENY"
        assert not [name for name in reply.headers if name.startswith("access-control-")]
        preflight = client.request(
            "OPTIONS",
            "/api/start",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status in (403, 405)
        assert not [name for name in preflight.headers if name.startswith("access-control-")]


def test_the_page_has_no_inline_script_and_no_cdn() -> None:
    with ui_server() as ui:
        client = Client(ui.port)
        page = client.get("/").text
        assert "<script>" not in page and "onclick" not in page
        assert "http://" not in page.replace("http://127.0.0.1:8000", "")
        assert "https://" not in page
        plotly = client.get("/static/plotly.min.js")
        assert plotly.headers["content-type"].startswith("text/javascript")
        assert b"plotly" in plotly.body[:2000].lower()


# ---- the login throttle, on a fake clock ---------------------------------------------------


class FakeClock:
    """Seconds that move only when the test says so (read from the server's thread)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


@contextmanager
def guarded_server(login: WebLogin, throttle: LoginThrottle) -> Iterator[int]:
    """A one-route app behind `RequestGuard` on uvicorn, on a free loopback port."""
    guard = Middleware(RequestGuard, csrf_token="t", login=login, login_throttle=throttle)
    app = Starlette(routes=[Route("/", _ok)], middleware=[guard])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        end = time.monotonic() + DEADLINE
        while not server.started:
            assert time.monotonic() < end and thread.is_alive(), "the server did not start"
            time.sleep(0.01)
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(DEADLINE)
        sock.close()
    assert not thread.is_alive() and not errors, errors


def _get(port: int, auth: str | None, source: str = "127.0.0.1") -> Reply:
    return request_from(source, port, "GET", "/", {"Authorization": auth} if auth else {})


def test_wrong_passwords_make_the_client_wait_even_with_the_right_one() -> None:
    clock = FakeClock()
    right, wrong = basic("admin", "s3cret"), basic("admin", "guess")
    with guarded_server(WebLogin("admin", "s3cret"), LoginThrottle(clock=clock)) as port:
        for _ in range(5):
            assert _get(port, wrong).status == 401
        # Refused before the password is looked at: the right one does not get in, and
        # wrong ones made meanwhile are not counted (the wait stays 1 s).
        for auth in (right, wrong, wrong, None):
            reply = _get(port, auth)
            assert reply.status == 429
            assert reply.headers["retry-after"] == "1"
            assert reply.text == (
                "Too many wrong passwords from this address; wait 1 s and log in again."
            )
            assert reply.headers["x-frame-options"] == "DENY"  # still a guarded response
        assert _get(port, right, source=OTHER_CLIENT).status == 200  # another client
        clock.now += 0.999
        assert _get(port, right).status == 429
        clock.now += 0.001
        assert _get(port, wrong).status == 401  # checked again: the sixth failure, 2 s
        reply = _get(port, right)
        assert (reply.status, reply.headers["retry-after"]) == (429, "2")
        clock.now += 2.0
        reply = _get(port, right)
        assert (reply.status, reply.body) == (200, b"ok")
        # The success reset the count: five failures before the next wait, which is 1 s.
        for _ in range(5):
            assert _get(port, wrong).status == 401
        assert _get(port, right).headers["retry-after"] == "1"


def test_requests_without_credentials_are_not_counted_as_guesses() -> None:
    clock = FakeClock()
    with guarded_server(WebLogin("admin", "s3cret"), LoginThrottle(clock=clock)) as port:
        for _ in range(20):
            reply = _get(port, None)
            assert reply.status == 401 and "www-authenticate" in reply.headers
        assert _get(port, basic("admin", "s3cret")).status == 200


def test_posts_are_throttled_before_the_csrf_check() -> None:
    clock = FakeClock()
    with guarded_server(WebLogin("admin", "s3cret"), LoginThrottle(clock=clock)) as port:
        # No CSRF token either: the login is checked first, so these count as guesses.
        headers = {"Authorization": basic("admin", "nope")}
        statuses = [request_from("127.0.0.1", port, "POST", "/", headers).status for _ in range(6)]
        assert statuses == [401] * 5 + [429]
        right = {"Authorization": basic("admin", "s3cret")}
        assert request_from("127.0.0.1", port, "POST", "/", right).status == 429
        clock.now += 1.0
        assert request_from("127.0.0.1", port, "POST", "/", right).status == 403  # the token
