"""The Logs tab: the run's last log lines, kept by a logging handler the web mode installs.

`LogBuffer` is a `logging.Handler` holding the newest `capacity` records (500, as Locust's
UI keeps) as plain dicts, each with a sequence number, so that the page asks only for the
lines after the last one it has (`GET /api/logs?after=N`) rather than receiving the whole
buffer every second. Records may come from any thread (a library's own threads log too),
so reads and writes share a lock. The page inserts every field as text, never
as markup.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["DEFAULT_LOG_LINES", "LogBuffer", "logs_endpoint"]

DEFAULT_LOG_LINES = 500  # Locust's UI keeps the last 500 lines as well (locust/log.py)
# One line's message is cut here: a locustfile that logs whole response bodies must not
# make each poll megabytes long.
MAX_MESSAGE_CHARS = 4000


class LogBuffer(logging.Handler):
    """The newest log records, for the page; the oldest are dropped first."""

    def __init__(self, capacity: int = DEFAULT_LOG_LINES, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._lines: collections.deque[dict[str, Any]] = collections.deque(maxlen=capacity)
        self._next = 0
        self._mutex = threading.Lock()  # records come from any thread; the page reads on the loop

    def emit(self, record: logging.LogRecord) -> None:
        """Keep one record."""
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[0] is not None:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
        except Exception:  # a bad format string in someone's log call must not break theirs
            self.handleError(record)
            return
        line: dict[str, Any] = {
            "time": record.created,
            "level": record.levelname,
            "logger": record.name,
            "message": message[:MAX_MESSAGE_CHARS],
        }
        with self._mutex:
            line["seq"] = self._next
            self._lines.append(line)
            self._next += 1

    def lines_after(self, after: int) -> tuple[list[dict[str, Any]], int]:
        """The lines numbered `after` and above still kept, and the number of the next."""
        with self._mutex:
            return [line for line in self._lines if line["seq"] >= after], self._next


async def logs_endpoint(request: Request) -> Response:
    """`GET /api/logs?after=N`: `{"lines": [...], "next": M, "enabled": bool}`."""
    logs: LogBuffer | None = getattr(request.app.state.controller, "logs", None)
    text = request.query_params.get("after", "0")
    after = int(text) if text.isdigit() else 0
    if logs is None:
        return JSONResponse({"lines": [], "next": 0, "enabled": False})
    lines, following = logs.lines_after(after)
    return JSONResponse({"lines": lines, "next": following, "enabled": True})
