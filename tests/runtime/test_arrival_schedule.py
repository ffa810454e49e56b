"""The arrival schedule: exact instants of constant and staged rates, splits, the model."""

import asyncio
import itertools
import math

import pytest

from loadhopper import User
from loadhopper.runtime import FakeClock, StartIteration
from loadhopper.runtime._arrival import (
    ArrivalModel,
    ArrivalPlan,
    arrival_offsets,
    format_seconds,
)
from loadhopper.runtime._load_model import StopTest
from runtime.conftest import run_bounded


class _A(User):
    pass


class _B(User):
    pass


def _first(plan: ArrivalPlan, n: int) -> list[tuple[int, float]]:
    return list(itertools.islice(arrival_offsets(plan), n))


def test_a_constant_rate_starts_iteration_k_at_exactly_k_over_the_rate() -> None:
    offsets = _first(ArrivalPlan(200.0), 1001)
    assert [k for k, _ in offsets] == list(range(1001))
    assert all(t == k / 200.0 for k, t in offsets)  # exact, not accumulated
    assert offsets[-1][1] == 5.0


def test_a_linear_ramp_solves_the_integral_of_the_rate() -> None:
    # 0 -> 10/s over 10 s: N(t) = t^2 / 2, so iteration k is due at sqrt(2k); 50 in all.
    offsets = list(arrival_offsets(ArrivalPlan(0.0, ((10.0, 10.0),))))
    assert len(offsets) == 50
    for k, t in offsets:
        assert t == pytest.approx(math.sqrt(2 * k), abs=1e-9)


def test_stages_hold_ramp_down_to_zero_and_end() -> None:
    # 10/s for 2 s (20 iterations), then 10 -> 0 over 4 s (area 20): 40 in all.
    # On the ramp down N(t) = 20 + 10u - 1.25u^2 (u = t - 2).
    plan = ArrivalPlan(10.0, ((2.0, 10.0), (4.0, 0.0)))
    offsets = list(arrival_offsets(plan))
    assert len(offsets) == 40
    assert offsets[:20] == [(k, k / 10.0) for k in range(20)]
    for k, t in offsets[20:]:
        u = t - 2.0
        assert 20 + 10 * u - 1.25 * u * u == pytest.approx(k, abs=1e-9)
        assert 2.0 <= t < 6.0
    assert plan.duration == 6.0


def test_a_split_keeps_the_residues_so_the_parts_make_the_whole() -> None:
    whole = ArrivalPlan(7.0, ((3.0, 20.0), (2.0, 0.0)), max_users=5)
    parts = [whole.split(i, 3) for i in range(3)]
    assert [p.max_users for p in parts] == [2, 2, 1]
    merged = sorted(kt for p in parts for kt in arrival_offsets(p))
    assert merged == list(arrival_offsets(whole))
    assert all(k % 3 == 1 for k, _ in arrival_offsets(parts[1]))


def test_plans_describe_themselves_in_one_line() -> None:
    assert ArrivalPlan(200.0, max_users=50).describe() == "arrival rate 200/s, up to 50 users"
    staged = ArrivalPlan(0.0, ((30.0, 100.0), (60.0, 100.0)), max_users=50)
    assert staged.describe() == "arrival stages 30s->100/s, 1m->100/s; up to 50 users"
    assert format_seconds(90) == "1m30s"


def test_bad_plans_are_refused() -> None:
    with pytest.raises(ValueError, match="above 0"):
        ArrivalPlan(0.0)
    with pytest.raises(ValueError, match="max_users"):
        ArrivalPlan(1.0, max_users=0)


def test_the_model_yields_each_iteration_at_its_instant_and_stops_after_the_stages() -> None:
    clock = FakeClock()
    plan = ArrivalPlan(4.0, ((1.0, 4.0),))
    model = ArrivalModel(plan, [_A, _B], [3.0, 1.0])
    seen: list[tuple[float, object]] = []

    async def main() -> None:
        async def consume() -> None:
            async for command in model.commands(clock):
                seen.append((clock.monotonic(), command))

        task = asyncio.create_task(consume())
        await clock.advance(2.0)
        await asyncio.wait([task])

    run_bounded(main)
    starts = [(t, c) for t, c in seen if isinstance(c, StartIteration)]
    assert [c.intended_start for _, c in starts] == [0.0, 0.25, 0.5, 0.75]
    assert [t for t, _ in starts] == [0.0, 0.25, 0.5, 0.75]
    # Weights 3:1, smooth round-robin over k.
    assert [c.user_class for _, c in starts] == [_A, _A, _B, _A]
    assert seen[-1] == (1.0, StopTest("the arrival stages ended"))
