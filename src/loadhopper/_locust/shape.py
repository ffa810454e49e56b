"""`locust.shape` for locustfiles run by loadhopper."""

from loadhopper.runtime import LoadTestShape

__all__ = ["LoadTestShape"]
