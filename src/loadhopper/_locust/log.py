"""`locust.log` for locustfiles run by loadhopper: logging set up as loadhopper's CLI does.

`setup_logging` is the CLI's own (one compact line per record, to stderr or a log file),
so a script or locustfile that calls it gets the same output as `loadhopper --loglevel`.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from typing import Any

from loadhopper.cli._logging import setup_logging as _setup_cli_logging

__all__ = [
    "HOSTNAME",
    "greenlet_exception_logger",
    "setup_logging",
    "unhandled_greenlet_exception",
]

HOSTNAME = re.sub(r"\..*", "", socket.gethostname())
"""This machine's short host name (Locust puts it in its log lines)."""

unhandled_greenlet_exception = False
"""Set to True by a `greenlet_exception_logger` handler once it has logged a failure.

Locust's CLI reads this flag to exit non-zero; loadhopper's does not need to, because an
exception in a spawned greenlet is already reported through the run (the exceptions table,
and the exit code of a run with errors).
"""


def setup_logging(loglevel: str, logfile: str | None = None) -> None:
    """Send log records at `loglevel` and above to stderr, or to `logfile` when given.

    Args:
        loglevel: a level name, in any case (`"INFO"`, `"debug"`).
        logfile: a file to write to instead of stderr; its directory is created if needed.

    Raises:
        ValueError: the level is not a logging level name.
        ConfigError: the log file cannot be opened.
    """
    level = loglevel.upper()
    if not isinstance(logging.getLevelNamesMapping().get(level), int):
        raise ValueError(
            f"{loglevel!r} is not a log level; give DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
    if logfile and (directory := os.path.dirname(logfile)):
        os.makedirs(directory, exist_ok=True)
    _setup_cli_logging(level, logfile)


def greenlet_exception_logger(logger: logging.Logger, level: int = logging.CRITICAL) -> Any:
    """A callback for `Greenlet.link_exception` that logs the greenlet's exception to `logger`.

    A `SystemExit` is logged at INFO at most (its traceback at DEBUG), as Locust does: a
    greenlet calling `sys.exit()` is usually deliberate.

    Args:
        logger: where to log.
        level: the level of the record for any other exception.

    Returns:
        A function of one argument, the failed greenlet.
    """

    def exception_handler(greenlet: Any) -> None:
        global unhandled_greenlet_exception
        exc: BaseException | None = greenlet.exception
        exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
        if isinstance(exc, SystemExit):
            logger.log(
                min(logging.INFO, level),
                "sys.exit(%s) called in a greenlet (log level DEBUG shows where)",
                exc.code,
            )
            logger.debug("Unhandled exception in greenlet: %s", greenlet, exc_info=exc_info)
        else:
            logger.log(level, "Unhandled exception in greenlet: %s", greenlet, exc_info=exc_info)
        unhandled_greenlet_exception = True

    return exception_handler
