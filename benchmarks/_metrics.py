"""Pure arithmetic behind the benchmark's numbers: rates, ratios, steady-state windows, memory.

No clocks and no processes here, so that every number printed can be checked by a test.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CountSample",
    "SteadyWindow",
    "first_activity",
    "last_activity",
    "memory_per_user_kb",
    "offered_rate",
    "per_cpu_second",
    "rate_between",
    "ratio",
    "share_of_wall",
    "steady_per_cpu_second",
    "steady_window",
]


@dataclass(frozen=True, slots=True)
class CountSample:
    """The target's cumulative request count at one instant (epoch seconds)."""

    time: float
    total: int


@dataclass(frozen=True, slots=True)
class SteadyWindow:
    """The part of a run after ramp-up and before shutdown, in epoch seconds."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def per_cpu_second(requests: int, cpu_seconds: float) -> float | None:
    """Requests per CPU-second, or None when no CPU time was measured."""
    if cpu_seconds <= 0.0:
        return None
    return requests / cpu_seconds


def steady_per_cpu_second(
    first_count: int, first_cpu: float, last_count: int, last_cpu: float
) -> float | None:
    """Requests per CPU-second between two probes taken while the load ran.

    Each probe reads the generator's CPU time and the target's request count together, so
    the tool's startup and shutdown (imports, report writing) are left out.
    """
    return per_cpu_second(last_count - first_count, last_cpu - first_cpu)


def share_of_wall(
    first_time: float, first_value: float, last_time: float, last_value: float
) -> float | None:
    """How much a cumulative seconds counter (CPU time, run-queue wait) grew per wall second.

    1.0 means one full core busy (or one thread waiting) for the whole span.
    """
    if last_time <= first_time:
        return None
    return (last_value - first_value) / (last_time - first_time)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either side is missing or the divisor is zero."""
    if numerator is None or denominator is None or denominator == 0.0:
        return None
    return numerator / denominator


def offered_rate(users: int, mean_wait_seconds: float, latency_seconds: float) -> float:
    """The request rate a closed-loop user population asks for.

    Each user loops "request, then wait", so one cycle lasts the response time plus the wait;
    the population offers users / cycle requests per second. For `between(2, 5)` the mean wait
    is 3.5 s.
    """
    return users / (mean_wait_seconds + latency_seconds)


def _count_at(samples: Sequence[CountSample], when: float) -> float | None:
    """The cumulative count at `when`, linearly interpolated between the two nearest samples."""
    if not samples or when < samples[0].time or when > samples[-1].time:
        return None
    times = [sample.time for sample in samples]
    index = bisect_left(times, when)
    after = samples[index]
    if after.time == when or index == 0:
        return float(after.total)
    before = samples[index - 1]
    fraction = (when - before.time) / (after.time - before.time)
    return before.total + fraction * (after.total - before.total)


def rate_between(samples: Sequence[CountSample], start: float, end: float) -> float | None:
    """Requests per second the target served between two instants.

    Args:
        samples: cumulative counts in time order (the target reports one every fraction of a
            second).
        start: the window's start, epoch seconds.
        end: the window's end, epoch seconds; must be after `start`.

    Returns:
        The rate, or None when the window is empty or not covered by the samples.
    """
    if end <= start:
        return None
    first = _count_at(samples, start)
    last = _count_at(samples, end)
    if first is None or last is None:
        return None
    return (last - first) / (end - start)


def first_activity(samples: Sequence[CountSample], baseline_total: int) -> float | None:
    """The time of the first sample whose count rose above `baseline_total`, if any.

    The target reports counts at a fixed interval, so this is when load began to within one
    interval.
    """
    for sample in samples:
        if sample.total > baseline_total:
            return sample.time
    return None


def last_activity(samples: Sequence[CountSample]) -> float | None:
    """The time of the first sample that already shows the final count: when load stopped."""
    if not samples:
        return None
    final = samples[-1].total
    return next(sample.time for sample in samples if sample.total == final)


def steady_window(
    load_start: float,
    load_end: float,
    ramp_seconds: float,
    settle_seconds: float,
    tail_seconds: float,
) -> SteadyWindow | None:
    """The steady-state part of a run, or None when the run is too short to have one.

    Args:
        load_start: when the first request reached the target (a tool's run timer starts
            with spawning, which sends each new user's first request at once).
        load_end: when load stopped: the earlier of load_start + the tool's -t and the last
            time the target's count rose.
        ramp_seconds: users / spawn rate.
        settle_seconds: time after the ramp for the burst of first requests to spread out;
            at least the longest wait time.
        tail_seconds: margin before the tool stops its users.
    """
    start = load_start + ramp_seconds + settle_seconds
    end = load_end - tail_seconds
    if end - start < 1.0:
        return None
    return SteadyWindow(start=start, end=end)


def memory_per_user_kb(peak_rss_kb: int, baseline_rss_kb: int, users: int) -> float | None:
    """Resident memory each extra user costs, in KB.

    Args:
        peak_rss_kb: peak RSS of the run at full users.
        baseline_rss_kb: peak RSS of the same tool running one user.
        users: users in the full run.
    """
    if users <= 1 or peak_rss_kb <= 0 or baseline_rss_kb <= 0:
        return None
    return (peak_rss_kb - baseline_rss_kb) / (users - 1)
