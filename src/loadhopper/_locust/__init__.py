"""What `import locust` resolves to in a locustfile run by loadhopper (see `_locust_alias`)."""

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

__all__ = [
    "FastHttpUser",
    "HttpUser",
    "LoadTestShape",
    "SequentialTaskSet",
    "TaskSet",
    "User",
    "__version__",
    "between",
    "constant",
    "constant_pacing",
    "constant_throughput",
    "events",
    "run_single_user",
    "tag",
    "task",
]
