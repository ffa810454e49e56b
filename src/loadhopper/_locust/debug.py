"""`locust.debug` for locustfiles run by loadhopper."""

from loadhopper.runtime._debug import run_single_user

__all__ = ["run_single_user"]
