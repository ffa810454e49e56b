"""`locust.user.wait_time` for locustfiles run by loadhopper (`locust.wait_time` too)."""

from loadhopper.user import between, constant, constant_pacing, constant_throughput, poisson

__all__ = ["between", "constant", "constant_pacing", "constant_throughput", "poisson"]
