"""The JSON summary's open-model keys: present only when there is something in them."""

from __future__ import annotations

import json

from loadhopper.report import SCHEMA, RunInfo, format_json, summary_dict
from loadhopper.stats import StatsCollector, StatsSnapshot, ThresholdResult

T0 = 1_700_000_000.0


def _snapshot(*, lag: bool, arrivals: bool, seconds: int = 5) -> StatsSnapshot:
    c = StatsCollector(start_time=T0)
    for k in range(seconds):
        for i in range(10):
            c.record("GET", "/fast", 10.0, 5, None, lag_ms=float(10 * i) if lag else None)
        c.record("GET", "/closed", 5.0, 5, None)
        if arrivals:
            c.record_arrivals(due=10, late=4 if k == 1 else 0, dropped=2 if k == 2 else 0)
        c.close_window(T0 + k + 1, user_count=3)
    return c.snapshot(T0 + seconds)


def _run(**fields: object) -> RunInfo:
    base: dict[str, object] = {
        "start_time": T0,
        "end_time": T0 + 5,
        "users": 3,
        "spawn_rate": 1.0,
        "run_time": 5.0,
        "host": "http://127.0.0.1:8000",
        "locustfile": "locustfile.py",
        "version": "0.1.0",
    }
    return RunInfo(**{**base, **fields})  # type: ignore[arg-type]


def test_a_closed_run_without_thresholds_has_no_new_keys() -> None:
    summary = summary_dict(_snapshot(lag=False, arrivals=False), _run())
    assert summary["schema"] == SCHEMA == "loadhopper.summary/1"
    assert set(summary) == {
        "schema",
        "run",
        "stats_start_time",
        "percentiles",
        "aggregated",
        "rows",
        "rows_overflowed",
        "failures",
        "exceptions",
        "generator_health",
        "timeline",  # every run's, not the open model's
    }
    assert "load_model" not in summary["run"]
    assert all("corrected" not in row for row in [summary["aggregated"], *summary["rows"]])


def test_rows_with_intended_starts_have_a_corrected_object() -> None:
    snap = _snapshot(lag=True, arrivals=False)
    summary = json.loads(format_json(snap, _run()))
    rows = {row["name"]: row for row in summary["rows"]}
    assert "corrected" not in rows["/closed"]  # no schedule, nothing to correct
    corrected = rows["/fast"]["corrected"]
    assert set(corrected) == {"count", "median", "avg", "max", "percentiles"}
    assert list(corrected["percentiles"]) == summary["percentiles"]
    # 10 ms plus 0, 10, ..., 90 ms late: from 10 to 100 ms, 55 ms on average.
    assert corrected["count"] == 50
    assert corrected["max"] == 100.0 and corrected["avg"] == 55.0
    assert rows["/fast"]["max_response_time"] == 10.0  # from the send
    fast = next(r for r in snap.rows if r.name == "/fast")
    assert list(corrected["percentiles"].values()) == list(fast.corrected_percentiles)
    assert summary["aggregated"]["corrected"]["count"] == 50
    assert "arrivals" not in summary  # pacing alone: no arrival rate ran


def test_an_open_model_run_has_its_arrivals() -> None:
    summary = summary_dict(_snapshot(lag=True, arrivals=True), _run(load_model="arrival rate 10/s"))
    assert summary["run"]["load_model"] == "arrival rate 10/s"
    arrivals = summary["arrivals"]
    assert {k: arrivals[k] for k in ("due", "late", "dropped")} == {
        "due": 50,
        "late": 4,
        "dropped": 2,
    }
    assert arrivals["late_ratio"] == 4 / 50 and arrivals["dropped_ratio"] == 2 / 50
    windows = arrivals["windows"]
    assert [w["late"] for w in windows] == [0, 4, 0, 0, 0]
    assert [w["dropped"] for w in windows] == [0, 0, 2, 0, 0]
    assert [w["time"] for w in windows] == [T0 + k for k in range(1, 6)]
    # Ten samples a window, 10 to 100 ms from their intended starts: p95 and p99 are the top.
    assert [(w["corrected_p95"], w["corrected_p99"]) for w in windows] == [(100.0, 100.0)] * 5


def test_thresholds_and_their_verdict() -> None:
    results = (
        ThresholdResult("p95<200", "Aggregated", "p95", "<", 200.0, 10.0, True),
        ThresholdResult(
            "dropped<1", "Aggregated", "dropped", "<", 1.0, 2.0, False, T0 + 3.0, aborted=True
        ),
    )
    summary = json.loads(format_json(_snapshot(lag=False, arrivals=True), _run(thresholds=results)))
    assert summary["thresholds_passed"] is False
    assert summary["thresholds"] == [
        {
            "expression": "p95<200",
            "row": "Aggregated",
            "metric": "p95",
            "operator": "<",
            "limit": 200.0,
            "value": 10.0,
            "passed": True,
            "first_breach": None,
            "aborted": False,
        },
        {
            "expression": "dropped<1",
            "row": "Aggregated",
            "metric": "dropped",
            "operator": "<",
            "limit": 1.0,
            "value": 2.0,
            "passed": False,
            "first_breach": T0 + 3.0,
            "aborted": True,
        },
    ]
    passing = summary_dict(_snapshot(lag=False, arrivals=False), _run(thresholds=results[:1]))
    assert passing["thresholds_passed"] is True
