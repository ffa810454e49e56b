"""Case 6 (open model): the hold criterion, the search, the summary parser, the lines, the flags.

No load here: runs are built by hand, and the search is driven by a pretend generator whose
limit is known, as a run would answer it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

# benchmarks/ is a folder of scripts, not a package: its modules import each other by name.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _case6 import (
    MAX_RUNS,
    STEP,
    ArrivalCounts,
    Case6Result,
    ClosedRun,
    OpenRun,
    aggregated_p99,
    holds,
    next_rate,
    open_argv,
    parse_arrivals,
    steady_rate,
)
from _metrics import CountSample
from _parse import ParseError
from _process import MeasuredRun, Probe
from _report import case6_lines, document, open_line
from _targets import Target, TargetKind, _CountLog
from _tool_run import RunStatus
from run import parse_options

# --- the hold criterion ---------------------------------------------------------------------


def test_a_rate_within_one_percent_with_nothing_dropped_holds() -> None:
    assert holds(10_000, 10_000.0, 0) is True
    assert holds(10_000, 9_900.0, 0) is True  # the bound itself holds
    assert holds(10_000, 10_100.0, 0) is True


def test_a_rate_more_than_one_percent_off_does_not_hold() -> None:
    assert holds(10_000, 9_899.0, 0) is False
    assert holds(10_000, 10_101.0, 0) is False


def test_one_dropped_iteration_fails_even_at_the_right_rate() -> None:
    assert holds(10_000, 10_000.0, 1) is False


def test_a_run_without_arrivals_or_target_rate_is_not_measured() -> None:
    assert holds(10_000, 10_000.0, None) is None
    assert holds(10_000, None, 0) is None


# --- the search -----------------------------------------------------------------------------


def _search(start: int, limit: float) -> list[tuple[int, bool]]:
    """Drive next_rate against a generator that holds every rate up to `limit`."""
    tried: list[tuple[int, bool]] = []
    while (rate := next_rate(start, tried)) is not None:
        tried.append((rate, rate <= limit))
        assert len(tried) <= MAX_RUNS  # the search must end
    return tried


def test_the_search_starts_at_half_and_steps_up_by_the_step() -> None:
    tried = _search(5_000, 8_000)
    rates = [rate for rate, _ in tried]
    assert rates[:4] == [5_000, 5_750, 6_612, 7_604]
    assert rates[1] == round(5_000 * STEP)
    # 7,604 held, 8,745 failed: from there it bisects.
    assert tried[4] == (8_745, False)
    assert rates[5] == (7_604 + 8_745) // 2


def test_the_search_is_bounded_and_brackets_the_limit() -> None:
    tried = _search(5_000, 8_000)
    assert len(tried) == MAX_RUNS
    best = max(rate for rate, ok in tried if ok)
    lowest_failure = min(rate for rate, ok in tried if not ok and rate > best)
    assert best <= 8_000 < lowest_failure
    # Three bisections of a 15 % step: within 2 % of the limit.
    assert 8_000 - best < 0.02 * 8_000


def test_the_search_steps_down_when_the_first_rate_fails() -> None:
    tried = _search(5_000, 3_000)
    assert tried[0] == (5_000, False)
    assert tried[1] == (round(5_000 / STEP), False)
    best = max(rate for rate, ok in tried if ok)
    assert best <= 3_000 and len(tried) <= MAX_RUNS


def test_the_search_stops_when_the_bracket_is_within_resolution() -> None:
    assert next_rate(100, [(100, True), (101, False)]) is None
    assert next_rate(10_000, [(10_000, True), (10_090, False)]) is None
    assert next_rate(10_000, [(10_000, True), (10_200, False)]) == 10_100


def test_a_failure_below_a_rate_that_held_does_not_bound_the_search() -> None:
    # Noise: 5,750 failed, 6,612 held; the search goes on upwards from 6,612.
    assert next_rate(5_000, [(5_000, True), (5_750, False), (6_612, True)]) == round(6_612 * STEP)


def test_a_tiny_rate_never_goes_to_zero() -> None:
    assert next_rate(0, []) == 1
    assert next_rate(1, [(1, False)]) is None


# --- what the run reads ---------------------------------------------------------------------

_SUMMARY = {
    "aggregated": {
        "num_requests": 80_000,
        "num_failures": 0,
        "percentiles": {"50": 0.1, "99": 0.5},
        "corrected": {"count": 80_000, "percentiles": {"50": 0.2, "99": 1.25}},
    },
    "arrivals": {"due": 80_000, "late": 12, "dropped": 0, "late_ratio": 0.00015},
}


def test_arrivals_are_read_from_the_summary() -> None:
    assert parse_arrivals(json.dumps(_SUMMARY)) == ArrivalCounts(80_000, 12, 0)
    assert aggregated_p99(json.dumps(_SUMMARY)) == (0.5, 1.25)


def test_a_summary_without_arrivals_says_so() -> None:
    assert parse_arrivals(json.dumps({"aggregated": {"num_requests": 1}})) is None
    assert aggregated_p99(json.dumps({"aggregated": {"num_requests": 1}})) == (None, None)


@pytest.mark.parametrize(
    "text",
    ["not json", json.dumps({"arrivals": [1]}), json.dumps({"arrivals": {"due": 1, "late": 0}})],
)
def test_a_malformed_arrivals_object_is_an_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_arrivals(text)


def test_the_open_command_line_adds_the_rate_to_the_case1_run(tmp_path: Path) -> None:
    argv = open_argv(tmp_path / "lf.py", "http://127.0.0.1:1", 7_604, 64, 10, tmp_path / "o")
    assert argv[argv.index("--arrival-rate") + 1] == "7604/s"
    assert argv[argv.index("--max-users") + 1] == "64"
    assert argv[argv.index("-u") + 1] == "64"
    assert argv[argv.index("-t") + 1] == "10s"
    assert "--headless" in argv and "--processes" not in argv


def _measured(*probes: Probe) -> MeasuredRun:
    return MeasuredRun(0, False, 11.0, 8.0, 50_000, probes)


def test_the_rate_at_nginx_leaves_out_the_second_probes_own_read() -> None:
    nginx = Target(TargetKind.NGINX, "http://127.0.0.1:1", 0.0, 1, None)
    probes = (Probe(100.0, 3.0, 2.0, 30_001, 0.0), Probe(106.5, 9.5, 7.0, 95_002, 0.1))
    assert steady_rate(_measured(*probes), nginx) == pytest.approx(65_000 / 6.5)
    assert steady_rate(_measured(probes[0]), nginx) is None  # the run ended before probe 2


def test_the_rate_at_our_server_is_interpolated_at_the_probe_times() -> None:
    log = _CountLog()
    for sample in (CountSample(99.75, 0), CountSample(100.25, 5_000), CountSample(106.75, 70_000)):
        log.append(sample)
    own = Target(TargetKind.OWN, "http://127.0.0.1:1", 0.0, 1, log)
    # The probes' own counts (the latest report) are ignored: they lag by up to 0.25 s.
    probes = (Probe(100.0, 3.0, 2.0, 0, None), Probe(106.5, 9.5, 7.0, 5_000, None))
    assert steady_rate(_measured(*probes), own) == pytest.approx(10_000.0)


# --- the lines ------------------------------------------------------------------------------


def _run(asked: int, achieved: float | None, held: bool | None, note: str = "") -> OpenRun:
    return OpenRun(
        asked,
        RunStatus.OK if held is not None else RunStatus.FAILED,
        note,
        achieved=achieved,
        due=asked * 10 if held is not None else None,
        late=0 if held is not None else None,
        dropped=0 if held else (None if held is None else 5),
        requests=asked * 10,
        cpu_seconds=4.0,
        cpu_per_iteration=40e-6,
        wait_share=0.02,
        p99_ms=0.4,
        corrected_p99_ms=0.9,
        held=held,
    )


def _result(*runs: OpenRun, closed_rate: float | None = 16_000.0) -> Case6Result:
    closed = ClosedRun(
        RunStatus.OK if closed_rate else RunStatus.FAILED,
        "" if closed_rate else "exit code 1",
        16,
        rate=closed_rate,
        requests=160_000,
        cpu_seconds=8.0,
        cpu_per_request=50e-6,
        wait_share=0.0,
        p99_ms=0.75,
    )
    return Case6Result(
        target="nginx",
        seconds=10,
        max_users=64,
        generator_cpu=0,
        target_cpu=1,
        closed=closed,
        runs=runs,
        elapsed_seconds=90.0,
    )


def test_the_open_line_gives_the_highest_held_rate_beside_the_closed_model() -> None:
    result = _result(
        _run(8_000, 8_000.0, True), _run(9_200, 9_000.0, False), _run(8_600, 8_599.0, True)
    )
    assert result.best is not None and result.best.asked == 8_600
    assert result.bracketed
    line = open_line(result)
    assert line.startswith(
        "case6 open: one process holds 8,600/s within 1 % (3 runs); "
        "closed model 16,000/s with 16 users; ratio 0.54"
    )
    assert "CPU per iteration at 8,600/s 40.0 us vs the closed model's 50.0 us per request" in line
    assert "(0.80x;" in line


def test_without_a_failure_the_figure_is_a_lower_bound() -> None:
    line = open_line(_result(_run(8_000, 8_000.0, True), _run(9_200, 9_200.0, True)))
    assert "one process holds at least 9,200/s" in line


def test_a_run_not_measured_is_said_so() -> None:
    note = "not measured: the JSON summary has no `arrivals` (did --arrival-rate run?)"
    result = _result(_run(8_000, 16_000.0, None, note))
    assert result.best is None and result.unmeasured is not None
    assert open_line(result).startswith(f"case6 open: not measured ({note})")
    after_one = open_line(_result(_run(8_000, 8_000.0, True), _run(9_200, 9_200.0, None, note)))
    assert f"the search stopped at 9,200/s: {note}" in after_one


def test_no_rate_held_and_no_closed_figure() -> None:
    assert "no arrival rate held within 1 % (1 run, the lowest 8,000/s)" in open_line(
        _result(_run(8_000, 7_000.0, False))
    )
    assert open_line(_result(closed_rate=None)).startswith("case6 open: no figure")


def test_the_table_has_a_row_per_rate_tried() -> None:
    lines = case6_lines(_result(_run(8_000, 8_000.0, True), _run(9_200, 9_000.0, False)))
    assert lines[0].startswith("case 6: open model: GET /, constant(0), --arrival-rate R/s")
    rows = [line for line in lines if line.lstrip().startswith(("8,000", "9,200"))]
    assert len(rows) == 2
    assert rows[0].split()[:3] == ["8,000", "8,000", "1.0000"] and rows[0].rstrip().endswith("yes")
    assert "0.9783" in rows[1] and rows[1].rstrip().endswith("NO")
    # CPU s, us/iter, wait%, p99, corrected p99, in that order.
    assert rows[0].split()[6:11] == ["4.00", "40.0", "2", "0.40", "0.90"]
    assert lines[1].startswith("closed model: 16 users ok: 16,000/s at the target")
    assert "50.0 us CPU per request, p99 0.75 ms, waited for its CPU 0% of" in lines[1]


def test_the_document_records_the_figure() -> None:
    result = _result(_run(8_000, 8_000.0, True), _run(9_200, 9_000.0, False))
    out = document("now", {}, {}, {}, None, None, case6=result)
    assert out["case6"]["max_held_rate"] == 8_000
    assert out["case6"]["ratio_to_closed"] == pytest.approx(0.5)
    assert out["case6"]["runs"][1]["held"] is False
    json.dumps(out)  # it must serialize


# --- the flags ------------------------------------------------------------------------------


def test_case6_flags() -> None:
    assert parse_options(["--case", "6"]).cases == (6,)
    assert parse_options(["--case", "open"]).cases == (6,)
    assert 6 in parse_options([]).cases
    options = parse_options(["--case", "open", "--case1-users", "10"])
    assert options.case6_max_users == 40 and options.case6_duration == 10
    assert parse_options(["--case6-max-users", "7", "--case6-duration", "5"]).case6_max_users == 7
