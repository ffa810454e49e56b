"""`locust.user.sequential_taskset` for locustfiles run by loadhopper."""

from loadhopper.user import SequentialTaskSet

__all__ = ["SequentialTaskSet"]
