"""What `import locust` resolves to in a locustfile run by loadhopper (see `_locust_alias`).

The names are Locust 2.47's `locust.__all__`. `from locust import log` (or `runners`,
`stats`, ...) works too: each aliased `locust.*` module is a submodule of this package.
"""

from typing import Any

from loadhopper import (
    FastHttpUser,
    HttpUser,
    LoadTestShape,
    SequentialTaskSet,
    TaskSet,
    User,
    __version__,
    between,
    constant,
    constant_pacing,
    constant_throughput,
    events,
    run_single_user,
    tag,
    task,
)
from loadhopper._locust.user import wait_time
from loadhopper.runtime import Events
from loadhopper.user import MarkovTaskSet, poisson, transition, transitions


class Locust:
    """Locust's pre-1.0 name for User: subclassing it fails, naming the new one."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise ImportError("Locust was renamed User in Locust 1.0; subclass User instead.")


class HttpLocust:
    """Locust's pre-1.0 name for HttpUser: subclassing it fails, naming the new one."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise ImportError(
            "HttpLocust was renamed HttpUser in Locust 1.0; subclass HttpUser instead."
        )


__all__ = [
    "Events",
    "FastHttpUser",
    "HttpLocust",
    "HttpUser",
    "LoadTestShape",
    "Locust",
    "MarkovTaskSet",
    "SequentialTaskSet",
    "TaskSet",
    "User",
    "__version__",
    "between",
    "constant",
    "constant_pacing",
    "constant_throughput",
    "events",
    "poisson",
    "run_single_user",
    "tag",
    "task",
    "transition",
    "transitions",
    "wait_time",
]
