"""A small HTTP/1.1 target on loopback for the end-to-end tests, with the seed's routes.

Routes: `GET /` (index), `POST /create` (returns a new id as text), `POST /{id}/update`
(303 to `/{id}`), `GET /{id}`, `GET /{id}/delete` (303 to `/`), plus `GET /fail` (500),
`GET /delay` (answers after 30 ms), `GET /peer` (the client's address as the body) and
`GET /slow` (answers only when the test releases it, for stop-timeout tests).
"""

from __future__ import annotations

import http.server
import itertools
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_ID = re.compile(r"^/(\d+)(/update|/delete)?$")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real site
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", location: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if location is not None:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(body)

    def _drain(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    def do_GET(self) -> None:
        self.server.count("GET", self.path)
        if self.path == "/":
            self._send(200, b"cats index")
        elif self.path == "/fail":
            self._send(500, b"boom")
        elif self.path == "/peer":
            self._send(200, self.client_address[0].encode())
        elif self.path == "/delay":
            time.sleep(0.03)  # many requests are on the wire at any moment, as at a stop
            self._send(200, b"late")
        elif self.path == "/slow":
            self.server.release.wait(30)
            self._send(200, b"slow")
        elif (match := _ID.match(self.path)) and match.group(2) == "/delete":
            self._send(303, location="/")
        elif match and match.group(2) is None:
            self._send(200, f"cat {match.group(1)}".encode())
        else:
            self._send(404, b"not found")

    def do_POST(self) -> None:
        self._drain()
        self.server.count("POST", self.path)
        if self.path == "/create":
            self._send(200, str(next(self.server.ids)).encode())
        elif (match := _ID.match(self.path)) and match.group(2) == "/update":
            self._send(303, location=f"/{match.group(1)}")
        else:
            self._send(404, b"not found")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.ids = itertools.count(1)
        self.release = threading.Event()
        self.requests: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def count(self, method: str, path: str) -> None:
        with self._lock:
            self.requests[(method, path)] = self.requests.get((method, path), 0) + 1

    def settled(self, quiet: float = 0.3, limit: float = 5.0) -> dict[tuple[str, str], int]:
        """The counts once no request has arrived for `quiet` seconds (at most `limit`).

        A request the load generator wrote just before it exited may still be on its way
        into a handler thread; the counts are read once they stop moving.
        """
        deadline = time.monotonic() + limit
        last = dict(self.requests)
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = dict(self.requests)
            if now == last:
                break
            last = now
        return last

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


@contextmanager
def serve() -> Iterator[_Server]:
    """Serve on 127.0.0.1 on a free port, in a background thread, for one test."""
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
