import random

import pytest

from loadhopper.user import between, constant, constant_pacing, constant_throughput


class _Instance:
    pass


class _FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_between_stays_in_range_and_spreads() -> None:
    random.seed(7)
    wait = between(1, 3)
    values = [wait(_Instance()) for _ in range(2000)]
    assert all(1 <= v <= 3 for v in values)
    assert min(values) < 1.1 and max(values) > 2.9


def test_between_with_equal_bounds_is_constant() -> None:
    assert between(2, 2)(_Instance()) == 2


@pytest.mark.parametrize(("low", "high"), [(-1, 2), (3, 1)])
def test_between_rejects_bad_ranges(low: float, high: float) -> None:
    with pytest.raises(ValueError, match="not a range"):
        between(low, high)


def test_constant_returns_its_value_and_rejects_negative() -> None:
    assert constant(0)(_Instance()) == 0
    assert constant(1.5)(_Instance()) == 1.5
    with pytest.raises(ValueError, match="negative"):
        constant(-1)


def test_constant_pacing_subtracts_the_task_time() -> None:
    clock = _FakeClock()
    wait = constant_pacing(10, clock=clock)
    user = _Instance()
    assert wait(user) == 10  # first call: a full period
    clock.now += 10 + 3  # waited 10, then the task ran 3 s
    assert wait(user) == pytest.approx(7)


def test_constant_pacing_does_not_catch_up_after_a_slow_task() -> None:
    clock = _FakeClock()
    wait = constant_pacing(10, clock=clock)
    user = _Instance()
    wait(user)
    clock.now += 10 + 25  # the task took 25 s, 15 more than the period
    assert wait(user) == 0
    clock.now += 0 + 2  # the next task took 2 s: a plain 8 s wait, no lost time made up
    assert wait(user) == pytest.approx(8)


def test_constant_pacing_keeps_state_per_instance() -> None:
    clock = _FakeClock()
    wait = constant_pacing(5, clock=clock)
    a, b = _Instance(), _Instance()
    wait(a)
    clock.now += 5 + 4
    assert wait(a) == pytest.approx(1)
    assert wait(b) == 5  # b's first call is unaffected by a's timing


def test_constant_throughput_is_pacing_by_the_inverse_rate() -> None:
    wait = constant_throughput(4)
    assert wait(_Instance()) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="positive"):
        constant_throughput(0)
