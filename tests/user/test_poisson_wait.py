"""`poisson(rate)`: exponential waits of mean 1/rate, drawn exactly as Locust draws them."""

from __future__ import annotations

import importlib.util
import math
import random
from pathlib import Path
from types import ModuleType

import pytest

from loadhopper.user import poisson


class _Instance:
    pass


def _locust_wait_time_module() -> ModuleType:
    """Locust's user/wait_time.py, loaded by path: importing `locust` would monkey-patch."""
    package = importlib.util.find_spec("locust")  # finds it without running its __init__
    assert package is not None and package.submodule_search_locations is not None
    path = Path(package.submodule_search_locations[0]) / "user" / "wait_time.py"
    spec = importlib.util.spec_from_file_location("locust_wait_time_for_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_mean_wait_is_one_over_the_rate() -> None:
    random.seed(1234)
    wait = poisson(4)
    values = [wait(_Instance()) for _ in range(40_000)]
    mean = sum(values) / len(values)
    # The standard error of the mean is 0.25 / sqrt(40,000) = 0.00125: 0.01 is 8 of them.
    assert abs(mean - 0.25) < 0.01, mean
    assert min(values) >= 0
    # Exponential, not uniform or constant: 1 - 1/e of the waits are shorter than the mean.
    below = sum(v < 0.25 for v in values) / len(values)
    assert abs(below - (1 - 1 / math.e)) < 0.02, below


def test_the_draws_are_locusts_for_the_same_seed() -> None:
    theirs = _locust_wait_time_module().poisson(2.5)
    ours = poisson(2.5)
    random.seed(99)
    expected = [theirs(_Instance()) for _ in range(100)]
    random.seed(99)
    assert [ours(_Instance()) for _ in range(100)] == expected


@pytest.mark.parametrize("rate", [0, -1, "2", None])
def test_a_rate_that_is_not_positive_is_refused(rate: object) -> None:
    with pytest.raises(ValueError, match="positive rate"):
        poisson(rate)  # type: ignore[arg-type]
