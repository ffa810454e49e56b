"""The locustfile vocabulary: users, task sets (Markov ones too), tasks, tags and wait times."""

from loadhopper.user._http_user import FastHttpUser, HttpUser
from loadhopper.user._markov import MarkovTaskSet, transition, transitions
from loadhopper.user._task import TagFilter, tag, task
from loadhopper.user._taskset import SequentialTaskSet, TaskSet
from loadhopper.user._user import User
from loadhopper.user._user_environment import RequestSink, UrlNamer, UserEnvironment
from loadhopper.user._user_state import UserState
from loadhopper.user._wait_time import (
    WaitTime,
    between,
    constant,
    constant_pacing,
    constant_throughput,
    poisson,
)

__all__ = [
    "FastHttpUser",
    "HttpUser",
    "MarkovTaskSet",
    "RequestSink",
    "SequentialTaskSet",
    "TagFilter",
    "TaskSet",
    "UrlNamer",
    "User",
    "UserEnvironment",
    "UserState",
    "WaitTime",
    "between",
    "constant",
    "constant_pacing",
    "constant_throughput",
    "poisson",
    "tag",
    "task",
    "transition",
    "transitions",
]
