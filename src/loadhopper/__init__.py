"""loadhopper: load testing that runs Locust's locustfiles unchanged, fast, with exact stats.

Everything a locustfile may use is listed in `__all__`; the rest of the package is private.
Importing loadhopper has no side effects: nothing is patched, no event loop is created.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from loadhopper._exceptions import (
    CatchResponseError,
    InterruptTaskSet,
    LocustError,
    MissingWaitTimeError,
    RescheduleTask,
    RescheduleTaskImmediately,
    ResponseError,
    StopTest,
    StopUser,
)
from loadhopper.runtime import (
    ArrivalShape,
    Environment,
    LoadTestShape,
    events,
    run_blocking,
    run_single_user,
    stats_history,
    stats_printer,
)
from loadhopper.runtime import _gevent as gevent
from loadhopper.user import (
    FastHttpUser,
    HttpUser,
    MarkovTaskSet,
    SequentialTaskSet,
    TaskSet,
    User,
    between,
    constant,
    constant_pacing,
    constant_throughput,
    poisson,
    tag,
    task,
    transition,
    transitions,
)

try:
    __version__ = _version("loadhopper")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "ArrivalShape",
    "CatchResponseError",
    "Environment",
    "FastHttpUser",
    "HttpUser",
    "InterruptTaskSet",
    "LoadTestShape",
    "LocustError",
    "MarkovTaskSet",
    "MissingWaitTimeError",
    "RescheduleTask",
    "RescheduleTaskImmediately",
    "ResponseError",
    "SequentialTaskSet",
    "StopTest",
    "StopUser",
    "TaskSet",
    "User",
    "__version__",
    "between",
    "constant",
    "constant_pacing",
    "constant_throughput",
    "events",
    "gevent",
    "poisson",
    "run_blocking",
    "run_single_user",
    "stats_history",
    "stats_printer",
    "tag",
    "task",
    "transition",
    "transitions",
]
