"""Tests of the compatibility names (`gevent`, the yielding `time.sleep`).

They live apart from tests/runtime, whose tests run on the fake clock: these check real
sleeping and real greenlet scheduling, so they wait (briefly) in real time.
"""

from runtime.conftest import clean_locust_modules, server

__all__ = ["clean_locust_modules", "server"]
