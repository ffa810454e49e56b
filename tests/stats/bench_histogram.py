"""Micro-benchmark of the per-request stats cost; run by hand, never collected by pytest.

    .venv/bin/python tests/stats/bench_histogram.py

Prints nanoseconds per call for `Histogram.record_ms` and `StatsCollector.record` (the
budget in DESIGN.md is well under 500 ns per sample). Timing is reported, never asserted.
"""

from __future__ import annotations

import random
import timeit

from loadhopper.stats import Histogram, StatsCollector

N = 200_000


def main() -> None:
    rng = random.Random(1)
    # Latencies spread like a loopback target with a slow tail: 0.1 ms to 2 s.
    samples = [rng.lognormvariate(0.0, 1.5) for _ in range(N)]

    hist = Histogram()
    record = hist.record_ms

    def run_histogram() -> None:
        for ms in samples:
            record(ms)

    collector = StatsCollector(start_time=0.0)
    crecord = collector.record
    names = ["/", "/cats", "/[id]/delete", "/search?q=[v]"]
    keys = [names[i % len(names)] for i in range(N)]
    pairs = list(zip(keys, samples, strict=True))

    def run_collector() -> None:
        for name, ms in pairs:
            crecord("GET", name, ms, 1234, None)

    def run_loop_only() -> None:
        for _name, _ms in pairs:
            pass

    for label, fn in (
        ("loop overhead", run_loop_only),
        ("Histogram.record_ms", run_histogram),
        ("StatsCollector.record", run_collector),
    ):
        best = min(timeit.repeat(fn, number=1, repeat=5))
        print(f"{label:24s} {best / N * 1e9:7.1f} ns per call (loop included)")
    print(f"distinct buckets used: {len(hist.bucket_counts())}")


if __name__ == "__main__":
    main()
