"""`locust.user.markov_taskset` for locustfiles run by loadhopper: the set, its decorators
and the errors a broken chain raises when its class is created."""

from loadhopper.user._markov import (
    InvalidTransitionError,
    MarkovTaskSet,
    MarkovTaskTagError,
    NoMarkovTasksError,
    NonMarkovTaskTransitionError,
    is_markov_task,
    transition,
    transitions,
)

__all__ = [
    "InvalidTransitionError",
    "MarkovTaskSet",
    "MarkovTaskTagError",
    "NoMarkovTasksError",
    "NonMarkovTaskTransitionError",
    "is_markov_task",
    "transition",
    "transitions",
]
