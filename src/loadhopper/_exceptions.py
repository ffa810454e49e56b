"""Every exception loadhopper defines, in two families.

Errors (something went wrong; the message says what and what to do)::

    LoadhopperError
     ├── LocustError                    (Locust's name, kept for `except LocustError`)
     │    ├── ResponseError
     │    │    └── CatchResponseError   (what `resp.failure("text")` records)
     │    └── MissingWaitTimeError
     ├── ConfigError                    (bad flag, config file or environment variable)
     ├── LocustfileError                (does not import, no User class, unknown class)
     └── BridgeError                    (blocking client call outside a user greenlet)

Control-flow signals (raised by user code to steer the runner; not errors)::

    ControlFlowSignal
     ├── StopUser
     ├── StopTest
     ├── RescheduleTask
     │    └── RescheduleTaskImmediately
     └── InterruptTaskSet
"""

from __future__ import annotations

__all__ = [
    "BridgeError",
    "CatchResponseError",
    "ConfigError",
    "ControlFlowSignal",
    "InterruptTaskSet",
    "LoadhopperError",
    "LocustError",
    "LocustfileError",
    "MissingWaitTimeError",
    "RescheduleTask",
    "RescheduleTaskImmediately",
    "ResponseError",
    "StopTest",
    "StopUser",
]


class LoadhopperError(Exception):
    """The root of every error loadhopper raises."""


class LocustError(LoadhopperError):
    """Locust's base error name, kept so that `except LocustError` in a locustfile works."""


class ResponseError(LocustError):
    """A response was not what the task expected."""


class CatchResponseError(ResponseError):
    """The failure recorded by `response.failure("reason")` inside `catch_response=True`."""


class MissingWaitTimeError(LocustError):
    """A User or TaskSet has no `wait_time` where one is needed."""


class ConfigError(LoadhopperError):
    """A command-line flag, config file or environment variable is invalid."""


class LocustfileError(LoadhopperError):
    """A locustfile cannot be used: it does not import, or defines no usable User class."""


class BridgeError(LoadhopperError):
    """A blocking client call was made where it cannot block (outside a user's greenlet)."""


class ControlFlowSignal(Exception):
    """Base of the exceptions that user code raises to steer the runner."""


class StopUser(ControlFlowSignal):
    """Stop this user: its `on_stop` runs, then it ends."""


class StopTest(ControlFlowSignal):
    """Stop the whole test (headless: the run ends and outputs are written)."""


class RescheduleTask(ControlFlowSignal):
    """End the current task now; the user waits, then picks its next task."""


class RescheduleTaskImmediately(RescheduleTask):
    """End the current task now and pick the next one without waiting."""


class InterruptTaskSet(ControlFlowSignal):
    """Leave the current TaskSet and return control to its parent."""

    def __init__(self, reschedule: bool = True) -> None:
        super().__init__(reschedule)
        self.reschedule = reschedule
