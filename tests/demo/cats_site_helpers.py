"""Test helpers: the cats site on loopback in a thread, and a client that reports redirects."""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    text: str


class SiteClient:
    """One request per connection, redirects reported, not followed."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def post(self, path: str, fields: dict[str, str]) -> Answer:
        body = urllib.parse.urlencode(fields).encode()
        return self.request(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}
        )

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            text = resp.read().decode()
            return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, text)
        finally:
            conn.close()

    def create(self, name: str = "Tom", age: int = 3) -> int:
        answer = self.post("/create", {"name": name, "age": str(age)})
        assert answer.status == 200, answer
        return int(answer.text)


@dataclass(frozen=True)
class Site:
    client: SiteClient
    db_path: Path


def serve_in_thread(app: Any) -> tuple[SiteClient, uvicorn.Server, threading.Thread]:
    # The socket listens before the thread starts, so requests may be sent at once: they wait
    # in the backlog until uvicorn accepts them. No readiness polling, no sleeps.
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    return SiteClient("127.0.0.1", sock.getsockname()[1]), server, thread
