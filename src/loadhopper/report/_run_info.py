"""What a report says about the run itself, beside its statistics."""

from __future__ import annotations

from dataclasses import dataclass

from loadhopper.stats import ThresholdResult

__all__ = ["RunInfo"]


@dataclass(frozen=True, slots=True)
class RunInfo:
    """The run's identity and settings, as the JSON summary reports them.

    Attributes:
        start_time: when the test started, epoch seconds.
        end_time: when it ended (or when this report was made), epoch seconds.
        users: the target number of users (`-u`).
        spawn_rate: users started per second (`-r`).
        run_time: the run-time limit in seconds (`-t`), or None when there was none.
        host: the target host (`-H`, or the User classes' own `host` when None).
        locustfile: the locustfile path as given.
        version: the loadhopper version that ran the test.
        load_model: one line on what drove the load under an open model, e.g.
            "arrival rate 200/s, up to 50 users"; "" for the closed model (`-u/-r`).
        thresholds: each threshold's verdict (`--threshold`), in the order given.
    """

    start_time: float
    end_time: float
    users: int
    spawn_rate: float
    run_time: float | None
    host: str | None
    locustfile: str
    version: str
    load_model: str = ""
    thresholds: tuple[ThresholdResult, ...] = ()

    @property
    def duration(self) -> float:
        """Seconds from start to end (never negative)."""
        return max(0.0, self.end_time - self.start_time)
