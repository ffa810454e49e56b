"""The locustfiles both cases run: one `GET /` task, in plain Locust syntax.

loadhopper runs them unchanged (`from locust import ...`), which is the point of the benchmark.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

__all__ = ["UserClass", "write_locustfile"]


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
