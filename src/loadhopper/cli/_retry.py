"""Writing an output file at the end of a run, trying again when the failure may pass.

A load test is the classic way to run out of file descriptors (every user holds a socket),
and long runs fill disks: an output written at the very end should not be lost to an error
that is gone a moment later. Errors that a wait cannot mend (a missing folder, no
permission) fail at once.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TRANSIENT_ERRNOS", "Retry", "reason_of"]

logger = logging.getLogger(__name__)

# Errors that may pass by themselves: descriptors freed as connections close, space freed
# by another process, an I/O error or a timeout on a network file system.
_TRANSIENT_NAMES = (
    "EMFILE", "ENFILE", "ENOSPC", "EDQUOT", "EIO", "EAGAIN", "EINTR", "EBUSY", "ENOMEM",
    "ETIMEDOUT", "ESTALE",
)  # fmt: skip
# getattr: not every platform has every name (Windows has no EDQUOT or ESTALE).
TRANSIENT_ERRNOS = frozenset(
    code for code in (getattr(errno, name, None) for name in _TRANSIENT_NAMES) if code is not None
)


def reason_of(exc: OSError) -> str:
    """The operating system's words for an error (`Too many open files`), without a path."""
    return exc.strerror or str(exc) or type(exc).__name__


@dataclass(frozen=True, slots=True)
class Retry:
    """How often, and after how long, a failed write is tried again.

    Attributes:
        delays: the waits before the second, third, ... attempt, in seconds. The default
            gives four attempts within 1.4 s per file, short enough not to hold up the end
            of a run, long enough for closing connections to free descriptors.
        sleep: how to wait (a fake in tests).
    """

    delays: tuple[float, ...] = (0.1, 0.3, 1.0)
    sleep: Callable[[float], None] = time.sleep

    def write(self, path: Path, write: Callable[[], None]) -> OSError | None:
        """Call `write` until it succeeds, it fails for good, or the attempts run out.

        Args:
            path: the file being written, for the log.
            write: writes the file whole (raising OSError on failure).

        Returns:
            None once the file is written, else the last error (not logged here: the
            caller says what it means).
        """
        for delay in (*self.delays, None):
            try:
                write()
            except OSError as exc:
                if delay is None or exc.errno not in TRANSIENT_ERRNOS:
                    return exc
                logger.warning(
                    "Could not write %s (%s); trying again in %g s.", path, reason_of(exc), delay
                )
                self.sleep(delay)
            else:
                return None
        raise AssertionError("unreachable: the last attempt always returns")
