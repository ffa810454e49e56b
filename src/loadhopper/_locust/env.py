"""`locust.env` for locustfiles run by loadhopper."""

from loadhopper.runtime._environment import Environment

__all__ = ["Environment"]
