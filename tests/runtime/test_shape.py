"""read_tick: what a LoadTestShape's tick() may answer, and the message when it is wrong."""

import math
from typing import Any

import pytest

from loadhopper import LoadTestShape, User, constant, task
from loadhopper.runtime._load_model import SetUsers, read_tick


class Shape(LoadTestShape):
    def tick(self) -> Any:
        return None


class Idle(User):
    wait_time = constant(3600)

    @task
    def t(self) -> None:
        pass


@pytest.mark.parametrize(
    ("answer", "target"),
    [
        (None, None),
        ((3, 10), SetUsers(3, 10.0)),
        ([3, 0.5], SetUsers(3, 0.5)),  # Locust unpacks it, so a list works too
        ((2.0, 1), SetUsers(2, 1.0)),  # `user_count * fraction` arithmetic gives floats
        ((0, 1), SetUsers(0, 1.0)),
        ((4, 2, [Idle]), SetUsers(4, 2.0, (Idle,))),
        ((4, 2, None), SetUsers(4, 2.0)),  # Locust's runner reads None as every class
    ],
)
def test_a_load_or_none_is_read(answer: Any, target: SetUsers | None) -> None:
    assert read_tick(Shape(), answer) == target


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        ("10", TypeError, "Shape.tick() returned '10'; return (users, spawn_rate)"),
        (10, TypeError, "Shape.tick() returned 10; return"),
        ((10,), TypeError, "Shape.tick() returned 1 values"),
        ((1, 2, [Idle], 4), TypeError, "returned 4 values"),
        (("many", 1), TypeError, "Shape.tick() returned ('many', 1)"),
        ((None, 1), TypeError, "Shape.tick() returned (None, 1)"),
        ((-1, 1), ValueError, "asked for -1 users at 1 per second; return 0 or more users"),
        ((1, 0), ValueError, "a spawn rate above 0"),
        ((1, math.nan), ValueError, "a spawn rate above 0"),
        ((1, 1, "Idle"), TypeError, "returned 'Idle' as its user classes"),
        ((1, 1, [object]), TypeError, "give a list of User classes"),
        ((1, 1, [Idle, 3]), TypeError, "give a list of User classes"),
    ],
)
def test_a_wrong_answer_names_the_shape_and_what_to_return(
    answer: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        read_tick(Shape(), answer)
    assert message in str(raised.value)
