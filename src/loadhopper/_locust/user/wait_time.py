"""`locust.user.wait_time` for locustfiles run by loadhopper."""

from loadhopper.user import between, constant, constant_pacing, constant_throughput

__all__ = ["between", "constant", "constant_pacing", "constant_throughput"]
