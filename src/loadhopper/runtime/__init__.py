"""Running a test: the environment, events, runner, locustfile loading, the locust alias."""

from loadhopper.runtime._arrival import ArrivalPlan, ArrivalShape
from loadhopper.runtime._blocking import run_blocking
from loadhopper.runtime._clock import REAL_CLOCK, Clock, FakeClock, RealClock
from loadhopper.runtime._debug import run_single_user
from loadhopper.runtime._dispatch import class_sequence, spawn_schedule
from loadhopper.runtime._distributed_names import MasterRunner, WorkerRunner
from loadhopper.runtime._environment import Environment
from loadhopper.runtime._event_loop import new_event_loop
from loadhopper.runtime._events import EventHook, Events, RequestEventHook, events
from loadhopper.runtime._library import close_library_hub, library_scope
from loadhopper.runtime._limits import FileLimit, files_needed, raise_open_file_limit
from loadhopper.runtime._load_model import (
    SHAPE_POLL_SECONDS,
    ClosedRamp,
    Command,
    LoadModel,
    SetUsers,
    ShapeModel,
    StartIteration,
)
from loadhopper.runtime._loader import Locustfile, load_locustfile, locustfile_paths
from loadhopper.runtime._locust_alias import install_locust_alias, uninstall_locust_alias
from loadhopper.runtime._runner import WINDOW_SECONDS, LocalRunner
from loadhopper.runtime._runner_protocol import Runner
from loadhopper.runtime._script_stats import stats_history, stats_printer
from loadhopper.runtime._shape import LoadTestShape
from loadhopper.runtime._state import RunnerState
from loadhopper.runtime._threshold_watch import ThresholdWatch
from loadhopper.runtime._user_pool import DRAIN_SECONDS, UserPool

__all__ = [
    "DRAIN_SECONDS",
    "REAL_CLOCK",
    "SHAPE_POLL_SECONDS",
    "WINDOW_SECONDS",
    "ArrivalPlan",
    "ArrivalShape",
    "Clock",
    "ClosedRamp",
    "Command",
    "Environment",
    "EventHook",
    "Events",
    "FakeClock",
    "FileLimit",
    "LoadModel",
    "LoadTestShape",
    "LocalRunner",
    "Locustfile",
    "MasterRunner",
    "RealClock",
    "RequestEventHook",
    "Runner",
    "RunnerState",
    "SetUsers",
    "ShapeModel",
    "StartIteration",
    "ThresholdWatch",
    "UserPool",
    "WorkerRunner",
    "class_sequence",
    "close_library_hub",
    "events",
    "files_needed",
    "install_locust_alias",
    "library_scope",
    "load_locustfile",
    "locustfile_paths",
    "new_event_loop",
    "raise_open_file_limit",
    "run_blocking",
    "run_single_user",
    "spawn_schedule",
    "stats_history",
    "stats_printer",
    "uninstall_locust_alias",
]
