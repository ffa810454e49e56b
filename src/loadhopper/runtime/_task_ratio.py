"""How often each task runs: per User class, and of all tasks run (Locust's "Ratio" view).

Per class, as Locust's /tasks and `--show-task-ratio` give it: each task's share among its
siblings (a TaskSet's tasks within that TaskSet, its own share within its parent). Total: the
share of every task among all the tasks run, each level multiplied down, from each class's
share of the users. A pure function of the
environment's classes, weights and tag filter, shared by `--show-task-ratio` (cli) and the
web UI's Ratio tab (web), which cannot import the cli layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loadhopper.user._task import holder_tags, is_task_holder

if TYPE_CHECKING:
    from loadhopper.runtime._environment import Environment

__all__ = ["RatioTree", "task_ratios"]

RatioTree = dict[str, dict[str, Any]]  # name -> {"ratio": float, "tasks": RatioTree}


def _task_name(task: Any) -> str:
    return str(getattr(task, "__name__", repr(task)))


def _tree(
    env: Environment, cls: type, scale: float, inherited: frozenset[str], *, total: bool
) -> RatioTree:
    table = [(t, w) for t, w in env.task_filter.table(cls, inherited) if w > 0]
    weights = sum(w for _, w in table)
    tree: RatioTree = {}
    for task, weight in table:
        ratio = scale * weight / weights
        node = tree.setdefault(_task_name(task), {"ratio": 0.0, "tasks": {}})
        node["ratio"] += ratio
        if is_task_holder(task):
            inner = ratio if total else 1.0
            node["tasks"] = _tree(env, task, inner, holder_tags(task, inherited), total=total)
    return tree


def task_ratios(env: Environment) -> dict[str, RatioTree]:
    """The ratios as `{"per_class": tree, "total": tree}` (Locust's keys)."""
    weights = {cls: env.weight_of(cls) for cls in env.user_classes}
    weight_sum = sum(weights.values()) or 1.0
    per_class: RatioTree = {}
    total: RatioTree = {}
    for cls, weight in weights.items():
        share = weight / weight_sum
        mine = _tree(env, cls, 1.0, frozenset(), total=False)
        per_class[cls.__name__] = {"ratio": share, "tasks": mine}
        overall = _tree(env, cls, share, frozenset(), total=True)
        total[cls.__name__] = {"ratio": share, "tasks": overall}
    return {"per_class": per_class, "total": total}
