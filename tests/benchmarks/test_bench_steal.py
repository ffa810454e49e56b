"""Steal time (benchmarks/_steal.py): read from /proc/stat, and called out in case 2's lines
when the hypervisor took enough of a CPU to inflate the tails."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# benchmarks/ is a folder of scripts, not a package: its modules import each other by name.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _case1 import Case1Result, Case1Row
from _case2 import Case2Result, Case2Row
from _report import case1_lines, case2_lines
from _steal import parse_steal, read_steal, stolen_seconds
from _tool_run import RunStatus
from _tools import Tool

_STAT = """cpu  514369 12104 109510 4228803 4658 0 34422 20227 0 0
cpu0 233238 5856 48913 2145434 928 0 21401 10386 0 0
cpu1 281130 6248 60597 2083369 3729 0 13020 9841 0 0
intr 123 0 0
ctxt 456
"""


def test_steal_is_read_per_cpu_in_seconds() -> None:
    assert parse_steal(_STAT, 100.0) == {0: 103.86, 1: 98.41}
    # An old kernel's lines stop before the steal field: no entry rather than a wrong one.
    assert parse_steal("cpu0 1 2 3 4 5 6 7\n", 100.0) == {}


def test_the_steal_of_a_span_is_for_the_cpu_asked_or_for_all() -> None:
    before, after = {0: 1.0, 1: 2.0}, {0: 1.5, 1: 2.25}
    assert stolen_seconds(before, after, 0) == pytest.approx(0.5)
    assert stolen_seconds(before, after, None) == pytest.approx(0.75)
    assert stolen_seconds(before, after, 7) is None
    assert stolen_seconds(None, after, 0) is None


def test_this_machine_reports_its_steal() -> None:
    # Linux's /proc/stat (the project's tests run on Linux, as its benchmarks do).
    first = read_steal()
    assert first is not None and first
    second = read_steal()
    assert second is not None
    assert all(second[cpu] >= first[cpu] for cpu in first)  # counters since boot


def _row(generator: float | None, target: float | None) -> Case2Row:
    return Case2Row(
        tool=Tool.LOADHOPPER,
        status=RunStatus.OK,
        note="",
        offered_rate=2850.0,
        achieved_rate=2840.0,
        wall_seconds=25.0,
        generator_steal_seconds=generator,
        target_steal_seconds=target,
    )


def _text(row: Case2Row) -> str:
    return "\n".join(case2_lines(Case2Result(10_000, 25, 2000.0, 10.0, 0, 1, (row,), 30.0)))


def test_steal_past_one_percent_of_the_run_is_called_out() -> None:
    text = _text(_row(1.46, 0.12))
    assert "took 1460 ms from the generator's CPU and 120 ms from the target's" in text
    assert "WARNING, 5.8% of the run's wall time" in text


def test_a_little_steal_is_reported_without_a_warning() -> None:
    text = _text(_row(0.03, 0.05))
    assert "took 30 ms from the generator's CPU and 50 ms from the target's" in text
    assert "WARNING" not in text


def test_no_steal_line_where_the_system_does_not_say() -> None:
    assert "hypervisor" not in _text(_row(None, None))


def _case1(steals: list[float | None]) -> str:
    rows = tuple(
        Case1Row(
            tool=tool,
            status=RunStatus.OK,
            note="",
            requests=100_000,
            failures=0,
            target_requests=100_000,
            wall_seconds=20.0,
            cpu_seconds=2.0,
            requests_per_cpu_second=50_000.0,
            steady_per_cpu_second=50_000.0,
            steal_seconds=steal,
        )
        for tool, steal in zip((Tool.LOADHOPPER, Tool.WRK), steals, strict=True)
    )
    return "\n".join(case1_lines(Case1Result("nginx", 16, 15, 0, 1, rows, 40.0)))


def test_case1_says_how_much_each_tools_run_lost_to_steal() -> None:
    text = _case1([0.93, 0.05])
    assert "steal on the generator's CPU" in text
    assert "loadhopper 930 ms (4.7%)" in text
    assert "wrk 50 ms (0.2%)" in text
    assert "WARNING: past 1% of a run's wall time" in text
    quiet = _case1([0.05, 0.02])
    assert "loadhopper 50 ms (0.2%)" in quiet and "WARNING" not in quiet
    assert "steal on" not in _case1([None, None])
