from __future__ import annotations

import pytest

from loadhopper.report._format import format_ms, percentile_key, percentile_label, truncate_middle


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.41234, "0.412"),
        (12.34, "12.3"),
        (1234.4, "1234"),
        (123456.7, "123457"),
        (999.96, "1000"),  # rounds up into the next decade: still 3+ digits, no ".0"
        (99.96, "100"),
        (1.0, "1.00"),
        (0.001234, "0.00123"),
        (0.0, "0"),
        (None, "-"),
    ],
)
def test_format_ms_three_significant_digits(value: float | None, text: str) -> None:
    assert format_ms(value) == text


def test_format_ms_missing_marker() -> None:
    assert format_ms(None, missing="N/A") == "N/A"


@pytest.mark.parametrize(
    ("fraction", "label"),
    [(0.5, "50%"), (0.66, "66%"), (0.999, "99.9%"), (0.9999, "99.99%"), (1.0, "100%")],
)
def test_percentile_label_matches_locust(fraction: float, label: str) -> None:
    assert percentile_label(fraction) == label
    assert percentile_key(fraction) == label[:-1]


def test_truncate_middle_keeps_both_ends() -> None:
    name = "/api/v1/customers/[id]/orders/[id]/delete"
    short = truncate_middle(name, 20)
    assert len(short) == 20
    assert short.startswith("/api/v1/")
    assert short.endswith("/delete")
    assert "..." in short
    assert truncate_middle("/short", 20) == "/short"
    assert truncate_middle("/abcdef", 3) == "/ab"
