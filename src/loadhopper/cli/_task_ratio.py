"""`--show-task-ratio` and `--show-task-ratio-json`: how often each task runs.

Per class: each task's share among its siblings (within its User class or TaskSet). Total:
the share of every task among all the tasks run, as Locust prints them.
The ratios themselves come from `runtime/_task_ratio.py`, which the web UI's Ratio tab uses too.
"""

from __future__ import annotations

import json

from loadhopper.runtime import Environment
from loadhopper.runtime._task_ratio import RatioTree, task_ratios

__all__ = ["format_task_ratios", "task_ratio_json", "task_ratios"]


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
