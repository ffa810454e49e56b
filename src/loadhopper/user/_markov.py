"""MarkovTaskSet: a TaskSet whose next task depends on the task that just ran.

Theory of operation. Each method decorated with `@transition` / `@transitions` is a state
of a Markov chain, and its transitions name the states that may follow it, with weights.
A MarkovTaskSet instance starts in the first state declared in its class body; each time
its task loop asks for the next task (`get_next_task`), it hands out the current state and
draws the state after it from that state's transitions. Everything else (waits between
tasks, `schedule_task`, `interrupt()`, nesting, `async def` states, `on_start` and
`on_stop`) is TaskSet's own machinery, unchanged.

The chain is checked when the class is created, with Locust's rules and error types
(locust/user/markov_taskset.py, Locust 2.47), so that a broken chain fails at import
rather than mid-run:

- no state at all: `NoMarkovTasksError`;
- a transition to a name the class does not have: `InvalidTransitionError`;
- a transition to an attribute that has no transitions itself: `NonMarkovTaskTransitionError`;
- a state with `@tag`: `MarkovTaskTagError` (filtering states out could cut the chain);
- a state named `run`: `LocustError` (TaskSet.run is the task loop);
- states no path reaches from the first one: a warning, as in Locust;
- an `on_start`/`on_stop` that is a state: a warning (it runs as both).

One check is loadhopper's own: a reachable state whose transitions all weigh 0 is an
`InvalidTransitionError` at class creation. Locust accepts the class and then fails on
every pick once the chain reaches that state, so the user stops making requests.

As in Locust, only the class's own body is read (a subclass declares its whole chain, or
sets `abstract = True` to be a base that is not checked), and `@task` and `tasks` play no
part in choosing tasks: they are ignored, with a warning. Unlike Locust, a weight may be
fractional, as `@task` weights may be here.

The draw reuses `TaskPicker` (one bisection over cumulative weights), so a state costs the
same whatever its weights are. The class's `tasks` table lists the states weighted by how
often each runs in the long run, which is what tag filtering and `--show-task-ratio` see.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from loadhopper._exceptions import LocustError
from loadhopper.user._task import TAGS_ATTR, WEIGHT_ATTR, Task, TaskPicker
from loadhopper.user._taskset import TaskSet

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

logger = logging.getLogger(__name__)

F = TypeVar("F")

# Locust's attribute name: a dict of target name to weight on each decorated function, so
# code that inspects `fn.transitions` sees what it would under Locust.
TRANSITIONS_ATTR = "transitions"

# The long-run shares (`tasks` weights, for --show-task-ratio) are exact to about 1e-9, or
# as close as 10,000 steps get on a chain that mixes very slowly.
_CONVERGED = 1e-9
_MAX_ITERATIONS = 10_000


class NoMarkovTasksError(LocustError):
    """A MarkovTaskSet class declares no task with transitions."""


class InvalidTransitionError(LocustError):
    """A transition names something the class does not have, or leads to a dead end."""


class NonMarkovTaskTransitionError(LocustError):
    """A transition leads to an attribute that declares no transitions of its own."""


class MarkovTaskTagError(LocustError):
    """A MarkovTaskSet state carries tags, which the chain does not support."""


def is_markov_task(obj: object) -> bool:
    """Whether `obj` was decorated with `@transition` or `@transitions`."""
    return isinstance(getattr(obj, TRANSITIONS_ATTR, None), dict)


def _check_weight(target: object, weight: object) -> float:
    if not isinstance(target, str):
        raise TypeError(f"transition target {target!r} is not a string; name a method")
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise TypeError(
            f"transition weight {weight!r} for {target!r} is not a number; give 0 or more"
        )
    if weight < 0:
        raise ValueError(f"transition weight {weight!r} for {target!r} is negative; give 0 or more")
    return float(weight)


def _add_transitions(decorated: F, pairs: Sequence[tuple[str, float]]) -> F:
    # Stored on the function's own __dict__: a copy, so that two decorated functions never
    # share (and extend) one dict.
    own = dict(vars(decorated).get(TRANSITIONS_ATTR) or {})
    own.update(pairs)
    setattr(decorated, TRANSITIONS_ATTR, own)
    return decorated


def transition(func_name: str, weight: float = 1) -> Callable[[F], F]:
    """Add one transition to a MarkovTaskSet task: after it, `func_name` may run next.

    Stack several to give a task several possible successors.

    Args:
        func_name: the name of the method that may follow (itself a task with transitions).
        weight: how likely this transition is, relative to the task's other transitions.

    Returns:
        A decorator that records the transition and returns the function unchanged.
    """

    _check_weight(func_name, weight)

    def decorator(decorated: F) -> F:
        return _add_transitions(decorated, [(func_name, weight)])

    return decorator


def transitions(
    weights: Mapping[str, float] | Sequence[tuple[str, float] | str],
) -> Callable[[F], F]:
    """Add several transitions to a MarkovTaskSet task at once.

    Args:
        weights: a dict of method name to weight, or a list of names (weight 1) and
            `(name, weight)` pairs.

    Returns:
        A decorator that records the transitions and returns the function unchanged.
    """
    pairs: list[tuple[str, float]]
    if isinstance(weights, Mapping):
        pairs = list(weights.items())
    elif isinstance(weights, list | tuple):
        pairs = [item if isinstance(item, tuple) else (item, 1) for item in weights]
    else:
        raise TypeError(
            f"@transitions got a {type(weights).__name__}; give a dict of name to weight "
            "or a list of names and (name, weight) pairs"
        )
    for pair in pairs:
        if len(pair) != 2:
            raise TypeError(f"transition {pair!r} is not a (name, weight) pair")
        _check_weight(*pair)

    def decorator(decorated: F) -> F:
        return _add_transitions(decorated, pairs)

    return decorator


class _Chain:
    """A checked chain: its first state, each state's successor picker, its long-run shares."""

    __slots__ = ("pickers", "shares", "start")

    def __init__(self, classname: str, body: Mapping[str, Any]) -> None:
        named = [(name, value) for name, value in body.items() if is_markov_task(value)]
        if not named:
            raise NoMarkovTasksError(
                f"{classname} declares no Markov tasks of its own (inherited ones do not "
                "count); decorate its methods with @transition or @transitions, or set "
                "abstract = True on a base class"
            )
        for name, state in named:
            for target in getattr(state, TRANSITIONS_ATTR):
                successor = body.get(target)
                if successor is None:
                    raise InvalidTransitionError(
                        f"{classname}.{name} has a transition to {target!r}, which "
                        f"{classname} does not define; name one of its methods"
                    )
                if not is_markov_task(successor):
                    raise NonMarkovTaskTransitionError(
                        f"{classname}.{name} has a transition to {target}, which has no "
                        f"transitions of its own; decorate {target} with @transition too"
                    )
        # Each state's transitions as (target name, weight), for the walk and the pickers.
        tables = {name: list(getattr(state, TRANSITIONS_ATTR).items()) for name, state in named}
        reachable = _reachable(named[0][0], tables)
        unreachable = sorted(name for name, _ in named if name not in reachable)
        if unreachable:
            logger.warning(
                "%s: these Markov tasks are unreachable from %s, the first one: %s",
                classname,
                named[0][0],
                ", ".join(unreachable),
            )
        self.pickers: dict[Task, TaskPicker] = {}
        successors: dict[Task, list[tuple[Task, float]]] = {}
        for name, state in named:
            successors[state] = [(body[target], w) for target, w in tables[name] if w > 0]
            picker = TaskPicker(tuple(successors[state]))
            if not picker and name in reachable:
                raise InvalidTransitionError(
                    f"{classname}.{name} has no transition with a weight above 0, so the "
                    "chain would stop there; give it at least one"
                )
            self.pickers[state] = picker
            _check_state(classname, name, state)
        self.start: Task = named[0][1]
        self.shares = _long_run_shares(self.start, successors)


def _long_run_shares(
    start: Task, successors: Mapping[Task, list[tuple[Task, float]]]
) -> dict[Task, float]:
    """How often each state runs in the long run, from `start`: its share of all tasks run.

    Power iteration of the lazy chain (stay put with probability 1/2, else follow a
    transition), which has the same stationary shares but, unlike the chain itself, also
    converges when the chain is periodic (A -> B -> A). An unreachable state gets 0.
    """
    steps: dict[Task, list[tuple[Task, float]]] = {}
    for state, pairs in successors.items():
        total = sum(w for _, w in pairs)
        steps[state] = [(successor, w / total) for successor, w in pairs]
    shares = dict.fromkeys(successors, 0.0)
    shares[start] = 1.0
    for _ in range(_MAX_ITERATIONS):
        following = {state: share / 2 for state, share in shares.items()}
        for state, share in shares.items():
            for successor, probability in steps[state]:
                following[successor] += share / 2 * probability
        change = sum(abs(following[s] - shares[s]) for s in shares)
        shares = following
        if change < _CONVERGED:
            break
    return shares


def _reachable(start: str, tables: Mapping[str, list[tuple[str, float]]]) -> set[str]:
    """The state names a path of positive-weight transitions reaches from `start`."""
    seen = {start}
    stack = [start]
    while stack:
        for target, weight in tables[stack.pop()]:
            if weight > 0 and target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _check_state(classname: str, name: str, state: Any) -> None:
    if name in ("on_start", "on_stop"):
        logger.warning(
            "%s.%s has transitions, so it runs both as a Markov task and as the %s hook",
            classname,
            name,
            name,
        )
    if name == "run":
        raise LocustError(
            f"{classname}.run has transitions, but run() is the TaskSet's task loop; "
            "rename the task"
        )
    tags = getattr(state, TAGS_ATTR, None)
    if tags:
        raise MarkovTaskTagError(
            f"{classname}.{name} has tags {sorted(tags)}, but tags are not supported on "
            "MarkovTaskSet tasks since filtering could cut the chain; remove the @tag"
        )


class MarkovTaskSet(TaskSet):
    """A TaskSet that moves from task to task along weighted transitions (a Markov chain).

    Decorate each task with `@transition(name, weight)` (stackable) or
    `@transitions({...})`; the first decorated method is where every instance starts.

    Attributes:
        abstract: True on a base class meant for subclassing: its chain is not checked.
    """

    __slots__ = ("_markov_state",)

    abstract: ClassVar[bool] = True
    # Locust never drops a MarkovTaskSet under --tags or --exclude-tags (its
    # filter_tasks_by_tags): the states carry no tags, and cutting one would break the
    # chain. TagFilter reads this marker (KEEP_UNDER_TAGS_ATTR).
    _loadhopper_keep_under_tags: ClassVar[bool] = True
    _markov_pickers: ClassVar[dict[Task, TaskPicker]] = {}
    _markov_start: ClassVar[Task | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Read before TaskSet's hook, which sets `tasks` on every class.
        declares_tasks = "tasks" in vars(cls)
        super().__init_subclass__(**kwargs)
        body = vars(cls)
        if body.get("abstract"):
            return
        cls.abstract = False
        chain = _Chain(cls.__name__, body)
        ignored = [name for name, value in body.items() if hasattr(value, WEIGHT_ATTR)]
        if declares_tasks:
            ignored.append("tasks")
        if ignored:
            logger.warning(
                "%s is a MarkovTaskSet, which runs only its tasks with transitions; "
                "@task and `tasks` are ignored there: %s",
                cls.__name__,
                ", ".join(ignored),
            )
        cls._markov_pickers = chain.pickers
        cls._markov_start = chain.start
        cls.tasks = tuple(chain.shares.items())

    def __init__(self, parent: Any) -> None:
        super().__init__(parent)
        start = type(self)._markov_start
        if start is None:
            raise NoMarkovTasksError(
                f"{type(self).__name__} is abstract and has no Markov chain; "
                "run a subclass that declares its tasks with @transition"
            )
        self._markov_state: Task = start

    @property
    def current(self) -> Any:
        """The task that runs next (a bound method, or a nested TaskSet class); assignable."""
        state = self._markov_state
        getter = getattr(state, "__get__", None)
        if getter is None or isinstance(state, type):
            return state
        return getter(self, type(self))

    @current.setter
    def current(self, task: Any) -> None:
        state = getattr(task, "__func__", task)
        if state not in type(self)._markov_pickers:
            raise ValueError(
                f"{task!r} is not a task of {type(self).__name__}; assign one of its methods "
                "with transitions"
            )
        self._markov_state = state

    def get_next_task(self) -> Task:
        """The current task; the next one is drawn from its transitions."""
        state = self._markov_state
        self._markov_state = self._markov_pickers[state].pick()
        return state
