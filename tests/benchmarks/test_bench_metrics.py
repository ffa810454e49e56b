"""The benchmark's arithmetic: rates, ratios, the steady-state window, memory per user."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# benchmarks/ is a folder of scripts, not a package: its modules import each other by name.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _metrics import (
    CountSample,
    SteadyWindow,
    first_activity,
    last_activity,
    memory_per_user_kb,
    offered_rate,
    per_cpu_second,
    rate_between,
    ratio,
    share_of_wall,
    steady_per_cpu_second,
    steady_window,
)


def test_per_cpu_second_and_missing_cpu() -> None:
    assert per_cpu_second(70_000, 2.0) == 35_000.0
    assert per_cpu_second(10, 0.0) is None


def test_steady_per_cpu_second_uses_the_differences() -> None:
    assert steady_per_cpu_second(1_000, 1.5, 31_000, 4.5) == 10_000.0
    assert steady_per_cpu_second(1_000, 1.5, 2_000, 1.5) is None


def test_ratio_handles_missing_sides() -> None:
    assert ratio(71_234.0, 6_600.0) == pytest.approx(10.793, rel=1e-3)
    assert ratio(None, 1.0) is None
    assert ratio(1.0, None) is None
    assert ratio(1.0, 0.0) is None


def test_offered_rate_for_ten_thousand_users_between_2_and_5() -> None:
    assert offered_rate(10_000, 3.5, 0.010) == pytest.approx(2849.0, abs=0.5)


SAMPLES = [
    CountSample(100.0, 0),
    CountSample(101.0, 0),
    CountSample(102.0, 500),
    CountSample(103.0, 1_500),
    CountSample(104.0, 2_500),
    CountSample(105.0, 3_500),
]


def test_rate_between_exact_samples() -> None:
    assert rate_between(SAMPLES, 103.0, 105.0) == 1_000.0


def test_rate_between_interpolates_inside_intervals() -> None:
    # 102.5 -> 1000 requests, 104.5 -> 3000 requests.
    assert rate_between(SAMPLES, 102.5, 104.5) == pytest.approx(1_000.0)
    # 101.5 -> 250 requests (halfway from 0 to 500), 102.0 -> 500.
    assert rate_between(SAMPLES, 101.5, 102.0) == pytest.approx(250.0 / 0.5)


def test_rate_between_outside_the_samples_or_empty_window() -> None:
    assert rate_between(SAMPLES, 99.0, 104.0) is None
    assert rate_between(SAMPLES, 104.0, 106.0) is None
    assert rate_between(SAMPLES, 104.0, 104.0) is None
    assert rate_between([], 1.0, 2.0) is None


def test_first_activity_is_the_first_rise_above_the_baseline() -> None:
    assert first_activity(SAMPLES, 0) == 102.0
    assert first_activity(SAMPLES, 1_500) == 104.0
    assert first_activity(SAMPLES, 3_500) is None


def test_last_activity_is_when_the_count_stopped_rising() -> None:
    stopped = [*SAMPLES, CountSample(106.0, 4_000), CountSample(107.0, 4_000)]
    assert last_activity(stopped) == 106.0
    assert last_activity(SAMPLES) == 105.0
    assert last_activity([]) is None


def test_steady_window_skips_ramp_and_settle_and_tail() -> None:
    window = steady_window(1_000.0, 1_060.0, 10.0, 6.0, 2.0)
    assert window == SteadyWindow(1_016.0, 1_058.0)
    assert window is not None and window.seconds == 42.0


def test_steady_window_none_when_the_run_is_too_short() -> None:
    assert steady_window(1_000.0, 1_017.0, 10.0, 6.0, 2.0) is None


def test_memory_per_user() -> None:
    # 10,000 users: 80 MB peak over a 50 MB one-user run -> 30,000 KB / 9,999 users.
    assert memory_per_user_kb(80 * 1024, 50 * 1024, 10_000) == pytest.approx(3.072, rel=1e-3)
    assert memory_per_user_kb(80 * 1024, 50 * 1024, 1) is None
    assert memory_per_user_kb(80 * 1024, 0, 10) is None


def test_share_of_wall() -> None:
    assert share_of_wall(100.0, 2.0, 110.0, 7.0) == 0.5
    assert share_of_wall(100.0, 2.0, 100.0, 7.0) is None
