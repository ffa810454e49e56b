"""The generator's CPU and loop lag in the reports: console lines, JSON keys, HTML section."""

from __future__ import annotations

import json
import re

from loadhopper.report import RateKind, format_json, format_stats_table, format_summary
from loadhopper.report._html import render_html_report
from loadhopper.report._run_info import RunInfo
from loadhopper.stats import StatsCollector, StatsSnapshot

T0 = 1_700_000_000.0
RUN = RunInfo(
    start_time=T0,
    end_time=T0 + 20,
    users=2,
    spawn_rate=1.0,
    run_time=20.0,
    host="http://127.0.0.1:8000",
    locustfile="locustfile.py",
    version="0.1.0",
)


def _run(busy: dict[int, tuple[float, float]], seconds: int = 20) -> StatsSnapshot:
    """A measured run of `seconds` windows: 30 % CPU and 1 ms lag, but (cpu, lag) in `busy`."""
    c = StatsCollector(start_time=T0)
    for k in range(seconds):
        c.record("GET", "/", 2.0, 10, None)
        cpu, lag = busy.get(k, (30.0, 1.0))
        c.record_health(cpu, lag, lag / 4)
        c.close_window(T0 + k + 1, user_count=2)
    return c.snapshot(T0 + seconds)


def test_the_periodic_table_says_when_the_generator_was_the_bottleneck() -> None:
    recent = _run({15: (97.0, 2.0), 17: (99.0, 3.0), 18: (40.0, 35.0)})
    table = format_stats_table(recent, rates=RateKind.CURRENT)
    assert table.splitlines()[-1] == (
        "The generator was the bottleneck in the last 10 s: above 90 % CPU in 2 s (up to 99 %) "
        "and its event loop more than 10 ms late in 1 s (up to 35 ms); latencies then include "
        "its own delay (add --processes or reduce users)."
    )
    # Old busy windows, the whole-run table and a healthy run get no such line.
    assert "bottleneck" not in format_stats_table(_run({2: (99.0, 50.0)}), rates=RateKind.CURRENT)
    assert "bottleneck" not in format_stats_table(recent, rates=RateKind.TOTAL)
    assert "bottleneck" not in format_stats_table(_run({}), rates=RateKind.CURRENT)


def test_the_summary_has_a_generator_health_section_with_the_windows() -> None:
    summary = format_summary(_run({4: (95.0, 2.0), 9: (20.0, 42.0)}))
    section = summary[summary.index("Generator health") :]
    assert "above 90 % CPU in 1 of 20 one-second windows (1 s, peak 95 % of a core)" in section
    assert "more than 10 ms late in 1 of 20 one-second windows (up to 42 ms" in section
    rows = [line.split() for line in section.splitlines() if re.match(r"^\s+\d+\s+\d+", line)]
    assert rows == [["5", "95", "2.0"], ["10", "20", "42.0"]]
    assert "Generator health" not in format_summary(_run({}))


def test_the_json_has_cpu_and_loop_lag_with_the_windows_above_the_bounds() -> None:
    data = json.loads(format_json(_run({4: (95.0, 2.0), 9: (20.0, 42.0)}), RUN))
    health = data["generator_health"]
    assert health["cpu"] == {
        "bound_percent": 90.0,
        "peak_percent": 95.0,
        "mean_percent": round((18 * 30.0 + 95.0 + 20.0) / 20, 1),
        "hot_windows": 1,
        "hot_seconds": 1.0,
        "windows": [{"time": T0 + 5, "cpu_percent": 95.0}],
    }
    assert health["loop_lag"] == {
        "bound_ms": 10.0,
        "max_ms": 42.0,
        "mean_ms": round((18 * 0.25 + 0.5 + 10.5) / 20, 2),
        "lagging_windows": 1,
        "windows": [{"time": T0 + 10, "lag_ms": 42.0}],
    }
    healthy = json.loads(format_json(_run({}), RUN))["generator_health"]
    assert healthy["cpu"]["hot_windows"] == 0 and healthy["cpu"]["windows"] == []
    assert healthy["loop_lag"]["lagging_windows"] == 0 and healthy["loop_lag"]["windows"] == []


def test_an_unmeasured_run_has_no_cpu_or_lag_keys() -> None:
    c = StatsCollector(start_time=T0)
    c.close_window(T0 + 1, user_count=0)
    health = json.loads(format_json(c.snapshot(T0 + 1), RUN))["generator_health"]
    assert "cpu" not in health and "loop_lag" not in health


def test_the_html_section_and_the_chart_series() -> None:
    page = render_html_report(_run({4: (95.0, 2.0), 9: (20.0, 42.0)}), RUN, locustfile_source=None)
    assert 'id="health-cpu"' in page and "above 90 % in 1 of 20" in page
    assert 'id="health-lag"' in page and "more than 10 ms in 1 of 20" in page
    assert "shaded purple" in page
    cpu = json.loads(re.search(r'"cpu_percent":(\[[^\]]*\])', page).group(1))  # type: ignore[union-attr]
    lag = json.loads(re.search(r'"loop_lag_ms":(\[[^\]]*\])', page).group(1))  # type: ignore[union-attr]
    assert cpu[4] == 95 and lag[9] == 42
    assert '"health_bounds":{"cpu":90' in page.replace(" ", "")
    quiet = render_html_report(_run({}), RUN, locustfile_source=None)
    assert "never above 90 %" in quiet and "never more than 10 ms" in quiet
