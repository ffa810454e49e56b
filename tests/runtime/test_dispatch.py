from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadhopper.runtime import class_sequence, spawn_schedule
from loadhopper.runtime._dispatch import smooth_weighted_order


def test_spawn_schedule_spreads_users_at_the_rate() -> None:
    assert spawn_schedule(4, 2) == [0.0, 0.5, 1.0, 1.5]
    assert spawn_schedule(0, 5) == []


@pytest.mark.parametrize(("count", "rate"), [(3, 0), (3, -1), (-1, 1)])
def test_spawn_schedule_rejects_bad_input(count: int, rate: float) -> None:
    with pytest.raises(ValueError):
        spawn_schedule(count, rate)


def test_five_to_one_interleaves_smoothly() -> None:
    order = "".join(smooth_weighted_order(["A", "B"], [5, 1], 12))
    assert order == "AAABAAAAABAA"


def test_fixed_count_classes_come_first_with_exact_counts() -> None:
    seq = class_sequence(
        ["F", "G", "W1", "W2"], 10, weights=[1, 1, 3, 1], fixed_counts=[2, 1, 0, 0]
    )
    assert Counter(seq[:3]) == Counter({"F": 2, "G": 1})
    assert Counter(seq[3:]) == Counter({"W1": 5, "W2": 2}) or Counter(seq[3:]) == Counter(
        {"W1": 6, "W2": 1}
    )


def test_only_fixed_classes_cap_the_count() -> None:
    assert class_sequence(["F"], 5, weights=[1], fixed_counts=[2]) == ["F", "F"]


def test_zero_weight_classes_are_never_spawned() -> None:
    assert set(class_sequence(["A", "Z"], 20, weights=[1, 0], fixed_counts=[0, 0])) == {"A"}


@given(
    weights=st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=5),
    n=st.integers(min_value=0, max_value=200),
)
def test_every_prefix_is_within_one_user_of_the_weights(weights: list[int], n: int) -> None:
    names = [f"C{i}" for i in range(len(weights))]
    seq = class_sequence(
        names, n, weights=[float(w) for w in weights], fixed_counts=[0] * len(weights)
    )
    assert len(seq) == n
    counts = Counter(seq)
    total = sum(weights)
    for name, weight in zip(names, weights, strict=True):
        assert abs(counts[name] - n * weight / total) < 1 + 1e-9
    # Growing the target only extends the sequence.
    longer = class_sequence(
        names, n + 7, weights=[float(w) for w in weights], fixed_counts=[0] * len(weights)
    )
    assert longer[:n] == seq
