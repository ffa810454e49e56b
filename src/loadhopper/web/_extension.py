"""The web UI's extension point: the `web_ui` that `events.init` listeners receive.

Locust hands init listeners its Flask UI, and locustfiles add pages to it
(`@environment.web_ui.app.route("/content-length")`, Locust's `extend_web_ui.py`). Our UI is
a Starlette app, so `web_ui.app` is a small object with both spellings:

    @web_ui.app.route("/hello/<name>")            # Flask-style: returns str, dict, list,
    def hello(name):                              # bytes, a Response, or a tuple
        return {"hello": name}                    # (body, status[, headers])

    web_ui.app.add_route("/raw", endpoint)        # Starlette-style: endpoint(request) -> Response

and `web_ui.add_tab("Content length", "/content-length")` adds a tab to the page that shows
what that route answers (a list of objects as a table, an object as name/value rows, text as
text), read again every two seconds while the tab is open.

What differs from Flask, on purpose: there is no `flask.request` global (a handler with a
parameter named `request` gets Starlette's `Request`); handlers run on the event loop, which
is also the load's, so they must be quick (a slow one delays the load: do heavy work in a
thread); blueprints and `render_template` do not exist. Every extension route sits behind
the same guard as the UI's own (login, Host check, CSRF token on anything but GET and HEAD),
and may not take a path the UI itself serves.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, Router

from loadhopper._exceptions import ConfigError

if TYPE_CHECKING:
    from loadhopper.runtime import Environment

__all__ = ["ExtensionApp", "ExtensionTab", "WebExtensions", "extensions_route", "starlette_path"]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
Endpoint = Callable[[Request], Awaitable[Response] | Response]

# The UI's own paths: an extension may not shadow them (built-in routes would win anyway,
# and a route that silently never answers is worse than an error at registration).
_RESERVED_PREFIXES = ("/api/", "/static/", "/download/")
_RESERVED_PATHS = ("/", "/metrics")
# Flask's `<converter:name>` placeholders and the Starlette converter each maps to.
_FLASK_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_CONVERTERS = {None: "", "string": "", "int": ":int", "float": ":float", "path": ":path"}


def starlette_path(rule: str) -> str:
    """A Flask rule (`/user/<int:id>`) as a Starlette path (`/user/{id:int}`)."""

    def convert(match: re.Match[str]) -> str:
        converter, name = match.group(1), match.group(2)
        if converter not in _CONVERTERS:
            raise ConfigError(
                f"The route {rule!r} uses the converter {converter!r}; use string, int, "
                "float or path."
            )
        return "{" + name + _CONVERTERS[converter] + "}"

    return _FLASK_PARAM.sub(convert, rule)


def _check_path(path: str) -> None:
    if not path.startswith("/"):
        raise ConfigError(f"The route {path!r} must start with '/'.")
    if path in _RESERVED_PATHS or path.startswith(_RESERVED_PREFIXES):
        raise ConfigError(
            f"The web UI itself serves {path!r}; give the extension route another path."
        )


def _response(result: object) -> Response:
    """What a Flask-style handler returned, as Flask would answer it."""
    status: int | None = None
    headers: Mapping[str, str] | None = None
    if isinstance(result, tuple):
        body, *rest = result
        for extra in rest:
            if isinstance(extra, int):
                status = extra
            elif isinstance(extra, Mapping):
                headers = extra
        result = body
    if isinstance(result, Response):
        if status is not None:
            result.status_code = status
        if headers:
            result.headers.update(headers)
        return result
    code = 200 if status is None else status
    if isinstance(result, str):
        return HTMLResponse(result, code, headers)  # Flask's default for text, too
    if isinstance(result, bytes):
        return Response(result, code, headers, media_type="text/html")
    if isinstance(result, (dict, list)):
        return JSONResponse(result, code, headers)
    raise TypeError(
        f"An extension route returned {type(result).__name__}; return a str, dict, list, "
        "bytes, a Response or a (body, status) tuple."
    )


def _flask_endpoint(handler: Callable[..., Any]) -> Endpoint:
    wants_request = "request" in inspect.signature(handler).parameters

    async def endpoint(request: Request) -> Response:
        kwargs = dict(request.path_params)
        if wants_request:
            kwargs["request"] = request
        result = handler(**kwargs)
        if inspect.isawaitable(result):
            result = await result
        try:
            return _response(result)
        except TypeError as exc:
            logger.error("%s (%s)", exc, getattr(handler, "__qualname__", handler))
            return PlainTextResponse(str(exc), 500)

    return endpoint


def _starlette_endpoint(handler: Endpoint) -> Endpoint:
    # Called on the loop, not in a thread pool: handlers read the live statistics, which
    # belong to the loop (Starlette would run a plain function in a worker thread).
    async def endpoint(request: Request) -> Response:
        result = handler(request)
        if inspect.isawaitable(result):
            return await result
        return result

    return endpoint


class ExtensionApp:
    """`web_ui.app`: extra routes for the UI's server, Flask-style or Starlette-style.

    Routes may be added before the server starts (in `events.init`) or while it runs.
    """

    def __init__(self) -> None:
        self._routes: list[BaseRoute] = []
        self._router: Router | None = None

    @property
    def routes(self) -> tuple[BaseRoute, ...]:
        """The routes added so far, in order."""
        return tuple(self._routes)

    def route(
        self, rule: str, methods: Sequence[str] | None = None, **_flask: Any
    ) -> Callable[[F], F]:
        """Flask's decorator: `@web_ui.app.route("/items/<int:id>", methods=["GET"])`.

        The handler gets the rule's placeholders as keyword arguments (and the request, if
        it has a `request` parameter) and returns a str (HTML), dict or list (JSON), bytes,
        a Starlette `Response`, or a tuple `(body, status)`, `(body, headers)` or
        `(body, status, headers)`. Flask's other options (`endpoint`, `strict_slashes`, ...)
        are accepted and ignored.

        Raises:
            ConfigError: the path is the UI's own, or uses an unknown converter.
        """

        def decorator(handler: F) -> F:
            self._add(starlette_path(rule), _flask_endpoint(handler), methods)
            return handler

        return decorator

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        methods: Sequence[str] | None = None,
        **_flask: Any,
    ) -> None:
        """Flask's non-decorator spelling of `route` (`endpoint` names are ignored)."""
        if view_func is None:
            raise ConfigError(f"add_url_rule({rule!r}) needs a view_func to call.")
        self.route(rule, methods)(view_func)

    def add_route(
        self, path: str, endpoint: Endpoint, methods: Sequence[str] | None = None
    ) -> None:
        """Starlette's spelling: `endpoint(request)` returns a Response (or awaits one).

        Raises:
            ConfigError: the path is the UI's own.
        """
        self._add(path, _starlette_endpoint(endpoint), methods)

    def _add(self, path: str, endpoint: Endpoint, methods: Sequence[str] | None) -> None:
        _check_path(path)
        route = Route(path, endpoint, methods=list(methods or ["GET"]))
        self._routes.append(route)
        if self._router is not None:
            self._router.routes.append(route)

    def bind(self, router: Router) -> None:
        """Serve the routes from `router` (after its own), those added later too."""
        self._router = router
        router.routes.extend(self._routes)


@dataclass(frozen=True, slots=True)
class ExtensionTab:
    """A tab the page adds: its title and the route whose answer it shows."""

    title: str
    path: str


class WebExtensions:
    """The `web_ui` given to `events.init` in web mode (also `environment.web_ui`).

    Attributes:
        environment: the run's environment.
        app: where extra routes go (`route`, `add_url_rule`, `add_route`).
        template_args: accepted for locustfiles written for Locust, which set keys here;
            `extended_csv_files` (`[{"href": ..., "title": ...}]`) become download links,
            other keys are kept and unused (the page is not a Jinja template).
    """

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.app = ExtensionApp()
        self.template_args: dict[str, Any] = {}
        self._tabs: list[ExtensionTab] = []

    @property
    def tabs(self) -> tuple[ExtensionTab, ...]:
        """The tabs added so far, in order."""
        return tuple(self._tabs)

    def add_tab(self, title: str, path: str) -> None:
        """Add a tab titled `title` that shows the answer of the GET route at `path`.

        Raises:
            ConfigError: the title is empty or the path is not an absolute one.
        """
        if not title.strip():
            raise ConfigError("A web UI tab needs a title; pass a short text.")
        if not path.startswith("/"):
            raise ConfigError(f"The tab {title!r} must name a path starting with '/'.")
        self._tabs.append(ExtensionTab(title=title, path=path))

    def update_template_args(self) -> None:
        """Locust's method, which extensions call before reading `template_args`; a no-op."""

    def page_dict(self) -> dict[str, Any]:
        """What the page reads from /api/extensions: the tabs and extra download links."""
        links = self.template_args.get("extended_csv_files") or []
        return {
            "tabs": [{"title": t.title, "url": t.path.lstrip("/")} for t in self._tabs],
            "links": [
                {
                    "title": str(link.get("title", link["href"])),
                    "url": str(link["href"]).lstrip("/"),
                }
                for link in links
                if isinstance(link, Mapping) and "href" in link
            ],
        }


def extensions_route(extensions: WebExtensions | None) -> Route:
    """GET /api/extensions: the tabs and links the page adds (none without extensions)."""

    async def page(request: Request) -> Response:
        if extensions is None:
            return JSONResponse({"tabs": [], "links": []})
        return JSONResponse(extensions.page_dict())

    return Route("/api/extensions", page, methods=["GET"])
