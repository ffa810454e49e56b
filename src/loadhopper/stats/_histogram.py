"""A log-linear latency histogram in integer microseconds, exactly mergeable.

Theory of operation. The layout is HdrHistogram's with 3 significant digits, written for
this project. Values below 2048 µs each get their own bucket (index == value). Above that,
every power-of-two range [2^k, 2^(k+1)) is split into 1024 equal buckets, so a bucket is never
wider than 1/1024 of its lower bound and its midpoint is within 1/2048 (0.05 %) of any value
in it. For a value v >= 2048 with s = v.bit_length() - 11 (so that v >> s is in
[1024, 2047]) the index is (s << 10) + (v >> s); the ranges line up with no gap: 2048 maps
to 2048, 4096 to 3072, and so on. One hour (3.6e9 µs) is index 23 220, the top bucket:
larger values are counted there, while `max` keeps the exact value.

Counts live in a dict (index -> count), so a histogram that saw ten distinct latencies
holds ten entries, and one that saw a billion holds at most the 23 221 buckets of the
range. Merging adds counts bucket by bucket, which is why N merged histograms equal, bucket
for bucket, the one histogram that would have recorded every value.

A percentile q is the value at rank max(1, ceil(q * N)) in sorted order, reported as the
midpoint of the bucket that holds that rank, clamped into [min, max]. Ranks 1 and N are the
exact min and max (so q = 0 and q = 1 always are), since those two values are known exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction

__all__ = ["MAX_TRACKABLE_US", "WIRE_LAYOUT", "Histogram", "WireHistogram"]

# 11 bits of linear resolution: 2048 exact buckets at the bottom, then 1024 per octave.
_LINEAR_BITS = 11
_LINEAR_LIMIT = 1 << _LINEAR_BITS  # 2048
_HALF_BITS = _LINEAR_BITS - 1  # 10: 1024 buckets per power-of-two range

MAX_TRACKABLE_US = 3_600_000_000  # one hour, the top of the promised range (DESIGN.md)

# Larger than any latency a run can see (2^62 µs is ~146 000 years): "no minimum yet".
_EMPTY_MIN = 1 << 62

# The wire format's layout tag: a receiver with a different layout must refuse the data.
WIRE_LAYOUT = 1

WireHistogram = dict[str, int | list[int]]


def bucket_index(value_us: int) -> int:
    """The bucket index of a non-negative value in microseconds (clamped to the top)."""
    if value_us < _LINEAR_LIMIT:
        return value_us
    if value_us > MAX_TRACKABLE_US:
        value_us = MAX_TRACKABLE_US
    shift = value_us.bit_length() - _LINEAR_BITS
    return (shift << _HALF_BITS) + (value_us >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The lowest value and the width of the bucket at `index`, in microseconds."""
    if index < _LINEAR_LIMIT:
        return index, 1
    shift = (index >> _HALF_BITS) - 1
    mantissa = index - (shift << _HALF_BITS)
    return mantissa << shift, 1 << shift


_TOP_INDEX = bucket_index(MAX_TRACKABLE_US)


def _rank(q: float, count: int) -> int:
    """The 1-based rank of quantile q among `count` values: max(1, ceil(q * count)).

    The product is taken on q's shortest decimal form (`Fraction(repr(q))`), so that
    0.07 * 100 is 7, not the 7.000000000000001 of binary floating point, which would
    shift the rank by one.
    """
    return max(1, math.ceil(Fraction(repr(q)) * count))


class Histogram:
    """Counts of latencies in microseconds, with exact count, sum, min and max.

    Everything is stored in integer microseconds; `percentile` also answers in microseconds
    (a float, since a bucket's midpoint may fall on a half). Callers convert to milliseconds.
    """

    __slots__ = ("_count", "_counts", "_max", "_min", "_total")

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self._count = 0
        self._total = 0
        self._min = _EMPTY_MIN
        self._max = 0

    # The hot path. Kept as flat as Python allows: no helper calls, one dict update.
    def record(self, value_us: int) -> None:
        """Count one value in microseconds (negative values count as 0)."""
        if value_us < _LINEAR_LIMIT:
            if value_us < 0:
                value_us = 0
            index = value_us
        elif value_us > MAX_TRACKABLE_US:
            index = _TOP_INDEX
        else:
            shift = value_us.bit_length() - _LINEAR_BITS
            index = (shift << _HALF_BITS) + (value_us >> shift)
        counts = self._counts
        counts[index] = counts.get(index, 0) + 1
        self._count += 1
        self._total += value_us
        if value_us > self._max:
            self._max = value_us
        if value_us < self._min:
            self._min = value_us

    def record_ms(self, ms: float) -> None:
        """Count one latency given in milliseconds, rounded half up to whole microseconds."""
        # Inlined copy of `record`: this is the per-request call, and a second method call
        # would cost about as much as the whole body.
        value_us = int(ms * 1000.0 + 0.5)
        if value_us < _LINEAR_LIMIT:
            if value_us < 0:
                value_us = 0
            index = value_us
        elif value_us > MAX_TRACKABLE_US:
            index = _TOP_INDEX
        else:
            shift = value_us.bit_length() - _LINEAR_BITS
            index = (shift << _HALF_BITS) + (value_us >> shift)
        counts = self._counts
        counts[index] = counts.get(index, 0) + 1
        self._count += 1
        self._total += value_us
        if value_us > self._max:
            self._max = value_us
        if value_us < self._min:
            self._min = value_us

    @property
    def count(self) -> int:
        """How many values were recorded."""
        return self._count

    @property
    def total(self) -> int:
        """The exact sum of the recorded values, in microseconds."""
        return self._total

    @property
    def min(self) -> int | None:
        """The exact smallest value in microseconds, or None when empty."""
        return self._min if self._count else None

    @property
    def max(self) -> int | None:
        """The exact largest value in microseconds (even above the top bucket), or None."""
        return self._max if self._count else None

    @property
    def mean(self) -> float | None:
        """The exact mean in microseconds, or None when empty."""
        return self._total / self._count if self._count else None

    def bucket_counts(self) -> Mapping[int, int]:
        """A copy of the non-empty buckets (index -> count)."""
        return self._counts.copy()

    def percentile(self, q: float) -> float | None:
        """The value at quantile q (0 <= q <= 1) in microseconds, or None when empty.

        Raises:
            ValueError: q is outside [0, 1].
        """
        return self.percentiles((q,))[0]

    def percentiles(self, qs: Sequence[float]) -> tuple[float | None, ...]:
        """Several quantiles at once, in one pass over the sorted buckets (microseconds).

        Raises:
            ValueError: a quantile is outside [0, 1].
        """
        for q in qs:
            if not 0.0 <= q <= 1.0:
                raise ValueError(f"Percentile {q!r} is outside [0, 1]; pass e.g. 0.95 for p95.")
        if not self._count:
            return tuple(None for _ in qs)
        lo, hi = self._min, self._max
        ranks = sorted((_rank(q, self._count), i) for i, q in enumerate(qs))
        out: list[float] = [0.0] * len(qs)
        want = 0
        seen = 0
        for index in sorted(self._counts):
            seen += self._counts[index]
            while want < len(ranks) and ranks[want][0] <= seen:
                low, width = bucket_bounds(index)
                mid = low + (width - 1) / 2
                out[ranks[want][1]] = float(min(max(mid, lo), hi))
                want += 1
            if want == len(ranks):
                break
        # The values at ranks 1 and N are the exact min and max, whatever the bucket widths.
        for rank, i in ranks:
            if rank == 1:
                out[i] = float(lo)
            elif rank == self._count:
                out[i] = float(hi)
        return tuple(out)

    def merge(self, other: Histogram) -> None:
        """Add every count of `other` into this histogram (lossless)."""
        if not other._count:
            return
        counts = self._counts
        for index, n in other._counts.items():
            counts[index] = counts.get(index, 0) + n
        self._count += other._count
        self._total += other._total
        self._max = max(self._max, other._max)
        self._min = min(self._min, other._min)

    def copy(self) -> Histogram:
        """An independent histogram with the same contents."""
        twin = Histogram()
        twin.merge(self)
        return twin

    def clear(self) -> None:
        """Forget every value (the dict is emptied in place, not reallocated)."""
        self._counts.clear()
        self._count = 0
        self._total = 0
        self._min = _EMPTY_MIN
        self._max = 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return (
            self._counts == other._counts
            and self._count == other._count
            and self._total == other._total
            and self.min == other.min
            and self.max == other.max
        )

    __hash__ = None  # type: ignore[assignment]  # mutable: equality by content, not hashable

    def __repr__(self) -> str:
        return f"Histogram(count={self._count}, min={self.min}, max={self.max})"

    def to_wire(self) -> WireHistogram:
        """A compact JSON-friendly form: bucket indexes and counts as one flat int list."""
        flat: list[int] = []
        for index in sorted(self._counts):
            flat.append(index)
            flat.append(self._counts[index])
        return {
            "layout": WIRE_LAYOUT,
            "buckets": flat,
            "total": self._total,
            "min": self._min if self._count else 0,
            "max": self._max,
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, object]) -> Histogram:
        """Rebuild a histogram from `to_wire()` output.

        Raises:
            ValueError: the data was not produced by a compatible `to_wire`.
        """
        if wire.get("layout") != WIRE_LAYOUT:
            raise ValueError(
                f"Histogram data has layout {wire.get('layout')!r}, expected {WIRE_LAYOUT}; "
                "run the same loadhopper version on every process."
            )
        flat = wire.get("buckets")
        total, low, high = wire.get("total"), wire.get("min"), wire.get("max")
        if not (
            isinstance(flat, list)
            and len(flat) % 2 == 0
            and _all_ints((total, low, high, *flat))
            and all(n > 0 for n in flat[1::2])
            and all(0 <= i <= _TOP_INDEX for i in flat[0::2])
        ):
            raise ValueError("Histogram data is malformed; send exactly what to_wire() returned.")
        hist = cls()
        hist._counts = dict(zip(flat[0::2], flat[1::2], strict=True))
        hist._count = sum(hist._counts.values())
        if hist._count:
            assert isinstance(total, int) and isinstance(low, int) and isinstance(high, int)
            hist._total, hist._min, hist._max = total, low, high
        return hist


def _all_ints(values: Iterable[object]) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)
