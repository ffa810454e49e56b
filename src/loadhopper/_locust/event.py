"""`locust.event` for locustfiles run by loadhopper."""

from loadhopper.runtime._events import EventHook, Events

__all__ = ["EventHook", "Events"]
