"""Case 4 (sleeping users): the comparison with Locust, its lines, its locustfile, its flags.

No load here: the rows are built by hand, as a run would fill them.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

# benchmarks/ is a folder of scripts, not a package: its modules import each other by name.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _case4 import Case4Result, Case4Row, compare, steady_bounds
from _locustfiles import UserClass, write_sleep_locustfile
from _report import case4_lines, comparison_line, document
from _tool_run import RunStatus
from _tools import Tool
from run import parse_options


def _row(tool: Tool, requests: int | None, median_ms: float | None) -> Case4Row:
    return Case4Row(
        tool,
        RunStatus.OK,
        "",
        requests=requests,
        failures=0,
        median_ms=median_ms,
        avg_ms=median_ms,
        target_requests=requests,
        steady_rate=39.9,
        cpu_seconds=0.5,
        wall_seconds=11.0,
    )


def _result(*rows: Case4Row) -> Case4Result:
    return Case4Result(
        users=20,
        seconds=10,
        spawn_rate=20.0,
        sleep_seconds=0.5,
        ideal_rate=40.0,
        target="own uvloop server",
        generator_cpu=0,
        target_cpu=1,
        rows=rows,
        elapsed_seconds=25.0,
    )


def test_compare_gives_the_ratio_and_the_signed_median_difference() -> None:
    comparison = compare(_row(Tool.LOADHOPPER, 390, 0.24), _row(Tool.LOCUST_HTTP, 400, 2.0))
    assert comparison is not None
    assert comparison.other is Tool.LOCUST_HTTP
    assert comparison.requests_ratio == pytest.approx(0.975)
    assert comparison.median_difference_ms == pytest.approx(-1.76)
    assert comparison.requests_ok and comparison.median_ok
    assert comparison.verdict == "meets both goals"


def test_the_goals_include_their_bounds() -> None:
    at_bounds = compare(_row(Tool.LOADHOPPER, 360, 3.0), _row(Tool.LOCUST_FAST, 400, 1.0))
    assert at_bounds is not None
    assert at_bounds.requests_ratio == pytest.approx(0.90)
    assert at_bounds.requests_ok and at_bounds.median_ok


def test_a_blocking_sleep_misses_both_goals() -> None:
    # What issue 9 saw before the fix: users sleeping one after another, the sleep counted
    # in the response time.
    blocked = compare(_row(Tool.LOADHOPPER, 20, 499.0), _row(Tool.LOCUST_HTTP, 400, 2.0))
    assert blocked is not None
    assert not blocked.requests_ok and not blocked.median_ok
    assert blocked.verdict == "MISSES the requests and median goals"
    only_median = compare(_row(Tool.LOADHOPPER, 400, 4.5), _row(Tool.LOCUST_HTTP, 400, 2.0))
    assert only_median is not None
    assert only_median.verdict == "MISSES the median goal"
    lower = compare(_row(Tool.LOADHOPPER, 400, 0.3), _row(Tool.LOCUST_HTTP, 400, 3.0))
    assert lower is not None
    assert lower.verdict == "MISSES the median goal (loadhopper's median is the lower one)"


def test_compare_needs_both_runs_and_their_numbers() -> None:
    ours = _row(Tool.LOADHOPPER, 390, 0.24)
    failed = Case4Row(Tool.LOCUST_HTTP, RunStatus.FAILED, "exit code 2")
    assert compare(ours, failed) is None
    assert compare(failed, ours) is None
    assert compare(ours, _row(Tool.LOCUST_HTTP, 400, None)) is None
    assert compare(ours, _row(Tool.LOCUST_HTTP, 0, 1.0)) is None  # no ratio to a zero count


def test_steady_bounds_span_whole_cycles_inside_the_run() -> None:
    assert steady_bounds(1000.0, 1012.0, 10) == (1002.0, 1009.0)
    # A run that stopped early ends the window early.
    assert steady_bounds(1000.0, 1006.0, 10) == (1002.0, 1005.0)
    assert steady_bounds(1000.0, 1003.5, 10) is None


def test_lines_compare_with_every_locust_class_and_name_failed_runs() -> None:
    result = _result(
        _row(Tool.LOADHOPPER, 390, 0.24),
        _row(Tool.LOCUST_HTTP, 400, 2.0),
        Case4Row(Tool.LOCUST_FAST, RunStatus.FAILED, "did not stop within 70 s and was killed"),
    )
    lines = case4_lines(result)
    assert lines[0].startswith("case 4: sleeping users: GET / then time.sleep(0.5)")
    assert "case4 locust-fasthttp failed: did not stop within 70 s and was killed" in lines
    sleep_lines = [line for line in lines if line.startswith("case4 sleep:")]
    assert sleep_lines == [
        "case4 sleep: loadhopper 390 requests vs locust-http 400: ratio 0.975 (goal >= 0.90); "
        "median 0.24 ms vs 2.00 ms: -1.76 ms (goal within 2 ms); meets both goals"
    ]


def test_lines_say_when_there_is_nothing_to_compare() -> None:
    skipped = Case4Row(Tool.LOADHOPPER, RunStatus.SKIPPED, "`loadhopper --help` fails")
    lines = case4_lines(_result(skipped, _row(Tool.LOCUST_HTTP, 400, 2.0)))
    assert lines[-1] == (
        "case4 sleep: no comparison, since loadhopper or every Locust run is missing"
    )


def test_comparison_line_shows_a_positive_difference_with_its_sign() -> None:
    comparison = compare(_row(Tool.LOADHOPPER, 400, 3.5), _row(Tool.LOCUST_FAST, 400, 1.0))
    assert comparison is not None
    assert "+2.50 ms" in comparison_line(comparison)
    assert comparison_line(comparison).endswith("MISSES the median goal")


def test_the_json_document_holds_the_case_and_its_comparisons() -> None:
    result = _result(_row(Tool.LOADHOPPER, 390, 0.24), _row(Tool.LOCUST_FAST, 400, 1.0))
    record = json.loads(json.dumps(document("now", {}, {}, {}, None, None, result)))
    assert record["case4"]["rows"][0]["tool"] == "loadhopper"
    assert record["case4"]["comparisons"] == [
        {
            "other": "locust-fast",
            "ours_requests": 390,
            "their_requests": 400,
            "requests_ratio": pytest.approx(0.975),
            "ours_median_ms": 0.24,
            "their_median_ms": 1.0,
            "median_difference_ms": pytest.approx(-0.76),
            "requests_ok": True,
            "median_ok": True,
        }
    ]


@pytest.mark.parametrize("user_class", list(UserClass))
def test_the_sleep_locustfile_requests_then_sleeps_with_no_other_wait(
    tmp_path: Path, user_class: UserClass
) -> None:
    path = write_sleep_locustfile(tmp_path, user_class, 0.5)
    tree = ast.parse(path.read_text())
    (cls,) = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    assert [ast.unparse(base) for base in cls.bases] == [user_class.value]
    source = ast.unparse(cls)
    assert "wait_time = constant(0)" in source
    (task,) = [node for node in cls.body if isinstance(node, ast.FunctionDef)]
    assert [ast.unparse(stmt) for stmt in task.body] == [
        "self.client.get('/')",
        "time.sleep(0.5)",
    ]


def test_case_flags_select_the_sleep_case() -> None:
    assert parse_options(["--case", "sleep"]).cases == (4,)
    assert parse_options(["--case", "4"]).cases == (4,)
    assert parse_options([]).cases == (1, 2, 4, 5, 6)  # "all" includes 5 (scale) and 6 (open)
    options = parse_options(["--case", "sleep", "--case4-duration", "5", "--case4-users", "8"])
    assert (options.case4_duration, options.case4_users) == (5, 8)
    assert options.case4_spawn_rate is None  # the case then uses one second of ramp
    assert parse_options(["--case4-spawn-rate", "1000"]).case4_spawn_rate == 1000
