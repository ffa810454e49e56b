"""Event-loop stalls in the reports: the console's lines, the JSON section, the HTML marks."""

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


def _run(stalled_seconds: dict[int, list[tuple[int, float]]], seconds: int = 20) -> StatsSnapshot:
    """A run of `seconds` windows; in window k, stalls (line, ms) from `stalled_seconds[k]`."""
    c = StatsCollector(start_time=T0)
    for k in range(seconds):
        c.record("GET", "/", 2.0, 10, None)
        for line, ms in stalled_seconds.get(k, []):
            c.record_stall("locustfile.py", line, "fetch" if line == 12 else "crunch", ms)
        c.close_window(T0 + k + 1, user_count=2)
    return c.snapshot(T0 + seconds)


def test_the_periodic_table_says_when_the_loop_stalled_in_its_period() -> None:
    recent = _run({17: [(12, 300.0)], 18: [(12, 200.0), (30, 250.0)]})
    table = format_stats_table(recent, rates=RateKind.CURRENT)
    # The site named is the longest stall's in the most stalled second (second 18).
    assert table.splitlines()[-1] == (
        "Latencies in the last 10 s include 750 ms in which the event loop was blocked at "
        "locustfile.py:30 (see the warning above)."
    )
    # Stalls older than the period, and the whole-run table, get no such line.
    old = _run({2: [(12, 300.0)]})
    assert "event loop" not in format_stats_table(old, rates=RateKind.CURRENT)
    assert "event loop" not in format_stats_table(recent, rates=RateKind.TOTAL)
    assert "event loop" not in format_stats_table(_run({}), rates=RateKind.CURRENT)


def test_the_final_summary_has_a_generator_health_section_only_after_stalls() -> None:
    text = format_summary(_run({3: [(12, 300.0), (12, 100.0)], 9: [(30, 1500.0)]}))
    section = text[text.index("Generator health") :]
    assert "stalled 3 times for 1.90 s in total, in 2 one-second windows" in section
    assert "include the stalls" in section and "run_blocking" in section
    rows = [line.split() for line in section.splitlines()[4:] if line.strip()]
    assert rows == [
        ["1", "1500", "1500", "locustfile.py:30", "in", "crunch()"],
        ["2", "400", "300", "locustfile.py:12", "in", "fetch()"],
    ]
    assert "Generator health" not in format_summary(_run({}))


def test_the_json_summary_has_the_sites_and_the_stalled_windows() -> None:
    data = json.loads(format_json(_run({3: [(12, 300.0)], 4: [(12, 120.0)]}), RUN))
    stalls = data["generator_health"]["loop_stalls"]
    assert (stalls["count"], stalls["total_ms"], stalls["stalled_windows"]) == (2, 420.0, 2)
    assert stalls["sites"] == [
        {
            "file": "locustfile.py",
            "line": 12,
            "function": "fetch",
            "location": "locustfile.py:12",
            "count": 2,
            "total_ms": 420.0,
            "longest_ms": 300.0,
        }
    ]
    assert data["generator_health"]["windows"] == [
        {"time": T0 + 4, "stalled_ms": 300.0, "stall_site": "locustfile.py:12"},
        {"time": T0 + 5, "stalled_ms": 120.0, "stall_site": "locustfile.py:12"},
    ]
    quiet = json.loads(format_json(_run({}), RUN))["generator_health"]
    assert quiet == {
        "loop_stalls": {"count": 0, "total_ms": 0, "stalled_windows": 0, "sites": []},
        "windows": [],
    }


def test_the_html_report_says_so_and_gives_the_charts_the_stalled_seconds() -> None:
    page = render_html_report(_run({3: [(12, 300.0)]}), RUN, locustfile_source=None)
    section = page[page.index('<section id="health">') :]
    section = section[: section.index("</section>")]
    assert "blocked 1 time for 0.30 s in total, in 1 one-second window" in section
    assert "<td>locustfile.py:12</td><td>fetch</td><td>1</td>" in section
    assert '<a href="#health">' in page
    timeline = re.search(r'id="lh-timeline">(.*?)</script>', page, re.S)
    assert timeline is not None
    stalled = json.loads(timeline.group(1))["stalled_ms"]
    assert stalled[3] == 300 and sum(1 for ms in stalled if ms) == 1
    quiet = render_html_report(_run({}), RUN, locustfile_source=None)
    assert "was never blocked" in quiet
