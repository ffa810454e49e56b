from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadhopper.stats import DEFAULT_PERCENTILES, Histogram
from loadhopper.stats._histogram import MAX_TRACKABLE_US, bucket_bounds, bucket_index

ONE_HOUR_US = 3_600_000_000

# Latencies across the promised range, with extra weight on the exact (< 2048 µs) region and
# on the region just above it, where bucket widths start to grow.
values_us = st.one_of(
    st.integers(0, 3000),
    st.integers(0, 100_000),
    st.integers(1, ONE_HOUR_US),
)
samples = st.lists(values_us, min_size=1, max_size=400)
quantiles = st.one_of(st.sampled_from(DEFAULT_PERCENTILES), st.floats(0.0, 1.0))


def exact_percentile(sorted_values: list[int], q: float) -> int:
    """The reference definition: the value at rank max(1, ceil(q * N)), q read as decimal."""
    rank = max(1, math.ceil(Fraction(repr(q)) * len(sorted_values)))
    return sorted_values[rank - 1]


def histogram_of(values: list[int]) -> Histogram:
    hist = Histogram()
    for v in values:
        hist.record(v)
    return hist


@settings(max_examples=150, deadline=None)
@given(samples, st.lists(quantiles, min_size=1, max_size=12))
def test_every_percentile_is_within_a_thousandth_of_the_exact_one(
    values: list[int], qs: list[float]
) -> None:
    hist = histogram_of(values)
    ordered = sorted(values)
    reported = hist.percentiles(qs)
    for q, got in zip(qs, reported, strict=True):
        want = exact_percentile(ordered, q)
        assert got is not None
        assert abs(got - want) <= max(1.0, 0.001 * want), (q, got, want)
        assert ordered[0] <= got <= ordered[-1]


@settings(max_examples=100, deadline=None)
@given(samples)
def test_ends_and_moments_are_exact(values: list[int]) -> None:
    hist = histogram_of(values)
    assert hist.percentile(1.0) == max(values)
    assert hist.percentile(0.0) == min(values)
    assert hist.max == max(values)
    assert hist.min == min(values)
    assert hist.count == len(values)
    assert hist.total == sum(values)
    assert hist.mean == sum(values) / len(values)


@settings(max_examples=100, deadline=None)
@given(samples, st.lists(st.integers(0, 4), min_size=400, max_size=400))
def test_merging_random_splits_equals_recording_everything(
    values: list[int], owners: list[int]
) -> None:
    parts = [
        histogram_of([v for v, o in zip(values, owners, strict=False) if o == k]) for k in range(5)
    ]
    merged = Histogram()
    for part in parts:
        merged.merge(part)
    whole = histogram_of(values)
    assert merged == whole
    assert merged.bucket_counts() == whole.bucket_counts()
    assert merged.percentiles(DEFAULT_PERCENTILES) == whole.percentiles(DEFAULT_PERCENTILES)
    assert (merged.min, merged.max, merged.total, merged.count) == (
        whole.min,
        whole.max,
        whole.total,
        whole.count,
    )


@settings(max_examples=50, deadline=None)
@given(st.lists(values_us, max_size=200))
def test_wire_round_trip_through_json(values: list[int]) -> None:
    hist = histogram_of(values)
    wire = json.loads(json.dumps(hist.to_wire()))
    again = Histogram.from_wire(wire)
    assert again == hist
    assert again.percentiles(DEFAULT_PERCENTILES) == hist.percentiles(DEFAULT_PERCENTILES)


def test_bucket_layout_is_contiguous_and_three_digits_wide() -> None:
    previous = -1
    for value in range(0, 1 << 15):
        index = bucket_index(value)
        low, width = bucket_bounds(index)
        assert low <= value < low + width
        assert index in (previous, previous + 1)
        previous = index
    for shift in range(12, 32):  # every octave boundary up to the top
        for value in ((1 << shift) - 1, 1 << shift, (1 << shift) + 1):
            low, width = bucket_bounds(bucket_index(value))
            assert low <= value < low + width
            assert width * 1024 <= low
    assert all(bucket_bounds(bucket_index(v)) == (v, 1) for v in range(2048))


def test_values_above_one_hour_clamp_into_the_top_bucket_but_max_stays_exact() -> None:
    hist = Histogram()
    hist.record(ONE_HOUR_US * 5)
    hist.record(ONE_HOUR_US)
    assert list(hist.bucket_counts()) == [bucket_index(MAX_TRACKABLE_US)]
    assert hist.max == ONE_HOUR_US * 5
    assert hist.percentile(1.0) == ONE_HOUR_US * 5


def test_memory_is_bounded_by_the_bucket_count() -> None:
    hist = Histogram()
    for shift in range(33):
        for k in range(0, 3000, 7):
            hist.record((1 << shift) + k * (1 << max(0, shift - 12)))
    assert len(hist.bucket_counts()) <= bucket_index(MAX_TRACKABLE_US) + 1


def test_record_ms_rounds_half_up_to_microseconds_and_floors_negatives_at_zero() -> None:
    hist = Histogram()
    hist.record_ms(0.0015)  # 1.5 µs -> 2
    assert hist.max == 2
    hist.record_ms(0.0014)  # 1.4 µs -> 1
    assert hist.min == 1
    hist.record_ms(-3.0)
    assert hist.min == 0
    hist.record_ms(1234.5678)
    assert hist.max == 1_234_568
    assert hist.count == 4


def test_empty_histogram_answers_none() -> None:
    hist = Histogram()
    assert hist.percentile(0.5) is None
    assert hist.percentiles((0.0, 1.0)) == (None, None)
    assert (hist.min, hist.max, hist.mean, hist.count, hist.total) == (None, None, None, 0, 0)


def test_percentile_is_the_bucket_midpoint_clamped_into_min_and_max() -> None:
    hist = Histogram()
    for v in (10_000, 10_001, 10_002):  # one 8 µs-wide bucket: [10 000, 10 008)
        hist.record(v)
    low, width = bucket_bounds(bucket_index(10_000))
    assert (low, width) == (10_000, 8)
    assert hist.percentile(0.5) == 10_002  # midpoint 10 003.5 clamped to the exact max


def test_percentile_rank_reads_quantiles_as_decimals() -> None:
    hist = histogram_of(list(range(1, 101)))
    assert hist.percentile(0.07) == 7  # binary 0.07 * 100 is 7.000000000000001
    assert hist.percentile(0.5) == 50
    assert hist.percentile(0.999) == 100
    assert hist.percentile(0.001) == 1


def test_out_of_range_quantile_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        Histogram().percentile(95)


def test_copy_clear_and_equality() -> None:
    hist = histogram_of([5, 50_000, 7])
    twin = hist.copy()
    assert twin == hist
    twin.record(1)
    assert twin != hist
    twin.clear()
    assert twin == Histogram()
    assert hist.count == 3


@pytest.mark.parametrize(
    "wire",
    [
        {"layout": 2, "buckets": [], "total": 0, "min": 0, "max": 0},
        {"layout": 1, "buckets": [1], "total": 1, "min": 1, "max": 1},
        {"layout": 1, "buckets": [1, 0], "total": 0, "min": 0, "max": 0},
        {"layout": 1, "buckets": [99_999, 1], "total": 1, "min": 1, "max": 1},
        {"layout": 1, "buckets": [1, 1], "total": "1", "min": 1, "max": 1},
        {"layout": 1, "total": 1, "min": 1, "max": 1},
    ],
)
def test_malformed_wire_data_is_refused(wire: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Histogram.from_wire(wire)


def test_ranks_one_and_n_report_the_exact_min_and_max() -> None:
    hist = histogram_of([300_000, 300_100, 300_200])  # 256 µs-wide buckets here
    low, width = bucket_bounds(bucket_index(300_100))
    assert width == 256
    assert hist.percentiles((0.1, 0.5, 0.99)) == (300_000, low + 127.5, 300_200)
