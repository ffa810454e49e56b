"""The response-time distribution as a percentile spectrum, from the exact histograms.

HdrHistogram's way of plotting latency: the value at each quantile q against 1/(1-q) on a
logarithmic axis, so that p90, p99, p99.9 and p99.99 sit one step apart and the tail, where
latency problems hide, is as wide as the median. The ladder of quantiles below is the one
HdrHistogram's percentile output uses in coarse form: 0, 25, 50, 75 %, then in each decade of
nines the points at 1, 1/2 and 1/4 of the distance left to 100 % (90, 95, 97.5, 99, 99.5,
99.75, 99.9, ...). It stops where a point would need more samples than the row has
(1/(1-q) above the count: every later quantile is the maximum), and the maximum closes it.

Both the live page (`web`) and the HTML report draw these points; they are computed from
`StatsCollector.percentile`, so they are exact to the histogram's 3 significant digits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from loadhopper.stats import StatsCollector

__all__ = [
    "MAX_SPECTRUM_ROWS",
    "LatencySpectrum",
    "latency_spectrum",
    "report_spectra",
    "spectrum_dict",
    "spectrum_quantiles",
]

AGGREGATED = "Aggregated"
_BODY = (0.0, 0.25, 0.5, 0.75)
_FRACTIONS = (1.0, 0.5, 0.25)  # of the distance left to 100 %, in each decade of nines
_MAX_NINES = 9  # p99.9999999: past a billion samples the ladder adds nothing readable
# The HTML report carries the Aggregated row and this many rows with the most requests
# (about 1 KB of JSON each), so its size stays bounded however many rows the run had.
MAX_SPECTRUM_ROWS = 20


@dataclass(frozen=True, slots=True)
class LatencySpectrum:
    """One row's percentile spectrum.

    Attributes:
        method: the row's method ("" for the Aggregated row).
        name: the row's name ("Aggregated" for the total).
        count: the successful requests the histogram holds.
        points: (quantile, latency in ms) pairs, quantile ascending; the last is (1.0, max).
    """

    method: str
    name: str
    count: int
    points: tuple[tuple[float, float], ...]

    @property
    def label(self) -> str:
        """The row as the tables name it: "GET /cart", or "Aggregated"."""
        return f"{self.method} {self.name}" if self.method else self.name


def _fits(q: float, count: int) -> bool:
    # 1/(1-q) samples are needed to tell q from the maximum; the slack absorbs float error
    # (1/(1-0.9) is 10.000000000000002).
    return 1.0 / (1.0 - q) <= count * (1.0 + 1e-9)


def spectrum_quantiles(count: int) -> tuple[float, ...]:
    """The quantiles worth plotting for a histogram of `count` samples (1.0 last)."""
    if count <= 0:
        return ()
    qs = [q for q in _BODY if _fits(q, count)]
    for nines in range(1, _MAX_NINES + 1):
        for fraction in _FRACTIONS:
            # Rounded to its decimal digits, so 0.999 is 0.999 and not 0.9990000000000001.
            q = round(1.0 - fraction * 10.0**-nines, nines + 2)
            if not _fits(q, count):
                return (*qs, 1.0)
            qs.append(q)
    return (*qs, 1.0)


def latency_spectrum(stats: StatsCollector, method: str, name: str) -> LatencySpectrum | None:
    """A row's spectrum from its exact histogram; None when it has no successful request.

    Args:
        stats: the collector holding the row.
        method: the row's method; "" with name "Aggregated" for the total row.
        name: the row's name.
    """
    # `entries` holds the overflow rows too, which `get` does not look up.
    row = stats.total if method == "" and name == AGGREGATED else stats.entries.get((name, method))
    if row is None:
        return None
    count = row.num_requests - row.num_failures
    points = []
    # One exact lookup per quantile (about 30): only on demand, never per request.
    for q in spectrum_quantiles(count):
        value = stats.percentile(method, name, q)
        if value is not None:
            points.append((q, value))
    if not points:
        return None
    return LatencySpectrum(method=method, name=name, count=count, points=tuple(points))


def report_spectra(
    stats: StatsCollector, limit: int = MAX_SPECTRUM_ROWS
) -> tuple[LatencySpectrum, ...]:
    """The Aggregated row's spectrum, then those of the `limit` rows with most requests."""
    rows = sorted(stats.entries.values(), key=lambda row: -row.num_requests)[:limit]
    keys: Iterable[tuple[str, str]] = [("", AGGREGATED), *((r.method, r.name) for r in rows)]
    found = (latency_spectrum(stats, method, name) for method, name in keys)
    return tuple(spectrum for spectrum in found if spectrum is not None)


def _compact(ms: float) -> float:
    # 3 significant digits: the histograms' precision; more only makes the JSON longer.
    return float(f"{ms:.3g}")


def spectrum_dict(spectrum: LatencySpectrum) -> dict[str, object]:
    """The JSON both charts read: {label, method, name, count, q: [...], ms: [...]}."""
    return {
        "label": spectrum.label,
        "method": spectrum.method,
        "name": spectrum.name,
        "count": spectrum.count,
        "q": [q for q, _ in spectrum.points],
        "ms": [_compact(ms) for _, ms in spectrum.points],
    }
