"""The page's on-demand views: the task ratios, a row's chart, the latency distribution.

    GET /api/tasks                          Locust's /tasks: {"per_class": ..., "total": ...}
    GET /api/row-history?method=&name=      a row's points (and watch it from now on)
    GET /api/distribution?method=&name=     the Aggregated row's percentile spectrum, and
                                            the named row's when one is given

Each is read when the page shows the view, never pushed with the one-second update: a view
nobody opens costs nothing. Asking for a row's history is the one GET with an effect (the
row is recorded from then on, see `_history.py`); it changes no test state, so it needs no
CSRF token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loadhopper.report._spectrum import latency_spectrum, spectrum_dict
from loadhopper.runtime._task_ratio import task_ratios
from loadhopper.web._controller import WebController
from loadhopper.web._history import AGGREGATED, ROW_POINT_FIELDS, RowHistory

__all__ = ["insight_routes"]

Endpoint = Callable[[Request], Awaitable[Response]]


def _row_key(request: Request) -> tuple[str, str]:
    method = request.query_params.get("method", "")
    name = request.query_params.get("name", "")
    return (method, name) if name else ("", AGGREGATED)


def _tasks(controller: WebController) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        return JSONResponse(task_ratios(controller.environment))

    return endpoint


def _row_history(history: RowHistory) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        method, name = _row_key(request)
        points = history.points(method, name)
        return JSONResponse(
            {
                "method": method,
                "name": name,
                "fields": list(ROW_POINT_FIELDS),
                "points": [list(point) for point in points],
            }
        )

    return endpoint


def _distribution(controller: WebController) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        stats = controller.environment.stats
        spectra = [latency_spectrum(stats, "", AGGREGATED)]
        method, name = _row_key(request)
        if (method, name) != ("", AGGREGATED):
            spectra.append(latency_spectrum(stats, method, name))
        # The rows to choose from, busiest first (as the HTML report lists them).
        rows = sorted(stats.entries.values(), key=lambda row: -row.num_requests)
        return JSONResponse(
            {
                "spectra": [spectrum_dict(s) for s in spectra if s is not None],
                "rows": [{"method": r.method, "name": r.name} for r in rows],
            }
        )

    return endpoint


def insight_routes(controller: WebController) -> list[Route]:
    """The views' routes; the row history listens to the controller's windows from now."""
    history = RowHistory(controller.environment)
    controller.window_listeners.append(history.on_window)
    events = controller.environment.events
    # A new test or a reset starts each chart afresh, as the statistics do.
    events.test_start.add_listener(lambda **_kwargs: history.clear())
    events.reset_stats.add_listener(lambda **_kwargs: history.clear())
    return [
        Route("/api/tasks", _tasks(controller), methods=["GET"]),
        Route("/api/row-history", _row_history(history), methods=["GET"]),
        Route("/api/distribution", _distribution(controller), methods=["GET"]),
    ]
