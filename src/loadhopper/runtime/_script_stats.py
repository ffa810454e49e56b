"""`stats_printer` and `stats_history`: Locust's greenlet functions for scripts, kept real.

A script that uses loadhopper as a library spawns them as Locust's docs teach
(`gevent.spawn(stats_printer(env.stats))`, `gevent.spawn(stats_history, env.runner)`):

- `stats_printer(stats)` returns the function that prints the console table the CLI prints
  (current rates, latencies since the start) every 2 seconds until its greenlet is killed.
- `stats_history(runner)` keeps `runner.history`: the timeline point of every one-second
  window closed while it runs (windows close only during a test, as Locust records its
  history only then), for the script to read back afterwards.

The table is the report layer's (`loadhopper.report`), above this one: it is looked up by
name when the printer first prints, so importing loadhopper does not import the reports.
The same goes for `Environment.create_web_ui`; both are Locust's API placing an upper
layer's piece in a lower layer's namespace.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loadhopper.runtime._clock import REAL_CLOCK
from loadhopper.runtime._gevent import sleep
from loadhopper.runtime._gevent._hub import block
from loadhopper.stats import StatsCollector, StatsSnapshot

if TYPE_CHECKING:
    from loadhopper.runtime._runner_protocol import Runner

__all__ = ["CONSOLE_STATS_INTERVAL_SEC", "stats_history", "stats_printer"]

CONSOLE_STATS_INTERVAL_SEC = 2.0
"""Seconds between two tables, as Locust's `stats.CONSOLE_STATS_INTERVAL_SEC` and the CLI."""


def _console_table() -> Callable[[StatsSnapshot], str]:
    report: Any = importlib.import_module("loadhopper.report")
    current = report.RateKind.CURRENT

    def table(snapshot: StatsSnapshot) -> str:
        return str(report.format_stats_table(snapshot, rates=current))

    return table


def stats_printer(stats: StatsCollector) -> Callable[[], None]:
    """The function that prints `stats` as the CLI's console table every 2 s, forever.

    Spawn it (`gevent.spawn(stats_printer(env.stats))`); kill the greenlet to stop it.
    """

    def print_stats_forever() -> None:
        table = _console_table()
        while True:
            print(table(stats.snapshot(REAL_CLOCK.time())) + "\n", flush=True)
            sleep(CONSOLE_STATS_INTERVAL_SEC)

    return print_stats_forever


def stats_history(runner: Runner) -> None:
    """Append every closed window's timeline point to `runner.history`, until killed.

    Spawn it (`gevent.spawn(stats_history, env.runner)`); it waits without doing anything
    else, and the runner feeds it one point a second while a test runs.
    """
    record = runner.history.append
    runner.window_listeners.append(record)
    try:
        block(asyncio.Event().wait(), "stats_history()")  # until the greenlet is killed
    finally:
        runner.window_listeners.remove(record)
