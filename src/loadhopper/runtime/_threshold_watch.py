"""The threshold watch: thresholds judged once per closed window, and `--threshold-abort`.

A window listener on the runner: each closed window (in a master, each merged round of
its workers' windows) it evaluates the thresholds on the runner's statistics, which are
the merged data in a master, and remembers each threshold's first breach. With abort on,
the first window that finds a measured breach once the delay has passed stops the test
(`runner.stop()`), with one warning naming the threshold and its value.

It reads no clock of its own: a window's time is its point's, and the delay counts from
the runner's clock when the watch is attached (the test's start). `finish` judges once
more on the final statistics, which is what the exit code and the reports use.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from loadhopper.runtime._runner_protocol import Runner
from loadhopper.stats import (
    StatsCollector,
    StatsSnapshot,
    Threshold,
    ThresholdResult,
    TimelinePoint,
    evaluate_thresholds,
)

__all__ = ["ThresholdWatch"]

logger = logging.getLogger("loadhopper.thresholds")


class ThresholdWatch:
    """Judges thresholds on a runner's statistics at every closed window.

    Args:
        thresholds: the parsed thresholds, in the order to report.
        abort: stop the test at the first breach (`--threshold-abort`).
        abort_delay: seconds from the start of the test during which breaches are
            remembered but do not stop it (`--threshold-abort-delay`).
    """

    def __init__(
        self, thresholds: Sequence[Threshold], *, abort: bool = False, abort_delay: float = 0.0
    ) -> None:
        self.thresholds = tuple(thresholds)
        self.abort = abort
        self.abort_delay = abort_delay
        self._runner: Runner | None = None
        self._start = 0.0
        self._results: tuple[ThresholdResult, ...] = ()
        self._aborted = False

    @property
    def results(self) -> tuple[ThresholdResult, ...]:
        """The latest verdicts (empty before the first window)."""
        return self._results

    @property
    def aborted(self) -> bool:
        """Whether a breach stopped the test."""
        return self._aborted

    def attach(self, runner: Runner) -> None:
        """Watch `runner`'s windows from now on (call it as the test starts)."""
        self.detach()
        self._runner = runner
        self._start = runner.clock.time()
        self._results = ()
        self._aborted = False
        runner.window_listeners.append(self.on_window)

    def detach(self) -> None:
        """Stop watching (the verdicts so far are kept)."""
        runner, self._runner = self._runner, None
        if runner is not None and self.on_window in runner.window_listeners:
            runner.window_listeners.remove(self.on_window)

    def on_window(self, point: TimelinePoint) -> None:
        """The window listener: judge the statistics as of this window's end."""
        runner = self._runner
        if runner is None or not self.thresholds:
            return
        stats = runner.stats
        now = point.time
        self._results = evaluate_thresholds(
            self.thresholds, stats, stats.snapshot(now), now, self._results
        )
        if self.abort and not self._aborted and now - self._start >= self.abort_delay:
            self._abort_on_breach(runner)

    def _abort_on_breach(self, runner: Runner) -> None:
        for index, result in enumerate(self._results):
            # No data is not a breach while the test runs: only a measured value is.
            if result.passed or result.value is None:
                continue
            self._aborted = True
            marked = list(self._results)
            marked[index] = dataclasses.replace(result, aborted=True)
            self._results = tuple(marked)
            logger.warning(
                "Threshold %r failed (%s %s, limit %s %s): stopping the test (--threshold-abort).",
                result.expression,
                result.metric,
                result.value_text,
                result.operator,
                result.limit_text,
            )
            runner.stop()
            return

    def finish(
        self, stats: StatsCollector, snapshot: StatsSnapshot, now: float
    ) -> tuple[ThresholdResult, ...]:
        """Judge once more on the final statistics and stop watching.

        Args:
            stats: the test's statistics (in a master, the merged ones).
            snapshot: their final snapshot.
            now: its time (the end of the run), epoch seconds.
        """
        self.detach()
        self._results = evaluate_thresholds(self.thresholds, stats, snapshot, now, self._results)
        return self._results
