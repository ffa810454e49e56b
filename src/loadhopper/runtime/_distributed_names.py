"""MasterRunner and WorkerRunner: Locust's names, real classes that refuse to be built yet.

Locustfiles test `isinstance(environment.runner, WorkerRunner)` to run a piece of code in
one process only (Locust's `stop_on_threshold.py` example starts its checker on the master
or in a local run). The classes exist so that the test works and is simply False in a local
run; constructing one says, in one sentence, that distributed runs are not built yet.
"""

from __future__ import annotations

from typing import Any, ClassVar

from loadhopper._exceptions import LoadhopperError

__all__ = ["MasterRunner", "WorkerRunner"]


class _NotYetDistributed:
    _role: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise LoadhopperError(
            f"loadhopper cannot create a {self._role} runner yet, because distributed runs "
            "are not built; run the test in one process with create_local_runner()."
        )


class MasterRunner(_NotYetDistributed):
    """Locust's master: runs no users and drives workers (not available yet)."""

    _role = "master"

    @property
    def worker_count(self) -> int:
        """How many workers are connected."""
        return 0


class WorkerRunner(_NotYetDistributed):
    """Locust's worker: runs users for a master (not available yet)."""

    _role = "worker"
    worker_index: int = 0
    """This worker's index among the master's workers, from 0."""
