"""Tasks: the `@task` and `@tag` decorators, task tables, weighted choice and tag filtering.

A *task table* is the normalised form of whatever a class declares: a tuple of
`(task, weight)` pairs, where a task is a function taking the User or TaskSet instance, or
a TaskSet class. Locust expands `@task(3)` into three list entries and calls
`random.choice`; here the weights stay numbers and `TaskPicker` draws with one bisect over
cumulative weights, which gives the same distribution, allows fractional weights and
costs the same whatever the weights are.

Tag filtering (`--tags`/`--exclude-tags`) never mutates a class. `TagFilter` computes the
filtered table of each class once, when the test starts, and User and TaskSet instances
read their table from it; two Environments in one process can filter differently.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

__all__ = [
    "TagFilter",
    "Task",
    "TaskPicker",
    "TaskTable",
    "collect_tasks",
    "is_task_holder",
    "normalise_tasks",
    "tag",
    "task",
]

logger = logging.getLogger(__name__)

Task = Any
"""A task: a function taking the User or TaskSet instance, or a TaskSet class."""

TaskTable = tuple[tuple[Task, float], ...]
"""The normalised tasks of a class: `(task, weight)` pairs in declaration order."""

F = TypeVar("F")

# Locust's attribute names, kept so that code inspecting decorated functions still works.
WEIGHT_ATTR = "locust_task_weight"
TAGS_ATTR = "locust_tag_set"
# Set to True on TaskSet (in _taskset.py); lets this lower module recognise nested TaskSets.
HOLDER_ATTR = "_loadhopper_task_holder"
# Set to True on MarkovTaskSet (in _markov.py): tag filtering keeps the holder whatever its tags.
KEEP_UNDER_TAGS_ATTR = "_loadhopper_keep_under_tags"


def is_task_holder(obj: object) -> bool:
    """Whether `obj` is a TaskSet class (a task that holds tasks of its own)."""
    return isinstance(obj, type) and bool(getattr(obj, HOLDER_ATTR, False))


def _check_weight(weight: object) -> float:
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
        raise ValueError(f"task weight {weight!r} is not valid; give a number of 0 or more")
    return float(weight)


@overload
def task(weight: F) -> F: ...
@overload
def task(weight: float = 1) -> Callable[[F], F]: ...
def task(weight: Any = 1) -> Any:
    """Mark a method (or a nested TaskSet class) as a task, with an optional weight.

    Use as `@task` or `@task(3)`. A task with weight 3 is picked three times as often as
    one with weight 1; weights may be fractional, and weight 0 disables the task.

    Args:
        weight: the relative frequency of the task, or the function when used bare.

    Returns:
        The decorated function, or a decorator.
    """
    if callable(weight):
        setattr(weight, WEIGHT_ATTR, 1)
        return weight
    checked = _check_weight(weight)

    def decorator(func: F) -> F:
        # Keep an int an int, so that Locust-style code reading the attribute sees 3, not 3.0.
        setattr(func, WEIGHT_ATTR, weight if isinstance(weight, int) else checked)
        return func

    return decorator


def tag(*tags: str) -> Callable[[F], F]:
    """Tag a task, or every task of a TaskSet class, for `--tags` / `--exclude-tags`.

    Args:
        *tags: one or more tag names.

    Returns:
        A decorator that adds the tags and returns the decorated object unchanged.
    """
    if not tags:
        raise ValueError("@tag needs at least one tag name, for example @tag('slow')")
    for name in tags:
        if not isinstance(name, str):
            raise ValueError(f"tag {name!r} is not a string; tag names are strings")

    def decorator(decorated: F) -> F:
        # Store on the object's own __dict__ so that a subclass of a tagged TaskSet does not
        # silently share (and extend) its parent's set.
        own = vars(decorated).get(TAGS_ATTR)
        setattr(decorated, TAGS_ATTR, (set(own) if own else set()) | set(tags))
        return decorated

    return decorator


def normalise_tasks(declared: object) -> TaskTable:
    """Turn a `tasks` declaration (list, list of `(task, weight)` pairs, dict) into a table."""
    if declared is None:
        return ()
    items: Iterable[object]
    if isinstance(declared, Mapping):
        items = declared.items()
    elif isinstance(declared, list | tuple):
        items = declared
    else:
        raise ValueError(
            f"`tasks` is a {type(declared).__name__}; give a list of tasks, a list of "
            "(task, weight) pairs, or a dict of task to weight"
        )
    table: list[tuple[Task, float]] = []
    for item in items:
        if isinstance(item, tuple):
            if len(item) != 2:
                raise ValueError(f"task entry {item!r} is not a (task, weight) pair")
            entry, weight = item
        else:
            entry, weight = item, 1
        if not (callable(entry) or is_task_holder(entry)):
            raise ValueError(f"task {entry!r} is not callable; give a function or TaskSet")
        table.append((entry, _check_weight(weight)))
    return tuple(table)


def collect_tasks(cls: type, *, interleave: bool) -> TaskTable:
    """The task table of a class: inherited tasks, then the class's own declarations.

    Args:
        cls: the User or TaskSet class being created.
        interleave: keep declaration order between the `tasks` attribute and `@task`
            methods (SequentialTaskSet); otherwise the `tasks` attribute comes first, as in
            Locust's TaskSet.
    """
    table: list[tuple[Task, float]] = []
    for base in cls.__bases__:
        table.extend(normalise_tasks(getattr(base, "tasks", None)))
    own = vars(cls)
    if not interleave:
        table.extend(normalise_tasks(own.get("tasks")))
    for name, value in own.items():
        if name == "tasks":
            if interleave:
                table.extend(normalise_tasks(value))
            continue
        raw = getattr(value, WEIGHT_ATTR, None) if callable(value) else None
        if raw is not None and (not isinstance(value, type) or WEIGHT_ATTR in vars(value)):
            table.append((value, _check_weight(raw)))
    return tuple(table)


class TaskPicker:
    """Weighted random choice over a task table, by bisection on cumulative weights."""

    __slots__ = ("_cumulative", "_tasks", "_total", "only")

    def __init__(self, table: TaskTable) -> None:
        live = [(t, w) for t, w in table if w > 0]
        self._tasks: tuple[Task, ...] = tuple(t for t, _ in live)
        self._cumulative: list[float] = list(itertools.accumulate(w for _, w in live))
        self._total = self._cumulative[-1] if live else 0.0
        # The task when there is exactly one (there is nothing to draw), else None.
        self.only: Task | None = self._tasks[0] if len(self._tasks) == 1 else None

    def __bool__(self) -> bool:
        return bool(self._tasks)

    @property
    def tasks(self) -> tuple[Task, ...]:
        """The tasks that can be picked (weight above zero)."""
        return self._tasks

    def pick(self, rand: Callable[[], float] = random.random) -> Task:
        """Draw one task; `rand` returns a float in [0, 1)."""
        tasks = self._tasks
        if len(tasks) == 1:
            return tasks[0]
        index = bisect.bisect_right(self._cumulative, rand() * self._total)
        # rand() * total can round up to total itself; clamp to the last task.
        return tasks[min(index, len(tasks) - 1)]


@dataclass(frozen=True)
class TagFilter:
    """The `--tags` / `--exclude-tags` selection, applied to task tables.

    Attributes:
        include: keep only tasks with at least one of these tags (None: keep all).
        exclude: drop tasks with any of these tags (None: drop none).
    """

    include: frozenset[str] | None = None
    exclude: frozenset[str] | None = None
    _cache: dict[tuple[type, frozenset[str]], TaskTable] = field(
        default_factory=dict, compare=False, repr=False
    )
    _pickers: dict[tuple[type, frozenset[str]], TaskPicker] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def active(self) -> bool:
        """Whether any filtering happens at all."""
        return self.include is not None or self.exclude is not None

    def table(self, cls: type, inherited: frozenset[str] = frozenset()) -> TaskTable:
        """The filtered task table of `cls`, whose enclosing TaskSets carry `inherited` tags."""
        declared = normalise_tasks(getattr(cls, "tasks", None))
        if not self.active:
            return declared
        key = (cls, inherited)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._filter(declared, inherited)
            self._cache[key] = cached
        return cached

    def picker(self, cls: type, inherited: frozenset[str] = frozenset()) -> TaskPicker:
        """A picker over `table(cls, inherited)`, built once and shared by every instance."""
        key = (cls, inherited)
        picker = self._pickers.get(key)
        if picker is None:
            picker = self._pickers[key] = TaskPicker(self.table(cls, inherited))
        return picker

    def _filter(self, declared: TaskTable, inherited: frozenset[str]) -> TaskTable:
        kept: list[tuple[Task, float]] = []
        for entry, weight in declared:
            if is_task_holder(entry):
                # A MarkovTaskSet's states are its chain, not tasks to pick from: Locust
                # never drops one for its tags, so neither do we.
                passing = getattr(entry, KEEP_UNDER_TAGS_ATTR, False) or bool(
                    self.table(entry, holder_tags(entry, inherited))
                )
            else:
                tags = inherited | frozenset(getattr(entry, TAGS_ATTR, ()))
                passing = (self.include is None or bool(tags & self.include)) and (
                    self.exclude is None or not tags & self.exclude
                )
            if passing:
                kept.append((entry, weight))
        return tuple(kept)

    def warn_empty(self, user_classes: Iterable[type]) -> None:
        """Log a warning for each class left with no tasks after filtering."""
        for cls in user_classes:
            self._warn_tree(cls, frozenset(), set())

    def _warn_tree(self, cls: type, inherited: frozenset[str], seen: set[type]) -> None:
        if cls in seen:
            return
        seen.add(cls)
        table = self.table(cls, inherited)
        if not table and self.active and not getattr(cls, KEEP_UNDER_TAGS_ATTR, False):
            logger.warning("%s has no tasks left after tag filtering", cls.__name__)
        for entry, _ in table:
            if is_task_holder(entry):
                self._warn_tree(entry, holder_tags(entry, inherited), seen)


_HOLDER_TAGS: dict[tuple[type, frozenset[str]], frozenset[str]] = {}


def holder_tags(holder: type, inherited: frozenset[str]) -> frozenset[str]:
    """The tags the tasks inside TaskSet class `holder` inherit: its own plus the enclosing ones.

    Cached per (class, inherited tags): every user of a class shares one frozenset instead
    of building its own when it starts.
    """
    key = (holder, inherited)
    tags = _HOLDER_TAGS.get(key)
    if tags is None:
        tags = _HOLDER_TAGS[key] = inherited | frozenset(vars(holder).get(TAGS_ATTR, ()))
    return tags
