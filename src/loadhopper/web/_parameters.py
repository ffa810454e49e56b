"""What the start and edit forms ask for, once validated (see `_forms.py`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EditParameters", "StartParameters"]


@dataclass(frozen=True, slots=True)
class StartParameters:
    """A new test, as the start form describes it.

    Attributes:
        users: the peak number of users.
        spawn_rate: users started per second.
        host: the target (an http or https URL), or None to use each User class's `host`.
        run_time: seconds after which the test stops (ramp-up included), or None.
        user_classes: the names of the User classes to run; empty runs them all.
    """

    users: int
    spawn_rate: float
    host: str | None = None
    run_time: float | None = None
    user_classes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EditParameters:
    """A change to the running test: the new user count and the rate to reach it.

    Attributes:
        users: the number of users wanted.
        spawn_rate: users started or stopped per second.
    """

    users: int
    spawn_rate: float
