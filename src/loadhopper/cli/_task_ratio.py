"""`--show-task-ratio` and `--show-task-ratio-json`: how often each task runs.

Per class: the share of each task within its User class (nested TaskSets multiply down).
Total: the same shares scaled by each class's share of the users, as Locust prints them.
"""

from __future__ import annotations

import json
from typing import Any

from loadhopper.runtime import Environment
from loadhopper.user._task import holder_tags, is_task_holder

__all__ = ["format_task_ratios", "task_ratio_json", "task_ratios"]

RatioTree = dict[str, dict[str, Any]]  # name -> {"ratio": float, "tasks": RatioTree}


def _task_name(task: Any) -> str:
    return str(getattr(task, "__name__", repr(task)))


def _tree(env: Environment, cls: type, scale: float, inherited: frozenset[str]) -> RatioTree:
    table = [(t, w) for t, w in env.task_filter.table(cls, inherited) if w > 0]
    total = sum(w for _, w in table)
    tree: RatioTree = {}
    for task, weight in table:
        ratio = scale * weight / total
        node = tree.setdefault(_task_name(task), {"ratio": 0.0, "tasks": {}})
        node["ratio"] += ratio
        if is_task_holder(task):
            node["tasks"] = _tree(env, task, ratio, holder_tags(task, inherited))
    return tree


def task_ratios(env: Environment) -> dict[str, RatioTree]:
    """The ratios as `{"per_class": tree, "total": tree}`."""
    weights = {cls: env.weight_of(cls) for cls in env.user_classes}
    weight_sum = sum(weights.values()) or 1.0
    per_class: RatioTree = {}
    total: RatioTree = {}
    for cls, weight in weights.items():
        share = weight / weight_sum
        per_class[cls.__name__] = {"ratio": share, "tasks": _tree(env, cls, 1.0, frozenset())}
        total[cls.__name__] = {"ratio": share, "tasks": _tree(env, cls, share, frozenset())}
    return {"per_class": per_class, "total": total}


def _lines(tree: RatioTree, depth: int) -> list[str]:
    lines = []
    for name, node in tree.items():
        lines.append(f"{'  ' * depth}{100 * node['ratio']:5.1f}% {name}")
        lines += _lines(node["tasks"], depth + 1)
    return lines


def format_task_ratios(env: Environment) -> str:
    """The ratios as text: per User class, then of all tasks run."""
    ratios = task_ratios(env)
    rule = "-" * 55
    return "\n".join(
        [
            "Task ratio per User class",
            rule,
            *_lines(ratios["per_class"], 0),
            "",
            "Total task ratio",
            rule,
            *_lines(ratios["total"], 0),
            "",
        ]
    )


def task_ratio_json(env: Environment) -> str:
    """The ratios as JSON (Locust's `per_class` and `total` keys)."""
    return json.dumps(task_ratios(env), indent=2) + "\n"
