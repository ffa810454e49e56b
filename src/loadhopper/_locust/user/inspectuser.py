"""`locust.user.inspectuser` for locustfiles run by loadhopper: task ratios, as data or text.

Locust's shares: each task's weight over its holder's total weight. With `total`, shares
multiply down from each class's share of the users to the innermost task (as in
`--show-task-ratio`); without, each TaskSet's tasks are shares of that set alone. Tag
filtering is not applied here (the classes are read as declared).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from loadhopper.user import User
from loadhopper.user._task import is_task_holder, normalise_tasks

__all__ = ["get_ratio", "print_task_ratio", "print_task_ratio_json"]

RatioTree = dict[str, dict[str, Any]]  # name -> {"ratio": float[, "tasks": RatioTree]}


def _task_ratios(holder: type, scale: float, total: bool) -> RatioTree:
    table = [(t, w) for t, w in normalise_tasks(getattr(holder, "tasks", None)) if w > 0]
    weight_sum = sum(w for _, w in table)
    tree: RatioTree = {}
    for task, weight in table:
        name = str(getattr(task, "__name__", repr(task)))
        node = tree.setdefault(name, {"ratio": 0.0})
        node["ratio"] += scale * weight / weight_sum
    for task, _ in table:
        if is_task_holder(task):
            node = tree[task.__name__]
            # Locust's rule: per class, a nested TaskSet's tasks are shares of that set.
            node["tasks"] = _task_ratios(task, node["ratio"] if total else 1.0, total)
    return tree


def _user_counts(user_classes: Sequence[type[User]], num_users: int | None) -> dict[str, int]:
    """How many users of each class `num_users` users make: fixed counts first, then weights."""
    fixed = sum(cls.fixed_count for cls in user_classes if cls.fixed_count)
    total_weight = sum(cls.weight for cls in user_classes if not cls.fixed_count) or 1
    users = num_users or (total_weight if not fixed else 1)
    weighted = max(0, users - fixed)
    return {
        cls.__name__: round(cls.fixed_count or cls.weight / total_weight * weighted)
        for cls in user_classes
    }


def get_ratio(
    user_classes: Sequence[type[User]], user_spawned: Mapping[str, int], total: bool
) -> RatioTree:
    """Each class's share of the users and its tasks' shares, as nested dicts.

    Args:
        user_classes: the User classes.
        user_spawned: how many users of each class (by class name) run.
        total: True: task shares of all tasks run; False: shares within each class.

    Returns:
        `{class name: {"ratio": share, "tasks": {task name: {"ratio": ..., ...}}}}`.
    """
    user_count = sum(user_spawned.values()) or 1
    tree: RatioTree = {}
    for cls in user_classes:
        share = user_spawned.get(cls.__name__, 0) / user_count
        tree[cls.__name__] = {
            "ratio": share,
            "tasks": _task_ratios(cls, share if total else 1.0, total),
        }
    return tree


def _print_tree(tree: RatioTree, depth: int = 0) -> None:
    padding = "  " * depth
    for name, node in tree.items():
        share = f"{padding}{100 * node['ratio']:<6.1f}"
        print(f" {share:<10} {padding + name:<50}")
        if "tasks" in node:
            _print_tree(node["tasks"], depth + 1)


def print_task_ratio(
    user_classes: Sequence[type[User]], num_users: int | None, total: bool
) -> None:
    """Print the task ratios for `num_users` users (per class, or of all tasks with `total`)."""
    _print_tree(get_ratio(user_classes, _user_counts(user_classes, num_users), total))


def print_task_ratio_json(user_classes: Sequence[type[User]], num_users: int | None) -> None:
    """Print the task ratios as JSON, with Locust's `per_class` and `total` keys."""
    counts = _user_counts(user_classes, num_users)
    data = {
        "per_class": get_ratio(user_classes, counts, False),
        "total": get_ratio(user_classes, counts, True),
    }
    print(json.dumps(data, indent=4))
