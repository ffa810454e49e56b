"""Comparing two JSON summaries (report/_compare.py, _fail_on.py, _compare_html.py).

The summaries are made by the real serializer (`summary_dict`) from snapshots built field by
field, so a change of the JSON schema shows here, and every expected number is known.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from report_snapshots import make_row, make_snapshot

from loadhopper.report import RunInfo, summary_dict
from loadhopper.report._compare import (
    Direction,
    MetricChange,
    compare_runs,
    format_comparison,
    glyphs_for,
    load_summary,
    parse_summary,
)
from loadhopper.report._compare_html import render_comparison_html
from loadhopper.report._fail_on import (
    check_fail_on,
    evaluate_fail_on,
    format_fail_on,
    parse_fail_on,
)

RUN = RunInfo(
    start_time=1_700_000_000.0,
    end_time=1_700_000_010.0,
    users=2,
    spawn_rate=2.0,
    run_time=10.0,
    host="http://127.0.0.1:8000",
    locustfile="locustfile.py",
    version="0.1.0",
)


def _summary(*rows: Any) -> dict[str, Any]:
    return summary_dict(make_snapshot(rows), RUN)


def _pair() -> tuple[dict[str, Any], dict[str, Any]]:
    base = _summary(
        make_row("GET", "/api", latency=10.0, total_rps=100.0),
        make_row("GET", "/gone", latency=5.0),
    )
    new = _summary(
        make_row("GET", "/api", latency=12.0, total_rps=50.0, requests=10, failures=1),
        make_row("POST", "/fresh", latency=1.0),
    )
    return base, new


def _comparison() -> Any:
    base, new = _pair()
    return compare_runs(parse_summary(base, "base.json"), parse_summary(new, "new.json"))


# ---- reading ------------------------------------------------------------------------------


def test_a_real_summary_reads_back_with_its_rows_and_percentiles(tmp_path: Path) -> None:
    base, _ = _pair()
    path = tmp_path / "base.json"
    path.write_text(json.dumps(base))
    run = load_summary(path)
    assert run.percentiles == tuple(base["percentiles"])
    assert [r.label for r in run.rows] == ["GET /api", "GET /gone"]
    assert run.rows[0].rps == 100.0 and run.rows[0].percentiles["50"] == 10.0
    assert run.aggregated.label == "Aggregated"
    assert run.timeline == base["timeline"]  # summary_dict writes it, compare reads it back


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[1, 2]", "its top level is not an object"),
        ('{"schema": "k6.summary"}', "its schema is 'k6.summary'"),
        ('{"schema": "loadhopper.summary/1"}', "missing 'percentiles'"),
        ("{not json", "not JSON"),
    ],
)
def test_a_file_that_is_not_a_summary_is_refused_in_one_sentence(
    tmp_path: Path, text: str, why: str
) -> None:
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        load_summary(path)
    message = str(info.value)
    assert message.startswith(f"{path} is not a loadhopper JSON summary (")
    assert why in message and message.endswith("`--json-file` or `--json`.")
    assert "\n" not in message


def test_another_schema_version_is_refused_naming_it() -> None:
    base, _ = _pair()
    base["schema"] = "loadhopper.summary/2"
    with pytest.raises(ValueError, match=r"'loadhopper.summary/2', which this loadhopper"):
        parse_summary(base, "b.json")


def test_a_non_finite_or_non_number_value_is_refused() -> None:
    base, _ = _pair()
    base["rows"][0]["percentiles"]["95"] = math.nan
    with pytest.raises(ValueError, match=r"p95 is nan, not a finite number"):
        parse_summary(base, "b.json")
    base["rows"][0]["percentiles"]["95"] = "fast"
    with pytest.raises(ValueError, match=r"p95 is not a number"):
        parse_summary(base, "b.json")


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^Cannot read .*nope.json: No such file"):
        load_summary(tmp_path / "nope.json")


# ---- comparing ----------------------------------------------------------------------------


def test_rows_pair_by_method_and_name_and_the_rest_are_added_or_removed() -> None:
    comparison = _comparison()
    assert [r.label for r in comparison.rows] == ["GET /api"]
    assert [r.label for r in comparison.added] == ["POST /fresh"]
    assert [r.label for r in comparison.removed] == ["GET /gone"]


def test_each_change_is_absolute_relative_and_knows_the_worse_direction() -> None:
    (api,) = _comparison().rows
    changes = {c.metric: c for c in api.changes}
    assert list(changes)[:3] == ["rps", "fail_ratio", "p50"]
    rps = changes["rps"]
    assert (rps.base, rps.new, rps.absolute, rps.relative) == (100.0, 50.0, -50.0, -0.5)
    assert rps.direction is Direction.WORSE  # fewer requests per second is worse
    p50 = changes["p50"]
    assert p50.absolute == pytest.approx(2.0) and p50.relative == pytest.approx(0.2)
    assert p50.direction is Direction.WORSE
    fail = changes["fail_ratio"]
    assert (fail.base, fail.new) == (0.0, 0.1) and fail.relative == math.inf
    assert MetricChange("p95", "ms", 12.0, 10.0).direction is Direction.BETTER
    assert MetricChange("rps", "/s", 1.0, 2.0, higher_is_worse=False).direction is Direction.BETTER
    assert MetricChange("p95", "ms", None, 10.0).direction is Direction.UNKNOWN
    assert MetricChange("p95", "ms", 3.0, 3.0).direction is Direction.SAME


def test_only_the_percentiles_both_files_have_are_compared() -> None:
    base, new = _pair()
    for row in (new["aggregated"], *new["rows"]):
        del row["percentiles"]["99.99"]
    new["percentiles"].remove("99.99")
    comparison = compare_runs(parse_summary(base), parse_summary(new))
    assert "99.99" not in comparison.percentiles and "99.9" in comparison.percentiles
    text = format_comparison(comparison)
    assert "Percentiles only one file has (not compared): p99.99" in text


def test_the_text_marks_worse_and_better_and_degrades_to_ascii() -> None:
    text = format_comparison(_comparison())
    api = text.split("GET /api")[1]
    assert re.search(r"rps\s+100\.00/s\s+→\s+50\.00/s\s+-50\.00/s\s+-50\.0%\s+▼ worse", api)
    assert re.search(r"p50\s+10\.0 ms\s+→\s+12\.0 ms\s+\+2\.00 ms\s+\+20\.0%\s+▲ worse", api)
    assert "fail_ratio" in api and "from 0" in api
    assert "Rows added (only in new):\n  POST /fresh" in text
    assert "Rows removed (only in base):\n  GET /gone" in text
    plain = format_comparison(_comparison(), unicode=False)
    plain.encode("ascii")  # raises if any glyph is left
    assert "v worse" in plain and "^ worse" in plain and "->" in plain
    assert glyphs_for("utf-8") and not glyphs_for("ascii") and not glyphs_for(None)


# ---- --fail-on ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "row", "metric", "op", "change", "relative"),
    [
        ("p95>+10%", None, "p95", ">", 0.1, True),
        ("Aggregated:p99>+5ms", None, "p99", ">", 5.0, False),
        ("GET /api:p(99.9) >= +0.5s", "GET /api", "p99.9", ">=", 500.0, False),
        ("rps<-20%", None, "rps", "<", -0.2, True),
        ("fail_ratio>+0.01", None, "fail_ratio", ">", 0.01, False),
        ("/a:b:avg > +3", "/a:b", "avg", ">", 3.0, False),
    ],
)
def test_fail_on_grammar(
    text: str, row: str | None, metric: str, op: str, change: float, relative: bool
) -> None:
    parsed = parse_fail_on(text)
    assert (parsed.row, parsed.metric, parsed.operator, parsed.relative) == (
        row,
        metric,
        op,
        relative,
    )
    assert parsed.change == pytest.approx(change)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p95>10%", "give a signed change such as +10%"),
        ("rps<-5ms", "gives a time but rps is not a latency"),
        ("p95=+10%", "uses '='; use one of <, <=, >, >=."),
        ("latency>+10%", "unknown metric 'latency'"),
        ("p95", "is not [ROW:]METRIC OP SIGNED_CHANGE"),
        (":p95>+1%", "has nothing before ':'"),
    ],
)
def test_a_malformed_fail_on_says_what_to_write(text: str, expected: str) -> None:
    with pytest.raises(ValueError, match=re.escape(expected)):
        parse_fail_on(text)


def test_fail_on_holds_on_a_regression_and_not_on_an_improvement() -> None:
    comparison = _comparison()
    conditions = [
        parse_fail_on(t)
        for t in ("GET /api:p50>+10%", "/api:rps<-20%", "/api:p50>+50%", "/api:p50>+5ms")
    ]
    results = evaluate_fail_on(conditions, comparison)
    assert [r.holds for r in results] == [True, True, False, False]
    assert results[0].text == (
        "--fail-on 'GET /api:p50>+10%' holds on GET /api: p50 went from 10.0 ms to 12.0 ms "
        "(+20.0%)."
    )
    text = format_fail_on(results)
    assert text.count("holds on") == 2
    assert text.endswith("2 of 4 --fail-on conditions hold: the new run regressed.\n")


def test_a_condition_that_cannot_be_judged_holds_with_its_reason() -> None:
    (result,) = evaluate_fail_on([parse_fail_on("/gone:p95>+10%")], _comparison())
    assert result.holds
    assert result.text == "--fail-on '/gone:p95>+10%' holds: no single row '/gone' in new.json."


def test_a_percentile_not_in_both_files_is_refused_before_judging() -> None:
    with pytest.raises(ValueError, match=r"asks for p97, which not both files report; use one"):
        check_fail_on([parse_fail_on("p97>+1%")], _comparison())


# ---- HTML ----------------------------------------------------------------------------------


def _page_data(page: str) -> Any:
    match = re.search(r'<script type="application/json" id="lh-cmp-data">(.*?)</script>', page)
    assert match is not None
    return json.loads(match.group(1))


def test_the_page_holds_the_table_and_both_runs_chart_data() -> None:
    comparison = _comparison()
    results = evaluate_fail_on([parse_fail_on("/api:rps<-20%")], comparison)
    page = render_comparison_html(comparison, results)
    assert page.startswith("<!DOCTYPE html>") and "Plotly" in page
    data = _page_data(page)
    assert data["rows"]["labels"] == ["GET /api"]
    assert (data["rows"]["base_rps"], data["rows"]["new_rps"]) == ([100.0], [50.0])
    assert data["spectrum"]["labels"][0] == "p50" and "timeline" not in data
    assert '<tr class="worse"><td class="row" rowspan=' in page
    assert "▼ worse" in page and "holds on GET /api" in page
    assert "POST /fresh" in page and "GET /gone" in page
    assert "No charts over time" in page


def test_row_names_cannot_break_out_of_the_page() -> None:
    base, new = _pair()
    for summary in (base, new):
        summary["rows"][0]["name"] = "</script><img src=x onerror=alert(1)>"
    page = render_comparison_html(compare_runs(parse_summary(base), parse_summary(new)))
    assert "<img src=x" not in page
    assert _page_data(page)["rows"]["labels"] == ["GET </script><img src=x onerror=alert(1)>"]


def test_timelines_in_both_files_are_overlaid() -> None:
    base, new = _pair()
    base["timeline"] = {"t": [1, 2], "rps": [10, 11], "p95": [5, None]}
    new["timeline"] = {"t": [1, 2, 3], "rps": [9, 8, 7], "p95": [6, 7, 8], "evil": "x"}
    data = _page_data(render_comparison_html(compare_runs(parse_summary(base), parse_summary(new))))
    assert data["timeline"]["base"] == {"t": [1, 2], "rps": [10, 11], "p95": [5, None]}
    assert data["timeline"]["new"] == {"t": [1, 2, 3], "rps": [9, 8, 7], "p95": [6, 7, 8]}


def test_every_row_holds_on_the_worst_row_and_counts_the_others() -> None:
    base = _summary(
        make_row("GET", "/a", latency=10.0),
        make_row("GET", "/b", latency=10.0),
        make_row("GET", "/c", latency=10.0),
    )
    new = _summary(
        make_row("GET", "/a", latency=12.0),
        make_row("GET", "/b", latency=30.0),
        make_row("GET", "/c", latency=10.0),
    )
    comparison = compare_runs(parse_summary(base), parse_summary(new))
    tripped, quiet = evaluate_fail_on(
        [parse_fail_on("*:p50>+10%"), parse_fail_on("*:p50>+500%")], comparison
    )
    assert tripped.holds and tripped.row == "GET /b" and tripped.others == 1
    assert tripped.text.startswith("--fail-on '*:p50>+10%' holds on GET /b (and 1 more row): ")
    assert not quiet.holds
    assert quiet.text == "--fail-on '*:p50>+500%' does not hold on any of 3 rows."
