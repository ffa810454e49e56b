"""`locust.runners` for locustfiles run by loadhopper: the runners and Locust's state names.

`MasterRunner` and `WorkerRunner` are the classes the runners of a distributed run
(`--processes N`, `--ray ADDRESS`) really are, so `isinstance(environment.runner,
WorkerRunner)` picks the workers and `MasterRunner` the master, as in Locust (the master
itself is `loadhopper.distributed.MasterRunner`, a subclass of this one). In a one-process
run the runner is a `LocalRunner` and both tests are False.
"""

from loadhopper.runtime._distributed_names import MasterRunner, WorkerRunner
from loadhopper.runtime._runner import LocalRunner
from loadhopper.runtime._runner_protocol import Runner
from loadhopper.runtime._state import RunnerState

# Locust's state names (its values too: "ready", "spawning", ...), for code that compares
# `runner.state` with them.
STATE_INIT = RunnerState.READY
STATE_SPAWNING = RunnerState.SPAWNING
STATE_RUNNING = RunnerState.RUNNING
STATE_CLEANUP = RunnerState.CLEANUP
STATE_STOPPING = RunnerState.STOPPING
STATE_STOPPED = RunnerState.STOPPED
STATE_MISSING = RunnerState.MISSING

__all__ = [
    "STATE_CLEANUP",
    "STATE_INIT",
    "STATE_MISSING",
    "STATE_RUNNING",
    "STATE_SPAWNING",
    "STATE_STOPPED",
    "STATE_STOPPING",
    "LocalRunner",
    "MasterRunner",
    "Runner",
    "RunnerState",
    "WorkerRunner",
]
