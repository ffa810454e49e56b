"""Number and label formatting shared by the console, CSV and JSON reports."""

from __future__ import annotations

import math

__all__ = ["format_ms", "format_rate", "percentile_key", "percentile_label", "truncate_middle"]


def format_ms(value: float | None, *, missing: str = "-") -> str:
    """Format a latency in milliseconds to 3 significant digits: `0.412`, `12.3`, `1234`.

    Three digits is the precision the histograms guarantee (DESIGN.md "Exact statistics"),
    so more digits would be noise and fewer would throw away what we measured. Values of 1000
    and above keep every integer digit rather than switching to an exponent.
    """
    if value is None or math.isnan(value):
        return missing
    if value == 0:
        return "0"
    if value < 0:
        return "-" + format_ms(-value)
    # Round to 3 significant digits first, so that 99.96 becomes 100 (3 digits) and not 100.0.
    rounded = float(f"{value:.3g}")
    decimals = max(0, 2 - math.floor(math.log10(rounded)))
    if rounded >= 1000:
        return str(round(value))
    return f"{rounded:.{decimals}f}"


def format_rate(value: float) -> str:
    """Format a per-second rate with two decimals, as Locust's console does."""
    return f"{value:.2f}"


def percentile_label(fraction: float) -> str:
    """Locust's column label for a percentile: 0.5 -> `50%`, 0.999 -> `99.9%`, 1.0 -> `100%`."""
    return f"{percentile_key(fraction)}%"


def percentile_key(fraction: float) -> str:
    """The percentile as a plain number string: 0.5 -> `50`, 0.9999 -> `99.99`."""
    # `g` with enough digits drops the trailing zeros that a float would otherwise keep
    # (0.999 * 100 == 99.9 exactly only after rounding away the binary noise).
    return f"{round(fraction * 100, 6):.10g}"


def truncate_middle(text: str, width: int) -> str:
    """Shorten `text` to `width` characters by cutting its middle.

    URL names differ most at their ends (`/api/v1/.../[id]/delete`), so both the start and the
    tail are kept, joined by `...`.
    """
    if len(text) <= width:
        return text
    if width <= 3:
        return text[:width]
    keep = width - 3
    head = (keep + 1) // 2
    tail = keep - head
    return text[:head] + "..." + (text[-tail:] if tail else "")
