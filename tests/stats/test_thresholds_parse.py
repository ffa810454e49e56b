"""`parse_threshold`: every metric form, every row form, and each malformed kind's message."""

from __future__ import annotations

import pytest

from loadhopper.stats import Measure, Threshold, parse_threshold


@pytest.mark.parametrize(
    ("text", "measure", "quantile", "metric"),
    [
        ("p95<200", Measure.PERCENTILE, 0.95, "p95"),
        ("p99.9<200", Measure.PERCENTILE, 0.999, "p99.9"),
        ("p(99)<200", Measure.PERCENTILE, 0.99, "p99"),
        ("p(99.99)<200", Measure.PERCENTILE, 0.9999, "p99.99"),
        ("p( 90 )<200", Measure.PERCENTILE, 0.9, "p90"),
        ("p0<200", Measure.PERCENTILE, 0.0, "p0"),
        ("p100<200", Measure.PERCENTILE, 1.0, "p100"),
        ("P95<200", Measure.PERCENTILE, 0.95, "p95"),
        ("corrected_p99<200", Measure.CORRECTED_PERCENTILE, 0.99, "corrected p99"),
        ("corrected_p(99.9)<200", Measure.CORRECTED_PERCENTILE, 0.999, "corrected p99.9"),
        ("avg<200", Measure.AVG, None, "avg"),
        ("min<200", Measure.MIN, None, "min"),
        ("max<200", Measure.MAX, None, "max"),
        ("med<200", Measure.MED, None, "med"),
        ("corrected_avg<200", Measure.CORRECTED_AVG, None, "corrected_avg"),
        ("corrected_max<200", Measure.CORRECTED_MAX, None, "corrected_max"),
        ("corrected_med<200", Measure.CORRECTED_MED, None, "corrected_med"),
        ("fail_ratio<200", Measure.FAIL_RATIO, None, "fail_ratio"),
        ("failures<200", Measure.FAILURES, None, "failures"),
        ("requests<200", Measure.REQUESTS, None, "requests"),
        ("rps<200", Measure.RPS, None, "rps"),
        ("dropped<200", Measure.DROPPED, None, "dropped"),
        ("late<200", Measure.LATE, None, "late"),
    ],
)
def test_every_metric_form_parses(
    text: str, measure: Measure, quantile: float | None, metric: str
) -> None:
    parsed = parse_threshold(text)
    assert (parsed.measure, parsed.quantile, parsed.metric) == (measure, quantile, metric)
    assert (parsed.row, parsed.operator, parsed.limit) == (None, "<", 200.0)


def test_the_quantile_of_a_decimal_percentile_is_exact() -> None:
    # 99.9 / 100 in floats is 0.9990000000000001; the rank must be that of 0.999.
    assert parse_threshold("p99.9<1").quantile == 0.999
    assert parse_threshold("p99.99<1").quantile == 0.9999


@pytest.mark.parametrize(
    ("text", "operator", "limit"),
    [
        ("p95 < 200", "<", 200.0),
        ("  p95<=200 ", "<=", 200.0),
        ("p95>0.5", ">", 0.5),
        ("p95 >= .5", ">=", 0.5),
        ("p95==1e3", "==", 1000.0),
        ("p95<200ms", "<", 200.0),
        ("p95<1.5s", "<", 1500.0),
        ("p95 < 2 S", "<", 2000.0),
        ("fail_ratio<0.01", "<", 0.01),
        ("rps>-1", ">", -1.0),
    ],
)
def test_operators_numbers_and_units(text: str, operator: str, limit: float) -> None:
    parsed = parse_threshold(text)
    assert (parsed.operator, parsed.limit) == (operator, limit)


@pytest.mark.parametrize(
    ("text", "row"),
    [
        ("p95<200", None),
        ("Aggregated:p95<200", None),
        ("/api/items:p95<200", "/api/items"),
        ("GET /api/items:p95<200", "GET /api/items"),
        ("  GET /api/items : p95 < 200 ", "GET /api/items"),
        ("Login flow:avg<1", "Login flow"),
        # A row containing ':' itself: split at the last ':' whose right side parses.
        ("GET http://host:8080/a:b:p99<500", "GET http://host:8080/a:b"),
        ("ws:connect:fail_ratio<0.5", "ws:connect"),
    ],
)
def test_row_forms(text: str, row: str | None) -> None:
    assert parse_threshold(text).row == row


def test_the_expression_is_kept_as_written_and_judges_values() -> None:
    parsed = parse_threshold(" GET /a:p95<=200 ")
    assert parsed == Threshold(
        "GET /a:p95<=200", "GET /a", Measure.PERCENTILE, 0.95, "p95", "<=", 200.0
    )
    assert parsed.holds(200.0) and not parsed.holds(200.001)
    assert parsed.unit == "ms"
    assert parse_threshold("rps>1").unit == "/s"
    assert parse_threshold("fail_ratio<1").unit == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "A threshold is empty; write [ROW:]METRIC OP NUMBER"),
        ("   ", "A threshold is empty"),
        ("p95", "Threshold 'p95' has no comparison; expected METRIC OP NUMBER with OP one of"),
        ("p95 200", "Threshold 'p95 200' has no comparison"),
        ("p95<", "Threshold 'p95<' has no number after its operator"),
        ("p95<abc", "Threshold 'p95<abc' compares with 'abc', which is not a number; expected"),
        ("p95<200 ms ms", "which is not a number"),
        ("p95<nan", "which is not a number"),
        ("p95<1e999", "Threshold 'p95<1e999' compares with '1e999'; give a finite number."),
        ("<200", "Threshold '<200' has no metric before its operator; expected one of pNN"),
        ("p95!=200", "Threshold 'p95!=200' uses the operator '!=' (expected one of <, <="),
        ("p95=200", "uses the operator '='; write '=='"),
        ("p95=<200", "uses the operator '=<'; write '<='"),
        ("p95=>200", "uses the operator '=>'; write '>='"),
        ("p101<1", "Threshold 'p101<1' asks for the percentile 'p101'; expected a number from 0"),
        ("p(-1)<1", "asks for the percentile 'p(-1)'"),
        ("p9.9.9<1", "asks for the percentile 'p9.9.9'"),
        ("p()<1", "asks for the percentile 'p()'"),
        ("speed<1", "Threshold 'speed<1' has an unknown metric 'speed'; expected one of pNN"),
        ("fail_ratio<1s", "gives a time ('1s') but fail_ratio is not a latency"),
        ("requests<5ms", "but requests is not a latency"),
        (":p95<200", "Threshold ':p95<200' has nothing before ':'; name a row"),
        ("GET /a:dropped<1", "gives a row, but dropped counts the whole run's iterations; write"),
        ("GET /a:late<1", "write 'late<1'"),
        # Nothing after the last ':' parses: the error is the metric part's.
        ("GET /a:p95<>1", "Threshold 'GET /a:p95<>1' compares with '>1', which is not a number"),
    ],
)
def test_malformed_thresholds_say_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_threshold(text)
    assert message in str(raised.value)
    assert str(raised.value).endswith((".", "?", ")")) and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("p95_corrected<1", "corrected_p95"),
        ("p(99)_corrected<1", "corrected_p(99)"),
        ("corrected-p99<1", "corrected_p99"),
        ("correctedp99<1", "corrected_p99"),
        ("avg_corrected<1", "corrected_avg"),
        ("rate<0.01", "fail_ratio"),
        ("http_req_failed<0.01", "fail_ratio"),
        ("count<10", "requests"),
        ("dropped_iterations<1", "dropped"),
        ("median<1", "med"),
        ("avgg<1", "avg"),
        ("fail_ration<1", "fail_ratio"),
    ],
)
def test_a_near_miss_is_answered_with_the_spelling_to_use(text: str, suggestion: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_threshold(text)
    assert f"(did you mean {suggestion!r}?); expected one of" in str(raised.value)
