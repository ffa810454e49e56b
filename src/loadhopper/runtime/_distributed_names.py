"""MasterRunner and WorkerRunner: Locust's names for the two sides of a distributed run.

Locustfiles test `isinstance(environment.runner, WorkerRunner)` (or `MasterRunner`) to run
a piece of code in one process only, so both names must be the classes the runners really
are. `WorkerRunner` lives here: it is a `LocalRunner` that runs the users its master asks
for, per class, and hands each closed window to whoever serves it (`distributed/_worker.py`)
instead of keeping the run's timeline. `MasterRunner` is the base of the master, which
lives one layer up (`distributed/_master.py`) because it drives a transport; this base only
holds what both sides share: Locust's custom messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadhopper._exceptions import LoadhopperError
from loadhopper.runtime._load_model import ClosedRamp, LoadModel, model_of_test
from loadhopper.runtime._runner import LocalRunner
from loadhopper.runtime._state import RunnerState
from loadhopper.runtime._user_pool import UserPool
from loadhopper.stats import WindowDelta
from loadhopper.user import User

if TYPE_CHECKING:
    from loadhopper.runtime._environment import Environment

__all__ = ["CustomMessages", "MasterRunner", "Message", "WorkerRunner"]

logger = logging.getLogger(__name__)

MessageHandler = Callable[..., object]


@dataclass(frozen=True, slots=True)
class Message:
    """What a custom message handler receives as `msg` (Locust's `msg.type`, `msg.data`).

    Attributes:
        type: the name it was sent under.
        data: what the sender passed.
        node_id: the sender's client id (a worker's; the master's is "master").
    """

    type: str
    data: Any
    node_id: str


class CustomMessages:
    """`register_message` handlers of one runner, called as Locust calls them."""

    def __init__(self, environment: Environment) -> None:
        self._environment = environment
        self._handlers: dict[str, tuple[MessageHandler, bool]] = {}

    def register(self, name: str, handler: MessageHandler, concurrent: bool = False) -> None:
        if name in self._handlers:
            raise LoadhopperError(
                f"a handler for the message {name!r} is already registered; register it once"
            )
        self._handlers[name] = (handler, concurrent)

    def handle(self, name: str, data: Any, node_id: str) -> None:
        """Call the handler of `name`; a message nobody registered is logged, as in Locust."""
        found = self._handlers.get(name)
        if found is None:
            logger.warning("Got a message of type %r that has no registered handler.", name)
            return
        handler, _concurrent = found
        # A handler is user code: its failure is logged, the run goes on. `concurrent`
        # matters in Locust because a slow handler there blocks heartbeats; here messages
        # are read on the loop and a slow handler delays only the next message.
        try:
            handler(environment=self._environment, msg=Message(name, data, node_id))
        except Exception:
            logger.exception("The handler of the message %r failed.", name)


class MasterRunner:
    """Locust's master: runs no users, drives workers (see `loadhopper.distributed`)."""

    worker_index: int = -1  # as Locust's master: it has no index of its own

    @property
    def worker_count(self) -> int:
        """How many workers are running users."""
        return 0


class WorkerRunner(LocalRunner):
    """A worker: runs the users its master asks for and ships its windows to it.

    Attributes:
        worker_index: this worker's index among the run's workers, from 0 (-1 until the
            master has told it).
        client_id: Locust's name for this worker ("host_pid").
    """

    # The master resets the merged statistics when every worker has spawned, and then
    # tells each worker to reset (`reset_stats` below); a worker does not decide alone.
    _resets_own_stats = False
    _warns_own_cpu = False

    def __init__(self, environment: Environment, client_id: str = "") -> None:
        super().__init__(environment)
        self._worker_index = -1
        self._worker_count = 0
        self.client_id = client_id
        self._messages = CustomMessages(environment)
        self._targets: dict[str, int] = {}
        self.window_sink: Callable[[WindowDelta, bool], None] | None = None
        self.message_sink: Callable[[str, Any], None] | None = None

    @property
    def worker_index(self) -> int:
        """This worker's index among the run's workers, from 0 (-1 until configured)."""
        return self._worker_index

    @property
    def worker_count(self) -> int:
        """How many workers the run has (Locust's worker has no such attribute)."""
        return self._worker_count

    def configure(self, index: int, count: int) -> None:
        """Take the place the master gave this worker."""
        self._worker_index = index
        self._worker_count = count

    def set_targets(self, targets: dict[str, int]) -> None:
        """The users per class that the next ramp heads for (call `start` after)."""
        self._targets = dict(targets)

    def register_message(
        self, name: str, handler: MessageHandler, concurrent: bool = False
    ) -> None:
        """Call `handler(environment=..., msg=...)` for each message `name` from the master."""
        self._messages.register(name, handler, concurrent)

    def send_message(self, name: str, data: Any = None, client_id: str | None = None) -> None:
        """Send a custom message to the master (`client_id` is ignored, as in Locust)."""
        sink = self.message_sink
        if sink is None:
            raise LoadhopperError(
                "this worker is not connected to a master yet; send messages from a "
                "test_start listener or later"
            )
        sink(name, data)

    def reset_stats(self) -> None:
        """Forget what this worker has not reported yet (its master asked).

        The `reset_stats` event fires on the master, which owns the merged statistics.
        """
        self.environment.stats.reset(self.clock.time())

    def handle_message(self, name: str, data: Any) -> None:
        """A custom message from the master."""
        self._messages.handle(name, data, "master")

    # ---- LocalRunner's seams -----------------------------------------------------------

    def _model(self, user_count: int, spawn_rate: float) -> LoadModel:
        # The master runs the LoadTestShape and the -t timer; a worker only follows it: the
        # users it was dealt, or its part of the arrival schedule (`SetArrivals`).
        if self.environment.arrival_plan is not None:
            return model_of_test(self, user_count, spawn_rate)
        return ClosedRamp(user_count, spawn_rate)

    def _plan(
        self, pool: UserPool, user_count: int, classes: Sequence[type[User]]
    ) -> tuple[list[type[User]], list[Any]]:
        # The master dealt this worker its per-class counts; `user_count` is their sum.
        return pool.plan_targets(self._targets)

    def _close_window(self, user_count: int) -> None:
        stats = self.environment.stats
        delta = stats.close_window(self.clock.time(), user_count)
        sink = self.window_sink
        if sink is not None:
            # The last window of a test is closed in CLEANUP (see LocalRunner.run).
            sink(delta, self.state is RunnerState.CLEANUP)
        for listener in list(self.window_listeners):
            listener(stats.window_point(delta.window_index))
