"""The latency buckets both exporters use (Prometheus and OpenTelemetry), folded from the
exact histograms at export time.

The bounds are 1-2.5-5 steps from 1 ms to 10 s, then 30 s and 60 s: roughly log-spaced like
the Prometheus client's defaults (5 ms .. 10 s), widened at both ends because a load test
sees both sub-millisecond loopback answers and timeouts (requests' and Locust's are often
30-60 s).

One rule for both, so that a Grafana panel fed by either shows the same counts: a bucket of
loadhopper's histogram counts under the first bound at or above its lowest value. A sample
at a bound is therefore never missed (exactly 250 ms is under `le="0.25"`), and a sample
less than 0.1 % above a bound (the histogram's resolution) may count under it.
"""

from __future__ import annotations

import bisect

from loadhopper.stats._histogram import Histogram, bucket_bounds

__all__ = ["LATENCY_BOUNDS_SECONDS", "latency_bucket_counts"]

LATENCY_BOUNDS_SECONDS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
_BOUNDS_US = tuple(round(bound * 1_000_000) for bound in LATENCY_BOUNDS_SECONDS)


def latency_bucket_counts(histogram: Histogram) -> tuple[int, ...]:
    """Counts per bound of `LATENCY_BOUNDS_SECONDS`, not cumulative; one more, last, for
    the samples above the last bound."""
    counts = [0] * (len(_BOUNDS_US) + 1)
    for index, count in histogram.bucket_counts().items():
        low, _width = bucket_bounds(index)
        counts[bisect.bisect_left(_BOUNDS_US, low)] += count
    return tuple(counts)
