"""A fast stub of the cats site for benchmark case 3, run as its own process.

Case 3 runs the seed's locustfile (src/loadhopper/demo/locustfile.py) with no wait. Against the
real site (FastHTML, Starlette, SQLite) the target would cost far more CPU per request than
either generator, and the run would measure the site. This stub answers the same routes with
the same status codes, bodies of the same kind and the same redirects, at once, so that both
tools run exactly the task code they would run against the site, and the generator's CPU is
what differs.

The routes, as the site answers them (src/loadhopper/demo/cats.py):

    GET  /                 200 HTML (the list; here a fixed short page)
    GET  /random           200 a live cat's id as text, 404 when there is none
    GET  /create           200 HTML (the form)
    POST /create           name, age -> 200 the new id as text; 400 for a bad form
    GET  /{id}             200 HTML for a live cat, 404 otherwise
    GET  /{id}/update      200 HTML (the form) for a live cat, 404 otherwise
    POST /{id}/update      name, age -> 303 to /{id}; 404 unknown id; 400 bad form
    GET  /{id}/delete      303 to / (and the cat is gone); 404 unknown id

Anything else is a 404, and a known path with the wrong method a 405 with `Allow`, as the
site does. The form rules are the site's (`_cat_form.py`): a name of 1 to 100 characters after
stripping, an age that is a whole number from 0 to 100; only url-encoded forms are read (the
locustfile sends nothing else). Live ids are kept in a set, so that update, view and delete
check the id as the site does and a tool that mixed up its users' cats would get 404s.

`CatsStub.answer` is the whole behaviour, with no I/O (the tests call it directly and through
a socket); `_StubProtocol` glues it to asyncio with httptools, as `_target_server.py` does.

Protocol on stdout, one line each (the same as `_target_server.py`, so the same reader works):
    READY <port>                 once listening on 127.0.0.1
    <epoch seconds> <total>      every --report-interval seconds, and once at exit

Usage: python _cats_stub.py [--port 0] [--report-interval 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
import time
from typing import cast
from urllib.parse import parse_qs, unquote

import httptools

__all__ = ["AGE_MAX", "AGE_MIN", "NAME_MAX_CHARS", "CatsStub"]

# The site's form rules (src/loadhopper/demo/_cat_form.py); restated rather than imported so
# that the stub runs as a plain script from the benchmark's venv without the package's deps.
NAME_MAX_CHARS = 100
AGE_MIN = 0
AGE_MAX = 100
# The site's id rule: up to 18 ASCII digits (cats.py, `_ID`).
_ID = re.compile(r"[0-9]{1,18}")
_AGE = re.compile(r"[+-]?[0-9]{1,4}")
_FORM_TYPE = b"application/x-www-form-urlencoded"

_HTML = b"text/html; charset=utf-8"
_TEXT = b"text/plain; charset=utf-8"
_INDEX = (
    b"<!doctype html><html><head><title>Cats</title></head><body><h1>Cats</h1>"
    b'<p><a href="/create">Create cat</a> <a href="/random">Random ID</a></p>'
    b"<p>Number of cats: many</p></body></html>"
)
_FORM = (
    b'<!doctype html><html><head><title>Cat</title></head><body><form method="post">'
    b'<input name="name"><input name="age" type="number"><input type="submit"></form>'
    b"</body></html>"
)
_REASONS = {
    200: b"OK",
    303: b"See Other",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
}


def _response(
    status: int, body: bytes, content_type: bytes = _TEXT, extra: bytes = b"", close: bool = False
) -> bytes:
    head = b"HTTP/1.1 %d %s\r\ncontent-length: %d\r\ncontent-type: %s\r\n%s" % (
        status,
        _REASONS[status],
        len(body),
        content_type,
        extra,
    )
    if close:
        head += b"connection: close\r\n"
    return head + b"\r\n" + body


def _redirect(location: str, close: bool) -> bytes:
    # Starlette's RedirectResponse: 303, a Location header, an empty body.
    return _response(303, b"", _TEXT, b"location: %s\r\n" % location.encode("ascii"), close)


def _form_problem(content_type: bytes, body: bytes) -> str | None:
    """Why the form is refused (the site's rules, shortened), or None when it is valid."""
    if not content_type.lower().startswith(_FORM_TYPE):
        return "name is missing: send a url-encoded form with the fields 'name' and 'age'."
    fields = parse_qs(body.decode("latin-1"), keep_blank_values=True)
    names, ages = fields.get("name"), fields.get("age")
    if not names or not 1 <= len(names[0].strip()) <= NAME_MAX_CHARS:
        return f"name must be 1 to {NAME_MAX_CHARS} characters."
    if not ages or _AGE.fullmatch(ages[0].strip()) is None:
        return f"age must be a whole number from {AGE_MIN} to {AGE_MAX}."
    if not AGE_MIN <= int(ages[0]) <= AGE_MAX:
        return f"age must be a whole number from {AGE_MIN} to {AGE_MAX}."
    return None


class CatsStub:
    """The site's routes over a set of live ids; `answer` turns one request into its response.

    Attributes:
        total: requests answered so far.
    """

    def __init__(self) -> None:
        self.total = 0
        self._next_id = 1
        self._live: set[int] = set()

    def answer(
        self,
        method: bytes,
        target: bytes,
        content_type: bytes = b"",
        body: bytes = b"",
        keep_alive: bool = True,
    ) -> bytes:
        """The whole response (status line, headers, body) to one request.

        Args:
            method: e.g. b"GET".
            target: the request target, e.g. b"/12/update?x=1" (the query is ignored).
            content_type: the request's Content-Type header, b"" when absent.
            body: the request body.
            keep_alive: False adds `connection: close` (the caller then closes).
        """
        self.total += 1
        close = not keep_alive
        path = unquote(target.split(b"?", 1)[0].decode("latin-1"))
        parts = path.strip("/").split("/") if path != "/" else []
        if not parts:
            return self._only(method, b"GET", close) or _response(200, _INDEX, _HTML, close=close)
        if parts == ["random"]:
            refused = self._only(method, b"GET", close)
            if refused:
                return refused
            if not self._live:
                return _response(404, b"there are no cats yet.\n", close=close)
            return _response(200, str(next(iter(self._live))).encode(), close=close)
        if parts == ["create"]:
            if method == b"GET":
                return _response(200, _FORM, _HTML, close=close)
            if method != b"POST":
                return _not_allowed(b"GET, POST", close)
            problem = _form_problem(content_type, body)
            if problem is not None:
                return _response(400, problem.encode() + b"\n", close=close)
            cat_id = self._next_id
            self._next_id += 1
            self._live.add(cat_id)
            return _response(200, str(cat_id).encode(), close=close)
        if len(parts) > 2 or (len(parts) == 2 and parts[1] not in ("update", "delete")):
            return _response(
                404, b"there is no page here: see / for the list of cats.\n", close=close
            )
        return self._cat(method, parts, content_type, body, close)

    def _cat(
        self, method: bytes, parts: list[str], content_type: bytes, body: bytes, close: bool
    ) -> bytes:
        action = parts[1] if len(parts) == 2 else "view"
        allowed = b"GET, POST" if action == "update" else b"GET"
        if method not in (b"GET", b"POST") or (method == b"POST" and action != "update"):
            return _not_allowed(allowed, close)
        cat_id = int(parts[0]) if _ID.fullmatch(parts[0]) else None
        if method == b"POST":
            # The site reads the form before it looks the cat up, then checks the id first.
            problem = _form_problem(content_type, body)
            if cat_id is None or cat_id not in self._live:
                return _no_such_cat(close)
            if problem is not None:
                return _response(400, problem.encode() + b"\n", close=close)
            return _redirect(f"/{cat_id}", close)
        if cat_id is None or cat_id not in self._live:
            return _no_such_cat(close)
        if action == "delete":
            self._live.discard(cat_id)
            return _redirect("/", close)
        if action == "update":
            return _response(200, _FORM, _HTML, close=close)
        page = b"<!doctype html><html><body><h1>cat %d</h1><p>7</p></body></html>" % cat_id
        return _response(200, page, _HTML, close=close)

    @staticmethod
    def _only(method: bytes, allowed: bytes, close: bool) -> bytes | None:
        return None if method == allowed else _not_allowed(allowed, close)


def _not_allowed(allowed: bytes, close: bool) -> bytes:
    return _response(405, b"method not allowed.\n", _TEXT, b"allow: %s\r\n" % allowed, close)


def _no_such_cat(close: bool) -> bytes:
    return _response(
        404, b"there is no cat with that id: see / for the list of cats.\n", close=close
    )


class _StubProtocol(asyncio.Protocol):
    """One connection: parse requests with httptools, answer each at once from the stub."""

    def __init__(self, stub: CatsStub) -> None:
        self._stub = stub
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._header = b""
        self._content_type = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    # httptools callbacks, in the order a request arrives.
    def on_message_begin(self) -> None:
        self._url, self._content_type, self._body = b"", b"", []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-type":
            self._content_type = value

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        keep_alive = self._parser.should_keep_alive()
        method = self._parser.get_method()
        transport.write(
            self._stub.answer(
                method, self._url, self._content_type, b"".join(self._body), keep_alive
            )
        )
        if not keep_alive:
            transport.close()


async def _report(stub: CatsStub, interval: float) -> None:
    while True:
        sys.stdout.write(f"{time.time():.3f} {stub.total}\n")
        sys.stdout.flush()
        await asyncio.sleep(interval)


async def _serve(port: int, interval: float) -> None:
    loop = asyncio.get_running_loop()
    stub = CatsStub()
    server = await loop.create_server(lambda: _StubProtocol(stub), "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sys.stdout.write(f"READY {server.sockets[0].getsockname()[1]}\n")
    sys.stdout.flush()
    reporter = asyncio.create_task(_report(stub, interval))
    await stop.wait()
    reporter.cancel()
    server.close()
    sys.stdout.write(f"{time.time():.3f} {stub.total}\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--report-interval", type=float, default=0.25)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # the default loop still works, only slower
        asyncio.run(_serve(args.port, args.report_interval))
    else:
        uvloop.run(_serve(args.port, args.report_interval))


if __name__ == "__main__":
    main()
