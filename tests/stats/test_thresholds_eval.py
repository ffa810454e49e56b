"""`evaluate_thresholds` on a real StatsCollector fed known samples.

Latencies below 2.048 ms have a histogram bucket each (1 µs wide), so the samples here are
recorded and reported exactly: the values below are equalities, not approximations.
"""

from __future__ import annotations

import dataclasses

from loadhopper.stats import (
    StatsCollector,
    ThresholdResult,
    evaluate_thresholds,
    parse_threshold,
)

START = 1000.0
NOW = 1010.0  # ten seconds into the run


def _collector() -> StatsCollector:
    c = StatsCollector(start_time=START)
    for i in range(1, 101):  # GET /a: 0.01, 0.02, ... 1.00 ms, all successes
        c.record("GET", "/a", i / 100, 10, None)
    for _ in range(10):  # and 10 failures (not in any latency column)
        c.record("GET", "/a", 1.5, 10, "boom")
    for i in range(1, 11):  # POST /a: 0.1 ... 1.0 ms, each 0.5 ms late against its schedule
        c.record("POST", "/a", i / 10, 10, None, lag_ms=0.5)
    c.record("GET", "/b", 0.2, 10, None)
    return c


def _judge(*texts: str, collector: StatsCollector | None = None) -> list[ThresholdResult]:
    c = collector or _collector()
    return list(evaluate_thresholds([parse_threshold(t) for t in texts], c, c.snapshot(NOW), NOW))


def _values(*texts: str) -> list[float | None]:
    return [r.value for r in _judge(*texts)]


def test_percentiles_are_exact_on_any_row() -> None:
    # Aggregated successes: 100 GET /a + 10 POST /a + 1 GET /b = 111 samples; rank
    # ceil(0.5 * 111) = 56: the 0.01..1.00 series holds 0.01..0.55 below it, plus the POST
    # 0.1..0.5 (5 values) and GET /b's 0.2: the 56th smallest value is 0.5.
    assert _values("p50<1", "GET /a:p95<1", "GET /a:p(99.9)<1", "POST /a:p100<1") == [
        0.5,
        0.95,
        1.0,
        1.0,
    ]


def test_a_corrected_percentile_counts_the_lag() -> None:
    # POST /a's corrected samples are 0.6 ... 1.5 ms; rank ceil(0.5 * 10) = 5 is 1.0 ms.
    assert _values("POST /a:corrected_p50<1", "corrected_p100<1", "POST /a:corrected_max<1") == [
        1.0,
        1.5,
        1.5,
    ]
    assert _values("POST /a:corrected_avg<1") == [1.05]


def test_row_statistics_avg_min_max_med() -> None:
    assert _values("GET /a:avg<1", "GET /a:min<1", "GET /a:max<1", "GET /a:med<1") == [
        0.505,
        0.01,
        1.0,
        0.5,
    ]


def test_counts_ratios_and_rates() -> None:
    values = _values(
        "requests<1", "failures<1", "GET /a:fail_ratio<1", "rps<1", "/b:rps<1", "POST /a:requests<1"
    )
    # 121 requests in 10 s; GET /a failed 10 of its 110.
    assert values == [121.0, 10.0, 10 / 110, 12.1, 0.1, 10.0]


def test_pass_and_fail_at_the_boundary() -> None:
    results = _judge(
        "GET /a:p95<0.95",
        "GET /a:p95<=0.95",
        "GET /a:p95==0.95",
        "GET /a:p95>=0.95",
        "GET /a:p95>0.95",
        "requests<121",
        "requests<=121",
        "failures>9",
    )
    assert [r.passed for r in results] == [False, True, True, True, False, False, True, True]
    assert all(r.value is not None for r in results)


def test_a_name_alone_finds_its_only_row_and_shows_the_method() -> None:
    (result,) = _judge("/b:max<1")
    assert (result.row, result.value, result.passed) == ("GET /b", 0.2, True)


def test_a_result_carries_what_reports_show() -> None:
    (result,) = _judge("GET /a:p95<=1ms")
    assert result == ThresholdResult(
        expression="GET /a:p95<=1ms",
        row="GET /a",
        metric="p95",
        operator="<=",
        limit=1.0,
        value=0.95,
        passed=True,
        unit="ms",
    )
    assert (result.value_text, result.limit_text) == ("0.95 ms", "1 ms")
    (ratio,) = _judge("GET /a:fail_ratio<0.05")
    assert (ratio.passed, ratio.value_text, ratio.limit_text) == (False, "0.09091", "0.05")


def test_no_data_fails_and_says_why() -> None:
    results = _judge(
        "/nope:p95<1",
        "/a:avg<1",  # two methods named /a: which one is meant?
        "GET /b:corrected_p99<1",  # GET /b had no schedule
        "dropped<1",
        "late<1",
    )
    assert [r.value for r in results] == [None] * 5
    assert [r.passed for r in results] == [False] * 5
    assert [r.first_breach for r in results] == [None] * 5  # no data is not a breach
    assert [r.reason for r in results] == [
        "no request named '/nope' ran",
        "'/a' names 2 rows (GET, POST); put the method first",
        "no request had an intended start, which needs an arrival rate or pacing",
        "no arrival-rate schedule ran",
        "no arrival-rate schedule ran",
    ]
    assert results[0].row == "/nope" and results[3].row == ""
    assert results[0].value_text == "no data (no request named '/nope' ran)"


def test_an_empty_run_has_counts_but_no_latencies_or_ratio() -> None:
    empty = StatsCollector(start_time=START)
    results = _judge("requests<1", "p95<1", "fail_ratio<1", "rps<1", collector=empty)
    assert [(r.value, r.passed) for r in results] == [
        (0.0, True),
        (None, False),
        (None, False),
        (0.0, True),
    ]
    assert results[1].reason == "no successful response"
    assert results[2].reason == "no requests"


def test_open_model_counts_are_judged_when_a_schedule_ran() -> None:
    c = _collector()
    c.record_arrivals(due=100, late=7, dropped=2)
    results = _judge("dropped<1", "late<=7", collector=c)
    assert [(r.value, r.passed) for r in results] == [(2.0, False), (7.0, True)]


def test_first_breaches_and_abort_marks_carry_over_between_evaluations() -> None:
    c = StatsCollector(start_time=START)
    thresholds = [parse_threshold("max<1"), parse_threshold("requests<3")]
    c.record("GET", "/", 0.5, 0, None)
    first = evaluate_thresholds(thresholds, c, c.snapshot(1001.0), 1001.0)
    assert [(r.passed, r.first_breach) for r in first] == [(True, None), (True, None)]
    c.record("GET", "/", 1.5, 0, None)
    c.record("GET", "/", 0.5, 0, None)
    second = evaluate_thresholds(thresholds, c, c.snapshot(1002.0), 1002.0, first)
    assert [(r.passed, r.first_breach) for r in second] == [(False, 1002.0), (False, 1002.0)]
    marked = (second[0], dataclasses.replace(second[1], aborted=True))
    c.record("GET", "/", 0.5, 0, None)
    third = evaluate_thresholds(thresholds, c, c.snapshot(1003.0), 1003.0, marked)
    # Still failing: the first breach stays the first one; the abort mark is kept.
    assert [(r.first_breach, r.aborted) for r in third] == [(1002.0, False), (1002.0, True)]


def test_merged_collectors_are_judged_on_the_merged_histogram() -> None:
    # Two workers' windows merged into a master: p99 of the merge is the merged rank's.
    fast, slow, master = (StatsCollector(start_time=START) for _ in range(3))
    for _ in range(99):
        fast.record("GET", "/", 0.1, 0, None)
    for _ in range(3):
        slow.record("GET", "/", 1.9, 0, None)
    master.merge(fast.close_window(START + 1, 1))
    master.merge(slow.close_window(START + 1, 1))
    (merged,) = _judge("p99<1", collector=master)
    # 102 samples, rank ceil(0.99 * 102) = 101 falls among the three slow ones.
    assert (merged.value, merged.passed) == (1.9, False)
