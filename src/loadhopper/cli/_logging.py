"""Logging for the command line: one compact line per record, to stderr or `--logfile`."""

from __future__ import annotations

import logging
import sys

from loadhopper._exceptions import ConfigError

__all__ = ["setup_logging"]

_FORMAT = "[%(asctime)s] %(levelname)s %(name)s: %(message)s"
_DATE_FORMAT = "%H:%M:%S"


def setup_logging(level: str, logfile: str | None) -> None:
    """Send log records at `level` and above to stderr, or to `logfile` when given.

    The root logger is reset, so that running `main()` twice in one process does not
    print every line twice.

    Raises:
        ConfigError: the log file cannot be opened.
    """
    handler: logging.Handler
    try:
        handler = (
            logging.FileHandler(logfile, encoding="utf-8")
            if logfile
            else logging.StreamHandler(sys.stderr)
        )
    except OSError as exc:
        raise ConfigError(
            f"Cannot open the log file {logfile}: {exc.strerror}; check --logfile."
        ) from None
    handler.setFormatter(logging.Formatter(_FORMAT, _DATE_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
