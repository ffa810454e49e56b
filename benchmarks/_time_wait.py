"""Sockets in TIME_WAIT: what a run leaves behind, and what the next run pays for.

A generator that closes 15,000 connections leaves 15,000 sockets in TIME_WAIT, which Linux
keeps for 60 s. A run started meanwhile finds its new connections' local ports crowded: in
this project's measurements a 15,000-user case 2 run started with 20,000 of them ran the
generator at 98-100 % of its core from the first second (benchmarks/README.md, sixth session),
and in case 2 each tool would inherit the sockets of the tool before it. So case 2 waits,
bounded, until they have cleared before each run.

Counted from `/proc/net/tcp` and `/proc/net/tcp6` (state 06 is TIME_WAIT). Pure functions
apart from `time_wait_count` and `wait_for_time_wait`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["count_time_wait", "time_wait_count", "wait_for_time_wait"]

_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_TIME_WAIT = "06"
_STATE_FIELD = 3  # sl local_address rem_address st ...


def count_time_wait(table: str) -> int:
    """The TIME_WAIT sockets listed in the text of one `/proc/net/tcp*` table."""
    count = 0
    for line in table.splitlines()[1:]:  # the first line names the columns
        fields = line.split()
        if len(fields) > _STATE_FIELD and fields[_STATE_FIELD] == _TIME_WAIT:
            count += 1
    return count


def time_wait_count(tables: tuple[Path, ...] = _TABLES) -> int | None:
    """This machine's TCP sockets in TIME_WAIT, or None where it does not say."""
    total, seen = 0, False
    for path in tables:
        try:
            text = path.read_text()
        except OSError:
            continue
        seen = True
        total += count_time_wait(text)
    return total if seen else None


def wait_for_time_wait(
    limit: int,
    timeout: float,
    count: Callable[[], int | None] = time_wait_count,
    interval: float = 2.0,
) -> int | None:
    """Wait until at most `limit` sockets are in TIME_WAIT, or `timeout` seconds; return the
    last count (None where it is unknown: nothing is waited for then)."""
    deadline = time.monotonic() + timeout
    current = count()
    while current is not None and current > limit and time.monotonic() < deadline:
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        current = count()
    return current
