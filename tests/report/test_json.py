from __future__ import annotations

import json

from loadhopper.report import SCHEMA, RunInfo, format_json, summary_dict
from loadhopper.stats import StatsCollector, StatsSnapshot

RUN = RunInfo(
    start_time=1_700_000_000.0,
    end_time=1_700_000_010.5,
    users=5,
    spawn_rate=2.5,
    run_time=10.0,
    host="http://127.0.0.1:8000",
    locustfile="locustfile.py",
    version="0.1.0",
)
ROW_FIELDS = {
    "method", "name", "num_requests", "num_failures", "fail_ratio", "min_response_time",
    "max_response_time", "avg_response_time", "median_response_time", "avg_content_length",
    "total_rps", "total_fail_per_sec", "current_rps", "current_fail_per_sec", "percentiles",
}  # fmt: skip


def test_schema_and_run_info(snapshot: StatsSnapshot) -> None:
    data = json.loads(format_json(snapshot, RUN))
    assert data["schema"] == SCHEMA == "loadhopper.summary/1"
    assert set(data) == {
        "schema", "run", "stats_start_time", "percentiles", "aggregated", "rows",
        "rows_overflowed", "failures", "exceptions", "generator_health", "timeline",
    }  # fmt: skip
    timeline = data["timeline"]
    assert set(timeline) == {"start", "t", "rps", "fail_per_sec", "p50", "p95", "p99", "users"}
    assert len(timeline["t"]) == len(snapshot.timeline) == len(timeline["rps"])
    if snapshot.timeline:
        assert timeline["t"][0] == 0 and timeline["start"] == snapshot.timeline[0].time
    run = data["run"]
    assert run["start"] == "2023-11-14T22:13:20.000+00:00"
    assert run["end"] == "2023-11-14T22:13:30.500+00:00"
    assert run["duration"] == 10.5
    assert (run["users"], run["spawn_rate"], run["run_time"]) == (5, 2.5, 10.0)
    assert run["host"] == "http://127.0.0.1:8000"
    assert run["locustfile"] == "locustfile.py"


def test_rows_carry_counts_rates_and_named_percentiles(snapshot: StatsSnapshot) -> None:
    data = summary_dict(snapshot, RUN)
    assert data["percentiles"] == [
        "50", "66", "75", "80", "90", "95", "98", "99", "99.9", "99.99", "100",
    ]  # fmt: skip
    assert set(data["aggregated"]) == ROW_FIELDS
    assert data["aggregated"]["name"] == "Aggregated"
    assert data["aggregated"]["num_requests"] == 20
    assert data["aggregated"]["fail_ratio"] == 0.1
    post = data["rows"][1]
    assert set(post) == ROW_FIELDS
    assert (post["method"], post["name"]) == ("POST", "/[id]/update")
    assert post["median_response_time"] == 0.4123
    assert post["percentiles"]["50"] == 0.4123
    assert post["total_rps"] == 2.0 and post["current_rps"] == 3.5
    assert data["failures"] == [
        {
            "method": "POST",
            "name": "/[id]/update",
            "error": "ConnectionRefusedError: refused",
            "occurrences": 2,
            "first_seen": 1_700_000_001.2,
            "last_seen": 1_700_000_004.9,
        }
    ]
    assert data["exceptions"][0]["count"] == 3
    assert data["exceptions"][0]["traceback"].startswith("Traceback")


def test_missing_latency_is_null() -> None:
    collector = StatsCollector(start_time=100.0)
    collector.record("GET", "/down", 5.0, 0, "boom")
    data = json.loads(format_json(collector.snapshot(101.0), RUN))
    row = data["rows"][0]
    assert row["median_response_time"] is None
    assert row["percentiles"]["99"] is None
    assert row["num_failures"] == 1


def test_json_output_resets_nothing() -> None:
    # Locust's --json resets every endpoint's stats as a side effect (its issue #3130 family);
    # here the summary is built from a frozen snapshot, so the collector keeps its counts.
    collector = StatsCollector(start_time=100.0)
    for i in range(50):
        collector.record("GET", "/", 1.0 + i, 10, None)
    first = format_json(collector.snapshot(102.0), RUN)
    second = format_json(collector.snapshot(102.0), RUN)
    assert first == second
    assert json.loads(first)["rows"][0]["num_requests"] == 50
    assert collector.snapshot(102.0).total.num_requests == 50
