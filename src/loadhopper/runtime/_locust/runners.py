"""`locust.runners` for locustfiles run by loadhopper (local runs only)."""

from loadhopper.runtime._runner import LocalRunner, RunnerState

# Locust's state names, for code that compares `runner.state` with them.
STATE_INIT = RunnerState.READY
STATE_SPAWNING = RunnerState.SPAWNING
STATE_RUNNING = RunnerState.RUNNING
STATE_STOPPING = RunnerState.STOPPING
STATE_STOPPED = RunnerState.STOPPED

__all__ = [
    "STATE_INIT",
    "STATE_RUNNING",
    "STATE_SPAWNING",
    "STATE_STOPPED",
    "STATE_STOPPING",
    "LocalRunner",
    "RunnerState",
]
