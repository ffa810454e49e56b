"""Distributed runs: a master in this process, workers elsewhere, one protocol between.

`MasterRunner` (`_master.py`) drives workers through a `Transport` (`_transport.py`):
forked processes over socketpairs (`_pipes.py`, `--processes`), Ray actors (`_ray.py`,
`--ray`), or tasks on the same loop (`_inprocess.py`, for tests). Every worker runs
`serve` (`_worker.py`); the messages are in `_messages.py`.
"""

from loadhopper.distributed._master import MasterRunner
from loadhopper.distributed._transport import Link, Transport, WorkerLost, WorkerSpec
from loadhopper.distributed._worker import serve
from loadhopper.distributed._workers import WorkerInfo, WorkerState

__all__ = [
    "Link",
    "MasterRunner",
    "Transport",
    "WorkerInfo",
    "WorkerLost",
    "WorkerSpec",
    "WorkerState",
    "serve",
]
