"""`locust.util` for locustfiles run by loadhopper: only `timespan` is provided.

Locust's other `locust.util` modules (`rounding`, `date`, `cache`, `deprecation`, ...) are
its own plumbing; importing one fails with ImportError rather than getting a stand-in that
behaves differently.
"""

__all__: list[str] = []
