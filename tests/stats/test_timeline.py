from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadhopper.stats import TimelinePoint
from loadhopper.stats._timeline import Timeline


def point(seq: int) -> TimelinePoint:
    return TimelinePoint(
        time=float(seq),
        user_count=1,
        rps=1.0,
        fail_per_sec=0.0,
        p50=None,
        p95=None,
        p99=None,
        avg_response_time=None,
        total_requests=seq,
        total_failures=0,
    )


def test_keeps_everything_below_capacity() -> None:
    timeline = Timeline(capacity=5)
    for seq in range(5):
        timeline.append(point(seq))
    assert [p.time for p in timeline.points()] == [0, 1, 2, 3, 4]
    assert timeline.stride == 1


def test_decimates_to_every_other_point_when_full() -> None:
    timeline = Timeline(capacity=4)
    for seq in range(9):
        timeline.append(point(seq))
    assert [p.time for p in timeline.points()] == [0, 4, 8]
    assert timeline.stride == 4


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 40), st.integers(0, 600))
def test_points_stay_evenly_spaced_bounded_and_cover_the_run(capacity: int, n: int) -> None:
    timeline = Timeline(capacity=capacity)
    for seq in range(n):
        timeline.append(point(seq))
    kept = [int(p.time) for p in timeline.points()]
    stride = timeline.stride
    assert len(kept) <= capacity
    assert kept == list(range(0, n, stride))
    if n:
        assert kept[-1] > n - 1 - stride  # the newest kept point is at most one stride old
        assert stride == 1 or len(kept) > capacity // 2 - 1


def test_clear_restores_full_resolution() -> None:
    timeline = Timeline(capacity=2)
    for seq in range(10):
        timeline.append(point(seq))
    timeline.clear()
    assert len(timeline) == 0
    assert timeline.stride == 1
    timeline.append(point(0))
    timeline.append(point(1))
    assert [p.time for p in timeline.points()] == [0, 1]


def test_refuses_a_tiny_capacity() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        Timeline(capacity=1)


def test_append_numbers_the_windows_and_replace_swaps_a_kept_point() -> None:
    timeline = Timeline(capacity=4)
    seqs = [timeline.append(point(seq)) for seq in range(3)]
    assert seqs == [0, 1, 2]
    timeline.replace(1, point(100))
    assert [p.time for p in timeline.points()] == [0, 100, 2]


def test_replace_finds_a_point_after_decimation_and_ignores_a_dropped_one() -> None:
    timeline = Timeline(capacity=4)
    for seq in range(9):  # kept: windows 0, 4, 8 (stride 4)
        timeline.append(point(seq))
    timeline.replace(4, point(104))
    timeline.replace(8, point(108))
    timeline.replace(6, point(106))  # dropped by decimation: nothing to replace
    timeline.replace(12, point(112))  # not appended yet
    assert [p.time for p in timeline.points()] == [0, 104, 108]
