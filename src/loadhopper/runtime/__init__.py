"""Running a test: the environment, events, runner, locustfile loading, the locust alias."""

from loadhopper.runtime._debug import run_single_user
from loadhopper.runtime._dispatch import class_sequence, spawn_schedule
from loadhopper.runtime._environment import Environment
from loadhopper.runtime._events import EventHook, Events, RequestEventHook, events
from loadhopper.runtime._limits import FileLimit, files_needed, raise_open_file_limit
from loadhopper.runtime._loader import Locustfile, load_locustfile, locustfile_paths
from loadhopper.runtime._locust_alias import install_locust_alias, uninstall_locust_alias
from loadhopper.runtime._runner import WINDOW_SECONDS, LocalRunner, RunnerState
from loadhopper.runtime._shape import LoadTestShape

__all__ = [
    "WINDOW_SECONDS",
    "Environment",
    "EventHook",
    "Events",
    "FileLimit",
    "LoadTestShape",
    "LocalRunner",
    "Locustfile",
    "RequestEventHook",
    "RunnerState",
    "class_sequence",
    "events",
    "files_needed",
    "install_locust_alias",
    "load_locustfile",
    "locustfile_paths",
    "raise_open_file_limit",
    "run_single_user",
    "spawn_schedule",
    "uninstall_locust_alias",
]
