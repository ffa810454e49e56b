"""The cats site: the seed article's sample target, made to survive its own load test.

The routes and their answers are the seed's, so that the seed's locustfile runs against it
unchanged:

    GET  /                 the list of cats (the first 100) and their count
    GET  /random           a random cat's id, as text (404 when there are no cats)
    GET  /create           the form
    POST /create           name, age -> the new cat's id, as text
    GET  /{id}             one cat
    GET  /{id}/update      the filled form
    POST /{id}/update      name, age -> 303 to /{id}
    GET  /{id}/delete      303 to /

What changed, and why:

* Handlers are `async def`, so they run one at a time on the event loop's thread with one
  SQLite connection (see `_cat_store.py`): no `ThreadingViolationError`, no lost rows.
* Bad input is a 4xx with a one-line plain-text reason, never a 500: 400 for a bad name or
  age (rules in `_cat_form.py`), 404 for an unknown id or `/random` on an empty table.
* Redirects are 303 See Other, so that a client follows a POST with a GET.
* Ids are never handed out twice (AUTOINCREMENT), and `/` lists at most 100 cats, so that a
  long load test neither mixes up users' cats nor makes the index slower and slower.
* No CDN: the app is built with `FastHTML(default_hdrs=False)` rather than `fast_app()`, which
  would add htmx and Pico CSS from jsdelivr and also serve every file of the current directory
  as static content. The pages need only the small inline stylesheet below.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, cast

from apsw import BusyError
from fasthtml.common import (
    A,
    FastHTML,
    Fieldset,
    Form,
    Input,
    Label,
    Li,
    Meta,
    NotStr,
    Ol,
    P,
    Redirect,
    Style,
    Titled,
    fill_form,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ._cat_form import AGE_MAX, AGE_MIN, NAME_MAX_CHARS, FormProblem, parse_cat_form
from ._cat_store import Cat, CatStore

__all__ = ["create_app"]

# SQLite rowids are 64-bit; 18 digits always fit, and anything longer is not one of our ids.
_ID = re.compile(r"[0-9]{1,18}")

# The index lists at most this many cats. The seed listed them all, which makes the page's
# cost grow with the table: rendering one item with FastHTML takes about 55 us here, so a load
# test that leaves thousands of rows would spend most of its time rendering `/`.
_INDEX_LIMIT = 100

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
fieldset { border: 1px solid #ccc; padding: 1rem; display: grid; gap: 0.5rem; }
input { font: inherit; padding: 0.25rem; }
"""


def create_app(db_path: str | os.PathLike[str], *, busy_timeout: float = 5.0) -> Starlette:
    """Build the cats site on the SQLite file at `db_path` (created if missing).

    The database is opened now and closed when the ASGI server shuts the app down (lifespan).

    Args:
        db_path: the SQLite file; its directory must exist.
        busy_timeout: seconds a request waits for a lock held by another process on the same
            file before it gets a 503 (this site's own requests never wait for each other).

    Returns:
        The ASGI application (a FastHTML app, which is a Starlette app).
    """
    store = CatStore(db_path, busy_timeout=busy_timeout)
    app = FastHTML(
        default_hdrs=False,  # no htmx, surreal or fasthtml.js from a CDN
        hdrs=(
            Meta(charset="utf-8"),
            Meta(name="viewport", content="width=device-width, initial-scale=1"),
            Style(_CSS),
        ),
        canonical=False,  # the canonical <link> would spell out an absolute http:// URL
        sess_cls=None,  # the site keeps no sessions
        # Unused without sessions, but without it FastHTML writes a `.sesskey` file into the
        # current directory, and a run must not touch the user's files.
        secret_key=secrets.token_hex(16),
        on_shutdown=[store.close],
        exception_handlers={
            404: _unknown_page,
            405: _wrong_method,
            BusyError: _database_busy,
        },
    )
    site = _CatsSite(store)
    # Order matters: /random and /create must be matched before /{cat_id}.
    routes: tuple[tuple[str, str, Callable[..., Awaitable[Any]]], ...] = (
        ("/", "get", site.index),
        ("/random", "get", site.random_id),
        ("/create", "get", site.create_form),
        ("/create", "post", site.create),
        ("/{cat_id}", "get", site.view),
        ("/{cat_id}/update", "get", site.update_form),
        ("/{cat_id}/update", "post", site.update),
        ("/{cat_id}/delete", "get", site.delete),
    )
    for path, method, handler in routes:
        app.route(path, methods=[method])(handler)
    return cast(Starlette, app)  # FastHTML subclasses Starlette; fasthtml ships no type hints


class _CatsSite:
    """The route handlers. FastHTML fills their parameters: `cat_id` from the path, `req`."""

    def __init__(self, store: CatStore) -> None:
        self._store = store

    async def index(self) -> Any:
        count = self._store.count()
        shown = self._store.first(_INDEX_LIMIT)
        more = count - len(shown)
        return Titled(
            "Cats",
            P(A("Create cat", href="/create"), NotStr(" "), A("Random ID", href="/random")),
            P(f"Number of cats: {count}"),
            Ol(*[Li(A(f"{cat.name}:{cat.age}", href=f"/{cat.id}")) for cat in shown]),
            P(f"... and {more} more, each at /{{id}}.") if more > 0 else None,
        )

    async def random_id(self) -> Response:
        cat_id = self._store.random_id()
        if cat_id is None:
            return _reason(404, "there are no cats yet: create one with POST /create first.")
        return PlainTextResponse(str(cat_id))

    async def create_form(self) -> Any:
        return Titled("Create Cat", _cat_form("/create"))

    async def create(self, req: Request) -> Response:
        form = parse_cat_form(await req.form())
        if isinstance(form, FormProblem):
            return _reason(400, form.reason)
        return PlainTextResponse(str(self._store.insert(form.name, form.age).id))

    async def view(self, cat_id: str) -> Any:
        cat = self._find(cat_id)
        if cat is None:
            return _no_such_cat(cat_id)
        return Titled(
            cat.name,
            P(str(cat.age)),
            P(A("update", href=f"/{cat.id}/update")),
            P(A("delete", href=f"/{cat.id}/delete")),
        )

    async def update_form(self, cat_id: str) -> Any:
        cat = self._find(cat_id)
        if cat is None:
            return _no_such_cat(cat_id)
        return Titled("Edit Cat", fill_form(_cat_form(f"/{cat.id}/update"), cat))

    async def update(self, cat_id: str, req: Request) -> Any:
        # Read the body first: other requests run while it arrives, none from here to return.
        fields = await req.form()
        cat = self._find(cat_id)
        if cat is None:
            return _no_such_cat(cat_id)
        form = parse_cat_form(fields)
        if isinstance(form, FormProblem):
            return _reason(400, form.reason)
        self._store.update(cat.id, form.name, form.age)
        return Redirect(f"/{cat.id}")

    async def delete(self, cat_id: str) -> Any:
        parsed = _parse_id(cat_id)
        if parsed is None or not self._store.delete(parsed):
            return _no_such_cat(cat_id)
        return Redirect("/")

    def _find(self, cat_id: str) -> Cat | None:
        parsed = _parse_id(cat_id)
        return None if parsed is None else self._store.get(parsed)


def _cat_form(target: str) -> Any:
    return Form(
        P(A("Home", href="/")),
        Fieldset(
            Label("Name", Input(name="name", required=True, maxlength=str(NAME_MAX_CHARS))),
            Label(
                "Age",
                Input(
                    name="age",
                    type="number",
                    required=True,
                    min=str(AGE_MIN),
                    max=str(AGE_MAX),
                    step="1",
                ),
            ),
        ),
        Input(type="submit", value="submit"),
        method="post",
        action=target,
    )


def _parse_id(text: str) -> int | None:
    return int(text) if _ID.fullmatch(text) else None


def _no_such_cat(cat_id: str) -> Response:
    return _reason(404, f"there is no cat with id '{_shown(cat_id)}': see / for the list of cats.")


def _shown(text: str, limit: int = 40) -> str:
    # Echo what the client sent, but as one short line: a path may hold %0A, and any length.
    text = text if text.isprintable() else repr(text)[1:-1]
    return text if len(text) <= limit else text[:limit] + "..."


def _reason(status: int, sentence: str) -> Response:
    # One line of plain text: what was wrong and what to do, readable in curl and in logs.
    return PlainTextResponse(sentence + "\n", status_code=status)


def _unknown_page(req: Request, exc: Exception) -> Response:
    return _reason(404, f"there is no page at {_shown(req.url.path)}: see / for the list of cats.")


def _wrong_method(req: Request, exc: Exception) -> Response:
    # Starlette raises 405 with the Allow header filled in; keep it and say it in words.
    allow = getattr(exc, "headers", None) or {}
    response = _reason(
        405,
        f"{req.method} is not allowed on {_shown(req.url.path)}: use {allow.get('Allow', 'GET')}.",
    )
    response.headers.update(allow)
    return response


def _database_busy(req: Request, exc: Exception) -> Response:
    # Only another process can hold the lock this long (this site's own requests never wait
    # for each other); the honest answer is "try again", not an internal error.
    return _reason(503, "the database is locked by another process: retry in a moment.")
