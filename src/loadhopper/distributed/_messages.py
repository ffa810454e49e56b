"""The messages between a master and its workers, and their one-frame wire form.

Every message is a frozen dataclass; a transport carries frames (`bytes`) and knows nothing
of what is inside. `encode` turns a message into one frame and `decode` turns a frame back,
refusing a frame that is not one of the types below.

The frames are pickles. They only ever travel between processes of one run that this run
started itself (a forked child over a socketpair, or a Ray actor, and Ray pickles every
argument anyway), so unpickling them trusts nothing that the run does not already trust:
the locustfile's own code runs on both sides. Pickle also carries what user code puts in
custom messages and `report_to_master` data, which Locust allows to be any msgpack value.
A frame from anywhere else must never reach `decode`.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any

from loadhopper.runtime._arrival import ArrivalPlan

__all__ = [
    "Configure",
    "CustomMessage",
    "Failed",
    "Heartbeat",
    "Hello",
    "MasterMessage",
    "Quit",
    "ResetStats",
    "SetArrivals",
    "SetTargets",
    "SpawningComplete",
    "StopTest",
    "Stopped",
    "WindowReport",
    "WorkerMessage",
    "decode",
    "encode",
]


# ---- master -> worker ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Configure:
    """The worker's place in the run: sent once, before anything else."""

    index: int  # 0..count-1
    count: int


@dataclass(frozen=True, slots=True)
class SetTargets:
    """Run exactly these users per class (absolute counts), ramping at `spawn_rate`/s."""

    targets: tuple[tuple[str, int], ...]  # (class name, users), in the test's class order
    spawn_rate: float
    host: str | None = None
    user_count_total: int = 0  # the test's global target, for `runner.target_user_count`
    # The master's values of the options it shares (`MasterRunner.shared_options`: the
    # locustfile's own options, which the web UI's start form may have changed), set on the
    # worker's `environment.parsed_options` before its users start, as Locust sends them.
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class SetArrivals:
    """Begin a test under an arrival rate: run `plan` (this worker's part of the schedule).

    `targets` are the users to pre-start per class (`-u`, dealt as `SetTargets` deals
    them), started at `spawn_rate`/s; more start on demand up to `plan.max_users`.
    """

    plan: ArrivalPlan
    targets: tuple[tuple[str, int], ...]
    spawn_rate: float
    host: str | None = None
    user_count_total: int = 0
    options: tuple[tuple[str, Any], ...] = ()  # as in `SetTargets`


@dataclass(frozen=True, slots=True)
class StopTest:
    """Stop the users, then answer with `Stopped` carrying the last window."""


@dataclass(frozen=True, slots=True)
class ResetStats:
    """Forget what is not yet reported: the master reset the merged statistics.

    Windows the worker closes from then on carry `generation`, so the master tells the
    ones closed before the reset (still on their way) from the ones after.
    """

    generation: int


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Once a second to each live worker, with the merged round: Locust's heartbeat events.

    Liveness itself needs no heartbeat (a dead pipe or a failed Ray pull says it); this
    one exists for locustfiles that listen to `heartbeat_sent` / `heartbeat_received`.
    """


@dataclass(frozen=True, slots=True)
class Quit:
    """Stop (if running) and end the worker."""


# ---- worker -> master ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """The worker is up and ready for `Configure`."""

    worker_id: str  # Locust's client_id
    host: str
    pid: int


@dataclass(frozen=True, slots=True)
class WindowReport:
    """One closed one-second window: its delta (`WindowDelta.to_bytes()`) and the users."""

    delta: bytes
    user_count: int
    classes: tuple[tuple[str, int], ...]
    cpu_percent: float  # this process's CPU over the window (100 = one core)
    data: dict[str, Any] = field(default_factory=dict)  # what report_to_master added
    generation: int = 0  # the last ResetStats the worker had handled when it closed it


@dataclass(frozen=True, slots=True)
class SpawningComplete:
    """The worker reached its targets: its users then, in all and per class."""

    user_count: int
    classes: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Stopped:
    """The worker's users have stopped; `final` is its last, partial window (a report)."""

    final: WindowReport | None


@dataclass(frozen=True, slots=True)
class Failed:
    """The worker cannot go on (its locustfile failed to load, an internal error)."""

    reason: str


# ---- both ways -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustomMessage:
    """`runner.send_message(name, data)`: handled by `register_message(name, ...)`."""

    name: str
    data: Any


MasterMessage = (
    Configure | SetTargets | SetArrivals | ResetStats | StopTest | Heartbeat | Quit | CustomMessage
)
WorkerMessage = Hello | WindowReport | SpawningComplete | Stopped | Failed | CustomMessage

_TYPES = (
    Configure,
    SetTargets,
    SetArrivals,
    ResetStats,
    StopTest,
    Heartbeat,
    Quit,
    Hello,
    WindowReport,
    SpawningComplete,
    Stopped,
    Failed,
    CustomMessage,
)


def encode(message: MasterMessage | WorkerMessage) -> bytes:
    """One frame holding `message`."""
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


def decode(frame: bytes) -> MasterMessage | WorkerMessage:
    """The message in `frame`.

    Raises:
        ValueError: the frame is not a pickle of one of this module's message types.
    """
    try:
        message = pickle.loads(frame)
    except Exception as exc:
        raise ValueError(f"a frame of {len(frame)} bytes is not a loadhopper message") from exc
    if not isinstance(message, _TYPES):
        raise ValueError(f"a frame holds a {type(message).__name__}, which is no message type")
    return message
