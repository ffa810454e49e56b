"""Real servers for the web UI tests: a loopback target, the UI on uvicorn, a small client.

The UI runs exactly as in production: `WebController` + `create_app` + `WebServer` on a uvloop
event loop, here in a thread of its own so that the test thread can act as the browser.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import http.server
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvloop

from loadhopper import HttpUser, constant, task
from loadhopper.runtime import Environment, Events
from loadhopper.web import CSRF_HEADER, WebController, WebLogin, WebServer, create_app

DEADLINE = 20.0  # a condition not met by then fails the test instead of hanging it


# ---- the target --------------------------------------------------------------------------


class _TargetHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _TargetServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hits += 1
        status, body = (500, b"boom") if self.path == "/fail" else (200, b"cats index")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _TargetServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    hits = 0

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


@contextmanager
def target_server() -> Iterator[_TargetServer]:
    """A loopback HTTP target: `GET /` answers 200, `GET /fail` answers 500."""
    server = _TargetServer(("127.0.0.1", 0), _TargetHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# ---- the users ---------------------------------------------------------------------------


class IndexUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def index(self) -> None:
        self.client.get("/")


class FailUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def fail(self) -> None:
        self.client.get("/fail")


class CrashUser(HttpUser):
    wait_time = constant(0.2)

    @task
    def crash(self) -> None:
        raise ValueError("the locustfile has a bug")


USER_CLASSES: list[type[HttpUser]] = [IndexUser, FailUser, CrashUser]


# ---- the UI ------------------------------------------------------------------------------


@dataclass
class UiServer:
    """The UI app on uvicorn, on a free loopback port, in a thread with its own uvloop."""

    login: WebLogin | None = None
    allowed_hosts: tuple[str, ...] | None = None
    host: str | None = None
    port: int = 0
    csrf_token: str = "test-csrf-token"
    controller: WebController | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: WebServer | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = Environment(user_classes=list(USER_CLASSES), events=Events(), host=self.host)
        self.controller = WebController(env, locustfile="web_support.py")
        app = create_app(
            self.controller,
            login=self.login,
            csrf_token=self.csrf_token,
            allowed_hosts=self.allowed_hosts,
        )
        self._server = WebServer(app, "127.0.0.1", 0)
        self.port = self._server.bind()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(DEADLINE)

    def _run(self) -> None:
        loop = uvloop.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced by stop()
            self.errors.append(exc)
        finally:
            loop.close()

    async def _serve(self) -> None:
        assert self._server is not None
        task = asyncio.create_task(self._server.serve())
        await self._server.wait_started()
        self._ready.set()
        await task

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the UI's loop and return its result (for reading the controller)."""
        assert self._loop is not None

        async def wrapper() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(DEADLINE)

    def stop(self) -> None:
        assert self._loop is not None and self._server is not None and self.controller
        controller, server = self.controller, self._server

        async def shutdown() -> None:
            controller.stop()
            await controller.wait()
            server.shutdown()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(DEADLINE)
        assert self._thread is not None
        self._thread.join(DEADLINE)
        assert not self._thread.is_alive()
        if self.errors:
            raise self.errors[0]


@contextmanager
def ui_server(**kwargs: Any) -> Iterator[UiServer]:
    server = UiServer(**kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ---- the client --------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Client:
    """A plain HTTP/1.1 client for the UI (a browser's requests, minus the browser)."""

    def __init__(self, port: int, *, auth: str | None = None, token: str | None = None) -> None:
        self.port = port
        self.auth = auth
        self.token = token

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Host": f"127.0.0.1:{self.port}"}
        if self.auth:
            headers["Authorization"] = self.auth
        headers.update(extra or {})
        return headers

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=DEADLINE)
        try:
            connection.request(method, path, body=body, headers=self._headers(headers))
            response = connection.getresponse()
            data = response.read()
            found = {name.lower(): value for name, value in response.getheaders()}
            return Reply(response.status, found, data)
        finally:
            connection.close()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers=headers)

    def post(
        self, path: str, form: object | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        extra = {"Content-Type": "application/json"}
        if self.token is not None:
            extra[CSRF_HEADER] = self.token
        extra.update(headers or {})
        body = json.dumps(form if form is not None else {}).encode()
        return self.request("POST", path, body=body, headers=extra)

    def state(self) -> dict[str, Any]:
        reply = self.get("/api/state")
        assert reply.status == 200, reply.text
        result: dict[str, Any] = reply.json()
        return result

    def wait_for(self, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """Poll the state until `check` holds (fails after DEADLINE seconds)."""
        end = time.monotonic() + DEADLINE
        while True:
            state = self.state()
            if check(state):
                return state
            assert time.monotonic() < end, f"timed out waiting for {what}: {state['status']}"
            time.sleep(0.05)

    @contextmanager
    def events(self) -> Iterator[Iterator[tuple[str, dict[str, Any]]]]:
        """Open the event stream; yields an iterator of (event name, data)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=DEADLINE)
        connection.request("GET", "/api/stream", headers=self._headers(None))
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("content-type", "").startswith("text/event-stream")

        def read() -> Iterator[tuple[str, dict[str, Any]]]:
            name = ""
            while True:
                line = response.readline().decode("utf-8")
                if not line:
                    return
                line = line.rstrip("\n")
                if line.startswith("event: "):
                    name = line[len("event: ") :]
                elif line.startswith("data: "):
                    yield name, json.loads(line[len("data: ") :])

        try:
            yield read()
        finally:
            connection.close()


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_token(port: int) -> str:
    """The CSRF token a UI on `port` puts in its page (what the page's script sends)."""
    match = CSRF_META.search(Client(port).get("/").text)
    assert match, "the page has no CSRF token"
    return match.group(1)
