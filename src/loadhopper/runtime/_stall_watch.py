"""The stall watch: names the code that blocks the event loop while a test runs.

Every user of a process shares one event loop. A call that blocks it (a blocking socket,
`requests.get`, a database driver, a CPU-heavy loop in a task) stops every user at once, and
the requests in flight meanwhile are measured with the stall inside their latency. That is
worse than an error: the numbers are silently wrong. The watch makes such a stall loud.

Theory of operation. Two halves, one on each side of the blockage:

- On the loop, a *heartbeat*: one timer callback every `BEAT_SECONDS` (25 ms; never per
  request) that notes when the next beat is due. When a beat (or `check()`, which the stats
  window calls before it closes) runs more than `STALL_THRESHOLD_SECONDS` late, the loop
  was blocked for that long and has just resumed: the stall is known. It is recorded in
  the stats (`StatsCollector.record_stall`, in the window open while it happened), and the
  first stall at each call site is logged as a warning that says what to do; later ones at
  the same site are only counted, and `stop()` logs one summary line.
- Off the loop, a daemon *watcher thread*: while the beat is overdue by more than
  `_SAMPLE_AFTER`, it samples the loop thread's stack (`sys._current_frames()`) every
  `_SAMPLE_EVERY` and keeps the innermost frame that is the locustfile's own code (not
  loadhopper, the standard library or an installed package), so that a `requests.get` in
  a task is named at the task's line. The site a stall is reported at is the one sampled
  most often during it; a stall too short to be sampled, or spent in C code that holds the
  GIL, is reported at an unknown site.

The threshold is 100 ms: a healthy loop runs each step in well under a millisecond (the
heartbeat's own lateness is about 1 ms under full load on the project's benchmark), so
100 ms is far from ordinary scheduling noise, yet it is a tenth of a stats window and of
the same order as the latencies a test measures.

A process that the operating system did not run (an overloaded machine, a suspended
process) also makes the beat late, though no code blocked the loop. The watcher tells the
two apart: when it wakes late itself, by more than half the threshold, while the process
used little CPU, the whole process was starved; that lateness is not reported as a stall
(it is logged at debug level).

The heartbeat also gives the loop's *lag* (`take_lag`): how late each beat fired, the
largest and the mean over the beats since the last take, which the runner records once a
window into the stats (`StatsCollector.record_health`). It costs one subtraction and two
adds per beat.

The watch only exists while a test runs (the runner's stats window starts and stops it);
`import loadhopper` starts nothing. It runs on real time only: a run on a `FakeClock`
(tests) has none.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass
from types import FrameType

from loadhopper.stats import StatsCollector

__all__ = ["BEAT_SECONDS", "STALL_THRESHOLD_SECONDS", "CallSite", "StallWatch"]

logger = logging.getLogger(__name__)

STALL_THRESHOLD_SECONDS = 0.1
"""A loop blocked longer than this is a stall (see the module docstring for why 100 ms)."""

BEAT_SECONDS = 0.025
"""The heartbeat: one timer callback on the loop this often."""

_SAMPLE_AFTER = 0.05  # the watcher samples once the beat is this overdue ...
_SAMPLE_EVERY = 0.02  # ... and then this often, until the beat comes
_MIN_WAIT = 0.005
_MAX_SAMPLES = 64  # per stall: enough to find the most frequent site
_MAX_SITES = 100  # sites warned about one by one; later ones are only summed
_HOW_TO_FIX = (
    "run blocking calls with loadhopper.run_blocking(fn, *args) from a task, or "
    "`await asyncio.to_thread(fn, *args)` from an async task"
)

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib") if name in paths}
    return tuple(os.path.abspath(d) + os.sep for d in dirs)


@dataclass(frozen=True, slots=True)
class CallSite:
    """Where the loop was blocked: a file (as shown), a line and a function."""

    file: str
    line: int
    function: str

    @property
    def location(self) -> str:
        """`file:line` (just the file for the unknown site, which has no line)."""
        return f"{self.file}:{self.line}" if self.line else self.file


UNKNOWN_SITE = CallSite("an unknown place", 0, "")
"""A stall that could not be sampled: too short, or spent in C code that holds the GIL."""


class _SiteFinder:
    """Maps the loop thread's current stack to the innermost frame of the user's code."""

    def __init__(self) -> None:
        self._library = (_PACKAGE_DIR, *_library_dirs())
        self._user_file: dict[str, bool] = {}  # by code filename; one entry per file seen
        self._cwd = os.getcwd() + os.sep

    def is_user_file(self, filename: str) -> bool:
        known = self._user_file.get(filename)
        if known is None:
            path = os.path.abspath(filename)
            known = not (
                filename.startswith("<")  # <frozen ...>, <string>
                or path.startswith(self._library)
                or f"{os.sep}site-packages{os.sep}" in path
                or f"{os.sep}dist-packages{os.sep}" in path
            )
            self._user_file[filename] = known
        return known

    def site(self, frame: FrameType | None) -> CallSite | None:
        """The innermost user frame; else the innermost frame (the loop's own code blocked)."""
        innermost: FrameType | None = frame
        while frame is not None:
            if self.is_user_file(frame.f_code.co_filename):
                return self._site_of(frame)
            frame = frame.f_back
        return None if innermost is None else self._site_of(innermost)

    def _site_of(self, frame: FrameType) -> CallSite:
        code = frame.f_code
        path = os.path.abspath(code.co_filename)
        shown = path[len(self._cwd) :] if path.startswith(self._cwd) else path
        function = code.co_name
        # A generator expression, comprehension or lambda is named after the function
        # it is written in, which is what a reader looks for at that line.
        outer = frame.f_back
        while function.startswith("<") and outer is not None:
            if outer.f_code.co_filename != code.co_filename:
                break
            function = outer.f_code.co_name
            outer = outer.f_back
        return CallSite(shown, frame.f_lineno or 0, function)


class _SiteTally:
    __slots__ = ("count", "longest", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.longest = 0.0


class StallWatch:
    """Watches the running loop for stalls and records them into `stats` (see the module).

    Args:
        stats: where each stall is recorded, in the open window.
        threshold: seconds of lateness that make a stall.
    """

    def __init__(
        self, stats: StatsCollector, *, threshold: float = STALL_THRESHOLD_SECONDS
    ) -> None:
        self._stats = stats
        self._threshold = threshold
        self._finder = _SiteFinder()
        self._lock = threading.Lock()
        # Shared with the watcher thread, under the lock: when the next beat is due, what
        # the watcher sampled since the last beat, and whether the process was starved.
        self._due = 0.0
        self._samples: dict[CallSite, int] = {}
        self._starved = False
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop_thread = 0
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sites: dict[CallSite, _SiteTally] = {}  # loop side only
        # The lag since the last `take_lag` (loop side only): seconds.
        self._lag_max = 0.0
        self._lag_sum = 0.0
        self._lag_beats = 0

    # ---- the loop side -------------------------------------------------------------------

    def start(self) -> None:
        """Start the heartbeat on the running loop and the watcher thread."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._due = time.monotonic() + BEAT_SECONDS
        self._timer = self._loop.call_later(BEAT_SECONDS, self._beat)
        self._thread = threading.Thread(
            target=self._watch, name="loadhopper-stall-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop both halves and log the summary line if the loop stalled. Safe to call twice."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)  # it waits on the event: it ends at once
            self._thread = None
        if self._sites:
            logger.warning(self.summary())
            self._sites = {}

    def summary(self) -> str:
        """The stalls so far in one sentence (empty when there was none)."""
        if not self._sites:
            return ""
        count = sum(t.count for t in self._sites.values())
        total = sum(t.total for t in self._sites.values())
        site, tally = max(self._sites.items(), key=lambda item: item[1].longest)
        return (
            f"The event loop stalled {count} {'time' if count == 1 else 'times'} for "
            f"{total:.2f} s in total; longest {tally.longest:.2f} s at {site.location}. "
            "The latencies measured in those windows include the stalls (marked in the "
            f"reports); {_HOW_TO_FIX}."
        )

    def _beat(self) -> None:
        loop = self._loop
        assert loop is not None
        self._timer = loop.call_later(BEAT_SECONDS, self._beat)
        self.check()

    def check(self) -> None:
        """On the loop: if the beat is overdue past the threshold, the stall just ended."""
        now = time.monotonic()
        with self._lock:
            late = now - self._due
            self._due = now + BEAT_SECONDS
            samples, self._samples = self._samples, {}
            starved, self._starved = self._starved, False
        if late > 0.0:  # `check()` from the window may run before the beat was due
            self._lag_sum += late
            self._lag_max = max(self._lag_max, late)
        self._lag_beats += 1
        if late <= self._threshold:
            return
        if starved:
            logger.debug("the process was not scheduled for %.0f ms (not a stall)", late * 1e3)
            return
        site = max(samples, key=samples.__getitem__) if samples else UNKNOWN_SITE
        self._stalled(site, late)

    def take_lag(self) -> tuple[float, float]:
        """The loop's lag since the last take, in ms: the latest beat's, and the mean."""
        beats = self._lag_beats
        lag_max = self._lag_max * 1e3
        # min(): a mean of equal lags may round a hair above them.
        taken = (lag_max, min(self._lag_sum * 1e3 / beats, lag_max) if beats else 0.0)
        self._lag_max = self._lag_sum = 0.0
        self._lag_beats = 0
        return taken

    def _stalled(self, site: CallSite, seconds: float) -> None:
        self._stats.record_stall(site.file, site.line, site.function, seconds * 1e3)
        tally = self._sites.get(site)
        if tally is None:
            if len(self._sites) >= _MAX_SITES:
                site = UNKNOWN_SITE
                tally = self._sites.get(site)
            if tally is None:
                tally = self._sites[site] = _SiteTally()
                self._warn(site, seconds)
        tally.count += 1
        tally.total += seconds
        tally.longest = max(tally.longest, seconds)

    @staticmethod
    def _warn(site: CallSite, seconds: float) -> None:
        where = site.location if not site.function else f"{site.location}, in {site.function}()"
        logger.warning(
            "The event loop was blocked for %.0f ms at %s: every user waited meanwhile, and "
            "the latencies measured then include it; %s. Later stalls here are only counted.",
            seconds * 1e3,
            where,
            _HOW_TO_FIX,
        )

    # ---- the watcher thread --------------------------------------------------------------

    def _watch(self) -> None:
        wait = BEAT_SECONDS + _SAMPLE_AFTER
        expected = time.monotonic() + wait
        cpu = time.process_time()
        while not self._stopped.wait(wait):
            now, cpu_now = time.monotonic(), time.process_time()
            overslept = now - expected
            # Late itself while the process hardly ran: the OS did not run this process.
            starved = overslept > self._threshold / 2 and (cpu_now - cpu) < overslept / 2
            with self._lock:
                late = now - self._due
                if starved and late > 0:
                    self._starved = True
                if late > _SAMPLE_AFTER:
                    self._sample()
                    wait = _SAMPLE_EVERY
                else:
                    wait = max(self._due + _SAMPLE_AFTER - now, _MIN_WAIT)
            expected = now + wait
            cpu = cpu_now

    def _sample(self) -> None:
        # Under the lock. The frame is read and dropped here: keeping it would keep the
        # user's locals alive.
        if sum(self._samples.values()) >= _MAX_SAMPLES:
            return
        frame = sys._current_frames().get(self._loop_thread)
        site = self._finder.site(frame)
        del frame
        if site is not None:
            self._samples[site] = self._samples.get(site, 0) + 1
