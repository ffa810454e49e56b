"""`locust.exception` for locustfiles run by loadhopper."""

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

__all__ = [
    "CatchResponseError",
    "InterruptTaskSet",
    "LocustError",
    "MissingWaitTimeError",
    "RescheduleTask",
    "RescheduleTaskImmediately",
    "ResponseError",
    "StopTest",
    "StopUser",
]
