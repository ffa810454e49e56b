"""The live web UI: a Starlette app served by uvicorn in the runner's event loop.

`WebController` owns the test lifecycle (start, edit, stop, reset, new test), `create_app`
builds the ASGI application around it (page, controls, server-sent events, downloads, all
behind the request guard), and `WebServer` serves that app on a socket it binds itself.
"""

from loadhopper.web._app import create_app
from loadhopper.web._controller import ControllerStatus, FinishedTest, WebController
from loadhopper.web._forms import parse_edit_form, parse_start_form, parse_timespan, validate_host
from loadhopper.web._guard import CSRF_HEADER, DEFAULT_MAX_BODY_BYTES, RequestGuard
from loadhopper.web._login import WebLogin
from loadhopper.web._parameters import EditParameters, StartParameters
from loadhopper.web._server import WebServer, display_url

__all__ = [
    "CSRF_HEADER",
    "DEFAULT_MAX_BODY_BYTES",
    "ControllerStatus",
    "EditParameters",
    "FinishedTest",
    "RequestGuard",
    "StartParameters",
    "WebController",
    "WebLogin",
    "WebServer",
    "create_app",
    "display_url",
    "parse_edit_form",
    "parse_start_form",
    "parse_timespan",
    "validate_host",
]
