"""Which user classes to spawn, in what order, and when: pure functions, no clock.

`class_sequence` orders spawns so that every prefix of the sequence is as close to the
weights as whole users allow: `fixed_count` classes first (their exact counts), then the
weighted classes by smooth weighted round-robin (the scheme nginx uses for upstream
weights), which spreads a 5:1 mix as A A A B A A rather than A A A A A B. Growing the
target extends the sequence and shrinking it cuts the tail, so a ramp in either direction
keeps the mix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from loadhopper.user import User

__all__ = ["class_sequence", "run_sequence", "smooth_weighted_order", "spawn_schedule"]

C = TypeVar("C")


def spawn_schedule(user_count: int, spawn_rate: float) -> list[float]:
    """Seconds after the start of a ramp at which each of `user_count` users starts.

    The first user starts at once and the others follow every `1 / spawn_rate` seconds.

    Raises:
        ValueError: `spawn_rate` is not positive or `user_count` is negative.
    """
    if spawn_rate <= 0:
        raise ValueError(f"spawn rate {spawn_rate} must be above 0 users per second")
    if user_count < 0:
        raise ValueError(f"user count {user_count} must be 0 or more")
    return [i / spawn_rate for i in range(user_count)]


def smooth_weighted_order(items: Sequence[C], weights: Sequence[float], n: int) -> list[C]:
    """The first `n` picks of smooth weighted round-robin over `items`.

    Each step adds every item's weight to its score, picks the highest score (the earliest
    item on a tie) and subtracts the total weight from it. Over any prefix each item's count
    stays within one of its exact share.
    """
    live = [(item, w) for item, w in zip(items, weights, strict=True) if w > 0]
    if not live or n <= 0:
        return []
    total = sum(w for _, w in live)
    scores = [0.0] * len(live)
    order: list[C] = []
    for _ in range(n):
        best = 0
        for i, (_, w) in enumerate(live):
            scores[i] += w
            if scores[i] > scores[best]:
                best = i
        scores[best] -= total
        order.append(live[best][0])
    return order


def class_sequence(
    classes: Sequence[C],
    n: int,
    *,
    weights: Sequence[float],
    fixed_counts: Sequence[int],
) -> list[C]:
    """The classes of the first `n` users to spawn.

    Args:
        classes: the user classes.
        n: how many users.
        weights: each class's `weight` (ignored where its fixed count is above 0).
        fixed_counts: each class's `fixed_count`; these users come first.

    Returns:
        Up to `n` classes. Fewer when every class has a fixed count and their sum is
        below `n`: no class may take the extra users.
    """
    fixed = [(c, k) for c, k in zip(classes, fixed_counts, strict=True) if k > 0]
    fixed_total = sum(k for _, k in fixed)
    sequence = smooth_weighted_order(
        [c for c, _ in fixed], [float(k) for _, k in fixed], min(n, fixed_total)
    )
    rest = n - len(sequence)
    if rest > 0:
        weighted = [
            (c, w) for c, w, k in zip(classes, weights, fixed_counts, strict=True) if k <= 0
        ]
        sequence += smooth_weighted_order([c for c, _ in weighted], [w for _, w in weighted], rest)
    return sequence


def run_sequence(
    classes: Sequence[type[User]], n: int, weight_of: Callable[[type[User]], float]
) -> list[type[User]]:
    """The classes of the first `n` users of a run: `class_sequence` over the classes that
    can run (a `fixed_count`, or a weight above 0 as `weight_of` says, e.g. with
    `--equal-weights`). One process's pool and a master's split over workers share it."""
    live = [c for c in classes if c.fixed_count > 0 or weight_of(c) > 0]
    return class_sequence(
        live,
        n,
        weights=[weight_of(c) for c in live],
        fixed_counts=[c.fixed_count for c in live],
    )
