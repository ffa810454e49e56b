"""The web UI's ASGI application: the page, its assets, the controls, the feed, downloads.

Routes (every one behind `RequestGuard`, see `_guard.py`):

    GET  /                      the page (the CSRF token sits in a <meta> element)
    GET  /static/{file}         app.js, app.css, and plotly.min.js from the `plotly` package
    GET  /api/state             everything the page shows, as one JSON object
    GET  /api/stream            server-sent events: `hello`, then `update` once a second
    GET  /api/logs?after=N      the Logs tab: the run's log lines numbered N and above
    POST /api/start             {users, spawn_rate, host?, run_time?, user_classes?,
                                 class_settings?, options?}
    POST /api/edit              {users, spawn_rate}
    POST /api/stop              {}
    POST /api/reset             {}
    GET  /download/{file}       stats.csv, stats_history.csv, failures.csv, exceptions.csv,
                                summary.json, report.html
    GET  /api/tasks             the Ratio tab; /api/row-history, /api/distribution: a row's
                                chart and the latency spectrum (see `_insights.py`)
    GET  /api/extensions        the tabs and links `events.init` listeners added (`_extension.py`)
    GET  /metrics               Prometheus metrics of the run (the text format, or OpenMetrics
                                by Accept); behind --web-login like the rest: give the scrape
                                config `basic_auth`

Control answers are JSON: `{"ok": true, "status": {...}}`, or `{"error": "one sentence"}`
with 400 (a bad field), 409 (not possible in this state) or 415 (not JSON).
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Awaitable, Callable, Iterable
from functools import lru_cache
from importlib import resources

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from loadhopper._exceptions import ConfigError, LoadhopperError
from loadhopper.report._prometheus import environment_exposition
from loadhopper.web._controller import WebController
from loadhopper.web._downloads import DOWNLOADS, download_response
from loadhopper.web._extension import WebExtensions, extensions_route
from loadhopper.web._forms import parse_edit_form, parse_start_form
from loadhopper.web._guard import DEFAULT_MAX_BODY_BYTES, RequestGuard
from loadhopper.web._insights import insight_routes
from loadhopper.web._login import WebLogin
from loadhopper.web._logs import logs_endpoint
from loadhopper.web._payload import full_payload, status_dict
from loadhopper.web._stream import EventStream

__all__ = ["create_app"]

# Our own assets, by URL name: (package file, media type).
_ASSETS = {
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "app.css": ("app.css", "text/css; charset=utf-8"),
    "extra.js": ("extra.js", "text/javascript; charset=utf-8"),
}
_PLOTLY = "plotly.min.js"


@lru_cache(maxsize=4)
def _asset(name: str) -> bytes:
    return (resources.files("loadhopper.web") / "static" / name).read_bytes()


@lru_cache(maxsize=1)
def _plotly_js() -> bytes | None:
    # plotly.js ships inside the Python `plotly` package (a dependency), so the page needs
    # no CDN and works offline.
    try:
        return (resources.files("plotly") / "package_data" / _PLOTLY).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        return None


async def _static(request: Request) -> Response:
    name = request.path_params["name"]
    cache = {"Cache-Control": "private, max-age=3600"}
    if name == _PLOTLY:
        body = _plotly_js()
        if body is None:
            return PlainTextResponse(
                "plotly.js is missing: install the `plotly` package (pip install plotly).", 503
            )
        return Response(body, media_type="text/javascript; charset=utf-8", headers=cache)
    if name not in _ASSETS:
        return PlainTextResponse(f"There is no file named {name!r}.", 404)
    filename, media_type = _ASSETS[name]
    return Response(_asset(filename), media_type=media_type, headers=cache)


async def _index(request: Request) -> Response:
    page = _asset("index.html").decode("utf-8")
    token = html.escape(request.app.state.csrf_token, quote=True)
    links = "\n".join(
        f'<li><a href="download/{d.slug}" download>{html.escape(d.label)}</a></li>'
        for d in DOWNLOADS
    )
    return HTMLResponse(page.replace("{{csrf_token}}", token).replace("{{downloads}}", links))


async def _state(request: Request) -> Response:
    return JSONResponse(full_payload(request.app.state.controller))


async def _metrics(request: Request) -> Response:
    controller: WebController = request.app.state.controller
    accept = request.headers.get("accept", "")
    body, media_type = environment_exposition(controller.environment, accept, controller.thresholds)
    return Response(body, headers={"Content-Type": media_type})


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> object:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise _NotJson
    body = await request.body()
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ConfigError("The request body is not valid JSON.") from None


class _NotJson(Exception):
    pass


Action = Callable[[WebController, object], None]


def _control(action: Action) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        controller: WebController = request.app.state.controller
        try:
            action(controller, await _json_body(request))
        except _NotJson:
            return _error("Send the form as JSON (Content-Type: application/json).", 415)
        except ConfigError as exc:
            return _error(str(exc), 400)
        except LoadhopperError as exc:
            return _error(str(exc), 409)
        status = status_dict(controller.status(), controller.snapshot())
        return JSONResponse({"ok": True, "status": status})

    return endpoint


def _start(controller: WebController, form: object) -> None:
    controller.start(parse_start_form(form))


def _edit(controller: WebController, form: object) -> None:
    controller.edit(parse_edit_form(form))


def _stop(controller: WebController, form: object) -> None:
    controller.stop()


def _reset(controller: WebController, form: object) -> None:
    controller.reset()


def create_app(
    controller: WebController,
    *,
    login: WebLogin | None = None,
    csrf_token: str | None = None,
    allowed_hosts: Iterable[str] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    extensions: WebExtensions | None = None,
) -> Starlette:
    """Build the web UI's ASGI application for one controller.

    Args:
        controller: the test lifecycle the UI drives.
        login: Basic credentials required on every route, or None for no login.
        csrf_token: the token state-changing requests must carry; a random one when None.
        allowed_hosts: the host names the Host header may name (DNS-rebinding defence),
            or None to allow any.
        max_body_bytes: the largest request body accepted (413 above it).
        extensions: the `web_ui` that `events.init` listeners filled (extra routes, served
            after the UI's own, and tabs), or None.

    Returns:
        The application. `app.state.stream.close()` ends the open event streams, which a
        server must do before it shuts down.
    """
    stream = EventStream(controller)
    token = csrf_token or secrets.token_urlsafe(32)
    routes = [
        Route("/", _index, methods=["GET"]),
        Route("/static/{name}", _static, methods=["GET"]),
        Route("/api/state", _state, methods=["GET"]),
        Route("/api/stream", stream, methods=["GET"]),
        Route("/api/logs", logs_endpoint, methods=["GET"]),
        Route("/api/start", _control(_start), methods=["POST"]),
        Route("/api/edit", _control(_edit), methods=["POST"]),
        Route("/api/stop", _control(_stop), methods=["POST"]),
        Route("/api/reset", _control(_reset), methods=["POST"]),
        Route("/download/{slug}", download_response, methods=["GET"]),
        Route("/metrics", _metrics, methods=["GET"]),
        *insight_routes(controller),
        extensions_route(extensions),
    ]
    guard = Middleware(
        RequestGuard,
        csrf_token=token,
        login=login,
        allowed_hosts=allowed_hosts,
        max_body_bytes=max_body_bytes,
    )
    app = Starlette(routes=routes, middleware=[guard])
    if extensions is not None:
        extensions.app.bind(app.router)
    app.state.controller = controller
    app.state.stream = stream
    app.state.csrf_token = token
    return app
