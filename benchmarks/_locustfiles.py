"""The locustfiles the cases run: one `GET /` task (case 4: then a `time.sleep`), in Locust syntax.

loadhopper runs them unchanged (`from locust import ...`), which is the point of the benchmark.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

__all__ = ["UserClass", "write_locustfile", "write_sleep_locustfile"]


class UserClass(StrEnum):
    """Locust's two HTTP user classes."""

    HTTP = "HttpUser"
    FAST = "FastHttpUser"


_TEMPLATE = """from locust import {user_class}, {wait_name}, task


class BenchUser({user_class}):
    wait_time = {wait_time}

    @task
    def index(self):
        self.client.get("/")
"""


def write_locustfile(directory: Path, user_class: UserClass, wait_time: str) -> Path:
    """Write a one-task locustfile and return its path.

    Args:
        directory: where to write it (a temporary directory).
        user_class: the HTTP user class it subclasses.
        wait_time: a wait-time call from `locust`, e.g. "constant(0)" or "between(2, 5)".
    """
    wait_name = wait_time.split("(", 1)[0]
    slug = "".join(ch if ch.isalnum() else "_" for ch in wait_time).strip("_")
    path = directory / f"locustfile_{user_class.value.lower()}_{slug}.py"
    path.write_text(
        _TEMPLATE.format(user_class=user_class.value, wait_name=wait_name, wait_time=wait_time)
    )
    return path


# Case 4: the idiom issue 9 is about. A plain `time.sleep` from the standard library, which
# Locust's monkey-patching turns into a gevent sleep and loadhopper parks on its loop.
_SLEEP_TEMPLATE = """import time

from locust import {user_class}, constant, task


class SleepUser({user_class}):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/")
        time.sleep({sleep_seconds!r})
"""


def write_sleep_locustfile(directory: Path, user_class: UserClass, sleep_seconds: float) -> Path:
    """Write the case 4 locustfile: `GET /` then `time.sleep(sleep_seconds)`, no other wait.

    Args:
        directory: where to write it (a temporary directory).
        user_class: the HTTP user class it subclasses.
        sleep_seconds: the sleep after each request.
    """
    path = directory / f"locustfile_{user_class.value.lower()}_sleep.py"
    path.write_text(
        _SLEEP_TEMPLATE.format(user_class=user_class.value, sleep_seconds=float(sleep_seconds))
    )
    return path
